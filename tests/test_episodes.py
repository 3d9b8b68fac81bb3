"""Tests of sims/episodes.py: a saved drive is the drive, and evaluate --save-episodes is evaluate plus files."""

import json

import numpy as np
import pytest

from agents.drivers import ExpertDriver, PolicyDriver
from agents.evaluation import drive, env_config_for, evaluate
from agents.model import SteeringPolicy
from envs import CarParams, RoadFollowConfig, generate_road
from envs.records import save_record
from sims.episodes import EPISODE_FORMAT, EpisodeError, evaluate_and_save, find_episodes, load_episode, save_episode
from sims.windows.driving import RoadRun


def finish(run: RoadRun, limit: int = 5000) -> None:
    for _ in range(limit):
        if run.done:
            return
        run.tick()
    raise AssertionError("the run did not end")


def test_evaluate_save_episodes_is_evaluate_plus_files(tmp_path, random_policy):
    roads = [generate_road("unseen", "twisty", 1), generate_road("train", "gentle", 0)]
    config = env_config_for("features")
    learner = PolicyDriver(SteeringPolicy.load(random_policy))
    result = evaluate_and_save(learner, roads, config, tmp_path / "eps")
    assert result == evaluate(learner, roads, config)
    files = find_episodes(tmp_path / "eps")
    assert [f.name for f in files] == ["0000-unseen-twisty-1.npz", "0001-train-gentle-0.npz"]
    evaluate_and_save(learner, roads[1:], config, tmp_path / "eps")  # again, into the same folder
    assert [f.name for f in find_episodes(tmp_path / "eps")] == ["0000-train-gentle-0.npz"], "this run's drives only"
    track, ghost = load_episode(files[0])  # (still there: an older drive is not deleted, only no longer listed)
    assert track.road.name == roads[0].name and np.allclose(track.road.points, roads[0].points)
    # the saved drive is the live one, headings included (recorded as it drove)
    live = RoadRun(roads[0], learner, config, ghost_driver=ExpertDriver())
    finish(live)
    np.testing.assert_allclose(track.rows, live.trajectory.rows, atol=1e-6)
    assert track.outcome == live.outcome and track.dt == config.dt and track.car == config.car
    assert ghost is not None and len(ghost) > len(track) - 1
    np.testing.assert_allclose(ghost.rows[: len(live.ghost)], live.ghost.rows, atol=1e-9)
    assert track.metrics() == result["roads"][roads[0].name], "the file holds what evaluate measured"


def test_a_dynamic_drive_on_a_slippery_road_round_trips(tmp_path):
    """Headings, lateral speed, sliding and the road's surfaces are kept exactly (a sliding car
    does not point where it moves: nothing is reconstructed from positions)."""
    world = RoadFollowConfig(car=CarParams(model="dynamic"), throttle=True, target_speed=15.0)
    road = generate_road("unseen", "icy", 0)
    [trajectory] = drive(ExpertDriver(), [road], env_config_for("features", world))
    assert road.surfaces and np.any(trajectory.lateral_speed != 0), "the car slips sideways: heading is not motion"
    path = save_episode(tmp_path / "icy.npz", trajectory, policy="expert")
    track, ghost = load_episode(path)
    assert ghost is None
    np.testing.assert_array_equal(track.rows, trajectory.rows)
    assert track.road.surfaces == road.surfaces and track.car == world.car and track.outcome == trajectory.outcome
    assert json.loads(str(np.load(path)["metadata"]))["policy"] == "expert"


def test_version_1_episode_files_are_still_read(tmp_path):
    road = generate_road("train", "gentle", 0)
    [trajectory] = drive(ExpertDriver(), [road])
    old_columns = ["x", "y", "heading", "steer", "speed", "cte", "progress_m"]
    table = np.column_stack([trajectory.column(c) for c in old_columns])
    meta = {
        "road": {"name": road.name, "width": road.width, "closed": road.closed, "spacing": road.spacing},
        "columns": old_columns,
        "driver": "expert",
        "finished": True,
        "off_road": False,
        "dt": 0.05,
        "car": {"wheelbase": 2.7, "no_such_field": 1.0},
    }
    path = save_record(
        tmp_path / "v1.npz", EPISODE_FORMAT, 1, meta, {"track": table, "ghost": table[:5], "road_points": road.points}
    )
    track, ghost = load_episode(path)
    np.testing.assert_array_equal(track.xy, trajectory.xy)
    np.testing.assert_array_equal(track.heading, trajectory.heading)
    assert track.outcome == "finished" and len(ghost) == 5 and not track.sliding.any()


def test_damaged_episode_files_are_named_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(EpisodeError, match="bad.npz"):
        load_episode(bad)
    road = generate_road("train", "gentle", 0)
    meta = {"road": {"name": road.name}, "columns": ["x"], "dt": 0.05, "car": {}}
    path = save_record(
        tmp_path / "odd.npz",
        EPISODE_FORMAT,
        2,
        meta,
        {"track": np.zeros((3, 1)), "ghost": np.zeros((0, 1)), "road_points": road.points},
    )
    with pytest.raises(EpisodeError, match="odd.npz: damaged episode"):
        load_episode(path)
    with pytest.raises(EpisodeError, match="no such"):
        find_episodes(tmp_path / "missing")
