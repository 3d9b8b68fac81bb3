"""``roadschool experiment batching``: full-batch training against minibatches, on the same data.

The tutorial's loop takes one gradient step per epoch on the whole training
set (full batch). Minibatches take many smaller, noisier steps per epoch. Every
run trains on the same expert data (the train roads are collected once, with
the same seed) with the same optimizer, learning rate and number of epochs;
only the batch size and the run's seed (initial weights and shuffling) change.
Recorded per epoch: the train loss (mean over the epoch's minibatches), the test
loss on the expert's driving of unseen roads, and the wall time; at the end,
closed-loop completion and mean |cross-track error| on unseen roads.

Wall times are measured with PyTorch on one thread per run, while the other
runs of the grid use the other cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from envs import DEFAULT_FAMILIES, FAMILIES
from sims.experiments.figures import plot_with_spread, pyplot, save_figure
from sims.experiments.grid import (
    Backend,
    check_grid,
    mean_and_spread,
    run_grid,
    write_csv,
    write_text,
)

FULL_BATCH = 0
"""Batch size meaning "the whole training set" (the tutorial's loop)."""
DATA_SEED = 0
"""Seeds the collection of the training data, the same for every run."""
TEST_DATA_SEED = 20_000
"""Seeds the expert's driving of the unseen roads that gives the test loss."""


@dataclass(frozen=True)
class BatchingSetup:
    """What every run of the grid shares: the data, the training budget and the road test."""

    epochs: int = 30
    """Passes over the training data, the same for every batch size."""
    learning_rate: float = 2e-3
    """AdamW step size, the same for every batch size (cosine-decayed over the epochs)."""
    train_roads: int = 32
    """Training roads the expert drives (with DART noise)."""
    test_roads: int = 16
    """Unseen roads the expert drives for the test loss."""
    unseen_roads: int = 32
    """Unseen roads for closed-loop evaluation at the end."""
    observation: str = field(default="features", metadata={"choices": ("features", "rays", "image")})
    """Observation type of the data and the policies."""
    families: tuple[str, ...] = field(default=DEFAULT_FAMILIES, metadata={"choices": tuple(FAMILIES)})
    """Road families, used in turn."""

    def __post_init__(self):
        check_grid(self)
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")


@dataclass(frozen=True)
class BatchingConfig:
    """The grid: batch sizes x seeds, all on the same data (``setup``)."""

    batch_sizes: tuple[int, ...] = (FULL_BATCH, 4096, 1024, 256, 64, 16)
    """Minibatch sizes [samples]; 0 is full batch."""
    seeds: int = 3
    """Seeds per batch size (initial weights and shuffling)."""
    first_seed: int = 0
    """Seeds are first_seed, first_seed + 1, ..."""
    setup: BatchingSetup = field(default_factory=BatchingSetup)
    """What every run shares."""

    def __post_init__(self):
        check_grid(self)
        if not self.batch_sizes or min(self.batch_sizes) < 0:
            raise ValueError(f"batch_sizes must be 0 (full batch) or more samples, got {self.batch_sizes}")

    @classmethod
    def quick(cls) -> BatchingConfig:
        return cls(
            batch_sizes=(FULL_BATCH, 256, 64),
            seeds=1,
            setup=BatchingSetup(epochs=3, train_roads=3, test_roads=2, unseen_roads=2),
        )


@dataclass(frozen=True)
class BatchingRun:
    """One training run: a batch size and a seed, in the grid's shared ``setup`` (a run's name, for
    resuming, changes with what it runs, not with the rest of the grid)."""

    batch_size: int
    seed: int
    setup: BatchingSetup

    @property
    def cost(self) -> float:
        """Rough relative run time (small batches pay a per-step overhead), to start long runs first."""
        roads = self.setup.train_roads
        steps_per_epoch = 1 if self.batch_size == FULL_BATCH else math.ceil(800 * roads / self.batch_size)
        return self.setup.epochs * (800 * roads + 120 * steps_per_epoch)

    @property
    def label(self) -> str:
        return batch_label(self.batch_size)


def batch_label(batch_size: int) -> str:
    return "full batch" if batch_size == FULL_BATCH else f"batch {batch_size}"


def grid(config: BatchingConfig) -> list[BatchingRun]:
    return [
        BatchingRun(b, config.first_seed + k, config.setup) for b in config.batch_sizes for k in range(config.seeds)
    ]


def run(spec: BatchingRun) -> dict:
    """Train with the spec's batch size; record the per-epoch losses and times, then drive unseen roads."""
    from agents.data import CollectConfig, collect, collect_world
    from agents.drivers import PolicyDriver
    from agents.evaluation import aggregate, drive, env_config_for
    from agents.training import TrainConfig, train
    from envs.generation import split_roads

    setup = spec.setup
    world = collect_world(families=setup.families, observation=setup.observation)
    data = collect(CollectConfig(num_roads=setup.train_roads, seed=DATA_SEED, env=world))
    test_data = collect(
        CollectConfig(num_roads=setup.test_roads, seed=TEST_DATA_SEED, env=replace(world, split="unseen"))
    )
    config = TrainConfig(
        epochs=setup.epochs,
        batch_size=spec.batch_size,
        learning_rate=setup.learning_rate,
        seed=spec.seed,
        print_every=0,
    )
    policy, history = train(data, test_data, config)
    unseen = split_roads("unseen", setup.unseen_roads, setup.families)
    closed_loop = aggregate(
        [t.metrics() for t in drive(PolicyDriver(policy), unseen, env_config_for(setup.observation))]
    )

    batch = len(data) if spec.batch_size == FULL_BATCH else min(spec.batch_size, len(data))
    steps_per_epoch = math.ceil(len(data) / batch)
    row = {
        "batch_size": spec.batch_size,
        "batch_label": spec.label,
        "batch_samples": batch,
        "seed": spec.seed,
        "train_samples": len(data),
        "epochs": setup.epochs,
        "steps_per_epoch": steps_per_epoch,
        "gradient_steps": steps_per_epoch * setup.epochs,
        "learning_rate": setup.learning_rate,
        "final_train_loss": history.train_loss[-1],
        "final_test_loss": history.test_loss[-1],
        "best_test_loss": min(history.test_loss),
        "unseen_completion": closed_loop["completion_rate"],
        "unseen_off_road": closed_loop["off_road_rate"],
        "unseen_mean_abs_cte": closed_loop["mean_abs_cte"],
        "unseen_roads_driven": closed_loop["episodes"],
        "train_seconds": round(history.seconds[-1], 3),
        "seconds_per_epoch": round(history.seconds[-1] / setup.epochs, 4),
    }
    return {"row": row, "details": {"history": history.as_dict()}}


def describe(spec: BatchingRun) -> str:
    return f"{spec.label:<11} seed {spec.seed}"


def run_experiment(
    out: Path, config: BatchingConfig, backend: Backend = Backend(), log=print, resume: bool = False
) -> list[dict]:
    """Run the grid; write ``results.csv``, ``curves.csv``, ``batching.png`` and ``summary.md``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = grid(config)
    log(f"batching: {len(specs)} runs on {backend.describe()}")
    results = run_grid(run, specs, backend, describe, log, store=out / ".runs" / "grid", resume=resume)
    rows = [r["row"] for r in results]
    curves = [
        {
            "batch_size": spec.batch_size,
            "batch_label": spec.label,
            "seed": spec.seed,
            "epoch": e,
            "train_loss": tr,
            "test_loss": te,
            "seconds": round(s, 3),
        }
        for spec, result in zip(specs, results)
        for e, tr, te, s in zip(
            *(result["details"]["history"][k] for k in ("epoch", "train_loss", "test_loss", "seconds"))
        )
    ]
    write_csv(out / "results.csv", rows)
    write_csv(out / "curves.csv", curves)
    plot(rows, curves, out / "batching.png")
    table = format_table(rows)
    write_text(out / "summary.md", summary(rows, config, table))
    log(table)
    log(f"wrote {out}/results.csv, curves.csv, batching.png, summary.md")
    return rows


# ------------------------------------------------------------------ reporting
COLOURS = ("#222222", "#7b3294", "#1f5fd6", "#1a9850", "#e07b00", "#d7301f", "#8c6d31", "#666666")


def _sizes(rows) -> list[int]:
    return list(dict.fromkeys(r["batch_size"] for r in rows))


def _mean(rows, batch_size, key) -> float:
    return mean_and_spread([float(r[key]) for r in rows if r["batch_size"] == batch_size])[0]


def format_table(rows: list[dict]) -> str:
    heads = ["batch", "seeds", "steps/epoch", "train loss", "test loss", "s/epoch", "total s", "completion", "|cte| m"]
    widths = [12, 6, 12, 11, 11, 9, 9, 11, 9]
    lines = ["".join(f"{h:>{w}}" if i else f"{h:<{w}}" for i, (h, w) in enumerate(zip(heads, widths)))]
    for b in _sizes(rows):
        mine = [r for r in rows if r["batch_size"] == b]
        vals = [
            batch_label(b),
            str(len(mine)),
            str(mine[0]["steps_per_epoch"]),
            f"{_mean(rows, b, 'final_train_loss'):.2e}",
            f"{_mean(rows, b, 'final_test_loss'):.2e}",
            f"{_mean(rows, b, 'seconds_per_epoch'):.2f}",
            f"{_mean(rows, b, 'train_seconds'):.1f}",
            f"{100 * _mean(rows, b, 'unseen_completion'):.0f}%",
            f"{_mean(rows, b, 'unseen_mean_abs_cte'):.3f}",
        ]
        lines.append("".join(f"{v:>{w}}" if i else f"{v:<{w}}" for i, (v, w) in enumerate(zip(vals, widths))))
    return "\n".join(lines)


def _curve(curves, batch_size, key) -> tuple[list[int], list[list[float]]]:
    mine = [c for c in curves if c["batch_size"] == batch_size]
    epochs = sorted({c["epoch"] for c in mine})
    return epochs, [[float(c[key]) for c in mine if c["epoch"] == e] for e in epochs]


def plot(rows: list[dict], curves: list[dict], path) -> Path:
    """Train and test loss against epochs and against wall time; closed loop on unseen roads at the end."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    for k, b in enumerate(_sizes(rows)):
        colour = COLOURS[k % len(COLOURS)]
        samples = int(next(r["batch_samples"] for r in rows if r["batch_size"] == b))
        label = f"{batch_label(b)} ({samples} samples)" if b == FULL_BATCH else batch_label(b)
        epochs, train = _curve(curves, b, "train_loss")
        _, test = _curve(curves, b, "test_loss")
        _, seconds = _curve(curves, b, "seconds")
        plot_with_spread(axes[0, 0], epochs, train, colour, label, marker="")
        plot_with_spread(axes[0, 1], epochs, test, colour, label, marker="")
        mean_seconds = [mean_and_spread(s)[0] for s in seconds]
        axes[1, 0].plot(mean_seconds, [mean_and_spread(t)[0] for t in test], color=colour, lw=1.6, label=label)
        axes[1, 0].plot(mean_seconds[-1], mean_and_spread(test[-1])[0], "o", color=colour, ms=4)
    for ax, title in (
        (axes[0, 0], "Train loss (mean over each epoch's minibatches)"),
        (axes[0, 1], "Test loss (expert's driving of unseen roads)"),
    ):
        ax.set_xlabel("epoch")
        ax.set_title(title)
    axes[1, 0].set_xlabel(
        "wall time since the start of training [s] (one CPU thread per run; includes the test passes)"
    )
    axes[1, 0].set_title("Test loss against wall time (mean over seeds; dot: end of training)")
    for ax in (axes[0, 0], axes[0, 1], axes[1, 0]):
        ax.set_yscale("log")
        ax.set_ylabel("MSE of normalized steering")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)

    ax = axes[1, 1]
    sizes = _sizes(rows)
    x = list(range(len(sizes)))
    for xi, b in zip(x, sizes):
        values = [float(r["unseen_mean_abs_cte"]) for r in rows if r["batch_size"] == b]
        mean, lo, hi = mean_and_spread(values)
        colour = COLOURS[xi % len(COLOURS)]
        ax.bar(xi, mean, color=colour, alpha=0.75)
        ax.errorbar(xi, mean, yerr=[[mean - lo], [hi - mean]], color="k", capsize=3, lw=1)
        completion = _mean(rows, b, "unseen_completion")
        ax.annotate(
            f"{100 * completion:.0f}%\ncompleted",
            (xi, hi),
            textcoords="offset points",
            xytext=(0, 4),
            ha="center",
            fontsize=8,
        )
    ax.set_xticks(x, [batch_label(b).replace("batch ", "") for b in sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("mean |cross-track error| [m]")
    roads = int(rows[0]["unseen_roads_driven"])
    ax.set_title(
        f"Closed loop on {roads} unseen roads after {rows[0]['epochs']} epochs\n"
        "(bar: mean over seeds; black line: lowest to highest seed)",
        fontsize=11,
    )
    ax.margins(y=0.2)
    ax.grid(alpha=0.3, axis="y")
    samples = int(rows[0]["train_samples"])
    fig.suptitle(
        f"Batching: the same {samples} training samples, {rows[0]['epochs']} epochs, "
        f"learning rate {rows[0]['learning_rate']:g}; band: lowest to highest seed",
        fontsize=11,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def summary(rows: list[dict], config: BatchingConfig, table: str) -> str:
    sizes = _sizes(rows)
    samples = int(rows[0]["train_samples"])
    lines = [
        "# Batching: full batch against minibatches",
        "",
        f"- Data: the expert's (DART) driving of {config.setup.train_roads} train roads, {samples} samples, "
        f"the same for every run; test loss on the expert's driving of {config.setup.test_roads} unseen roads; "
        "closed loop on "
        f"{config.setup.unseen_roads} unseen roads.",
        f"- Every run: {config.setup.epochs} epochs, AdamW at learning rate {config.setup.learning_rate:g}; "
        f"batch sizes {', '.join(batch_label(b) for b in sizes)}; {config.seeds} seed(s) each.",
        "- Times are wall-clock seconds with one CPU thread per run (they vary a little from run to run).",
        "",
        "Means over seeds (`results.csv`: one row per run; `curves.csv`: one row per run and epoch):",
        "",
        "```",
        table,
        "```",
        "",
    ]
    best = min(sizes, key=lambda b: _mean(rows, b, "final_test_loss"))
    fastest = min(sizes, key=lambda b: _mean(rows, b, "train_seconds"))
    if FULL_BATCH in sizes:
        lines.append(
            f"- Full batch takes {next(int(r['gradient_steps']) for r in rows if r['batch_size'] == FULL_BATCH)} "
            f"gradient steps in all and ends at test loss {_mean(rows, FULL_BATCH, 'final_test_loss'):.2e}."
        )
    lines.append(
        f"- Lowest final test loss: {batch_label(best)} ({_mean(rows, best, 'final_test_loss'):.2e}, "
        f"{_mean(rows, best, 'train_seconds'):.1f} s of training)."
    )
    lines.append(f"- Fastest training: {batch_label(fastest)} ({_mean(rows, fastest, 'train_seconds'):.1f} s).")
    return "\n".join(lines) + "\n"
