"""Saved drives: ``roadschool evaluate --save-episodes DIR`` and ``roadschool replay``.

An episode file (``.npz``) holds one car's drive on one road, step by step
(``track``: the :class:`sims.viewer.Track` columns x, y [m], heading [rad],
steer [rad], speed [m/s], cte [m], progress [m]), the expert's drive on the same
road (``ghost``, possibly empty), the road's centreline (``road_points`` [m]) and
a JSON ``metadata`` string: the road's name, width and whether it is closed,
who drove, how it ended, the metrics ``roadschool evaluate`` reports for it, the
time step and the car.

The evaluation records headings (a car that slides does not point where it
moves); for a trajectory without them a heading is recovered exactly from two
positions and the steering of the kinematic car, which moves along the chord of
an arc whose direction is the mean of its headings before and after the step
(``envs.car.step``).

``roadschool replay`` shows episodes in a window with the drawing of
``roadschool watch``, or renders one to a GIF (or MP4) at one frame per step,
or to a PNG of one step.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.atomic import write_text_atomically
from envs.car import CarParams
from envs.records import load_record, save_record
from envs.config import RoadFollowConfig
from envs.road import Road
from sims.viewer import (
    DEFAULT_SIZE,
    DRIVING_KEYS,
    HOLD_SECONDS,
    STATUS_TEXT,
    Key,
    PanelPainter,
    Track,
    ViewerApp,
    car_hud,
    outcome_banner,
    pygame_module,
)

EPISODE_FORMAT = "roadschool-episode"
EPISODE_FORMAT_VERSION = 1
INDEX_NAME = "episodes.json"  # the episodes of the last `evaluate --save-episodes` into a folder, in order


class EpisodeError(ValueError):
    """An episode file is missing, damaged or of the wrong kind."""


@dataclass
class Episode:
    """One saved drive: the road, the car's track, the expert's (may be None) and metadata."""

    road: Road
    track: Track
    ghost: Track | None
    metadata: dict

    @property
    def dt(self) -> float:
        return float(self.metadata["dt"])

    @property
    def car(self) -> CarParams:
        """The car's sizes for drawing (fields a newer or older CarParams lacks are left out)."""
        known = {f.name for f in dataclasses.fields(CarParams)}
        return CarParams(**{k: v for k, v in self.metadata["car"].items() if k in known})

    @property
    def outcome(self) -> str:
        if self.metadata.get("finished"):
            return "finished"
        return "off road" if self.metadata.get("off_road") else "time limit"


def save_episode(path, episode: Episode) -> Path:
    """Write ``episode`` atomically to ``path`` (``.npz``)."""
    road = episode.road
    meta = dict(
        episode.metadata,
        road={"name": road.name, "width": road.width, "closed": road.closed, "spacing": road.spacing},
        columns=list(Track.COLUMNS),
    )
    ghost = episode.ghost.row_array() if episode.ghost is not None else np.zeros((0, len(Track.COLUMNS)))
    arrays = {"track": episode.track.row_array(), "ghost": ghost, "road_points": np.asarray(road.points)}
    return save_record(path, EPISODE_FORMAT, EPISODE_FORMAT_VERSION, meta, arrays)


def load_episode(path) -> Episode:
    """Read an episode file.

    Raises:
        EpisodeError: naming the file and the problem.
    """
    path = Path(path)
    names = ("track", "ghost", "road_points")
    meta, arrays = load_record(path, EPISODE_FORMAT, EPISODE_FORMAT_VERSION, names, EpisodeError, "episode")
    track, ghost, points = (arrays[k] for k in names)
    if track.ndim != 2 or track.shape[1] != len(Track.COLUMNS) or len(track) == 0:
        raise EpisodeError(f"{path}: damaged episode (track of shape {track.shape})")
    r = meta["road"]
    road = Road.from_points(points, r["width"], r["closed"], r["name"], spacing=r["spacing"])
    return Episode(road, Track(track), Track(ghost) if len(ghost) else None, meta)


def find_episodes(path) -> list[Path]:
    """The episode files of ``path``: the file itself, or a folder's episodes (those its
    ``episodes.json`` lists, as ``evaluate --save-episodes`` wrote them, else all ``*.npz`` in name order)."""
    path = Path(path)
    if path.is_dir():
        index = path / INDEX_NAME
        if index.is_file():
            try:
                names = json.loads(index.read_text())["episodes"]
            except (ValueError, KeyError, TypeError) as exc:
                raise EpisodeError(f"{index}: damaged episode index ({exc})") from None
            files = [path / name for name in names if (path / name).is_file()]
        else:
            files = sorted(path.glob("*.npz"))
        if not files:
            raise EpisodeError(f"{path}: no episode files (*.npz) in this folder")
        return files
    if not path.exists():
        raise EpisodeError(f"{path}: no such episode file or folder")
    return [path]


