"""Closed-loop evaluation: drive every road once, in inference mode, all roads at once.

Metrics per road and aggregated over roads:
``completion_rate`` (reached the end), ``off_road_rate`` (left the road),
``mean_abs_cte`` and ``max_abs_cte`` [m], ``mean_speed`` [m/s], ``episodes``,
``lap_time`` [s] (to the end of the road; None for a road not finished, averaged over the
finished ones), ``peak_lateral_accel`` [m/s^2] (the largest |lateral acceleration|; 0 for the
kinematic car, which has none) and ``sliding_time`` [s] (time with a tyre sliding).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from agents.drivers import Driver
from envs import RoadFollowConfig, RoadFollowVectorEnv, limits
from envs.car import HEADING, LATERAL, X, Y
from envs.road import Road

METRICS = ("completion_rate", "off_road_rate", "mean_abs_cte", "max_abs_cte", "mean_speed", "episodes", "lap_time",
           "peak_lateral_accel", "sliding_time")  # fmt: skip


@dataclass
class Trajectory:
    """What one car did on one road: per step positions [m], cte [m], speed [m/s], steer [rad],
    lateral acceleration [m/s^2] and whether a tyre slid (None: not recorded, as zeros), steps
    ``dt`` [s] apart; index 0 is the start."""

    road: str
    xy: np.ndarray
    cte: np.ndarray
    speed: np.ndarray
    steer: np.ndarray
    progress_m: np.ndarray
    finished: bool
    off_road: bool
    lateral_accel: np.ndarray | None = None
    sliding: np.ndarray | None = None
    dt: float = 0.05
    heading: np.ndarray | None = None
    """Where the car pointed [rad] (a car that slides does not point where it moves)."""
    lateral_speed: np.ndarray | None = None
    """Lateral speed of the centre of gravity [m/s] (the dynamic car's; 0 for the kinematic one)."""

    def metrics(self) -> dict:
        driven = slice(1, None) if len(self.cte) > 1 else slice(None)  # the start is not a driven step
        cte = np.abs(self.cte[driven])
        lateral = np.zeros(1) if self.lateral_accel is None else np.abs(self.lateral_accel[driven])
        sliding = np.zeros(1) if self.sliding is None else np.asarray(self.sliding[driven], dtype=bool)
        return {
            "completion_rate": float(self.finished),
            "off_road_rate": float(self.off_road),
            "mean_abs_cte": float(cte.mean()),
            "max_abs_cte": float(cte.max()),
            "mean_speed": float(self.speed[driven].mean()),
            "episodes": 1,
            "lap_time": (len(self.cte) - 1) * self.dt if self.finished else None,
            "peak_lateral_accel": float(lateral.max()),
            "sliding_time": float(sliding.sum()) * self.dt,
        }


def aggregate(per_road: list[dict]) -> dict:
    """Average the per-road metrics over roads (``max_abs_cte``, ``peak_lateral_accel``: the
    largest; ``episodes``: the count; ``lap_time``: the mean over the roads finished, None if none)."""
    if not per_road:
        raise ValueError("no episodes to aggregate")
    out = {}
    for key in METRICS:
        if key == "lap_time":
            times = [m[key] for m in per_road if m.get(key) is not None]
            out[key] = float(np.mean(times)) if times else None
            continue
        values = np.array([m[key] for m in per_road], dtype=np.float64)
        if key in ("max_abs_cte", "peak_lateral_accel"):
            out[key] = float(values.max())
        elif key == "episodes":
            out[key] = int(values.sum())
        else:
            out[key] = float(values.mean())
    return out


def drive(
    driver: Driver,
    roads: list[Road],
    env_config: RoadFollowConfig = RoadFollowConfig(),
    max_steps: int = 3000,
    seed: int = 0,
    progress: bool = False,
) -> list[Trajectory]:
    """Drive each road once (car ``i`` on ``roads[i]``), all cars in one vector env.

    The learner's network runs under ``torch.inference_mode()``: testing is
    drive, observe, no changes.
    """
    if not roads:
        raise ValueError("no roads to drive")
    n = len(roads)
    # the record: 6 float64 numbers a car a step, stacked at the end (so twice), up to the time limit
    steps = np.minimum(np.array([r.length for r in roads]) / (max(env_config.target_speed, 1.0) * env_config.dt) * 1.2
                       + 10, max_steps)
    limits.check_memory(f"driving {n} roads", 2 * 6 * 8 * n * float(steps.max()))
    env = RoadFollowVectorEnv(n, config=env_config, max_episode_steps=max_steps)
    obs, info = env.reset(seed=seed, options={"road": list(roads)})
    fleet = env.fleet
    alive = np.ones(n, dtype=bool)
    finished = np.zeros(n, dtype=bool)
    off_road = np.zeros(n, dtype=bool)
    length = np.zeros(n, dtype=np.int64)
    kept = ("cte", "speed", "steer", "progress_m", "lateral_accel", "sliding")
    record = {k: [] for k in ("x", "y", "heading", "lateral_speed") + kept}

    def keep(info):
        record["x"].append(fleet.state[:, X].copy())
        record["y"].append(fleet.state[:, Y].copy())
        record["heading"].append(fleet.state[:, HEADING].copy())
        record["lateral_speed"].append(fleet.state[:, LATERAL].copy())
        for k in kept:
            record[k].append(np.asarray(info[k], dtype=np.float64).copy())

    keep(info)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc="evaluate", unit="road", leave=False, dynamic_ncols=True)
    with torch.inference_mode():
        while alive.any():
            actions = driver.act(obs, fleet)
            obs, _, term, trunc, info = env.step(actions)
            length += alive
            keep(info)
            ended = alive & (term | trunc)
            finished |= ended & info["finished"]
            off_road |= ended & info["off_road"]
            alive &= ~ended
            if bar is not None:
                bar.update(int(ended.sum()))
    if bar is not None:
        bar.close()
    arrays = {k: np.stack(v, axis=1) for k, v in record.items()}
    trajectories = []
    for i, road in enumerate(roads):
        t = length[i] + 1
        trajectories.append(
            Trajectory(
                road=road.name,
                xy=np.column_stack([arrays["x"][i, :t], arrays["y"][i, :t]]),
                cte=arrays["cte"][i, :t],
                speed=arrays["speed"][i, :t],
                steer=arrays["steer"][i, :t],
                progress_m=arrays["progress_m"][i, :t],
                finished=bool(finished[i]),
                off_road=bool(off_road[i]),
                lateral_accel=arrays["lateral_accel"][i, :t],
                sliding=arrays["sliding"][i, :t] != 0.0,
                dt=env_config.dt,
                heading=arrays["heading"][i, :t],
                lateral_speed=arrays["lateral_speed"][i, :t],
            )
        )
    return trajectories


