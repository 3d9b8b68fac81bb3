"""The road-change experiment's results as a table, a figure and ``summary.md``
(:mod:`sims.experiments.road_change` runs the grid)."""

from __future__ import annotations

from pathlib import Path

from envs import DEFAULT_FAMILIES, RoadFollowConfig
from envs.generation import get_family
from sims.experiments.figures import plot_with_spread, pyplot, save_figure
from sims.experiments.grid import mean_and_spread

METHODS = ("bc", "dart", "dagger")
"""The methods of the ``features`` and ``rays`` grids."""
CAMERA_METHODS = ("bc", "dart", "side", "dagger")
"""The methods of the ``camera`` grid: ``side`` adds the Udacity trick of side cameras."""
ALL_METHODS = ("bc", "dart", "side", "dagger")
METHOD_LABELS = {
    "bc": "plain BC",
    "dart": "DART (noise-injected data)",
    "side": "side cameras",
    "dagger": "DAgger",
    "expert": "expert",
}
METHOD_COLOURS = {"bc": "#d7301f", "dart": "#1f5fd6", "side": "#8e44ad", "dagger": "#1a9850", "expert": "#555555"}
METHOD_STYLES = {
    "bc": ("o", "-", 3.2),
    "dart": ("^", "-", 2.2),
    "side": ("D", "-", 1.8),
    "dagger": ("v", "-", 1.3),
    "expert": ("s", "--", 1.3),
}
"""Marker, line style and width: the lines drawn first are wider, so lines that coincide stay visible."""


# ------------------------------------------------------------------ reporting
def _drivers(rows) -> list[str]:
    present = set(r["method"] for r in rows)
    return [m for m in (*ALL_METHODS, "expert") if m in present]


def _values(rows, method, change, strength, key) -> list[float]:
    return [
        float(r[key])
        for r in rows
        if r["method"] == method and r["change"] == change and abs(float(r["strength"]) - strength) < 1e-12
    ]


def format_table(rows: list[dict], changes) -> str:
    """Completion and mean |cte| (means over seeds), one line per change and strength."""
    drivers = _drivers(rows)
    lines = [
        f"{'change':<15}{'strength':>12}" + "".join(f"{m:>20}" for m in drivers),
        f"{'':<15}{'':>12}" + "".join(f"{'completion |cte| m':>20}" for _ in drivers),
    ]
    for change in changes:
        for s in change.strengths:
            cells = []
            for m in drivers:
                comp = mean_and_spread(_values(rows, m, change.name, s, "completion_rate"))[0]
                cte = mean_and_spread(_values(rows, m, change.name, s, "mean_abs_cte"))[0]
                cells.append(f"{100 * comp:>11.0f}% {cte:>6.3f}")
            lines.append(f"{change.name:<15}{strength_text(change, s):>12}" + "".join(f"{c:>20}" for c in cells))
    return "\n".join(lines)


def strength_text(change, strength: float) -> str:
    """``strength`` as the table shows it: its label (a look's name) or the number and unit."""
    if change.tick_labels:
        return change.tick_labels[round(strength)]
    return f"{strength:>8.3g} {change.unit:<3}"


NOTES = {
    (
        "features",
        "width",
    ): "the features do not include the\nroad's width: the drive is the same,\nonly the margin shrinks",
    (
        "features",
        "speed",
    ): "every training sample was at\nexactly 10 m/s: the net has never\nseen its speed input change",
}
"""Notes drawn on a panel where the reason for the curves is not in the picture."""


def _axis_label(change) -> str:
    label = change.label.split(": ")[-1] + (f" [{change.unit}]" if change.unit else "")
    if change.harder_when_lower:
        label += " (narrower: right)" if change.name == "width" else " (lower: right)"
    return label


def _width_range(families) -> str:
    lo = min(get_family(f).width_range[0] for f in families)
    hi = max(get_family(f).width_range[1] for f in families)
    return f"{lo:g}-{hi:g} m"


