"""The car: a kinematic bicycle (the default) or a dynamic single-track model with tyre slip,
one compiled function per car each, and a batch kernel over cars.

State layout, one row per car (``state[N, 7]``)::

    X, Y      rear-axle position [m]
    HEADING   direction the car points [rad], counter-clockwise from +x, wrapped to [-pi, pi)
    SPEED     longitudinal speed [m/s] (along the heading; the same at the rear axle and the
              centre of gravity)
    STEER     front-wheel angle [rad]
    LATERAL   lateral speed of the centre of gravity [m/s], to the left (dynamic model)
    YAW_RATE  [rad/s] (dynamic model)

:func:`bicycle_step` advances a kinematic car (no slip: the rear axle moves along the heading;
LATERAL and YAW_RATE stay 0), :func:`single_track_step` a dynamic one. The environments' step
kernel (``envs.fleet``) calls the model the car's parameters name for every car, one car or ten
thousand, and :func:`step` is the same over a batch for direct use (tests, notebooks). The car's
parameters travel into kernels as one record (:meth:`CarParams.record`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envs.checks import check_types, in_range
from envs.jit import njit, records_for_kernels

X, Y, HEADING, SPEED, STEER, LATERAL, YAW_RATE = range(7)
STATE_SIZE = 7
GRAVITY = 9.81  # [m/s^2]
SLIDING_UTILISATION = 2.0  # a tyre slides once its slip asks twice the force it can give
CAR_MODELS = ("kinematic", "dynamic")

CAR_FIELDS = [
    ("wheelbase", np.float64),
    ("max_steer", np.float64),
    ("max_steer_rate", np.float64),
    ("max_accel", np.float64),
    ("max_speed", np.float64),
    ("cruise_gain", np.float64),
    ("dynamic", np.bool_),
    ("mass", np.float64),
    ("yaw_inertia", np.float64),
    ("cg_to_front", np.float64),
    ("cornering_front", np.float64),
    ("cornering_rear", np.float64),
    ("substeps", np.int64),
    ("kinematic_below", np.float64),
]
CAR_RECORD = np.dtype(CAR_FIELDS, align=True)
"""What kernels read of :class:`CarParams` (field by field, same names and units)."""


@dataclass(frozen=True)
class CarParams:
    """Physical parameters of the car.

    The dynamic model's mass, yaw inertia, centre of gravity and cornering stiffnesses are
    CommonRoad's vehicle 2 (a BMW 320i: M. Althoff, M. Koschi, S. Manzinger, "CommonRoad:
    Composable benchmarks for motion planning on roads", IEEE IV 2017; parameters_vehicle2:
    m = 1093 kg, I_z = 1791 kg m^2, l_f = 1.156 m, C_Sf = C_Sr = 20.89 1/rad), on this car's
    wheelbase (2.7 m where the BMW's is 2.578 m, so its rear axle sits 12 cm further back).
    """

    wheelbase: float = 2.7
    """Distance between the axles [m]."""
    max_steer: float = 0.6
    """Front-wheel angle limit [rad]; a normalized steering action of 1 asks for this."""
    max_steer_rate: float = 1.5
    """How fast the wheels can turn [rad/s]."""
    max_accel: float = 4.0
    """Acceleration limit, both ways [m/s^2]; a normalized throttle of 1 asks for this."""
    max_speed: float = 30.0
    """Speed limit [m/s]."""
    cruise_gain: float = 2.0
    """Cruise controller gain [1/s]: accel = gain * (target - speed), clipped to max_accel."""
    model: str = "kinematic"
    """``kinematic``: a bicycle that cannot slip; ``dynamic``: a single-track model whose tyres
    slip and saturate at the road's friction limit (:func:`single_track_step`)."""
    mass: float = 1093.0
    """[kg] (dynamic model)."""
    yaw_inertia: float = 1791.0
    """Moment of inertia about the vertical axis [kg m^2] (dynamic model)."""
    cg_to_front: float = 1.156
    """Distance from the centre of gravity to the front axle [m] (dynamic model)."""
    cornering_front: float = 20.89
    """Front cornering stiffness coefficient [1/rad]: lateral force per unit slip angle, per
    newton of axle load and per unit of friction (CommonRoad's C_Sf)."""
    cornering_rear: float = 20.89
    """Rear cornering stiffness coefficient [1/rad] (CommonRoad's C_Sr)."""
    substeps: int = 5
    """Integration sub-steps of the dynamic model per env step (5 at dt = 0.05 s: 10 ms), more
    when the car is slow enough for its tyres' lateral dynamics to be faster than that."""
    kinematic_below: float = 2.0
    """[m/s] below this the dynamic model is the kinematic one (walking speed: the slip angles
    of a slow car are ill-conditioned and its lateral dynamics stiff)."""
    length: float = 4.5
    """Body length for drawing [m]."""
    width: float = 1.8
    """Body width for drawing [m]."""

    def __post_init__(self):
        check_types(self)
        for name in ("wheelbase", "max_steer", "max_steer_rate", "max_accel", "max_speed"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"CarParams.{name} must be a positive number, got {value}")
        if self.max_steer >= np.pi / 2:
            raise ValueError(f"CarParams.max_steer must be below pi/2 rad, got {self.max_steer}")
        in_range(self, "wheelbase", 0.0, 20.0, low_open=True, unit="m")
        in_range(self, "max_steer_rate", 0.0, 100.0, low_open=True, unit="rad/s")
        in_range(self, "max_accel", 0.0, 100.0, low_open=True, unit="m/s^2")
        in_range(self, "max_speed", 0.0, 100.0, low_open=True, unit="m/s")
        in_range(self, "cruise_gain", 0.0, 100.0, unit="1/s")
        in_range(self, "length", 0.0, 20.0, low_open=True, unit="m")
        in_range(self, "width", 0.0, 20.0, low_open=True, unit="m")
        if self.model not in CAR_MODELS:
            raise ValueError(f"CarParams.model must be one of {', '.join(CAR_MODELS)}, got {self.model!r}")
        for name in ("mass", "yaw_inertia", "cornering_front", "cornering_rear", "kinematic_below"):  # > 0
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"CarParams.{name} must be a positive number, got {value!r}")
        if not (0 < self.cg_to_front < self.wheelbase):
            raise ValueError(
                f"CarParams.cg_to_front must lie between the axles (0, {self.wheelbase}) m, got {self.cg_to_front}"
            )
        if not self.kinematic_below < self.max_speed:
            raise ValueError(
                f"CarParams.kinematic_below must be under max_speed ({self.max_speed} m/s), got {self.kinematic_below}"
            )
        if not (isinstance(self.substeps, int) and 1 <= self.substeps <= 100):
            raise ValueError(f"CarParams.substeps must be an integer in [1, 100], got {self.substeps!r}")

    @property
    def min_turn_radius(self) -> float:
        """Radius of the tightest circle the car can drive [m]."""
        return self.wheelbase / np.tan(self.max_steer)

    def record(self) -> np.recarray:
        """The parameters kernels read, as a one-element record array (fields of ``CAR_RECORD``)."""
        rec = np.rec.array(np.zeros(1, dtype=CAR_RECORD))
        for name in CAR_RECORD.names:
            rec[name] = self.model == "dynamic" if name == "dynamic" else getattr(self, name)
        return rec


