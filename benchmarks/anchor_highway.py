"""Anchor: single-env throughput of highway-env's ``lane-keeping-v0``.

This gives a reference point from outside the project. It uses ``highway-env`` only and
never imports ``roadschool``, so it runs in its own virtual environment with
highway-env installed (measured with highway-env 1.12.1 and gymnasium 1.4.0):

    python3.11 -m venv /path/to/venv-anchor
    /path/to/venv-anchor/bin/pip install highway-env
    /path/to/venv-anchor/bin/python benchmarks/anchor_highway.py [--steps N] [--warmup W] [--json OUT]

What it measures: ``gymnasium.make("lane-keeping-v0")`` with its default config and no
rendering (``render_mode`` stays at its default, None; this env's constructor refuses a
``render_mode`` keyword, so none is passed). It is reset with seed 0 and stepped with a
fixed zero action (action_space-shaped zeros, float32), and reset whenever an episode
terminates or truncates (lane-keeping never terminates; gymnasium's TimeLimit truncates
it after 200 steps); reset time is counted in the timing. ``--warmup`` steps are run
first and not timed, garbage is collected once, then ``--steps`` steps are timed with
``time.perf_counter``. The script prints one JSON line with steps/s and ms per ``env.step``.
It also prints the env's ``simulation_frequency`` and ``policy_frequency``: one env step runs
``simulation_frequency // policy_frequency`` simulator sub-steps (1 with the defaults,
10 Hz and 10 Hz).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import time
from importlib import metadata
from pathlib import Path

import gymnasium as gym
import highway_env  # noqa: F401  (registers the highway-env ids with gymnasium)
import numpy as np

ENV_ID = "lane-keeping-v0"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def run(steps: int, warmup: int) -> dict:
    # LaneKeepingEnv.__init__(config=None) does not accept render_mode (highway-env
    # 1.12.1: gym.make(..., render_mode=None) raises TypeError); its default is None.
    env = gym.make(ENV_ID)
    if env.unwrapped.render_mode is not None:
        raise RuntimeError(f"expected render_mode None, got {env.unwrapped.render_mode!r}")
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    env.reset(seed=0)

    resets = 0

    def drive(n: int) -> None:
        nonlocal resets
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
                resets += 1

    drive(warmup)
    resets = 0
    gc.collect()  # as bench_env.py does before its timed loops
    t0 = time.perf_counter()
    drive(steps)
    seconds = time.perf_counter() - t0

    config = env.unwrapped.config
    sim_hz = int(config["simulation_frequency"])
    policy_hz = int(config["policy_frequency"])
    env.close()
    return {
        "env": ENV_ID,
        "highway_env": _version("highway-env"),
        "gymnasium": _version("gymnasium"),
        "python": platform.python_version(),
        "steps": steps,
        "warmup": warmup,
        "resets": resets,
        "seconds": round(seconds, 4),
        "steps_per_s": round(steps / seconds, 1),
        "ms_per_step": round(1000.0 * seconds / steps, 4),
        "simulation_frequency": sim_hz,
        "policy_frequency": policy_hz,
        "substeps_per_step": sim_hz // policy_hz,
        "max_episode_steps": env.spec.max_episode_steps if env.spec else None,
        "render_mode": None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="timed env steps (default 2000)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed steps first (default 100)")
    parser.add_argument("--json", metavar="OUT", help="also write the result to this JSON file")
    args = parser.parse_args()
    if args.steps <= 0 or args.warmup < 0:
        parser.error("--steps must be > 0 and --warmup >= 0")

    result = run(args.steps, args.warmup)
    line = json.dumps(result)
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")


if __name__ == "__main__":
    main()
