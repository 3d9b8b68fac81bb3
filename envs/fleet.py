"""N cars on N roads: the simulation both environments share, as compiled kernels.

The single environment is a fleet of one, the vector environment a fleet of N; both call the
same kernels, so car ``i`` of one can never disagree with the other. The fleet owns the car
states, their roads, their place on the road, observations, named rewards, termination, the
per-step info and the per-car step counters; choosing episodes (``envs.episode``) and the
Gymnasium bookkeeping belong to the environments.

A step (:meth:`Fleet.step`) runs one kernel, the loop over cars of :func:`_step_range`: the
bicycle model (``envs.car``), the local projection onto the road (``envs.road_batch``), the
reward parts, termination, truncation and the car's column of the *step table*, a
``[len(STEP_COLUMNS), N]`` float64 array holding every info value (``INFO_KEYS`` but the road
label), the reward and the terminated and truncated flags; with the ``features`` sensor the same
kernel then writes the observations of the same range of cars in a second loop
(``envs.observations._features_range``), with ``rays`` the same threads read the rays of the
cars they stepped (:func:`_step_rays_parallel`); the image sensors run their own kernel after it.
Resets place cars with :func:`_place_cars`; an autoreset onto a road the fleet has stored draws,
picks and places the car in one kernel (:meth:`Fleet.restart`, :func:`_restart_cars`, from the
cars' generators through ``envs.seeding.GeneratorTable``). :func:`info_arrays` and
:func:`car_info` turn that table into the vector and single env's ``info``; both are driven by
``INFO_KEYS``, the one list of what an info holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from envs.car import (
    CAR_FIELDS,
    HEADING,
    LATERAL,
    SPEED,
    STATE_SIZE,
    STEER,
    YAW_RATE,
    X,
    Y,
    bicycle_step,
    cruise_accel,
    single_track_step,
    wrap_angle,
)
from envs.config import RoadFollowConfig
from envs.episode import UNIFORMS_PER_EPISODE, episode_numbers, episode_table
from envs.jit import PARALLEL_FROM, compiled, njit, object_array, prange, prefetch_row, records_for_kernels, threads
from envs.observations import FeatureSensor, RaySensor, _features_range, _rays_range, make_sensor
from envs.road import Road
from envs.road_batch import (
    CTE,
    DISTANCE,
    HEADING_ERROR,
    RoadBatch,
    S,
    copy_record,
    project_car,
    road_columns,
    segment_foot,
)
from envs.seeding import GeneratorTable, next_double

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
    "slip_angle",
    "lateral_accel",
    "sliding",
    "friction",
)
"""The keys of every ``info``, at reset and at every step: cross-track error [m], heading error
[rad], progress (fraction of the road) and progress [m], the off-road and finished flags, speed
[m/s], wheel angle [rad], the road's name, the three named reward parts, then the body slip angle
[rad] (the angle between where the car points and where its centre of gravity moves), the lateral
acceleration [m/s^2] (both 0 for the kinematic car), whether a tyre slid during the step, and the
friction coefficient of the surface under the car."""
FLAG_KEYS = ("off_road", "finished", "sliding")  # the boolean ones
STEP_COLUMNS = (
    tuple(k for k in INFO_KEYS if k != "road" and k not in FLAG_KEYS)
    + ("reward",)
    + FLAG_KEYS
    + ("terminated", "truncated")
)
"""Rows of the step table :meth:`Fleet.step` returns: the info's numbers, the reward, then every
flag, side by side (so that the vector env compares one slice of rows to 0)."""
_ROW = {key: row for row, key in enumerate(STEP_COLUMNS)}
# the table's rows as constants the kernel compiles in
ROW_CTE, ROW_HEADING_ERROR, ROW_PROGRESS, ROW_PROGRESS_M = (_ROW[k] for k in INFO_KEYS[:4])
ROW_OFF_ROAD, ROW_FINISHED, ROW_SPEED, ROW_STEER = (_ROW[k] for k in INFO_KEYS[4:8])
ROW_REWARD_PROGRESS, ROW_REWARD_CENTERING, ROW_REWARD_OFF_ROAD = (_ROW[k] for k in INFO_KEYS[9:12])
ROW_SLIP_ANGLE, ROW_LATERAL_ACCEL, ROW_SLIDING, ROW_FRICTION = (_ROW[k] for k in INFO_KEYS[12:16])
ROW_REWARD, ROW_TERMINATED, ROW_TRUNCATED = (_ROW[k] for k in ("reward", "terminated", "truncated"))
_FIRST_FLAG = _ROW[FLAG_KEYS[0]]  # the flags' rows: FLAG_KEYS, terminated, truncated

MAX_PICKS = 1 << 22
"""Most roads (families x pool size) whose stored record a fleet remembers by pick, in a
``[families, pool]`` int64 table (32 MB); a larger pool starts every episode the long way."""

PARAMS_RECORD = np.dtype(
    [
        ("dt", np.float64),  # [s]
        ("target_speed", np.float64),  # [m/s] of the cruise controller
        ("throttle", np.bool_),  # actions are [steer, accel] (else [steer] and the cruise controller)
        ("steering_bias", np.float64),  # [rad]
        ("off_road_margin", np.float64),  # [m]
        ("progress_reward", np.float64),  # per metre
        ("centering_penalty", np.float64),
        ("off_road_penalty", np.float64),
        ("max_steps", np.int64),  # truncation after this many steps; 0: never
        ("feature_cte_limit", np.float64),  # [m] the features' bounds (``FeatureSensor``; 0 for other sensors)
        ("feature_reach", np.float64),  # [m]
    ]
    + CAR_FIELDS,
    align=True,
)
"""What the step kernel reads: the world's settings, then the car's parameters (``envs.car.CAR_FIELDS``;
after the world's, so that numba compiles the car's functions for this record rather than taking it
as an experimental subtype of ``CAR_RECORD``)."""


def params_record(config: RoadFollowConfig, max_steps: int | None) -> np.recarray:
    """``config`` as a one-element record array of ``PARAMS_RECORD``."""
    rec = np.rec.array(np.zeros(1, dtype=PARAMS_RECORD))
    car = config.car.record()
    for name, _ in CAR_FIELDS:
        rec[name] = car[name]
    rec.steering_bias = config.disturbances.steering_bias
    rec.max_steps = max_steps or 0
    for name in (
        "dt",
        "target_speed",
        "throttle",
        "off_road_margin",
        "progress_reward",
        "centering_penalty",
        "off_road_penalty",
    ):
        rec[name] = getattr(config, name)
    return rec


# ------------------------------------------------------------------------------- kernels
PREFETCH_AHEAD = 2  # cars: the step of car i asks for the road rows of car i + 2 (1 and 4 ran no faster)


@njit(cache=True, inline="always")
def _prefetch_car(i, seg, slots, road_rows):
    """Start fetching the road row car ``i``'s projection starts from (the segment it projected
    onto last step): one cache line, ``road_rows`` being aligned to lines. The look-ahead's rows
    are not prefetched: asking for them here cost more than it saved (serial step kernel at
    N = 4,096: 342 us without, 373 us with; measured on the 2-core AMD machine, where prefetching
    the road row changes nothing either, 336-338 us with or without; on the Intel machine a third
    of the kernel waited on these rows)."""
    prefetch_row(road_rows, slots[i].offset + seg[i])


@njit(cache=True)
def _step_range(
    lo,
    hi,
    state,
    track,
    seg,
    steps,
    slots,
    road_rows,
    params,
    actions,
    push,
    frozen,
    table,
    lookup,
    lookahead,
    preview,
    features,
    check,
):
    """Step cars ``lo .. hi - 1``; a car in ``frozen`` (just reset) stays and reports its start.
    With ``check``, first look at their actions: False, having changed nothing, if one is NaN or
    infinite (else True).
    ``params`` is a one-element record array of ``PARAMS_RECORD``: the car's and the world's
    settings; ``road_rows`` is ``RoadBatch.road_rows``. With a non-empty ``lookahead`` the cars'
    ``features`` observations are then written by ``envs.observations._features_range`` over the
    same range of cars, from the cosine and sine of each new heading the loop keeps.

    The loop over cars is this function's own, for the serial and the parallel kernel alike
    (the parallel one calls it on a range of cars per thread): numba inlining a per-car function
    into a loop keeps the function's arrays reference-counted once a car, which cost 150 ns a car
    here (1.2 ms against 0.55 ms for 4,096 cars, measured on the 2-core machine)."""
    if check and not _finite(actions, lo, hi):
        return False
    atlas, headings, curvatures, friction = road_columns(road_rows)
    cos_sin = np.empty((hi - lo, 2))
    for i in range(lo, hi):
        if i + PREFETCH_AHEAD < hi:
            _prefetch_car(i + PREFETCH_AHEAD, seg, slots, road_rows)
        road = slots[i]
        car = world = params[0]
        reward_progress = reward_centering = reward_off_road = lateral_accel = 0.0
        off_road = finished = truncated = slid = False
        mu = friction[road.offset + seg[i]]  # the surface under the car
        if frozen[i]:
            cos_h, sin_h = math.cos(state[i, HEADING]), math.sin(state[i, HEADING])
        else:
            steer_command = min(max(actions[i, 0], -1.0), 1.0)
            if world.throttle:
                accel = min(max(actions[i, 1], -1.0), 1.0) * car.max_accel
            else:
                accel = cruise_accel(state[i, SPEED], world.target_speed, car)
            if car.dynamic:
                x, y, heading, speed, lateral, yaw_rate, steer, cos_h, sin_h, lateral_accel, slid = single_track_step(
                    state[i, X],
                    state[i, Y],
                    state[i, HEADING],
                    state[i, SPEED],
                    state[i, LATERAL],
                    state[i, YAW_RATE],
                    state[i, STEER],
                    steer_command,
                    accel,
                    car,
                    world.dt,
                    world.steering_bias,
                    push[i, 0],
                    push[i, 1],
                    mu,
                )
                state[i, LATERAL], state[i, YAW_RATE] = lateral, yaw_rate
            else:
                x, y, heading, speed, steer, cos_h, sin_h = bicycle_step(
                    state[i, X],
                    state[i, Y],
                    state[i, HEADING],
                    state[i, SPEED],
                    state[i, STEER],
                    steer_command,
                    accel,
                    car,
                    world.dt,
                    world.steering_bias,
                    push[i, 0],
                    push[i, 1],
                )
            seg[i], s, cte, seg_heading = project_car(atlas, headings, road, x, y, seg[i])
            progress = s - track[i, S]
            if road.closed:  # across the start line of a loop
                progress -= road.length * math.floor(progress / road.length + 0.5)
            state[i, X], state[i, Y], state[i, HEADING], state[i, SPEED], state[i, STEER] = x, y, heading, speed, steer
            track[i, S], track[i, CTE] = s, cte
            track[i, HEADING_ERROR] = wrap_angle(heading - seg_heading)
            track[i, DISTANCE] += progress
            off_road = abs(cte) > road.half_width + world.off_road_margin
            finished = track[i, DISTANCE] >= road.length - 1e-6
            ratio = cte / road.half_width
            reward_progress = world.progress_reward * progress
            reward_centering = -world.centering_penalty * ratio * ratio
            reward_off_road = -world.off_road_penalty * off_road
            steps[i] += 1
            truncated = world.max_steps > 0 and steps[i] >= world.max_steps
        table[ROW_CTE, i] = track[i, CTE]
        table[ROW_HEADING_ERROR, i] = track[i, HEADING_ERROR]
        table[ROW_PROGRESS, i] = min(track[i, DISTANCE] / road.length, 1.0)
        table[ROW_PROGRESS_M, i] = track[i, DISTANCE]
        table[ROW_OFF_ROAD, i] = off_road
        table[ROW_FINISHED, i] = finished
        table[ROW_SPEED, i] = state[i, SPEED]
        table[ROW_STEER, i] = state[i, STEER]
        table[ROW_REWARD_PROGRESS, i] = reward_progress
        table[ROW_REWARD_CENTERING, i] = reward_centering
        table[ROW_REWARD_OFF_ROAD, i] = reward_off_road
        table[ROW_REWARD, i] = reward_progress + reward_centering + reward_off_road
        table[ROW_TERMINATED, i] = off_road or finished
        table[ROW_TRUNCATED, i] = truncated
        table[ROW_SLIP_ANGLE, i] = math.atan2(state[i, LATERAL], state[i, SPEED]) if car.dynamic else 0.0
        table[ROW_LATERAL_ACCEL, i] = lateral_accel
        table[ROW_SLIDING, i] = slid
        table[ROW_FRICTION, i] = mu
        cos_sin[i - lo, 0], cos_sin[i - lo, 1] = cos_h, sin_h
    if len(lookahead) > 0:
        world = params[0]
        _features_range(
            lo,
            hi,
            state,
            track,
            slots,
            lookup,
            lookahead,
            world.feature_cte_limit,
            world.feature_reach,
            preview,
            curvatures,
            friction,
            cos_sin,
            features,
        )
    return True


@njit(cache=True, inline="always")
def _finite(actions, lo, hi) -> bool:
    for i in range(lo, hi):
        for a in range(actions.shape[1]):
            if not math.isfinite(actions[i, a]):
                return False
    return True


# The step kernel, serial and over numba's thread pool (a parallel kernel takes twice as long to
# compile, so small fleets never pay for it): each returns False, having changed nothing, if an
# action is NaN or infinite. The serial kernels leave the check to _step_range: checked here,
# before the call, it cost 300 ns a call (1.15 us against 0.85 us for one car; measured on the
# 2-core AMD machine, where the compiled code differed in a way not traced down).
@njit(cache=True)
def _step_cars(
    state,
    track,
    seg,
    steps,
    slots,
    road_rows,
    params,
    actions,
    push,
    frozen,
    table,
    lookup,
    lookahead,
    preview,
    features,
):
    return _step_range(
        0,
        state.shape[0],
        state,
        track,
        seg,
        steps,
        slots,
        road_rows,
        params,
        actions,
        push,
        frozen,
        table,
        lookup,
        lookahead,
        preview,
        features,
        True,
    )


@njit(cache=True, parallel=True)
def _step_cars_parallel(
    state,
    track,
    seg,
    steps,
    slots,
    road_rows,
    params,
    actions,
    push,
    frozen,
    table,
    lookup,
    lookahead,
    preview,
    features,
    parts,
):
    n = state.shape[0]
    if not _finite(actions, 0, n):
        return False
    for part in prange(parts):  # a range of cars per thread
        _step_range(
            part * n // parts,
            (part + 1) * n // parts,
            state,
            track,
            seg,
            steps,
            slots,
            road_rows,
            params,
            actions,
            push,
            frozen,
            table,
            lookup,
            lookahead,
            preview,
            features,
            False,
        )
    return True


# The step kernel followed by the rays of the same cars, serially and over the thread pool: each
# thread reads the rays of the cars it has just stepped, in one parallel region where two kernels
# took two (the rays step at N = 256: median 79.9 us against 82.1, six runs each, alternately).
@njit(cache=True)
def _step_rays(
    state,
    track,
    seg,
    steps,
    slots,
    road_rows,
    params,
    actions,
    push,
    frozen,
    table,
    lookup,
    lookahead,
    preview,
    features,
    atlas,
    ray_cos,
    ray_sin,
    ray_at,
    ray_order,
    ray_range,
    behind,
    count,
    rays,
):
    n = state.shape[0]
    if not _step_range(
        0,
        n,
        state,
        track,
        seg,
        steps,
        slots,
        road_rows,
        params,
        actions,
        push,
        frozen,
        table,
        lookup,
        lookahead,
        preview,
        features,
        True,
    ):
        return False
    _rays_range(0, n, state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count, rays)
    return True


@njit(cache=True, parallel=True)
def _step_rays_parallel(
    state,
    track,
    seg,
    steps,
    slots,
    road_rows,
    params,
    actions,
    push,
    frozen,
    table,
    lookup,
    lookahead,
    preview,
    features,
    atlas,
    ray_cos,
    ray_sin,
    ray_at,
    ray_order,
    ray_range,
    behind,
    count,
    rays,
    parts,
):
    n = state.shape[0]
    if not _finite(actions, 0, n):
        return False
    for part in prange(parts):  # a range of cars per thread: stepped, then their rays read
        lo, hi = part * n // parts, (part + 1) * n // parts
        _step_range(
            lo,
            hi,
            state,
            track,
            seg,
            steps,
            slots,
            road_rows,
            params,
            actions,
            push,
            frozen,
            table,
            lookup,
            lookahead,
            preview,
            features,
            False,
        )
        _rays_range(
            lo, hi, state, track, slots, atlas, ray_cos, ray_sin, ray_at, ray_order, ray_range, behind, count, rays
        )
    return True


@njit(cache=True, inline="always")
def _place_car(
    i,
    entry,
    lateral,
    heading_offset,
    target_speed,
    records,
    slot_words,
    state,
    track,
    seg,
    steps,
    slots,
    atlas,
    headings,
):
    """Give car ``i`` the road record ``entry`` (``envs.road_batch.copy_record``) and put it at
    the road's start, ``lateral`` [m] to the left and turned by ``heading_offset`` [rad]: it
    projects onto the road's first segment."""
    copy_record(records, slot_words, i, entry)
    road = slots[i]
    cos0, sin0 = math.cos(road.heading0), math.sin(road.heading0)
    x = road.x0 - lateral * sin0
    y = road.y0 + lateral * cos0
    heading = wrap_angle(road.heading0 + heading_offset)
    state[i, X], state[i, Y], state[i, HEADING], state[i, SPEED], state[i, STEER] = x, y, heading, target_speed, 0.0
    state[i, LATERAL], state[i, YAW_RATE] = 0.0, 0.0  # wheels straight: no slip, no turn
    s, cte, seg_heading = segment_foot(atlas, headings, road, 0, x, y)
    seg[i] = 0
    steps[i] = 0
    track[i, S], track[i, DISTANCE], track[i, CTE] = s, 0.0, cte
    track[i, HEADING_ERROR] = wrap_angle(heading - seg_heading)


