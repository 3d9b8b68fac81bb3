"""Tests of the single environment RoadFollowEnv (envs/road_follow.py) through gymnasium.make."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # before anything imports pygame

import math
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs import ENV_ID, INFO_KEYS, OBSERVATION_TYPES, Disturbances, Road, RoadFollowConfig, RoadFollowEnv
from envs.car import X, Y
from envs.fleet import FLAG_KEYS

DISTURBANCES = Disturbances(steering_bias=0.02, crosswind=0.5, crosswind_gust=0.3, observation_noise=0.1)


def straight_road(length=200.0, width=7.0) -> Road:
    return Road.from_points([[0.0, 0.0], [length, 0.0]], width, name="straight")


def circle_road(radius=50.0, width=7.0) -> Road:
    theta = np.linspace(0.0, 2 * math.pi, 2000, endpoint=False)
    return Road.from_points(radius * np.column_stack([np.cos(theta), np.sin(theta)]), width, closed=True, name="circle")


def spiral_road(turns=3, arm_gap=12.0, r0=15.0, width=6.0) -> Road:
    theta = np.linspace(0.0, 2 * math.pi * turns, 6000)
    r = r0 + arm_gap * theta / (2 * math.pi)
    return Road.from_points(np.column_stack([r * np.cos(theta), r * np.sin(theta)]), width, name="spiral")


def hairpin_road(leg=60.0, gap=8.0, width=5.0) -> Road:
    r = gap / 2
    out = np.column_stack([np.linspace(0.0, leg, 121), np.zeros(121)])
    theta = np.linspace(-math.pi / 2, math.pi / 2, 200)[1:-1]
    bend = np.column_stack([leg + r * np.cos(theta), r + r * np.sin(theta)])
    back = np.column_stack([np.linspace(leg, 0.0, 121), np.full(121, gap)])
    return Road.from_points(np.vstack([out, bend, back]), width, name="hairpin")


def rollout(env, seed: int, actions: np.ndarray) -> list:
    """Reset with ``seed``, step through ``actions`` (resetting without a seed when an episode ends).

    Returns one record per reset or step: ``(kind, obs, reward, terminated, truncated, info)``.
    """
    obs, info = env.reset(seed=seed)
    records = [("reset", obs, 0.0, False, False, info)]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        records.append(("step", obs, reward, terminated, truncated, info))
        if terminated or truncated:
            obs, info = env.reset()
            records.append(("reset", obs, 0.0, False, False, info))
    return records


def assert_same_records(a: list, b: list) -> None:
    assert len(a) == len(b)
    for n, (ra, rb) in enumerate(zip(a, b)):
        assert ra[0] == rb[0], n
        assert np.array_equal(ra[1], rb[1]), f"observations differ at record {n}"
        assert ra[1].dtype == rb[1].dtype
        assert ra[2:5] == rb[2:5], f"reward/terminated/truncated differ at record {n}"
        assert ra[5] == rb[5], f"infos differ at record {n}"


def random_actions(seed: int, steps: int, size: int = 1) -> np.ndarray:
    """Steering that wanders (and sometimes asks for more than full lock), so cars leave the road."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.3, 1.3, (steps, size)).astype(np.float32)


def episode_ends(records: list) -> int:
    return sum(1 for r in records if r[0] == "step" and (r[3] or r[4]))


# ------------------------------------------------------------ registration
def test_make_with_module_prefix():
    env = gym.make("envs:roadschool/RoadFollow-v0")
    assert isinstance(env.unwrapped, RoadFollowEnv)
    assert env.spec.max_episode_steps == envs.MAX_EPISODE_STEPS
    env.close()


@pytest.mark.parametrize("observation", OBSERVATION_TYPES)
@pytest.mark.parametrize("render_mode", [None, "rgb_array"])
def test_check_env(observation, render_mode):
    env = gym.make(ENV_ID, observation=observation, render_mode=render_mode)
    check_env(env.unwrapped, skip_render_check=render_mode is None)
    env.close()


@pytest.mark.parametrize("throttle", [False, True])
def test_check_env_with_throttle_and_disturbances(throttle):
    env = gym.make(ENV_ID, throttle=throttle, disturbances=DISTURBANCES, start_lateral_offset=1.0)
    assert env.action_space.shape == ((2,) if throttle else (1,))
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_render_returns_a_frame_for_both_cameras():
    env = gym.make(ENV_ID, render_mode="rgb_array")
    env.reset(seed=3)
    for _ in range(20):
        env.step(np.zeros(1))
    for camera in ("follow", "road"):
        env.unwrapped.camera = camera
        frame = env.render()
        assert frame.shape == (600, 600, 3) and frame.dtype == np.uint8
    assert len(env.unwrapped.trail) == 21
    env.close()


