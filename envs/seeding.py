"""Many seeded generators at once, each the one numpy (and Gymnasium) would make of its seed.

``np.random.default_rng(seed)`` (which Gymnasium's ``seeding.np_random(seed)`` is) hashes the
seed's 32-bit words with a ``SeedSequence`` into four 64-bit words, from which ``PCG64`` sets
its state. Done one seed at a time in Python that costs ~50-90 us a seed, 0.2-0.4 s for the
4,096 cars of a vector env's first reset (and as much again for the ~2,000 roads they drive).
Here the hashing runs as numpy operations over all the seeds together (the hash constants do
not depend on the data, so every seed takes the same steps), and each ``PCG64`` is made from
its four words directly: ~5 us a seed. Every generator is the one ``default_rng`` makes, state
for state, as ``tests/test_generation_speed.py`` checks over seeds of one, two and more words.

The algorithm is numpy's ``SeedSequence`` (``numpy/random/bit_generator.pyx``): ``mix_entropy``
fills a pool of four words, ``generate_state`` hashes the pool into the output words.

And drawing from many generators inside a kernel: :class:`GeneratorTable` holds each car's bit
generator as its C interface (``BitGenerator.ctypes``: the ``next_double`` function and the
state's address), and :func:`next_double` calls it from compiled code, so that an autoreset of
28 cars draws its 112 uniforms in one kernel call (about 2 us) instead of 28 ``Generator.random``
calls (about 50 us); the numbers and the generators' states are exactly those of the calls.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from numpy.random.bit_generator import ISeedSequence

from envs.jit import jit_disabled, njit, object_array

_POOL = 4  # numpy's DEFAULT_POOL_SIZE
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_MASK = 0xFFFFFFFF


def _hash_constants(init: int, mult: int, count: int) -> list[np.uint32]:
    """The successive hash constants ``h`` a SeedSequence multiplies in (before each multiply)."""
    out, h = [], init
    for _ in range(count):
        h = (h * mult) & _MASK
        out.append(np.uint32(h))
    return out


def _hashmix(value: np.ndarray, before: int, after: np.uint32) -> np.ndarray:
    """numpy's ``hashmix``: ``value ^= h; h *= MULT_A; value *= h; value ^= value >> 16``."""
    value = (value ^ np.uint32(before)) * after
    return value ^ (value >> np.uint32(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
    return result ^ (result >> np.uint32(16))


def pool_words(entropy: np.ndarray) -> np.ndarray:
    """The pools ``SeedSequence(row)`` mixes each row of ``entropy`` ``[K, W]`` (uint32 words,
    low word first, W >= 1) into: ``[K, 4]`` uint32."""
    entropy = np.asarray(entropy, dtype=np.uint32)
    k, w = entropy.shape
    steps = _POOL + _POOL * (_POOL - 1) + max(0, w - _POOL) * _POOL
    hs = _hash_constants(_INIT_A, _MULT_A, steps)
    before = [_INIT_A] + [int(h) for h in hs[:-1]]
    step = 0
    pool = []
    zeros = np.zeros(k, dtype=np.uint32)
    for i in range(_POOL):
        pool.append(_hashmix(entropy[:, i] if i < w else zeros, before[step], hs[step]))
        step += 1
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], _hashmix(pool[src], before[step], hs[step]))
                step += 1
    for src in range(_POOL, w):
        for dst in range(_POOL):
            pool[dst] = _mix(pool[dst], _hashmix(entropy[:, src], before[step], hs[step]))
            step += 1
    return np.stack(pool, axis=1)


def state_words(pool: np.ndarray, n_words: int) -> np.ndarray:
    """``generate_state(n_words, np.uint32)`` of the SeedSequences with these pools ``[K, 4]``:
    ``[K, n_words]`` uint32."""
    hs = _hash_constants(_INIT_B, _MULT_B, n_words)
    before = [_INIT_B] + [int(h) for h in hs[:-1]]
    return np.stack([_hashmix(pool[:, i % _POOL], before[i], hs[i]) for i in range(n_words)], axis=1)


