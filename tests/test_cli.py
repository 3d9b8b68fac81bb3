"""Every ``roadschool`` command end to end with a tiny budget, and bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envs import Road, save_roads
from sims.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sims.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    assert main(["collect", "--out", str(d / "train.npz"), "--roads", "4", "--no-progress"]) == 0
    assert main(["collect", "--out", str(d / "test.npz"), "--roads", "2", "--split", "unseen", "--no-progress"]) == 0
    code = main(
        [
            "train",
            "--data",
            str(d / "train.npz"),
            "--test-data",
            str(d / "test.npz"),
            "--out",
            str(d / "m.pt"),
            "--epochs",
            "2",
            "--hidden",
            "32",
            "--print-every",
            "1",
        ]
    )
    assert code == 0
    return d


def test_help_lists_the_commands():
    out = run_cli("--help")
    assert out.returncode == 0
    for name in ("demo", "collect", "train", "evaluate", "compare"):
        assert name in out.stdout


def test_collect_train_evaluate_compare(trained, capsys):
    d = trained
    assert (d / "m.pt").exists()
    assert (
        main(
            [
                "evaluate",
                "--policy",
                str(d / "m.pt"),
                "--split",
                "unseen",
                "--roads",
                "3",
                "--json",
                str(d / "eval.json"),
                "--no-progress",
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "completion" in table and "learner" in table
    result = json.loads((d / "eval.json").read_text())
    assert result["aggregate"]["episodes"] == 3
    assert set(result["aggregate"]) == {
        "completion_rate",
        "off_road_rate",
        "mean_abs_cte",
        "max_abs_cte",
        "mean_speed",
        "episodes",
        "lap_time",
        "peak_lateral_accel",
        "sliding_time",
    }
    assert len(result["roads"]) == 3
    assert (
        main(["compare", "--policy", str(d / "m.pt"), "--roads", "2", "--json", str(d / "cmp.json"), "--no-progress"])
        == 0
    )
    cmp = json.loads((d / "cmp.json").read_text())
    assert set(cmp) == {"learner", "expert"} and set(cmp["learner"]) == {"train", "unseen"}


def test_train_prints_epoch_lines(tmp_path, trained, capsys):
    assert (
        main(
            [
                "train",
                "--data",
                str(trained / "train.npz"),
                "--out",
                str(tmp_path / "m.pt"),
                "--epochs",
                "2",
                "--hidden",
                "8",
                "--print-every",
                "1",
                "--batch-size",
                "0",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Epoch: 1 | Train Loss:" in out and "Epoch: 2 | Train Loss:" in out


def test_train_with_dagger_aggregates_learner_data(tmp_path, trained, capsys):
    assert (
        main(
            [
                "train",
                "--data",
                str(trained / "train.npz"),
                "--out",
                str(tmp_path / "m.pt"),
                "--epochs",
                "1",
                "--hidden",
                "8",
                "--dagger",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "DAgger round 1/1" in out


def test_evaluate_expert_on_a_roads_file(tmp_path, capsys):
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    save_roads(
        tmp_path / "roads.json",
        [
            Road.from_points(np.column_stack([np.linspace(0, 150, 50), np.zeros(50)]), 7.0, name="straight"),
            Road.from_points(np.column_stack([40 * np.cos(t), 40 * np.sin(t)]), 7.0, closed=True, name="ring"),
        ],
    )
    assert (
        main(
            [
                "evaluate",
                "--policy",
                "expert",
                "--roads-file",
                str(tmp_path / "roads.json"),
                "--json",
                str(tmp_path / "e.json"),
                "--no-progress",
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "e.json").read_text())
    assert set(result["roads"]) == {"straight", "ring"}
    assert result["aggregate"]["completion_rate"] == 1.0


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "--data", "missing.npz", "--out", "x.pt"], "missing.npz: no such dataset"),
        (["evaluate", "--policy", "nope.pt"], "nope.pt: no such checkpoint"),
        (["evaluate", "--policy", "expert", "--roads-file", "none.json"], "none.json: no such roads file"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args, needle):
    out = run_cli(*args)
    assert out.returncode == 2
    assert needle in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_damaged_files_give_one_line_and_exit_2(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    (tmp_path / "bad.json").write_text('{"roads": [{"points": [[0, 0]], "width": 7}]}')
    for args, needle in [
        (["evaluate", "--policy", str(tmp_path / "bad.pt")], "bad.pt"),
        (["train", "--data", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "m.pt")], "bad.npz"),
        (["evaluate", "--policy", "expert", "--roads-file", str(tmp_path / "bad.json")], "at least two"),
    ]:
        out = run_cli(*args)
        assert out.returncode == 2, out.stderr
        assert needle in out.stderr and "Traceback" not in out.stderr


def test_mismatched_test_dataset_is_refused(tmp_path, trained):
    main(["collect", "--out", str(tmp_path / "rays.npz"), "--roads", "1", "--observation", "rays", "--no-progress"])
    out = run_cli(
        "train",
        "--data",
        str(trained / "train.npz"),
        "--test-data",
        str(tmp_path / "rays.npz"),
        "--out",
        str(tmp_path / "m.pt"),
    )
    assert out.returncode == 2 and "holds 'rays' observations" in out.stderr


def test_unknown_option_values_name_the_allowed_ones():
    out = run_cli("evaluate", "--policy", "expert", "--split", "test")
    assert out.returncode == 2 and "choose from" in out.stderr and "unseen" in out.stderr
    out = run_cli("collect", "--out", "x.npz", "--family", "bumpy")
    assert out.returncode == 2 and "hairpin" in out.stderr


@pytest.mark.slow
def test_demo_with_the_dynamic_car_learns_steering_and_throttle_on_slippery_roads(tmp_path):
    # one DAgger round, as the full dynamic demo runs: the expert labels the learner's speed too
    out = run_cli(
        "demo", "--car", "dynamic", "--quick", "--dagger-rounds", "1", "--out", str(tmp_path / "run"), "--no-progress"
    )
    assert out.returncode == 0, out.stderr
    assert "throttle" in out.stdout and "unseen mean speed: learner/expert" in out.stdout
    assert "DAgger round 1/1" in out.stdout
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["config"]["collect"]["env"]["car"]["model"] == "dynamic"
    assert metrics["expert"]["unseen"]["completion_rate"] == 1.0
    assert len(metrics["history"]["test_loss_by_action"][-1]) == 2  # steering and throttle, each reported
    assert any(name.split("/")[1] in ("wet", "icy") for name in metrics["per_road"]["learner/unseen"])
    from agents.model import SteeringPolicy

    assert SteeringPolicy.load(run / "model.pt").net.config.outputs == 2
    # evaluated later, the policy drives the car and the sensors it was trained with
    out = run_cli(
        "evaluate",
        "--policy",
        str(run / "model.pt"),
        "--split",
        "unseen",
        "--roads",
        "2",
        "--family",
        "icy",
        "--no-progress",
    )
    assert out.returncode == 0, out.stderr
    assert "learner" in out.stdout


@pytest.mark.parametrize("observation", ["camera", "rays", "image"])
def test_demo_refuses_the_dynamic_car_with_a_sensor_that_cannot_see_its_speed(observation):
    out = run_cli("demo", "--car", "dynamic", "--observation", observation, "--quick")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--car dynamic needs --observation features" in lines[0] and "speed" in lines[0]


@pytest.mark.slow
def test_demo_quick_writes_every_output(tmp_path):
    out = run_cli("demo", "--quick", "--out", str(tmp_path / "run"), "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "Epoch: " in out.stdout and "Train Loss" in out.stdout
    run = tmp_path / "run"
    for name in ("model.pt", "metrics.json", "report.png", "drive.gif"):
        assert (run / name).stat().st_size > 0
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("train", "unseen"):
        assert metrics[key]["episodes"] == 8
        assert metrics["expert"][key]["completion_rate"] == 1.0
    from PIL import Image

    with Image.open(run / "drive.gif") as gif:
        assert gif.n_frames > 10
