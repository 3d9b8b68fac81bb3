"""Frames per second of the ``roadschool watch`` window's ``draw()``, headless, at 1280x720.

The expert drives a twisty unseen road with the ghost, the trail and the live plot
on; the window runs at time x1 (a new env step every third frame, as on screen),
so each timed frame is one ``update(1/60 s)`` plus one ``draw()``. The roads are
driven for a while first, so the trail is long. The window must keep 60 frames/s.
The last rows time the whole loop (``run()``: events, update, draw, showing the
frame) without and with a GIF recording (one more draw per env step, and the
writer thread busy encoding).

    python benchmarks/bench_viewer.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.drivers import ExpertDriver  # noqa: E402
from agents.evaluation import env_config_for  # noqa: E402
from sims.windows.app import FPS  # noqa: E402
from sims.windows.driving import RoadList  # noqa: E402
from sims.windows.watch import WatchApp  # noqa: E402

SIZE = (1280, 720)  # [px]
WARMUP_TICKS = 500  # env steps driven before timing (25 s of driving: a 250 m trail)
TIMED_FRAMES = 1200
TARGET_FPS = 60


def bench(camera: str, split_view: bool, loop: bool = False, record: Path | None = None) -> tuple[float, float]:
    """Return (frames per second, milliseconds per frame) of update + draw (or of the whole loop)."""
    roads = RoadList(split="unseen", families=("twisty",))
    both = (RoadList(split="train", families=("twisty",)), RoadList(split="unseen", families=("twisty",)))
    app = WatchApp(
        ExpertDriver(),
        env_config_for("features"),
        roads,
        both,
        split_view=split_view,
        driver_label="expert",
        size=SIZE,
        camera=camera,
        record=record,
    )
    for _ in range(WARMUP_TICKS):
        app.tick()
    for _ in range(30):
        app.update(1.0 / FPS)
        app.draw()
    start = time.perf_counter()
    if loop:
        app.run(TIMED_FRAMES, pace=False)
    else:
        for _ in range(TIMED_FRAMES):
            app.update(1.0 / FPS)
            app.draw()
    elapsed = time.perf_counter() - start
    app.close()
    return TIMED_FRAMES / elapsed, 1000.0 * elapsed / TIMED_FRAMES


def main() -> int:
    print(f"watch window {SIZE[0]}x{SIZE[1]}, trail + ghost + live plot, time x1 ({TIMED_FRAMES} frames)")
    print(f"{'view':<10}{'camera':<8}{'frames/s':>10}{'ms/frame':>10}")
    slowest = float("inf")
    for split_view in (False, True):
        for camera in ("follow", "road"):
            fps, ms = bench(camera, split_view)
            slowest = min(slowest, fps)
            print(f"{'split' if split_view else 'single':<10}{camera:<8}{fps:>10.0f}{ms:>10.2f}")
    for label, record in (("loop", None), ("loop+gif", Path(tempfile.mkdtemp()) / "bench.gif")):
        fps, ms = bench("follow", False, loop=True, record=record)
        slowest = min(slowest, fps)
        print(f"{label:<10}{'follow':<8}{fps:>10.0f}{ms:>10.2f}")
    verdict = "keeps" if slowest >= TARGET_FPS else "does NOT keep"
    print(f"slowest {slowest:.0f} frames/s: the viewer {verdict} {TARGET_FPS} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