TWO_PI = 2.0 * math.pi
_INV_TWO_PI = 1.0 / TWO_PI


@njit(cache=True)
def wrap_angle(angle: float) -> float:
    """Wrap an angle [rad] to [-pi, pi) (rounding may leave a value one ulp below -pi)."""
    return angle - TWO_PI * math.floor((angle + math.pi) * _INV_TWO_PI)


SINC_SERIES_LIMIT = 0.3  # [rad] below this |x|, sin(x)/x comes from its series (error < 2e-13)


@njit(cache=True)
def sin_over_x(x: float) -> float:
    """``sin(x) / x`` (1 at 0): a short series for small |x|, the quotient beyond."""
    x2 = x * x
    if x2 > SINC_SERIES_LIMIT * SINC_SERIES_LIMIT:
        return math.sin(x) / x
    return 1.0 - x2 * (1.0 / 6.0 - x2 * (1.0 / 120.0 - x2 * (1.0 / 5040.0 - x2 * (1.0 / 362880.0))))


@njit(cache=True)
def cruise_accel(speed: float, target_speed: float, car) -> float:
    """Cruise controller: the acceleration [m/s^2] that holds ``target_speed`` [m/s]."""
    return min(max(car.cruise_gain * (target_speed - speed), -car.max_accel), car.max_accel)


