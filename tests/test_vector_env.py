"""Tests of RoadFollowVectorEnv (envs/road_follow_vector.py): car i equals a single env seeded s + i."""

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs  # noqa: F401  (registers the environment)
from envs import ENV_ID, INFO_KEYS, Disturbances, Road, RoadFollowVectorEnv

DISTURBANCES = Disturbances(steering_bias=0.02, crosswind=0.5, crosswind_gust=0.3, observation_noise=0.1)
NUM_ENVS = 4


def make_vec(num_envs=NUM_ENVS, **kwargs):
    return gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


def random_actions(seed: int, steps: int, num_envs: int = NUM_ENVS, size: int = 1) -> np.ndarray:
    """``[steps, num_envs, size]`` wandering steering (sometimes beyond full lock), so cars leave the road."""
    return np.random.default_rng(seed).uniform(-1.3, 1.3, (steps, num_envs, size)).astype(np.float32)


def run_vector(env, seed: int, actions: np.ndarray) -> list:
    """``(obs, reward, terminated, truncated, info)`` of the reset and each step; info arrays only."""
    obs, info = env.reset(seed=seed)
    n = env.num_envs
    records = [(obs, np.zeros(n), np.zeros(n, bool), np.zeros(n, bool), info)]
    for a in actions:
        records.append(env.step(a))
    return records


def run_singles(seed: int, actions: np.ndarray, max_episode_steps=None, **kwargs) -> list:
    """The same as :func:`run_vector` with ``num_envs`` single envs seeded ``seed + i``, stacked.

    Next-step autoreset: the step after an episode ends, a car reports the reset
    observation and info, reward 0, terminated and truncated False.
    """
    n = actions.shape[1]
    singles = [gym.make(ENV_ID, max_episode_steps=max_episode_steps, **kwargs) for _ in range(n)]
    first = [env.reset(seed=seed + i) for i, env in enumerate(singles)]
    records = [_stack([o for o, _ in first], np.zeros(n), np.zeros(n, bool), np.zeros(n, bool), [i for _, i in first])]
    done = [False] * n
    for a in actions:
        out = []
        for i, env in enumerate(singles):
            if done[i]:
                obs, info = env.reset()
                out.append((obs, 0.0, False, False, info))
                done[i] = False
            else:
                obs, reward, terminated, truncated, info = env.step(a[i])
                out.append((obs, reward, terminated, truncated, info))
                done[i] = terminated or truncated
        obs, rew, term, trunc, infos = zip(*out)
        records.append(_stack(obs, np.array(rew), np.array(term), np.array(trunc), infos))
    return records


def _stack(obs, reward, terminated, truncated, infos):
    info = {k: np.array([inf[k] for inf in infos], dtype=object if k == "road" else None) for k in INFO_KEYS}
    return np.stack(obs), reward, terminated, truncated, info


def assert_vector_equals_singles(vector: list, singles: list) -> None:
    assert len(vector) == len(singles)
    for t, (v, s) in enumerate(zip(vector, singles)):
        v_obs, v_rew, v_term, v_trunc, v_info = v
        s_obs, s_rew, s_term, s_trunc, s_info = s
        assert v_obs.dtype == s_obs.dtype
        assert np.array_equal(v_obs, s_obs), f"observations differ at step {t}"
        assert np.array_equal(v_rew, s_rew), f"rewards differ at step {t}"
        assert np.array_equal(v_term, s_term), f"terminations differ at step {t}"
        assert np.array_equal(v_trunc, s_trunc), f"truncations differ at step {t}"
        assert {k for k in v_info if not k.startswith("_")} == set(INFO_KEYS)
        for k in INFO_KEYS:
            assert np.array_equal(v_info[k], s_info[k]), f"info[{k!r}] differs at step {t}"
            assert np.all(v_info[f"_{k}"])


