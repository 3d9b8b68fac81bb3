"""``roadschool experiment road-change``: train on ordinary roads, then change the road.

Three ways to learn from the same expert on the same training roads:

* ``bc``: plain behaviour cloning, the expert drives cleanly (``noise_std=0``);
* ``dart``: noise-injected data, the car executes the expert's steering plus
  correlated noise while the label stays clean (the default collection);
* ``dagger``: ``bc``, then rounds in which the learner drives, the expert labels
  what it saw, and the net is retrained on everything so far.

Each trained policy (and the expert, for reference) then drives unseen roads
in changed worlds: sharper curves, narrower roads, higher speed, crosswind,
steering bias and sensor noise, each at several strengths, all with the same
evaluation seed, so every driver meets exactly the same changed world.

With ``--observation camera`` (:meth:`RoadChangeConfig.camera`) the policies are
PilotNet-style CNNs on the dashcam, a fourth method joins (``side``: clean
expert driving plus side cameras, the Udacity trick), and the world changes how
it looks (:data:`APPEARANCE_CHANGES`): darker and brighter, another look (dusk,
snow), other centre markings or none.

With ``car="dynamic"`` (``--car dynamic``) the grid is the lesson of tyres that slip
instead: the car of ``roadschool demo --car dynamic``, whose driver chooses its speed, trained on
``dry`` roads (the ``twisty`` family) or on ``mixed`` surfaces (the ``wet`` and ``icy``
families), each the demo's way (DART noise on steering and throttle, then DAgger), then
driven on roads made slipperier (``grip``) and with a higher speed limit (``speed``); see
:data:`DYNAMIC_CHANGES` and :func:`dynamic_world`.

The grid has two stages: training runs (method x seed) and evaluation runs
(driver x seed x change x strength), each one row of its CSV.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from envs import DEFAULT_FAMILIES, FAMILIES
from envs.checks import in_range
from sims.demo_config import demo_world
from sims.experiments.grid import Backend, check_grid, run_grid, write_csv, write_text
from sims.experiments.road_change_report import (
    ALL_METHODS,
    CAMERA_METHODS,
    METHODS,
    dynamic_summary,
    format_dynamic_table,
    format_table,
    plot,
    plot_dynamic,
    summary,
)

EVAL_SEED = 0
"""Seeds every evaluation episode (crosswind direction, gusts, sensor noise): the same world for every driver."""
TRAIN_CURVATURE = 1 / 22
"""Tightest bend of the training families (``twisty``) [1/m]."""


@dataclass(frozen=True)
class Change:
    """One way the world changes, and the strengths it is tried at (the first is the unchanged world)."""

    name: str
    label: str
    unit: str
    strengths: tuple[float, ...]
    harder_when_lower: bool = False
    """True if a smaller strength is the harder world (road width)."""
    tick_labels: tuple[str, ...] = ()
    """Names of the strengths 0, 1, 2, ... where a strength is an index (a look), not a number."""


CHANGES = (
    Change("curvature", "sharper curves: tightest bend", "1/m", (TRAIN_CURVATURE, 1 / 18, 1 / 15, 1 / 13, 1 / 11)),
    Change("width", "narrower roads: road width", "m", (8.0, 5.0, 3.5, 2.5, 1.5), harder_when_lower=True),
    Change("speed", "higher speed: cruise speed", "m/s", (10.0, 10.5, 12.0, 15.0, 20.0)),
    Change("crosswind", "crosswind", "m/s", (0.0, 0.5, 1.0, 2.0, 3.0)),
    Change("steering_bias", "steering bias", "rad", (0.0, 0.03, 0.06, 0.1, 0.15)),
    Change("sensor_noise", "sensor noise", "m", (0.0, 0.1, 0.3, 0.6, 1.0)),
)
CHANGE_NAMES = tuple(c.name for c in CHANGES)

LOOK_ORDER = ("day", "dusk", "snow")
"""The ``look`` change: strength k is the k-th of these looks (:data:`envs.appearance.LOOKS`)."""
MARKING_ORDER = ("dashed", "solid", "none")
"""The ``markings`` change: strength k is the daylight look with the k-th centre marking (``none`` also
removes the edge lines, the ``no-markings`` look)."""
APPEARANCE_CHANGES = (
    Change("darker", "darker: brightness", "", (1.0, 0.7, 0.5, 0.35), harder_when_lower=True),
    Change("brighter", "brighter: brightness", "", (1.0, 1.4, 2.0, 2.8)),
    Change("look", "another look", "", tuple(float(k) for k in range(len(LOOK_ORDER))), tick_labels=LOOK_ORDER),
    Change(
        "markings",
        "fewer markings: centre marking",
        "",
        tuple(float(k) for k in range(len(MARKING_ORDER))),
        tick_labels=MARKING_ORDER,
    ),
)
"""How the camera's world can look different from the daylight it learned in (``camera`` only)."""
APPEARANCE_CHANGE_NAMES = tuple(c.name for c in APPEARANCE_CHANGES)
ALL_CHANGES = CHANGES + APPEARANCE_CHANGES

