"""Property-based checks (hypothesis): whatever a user passes, only the documented exceptions come out,
and nothing hangs. Modest example counts and deadlines keep the suite fast."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.data import CollectConfig, Dataset, DatasetError, collect
from agents.expert import ExpertConfig
from agents.model import Architecture, CheckpointError, NetConfig, SteeringPolicy
from agents.training import TrainConfig, train
from envs import CarParams, Disturbances, Road, RoadError, RoadFollowConfig, RoadFollowEnv, limits, load_roads
from sims.commands import RoadSelection
from sims.explain import ExplainConfig
from sims.viewer_cli import WindowConfig

FAST = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-200, 200),
    st.integers(-(10**400), 10**400),
    st.integers(-300, 300),
)
anything = st.one_of(numbers, st.booleans(), st.none(), st.text(max_size=6), st.binary(max_size=4))
json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.floats(allow_nan=False), st.integers(-(10**30), 10**30), st.text(max_size=8)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=40,
)
points = st.one_of(
    st.lists(st.lists(numbers, min_size=2, max_size=2), max_size=12),
    st.lists(st.lists(anything, max_size=3), max_size=6),
    anything,
)


def _check_road(road: Road) -> None:
    assert np.all(np.isfinite(road.points)) and np.all(np.abs(road.points) <= limits.MAX_COORDINATE + 1)
    assert limits.MIN_ROAD_WIDTH <= road.width <= limits.MAX_ROAD_WIDTH
    assert limits.MIN_ROAD_LENGTH * 0.99 <= road.length <= limits.MAX_ROAD_LENGTH * 1.01
    assert np.all(np.isfinite(road.headings)) and np.all(np.isfinite(road.curvatures))


@FAST
@given(
    points=points,
    width=st.one_of(numbers, anything),
    closed=st.one_of(st.booleans(), anything),
    name=st.one_of(st.text(max_size=10), anything),
)
def test_from_points_raises_only_road_error(points, width, closed, name):
    try:
        road = Road.from_points(points, width, closed, name)
    except RoadError as exc:
        assert "\n" not in str(exc)
    else:
        _check_road(road)


@FAST
@given(
    polyline=st.lists(st.tuples(st.floats(-300, 300), st.floats(-300, 300)), min_size=2, max_size=40),
    width=st.floats(1.0, 20.0),
    closed=st.booleans(),
)
def test_from_points_on_arbitrary_polylines_gives_a_valid_road_or_a_reason(polyline, width, closed):
    try:
        road = Road.from_points(polyline, width, closed)
    except RoadError as exc:
        assert str(exc).startswith("road 'road': ")
    else:
        _check_road(road)


@FAST
@given(value=json_values)
def test_load_roads_on_arbitrary_json_raises_only_road_error(value, tmp_path):
    path = tmp_path / "roads.json"
    path.write_text(json.dumps({"roads": value} if isinstance(value, list) else value))
    try:
        roads = load_roads(path)
    except RoadError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        for road in roads:
            _check_road(road)


@FAST
@given(content=st.binary(max_size=300))
def test_load_roads_on_arbitrary_bytes_raises_only_road_error(content, tmp_path):
    path = tmp_path / "roads.json"
    path.write_bytes(content)
    with pytest.raises(RoadError, match="roads.json"):
        load_roads(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("props")
    data = collect(CollectConfig(num_roads=1, max_steps=40))
    data.save(d / "data.npz")
    train(data, None, TrainConfig(epochs=1, net=Architecture(hidden=(4,)), print_every=0), checkpoint=d / "m.pt")
    return d


def _corrupt(data: bytes, edits, cut) -> bytes:
    b = bytearray(data)
    for pos, value in edits:
        b[pos % len(b)] = value
    return bytes(b[: max(0, len(b) - cut)])


corruption = dict(
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.just(0), st.integers(0, 5000)),
)


@FAST
@given(**corruption)
def test_dataset_loading_on_corrupted_bytes_raises_only_dataset_error(files, tmp_path, edits, cut):
    path = tmp_path / "bad.npz"
    path.write_bytes(_corrupt((files / "data.npz").read_bytes(), edits, cut))
    try:
        Dataset.load(path)
    except DatasetError as exc:
        assert str(path) in str(exc)


@FAST
@given(**corruption)
def test_checkpoint_loading_on_corrupted_bytes_raises_only_checkpoint_error(files, tmp_path, edits, cut):
    path = tmp_path / "bad.pt"
    path.write_bytes(_corrupt((files / "m.pt").read_bytes(), edits, cut))
    try:
        policy = SteeringPolicy.load(path)
    except CheckpointError as exc:
        assert str(path) in str(exc)
    else:
        policy.act(np.zeros(policy.net.config.obs_shape, dtype=np.float32))


CONFIGS = [
    RoadFollowConfig,
    Disturbances,
    CarParams,
    CollectConfig,
    TrainConfig,
    ExpertConfig,
    Architecture,
    RoadSelection,
    WindowConfig,
    ExplainConfig,
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.__name__)
def test_every_config_constructor_raises_only_value_or_type_errors(config):
    import dataclasses

    names = [f.name for f in dataclasses.fields(config) if f.name not in ("car", "disturbances", "env", "net")]
    field_values = st.one_of(anything, st.lists(numbers, max_size=3), st.lists(st.text(max_size=3), max_size=2))

    @settings(max_examples=80, deadline=2000)
    @given(kwargs=st.dictionaries(st.sampled_from(names), field_values, max_size=4))
    def construct(kwargs):
        try:
            config(**kwargs)
        except (ValueError, TypeError) as exc:
            assert "\n" not in str(exc)

    construct()


@FAST
@given(
    observation=st.sampled_from(["features", "rays"]),
    shape=st.lists(st.integers(-3, 400), max_size=4),
    hidden=st.lists(st.integers(-5, 10**7), max_size=4),
)
def test_net_config_raises_only_value_errors(observation, shape, hidden):
    try:
        NetConfig(observation, tuple(shape), Architecture(tuple(hidden)))
    except ValueError:
        pass


@pytest.fixture(scope="module")
def env():
    env = RoadFollowEnv()
    env.reset(seed=0)
    return env


actions = st.one_of(
    anything,
    st.lists(anything, max_size=3),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=1),
    st.lists(st.floats(-1e308, 1e308), min_size=1, max_size=1),
)


@FAST
@given(action=actions)
def test_env_step_on_arbitrary_actions_raises_only_value_error(env, action):
    try:
        obs, reward, terminated, truncated, info = env.step(action)
    except ValueError:
        return
    assert np.all(np.isfinite(obs)) and math.isfinite(reward)
    if terminated or truncated:
        env.reset(seed=1)
