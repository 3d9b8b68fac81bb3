"""Tests of ``roadschool experiment`` (sims/experiments): each experiment end to end with a tiny grid,
runs that repeat exactly in this process, in worker processes and on Ray, and the tutorial's references."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # before anything imports pygame
os.environ.setdefault("MPLBACKEND", "Agg")

import json
import math
import re
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from sims.cli import main
from sims.experiments import batching, overfitting, road_change
from sims.experiments.grid import Backend, execute, read_csv, run_grid, without_timing

ROOT = Path(__file__).resolve().parents[1]


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def _rows_equal(a: list[dict], b: list[dict]) -> None:
    assert [without_timing(r) for r in a] == [without_timing(r) for r in b]


# ------------------------------------------------------------------ batching
def test_batching_quick_writes_one_row_per_run_from_real_training(tmp_path, capsys):
    assert main(["experiment", "batching", "--quick", "--out", str(tmp_path)]) == 0
    config = batching.BatchingConfig.quick()
    for name in ("results.csv", "curves.csv", "batching.png", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0
    rows = read_csv(tmp_path / "results.csv")
    assert [(r["batch_size"], r["seed"]) for r in rows] == [(b, 0) for b in config.batch_sizes]
    full = rows[0]
    assert full["batch_label"] == "full batch" and full["batch_samples"] == full["train_samples"]
    assert full["steps_per_epoch"] == 1 and full["gradient_steps"] == config.setup.epochs
    for row in rows:
        assert row["gradient_steps"] == row["steps_per_epoch"] * row["epochs"]
        assert math.isfinite(row["final_test_loss"]) and row["final_train_loss"] > 0
        assert 0 <= row["unseen_completion"] <= 1 and row["unseen_roads_driven"] == config.setup.unseen_roads
    curves = read_csv(tmp_path / "curves.csv")
    assert len(curves) == len(rows) * config.setup.epochs
    # the CSV holds what a run really produces: run one again here and compare
    spec = batching.grid(config)[1]
    again = execute(batching.run, spec)["row"]
    assert without_timing(again) == without_timing(rows[1])
    assert "full batch" in capsys.readouterr().out  # the table is printed
    assert _png_size(tmp_path / "batching.png")[0] > 400


# ------------------------------------------------------------------ overfitting
def test_overfitting_quick_trains_one_road_models_on_one_road(tmp_path):
    assert main(["experiment", "overfitting", "--quick", "--out", str(tmp_path)]) == 0
    config = overfitting.OverfittingConfig.quick()
    rows = read_csv(tmp_path / "results.csv")
    expected = [(a.observation, n, s) for a in config.arms for n in a.road_counts for s in range(a.seeds)]
    assert [(r["observation"], r["train_roads"], r["seed"]) for r in rows] == expected  # one row per count and seed
    assert {r["observation"] for r in rows} == {"features", "image"}
    for row in rows:
        assert row["dataset_roads"] == row["model_train_roads"] == row["train_roads"]
        name = f"{row['observation']}-roads{row['train_roads']}-seed{row['seed']}"
        details = json.loads((tmp_path / "runs" / f"{name}.json").read_text())
        dataset = details["dataset"]
        assert dataset["num_roads"] == row["train_roads"] == len(set(dataset["roads"]))
        assert dataset["observation"] == row["observation"]
        assert all(name.startswith("train/") for name in dataset["roads"])
        assert all(name.startswith("unseen/") for name in details["unseen_roads_driven"])
        assert details["model_train_data"] == {"roads": row["train_roads"], "samples": row["dataset_samples"]}
        assert row["train_loss"] > 0 and row["test_loss"] > 0
    one_road = [r for r in rows if r["train_roads"] == 1]
    assert one_road and all(r["dataset_roads"] == 1 for r in one_road)
    # the one-road sample count is what the expert's drive of that single road gives
    from agents.data import CollectConfig, collect

    single = overfitting.training_roads(1, 0)
    data = collect(CollectConfig(num_roads=1, seed=0), roads=single)
    assert one_road[0]["dataset_samples"] == len(data) and data.road_names == [single[0].name]
    assert (tmp_path / "summary.md").read_text().count("|cte|") >= 1
    assert _png_size(tmp_path / "overfitting.png")[1] > 400


@pytest.mark.slow
def test_overfitting_camera_arm_runs_when_asked_for(tmp_path):
    assert {a.observation for a in overfitting.OverfittingConfig().arms} == {"features", "image"}
    argv = ["experiment", "overfitting", "--quick", "--observation", "camera", "--out", str(tmp_path)]
    assert main(argv) == 0
    arm = overfitting.OverfittingConfig.quick().camera_arm
    rows = read_csv(tmp_path / "results.csv")
    assert [(r["observation"], r["train_roads"]) for r in rows] == [("camera", n) for n in arm.road_counts]
    for row in rows:
        assert row["frame_stride"] == arm.training.frame_stride
        assert row["train_loss"] > 0 and row["test_loss"] > 0 and row["unseen_roads_driven"] == 2
    dataset = json.loads((tmp_path / "runs" / "camera-roads1-seed0.json").read_text())["dataset"]
    assert dataset["observation"] == "camera" and dataset["frame_stride"] == arm.training.frame_stride
    assert f"every {arm.training.frame_stride}th frame" in (tmp_path / "summary.md").read_text()
    assert _png_size(tmp_path / "overfitting.png")[1] > 300


def test_training_roads_are_nested_and_differ_between_seeds():
    four = overfitting.training_roads(4, seed=1)
    assert [r.name for r in overfitting.training_roads(2, seed=1)] == [r.name for r in four[:2]]
    assert not {r.name for r in four} & {r.name for r in overfitting.training_roads(4, seed=0)}
    assert four[0].name.split("/")[1] != overfitting.training_roads(1, seed=0)[0].name.split("/")[1]


# ------------------------------------------------------------------ road change
def test_road_change_quick_compares_the_methods_on_the_same_changes(tmp_path):
    from agents.model import SteeringPolicy

    assert main(["experiment", "road-change", "--quick", "--out", str(tmp_path)]) == 0
    config = road_change.RoadChangeConfig.quick()
    training = read_csv(tmp_path / "training.csv")
    assert [(t["method"], t["seed"]) for t in training] == [(m, 0) for m in road_change.METHODS]
    by_method = {t["method"]: t for t in training}
    assert by_method["bc"]["collect_noise_std"] == 0 and by_method["dart"]["collect_noise_std"] == 0.15
    assert by_method["dagger"]["train_samples"] > by_method["bc"]["train_samples"]  # aggregated learner data
    rows = read_csv(tmp_path / "results.csv")
    points = [(c.name, s) for c in config.changes for s in c.strengths]
    assert len(rows) == (len(road_change.METHODS) + 1) * len(points)
    for method in (*road_change.METHODS, "expert"):
        assert sorted((r["change"], r["strength"]) for r in rows if r["method"] == method) == sorted(points)
    assert {c.name for c in config.changes} == set(road_change.CHANGE_NAMES)
    # a saved policy, driven again in one changed world, gives the CSV's numbers
    row = next(r for r in rows if r["method"] == "dart" and r["change"] == "crosswind" and r["strength"] > 0)
    policy = SteeringPolicy.load(tmp_path / "models" / "dart-seed0.pt")
    spec = road_change.EvaluationRun(
        "dart",
        0,
        "crosswind",
        row["strength"],
        config.setup,
        weights={
            "net_config": policy.net.config.as_dict(),
            "state": {k: v.numpy() for k, v in policy.net.state_dict().items()},
        },
    )
    again = execute(road_change.evaluate_in_changed_world, spec)["row"]
    assert {k: again[k] for k in ("completion_rate", "mean_abs_cte", "max_abs_cte")} == {
        k: row[k] for k in ("completion_rate", "mean_abs_cte", "max_abs_cte")
    }
    assert _png_size(tmp_path / "road_change.png")[0] > 800


@pytest.mark.parametrize("change", road_change.CHANGES, ids=lambda c: c.name)
def test_each_change_changes_the_world_it_names(change):
    base_roads, base_config, _ = road_change.changed_world(change.name, change.strengths[0], 2)
    roads, config, description = road_change.changed_world(change.name, change.strengths[-1], 2)
    strength = change.strengths[-1]
    if change.name == "curvature":
        assert all(r.name.startswith("unseen/hairpin") for r in roads)
        assert all(r.name.split("/")[1] in ("gentle", "twisty") for r in base_roads)
    elif change.name == "width":
        assert all(r.width == strength for r in roads)
        assert [r.name for r in roads] == [r.name for r in base_roads]
    elif change.name == "speed":
        assert config.target_speed == strength and base_config.target_speed == 10.0
    else:
        field = {"crosswind": "crosswind", "steering_bias": "steering_bias", "sensor_noise": "observation_noise"}
        assert getattr(config.disturbances, field[change.name]) == strength
    assert str(f"{strength:g}") in description or change.name == "curvature"


@pytest.mark.slow
def test_road_change_camera_compares_four_methods_on_appearance_changes(tmp_path):
    out = tmp_path / "camera"
    assert main(["experiment", "road-change", "--quick", "--observation", "camera", "--out", str(out)]) == 0
    config = road_change.RoadChangeConfig.quick_camera()
    training = {t["method"]: t for t in read_csv(out / "training.csv")}
    assert list(training) == list(road_change.CAMERA_METHODS) == ["bc", "dart", "side", "dagger"]
    assert training["side"]["side_cameras"] == 0.5 and training["side"]["collect_noise_std"] == 0
    assert training["bc"]["side_cameras"] == 0 and training["dart"]["collect_noise_std"] == 0.15
    # side cameras: the same drives seen from three cameras
    assert training["side"]["train_samples"] == 3 * training["bc"]["train_samples"]
    assert training["dagger"]["train_samples"] > training["bc"]["train_samples"]
    assert all(t["frame_stride"] == config.setup.frame_stride for t in training.values())
    rows = read_csv(out / "results.csv")
    points = sorted((c.name, s) for c in road_change.APPEARANCE_CHANGES for s in (c.strengths[0], c.strengths[-1]))
    for method in (*road_change.CAMERA_METHODS, "expert"):
        assert sorted((r["change"], r["strength"]) for r in rows if r["method"] == method) == points
    snow = next(r for r in rows if r["change"] == "look" and r["strength"] == 2)
    assert "snow" in snow["world"]
    text = (out / "summary.md").read_text()
    assert "side cameras" in text and "look at snow" in text and "markings" in text
    assert _png_size(out / "road_change.png")[0] > 800


@pytest.mark.parametrize("change", road_change.APPEARANCE_CHANGES, ids=lambda c: c.name)
def test_each_appearance_change_changes_only_the_look(change):
    from envs.appearance import LOOKS

    base_roads, base_config, _ = road_change.changed_world(change.name, change.strengths[0], 2, "camera")
    roads, config, description = road_change.changed_world(change.name, change.strengths[-1], 2, "camera")
    assert [r.name for r in roads] == [r.name for r in base_roads] and config.observation == "camera"
    assert base_config.appearance == LOOKS["day"]
    assert replace(config, appearance=LOOKS["day"]) == base_config, "only the look changes"
    expected = {
        "darker": LOOKS["day"].replace(brightness=0.35),
        "brighter": LOOKS["day"].replace(brightness=2.8),
        "look": LOOKS["snow"],
        "markings": LOOKS["no-markings"],
    }[change.name]
    assert config.appearance == expected
    with pytest.raises(ValueError, match="strengths are"):
        road_change.changed_world("look", 0.5, 2, "camera")


def test_the_features_grid_stays_as_it_was_and_camera_only_parts_are_refused():
    config = road_change.RoadChangeConfig()
    assert config.methods == road_change.METHODS == ("bc", "dart", "dagger")
    assert config.changes == road_change.CHANGES and config.setup.observation == "features"
    assert config.setup.frame_stride == 1
    with pytest.raises(ValueError, match="side method needs camera"):
        replace(config, methods=("bc", "side"))
    with pytest.raises(ValueError, match="need camera observations"):
        config.with_overrides(changes=["look"])
    camera = road_change.RoadChangeConfig.camera()
    assert camera.methods == road_change.CAMERA_METHODS and camera.changes == road_change.APPEARANCE_CHANGES
    assert [c.name for c in camera.with_overrides(changes=["markings", "look"]).changes] == ["look", "markings"]


def test_road_change_dynamic_quick_trains_on_dry_and_mixed_roads_and_drives_slipperier_ones(tmp_path):
    from agents.model import SteeringPolicy

    out = tmp_path / "dynamic"
    assert main(["experiment", "road-change", "--car", "dynamic", "--quick", "--workers", "1", "--out", str(out)]) == 0
    config = road_change.RoadChangeConfig.dynamic(quick=True)
    training = {t["method"]: t for t in read_csv(out / "training.csv")}
    assert set(training) == {"dry", "mixed"}
    assert training["dry"]["families"] == "twisty" and training["mixed"]["families"] == "wet+icy"
    # the dry policy never saw the friction ahead change; the mixed one did
    assert training["dry"]["friction_inputs_varied"] == 0
    assert training["mixed"]["friction_inputs_varied"] == training["mixed"]["friction_inputs"] > 0
    rows = read_csv(out / "results.csv")
    points = sorted((c.name, s) for c in config.changes for s in c.strengths)
    for method in ("dry", "mixed", "expert"):
        assert sorted((r["change"], r["strength"]) for r in rows if r["method"] == method) == points
    expert = {(r["change"], r["strength"]): r for r in rows if r["method"] == "expert"}
    dry, ice = expert[("grip", 1.0)], expert[("grip", 0.1)]
    assert dry["completion_rate"] == 1.0 and ice["mean_speed"] < dry["mean_speed"]  # the expert slows for ice
    assert expert[("speed", 25.0)]["mean_speed"] > expert[("speed", 15.0)]["mean_speed"]
    for row in rows:
        assert 0 <= row["sliding_time"] and row["mean_speed"] > 0
    policy = SteeringPolicy.load(out / "models" / "mixed-seed0.pt")
    assert policy.net.config.outputs == 2  # steering and throttle
    assert _png_size(out / "road_change.png")[0] > 600
    assert "trained on dry roads" in (out / "summary.md").read_text()


def test_the_dynamic_changes_change_the_grip_and_the_speed_limit():
    from envs.road import SURFACES

    base_roads, base_config, _ = road_change.dynamic_world("grip", 1.0, 3)
    assert all(r.surfaces == () for r in base_roads)
    assert base_config.car.model == "dynamic" and base_config.throttle and base_config.target_speed == 15.0
    assert base_config.start_lateral_offset == 0.0
    icy, icy_config, description = road_change.dynamic_world("grip", 0.1, 3)
    assert [r.name for r in icy] == [r.name for r in base_roads]  # the same roads, now with ice on them
    assert all(r.surfaces and {surface for _, _, surface in r.surfaces} == {"ice"} for r in icy)
    assert icy_config == base_config and "ice" in description
    assert all(min(r.friction) == SURFACES["ice"] and max(r.friction) == 1.0 for r in icy)
    fast_roads, fast_config, _ = road_change.dynamic_world("speed", 25.0, 3)
    assert fast_config.target_speed == 25.0 and all(r.surfaces == () for r in fast_roads)
    with pytest.raises(ValueError, match="friction of a surface"):
        road_change.dynamic_world("grip", 0.5, 1)
    with pytest.raises(ValueError, match="grip, speed"):
        road_change.dynamic_world("width", 3.0, 1)


def test_road_change_refuses_options_of_the_other_car(capsys):
    assert main(["experiment", "road-change", "--car", "dynamic", "--method", "bc", "--quick"]) == 2
    assert "dry, mixed" in capsys.readouterr().err
    assert main(["experiment", "road-change", "--car", "dynamic", "--change", "width", "--quick"]) == 2
    assert "grip, speed" in capsys.readouterr().err
    assert main(["experiment", "road-change", "--method", "dry", "--quick"]) == 2
    assert main(["experiment", "road-change", "--car", "dynamic", "--observation", "rays", "--quick"]) == 2
    assert main(["experiment", "road-change", "--car", "dynamic", "--family", "icy", "--quick"]) == 2
    assert "dry: twisty, mixed: wet+icy" in capsys.readouterr().err


# ------------------------------------------------------------------ the grid
TINY = [replace(s, setup=replace(s.setup, epochs=2)) for s in batching.grid(batching.BatchingConfig.quick())]


def test_runs_repeat_exactly_in_this_process_and_in_worker_processes():
    here = [r["row"] for r in run_grid(batching.run, TINY, Backend("local", workers=1), log=lambda *a: None)]
    pool = [r["row"] for r in run_grid(batching.run, TINY, Backend("local", workers=2), log=lambda *a: None)]
    _rows_equal(here, pool)
    assert [r["batch_size"] for r in pool] == [s.batch_size for s in TINY]  # results in the order of the specs


def test_bad_backend_options_are_refused():
    with pytest.raises(ValueError, match="backend"):
        Backend("slurm")
    assert main(["experiment", "batching", "--quick", "--address", "auto"]) == 2  # an address needs ray
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "road-change", "--method", "ppo"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_ray_backend_gives_the_same_rows_as_local_processes(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'roadschool[ray]')")
    temp_dir = tmp_path / "ray"
    temp_dir.mkdir()
    link = None
    if len(str(temp_dir)) > 40:  # Ray's socket paths inside the temp dir must stay under 108 bytes
        link = Path(tempfile.mkdtemp(prefix="rs-")) / "r"
        link.symlink_to(temp_dir)
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(link or temp_dir), logging_level="ERROR")
    try:
        on_ray = [r["row"] for r in run_grid(batching.run, TINY, Backend("ray"), log=lambda *a: None)]
    finally:
        ray.shutdown()
        if link is not None:
            link.unlink()
            link.parent.rmdir()
    local = [r["row"] for r in run_grid(batching.run, TINY, Backend("local", workers=2), log=lambda *a: None)]
    _rows_equal(on_ray, local)
    assert any(temp_dir.iterdir())  # Ray really used the test's temp dir


def test_importing_the_experiments_leaves_heavy_libraries_unloaded():
    code = (
        "import sys, sims.cli as cli; "
        "from sims.experiments import batching, figures, grid, overfitting, road_change; "
        "cli.build_parser(['experiment']); "
        "print(sorted(m for m in ('torch', 'ray', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    ).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------ the tutorial
TUTORIAL = ROOT / "docs" / "tutorial.md"
QUOTE = re.compile(r"\[[^\]]*\]\(\.\./([\w/.]+\.py)#L(\d+)-L(\d+)\)[^\n]*\n+```python\n(.*?)```", re.S)


def test_tutorial_quotes_the_lines_it_points_at():
    text = TUTORIAL.read_text()
    quotes = QUOTE.findall(text)
    assert len(quotes) >= 5
    for path, first, last, code in quotes:
        lines = (ROOT / path).read_text().splitlines()[int(first) - 1 : int(last)]
        quoted = code.rstrip("\n").splitlines()
        indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
        assert [line[indent:] for line in lines] == quoted, f"{path}#L{first}-L{last} no longer holds the quoted code"


@pytest.mark.slow
def test_tutorial_figures_command_writes_the_three_figures(tmp_path):
    figures = tmp_path / "figures"
    argv = ["experiment", "tutorial-figures", "--quick", "--out", str(figures), "--work", str(tmp_path / "work")]
    assert main(argv) == 0
    for name in ("batching.png", "overfitting.png", "road_change.png"):
        assert _png_size(figures / name)[0] > 400
        assert (tmp_path / "work" / name.replace("_", "-").removesuffix(".png") / "results.csv").exists()


def test_tutorial_links_and_figures_exist_and_are_small():
    text = TUTORIAL.read_text()
    for target in re.findall(r"\]\((?!https?:)([^)#]+)", text):
        assert (TUTORIAL.parent / target).exists(), target
    figures = re.findall(r"!\[[^\]]*\]\((figures/[\w.-]+\.png)\)", text)
    assert len(figures) >= 3
    for figure in figures:
        assert (TUTORIAL.parent / figure).stat().st_size < 400_000


def test_a_grid_refuses_the_other_cars_changes_when_it_is_made():
    """Not after training: a dynamic grid with the kinematic car's changes, or the other way round."""
    dynamic = road_change.RoadChangeConfig.dynamic(quick=True)
    with pytest.raises(ValueError, match="are not the dynamic car's"):
        replace(dynamic, changes=road_change.CHANGES)
    with pytest.raises(ValueError, match="are not the kinematic car's"):
        replace(road_change.RoadChangeConfig(), changes=road_change.DYNAMIC_CHANGES[:1])