@njit(cache=True)
def _place_cars(
    cars,
    entries,
    lateral,
    heading_offset,
    target_speed,
    records,
    slot_words,
    state,
    track,
    seg,
    steps,
    slots,
    atlas,
    headings,
):
    """:func:`_place_car` for ``cars[M]`` with ``entries[M]``, ``lateral[M]``, ``heading_offset[M]``."""
    for k in range(len(cars)):
        _place_car(
            cars[k],
            entries[k],
            lateral[k],
            heading_offset[k],
            target_speed,
            records,
            slot_words,
            state,
            track,
            seg,
            steps,
            slots,
            atlas,
            headings,
        )


@njit(cache=True)
def _restart_cars(
    cars,
    functions,
    generator_states,
    num_families,
    pool,
    num_roads,
    lateral_offset,
    heading_offset,
    picks,
    uniforms,
    numbers,
    offsets,
    entries,
    target_speed,
    records,
    slot_words,
    state,
    track,
    seg,
    steps,
    slots,
    atlas,
    headings,
):
    """New episodes for ``cars[M]`` (no options): each draws its uniforms from its generator
    (``envs.seeding.GeneratorTable``) into ``uniforms[M]``, picks its road and start
    (``envs.episode.episode_numbers``: ``numbers[M, 3]`` family, position in the pool and road
    index, ``offsets[2, M]`` lateral and heading offsets, as ``envs.episode.episode_table`` gives
    them) and, if ``picks[family, position]`` holds the record of that road (stored before), is
    placed on it; ``entries[M]`` is that record or -1, for the caller to store the road first.
    Returns how many cars were not placed."""
    missed = 0
    for m in range(len(cars)):
        i = cars[m]
        for k in range(uniforms.shape[1]):
            uniforms[m, k] = next_double(functions[i], generator_states[i])
        family, position, index, lateral, heading = episode_numbers(
            uniforms, m, num_families, pool, num_roads, lateral_offset, heading_offset
        )
        numbers[m, 0], numbers[m, 1], numbers[m, 2] = family, position, index
        offsets[0, m], offsets[1, m] = lateral, heading
        entry = picks[family, position]
        entries[m] = entry
        if entry < 0:
            missed += 1
        else:
            _place_car(
                i,
                entry,
                lateral,
                heading,
                target_speed,
                records,
                slot_words,
                state,
                track,
                seg,
                steps,
                slots,
                atlas,
                headings,
            )
    return missed


