"""What the car's sensors report: three compiled sensors, each a loop over cars.

* ``features``: ``[cte, heading_error, speed, steer, x_1, y_1, ..., x_K, y_K]``: the
  signed lateral offset [m], heading error [rad], speed [m/s], wheel angle [rad],
  then the centreline at fixed arc-length distances ahead, in the car's frame
  (x forward, y left) [m]. ``[N, D]`` float32.
* ``rays``: distance [m] to the nearest road edge along fixed angles from the
  car's heading, capped at the ray range. ``[N, R]`` float32.
* ``image``: an egocentric top-down grayscale view, car at the bottom centre
  facing up: grass 0, asphalt 110, centreline 255. ``[N, H, W, 1]`` uint8.

Each sensor is a class holding its settings (``__call__(state, track, roads, parallel_from)``
returns the batch) around one per-car function, looped serially or with ``prange`` from
``parallel_from`` cars (two small loop kernels, so that a small fleet never compiles the
parallel one), which reads the car's state
(``envs.car``), its place on the road (``envs.road_batch.TRACK_COLUMNS``) and its road's rows
(``envs.road_batch``: the lookup table for ``features``, the atlas for the edges).
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces

from envs.car import HEADING, SPEED, STEER, X, Y, CarParams
from envs.config import RoadFollowConfig
from envs.jit import njit, prange
from envs.road_batch import CTE, HEADING_ERROR, S, RoadBatch, centreline_at, edge_centre, edge_point, edge_start

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
    if config.observation == "camera":
        from envs.camera import camera_space

        return camera_space(config)
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


# ------------------------------------------------------------------------------- features
@njit(cache=True, inline="always")
def _features_car(i, state, track, slots, lookup, lookahead, cte_limit, reach, out, c, sn):
    """Car ``i``'s features into ``out[i]``; ``c, sn``: the cosine and sine of its heading."""
    x, y = state[i, X], state[i, Y]
    out[i, 0] = min(max(track[i, CTE], -cte_limit), cte_limit)
    # heading error, speed and steer lie within their bounds by construction (angles are
    # wrapped, the car model clips speed and steer), so they need no clipping
    out[i, 1] = track[i, HEADING_ERROR]
    out[i, 2] = state[i, SPEED]
    out[i, 3] = state[i, STEER]
    road = slots[i]
    s = track[i, S]
    for k in range(len(lookahead)):
        px, py = centreline_at(lookup, road, s + lookahead[k])
        dx = px - x  # centreline point minus car position, world frame
        dy = py - y
        # into the car's frame: forward = c dx + s dy, left = c dy - s dx
        out[i, 4 + 2 * k] = min(max(c * dx + sn * dy, -reach), reach)
        out[i, 5 + 2 * k] = min(max(c * dy - sn * dx, -reach), reach)


@njit(cache=True)
def _features(state, track, slots, lookup, lookahead, cte_limit, reach, out):
    for i in range(state.shape[0]):
        heading = state[i, HEADING]
        _features_car(i, state, track, slots, lookup, lookahead, cte_limit, reach, out, math.cos(heading),
                      math.sin(heading))  # fmt: skip


@njit(cache=True, parallel=True)
def _features_parallel(state, track, slots, lookup, lookahead, cte_limit, reach, out):
    for i in prange(state.shape[0]):
        heading = state[i, HEADING]
        _features_car(i, state, track, slots, lookup, lookahead, cte_limit, reach, out, math.cos(heading),
                      math.sin(heading))  # fmt: skip


