"""Where a vector-env step's time goes at N = 4,096, and how far it is from memory bandwidth.

Drives the benchmark's vector env (``features``, zero action, the 400-road pool, as
``bench_env.py``'s ``vector-4096``) and times each part of ``RoadFollowVectorEnv.step``: action
check and autoresets (drawing episodes, setting roads, placing cars), the step kernel (car,
projection, rewards and info table in one loop over a thread's cars, then the features of the
same cars in a second; the cosines and sines the second reads back from the first, 32 kB a
thread, stay in the caches and are not counted), and building the info dict. Then
it counts the bytes one car-step touches (the arrays each kernel reads and writes, and the cache
lines of road rows a car moves into) and measures the machine's copy rate (``np.copyto`` of
64 MB), so the kernel time can be set against the time those bytes take at that rate.

    python benchmarks/bench_breakdown.py [--steps 300] [--one-road]

``--one-road`` puts every car on the same road, so that the rows the kernel reads stay in the
caches: set beside the default run, it tells how much of the kernel's time is waiting on memory.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import envs  # noqa: E402
from envs.fleet import STEP_COLUMNS  # noqa: E402
from envs.road_follow import validate_actions  # noqa: E402

N = 4096
FAMILIES = ("gentle", "twisty")


def breakdown(env: envs.RoadFollowVectorEnv, steps: int) -> dict:
    fleet = env.fleet
    actions = np.zeros((N, 1), dtype=np.float32)
    parts = np.zeros(3)
    resets = 0
    for _ in range(steps):  # RoadFollowVectorEnv.step, timed part by part
        t0 = time.perf_counter()
        a = fleet.actions
        np.copyto(a, actions)
        if not math.isfinite(a.sum()):
            validate_actions(actions, a.shape)
        resetting = env._autoreset
        if resetting.any():
            resets += int(resetting.sum())
            env._reset_cars(resetting.nonzero()[0], None)
        t1 = time.perf_counter()
        table, obs = fleet.step(a, resetting)
        t2 = time.perf_counter()
        _, terminated, truncated = env._info(table)
        env._autoreset = terminated | truncated
        t3 = time.perf_counter()
        parts += (t1 - t0, t2 - t1, t3 - t2)
    us = parts / steps * 1e6
    return {
        "check_and_resets_us": us[0],
        "step_kernel_us": us[1],
        "info_us": us[2],
        "total_us": us.sum(),
        "resets_per_step": resets / steps,
    }


def bytes_per_car_step(env: envs.RoadFollowVectorEnv) -> dict:
    """Bytes one car-step moves between memory and the core (a lower bound: whole cache lines)."""
    f = env.fleet
    lookahead = np.asarray(env.config.lookahead_distances)
    spacing = 0.5  # [m] between road samples; a car moves dt * speed = 0.5 m a step
    moved = env.config.dt * env.config.target_speed / spacing  # samples a car moves per step
    read = {
        "road record": f.roads.slots.itemsize,
        "car state + place on the road": f.state.itemsize * f.state.shape[1] + f.track.itemsize * f.track.shape[1],
        "segment + step count": 16,
        "action + drift + frozen": 8 + 16 + 1,
        # a car's rows move by `moved` samples a step; a row of R bytes brings a new 64-byte line
        # every 64 / (R * moved) steps
        "projection row (64 B)": 64 * min(1.0, 64 * moved / 64),  # position, direction, heading, friction
        "look-ahead rows (16 B)": len(lookahead) * 64 * min(1.0, 16 * moved / 64),
    }
    written = {
        "car state + place on the road": read["car state + place on the road"] + 16,
        "step table": 8 * len(STEP_COLUMNS),
        "features": 4 * (4 + 2 * len(lookahead)),
    }
    # writing fresh memory first reads the line in (write-allocate): the table and the features
    total = sum(read.values()) + 2 * sum(written.values())
    return {"read": read, "written": written, "total_with_write_allocate": total}


def copy_rate() -> float:
    """GB/s moved by ``np.copyto`` of 64 MB (read plus write), best of 5."""
    src = np.ones(64 * 1024 * 1024 // 8)
    dst = np.empty_like(src)
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps (default 300)")
    parser.add_argument(
        "--one-road",
        action="store_true",
        help="every car on one road (gentle 0), so that every road row the kernel reads is in the caches",
    )
    args = parser.parse_args()
    families, num_roads = (("gentle",), 1) if args.one_road else (FAMILIES, 200)
    for family in families:
        for index in range(num_roads):
            envs.generate_road("train", family, index)
    env = envs.RoadFollowVectorEnv(N, families=families, num_roads=num_roads)
    env.reset(seed=0)
    for _ in range(100):
        env.step(np.zeros((N, 1)))
    pool = "one road" if args.one_road else f"{len(families) * num_roads}-road pool"
    print(f"N = {N}, features, zero action, {pool}; numba threads: {envs.jit.threads()}")
    for label, parallel_from in (("thread pool", envs.jit.PARALLEL_FROM), ("one thread", 1 << 40)):
        env.fleet.parallel_from = parallel_from
        breakdown(env, 5)  # the kernel of this configuration loaded (or compiled), not timed
        row = breakdown(env, args.steps)
        print(
            f"{label:>12}: {row['total_us']:6.0f} us a step = {N / row['total_us']:.2f} M car-steps/s: "
            f"check + {row['resets_per_step']:.0f} resets {row['check_and_resets_us']:.0f} us, "
            f"step kernel {row['step_kernel_us']:.0f} us, info {row['info_us']:.0f} us"
        )
    env.fleet.parallel_from = envs.jit.PARALLEL_FROM
    touched = bytes_per_car_step(env)
    rate = copy_rate()
    floor_us = N * touched["total_with_write_allocate"] / (rate * 1e9) * 1e6
    print(
        f"bytes a car-step touches: ~{touched['total_with_write_allocate']:.0f} (read {touched['read']}, "
        f"written {touched['written']}, writes counted twice for write-allocate)"
    )
    print(f"copy rate {rate:.1f} GB/s: moving those bytes for {N} cars takes {floor_us:.0f} us a step")


if __name__ == "__main__":
    main()