class SeedWords(ISeedSequence):
    """A SeedSequence reduced to its pool (``[4]`` uint32): it generates the words the full
    one generates, so ``PCG64(SeedWords(pool))`` is ``PCG64(SeedSequence(entropy))``. It cannot
    ``spawn`` (nothing here does); ``words64`` holds the four 64-bit words PCG64 asks for,
    computed with the pools of the other seeds."""

    __slots__ = ("pool", "words64")

    def __init__(self, pool: np.ndarray, words64: np.ndarray | None = None):
        self.pool = np.asarray(pool, dtype=np.uint32)
        self.words64 = words64

    def generate_state(self, n_words: int, dtype=np.uint32) -> np.ndarray:
        if n_words == 4 and dtype is np.uint64 and self.words64 is not None:  # what PCG64 asks
            return self.words64
        wide = np.dtype(dtype) == np.dtype(np.uint64)
        words = state_words(self.pool[None, :], 2 * n_words if wide else n_words)[0]
        # as numpy does: little-endian pairs of 32-bit words make the 64-bit ones
        return words.astype("<u4").view("<u8").astype(np.uint64) if wide else words

    def __reduce__(self):
        return SeedWords, (self.pool, self.words64)


SEEDS_TOGETHER_FROM = 24
"""Seeds from which :func:`bit_generators` hashes them together: one pass over
the seeds costs about 200-300 us however few they are (numpy operations on short arrays), one
``SeedSequence`` 10-16 us (16 seeds: 239 us together against 165 us one by one; 64: 359 against
692, on the 2-core machine)."""


def bit_generators(entropy: np.ndarray) -> list[np.random.PCG64]:
    """``PCG64(SeedSequence(row))`` for each row of ``entropy`` ``[K, W]`` (uint32 words): hashed
    together from :data:`SEEDS_TOGETHER_FROM` rows, fewer by numpy's own ``SeedSequence`` of the
    same words."""
    if len(entropy) < SEEDS_TOGETHER_FROM:
        return [np.random.PCG64(np.random.SeedSequence(row.tolist())) for row in np.asarray(entropy)]
    pools = pool_words(entropy)
    words = state_words(pools, 8).astype("<u4").view("<u8").astype(np.uint64)  # [K, 4]
    return [np.random.PCG64(SeedWords(pool, row)) for pool, row in zip(pools, words)]


def _words_of(seed: int) -> list[int]:
    """A non-negative integer's 32-bit words, low word first (as SeedSequence splits it)."""
    words = [seed & _MASK]
    seed >>= 32
    while seed:
        words.append(seed & _MASK)
        seed >>= 32
    return words


def generators(seeds: Sequence[int]) -> list[np.random.Generator]:
    """``np.random.default_rng(seed)`` for each non-negative integer seed, state for state,
    made together (:func:`bit_generators`). Other seeds (None, negative, not integers) are
    refused as Gymnasium's ``seeding.np_random`` refuses them: its error."""
    from gymnasium.utils import seeding

    out: list[np.random.Generator | None] = [None] * len(seeds)
    by_length: dict[int, list[int]] = {}
    words: list[list[int]] = []
    for k, seed in enumerate(seeds):
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
            words.append(_words_of(int(seed)))
            by_length.setdefault(len(words[-1]), []).append(k)
        else:
            words.append([])
            out[k] = seeding.np_random(seed)[0]  # raises for what Gymnasium refuses
    for length, ks in by_length.items():
        entropy = np.array([words[k] for k in ks], dtype=np.uint32).reshape(len(ks), length)
        for k, bits in zip(ks, bit_generators(entropy)):
            out[k] = np.random.Generator(bits)
    return out


# ------------------------------------------------------------------ drawing inside a kernel
@intrinsic
def next_double(typingctx, function, state):
    """``function(state)``: a bit generator's ``next_double`` (its C function at address
    ``function``, ``BitGenerator.ctypes.next_double``) on its state at address ``state``
    (``BitGenerator.ctypes.state_address``): the next uniform in [0, 1) of that generator, as
    ``Generator.random()`` draws it."""

    def codegen(context, builder, signature, args):
        byte_pointer = ir.IntType(8).as_pointer()
        next_double = builder.inttoptr(args[0], ir.FunctionType(ir.DoubleType(), [byte_pointer]).as_pointer())
        return builder.call(next_double, [builder.inttoptr(args[1], byte_pointer)])

    return types.float64(types.intp, types.intp), codegen