def count_episode_ends(records: list) -> int:
    return int(sum(np.sum(r[2] | r[3]) for r in records))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(families=("hairpin",)),
        dict(observation="rays", families=("hairpin", "twisty")),
        dict(families=("hairpin", "twisty"), disturbances=DISTURBANCES, start_lateral_offset=1.0),
        dict(observation="rays", families=("hairpin",), disturbances=DISTURBANCES, start_heading_offset=0.2),
        dict(throttle=True, families=("gentle", "hairpin"), disturbances=DISTURBANCES),
    ],
    ids=["features", "rays", "features-disturbed", "rays-disturbed", "throttle-disturbed"],
)
def test_vector_env_equals_single_envs(kwargs):
    size = 2 if kwargs.get("throttle") else 1
    actions = random_actions(0, 300, size=size)
    vector = run_vector(make_vec(**kwargs), seed=100, actions=actions)
    singles = run_singles(100, actions, **kwargs)
    assert count_episode_ends(vector) >= 3 * NUM_ENVS, "several episodes of every car should end"
    assert_vector_equals_singles(vector, singles)


def test_autoresets_on_roads_driven_before_equal_single_envs():
    """With a pool of three roads most autoresets draw a road a car drove before, which starts in
    one kernel (``Fleet.restart``); the episodes are those of single envs."""
    kwargs = dict(families=("hairpin", "twisty"), road_indices=(4, 9, 17), start_lateral_offset=0.5)
    actions = random_actions(2, 300)
    env = make_vec(**kwargs)
    vector = run_vector(env, seed=21, actions=actions)
    assert count_episode_ends(vector) >= 3 * NUM_ENVS
    assert (env.unwrapped.fleet._picks >= 0).sum() >= 4  # picks remembered, so restarts took the kernel
    assert_vector_equals_singles(vector, run_singles(21, actions, **kwargs))


def test_a_reset_remembers_the_roads_it_drew_but_not_those_options_chose():
    """Autoresets find a road stored by the reset that drew it (``envs.episode.episode_picks``),
    but a road chosen through options is never remembered as a draw's."""
    env = make_vec(6, families=("hairpin", "twisty"), road_indices=(4, 9, 17))
    fleet = env.unwrapped.fleet
    env.reset(seed=5, options={"road_index": [4, 9, 17, 4, 9, 17]})
    assert (fleet._picks_table() == -1).all()  # every road chosen by the options
    env.reset(seed=6)
    table = fleet._picks_table()
    names = fleet.roads.stored_names
    families = env.unwrapped.config.families
    remembered = [(f, p) for f in range(len(families)) for p in range(3) if table[f, p] >= 0]
    assert len(remembered) >= 2
    for f, p in remembered:  # each remembered pick holds the record of that very road
        assert names[table[f, p]] == f"train/{families[f]}/{(4, 9, 17)[p]}"
    env.reset(seed=7, options={"family": ["twisty"] * 6})  # the family chosen: remembered picks stay as they were
    assert np.array_equal(fleet._picks_table(), table)


def test_autoresets_draw_from_the_cars_own_generators_whatever_the_table_drew_from_last():
    """``Fleet.restart`` draws from the generator table without comparing its rows to the cars'
    generators; a table made to draw from another generator in between (``uniforms`` is public)
    is made the cars' own again first, so the episodes are those of a twin that never did it."""
    made = [make_vec(4, families=("hairpin", "twisty"), road_indices=(4, 9, 17)) for _ in range(2)]
    for env in made:
        env.reset(seed=12)
    vec, twin = made
    stranger = np.random.default_rng(99)
    vec.unwrapped.fleet.generators.uniforms(np.array([0, 2]), [stranger, stranger], 4)
    actions = random_actions(4, 300)
    ends = 0
    for a in actions:
        got, want = vec.step(a), twin.step(a)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[2], want[2])
        ends += int(np.sum(got[2] | got[3]))
    assert ends >= 4


def test_autoresets_equal_single_envs_when_the_road_tables_are_rebuilt(monkeypatch):
    """Cars meeting road after road make the fleet rebuild its road tables from the roads in use,
    which renumbers their records: remembered picks must not point at the old numbers."""
    monkeypatch.setattr(envs.road_batch, "DEAD_ROWS_BYTES", 0)  # rebuild as soon as dead rows outnumber live ones 3:1
    kwargs = dict(families=("hairpin", "gentle"), num_roads=40, start_heading_offset=0.2)
    actions = random_actions(3, 500)
    env = make_vec(**kwargs)
    env.unwrapped.fleet.roads.expected_roads = 0  # the tables grow step by step (and rebuild when they do)
    vector = run_vector(env, seed=8, actions=actions)
    fleet = env.unwrapped.fleet
    assert fleet.roads.layout >= 2, "the tables should have been rebuilt"
    assert (fleet._picks >= 0).sum() >= 2  # and picks remembered again since
    assert count_episode_ends(vector) >= 5 * NUM_ENVS
    assert_vector_equals_singles(vector, run_singles(8, actions, **kwargs))


