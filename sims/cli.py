"""The ``roadschool`` command.

Every command is a :class:`sims.options.Command`; its options are generated from the fields of
its configs (see :mod:`sims.options`), so their names, defaults, help and checks are the
configs' own. Only the chosen command's configs are imported.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from pathlib import Path

from envs import OBSERVATION_TYPES, SPLITS
from sims.arguments import OneLineParser, bounded_int, output_dir, output_file, seed
from sims.commands import (
    RoadSelection,
    add_policy,
    add_progress,
    add_roads,
    add_tensorboard,
    driver_for,
)
from sims.options import Command, add_commands, add_config, prepare

EXIT_BAD_INPUT = 2

TRAIN_ALIASES = {"learning_rate": "--lr"}
"""Option names of :class:`agents.training.TrainConfig` users know from before."""
COLLECT_ALIASES = {
    "num_roads": "--roads",
    "noise_std": "--noise",
    "families": "--family",
    "start_lateral_offset": "--start-offset",
    "start_heading_offset": "--start-heading",
}
"""Option names of :class:`agents.data.CollectConfig` (and its world) users know from before."""
COLLECT_WORLD_FIELDS = ("observation", "split", "families", "start_lateral_offset", "start_heading_offset")
"""The fields of the collection's world (``CollectConfig.env``) that ``collect`` has options for."""


def _threads() -> None:
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))


def _write_json(path: Path, payload: dict) -> None:
    from envs.atomic import write_text_atomically

    write_text_atomically(path, json.dumps(payload, indent=2))


# ------------------------------------------------------------------ demo
def demo_options(p) -> callable:
    from sims.demo_config import CARS, DemoConfig

    p.add_argument("--out", type=output_dir, help="output folder (default: runs/<timestamp>)")
    p.add_argument("--quick", action="store_true", help="a small, fast version (for tests)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the whole run: collection and training (default: 0)")
    p.add_argument(
        "--car",
        choices=CARS,
        default="kinematic",
        help="kinematic: the slip-free car at 10 m/s on dry roads (default); dynamic: tyres that slip, "
        "wet and icy roads, and a driver that chooses its speed",
    )
    p.add_argument(
        "--observation",
        choices=OBSERVATION_TYPES,
        default="features",
        help="what the learner reads; camera: the dashcam lesson with a PilotNet-style CNN (default: %(default)s)",
    )
    add_progress(p)
    add_tensorboard(p)
    shown = DemoConfig.preset()
    g = p.add_argument_group("the run (defaults: the full features demo; --quick and --observation camera change them)")
    options = add_config(
        g,
        DemoConfig,
        defaults=shown,
        aliases={"dagger_rounds": "--dagger"},
        nested={
            "collect": {
                "only": ("num_roads", "noise_std", "noise_correlation", "frame_stride", "side_cameras"),
                "aliases": {"num_roads": "--train-roads", "noise_std": "--noise"},
            },
            "train": {"skip": ("seed", "checkpoint_every"), "aliases": TRAIN_ALIASES, "nested": {"net": {}}},
        },
    )

    def build(args) -> None:
        args.config = options.build(args, DemoConfig.preset(args.seed, args.observation, args.car, args.quick))

    return build


def cmd_demo(args) -> int:
    from sims.demo import run_demo

    _threads()
    out = args.out or Path("runs") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_demo(out, args.config, progress=not args.no_progress, tensorboard=args.tensorboard)
    return 0


# ------------------------------------------------------------------ collect
def collect_options(p) -> callable:
    from agents.data import CollectConfig

    p.add_argument("--out", type=output_file, help="dataset file to write (.npz); needed unless --minari is given")
    g = p.add_argument_group("Minari (pip install '.[minari]')")
    g.add_argument(
        "--minari",
        metavar="ID",
        help="also (or instead) write a Minari dataset, e.g. roadschool/expert-features-v0, "
        "into MINARI_DATASETS_PATH (default ~/.minari/datasets)",
    )
    g.add_argument("--author", default="roadschool", help="Minari author field (default: %(default)s)")
    g.add_argument("--author-email", help="Minari author email field")
    g.add_argument("--code-link", help="Minari code_permalink: a link to the exact code (default: names the module)")
    g = p.add_argument_group("the collection")
    options = add_config(
        g,
        CollectConfig,
        aliases=COLLECT_ALIASES,
        nested={
            "env": {
                "only": COLLECT_WORLD_FIELDS,
                "aliases": COLLECT_ALIASES,
                "helps": {
                    "families": "Road families, used in turn (road i is of family i mod their number); "
                    "--family is repeatable."
                },
            }
        },
    )
    g.add_argument("--roads-file", type=Path, help="drive the roads of this JSON file instead of a split")
    add_progress(p)

    def build(args) -> None:
        if args.out is None and args.minari is None:
            raise ValueError("give --out FILE.npz, --minari ID, or both")
        if args.minari and args.roads_file:
            raise ValueError("--minari records split roads (its env spec must rebuild them), not a --roads-file")
        args.config = options.build(args)

    return build


