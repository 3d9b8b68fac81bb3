"""``roadschool experiment overfitting``: how many roads does a car need to learn to drive?

Every model trains on the expert's (DART) driving of ``n`` training roads, for
the same number of gradient steps whatever ``n`` (so a one-road model sees its
road hundreds of times), and is then tested on the same unseen roads as every
other model: the loss on the expert's driving of unseen roads, and closed-loop
completion and mean |cross-track error| on its own training roads and on unseen
ones. Seed ``s`` trains on its own nested set of roads: roads ``1000 s + i`` of
the train split, families taken in turn starting from family ``s``, so the
spread over seeds includes *which* roads a model happened to get.

Both the ``features`` observation (an MLP) and the ``image`` one (a CNN) are
run; images are where memorising roads is easiest to see. The ``camera`` arm
(the PilotNet-style CNN on the dashcam, every 6th frame) runs when asked for
(``--observation camera``): its frames make it the slowest arm.
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

ROADS_PER_SEED = 1000
"""Seed ``s`` draws its training roads from indices ``ROADS_PER_SEED * s ...`` of the train split."""
TEST_DATA_SEED = 20_000
"""Seeds the expert's driving of the unseen roads that gives every model's test loss."""


@dataclass(frozen=True)
class ArmTraining:
    """How every model of one observation arm trains."""

    observation: str
    """``features`` (MLP), ``image`` (CNN) or ``camera`` (PilotNet-style CNN)."""
    gradient_steps: int
    """Optimizer steps of every model, whatever its number of roads."""
    batch_size: int
    """Minibatch size [samples]."""
    frame_stride: int = 1
    """Record every this many steps of the expert's drives (camera frames are big, consecutive ones alike)."""


@dataclass(frozen=True)
class ObservationArm:
    """One observation type's part of the grid: how its models train, and how many there are."""

    training: ArmTraining
    road_counts: tuple[int, ...]
    """Numbers of training roads."""
    seeds: int
    """Seeds (models) per number of roads."""

    @property
    def observation(self) -> str:
        return self.training.observation


@dataclass(frozen=True)
class OverfittingSetup:
    """What every run of the grid shares: the roads it is tested on."""

    test_roads: int = 8
    """Unseen roads the expert drives for the test loss (the same data for every model)."""
    unseen_roads: int = 24
    """Unseen roads every model drives in closed loop."""
    max_train_roads_driven: int = 16
    """Closed loop on the training roads drives at most this many of them (the first ones)."""
    families: tuple[str, ...] = field(default=DEFAULT_FAMILIES, metadata={"choices": tuple(FAMILIES)})
    """Road families, used in turn."""

    def __post_init__(self):
        check_grid(self)


CAMERA_ARM = ObservationArm(
    ArmTraining("camera", gradient_steps=300, batch_size=64, frame_stride=6), (1, 2, 4, 8, 16, 32), seeds=2
)
"""The dashcam arm: about 130 frames per road at every 6th step, 300 minibatches of 64 per model."""


@dataclass(frozen=True)
class OverfittingConfig:
    """The grid: observation arms x numbers of training roads x seeds, in the shared ``setup``."""

    arms: tuple[ObservationArm, ...] = (
        ObservationArm(ArmTraining("features", gradient_steps=2000, batch_size=256), (1, 2, 4, 8, 16, 32, 64), seeds=3),
        ObservationArm(ArmTraining("image", gradient_steps=500, batch_size=64), (1, 2, 4, 8, 16, 32, 64), seeds=3),
    )
    first_seed: int = 0
    """Seeds are ``first_seed, first_seed + 1, ...``."""
    setup: OverfittingSetup = field(default_factory=OverfittingSetup)
    """What every run shares."""
    camera_arm: ObservationArm = CAMERA_ARM
    """The arm that runs only when asked for (``--observation camera``): the slowest by far."""

    def __post_init__(self):
        check_grid(self)
        if not self.arms:
            raise ValueError("arms must name at least one observation arm")

    @classmethod
    def quick(cls) -> OverfittingConfig:
        return cls(
            arms=(
                ObservationArm(ArmTraining("features", gradient_steps=60, batch_size=64), (1, 2, 4), seeds=2),
                ObservationArm(ArmTraining("image", gradient_steps=8, batch_size=32), (1, 2), seeds=1),
            ),
            setup=OverfittingSetup(test_roads=2, unseen_roads=2, max_train_roads_driven=2),
            camera_arm=ObservationArm(
                ArmTraining("camera", gradient_steps=4, batch_size=16, frame_stride=20), (1, 2), seeds=1
            ),
        )

    def with_seeds(
        self, seeds: int | None = None, first_seed: int | None = None, observations: tuple[str, ...] | None = None
    ) -> OverfittingConfig:
        if observations is None:
            arms = self.arms
        else:
            extra = tuple(a for a in (self.camera_arm,) if a.observation not in {b.observation for b in self.arms})
            arms = tuple(a for a in (*self.arms, *extra) if a.observation in observations)
        if not arms:
            have = [a.observation for a in (*self.arms, self.camera_arm)]
            raise ValueError(f"no arm for observations {observations}; have {have}")
        if seeds is not None:
            arms = tuple(replace(a, seeds=seeds) for a in arms)
        return replace(self, arms=arms, first_seed=self.first_seed if first_seed is None else first_seed)