# ------------------------------------------------------------------ evaluation
def track_from_trajectory(trajectory, road: Road, config: RoadFollowConfig) -> Track:
    """A :class:`Track` of an ``agents.evaluation.Trajectory``: its recorded headings, or for a
    trajectory without them headings recovered from the positions.

    The recovery is exact for the kinematic car in the evaluation's world (no start offsets, no
    crosswind): the car starts on the road's first point along its heading, and each step moves
    it along the chord whose direction is its heading plus half the step's turn.
    """
    xy = np.asarray(trajectory.xy, dtype=np.float64)
    speed, steer = np.asarray(trajectory.speed), np.asarray(trajectory.steer)
    if getattr(trajectory, "heading", None) is not None:
        return Track.from_columns(
            x=xy[:, 0], y=xy[:, 1], heading=np.asarray(trajectory.heading), steer=steer, speed=speed,
            cte=np.asarray(trajectory.cte), progress_m=np.asarray(trajectory.progress_m),
        )  # fmt: skip
    car = config.car
    heading = np.empty(len(xy))
    heading[0] = math.remainder(float(road.headings[0]), 2 * math.pi)
    d = np.diff(xy, axis=0)
    turn = speed[1:] * config.dt * np.tan(steer[1:] + config.disturbances.steering_bias) / car.wheelbase
    moved = np.hypot(d[:, 0], d[:, 1]) > 1e-12
    chord = np.arctan2(d[:, 1], d[:, 0])
    for t in range(len(d)):
        h = chord[t] + 0.5 * turn[t] if moved[t] else heading[t] + turn[t]
        heading[t + 1] = math.remainder(h, 2 * math.pi)
    return Track.from_columns(
        x=xy[:, 0], y=xy[:, 1], heading=heading, steer=steer, speed=speed,
        cte=np.asarray(trajectory.cte), progress_m=np.asarray(trajectory.progress_m),
    )


