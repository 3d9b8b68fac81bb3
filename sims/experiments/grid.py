"""A grid of independent, seeded runs, executed on local processes or on a Ray cluster.

A run is a frozen dataclass (its *spec*) and a module-level function
``run(spec) -> {"row": {...}, "details": {...}}``. ``row`` is one line of the
experiment's CSV (plain numbers and strings); ``details`` holds anything bigger
(per-epoch curves, dataset metadata, model weights) that the experiment writes
elsewhere. Every run pins PyTorch to one thread and seeds everything from its
spec, so a run gives the same numbers wherever it executes: in this process, in
a local worker process, or on any node of a Ray cluster. Only the wall-clock
columns (named in ``TIMING_COLUMNS``) differ from one execution to the next.

Local workers are started with the ``spawn`` method (a fresh interpreter, no
state copied from this one), so a script that calls :func:`run_grid` must do so
under ``if __name__ == "__main__":``; the ``roadschool`` command already does.
"""

from __future__ import annotations

import base64
import concurrent.futures
import concurrent.futures.process
import csv
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envs.atomic import atomic_path, write_text_atomically

BACKENDS = ("local", "ray")

TIMING_COLUMNS = frozenset({"run_seconds", "train_seconds", "seconds_per_epoch"})
"""CSV columns that are wall-clock measurements and so differ between executions."""


MAX_SEEDS = 10_000
"""Most seeds per grid point."""


def check_grid(config) -> None:
    """The checks every experiment's config shares, by field name: types; ``seeds`` 1 .. 10,000;
    ``first_seed`` such that every seed is a valid one; every ``*_roads`` and ``*epochs`` field at
    least 1 (roads: at most ``envs.limits.MAX_CARS``, driven at once); ``families`` known ones."""
    from envs import FAMILIES, limits
    from envs.checks import check_types, in_range
    from sims.arguments import MAX_SEED

    if isinstance(getattr(config, "families", None), str):
        object.__setattr__(config, "families", (config.families,))
    check_types(config)
    names = {f.name for f in dataclasses.fields(config)}
    if "seeds" in names:
        in_range(config, "seeds", 1, MAX_SEEDS)
    if "first_seed" in names:
        in_range(config, "first_seed", 0, MAX_SEED - MAX_SEEDS)
    for name in names:
        if name.endswith("_roads") and isinstance(getattr(config, name), int):
            in_range(config, name, 1, limits.MAX_CARS)
        if name.endswith("epochs"):
            in_range(config, name, 1, 1_000_000)
    if "families" in names and (not config.families or any(f not in FAMILIES for f in config.families)):
        raise ValueError(f"families must name road families among {', '.join(FAMILIES)}, got {config.families}")


@dataclass(frozen=True)
class Backend:
    """Where the runs of a grid execute."""

    kind: str = field(default="local", metadata={"choices": BACKENDS})
    """``local`` (a pool of worker processes on this machine) or ``ray``."""
    workers: int = 0
    """Runs at once: local worker processes, or CPUs of a local Ray instance (0: all cores).
    ``1`` with ``local`` runs everything in this process, one run after another."""
    address: str | None = None
    """Ray only: the address of an existing cluster (e.g. ``ray://head:10001`` or ``auto``);
    ``None`` starts a local Ray instance for the grid and stops it afterwards."""

    def __post_init__(self):
        if self.kind not in BACKENDS:
            raise ValueError(f"unknown backend {self.kind!r}; choose from {', '.join(BACKENDS)}")
        if self.workers < 0:
            raise ValueError(f"workers must be 0 (all cores) or more, got {self.workers}")
        if self.address is not None and self.kind != "ray":
            raise ValueError("an address is only meaningful with the ray backend")

    @property
    def num_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def describe(self) -> str:
        if self.kind == "ray":
            return f"ray cluster at {self.address}" if self.address else f"local ray instance ({self.num_workers} CPUs)"
        if self.num_workers == 1:
            return "this process"
        return f"{self.num_workers} local worker processes"