class FeatureSensor:
    """Builds ``features`` observations for N cars."""

    def __init__(self, config: RoadFollowConfig):
        low, high = feature_bounds(config)
        self.low, self.high = low, high
        self.shape = (len(low),)
        self.lookahead = np.asarray(config.lookahead_distances, dtype=np.float64)
        # clipping in float64 to bounds that are float32 numbers, then rounding to float32,
        # gives what clipping the rounded value gives (rounding is monotonic)
        self.cte_limit = float(high[0])
        self.reach = float(high[4])

    def __call__(self, state, track, roads: RoadBatch, parallel_from: int) -> np.ndarray:
        """``[N, D]`` float32 features."""
        out = np.empty((len(state), self.shape[0]), dtype=np.float32)
        kernel = _features_parallel if len(state) >= parallel_from else _features
        kernel(state, track, roads.kernel_slots, roads.lookup, self.lookahead, self.cte_limit, self.reach, out)
        return out

    def noise_scale(self) -> np.ndarray:
        scale = np.ones(self.shape, dtype=np.float32)
        scale[1] = 0.05
        scale[2] = 0.0
        scale[3] = 0.05
        return scale


# ----------------------------------------------------------------------------------- rays
@njit(cache=True)
def _around(x: float, y: float) -> float:
    """A pseudo-angle of the direction ``(x, y)``, in [0, 4): increasing with the angle
    counter-clockwise from +x, 1 per quarter turn, without a trigonometric function; NaN at 0."""
    if y >= 0.0:
        return y / (x + y) if x >= 0.0 else 1.0 - x / (y - x)
    return 2.0 - y / (-x - y) if x < 0.0 else 3.0 + x / (x - y)


_ANGLE_SLACK = 1e-9  # pseudo-angle margin: rays at a segment's ends are tested too


@njit(cache=True, inline="always")
def _rays_car(i, state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count, scratch,
              out):  # fmt: skip
    x, y, heading = state[i, X], state[i, Y], state[i, HEADING]
    c, sn = math.cos(heading), math.sin(heading)
    road = slots[i]
    rays = len(ray_cos)
    # the edge points relative to the car, left edge then right edge, and each one's pseudo-angle
    # seen from the car with 0 straight behind it (rows of the caller's scratch)
    px, py, seen_at, best = scratch[i, 0], scratch[i, 1], scratch[i, 2], scratch[i, 3]
    points = count + 1
    stride = max(math.floor(1.0 / road.spacing + 0.5), 1)  # edge points every ~1 m
    j0 = edge_start(road, track[i, S] - behind)
    for k in range(2 * points):
        ex, ey = edge_point(atlas, road, j0 + stride * (k % points), 1.0 if k < points else -1.0)
        px[k], py[k] = ex - x, ey - y
        forward, left = c * px[k] + sn * py[k], c * py[k] - sn * px[k]
        seen_at[k] = _around(-forward, -left)
    for r in range(rays):
        best[r] = ray_range
    for k in range(1, 2 * points):
        if k == points:  # the right edge starts: no segment joins the two edges
            continue
        lo, hi = min(seen_at[k - 1], seen_at[k]), max(seen_at[k - 1], seen_at[k])
        # a segment seen across less than half a turn can only cross the rays within its angles
        # (rays sorted by pseudo-angle); one across the back, or through the car, may cross any
        if hi - lo < 2.0 - _ANGLE_SLACK:  # False for NaN too
            first, end = 0, rays  # the first ray at or above lo: binary search
            while first < end:
                mid = (first + end) // 2
                if ray_at[mid] < lo - _ANGLE_SLACK:
                    first = mid + 1
                else:
                    end = mid
        else:
            first, hi = 0, 5.0
        for j in range(first, rays):
            if ray_at[j] > hi + _ANGLE_SLACK:
                break
            r = ray_order[j]
            dir_x = c * ray_cos[r] - sn * ray_sin[r]  # the ray's direction in the world frame
            dir_y = sn * ray_cos[r] + c * ray_sin[r]
            # cross(ray, point): the side of the ray's line each end lies on; a sign change means
            # the segment crosses the line, at `u` along it
            was = dir_x * py[k - 1] - dir_y * px[k - 1]
            now = dir_x * py[k] - dir_y * px[k]
            if was * now <= 0.0 and was != now:
                u = was / (was - now)
                t = (px[k - 1] + u * (px[k] - px[k - 1])) * dir_x + (py[k - 1] + u * (py[k] - py[k - 1])) * dir_y
                if 0.0 < t < best[r]:
                    best[r] = t
    for r in range(rays):
        out[i, r] = best[r]