@dataclass(frozen=True)
class OverfittingRun:
    """One model: ``train_roads`` roads, one seed, trained as its arm's models train."""

    train_roads: int
    seed: int
    training: ArmTraining
    setup: OverfittingSetup

    @property
    def observation(self) -> str:
        return self.training.observation

    @property
    def cost(self) -> float:
        """Rough relative run time, to start the long runs first."""
        per_sample = {"image": 40.0, "camera": 400.0}.get(self.observation, 1.0)
        return per_sample * (self.training.gradient_steps * self.training.batch_size + 3000 * self.train_roads)

    @property
    def name(self) -> str:
        return f"{self.observation}-roads{self.train_roads}-seed{self.seed}"


def grid(config: OverfittingConfig) -> list[OverfittingRun]:
    return [
        OverfittingRun(n, config.first_seed + k, arm.training, config.setup)
        for arm in config.arms
        for n in arm.road_counts
        for k in range(arm.seeds)
    ]


def training_roads(count: int, seed: int, families=DEFAULT_FAMILIES) -> list:
    """The nested road set of seed ``seed``: its first ``count`` roads."""
    from envs import generate_road

    families = tuple(families)
    first = ROADS_PER_SEED * seed
    return [generate_road("train", families[(seed + i) % len(families)], first + i) for i in range(count)]


def run(spec: OverfittingRun) -> dict:
    """Collect on the spec's roads, train, measure losses and drive train and unseen roads."""
    from agents.data import CollectConfig, collect, collect_world
    from agents.drivers import PolicyDriver
    from agents.evaluation import aggregate, drive, env_config_for
    from agents.training import TrainConfig, evaluate_loss, to_tensors, train
    from envs.generation import split_roads

    setup, training = spec.setup, spec.training
    roads = training_roads(spec.train_roads, spec.seed, setup.families)
    stride = training.frame_stride
    data = collect(
        CollectConfig(
            num_roads=len(roads), seed=spec.seed, env=collect_world(observation=spec.observation), frame_stride=stride
        ),
        roads=roads,
    )
    test_world = collect_world(split="unseen", families=setup.families, observation=spec.observation)
    test_data = collect(
        CollectConfig(num_roads=setup.test_roads, seed=TEST_DATA_SEED, env=test_world, frame_stride=stride)
    )
    batches_per_epoch = math.ceil(len(data) / training.batch_size)
    epochs = max(1, round(training.gradient_steps / batches_per_epoch))
    config = TrainConfig(epochs=epochs, batch_size=training.batch_size, seed=spec.seed, print_every=0)
    if spec.observation == "camera":  # the camera demo's PilotNet-style head and step size
        from sims.demo_config import DemoConfig

        demo = DemoConfig.camera().train
        config = replace(config, learning_rate=demo.learning_rate, net=demo.net)
    policy, _ = train(data, None, config)

    train_loss = evaluate_loss(policy.net, *to_tensors(data))
    test_loss = evaluate_loss(policy.net, *to_tensors(test_data))
    env_config = env_config_for(spec.observation)
    driven = roads[: setup.max_train_roads_driven]
    unseen = split_roads("unseen", setup.unseen_roads, setup.families)
    on_train = aggregate([t.metrics() for t in drive(PolicyDriver(policy), driven, env_config)])
    on_unseen = aggregate([t.metrics() for t in drive(PolicyDriver(policy), unseen, env_config)])
    row = {
        "observation": spec.observation,
        "train_roads": spec.train_roads,
        "seed": spec.seed,
        "dataset_roads": len(data.road_names),
        "dataset_samples": len(data),
        "model_train_roads": policy.metadata["train_data"]["roads"],
        "epochs": epochs,
        "batch_size": training.batch_size,
        "frame_stride": stride,
        "gradient_steps": epochs * batches_per_epoch,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "train_completion": on_train["completion_rate"],
        "unseen_completion": on_unseen["completion_rate"],
        "train_off_road": on_train["off_road_rate"],
        "unseen_off_road": on_unseen["off_road_rate"],
        "train_mean_abs_cte": on_train["mean_abs_cte"],
        "unseen_mean_abs_cte": on_unseen["mean_abs_cte"],
        "train_roads_driven": on_train["episodes"],
        "unseen_roads_driven": on_unseen["episodes"],
    }
    details = {
        "run": spec.name,
        "dataset": {k: v for k, v in data.metadata.items() if k != "env"},
        "test_dataset": {k: v for k, v in test_data.metadata.items() if k != "env"},
        "model_train_data": policy.metadata["train_data"],
        "train_roads_driven": [r.name for r in driven],
        "unseen_roads_driven": [r.name for r in unseen],
    }
    return {"row": row, "details": details}


