"""The configuration of ``roadschool demo`` (apart from :mod:`sims.demo`, which re-exports it, so
that ``roadschool demo --help`` is made from its fields without loading PyTorch)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from agents.configs import Architecture, TrainConfig
from agents.data import CollectConfig, collect_world
from envs import CarParams, RoadFollowConfig, limits
from envs.checks import check_types, in_range

SLIPPERY_FAMILIES = ("wet", "icy")
ROAD_PREVIEW = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 75.0, 90.0, 110.0, 130.0, 150.0)
"""[m] ahead where the dynamic demo's features report friction and curvature: as far as the
expert's plan needs to brake from 15 m/s for a bend on ice."""
CARS = ("kinematic", "dynamic")
DYNAMIC_NEEDS_FEATURES = (
    "--car dynamic needs --observation features: a single {frame} does not show the car's speed, which "
    "braking for ice needs; drop --observation for the dynamic car, or drop --car dynamic for the {observation} "
    "lesson"
)
SINGLE_FRAMES = {"camera": "camera frame", "rays": "scan of the rays", "image": "top-down image"}
"""Why the demo refuses the dynamic car with ``camera``, ``rays`` or ``image``: its driver chooses
its speed, and only the ``features`` report the speed (and the road's friction and bends far ahead)."""


def demo_world(car: str = "kinematic", observation: str = "features") -> RoadFollowConfig:
    """The world of the demo's car, where the expert collects (the start offsets of ``COLLECT_WORLD``).

    ``kinematic``: the slip-free car steers at a cruise-controlled 10 m/s on dry roads;
    ``dynamic``: the car with tyres that slip drives roads with wet and icy sections, and both
    the expert and the learner choose its speed (throttle and brake) up to 15 m/s."""
    if car == "dynamic":
        return collect_world(
            car=CarParams(model="dynamic"),
            throttle=True,
            target_speed=15.0,
            road_preview_distances=ROAD_PREVIEW,
            families=SLIPPERY_FAMILIES,
            observation=observation,
        )
    if car != "kinematic":
        raise ValueError(f"car must be one of {', '.join(CARS)}, got {car!r}")
    return collect_world(observation=observation)


@dataclass(frozen=True)
class DemoConfig:
    """The main job: what the expert collects, how the network trains, how much is evaluated."""

    collect: CollectConfig = field(default_factory=CollectConfig)
    """The expert's drives of the train roads (how many, DART noise, frame stride, side cameras,
    seed) in the world of the demo (``env``: observation, car, road families)."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(print_every=5))
    """How the network trains (epochs, batch size, learning rate, architecture, augmentation, seed)."""
    test_roads: int = 50
    """Unseen roads the expert drives for the held-out test loss (seed: the collection's + 1, no side cameras)."""
    eval_roads: int = 200
    """Roads of each split for closed-loop evaluation."""
    train_eval_roads: int | None = None
    """Train roads for closed-loop evaluation (None: as many as eval_roads)."""
    dagger_rounds: int = 0
    """DAgger rounds after training (the learner drives the train roads, the expert labels what it saw)."""
    gif_frames: int = 400
    """Most frames in drive.gif (every second step is drawn)."""

    def __post_init__(self):
        check_types(self)
        in_range(self, "test_roads", 1, limits.MAX_CARS)
        in_range(self, "eval_roads", 1, limits.MAX_CARS)
        if self.train_eval_roads is not None:
            in_range(self, "train_eval_roads", 1, limits.MAX_CARS)
        in_range(self, "dagger_rounds", 0, 1000)
        in_range(self, "gif_frames", 1, 100_000)

    @property
    def seed(self) -> int:
        return self.collect.seed

    @property
    def observation(self) -> str:
        return self.collect.observation

    @property
    def world(self) -> RoadFollowConfig:
        return self.collect.env

    def test_collect(self) -> CollectConfig:
        """The expert's drives of unseen roads for the test loss."""
        return dataclasses.replace(
            self.collect,
            num_roads=self.test_roads,
            seed=self.collect.seed + 1,
            side_cameras=0.0,
            env=dataclasses.replace(self.collect.env, split="unseen"),
        )

    @classmethod
    def preset(
        cls, seed: int = 0, observation: str = "features", car: str = "kinematic", quick: bool = False
    ) -> DemoConfig:
        """The demo of a car and observation type: the full one, or (``quick``) a small one for tests.

        Raises:
            ValueError: the dynamic car with an observation other than ``features`` (see
                :data:`DYNAMIC_NEEDS_FEATURES`)."""
        if car == "dynamic" and observation != "features":
            frame = SINGLE_FRAMES.get(observation, f"{observation} observation")
            raise ValueError(DYNAMIC_NEEDS_FEATURES.format(frame=frame, observation=observation))
        world = demo_world(car, observation)
        if observation == "camera":
            config = cls.camera(seed, world)
            if quick:
                config = dataclasses.replace(
                    config,
                    collect=dataclasses.replace(config.collect, num_roads=8),
                    train=dataclasses.replace(config.train, epochs=1),
                    test_roads=3,
                    eval_roads=6,
                    train_eval_roads=4,
                    gif_frames=20,
                )
            return config
        if quick:
            return cls(
                CollectConfig(num_roads=16, seed=seed, env=world),
                TrainConfig(epochs=4, seed=seed, print_every=1),
                test_roads=6,
                eval_roads=8,
                gif_frames=40,
            )
        if car == "dynamic":
            return cls.dynamic(seed, world)
        return cls(CollectConfig(seed=seed, env=world), TrainConfig(seed=seed, print_every=5))

    @classmethod
    def dynamic(cls, seed: int = 0, world: RoadFollowConfig | None = None) -> DemoConfig:
        """The lesson of tyres that slip: 600 wet and icy train roads with DART noise on steering
        and throttle, 6 epochs, then one DAgger round (the learner drives the train roads, the
        expert labels its speed and steering there) and 6 epochs on everything. Braking in time
        for ice is learned from many roads and from the learner's own mistakes: with the kinematic
        demo's 200 roads and 30 epochs it completed 74% of 100 unseen roads, with 1,000 roads and
        6 epochs 88%; with this, 98.5% of 200 unseen roads at the expert's mean speed (README)."""
        world = world or demo_world("dynamic")
        return cls(
            CollectConfig(num_roads=600, seed=seed, env=world),
            TrainConfig(epochs=6, seed=seed, print_every=1),
            dagger_rounds=1,
        )

    @classmethod
    def camera(cls, seed: int = 0, world: RoadFollowConfig | None = None) -> DemoConfig:
        """The dashcam lesson, sized to finish in 10 minutes on 2 cores: every 6th frame of 200
        roads with DART noise and side cameras 0.5 m out, a PilotNet-style CNN for 3 epochs with
        mirrored and brightened frames, evaluated on 200 unseen roads (and 50 train roads)."""
        world = world or demo_world("kinematic", "camera")
        return cls(
            CollectConfig(num_roads=200, seed=seed, env=world, frame_stride=6, side_cameras=0.5),
            TrainConfig(
                epochs=3,
                batch_size=128,
                learning_rate=1e-3,
                seed=seed,
                print_every=1,
                net=Architecture(hidden=(100, 50, 10)),
                augment_flip=True,
                augment_brightness=0.2,
            ),
            test_roads=20,
            eval_roads=200,
            train_eval_roads=50,
            gif_frames=300,
        )
