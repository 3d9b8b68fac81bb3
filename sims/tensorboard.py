"""TensorBoard scalars with namespaced tags, as CleanRL writes them.

``roadschool train|demo|experiment ... --tensorboard DIR`` write an event file under ``DIR``:

* ``losses/train``, ``losses/test``: the epoch's mean training loss and the test loss, at step = epoch;
* ``charts/learning_rate``, ``charts/seconds`` (wall time since training began) and
  ``charts/samples_per_second``, at step = epoch;
* ``eval/<split>/<metric>`` (``completion_rate``, ``off_road_rate``, ``mean_abs_cte``, ``max_abs_cte``,
  ``mean_speed``) after a closed-loop evaluation, for the learner, and ``eval_expert/<split>/<metric>``
  for the expert on the same roads;
* experiments: one run folder per run of the grid, its CSV columns as ``results/<column>`` and, where
  the experiment records them, its per-epoch ``losses/train`` and ``losses/test``.

Watch them with ``tensorboard --logdir DIR``. Needs the ``tensorboard`` extra:
``pip install -c constraints.txt -e '.[tensorboard]'``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

EVAL_METRICS = ("completion_rate", "off_road_rate", "mean_abs_cte", "max_abs_cte", "mean_speed")
INSTALL_HINT = "--tensorboard needs TensorBoard: pip install -c constraints.txt -e '.[tensorboard]'"


def require_tensorboard():
    """``torch.utils.tensorboard.SummaryWriter``, or a ValueError saying how to install TensorBoard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError(INSTALL_HINT) from None
    return SummaryWriter


class ScalarLog:
    """A TensorBoard event file under ``logdir`` (created if missing)."""

    def __init__(self, logdir):
        SummaryWriter = require_tensorboard()
        self.logdir = Path(logdir)
        if self.logdir.exists() and not self.logdir.is_dir():
            raise ValueError(f"{self.logdir}: not a folder (--tensorboard takes a folder for event files)")
        self.writer = SummaryWriter(log_dir=str(self.logdir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        value = float(value)
        if math.isfinite(value):  # a test loss without test data is NaN: no point, rather than a gap
            self.writer.add_scalar(tag, value, step)

    def text(self, tag: str, text: str) -> None:
        self.writer.add_text(tag, text)

    def epoch(self, history, learning_rate: float, samples: int) -> None:
        """The last epoch of ``history`` (``agents.training.History``); ``samples``: training samples per epoch."""
        step = history.epoch[-1]
        self.scalar("losses/train", history.train_loss[-1], step)
        self.scalar("losses/test", history.test_loss[-1], step)
        self.scalar("charts/learning_rate", learning_rate, step)
        seconds = history.seconds[-1]
        self.scalar("charts/seconds", seconds, step)
        previous = history.seconds[-2] if len(history.seconds) > 1 else 0.0
        if seconds > previous:
            self.scalar("charts/samples_per_second", samples / (seconds - previous), step)
        self.writer.flush()

    def on_epoch(self, samples: int):
        """A callback for ``agents.training.train(on_epoch=...)``."""
        return lambda history, learning_rate: self.epoch(history, learning_rate, samples)

    def evaluation(self, split: str, metrics: dict, step: int, who: str = "eval") -> None:
        """Closed-loop metrics (``agents.evaluation.aggregate``) as ``<who>/<split>/<metric>``."""
        for key in EVAL_METRICS:
            if key in metrics:
                self.scalar(f"{who}/{split}/{key}", metrics[key], step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> ScalarLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_folder_name(text: str) -> str:
    """A run label as a folder name TensorBoard lists (``batch 64 seed 0`` -> ``batch_64_seed_0``)."""
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", text).strip("_") or "run"


def log_experiment(logdir, experiment_out, id_columns: tuple[str, ...], step_column: str | None = None) -> int:
    """Write an experiment's results to TensorBoard, one run folder per CSV row.

    ``experiment_out`` is the experiment's output folder (its ``results.csv`` and, if there,
    ``curves.csv`` with per-epoch ``train_loss`` / ``test_loss``); ``id_columns`` name the
    columns that identify a run (they make its folder name); rows of one run are points of its
    curves at step ``row[step_column]`` (default: one row per run, at step 0). Returns the number
    of run folders written.
    """
    from sims.experiments.grid import read_csv

    experiment_out = Path(experiment_out)
    rows = read_csv(experiment_out / "results.csv")
    curves_path = experiment_out / "curves.csv"
    curves = read_csv(curves_path) if curves_path.exists() else []
    runs: dict[str, list[dict]] = {}
    for row in rows:
        runs.setdefault(run_folder_name("_".join(f"{c}={row[c]}" for c in id_columns if c in row)), []).append(row)
    for name, run_rows in runs.items():
        with ScalarLog(Path(logdir) / name) as log:
            for row in run_rows:
                step = int(row[step_column]) if step_column else 0
                for key, value in row.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and key != step_column:
                        log.scalar(f"results/{key}", value, step)
            first = run_rows[0]
            for curve in curves:
                if all(curve.get(c) == first.get(c) for c in id_columns if c in curve):
                    log.scalar("losses/train", curve["train_loss"], int(curve["epoch"]))
                    log.scalar("losses/test", curve["test_loss"], int(curve["epoch"]))
    return len(runs)