def evaluate(
    driver: Driver,
    roads: list[Road],
    env_config: RoadFollowConfig = RoadFollowConfig(),
    max_steps: int = 3000,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """``{"aggregate": {...}, "roads": {name: {...}}}`` for ``driver`` on ``roads``."""
    trajs = drive(driver, roads, env_config, max_steps, seed, progress)
    per_road = {t.road: t.metrics() for t in trajs}
    return {"aggregate": aggregate(list(per_road.values())), "roads": per_road}


# what a policy's world keeps of the environment it was trained in: its car, actions and sensors
# (not the road pool, the start offsets or the disturbances of the training data)
_POLICY_WORLD_SKIPS = ("observation", "split", "families", "num_roads", "road_indices", "disturbances",
                       "start_lateral_offset", "start_heading_offset")  # fmt: skip


def policy_world(metadata: dict | None) -> RoadFollowConfig:
    """The world a policy drives in, from its checkpoint's metadata (``env``, the environment its
    training data was collected in): the car, the actions (throttle) and the sensors' settings,
    so that a policy trained on the dynamic car or a non-default camera is tested on them.
    Without that metadata (an older checkpoint): the default world."""
    from agents.data import env_config_from_dict

    env = (metadata or {}).get("env")
    if not isinstance(env, dict):
        return RoadFollowConfig()
    trained = env_config_from_dict(env, env.get("observation", "features"))
    keep = {f.name: getattr(trained, f.name) for f in dataclasses.fields(trained) if f.name not in _POLICY_WORLD_SKIPS}
    return dataclasses.replace(RoadFollowConfig(), **keep)


def env_config_for(policy_observation: str, base: RoadFollowConfig | None = None) -> RoadFollowConfig:
    """The evaluation world: no start offsets, the policy's observation type."""
    base = base or RoadFollowConfig()
    return dataclasses.replace(base, observation=policy_observation, start_lateral_offset=0.0, start_heading_offset=0.0)