def cmd_collect(args) -> int:
    from agents.data import collect

    cfg = args.config
    roads = None
    if args.roads_file:
        from envs import load_roads

        roads = load_roads(args.roads_file)
    if args.minari:
        from agents.minari_datasets import DEFAULT_CODE_LINK, write_minari_dataset

        dataset = write_minari_dataset(
            args.minari,
            cfg,
            author=args.author,
            author_email=args.author_email,
            code_permalink=args.code_link or DEFAULT_CODE_LINK,
        )
        print(
            f"wrote Minari dataset {args.minari}: {dataset.total_steps} steps in {dataset.total_episodes} episodes "
            f"({cfg.observation} observations, noise {cfg.noise_std}); train on it with "
            f"roadschool train --data minari:{args.minari}"
        )
        if args.out is None:
            return 0
    data = collect(cfg, roads=roads, progress=not args.no_progress)
    data.save(args.out)
    print(
        f"wrote {args.out}: {len(data)} steps on {len(data.road_names)} {cfg.split if roads is None else 'file'} roads "
        f"({cfg.observation} observations, noise {cfg.noise_std})"
    )
    return 0


# ------------------------------------------------------------------ train
def train_options(p) -> callable:
    from agents.configs import TrainConfig

    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="training dataset (.npz from collect, or minari:ID for a local Minari dataset)",
    )
    p.add_argument(
        "--test-data", type=Path, help="held-out dataset on unseen roads, for the test loss (.npz or minari:ID)"
    )
    p.add_argument("--out", type=output_file, required=True, help="checkpoint to write (.pt)")
    p.add_argument("--resume", type=Path, help="continue training from this checkpoint (--epochs is the total)")
    p.add_argument(
        "--dagger",
        type=bounded_int(0, 1000),
        default=0,
        metavar="K",
        help="then K rounds of DAgger on the dataset's train roads (default: 0)",
    )
    add_progress(p)
    add_tensorboard(p)
    g = p.add_argument_group("training")
    options = add_config(g, TrainConfig, aliases=TRAIN_ALIASES, nested={"net": {}})

    def build(args) -> None:
        args.config = options.build(args)

    return build


def _load_dataset(path: Path, observation: str | None = None):
    """A dataset file, or ``minari:ID`` for a local Minari dataset."""
    from agents.data import Dataset

    if str(path).startswith("minari:"):
        from agents.minari_datasets import load_minari_dataset

        return load_minari_dataset(str(path)[len("minari:") :], observation=observation)
    return Dataset.load(path, observation=observation)


def cmd_train(args) -> int:
    from agents.data import CollectConfig
    from agents.training import train

    _threads()
    cfg = args.config
    data = _load_dataset(args.data)
    test = _load_dataset(args.test_data, observation=data.observation) if args.test_data else None
    collection = CollectConfig.from_metadata(data.metadata, f"{args.data}: DAgger") if args.dagger else None
    print(
        f"training on {len(data)} steps from {len(data.road_names)} roads"
        + (f", testing on {len(test)} steps from {len(test.road_names)} roads" if test else "")
    )
    scalars = None
    if args.tensorboard:
        from sims.tensorboard import ScalarLog

        scalars = ScalarLog(args.tensorboard)
    try:
        policy, _ = train(
            data,
            test,
            cfg,
            checkpoint=args.out,
            resume=args.resume,
            on_epoch=scalars.on_epoch(len(data)) if scalars else None,
        )
    finally:
        if scalars is not None:
            scalars.close()
            print(f"wrote TensorBoard scalars to {args.tensorboard} (tensorboard --logdir {args.tensorboard})")
    if args.dagger:
        from agents.dagger import dagger

        policy, data, _ = dagger(
            policy, data, test, args.dagger, collection, cfg, args.out, progress=not args.no_progress
        )
    print(f"wrote {args.out}")
    return 0