# ------------------------------------------------------------ determinism
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(families=("hairpin",)),
        dict(families=("twisty",), disturbances=DISTURBANCES),
        dict(observation="rays", families=("hairpin", "twisty"), start_lateral_offset=1.5, start_heading_offset=0.2),
        dict(throttle=True, disturbances=DISTURBANCES, families=("gentle", "hairpin")),
    ],
    ids=["hairpin", "disturbed", "rays-offsets", "throttle-disturbed"],
)
def test_equally_seeded_rollouts_are_identical(kwargs):
    size = 2 if kwargs.get("throttle") else 1
    actions = random_actions(1, 300, size)
    first = rollout(gym.make(ENV_ID, **kwargs), seed=42, actions=actions)
    second = rollout(gym.make(ENV_ID, **kwargs), seed=42, actions=actions)
    assert episode_ends(first) >= 2, "the rollout should cross episode ends"
    assert_same_records(first, second)


def test_different_seeds_give_different_episodes():
    actions = random_actions(1, 50)
    a = rollout(gym.make(ENV_ID, disturbances=DISTURBANCES), seed=1, actions=actions)
    b = rollout(gym.make(ENV_ID, disturbances=DISTURBANCES), seed=2, actions=actions)
    assert not all(np.array_equal(ra[1], rb[1]) for ra, rb in zip(a, b))


def test_reset_with_seed_repeats_the_episode():
    env = gym.make(ENV_ID, disturbances=DISTURBANCES, families=("hairpin", "twisty"))
    actions = random_actions(5, 100)
    first = rollout(env, seed=9, actions=actions)
    second = rollout(env, seed=9, actions=actions)  # same env object, reseeded
    assert_same_records(first, second)


@pytest.mark.parametrize("render_mode", [None, "rgb_array"])
@pytest.mark.parametrize("disturbances", [Disturbances(), DISTURBANCES], ids=["calm", "disturbed"])
def test_pickled_env_continues_identically(render_mode, disturbances):
    env = gym.make(ENV_ID, render_mode=render_mode, families=("hairpin",), disturbances=disturbances)
    actions = random_actions(7, 200)
    env.reset(seed=11)
    for a in actions[:30]:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    if render_mode is not None:
        env.render()  # a live renderer must not stop the pickling
    copy = pickle.loads(pickle.dumps(env))

    def continue_from(e):
        records = []
        for a in actions[30:]:
            obs, reward, terminated, truncated, info = e.step(a)
            records.append(("step", obs, reward, terminated, truncated, info))
            if terminated or truncated:
                obs, info = e.reset()
                records.append(("reset", obs, 0.0, False, False, info))
        return records

    original, copied = continue_from(env), continue_from(copy)
    assert episode_ends(original) >= 1
    assert_same_records(original, copied)
    if render_mode is not None:
        assert np.array_equal(env.render(), copy.render())
    env.close()
    copy.close()


# ---------------------------------------------------------------- actions
@pytest.mark.parametrize("bad", [[float("nan")], [float("inf")], [-float("inf")], np.array([np.nan], dtype=np.float32)])
def test_non_finite_actions_raise(bad):
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        env.step(bad)


@pytest.mark.parametrize("observation", ["features", "rays"])
@pytest.mark.parametrize("threaded", [False, True])
def test_a_non_finite_action_moves_no_car(observation, threaded):
    """The step kernels check every action before changing anything (the serial ones inside the
    loop's function, the threaded ones before the threads start): after the ValueError the cars
    go on exactly as twins that never saw the bad action."""
    made = [envs.RoadFollowVectorEnv(6, observation=observation) for _ in range(2)]
    for env in made:
        env.fleet.parallel_from = 1 if threaded else 10**9
        env.reset(seed=3)
    vec, twin = made
    rng = np.random.default_rng(1)
    for step in range(40):
        actions = rng.uniform(-1, 1, (6, 1))
        if step % 10 == 5:
            bad = actions.copy()
            bad[step % 6, 0] = np.nan
            with pytest.raises(ValueError, match="NaN or infinite"):
                vec.step(bad)
            with pytest.raises(ValueError, match="NaN or infinite"):
                vec.fleet.step(bad)  # the fleet itself, past the env's own check
        a, b = vec.step(actions), twin.step(actions)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), step
    single, single_twin = gym.make(ENV_ID, observation=observation), gym.make(ENV_ID, observation=observation)
    single.reset(seed=4)
    single_twin.reset(seed=4)
    with pytest.raises(ValueError, match="NaN or infinite"):
        single.step(np.array([np.inf], dtype=np.float32))
    for _ in range(5):
        a, b = single.step(np.array([0.3])), single_twin.step(np.array([0.3]))
        assert np.array_equal(a[0], b[0]) and a[1] == b[1]


