"""The compiled layer: numba's ``njit``, the cars-per-thread threshold, the thread knob and a prefetch.

Every kernel of the simulation core (``envs.car``, ``envs.road_batch``, ``envs.observations``,
``envs.fleet``) is a plain loop over cars, compiled with ``@njit(cache=True)`` on first use and
cached on disk beside its module (numba's ``__pycache__``; a read-only install falls back to
numba's per-user cache directory) under a stamp of the whole package's sources (:func:`source_stamp`:
numba's own stamp covers a kernel's file, not the modules whose functions it compiles in). One
function serves one car and ten thousand:

* each kernel comes twice: serially, and with ``prange`` over numba's thread pool from
  ``parallel_from`` cars; the arithmetic is the same in both, and a small fleet never compiles
  the parallel loop, which takes about twice as long to compile. The step, features and rays
  kernels keep their loop over cars in one function of a range of cars, which the serial kernel
  calls once and the parallel one once per thread: numba, inlining a per-car function into a
  loop, kept that function's arrays reference-counted once a car (150 ns a car of the step
  kernel). The lighter sensors (``image``, the camera) inline a per-car function
  (``inline="always"``) into both loops, where that cost does not show;
* a car's road rows lie anywhere in tables larger than the caches: the step and rays kernels
  ask for the first rows of a car a little ahead (:data:`prefetch_row`) while working on this
  one;
* the fleet calls its step and restart kernels as machine code, without numba's dispatch
  (:func:`compiled`), since it owns every array they take; numba's typing of 15 arguments was
  a tenth of a single car's step;
* with ``NUMBA_DISABLE_JIT=1`` in the environment the same code runs as plain Python (slowly):
  that is how to step through the physics in a debugger, and how the tests check the compiled
  path.

Threads: numba's pool and torch's share the machine's cores. ``set_threads(n)`` (or the
environment variable ``NUMBA_NUM_THREADS``, read once when numba is imported) bounds numba's
threads; experiment workers and other spawned processes call ``set_threads(1)``. The kernels
split their cars into :func:`threads` ranges, the count :func:`set_threads` last set in the
calling thread (numba's own ``numba.set_num_threads`` bounds the threads too, but the ranges
follow ``set_threads``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import caching, cgutils
from numba.extending import intrinsic

__all__ = [
    "njit",
    "prange",
    "PARALLEL_FROM",
    "set_threads",
    "threads",
    "jit_disabled",
    "records_for_kernels",
    "object_array",
    "compiled",
    "prefetch_row",
    "source_stamp",
]


# ------------------------------------------------------------------------- the disk cache
PACKAGE_DIR = Path(__file__).resolve().parent


def source_stamp() -> bytes:
    """The SHA-256 of every module of ``envs`` (names and contents): what a cached kernel of this
    package was compiled from.

    numba checks a cached function against its own file only, while the kernels inline functions
    of other modules (the step kernel in ``envs/fleet.py`` compiles in the car of ``envs/car.py``,
    the projection of ``envs/road_batch.py``, the sensors of ``envs/observations.py``): with the
    file's stamp alone, an edit to ``envs/car.py`` would leave the step kernel cached as it was,
    and the environment would drive the old car without a word (numba/numba#8396 proposes
    tracking such dependencies and is not merged). The kernels of ``envs`` are cached under this
    stamp instead, so that a change to any module of the package compiles them all again (about
    10 s, once)."""
    files = sorted(PACKAGE_DIR.glob("*.py"))
    return _stamp(tuple((str(f), *_stat(f)) for f in files))


def _stat(path: Path) -> tuple[float, int]:
    st = path.stat()
    return st.st_mtime, st.st_size


@functools.lru_cache(maxsize=8)
def _stamp(files: tuple[tuple[str, float, int], ...]) -> bytes:
    """The hash of ``files`` (path, mtime, size: a file that changes is hashed again)."""
    digest = hashlib.sha256()
    for path, _, _ in files:
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.digest()


class _PackageStamp:
    """A numba cache locator for the functions of ``envs``: numba's own locator (``base``), with
    :func:`source_stamp` for the source's freshness; for other files, no locator (numba's apply)."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != PACKAGE_DIR:
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        return source_stamp()


def _numba_caching(name: str):
    """numba's cache class ``name`` (named with a leading underscore before numba 0.62)."""
    found = getattr(caching, name, None) or getattr(caching, f"_{name}", None)
    if found is None:
        raise ImportError(
            f"numba {numba.__version__} has no numba.core.caching.{name}, which envs.jit needs to key the "
            "kernels' disk cache to the package's sources (numba 0.68.1, which constraints.txt pins, has it)"
        )
    return found


def _package_locators() -> list[type]:
    """numba's locators (a user-given cache directory, beside the module, the user-wide
    directory), each for ``envs`` under :func:`source_stamp`."""
    names = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
    return [type(f"Package{name}", (_PackageStamp, _numba_caching(name)), {}) for name in names]