# ------------------------------------------------------------------ evaluate, compare
def evaluate_options(p) -> callable:
    add_policy(p)
    roads = add_roads(p, RoadSelection(num_roads=100))
    p.add_argument("--json", type=output_file, help="write the metrics to this JSON file")
    p.add_argument(
        "--save-episodes",
        type=output_dir,
        metavar="DIR",
        help="keep every drive (and the expert's, as its ghost) in DIR for `roadschool replay`",
    )
    add_progress(p)

    def build(args) -> None:
        args.roads = roads.build(args, RoadSelection(num_roads=100))

    return build


def cmd_evaluate(args) -> int:
    from agents.evaluation import env_config_for, evaluate
    from sims.report import format_table

    _threads()
    driving = driver_for(args.policy)
    world = env_config_for(driving.observation, driving.world())  # its car, actions, sensors
    roads, label = args.roads.roads()
    if args.save_episodes:
        from sims.episodes import evaluate_and_save

        result = evaluate_and_save(
            driving.driver, roads, world, args.save_episodes, progress=not args.no_progress, policy=args.policy
        )
    else:
        result = evaluate(driving.driver, roads, world, progress=not args.no_progress)
    print(format_table({driving.driver.name: {label: result["aggregate"]}}))
    if args.save_episodes:
        print(
            f"kept {len(roads)} episodes in {args.save_episodes}; "
            f"play them with: roadschool replay {args.save_episodes}"
        )
    if args.json:
        _write_json(args.json, {"policy": args.policy, "roads": label, **result})
        print(f"wrote {args.json}")
    return 0


def compare_options(p) -> callable:
    add_policy(p, expert=False)
    roads = add_roads(p, RoadSelection(num_roads=100), only=("num_roads", "families"))
    p.add_argument("--json", type=output_file, help="write the metrics to this JSON file")
    add_progress(p)

    def build(args) -> None:
        args.roads = roads.build(args, RoadSelection(num_roads=100))

    return build


def cmd_compare(args) -> int:
    import dataclasses

    from agents.drivers import ExpertDriver
    from agents.evaluation import env_config_for, evaluate
    from sims.report import format_table

    _threads()
    learner = driver_for(args.policy)
    world = learner.world()  # its car, actions, sensors
    table: dict = {"learner": {}, "expert": {}}
    for split in SPLITS:
        roads, _ = dataclasses.replace(args.roads, split=split).roads()
        table["learner"][split] = evaluate(
            learner.driver, roads, env_config_for(learner.observation, world), progress=not args.no_progress
        )["aggregate"]
        table["expert"][split] = evaluate(ExpertDriver(), roads, env_config_for("features", world))["aggregate"]
    print(format_table(table))
    gap = 100 * (table["learner"]["train"]["completion_rate"] - table["learner"]["unseen"]["completion_rate"])
    print(f"generalization gap (train - unseen completion): {gap:+.1f} points")
    if args.json:
        _write_json(args.json, table)
        print(f"wrote {args.json}")
    return 0


# ------------------------------------------------------------------ the commands
def commands() -> tuple[Command, ...]:
    """Every ``roadschool`` command, in the order ``--help`` lists them."""
    from sims import explain, viewer_cli
    from sims.experiments import cli as experiments

    return (
        Command(
            "demo", "the main job: collect, train, evaluate on train vs unseen roads, report", cmd_demo, demo_options
        ),
        Command("collect", "record the expert driving train roads as a dataset", cmd_collect, collect_options),
        Command("train", "train the steering network on a dataset (the standard loop)", cmd_train, train_options),
        Command("evaluate", "drive a policy (or the expert) on roads and measure it", cmd_evaluate, evaluate_options),
        Command(
            "compare",
            "the learned car and the expert side by side on train and unseen roads",
            cmd_compare,
            compare_options,
        ),
        *viewer_cli.COMMANDS,
        *experiments.COMMANDS,
        *explain.COMMANDS,
    )


def build_parser(argv: list[str] | None = None) -> OneLineParser:
    """The parser of ``roadschool``; with ``argv``, only the command it names gets its options."""
    parser = OneLineParser(
        prog="roadschool",
        description="A 2D driving lab: a car learns to steer by imitation and is tested on roads it has never seen.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_commands(sub, commands(), chosen=argv)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if prepare(args, argv):
        return EXIT_BAD_INPUT
    from agents.data import DatasetError
    from agents.model import CheckpointError
    from envs.road import RoadError

    try:
        return args._command.run(args)
    except (DatasetError, CheckpointError, RoadError, ValueError) as exc:
        print(f"roadschool {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
