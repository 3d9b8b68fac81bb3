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

import numpy as np
import torch
from tqdm import tqdm

from agents.data import env_config_from_dict
from agents.drivers import Driver
from agents.trajectory import COLUMNS, Trajectory, step_rows
from envs import RoadFollowConfig, RoadFollowVectorEnv, limits
from envs.road import Road

METRICS = (
    "completion_rate",
    "off_road_rate",
    "mean_abs_cte",
    "max_abs_cte",
    "mean_speed",
    "episodes",
    "lap_time",
    "peak_lateral_accel",
    "sliding_time",
)


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
    # the record: a row of COLUMNS a car a step, stacked at the end (so twice), up to the time limit
    steps = np.minimum(
        np.array([r.length for r in roads]) / (max(env_config.target_speed, 1.0) * env_config.dt) * 1.2 + 10, max_steps
    )
    limits.check_memory(f"driving {n} roads", 2 * len(COLUMNS) * 8 * n * float(steps.max()))
    env = RoadFollowVectorEnv(n, config=env_config, max_episode_steps=max_steps)
    obs, info = env.reset(seed=seed, options={"road": list(roads)})
    fleet = env.fleet
    alive = np.ones(n, dtype=bool)
    finished = np.zeros(n, dtype=bool)
    off_road = np.zeros(n, dtype=bool)
    length = np.zeros(n, dtype=np.int64)
    record = [step_rows(fleet.state, info)]  # [N, len(COLUMNS)] a step

    def keep(info):
        record.append(step_rows(fleet.state, info))

    bar = tqdm(total=n, desc="evaluate", unit="road", leave=False, dynamic_ncols=True) if progress else None
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
    rows = np.stack(record, axis=1)  # [N, T, len(COLUMNS)]
    label = getattr(driver, "name", "driver")
    outcomes = np.where(finished, "finished", np.where(off_road, "off road", "time limit")).tolist()
    return [
        Trajectory(road, env_config.dt, env_config.car, label, rows[i, : length[i] + 1], outcomes[i])
        for i, road in enumerate(roads)
    ]


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
    per_road = {t.road.name: t.metrics() for t in trajs}
    return {"aggregate": aggregate(list(per_road.values())), "roads": per_road}


# what a policy's world keeps of the environment it was trained in: its car, actions and sensors
# (not the road pool, the start offsets or the disturbances of the training data)
_POLICY_WORLD_SKIPS = (
    "observation",
    "split",
    "families",
    "num_roads",
    "road_indices",
    "disturbances",
    "start_lateral_offset",
    "start_heading_offset",
)


def policy_world(metadata: dict | None) -> RoadFollowConfig:
    """The world a policy drives in, from its checkpoint's metadata (``env``, the environment its
    training data was collected in): the car, the actions (throttle) and the sensors' settings,
    so that a policy trained on the dynamic car or a non-default camera is tested on them.
    Without that metadata (an older checkpoint): the default world."""
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
