"""Observation builders: what the car's sensors report, batched over cars.

* ``features``: ``[cte, heading_error, speed, steer, x_1, y_1, ..., x_K, y_K]``: the
  signed lateral offset [m], heading error [rad], speed [m/s], wheel angle [rad],
  then the centreline at fixed arc-length distances ahead, in the car's frame
  (x forward, y left) [m].
* ``rays``: distance [m] to the nearest road edge along fixed angles from the
  car's heading, capped at the ray range.
* ``image``: an egocentric top-down grayscale view, car at the bottom centre
  facing up: grass 0, asphalt 110, centreline 255.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces

from envs.car import HEADING, SPEED, STEER, X, Y, CarParams
from envs.config import RoadFollowConfig
from envs.road_batch import RoadBatch, scratch

ROAD_GREY = 110
LINE_WHITE = 255
_MAX_OFFSET = 50.0  # [m] bound on |cte| reported in observations


def observation_space(config: RoadFollowConfig) -> spaces.Box:
    """The Box every observation of this configuration lies in."""
    if config.observation == "features":
        low, high = feature_bounds(config)
        return spaces.Box(low, high, dtype=np.float32)
    if config.observation == "rays":
        return spaces.Box(0.0, config.ray_range, (len(config.ray_angles_deg),), dtype=np.float32)
    size = config.image_size
    return spaces.Box(0, 255, (size, size, 1), dtype=np.uint8)


def feature_bounds(config: RoadFollowConfig) -> tuple[np.ndarray, np.ndarray]:
    car: CarParams = config.car
    reach = max(config.lookahead_distances) + _MAX_OFFSET
    k = len(config.lookahead_distances)
    high = np.array([_MAX_OFFSET, math.pi, car.max_speed, car.max_steer] + [reach] * (2 * k), dtype=np.float32)
    low = -high
    low[2] = 0.0
    return low, high


def feature_names(config: RoadFollowConfig) -> list[str]:
    names = ["cte", "heading_error", "speed", "steer"]
    for d in config.lookahead_distances:
        names += [f"ahead_{d:g}m_x", f"ahead_{d:g}m_y"]
    return names


class FeatureSensor:
    """Builds ``features`` observations for N cars."""

    def __init__(self, config: RoadFollowConfig, num_cars: int):
        low, high = feature_bounds(config)
        self.low, self.high = low, high
        self.size = len(low)
        # clip bounds as float64 numbers: clipping in float64 and then rounding to float32
        # gives what clipping the float32 value to the float32 bounds gives
        self.cte_bounds = (float(low[0]), float(high[0]))
        self.reach = float(high[4])
        self._buffers: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_buffers": {}}  # scratch arrays are not state

    def __call__(self, state, s, cte, heading_error, roads: RoadBatch, cos_h, sin_h) -> np.ndarray:
        """``[N, D]`` float32 features, in column-major order: each feature is written as one
        contiguous row of the ``[D, N]`` buffer whose transpose is returned."""
        n = len(state)
        out = np.empty((self.size, n), dtype=np.float32)
        cte.clip(*self.cte_bounds, out=out[0])
        # heading error, speed and steer lie within their bounds by construction (the car model
        # clips speed and steer, angles are wrapped), so they need no clipping
        out[1] = heading_error
        out[2] = state[:, SPEED]
        out[3] = state[:, STEER]
        # [K, N] arrays: one row per distance ahead, so each operation runs over all cars contiguously
        frac, rec = roads.ahead_rows(s)
        shape = frac.shape
        dx = np.multiply(frac, rec[..., 2], out=scratch(self._buffers, "dx", shape))
        np.add(dx, rec[..., 0], out=dx)
        np.subtract(dx, state[:, X], out=dx)  # centreline point minus car position, world frame
        dy = np.multiply(frac, rec[..., 3], out=scratch(self._buffers, "dy", shape))
        np.add(dy, rec[..., 1], out=dy)
        np.subtract(dy, state[:, Y], out=dy)
        # rotate into the car's frame: forward = c dx + s dy, left = c dy - s dx
        t = np.multiply(dx, cos_h, out=frac)  # frac is no longer needed
        fwd = np.add(t, np.multiply(dy, sin_h, out=scratch(self._buffers, "t", shape)), out=t)
        fwd.clip(-self.reach, self.reach, out=out[4::2])
        left = np.multiply(dy, cos_h, out=dy)
        np.subtract(left, np.multiply(dx, sin_h, out=dx), out=left)
        left.clip(-self.reach, self.reach, out=out[5::2])
        return out.T

    def noise_scale(self) -> np.ndarray:
        scale = np.ones(self.size, dtype=np.float32)
        scale[1] = 0.05
        scale[2] = 0.0
        scale[3] = 0.05
        return scale


class RaySensor:
    """Distances to the road edges along fixed angles, for N cars."""

    def __init__(self, config: RoadFollowConfig, num_cars: int):
        self.angles = np.radians(np.asarray(config.ray_angles_deg, dtype=np.float64))
        self.range = float(config.ray_range)
        self.size = len(self.angles)

    def __call__(self, state, s, cte, heading_error, roads: RoadBatch, cos_h, sin_h) -> np.ndarray:
        ax, ay, bx, by = roads.edge_segments(s, behind=5.0, ahead=self.range + 5.0, step=1.0)
        ang = state[:, HEADING, None] + self.angles[None, :]  # [N, R]
        rx, ry = np.cos(ang)[:, :, None], np.sin(ang)[:, :, None]
        ox, oy = state[:, X, None, None], state[:, Y, None, None]
        ex, ey = (bx - ax)[:, None, :], (by - ay)[:, None, :]  # [N, 1, S]
        wx, wy = (ax[:, None, :] - ox), (ay[:, None, :] - oy)  # [N, 1, S]
        denom = rx * ey - ry * ex  # [N, R, S]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (wx * ey - wy * ex) / denom
            u = (wx * ry - wy * rx) / denom
        hit = (np.abs(denom) > 1e-12) & (u >= 0.0) & (u <= 1.0) & (t > 0.0)
        dist = np.where(hit, t, self.range).min(axis=2)
        return np.minimum(dist, self.range).astype(np.float32)

    def noise_scale(self) -> np.ndarray:
        return np.ones(self.size, dtype=np.float32)


class ImageSensor:
    """Egocentric top-down grayscale view, rasterized with Pillow, for N cars."""

    def __init__(self, config: RoadFollowConfig, num_cars: int):
        self.size = config.image_size
        self.mpp = config.image_metres_per_pixel
        # the car sits at the bottom centre, looking up; the view reaches this far:
        self.behind = 0.2 * self.size * self.mpp
        self.ahead = 0.8 * self.size * self.mpp
        self.half_span = 0.5 * self.size * self.mpp
        self.window_behind = self.behind + self.half_span
        self.window_ahead = math.hypot(self.ahead, self.half_span) + 8.0

    def __call__(self, state, s, cte, heading_error, roads: RoadBatch, cos_h, sin_h) -> np.ndarray:
        from PIL import Image, ImageDraw

        n = len(state)
        out = np.zeros((n, self.size, self.size, 1), dtype=np.uint8)
        step = 1.0
        ax, ay, _, _ = roads.edge_segments(s, behind=self.window_behind, ahead=self.window_ahead, step=step)
        count = ax.shape[1] // 2
        start = s - self.window_behind
        start = np.where((start < 0) & (roads.closed > 0), start + roads.length, np.maximum(start, 0.0))
        cx, cy = roads.points_at(start[:, None] + step * np.arange(count))
        for i in range(n):
            px, py = self._to_pixels(state[i], cos_h[i], sin_h[i], ax[i], ay[i])
            left = list(zip(px[:count], py[:count]))
            right = list(zip(px[count:], py[count:]))
            img = Image.new("L", (self.size, self.size), 0)
            draw = ImageDraw.Draw(img)
            draw.polygon(left + right[::-1], fill=ROAD_GREY)
            qx, qy = self._to_pixels(state[i], cos_h[i], sin_h[i], cx[i], cy[i])
            draw.line(list(zip(qx, qy)), fill=LINE_WHITE, width=1)
            out[i, :, :, 0] = np.asarray(img)
        return out

    def _to_pixels(self, car, c, sn, wx, wy):
        dx, dy = wx - car[X], wy - car[Y]
        fwd = c * dx + sn * dy  # metres ahead
        left = c * dy - sn * dx  # metres to the left
        col = 0.5 * self.size - left / self.mpp
        row = self.size - self.behind / self.mpp - fwd / self.mpp
        return col.tolist(), row.tolist()

    def noise_scale(self) -> float:
        return 25.0


SENSORS = {"features": FeatureSensor, "rays": RaySensor, "image": ImageSensor}


def make_sensor(config: RoadFollowConfig, num_cars: int):
    return SENSORS[config.observation](config, num_cars)
