"""The dashcam: its picture against the pinhole model by hand, its looks and their randomization,
and the single env against the vector env."""

import math
import pickle

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import Appearance, RoadFollowEnv, RoadFollowVectorEnv
from envs.appearance import LOOKS
from envs.camera import focal_length, horizon_row, row_table
from envs.config import RoadFollowConfig
from envs.road import Road

# asphalt black, everything around it white, nothing else: a pixel's darkness is the fraction of
# its footprint on the asphalt
INK = Appearance(
    asphalt=(0, 0, 0),
    verge=(255, 255, 255),
    grass=(255, 255, 255),
    sky_horizon=(255, 255, 255),
    sky_zenith=(255, 255, 255),
    markings="none",
    texture=0.0,
)
GEOMETRY = dict(
    observation="camera",
    camera_size=(64, 128),
    camera_pitch_deg=10.0,
    camera_fov_deg=90.0,
    camera_height=1.5,
    camera_range=1e6,
    appearance=INK,
)
WIDTH = 7.0  # [m]


def straight_road(length=400.0) -> Road:
    return Road.from_points([[0.0, 0.0], [length, 0.0]], WIDTH, name="straight")


def frame(lateral: float, **fields) -> np.ndarray:
    env = RoadFollowEnv(**{**GEOMETRY, **fields})
    obs, _ = env.reset(seed=0, options={"road": straight_road(), "start_offset": (lateral, 0.0)})
    return obs


def asphalt_edges(image: np.ndarray, row: int) -> tuple[float, float]:
    """The road's left and right edges in ``row`` [columns, pixel centres at integers], from how
    much of each edge pixel is dark."""
    dark = 1.0 - image[row, :, 0].astype(np.float64) / 255.0
    inside = np.flatnonzero(dark > 1e-6)
    first, last = inside[0], inside[-1]
    return first + 0.5 - dark[first], last - 0.5 + dark[last]


def predicted_edges(config: RoadFollowConfig, row: int, lateral: float) -> tuple[float, float]:
    """The pinhole model by hand: the row sees the ground at distance ``t`` along its rays, lateral
    position ``y = -t u`` with ``u = (col + 0.5 - W / 2) / f``; the road's edges are at
    ``y = +-W / 2 - lateral`` in the car's frame."""
    height, width = config.camera_size
    f = 0.5 * width / math.tan(math.radians(config.camera_fov_deg) / 2)
    pitch = math.radians(config.camera_pitch_deg)
    v = (row + 0.5 - height / 2) / f
    t = config.camera_height / (math.sin(pitch) + v * math.cos(pitch))
    column = lambda y: -y * f / t - 0.5 + width / 2  # noqa: E731
    return column(WIDTH / 2 - lateral), column(-WIDTH / 2 - lateral)


def test_a_centred_car_sees_symmetric_edges_meeting_at_the_vanishing_point_on_the_horizon():
    config = RoadFollowConfig(**GEOMETRY)
    image = frame(0.0)
    height, width = config.camera_size
    horizon = horizon_row(config)
    f = focal_length(config)
    assert horizon == pytest.approx(height / 2 - f * math.tan(math.radians(10.0)) - 0.5)
    rows = [r for r in range(height) if r > horizon + 3]
    lefts, rights = [], []
    for r in rows:
        left, right = asphalt_edges(image, r)
        if left <= 0.5 or right >= width - 1.5:  # an edge out of the frame
            continue
        want_left, want_right = predicted_edges(config, r, 0.0)
        assert left == pytest.approx(want_left, abs=0.02), r
        assert right == pytest.approx(want_right, abs=0.02), r
        assert (left + right) / 2 == pytest.approx(width / 2 - 0.5, abs=0.02)  # symmetric about the centre
        lefts.append((r, left))
        rights.append((r, right))
    assert len(lefts) > 10
    # the edges are straight lines in the image and meet at the vanishing point on the horizon row
    (a1, b1), (a2, b2) = np.polyfit(*np.array(lefts).T, 1), np.polyfit(*np.array(rights).T, 1)
    meet_row = (b2 - b1) / (a1 - a2)
    assert meet_row == pytest.approx(horizon, abs=0.05)
    assert a1 * meet_row + b1 == pytest.approx(width / 2 - 0.5, abs=0.05)
    # above the horizon: sky only
    assert (image[: math.floor(horizon)] == 255).all()