@njit(cache=True)
def bicycle_step(x, y, heading, speed, steer, steer_command, accel, car, dt, steering_bias, push_x, push_y):
    """Advance one car by ``dt`` [s]; returns the new ``(x, y, heading, speed, steer)`` and the
    ``(cos, sin)`` of the new heading (which the sensors use; from the mean heading's, so the step
    costs one sine and cosine instead of two).

    ``steer_command`` is the normalized steering in [-1, 1]: the wheels turn towards
    ``steer_command * max_steer`` at most ``max_steer_rate * dt`` per step. ``accel`` [m/s^2]
    is clipped to ``max_accel``; speed integrates semi-implicitly (the new speed drives the
    step). ``steering_bias`` [rad] is added after the actuator (a misaligned car), ``push_x,
    push_y`` [m/s] is a world-frame drift (crosswind). Position integrates exactly along the
    arc of constant curvature ``tan(steer) / wheelbase`` driven during the step.
    """
    max_delta = car.max_steer_rate * dt
    delta = min(max(steer_command * car.max_steer - steer, -max_delta), max_delta)
    steer = min(max(steer + delta, -car.max_steer), car.max_steer)
    a = min(max(accel, -car.max_accel), car.max_accel)
    speed = min(max(speed + a * dt, 0.0), car.max_speed)
    distance = speed * dt
    turn = distance * math.tan(steer + steering_bias) / car.wheelbase
    # the chord of an arc of length `distance` turning by `turn` points along the mean heading
    half = 0.5 * turn
    chord = distance * sin_over_x(half)
    mid = heading + half
    cos_mid, sin_mid = math.cos(mid), math.sin(mid)
    x = x + chord * cos_mid + push_x * dt
    y = y + chord * sin_mid + push_y * dt
    # the new heading is mid + half: cos and sin by the angle-addition formulas
    sin_half = half * sin_over_x(half)
    cos_half = cos_of(half)
    cos_h = cos_mid * cos_half - sin_mid * sin_half
    sin_h = sin_mid * cos_half + cos_mid * sin_half
    return x, y, wrap_angle(heading + turn), speed, steer, cos_h, sin_h


