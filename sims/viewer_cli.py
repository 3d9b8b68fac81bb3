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
from sims.arguments import output_file
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

    size: tuple[int, int] = field(
        default=(1280, 720),
        metadata={"parse": _window_size, "metavar": "WxH", "format": lambda size: "x".join(map(str, size))},
    )
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


def _add_window(p: argparse.ArgumentParser, camera: bool = True, defaults: WindowConfig = WindowConfig(), helps=None):
    only = ("size", "camera", "time_speed", "max_frames") if camera else ("size", "max_frames")
    options = add_config(p.add_argument_group("window"), WindowConfig, only=only, defaults=defaults, helps=helps)
    return lambda args: options.build(args, defaults)


ENDLESS = RoadSelection(num_roads=None)
"""The roads of a window: road after road of the train split until it is closed (--roads N: N roads)."""
WINDOW_ROADS = {
    "num_roads": "Drive N roads and close (the N roads `roadschool evaluate --roads N` drives); "
    "not given: road after road until the window closes."
}


@dataclass(frozen=True)
class WatchConfig:
    """What ``roadschool watch`` shows besides the learner's drive."""

    split_view: bool = False
    """Show a train road and an unseen road side by side (key v switches)."""
    ghost: bool = True
    """Drive the expert alongside, as a ghost car (a learner's window only)."""
    record: Path | None = field(default=None, metadata={"parse": output_file, "metavar": "FILE"})
    """Write what the window shows to FILE.gif (or .mp4 with the video extra), one frame per env step."""


@dataclass(frozen=True)
class PlayConfig:
    """How ``roadschool play`` lets you drive."""

    record: Path | None = field(default=None, metadata={"parse": output_file, "metavar": "DATASET"})
    """Save your driving as a dataset (.npz) that `roadschool train` learns from."""
    observation: str = field(default="features", metadata={"choices": OBSERVATION_TYPES})
    """Observation type recorded."""
    ghost: bool = True
    """Show the expert alongside, as a ghost car."""
    countdown: float = field(default=3.0, metadata={"metavar": "SECONDS"})
    """Wait this long [s] before the car moves on each road (0 .. 60)."""

    def __post_init__(self):
        check_types(self)
        in_range(self, "countdown", 0.0, 60.0, unit="s")


@dataclass(frozen=True)
class DrawConfig:
    """The road ``roadschool draw`` starts."""

    out: Path = field(metadata={"parse": output_file, "metavar": "FILE"})
    """Roads JSON file to save to (its other roads are kept)."""
    width: float = 7.0
    """Road width to start with [m] (1 .. 100)."""
    name: str | None = None
    """Name of the road (not given: drawn/K, the first free K in the file)."""

    def __post_init__(self):
        check_types(self)
        in_range(self, "width", 1.0, 100.0, unit="m")


@dataclass(frozen=True)
class ReplayConfig:
    """What ``roadschool replay`` plays or renders."""

    out: Path | None = field(default=None, metadata={"parse": output_file, "metavar": "FILE"})
    """Render to FILE instead of opening a window: .gif (or .mp4) one frame per step, .png one step."""
    episode: int = field(default=0, metadata={"metavar": "K"})
    """With --out and a folder: render its K-th episode."""
    step: int | None = None
    """With --out FILE.png: the step to draw (not given: the last)."""

    def __post_init__(self):
        check_types(self)
        in_range(self, "episode", 0, 2**31)
        if self.step is not None:
            in_range(self, "step", 0, 2**31)


def watch_options(p):
    add_policy(p)
    roads = add_roads(p, ENDLESS, helps=WINDOW_ROADS)
    options = add_config(p, WatchConfig)
    window = _add_window(p)

    def build(args) -> None:
        args.roads, args.window, args.config = roads.build(args, ENDLESS), window(args), options.build(args)
        if args.config.split_view and args.roads.roads_file:
            raise ValueError("--split-view shows a train and an unseen road; it cannot show a roads file")
        if args.config.record is not None:
            from sims.recording import check_video_path

            check_video_path(args.config.record)

    return build


def play_options(p):
    roads = add_roads(p, ENDLESS, helps=WINDOW_ROADS)
    options = add_config(p, PlayConfig)
    window = _add_window(p)

    def build(args) -> None:
        args.roads, args.window, args.config = roads.build(args, ENDLESS), window(args), options.build(args)

    return build


def draw_options(p):
    options = add_config(p, DrawConfig)
    add_policy(p, required=False)
    window = _add_window(p, camera=False)

    def build(args) -> None:
        args.window, args.config = window(args), options.build(args)

    return build