@pytest.mark.parametrize("lateral", [0.8, -1.5])
def test_a_lateral_offset_moves_the_edges_by_the_pixels_the_pinhole_predicts(lateral):
    config = RoadFollowConfig(**GEOMETRY)
    image, centred = frame(lateral), frame(0.0)
    moved = 0
    for r in range(config.camera_size[0]):
        if r <= horizon_row(config) + 3:
            continue
        left, right = asphalt_edges(image, r)
        want_left, want_right = predicted_edges(config, r, lateral)
        if 0.5 < left and 0.5 < want_left:
            assert left == pytest.approx(want_left, abs=0.02), r
            before, want_before = asphalt_edges(centred, r)[0], predicted_edges(config, r, 0.0)[0]
            if 0.5 < before:  # in the frame in both
                assert left - before == pytest.approx(want_left - want_before, abs=0.03), r
                assert abs(left - before) > 1.0
                moved += 1
        if right < config.camera_size[1] - 1.5 and want_right < config.camera_size[1] - 1.5:
            assert right == pytest.approx(want_right, abs=0.02), r
    assert moved > 10


def test_row_table_follows_the_pinhole_model():
    config = RoadFollowConfig(**GEOMETRY)
    rows = row_table(config)
    ground = rows[:, 0] == 1
    assert not ground[: math.ceil(horizon_row(config))].any() and ground[math.ceil(horizon_row(config)) :].all()
    ahead = rows[ground, 1]
    assert np.all(np.diff(ahead) < 0)  # lower rows see nearer ground
    # the bottom row's ray falls at pitch + atan(v) below the horizontal
    f = focal_length(config)
    v = (config.camera_size[0] - 0.5 - config.camera_size[0] / 2) / f
    assert ahead[-1] == pytest.approx(
        1.5 / math.tan(math.radians(10.0) + math.atan(v)) * math.cos(math.atan(v)) / math.cos(math.atan(v)), rel=1e-9
    )


def test_camera_env_passes_gymnasium_check_env_and_pickles():
    env = RoadFollowEnv(observation="camera", appearance_randomization=1.0)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (32, 64, 3) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(5):
        a, *_ = env.step([0.2])
        b, *_ = clone.step([0.2])
        assert np.array_equal(a, b)


def test_the_vector_env_sees_what_single_envs_see_bit_for_bit():
    fields = dict(
        observation="camera", families=("hairpin", "twisty"), start_lateral_offset=1.0, appearance_randomization=1.0
    )
    n = 3
    vector = RoadFollowVectorEnv(n, max_episode_steps=None, **fields)
    singles = [RoadFollowEnv(**fields) for _ in range(n)]
    obs, _ = vector.reset(seed=7)
    for i, env in enumerate(singles):
        single, _ = env.reset(seed=7 + i)
        assert np.array_equal(obs[i], single)
    rng = np.random.default_rng(0)
    for _ in range(30):
        actions = rng.uniform(-0.5, 0.5, (n, 1))
        obs, *_ = vector.step(actions)
        for i, env in enumerate(singles):
            single, *_ = env.step(actions[i])
            assert np.array_equal(obs[i], single)
    assert len({obs[i].tobytes() for i in range(n)}) == n