@pytest.mark.parametrize("bad", [np.zeros(2), np.zeros((2, 2)), np.zeros(0), [[0.1], [0.2]]])
def test_wrongly_shaped_actions_raise(bad):
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(bad)


def test_throttle_action_needs_two_numbers():
    env = gym.make(ENV_ID, throttle=True)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        env.step(np.zeros(1))
    with pytest.raises(ValueError, match="NaN or infinite"):
        env.step([0.0, float("nan")])


@pytest.mark.parametrize("big, limit", [(5.0, 1.0), (-7.5, -1.0)])
def test_out_of_range_actions_are_clipped(big, limit):
    a = rollout(gym.make(ENV_ID), seed=4, actions=np.full((40, 1), big))
    b = rollout(gym.make(ENV_ID), seed=4, actions=np.full((40, 1), limit))
    assert_same_records(a, b)


def test_step_before_reset_raises():
    env = RoadFollowEnv()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1))


# ----------------------------------------------------------- observations
@pytest.mark.parametrize("observation", OBSERVATION_TYPES)
@pytest.mark.parametrize("disturbances", [Disturbances(), DISTURBANCES], ids=["calm", "disturbed"])
def test_observations_stay_in_their_space(observation, disturbances):
    env = gym.make(
        ENV_ID,
        observation=observation,
        families=("hairpin", "twisty"),
        start_lateral_offset=2.0,
        start_heading_offset=0.3,
        disturbances=disturbances,
    )
    space = env.observation_space
    records = rollout(env, seed=21, actions=random_actions(2, 300))
    assert episode_ends(records) >= 2
    for record in records:
        obs = record[1]
        assert obs.dtype == space.dtype and obs.shape == space.shape
        assert np.all(np.isfinite(obs))
        assert space.contains(obs), f"{record[0]} observation outside {space}"


@pytest.mark.parametrize("lateral", [-2.0, 1.0, 2.0])
def test_features_describe_the_car(lateral):
    """On a straight road along +x the features are cte, 0 heading error, speed, steer
    and the centreline points ahead at (d, -cte) in the car's frame."""
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=0, options={"road": straight_road(), "start_offset": (lateral, 0.0)})
    cfg = env.unwrapped.config
    assert obs[0] == pytest.approx(lateral)
    assert obs[1] == pytest.approx(0.0)
    assert obs[2] == pytest.approx(cfg.target_speed)
    assert obs[3] == 0.0
    np.testing.assert_allclose(obs[4::2], cfg.lookahead_distances, atol=1e-5)
    np.testing.assert_allclose(obs[5::2], -lateral, atol=1e-5)


def expected_features_ahead(fleet, i: int, distances) -> np.ndarray:
    """The centreline ``d`` metres ahead of car ``i``'s projection, in the car's frame, from Road.point_at."""
    x, y, heading = fleet.state[i, :3]
    road = fleet.roads.roads[i]
    points = road.point_at(fleet.s[i] + np.asarray(distances))
    dx, dy = points[:, 0] - x, points[:, 1] - y
    c, sn = math.cos(heading), math.sin(heading)
    return np.column_stack([c * dx + sn * dy, c * dy - sn * dx]).ravel()


