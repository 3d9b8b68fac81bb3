"""The ``roadschool`` command."""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import sys
from pathlib import Path

from envs import DEFAULT_FAMILIES, FAMILIES, OBSERVATION_TYPES, SPLITS
from sims.arguments import non_negative_float as _non_negative_float
from sims.arguments import non_negative_int as _non_negative_int
from sims.arguments import positive_float as _positive_float
from sims.arguments import positive_int as _positive_int
from sims.arguments import OneLineParser, bounded_float, bounded_int, car_count, output_dir, output_file, seed

EXIT_BAD_INPUT = 2










def _add_roads(p: argparse.ArgumentParser, default_count: int) -> None:
    g = p.add_argument_group("roads")
    g.add_argument("--split", choices=SPLITS, default="train", help="road split (default: %(default)s)")
    g.add_argument("--roads", type=car_count, default=default_count, help="number of roads (default: %(default)s)")
    g.add_argument(
        "--family",
        choices=list(FAMILIES),
        action="append",
        help=f"road family, repeatable (default: {' '.join(DEFAULT_FAMILIES)})",
    )
    g.add_argument("--first-road", type=bounded_int(0, 2**31 - 1), default=0, help="index of the first road (default: 0)")
    g.add_argument("--roads-file", type=Path, help="drive the roads of this JSON file instead of a split")


