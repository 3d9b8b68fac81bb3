"""The window commands of ``roadschool``: watch, play, draw and replay.

Each opens a pygame window (60 frames/s, resizable; closing it ends the command
with exit code 0). With ``SDL_VIDEODRIVER=dummy`` they run headless and as fast
as they can, which with ``--max-frames`` is how scripts and tests drive them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envs import DEFAULT_FAMILIES, FAMILIES, OBSERVATION_TYPES, SPLITS
from sims.arguments import non_negative_int as _non_negative_int
from sims.arguments import positive_float as _positive_float
from sims.arguments import positive_int as _positive_int
from sims.arguments import bounded_float, bounded_int, car_count, output_file

EXIT_NO_WINDOW = 1








def _window_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, like 1280x720, got {text!r}") from None
    if w < 320 or h < 240 or w > 8192 or h > 8192:
        raise argparse.ArgumentTypeError(f"the window must be between 320x240 and 8192x8192, got {text}")
    return w, h


def _add_window(p: argparse.ArgumentParser, camera: bool = True, camera_default: str | None = "follow") -> None:
    g = p.add_argument_group("window")
    g.add_argument("--size", type=_window_size, default=(1280, 720), metavar="WxH",
                   help="window size in pixels (default: 1280x720)")
    if camera:
        g.add_argument("--camera", choices=("follow", "road"), default=camera_default,
                       help="follow the car or show the whole road; key c switches (default: "
                       + (camera_default or "follow, and road for a .png") + ")")
        g.add_argument("--time-speed", type=bounded_float(1 / 8, 16, "1/8 .. 16"), default=1.0, metavar="X",
                       help="start with time running X times real time (1/8 .. 16); keys +/- change it (default: 1)")
    g.add_argument("--max-frames", type=_positive_int, metavar="N",
                   help="close after N frames (for scripts and tests)")


def _add_roads(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_argument_group("roads")
    g.add_argument("--split", choices=SPLITS, default="train", help="road split (default: %(default)s)")
    g.add_argument("--family", choices=list(FAMILIES), action="append",
                   help=f"road family, repeatable (default: {' '.join(DEFAULT_FAMILIES)})")
    g.add_argument("--first-road", type=bounded_int(0, 2**31 - 1), default=0, help="index of the first road (default: 0)")
    g.add_argument("--roads-file", type=Path, help="drive the roads of this JSON file instead of a split")
    g.add_argument("--roads", type=car_count, metavar="N",
                   help=f"{what} N roads and close (the N roads `roadschool evaluate --roads N` drives); "
                   "default: endless")


def _add_policy(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--policy", required=required, default=None if required else "expert", metavar="PATH|expert",
                   help="checkpoint of the learned car, or 'expert'" + ("" if required else " (default: expert)"))


def register(subparsers) -> dict:
    """Add watch, play, draw and replay to ``roadschool``'s subcommands."""
    p = subparsers.add_parser("watch", help="a window where the car drives road after road, the expert alongside")
    _add_policy(p, required=True)
    _add_roads(p, "drive")
    p.add_argument("--split-view", action="store_true",
                   help="show a train road and an unseen road side by side (key v switches)")
    p.add_argument("--no-ghost", action="store_true", help="don't drive the expert alongside")
    p.add_argument("--record", type=output_file, metavar="FILE",
                   help="write what the window shows to FILE.gif (or .mp4 with the video extra), "
                   "one frame per env step")
    _add_window(p)

    p = subparsers.add_parser("play", help="drive the car yourself (arrow keys or a gamepad)")
    _add_roads(p, "drive")
    p.add_argument("--record", type=output_file, metavar="DATASET",
                   help="save your driving as a dataset (.npz) that `roadschool train` learns from")
    p.add_argument("--observation", choices=OBSERVATION_TYPES, default="features",
                   help="observation type recorded (default: %(default)s)")
    p.add_argument("--no-ghost", action="store_true", help="don't show the expert alongside")
    p.add_argument("--countdown", type=bounded_float(0, 60), default=3.0, metavar="SECONDS",
                   help="wait this long before the car moves on each road (default: 3)")
    _add_window(p)

    p = subparsers.add_parser("draw", help="draw a road with the mouse, save it, send the car down it")
    p.add_argument("--out", type=output_file, required=True, help="roads JSON file to save to (its other roads are kept)")
    _add_policy(p, required=False)
    p.add_argument("--width", type=bounded_float(1, 100), default=7.0, help="road width to start with [m] (default: 7)")
    p.add_argument("--name", help="name of the road (default: drawn/K, the first free K in the file)")
    _add_window(p, camera=False)

    p = subparsers.add_parser("replay", help="play back saved drives (from evaluate --save-episodes), or render one")
    p.add_argument("episodes", type=Path, help="an episode file (.npz) or a folder of them")
    p.add_argument("--out", type=output_file, metavar="FILE",
                   help="render to FILE instead of opening a window: .gif (or .mp4) one frame per step, .png one step")
    p.add_argument("--episode", type=_non_negative_int, default=0, metavar="K",
                   help="with --out and a folder: render its K-th episode (default: 0)")
    p.add_argument("--step", type=_non_negative_int, help="with --out FILE.png: the step to draw (default: the last)")
    _add_window(p, camera_default=None)

    return {"watch": cmd_watch, "play": cmd_play, "draw": cmd_draw, "replay": cmd_replay}