def replay_options(p):
    p.add_argument("episodes", type=Path, help="an episode file (.npz) or a folder of them")
    options = add_config(p, ReplayConfig)
    window = _add_window(
        p,
        defaults=WindowConfig(camera=None),
        helps={
            "camera": "Follow the car or show the whole road; key c switches (not given: follow, and road for a .png)."
        },
    )

    def build(args) -> None:
        args.window, args.config = window(args), options.build(args)

    return build


def _pace() -> bool:
    from sims.windows.app import headless

    return not headless()


def _road_lists(roads: RoadSelection, split: str | None = None):
    """The RoadList of ``roads`` (``split`` overrides its split, and ignores a roads file)."""
    from envs import load_roads
    from sims.windows.driving import RoadList

    if roads.roads_file and split is None:
        return RoadList(load_roads(roads.roads_file))
    return RoadList(split=split or roads.split, families=roads.families, first=roads.first_road)


def _no_window(command: str, exc: Exception) -> int:
    print(
        f"roadschool {command}: cannot open a window ({exc}); set SDL_VIDEODRIVER=dummy to run without a screen",
        file=sys.stderr,
    )
    return EXIT_NO_WINDOW


def cmd_watch(args) -> int:
    from agents.evaluation import env_config_for
    from sims.memory import check_watch
    from sims.windows.app import pygame_error
    from sims.windows.watch import WatchApp

    driving = driver_for(args.policy, threads=1)  # one observation at a time: threads only cost
    window, selection, config = args.window, args.roads, args.config
    roads = _road_lists(selection)
    check_watch(window.size, config.record, selection.roads_file, roads.roads)
    both = None if selection.roads_file else (_road_lists(selection, "train"), _road_lists(selection, "unseen"))
    try:
        world = driving.world()  # its car, actions, sensors
        app = WatchApp(
            driving.driver,
            env_config_for(driving.observation, world),
            roads,
            both,
            config.split_view,
            driving.label,
            ghost=config.ghost and args.policy != "expert",
            size=window.size,
            camera=window.camera,
            speed=window.time_speed,
            max_roads=selection.num_roads,
            record=config.record,
        )
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
    from sims.memory import check_play
    from sims.windows.app import pygame_error
    from sims.windows.play import PlayApp

    window, config = args.window, args.config
    roads = _road_lists(args.roads)
    check_play(
        window.size,
        env_config_for(config.observation),
        config.record,
        args.roads.num_roads,
        args.roads.roads_file,
        roads.roads,
    )
    try:
        app = PlayApp(
            env_config_for(config.observation),
            roads,
            config.record,
            ghost=config.ghost,
            size=window.size,
            camera=window.camera,
            speed=window.time_speed,
            max_roads=args.roads.num_roads,
            countdown=config.countdown,
        )
        with app:
            app.run(window.max_frames, pace=_pace())
    except pygame_error() as exc:
        return _no_window("play", exc)
    if app.dataset is not None:
        if len(app.dataset):
            print(
                f"wrote {config.record}: {len(app.dataset)} steps of your driving on "
                f"{len(app.dataset.road_names)} road(s); "
                f"train on it with: roadschool train --data {config.record} --out MODEL.pt"
            )
        else:
            print("nothing was driven, so no dataset was written")
    return 0


def cmd_draw(args) -> int:
    from sims.windows.app import pygame_error
    from sims.windows.draw import DrawApp

    driving = None if args.policy == "expert" else driver_for(args.policy, threads=1)
    driver, observation, label = (
        (None, "features", "expert") if driving is None else (driving.driver, driving.observation, driving.label)
    )
    try:
        config = args.config
        app = DrawApp(
            config.out, driver, observation, label, width=config.width, name=config.name, size=args.window.size
        )
        with app:
            app.run(args.window.max_frames, pace=_pace())
    except pygame_error() as exc:
        return _no_window("draw", exc)
    if app.saved and app.road() is not None:
        print(f"{app.name} is in {args.config.out}")
    return 0


def cmd_replay(args) -> int:
    from sims.episodes import find_episodes
    from sims.memory import check_replay
    from sims.windows.app import pygame_error
    from sims.windows.replay import ReplayApp, render_replay

    paths = find_episodes(args.episodes)
    config, window = args.config, args.window
    if config.out is None or config.episode < len(paths):
        check_replay(window.size, paths, config.out, config.episode)
    if config.out is not None:
        if config.episode >= len(paths):
            raise ValueError(f"--episode {config.episode}: {args.episodes} holds {len(paths)} episode(s)")
        out, frames = render_replay(
            paths[config.episode], config.out, window.size, window.camera, config.step, window.max_frames
        )
        print(f"wrote {out}: {frames} frame(s) of {paths[config.episode].name}")
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
    Command(
        "replay", "play back saved drives (from evaluate --save-episodes), or render one", cmd_replay, replay_options
    ),
)
"""The window commands of ``roadschool``."""
