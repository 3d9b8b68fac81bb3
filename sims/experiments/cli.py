"""``roadschool experiment batching|overfitting|road-change|rl-vs-imitation|tutorial-figures``."""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

from sims.arguments import bounded_int, output_dir, positive_int
from sims.options import Command, add_config


def _add_backend(p: argparse.ArgumentParser):
    from sims.experiments.grid import Backend

    g = p.add_argument_group("where the runs execute")
    return add_config(g, Backend, aliases={"kind": "--backend"})


def _add_common(p: argparse.ArgumentParser, what: str):
    p.add_argument("--out", type=output_dir, help=f"output folder (default: runs/{what}-<timestamp>)")
    p.add_argument("--quick", action="store_true", help="a tiny version that runs in seconds (for tests)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="rerun in the same --out folder, skipping the runs that finished there before",
    )
    p.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="also write every run's results (results/<column>, and losses/train, losses/test per "
        "epoch where recorded) to DIR/<run>, for tensorboard --logdir DIR",
    )
    return _add_backend(p)


GRID = "the grid (defaults: the full experiment; --quick makes every one of them small)"
GRID_ALIASES = {"families": "--family"}


def _experiment(name: str, what: str, options) -> Command:
    """An experiment's command: the common options, and ``options(parser)`` for its config's, which
    returns ``configure(args) -> config`` (the quick or the full config, with the options given)."""

    def add(p):
        backend = _add_common(p, name)
        configure = options(p)

        def build(args) -> None:
            if args.resume and not args.out:
                raise ValueError("--resume needs the --out folder of the run to continue")
            args.backend_config = backend.build(args)
            args.config = configure(args)
            args.out = args.out or Path("runs") / f"{name}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"

        return build

    return Command(name, what, _run_experiment, add)


def _batching_options(p):
    from sims.experiments.batching import BatchingConfig

    options = add_config(
        p.add_argument_group(GRID),
        BatchingConfig,
        aliases={"batch_sizes": "--batch-size"},
        nested={"setup": {"aliases": GRID_ALIASES}},
    )
    return lambda args: options.build(args, BatchingConfig.quick() if args.quick else BatchingConfig())


def _overfitting_options(p):
    from sims.experiments.overfitting import OverfittingConfig

    g = p.add_argument_group(GRID)
    options = add_config(g, OverfittingConfig, nested={"setup": {"aliases": GRID_ALIASES}})
    g.add_argument("--seeds", type=bounded_int(1, 10_000), help="seeds per number of roads (default: 3, quick: 1 or 2)")
    g.add_argument(
        "--observation",
        choices=("features", "image", "camera"),
        action="append",
        dest="observations",
        help="observation arm, repeatable (default: features and image; camera, the slowest, when named)",
    )

    def configure(args):
        config = options.build(args, OverfittingConfig.quick() if args.quick else OverfittingConfig())
        return config.with_seeds(args.seeds, None, tuple(args.observations) if args.observations else None)

    return configure


def _road_change_options(p):
    from sims.experiments.road_change import (
        ALL_CHANGE_NAMES,
        APPEARANCE_CHANGE_NAMES,
        CHANGE_NAMES,
        DYNAMIC_CHANGE_NAMES,
        RoadChangeConfig,
    )

    g = p.add_argument_group(GRID)
    options = add_config(
        g, RoadChangeConfig, aliases={"methods": "--method"}, nested={"setup": {"aliases": GRID_ALIASES}}
    )
    g.add_argument(
        "--change",
        choices=ALL_CHANGE_NAMES,
        action="append",
        dest="change_names",
        help=f"change of the world, repeatable (default: all of the grid's: {', '.join(CHANGE_NAMES)}; "
        f"with --observation camera: {', '.join(APPEARANCE_CHANGE_NAMES)}; "
        f"with --car dynamic: {', '.join(DYNAMIC_CHANGE_NAMES)})",
    )

    def configure(args):
        if getattr(args, "setup.car", "kinematic") == "dynamic":  # the dynamic car's grid, then the options given
            base = RoadChangeConfig.dynamic(quick=args.quick)
        elif getattr(args, "setup.observation", None) == "camera":  # the dashcam grid: its methods and changes
            base = RoadChangeConfig.quick_camera() if args.quick else RoadChangeConfig.camera()
        else:
            base = RoadChangeConfig.quick() if args.quick else RoadChangeConfig()
        config = options.build(args, base)
        return config.with_overrides(changes=args.change_names)

    return configure


def _rl_options(p):
    from sims.experiments.rl_vs_imitation import RLConfig

    g = p.add_argument_group(GRID)
    options = add_config(g, RLConfig, aliases=GRID_ALIASES, skip=("ppo_steps", "ppo_checkpoints"))
    g.add_argument(
        "--ppo-steps",
        type=positive_int,
        metavar="N",
        help="PPO's whole budget [env steps], evaluated at the usual points below it and at N (default: 204800)",
    )

    def configure(args):
        config = options.build(args, RLConfig.quick() if args.quick else RLConfig())
        return config.with_overrides(ppo_steps=args.ppo_steps)

    return configure


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
        print(
            f"wrote TensorBoard scalars of {runs} runs to {args.tensorboard} (tensorboard --logdir {args.tensorboard})"
        )
    return 0


FIGURES = {"batching": "batching.png", "overfitting": "overfitting.png", "road-change": "road_change.png"}


def _tutorial_figures_options(q):
    q.add_argument(
        "--out", type=output_dir, default=Path("docs/figures"), help="where the PNGs go (default: %(default)s)"
    )
    q.add_argument(
        "--work",
        type=output_dir,
        default=Path("runs/tutorial"),
        help="where the experiments write their full outputs (default: %(default)s)",
    )
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
    Command(
        "experiment",
        "batching, overfitting, road-change: grids of seeded runs, CSV + figures + summary",
        subcommands=(
            _experiment("batching", "full-batch training against minibatches of several sizes", _batching_options),
            _experiment(
                "overfitting",
                "train on 1 ... 64 roads, test every model on the same unseen roads",
                _overfitting_options,
            ),
            _experiment(
                "road-change",
                "BC, DART and DAgger on sharper, narrower, faster, windy, misaligned and noisy roads "
                "(--observation camera: and side cameras, on darker, brighter, snowy and unmarked roads; "
                "--car dynamic: tyres that slip, trained on dry or mixed surfaces, on slipperier and faster roads)",
                _road_change_options,
            ),
            _experiment(
                "rl-vs-imitation",
                "Stable-Baselines3 PPO against behaviour cloning on the same roads, "
                "by env steps and wall time (pip install '.[rl]')",
                _rl_options,
            ),
            Command(
                "tutorial-figures",
                "run the three experiments at their defaults and copy their figures to "
                "docs/figures (about 9 minutes on 2 cores)",
                _tutorial_figures,
                _tutorial_figures_options,
            ),
        ),
    ),
)
"""``roadschool experiment`` and its experiments."""
