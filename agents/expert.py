"""The "ideal path" driver: a privileged controller that knows the road geometry.

It steers with curvature feed-forward (the wheel angle that drives the road's
curvature a little ahead, to cover the steering actuator's lag) plus feedback
on the cross-track and heading errors, tuned as a critically damped
second-order system of the lateral offset. With throttle actions (``throttle=True``)
it also chooses its speed: the fastest profile along the road ahead within a
lateral and a longitudinal acceleration limit for the friction of the surface
there (:func:`speed_profile`, a backward pass for braking and a forward pass for
accelerating), tracked with throttle and brake. Batched over every car of a
:class:`envs.Fleet`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.car import GRAVITY, SPEED
from envs.checks import check_types, in_range
from envs.fleet import Fleet
from envs.road import SURFACES


@dataclass(frozen=True)
class ExpertConfig:
    """Gains of the path expert."""

    bandwidth: float = 1.5
    """Natural frequency of the lateral-offset error dynamics [rad/s]."""
    preview_time: float = 0.15
    """How far ahead the feed-forward curvature is read, in seconds of driving [s]."""
    preview_span: float = 2.0
    """The feed-forward curvature is averaged over this much road [m]."""
    min_speed: float = 2.0
    """Speeds below this [m/s] are treated as this when scheduling gains."""
    lateral_grip: float = 0.6
    """Share of the friction limit ``mu g`` the planned speed may ask of the tyres in a bend."""
    braking_grip: float = 0.4
    """Share of ``mu g`` planned for braking and accelerating."""
    control_grip: float = 0.6
    """Share of ``mu g`` the throttle and brake may use to follow the plan (more than planned,
    so that a car late on its plan catches up; with ``lateral_grip`` inside the friction
    circle: 0.6^2 + 0.6^2 < 1)."""
    plan_points: int = 48
    """Points of road ahead the speed is planned over (closer together near the car)."""
    speed_gain: float = 2.0
    """Speed tracking gain [1/s]: accel = gain * (planned - speed)."""
    speed_preview: float = 0.3
    """The planned speed is read this far ahead, in seconds of driving [s]."""

    def __post_init__(self):
        check_types(self)
        in_range(self, "bandwidth", 0.0, 100.0, low_open=True, unit="rad/s")
        in_range(self, "preview_time", 0.0, 10.0, unit="s")
        in_range(self, "preview_span", 0.0, 100.0, unit="m")
        in_range(self, "min_speed", 0.0, 100.0, low_open=True, unit="m/s")


class PathExpert:
    """Steers every car of a fleet along its road's centreline."""

    name = "expert"

    def __init__(self, config: ExpertConfig = ExpertConfig()):
        self.config = config
        self._span = np.linspace(-0.5, 0.5, 5)[None, :]

    def steering_angle(self, fleet: Fleet) -> np.ndarray:
        """Wanted front-wheel angle ``[N]`` [rad] for every car of ``fleet``."""
        cfg = self.config
        wheelbase = fleet.params.wheelbase
        speed = np.maximum(fleet.state[:, SPEED], cfg.min_speed)
        preview = fleet.s[:, None] + speed[:, None] * cfg.preview_time + cfg.preview_span * self._span
        preview = np.maximum(preview, 0.0)
        kappa = fleet.roads.curvature_at(preview).mean(axis=1)
        w = cfg.bandwidth
        # lateral dynamics e'' = v^2 / L * (delta - delta_ff): place both poles at -w
        correction = -(wheelbase / speed**2) * (w * w * fleet.cte + 2.0 * w * speed * np.sin(fleet.heading_error))
        return np.arctan(wheelbase * kappa) + correction

    def planned_speed(self, fleet: Fleet) -> tuple[np.ndarray, np.ndarray]:
        """``(distance[N, K] [m] ahead, speed[N, K] [m/s])``: the plan of every car over the road
        ahead, from where it is (k = 0) to beyond the distance it needs to brake from the
        road's speed (``config.target_speed``) on the most slippery surface ahead."""
        cfg, top = self.config, fleet.config.target_speed
        # far enough to stop from the road's speed on the slipperiest surface (ice), at most 600 m
        slippery = min(SURFACES.values())
        horizon = min(top * top / (2.0 * cfg.braking_grip * slippery * GRAVITY) + 20.0, 600.0)
        horizon = np.full(fleet.num_cars, max(horizon, 40.0))
        ahead = np.linspace(0.0, 1.0, cfg.plan_points)[None, :] ** 2 * horizon[:, None]
        s = fleet.s[:, None] + ahead
        mu = fleet.roads.friction_at(s)
        kappa = np.abs(fleet.roads.curvature_at(s))
        return ahead, speed_profile(
            ahead, kappa, mu, fleet.state[:, SPEED], top, fleet.params.max_accel, cfg.lateral_grip, cfg.braking_grip
        )

    def throttle(self, fleet: Fleet) -> np.ndarray:
        """Normalized throttle (+) and brake (-) ``[N]`` in [-1, 1]: the acceleration that reaches
        the planned speed ``speed_preview`` seconds ahead, ``(v_plan^2 - v^2) / (2 d)``."""
        cfg = self.config
        ahead, plan = self.planned_speed(fleet)
        speed = fleet.state[:, SPEED]
        preview = np.maximum(speed, cfg.min_speed) * cfg.speed_preview  # [m]
        rows = np.arange(len(speed))
        k = np.maximum((ahead < preview[:, None]).sum(axis=1), 1)  # the first plan point at or past it
        target, distance = plan[rows, k], ahead[rows, k]
        accel = (target * target - speed * speed) / (2.0 * distance)
        # never more than the control share of the grip here: the rest stays for steering
        grip = cfg.control_grip * GRAVITY * fleet.roads.friction_at(fleet.s[:, None])[:, 0]
        accel = np.clip(accel, -grip, grip)
        return np.clip(accel / fleet.params.max_accel, -1.0, 1.0)

    def shift_correction(self, fleet: Fleet, lateral_shift: float) -> np.ndarray:
        """``[N]`` [rad] what :meth:`steering_angle` adds for cars ``lateral_shift`` [m] further left
        (its cross-track feedback is linear in the offset): the label of a side camera."""
        speed = np.maximum(fleet.state[:, SPEED], self.config.min_speed)
        w = self.config.bandwidth
        return -(fleet.params.wheelbase / speed**2) * (w * w * lateral_shift)

    def act(self, fleet: Fleet, lateral_shift: float = 0.0) -> np.ndarray:
        """Normalized actions in [-1, 1]: ``[N, 1]`` steering, or ``[N, 2]`` steering and
        throttle when the environment takes throttle actions; ``lateral_shift`` [m]: for cars
        that far further left (see :meth:`shift_correction`)."""
        angle = self.steering_angle(fleet)
        if lateral_shift != 0.0:
            angle = angle + self.shift_correction(fleet, lateral_shift)
        steer = np.clip(angle / fleet.params.max_steer, -1.0, 1.0)
        if not fleet.config.throttle:
            return steer[:, None]
        return np.column_stack([steer, self.throttle(fleet)])


