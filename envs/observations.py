"""What the car's sensors report: three compiled sensors, each a loop over cars.

* ``features``: ``[cte, heading_error, speed, steer, x_1, y_1, ..., x_K, y_K]``: the
  signed lateral offset [m], heading error [rad], speed [m/s], wheel angle [rad],
  then the centreline at fixed arc-length distances ahead, in the car's frame
  (x forward, y left) [m]; with ``road_preview_distances``, then the friction
  coefficient and curvature [1/m] of the road at each of those. ``[N, D]`` float32.
* ``rays``: distance [m] to the nearest road edge along fixed angles from the
  car's heading, capped at the ray range. ``[N, R]`` float32.
* ``image``: an egocentric top-down grayscale view, car at the bottom centre
  facing up: grass 0, asphalt 110, centreline 255. ``[N, H, W, 1]`` uint8.

Each sensor is a class holding its settings (``__call__(state, track, roads, parallel_from)``
returns the batch) around its kernel, run serially or over numba's threads (two small loop
kernels, so that a small fleet never compiles the parallel one) from ``parallel_from``
step-kernel car-steps of work: a sensor's ``work`` says how many one car's reading costs (1 for
features, 16 for rays, 64 for a 64x64 image). ``image`` is a per-car function inlined into both
loops; ``features`` and ``rays`` are one function of a range of cars each (``_features_range``,
which the step kernel also runs, and ``_rays_range``), which the parallel kernel calls once per
thread (see ``envs.jit``). The kernels read the car's state
(``envs.car``), its place on the road (``envs.road_batch.TRACK_COLUMNS``) and its road's rows
(``envs.road_batch``: the lookup table for ``features``, the atlas for the edges).
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces

from envs.car import HEADING, SPEED, STEER, CarParams, X, Y
from envs.config import RoadFollowConfig
from envs.jit import njit, prange, prefetch_row, threads
from envs.road import SURFACES
from envs.road_batch import (
    CTE,
    HEADING_ERROR,
    PX,
    PY,
    VX,
    VY,
    RoadBatch,
    S,
    edge_centre,
    edge_point,
    edge_start,
    point_on_row,
    row_and_fraction,
    sample_row,
)

ROAD_GREY = 110
LINE_WHITE = 255
_MAX_OFFSET = 50.0  # [m] bound on |cte| reported in observations
_MAX_CURVATURE = 0.5  # [1/m] bound on |curvature| reported (a 2 m radius)


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
    preview = [max(SURFACES.values()), _MAX_CURVATURE] * len(config.road_preview_distances)
    high = np.array(
        [_MAX_OFFSET, math.pi, car.max_speed, car.max_steer] + [reach] * (2 * k) + preview, dtype=np.float32
    )
    low = -high
    low[2] = 0.0
    low[4 + 2 * k :: 2] = 0.0  # friction
    return low, high


def feature_names(config: RoadFollowConfig) -> list[str]:
    names = ["cte", "heading_error", "speed", "steer"]
    for d in config.lookahead_distances:
        names += [f"ahead_{d:g}m_x", f"ahead_{d:g}m_y"]
    for d in config.road_preview_distances:
        names += [f"friction_{d:g}m", f"curvature_{d:g}m"]
    return names


# ------------------------------------------------------------------------------- features
@njit(cache=True)
def _features_range(
    lo, hi, state, track, slots, lookup, lookahead, cte_limit, reach, preview, curvatures, friction, cos_sin, out
):
    """Features of cars ``lo .. hi - 1`` into ``out[lo:hi]``; ``cos_sin[i - lo]``: the cosine and
    sine of car ``i``'s heading.

    Each car's look-ahead points go in two loops: first the table row and the fraction along it
    of every point (divisions, floors and clipping that the compiler vectorizes), then the
    points. This function is the one loop over cars of both the step kernel (``envs.fleet``,
    after its own loop over the same range) and the kernels below. As a per-car function inlined
    into the step's loop, the two-loop form ran slower than one loop, because numba kept the
    scratch rows reference-counted once a car (serial step kernel at N = 4,096: 342 us with this
    function after the step's loop, against 417-438 us for the one-loop features in the step's
    loop and 496-530 us for the two loops inlined; measured on the 2-core AMD machine)."""
    rows = np.empty(len(lookahead), dtype=np.int64)
    fractions = np.empty(len(lookahead))
    first = 4 + 2 * len(lookahead)
    for i in range(lo, hi):
        c, sn = cos_sin[i - lo, 0], cos_sin[i - lo, 1]
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
            rows[k], fractions[k] = row_and_fraction(road, s + lookahead[k])
        for k in range(len(lookahead)):
            px, py = point_on_row(lookup, rows[k], fractions[k])
            dx = px - x  # centreline point minus car position, world frame
            dy = py - y
            # into the car's frame: forward = c dx + s dy, left = c dy - s dx
            out[i, 4 + 2 * k] = min(max(c * dx + sn * dy, -reach), reach)
            out[i, 5 + 2 * k] = min(max(c * dy - sn * dx, -reach), reach)
        for k in range(len(preview)):  # the road's surface and bends farther ahead
            row = sample_row(road, s + preview[k])
            out[i, first + 2 * k] = friction[row]
            out[i, first + 2 * k + 1] = min(max(curvatures[row], -_MAX_CURVATURE), _MAX_CURVATURE)


@njit(cache=True, inline="always")
def _headings_cos_sin(lo, hi, state):
    """``[hi - lo, 2]`` the cosine and sine of the headings of cars ``lo .. hi - 1``."""
    cos_sin = np.empty((hi - lo, 2))
    for i in range(lo, hi):
        heading = state[i, HEADING]
        cos_sin[i - lo, 0], cos_sin[i - lo, 1] = math.cos(heading), math.sin(heading)
    return cos_sin


@njit(cache=True)
def _features(state, track, slots, lookup, lookahead, cte_limit, reach, preview, curvatures, friction, out):
    n = state.shape[0]
    cos_sin = _headings_cos_sin(0, n, state)
    _features_range(
        0, n, state, track, slots, lookup, lookahead, cte_limit, reach, preview, curvatures, friction, cos_sin, out
    )


@njit(cache=True, parallel=True)
def _features_parallel(
    state, track, slots, lookup, lookahead, cte_limit, reach, preview, curvatures, friction, out, parts
):
    n = state.shape[0]
    for part in prange(parts):  # a range of cars per thread
        lo, hi = part * n // parts, (part + 1) * n // parts
        cos_sin = _headings_cos_sin(lo, hi, state)
        _features_range(
            lo,
            hi,
            state,
            track,
            slots,
            lookup,
            lookahead,
            cte_limit,
            reach,
            preview,
            curvatures,
            friction,
            cos_sin,
            out,
        )


class FeatureSensor:
    """Builds ``features`` observations for N cars."""

    work = 1  # the step kernel writes them after its own loop over the same cars (``envs.fleet``)

    def __init__(self, config: RoadFollowConfig):
        low, high = feature_bounds(config)
        self.low, self.high = low, high
        self.shape = (len(low),)
        self.lookahead = np.asarray(config.lookahead_distances, dtype=np.float64)
        self.preview = np.asarray(config.road_preview_distances, dtype=np.float64)
        # clipping in float64 to bounds that are float32 numbers, then rounding to float32,
        # gives what clipping the rounded value gives (rounding is monotonic)
        self.cte_limit = float(high[0])
        self.reach = float(high[4])

    def __call__(self, state, track, roads: RoadBatch, parallel_from: int) -> np.ndarray:
        """``[N, D]`` float32 features."""
        out = np.empty((len(state), self.shape[0]), dtype=np.float32)
        args = (
            state,
            track,
            roads.kernel_slots,
            roads.lookup,
            self.lookahead,
            self.cte_limit,
            self.reach,
            self.preview,
            roads.curvatures,
            roads.friction,
            out,
        )
        if len(state) * self.work >= parallel_from:
            _features_parallel(*args, threads())
        else:
            _features(*args)
        return out

    def noise_scale(self) -> np.ndarray:
        scale = np.ones(self.shape, dtype=np.float32)
        scale[1] = 0.05
        scale[2] = 0.0
        scale[3] = 0.05
        scale[4 + 2 * len(self.lookahead) :] = 0.0  # the road's surface and bends are known, not measured
        return scale


# ----------------------------------------------------------------------------------- rays
# The rays' kernels divide with numpy's error model: no check before every division for Python's
# ZeroDivisionError (none divides by zero: the divisors are guarded). The sensor's serial kernel at
# N = 256 took 88.7-89.4 us, against 94.1 us with the checks (alternately twice, measured on the
# 2-core AMD machine).
@njit(cache=True, error_model="numpy")
def _around(x: float, y: float) -> float:
    """A pseudo-angle of the direction ``(x, y)``, in [0, 4): increasing with the angle
    counter-clockwise from +x, 1 per quarter turn, without a trigonometric function; NaN at 0.

    Each quarter is ``base + num / den``, chosen before one division (the compiler vectorizes the
    choice, where it computed all four divisions for a loop over points: the serial rays kernel
    at N = 256 took 267 ns a car against 277, alternately three times; the same values, but 0.0
    where a direction straight along +x from below, y = -0.0, gave -0.0)."""
    if y >= 0.0:
        base, num, den = (0.0, y, x + y) if x >= 0.0 else (1.0, -x, y - x)
    else:
        base, num, den = (2.0, -y, -x - y) if x < 0.0 else (3.0, x, x - y)
    return base + num / den if den != 0.0 else math.nan  # den is 0 only at x = y = 0


_ANGLE_SLACK = 1e-9  # pseudo-angle margin: rays at a segment's ends are tested too


@njit(cache=True, error_model="numpy")
def _rays_range(lo, hi, state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count, out):
    """The rays of cars ``lo .. hi - 1`` into ``out[lo:hi]``.

    Per car, first the edge points: the table rows of the samples (every ~1 m) are read into
    ``samples`` (without clipping the rows to the road's ends where none is past them: the
    serial kernel at N = 256 took 253-260 ns a car against 268-282, alternately three times),
    then each gives the left and the right point, relative to the car, and the
    pseudo-angle each is seen at (``_around``, 0 straight behind), in a loop the compiler
    vectorizes (the serial kernel at N = 256 took 75.2-75.7 us, against 78.9-79.4 us reading the
    rows in the same loop, alternately three times on the 2-core AMD machine). Then, side by
    side, each edge segment is tested against the rays within the angles it spans (rays sorted by
    pseudo-angle). A side whose angles only rise or only fall (three sides in four on the default
    roads) finds those rays with one pointer per side (``_rays_monotone``); any other side walks
    segment by segment: consecutive segments span neighbouring angles, so ``first`` walks a step
    or two, and a segment seen across the back, or through the car, is tested against every ray.
    Both test exactly the same segments against the same rays (the serial kernel at N = 256:
    297-300 ns a car against 323-325, alternately three times; observations bit-identical). The loop over
    cars is this function's own, for the serial and the parallel kernel alike (see
    ``envs.fleet._step_range``)."""
    rays = len(ray_cos)
    samples = np.empty((4, count + 1))  # the rows' px, py, vx, vy
    points = np.empty((2, 3, count + 1))  # per side: x, y relative to the car [m], pseudo-angle
    ray_x = np.empty(rays)  # the rays' directions in the world frame, in pseudo-angle order
    ray_y = np.empty(rays)
    best = np.empty(rays)  # the nearest crossing so far of each, in that order
    cap = np.float32(ray_range)  # as the float32 observation holds it
    for i in range(lo, hi):
        if i + 1 < hi:
            _prefetch_edges(i + 1, track, slots, atlas, behind)
        x, y, heading = state[i, X], state[i, Y], state[i, HEADING]
        c, sn = math.cos(heading), math.sin(heading)
        road = slots[i]
        for j in range(rays):
            r = ray_order[j]
            ray_x[j] = c * ray_cos[r] - sn * ray_sin[r]
            ray_y[j] = sn * ray_cos[r] + c * ray_sin[r]
            best[j] = cap
        stride = max(math.floor(1.0 / road.spacing + 0.5), 1)  # edge points every ~1 m
        j0 = edge_start(road, track[i, S] - behind)
        # unit normal to the left of each sample's segment: (-uy, ux), with u = v * spacing
        offset = road.half_width * road.spacing
        if j0 >= 0 and j0 + stride * count <= road.look_hi + 1:  # no sample past the road's ends
            first_row = road.offset + j0
            for k in range(count + 1):
                row = first_row + stride * k
                samples[PX, k], samples[PY, k] = atlas[row, PX], atlas[row, PY]
                samples[VX, k], samples[VY, k] = atlas[row, VX], atlas[row, VY]
        else:  # samples past an open road's ends are held at its ends
            for k in range(count + 1):
                row = road.offset + min(max(j0 + stride * k, 0), road.look_hi + 1)
                for column in range(4):  # PX, PY, VX, VY
                    samples[column, k] = atlas[row, column]
        for side in range(2):
            side_offset = offset if side == 0 else -offset  # the left edge, then the right
            for k in range(count + 1):
                x1 = samples[PX, k] - side_offset * samples[VY, k] - x
                y1 = samples[PY, k] + side_offset * samples[VX, k] - y
                points[side, 0, k], points[side, 1, k] = x1, y1
                points[side, 2, k] = _around(-(c * x1 + sn * y1), -(c * y1 - sn * x1))
        for side in range(2):
            rising = falling = 0
            for k in range(1, count + 1):
                rising += points[side, 2, k] >= points[side, 2, k - 1]
                falling += points[side, 2, k] <= points[side, 2, k - 1]
            span = abs(points[side, 2, count] - points[side, 2, 0])  # each segment's span is at most this
            if (rising == count or falling == count) and span < 2.0 - _ANGLE_SLACK:
                _rays_monotone(points, side, count, falling == count, ray_x, ray_y, ray_at, best)
                continue
            first = 0  # the first ray (in pseudo-angle order) at or above the last segment's angles
            for k in range(1, count + 1):
                x0, y0, seen0 = points[side, 0, k - 1], points[side, 1, k - 1], points[side, 2, k - 1]
                x1, y1, seen1 = points[side, 0, k], points[side, 1, k], points[side, 2, k]
                lo_angle, hi_angle = min(seen0, seen1), max(seen0, seen1)
                if hi_angle - lo_angle < 2.0 - _ANGLE_SLACK:  # False for NaN too
                    lo_angle, hi_angle = lo_angle - _ANGLE_SLACK, hi_angle + _ANGLE_SLACK
                    while first > 0 and ray_at[first - 1] >= lo_angle:
                        first -= 1
                    while first < rays and ray_at[first] < lo_angle:
                        first += 1
                    j = first
                else:
                    j, hi_angle = 0, 5.0
                while j < rays and ray_at[j] <= hi_angle:
                    t = _crossing(ray_x[j], ray_y[j], x0, y0, x1, y1)
                    if 0.0 < t < best[j]:
                        best[j] = t
                    j += 1
        for j in range(rays):
            # float32: rounding is monotonic, so the rounded minimum is the minimum of the rounded
            out[i, ray_order[j]] = best[j]


@njit(cache=True, inline="always", error_model="numpy")
def _rays_monotone(points, side, count, falling, ray_x, ray_y, ray_at, best):
    """The rays' crossings with one side whose pseudo-angles ``points[side, 2]`` only fall (or
    only rise) and span less than half a turn: each ray is tested against exactly the segments
    whose angles (with the slack) hold it, as in the general walk, found by one pointer moving
    along the side as the rays' angles (in their order, or backwards for a falling side) move
    along it, until they pass the side's far end (the serial rays kernel at N = 256: 236-237 ns
    a car, against 252-253 walking the pointer to the end for them, alternately three times)."""
    rays = len(ray_at)
    start = 1  # the first segment whose far end is within the slack of the ray
    if falling:
        below = points[side, 2, count] - _ANGLE_SLACK  # rays below this meet no segment of the side
        for j in range(rays - 1, -1, -1):
            r = ray_at[j]
            if r < below:
                break  # (without walking the pointer to the side's end for them)
            while start <= count and points[side, 2, start] - _ANGLE_SLACK > r:
                start += 1
            m = start
            while m <= count and r <= points[side, 2, m - 1] + _ANGLE_SLACK:
                x0, y0, x1, y1 = points[side, 0, m - 1], points[side, 1, m - 1], points[side, 0, m], points[side, 1, m]
                t = _crossing(ray_x[j], ray_y[j], x0, y0, x1, y1)
                if 0.0 < t < best[j]:
                    best[j] = t
                m += 1
    else:
        above = points[side, 2, count] + _ANGLE_SLACK  # rays above this meet no segment of the side
        for j in range(rays):
            r = ray_at[j]
            if r > above:
                break
            while start <= count and points[side, 2, start] + _ANGLE_SLACK < r:
                start += 1
            m = start
            while m <= count and points[side, 2, m - 1] - _ANGLE_SLACK <= r:
                x0, y0, x1, y1 = points[side, 0, m - 1], points[side, 1, m - 1], points[side, 0, m], points[side, 1, m]
                t = _crossing(ray_x[j], ray_y[j], x0, y0, x1, y1)
                if 0.0 < t < best[j]:
                    best[j] = t
                m += 1


@njit(cache=True, inline="always", error_model="numpy")
def _crossing(rx, ry, x0, y0, x1, y1):
    """How far along the ray ``(rx, ry)`` from the car its line crosses the segment from
    ``(x0, y0)`` to ``(x1, y1)`` (relative to the car); infinity if it does not."""
    # cross(ray, point): the side of the ray's line each end lies on; a sign change means the
    # segment crosses the line, at `u` along it
    was = rx * y0 - ry * x0
    now = rx * y1 - ry * x1
    if was * now <= 0.0 and was != now:
        u = was / (was - now)
        return (x0 + u * (x1 - x0)) * rx + (y0 + u * (y1 - y0)) * ry
    return math.inf


@njit(cache=True, inline="always")
def _prefetch_edges(i, track, slots, atlas, behind):
    """Start fetching the first table rows car ``i``'s rays read (the rest follow in order)."""
    road = slots[i]
    first = road.offset + min(max(edge_start(road, track[i, S] - behind), 0), road.look_hi + 1)
    prefetch_row(atlas, first)
    prefetch_row(atlas, first + 2)


