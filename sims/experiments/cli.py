"""``roadschool experiment batching|overfitting|road-change|rl-vs-imitation|tutorial-figures``."""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

from sims.arguments import MAX_SEED, bounded_int, output_dir
from sims.arguments import non_negative_int as _non_negative_int
from sims.arguments import positive_int as _positive_int
from sims.options import Command, add_config


def _add_backend(p: argparse.ArgumentParser):
    from sims.experiments.grid import Backend

    g = p.add_argument_group("where the runs execute")
    return add_config(g, Backend, aliases={"kind": "--backend"})


def _add_common(p: argparse.ArgumentParser, what: str):
    p.add_argument("--out", type=output_dir, help=f"output folder (default: runs/{what}-<timestamp>)")
    p.add_argument("--quick", action="store_true", help="a tiny version that runs in seconds (for tests)")
    p.add_argument("--seeds", type=bounded_int(1, 10_000), help="seeds per grid point (default: the experiment's)")
    p.add_argument("--resume", action="store_true",
                   help="rerun in the same --out folder, skipping the runs that finished there before")
    p.add_argument("--first-seed", type=bounded_int(0, MAX_SEED - 10_000), help="first seed; seeds are first, first + 1, ... (default: 0)")
    p.add_argument("--tensorboard", type=Path, metavar="DIR",
                   help="also write every run's results (results/<column>, and losses/train, losses/test per "
                        "epoch where recorded) to DIR/<run>, for tensorboard --logdir DIR")
    return _add_backend(p)


def _experiment(name: str, what: str, extra, configure) -> Command:
    """An experiment's command: the common options, ``extra(parser)`` for its own, and
    ``configure(args) -> config`` to build its config (the quick or full one, with the options)."""

    def options(p):
        backend = _add_common(p, name)
        extra(p)

        def build(args) -> None:
            if args.resume and not args.out:
                raise ValueError("--resume needs the --out folder of the run to continue")
            args.backend_config = backend.build(args)
            args.config = configure(args)
            args.out = args.out or Path("runs") / f"{name}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"

        return build

    return Command(name, what, _run_experiment, options)


def _batching_options(q) -> None:
    q.add_argument("--batch-size", type=_non_negative_int, action="append", dest="batch_sizes",
                   help="batch size, repeatable; 0 = full batch (default: 0 4096 1024 256 64 16)")
    q.add_argument("--epochs", type=bounded_int(1, 1_000_000), help="epochs of every run (default: 30)")


def _batching_config(args):
    from sims.experiments.batching import BatchingConfig

    config = BatchingConfig.quick() if args.quick else BatchingConfig()
    return config.with_overrides(args.seeds, args.first_seed, args.batch_sizes, args.epochs)


def _overfitting_options(q) -> None:
    q.add_argument("--observation", choices=("features", "image"), action="append", dest="observations",
                   help="observation arm, repeatable (default: both)")


def _overfitting_config(args):
    from sims.experiments.overfitting import OverfittingConfig

    config = OverfittingConfig.quick() if args.quick else OverfittingConfig()
    observations = tuple(args.observations) if args.observations else None
    return config.with_seeds(args.seeds, args.first_seed, observations)


def _road_change_options(q) -> None:
    from sims.experiments.road_change import CHANGE_NAMES, METHODS

    q.add_argument("--method", choices=METHODS, action="append", dest="methods",
                   help="training method, repeatable (default: all)")
    q.add_argument("--change", choices=CHANGE_NAMES, action="append", dest="changes",
                   help="change of the world, repeatable (default: all)")
    q.add_argument("--observation", choices=("features", "rays"), default=None,
                   help="observation of the trained policies (default: features)")


def _road_change_config(args):
    from sims.experiments.road_change import RoadChangeConfig

    config = RoadChangeConfig.quick() if args.quick else RoadChangeConfig()
    return config.with_overrides(args.seeds, args.first_seed, args.methods, args.changes, args.observation)


def _rl_options(q) -> None:
    q.add_argument("--ppo-steps", type=_positive_int, help="PPO's budget in env steps (default: 200000)")


def _rl_config(args):
    from sims.experiments.rl_vs_imitation import RLConfig

    config = RLConfig.quick() if args.quick else RLConfig()
    return config.with_overrides(args.seeds, args.first_seed, args.ppo_steps)