def speed_profile(ahead, kappa, mu, speed, top, max_accel, lateral_grip, braking_grip) -> np.ndarray:
    """The fastest speeds ``[N, K]`` [m/s] at distances ``ahead[N, K]`` [m] (increasing, from 0)
    of roads with |curvature| ``kappa[N, K]`` [1/m] and friction ``mu[N, K]``, for cars at
    ``speed[N]`` [m/s]:

    * a bend allows ``sqrt(lateral_grip mu g / kappa)``, and no point more than ``top``;
    * backward pass (braking): each point at most what braking at ``braking_grip mu g`` (and
      ``max_accel``) from it reaches the next point's speed by: ``v_k^2 <= v_{k+1}^2 + 2 a d``;
    * forward pass (accelerating): from the car's speed now, each point at most what the same
      acceleration reaches from the point before.
    """
    limit = np.sqrt(lateral_grip * mu * GRAVITY / np.maximum(kappa, 1e-9))
    v2 = np.minimum(limit, top) ** 2
    grip = np.minimum(braking_grip * mu * GRAVITY, max_accel)  # [m/s^2] each point's braking/accelerating
    step = np.diff(ahead, axis=1)  # [N, K - 1]
    for k in range(v2.shape[1] - 2, -1, -1):  # backward: brake in time for what comes
        v2[:, k] = np.minimum(v2[:, k], v2[:, k + 1] + 2.0 * grip[:, k] * step[:, k])
    reach = speed * speed  # forward: from the car's speed now, no faster than the road lets it speed up
    for k in range(v2.shape[1]):
        if k > 0:
            reach = reach + 2.0 * grip[:, k - 1] * step[:, k - 1]
        reach = np.minimum(reach, v2[:, k])
        v2[:, k] = reach
    return np.sqrt(v2)
