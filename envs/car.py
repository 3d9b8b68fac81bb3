"""Kinematic bicycle car: one compiled function per car, and a batch kernel over cars.

State layout, one row per car (``state[N, 5]``)::

    X, Y      rear-axle position [m]
    HEADING   direction of travel [rad], counter-clockwise from +x, wrapped to [-pi, pi)
    SPEED     forward speed [m/s]
    STEER     front-wheel angle [rad]

:func:`bicycle_step` advances one car; the environments' step kernel (``envs.fleet``) calls
it for every car, one car or ten thousand, and :func:`step` is the same over a batch for
direct use (tests, notebooks). The car's parameters travel into kernels as one record
(:meth:`CarParams.record`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envs.checks import check_types, in_range
from envs.jit import njit, records_for_kernels

X, Y, HEADING, SPEED, STEER = range(5)
STATE_SIZE = 5

CAR_FIELDS = [
    ("wheelbase", np.float64),
    ("max_steer", np.float64),
    ("max_steer_rate", np.float64),
    ("max_accel", np.float64),
    ("max_speed", np.float64),
    ("cruise_gain", np.float64),
]
CAR_RECORD = np.dtype(CAR_FIELDS, align=True)
"""What kernels read of :class:`CarParams` (field by field, same names and units)."""


@dataclass(frozen=True)
class CarParams:
    """Physical parameters of the car."""

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

    @property
    def min_turn_radius(self) -> float:
        """Radius of the tightest circle the car can drive [m]."""
        return self.wheelbase / np.tan(self.max_steer)

    def record(self) -> np.recarray:
        """The parameters kernels read, as a one-element record array (fields of ``CAR_RECORD``)."""
        rec = np.rec.array(np.zeros(1, dtype=CAR_RECORD))
        for name in CAR_RECORD.names:
            rec[name] = getattr(self, name)
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
def cos_of(x: float) -> float:
    """``cos(x)``: a short series for small |x| (error < 1e-13 below ``SINC_SERIES_LIMIT``)."""
    x2 = x * x
    if x2 > SINC_SERIES_LIMIT * SINC_SERIES_LIMIT:
        return math.cos(x)
    return 1.0 - x2 * (0.5 - x2 * (1.0 / 24.0 - x2 * (1.0 / 720.0 - x2 * (1.0 / 40320.0 - x2 / 3628800.0))))


@njit(cache=True)
def _step_cars(state, steer_command, accel, car, dt, steering_bias, push, out):
    for i in range(state.shape[0]):
        _step_car(i, state, steer_command, accel, car, dt, steering_bias, push, out)


@njit(cache=True, inline="always")
def _step_car(i, state, steer_command, accel, car, dt, steering_bias, push, out):
    x, y, heading, speed, steer, _, _ = bicycle_step(
        state[i, X], state[i, Y], state[i, HEADING], state[i, SPEED], state[i, STEER],
        steer_command[i], accel[i], car[0], dt, steering_bias[i], push[i, 0], push[i, 1],
    )  # fmt: skip
    out[i, X], out[i, Y], out[i, HEADING], out[i, SPEED], out[i, STEER] = x, y, heading, speed, steer


def step(
    state: np.ndarray,
    steer_command: np.ndarray,
    accel: np.ndarray,
    params: CarParams,
    dt: float,
    steering_bias: float | np.ndarray = 0.0,
    push: np.ndarray | None = None,
) -> np.ndarray:
    """Advance cars by ``dt`` seconds with :func:`bicycle_step` (a new array; ``state`` is kept).

    Args:
        state: ``[N, 5]`` car states (see module docstring).
        steer_command: ``[N]`` normalized steering in [-1, 1].
        accel: ``[N]`` longitudinal acceleration [m/s^2].
        params: car parameters.
        dt: time step [s].
        steering_bias: wheel-angle offset [rad] added after the actuator, one or ``[N]``.
        push: ``[N, 2]`` world-frame drift velocity [m/s] (crosswind), or None.
    """
    state = np.asarray(state, dtype=np.float64)
    n = len(state)
    as_n = lambda v: np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)))  # noqa: E731
    push = np.zeros((n, 2)) if push is None else np.asarray(push, dtype=np.float64)
    out = np.empty_like(state)
    car = records_for_kernels(params.record())
    _step_cars(state, as_n(steer_command), as_n(accel), car, float(dt), as_n(steering_bias), push, out)
    return out