def _pace() -> bool:
    from sims.viewer import headless

    return not headless()


def _road_lists(args, split: str | None = None):
    """The RoadList named by the arguments (``split`` overrides ``--split``)."""
    from envs import load_roads
    from sims.viewer import RoadList

    families = tuple(args.family) if args.family else DEFAULT_FAMILIES
    if args.roads_file and split is None:
        return RoadList(load_roads(args.roads_file))
    return RoadList(split=split or args.split, families=families, first=args.first_road)


def _driver(spec: str):
    """(driver, observation, label) for ``--policy``."""
    from agents.drivers import ExpertDriver, PolicyDriver

    if spec == "expert":
        return ExpertDriver(), "features", "expert"
    import torch

    from agents.model import SteeringPolicy

    torch.set_num_threads(1)  # one observation at a time: threads only cost
    policy = SteeringPolicy.load(spec)
    return PolicyDriver(policy), policy.observation, f"learner ({Path(spec).name})"


def _no_window(command: str, exc: Exception) -> int:
    print(f"roadschool {command}: cannot open a window ({exc}); "
          "set SDL_VIDEODRIVER=dummy to run without a screen", file=sys.stderr)
    return EXIT_NO_WINDOW


def cmd_watch(args) -> int:
    from agents.evaluation import env_config_for, policy_world
    from sims.memory import check_watch
    from sims.recording import check_video_path
    from sims.viewer import WatchApp, pygame_error

    if args.split_view and args.roads_file:
        raise ValueError("--split-view shows a train and an unseen road; it cannot show a roads file")
    if args.record is not None:
        check_video_path(args.record)
    driver, observation, label = _driver(args.policy)
    roads = _road_lists(args)
    check_watch(args, roads.roads)
    both = None if args.roads_file else (_road_lists(args, "train"), _road_lists(args, "unseen"))
    try:
        world = policy_world(getattr(getattr(driver, "policy", None), "metadata", None))  # its car, actions, sensors
        app = WatchApp(driver, env_config_for(observation, world), roads, both, args.split_view, label,
                       ghost=not args.no_ghost and args.policy != "expert", size=args.size, camera=args.camera,
                       speed=args.time_speed, max_roads=args.roads, record=args.record)
        with app:
            app.run(args.max_frames, pace=_pace())
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
    from sims.play import PlayApp
    from sims.viewer import pygame_error

    if args.countdown < 0:
        raise ValueError(f"--countdown must be 0 or more seconds, got {args.countdown}")
    roads = _road_lists(args)
    check_play(args, env_config_for(args.observation), roads.roads)
    try:
        app = PlayApp(env_config_for(args.observation), roads, args.record, ghost=not args.no_ghost,
                      size=args.size, camera=args.camera, speed=args.time_speed, max_roads=args.roads,
                      countdown=args.countdown)
        with app:
            app.run(args.max_frames, pace=_pace())
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

    driver, observation, label = (None, "features", "expert") if args.policy == "expert" else _driver(args.policy)
    try:
        app = DrawApp(args.out, driver, observation, label, width=args.width, name=args.name, size=args.size)
        with app:
            app.run(args.max_frames, pace=_pace())
    except pygame_error() as exc:
        return _no_window("draw", exc)
    if app.saved and app.road() is not None:
        print(f"{app.name} is in {args.out}")
    return 0


def cmd_replay(args) -> int:
    from sims.memory import check_replay
    from sims.replay import ReplayApp, find_episodes, render_replay
    from sims.viewer import pygame_error

    paths = find_episodes(args.episodes)
    if args.out is None or args.episode < len(paths):
        check_replay(args, paths)
    if args.out is not None:
        if args.episode >= len(paths):
            raise ValueError(f"--episode {args.episode}: {args.episodes} holds {len(paths)} episode(s)")
        out, frames = render_replay(paths[args.episode], args.out, args.size, args.camera, args.step, args.max_frames)
        print(f"wrote {out}: {frames} frame(s) of {paths[args.episode].name}")
        return 0
    try:
        with ReplayApp(paths, args.size, args.camera or "follow", args.time_speed) as app:
            app.run(args.max_frames, pace=_pace())
    except pygame_error() as exc:
        return _no_window("replay", exc)
    return 0

