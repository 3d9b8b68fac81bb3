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
        lookahead = config.lookahead_distances if config.observation == "features" else ()
        self.roads = RoadBatch(num_cars, max_move=max_move, max_travel=config.max_travel_per_step, lookahead=lookahead)
        self.sensor = make_sensor(config, num_cars)
        self.state = np.zeros((num_cars, STATE_SIZE), order="F")  # column-major: each quantity contiguous
        self.seg = np.zeros(num_cars, dtype=np.int64)
        self.s = np.zeros(num_cars)  # arc length of the projection [m], within the first lap
        self.distance = np.zeros(num_cars)  # progress along the road since the start [m]
        self.cte = np.zeros(num_cars)
        self.heading_error = np.zeros(num_cars)
        self.road_labels = np.empty(num_cars, dtype=object)
        self.wind = np.zeros((num_cars, 2))  # [m/s] constant crosswind, world frame
        self.rngs: list[np.random.Generator | None] = [None] * num_cars
        self._noise_scale = np.asarray(self.sensor.noise_scale(), dtype=np.float64)
        self._slot_road: _SlotRoad | None = None
        self._seg_rows: np.ndarray | None = None  # atlas rows at self.seg, kept by advance()

    # ---------------------------------------------------------------- reset
    def reset_cars(
        self,
        rows: np.ndarray,
        roads: list[Road],
        lateral: np.ndarray,
        heading_offset: np.ndarray,
        rngs: list[np.random.Generator],
    ) -> None:
        """Place cars ``rows`` at the start of ``roads``, offset by ``lateral[M]`` [m] and ``heading_offset[M]`` [rad]."""
        rows = np.asarray(rows, dtype=np.int64)
        lateral = np.asarray(lateral, dtype=np.float64)
        heading_offset = np.asarray(heading_offset, dtype=np.float64)
        start = self.roads.set_roads(rows, roads)
        rngs_of, labels = self.rngs, self.road_labels
        for i, rng, road in zip(rows.tolist(), rngs, roads):
            rngs_of[i] = rng
            labels[i] = road.name
        x0, y0, cos0, sin0 = start["x"], start["y"], start["cos"], start["sin"]
        if self.config.disturbances.crosswind != 0.0:
            for n, (i, rng) in enumerate(zip(rows.tolist(), rngs)):
                sign = 1.0 if rng.random() < 0.5 else -1.0
                self.wind[i] = sign * self.config.disturbances.crosswind * np.array([-sin0[n], cos0[n]])
        x = x0 - lateral * sin0
        y = y0 + lateral * cos0
        heading = car_model.wrap_angle(start["heading"] + heading_offset)
        state = self.state
        state[rows, X], state[rows, Y], state[rows, HEADING] = x, y, heading
        state[rows, SPEED], state[rows, STEER] = self.config.target_speed, 0.0
        self.distance[rows] = 0.0
        # the car starts beside the road's first sample, so it projects onto segment 0: what
        # RoadBatch.project computes there, from the first atlas row kept in the road's record
        vx, vy, spacing = start["vx"], start["vy"], start["spacing"]
        dx = x - x0
        dy = y - y0
        t = (dx * vx + dy * vy).clip(0.0, 1.0)
        self.seg[rows] = 0
        self.s[rows] = t * spacing
        self.cte[rows] = (vx * dy - vy * dx) * spacing
        if self._seg_rows is not None:
            if len(rows) == self.num_cars:
                self._seg_rows = None
            else:
                self._seg_rows[rows] = start["rows"]
        self.heading_error[rows] = car_model.wrap_angle(heading - start["seg_heading"])

    # ----------------------------------------------------------------- step
    def advance(self, steer: np.ndarray, accel: np.ndarray | None = None, moving: np.ndarray | None = None):
        """Advance every car one step.

        Args:
            steer: ``[N]`` normalized steering in [-1, 1].
            accel: ``[N]`` acceleration [m/s^2], or None for the cruise controller.
            moving: ``[N]`` bool mask of the cars really driving on; the others are
                about to be reset (their new state is thrown away), so they draw
                no random gust and their progress is not counted.

        Returns:
            ``(reward, terminated, parts)`` as ``[N]`` arrays; ``parts`` holds the
            step's ``off_road``, ``finished`` and the three named reward parts (the
            rest of the info is the fleet's state: ``cte``, ``distance``, ...).
            Call :meth:`observe` for observations.
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
        seg, s, cte, seg_heading = self.roads.project(new_state[:, X], new_state[:, Y], self.seg, seg_rows=self._seg_rows)
        self._seg_rows = self.roads.last_rows  # the atlas rows at seg: the next step's projection starts there
        delta = s - self.s
        if self.roads.any_closed:
            length = self.roads.length
            delta = delta - self.roads.closed * length * np.round(delta / length)
        heading_error = car_model.wrap_angle(new_state[:, HEADING] - seg_heading)
        self.state, self.seg, self.s, self.cte, self.heading_error = new_state, seg, s, cte, heading_error
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
        parts = {
            "off_road": off_road,
            "finished": finished,
            "reward_progress": reward_progress,
            "reward_centering": reward_centering,
            "reward_off_road": reward_off_road,
        }
        return reward, terminated, parts

    # ------------------------------------------------------- one car, fast
    def _road_one(self) -> "_SlotRoad":
        """Car 0's road as Python scalars and row lists (rebuilt when the road changes)."""
        road = self.roads.roads[0]
        cached = self._slot_road
        if cached is None or cached.road is not road or cached.offset != self.roads._row_offset[0]:
            cached = self._slot_road = _SlotRoad.of(self.roads, 0)
        return cached

    def advance_one(self, steer: float, accel: float | None = None):
        """:meth:`advance` for a fleet of one car, on Python floats.

        The same arithmetic as the batched path, operation for operation (the
        tests check bit-for-bit equality with a vector of cars); numpy's
        per-call overhead would otherwise dominate a single car's step.
        Returns ``(reward, terminated, info)`` with Python scalars.
        """
        cfg = self.config
        p = self.params
        dist = cfg.disturbances
        self._seg_rows = None
        x0, y0, h0, v0, st0 = self.state[0].tolist()
        if accel is None:
            accel = p.cruise_gain * (cfg.target_speed - v0)
            accel = min(max(accel, -p.max_accel), p.max_accel)
        push_x = push_y = None
        if dist.crosswind != 0.0 or dist.crosswind_gust > 0.0:
            push_x, push_y = self.wind[0].tolist()
            if dist.crosswind_gust > 0.0:
                gx, gy = self.rngs[0].standard_normal(2).tolist()
                push_x = push_x + dist.crosswind_gust * gx
                push_y = push_y + dist.crosswind_gust * gy
        # the bicycle model: envs.car.step
        max_delta = p.max_steer_rate * cfg.dt
        target = steer * p.max_steer
        delta_steer = min(max(target - st0, -max_delta), max_delta)
        st = st0 + delta_steer
        st = min(max(st, -p.max_steer), p.max_steer)
        a = min(max(accel, -p.max_accel), p.max_accel)
        v = min(max(v0 + a * cfg.dt, 0.0), p.max_speed)
        travel = v * cfg.dt
        turn = travel * float(np.tan(st + dist.steering_bias)) / p.wheelbase
        half = 0.5 * turn
        chord = travel * car_model.sin_over_x_scalar(half)
        mid = h0 + half
        cos_mid, sin_mid = car_model.cos_sin_scalar(mid)
        x = x0 + chord * cos_mid
        y = y0 + chord * sin_mid
        if push_x is not None:
            x += push_x * cfg.dt
            y += push_y * cfg.dt
        h = car_model.wrap_angle_scalar(h0 + turn)
        # local projection: envs.road_batch.RoadBatch.project
        road = self._road_one()
        rows, spacing, lo, hi, mod, max_move = road.rows, road.spacing, road.lo, road.hi, road.mod, road.max_move
        seg = self.seg[0].item()
        for _ in range(2):
            px, py, vx, vy, _ux, _uy, _h, _k = rows[seg] or rows.fill(seg)
            t = (x - px) * vx + (y - py) * vy
            move = min(max(math.floor(t), -max_move), max_move)
            seg = min(max(seg + move, lo), hi) % mod
        px, py, vx, vy, _ux, _uy, seg_heading, _k = rows[seg] or rows.fill(seg)
        dx = x - px
        dy = y - py
        t = min(max(dx * vx + dy * vy, 0.0), 1.0)
        cte = (vx * dy - vy * dx) * spacing
        s = (seg + t) * spacing
        progress_delta = s - self.s[0].item()
        length = road.length
        if road.closed:
            progress_delta = progress_delta - 1.0 * length * round(progress_delta / length)
        heading_error = car_model.wrap_angle_scalar(h - seg_heading)
        distance = self.distance[0].item() + progress_delta
        self.state[0] = (x, y, h, v, st)
        self.seg[0], self.s[0], self.cte[0], self.heading_error[0], self.distance[0] = (
            seg, s, cte, heading_error, distance
        )
        # rewards and the end of the episode
        half = road.half_width
        off_road = abs(cte) > half + cfg.off_road_margin
        finished = distance >= length - 1e-6
        reward_progress = cfg.progress_reward * progress_delta
        ratio = cte / half
        reward_centering = -cfg.centering_penalty * ratio * ratio
        reward_off_road = -cfg.off_road_penalty * off_road
        info = {
            "cte": cte,
            "heading_error": heading_error,
            "progress": min(distance / length, 1.0),
            "progress_m": distance,
            "off_road": off_road,
            "finished": finished,
            "speed": v,
            "steer": st,
            "road": self.road_labels[0],
            "reward_progress": reward_progress,
            "reward_centering": reward_centering,
            "reward_off_road": reward_off_road,
        }
        return reward_progress + reward_centering + reward_off_road, off_road or finished, info

    def observe_one(self) -> np.ndarray:
        """:meth:`observe` of a fleet of one car; the ``features`` sensor on Python floats, same arithmetic."""
        sensor = self.sensor
        if self.config.observation != "features" or self.config.disturbances.observation_noise > 0:
            return self.observe()[0]
        road = self._road_one()
        rows, offset = road.rows32, road.offset
        x, y, h, v, st = self.state[0].tolist()
        base = self.s[0].item() / road.spacing + offset
        c, sn = car_model.cos_sin_scalar(h)
        out = [self.cte[0].item(), self.heading_error[0].item(), v, st]
        append = out.append
        for units in road.ahead_units:  # envs.road_batch.RoadBatch.ahead_rows
            u = units + base
            j = int(u)
            frac = u - j
            j -= offset
            px, py, sx, sy = rows[j] or rows.fill(j)
            dx = frac * sx + px - x
            dy = frac * sy + py - y
            append(dx * c + dy * sn)
            append(dy * c - dx * sn)
        # clipping the float32 values to the float32 bounds gives what the batched path's
        # clipping in float64 and rounding gives (rounding is monotonic, the bounds are exact)
        obs = np.array(out, dtype=np.float32)
        return np.minimum(np.maximum(obs, sensor.low, out=obs), sensor.high, out=obs)

    def observe(self) -> np.ndarray:
        """Observations of all cars at their current state (with sensor noise if configured)."""
        cos_h, sin_h = car_model.cos_sin(self.state[:, HEADING])
        obs = self.sensor(self.state, self.s, self.cte, self.heading_error, self.roads, cos_h, sin_h)
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


class _SlotRoad:
    """One slot's road as plain Python values, for :meth:`Fleet.advance_one` / :meth:`Fleet.observe_one`."""

    __slots__ = ("road", "offset", "rows", "rows32", "spacing", "lo", "hi", "mod", "max_move",
                 "length", "closed", "half_width", "ahead_units")

    @classmethod
    def of(cls, roads: RoadBatch, slot: int) -> "_SlotRoad":
        me = cls()
        me.road = roads.roads[slot]
        me.offset = int(roads._row_offset[slot])
        me.rows = roads.rows(slot)
        me.rows32 = roads.rows32(slot)
        me.spacing = float(roads.spacing[slot])
        me.lo, me.hi, me.mod = int(roads._lo[slot]), int(roads._hi[slot]), int(roads._mod[slot])
        me.max_move = int(roads._max_move[slot])
        me.length = float(roads.length[slot])
        me.closed = bool(roads.closed[slot] > 0)
        me.half_width = float(roads.half_width[slot])
        me.ahead_units = roads.ahead_units[:, slot].tolist()
        return me
