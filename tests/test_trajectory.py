"""Tests of agents/trajectory.py: the one record of a drive."""

import math

import numpy as np
import pytest

from agents.trajectory import COLUMNS, Trajectory, step_rows
from envs import CarParams, RoadFollowEnv
from envs.road import Road

ROAD = Road.from_points([[0, 0], [400, 0]], 7.0, name="straight")


def test_a_live_record_grows_and_reads_like_a_finished_one():
    env = RoadFollowEnv()
    _, info = env.reset(seed=0, options={"road": ROAD})
    live = Trajectory(ROAD, env.config.dt, env.config.car, "expert")
    live.append(step_rows(env.fleet.state, info))
    for _ in range(300):  # past the first allocation of 256 rows
        _, _, terminated, _, info = env.step(np.zeros(1))
        live.append(step_rows(env.fleet.state, info))
        if terminated:
            break
    assert len(live) == 301 and live.rows.shape == (301, len(COLUMNS))
    np.testing.assert_array_equal(live.xy[-1], env.fleet.state[0, :2])
    assert live.cte[-1] == info["cte"] and live.progress_m[-1] == info["progress_m"]
    copy = Trajectory(ROAD, live.dt, live.car, live.driver, live.rows, "time limit")
    np.testing.assert_array_equal(copy.rows, live.rows)
    assert copy.metrics()["lap_time"] is None and not copy.finished and not copy.off_road
    assert "expert on straight" in repr(copy)


def test_pose_shows_where_a_sliding_car_moves():
    rows = np.zeros((1, len(COLUMNS)))
    rows[0, :6] = (1.0, 2.0, math.pi / 2, 10.0, 0.1, -2.0)  # pointing +y at 10 m/s, sliding 2 m/s to its right
    kinematic = Trajectory(ROAD, 0.05, CarParams(), rows=rows).pose(0)
    dynamic = Trajectory(ROAD, 0.05, CarParams(model="dynamic"), rows=rows).pose(0)
    assert kinematic.velocity is None and (kinematic.x, kinematic.y, kinematic.steer) == (1.0, 2.0, 0.1)
    np.testing.assert_allclose(dynamic.velocity, (2.0, 10.0), atol=1e-12)  # its right is +x


def test_columns_and_outcomes_are_checked():
    with pytest.raises(ValueError, match="missing columns \\['heading'"):
        Trajectory.from_columns(
            ROAD,
            0.05,
            xy=np.zeros((2, 2)),
            speed=np.zeros(2),
            steer=np.zeros(2),
            cte=np.zeros(2),
            progress_m=np.zeros(2),
        )
    with pytest.raises(ValueError, match="outcome"):
        Trajectory(ROAD, 0.05, outcome="crashed")
    with pytest.raises(ValueError, match="shape"):
        Trajectory(ROAD, 0.05, rows=np.zeros((3, 4)))
