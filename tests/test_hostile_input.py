"""Careless and hostile input is refused at the door: one line naming the file or option, exit code 2,
before any work; training that diverges stops and keeps the last good checkpoint."""

import dataclasses
import math
import os

import numpy as np
import pytest

from agents.data import CollectConfig, Dataset, DatasetError, collect
from agents.model import Architecture, CheckpointError, SteeringPolicy, load_checkpoint
from agents.training import TrainConfig, TrainingDiverged, train
from envs import Road, RoadError, limits, load_roads
from sims.cli import main


def refused(capsys, *argv: str) -> str:
    """The one line ``roadschool *argv`` writes to stderr, asserting exit code 2 and no traceback."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple:
    d = tmp_path_factory.mktemp("hostile")
    data = collect(CollectConfig(num_roads=2, max_steps=120))
    data.save(d / "data.npz")
    return d, data


def write_roads(path, text: str | bytes):
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


# ------------------------------------------------------------------ roads files
ROAD = '{"roads": [{"points": %s, "width": %s, "closed": %s, "name": %s}]}'
HOSTILE_ROADS = {
    "points 1e-9 m apart": (ROAD % ("[[0, 0], [1e-9, 0]]", "7", "false", '"a"'), "two distinct points"),
    "a 1e9 m road": (ROAD % ("[[0, 0], [1e9, 0]]", "7", "false", '"a"'), "at most 1e+06 m"),
    "a 1e7 m coordinate": (ROAD % ("[[0, 0], [1e7, 0]]", "7", "false", '"a"'), "at most 1e+06 m"),
    "a 60 km road": (ROAD % ("[[0, 0], [60000, 0]]", "7", "false", '"a"'), "too long"),
    "1.7e308": (ROAD % ("[[0, 0], [1.7e308, 0]]", "7", "false", '"a"'), "coordinate of 1.7e+308"),
    "a 400-digit integer": (ROAD % ("[[0, 0], [%s, 0]]" % ("9" * 400), "7", "false", '"a"'), "400 digits"),
    "NaN": (ROAD % ("[[0, 0], [NaN, 0]]", "7", "false", '"a"'), "NaN is not a JSON number"),
    "closed as a string": (
        ROAD % ("[[0, 0], [50, 0], [50, 50]]", "7", '"false"', '"a"'),
        "closed must be true or false",
    ),
    "width as a string": (ROAD % ("[[0, 0], [50, 0]]", '"7"', "false", '"a"'), "width must be a number"),
    "width as a bool": (ROAD % ("[[0, 0], [50, 0]]", "true", "false", '"a"'), "width must be a number"),
    "width 1e300": (ROAD % ("[[0, 0], [50, 0]]", "1e300", "false", '"a"'), "width must be between"),
    "width 1e5": (ROAD % ("[[0, 0], [50, 0]]", "1e5", "false", '"a"'), "width must be between"),
    "points as strings": (ROAD % ('[["0", "0"], ["50", "0"]]', "7", "false", '"a"'), "pairs of numbers"),
    "a bool as a coordinate": (ROAD % ("[[0, 0], [50, true]]", "7", "false", '"a"'), "pairs of numbers"),
    "an object as a name": (ROAD % ("[[0, 0], [50, 0]]", "7", "false", '{"x": 1}'), "name must be a string"),
    "a misspelt key": ('{"roads": [{"points": [[0, 0], [50, 0]], "widht": 9}]}', "unknown key 'widht'"),
    "two roads of one name": (
        '{"roads": [{"points": [[0, 0], [50, 0]], "name": "a"}, {"points": [[0, 0], [0, 50]], "name": "a"}]}',
        "names must be unique",
    ),
    "a spike back": (ROAD % ("[[0, 0], [100, 0], [40, 0.5], [140, 1]]", "7", "false", '"a"'), "turns back on itself"),
    "a crossing": (
        ROAD % ("[[0, 0], [100, 0], [100, 100], [50, 100], [50, -50]]", "7", "false", '"a"'),
        "crosses or runs onto itself",
    ),
    "nested 100,000 deep": ('{"roads": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested 100001 deep"),
    "too much road in all": (
        '{"roads": ['
        + ", ".join(f'{{"points": [[0, {40 * k}], [40000, {40 * k}]], "name": "r{k}"}}' for k in range(70))
        + "]}",
        "samples in all",
    ),
    "an empty list": ('{"roads": []}', "holds no roads"),
    "a list at the top": ("[1, 2]", "expected an object"),
}


@pytest.mark.parametrize("case", list(HOSTILE_ROADS))
def test_hostile_roads_files_are_refused_in_one_line_naming_the_file(case, tmp_path, capsys):
    text, message = HOSTILE_ROADS[case]
    path = write_roads(tmp_path / "roads.json", text)
    err = refused(capsys, "evaluate", "--policy", "expert", "--roads-file", str(path), "--no-progress")
    assert str(path) in err and message in err


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"roads": [{"points": [[0, 0], [50, 0]]}]}'.encode("utf-16"), "UTF-16"),
        ('{"roads": [{"points": [[0, 0], [50, 0]]}]}'.encode("utf-16-le"), "UTF-16"),
        (bytes(range(128, 256)) * 3, "not a UTF-8 text file"),
        (b"\x00" * 40, "UTF-16"),
    ],
)
def test_roads_files_that_are_not_utf8_text_are_named(content, message, tmp_path):
    path = write_roads(tmp_path / "odd.json", content)
    with pytest.raises(RoadError, match=message) as err:
        load_roads(path)
    assert str(path) in str(err.value)


def test_a_roads_folder_or_device_is_named(tmp_path):
    with pytest.raises(RoadError, match="is a directory"):
        load_roads(tmp_path)
    with pytest.raises(RoadError, match="not a regular file"):
        load_roads("/dev/zero")  # would never end if read
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint("/dev/zero")
    with pytest.raises(DatasetError, match="not a regular file"):
        Dataset.load("/dev/zero")


def test_near_repeated_points_are_dropped_and_sharp_corners_kept():
    a = Road.from_points([[0, 0], [50, 0], [50, 1e-4], [50, 50]], 7.0)
    b = Road.from_points([[0, 0], [50, 0], [50, 50]], 7.0)
    assert np.array_equal(a.points, b.points)
    # a right angle is kept as drawn (the expert cuts it inside the road): accepted
    assert b.length == pytest.approx(100.0)


def test_hairpins_and_spirals_that_stay_clear_of_themselves_are_accepted():
    r = 4.0
    out = np.column_stack([np.linspace(0.0, 60.0, 121), np.zeros(121)])
    theta = np.linspace(-math.pi / 2, math.pi / 2, 200)[1:-1]
    bend = np.column_stack([60.0 + r * np.cos(theta), r + r * np.sin(theta)])
    back = np.column_stack([np.linspace(60.0, 0.0, 121), np.full(121, 2 * r)])
    Road.from_points(np.vstack([out, bend, back]), 5.0)
    theta = np.linspace(0.0, 6 * math.pi, 6000)
    radius = 15.0 + 12.0 * theta / (2 * math.pi)
    Road.from_points(np.column_stack([radius * np.cos(theta), radius * np.sin(theta)]), 6.0)


def test_a_zig_zag_tighter_than_the_road_is_wide_is_refused():
    x = np.arange(0.0, 60.0, 1.0)
    zigzag = np.column_stack([x, np.where(np.arange(len(x)) % 2 == 0, 0.0, 0.6)])  # 1 m legs, 60 degrees each way
    Road.from_points(zigzag, 7.0)  # small: the car drives straight through, accepted
    steep = np.column_stack([x, np.where(np.arange(len(x)) % 2 == 0, 0.0, 8.0)])  # 8 m up, 8 m down
    with pytest.raises(RoadError, match="turns back on itself"):
        Road.from_points(steep, 7.0)


def test_a_closed_road_is_checked_around_its_seam():
    theta = np.linspace(0, 2 * math.pi, 400, endpoint=False)
    Road.from_points(30 * np.column_stack([np.cos(theta), np.sin(theta)]), 7.0, closed=True)


# ------------------------------------------------------------------ options and output paths
@pytest.mark.parametrize(
    "argv, message",
    [
        (["collect", "--seed", "-1", "--out", "x.npz"], "--seed"),
        (["collect", "--roads", "100000000", "--out", "x.npz"], "--roads"),
        (["collect", "--out", ""], "empty"),
        (["evaluate", "--policy", "expert", "--first-road", "99999999999"], "--first-road"),
        (["watch", "--policy", "expert", "--time-speed", "1e9"], "1/8 .. 16"),
        (["watch", "--policy", "expert", "--time-speed", "0.01"], "--time-speed"),
        (["train", "--data", "d.npz", "--out", "m.pt", "--epochs", "1e3"], "whole number"),
        (["experiment", "batching", "--seeds", "100000000"], "--seeds"),
    ],
)
def test_options_out_of_range_are_refused_in_one_line(argv, message, capsys):
    assert message in refused(capsys, *argv)


def test_output_paths_are_checked_before_any_work(dataset, tmp_path, capsys):
    d, _ = dataset
    folder = tmp_path / "a-folder"
    folder.mkdir()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, message in [
        (folder, "is a folder"),
        (a_file / "m.pt", "is a file, not a folder"),
        ("/proc/roadschool.pt", "cannot write in /proc"),
    ]:
        err = refused(capsys, "train", "--data", str(d / "data.npz"), "--out", str(out), "--epochs", "1")
        assert message in err
    err = refused(capsys, "evaluate", "--policy", "expert", "--roads", "1", "--json", str(folder))
    assert "--json" in err and "is a folder" in err
    err = refused(capsys, "demo", "--quick", "--out", str(a_file))
    assert "not a folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only folders")
def test_a_read_only_folder_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    assert "cannot write" in refused(capsys, "collect", "--roads", "1", "--out", str(ro / "d.npz"))


def test_a_network_too_large_for_memory_is_refused_before_training(dataset, tmp_path, capsys):
    d, _ = dataset
    err = refused(
        capsys, "train", "--data", str(d / "data.npz"), "--out", str(tmp_path / "m.pt"), "--hidden", "100000", "100000"
    )
    assert "parameters" in err and not (tmp_path / "m.pt").exists()


def test_memory_estimates_refuse_what_the_machine_cannot_hold():
    with pytest.raises(limits.RequestTooLarge, match="would need about"):
        limits.check_memory("collecting everything", 10 * limits.machine_memory())
    limits.check_memory("collecting a little", 1e6)


# ------------------------------------------------------------------ datasets
def _variant(d, data, name, **changes):
    path = d / f"{name}.npz"
    dataclasses.replace(data, **changes).save(path)
    return path


def test_hostile_datasets_are_refused_naming_the_file(dataset, capsys):
    d, data = dataset
    obs_nan = data.obs.copy()
    obs_nan[3, 1] = np.nan
    action_inf = data.action.copy()
    action_inf[2] = np.inf
    cases = {
        "nan-obs": (dict(obs=obs_nan), "obs holds NaN or infinite"),
        "inf-action": (dict(action=action_inf), "action holds NaN or infinite"),
        "big-action": (dict(action=data.action * 0 + 3.0), "outside [-1, 1]"),
        "columns": (dict(obs=data.obs[:, :5]), "rows of shape (5,)"),
        "two-actions": (dict(action=np.hstack([data.action, data.action])), "one column"),
        "flat-obs": (dict(obs=data.obs[:, 0]), "rows of shape ()"),
        "string-obs": (dict(obs=data.obs.astype(str)), "must hold numbers"),
        "wrong-type": (dict(metadata=dict(data.metadata, observation="rays")), "not a valid environment"),
        "path-type": (dict(metadata=dict(data.metadata, observation="../x")), "unknown observation type"),
        "short-road": (dict(road=data.road[:-1]), "different lengths"),
        "road-index": (dict(road=data.road + 5), "road index"),
    }
    for name, (changes, message) in cases.items():
        path = _variant(d, data, name, **changes)
        with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            Dataset.load(path)
        err = refused(capsys, "train", "--data", str(path), "--out", str(d / f"{name}.pt"), "--epochs", "1")
        assert str(path) in err and not (d / f"{name}.pt").exists()


# ------------------------------------------------------------------ training that diverges
def test_training_that_diverges_stops_and_keeps_the_last_good_checkpoint(dataset, tmp_path, capsys):
    _, data = dataset
    out = tmp_path / "m.pt"
    train(
        data,
        None,
        TrainConfig(epochs=2, net=Architecture(hidden=(16,)), print_every=0, checkpoint_every=1),
        checkpoint=out,
    )
    good = load_checkpoint(out)
    labels = data.action.copy()
    labels[0] = np.inf  # (Dataset.load refuses this; built in memory it reaches the loop)
    poisoned = dataclasses.replace(data, action=labels)
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 3 .*try a smaller learning rate.*keeps epoch 2"):
        train(
            poisoned,
            None,
            TrainConfig(epochs=4, net=Architecture(hidden=(16,)), print_every=0, checkpoint_every=1),
            checkpoint=out,
            resume=out,
        )
    kept = load_checkpoint(out)
    assert kept["epoch"] == 2
    for k, v in good["model_state"].items():
        assert bool((kept["model_state"][k] == v).all())


def test_a_huge_learning_rate_is_a_one_line_divergence_and_no_broken_checkpoint(dataset, tmp_path, capsys):
    d, _ = dataset
    err = refused(
        capsys,
        "train",
        "--data",
        str(d / "data.npz"),
        "--out",
        str(tmp_path / "m.pt"),
        "--lr",
        "1e30",
        "--epochs",
        "3",
        "--hidden",
        "16",
    )
    import re

    epoch = int(re.search(r"diverged at epoch (\d+)", err).group(1))
    assert "try a smaller learning rate" in err
    if epoch == 1:
        assert "no checkpoint was written" in err and not (tmp_path / "m.pt").exists()
    else:  # the checkpoint holds the last epoch whose loss was finite, and loads
        assert f"keeps epoch {epoch - 1}" in err
        assert load_checkpoint(tmp_path / "m.pt")["epoch"] == epoch - 1
        SteeringPolicy.load(tmp_path / "m.pt")


def test_no_test_loss_is_printed_without_test_data(dataset, tmp_path):
    _, data = dataset
    lines = []
    train(data, None, TrainConfig(epochs=2, net=Architecture(hidden=(8,)), print_every=1), log=lines.append)
    assert lines and all("Test Loss" not in line and "nan" not in line for line in lines)


def test_a_policy_with_non_finite_weights_is_refused_naming_its_file(dataset, tmp_path, capsys):
    import torch

    _, data = dataset
    out = tmp_path / "m.pt"
    policy, _ = train(data, None, TrainConfig(epochs=1, net=Architecture(hidden=(8,)), print_every=0), checkpoint=out)
    payload = torch.load(out, weights_only=True)
    payload["model_state"]["body.0.weight"][0, 0] = float("nan")
    torch.save(payload, out)
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        SteeringPolicy.load(out)
    err = refused(capsys, "evaluate", "--policy", str(out), "--roads", "1", "--no-progress")
    assert str(out) in err
    # a policy that produces non-finite actions while driving names its file too
    policy.source = str(out)
    with torch.no_grad():
        policy.net.body[0].bias.fill_(float("inf"))
    with pytest.raises(ValueError, match=f"{out}.*NaN or infinite"):
        policy.act(data.obs[:4])