@pytest.mark.parametrize(
    "road",
    [
        Road.from_points(
            12.0 * np.column_stack([np.sin(np.linspace(0, 1, 40)), 1 - np.cos(np.linspace(0, 1, 40))]), 6.0
        ),
        Road.from_points(
            3.0
            * np.column_stack(
                [
                    np.cos(np.linspace(0, 2 * math.pi, 60, endpoint=False)),
                    np.sin(np.linspace(0, 2 * math.pi, 60, endpoint=False)),
                ]
            ),
            2.0,
            closed=True,
        ),
    ],
    ids=["short-open-arc", "loop-shorter-than-look-ahead"],
)
def test_features_ahead_continue_past_an_open_end_and_wrap_around_a_small_loop(road):
    """Beyond an open road's end the points ahead continue its last segment straight; on a
    closed loop shorter than the farthest look-ahead (25 m here, 18.8 m loop) they wrap around
    more than once. Checked with the car placed all along the road, for a fleet of one car and
    of three."""
    cfg = RoadFollowConfig()
    single = gym.make(ENV_ID).unwrapped
    single.reset(seed=0, options={"road": road, "start_offset": (0.0, 0.0)})
    vec = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point").unwrapped
    vec.reset(seed=0, options={"road": road, "start_offset": (0.0, 0.0)})
    for s in np.linspace(0.0, road.length * 0.999, 9):
        for fleet in (single.fleet, vec.fleet):
            # the car on the centreline at s (a little to its left), heading along the road
            fleet.s[:] = s
            fleet.state[:, :2] = road.point_at(s) + [0.2, -0.1]
            fleet.state[:, 2] = 0.3
        obs = single.fleet.observe()[0]
        np.testing.assert_allclose(
            obs[4:], expected_features_ahead(single.fleet, 0, cfg.lookahead_distances), atol=2e-4
        )
        vobs = vec.fleet.observe()
        for i in range(3):
            np.testing.assert_allclose(
                vobs[i, 4:], expected_features_ahead(vec.fleet, i, cfg.lookahead_distances), atol=2e-4
            )


def test_rays_see_the_road_edges():
    env = gym.make(ENV_ID, observation="rays", ray_angles_deg=(-90.0, 0.0, 90.0))
    obs, _ = env.reset(seed=0, options={"road": straight_road(width=8.0), "start_offset": (1.0, 0.0)})
    right, ahead, left = obs
    assert left == pytest.approx(3.0, abs=1e-5)  # 1 m left of the centre of an 8 m road
    assert right == pytest.approx(5.0, abs=1e-5)
    assert ahead == pytest.approx(env.unwrapped.config.ray_range)