CARS = ("kinematic", "dynamic")
TRAINING_SURFACES = {"dry": ("twisty",), "mixed": ("wet", "icy")}
"""The dynamic car's training conditions: the road families each policy is trained on. Both
have the same bends (``wet`` and ``icy`` are ``twisty`` with slippery sections)."""
DYNAMIC_METHODS = tuple(TRAINING_SURFACES)
DYNAMIC_TOP_SPEED = demo_world("dynamic").target_speed
"""[m/s] the speed limit of the dynamic car's training world (``demo_world("dynamic")``: 15 m/s)."""
DYNAMIC_CHANGES = (
    Change("grip", "slipperier roads: friction of the sections", "mu", (1.0, 0.7, 0.3, 0.1), harder_when_lower=True),
    Change(
        "speed",
        "higher speed limit: start and expert's top speed",
        "m/s",
        (DYNAMIC_TOP_SPEED, 17.5, 20.0, 25.0),
    ),
)
"""The dynamic car's changes. ``grip``: the unseen roads of the ``icy`` family (``twisty``'s
bends), their slippery sections (after the lead-in, 40-120 m each, alternating with dry
stretches as long; 43% of the first 200 roads' length) all made of the surface with this friction coefficient: dry
(1.0, the dry policy's training world), wet (0.7), snow (0.3), ice (0.1). ``speed``: the same
roads, dry, with a higher speed limit: every episode starts at this speed and the expert plans
up to it; the learner is not told the limit, it meets it as a faster start than in training."""
DYNAMIC_CHANGE_NAMES = tuple(c.name for c in DYNAMIC_CHANGES)
ALL_CHANGE_NAMES = tuple(dict.fromkeys(CHANGE_NAMES + APPEARANCE_CHANGE_NAMES + DYNAMIC_CHANGE_NAMES))
"""Every change a grid may name (``speed`` is the kinematic car's cruise speed, the dynamic car's limit)."""


@dataclass(frozen=True)
class RoadChangeSetup:
    """What every run of the grid shares: how each policy trains and what it is tested on."""

    train_roads: int = 32
    """Training roads (the first of the train split), the same for every method and seed."""
    epochs: int = 20
    """Epochs of every training (DAgger retrains from scratch each round)."""
    dagger_rounds: int = 3
    """DAgger rounds after behaviour cloning; each adds about as many learner-visited steps as the expert data."""
    dart_noise: float = 0.15
    """DART steering noise std (normalized steering)."""
    eval_roads: int = 48
    """Unseen roads driven at every change and strength."""
    observation: str = field(default="features", metadata={"choices": ("features", "rays", "camera")})
    """Observation of the trained policies."""
    families: tuple[str, ...] = field(default=DEFAULT_FAMILIES, metadata={"choices": tuple(FAMILIES)})
    """Road families, used in turn (the kinematic car; the dynamic car's come with its training conditions)."""
    car: str = field(default="kinematic", metadata={"choices": CARS})
    """kinematic: the slip-free car at 10 m/s, BC, DART and DAgger; dynamic: the car with tyres that
    slip and a driver that chooses its speed, trained on dry or mixed surfaces, on slipperier and faster
    roads (its own defaults: methods dry mixed, 2 seeds, 300 train roads, 6 epochs, 1 DAgger round, 200
    eval roads; the other options change them)."""

    frame_stride: int = 1
    """Record every this many steps of each drive (camera frames are big; consecutive ones nearly equal)."""
    side_cameras: float = 0.5
    """The ``side`` method's cameras [m] left and right of the car (as in the camera demo)."""

    def __post_init__(self):
        check_grid(self)
        in_range(self, "dagger_rounds", 0, 1000)
        in_range(self, "dart_noise", 0.0, 10.0)
        in_range(self, "frame_stride", 1, 1000)
        in_range(self, "side_cameras", 0.01, 2.0, unit="m")
        if self.car not in CARS:
            raise ValueError(f"car must be one of {', '.join(CARS)}, got {self.car!r}")
        if self.car == "dynamic" and tuple(self.families) != DEFAULT_FAMILIES:
            raise ValueError(
                "families: only for car kinematic; with car dynamic the training roads come from methods "
                "(dry: twisty, mixed: wet+icy)"
            )
        if self.car == "dynamic" and self.observation != "features":
            raise ValueError(
                "observation must be features with car dynamic (only they preview the friction and bends ahead)"
            )


