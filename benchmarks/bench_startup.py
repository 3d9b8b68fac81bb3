"""What the compiled kernels cost at start-up: the first run after installing, and a cached start.

Each measurement runs in a fresh Python process whose numba cache (``NUMBA_CACHE_DIR``) starts
empty, so it sees what a new install sees:

* ``first run``: ``import envs``, then what ``roadschool demo`` runs once each: a single env's
  reset and step (``features``), the expert's collection and the closed-loop evaluation on a few
  roads (vector env, the path expert, a learned policy's forward pass), i.e. every kernel the demo
  compiles;
* ``cached start``: a second process on the same cache: ``import envs`` and a single env's first
  ``reset`` and ``step`` (kernels loaded from disk).

    python benchmarks/bench_startup.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_RUN = r"""
import time
start = time.perf_counter()
import numpy as np, gymnasium as gym, envs
env = gym.make(envs.ENV_ID); env.reset(seed=0); env.step(np.zeros(1))
from agents.data import CollectConfig, collect
from agents.drivers import ExpertDriver
from agents.evaluation import drive, env_config_for
data = collect(CollectConfig(num_roads=4, seed=0))
drive(ExpertDriver(), [envs.generate_road("unseen", "twisty", i) for i in range(4)], env_config_for("features"))
print(time.perf_counter() - start)
"""

CACHED_START = r"""
import time
start = time.perf_counter()
import numpy as np, gymnasium as gym, envs
env = gym.make(envs.ENV_ID); env.reset(seed=0); env.step(np.zeros(1))
print(time.perf_counter() - start)
"""


def run(code: str, cache: str) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="fresh caches to measure (default 2)")
    args = parser.parse_args()
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            first = run(FIRST_RUN, cache)
            cached = run(CACHED_START, cache)
        print(
            f"first run after install (compiles what the demo uses): {first:.1f} s; "
            f"cached start (import envs + reset + step): {cached:.2f} s"
        )


if __name__ == "__main__":
    main()
