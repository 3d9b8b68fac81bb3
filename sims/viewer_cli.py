"""The window commands of ``roadschool``: watch, play, draw and replay.

Each opens a pygame window (60 frames/s, resizable; closing it ends the command
with exit code 0). With ``SDL_VIDEODRIVER=dummy`` they run headless and as fast
as they can, which with ``--max-frames`` is how scripts and tests drive them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from envs import OBSERVATION_TYPES
from envs.checks import check_types, in_range
from sims.arguments import bounded_float, non_negative_int, output_file
from sims.commands import RoadSelection, add_policy, add_roads, driver_for
from sims.options import Command, add_config

EXIT_NO_WINDOW = 1


def _window_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, like 1280x720, got {text!r}") from None
    return w, h


@dataclass(frozen=True)
class WindowConfig:
    """How a command's window opens."""

    size: tuple[int, int] = field(default=(1280, 720), metadata={"parse": _window_size, "metavar": "WxH"})
    """Window size in pixels, from 320x240 to 8192x8192."""
    camera: str | None = field(default="follow", metadata={"choices": ("follow", "road")})
    """Follow the car or show the whole road; key c switches."""
    time_speed: float = field(default=1.0, metadata={"metavar": "X"})
    """Start with time running X times real time (1/8 .. 16); keys +/- change it."""
    max_frames: int | None = field(default=None, metadata={"metavar": "N"})
    """Close after N frames (for scripts and tests)."""

    def __post_init__(self):
        check_types(self)
        w, h = self.size
        if w < 320 or h < 240 or w > 8192 or h > 8192:
            raise ValueError(f"size: the window must be between 320x240 and 8192x8192, got {w}x{h}")
        if not 1 / 8 <= self.time_speed <= 16:
            raise ValueError(f"time_speed must be in 1/8 .. 16, got {self.time_speed:g}")
        if self.max_frames is not None:
            in_range(self, "max_frames", 1, 2**31)


def _add_window(p: argparse.ArgumentParser, camera: bool = True, defaults: WindowConfig = WindowConfig()):
    only = ("size", "camera", "time_speed", "max_frames") if camera else ("size", "max_frames")
    options = add_config(p.add_argument_group("window"), WindowConfig, only=only, defaults=defaults)
    return lambda args: options.build(args, defaults)


ENDLESS = RoadSelection(num_roads=None)
"""The roads of a window: road after road of the train split until it is closed (--roads N: N roads)."""


def watch_options(p):
    add_policy(p)
    roads = add_roads(p, ENDLESS)
    p.add_argument("--split-view", action="store_true",
                   help="show a train road and an unseen road side by side (key v switches)")
    p.add_argument("--no-ghost", action="store_true", help="don't drive the expert alongside")
    p.add_argument("--record", type=output_file, metavar="FILE",
                   help="write what the window shows to FILE.gif (or .mp4 with the video extra), "
                   "one frame per env step")
    window = _add_window(p)

    def build(args) -> None:
        args.roads, args.window = roads.build(args, ENDLESS), window(args)
        if args.split_view and args.roads.roads_file:
            raise ValueError("--split-view shows a train and an unseen road; it cannot show a roads file")
        if args.record is not None:
            from sims.recording import check_video_path

            check_video_path(args.record)

    return build


def play_options(p):
    roads = add_roads(p, ENDLESS)
    p.add_argument("--record", type=output_file, metavar="DATASET",
                   help="save your driving as a dataset (.npz) that `roadschool train` learns from")
    p.add_argument("--observation", choices=OBSERVATION_TYPES, default="features",
                   help="observation type recorded (default: %(default)s)")
    p.add_argument("--no-ghost", action="store_true", help="don't show the expert alongside")
    p.add_argument("--countdown", type=bounded_float(0, 60), default=3.0, metavar="SECONDS",
                   help="wait this long before the car moves on each road (default: 3)")
    window = _add_window(p)

    def build(args) -> None:
        args.roads, args.window = roads.build(args, ENDLESS), window(args)

    return build


def draw_options(p):
    p.add_argument("--out", type=output_file, required=True, help="roads JSON file to save to (its other roads are kept)")
    add_policy(p, required=False)
    p.add_argument("--width", type=bounded_float(1, 100), default=7.0, help="road width to start with [m] (default: 7)")
    p.add_argument("--name", help="name of the road (default: drawn/K, the first free K in the file)")
    window = _add_window(p, camera=False)

    def build(args) -> None:
        args.window = window(args)

    return build


def replay_options(p):
    p.add_argument("episodes", type=Path, help="an episode file (.npz) or a folder of them")
    p.add_argument("--out", type=output_file, metavar="FILE",
                   help="render to FILE instead of opening a window: .gif (or .mp4) one frame per step, .png one step")
    p.add_argument("--episode", type=non_negative_int, default=0, metavar="K",
                   help="with --out and a folder: render its K-th episode (default: 0)")
    p.add_argument("--step", type=non_negative_int, help="with --out FILE.png: the step to draw (default: the last)")
    window = _add_window(p, defaults=WindowConfig(camera=None))

    def build(args) -> None:
        args.window = window(args)

    return build


