"""Frames per second of RoadRenderer in rgb_array mode, for both cameras.

A 600x600 frame of a curvy 500 m road with a 1,000-point trail, a ghost car and an
8-line HUD whose values change every frame. The car drives along the road, so the
follow camera's road tiles are drawn as it goes (as in a real episode).

    python benchmarks/bench_render.py
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from envs.rendering import CarPose, RoadRenderer  # noqa: E402
from envs.road import Road  # noqa: E402

SIZE = 600  # [px]
TRAIL_POINTS = 1000
WARMUP_FRAMES = 50
TIMED_FRAMES = 2000
STEP = 0.25  # [m] distance the car drives per frame


def curvy_road() -> Road:
    """About 500 m of winding road, 7 m wide."""
    x = np.linspace(0.0, 380.0, 800)
    y = 35.0 * np.sin(x / 35.0) + 12.0 * np.sin(x / 11.0)
    return Road.from_points(np.column_stack([x, y]), 7.0, name="bench/curvy")


def driven_path(road: Road) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, headings and |cte| of a car weaving across the road, every STEP metres."""
    s = np.arange(0.0, road.length, STEP)
    centre = road.point_at(s)
    ahead = road.point_at(s + STEP)
    heading = np.arctan2(ahead[:, 1] - centre[:, 1], ahead[:, 0] - centre[:, 0])
    cte = 0.6 * road.half_width * np.sin(s / 9.0) + 0.5 * road.half_width * np.sin(s / 2.3)
    normal = np.column_stack([-np.sin(heading), np.cos(heading)])
    return centre + cte[:, None] * normal, heading, np.abs(cte)


def bench(camera: str, road: Road) -> tuple[float, float]:
    """Return (frames per second, milliseconds per frame)."""
    xy, heading, abs_cte = driven_path(road)
    renderer = RoadRenderer(SIZE, SIZE, camera=camera)
    n_positions = len(xy) - TRAIL_POINTS

    def frame(i: int) -> np.ndarray:
        j = TRAIL_POINTS + i % n_positions
        car = CarPose(xy[j, 0], xy[j, 1], heading[j], steer=0.2 * math.sin(i / 7.0))
        ghost = CarPose(xy[j, 0] + 1.0, xy[j, 1] - 1.0, heading[j])
        hud = {
            "step": f"{i:6d}",
            "speed": f"{10 + 5 * math.sin(i / 50):5.2f} m/s",
            "cte": f"{abs_cte[j]:+5.2f} m",
            "heading err": f"{0.1 * math.sin(i / 13):+5.3f} rad",
            "steer": f"{0.2 * math.sin(i / 7.0):+5.3f} rad",
            "reward": f"{1 - abs_cte[j] / 3.5:+6.3f}",
            "progress": f"{100 * j / len(xy):5.1f} %",
            "road": road.name,
        }
        return renderer.render(road, car, xy[j - TRAIL_POINTS : j], abs_cte[j - TRAIL_POINTS : j], hud, ghost)

    for i in range(WARMUP_FRAMES):
        frame(i)
    start = time.perf_counter()
    for i in range(WARMUP_FRAMES, WARMUP_FRAMES + TIMED_FRAMES):
        frame(i)
    elapsed = time.perf_counter() - start
    renderer.close()
    return TIMED_FRAMES / elapsed, 1000.0 * elapsed / TIMED_FRAMES


def main() -> None:
    road = curvy_road()
    print(
        f"road {road.name}: {road.length:.0f} m, width {road.width} m; frame {SIZE}x{SIZE}, trail {TRAIL_POINTS} points"
    )
    print(f"{'camera':<8} {'frames':>7} {'frames/s':>9} {'ms/frame':>9}")
    for camera in ("follow", "road"):
        fps, ms = bench(camera, road)
        print(f"{camera:<8} {TIMED_FRAMES:>7} {fps:>9.0f} {ms:>9.3f}")


if __name__ == "__main__":
    main()
