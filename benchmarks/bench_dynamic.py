"""The dynamic car's cost against the kinematic car's: the vector env at N = 4,096 (``features``,
the benchmark's 600-road pool, zero steering, the cruise controller), both models measured
alternately in one run, each in a fresh process, with the numba threads the machine has.

    python benchmarks/bench_dynamic.py [--num-envs 4096] [--repeat 3] [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("gentle", "twisty", "hairpin")


def measure(model: str, num_envs: int, steps: int) -> float:
    """Car-steps per second of ``num_envs`` cars of ``model`` (after 50 steps of warm-up)."""
    import gymnasium as gym
    import numpy as np

    import envs

    for family in FAMILIES:
        for index in range(200):
            envs.generate_road("train", family, index)
    env = gym.make_vec(
        envs.ENV_ID,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        families=FAMILIES,
        num_roads=200,
        car=envs.CarParams(model=model),
    )
    actions = np.zeros((num_envs, 1), dtype=np.float32)
    env.reset(seed=0)
    for _ in range(50):
        env.step(actions)
    start = time.perf_counter()
    for _ in range(steps):
        env.step(actions)
    return num_envs * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--worker", choices=("kinematic", "dynamic"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.num_envs, args.steps)))
        return
    results: dict[str, list[float]] = {"kinematic": [], "dynamic": []}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(args.repeat):
        for model in results:  # alternately, each in a fresh process
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    model,
                    "--num-envs",
                    str(args.num_envs),
                    "--steps",
                    str(args.steps),
                ],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            results[model].append(float(out.stdout.strip().splitlines()[-1]))
    kinematic, dynamic = (statistics.median(results[m]) for m in ("kinematic", "dynamic"))
    for model, values in results.items():
        print(
            f"{model:9s} N={args.num_envs}: {statistics.median(values):.3e} car-steps/s "
            f"(runs: {', '.join(f'{v:.3e}' for v in values)})"
        )
    print(f"the dynamic car's step costs {kinematic / dynamic:.2f}x the kinematic car's")


if __name__ == "__main__":
    main()