def test_the_frame_changes_with_the_appearance_seed_and_not_otherwise():
    road = straight_road()
    options = {"road": road, "start_offset": (0.3, 0.02)}

    def seen(seed, **fields):
        env = RoadFollowEnv(observation="camera", **fields)
        obs, _ = env.reset(seed=seed, options=options)
        return obs

    randomized = dict(appearance_randomization=1.0)
    assert np.array_equal(seen(1, **randomized), seen(1, **randomized))
    assert not np.array_equal(seen(1, **randomized), seen(2, **randomized))
    assert np.array_equal(seen(1), seen(2))  # no randomization: the seed changes nothing on the same road and start
    assert np.abs(seen(1, **randomized).astype(int) - seen(2, **randomized)).mean() > 3


def test_named_looks_differ_and_bad_appearances_are_one_clear_error():
    frames = {name: RoadFollowEnv(observation="camera", appearance=name).reset(seed=0)[0] for name in LOOKS}
    assert len({f.tobytes() for f in frames.values()}) == len(LOOKS)
    assert frames["snow"].mean() > frames["day"].mean() > frames["dusk"].mean()
    # no markings: no yellow centre line anywhere
    yellow = lambda f: ((f[..., 0] > 150) & (f[..., 2] < 100)).sum()  # noqa: E731
    assert yellow(frames["day"]) > 5 and yellow(frames["no-markings"]) == 0
    with pytest.raises(ValueError, match="unknown look"):
        RoadFollowConfig(appearance="night")
    with pytest.raises(ValueError, match="0-255"):
        Appearance(grass=(0, 300, 0))
    with pytest.raises(ValueError, match="camera_size"):
        RoadFollowConfig(camera_size=(4, 64))


def test_motion_shows_in_the_near_ground_and_far_ground_does_not_shimmer():
    """One step forward moves the textured near ground visibly; the far ground, where lines are a
    fraction of a pixel wide, changes little (box-filtered, not sampled)."""
    env = RoadFollowEnv(observation="camera", camera_size=(64, 128), camera_range=1e6)
    a, _ = env.reset(seed=0, options={"road": straight_road()})
    b, *_ = env.step([0.0])
    config = env.config
    rows = row_table(config)
    near = rows[:, 1] < 6.0
    far = (rows[:, 0] == 1) & (rows[:, 1] > 40.0)
    change = np.abs(a.astype(int) - b.astype(int))
    assert near.any() and far.any()
    assert change[near].mean() > 2.0  # the texture moves with the car
    assert change[far].max() < 40  # a sampled thin line would blink by ~150 levels


@pytest.mark.parametrize("surface", ["wet", "snow", "ice", "gravel"])
def test_the_camera_shows_where_the_road_turns_slippery(surface):
    """A section of another surface 20-40 m ahead is painted in that surface's colour there, and
    only there: nearer and farther the asphalt keeps the look's colour (black in this look)."""
    from envs.appearance import SURFACE_COLOURS

    config = RoadFollowConfig(**GEOMETRY)
    road = straight_road().with_surfaces([(20.0, 40.0, surface)])
    env = RoadFollowEnv(config=config)
    obs, _ = env.reset(seed=0, options={"road": road, "start_offset": (0.0, 0.0)})
    ahead = row_table(config)[:, 1]  # the ground distance each row sees [m] (the car is at s = 0)
    centre = config.camera_size[1] // 2
    inside = [r for r in range(len(ahead)) if 22.0 < ahead[r] < 38.0]
    outside = [r for r in range(len(ahead)) if 3.0 < ahead[r] < 18.0 or 42.0 < ahead[r] < 200.0]
    assert inside and outside
    for r in inside:
        assert tuple(obs[r, centre]) == SURFACE_COLOURS[surface]
    for r in outside:
        assert tuple(obs[r, centre]) == (0, 0, 0)
    dry, _ = RoadFollowEnv(config=config).reset(seed=0, options={"road": straight_road(), "start_offset": (0.0, 0.0)})
    changed = np.flatnonzero((obs != dry).any(axis=(1, 2)))
    assert set(changed) <= {r for r in range(len(ahead)) if 19.0 < ahead[r] < 41.0}, "only the section's rows change"
