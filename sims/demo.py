"""``roadschool demo``: collect on train roads, train, evaluate on train and unseen roads, report."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from agents.dagger import dagger
from agents.data import CollectConfig, collect, collect_world, config_to_dict
from agents.drivers import ExpertDriver, PolicyDriver
from agents.evaluation import aggregate, drive, env_config_for
from agents.model import Architecture
from agents.training import TrainConfig, train
from envs import CarParams, RoadFollowConfig, limits
from envs.atomic import write_text_atomically
from envs.checks import check_types, in_range
from sims.report import format_table, write_report
from sims.roads import split_road_list
from sims.video import beside, dashcam_frames, drive_frames, write_gif

SLIPPERY_FAMILIES = ("wet", "icy")
ROAD_PREVIEW = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 75.0, 90.0, 110.0, 130.0, 150.0)
"""[m] ahead where the dynamic demo's features report friction and curvature: as far as the
expert's plan needs to brake from 15 m/s for a bend on ice."""
CARS = ("kinematic", "dynamic")


def demo_world(car: str = "kinematic", observation: str = "features") -> RoadFollowConfig:
    """The world of the demo's car, where the expert collects (the start offsets of ``COLLECT_WORLD``).

    ``kinematic``: the slip-free car steers at a cruise-controlled 10 m/s on dry roads;
    ``dynamic``: the car with tyres that slip drives roads with wet and icy sections, and both
    the expert and the learner choose its speed (throttle and brake) up to 15 m/s."""
    if car == "dynamic":
        return collect_world(car=CarParams(model="dynamic"), throttle=True, target_speed=15.0,
                             road_preview_distances=ROAD_PREVIEW, families=SLIPPERY_FAMILIES, observation=observation)  # fmt: skip
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
        return dataclasses.replace(self.collect, num_roads=self.test_roads, seed=self.collect.seed + 1, side_cameras=0.0,
                                   env=dataclasses.replace(self.collect.env, split="unseen"))  # fmt: skip

    @classmethod
    def preset(cls, seed: int = 0, observation: str = "features", car: str = "kinematic", quick: bool = False) -> DemoConfig:
        """The demo of a car and observation type: the full one, or (``quick``) a small one for tests."""
        world = demo_world(car, observation)
        if observation == "camera":
            config = cls.camera(seed, world)
            if quick:
                config = dataclasses.replace(config, collect=dataclasses.replace(config.collect, num_roads=8),
                                             train=dataclasses.replace(config.train, epochs=1), test_roads=3,
                                             eval_roads=6, train_eval_roads=4, gif_frames=20)  # fmt: skip
            return config
        if quick:
            return cls(CollectConfig(num_roads=16, seed=seed, env=world), TrainConfig(epochs=4, seed=seed, print_every=1),
                       test_roads=6, eval_roads=8, gif_frames=40)  # fmt: skip
        return cls(CollectConfig(seed=seed, env=world), TrainConfig(seed=seed, print_every=5))

    @classmethod
    def camera(cls, seed: int = 0, world: RoadFollowConfig | None = None) -> DemoConfig:
        """The dashcam lesson, sized to finish in 10 minutes on 2 cores: every 6th frame of 200
        roads with DART noise and side cameras 0.5 m out, a PilotNet-style CNN for 3 epochs with
        mirrored and brightened frames, evaluated on 200 unseen roads (and 50 train roads)."""
        world = world or demo_world("kinematic", "camera")
        return cls(CollectConfig(num_roads=200, seed=seed, env=world, frame_stride=6, side_cameras=0.5),
                   TrainConfig(epochs=3, batch_size=128, learning_rate=1e-3, seed=seed, print_every=1,
                               net=Architecture(hidden=(100, 50, 10)), augment_flip=True, augment_brightness=0.2),
                   test_roads=20, eval_roads=200, train_eval_roads=50, gif_frames=300)  # fmt: skip


def run_demo(out: Path, config: DemoConfig, progress: bool = True, log=print, tensorboard: Path | None = None) -> dict:
    """The main job into ``out``; with ``tensorboard``, also TensorBoard scalars into that folder
    (``losses/*`` and ``charts/*`` per epoch of the first training, ``eval/<split>/*`` and
    ``eval_expert/<split>/*`` at step = the last epoch)."""
    scalars = None
    if tensorboard is not None:
        from sims.tensorboard import ScalarLog

        scalars = ScalarLog(tensorboard)
    try:
        return _run_demo(out, config, progress, log, scalars)
    finally:
        if scalars is not None:
            scalars.close()
            log(f"      TensorBoard scalars in {tensorboard} (tensorboard --logdir {tensorboard})")