@dataclass(frozen=True)
class RoadChangeConfig:
    """The grid: methods x seeds trained once (``setup``), then every change at every strength."""

    methods: tuple[str, ...] = field(default=METHODS, metadata={"choices": ALL_METHODS + DYNAMIC_METHODS})
    """Training methods: behaviour cloning, BC on DART-noised data, DAgger after BC; camera only: ``side``,
    BC on clean driving seen also from side cameras (default with --observation camera: all four); for
    the dynamic car the training surfaces: dry, mixed (wet and icy)."""
    seeds: int = 5
    """Seeds per method (data, initial weights and shuffling)."""
    first_seed: int = 0
    """Seeds are first_seed, first_seed + 1, ..."""
    changes: tuple[Change, ...] = CHANGES
    setup: RoadChangeSetup = field(default_factory=RoadChangeSetup)
    """What every run shares."""

    def __post_init__(self):
        check_grid(self)
        allowed = DYNAMIC_METHODS if self.setup.car == "dynamic" else ALL_METHODS
        if not self.methods or any(m not in allowed for m in self.methods):
            raise ValueError(
                f"methods must be among {', '.join(allowed)} with car {self.setup.car}, got {self.methods}"
            )
        camera = self.setup.observation == "camera"
        if "side" in self.methods and not camera:
            raise ValueError("the side method needs camera observations (--observation camera)")
        appearance = [c.name for c in self.changes if c.name in APPEARANCE_CHANGE_NAMES]
        if appearance and not camera:
            raise ValueError(f"the change(s) {', '.join(appearance)} need camera observations (--observation camera)")
        pool = DYNAMIC_CHANGES if self.setup.car == "dynamic" else ALL_CHANGES
        other = [c.name for c in self.changes if c.name not in {p.name for p in pool}]
        if other:
            raise ValueError(
                f"the change(s) {', '.join(other)} are not the {self.setup.car} car's; "
                f"choose from {', '.join(p.name for p in pool)}"
            )

    @classmethod
    def quick(cls) -> RoadChangeConfig:
        return cls(
            seeds=1,
            changes=tuple(replace(c, strengths=c.strengths[::3]) for c in CHANGES),
            setup=RoadChangeSetup(train_roads=3, epochs=2, dagger_rounds=1, eval_roads=2),
        )

    @classmethod
    def camera(cls) -> RoadChangeConfig:
        """The dashcam grid: plain BC, DART, side cameras and DAgger, trained in daylight on every 6th
        frame of few roads, one seed, driven on darker, brighter, other-looking and unmarked roads;
        44 min on the loaded 2-core machine (README, *Experiments*)."""
        return cls(
            methods=CAMERA_METHODS,
            seeds=1,
            changes=APPEARANCE_CHANGES,
            setup=RoadChangeSetup(
                train_roads=32, epochs=10, dagger_rounds=1, eval_roads=12, observation="camera", frame_stride=6
            ),
        )

    @classmethod
    def quick_camera(cls) -> RoadChangeConfig:
        return cls(
            methods=CAMERA_METHODS,
            seeds=1,
            changes=tuple(replace(c, strengths=(c.strengths[0], c.strengths[-1])) for c in APPEARANCE_CHANGES),
            setup=RoadChangeSetup(
                train_roads=2, epochs=1, dagger_rounds=1, eval_roads=2, observation="camera", frame_stride=20
            ),
        )

    @classmethod
    def dynamic(cls, quick: bool = False) -> RoadChangeConfig:
        """The dynamic car's grid: dry and mixed policies, 2 seeds each (300 train roads, 6 epochs, DART,
        one DAgger round: half the dynamic demo's roads, about 25 minutes on 2 busy cores), driven on
        200 unseen roads at every grip and speed strength; ``quick``: a tiny one for tests."""
        if quick:
            return cls(
                methods=DYNAMIC_METHODS,
                seeds=1,
                changes=tuple(replace(c, strengths=(c.strengths[0], c.strengths[-1])) for c in DYNAMIC_CHANGES),
                setup=RoadChangeSetup(train_roads=3, epochs=1, dagger_rounds=1, eval_roads=2, car="dynamic"),
            )
        return cls(
            methods=DYNAMIC_METHODS,
            seeds=2,
            changes=DYNAMIC_CHANGES,
            setup=RoadChangeSetup(train_roads=300, epochs=6, dagger_rounds=1, eval_roads=200, car="dynamic"),
        )

    def with_overrides(self, seeds=None, first_seed=None, methods=None, changes=None, observation=None):
        kw = {k: v for k, v in (("seeds", seeds), ("first_seed", first_seed)) if v is not None}
        if observation is not None:
            kw["setup"] = replace(self.setup, observation=observation)
        dynamic = self.setup.car == "dynamic"
        if methods:
            allowed = DYNAMIC_METHODS if dynamic else ALL_METHODS
            unknown = set(methods) - set(allowed)
            if unknown:
                raise ValueError(
                    f"unknown method(s) {sorted(unknown)} with --car {self.setup.car}; choose from {', '.join(allowed)}"
                )
            kw["methods"] = tuple(methods)
        if changes:
            pool = DYNAMIC_CHANGES if dynamic else ALL_CHANGES
            names = tuple(c.name for c in pool)
            unknown = set(changes) - set(names)
            if unknown:
                raise ValueError(
                    f"unknown change(s) {sorted(unknown)} with --car {self.setup.car}; choose from {', '.join(names)}"
                )
            mine = {c.name: c for c in self.changes}
            kw["changes"] = tuple(mine.get(c.name, c) for c in pool if c.name in changes)
        return replace(self, **kw)