class RunFailed(RuntimeError):
    """A run of a grid raised, or its worker process died; the message names the run."""


def execute_marked(run: Callable, spec, marker: str | None) -> dict:
    """:func:`execute`, first writing ``marker`` (a file naming this process) so that a worker
    that dies (killed, out of memory) can be told from the runs that were only waiting."""
    if marker is not None:
        Path(marker).write_text(str(os.getpid()))
    return execute(run, spec)


def execute(run: Callable, spec) -> dict:
    """Run one spec with PyTorch and the simulation's kernels on a single thread each (runs go in
    parallel, one per core: more threads would only contend); adds the ``run_seconds`` it took."""
    import torch

    from envs import jit

    threads, kernel_threads = torch.get_num_threads(), jit.threads()
    torch.set_num_threads(1)
    jit.set_threads(1)
    try:
        clock = time.perf_counter()
        result = run(spec)
        result["row"]["run_seconds"] = round(time.perf_counter() - clock, 3)
    except Exception as exc:
        raise RunFailed(f"{spec} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        torch.set_num_threads(threads)
        jit.set_threads(kernel_threads)
    return result


def run_grid(
    run: Callable,
    specs: Sequence,
    backend: Backend = Backend(),
    describe: Callable[[object], str] = str,
    log=print,
    store: Path | None = None,
    resume: bool = False,
) -> list[dict]:
    """Execute ``run(spec)`` for every spec; the results come back in the order of ``specs``.

    Specs with a ``cost`` attribute are started most expensive first, so that
    the long runs do not end up alone at the end. ``describe(spec)`` labels the
    progress lines. With ``store`` (a folder), each result is kept there as it arrives
    (one JSON file per run, named by a hash of the whole spec, written atomically);
    ``resume=True`` then takes the runs found there instead of running them again, and
    without it the folder's old results are removed first.

    Raises:
        RunFailed: a run raised, or a worker process died (killed, out of memory) while
            running it; the message names the run and how many finished runs are kept.
    """
    specs = list(specs)
    if not specs:
        return []
    results: list[dict | None] = [None] * len(specs)
    keys = [spec_key(spec) for spec in specs] if store is not None else []
    if store is not None:
        store = Path(store)
        store.mkdir(parents=True, exist_ok=True)
        for old in store.glob("*.started"):
            old.unlink()
        if not resume:
            for old in store.glob("*.json"):
                old.unlink()
        for i, key in enumerate(keys):
            if (store / f"{key}.json").exists():
                try:
                    results[i] = _decode(json.loads((store / f"{key}.json").read_text()))
                except (OSError, ValueError, KeyError, TypeError):
                    results[i] = None  # damaged: run it again
        kept = sum(r is not None for r in results)
        if resume:
            log(f"  resuming: {kept} of {len(specs)} runs already done, {len(specs) - kept} to run")
    todo = [i for i in range(len(specs)) if results[i] is None]
    order = sorted(todo, key=lambda i: -float(getattr(specs[i], "cost", 0.0)))
    done = len(specs) - len(todo)
    clock = time.perf_counter()
    if not order:
        return results  # type: ignore[return-value]

    every = max(1, len(specs) // 25)  # about 25 progress lines for a big grid

    def finished(i: int, result: dict) -> None:
        nonlocal done
        results[i] = result
        if store is not None:
            write_text_atomically(store / f"{keys[i]}.json", json.dumps(_encode(result)))
            (store / f"{keys[i]}.started").unlink(missing_ok=True)
        done += 1
        if done % every and done != len(specs):
            return
        width = len(str(len(specs)))
        log(
            f"  [{done:>{width}}/{len(specs)}] {describe(specs[i])}  ({result['row']['run_seconds']:.1f} s,"
            f" {time.perf_counter() - clock:.0f} s elapsed)"
        )

    markers = {i: str(store / f"{keys[i]}.started") for i in order} if store is not None else {}
    if backend.kind == "ray":
        _run_on_ray(run, specs, order, backend, finished)
    elif backend.num_workers == 1:
        for i in order:
            finished(i, execute(run, specs[i]))
    else:
        try:
            _run_on_processes(run, specs, order, backend.num_workers, finished, markers)
        except concurrent.futures.process.BrokenProcessPool:
            died = [i for i, m in markers.items() if results[i] is None and Path(m).exists()]
            unfinished = [i for i in order if results[i] is None]
            named = died or unfinished
            which = "; ".join(describe(specs[i]).strip() for i in named[:5]) + (" ..." if len(named) > 5 else "")
            kept = sum(r is not None for r in results)
            again = f"; {kept} finished runs are kept: rerun with --resume to skip them" if store is not None else ""
            raise RunFailed(
                f"a worker process died (killed or out of memory) while running "
                f"{'' if died else 'one of '}{which}{again}"
            ) from None
    return results  # type: ignore[return-value]


def spec_key(spec) -> str:
    """A name for ``spec`` that changes whenever any of its fields does (a hash of all of them)."""
    import dataclasses

    fields = dataclasses.asdict(spec) if dataclasses.is_dataclass(spec) else {"repr": repr(spec)}
    text = json.dumps(_encode({"type": type(spec).__name__, **fields}), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _encode(value):
    """``value`` as JSON-able data; numpy arrays become ``{"__array__": dtype, "shape", "data" (base64)}``."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, np.ndarray):
        return {
            "__array__": value.dtype.str,
            "shape": list(value.shape),
            "data": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode(),
        }
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value):
    import numpy as np

    if isinstance(value, dict):
        if "__array__" in value:
            raw = base64.b64decode(value["data"])
            return np.frombuffer(raw, dtype=np.dtype(value["__array__"])).reshape(value["shape"]).copy()
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _run_on_processes(run, specs, order, workers, finished, markers=None) -> None:
    markers = markers or {}
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(order)), mp_context=context)
    futures = {pool.submit(execute_marked, run, specs[i], markers.get(i)): i for i in order}
    try:
        for future in concurrent.futures.as_completed(futures):
            finished(futures[future], future.result())
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)  # the workers got the interrupt too
        raise
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # let the running ones end, start no more
        raise
    pool.shutdown()


def _run_on_ray(run, specs, order, backend: Backend, finished) -> None:
    try:
        import ray
    except ImportError:
        raise ValueError("the ray backend needs Ray: pip install 'roadschool[ray]'") from None

    started_here = False
    if not ray.is_initialized():
        if backend.address:
            # ship this checkout's code, so the cluster runs exactly what runs here
            import agents
            import envs
            import sims

            ray.init(address=backend.address, runtime_env={"py_modules": [envs, agents, sims]}, logging_level="WARNING")
        else:
            ray.init(num_cpus=backend.num_workers, include_dashboard=False, logging_level="WARNING")
        started_here = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(execute)
        pending = {remote.remote(run, specs[i]): i for i in order}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                finished(pending.pop(ref), ray.get(ref))
    finally:
        if started_here:
            ray.shutdown()


# ------------------------------------------------------------------ output files
def write_csv(path, rows: Sequence[dict]) -> Path:
    """One line per row; the columns are the union of the rows' keys, in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return Path(path)


def read_csv(path) -> list[dict]:
    """Rows of a CSV written by :func:`write_csv`, with numbers parsed back."""
    with open(path, newline="") as fh:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def write_text(path, text: str) -> Path:
    return write_text_atomically(path, text)


def _csv_value(value):
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    return value


def _parse(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def without_timing(row: dict) -> dict:
    """``row`` without its wall-clock columns: the part that repeats exactly."""
    return {k: v for k, v in row.items() if k not in TIMING_COLUMNS}


def mean_and_spread(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, minimum and maximum of the finite ``values`` (NaN if there are none)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan, math.nan
    return sum(finite) / len(finite), min(finite), max(finite)
