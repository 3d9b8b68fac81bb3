"""``roadschool experiment batching|overfitting|road-change|rl-vs-imitation|tutorial-figures``."""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

from sims.arguments import non_negative_int as _non_negative_int
from sims.arguments import positive_int as _positive_int
from sims.arguments import MAX_SEED, bounded_int, output_dir


def _add_backend(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where the runs execute")
    g.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local worker processes, or Ray (pip install 'roadschool[ray]') (default: %(default)s)")
    g.add_argument("--workers", type=bounded_int(0, 1024), default=0,
                   help="runs at once: local processes or CPUs of a local Ray instance; "
                        "0 = all cores, 1 = in this process (default: 0)")
    g.add_argument("--address",
                   help="ray: address of an existing cluster (e.g. 'auto' or 'ray://head:10001'); "
                        "without it a local Ray instance is started and stopped")


def _add_common(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--out", type=output_dir, help=f"output folder (default: runs/{what}-<timestamp>)")
    p.add_argument("--quick", action="store_true", help="a tiny version that runs in seconds (for tests)")
    p.add_argument("--seeds", type=bounded_int(1, 10_000), help="seeds per grid point (default: the experiment's)")
    p.add_argument("--resume", action="store_true",
                   help="rerun in the same --out folder, skipping the runs that finished there before")
    p.add_argument("--first-seed", type=bounded_int(0, MAX_SEED - 10_000), help="first seed; seeds are first, first + 1, ... (default: 0)")
    p.add_argument("--tensorboard", type=Path, metavar="DIR",
                   help="also write every run's results (results/<column>, and losses/train, losses/test per "
                        "epoch where recorded) to DIR/<run>, for tensorboard --logdir DIR")
    _add_backend(p)


def register(subparsers) -> dict:
    """Add ``experiment`` and its sub-commands; return ``{"experiment": handler}``."""
    p = subparsers.add_parser("experiment", help="batching, overfitting, road-change: grids of seeded runs, "
                                                 "CSV + figures + summary")
    sub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)

    q = sub.add_parser("batching", help="full-batch training against minibatches of several sizes")
    _add_common(q, "batching")
    q.add_argument("--batch-size", type=_non_negative_int, action="append", dest="batch_sizes",
                   help="batch size, repeatable; 0 = full batch (default: 0 4096 1024 256 64 16)")
    q.add_argument("--epochs", type=bounded_int(1, 1_000_000), help="epochs of every run (default: 30)")

    q = sub.add_parser("overfitting", help="train on 1 ... 64 roads, test every model on the same unseen roads")
    _add_common(q, "overfitting")
    q.add_argument("--observation", choices=("features", "image"), action="append", dest="observations",
                   help="observation arm, repeatable (default: both)")

    q = sub.add_parser("road-change", help="BC, DART and DAgger on sharper, narrower, faster, windy, "
                                           "misaligned and noisy roads")
    _add_common(q, "road-change")
    from sims.experiments.road_change import CHANGE_NAMES, METHODS

    q.add_argument("--method", choices=METHODS, action="append", dest="methods",
                   help="training method, repeatable (default: all)")
    q.add_argument("--change", choices=CHANGE_NAMES, action="append", dest="changes",
                   help="change of the world, repeatable (default: all)")
    q.add_argument("--observation", choices=("features", "rays"), default=None,
                   help="observation of the trained policies (default: features)")

    q = sub.add_parser("rl-vs-imitation", help="Stable-Baselines3 PPO against behaviour cloning on the same roads, "
                                                "by env steps and wall time (pip install '.[rl]')")
    _add_common(q, "rl-vs-imitation")
    q.add_argument("--ppo-steps", type=_positive_int, help="PPO's budget in env steps (default: 200000)")

    q = sub.add_parser("tutorial-figures", help="run the three experiments at their defaults and copy their "
                                                "figures to docs/figures (about 9 minutes on 2 cores)")
    q.add_argument("--out", type=output_dir, default=Path("docs/figures"), help="where the PNGs go (default: %(default)s)")
    q.add_argument("--work", type=output_dir, default=Path("runs/tutorial"),
                   help="where the experiments write their full outputs (default: %(default)s)")
    q.add_argument("--quick", action="store_true", help="the tiny versions (to check the command, not for docs)")
    _add_backend(q)
    return {"experiment": cmd_experiment}


def _backend(args):
    from sims.experiments.grid import Backend

    return Backend(args.backend, args.workers, args.address)


def _out(args, name: str) -> Path:
    if getattr(args, "resume", False) and not args.out:
        raise ValueError("--resume needs the --out folder of the run to continue")
    return args.out or Path("runs") / f"{name}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_batching(args) -> Path:
    from sims.experiments.batching import BatchingConfig, run_experiment

    config = BatchingConfig.quick() if args.quick else BatchingConfig()
    config = config.with_overrides(args.seeds, args.first_seed, args.batch_sizes, args.epochs)
    out = _out(args, "batching")
    run_experiment(out, config, _backend(args), resume=getattr(args, "resume", False))
    return out


def run_overfitting(args) -> Path:
    from sims.experiments.overfitting import OverfittingConfig, run_experiment

    config = OverfittingConfig.quick() if args.quick else OverfittingConfig()
    observations = tuple(args.observations) if args.observations else None
    config = config.with_seeds(args.seeds, args.first_seed, observations)
    out = _out(args, "overfitting")
    run_experiment(out, config, _backend(args), resume=getattr(args, "resume", False))
    return out


def run_road_change(args) -> Path:
    from sims.experiments.road_change import RoadChangeConfig, run_experiment

    config = RoadChangeConfig.quick() if args.quick else RoadChangeConfig()
    config = config.with_overrides(args.seeds, args.first_seed, args.methods, args.changes, args.observation)
    out = _out(args, "road-change")
    run_experiment(out, config, _backend(args), resume=getattr(args, "resume", False))
    return out


def run_rl_vs_imitation(args) -> Path:
    from sims.experiments.rl_vs_imitation import RLConfig, run_experiment

    config = RLConfig.quick() if args.quick else RLConfig()
    config = config.with_overrides(args.seeds, args.first_seed, args.ppo_steps)
    out = _out(args, "rl-vs-imitation")
    run_experiment(out, config, _backend(args))
    return out


FIGURES = {"batching": "batching.png", "overfitting": "overfitting.png", "road-change": "road_change.png"}


def run_tutorial_figures(args) -> Path:
    """Each experiment at its defaults into ``--work``, then its figure into ``--out``."""
    import time

    from sims.experiments.figures import copy_as_small_png

    runners = {"batching": run_batching, "overfitting": run_overfitting, "road-change": run_road_change}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, runner in runners.items():
        clock = time.perf_counter()
        ns = argparse.Namespace(**vars(args))
        ns.out, ns.seeds, ns.first_seed, ns.resume = args.work / name, None, None, False
        ns.batch_sizes = ns.epochs = ns.observations = ns.methods = ns.changes = ns.observation = None
        folder = runner(ns)
        copy_as_small_png(folder / FIGURES[name], args.out / FIGURES[name])
        print(f"{name}: {time.perf_counter() - clock:.0f} s; {folder / FIGURES[name]} -> {args.out / FIGURES[name]}")
    return args.out


RUN_COLUMNS = {
    "batching": ("batch_size", "seed"),
    "overfitting": ("observation", "train_roads", "seed"),
    "road-change": ("method", "seed", "change", "strength"),
    "rl-vs-imitation": ("method", "seed"),
}
STEP_COLUMNS = {"rl-vs-imitation": "env_steps"}
"""Experiments whose rows are points of a run's curves: the column that is the step."""
"""The CSV columns that name a run of each experiment (its TensorBoard run folder)."""


def cmd_experiment(args) -> int:
    handlers = {"batching": run_batching, "overfitting": run_overfitting, "road-change": run_road_change,
                "tutorial-figures": run_tutorial_figures, "rl-vs-imitation": run_rl_vs_imitation}
    import sys

    from sims.experiments.grid import RunFailed

    if getattr(args, "tensorboard", None):
        from sims.tensorboard import require_tensorboard

        require_tensorboard()  # a missing TensorBoard is an error before the grid runs, not after it
    try:
        out = handlers[args.experiment](args)
    except RunFailed as exc:
        print(f"roadschool experiment {args.experiment}: error: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "tensorboard", None) and args.experiment in RUN_COLUMNS:
        from sims.tensorboard import log_experiment

        runs = log_experiment(args.tensorboard, out, RUN_COLUMNS[args.experiment], STEP_COLUMNS.get(args.experiment))
        print(f"wrote TensorBoard scalars of {runs} runs to {args.tensorboard} (tensorboard --logdir {args.tensorboard})")
    return 0