# ------------------------------------------------------------------ stage 1: training
@dataclass(frozen=True)
class TrainingRun:
    """One policy to train: a method (``bc``, ``dart``, ``dagger``) and a seed, in the grid's ``setup``."""

    method: str
    seed: int
    setup: RoadChangeSetup

    @property
    def cost(self) -> float:
        rounds = self.setup.dagger_rounds
        return float((rounds + 2) * (rounds + 1) // 2 if self.method == "dagger" else 1)

    @property
    def name(self) -> str:
        return f"{self.method}-seed{self.seed}"


def train_policy(spec: TrainingRun) -> dict:
    """Collect, train (and for DAgger, aggregate and retrain); return the weights."""
    from agents.dagger import dagger
    from agents.data import CollectConfig, collect, collect_world
    from agents.training import TrainConfig, train

    setup = spec.setup
    noise = setup.dart_noise if spec.method == "dart" else 0.0
    collect_config = CollectConfig(
        num_roads=setup.train_roads,
        noise_std=noise,
        seed=spec.seed,
        env=collect_world(families=setup.families, observation=setup.observation),
        frame_stride=setup.frame_stride,
        side_cameras=setup.side_cameras if spec.method == "side" else 0.0,
    )
    train_config = TrainConfig(epochs=setup.epochs, seed=spec.seed, print_every=0)
    if setup.observation == "camera":
        train_config = camera_training(train_config)
    data = collect(collect_config)
    expert_samples = len(data)
    policy, _ = train(data, None, train_config)
    if spec.method == "dagger":
        policy, data, _ = dagger(policy, data, None, setup.dagger_rounds, collect_config, train_config, log=_quiet)
    net = policy.net
    row = {
        "method": spec.method,
        "seed": spec.seed,
        "train_roads": setup.train_roads,
        "collect_noise_std": noise,
        "frame_stride": setup.frame_stride,
        "side_cameras": collect_config.side_cameras,
        "dagger_rounds": setup.dagger_rounds if spec.method == "dagger" else 0,
        "expert_driven_samples": expert_samples,
        "train_samples": len(data),
        "epochs": setup.epochs,
    }
    if setup.observation == "features":
        # what the net divides the speed input by: its spread in the training data, or 1 if it never varied
        from envs import RoadFollowConfig
        from envs.observations import feature_names

        row["speed_input_scale"] = float(net.obs_std[feature_names(RoadFollowConfig()).index("speed")])
    weights = {
        "net_config": net.config.as_dict(),
        "state": {k: v.detach().numpy().copy() for k, v in net.state_dict().items()},
    }
    return {"row": row, "details": weights}


def camera_training(config):
    """``config`` (a :class:`agents.training.TrainConfig`) with the camera demo's minibatch, step size and
    PilotNet-style head, without its augmentations (so that every changed look is new to the net)."""
    from sims.demo_config import DemoConfig

    demo = DemoConfig.camera().train
    return replace(config, batch_size=demo.batch_size, learning_rate=demo.learning_rate, net=demo.net)


def _quiet(*args, **kwargs) -> None:
    pass


# ------------------------------------------------------------------ stage 2: evaluation
@dataclass(frozen=True)
class EvaluationRun:
    """One driver (a trained policy, or the expert) on the unseen roads of one changed world."""

    method: str
    seed: int | None
    change: str
    strength: float
    setup: RoadChangeSetup
    weights: dict | None = dataclasses.field(default=None, compare=False, repr=False)
    """``net_config`` and ``state`` of the trained net; None for the expert."""

    cost = 1.0


def sharper_family(curvature: float):
    """A hairpin-shaped road family whose tightest bend has ``curvature`` [1/m] (the project's own
    ``hairpin`` family at its own curvature, 1/11 m; much sharper ones cannot always be drawn
    without the road touching itself)."""
    from envs.generation import FAMILIES

    hairpin = FAMILIES["hairpin"]
    if abs(curvature - hairpin.max_curvature) < 1e-9:
        return hairpin
    return replace(hairpin, name=f"hairpin-r{1 / curvature:.3g}", max_curvature=curvature)


def changed_world(
    change: str, strength: float, eval_roads: int, observation: str = "features", families=DEFAULT_FAMILIES
):
    """The roads, the environment config and a description of ``change`` at ``strength``."""
    from agents.evaluation import env_config_for
    from envs import Disturbances, generate_road
    from envs.generation import split_roads

    env_config = env_config_for(observation)
    roads = split_roads("unseen", eval_roads, families)
    description = f"unseen {'+'.join(families)} roads"
    if change == "curvature":
        if abs(strength - TRAIN_CURVATURE) > 1e-9:
            family = sharper_family(strength)
            roads = [generate_road("unseen", family, i) for i in range(eval_roads)]
            description = f"unseen {family.name} roads (tightest bend {1 / strength:.3g} m)"
        else:
            description += " (as in training)"
    elif change == "width":
        roads = [road.with_width(strength) for road in roads]
        description += f" narrowed or widened to {strength:g} m"
    elif change == "speed":
        env_config = replace(env_config, target_speed=strength)
        description += f" at {strength:g} m/s"
    elif change in ("crosswind", "steering_bias", "sensor_noise"):
        field = {"crosswind": "crosswind", "steering_bias": "steering_bias", "sensor_noise": "observation_noise"}[
            change
        ]
        env_config = replace(env_config, disturbances=Disturbances(**{field: strength}))
        description += f" with {field.replace('_', ' ')} {strength:g}"
    elif change in APPEARANCE_CHANGE_NAMES:
        env_config, look = appearance_world(env_config, change, strength)
        description += f" in {look}"
    else:
        names = CHANGE_NAMES + APPEARANCE_CHANGE_NAMES
        raise ValueError(f"unknown change {change!r}; choose from {', '.join(names)}")
    return roads, env_config, description


def appearance_world(env_config, change: str, strength: float):
    """``env_config`` in the look of an appearance change at ``strength``, and the look described."""
    from envs.appearance import LOOKS

    day = LOOKS["day"]
    if change in ("darker", "brighter"):
        return replace(env_config, appearance=day.replace(brightness=strength)), f"daylight at brightness {strength:g}"
    index = round(strength)
    order = LOOK_ORDER if change == "look" else MARKING_ORDER
    if not (0 <= index < len(order) and abs(strength - index) < 1e-9):
        raise ValueError(f"{change} strengths are 0 ... {len(order) - 1} ({', '.join(order)}), got {strength:g}")
    if change == "look":
        return replace(env_config, appearance=LOOKS[order[index]]), f"the {order[index]} look"
    return replace(env_config, appearance=day.replace(markings=order[index])), f"daylight, {order[index]} markings"


def evaluate_in_changed_world(spec: EvaluationRun) -> dict:
    from agents.drivers import ExpertDriver, PolicyDriver
    from agents.evaluation import aggregate, drive

    setup = spec.setup
    roads, env_config, description = changed_world(
        spec.change, spec.strength, setup.eval_roads, setup.observation, setup.families
    )
    if spec.weights is None:
        driver = ExpertDriver()
    else:
        driver = PolicyDriver(policy_from_weights(spec.weights))
    result = aggregate([t.metrics() for t in drive(driver, roads, env_config, seed=EVAL_SEED)])
    row = {
        "method": spec.method,
        "seed": "" if spec.seed is None else spec.seed,
        "change": spec.change,
        "strength": spec.strength,
        "world": description,
        "completion_rate": result["completion_rate"],
        "off_road_rate": result["off_road_rate"],
        "mean_abs_cte": result["mean_abs_cte"],
        "max_abs_cte": result["max_abs_cte"],
        "roads": result["episodes"],
    }
    return {"row": row, "details": {}}


def policy_from_weights(weights: dict):
    import torch

    from agents.model import NetConfig, SteeringNet, SteeringPolicy

    net = SteeringNet(NetConfig.from_dict(weights["net_config"]))
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights["state"].items()})
    return SteeringPolicy(net)