def test_image_shows_the_road_ahead():
    env = gym.make(ENV_ID, observation="image")
    obs, _ = env.reset(seed=0, options={"road": straight_road(), "start_offset": (0.0, 0.0)})
    img = obs[:, :, 0]
    size = img.shape[0]
    assert img[size // 4, 0] == 0  # grass far to the left
    assert img[size // 4, size // 2] == 255  # the centreline ahead of the car
    assert img[size // 4, size // 2 + 3] == 110  # asphalt next to it


# -------------------------------------------------------- cross-track error
@pytest.mark.parametrize("lateral", [1.0, -2.0])
def test_cross_track_error_on_a_straight_road(lateral):
    env = gym.make(ENV_ID)
    _, info = env.reset(seed=0, options={"road": straight_road(), "start_offset": (lateral, 0.0)})
    assert info["cte"] == pytest.approx(lateral)
    assert env.unwrapped.car_state[Y] == pytest.approx(lateral)
    _, _, _, _, info = env.step(np.zeros(1))
    assert info["cte"] == pytest.approx(lateral)
    assert info["progress_m"] == pytest.approx(env.unwrapped.config.target_speed * env.unwrapped.config.dt)


def test_cross_track_error_on_a_circle_is_positive_inside():
    env = gym.make(ENV_ID)
    road = circle_road(radius=50.0)
    _, info = env.reset(seed=0, options={"road": road, "start_offset": (2.0, 0.0)})
    state = env.unwrapped.car_state
    assert math.hypot(state[X], state[Y]) == pytest.approx(48.0, abs=1e-3)
    assert info["cte"] == pytest.approx(2.0, abs=2e-3)
    # drive the circle of radius 48 counter-clockwise: the car stays 2 m inside
    delta = math.atan(env.unwrapped.config.car.wheelbase / 48.0)
    env.unwrapped.fleet.state[0, 4] = delta
    for _ in range(200):
        _, _, terminated, _, info = env.step([delta / env.unwrapped.config.car.max_steer])
        assert not terminated
        assert info["cte"] == pytest.approx(2.0, abs=5e-3)
        cte, _, _ = road.project(env.unwrapped.car_state[:2], s_guess=info["progress_m"] % road.length)
        assert cte == pytest.approx(info["cte"], abs=1e-6)
    assert info["progress"] == pytest.approx(200 * 0.5 * 50 / 48 / road.length, rel=1e-3)  # 100 m at radius 48


def test_a_lap_of_a_closed_road_finishes_the_episode():
    env = gym.make(ENV_ID, target_speed=20.0)
    road = circle_road(radius=50.0)
    env.reset(seed=0, options={"road": road, "start_offset": (0.0, 0.0)})
    delta = math.atan(env.unwrapped.config.car.wheelbase / 50.0)
    env.unwrapped.fleet.state[0, 4] = delta
    steps = 0
    terminated = False
    while not terminated:
        _, _, terminated, truncated, info = env.step([delta / env.unwrapped.config.car.max_steer])
        steps += 1
        assert not truncated
    assert info["finished"] and not info["off_road"]
    assert info["progress"] == 1.0
    assert steps == pytest.approx(road.length / (20.0 * 0.05), abs=2)


# ------------------------------------------------ driving tight roads: no jumps
def expert_steer(env, lookahead=4.0) -> np.ndarray:
    """Pure pursuit towards the centreline ``lookahead`` metres ahead."""
    e = env.unwrapped
    x, y, heading, _, _ = e.car_state
    s = e.fleet.s[0]
    tx, ty = e.road.point_at(s + lookahead)
    alpha = math.atan2(ty - y, tx - x) - heading
    delta = math.atan2(2.0 * e.config.car.wheelbase * math.sin(alpha), lookahead)
    return np.array([delta / e.config.car.max_steer])


@pytest.mark.parametrize("make_road", [hairpin_road, spiral_road], ids=["hairpin", "spiral"])
def test_driving_a_tight_road_never_jumps_to_the_next_leg(make_road):
    road = make_road()
    env = gym.make(ENV_ID, target_speed=5.0)
    env.reset(seed=0, options={"road": road, "start_offset": (0.0, 0.0)})
    last_progress = 0.0
    terminated = truncated = False
    while not (terminated or truncated):
        _, _, terminated, truncated, info = env.step(expert_steer(env))
        assert info["progress_m"] > last_progress, "progress must increase every step"
        assert info["progress_m"] - last_progress < 5.0 * 0.05 + 0.05
        assert abs(info["cte"]) < 1.0, "the expert stays near the centreline"
        # the batched projection agrees with Road.project (to a few microns where a sample cuts a corner)
        cte, _, _ = road.project(env.unwrapped.car_state[:2], s_guess=env.unwrapped.fleet.s[0])
        assert cte == pytest.approx(info["cte"], abs=1e-4)
        last_progress = info["progress_m"]
    assert info["finished"] and not truncated


# ------------------------------------------------------------------- info
def test_info_has_the_same_keys_at_reset_and_every_step():
    env = gym.make(ENV_ID, families=("hairpin",), disturbances=DISTURBANCES)
    records = rollout(env, seed=3, actions=random_actions(3, 200))
    assert episode_ends(records) >= 2
    for record in records:
        info = record[5]
        assert tuple(info) == INFO_KEYS
        assert isinstance(info["road"], str)
        assert all(isinstance(info[k], bool) for k in FLAG_KEYS)
        assert all(isinstance(info[k], float) for k in INFO_KEYS if k != "road" and k not in FLAG_KEYS)
        if record[0] == "step":
            parts = info["reward_progress"] + info["reward_centering"] + info["reward_off_road"]
            assert record[2] == pytest.approx(parts, abs=1e-12)


def test_off_road_terminates_with_the_penalty():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"road": straight_road(), "start_offset": (0.0, 0.0)})
    terminated = False
    while not terminated:
        _, reward, terminated, _, info = env.step([1.0])
    assert info["off_road"] and not info["finished"]
    cfg = env.unwrapped.config
    assert abs(info["cte"]) > 3.5 + cfg.off_road_margin
    assert info["reward_off_road"] == -cfg.off_road_penalty


def test_truncation_after_max_episode_steps():
    env = gym.make(ENV_ID, max_episode_steps=30)
    env.reset(seed=0, options={"road": straight_road(1000.0), "start_offset": (0.0, 0.0)})
    for step in range(1, 31):
        _, _, terminated, truncated, _ = env.step([0.0])
        assert not terminated
        assert truncated == (step == 30)


# ------------------------------------------------------------------ errors
def test_unknown_constructor_field_is_a_type_error():
    with pytest.raises(TypeError, match="observaton"):
        gym.make(ENV_ID, observaton="rays")
    with pytest.raises(TypeError, match="unknown RoadFollowEnv argument"):
        RoadFollowEnv(speed=3.0)


def test_unknown_reset_option_is_a_value_error():
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match="roadindex.*allowed: road, family, road_index, start_offset"):
        env.reset(seed=0, options={"roadindex": 3})