def episode_name(i: int, road: Road) -> str:
    """``0003-unseen-twisty-3.npz``: the drive's number and its road."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", road.name).strip("-") or "road"
    return f"{i:04d}-{slug}.npz"


def evaluate_and_save(
    driver,
    roads: list[Road],
    env_config: RoadFollowConfig,
    out_dir,
    progress: bool = False,
    policy: str | None = None,
    ghost: bool = True,
) -> dict:
    """``agents.evaluation.evaluate``, keeping every drive as an episode file in ``out_dir``.

    Drives each road once (as ``evaluate`` does, with the same result) and, if
    ``ghost`` and the driver is not the expert, the expert too, for the replay's ghost.
    """
    from agents.drivers import ExpertDriver
    from agents.evaluation import aggregate, drive

    out_dir = Path(out_dir)
    trajectories = drive(driver, roads, env_config, progress=progress)
    experts = None
    if ghost and getattr(driver, "name", "") != "expert":
        experts = drive(ExpertDriver(), roads, dataclasses.replace(env_config, observation="features"))
    per_road = {}
    names = []
    for i, (road, trajectory) in enumerate(zip(roads, trajectories)):
        metrics = trajectory.metrics()
        per_road[trajectory.road] = metrics
        meta = {
            "driver": getattr(driver, "name", "driver"),
            "policy": policy,
            "finished": trajectory.finished,
            "off_road": trajectory.off_road,
            "metrics": metrics,
            "dt": env_config.dt,
            "car": dataclasses.asdict(env_config.car),
            "observation": env_config.observation,
        }
        ghost_track = track_from_trajectory(experts[i], road, env_config) if experts is not None else None
        episode = Episode(road, track_from_trajectory(trajectory, road, env_config), ghost_track, meta)
        names.append(save_episode(out_dir / episode_name(i, road), episode).name)
    index = out_dir / INDEX_NAME
    listing = {"policy": policy, "driver": getattr(driver, "name", "driver"), "episodes": names}
    write_text_atomically(index, json.dumps(listing, indent=1))
    return {"aggregate": aggregate(list(per_road.values())), "roads": per_road}


# ---------------------------------------------------------------------- viewer
REPLAY_KEYS = (
    Key(("space",), "space", "pause / go on", "toggle_pause"),
    Key((".", "s"), ". or s", "one step forward (pauses)", "step_once"),
    Key((",", "b"), ", or b", "one step back (pauses)", "step_back"),
    Key(("right", "n"), "right or n", "next episode", "next_episode"),
    Key(("left", "p"), "left or p", "previous episode", "previous_episode"),
    Key(("r", "home"), "r", "back to the start", "restart"),
    Key(("end",), "end", "to the end", "to_end"),
    *(k for k in DRIVING_KEYS if k.method in ("toggle_ghost", "toggle_trail", "toggle_camera", "faster", "slower")),
    Key(("h", "f1"), "h", "this help", "toggle_help"),
)


class ReplayApp(ViewerApp):
    """``roadschool replay``: saved drives, step by step, drawn as ``roadschool watch`` draws live ones.

    One tick is one step of the episode; at its end the last frame is held for
    ``HOLD_SECONDS`` and then (with ``loop``) the next episode starts.
    """

    title = "roadschool replay"
    help_title = "roadschool replay"
    keys = REPLAY_KEYS

    def __init__(
        self,
        paths: list[Path],
        size: tuple[int, int] = DEFAULT_SIZE,
        camera: str = "follow",
        speed: float = 1.0,
        loop: bool = True,
    ):
        if not paths:
            raise EpisodeError("no episodes to replay")
        self.paths = [Path(p) for p in paths]
        self.loop = loop
        self.goto(0)
        super().__init__(self.episode.dt, size, camera, speed)
        self.painter = PanelPainter()

    def goto(self, index: int) -> None:
        self.index = index % len(self.paths)
        self.episode = load_episode(self.paths[self.index])
        self.dt = self.episode.dt
        self.t = 0
        self._held = 0

    @property
    def last_step(self) -> int:
        return len(self.episode.track) - 1

    def tick(self) -> None:
        """One step forward (at the end: hold, then the next episode)."""
        if self.t < self.last_step:
            self.t += 1
            return
        self._held += 1
        if self.loop and self._held >= int(round(HOLD_SECONDS / self.episode.dt)):
            self.goto(self.index + 1)

    def step_back(self) -> None:
        self.paused = True
        self.t, self._held = max(self.t - 1, 0), 0

    def next_episode(self) -> None:
        self.goto(self.index + 1)

    def previous_episode(self) -> None:
        self.goto(self.index - 1)

    def restart(self) -> None:
        self.t, self._held = 0, 0

    def to_end(self) -> None:
        self.t = self.last_step

    def draw_panels(self, canvas, rect) -> None:
        ep = self.episode
        hud = {"road": ep.road.name, "driver": f"{ep.metadata.get('driver', 'driver')} (replay)"}
        hud.update(car_hud(ep.track, self.t, ep.dt, ep.road))
        if ep.ghost is not None:
            hud["expert cte"] = f"{ep.ghost.cte[min(self.t, len(ep.ghost) - 1)]:+6.2f} m"
        banner = outcome_banner(ep.outcome, ep.track, ep.dt) if self.t == self.last_step else None
        surface = canvas.subsurface(rect)
        self.painter.paint(surface, ep.road, ep.car, ep.track, self.t, ep.ghost, hud, self.options, banner)

    def hints(self) -> list[str]:
        return ["h help", "space pause", ",/. step", "right/left episode", "+/- time", "g ghost", "c camera", "q quit"]

    def state_labels(self) -> list[tuple[str, tuple[int, int, int]]]:
        where = [f"episode {self.index + 1}/{len(self.paths)}", f"step {self.t}/{self.last_step}"]
        return [(text, STATUS_TEXT) for text in where] + super().state_labels()


def render_replay(
    episode_path,
    out,
    size: tuple[int, int] = DEFAULT_SIZE,
    camera: str | None = None,
    step: int | None = None,
    max_frames: int | None = None,
) -> tuple[Path, int]:
    """Draw a saved drive into a file, as the replay window shows it; return (path, frames).

    ``.png``: the frame of step ``step`` (default: the last), road camera unless
    ``camera`` says otherwise. ``.gif`` / ``.mp4``: one frame per step at the
    env's time step (then the end held for ``HOLD_SECONDS``), follow camera unless
    ``camera`` says otherwise; at most ``max_frames`` frames.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".gif", ".mp4"):
        raise ValueError(f"{out}: replay renders to .png, .gif or .mp4")
    app = ReplayApp([Path(episode_path)], size, camera or ("road" if suffix == ".png" else "follow"), loop=False)
    pg = pygame_module()
    try:
        if suffix == ".png":
            app.t = app.last_step if step is None else min(max(step, 0), app.last_step)
            out.parent.mkdir(parents=True, exist_ok=True)
            pg.image.save(app.draw(), str(out))
            return out, 1
        from sims.recording import open_video

        writer = open_video(out, app.size, app.episode.dt)
        total = len(app.episode.track) + int(round(HOLD_SECONDS / app.episode.dt))
        if max_frames is not None:
            total = min(total, max_frames)
        try:
            for _ in range(total):
                frame = app.draw()
                pixels = np.frombuffer(pg.image.tobytes(frame, "RGB"), dtype=np.uint8)
                writer.write(pixels.reshape(app.size[1], app.size[0], 3))
                app.tick()
        except BaseException:
            writer.abort()
            raise
        return writer.close(), total
    finally:
        app.close()