@njit(cache=True)
def single_track_step(
    x,
    y,
    heading,
    speed,
    lateral,
    yaw_rate,
    steer,
    steer_command,
    accel,
    car,
    dt,
    steering_bias,
    push_x,
    push_y,
    friction,
):
    """Advance one dynamic car by ``dt`` [s] on a road of friction coefficient ``friction``;
    returns the new ``(x, y, heading, speed, lateral, yaw_rate, steer)``, the ``(cos, sin)`` of
    the new heading, the lateral acceleration [m/s^2] averaged over the step and whether a tyre
    slid during it.

    The single-track ("bicycle") model with tyre slip, in the body frame at the centre of
    gravity, ``l_f`` behind the front axle and ``l_r = wheelbase - l_f`` ahead of the rear one::

        m (dvx/dt - vy r) = Fx_f cos(d) - Fy_f sin(d) + Fx_r
        m (dvy/dt + vx r) = Fx_f sin(d) + Fy_f cos(d) + Fy_r
        I_z dr/dt         = l_f (Fx_f sin(d) + Fy_f cos(d)) - l_r Fy_r

    with wheel angle ``d``, slip angles ``a_f = d - atan((vy + l_f r) / vx)`` and
    ``a_r = -atan((vy - l_r r) / vx)``. Each axle carries its static load ``Fz`` and its share
    of the longitudinal force ``m * accel`` (in proportion to its load); its lateral force grows
    with slip, ``Fy = mu C_S Fz a`` (CommonRoad's linear tyre), up to what the friction circle
    leaves beside the longitudinal force, ``sqrt((mu Fz)^2 - Fx^2)``, where it saturates: asked
    for more, the tyre slides. ``accel`` is limited by ``mu g`` as well as ``max_accel``.

    Integration: sub-steps of semi-implicit Euler (velocities first, then the pose with the new
    velocities): ``car.substeps`` of them, or more when the tyres' lateral time constants
    ``m vx / (C_f + C_r)`` and ``I_z vx / (l_f^2 C_f + l_r^2 C_r)`` (C = mu C_S Fz [N/rad]; 10 ms
    at 2 m/s on dry asphalt) are shorter than a sub-step, so that no sub-step outruns them. At
    walking speed (below ``kinematic_below``) the step is exactly :func:`bicycle_step`, with the
    slip-free lateral speed and yaw rate. The steering actuator, ``steering_bias`` and the
    crosswind ``push`` are as in :func:`bicycle_step`.
    """
    wheelbase = car.wheelbase
    lf = car.cg_to_front
    lr = wheelbase - lf
    grip = friction * GRAVITY  # [m/s^2] the most the road can give
    a = min(max(accel, -car.max_accel, -grip), car.max_accel, grip)
    if speed < car.kinematic_below:
        x, y, heading, speed, steer, cos_h, sin_h = bicycle_step(
            x, y, heading, speed, steer, steer_command, a, car, dt, steering_bias, push_x, push_y
        )
        yaw_rate = speed * math.tan(steer + steering_bias) / wheelbase
        return x, y, heading, speed, lr * yaw_rate, yaw_rate, steer, cos_h, sin_h, speed * yaw_rate, False
    max_delta = car.max_steer_rate * dt
    delta = min(max(steer_command * car.max_steer - steer, -max_delta), max_delta)
    steer = min(max(steer + delta, -car.max_steer), car.max_steer)
    wheel = steer + steering_bias
    cos_w, sin_w = math.cos(wheel), math.sin(wheel)
    mass = car.mass
    load_front, load_rear = mass * GRAVITY * lr / wheelbase, mass * GRAVITY * lf / wheelbase  # [N]
    fx_front, fx_rear = mass * a * lr / wheelbase, mass * a * lf / wheelbase
    cap_front = math.sqrt(max((friction * load_front) ** 2 - fx_front * fx_front, 0.0))  # friction circle
    cap_rear = math.sqrt(max((friction * load_rear) ** 2 - fx_rear * fx_rear, 0.0))
    stiff_front = friction * car.cornering_front * load_front  # [N/rad]
    stiff_rear = friction * car.cornering_rear * load_rear
    lateral_time = mass * speed / max(stiff_front + stiff_rear, 1e-9)  # [s]
    yaw_time = car.yaw_inertia * speed / max(lf * lf * stiff_front + lr * lr * stiff_rear, 1e-9)
    substeps = max(car.substeps, math.ceil(dt / min(lateral_time, yaw_time)))
    h = dt / substeps
    vx, vy, r = speed, lateral, yaw_rate
    cos_h, sin_h = math.cos(heading), math.sin(heading)
    lateral_accel = 0.0
    slid = False
    for _ in range(substeps):
        slip_front = wheel - math.atan((vy + lf * r) / vx)
        slip_rear = -math.atan((vy - lr * r) / vx)
        fy_front = min(max(stiff_front * slip_front, -cap_front), cap_front)
        fy_rear = min(max(stiff_rear * slip_rear, -cap_rear), cap_rear)
        slid = slid or (
            abs(stiff_front * slip_front) > SLIDING_UTILISATION * cap_front
            or abs(stiff_rear * slip_rear) > SLIDING_UTILISATION * cap_rear
        )
        side_front = fx_front * sin_w + fy_front * cos_w  # the front tyre's force across the body
        ay = (side_front + fy_rear) / mass  # [m/s^2] = dvy/dt + vx r
        dvx = (fx_front * cos_w - fy_front * sin_w + fx_rear) / mass + vy * r
        dvy = ay - vx * r
        dr = (lf * side_front - lr * fy_rear) / car.yaw_inertia
        # slip angles need vx > 0: a car braking below half of kinematic_below within a step
        # holds there, and the next step (kinematic) brakes it on
        vx = min(max(vx + h * dvx, 0.5 * car.kinematic_below), car.max_speed)
        vy = vy + h * dvy
        r = r + h * dr
        lateral_accel += ay
        # the pose, with the new velocities: turn by r h (cos and sin by angle addition), then
        # move the rear axle, whose lateral speed is vy - l_r r
        turn = r * h
        c, s = cos_of(turn), turn * sin_over_x(turn)
        cos_h, sin_h = cos_h * c - sin_h * s, sin_h * c + cos_h * s
        heading = heading + turn
        rear_lateral = vy - lr * r
        x = x + h * (vx * cos_h - rear_lateral * sin_h + push_x)
        y = y + h * (vx * sin_h + rear_lateral * cos_h + push_y)
    return (x, y, wrap_angle(heading), vx, vy, r, steer, cos_h, sin_h, lateral_accel / substeps, slid)


