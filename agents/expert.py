"""The "ideal path" driver: a privileged controller that knows the road geometry.

It steers with curvature feed-forward (the wheel angle that drives the road's
curvature a little ahead, to cover the steering actuator's lag) plus feedback
on the cross-track and heading errors, tuned as a critically damped
second-order system of the lateral offset. Batched over every car of a
:class:`envs.Fleet`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.car import SPEED
from envs.fleet import Fleet


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

    def shift_correction(self, fleet: Fleet, lateral_shift: float) -> np.ndarray:
        """``[N]`` [rad] what :meth:`steering_angle` adds for cars ``lateral_shift`` [m] further left
        (its cross-track feedback is linear in the offset): the label of a side camera."""
        speed = np.maximum(fleet.state[:, SPEED], self.config.min_speed)
        w = self.config.bandwidth
        return -(fleet.params.wheelbase / speed**2) * (w * w * lateral_shift)

    def act(self, fleet: Fleet, lateral_shift: float = 0.0) -> np.ndarray:
        """Normalized steering actions ``[N, 1]`` in [-1, 1]; ``lateral_shift`` [m]: for cars that
        far further left (see :meth:`shift_correction`)."""
        angle = self.steering_angle(fleet)
        if lateral_shift != 0.0:
            angle = angle + self.shift_correction(fleet, lateral_shift)
        steer = angle / fleet.params.max_steer
        return np.clip(steer, -1.0, 1.0)[:, None]