_LOCATORS = _numba_caching("CacheImpl")._locator_classes  # the locators numba tries, in order
if not any(issubclass(c, _PackageStamp) for c in _LOCATORS):
    _LOCATORS[:0] = _package_locators()


# --------------------------------------------------------------------------------- threads
def _parallel_from_environment(default: int = 512) -> int:
    value = os.environ.get("ROADSCHOOL_PARALLEL_FROM", "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"ROADSCHOOL_PARALLEL_FROM must be a positive number of cars, got {value!r}")
    return int(value)


PARALLEL_FROM = _parallel_from_environment()
"""Default number of cars from which kernels use the thread pool (``Fleet.parallel_from``; the
environment variable ``ROADSCHOOL_PARALLEL_FROM`` sets it for a process)."""


def jit_disabled() -> bool:
    """True when ``NUMBA_DISABLE_JIT=1``: the kernels run as plain Python."""
    return bool(numba.config.DISABLE_JIT)


_thread_state = threading.local()  # .count: numba's thread count as this thread last set or read it


def set_threads(count: int) -> int:
    """Let numba's kernels use at most ``count`` threads (clipped to what numba started with);
    returns the number now in use. Like numba's own setting, this holds for the calling thread."""
    count = max(1, min(int(count), numba.config.NUMBA_NUM_THREADS))
    if not jit_disabled():
        numba.set_num_threads(count)
    _thread_state.count = None
    return threads()


def threads() -> int:
    """How many threads numba's kernels use now, as :func:`set_threads` set it (read from numba
    once per thread: ``numba.get_num_threads()`` takes 0.5 us, a tenth of a small fleet's
    parallel step; the parallel kernels split their cars into this many ranges)."""
    if jit_disabled():
        return 1
    count = getattr(_thread_state, "count", None)
    if count is None:
        count = _thread_state.count = numba.get_num_threads()
    return count


def object_array(items: Sequence) -> np.ndarray:
    """``items`` (generators, roads: objects that are not sequences) as a 1-D object array, so that
    the glue around the kernels picks and sets them for many cars at once (``a[cars] = ...``)."""
    if isinstance(items, np.ndarray) and items.dtype == object:
        return items
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def compiled(kernel, args: Sequence, any_layout: Sequence[int] = ()):
    """``kernel``'s machine code for the types of ``args`` (loaded from the disk cache or compiled
    now), as a function to call with arguments of exactly those types, without numba's dispatch;
    the kernel itself with ``NUMBA_DISABLE_JIT=1``.

    A kernel called through its dispatcher first types every argument (about 25 ns an array) and
    looks the types up; the compiled function skips that, which is a tenth of a single car's
    step (0.38 us a call for the step kernel's 15 arguments, measured on the 2-core machine). It
    does not check what it is given: an array of another dtype, dimension, layout or
    writeability than those of ``args`` is read as if it were one of them. Only a caller that
    owns its arguments' types (``envs.fleet.Fleet``) keeps one. The arrays at positions
    ``any_layout`` are typed as of any layout (numba's ``"A"``: their strides are read), so that
    one function takes them contiguous or not."""
    if jit_disabled():
        return kernel
    signature = [kernel.typeof_pyval(a) for a in args]
    for k in any_layout:
        signature[k] = signature[k].copy(layout="A")
    return kernel.compile(tuple(signature))


def records_for_kernels(records: np.recarray) -> np.ndarray:
    """A record array as kernels take it: a plain structured view of the same memory (numba's
    dispatcher types a ``np.recarray`` argument slowly: 7 us a call against 0.9 us for the plain
    view, measured on the 2-core machine), or the record array itself when the kernels run as
    plain Python (``NUMBA_DISABLE_JIT=1``), where ``record.field`` needs ``np.recarray``'s records."""
    return records if jit_disabled() else records.view(np.ndarray)


def _prefetch_codegen(context, builder, signature, args):
    array = context.make_array(signature.args[0])(context, builder, args[0])
    stride = cgutils.unpack_tuple(builder, array.strides)[0]
    byte = ir.IntType(8).as_pointer()
    address = builder.gep(builder.bitcast(array.data, byte), [builder.mul(args[1], stride)])
    i32 = ir.IntType(32)
    prefetch = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [address.type, i32, i32, i32]), "llvm.prefetch.p0"
    )
    # read (0), keep in every cache level (3), data (1)
    builder.call(prefetch, [address, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
    return context.get_dummy_value()


@intrinsic
def _prefetch_row(typingctx, array, row):
    if not isinstance(array, types.Array):
        return None
    return types.none(array, types.intp), _prefetch_codegen


def _prefetch_row_python(array, row) -> None:
    """Plain Python has no caches to warm."""


prefetch_row = _prefetch_row_python if jit_disabled() else _prefetch_row
"""``prefetch_row(array, i)``: ask the CPU to bring row ``i`` of ``array`` (its first cache line)
into the caches, without waiting for it; a kernel calls it for a car it will reach soon, whose
road rows are scattered over tables larger than the caches. An index outside the array fetches
nothing wrong (a prefetch never faults) but should be avoided."""
