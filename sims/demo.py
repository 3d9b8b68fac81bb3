"""``roadschool demo``: collect on train roads, train, evaluate on train and unseen roads, report."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

from agents.dagger import dagger
from agents.data import CollectConfig, collect
from agents.drivers import ExpertDriver, PolicyDriver
from agents.evaluation import aggregate, drive, env_config_for
from agents.training import TrainConfig, train
from envs import DEFAULT_FAMILIES, CarParams, RoadFollowConfig
from envs.atomic import write_text_atomically
from envs.generation import split_roads
from sims.report import format_table, write_report
from sims.recording import write_gif
from sims.video import beside, dashcam_frames, drive_frames


@dataclass(frozen=True)
class DemoConfig:
    """The main job's budget."""

    train_roads: int = 200
    """Training roads the expert drives (with DART noise)."""
    test_roads: int = 50
    """Unseen roads for the held-out test loss."""
    eval_roads: int = 200
    """Roads of each split for closed-loop evaluation."""
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 2e-3
    dagger_rounds: int = 0
    seed: int = 0
    observation: str = "features"
    gif_frames: int = 400
    """Most frames in drive.gif (every second step is drawn)."""
    train_eval_roads: int | None = None
    """Train roads for closed-loop evaluation (None: ``eval_roads``)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the network (the CNN's head for camera frames)."""
    frame_stride: int = 1
    """Record every this many steps of the expert's drives."""
    noise_std: float = 0.15
    """DART steering noise while collecting."""
    side_cameras: float = 0.0
    """Camera only: side cameras this far [m] left and right (0: none)."""
    augment_flip: bool = False
    augment_brightness: float = 0.0
    car: str = "kinematic"
    """``kinematic``: the slip-free car steers at a cruise-controlled 10 m/s on dry roads;
    ``dynamic``: the car with tyres that slip drives roads with wet and icy sections, and both
    the expert and the learner choose its speed (throttle and brake) up to 15 m/s."""

    @classmethod
    def quick(cls, seed: int = 0, observation: str = "features") -> "DemoConfig":
        if observation == "camera":
            return dataclasses.replace(cls.camera(seed), train_roads=8, test_roads=3, eval_roads=6, train_eval_roads=4,
                                       epochs=1, gif_frames=20)  # fmt: skip
        return cls(train_roads=16, test_roads=6, eval_roads=8, epochs=4, gif_frames=40, seed=seed, observation=observation)

    @classmethod
    def camera(cls, seed: int = 0) -> "DemoConfig":
        """The dashcam lesson, sized to finish in 10 minutes on 2 cores: every 6th frame of 200
        roads with DART noise and side cameras 0.5 m out, a PilotNet-style CNN for 3 epochs with
        mirrored and brightened frames, evaluated on 200 unseen roads (and 50 train roads)."""
        return cls(train_roads=200, test_roads=20, eval_roads=200, train_eval_roads=50, epochs=3, batch_size=128,
                   learning_rate=1e-3, seed=seed, observation="camera", hidden=(100, 50, 10), frame_stride=6,
                   side_cameras=0.5, augment_flip=True, augment_brightness=0.2, gif_frames=300)  # fmt: skip


SLIPPERY_FAMILIES = ("wet", "icy")
ROAD_PREVIEW = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 75.0, 90.0, 110.0, 130.0, 150.0)
"""[m] ahead where the dynamic demo's features report friction and curvature: as far as the
expert's plan needs to brake from 15 m/s for a bend on ice."""


def demo_world(config: DemoConfig) -> tuple[RoadFollowConfig, tuple[str, ...]]:
    """The environment and road families of the demo's car."""
    if config.car == "dynamic":
        world = RoadFollowConfig(car=CarParams(model="dynamic"), throttle=True, target_speed=15.0,
                                 road_preview_distances=ROAD_PREVIEW)  # fmt: skip
        return world, SLIPPERY_FAMILIES
    if config.car != "kinematic":
        raise ValueError(f"car must be 'kinematic' or 'dynamic', got {config.car!r}")
    return RoadFollowConfig(), DEFAULT_FAMILIES


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
    world, families = demo_world(config)
    noise = "steering and throttle" if world.throttle else "steering"

    camera = config.observation == "camera"
    phases: dict[str, float] = {}
    side = f", side cameras {config.side_cameras:g} m out" if config.side_cameras else ""
    log(f"[1/5] The expert drives {config.train_roads} train roads (with DART {noise} noise{side}) ...")
    train_cfg = CollectConfig(num_roads=config.train_roads, split="train", seed=config.seed, observation=config.observation,
                              families=families, env=world, noise_std=config.noise_std,
                              frame_stride=config.frame_stride, side_cameras=config.side_cameras)  # fmt: skip
    train_data = collect(train_cfg, progress=progress)
    test_cfg = CollectConfig(num_roads=config.test_roads, split="unseen", seed=config.seed + 1,
                             observation=config.observation, families=families, env=world,
                             frame_stride=config.frame_stride)  # fmt: skip
    test_data = collect(test_cfg, progress=progress)
    every = f" (every {config.frame_stride}th step)" if config.frame_stride > 1 else ""
    log(f"      {len(train_data)} training samples{every}, {len(test_data)} test samples on unseen roads; "
        f"observations {train_data.obs.nbytes / 1e6:.0f} MB as {train_data.obs.dtype}")  # fmt: skip
    phases["collect"] = time.perf_counter() - clock

    log(f"[2/5] Training the {'driving' if world.throttle else 'steering'} network ({config.epochs} epochs) ...")
    tcfg = TrainConfig(
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
        print_every=1 if camera else max(1, config.epochs // 6),
        hidden=config.hidden,
        augment_flip=config.augment_flip,
        augment_brightness=config.augment_brightness,
    )
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
        roads = split_roads(split, count, families)
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
            scalars.evaluation(split, metrics[split], config.epochs)
            scalars.evaluation(split, metrics["expert"][split], config.epochs, who="eval_expert")
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
    road = split_roads("unseen", config.eval_roads, families)[pick]
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
        title=f"roadschool demo: {len(train_data)} expert {'frames' if camera else 'steps'} on {config.train_roads} train roads",
        camera_frames=dashcam,
    )
    result = {
        **metrics,
        "history": history.as_dict(),
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "gif_road": road.name,
        "per_road": {
            f"{who}/{split}": {t.road.name: t.metrics() for t in trajs} for (who, split), trajs in trajectories.items()
        },
    }
    write_text_atomically(out / "metrics.json", json.dumps(result, indent=2))

    log(f"[5/5] Rendering drive.gif on unseen road {road.name} ...")
    frames = [f for f, _ in drive_frames(learner_traj, expert_traj, size=(480, 480), stride=2,
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
