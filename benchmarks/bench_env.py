"""Throughput of the road-following environments, against an older checkout and an anchor in one run.

Measurements (each in a fresh subprocess, ``--repeat`` times, reported as the median with the range):

* ``single``: the single env (``gymnasium.make``, ``features``, no rendering) driven with a fixed
  action ``[0.0]``, reset whenever an episode ends: steps/s;
* ``vector-N``: the vector env (``gymnasium.make_vec``, ``vector_entry_point``), N = 256, 1024
  and 4096 cars, fixed zero action, observations included: car-steps/s;
* ``rays-256``, ``image-256``: the same with ``observation="rays"`` / ``"image"``, 256 cars;
* ``collect``: the demo's expert collection (``agents.data.collect`` on 200 train roads, DART
  noise on) and ``evaluate``: the demo's closed-loop evaluation of the expert on 200 unseen roads
  (``agents.evaluation.drive``): seconds;
* ``first-reset``: ``make_vec(num_envs=4096).reset(seed=0)`` in a fresh process (road generation
  and atlas included, nothing cached but compiled kernels): seconds.

The road pool of the throughput runs (200 roads of each default family) is generated before any
timing, so road generation is not measured there, and garbage is collected once before each
timed loop (``_settle``). With ``--against DIR`` every measurement is also run on the checkout in
DIR (e.g. a ``git worktree`` of an older commit), alternating with this one, and with
``--anchor-python PY`` highway-env's ``lane-keeping-v0`` is measured in the
same run by ``benchmarks/anchor_highway.py`` under that interpreter (a virtual environment with
highway-env installed). The machines this runs on are shared and their speed varies from
minute to minute: compare ratios from one run, not figures from different runs.

    python benchmarks/bench_env.py [--against OLD_CHECKOUT] [--anchor-python VENV/bin/python]
                                   [--only single,vector-4096] [--repeat R] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FAMILIES = ("gentle", "twisty")  # the default families
NUM_ROADS = 200  # road pool per family, generated before timing
MEASUREMENTS = (
    "single",
    "vector-256",
    "vector-1024",
    "vector-4096",
    "rays-256",
    "image-256",
    "collect",
    "evaluate",
    "first-reset",
)
UNITS = {"single": "steps/s", "collect": "s", "evaluate": "s", "first-reset": "s"}


# ----------------------------------------------------------------- measurements (in a worker)
def _pregenerate() -> None:
    from envs import generate_road

    for family in FAMILIES:
        for index in range(NUM_ROADS):
            generate_road("train", family, index)


def _settle() -> None:
    """Collect garbage once before a timed loop (``timeit`` goes further and switches it off):
    Python's first full collection after the compiled kernels load walks ~110,000 objects of
    numba's (60-80 ms on the 2-core machine, once a process) and would otherwise land in a short
    timed window by chance. Steady-state collections still happen inside the window and are
    measured."""
    gc.collect()


def measure_single(scale: float) -> float:
    import gymnasium as gym
    import numpy as np

    from envs import ENV_ID

    _pregenerate()
    env = gym.make(ENV_ID, families=FAMILIES, num_roads=NUM_ROADS)
    action = np.array([0.0], dtype=np.float32)
    env.reset(seed=0)

    def run(n: int) -> None:
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()

    run(int(2_000 * scale))
    _settle()
    steps = int(50_000 * scale)
    start = time.perf_counter()
    run(steps)
    return steps / (time.perf_counter() - start)


def measure_vector(num_envs: int, observation: str, scale: float) -> float:
    import gymnasium as gym
    import numpy as np

    from envs import ENV_ID

    _pregenerate()
    env = gym.make_vec(
        ENV_ID,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        families=FAMILIES,
        num_roads=NUM_ROADS,
        observation=observation,
    )
    actions = np.zeros((num_envs, 1), dtype=np.float32)
    env.reset(seed=0)
    for _ in range(max(2, int(100 * scale))):
        env.step(actions)
    budget = (2_000_000 if observation == "features" else 200_000) * scale
    steps = max(10, int(budget // num_envs))
    _settle()
    start = time.perf_counter()
    for _ in range(steps):
        obs = env.step(actions)[0]
    elapsed = time.perf_counter() - start
    assert obs.shape[0] == num_envs
    return num_envs * steps / elapsed


def measure_collect(scale: float) -> float:
    from agents.data import CollectConfig, collect

    roads = max(8, int(200 * scale))
    collect(CollectConfig(num_roads=4, seed=0))  # compiled kernels loaded, not timed
    _settle()
    start = time.perf_counter()
    collect(CollectConfig(num_roads=roads, seed=0))
    return time.perf_counter() - start


def measure_evaluate(scale: float) -> float:
    from agents.drivers import ExpertDriver
    from agents.evaluation import drive, env_config_for
    from envs import DEFAULT_FAMILIES, generate_road
    from envs.generation import road_plan

    roads = [generate_road("unseen", f, i) for f, i in road_plan(max(8, int(200 * scale)), DEFAULT_FAMILIES)]
    drive(ExpertDriver(), roads[:4], env_config_for("features"))  # compiled kernels loaded, not timed
    _settle()
    start = time.perf_counter()
    drive(ExpertDriver(), roads, env_config_for("features"))
    return time.perf_counter() - start


def measure_first_reset(scale: float) -> float:
    import gymnasium as gym

    import envs

    warm = gym.make_vec(envs.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point")
    warm.reset(seed=10_000)  # kernels loaded from the cache, two roads generated: not timed
    warm.step(warm.action_space.sample())
    start = time.perf_counter()
    env = gym.make_vec(envs.ENV_ID, num_envs=max(64, int(4096 * scale)), vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    return time.perf_counter() - start


def measure(name: str, scale: float) -> float:
    if name == "single":
        return measure_single(scale)
    if name.startswith(("vector-", "rays-", "image-")):
        kind, n = name.split("-")
        return measure_vector(int(n), "features" if kind == "vector" else kind, scale)
    return {"collect": measure_collect, "evaluate": measure_evaluate, "first-reset": measure_first_reset}[name](scale)


# ---------------------------------------------------------------------------------- driver
def run_worker(checkout: Path, name: str, scale: float) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout), "SDL_VIDEODRIVER": "dummy", "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, str(HERE / "bench_env.py"), "--worker", name, "--scale", str(scale)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} on {checkout} failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def run_anchor(python: str, scale: float) -> float:
    out = subprocess.run(
        [python, str(HERE / "anchor_highway.py"), "--steps", str(max(200, int(4000 * scale)))],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["steps_per_s"])


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "range": [min(values), max(values)], "runs": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="an older checkout to measure alternately with this one")
    parser.add_argument("--anchor-python", help="python of a virtual environment with highway-env installed")
    parser.add_argument("--only", help=f"comma-separated measurements (default: all of {', '.join(MEASUREMENTS)})")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (numbers are not meaningful)")
    parser.add_argument("--json", metavar="OUT", help="also write the results to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(measure(args.worker, args.scale))
        return
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    names = MEASUREMENTS if not args.only else tuple(args.only.split(","))
    unknown = set(names) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s) {sorted(unknown)}; choose from {', '.join(MEASUREMENTS)}")
    scale = 0.05 if args.quick else 1.0
    checkouts = {"this": ROOT}
    if args.against and not (args.against / "envs" / "__init__.py").is_file():
        parser.error(f"--against {args.against}: not a roadschool checkout (no envs/__init__.py)")
    if args.against:
        checkouts["against"] = args.against.resolve()
    import numpy

    results: dict = {
        "machine": {
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "checkouts": {k: str(v) for k, v in checkouts.items()},
        "measurements": {},
    }
    for checkout in checkouts.values():  # compile (or load) every kernel once, untimed
        run_worker(checkout, "single", 0.01)
    print(
        f"{'measurement':<12} {'unit':<12} "
        + " ".join(f"{k + ' (median, range)':>34}" for k in checkouts)
        + ("   ratio" if len(checkouts) > 1 else "")
    )
    for name in names:
        values: dict[str, list[float]] = {k: [] for k in checkouts}
        anchor: list[float] = []
        for _ in range(args.repeat):
            for label, checkout in checkouts.items():  # alternately, so both see the same machine
                values[label].append(run_worker(checkout, name, scale))
            if name == "single" and args.anchor_python:
                anchor.append(run_anchor(args.anchor_python, scale))
        row = {k: summary(v) for k, v in values.items()}
        unit = UNITS.get(name, "car-steps/s")
        line = f"{name:<12} {unit:<12} " + " ".join(
            f"{r['median']:>14.4g} ({r['range'][0]:.4g}-{r['range'][1]:.4g})".rjust(34) for r in row.values()
        )
        if "against" in row:
            ratio = row["this"]["median"] / row["against"]["median"]
            row["ratio"] = 1.0 / ratio if unit == "s" else ratio  # > 1: this checkout is faster
            line += f"   {row['ratio']:.2f}x"
        print(line, flush=True)
        results["measurements"][name] = row
        if anchor:
            lane = summary(anchor)
            lane["single_over_anchor"] = row["this"]["median"] / lane["median"]
            results["anchor"] = {"env": "highway-env lane-keeping-v0", **lane}
            print(
                f"{'lane-keeping':<12} {'steps/s':<12} {lane['median']:>14.4g} ({lane['range'][0]:.4g}-"
                f"{lane['range'][1]:.4g})   single env / lane-keeping-v0: {lane['single_over_anchor']:.0f}x",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