def step_table(num_cars: int) -> np.ndarray:
    """An empty step table ``[len(STEP_COLUMNS), num_cars]`` whose rows lie a little more than a
    multiple of 4 KiB apart: the kernel writes a car's 14 values down a column, and stores to
    addresses exactly 4 KiB apart stall one another (59 ns a car for rows 32 KiB apart at
    N = 4,096, against 6 ns written row by row, measured on the 2-core machine)."""
    stride = num_cars + ((8 - num_cars) % 16 or 16)  # stride % 16 == 8: rows 64 bytes (times odd) apart mod 4 KiB
    return np.empty((len(STEP_COLUMNS), stride))[:, :num_cars]


# --------------------------------------------------------------------------------- fleet
class Fleet:
    """``num_cars`` cars, each on its own road, stepped by the compiled kernels.

    Attributes:
        state: ``[N, 7]`` car states (``envs.car``: x, y [m], heading [rad], speed [m/s], steer [rad],
            lateral speed [m/s], yaw rate [rad/s]).
        track: ``[N, 4]`` each car's place on its road (``envs.road_batch.TRACK_COLUMNS``); its
            columns are also :attr:`s`, :attr:`distance`, :attr:`cte`, :attr:`heading_error`.
        seg: ``[N]`` the road segment each car projects onto.
        steps: ``[N]`` steps of each car's episode.
        roads: the cars' roads (:class:`envs.road_batch.RoadBatch`).
        parallel_from: cars from which the kernels use numba's thread pool (``envs.jit``).
    """

    def __init__(self, config: RoadFollowConfig, num_cars: int, max_steps: int | None = None):
        """``max_steps``: truncate each car's episode after this many steps (None: never)."""
        self.config = config
        self.num_cars = num_cars
        self.params = config.car
        max_move = int(math.ceil(config.max_travel_per_step / 0.25)) + 2
        lookahead = config.lookahead_distances if config.observation == "features" else ()
        self.roads = RoadBatch(
            num_cars,
            max_move=max_move,
            max_travel=config.max_travel_per_step,
            lookahead=lookahead,
            expected_roads=len(config.families) * (len(config.road_pool) or config.num_roads),
        )
        self.sensor = make_sensor(config)
        self.state = np.zeros((num_cars, STATE_SIZE))
        self.track = np.zeros((num_cars, 4))
        self.seg = np.zeros(num_cars, dtype=np.int64)
        self.steps = np.zeros(num_cars, dtype=np.int64)
        self.road_labels = np.empty(num_cars, dtype=object)
        self.wind = np.zeros((num_cars, 2))  # [m/s] constant crosswind of the episode, world frame
        self.rngs = np.full(num_cars, None, dtype=object)  # each car's np.random.Generator
        self.generators = GeneratorTable(num_cars)  # the rngs as kernels draw from them
        self._table_changes = -1  # generators.changes when its rows were last made self.rngs
        self._picks: np.ndarray | None = None  # [families, pool] record of each pick's road, -1: not stored
        self._picks_layout = -1  # the roads' layout the picks' records are numbered in
        self.parallel_from = PARALLEL_FROM
        self._params = records_for_kernels(params_record(config, max_steps))
        self._moving = np.zeros(num_cars, dtype=bool)  # the `frozen` mask of a step where all move
        self.actions = np.zeros((num_cars, config.action_size))  # what the step kernel reads the actions from
        self._kernels: dict = {}  # the step (by threaded) and restart kernels compiled for the fleet's arrays
        self._no_cars = (np.zeros(0, np.int64), np.zeros((0, 3), np.int64), np.zeros((2, 0)))  # restart's
        self._noise_scale = np.asarray(self.sensor.noise_scale(), dtype=np.float64)
        self._no_gusts = config.disturbances.crosswind_gust == 0.0
        self._no_noise = config.disturbances.observation_noise == 0.0
        # what the step kernel takes for the features it writes (empty when the sensor is another)
        self._sensor_resets = hasattr(self.sensor, "reset_cars")  # a sensor with per-episode state
        self._fused = isinstance(self.sensor, FeatureSensor)
        self._rays = isinstance(self.sensor, RaySensor)  # read by the step's own kernel too (_step_rays)
        self._sensor_work = 0 if self._fused else self.sensor.work  # car-steps of work one car's reading costs
        self._obs_shape = (num_cars,) + self.sensor.shape
        self._lookahead = self.sensor.lookahead if self._fused else np.zeros(0)
        self._preview = self.sensor.preview if self._fused else np.zeros(0)
        self._no_features = np.zeros((0, 0), dtype=np.float32)
        self._params[0]["feature_cte_limit"] = getattr(self.sensor, "cte_limit", 0.0)
        self._params[0]["feature_reach"] = getattr(self.sensor, "reach", 0.0)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_kernels"] = {}  # machine code: found again in the process that unpickles
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._table_changes = -1  # the generators' addresses are made again in this process (restart)

    @property
    def max_steps(self) -> int | None:
        """Steps after which each car's episode is truncated (None: never), as the kernel reads it."""
        return int(self._params[0]["max_steps"]) or None

    @max_steps.setter
    def max_steps(self, steps: int | None) -> None:
        if steps is not None and not (isinstance(steps, (int, np.integer)) and steps >= 1):
            raise ValueError(f"max_episode_steps must be a positive integer or None, got {steps!r}")
        self._params[0]["max_steps"] = steps or 0

    @property
    def s(self) -> np.ndarray:
        """``[N]`` arc length of each car's projection onto its road [m], within the first lap."""
        return self.track[:, S]

    @property
    def distance(self) -> np.ndarray:
        """``[N]`` progress along the road since the episode's start [m]."""
        return self.track[:, DISTANCE]

    @property
    def cte(self) -> np.ndarray:
        """``[N]`` signed cross-track error [m], left of the direction of travel positive."""
        return self.track[:, CTE]

    @property
    def heading_error(self) -> np.ndarray:
        """``[N]`` heading minus the road's heading [rad]."""
        return self.track[:, HEADING_ERROR]

    # ---------------------------------------------------------------- reset
    def reset_cars(
        self,
        cars: np.ndarray,
        roads: list[Road],
        lateral: np.ndarray,
        heading_offset: np.ndarray,
        rngs: list[np.random.Generator] | None,
        picks: np.ndarray | None = None,
    ) -> None:
        """Place ``cars`` at the start of ``roads``, offset by ``lateral[M]`` [m] and ``heading_offset[M]`` [rad].

        ``rngs``: each car's generator from now on (None: the car's own, as after :meth:`restart`).
        ``picks``: ``[M, 2]`` the family and pool position each car's road was drawn as (the
        first two of :meth:`restart`'s numbers, or ``envs.episode.episode_picks``; -1 for a road
        the options chose), so that the next episode drawing it finds it stored."""
        cars = np.asarray(cars, dtype=np.int64)
        batch = self.roads
        # a fleet on the thread pool writes the rows of roads new to it over the pool too
        entries = batch.store(cars, roads, threads() if self._threaded() else 1)
        self._episode_state(cars, roads, rngs)
        _place_cars(
            cars,
            entries,
            np.asarray(lateral, dtype=np.float64),
            np.asarray(heading_offset, dtype=np.float64),
            float(self.config.target_speed),
            batch.records,
            batch.slot_words,
            self.state,
            self.track,
            self.seg,
            self.steps,
            batch.kernel_slots,
            batch.atlas,
            batch.headings,
        )
        if picks is not None:
            table = self._picks_table()
            if table is not None:
                for (family, position), entry in zip(picks.tolist(), entries.tolist()):
                    if family >= 0:  # a road the draw chose (not the options)
                        table[family, position] = entry

    def _threaded(self) -> bool:
        """Whether the fleet's kernels use numba's thread pool: from :attr:`parallel_from` cars,
        counting a car's sensor reading as the step-kernel car-steps it costs (``work``)."""
        return self.num_cars * max(1, self._sensor_work) >= self.parallel_from

    def _picks_table(self) -> np.ndarray | None:
        """The ``[families, pool]`` record of each pick's road (-1: not stored), emptied when
        storing renumbered the records; None where the pool is too large to remember."""
        config = self.config
        shape = (len(config.families), len(config.road_pool) or config.num_roads)
        if shape[0] * shape[1] > MAX_PICKS:
            return None
        if self._picks is None or self._picks_layout != self.roads.layout:  # records (re)numbered
            self._picks = np.full(shape, -1, dtype=np.int64)
            self._picks_layout = self.roads.layout
        return self._picks

    def restart(self, cars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """New episodes without options for ``cars``, drawn from their generators :attr:`rngs`
        (as ``draw_episodes`` draws them): the cars whose road was stored before are placed on it
        in one kernel. Returns the others, ``(cars[K], numbers[K, 3], offsets[2, K])`` (their
        ``envs.episode.episode_table``), for the caller to start on their roads through
        :meth:`reset_cars` (``rngs=None``, ``picks=numbers[:, :2]``)."""
        cars = np.ascontiguousarray(cars, dtype=np.int64)
        config = self.config
        if self.generators.changes != self._table_changes:  # rows made other generators' (or unpickled)
            self._sync_generators()
        functions, states = self.generators.table()  # the rows are self.rngs (_episode_state keeps them so)
        picks = self._picks_table()
        if functions is None or picks is None:  # no kernel, or too many to remember: all the long way
            uniforms = self.generators.uniforms(cars, self.rngs[cars], UNIFORMS_PER_EPISODE)
            return (cars, *episode_table(config, uniforms))
        m = len(cars)
        uniforms = np.empty((m, UNIFORMS_PER_EPISODE))
        numbers = np.empty((m, 3), dtype=np.int64)
        offsets = np.empty((2, m))
        entries = np.empty(m, dtype=np.int64)
        batch = self.roads
        args = (
            cars,
            functions,
            states,
            len(config.families),
            config.road_pool,
            config.num_roads,
            config.start_lateral_offset,
            config.start_heading_offset,
            picks,
            uniforms,
            numbers,
            offsets,
            entries,
            float(config.target_speed),
            batch.records,
            batch.slot_words,
            self.state,
            self.track,
            self.seg,
            self.steps,
            batch.kernel_slots,
            batch.atlas,
            batch.headings,
        )
        kernel = self._kernels.get("restart")  # its 23 arguments' types are the fleet's (see step)
        if kernel is None:
            kernel = self._kernels["restart"] = compiled(_restart_cars, args)
        missed = kernel(*args)
        if missed == 0:
            self._start_placed(cars, entries)
            return self._no_cars
        placed = entries >= 0
        self._start_placed(cars[placed], entries[placed])
        missing = ~placed
        return cars[missing], numbers[missing], offsets[:, missing]

    def _sync_generators(self) -> None:
        """Make the generator table's rows the cars' own generators again (after a caller drew
        other generators through it, or unpickling: addresses are per process)."""
        cars = np.flatnonzero([rng is not None for rng in self.rngs])
        self.generators.pointers(cars, self.rngs[cars])
        self._table_changes = self.generators.changes

    def _start_placed(self, cars: np.ndarray, entries: np.ndarray) -> None:
        """The rest of a new episode for ``cars`` that :func:`_restart_cars` placed on the stored roads ``entries``."""
        roads = self.roads.stored_roads[entries]
        self.roads.roads[cars] = roads
        self._episode_state(cars, roads, None, self.roads.stored_names[entries])

    def _episode_state(
        self, cars: np.ndarray, roads: Sequence[Road], rngs: Sequence[np.random.Generator] | None, names=None
    ) -> None:
        """What a new episode of ``cars`` on ``roads`` holds besides the car: its road's name
        (``names``, or read off the roads), its rng (None: the car's own, as it is), the sensor's
        per-episode state and the crosswind (the last two drawn from the rng, after the episode's
        uniforms). The generator table (``envs.seeding.GeneratorTable``) follows the rngs, so
        that :meth:`restart` draws from them without looking."""
        if rngs is not None:
            self.rngs[cars] = rngs = object_array(rngs)
            self.generators.pointers(cars, rngs)
            self._table_changes = self.generators.changes
        self.road_labels[cars] = [road.name for road in roads] if names is None else names
        crosswind = self.config.disturbances.crosswind
        if rngs is None and (self._sensor_resets or crosswind != 0.0):
            rngs = self.rngs[cars]
        if self._sensor_resets:  # a sensor with per-episode state (the camera's look)
            self.sensor.reset_cars(cars, rngs, self.num_cars)
        if crosswind != 0.0:  # blowing across the road's start, to a side drawn per episode
            for i, rng, road in zip(cars.tolist(), rngs, roads):
                sign = 1.0 if rng.random() < 0.5 else -1.0
                heading0 = float(road.headings[0])
                self.wind[i] = sign * crosswind * np.array([-math.sin(heading0), math.cos(heading0)])

    # ----------------------------------------------------------------- step
    def step(
        self, actions: np.ndarray, frozen: np.ndarray | None = None, table: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advance every car one step and observe: ``(table, obs)``, the step table
        ``[len(STEP_COLUMNS), N]`` and the observations ``[N, ...]`` after the step.

        Args:
            actions: ``[N, A]`` normalized actions (``[steer]`` or ``[steer, accel]``), clipped
                to [-1, 1]; NaN or infinite values are a ValueError (and nothing moves). They are
                copied into :attr:`actions`, unless they are that array (which a caller may fill
                in place).
            frozen: ``[N]`` bool, cars that were just reset: they stay where they are, draw no
                random gust, and report their start (no reward, not terminated).
            table: a step table of :func:`step_table` to write into, for a caller that reads it
                before the next step (the single env); by default a new one (the vector env's
                info arrays are rows of it).

        ``features`` are computed by the step kernel, each thread's cars right after it stepped
        them, and so are ``rays`` (by the same threads); the image sensors run their kernel after
        it. The kernel is called without numba's dispatch (``envs.jit.compiled``): every array it
        takes is the fleet's own or made here with fixed types, which is why the actions and
        ``frozen`` are copied.
        """
        given = actions
        if actions is not self.actions:
            if np.shape(actions) != self.actions.shape:
                raise ValueError(f"actions must have shape {self.actions.shape}, got {np.shape(actions)}")
            self.actions[...] = actions
            actions = self.actions
        if frozen is None:
            frozen = self._moving
        elif not (type(frozen) is np.ndarray and frozen.dtype == np.bool_ and frozen.flags.c_contiguous):
            frozen = np.ascontiguousarray(frozen, dtype=np.bool_)
        if frozen.shape != self._moving.shape:
            raise ValueError(f"frozen must have shape {self._moving.shape}, got {frozen.shape}")
        table = step_table(self.num_cars) if table is None else table
        roads, fused = self.roads, self._fused
        obs = np.empty(self._obs_shape, dtype=np.float32) if fused else self._no_features
        push = self.wind if self._no_gusts else self._push(frozen)
        args = (
            self.state,
            self.track,
            self.seg,
            self.steps,
            roads.kernel_slots,
            roads.road_rows,
            self._params,
            actions,
            push,
            frozen,
            table,
            roads.lookup,
            self._lookahead,
            self._preview,
            obs,
        )
        if self._rays:
            obs = np.empty(self._obs_shape, dtype=np.float32)
            args += (*self.sensor.arguments(roads), obs)
        threaded = self._threaded()
        if threaded:
            args += (threads(),)
        kernel = self._kernels.get(threaded)
        if kernel is None:
            kernels = (_step_rays, _step_rays_parallel) if self._rays else (_step_cars, _step_cars_parallel)
            # the table of any layout: step_table's rows are padded, a table unpickled is contiguous
            kernel = self._kernels[threaded] = compiled(kernels[threaded], args, (10,))
        if not kernel(*args):
            raise ValueError(f"actions must be finite numbers, got NaN or infinite values in {given!r}")
        if not (fused or self._rays):
            return table, self.observe()
        return table, obs if self._no_noise else self._with_noise(obs)

    def _push(self, frozen: np.ndarray) -> np.ndarray:
        """``[N, 2]`` world-frame drift [m/s] this step: the crosswind plus a gust drawn per moving car."""
        sigma = self.config.disturbances.crosswind_gust
        gust = np.zeros_like(self.wind)
        for i in np.flatnonzero(~frozen).tolist():
            gust[i] = self.rngs[i].standard_normal(2)
        return self.wind + sigma * gust

    def observe(self) -> np.ndarray:
        """Observations ``[N, ...]`` of all cars at their current state (with sensor noise if configured)."""
        return self._with_noise(self.sensor(self.state, self.track, self.roads, self.parallel_from))

    def _with_noise(self, obs: np.ndarray) -> np.ndarray:
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

    def report(self) -> tuple[np.ndarray, np.ndarray]:
        """``(table, obs)`` of cars that have not moved since their reset (every car reports its start)."""
        return self.step(np.zeros((self.num_cars, self.config.action_size)), np.ones(self.num_cars, dtype=bool))


# -------------------------------------------------------------------------------- infos
_INFO_ROWS = tuple(
    (key, FLAG_KEYS.index(key) if key in FLAG_KEYS else _ROW.get(key), key in FLAG_KEYS) for key in INFO_KEYS
)


def info_arrays(table: np.ndarray, labels: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The vector env's ``info``, one ``[N]`` array per key of ``INFO_KEYS`` (rows of ``table``;
    the flags rows of one boolean array), and the ``[N]`` terminated and truncated flags."""
    flags = table[_FIRST_FLAG:] != 0.0
    info = {
        key: labels.copy() if row is None else (flags[row] if flag else table[row]) for key, row, flag in _INFO_ROWS
    }
    return info, flags[-2], flags[-1]


def car_info(table: np.ndarray, i: int, label: str) -> dict:
    """Car ``i``'s ``info`` as Python scalars, one per key of ``INFO_KEYS``, in that order."""
    return _car_step(table[:, i].tolist(), label)[2]


def car_step(table: np.ndarray, i: int, label: str) -> tuple[float, bool, dict]:
    """Car ``i``'s reward, whether its episode terminated, and its ``info`` (:func:`car_info`),
    from one read of its column of the step table."""
    return _car_step(table[:, i].tolist(), label)


def _car_step_source() -> str:
    """The source of ``_car_step(values, label)``: a car's column of the step table (as a list) and
    its road's name to ``(reward, terminated, info)``, the info one dict display with a key per
    ``INFO_KEYS`` (the flags compared to 0), written out from ``INFO_KEYS`` and ``STEP_COLUMNS``
    the way ``collections.namedtuple`` writes its methods. The display builds the single env's
    info in 1.3 us where filling a list and ``dict(zip(INFO_KEYS, values))`` took 2.1 us (measured
    on the 2-core machine; a single env step takes about 8 us)."""
    items = []
    for key in INFO_KEYS:
        if key == "road":
            items.append(f"{key!r}: label")
        elif key in FLAG_KEYS:
            items.append(f"{key!r}: values[{_ROW[key]}] != 0.0")
        else:
            items.append(f"{key!r}: values[{_ROW[key]}]")
    info = ", ".join(items)
    return (
        f"def _car_step(values, label):\n    return values[{ROW_REWARD}], values[{ROW_TERMINATED}] != 0.0, {{{info}}}\n"
    )


_written: dict = {}
exec(compile(_car_step_source(), "<envs.fleet._car_step, written out from INFO_KEYS>", "exec"), _written)
_car_step = _written["_car_step"]