@pytest.mark.parametrize(
    "kwargs, allowed",
    [
        (dict(observation="pixels"), "features, rays, image"),
        (dict(split="test"), "train, unseen"),
        (dict(families=("gentle", "bumpy")), "gentle, twisty, hairpin"),
        (dict(families="bumpy"), "gentle, twisty, hairpin"),
    ],
)
def test_unknown_observation_split_or_family_names_allowed_values(kwargs, allowed):
    with pytest.raises(ValueError, match=allowed):
        gym.make(ENV_ID, **kwargs)
    with pytest.raises(ValueError, match=allowed):
        RoadFollowConfig(**kwargs)


def test_unknown_family_in_reset_options_names_allowed_values():
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match="gentle, twisty, hairpin"):
        env.reset(seed=0, options={"family": "bumpy"})


def test_bad_reset_options():
    env = gym.make(ENV_ID)
    with pytest.raises(TypeError, match="envs.Road"):
        env.reset(seed=0, options={"road": [[0, 0], [1, 0]]})
    with pytest.raises(ValueError, match="finite"):
        env.reset(seed=0, options={"start_offset": (float("nan"), 0.0)})


def test_reset_options_choose_the_road():
    env = gym.make(ENV_ID, split="unseen")
    _, info = env.reset(seed=0, options={"family": "hairpin", "road_index": 12})
    assert info["road"] == "unseen/hairpin/12"
    assert env.unwrapped.road is envs.generate_road("unseen", "hairpin", 12)


def test_road_indices_limit_the_pool():
    env = gym.make(ENV_ID, families=("twisty",), road_indices=(3, 5))
    names = {env.reset(seed=s)[1]["road"] for s in range(30)}
    assert names == {"train/twisty/3", "train/twisty/5"}


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(disturbances=None),
        dict(car={"wheelbase": 3.0}),
        dict(num_roads=0),
        dict(dt=0.0),
        dict(target_speed=100.0),
        dict(road_indices=()),
        dict(image_size=4),
    ],
)
def test_bad_config_values_raise(kwargs):
    with pytest.raises((ValueError, TypeError)):
        gym.make(ENV_ID, **kwargs)


@pytest.mark.parametrize("field", ["steering_bias", "crosswind", "crosswind_gust", "observation_noise"])
def test_disturbances_must_be_finite(field):
    with pytest.raises(ValueError, match=field):
        Disturbances(**{field: float("nan")})


@pytest.mark.parametrize("spacing", [0.5, 0.05])
@pytest.mark.parametrize("dt", [0.05, 0.2])
def test_projection_keeps_up_with_a_fast_car_on_a_finely_sampled_road(spacing, dt):
    road = Road.from_points([[0.0, 0.0], [2000.0, 0.0]], 7.0, name="fine", spacing=spacing)
    env = gym.make(ENV_ID, target_speed=30.0, dt=dt)
    env.reset(seed=0, options={"road": road, "start_offset": (0.5, 0.0)})
    for step in range(1, 101):
        _, _, terminated, _, info = env.step([0.0])
        assert not terminated
        assert info["progress_m"] == pytest.approx(30.0 * dt * step, abs=1e-6)
        assert info["cte"] == pytest.approx(0.5, abs=1e-9)


def test_a_cars_info_reads_every_key_from_its_row_of_the_step_table():
    """``car_step`` and ``car_info`` (the single env's info, written out from ``INFO_KEYS``) give each
    key the number of its row of the step table, the flags as bools, the road's name, in
    ``INFO_KEYS`` order, and the reward and terminated flag of the step."""
    from envs.fleet import FLAG_KEYS, ROW_REWARD, ROW_TERMINATED, STEP_COLUMNS, car_info, car_step, step_table

    table = step_table(3)
    table[:, 1] = np.arange(len(STEP_COLUMNS)) + 0.5  # every flag nonzero: True
    table[ROW_TERMINATED, 2] = 0.0
    reward, terminated, info = car_step(table, 1, "train/gentle/7")
    assert (reward, terminated) == (table[ROW_REWARD, 1], True)
    assert car_step(table, 2, "x")[1] is False
    assert list(info) == list(INFO_KEYS) and car_info(table, 1, "train/gentle/7") == info
    for key, value in info.items():
        if key == "road":
            assert value == "train/gentle/7"
        elif key in FLAG_KEYS:
            assert value is True
        else:
            assert type(value) is float and value == table[STEP_COLUMNS.index(key), 1], key
