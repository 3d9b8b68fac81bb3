"""N cars on N roads, stepped in one numpy batch.

The :class:`Fleet` is the simulation both environments share: the single
environment is a fleet of one, the vector environment a fleet of N, so the two
can never disagree. It owns car states, their roads, local projection,
observations, named rewards and termination; episode bookkeeping (seeds,
time limits, autoreset) belongs to the environments.
"""

from __future__ import annotations

import math

import numpy as np

from envs import car as car_model
from envs.car import HEADING, SPEED, STATE_SIZE, STEER, X, Y
from envs.config import RoadFollowConfig
from envs.observations import make_sensor
from envs.road import Road
from envs.road_batch import RoadBatch

INFO_KEYS = (
    "cte",
    "heading_error",
    "progress",
    "progress_m",
    "off_road",
    "finished",
    "speed",
    "steer",
    "road",
    "reward_progress",
    "reward_centering",
    "reward_off_road",
)


class Fleet:
    """Batched simulation of ``num_cars`` cars, each on its own road."""

    def __init__(self, config: RoadFollowConfig, num_cars: int):
        self.config = config
        self.num_cars = num_cars
        self.params = config.car
        max_move = int(math.ceil(config.max_travel_per_step / 0.25)) + 2
        self.roads = RoadBatch(num_cars, max_move=max_move)
        self.sensor = make_sensor(config, num_cars)
        self.state = np.zeros((num_cars, STATE_SIZE))
        self.seg = np.zeros(num_cars, dtype=np.int64)
        self.s = np.zeros(num_cars)  # arc length of the projection [m], within the first lap
        self.distance = np.zeros(num_cars)  # progress along the road since the start [m]
        self.cte = np.zeros(num_cars)
        self.heading_error = np.zeros(num_cars)
        self.road_labels = np.empty(num_cars, dtype=object)
        self.wind = np.zeros((num_cars, 2))  # [m/s] constant crosswind, world frame
        self.rngs: list[np.random.Generator | None] = [None] * num_cars
        self._noise_scale = np.asarray(self.sensor.noise_scale(), dtype=np.float64)

    def sensor_shape(self) -> tuple[int, ...]:
        c = self.config
        if c.observation == "features":
            return (self.sensor.size,)
        if c.observation == "rays":
            return (self.sensor.size,)
        return (c.image_size, c.image_size, 1)

    # ---------------------------------------------------------------- reset
    def reset_cars(self, rows: np.ndarray, starts: list, rngs: list[np.random.Generator]) -> None:
        """Place cars ``rows`` at the start of their roads (``starts``: :class:`envs.episode.EpisodeStart`)."""
        rows = np.asarray(rows, dtype=np.int64)
        h0 = np.empty(len(rows))
        xy0 = np.empty((len(rows), 2))
        offsets = np.empty((len(rows), 2))
        wind_on = self.config.disturbances.crosswind != 0.0
        for n, (i, start, rng) in enumerate(zip(rows.tolist(), starts, rngs)):
            road = start.road
            self.roads.set_road(i, road)
            self.road_labels[i] = start.label
            self.rngs[i] = rng
            h0[n] = road.headings[0]
            xy0[n] = road.points[0]
            offsets[n] = start.lateral, start.heading_offset
            if wind_on:
                sign = 1.0 if rng.random() < 0.5 else -1.0
                self.wind[i] = sign * self.config.disturbances.crosswind * np.array([-math.sin(h0[n]), math.cos(h0[n])])
        lateral, heading_offset = offsets[:, 0], offsets[:, 1]
        x = xy0[:, 0] - lateral * np.sin(h0)
        y = xy0[:, 1] + lateral * np.cos(h0)
        heading = car_model.wrap_angle(h0 + heading_offset)
        self.state[rows] = np.column_stack([x, y, heading, np.full(len(rows), self.config.target_speed), np.zeros(len(rows))])
        self.distance[rows] = 0.0
        seg, s, cte, seg_heading = self.roads.project(x, y, np.zeros(len(rows), dtype=np.int64), rows=rows)
        self.seg[rows], self.s[rows], self.cte[rows] = seg, s, cte
        self.heading_error[rows] = car_model.wrap_angle(heading - seg_heading)

    # ----------------------------------------------------------------- step
    def advance(self, steer: np.ndarray, accel: np.ndarray | None = None, moving: np.ndarray | None = None):
        """Advance the cars one step (all of them, or those where ``moving[N]`` is True).

        Args:
            steer: ``[N]`` normalized steering in [-1, 1].
            accel: ``[N]`` acceleration [m/s^2], or None for the cruise controller.
            moving: ``[N]`` bool mask of cars to step; the others keep their state.

        Returns:
            ``(reward, terminated, info)`` as ``[N]`` arrays; ``info`` holds the
            arrays named in :data:`INFO_KEYS`. Call :meth:`observe` for observations.
        """
        cfg = self.config
        dist = cfg.disturbances
        if accel is None:
            accel = car_model.cruise_accel(self.state[:, SPEED], cfg.target_speed, self.params)
        push = None
        if dist.crosswind != 0.0 or dist.crosswind_gust > 0.0:
            push = self.wind
            if dist.crosswind_gust > 0.0:
                gust = np.zeros_like(self.wind)
                for i in range(self.num_cars) if moving is None else np.flatnonzero(moving):
                    gust[i] = self.rngs[i].standard_normal(2)
                push = self.wind + dist.crosswind_gust * gust
        new_state = car_model.step(self.state, steer, accel, self.params, cfg.dt, dist.steering_bias, push)
        seg, s, cte, seg_heading = self.roads.project(new_state[:, X], new_state[:, Y], self.seg)
        delta = s - self.s
        if self.roads.closed.any():
            length = self.roads.length
            delta = delta - self.roads.closed * length * np.round(delta / length)
        heading_error = car_model.wrap_angle(new_state[:, HEADING] - seg_heading)
        if moving is None:
            self.state, self.seg, self.s, self.cte, self.heading_error = new_state, seg, s, cte, heading_error
            self.distance = self.distance + delta
        else:
            delta = np.where(moving, delta, 0.0)
            self.state = np.where(moving[:, None], new_state, self.state)
            self.seg = np.where(moving, seg, self.seg)
            self.s = np.where(moving, s, self.s)
            self.cte = cte = np.where(moving, cte, self.cte)
            self.heading_error = np.where(moving, heading_error, self.heading_error)
            self.distance = self.distance + delta

        half = self.roads.half_width
        off_road = np.abs(cte) > half + cfg.off_road_margin
        finished = self.distance >= self.roads.length - 1e-6
        reward_progress = cfg.progress_reward * delta
        ratio = cte / half
        reward_centering = -cfg.centering_penalty * ratio * ratio
        reward_off_road = -cfg.off_road_penalty * off_road
        reward = reward_progress + reward_centering + reward_off_road
        terminated = off_road | finished
        info = {
            "cte": cte,
            "heading_error": self.heading_error,
            "progress": np.minimum(self.distance / self.roads.length, 1.0),
            "progress_m": self.distance,
            "off_road": off_road,
            "finished": finished,
            "speed": self.state[:, SPEED],
            "steer": self.state[:, STEER],
            "road": self.road_labels,
            "reward_progress": reward_progress,
            "reward_centering": reward_centering,
            "reward_off_road": reward_off_road,
        }
        return reward, terminated, info

    def observe(self) -> np.ndarray:
        """Observations of all cars at their current state (with sensor noise if configured)."""
        h = self.state[:, HEADING]
        obs = self.sensor(self.state, self.s, self.cte, self.heading_error, self.roads, np.cos(h), np.sin(h))
        sigma = self.config.disturbances.observation_noise
        if sigma > 0.0:
            shape = obs.shape[1:]
            noise = np.stack([rng.standard_normal(shape) for rng in self.rngs]) * (sigma * self._noise_scale)
            if obs.dtype == np.uint8:
                obs = np.clip(obs + np.round(noise), 0, 255).astype(np.uint8)
            else:
                obs = obs + noise
                if self.config.observation == "rays":
                    obs = np.clip(obs, 0.0, self.config.ray_range).astype(np.float32)
                else:
                    obs = np.clip(obs, self.sensor.low, self.sensor.high).astype(np.float32)
        return obs

    def reset_info(self, i: int) -> dict:
        """The info of car ``i`` just after a reset (same keys as a step's)."""
        return {
            "cte": float(self.cte[i]),
            "heading_error": float(self.heading_error[i]),
            "progress": 0.0,
            "progress_m": 0.0,
            "off_road": False,
            "finished": False,
            "speed": float(self.state[i, SPEED]),
            "steer": float(self.state[i, STEER]),
            "road": self.road_labels[i],
            "reward_progress": 0.0,
            "reward_centering": 0.0,
            "reward_off_road": 0.0,
        }