def describe_training(spec: TrainingRun) -> str:
    return f"train {spec.method:<6} seed {spec.seed}"


def describe_evaluation(spec: EvaluationRun) -> str:
    seed = "" if spec.seed is None else f" seed {spec.seed}"
    return f"drive {spec.method:<6}{seed:<8} {spec.change} {spec.strength:.3g}"


def run_experiment(
    out: Path, config: RoadChangeConfig, backend: Backend = Backend(), log=print, resume: bool = False
) -> list[dict]:
    """Train, then drive every changed world; write ``training.csv``, ``results.csv``, ``models/``,
    ``road_change.png`` and ``summary.md``. The dynamic car's grid trains the dry and mixed
    policies and drives every grip and speed strength, with its own metrics, figure and summary."""
    from agents.model import save_checkpoint

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    setup = config.setup
    if setup.car == "dynamic":
        title, run, train, evaluate = (
            "road-change (dynamic car)",
            DynamicTrainingRun,
            train_dynamic_policy,
            evaluate_dynamic,
        )
    else:
        title, run, train, evaluate = "road-change", TrainingRun, train_policy, evaluate_in_changed_world
    training = [run(m, config.first_seed + k, setup) for m in config.methods for k in range(config.seeds)]
    log(f"{title}, stage 1: {len(training)} training runs on {backend.describe()}")
    trained = run_grid(
        train, training, backend, describe_training, log, store=out / ".runs" / "training", resume=resume
    )
    write_csv(out / "training.csv", [t["row"] for t in trained])
    for spec, result in zip(training, trained):
        details = result["details"]
        world = {"env": details["env"]} if "env" in details else {}  # the dynamic policies' training world
        save_checkpoint(out / "models" / f"{spec.name}.pt", policy_from_weights(details).net, **world, **result["row"])

    evaluations = [EvaluationRun("expert", None, c.name, s, setup) for c in config.changes for s in c.strengths] + [
        EvaluationRun(spec.method, spec.seed, c.name, s, setup, result["details"])
        for spec, result in zip(training, trained)
        for c in config.changes
        for s in c.strengths
    ]
    log(f"{title}, stage 2: {len(evaluations)} evaluation runs on {backend.describe()}")
    results = run_grid(
        evaluate, evaluations, backend, describe_evaluation, log, store=out / ".runs" / "evaluation", resume=resume
    )
    rows = [r["row"] for r in results]
    train_samples = {(t["row"]["method"], t["row"]["seed"]): t["row"]["train_samples"] for t in trained}
    for row in rows:
        row["train_samples"] = train_samples.get((row["method"], row["seed"]), "")
    write_csv(out / "results.csv", rows)
    training_rows = [t["row"] for t in trained]
    if setup.car == "dynamic":
        plot_dynamic(rows, config.changes, out / "road_change.png")
        table = format_dynamic_table(rows, config.changes)
        text = dynamic_summary(rows, training_rows, config, table)
    else:
        plot(rows, config.changes, out / "road_change.png", setup.observation, setup.families)
        table = format_table(rows, config.changes)
        text = summary(rows, training_rows, config, table)
    write_text(out / "summary.md", text)
    log(table)
    log(f"wrote {out}/training.csv, results.csv, models/, road_change.png, summary.md")
    return rows