def _add_tensorboard(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tensorboard", type=Path, metavar="DIR",
                   help="write TensorBoard scalars (losses/train, losses/test, eval/unseen/completion_rate, ...) "
                        "to DIR; needs pip install '.[tensorboard]'")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="roadschool",
        description="A 2D driving lab: a car learns to steer by imitation and is tested on roads it has never seen.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="the main job: collect, train, evaluate on train vs unseen roads, report")
    p.add_argument("--out", type=output_dir, help="output folder (default: runs/<timestamp>)")
    p.add_argument("--quick", action="store_true", help="a small, fast version (for tests)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the whole run (default: 0)")
    p.add_argument("--epochs", type=bounded_int(0, 1_000_000), help="training epochs (default: 30, quick: 4)")
    p.add_argument("--dagger", type=bounded_int(0, 1000), default=0, help="DAgger rounds after training (default: 0)")
    p.add_argument("--car", choices=("kinematic", "dynamic"), default="kinematic",
                   help="kinematic: the slip-free car at 10 m/s on dry roads (default); dynamic: tyres that slip, "
                        "wet and icy roads, and a driver that chooses its speed")  # fmt: skip
    p.add_argument("--observation", choices=OBSERVATION_TYPES, default="features",
                   help="what the learner reads; camera: the dashcam lesson with a PilotNet-style CNN (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_tensorboard(p)

    p = sub.add_parser("collect", help="record the expert driving train roads as a dataset")
    p.add_argument("--out", type=output_file, help="dataset file to write (.npz); needed unless --minari is given")
    g = p.add_argument_group("Minari (pip install '.[minari]')")
    g.add_argument("--minari", metavar="ID",
                   help="also (or instead) write a Minari dataset, e.g. roadschool/expert-features-v0, "
                        "into MINARI_DATASETS_PATH (default ~/.minari/datasets)")
    g.add_argument("--author", default="roadschool", help="Minari author field (default: %(default)s)")
    g.add_argument("--author-email", help="Minari author email field")
    g.add_argument("--code-link", help="Minari code_permalink: a link to the exact code (default: names the module)")
    _add_roads(p, 200)
    p.add_argument("--observation", choices=OBSERVATION_TYPES, default="features", help="(default: %(default)s)")
    p.add_argument("--noise", type=bounded_float(0, 10), default=0.15,
                   help="DART steering noise std while collecting, labels stay clean (default: %(default)s)")
    p.add_argument("--start-offset", type=bounded_float(0, 50), default=1.0,
                   help="random lateral start offset up to this [m] (default: %(default)s)")
    p.add_argument("--start-heading", type=bounded_float(0, 3.14159), default=0.15,
                   help="random heading start offset up to this [rad] (default: %(default)s)")
    p.add_argument("--frame-stride", type=_positive_int, default=1,
                   help="record every K-th step (camera frames are big; default: %(default)s)")
    p.add_argument("--side-cameras", type=_non_negative_float, default=0.0, metavar="METRES",
                   help="camera only: also record cameras this far left and right, labelled with the expert's "
                        "correction from there (default: off)")
    p.add_argument("--seed", type=seed, default=0, help="(default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = sub.add_parser("train", help="train the steering network on a dataset (the standard loop)")
    p.add_argument("--data", type=Path, required=True,
                   help="training dataset (.npz from collect, or minari:ID for a local Minari dataset)")
    p.add_argument("--test-data", type=Path, help="held-out dataset on unseen roads, for the test loss (.npz or minari:ID)")
    p.add_argument("--out", type=output_file, required=True, help="checkpoint to write (.pt)")
    p.add_argument("--epochs", type=bounded_int(0, 1_000_000), default=30, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=_non_negative_int, default=256,
                   help="minibatch size; 0 = full batch (default: %(default)s)")
    p.add_argument("--lr", type=_positive_float, default=2e-3, help="learning rate (default: %(default)s)")
    p.add_argument("--weight-decay", type=_non_negative_float, default=0.0, help="(default: %(default)s)")
    p.add_argument("--hidden", type=_positive_int, nargs="+", default=[256, 256], help="hidden widths (default: 256 256)")
    p.add_argument("--augment-flip", action="store_true",
                   help="camera: mirror half of each minibatch left-right, steering negated")
    p.add_argument("--augment-brightness", type=_non_negative_float, default=0.0, metavar="FRACTION",
                   help="camera: scale each frame's brightness by 1 +- up to this (default: off)")
    p.add_argument("--seed", type=seed, default=0, help="(default: %(default)s)")
    p.add_argument("--print-every", type=_non_negative_int, default=10, help="epochs between lines (default: %(default)s)")
    p.add_argument("--resume", type=Path, help="continue training from this checkpoint")
    p.add_argument("--checkpoint-every", type=bounded_int(0, 1_000_000), default=1, metavar="K",
                   help="write the checkpoint every K epochs, so a killed run can --resume; 0 = only at the "
                   "end (default: %(default)s)")
    p.add_argument("--dagger", type=bounded_int(0, 1000), default=0, metavar="K",
                   help="then K rounds of DAgger on the dataset's train roads (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_tensorboard(p)

    p = sub.add_parser("evaluate", help="drive a policy (or the expert) on roads and measure it")
    p.add_argument("--policy", required=True, help="checkpoint path, or 'expert'")
    _add_roads(p, 100)
    p.add_argument("--json", type=output_file, help="write the metrics to this JSON file")
    p.add_argument("--save-episodes", type=output_dir, metavar="DIR",
                   help="keep every drive (and the expert's, as its ghost) in DIR for `roadschool replay`")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = sub.add_parser("compare", help="the learned car and the expert side by side on train and unseen roads")
    p.add_argument("--policy", required=True, help="checkpoint path")
    p.add_argument("--roads", type=car_count, default=100, help="roads per split (default: %(default)s)")
    p.add_argument("--family", choices=list(FAMILIES), action="append", help="road family, repeatable")
    p.add_argument("--json", type=output_file, help="write the metrics to this JSON file")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        COMMANDS.update(module.register(sub))
    return parser


def _families(args) -> tuple[str, ...]:
    return tuple(args.family) if getattr(args, "family", None) else DEFAULT_FAMILIES


def _write_json(path: Path, payload: dict) -> None:
    from envs.atomic import write_text_atomically

    write_text_atomically(path, json.dumps(payload, indent=2))


def cmd_demo(args) -> int:
    import torch

    from sims.demo import DemoConfig, run_demo

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if args.quick:
        cfg = DemoConfig.quick(args.seed, args.observation)
    elif args.observation == "camera":
        cfg = DemoConfig.camera(args.seed)
    else:
        cfg = DemoConfig(seed=args.seed, observation=args.observation)
    overrides = {}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.dagger:
        overrides["dagger_rounds"] = args.dagger
    if args.car != "kinematic":
        overrides["car"] = args.car
    if overrides:
        import dataclasses

        cfg = dataclasses.replace(cfg, **overrides)
    out = args.out or Path("runs") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_demo(out, cfg, progress=not args.no_progress, tensorboard=args.tensorboard)
    return 0


def cmd_collect(args) -> int:
    from agents.data import CollectConfig, collect

    if args.roads_file:
        from envs import load_roads

        roads = load_roads(args.roads_file)
    else:
        roads = None
    if args.out is None and args.minari is None:
        raise ValueError("give --out FILE.npz, --minari ID, or both")
    cfg = CollectConfig(
        num_roads=args.roads if roads is None else len(roads),
        split=args.split,
        families=_families(args),
        first_road=args.first_road,
        noise_std=args.noise,
        start_lateral_offset=args.start_offset,
        start_heading_offset=args.start_heading,
        seed=args.seed,
        observation=args.observation,
        frame_stride=args.frame_stride,
        side_cameras=args.side_cameras,
    )
    if args.minari:
        if roads is not None:
            raise ValueError("--minari records split roads (its env spec must rebuild them), not a --roads-file")
        from agents.minari_datasets import DEFAULT_CODE_LINK, write_minari_dataset

        dataset = write_minari_dataset(args.minari, cfg, author=args.author, author_email=args.author_email,
                                       code_permalink=args.code_link or DEFAULT_CODE_LINK)
        print(f"wrote Minari dataset {args.minari}: {dataset.total_steps} steps in {dataset.total_episodes} episodes "
              f"({cfg.observation} observations, noise {cfg.noise_std}); train on it with "
              f"roadschool train --data minari:{args.minari}")
        if args.out is None:
            return 0
    data = collect(cfg, roads=roads, progress=not args.no_progress)
    data.save(args.out)
    print(f"wrote {args.out}: {len(data)} steps on {len(data.road_names)} {cfg.split if roads is None else 'file'} roads "
          f"({cfg.observation} observations, noise {cfg.noise_std})")
    return 0


def _load_dataset(path: Path, observation: str | None = None):
    """A dataset file, or ``minari:ID`` for a local Minari dataset."""
    from agents.data import Dataset

    if str(path).startswith("minari:"):
        from agents.minari_datasets import load_minari_dataset

        return load_minari_dataset(str(path)[len("minari:"):], observation=observation)
    return Dataset.load(path, observation=observation)


def cmd_train(args) -> int:
    import torch

    from agents.data import CollectConfig
    from agents.training import TrainConfig, train

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    data = _load_dataset(args.data)
    test = _load_dataset(args.test_data, observation=data.observation) if args.test_data else None
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        print_every=args.print_every,
        hidden=tuple(args.hidden),
        checkpoint_every=args.checkpoint_every,
        augment_flip=args.augment_flip,
        augment_brightness=args.augment_brightness,
    )
    print(f"training on {len(data)} steps from {len(data.road_names)} roads"
          + (f", testing on {len(test)} steps from {len(test.road_names)} roads" if test else ""))
    scalars = None
    if args.tensorboard:
        from sims.tensorboard import ScalarLog

        scalars = ScalarLog(args.tensorboard)
    try:
        policy, history = train(data, test, cfg, checkpoint=args.out, resume=args.resume,
                                on_epoch=scalars.on_epoch(len(data)) if scalars else None)
    finally:
        if scalars is not None:
            scalars.close()
            print(f"wrote TensorBoard scalars to {args.tensorboard} (tensorboard --logdir {args.tensorboard})")
    if args.dagger:
        from agents.dagger import dagger

        meta = data.metadata
        if meta.get("split") not in SPLITS:
            raise ValueError(f"{args.data}: DAgger needs a dataset collected on a split, not {meta.get('split')!r}")
        ccfg = CollectConfig(
            num_roads=int(meta["num_roads"]),
            split=meta["split"],
            families=tuple(meta["families"]),
            first_road=int(meta["first_road"]),
            seed=int(meta["seed"]),
            observation=data.observation,
        )
        policy, data, _ = dagger(policy, data, test, args.dagger, ccfg, cfg, args.out, progress=not args.no_progress)
    print(f"wrote {args.out}")
    return 0


def _driver(spec: str):
    from agents.drivers import ExpertDriver, PolicyDriver
    from agents.model import SteeringPolicy

    if spec == "expert":
        return ExpertDriver(), "features"
    policy = SteeringPolicy.load(spec)
    return PolicyDriver(policy), policy.observation


def cmd_evaluate(args) -> int:
    import torch

    from agents.evaluation import env_config_for, evaluate, policy_world
    from sims.report import format_table
    from sims.roads import roads_for

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    driver, observation = _driver(args.policy)
    world = policy_world(getattr(getattr(driver, "policy", None), "metadata", None))  # its car, actions, sensors
    roads, label = roads_for(args)
    if args.save_episodes:
        from sims.episodes import evaluate_and_save

        result = evaluate_and_save(driver, roads, env_config_for(observation, world), args.save_episodes,
                                   progress=not args.no_progress, policy=args.policy)
    else:
        result = evaluate(driver, roads, env_config_for(observation, world), progress=not args.no_progress)
    print(format_table({driver.name: {label: result["aggregate"]}}))
    if args.save_episodes:
        print(f"kept {len(roads)} episodes in {args.save_episodes}; "
              f"play them with: roadschool replay {args.save_episodes}")
    if args.json:
        _write_json(args.json, {"policy": args.policy, "roads": label, **result})
        print(f"wrote {args.json}")
    return 0


def cmd_compare(args) -> int:
    import torch

    from agents.drivers import ExpertDriver
    from agents.evaluation import env_config_for, evaluate, policy_world
    from envs.generation import split_roads
    from sims.report import format_table

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    learner, observation = _driver(args.policy)
    world = policy_world(getattr(getattr(learner, "policy", None), "metadata", None))  # its car, actions, sensors
    table: dict = {"learner": {}, "expert": {}}
    for split in SPLITS:
        roads = split_roads(split, args.roads, _families(args))
        table["learner"][split] = evaluate(learner, roads, env_config_for(observation, world),
                                           progress=not args.no_progress)["aggregate"]  # fmt: skip
        table["expert"][split] = evaluate(ExpertDriver(), roads, env_config_for("features", world))["aggregate"]
    print(format_table(table))
    gap = 100 * (table["learner"]["train"]["completion_rate"] - table["learner"]["unseen"]["completion_rate"])
    print(f"generalization gap (train - unseen completion): {gap:+.1f} points")
    if args.json:
        _write_json(args.json, table)
        print(f"wrote {args.json}")
    return 0


COMMANDS = {
    "demo": cmd_demo,
    "collect": cmd_collect,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "compare": cmd_compare,
}

# Modules that add more commands: each has ``register(subparsers) -> {name: handler}``,
# where ``handler(args) -> exit code``. Keep their heavy imports inside the handlers.
COMMAND_MODULES: list[str] = ["sims.viewer_cli", "sims.experiments.cli", "sims.explain"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from agents.data import DatasetError
    from agents.model import CheckpointError
    from envs.road import RoadError

    try:
        return COMMANDS[args.command](args)
    except (DatasetError, CheckpointError, RoadError, ValueError) as exc:
        print(f"roadschool {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