def describe(spec: OverfittingRun) -> str:
    return f"{spec.observation:<8} {spec.train_roads:>3} roads, seed {spec.seed}"


def run_experiment(
    out: Path, config: OverfittingConfig, backend: Backend = Backend(), log=print, resume: bool = False
) -> list[dict]:
    """Run the grid; write ``results.csv``, ``runs/*.json``, ``overfitting.png`` and ``summary.md``."""
    import json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = grid(config)
    log(f"overfitting: {len(specs)} runs on {backend.describe()}")
    results = run_grid(run, specs, backend, describe, log, store=out / ".runs" / "grid", resume=resume)
    rows = [r["row"] for r in results]
    write_csv(out / "results.csv", rows)
    for spec, result in zip(specs, results):
        write_text(out / "runs" / f"{spec.name}.json", json.dumps(result["details"], indent=1))
    plot(rows, out / "overfitting.png")
    table = format_table(rows)
    write_text(out / "summary.md", summary(rows, config, table))
    log(table)
    log(f"wrote {out}/results.csv, runs/, overfitting.png, summary.md")
    return rows


# ------------------------------------------------------------------ reporting
def _by_count(rows: list[dict], observation: str, key: str) -> tuple[list[int], list[list[float]]]:
    counts = sorted({r["train_roads"] for r in rows if r["observation"] == observation})
    values = [
        [float(r[key]) for r in rows if r["observation"] == observation and r["train_roads"] == n] for n in counts
    ]
    return counts, values


def _mean(rows, observation, n, key) -> float:
    return mean_and_spread([float(r[key]) for r in rows if r["observation"] == observation and r["train_roads"] == n])[
        0
    ]


def format_table(rows: list[dict]) -> str:
    """Means over seeds, one line per observation and number of training roads."""
    heads = [
        "obs",
        "roads",
        "seeds",
        "epochs",
        "train loss",
        "test loss",
        "test/train",
        "compl train",
        "compl unseen",
        "|cte| train",
        "|cte| unseen",
    ]
    widths = [9, 6, 6, 7, 11, 11, 11, 12, 13, 12, 13]
    lines = ["".join(f"{h:>{w}}" if i else f"{h:<{w}}" for i, (h, w) in enumerate(zip(heads, widths)))]
    for observation in dict.fromkeys(r["observation"] for r in rows):
        counts, _ = _by_count(rows, observation, "train_loss")
        for n in counts:
            m = {
                k: _mean(rows, observation, n, k)
                for k in (
                    "train_loss",
                    "test_loss",
                    "train_completion",
                    "unseen_completion",
                    "train_mean_abs_cte",
                    "unseen_mean_abs_cte",
                )
            }
            seeds = sum(1 for r in rows if r["observation"] == observation and r["train_roads"] == n)
            epochs = _mean(rows, observation, n, "epochs")
            vals = [
                observation,
                str(n),
                str(seeds),
                f"{epochs:.0f}",
                f"{m['train_loss']:.2e}",
                f"{m['test_loss']:.2e}",
                f"{m['test_loss'] / m['train_loss']:.1f}x",
                f"{100 * m['train_completion']:.0f}%",
                f"{100 * m['unseen_completion']:.0f}%",
                f"{m['train_mean_abs_cte']:.3f} m",
                f"{m['unseen_mean_abs_cte']:.3f} m",
            ]
            lines.append("".join(f"{v:>{w}}" if i else f"{v:<{w}}" for i, (v, w) in enumerate(zip(vals, widths))))
    return "\n".join(lines)