def _pace() -> bool:
    from sims.viewer import headless

    return not headless()


def _road_lists(roads: RoadSelection, split: str | None = None):
    """The RoadList of ``roads`` (``split`` overrides its split, and ignores a roads file)."""
    from envs import load_roads
    from sims.viewer import RoadList

    if roads.roads_file and split is None:
        return RoadList(load_roads(roads.roads_file))
    return RoadList(split=split or roads.split, families=roads.families, first=roads.first_road)


def _no_window(command: str, exc: Exception) -> int:
    print(f"roadschool {command}: cannot open a window ({exc}); "
          "set SDL_VIDEODRIVER=dummy to run without a screen", file=sys.stderr)
    return EXIT_NO_WINDOW


def cmd_watch(args) -> int:
    from agents.evaluation import env_config_for
    from sims.viewer import WatchApp, pygame_error

    driving = driver_for(args.policy, threads=1)  # one observation at a time: threads only cost
    window, selection = args.window, args.roads
    roads = _road_lists(selection)
    both = None if selection.roads_file else (_road_lists(selection, "train"), _road_lists(selection, "unseen"))
    try:
        world = driving.world()  # its car, actions, sensors
        app = WatchApp(driving.driver, env_config_for(driving.observation, world), roads, both, args.split_view,
                       driving.label, ghost=not args.no_ghost and args.policy != "expert", size=window.size,
                       camera=window.camera, speed=window.time_speed, max_roads=selection.num_roads, record=args.record)
        with app:
            app.run(window.max_frames, pace=_pace())
            recorder = app.recorder
    except pygame_error() as exc:
        return _no_window("watch", exc)
    if recorder is not None:
        if recorder.frames:
            print(f"wrote {recorder.path}: {recorder.frames} frames, {app.dt:g} s each (the env's time step)")
        else:
            print("nothing was recorded")
    return 0


def cmd_play(args) -> int:
    from agents.evaluation import env_config_for
    from sims.play import PlayApp
    from sims.viewer import pygame_error

    window = args.window
    roads = _road_lists(args.roads)
    try:
        app = PlayApp(env_config_for(args.observation), roads, args.record, ghost=not args.no_ghost,
                      size=window.size, camera=window.camera, speed=window.time_speed, max_roads=args.roads.num_roads,
                      countdown=args.countdown)
        with app:
            app.run(window.max_frames, pace=_pace())
    except pygame_error() as exc:
        return _no_window("play", exc)
    if app.dataset is not None:
        if len(app.dataset):
            print(f"wrote {args.record}: {len(app.dataset)} steps of your driving on "
                  f"{len(app.dataset.road_names)} road(s); "
                  f"train on it with: roadschool train --data {args.record} --out MODEL.pt")
        else:
            print("nothing was driven, so no dataset was written")
    return 0


def cmd_draw(args) -> int:
    from sims.draw import DrawApp
    from sims.viewer import pygame_error

    driving = None if args.policy == "expert" else driver_for(args.policy, threads=1)
    driver, observation, label = (None, "features", "expert") if driving is None else (
        driving.driver, driving.observation, driving.label)
    try:
        app = DrawApp(args.out, driver, observation, label, width=args.width, name=args.name, size=args.window.size)
        with app:
            app.run(args.window.max_frames, pace=_pace())
    except pygame_error() as exc:
        return _no_window("draw", exc)
    if app.saved and app.road() is not None:
        print(f"{app.name} is in {args.out}")
    return 0


def cmd_replay(args) -> int:
    from sims.replay import ReplayApp, find_episodes, render_replay
    from sims.viewer import pygame_error

    paths = find_episodes(args.episodes)
    if args.out is not None:
        if args.episode >= len(paths):
            raise ValueError(f"--episode {args.episode}: {args.episodes} holds {len(paths)} episode(s)")
        window = args.window
        out, frames = render_replay(paths[args.episode], args.out, window.size, window.camera, args.step, window.max_frames)
        print(f"wrote {out}: {frames} frame(s) of {paths[args.episode].name}")
        return 0
    try:
        with ReplayApp(paths, args.window.size, args.window.camera or "follow", args.window.time_speed) as app:
            app.run(args.window.max_frames, pace=_pace())
    except pygame_error() as exc:
        return _no_window("replay", exc)
    return 0


COMMANDS = (
    Command("watch", "a window where the car drives road after road, the expert alongside", cmd_watch, watch_options),
    Command("play", "drive the car yourself (arrow keys or a gamepad)", cmd_play, play_options),
    Command("draw", "draw a road with the mouse, save it, send the car down it", cmd_draw, draw_options),
    Command("replay", "play back saved drives (from evaluate --save-episodes), or render one", cmd_replay,
            replay_options),
)
"""The window commands of ``roadschool``."""
