"""Soak: drive the environments for a long time and watch resident memory stay flat.

* ``vector``: the vector env (``features``, ``--cars`` cars, default 1024) for ``--car-steps``
  car-steps (default 10 million) with seeded random steering, so cars leave the road and are
  autoreset all the time (next-step autoreset, new roads drawn from the pool);
* ``single``: the single env with ``render_mode="rgb_array"``, a frame rendered every step, for
  ``--single-steps`` steps (default 100,000), reset whenever an episode ends (or after
  ``--episode-steps`` steps, so that a short run meets many roads).

Resident memory (``/proc/self/statm``) is read after a warm-up, the first 10% of the steps
(kernels compiled, the renderer's pictures drawn, the caches partly filled: nothing of the road
pool is visited beforehand), and every 5% after it; the figures are the warm-up value, the end
value and the largest growth over the warm-up value, with the roads met and what the bounded
caches hold at the end (``envs.generation.ROAD_CACHE_BYTES``, ``envs.road_batch.DEAD_ROWS_BYTES``).
Exit code 1 if that growth is more than ``--limit-mb`` (default 50 MB).

    python benchmarks/soak.py [--car-steps N] [--cars N] [--single-steps N] [--episode-steps K]
                              [--pool ROADS] [--only vector|single] [--limit-mb MB] [--json OUT]
    python benchmarks/soak.py --quick          # the short version the test suite runs

``--quick`` is 200,000 car-steps on 256 cars (a 50-road pool) and 4,000 rendered steps in
episodes of at most 4 steps: about 800 roads of the default pool met, as many as the full single
soak meets in 80,000 steps, which is where keeping every road met used to show (about 140 kB a
road: 79 MB of growth before the caches were bounded).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def resident_mb() -> float:
    """Resident memory of this process [MB]."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _watch(total: int, step, label: str) -> dict:
    """Run ``step()`` (which does ``k`` units and returns ``k``) until ``total`` units; memory figures."""
    done, warm_at, checks = 0, total // 10, []
    warm = None
    next_check = warm_at
    clock = time.perf_counter()
    while done < total:
        done += step()
        if done >= next_check:
            rss = resident_mb()
            if warm is None:
                warm, clock_warm = rss, time.perf_counter()
            checks.append(rss)
            next_check += max(1, total // 20)
    end = resident_mb()
    checks.append(end)
    elapsed = time.perf_counter() - clock
    return {
        "what": label,
        "units": done,
        "seconds": round(elapsed, 1),
        "rss_after_warmup_mb": round(warm, 1),
        "rss_end_mb": round(end, 1),
        "max_growth_mb": round(max(checks) - warm, 1),
        "units_per_second_after_warmup": round((done - warm_at) / max(1e-9, time.perf_counter() - clock_warm)),
    }


def soak_vector(car_steps: int, cars: int, pool: int | None = None, seed: int = 0) -> dict:
    import numpy as np

    from envs import RoadFollowConfig, RoadFollowVectorEnv

    env = RoadFollowVectorEnv(cars, config=RoadFollowConfig(num_roads=pool) if pool else None)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    episodes = [0]

    def step() -> int:
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1.0, 1.0, (cars, 1)))
        episodes[0] += int(np.count_nonzero(terminated | truncated))
        return cars

    result = _watch(car_steps, step, f"vector env, {cars} cars, random steering, autoreset")
    result["episodes_ended"] = episodes[0]
    result["roads_met"] = len(env._roads)
    result.update(_caches(env.fleet.roads))
    env.close()
    return result


def soak_single(steps: int, pool: int | None = None, seed: int = 0, episode_steps: int | None = None) -> dict:
    import numpy as np

    from envs import RoadFollowEnv

    env = RoadFollowEnv(render_mode="rgb_array", **({"num_roads": pool} if pool else {}))
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    episodes, length, roads = [0], [0], {env.road.name}

    def step() -> int:
        _, _, terminated, truncated, _ = env.step(rng.uniform(-0.3, 0.3, (1,)))
        frame = env.render()
        assert frame is not None
        length[0] += 1
        if terminated or truncated or length[0] == episode_steps:
            episodes[0] += 1
            length[0] = 0
            env.reset()
            roads.add(env.road.name)
        return 1

    what = "single env, rgb_array frame every step"
    what += f", episodes of at most {episode_steps} steps" if episode_steps else ""
    result = _watch(steps, step, what)
    result["episodes_ended"] = episodes[0]
    result["roads_met"] = len(roads)
    result.update(_caches(env.fleet.roads))
    env.close()
    return result


def _caches(batch) -> dict:
    """What the caches hold at the end: generated roads kept, rows of the road tables."""
    from envs import generation

    kept = sum(r.points.nbytes + r.headings.nbytes + r.curvatures.nbytes for r in generation._CACHE.values())
    return {
        "road_cache_mb": round(kept / 1e6, 1),
        "road_cache_bytes": kept,
        "road_table_rows": int(len(batch.atlas)),
        "road_table_rows_used": int(batch._used),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--car-steps", type=int, default=10_000_000)
    parser.add_argument("--cars", type=int, default=1024)
    parser.add_argument("--single-steps", type=int, default=100_000)
    parser.add_argument("--episode-steps", type=int, help="single env: reset after this many steps at the latest")
    parser.add_argument("--pool", type=int, help="roads per family cars draw from (default: the config's 1000)")
    parser.add_argument("--limit-mb", type=float, default=50.0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="200,000 car-steps on a 50-road pool; 4,000 rendered steps in episodes of 4 steps",
    )
    parser.add_argument("--only", choices=("vector", "single"), help="run one of the two soaks")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    vector_pool = args.pool
    if args.quick:
        args.car_steps, args.cars, vector_pool = 200_000, 256, args.pool or 50
        args.single_steps, args.episode_steps = 4_000, args.episode_steps or 4
    results = []
    if args.only in (None, "vector"):
        results.append(soak_vector(args.car_steps, args.cars, vector_pool))
    if args.only in (None, "single"):
        results.append(soak_single(args.single_steps, args.pool, episode_steps=args.episode_steps))
    ok = True
    for r in results:
        flat = r["max_growth_mb"] <= args.limit_mb
        ok &= flat
        print(
            f"{r['what']}: {r['units']:,} steps in {r['seconds']} s; resident memory {r['rss_after_warmup_mb']} MB "
            f"after warm-up, {r['rss_end_mb']} MB at the end, largest growth {r['max_growth_mb']} MB "
            f"({'flat' if flat else 'GROWS'}: limit {args.limit_mb:g} MB); {r['episodes_ended']:,} episodes ended, "
            f"{r['roads_met']:,} roads met; at the end the road cache holds {r['road_cache_mb']} MB and the road "
            f"tables {r['road_table_rows_used']:,} of {r['road_table_rows']:,} rows"
        )
    if args.json:
        args.json.write_text(json.dumps({"limit_mb": args.limit_mb, "results": results}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