@njit(cache=True)
def cos_of(x: float) -> float:
    """``cos(x)``: a short series for small |x| (error < 1e-13 below ``SINC_SERIES_LIMIT``)."""
    x2 = x * x
    if x2 > SINC_SERIES_LIMIT * SINC_SERIES_LIMIT:
        return math.cos(x)
    return 1.0 - x2 * (0.5 - x2 * (1.0 / 24.0 - x2 * (1.0 / 720.0 - x2 * (1.0 / 40320.0 - x2 / 3628800.0))))


@njit(cache=True)
def _step_cars(state, steer_command, accel, car, dt, steering_bias, push, friction, out):
    for i in range(state.shape[0]):
        _step_car(i, state, steer_command, accel, car, dt, steering_bias, push, friction, out)


@njit(cache=True, inline="always")
def _step_car(i, state, steer_command, accel, car, dt, steering_bias, push, friction, out):
    if car[0].dynamic:
        x, y, heading, speed, lateral, yaw_rate, steer, _, _, _, _ = single_track_step(
            state[i, X],
            state[i, Y],
            state[i, HEADING],
            state[i, SPEED],
            state[i, LATERAL],
            state[i, YAW_RATE],
            state[i, STEER],
            steer_command[i],
            accel[i],
            car[0],
            dt,
            steering_bias[i],
            push[i, 0],
            push[i, 1],
            friction[i],
        )
    else:
        x, y, heading, speed, steer, _, _ = bicycle_step(
            state[i, X],
            state[i, Y],
            state[i, HEADING],
            state[i, SPEED],
            state[i, STEER],
            steer_command[i],
            accel[i],
            car[0],
            dt,
            steering_bias[i],
            push[i, 0],
            push[i, 1],
        )
        lateral = yaw_rate = 0.0
    out[i, X], out[i, Y], out[i, HEADING], out[i, SPEED], out[i, STEER] = x, y, heading, speed, steer
    out[i, LATERAL], out[i, YAW_RATE] = lateral, yaw_rate


def step(
    state: np.ndarray,
    steer_command: np.ndarray,
    accel: np.ndarray,
    params: CarParams,
    dt: float,
    steering_bias: float | np.ndarray = 0.0,
    push: np.ndarray | None = None,
    friction: float | np.ndarray = 1.0,
) -> np.ndarray:
    """Advance cars by ``dt`` seconds with the model ``params`` names (:func:`bicycle_step` or
    :func:`single_track_step`); a new array, ``state`` is kept.

    Args:
        state: ``[N, 7]`` car states (see module docstring).
        steer_command: ``[N]`` normalized steering in [-1, 1].
        accel: ``[N]`` longitudinal acceleration [m/s^2].
        params: car parameters.
        dt: time step [s].
        steering_bias: wheel-angle offset [rad] added after the actuator, one or ``[N]``.
        push: ``[N, 2]`` world-frame drift velocity [m/s] (crosswind), or None.
        friction: the road's friction coefficient under each car, one or ``[N]`` (dynamic model).
    """
    state = np.asarray(state, dtype=np.float64)
    if state.ndim != 2 or state.shape[1] != STATE_SIZE:
        raise ValueError(f"state must have shape (N, {STATE_SIZE}), got {state.shape}")
    n = len(state)
    as_n = lambda v: np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)))  # noqa: E731
    push = np.zeros((n, 2)) if push is None else np.asarray(push, dtype=np.float64)
    out = np.empty_like(state)
    car = records_for_kernels(params.record())
    _step_cars(state, as_n(steer_command), as_n(accel), car, float(dt), as_n(steering_bias), push, as_n(friction), out)
    return out