def plot(rows: list[dict], path) -> Path:
    """Per observation: train vs test loss, train vs unseen completion, train vs unseen mean |cte|,
    all against the number of training roads, with the spread over seeds."""
    plt = pyplot()
    observations = list(dict.fromkeys(r["observation"] for r in rows))
    fig, axes = plt.subplots(len(observations), 3, figsize=(14, 3.9 * len(observations)), squeeze=False)
    train_colour, unseen_colour = "#1f5fd6", "#e07b00"
    for row_axes, observation in zip(axes, observations):
        net = {"image": "CNN", "camera": "PilotNet CNN"}.get(observation, "MLP")
        panels = [
            ("train_loss", "test_loss", "loss (MSE of normalized steering)", "log", "Loss"),
            ("train_completion", "unseen_completion", "completion rate [%]", "linear", "Completion"),
            ("train_mean_abs_cte", "unseen_mean_abs_cte", "mean |cross-track error| [m]", "log", "Mean |cte|"),
        ]
        for ax, (train_key, unseen_key, ylabel, scale, title) in zip(row_axes, panels):
            scale_by = 100.0 if "completion" in train_key else 1.0
            for key, colour, label, marker, width in (
                (train_key, train_colour, "training roads", "o", 3.0),
                (unseen_key, unseen_colour, "unseen roads", "s", 1.5),
            ):
                counts, values = _by_count(rows, observation, key)
                plot_with_spread(
                    ax,
                    counts,
                    [[scale_by * v for v in vs] for vs in values],
                    colour,
                    label,
                    marker=marker,
                    linewidth=width,
                )
            ax.set_xscale("log", base=2)
            ax.set_xticks(counts, [str(n) for n in counts])
            ax.set_yscale(scale)
            if "completion" in train_key:
                ax.set_ylim(-5, 105)
            ax.set_xlabel("number of training roads")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{title}: {observation} observation ({net})")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)
    fig.suptitle(
        "Overfitting: train on few or many roads, test on the same unseen roads "
        "(line: mean over seeds; band: lowest to highest seed)",
        fontsize=11,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def _times(n: float) -> str:
    return "once" if round(n) == 1 else f"{n:.0f} times"


def _roads(n: int) -> str:
    return "1 road" if n == 1 else f"{n} roads"


def summary(rows: list[dict], config: OverfittingConfig, table: str) -> str:
    lines = ["# Overfitting: how many roads does the car need?", ""]
    for arm in config.arms:
        steps = [int(r["gradient_steps"]) for r in rows if r["observation"] == arm.observation]
        lines.append(
            f"- `{arm.observation}`: {len(arm.road_counts)} road counts x {arm.seeds} seeds; every model "
            f"trains for the whole number of epochs nearest to {arm.training.gradient_steps} gradient steps of "
            f"{arm.training.batch_size} samples (at least one epoch): {min(steps)} to {max(steps)} steps"
            + (f"; every {arm.training.frame_stride}th frame of each drive." if arm.training.frame_stride > 1 else ".")
        )
    lines += [
        f"- Test loss: the expert's (DART) driving of {config.setup.test_roads} unseen roads; closed loop on "
        f"{config.setup.unseen_roads} unseen roads and on up to {config.setup.max_train_roads_driven} of each model's "
        "training roads. Every model is tested on the same unseen roads.",
        "",
        "Means over seeds (`results.csv` has one row per model; `runs/*.json` the roads each model trained on):",
        "",
        "```",
        table,
        "```",
        "",
    ]
    for observation in dict.fromkeys(r["observation"] for r in rows):
        counts, _ = _by_count(rows, observation, "train_loss")
        lo, hi = counts[0], counts[-1]
        m = {
            (n, k): _mean(rows, observation, n, k)
            for n in (lo, hi)
            for k in (
                "train_loss",
                "test_loss",
                "train_mean_abs_cte",
                "unseen_mean_abs_cte",
                "epochs",
                "gradient_steps",
                "train_completion",
                "unseen_completion",
            )
        }
        ratio = m[lo, "test_loss"] / m[lo, "train_loss"]
        lines.append(
            f"- `{observation}`: trained on {_roads(lo)}, the test loss is {ratio:.1f}x the train loss and the "
            f"mean |cte| {m[lo, 'train_mean_abs_cte']:.3f} m on the training road{'s' if lo > 1 else ''} against "
            f"{m[lo, 'unseen_mean_abs_cte']:.3f} m on unseen roads (completion {100 * m[lo, 'train_completion']:.0f}% "
            f"and {100 * m[lo, 'unseen_completion']:.0f}%). Trained on {_roads(hi)}: "
            f"{m[hi, 'test_loss'] / m[hi, 'train_loss']:.1f}x, {m[hi, 'train_mean_abs_cte']:.3f} m against "
            f"{m[hi, 'unseen_mean_abs_cte']:.3f} m (completion {100 * m[hi, 'train_completion']:.0f}% and "
            f"{100 * m[hi, 'unseen_completion']:.0f}%). The {lo}-road models went over their data "
            f"{_times(m[lo, 'epochs'])} in {m[lo, 'gradient_steps']:.0f} gradient steps, the {hi}-road ones "
            f"{_times(m[hi, 'epochs'])} in {m[hi, 'gradient_steps']:.0f}."
        )
    return "\n".join(lines) + "\n"