def _module(name: str):
    """The module that runs experiment ``name``."""
    import importlib

    return importlib.import_module(f"sims.experiments.{name.replace('-', '_')}")


def _run_experiment(args) -> int:
    from sims.experiments.grid import RunFailed

    if args.tensorboard:
        from sims.tensorboard import require_tensorboard

        require_tensorboard()  # a missing TensorBoard is an error before the grid runs, not after it
    name = args.experiment_command
    module = _module(name)
    try:
        if name == "rl-vs-imitation":
            module.run_experiment(args.out, args.config, args.backend_config)
        else:
            module.run_experiment(args.out, args.config, args.backend_config, resume=args.resume)
    except RunFailed as exc:
        print(f"roadschool experiment {name}: error: {exc}", file=sys.stderr)
        return 1
    if args.tensorboard:
        from sims.tensorboard import log_experiment

        runs = log_experiment(args.tensorboard, args.out, RUN_COLUMNS[name], STEP_COLUMNS.get(name))
        print(f"wrote TensorBoard scalars of {runs} runs to {args.tensorboard} (tensorboard --logdir {args.tensorboard})")
    return 0


FIGURES = {"batching": "batching.png", "overfitting": "overfitting.png", "road-change": "road_change.png"}


def _tutorial_figures_options(q):
    q.add_argument("--out", type=output_dir, default=Path("docs/figures"), help="where the PNGs go (default: %(default)s)")
    q.add_argument("--work", type=output_dir, default=Path("runs/tutorial"),
                   help="where the experiments write their full outputs (default: %(default)s)")
    q.add_argument("--quick", action="store_true", help="the tiny versions (to check the command, not for docs)")
    backend = _add_backend(q)

    def build(args) -> None:
        args.backend_config = backend.build(args)

    return build


def _tutorial_figures(args) -> int:
    """Each experiment at its defaults (or quick) into ``--work``, then its figure into ``--out``."""
    import time

    from sims.experiments.batching import BatchingConfig
    from sims.experiments.figures import copy_as_small_png
    from sims.experiments.grid import RunFailed
    from sims.experiments.overfitting import OverfittingConfig
    from sims.experiments.road_change import RoadChangeConfig

    configs = {"batching": BatchingConfig, "overfitting": OverfittingConfig, "road-change": RoadChangeConfig}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, config in configs.items():
        clock = time.perf_counter()
        folder = args.work / name
        try:
            _module(name).run_experiment(folder, config.quick() if args.quick else config(), args.backend_config)
        except RunFailed as exc:
            print(f"roadschool experiment tutorial-figures: {name}: error: {exc}", file=sys.stderr)
            return 1
        copy_as_small_png(folder / FIGURES[name], args.out / FIGURES[name])
        print(f"{name}: {time.perf_counter() - clock:.0f} s; {folder / FIGURES[name]} -> {args.out / FIGURES[name]}")
    return 0


RUN_COLUMNS = {
    "batching": ("batch_size", "seed"),
    "overfitting": ("observation", "train_roads", "seed"),
    "road-change": ("method", "seed", "change", "strength"),
    "rl-vs-imitation": ("method", "seed"),
}
STEP_COLUMNS = {"rl-vs-imitation": "env_steps"}
"""Experiments whose rows are points of a run's curves: the column that is the step."""
"""The CSV columns that name a run of each experiment (its TensorBoard run folder)."""


COMMANDS = (
    Command("experiment", "batching, overfitting, road-change: grids of seeded runs, CSV + figures + summary",
            subcommands=(
                _experiment("batching", "full-batch training against minibatches of several sizes",
                            _batching_options, _batching_config),
                _experiment("overfitting", "train on 1 ... 64 roads, test every model on the same unseen roads",
                            _overfitting_options, _overfitting_config),
                _experiment("road-change", "BC, DART and DAgger on sharper, narrower, faster, windy, misaligned "
                            "and noisy roads", _road_change_options, _road_change_config),
                _experiment("rl-vs-imitation", "Stable-Baselines3 PPO against behaviour cloning on the same roads, "
                            "by env steps and wall time (pip install '.[rl]')", _rl_options, _rl_config),
                Command("tutorial-figures", "run the three experiments at their defaults and copy their figures to "
                        "docs/figures (about 9 minutes on 2 cores)", _tutorial_figures, _tutorial_figures_options),
            )),
)  # fmt: skip
"""``roadschool experiment`` and its experiments."""
