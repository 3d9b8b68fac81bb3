"""Kinematic bicycle car, as pure functions over arrays with a leading batch axis.

State layout, one row per car (``state[N, 5]``)::

    X, Y      rear-axle position [m]
    HEADING   direction of travel [rad], counter-clockwise from +x, wrapped to [-pi, pi)
    SPEED     forward speed [m/s]
    STEER     front-wheel angle [rad]

One car and ten thousand cars run the same code: the single environment is the
``N = 1`` case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

X, Y, HEADING, SPEED, STEER = range(5)
STATE_SIZE = 5


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
        for name in ("wheelbase", "max_steer", "max_steer_rate", "max_accel", "max_speed"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"CarParams.{name} must be a positive number, got {value}")
        if self.max_steer >= np.pi / 2:
            raise ValueError(f"CarParams.max_steer must be below pi/2 rad, got {self.max_steer}")

    @property
    def min_turn_radius(self) -> float:
        """Radius of the tightest circle the car can drive [m]."""
        return self.wheelbase / np.tan(self.max_steer)


TWO_PI = 2.0 * math.pi
_INV_TWO_PI = 1.0 / TWO_PI


def wrap_angle(angle):
    """Wrap angle(s) [rad] to [-pi, pi) (rounding may leave a value one ulp below -pi).

    ``angle - 2 pi floor((angle + pi) / 2 pi)``: five cheap operations, where numpy's
    floating-point ``mod`` costs as much as twenty of them.
    """
    return angle - TWO_PI * np.floor((angle + math.pi) * _INV_TWO_PI)


def wrap_angle_scalar(angle: float) -> float:
    """:func:`wrap_angle` for one Python float, with the same operations."""
    return angle - TWO_PI * math.floor((angle + math.pi) * _INV_TWO_PI)


SINC_SERIES_LIMIT = 0.3  # [rad] below this |x|, sin(x)/x comes from its series (error < 2e-13)
_SINC_LIMIT2 = SINC_SERIES_LIMIT * SINC_SERIES_LIMIT  # both versions compare x * x with this


def sin_over_x(x: np.ndarray) -> np.ndarray:
    """``sin(x) / x`` (1 at 0): a short series for small |x|, ``sin(x) / x`` beyond, element by element."""
    x2 = x * x
    out = 1.0 - x2 * (1.0 / 6.0 - x2 * (1.0 / 120.0 - x2 * (1.0 / 5040.0 - x2 * (1.0 / 362880.0))))
    if x2.max(initial=0.0) > _SINC_LIMIT2:  # rare: only very sharp turns in one step
        big = x2 > _SINC_LIMIT2
        out[big] = np.sin(x[big]) / x[big]
    return out


def sin_over_x_scalar(x: float) -> float:
    """:func:`sin_over_x` for one Python float, with the same operations."""
    x2 = x * x
    if x2 > _SINC_LIMIT2:
        return math.sin(x) / x
    return 1.0 - x2 * (1.0 / 6.0 - x2 * (1.0 / 120.0 - x2 * (1.0 / 5040.0 - x2 * (1.0 / 362880.0))))


def cos_sin(angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cos(angle), sin(angle))`` from ``t = tan(angle / 2)``: numpy's tangent is vectorized,
    its sine and cosine are not, so this is several times faster for large batches."""
    t = np.tan(0.5 * angle)
    t2 = t * t
    inv = 1.0 / (1.0 + t2)
    return (1.0 - t2) * inv, (t + t) * inv


def cos_sin_scalar(angle: float) -> tuple[float, float]:
    """:func:`cos_sin` for one Python float, with the same operations."""
    t = float(np.tan(0.5 * angle))
    t2 = t * t
    inv = 1.0 / (1.0 + t2)
    return (1.0 - t2) * inv, (t + t) * inv


def cruise_accel(speed: np.ndarray, target_speed: float | np.ndarray, params: CarParams) -> np.ndarray:
    """Cruise controller: ``accel[N]`` [m/s^2] that holds ``target_speed`` [m/s]."""
    return np.clip(params.cruise_gain * (target_speed - speed), -params.max_accel, params.max_accel)


def step(
    state: np.ndarray,
    steer_command: np.ndarray,
    accel: np.ndarray,
    params: CarParams,
    dt: float,
    steering_bias: float | np.ndarray = 0.0,
    push: np.ndarray | None = None,
) -> np.ndarray:
    """Advance cars by ``dt`` seconds.

    Args:
        state: ``[N, 5]`` car states (see module docstring).
        steer_command: ``[N]`` normalized steering in [-1, 1]; the wheels turn
            towards ``steer_command * max_steer`` at most ``max_steer_rate * dt`` per step.
        accel: ``[N]`` longitudinal acceleration [m/s^2], clipped to ``max_accel``.
        params: car parameters.
        dt: time step [s].
        steering_bias: wheel-angle offset [rad] added after the actuator (a misaligned car).
        push: ``[N, 2]`` world-frame drift velocity [m/s] (crosswind), or None.

    Returns:
        The new ``[N, 5]`` state. Position integrates exactly along the arc of
        constant curvature ``tan(steer) / wheelbase`` driven during the step.
    """
    heading = state[:, HEADING]
    max_delta = params.max_steer_rate * dt
    # clip with number bounds is one vectorized pass (minimum/maximum with a number are slower);
    # the method form skips np.clip's Python wrapper
    delta = (steer_command * params.max_steer - state[:, STEER]).clip(-max_delta, max_delta)
    steer = (state[:, STEER] + delta).clip(-params.max_steer, params.max_steer)
    a = np.clip(accel, -params.max_accel, params.max_accel)
    speed = (state[:, SPEED] + a * dt).clip(0.0, params.max_speed)
    distance = speed * dt
    turn = distance * np.tan(steer + steering_bias) / params.wheelbase
    # chord of an arc of length `distance` turning by `turn`, along the mean heading
    half = 0.5 * turn
    chord = distance * sin_over_x(half)
    mid = heading + half
    cos_mid, sin_mid = cos_sin(mid)
    out = np.empty_like(state)
    out[:, X] = state[:, X] + chord * cos_mid
    out[:, Y] = state[:, Y] + chord * sin_mid
    if push is not None:
        out[:, X] += push[:, 0] * dt
        out[:, Y] += push[:, 1] * dt
    out[:, HEADING] = wrap_angle(heading + turn)
    out[:, SPEED] = speed
    out[:, STEER] = steer
    return out
