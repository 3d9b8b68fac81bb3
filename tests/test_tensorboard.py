"""``--tensorboard DIR`` writes namespaced scalars that TensorBoard reads back."""

import json
from pathlib import Path

import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from agents.model import load_checkpoint  # noqa: E402
from sims.cli import main  # noqa: E402


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files in ``folder``: ``{tag: [(step, value), ...]}``."""
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_train_writes_the_losses_of_every_epoch(tmp_path):
    assert main(["collect", "--out", str(tmp_path / "train.npz"), "--roads", "3", "--no-progress"]) == 0
    assert (
        main(["collect", "--out", str(tmp_path / "test.npz"), "--roads", "2", "--split", "unseen", "--no-progress"])
        == 0
    )
    assert (
        main(
            [
                "train",
                "--data",
                str(tmp_path / "train.npz"),
                "--test-data",
                str(tmp_path / "test.npz"),
                "--out",
                str(tmp_path / "m.pt"),
                "--epochs",
                "3",
                "--hidden",
                "16",
                "--print-every",
                "0",
                "--tensorboard",
                str(tmp_path / "tb"),
            ]
        )
        == 0
    )
    logged = scalars(tmp_path / "tb")
    assert {
        "losses/train",
        "losses/test",
        "charts/learning_rate",
        "charts/seconds",
        "charts/samples_per_second",
    } <= set(logged)
    history = load_checkpoint(tmp_path / "m.pt")["history"]
    assert [s for s, _ in logged["losses/train"]] == [1, 2, 3]
    assert [v for _, v in logged["losses/train"]] == pytest.approx(history["train_loss"], rel=1e-6)
    assert [v for _, v in logged["losses/test"]] == pytest.approx(history["test_loss"], rel=1e-6)
    lrs = [v for _, v in logged["charts/learning_rate"]]
    assert lrs[0] == pytest.approx(2e-3) and lrs[0] > lrs[1] > lrs[2]  # the cosine schedule


@pytest.mark.slow
def test_demo_writes_losses_and_closed_loop_metrics(tmp_path):
    assert (
        main(
            ["demo", "--quick", "--out", str(tmp_path / "run"), "--no-progress", "--tensorboard", str(tmp_path / "tb")]
        )
        == 0
    )
    logged = scalars(tmp_path / "tb")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    epochs = metrics["config"]["train"]["epochs"]
    assert len(logged["losses/train"]) == epochs
    for split in ("train", "unseen"):
        for key in ("completion_rate", "mean_abs_cte", "off_road_rate"):
            ((step, value),) = logged[f"eval/{split}/{key}"]
            assert step == epochs and value == pytest.approx(metrics[split][key], rel=1e-6)
            ((_, expert),) = logged[f"eval_expert/{split}/{key}"]
            assert expert == pytest.approx(metrics["expert"][split][key], rel=1e-6)


def test_experiment_writes_one_run_folder_per_row(tmp_path):
    assert (
        main(
            [
                "experiment",
                "batching",
                "--quick",
                "--workers",
                "1",
                "--out",
                str(tmp_path / "b"),
                "--tensorboard",
                str(tmp_path / "tb"),
            ]
        )
        == 0
    )
    from sims.experiments.grid import read_csv

    rows = read_csv(tmp_path / "b" / "results.csv")
    folders = sorted(p.name for p in (tmp_path / "tb").iterdir())
    assert len(folders) == len(rows)
    for row in rows:
        logged = scalars(tmp_path / "tb" / f"batch_size={row['batch_size']}_seed={row['seed']}")
        ((_, completion),) = logged["results/unseen_completion"]
        assert completion == pytest.approx(row["unseen_completion"])
        assert [s for s, _ in logged["losses/test"]] == list(range(1, row["epochs"] + 1))
        assert logged["losses/test"][-1][1] == pytest.approx(row["final_test_loss"], rel=1e-6)


def test_a_missing_tensorboard_is_one_clear_error(tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    code = main(["experiment", "batching", "--quick", "--out", str(tmp_path / "b"), "--tensorboard", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "pip install" in err and "tensorboard" in err
    assert not (tmp_path / "b").exists()  # refused before any run