@njit(cache=True)
def _rays(state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count, out):
    _rays_range(
        0,
        state.shape[0],
        state,
        track,
        slots,
        atlas,
        ray_cos,
        ray_sin,
        ray_at,
        ray_order,
        ray_range,
        behind,
        count,
        out,
    )


@njit(cache=True, parallel=True)
def _rays_parallel(
    state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count, out, parts
):
    n = state.shape[0]
    for part in prange(parts):  # a range of cars per thread
        _rays_range(
            part * n // parts,
            (part + 1) * n // parts,
            state,
            track,
            slots,
            atlas,
            ray_cos,
            ray_sin,
            ray_at,
            ray_order,
            ray_range,
            behind,
            count,
            out,
        )


class RaySensor:
    """Distances to the road edges along fixed angles, for N cars: the nearest crossing of each ray
    with the edge segments (about 1 m long) from 5 m behind the car to 5 m past the ray range.
    Each segment is tested against the rays within the angles it spans as seen from the car
    (a binary search over the rays sorted by pseudo-angle), not against all of them."""

    BEHIND = 5.0  # [m] of road behind the car searched for edges
    work = 16  # one car's rays cost about 16 car-steps of the step kernel (1.6 us against 0.1 us
    # at N = 256 on the 2-core machine), so the rays use the thread pool from parallel_from / 16 cars

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

    def arguments(self, roads: RoadBatch) -> tuple:
        """What :func:`_rays_range` takes after the cars' state, place on the road and road
        records, and before ``out``."""
        return (
            roads.atlas,
            self.ray_cos,
            self.ray_sin,
            self.ray_at,
            self.ray_order,
            self.range,
            self.BEHIND,
            self.count,
        )

    def __call__(self, state, track, roads: RoadBatch, parallel_from: int) -> np.ndarray:
        out = np.empty((len(state), self.shape[0]), dtype=np.float32)
        args = (state, track, roads.kernel_slots, *self.arguments(roads), out)
        if len(state) * self.work >= parallel_from:
            _rays_parallel(*args, threads())
        else:
            _rays(*args)
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
        # one car's 64x64 image costs about 64 car-steps of the step kernel (9 us at N = 256 on the
        # 2-core machine), so images use the thread pool from parallel_from / 64 cars at that size
        self.work = max(1, self.size * self.size // 64)

    def __call__(self, state, track, roads: RoadBatch, parallel_from: int) -> np.ndarray:
        out = np.zeros((len(state),) + self.shape, dtype=np.uint8)
        kernel = _image_parallel if len(state) * self.work >= parallel_from else _image
        kernel(
            state,
            track,
            roads.kernel_slots,
            roads.atlas,
            self.size,
            self.mpp,
            self.behind,
            self.window_behind,
            self.count,
            out,
        )
        return out

    def noise_scale(self) -> float:
        return 25.0


SENSORS = {"features": FeatureSensor, "rays": RaySensor, "image": ImageSensor}


def make_sensor(config: RoadFollowConfig):
    if config.observation == "camera":
        from envs.camera import CameraSensor  # the dashcam's module (it imports this one's neighbours)

        return CameraSensor(config)
    return SENSORS[config.observation](config)