@njit(cache=True)
def _rays(state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count, scratch, out):
    for i in range(state.shape[0]):
        _rays_car(i, state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count,
                  scratch, out)  # fmt: skip


@njit(cache=True, parallel=True)
def _rays_parallel(state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count, scratch,
                   out):  # fmt: skip
    for i in prange(state.shape[0]):
        _rays_car(i, state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count,
                  scratch, out)  # fmt: skip


class RaySensor:
    """Distances to the road edges along fixed angles, for N cars: the nearest crossing of each ray
    with the edge segments (about 1 m long) from 5 m behind the car to 5 m past the ray range.
    Each segment is tested against the rays within the angles it spans as seen from the car
    (a binary search over the rays sorted by pseudo-angle), not against all of them."""

    BEHIND = 5.0  # [m] of road behind the car searched for edges

    def __init__(self, config: RoadFollowConfig):
        angles = np.radians(np.asarray(config.ray_angles_deg, dtype=np.float64))
        self.ray_cos, self.ray_sin = np.cos(angles), np.sin(angles)
        self.range = float(config.ray_range)
        self.shape = (len(angles),)
        self.count = max(1, math.ceil(self.range + 2 * self.BEHIND))  # edge segments per side
        # each ray's pseudo-angle from straight behind the car (as _rays_car sees edge points),
        # and the rays in that order
        seen = np.array([_around(-a, -b) for a, b in zip(self.ray_cos, self.ray_sin)])
        self.ray_order = np.argsort(seen, kind="stable").astype(np.int64)
        self.ray_at = seen[self.ray_order]

    def __call__(self, state, track, roads: RoadBatch, parallel_from: int) -> np.ndarray:
        out = np.empty((len(state), self.shape[0]), dtype=np.float32)
        scratch = np.empty((len(state), 4, max(2 * (self.count + 1), self.shape[0])))
        kernel = _rays_parallel if len(state) >= parallel_from else _rays
        kernel(state, track, roads.kernel_slots, roads.atlas, self.ray_cos, self.ray_sin, self.ray_at, self.ray_order,
               self.range, self.BEHIND, self.count, scratch, out)  # fmt: skip
        return out

    def noise_scale(self) -> np.ndarray:
        return np.ones(self.shape, dtype=np.float32)


# ---------------------------------------------------------------------------------- image
_MAX_CROSSINGS = 64  # road edges one pixel row may cross (a hairpin in view crosses 4-8)


