"""Throughput of the road-following environments.

(a) the single env (``gymnasium.make``, features, no rendering) driven with a fixed
    action ``[0.0]``, reset whenever an episode ends: steps/s;
(b) the vector env (``gymnasium.make_vec``, ``vector_entry_point``) with N = 256, 1024
    and 4096 cars, fixed zero action, observations included: car-steps/s;
(c) ``env.render()`` in rgb_array mode, 600x600 frames, after driving 1000 steps on a
    1.4 km road (so the trail holds 1000+ points), for both cameras: frames/s.

The road pool (``num_roads`` roads of each family) is generated before any timing, so
road generation is never measured. The machine this runs on may be small and noisy:
run it a few times and compare medians.

Throughput runs are repeated (``--repeat``, default 3) and reported as the median with
the range, because this machine's speed varies from minute to minute.

    python benchmarks/bench_env.py [--json OUT] [--quick] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from envs import ENV_ID, Road, generate_road  # noqa: E402

FAMILIES = ("gentle", "twisty")  # the default families
NUM_ROADS = 200  # road pool per family, generated before timing
VECTOR_SIZES = (256, 1024, 4096)
FRAME_SIZE = 600  # [px], RoadRenderer's default
TRAIL_STEPS = 1000


def pregenerate_roads() -> float:
    """Generate the road pool of every family used; returns the seconds it took."""
    start = time.perf_counter()
    for family in FAMILIES:
        for index in range(NUM_ROADS):
            generate_road("train", family, index)
    return time.perf_counter() - start


def bench_single(steps: int, warmup: int) -> dict:
    env = gym.make(ENV_ID, families=FAMILIES, num_roads=NUM_ROADS)
    action = np.array([0.0], dtype=np.float32)
    env.reset(seed=0)

    def run(n: int) -> int:
        episodes = 0
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
                episodes += 1
        return episodes

    run(warmup)
    start = time.perf_counter()
    episodes = run(steps)
    elapsed = time.perf_counter() - start
    env.close()
    return {"steps": steps, "episodes": episodes, "seconds": elapsed, "steps_per_s": steps / elapsed}


def bench_vector(num_envs: int, car_steps: int, warmup_steps: int) -> dict:
    env = gym.make_vec(
        ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point", families=FAMILIES, num_roads=NUM_ROADS
    )
    actions = np.zeros((num_envs, 1), dtype=np.float32)
    env.reset(seed=0)
    for _ in range(warmup_steps):
        env.step(actions)
    steps = max(20, car_steps // num_envs)
    episodes = 0
    start = time.perf_counter()
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(actions)
        episodes += int(np.count_nonzero(terminated | truncated))
    elapsed = time.perf_counter() - start
    assert obs.shape[0] == num_envs
    env.close()
    return {
        "num_envs": num_envs,
        "steps": steps,
        "episodes": episodes,
        "seconds": elapsed,
        "car_steps_per_s": num_envs * steps / elapsed,
        "ms_per_step": 1000.0 * elapsed / steps,
    }


def long_road() -> Road:
    """About 1.4 km of winding road, 7 m wide: long enough for 1000 steps and the timed frames."""
    x = np.linspace(0.0, 1100.0, 2200)
    y = 35.0 * np.sin(x / 35.0) + 12.0 * np.sin(x / 11.0)
    return Road.from_points(np.column_stack([x, y]), 7.0, name="bench/long")


def pure_pursuit(env, lookahead: float = 6.0) -> np.ndarray:
    """Steering towards the centreline ``lookahead`` metres ahead (keeps the car on the road)."""
    e = env.unwrapped
    x, y, heading, _, _ = e.car_state
    tx, ty = e.road.point_at(e.fleet.s[0] + lookahead)
    alpha = math.atan2(ty - y, tx - x) - heading
    delta = math.atan2(2.0 * e.config.car.wheelbase * math.sin(alpha), lookahead)
    return np.array([delta / e.config.car.max_steer])


def bench_render(camera: str, frames: int, warmup: int) -> dict:
    env = gym.make(ENV_ID, render_mode="rgb_array")
    env.unwrapped.camera = camera
    env.reset(seed=0, options={"road": long_road(), "start_offset": (0.0, 0.0)})
    for _ in range(TRAIL_STEPS):
        _, _, terminated, truncated, _ = env.step(pure_pursuit(env))
        assert not (terminated or truncated), "the car should stay on the benchmark road"
    for _ in range(warmup):
        env.step(pure_pursuit(env))
        env.render()
    trail_at_start = len(env.unwrapped.trail)
    render_time = 0.0
    start = time.perf_counter()
    for _ in range(frames):
        env.step(pure_pursuit(env))
        t0 = time.perf_counter()
        frame = env.render()
        render_time += time.perf_counter() - t0
    elapsed = time.perf_counter() - start
    assert frame.shape == (FRAME_SIZE, FRAME_SIZE, 3)
    trail_at_end = len(env.unwrapped.trail)
    env.close()
    return {
        "camera": camera,
        "frames": frames,
        "trail_points": [trail_at_start, trail_at_end],
        "render_frames_per_s": frames / render_time,
        "step_and_render_per_s": frames / elapsed,
        "ms_per_frame": 1000.0 * render_time / frames,
    }


def median_run(runs: list[dict], key: str) -> dict:
    """The run with the median ``key``, plus ``range`` (lowest, highest) and every run's value."""
    ordered = sorted(runs, key=lambda r: r[key])
    row = dict(ordered[(len(ordered) - 1) // 2])
    row["range"] = [ordered[0][key], ordered[-1][key]]
    row["runs"] = [r[key] for r in runs]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="OUT", help="also write the results to this JSON file")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (numbers are not meaningful)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each throughput measurement (default 3)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    scale = 0.05 if args.quick else 1.0

    results: dict = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "gymnasium": gym.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        }
    }
    generation_s = pregenerate_roads()
    results["road_pool"] = {"families": list(FAMILIES), "num_roads": NUM_ROADS, "generation_seconds": generation_s}
    print(
        f"road pool: {NUM_ROADS} roads x {len(FAMILIES)} families ({', '.join(FAMILIES)}) pre-generated "
        f"in {generation_s:.1f} s before timing; generation is not measured"
    )

    singles = [bench_single(steps=int(50_000 * scale), warmup=int(2_000 * scale)) for _ in range(args.repeat)]
    single = median_run(singles, "steps_per_s")
    results["single"] = single
    print("\n(a) single env, gymnasium.make, features, no render, action [0.0], reset on episode end")
    print(f"{'steps':>8} {'episodes':>9} {'seconds':>8} {'steps/s':>10}  {'range of ' + str(args.repeat) + ' runs':>20}")
    print(
        f"{single['steps']:>8} {single['episodes']:>9} {single['seconds']:>8.2f} {single['steps_per_s']:>10.0f}"
        f"  {single['range'][0]:>9.0f}-{single['range'][1]:.0f}"
    )

    print("\n(b) vector env, gymnasium.make_vec(vector_entry_point), features, zero action, observations included")
    print(f"{'N':>6} {'steps':>6} {'episodes':>9} {'ms/step':>8} {'car-steps/s':>12}  {'range of ' + str(args.repeat) + ' runs':>24}")
    results["vector"] = []
    for n in VECTOR_SIZES:
        runs = [
            bench_vector(n, car_steps=int(2_000_000 * scale), warmup_steps=max(2, int(100 * scale)))
            for _ in range(args.repeat)
        ]
        row = median_run(runs, "car_steps_per_s")
        results["vector"].append(row)
        print(
            f"{n:>6} {row['steps']:>6} {row['episodes']:>9} {row['ms_per_step']:>8.2f} {row['car_steps_per_s']:>12.0f}"
            f"  {row['range'][0]:>11.0f}-{row['range'][1]:.0f}"
        )

    print(
        f"\n(c) env.render(), rgb_array, {FRAME_SIZE}x{FRAME_SIZE}, after {TRAIL_STEPS} steps "
        "(trail grows by one point per timed frame)"
    )
    print(f"{'camera':<8} {'frames':>7} {'trail':>11} {'render fps':>11} {'ms/frame':>9} {'step+render/s':>14}")
    results["render"] = []
    for camera in ("follow", "road"):
        row = bench_render(camera, frames=max(10, int(200 * scale)), warmup=max(2, int(20 * scale)))
        results["render"].append(row)
        trail = f"{row['trail_points'][0]}-{row['trail_points'][1]}"
        print(
            f"{camera:<8} {row['frames']:>7} {trail:>11} {row['render_frames_per_s']:>11.0f} "
            f"{row['ms_per_frame']:>9.2f} {row['step_and_render_per_s']:>14.0f}"
        )

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