@njit(cache=True)
def _draw_uniforms(rows, functions, states, out):
    for m in range(len(rows)):
        i = rows[m]
        for k in range(out.shape[1]):
            out[m, k] = next_double(functions[i], states[i])


class GeneratorTable:
    """The generators of ``N`` cars as a kernel draws from them: each one's bit generator's
    ``next_double`` function and state (``numpy.random.BitGenerator.ctypes``), so that drawing a
    few numbers for each of many cars costs one kernel call, not a ``Generator.random`` call a
    car (1-2 us each). A car's row is refreshed whenever it is asked to draw from another
    generator than last time; the table holds the generators it points into, so they stay alive.
    With ``NUMBA_DISABLE_JIT=1``, or a generator without a ``ctypes`` interface, it calls
    ``Generator.random``. Either way each car's numbers and its generator's state afterwards
    are exactly those of ``rng.random(count)``."""

    def __init__(self, num_cars: int):
        self.num_cars = num_cars
        self._clear()

    def _clear(self) -> None:
        self._generators = np.full(self.num_cars, None, dtype=object)  # the generator of each row
        self._functions = np.zeros(self.num_cars, dtype=np.intp)  # 0: no generator a kernel draws from
        self._states = np.zeros(self.num_cars, dtype=np.intp)
        self._unset = self.num_cars  # rows whose function is 0
        self.changes = 0  # rows made another generator's so far (a caller keeping the rows to its own checks it)

    def __getstate__(self) -> dict:  # addresses mean nothing in another process
        return {"num_cars": self.num_cars}

    def __setstate__(self, state: dict) -> None:
        self.num_cars = state["num_cars"]
        self._clear()

    def pointers(
        self, cars: np.ndarray, rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """``(functions[N], states[N])``, the table as a kernel reads it (``next_double(
        functions[i], states[i])``), with car ``cars[k]``'s row made ``rngs[k]``'s; ``(None,
        None)`` if a generator has no ``ctypes`` interface or the kernels run as plain Python."""
        if jit_disabled():
            return None, None
        known, cars, rngs = self._generators, np.asarray(cars), object_array(rngs)
        if len(cars) <= 64:  # an autoreset's few cars: one by one (28 cars in 1.25 us, against 1.65 us at once)
            changed = [k for k, (i, rng) in enumerate(zip(cars.tolist(), rngs.tolist())) if known[i] is not rng]
        else:
            changed = np.flatnonzero(known[cars] != rngs).tolist()  # `!=` of generators: `is not`
        plain = False
        self.changes += len(changed)
        for k in changed:
            i, rng = int(cars[k]), rngs[k]
            known[i] = rng
            self._unset += self._functions[i] != 0  # unset until the new generator's address is in
            try:
                interface = rng.bit_generator.ctypes
            except AttributeError:  # not a numpy Generator: only its own methods draw from it
                self._functions[i] = self._states[i] = 0
                plain = True
                continue
            self._functions[i] = ctypes.cast(interface.next_double, ctypes.c_void_p).value
            self._states[i] = interface.state_address
            self._unset -= 1
        if plain or (self._unset and not self._functions[cars].all()):  # a car no kernel draws for (now or before)
            return None, None
        return self._functions, self._states

    def table(self) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """``(functions[N], states[N])`` as they are, if every row is a generator a kernel draws
        from (else, or as plain Python, ``(None, None)``): for a caller that keeps the rows to the
        cars' generators through :meth:`pointers` (``envs.fleet.Fleet``), without looking at them."""
        if self._unset or jit_disabled():
            return None, None
        return self._functions, self._states

    def uniforms(self, cars: np.ndarray, rngs: Sequence[np.random.Generator], count: int) -> np.ndarray:
        """``[M, count]``: row ``k`` is ``rngs[k].random(count)``, drawn for car ``cars[k]``."""
        out = np.empty((len(rngs), count))
        cars = np.asarray(cars, dtype=np.int64)
        functions, states = self.pointers(cars, rngs)
        if functions is not None:
            _draw_uniforms(cars, functions, states, out)
        else:
            for rng, row in zip(rngs, out):
                row[:] = rng.random(count)
        return out
