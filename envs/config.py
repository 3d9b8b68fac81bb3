"""Frozen configuration of the road-following environments (units in docstrings)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from envs import limits
from envs.appearance import Appearance, get_look
from envs.car import CarParams
from envs.checks import check_types, finite, in_range
from envs.generation import FAMILIES, SPLITS

OBSERVATION_TYPES = ("features", "rays", "image", "camera")


@dataclass(frozen=True)
class Disturbances:
    """Optional, seeded ways the world differs from the one a policy trained in. All off by default."""

    steering_bias: float = 0.0
    """Wheel-angle offset [rad] added after the steering actuator (a misaligned car)."""
    crosswind: float = 0.0
    """Sideways drift [m/s] pushing the car perpendicular to the road's start heading;
    its sign is drawn per episode from the episode's seed."""
    crosswind_gust: float = 0.0
    """Standard deviation [m/s] of a per-step random gust added to the crosswind."""
    observation_noise: float = 0.0
    """Standard deviation of Gaussian sensor noise: [m] on positions and ray lengths,
    0.05 rad per metre of it on angles, 25 grey levels per metre of it on image pixels."""

    def __post_init__(self):
        check_types(self)
        for name in ("steering_bias", "crosswind", "crosswind_gust", "observation_noise"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"Disturbances.{name} must be finite, got {value}")
        for name in ("crosswind_gust", "observation_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"Disturbances.{name} must be non-negative")
        in_range(self, "steering_bias", -1.0, 1.0, unit="rad")
        in_range(self, "crosswind", -limits.MAX_WIND, limits.MAX_WIND, unit="m/s")
        in_range(self, "crosswind_gust", 0.0, limits.MAX_WIND, unit="m/s")
        in_range(self, "observation_noise", 0.0, limits.MAX_OBSERVATION_NOISE, unit="m")


@dataclass(frozen=True)
class RoadFollowConfig:
    """Everything that defines a road-following environment."""

    observation: str = field(default="features", metadata={"choices": OBSERVATION_TYPES})
    """Observation type: ``features``, ``rays``, ``image`` or ``camera``."""
    split: str = field(default="train", metadata={"choices": SPLITS})
    """Which road split episodes draw from: ``train`` or ``unseen``."""
    families: tuple[str, ...] = field(default=("gentle", "twisty"), metadata={"choices": tuple(FAMILIES)})
    """Road families drawn from (uniformly)."""
    num_roads: int = 1000
    """Size of the road pool per family: indices ``0 .. num_roads - 1``."""
    road_indices: tuple[int, ...] | None = None
    """If given, draw only these road indices (e.g. to train on a few roads)."""
    target_speed: float = 10.0
    """Cruise-controller speed [m/s]."""
    throttle: bool = False
    """If True the action is ``[steer, accel]`` and the agent controls speed."""
    dt: float = 0.05
    """Time step [s]."""
    car: CarParams = field(default_factory=CarParams)
    disturbances: Disturbances = field(default_factory=Disturbances)
    start_lateral_offset: float = 0.0
    """Episodes start with a lateral offset drawn uniformly in +-this [m]."""
    start_heading_offset: float = 0.0
    """Episodes start with a heading offset drawn uniformly in +-this [rad]."""
    off_road_margin: float = 0.5
    """The car is off the road once |cte| > width / 2 + this [m]."""
    lookahead_distances: tuple[float, ...] = (2.0, 4.0, 6.0, 9.0, 12.0, 16.0, 20.0, 25.0)
    """Arc-length distances [m] of the centreline points in the ``features`` observation."""
    road_preview_distances: tuple[float, ...] = ()
    """Arc-length distances [m] at which ``features`` also report the road's friction
    coefficient and curvature [1/m], after the centreline points (none by default): what a
    driver that chooses its speed needs to see of bends and slippery sections far ahead."""
    ray_angles_deg: tuple[float, ...] = (-75.0, -60.0, -45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0, 60.0, 75.0)
    """Ray directions relative to the car's heading [deg] for the ``rays`` observation."""
    ray_range: float = 30.0
    """Longest ray [m]."""
    image_size: int = 64
    """Side of the square ``image`` observation [px]."""
    image_metres_per_pixel: float = 0.75
    """Scale of the ``image`` observation [m/px]."""
    camera_size: tuple[int, int] = (32, 64)
    """``(height, width)`` of the ``camera`` observation [px]. 32x64 is the smallest frame in
    which a 15 cm line is still a pixel wide 10 m ahead (with the default field of view), and a
    PilotNet-style CNN trains on it at about a thousand frames a second on 2 busy CPU cores
    (48x96 is 2.5x slower, PilotNet's 66x200 about 7x)."""
    camera_height: float = 1.4
    """Height of the camera above the ground [m]."""
    camera_pitch_deg: float = 18.0
    """Downward tilt of the camera [deg]."""
    camera_fov_deg: float = 100.0
    """Horizontal field of view of the camera [deg]."""
    camera_range: float = 60.0
    """Ground farther ahead than this [m] is all haze."""
    appearance: Appearance | str = "day"
    """How the camera's world looks: an :class:`envs.Appearance` or a named look (``day``,
    ``dusk``, ``snow``, ``no-markings``)."""
    appearance_randomization: float = 0.0
    """Domain randomization: 0 draws nothing; above 0 each episode's look is drawn around
    ``appearance`` from the episode's rng, with ranges scaled by this (1: colours +-40 levels,
    brightness x e^+-0.35, texture contrast +-50%)."""
    progress_reward: float = 0.1
    """Reward per metre of progress along the road."""
    centering_penalty: float = 0.05
    """Per-step penalty times (cte / half width)^2."""
    off_road_penalty: float = 10.0
    """One-off penalty for leaving the road."""

    @cached_property
    def road_pool(self) -> np.ndarray:
        """``[P]`` int64 the road indices episodes draw from: ``road_indices``, or ``0 .. num_roads - 1``
        as an empty array (read-only; made once, so a reset does not convert the tuple again)."""
        pool = np.asarray(self.road_indices if self.road_indices is not None else (), dtype=np.int64)
        pool.flags.writeable = False
        return pool

    def __post_init__(self):
        if self.observation not in OBSERVATION_TYPES:
            raise ValueError(f"unknown observation {self.observation!r}; choose from {', '.join(OBSERVATION_TYPES)}")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose from {', '.join(SPLITS)}")
        if isinstance(self.families, str):
            object.__setattr__(self, "families", (self.families,))
        if isinstance(self.road_indices, range):
            object.__setattr__(self, "road_indices", tuple(self.road_indices))
        check_types(self)
        if not self.families:
            raise ValueError("families must name at least one road family")
        for fam in self.families:
            if fam not in FAMILIES:
                raise ValueError(f"unknown road family {fam!r}; choose from {', '.join(FAMILIES)}")
        if not isinstance(self.car, CarParams):
            raise TypeError(f"car must be a CarParams, got {type(self.car).__name__}")
        if not isinstance(self.disturbances, Disturbances):
            raise TypeError(f"disturbances must be a Disturbances, got {type(self.disturbances).__name__}")
        if self.num_roads < 1:
            raise ValueError(f"num_roads must be at least 1, got {self.num_roads}")
        if self.num_roads > limits.MAX_ROAD_INDEX:
            raise ValueError(f"num_roads must be at most {limits.MAX_ROAD_INDEX}, got {self.num_roads}")
        if self.road_indices is not None:
            if not self.road_indices or min(self.road_indices) < 0 or max(self.road_indices) >= limits.MAX_ROAD_INDEX:
                raise ValueError(f"road_indices must be a non-empty list of integers in [0, {limits.MAX_ROAD_INDEX})")
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise ValueError(f"dt must be a positive number of seconds, got {self.dt}")
        in_range(self, "dt", 0.0, limits.MAX_DT, low_open=True, unit="s")
        if not (0 <= self.target_speed <= self.car.max_speed):
            raise ValueError(f"target_speed must be in [0, {self.car.max_speed}] m/s, got {self.target_speed}")
        in_range(self, "start_lateral_offset", 0.0, 0.5 * limits.MAX_ROAD_WIDTH, unit="m")
        in_range(self, "start_heading_offset", 0.0, math.pi, unit="rad")
        in_range(self, "off_road_margin", 0.0, 0.5 * limits.MAX_ROAD_WIDTH, unit="m")
        if not self.lookahead_distances or min(self.lookahead_distances) <= 0:
            raise ValueError("lookahead_distances must be positive distances in metres")
        if (
            len(self.lookahead_distances) > limits.MAX_SENSORS
            or not max(self.lookahead_distances) <= limits.MAX_SENSOR_RANGE
        ):
            raise ValueError(
                f"lookahead_distances: at most {limits.MAX_SENSORS}, each at most {limits.MAX_SENSOR_RANGE:g} m"
            )
        object.__setattr__(self, "road_preview_distances", tuple(float(d) for d in self.road_preview_distances))
        if any(not (0 <= d <= 1000) for d in self.road_preview_distances):
            raise ValueError(f"road_preview_distances must lie in [0, 1000] m, got {self.road_preview_distances}")
        if not self.ray_angles_deg or self.ray_range <= 0:
            raise ValueError("rays need at least one angle and a positive range")
        if len(self.ray_angles_deg) > limits.MAX_SENSORS or not all(-180.0 <= a <= 180.0 for a in self.ray_angles_deg):
            raise ValueError(f"ray_angles_deg: at most {limits.MAX_SENSORS} angles, each in [-180, 180] deg")
        in_range(self, "ray_range", 0.0, limits.MAX_SENSOR_RANGE, low_open=True, unit="m")
        if self.image_size < 8:
            raise ValueError("image_size must be at least 8 pixels")
        in_range(self, "image_size", 8, limits.MAX_IMAGE_SIZE, unit="px")
        in_range(self, "image_metres_per_pixel", limits.MIN_METRES_PER_PIXEL, limits.MAX_METRES_PER_PIXEL, unit="m/px")
        finite(self, "progress_reward", "centering_penalty", "off_road_penalty")
        object.__setattr__(self, "appearance", get_look(self.appearance))
        size = tuple(int(v) for v in self.camera_size)
        if len(size) != 2 or min(size) < 8:
            raise ValueError(f"camera_size must be (height, width), each at least 8 pixels, got {self.camera_size!r}")
        object.__setattr__(self, "camera_size", size)
        if not (self.camera_height > 0 and math.isfinite(self.camera_height)):
            raise ValueError(f"camera_height must be a positive number of metres, got {self.camera_height}")
        if not (-80.0 <= self.camera_pitch_deg <= 80.0):
            raise ValueError(f"camera_pitch_deg must be in [-80, 80] degrees, got {self.camera_pitch_deg}")
        if not (1.0 <= self.camera_fov_deg <= 170.0):
            raise ValueError(f"camera_fov_deg must be in [1, 170] degrees, got {self.camera_fov_deg}")
        if not (self.camera_range > 0 and math.isfinite(self.camera_range)):
            raise ValueError(f"camera_range must be a positive number of metres, got {self.camera_range}")
        if not (0.0 <= self.appearance_randomization <= 2.0):
            raise ValueError(f"appearance_randomization must be in [0, 2], got {self.appearance_randomization}")

    @property
    def action_size(self) -> int:
        return 2 if self.throttle else 1

    @property
    def max_travel_per_step(self) -> float:
        """Farthest a car can move in one step [m]."""
        return self.car.max_speed * self.dt
