"""Pictures of a run: losses, train vs unseen metrics, and the drift along a road."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from agents.trajectory import Trajectory  # noqa: E402
from envs.atomic import atomic_path  # noqa: E402
from envs.rendering import SURFACE_COLOURS  # noqa: E402
from envs.road import Road  # noqa: E402

LEARNER_COLOUR = "#1f5fd6"
EXPERT_COLOUR = "#e07b00"


def format_table(metrics: dict) -> str:
    """A readable table: one row per (driver, split), one column per metric."""
    heads = ["completion", "off-road", "mean|cte| m", "max|cte| m", "speed m/s", "episodes"]
    lines = [f"{'driver':<10}{'roads':<9}" + "".join(f"{h:>13}" for h in heads)]
    for driver, by_split in metrics.items():
        for split, m in by_split.items():
            vals = [
                f"{100 * m['completion_rate']:.1f}%",
                f"{100 * m['off_road_rate']:.1f}%",
                f"{m['mean_abs_cte']:.4f}",
                f"{m['max_abs_cte']:.3f}",
                f"{m['mean_speed']:.2f}",
                f"{m['episodes']}",
            ]
            lines.append(f"{driver:<10}{split:<9}" + "".join(f"{v:>13}" for v in vals))
    return "\n".join(lines)


def write_report(
    path,
    history: dict,
    metrics: dict,
    road: Road,
    learner: Trajectory,
    expert: Trajectory,
    title: str = "roadschool run",
    camera_frames: np.ndarray | None = None,
) -> Path:
    """``report.png``: loss curves; train vs unseen metrics; cte along an unseen road; the drive on the
    map; with ``camera_frames`` (``[T, H, W, 3]``, the learner's dashcam on that road) a row of them."""
    if camera_frames is None:
        fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    else:
        fig = plt.figure(figsize=(13, 12.5))
        grid = fig.add_gridspec(3, 5, height_ratios=[1, 1, 0.42])
        axes = np.array(
            [
                [fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2:])],
                [fig.add_subplot(grid[1, :2]), fig.add_subplot(grid[1, 2:])],
            ]
        )
        picks = np.linspace(0, len(camera_frames) - 1, 5).round().astype(int)
        for k, t in enumerate(picks):
            ax = fig.add_subplot(grid[2, k])
            ax.imshow(camera_frames[t], interpolation="nearest")
            ax.set_title(f"dashcam, step {t} (cte {learner.cte[min(t, len(learner.cte) - 1)]:+.2f} m)", fontsize=8)
            ax.axis("off")
    fig.suptitle(title, fontsize=13)

    ax = axes[0, 0]
    ax.plot(history["epoch"], history["train_loss"], label="train loss (train roads)", color=LEARNER_COLOUR)
    if np.isfinite(history["test_loss"]).any():
        ax.plot(history["epoch"], history["test_loss"], label="test loss (unseen roads)", color=EXPERT_COLOUR)
    by_action = history.get("test_loss_by_action") or []
    throttle = bool(by_action) and len(by_action[0]) > 1
    if throttle and np.isfinite(np.asarray(by_action, dtype=float)).any():  # each output's share of the test loss
        parts = np.asarray(by_action, dtype=float)
        ax.plot(history["epoch"], parts[:, 0], ":", color=EXPERT_COLOUR, label="  of it: steering")
        ax.plot(history["epoch"], parts[:, 1], "--", color=EXPERT_COLOUR, label="  of it: throttle/brake")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    what = "steering and throttle" if throttle else "steering"
    ax.set_ylabel(f"MSE of normalized {what}")
    ax.set_title(f"Training: distance from the expert's {what}")
    ax.grid(alpha=0.3, which="both")
    ax.legend()

    ax = axes[0, 1]
    names = ["completion %", "off-road %", "mean |cte| cm", "max |cte| cm"]
    groups = [("learner", "train"), ("learner", "unseen"), ("expert", "train"), ("expert", "unseen")]
    colours = [LEARNER_COLOUR, "#8fb2f0", EXPERT_COLOUR, "#f3c080"]
    width = 0.2
    x = np.arange(len(names))
    for k, ((who, split), colour) in enumerate(zip(groups, colours)):
        m = metrics[who][split] if who == "expert" else metrics[split]
        vals = [100 * m["completion_rate"], 100 * m["off_road_rate"], 100 * m["mean_abs_cte"], 100 * m["max_abs_cte"]]
        bars = ax.bar(x + (k - 1.5) * width, vals, width, label=f"{who} / {split} roads", color=colour)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(x, names)
    ax.set_title(
        f"Closed loop on train vs unseen roads ({metrics['train']['episodes']} + {metrics['unseen']['episodes']} roads)"
    )
    ax.legend(fontsize=8, loc="upper center")
    ax.margins(y=0.15)
    ax.grid(alpha=0.3, axis="y")

    ax = axes[1, 0]
    ax.plot(learner.progress_m, learner.cte, color=LEARNER_COLOUR, label="learner", lw=1.2)
    ax.plot(expert.progress_m, expert.cte, color=EXPERT_COLOUR, label="expert", lw=1.0, alpha=0.9)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("distance along the road [m]")
    ax.set_ylabel("cross-track error [m] (left +)")
    ax.set_title(f"Drift along unseen road {road.name}")
    ax.grid(alpha=0.3)
    ax.legend()

    ax = axes[1, 1]
    left, right = road.edges()
    ax.fill(np.r_[left[:, 0], right[::-1, 0]], np.r_[left[:, 1], right[::-1, 1]], color="#bbbbbb", lw=0)
    s = road.arc_lengths
    for surface in dict.fromkeys(name for _, _, name in road.surfaces):  # slippery sections, one label each
        first = True
        for start, end, name in road.surfaces:
            if name != surface:
                continue
            k = np.flatnonzero((s >= start) & (s <= end))
            if len(k) < 2:
                continue
            ax.fill(
                np.r_[left[k, 0], right[k[::-1], 0]],
                np.r_[left[k, 1], right[k[::-1], 1]],
                lw=0,
                color=np.array(SURFACE_COLOURS[surface]) / 255,
                label=f"{surface} surface" if first else None,
            )
            first = False
    ax.plot(road.points[:, 0], road.points[:, 1], "--", color="#b59b00", lw=0.8, label="ideal path")
    sc = ax.scatter(
        learner.xy[:, 0],
        learner.xy[:, 1],
        c=np.abs(learner.cte),
        s=3,
        cmap="RdYlGn_r",
        vmin=0,
        vmax=max(0.05, float(np.abs(learner.cte).max())),
        label="learner trail",
    )
    if learner.sliding.any():
        ax.scatter(
            learner.xy[learner.sliding, 0],
            learner.xy[learner.sliding, 1],
            s=14,
            marker="x",
            color="k",
            lw=0.8,
            label="tyres sliding",
        )
    fig.colorbar(sc, ax=ax, label="|cte| [m]", shrink=0.8)
    ax.plot(*road.points[0], "ko", ms=4)
    ax.set_aspect("equal")
    ax.set_title("The learner's drive (start: black dot)")
    ax.legend(fontsize=8, loc="best")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")

    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return path