@dataclass(frozen=True)
class DynamicTrainingRun(TrainingRun):
    """One policy of the dynamic car to train: a training condition (``dry``, ``mixed``) and a seed."""

    @property
    def cost(self) -> float:
        rounds = self.setup.dagger_rounds
        return float((rounds + 2) * (rounds + 1) // 2)


def dynamic_training_world(method: str):
    """The world a ``dry`` or ``mixed`` policy is trained in: the dynamic demo's (the car with tyres
    that slip, throttle and brake, speed limit 15 m/s, a preview of friction and bends ahead) on the
    families of :data:`TRAINING_SURFACES`."""
    if method not in TRAINING_SURFACES:
        raise ValueError(f"training condition must be one of {', '.join(DYNAMIC_METHODS)}, got {method!r}")
    return replace(demo_world("dynamic"), families=TRAINING_SURFACES[method])


def train_dynamic_policy(spec: TrainingRun) -> dict:
    """Collect with DART noise on steering and throttle, train, then DAgger (as ``demo --car
    dynamic``), on the roads of the run's training condition; return the weights."""
    from agents.dagger import dagger
    from agents.data import CollectConfig, collect, config_to_dict
    from agents.training import TrainConfig, train
    from envs.observations import feature_names

    setup = spec.setup
    world = dynamic_training_world(spec.method)
    collect_config = CollectConfig(num_roads=setup.train_roads, noise_std=setup.dart_noise, seed=spec.seed, env=world)
    train_config = TrainConfig(epochs=setup.epochs, seed=spec.seed, print_every=0)
    data = collect(collect_config)
    expert_samples = len(data)
    policy, _ = train(data, None, train_config)
    if setup.dagger_rounds:
        policy, data, _ = dagger(policy, data, None, setup.dagger_rounds, collect_config, train_config, log=_quiet)
    net = policy.net
    names = feature_names(world)
    friction = [i for i, name in enumerate(names) if name.startswith("friction_")]
    row = {
        "method": spec.method,
        "seed": spec.seed,
        "families": "+".join(world.families),
        "train_roads": setup.train_roads,
        "collect_noise_std": setup.dart_noise,
        "dagger_rounds": setup.dagger_rounds,
        "expert_driven_samples": expert_samples,
        "train_samples": len(data),
        "epochs": setup.epochs,
        # what the net divides its friction inputs by: their spread in training, 1 where they never varied
        "friction_input_scale": float(net.obs_std[friction].mean()),
        "friction_inputs_varied": int((net.obs_std[friction] != 1.0).sum()),
        "friction_inputs": len(friction),
    }
    weights = {
        "net_config": net.config.as_dict(),
        "state": {k: v.detach().numpy().copy() for k, v in net.state_dict().items()},
        "env": config_to_dict(world),
    }
    return {"row": row, "details": weights}


def dynamic_world(change: str, strength: float, eval_roads: int):
    """The roads, the environment config and a description of the dynamic car's ``change`` at ``strength``.

    The roads are the first ``eval_roads`` unseen roads of the ``icy`` family (the bends of
    ``twisty``, the dry policy's training roads). ``grip``: their slippery sections all made of the
    surface whose friction coefficient is ``strength`` (1.0: dry, no sections); ``speed``: dry,
    every episode starts at ``strength`` [m/s] and the expert plans up to it."""
    from agents.evaluation import env_config_for
    from envs.generation import split_roads
    from envs.road import SURFACES

    env_config = env_config_for("features", dynamic_training_world("mixed"))
    roads = split_roads("unseen", eval_roads, "icy")
    dry = [road.with_surfaces(()) for road in roads]
    if change == "grip":
        surface = next((name for name, mu in SURFACES.items() if abs(mu - strength) < 1e-9), None)
        if surface is None:
            known = ", ".join(f"{name} {mu:g}" for name, mu in SURFACES.items())
            raise ValueError(f"grip strength must be the friction of a surface ({known}), got {strength:g}")
        if surface == "dry":
            return dry, env_config, "unseen twisty-shaped roads, dry (as the dry policy's training)"
        roads = [road.with_surfaces([(start, end, surface) for start, end, _ in road.surfaces]) for road in roads]
        share = sum(sum(e - s for s, e, _ in r.surfaces) for r in roads) / sum(r.length for r in roads)
        return roads, env_config, f"unseen twisty-shaped roads, {100 * share:.0f}% of them {surface} (mu {strength:g})"
    if change == "speed":
        env_config = replace(env_config, target_speed=strength)
        if abs(strength - DYNAMIC_TOP_SPEED) < 1e-9:
            return dry, env_config, f"unseen twisty-shaped roads, dry, at the training speed limit {strength:g} m/s"
        return dry, env_config, f"unseen twisty-shaped roads, dry, starting at {strength:g} m/s (expert's limit)"
    raise ValueError(f"unknown change {change!r} of the dynamic car; choose from {', '.join(DYNAMIC_CHANGE_NAMES)}")


def evaluate_dynamic(spec: EvaluationRun) -> dict:
    """One driver of the dynamic car on the unseen roads of one changed world: completion, off-road,
    |cte|, speed, lap time, lateral acceleration and time sliding."""
    from agents.drivers import ExpertDriver, PolicyDriver
    from agents.evaluation import aggregate, drive

    roads, env_config, description = dynamic_world(spec.change, spec.strength, spec.setup.eval_roads)
    driver = ExpertDriver() if spec.weights is None else PolicyDriver(policy_from_weights(spec.weights))
    trajectories = drive(driver, roads, env_config, seed=EVAL_SEED)
    result = aggregate([t.metrics() for t in trajectories])
    starts = first_section_starts(spec.setup.eval_roads)
    entries = [speed_where(t, start) for t, start in zip(trajectories, starts) if start is not None]
    entries = [v for v in entries if v is not None]
    result["speed_at_first_section"] = sum(entries) / len(entries) if entries else None
    row = {
        "method": spec.method,
        "seed": "" if spec.seed is None else spec.seed,
        "change": spec.change,
        "strength": spec.strength,
        "world": description,
        **{key: result[key] for key in DYNAMIC_METRICS},
        "roads": result["episodes"],
    }
    return {"row": row, "details": {}}


def first_section_starts(eval_roads: int) -> list[float | None]:
    """[m] where the first slippery section of each of the dynamic car's evaluation roads begins
    (the unseen ``icy`` roads; the same place on their dry versions); None for a road without one."""
    from envs.generation import split_roads

    return [road.surfaces[0][0] if road.surfaces else None for road in split_roads("unseen", eval_roads, "icy")]


def speed_where(trajectory, s: float) -> float | None:
    """[m/s] the car's speed when it first got ``s`` [m] along the road; None if it never did."""
    reached = np.flatnonzero(trajectory.progress_m >= s)
    return float(trajectory.speed[reached[0]]) if len(reached) else None


DYNAMIC_METRICS = (
    "completion_rate",
    "off_road_rate",
    "mean_abs_cte",
    "max_abs_cte",
    "mean_speed",
    "speed_at_first_section",
    "lap_time",
    "peak_lateral_accel",
    "sliding_time",
)
"""The columns of the dynamic car's ``results.csv`` (see :mod:`agents.evaluation`; and
``speed_at_first_section`` [m/s], the mean speed with which the cars reached the start of their
road's first slippery section, over the cars that got there: how fast they enter it)."""