def plot(rows: list[dict], changes, path, observation: str = "features", families=DEFAULT_FAMILIES) -> Path:
    """Completion (top) and mean |cte| (bottom) against the strength of each change."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(changes), figsize=(max(3.3 * len(changes) + 1, 10), 7.6), squeeze=False)
    for col, change in enumerate(changes):
        x = list(change.strengths)
        for method in _drivers(rows):
            marker, linestyle, width = METHOD_STYLES[method]
            for row_index, key, scale in ((0, "completion_rate", 100.0), (1, "mean_abs_cte", 1.0)):
                values = [[scale * v for v in _values(rows, method, change.name, s, key)] for s in x]
                plot_with_spread(
                    axes[row_index, col],
                    x,
                    values,
                    METHOD_COLOURS[method],
                    METHOD_LABELS[method],
                    marker=marker,
                    linestyle=linestyle,
                    linewidth=width,
                )
        top, bottom = axes[0, col], axes[1, col]
        top.set_title(f"{change.label}", fontsize=10)
        top.set_ylim(-5, 105)
        bottom.set_yscale("log")
        for ax in (top, bottom):
            ax.grid(alpha=0.3, which="both")
            if change.harder_when_lower:
                ax.invert_xaxis()
            ax.set_xlabel(_axis_label(change))
        if change.name == "curvature":
            for ax in (top, bottom):
                ax.set_xticks(x, [f"1/{1 / s:.3g}" for s in x], fontsize=8)
        if change.tick_labels:
            for ax in (top, bottom):
                ax.set_xticks(x, [strength_text(change, s) for s in x], fontsize=8)
        note = NOTES.get((observation, change.name))
        if note:
            top.text(
                0.5,
                0.5,
                note,
                transform=top.transAxes,
                ha="center",
                va="center",
                fontsize=8,
                bbox=dict(boxstyle="round", facecolor="white", edgecolor="#999999", alpha=0.9),
            )
        if col == 0:
            top.set_ylabel("completion rate [%]")
            bottom.set_ylabel("mean |cross-track error| [m]")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    roads = int(rows[0]["roads"])
    width_note = (
        f"; width: the training roads are {_width_range(families)} wide"
        if any(c.name == "width" for c in changes)
        else ""
    )
    fig.suptitle(
        f"Road change: trained on ordinary roads, driven on {roads} unseen changed roads per point\n"
        f"leftmost point: as in training{width_note}; line: mean over seeds; band: lowest to highest seed",
        fontsize=10.5,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save_figure(fig, path)


def _off_road_margin() -> float:
    return RoadFollowConfig().off_road_margin


def _camera_notes(config) -> list[str]:
    """How the camera grid's data differs from the features grid's (none for other observations)."""
    setup = config.setup
    if setup.observation != "camera":
        return []
    notes = [
        f"- Camera data: every {setup.frame_stride}th step of each drive is recorded (uint8 frames), in the "
        "daylight look (`day`) with no appearance randomization and no augmentation: every changed look is new "
        "to every learner."
    ]
    if "side" in config.methods:
        notes.append(
            f"- Side cameras: the expert drives cleanly as for plain BC, and frames from cameras "
            f"{setup.side_cameras:g} m left and right of the car are added, labelled with the expert's steering "
            "from there (`PathExpert.shift_correction`)."
        )
    return notes


def summary(rows: list[dict], training_rows: list[dict], config, table: str) -> str:
    """``summary.md`` of the grid ``config`` (a :class:`RoadChangeConfig`)."""
    setup = config.setup
    samples = {
        m: mean_and_spread([float(t["train_samples"]) for t in training_rows if t["method"] == m])[0]
        for m in config.methods
    }
    lines = [
        "# Road change: behaviour cloning, DART"
        + (", side cameras" if "side" in config.methods else "")
        + " and DAgger in a changed world",
        "",
        f"- Training: the first {setup.train_roads} train roads ({'+'.join(setup.families)}) at 10 m/s, "
        f"{setup.epochs} epochs, `{setup.observation}` observation, {config.seeds} seed(s) per method. "
        + "; ".join(f"{METHOD_LABELS[m]}: {samples[m]:.0f} training samples" for m in config.methods)
        + (
            f" (DAgger: {setup.dagger_rounds} rounds of learner-driven, expert-labelled data on top of plain BC's)."
            if "dagger" in config.methods
            else "."
        ),
        *_camera_notes(config),
        f"- Evaluation: {setup.eval_roads} unseen roads per change and strength, the same roads and evaluation "
        "seed for every driver; the expert is shown for reference.",
        "",
        "Completion and mean |cte| in metres (means over seeds; `results.csv` has one row per driver, seed, change "
        "and strength; `training.csv` one row per trained policy; `models/` the trained checkpoints):",
        "",
        "```",
        table,
        "```",
        "",
    ]
    drivers = [m for m in _drivers(rows) if m != "expert"]
    for change in config.changes:
        hardest = change.strengths[-1]
        parts = []
        for m in drivers:
            comp = mean_and_spread(_values(rows, m, change.name, hardest, "completion_rate"))[0]
            cte = mean_and_spread(_values(rows, m, change.name, hardest, "mean_abs_cte"))[0]
            parts.append(f"{METHOD_LABELS[m]} {100 * comp:.0f}% ({cte:.3f} m)")
        lines.append(f"- {change.label} at {strength_text(change, hardest).strip()}: " + ", ".join(parts) + ".")
    divisors = [float(t["speed_input_scale"]) for t in training_rows if "speed_input_scale" in t]
    if divisors and all(d == 1.0 for d in divisors) and any(c.name == "speed" for c in config.changes):
        lines += [
            "",
            "Why the learners drift at other speeds: the `features` include the car's speed, and in "
            "training it never changed (10 m/s in every sample). An input that never varied is only "
            "centred, so the speed input was 0 in every training sample and the weights that read it were "
            "never trained; at another speed it is no longer 0 (0.5 m/s more reaches the net as 0.5) and "
            "those untrained weights shift the steering.",
        ]
    if setup.observation == "features" and any(c.name == "width" for c in config.changes):
        lines += [
            "",
            "Why a narrower road changes nothing here: the `features` do not include the road's width, "
            "so the car drives exactly as before; the road only leaves less margin (the car is off the "
            f"road once |cte| exceeds half the width plus {_off_road_margin():g} m). "
            "Try `--observation rays`, whose sensors see the road's edges.",
        ]
    return "\n".join(lines) + "\n"
