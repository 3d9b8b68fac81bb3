"""Saved drives: ``roadschool evaluate --save-episodes DIR`` writes them, ``roadschool replay`` plays them.

An episode file (``.npz``) holds one :class:`agents.trajectory.Trajectory` on one road,
and the expert's drive of the same road when there is one (the replay's ghost): arrays
``track`` and ``ghost`` (``(T, len(columns))``, the ghost possibly empty) with the
trajectory's columns (x, y [m], heading [rad], speed [m/s], steer [rad], lateral speed
[m/s], cte [m], progress [m], lateral acceleration [m/s^2], sliding), the road's
centreline ``road_points`` [m], and a JSON ``metadata`` string: the columns' names, the
road's name, width, spacing, surfaces and whether it is closed, who drove and how each
drive ended, the time step and the car, and the metrics ``roadschool evaluate`` reports
for the drive. Version 1 files (seven columns) are read too.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from agents.drivers import ExpertDriver
from agents.evaluation import aggregate, drive
from agents.trajectory import COLUMNS, OPTIONAL_COLUMNS, Trajectory
from envs.atomic import write_text_atomically
from envs.car import CarParams
from envs.config import RoadFollowConfig
from envs.records import load_record, save_record
from envs.road import Road

EPISODE_FORMAT = "roadschool-episode"
EPISODE_FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
INDEX_NAME = "episodes.json"  # the episodes of the last `evaluate --save-episodes` into a folder, in order


class EpisodeError(ValueError):
    """An episode file is missing, damaged or of the wrong kind."""


def save_episode(path, trajectory: Trajectory, ghost: Trajectory | None = None, **extra) -> Path:
    """Write ``trajectory`` (and the ``ghost`` beside it) atomically to ``path`` (``.npz``);
    ``extra`` goes into the metadata as it is (JSON: e.g. ``policy``, ``observation``)."""
    road = trajectory.road
    meta = dict(
        extra,
        road={
            "name": road.name,
            "width": road.width,
            "closed": road.closed,
            "spacing": road.spacing,
            "surfaces": [list(s) for s in road.surfaces],
        },
        columns=list(COLUMNS),
        driver=trajectory.driver,
        outcome=trajectory.outcome,
        metrics=trajectory.metrics(),
        dt=trajectory.dt,
        car=dataclasses.asdict(trajectory.car),
        ghost_driver=ghost.driver if ghost is not None else None,
        ghost_outcome=ghost.outcome if ghost is not None else None,
    )
    rows = ghost.rows if ghost is not None else np.zeros((0, len(COLUMNS)))
    arrays = {"track": trajectory.rows, "ghost": rows, "road_points": np.asarray(road.points)}
    return save_record(path, EPISODE_FORMAT, EPISODE_FORMAT_VERSION, meta, arrays)


def load_episode(path) -> tuple[Trajectory, Trajectory | None]:
    """The drive of an episode file, and the ghost's (None if it has none).

    Raises:
        EpisodeError: naming the file and the problem.
    """
    path = Path(path)
    names = ("track", "ghost", "road_points")
    meta, arrays = load_record(path, EPISODE_FORMAT, READ_VERSIONS, names, EpisodeError, "episode")
    track, ghost, points = (arrays[k] for k in names)
    try:
        columns = [str(c) for c in meta["columns"]]
        if track.ndim != 2 or track.shape[1] != len(columns) or len(track) == 0 or ghost.ndim != 2:
            raise ValueError(f"track of shape {track.shape} for {len(columns)} columns")
        r = meta["road"]
        road = Road.from_points(
            points,
            r["width"],
            r["closed"],
            r["name"],
            spacing=r["spacing"],
            surfaces=[tuple(s) for s in r.get("surfaces", ())],
        )
        known = {f.name for f in dataclasses.fields(CarParams)}  # fields a newer or older CarParams lacks are left out
        car = CarParams(**{k: v for k, v in meta["car"].items() if k in known})
        if meta["format_version"] == 1:  # no outcome: it follows from the flags
            outcome = "finished" if meta.get("finished") else "off road" if meta.get("off_road") else "time limit"
            ghost_driver, ghost_outcome = "expert", None
        else:
            outcome, ghost_driver, ghost_outcome = meta["outcome"], meta["ghost_driver"], meta["ghost_outcome"]
        dt = float(meta["dt"])
        learner = Trajectory(road, dt, car, str(meta.get("driver", "driver")), _rows(track, columns), outcome)
        expert = Trajectory(road, dt, car, ghost_driver, _rows(ghost, columns), ghost_outcome) if len(ghost) else None
    except (KeyError, TypeError, ValueError) as exc:
        raise EpisodeError(f"{path}: damaged episode ({type(exc).__name__}: {exc})") from None
    return learner, expert


def _rows(table: np.ndarray, columns: list[str]) -> np.ndarray:
    """``table``'s columns (named ``columns``) in the order of :data:`COLUMNS`; missing optional ones are 0."""
    missing = [c for c in COLUMNS if c not in columns and c not in OPTIONAL_COLUMNS]
    if missing:
        raise ValueError(f"missing columns {missing}")
    out = np.zeros((len(table), len(COLUMNS)))
    for k, c in enumerate(COLUMNS):
        if c in columns:
            out[:, k] = table[:, columns.index(c)]
    return out


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
    out_dir = Path(out_dir)
    trajectories = drive(driver, roads, env_config, progress=progress)
    experts = None
    if ghost and getattr(driver, "name", "") != "expert":
        experts = drive(ExpertDriver(), roads, dataclasses.replace(env_config, observation="features"))
    names = []
    for i, trajectory in enumerate(trajectories):
        expert = experts[i] if experts is not None else None
        path = out_dir / episode_name(i, trajectory.road)
        names.append(save_episode(path, trajectory, expert, policy=policy, observation=env_config.observation).name)
    listing = {"policy": policy, "driver": getattr(driver, "name", "driver"), "episodes": names}
    write_text_atomically(out_dir / INDEX_NAME, json.dumps(listing, indent=1))
    per_road = {t.road.name: t.metrics() for t in trajectories}
    return {"aggregate": aggregate(list(per_road.values())), "roads": per_road}