def test_image_vector_env_equals_single_envs():
    kwargs = dict(observation="image", families=("hairpin",), disturbances=DISTURBANCES)
    actions = random_actions(1, 120, num_envs=2)
    vector = run_vector(make_vec(num_envs=2, **kwargs), seed=5, actions=actions)
    singles = run_singles(5, actions, **kwargs)
    assert count_episode_ends(vector) >= 2
    assert_vector_equals_singles(vector, singles)


def test_truncation_matches_single_env_time_limit():
    kwargs = dict(families=("gentle",))
    actions = np.zeros((100, NUM_ENVS, 1), dtype=np.float32)  # straight ahead: early episodes end by truncation
    vector = run_vector(make_vec(max_episode_steps=30, **kwargs), seed=7, actions=actions)
    singles = run_singles(7, actions, max_episode_steps=30, **kwargs)
    truncated = np.array([r[3] for r in vector])
    assert truncated[30].all() and not truncated[:30].any()  # every car is truncated at step 30
    assert not truncated[31].any()  # ... and reset on step 31
    assert_vector_equals_singles(vector, singles)


def test_autoreset_step_returns_the_reset_observation():
    env = make_vec(families=("hairpin",))
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    env.reset(seed=0)
    actions = random_actions(3, 300)
    previous_done = np.zeros(NUM_ENVS, dtype=bool)
    seen = 0
    for a in actions:
        _, reward, terminated, truncated, info = env.step(a)
        if previous_done.any():
            seen += previous_done.sum()
            assert np.all(reward[previous_done] == 0.0)
            assert not np.any(terminated[previous_done] | truncated[previous_done])
            assert np.all(info["progress_m"][previous_done] == 0.0)
            assert np.all(info["off_road"][previous_done] == False)  # noqa: E712
        previous_done = terminated | truncated
    assert seen >= NUM_ENVS


def test_vector_env_is_deterministic_and_pickles():
    kwargs = dict(families=("hairpin",), disturbances=DISTURBANCES)
    actions = random_actions(4, 200)
    env = make_vec(**kwargs)
    first = run_vector(env, seed=3, actions=actions[:100])
    copy = pickle.loads(pickle.dumps(env))
    rest_a = [env.step(a) for a in actions[100:]]
    rest_b = [copy.step(a) for a in actions[100:]]
    for a, b in zip(rest_a, rest_b):
        for x, y in zip(a[:4], b[:4]):
            assert np.array_equal(x, y)
        assert all(np.array_equal(a[4][k], b[4][k]) for k in INFO_KEYS)
    again = run_vector(make_vec(**kwargs), seed=3, actions=actions[:100])
    for a, b in zip(first, again):
        assert all(np.array_equal(x, y) for x, y in zip(a[:4], b[:4]))


def test_observations_stay_in_the_batched_space():
    for observation in ("features", "rays"):
        env = make_vec(
            observation=observation,
            families=("hairpin", "twisty"),
            disturbances=DISTURBANCES,
            start_lateral_offset=2.0,
            start_heading_offset=0.3,
        )
        records = run_vector(env, seed=8, actions=random_actions(8, 200))
        for obs, *_ in records:
            assert np.all(np.isfinite(obs))
            assert env.observation_space.contains(obs)


def test_reset_options_per_car_and_reset_mask():
    road = Road.from_points([[0.0, 0.0], [300.0, 0.0]], 7.0, name="straight")
    env = make_vec(families=("twisty",))
    _, info = env.reset(seed=0, options={"road_index": [0, 1, 2, 3]})
    assert list(info["road"]) == [f"train/twisty/{i}" for i in range(4)]
    _, info = env.reset(options={"road": road, "start_offset": (1.0, 0.0), "reset_mask": [False, True, False, True]})
    assert list(info["road"]) == ["train/twisty/0", "straight", "train/twisty/2", "straight"]
    np.testing.assert_allclose(info["cte"][[1, 3]], 1.0)
    with pytest.raises(ValueError, match="one entry per car"):
        env.reset(options={"road_index": [0, 1]})
    with pytest.raises(ValueError, match="reset_mask must have 4 entries"):
        env.reset(options={"reset_mask": [True]})