@njit(cache=True, inline="always")
def _image_car(i, state, track, slots, atlas, size, mpp, behind, window_behind, count, out):
    x, y, heading = state[i, X], state[i, Y], state[i, HEADING]
    c, sn = math.cos(heading), math.sin(heading)
    road = slots[i]
    stride = max(math.floor(1.0 / road.spacing + 0.5), 1)  # samples every ~1 m
    j0 = edge_start(road, track[i, S] - window_behind)
    # the road polygon (left edge forwards, right edge back) in pixel coordinates: column
    # size / 2 - left / mpp, row size - (behind + forward) / mpp, pixel centres at integers
    corners = 2 * count
    col = np.empty(corners)
    row = np.empty(corners)
    for k in range(corners):
        side = 1.0 if k < count else -1.0
        ex, ey = edge_point(atlas, road, j0 + stride * (k if k < count else corners - 1 - k), side)
        dx, dy = ex - x, ey - y
        col[k] = 0.5 * size - (c * dy - sn * dx) / mpp
        row[k] = size - (behind + c * dx + sn * dy) / mpp
    # scanline fill (even-odd): where each polygon side crosses each pixel row's centre
    crossings = np.empty((size, _MAX_CROSSINGS))
    found = np.zeros(size, dtype=np.int64)
    for a in range(corners):
        b = a + 1 if a + 1 < corners else 0
        ya, yb = row[a], row[b]
        if ya == yb:
            continue
        first = max(math.ceil(min(ya, yb)), 0)
        last = min(math.ceil(max(ya, yb)) - 1, size - 1)  # half-open [min, max): shared corners once
        for r in range(first, last + 1):
            if found[r] < _MAX_CROSSINGS:
                crossings[r, found[r]] = col[a] + (r - ya) * (col[b] - col[a]) / (yb - ya)
                found[r] += 1
    for r in range(size):
        m = found[r]
        xs = crossings[r]
        for p in range(1, m):  # insertion sort: a row crosses a few edges
            v = xs[p]
            q = p - 1
            while q >= 0 and xs[q] > v:
                xs[q + 1] = xs[q]
                q -= 1
            xs[q + 1] = v
        for p in range(0, m - 1, 2):
            c0 = max(math.ceil(xs[p]), 0)
            c1 = min(math.floor(xs[p + 1]), size - 1)
            for q in range(c0, c1 + 1):
                out[i, r, q, 0] = ROAD_GREY
    # the centreline, one pixel wide, through the centre samples
    pc = pr = 0.0
    for k in range(count):
        px, py = edge_centre(atlas, road, j0 + stride * k)
        dx, dy = px - x, py - y
        qc = 0.5 * size - (c * dy - sn * dx) / mpp
        qr = size - (behind + c * dx + sn * dy) / mpp
        if k > 0:
            steps = max(math.ceil(max(abs(qc - pc), abs(qr - pr))), 1)
            for t in range(steps + 1):
                u = t / steps
                cc = math.floor(pc + u * (qc - pc) + 0.5)
                rr = math.floor(pr + u * (qr - pr) + 0.5)
                if 0 <= cc < size and 0 <= rr < size:
                    out[i, rr, cc, 0] = LINE_WHITE
        pc, pr = qc, qr


@njit(cache=True)
def _image(state, track, slots, atlas, size, mpp, behind, window_behind, count, out):
    for i in range(state.shape[0]):
        _image_car(i, state, track, slots, atlas, size, mpp, behind, window_behind, count, out)


@njit(cache=True, parallel=True)
def _image_parallel(state, track, slots, atlas, size, mpp, behind, window_behind, count, out):
    for i in prange(state.shape[0]):
        _image_car(i, state, track, slots, atlas, size, mpp, behind, window_behind, count, out)


class ImageSensor:
    """Egocentric top-down grayscale view, rasterized from the road's edges, for N cars."""

    def __init__(self, config: RoadFollowConfig):
        self.size = config.image_size
        self.shape = (self.size, self.size, 1)
        self.mpp = config.image_metres_per_pixel
        # the car sits at the bottom centre, looking up; the view reaches this far:
        self.behind = 0.2 * self.size * self.mpp
        ahead = 0.8 * self.size * self.mpp
        half_span = 0.5 * self.size * self.mpp
        # road drawn from this far behind the car to this far ahead (covers the corners)
        self.window_behind = self.behind + half_span
        window_ahead = math.hypot(ahead, half_span) + 8.0
        self.count = max(2, math.ceil(self.window_behind + window_ahead))  # samples ~1 m apart

    def __call__(self, state, track, roads: RoadBatch, parallel_from: int) -> np.ndarray:
        out = np.zeros((len(state),) + self.shape, dtype=np.uint8)
        kernel = _image_parallel if len(state) >= parallel_from else _image
        kernel(state, track, roads.kernel_slots, roads.atlas, self.size, self.mpp, self.behind, self.window_behind,
               self.count, out)  # fmt: skip
        return out

    def noise_scale(self) -> float:
        return 25.0


SENSORS = {"features": FeatureSensor, "rays": RaySensor, "image": ImageSensor}


def make_sensor(config: RoadFollowConfig):
    if config.observation == "camera":
        from envs.camera import CameraSensor  # the dashcam's module (it imports this one's neighbours)

        return CameraSensor(config)
    return SENSORS[config.observation](config)
