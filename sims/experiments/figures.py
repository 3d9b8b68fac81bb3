"""Shared look of the experiment figures: small PNGs, mean lines with the spread over seeds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from envs.atomic import atomic_path
from sims.experiments.grid import mean_and_spread

FIGURE_DPI = 80
"""Resolution of the written PNGs [dots per inch]: small files that still read well."""


def pyplot():
    """matplotlib's pyplot on the Agg backend (imported only when a figure is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi: int = FIGURE_DPI) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    pyplot().close(fig)
    return Path(path)


def plot_with_spread(
    ax,
    x: Sequence[float],
    runs_by_x: Sequence[Sequence[float]],
    colour: str,
    label: str,
    marker: str = "o",
    linestyle: str = "-",
    linewidth: float = 1.6,
) -> None:
    """A line through the mean over seeds at each ``x``, a band from the lowest to the highest
    seed, and one faint dot per seed."""
    stats = [mean_and_spread(values) for values in runs_by_x]
    means = [s[0] for s in stats]
    ax.plot(x, means, marker=marker, linestyle=linestyle, color=colour, label=label, lw=linewidth, ms=4)
    if any(len(values) > 1 for values in runs_by_x):
        ax.fill_between(x, [s[1] for s in stats], [s[2] for s in stats], color=colour, alpha=0.18, lw=0)
        for xi, values in zip(x, runs_by_x):
            ax.plot([xi] * len(values), values, ".", color=colour, alpha=0.45, ms=3)


def copy_as_small_png(source, target, colours: int = 256) -> Path:
    """Copy a figure as a palette PNG of at most ``colours`` colours (a third of the size, for the docs)."""
    from PIL import Image

    with Image.open(source) as image, atomic_path(target) as tmp:
        image.convert("RGB").quantize(colors=colours, dither=Image.Dither.NONE).save(tmp, optimize=True)
    return Path(target)