def _run_demo(out: Path, config: DemoConfig, progress: bool, log, scalars) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    world, families = config.world, config.world.families
    noise = "steering and throttle" if world.throttle else "steering"

    camera = config.observation == "camera"
    phases: dict[str, float] = {}
    train_cfg = config.collect
    side = f", side cameras {train_cfg.side_cameras:g} m out" if train_cfg.side_cameras else ""
    log(f"[1/5] The expert drives {train_cfg.num_roads} train roads (with DART {noise} noise{side}) ...")
    train_data = collect(train_cfg, progress=progress)
    test_data = collect(config.test_collect(), progress=progress)
    every = f" (every {train_cfg.frame_stride}th step)" if train_cfg.frame_stride > 1 else ""
    log(f"      {len(train_data)} training samples{every}, {len(test_data)} test samples on unseen roads; "
        f"observations {train_data.obs.nbytes / 1e6:.0f} MB as {train_data.obs.dtype}")  # fmt: skip
    phases["collect"] = time.perf_counter() - clock

    tcfg = config.train
    log(f"[2/5] Training the {'driving' if world.throttle else 'steering'} network ({tcfg.epochs} epochs) ...")
    started = time.perf_counter()
    model_path = out / "model.pt"
    policy, history = train(train_data, test_data, tcfg, checkpoint=model_path, log=log,
                            on_epoch=scalars.on_epoch(len(train_data)) if scalars else None)
    if config.dagger_rounds:
        policy, train_data, hs = dagger(
            policy, train_data, test_data, config.dagger_rounds, train_cfg, tcfg, model_path, log, progress
        )
        history = hs[-1]
    phases["train"] = time.perf_counter() - started
    samples = sum(len(train_data) for _ in history.epoch)
    log(f"      {samples / phases['train']:.0f} training samples/s")

    train_eval = config.eval_roads if config.train_eval_roads is None else config.train_eval_roads
    log(f"[3/5] Closed-loop evaluation on {train_eval} train and {config.eval_roads} unseen roads ...")
    started = time.perf_counter()
    env_cfg = env_config_for(config.observation, world)
    expert_cfg = env_config_for("features", world)  # the expert reads no observation: no frames to render for it
    metrics: dict = {"expert": {}}
    trajectories = {}
    for split, count in (("train", train_eval), ("unseen", config.eval_roads)):
        roads = split_road_list(split, count, families)
        for who, driver in (("learner", PolicyDriver(policy)), ("expert", ExpertDriver())):
            trajs = drive(driver, roads, env_cfg if who == "learner" else expert_cfg, progress=progress)
            agg = aggregate([t.metrics() for t in trajs])
            if who == "learner":
                metrics[split] = agg
            else:
                metrics["expert"][split] = agg
            trajectories[(who, split)] = trajs
    table = {"learner": {"train": metrics["train"], "unseen": metrics["unseen"]}, "expert": metrics["expert"]}
    if scalars is not None:
        for split in ("train", "unseen"):
            scalars.evaluation(split, metrics[split], tcfg.epochs)
            scalars.evaluation(split, metrics["expert"][split], tcfg.epochs, who="eval_expert")
    log(format_table(table))
    ratio = metrics["unseen"]["mean_abs_cte"] / max(metrics["expert"]["unseen"]["mean_abs_cte"], 1e-12)
    log(f"      unseen mean |cte|: learner/expert = {ratio:.2f}")
    if world.throttle:
        speed_ratio = metrics["unseen"]["mean_speed"] / max(metrics["expert"]["unseen"]["mean_speed"], 1e-12)
        log(f"      unseen mean speed: learner/expert = {speed_ratio:.3f}; sliding: learner "
            f"{metrics['unseen']['sliding_time']:.2f} s, expert {metrics['expert']['unseen']['sliding_time']:.2f} s a road")  # fmt: skip

    # the unseen road shown in the pictures: the one where the learner drifted most (typical of its worst)
    learner_unseen = trajectories[("learner", "unseen")]
    pick = max(range(len(learner_unseen)), key=lambda i: learner_unseen[i].metrics()["mean_abs_cte"])
    road = split_road_list("unseen", config.eval_roads, families)[pick]
    learner_traj, expert_traj = learner_unseen[pick], trajectories[("expert", "unseen")][pick]
    phases["evaluate"] = time.perf_counter() - started
    started = time.perf_counter()
    dashcam = dashcam_frames(policy, road, env_cfg) if camera else None

    log("[4/5] Writing report.png and metrics.json ...")
    write_report(
        out / "report.png",
        history.as_dict(),
        metrics,
        road,
        learner_traj,
        expert_traj,
        title=f"roadschool demo: {len(train_data)} expert {'frames' if camera else 'steps'} on {train_cfg.num_roads} train roads",
        camera_frames=dashcam,
    )
    result = {
        **metrics,
        "history": history.as_dict(),
        "config": config_to_dict(config),
        "gif_road": road.name,
        "per_road": {
            f"{who}/{split}": {t.road: t.metrics() for t in trajs} for (who, split), trajs in trajectories.items()
        },
    }
    write_text_atomically(out / "metrics.json", json.dumps(result, indent=2))

    log(f"[5/5] Rendering drive.gif on unseen road {road.name} ...")
    frames = [f for f, _ in drive_frames(road, learner_traj, expert_traj, car=world.car, stride=2,
                                         max_frames=config.gif_frames)]  # fmt: skip
    if dashcam is not None:  # the dashcam beside the top view, step for step
        frames = [beside(top, dashcam[min(2 * k, len(dashcam) - 1)]) for k, top in enumerate(frames)]
    write_gif(out / "drive.gif", frames, frame_seconds=2 * env_cfg.dt)
    phases["pictures"] = time.perf_counter() - started
    phases["total"] = time.perf_counter() - clock
    result["seconds"] = phases
    write_text_atomically(out / "metrics.json", json.dumps(result, indent=2))
    log("      time by phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()))
    log(f"Done in {time.perf_counter() - clock:.0f} s: {out}/model.pt, metrics.json, report.png, drive.gif")
    return result
