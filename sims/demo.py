"""``roadschool demo``: collect on train roads, train, evaluate on train and unseen roads, report."""

from __future__ import annotations

import json
import time
from pathlib import Path

from agents.dagger import dagger
from agents.data import collect, config_to_dict
from agents.drivers import ExpertDriver, PolicyDriver
from agents.evaluation import aggregate, drive, env_config_for
from agents.training import train
from envs.atomic import write_text_atomically
from envs.generation import split_roads
from sims.demo_config import (  # noqa: F401 - re-exported
    CARS,
    ROAD_PREVIEW,
    SLIPPERY_FAMILIES,
    DemoConfig,
    demo_world,
)
from sims.recording import write_gif
from sims.report import format_table, write_report
from sims.video import beside, dashcam_frames, drive_frames


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
    log(
        f"      {len(train_data)} training samples{every}, {len(test_data)} test samples on unseen roads; "
        f"observations {train_data.obs.nbytes / 1e6:.0f} MB as {train_data.obs.dtype}"
    )
    phases["collect"] = time.perf_counter() - clock

    tcfg = config.train
    log(f"[2/5] Training the {'driving' if world.throttle else 'steering'} network ({tcfg.epochs} epochs) ...")
    started = time.perf_counter()
    model_path = out / "model.pt"
    policy, history = train(
        train_data,
        test_data,
        tcfg,
        checkpoint=model_path,
        log=log,
        on_epoch=scalars.on_epoch(len(train_data)) if scalars else None,
    )
    expert_samples = len(train_data)
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
            scalars.evaluation(split, metrics[split], tcfg.epochs)
            scalars.evaluation(split, metrics["expert"][split], tcfg.epochs, who="eval_expert")
    log(format_table(table))
    ratio = metrics["unseen"]["mean_abs_cte"] / max(metrics["expert"]["unseen"]["mean_abs_cte"], 1e-12)
    log(f"      unseen mean |cte|: learner/expert = {ratio:.2f}")
    if world.throttle:
        speed_ratio = metrics["unseen"]["mean_speed"] / max(metrics["expert"]["unseen"]["mean_speed"], 1e-12)
        log(
            f"      unseen mean speed: learner/expert = {speed_ratio:.3f}; sliding: learner "
            f"{metrics['unseen']['sliding_time']:.2f} s, "
            f"expert {metrics['expert']['unseen']['sliding_time']:.2f} s a road"
        )

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
        title=f"roadschool demo: {expert_samples} expert {'frames' if camera else 'steps'} on {train_cfg.num_roads} "
        f"train roads"
        + (
            f" + {len(train_data) - expert_samples} learner-driven, expert-labelled (DAgger)"
            if len(train_data) > expert_samples
            else ""
        ),
        camera_frames=dashcam,
    )
    result = {
        **metrics,
        "history": history.as_dict(),
        "config": config_to_dict(config),
        "gif_road": road.name,
        "per_road": {
            f"{who}/{split}": {t.road.name: t.metrics() for t in trajs} for (who, split), trajs in trajectories.items()
        },
    }
    write_text_atomically(out / "metrics.json", json.dumps(result, indent=2))

    log(f"[5/5] Rendering drive.gif on unseen road {road.name} ...")
    frames = [
        f for f, _ in drive_frames(learner_traj, expert_traj, size=(480, 480), stride=2, max_frames=config.gif_frames)
    ]
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