def test_bad_actions_and_arguments():
    env = make_vec()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        env.step(np.array([[0.0], [np.nan], [0.0], [0.0]]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        env.step(np.array([[0.0], [0.0], [np.inf], [0.0]]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((4, 2)))
    with pytest.raises(TypeError, match="observaton"):
        make_vec(observaton="rays")
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"roadindex": 1})
    with pytest.raises(ValueError, match="num_envs"):
        RoadFollowVectorEnv(num_envs=0)
    with pytest.raises(RuntimeError, match="reset"):
        RoadFollowVectorEnv(num_envs=2).step(np.zeros((2, 1)))


def test_out_of_range_actions_are_clipped():
    a = run_vector(make_vec(), seed=1, actions=np.full((30, NUM_ENVS, 1), 5.0))
    b = run_vector(make_vec(), seed=1, actions=np.full((30, NUM_ENVS, 1), 1.0))
    for x, y in zip(a, b):
        assert all(np.array_equal(p, q) for p, q in zip(x[:4], y[:4]))


def test_vector_equals_singles_around_a_closed_loop_and_on_given_roads():
    """Cars on roads given through options: a closed loop driven round to the end of its lap
    (progress across the seam, which ends the episode) and an open road with a start offset,
    on the batched path and the single car's scalar path alike."""
    theta = np.linspace(0.0, 2 * np.pi, 400, endpoint=False)
    loop = Road.from_points(30.0 * np.column_stack([np.cos(theta), np.sin(theta)]), 8.0, closed=True, name="loop")
    arc = Road.from_points(np.column_stack([np.linspace(0, 300, 300), 20 * np.sin(np.linspace(0, 6, 300))]), 7.0)
    roads = [loop, arc, loop]
    options = {"road": roads, "start_offset": (0.4, -0.05)}
    # steer for the loop's curvature (tan(d) = wheelbase / radius), with a little wander
    steer = np.arctan(2.7 / 30.0) / 0.6
    actions = (steer + np.random.default_rng(5).normal(0.0, 0.02, (450, 3, 1))).astype(np.float32)
    vec = make_vec(3, max_episode_steps=2000)
    obs, info = vec.reset(seed=9, options=options)
    singles = [gym.make(ENV_ID, max_episode_steps=2000) for _ in roads]
    for i, env in enumerate(singles):
        s_obs, s_info = env.reset(seed=9 + i, options={"road": roads[i], "start_offset": (0.4, -0.05)})
        assert np.array_equal(obs[i], s_obs)
    lap_done = False
    done = [False] * 3
    for a in actions:
        obs, reward, terminated, truncated, info = vec.step(a)
        for i, env in enumerate(singles):
            if done[i]:
                continue  # the vector car autoresets onto a drawn road; the given-road episode is over
            s_obs, s_reward, s_term, s_trunc, s_info = env.step(a[i])
            assert np.array_equal(obs[i], s_obs) and reward[i] == s_reward
            assert terminated[i] == s_term and truncated[i] == s_trunc
            assert all(np.array_equal(info[k][i], s_info[k]) for k in INFO_KEYS)
            if i == 0 and s_term:
                lap_done = bool(s_info["finished"]) and s_info["progress_m"] >= loop.length - 1e-6
            done[i] = s_term or s_trunc
    assert lap_done, "the first loop car should have finished its lap"


def test_max_episode_steps_can_be_changed_between_steps():
    env = RoadFollowVectorEnv(NUM_ENVS, families=("gentle",), max_episode_steps=50)
    env.reset(seed=0)
    env.max_episode_steps = 3
    truncated = [env.step(np.zeros((NUM_ENVS, 1)))[3].all() for _ in range(3)]
    assert truncated == [False, False, True]
    with pytest.raises(ValueError, match="max_episode_steps"):
        env.max_episode_steps = 0
