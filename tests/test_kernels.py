"""The compiled core against itself: plain Python (NUMBA_DISABLE_JIT=1), the thread pool, and
Gymnasium's own vectorization of the single env."""

import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs import ENV_ID, Disturbances

ROOT = Path(__file__).resolve().parents[1]
DISTURBANCES = Disturbances(steering_bias=0.02, crosswind=0.5, crosswind_gust=0.3, observation_noise=0.1)

# a short rollout of each observation type, with autoresets, disturbances and throttle; on two
# roads, so that compiled autoresets start cars on stored roads in one kernel (``Fleet.restart``)
ROLLOUT = r"""
import json, sys
import numpy as np
import envs
import envs.jit

def rollout(observation, steps, num_envs, throttle, model="kinematic"):
    camera = dict(camera_size=(16, 32), appearance_randomization=1.0) if observation == "camera" else {}
    env = envs.RoadFollowVectorEnv(num_envs, observation=observation, families=("hairpin",), throttle=throttle,
                                   car=envs.CarParams(model=model),
                                   disturbances=envs.Disturbances(**json.loads(sys.argv[2])),
                                   start_lateral_offset=1.0, max_episode_steps=25, road_indices=(3, 8), **camera)
    obs, info = env.reset(seed=3)
    rng = np.random.default_rng(0)
    records = [obs, info["cte"], info["progress_m"]]
    for _ in range(steps):
        actions = rng.uniform(-1.3, 1.3, (num_envs, 2 if throttle else 1))
        obs, reward, terminated, truncated, info = env.step(actions)
        records += [obs, reward, terminated, truncated, info["cte"], info["heading_error"], info["progress_m"],
                    info["slip_angle"], info["lateral_accel"], info["sliding"]]
    return records

out = {"jit_disabled": np.array(envs.jit.jit_disabled())}
cases = (("features", 60, 3, True, "kinematic"), ("rays", 40, 2, False, "kinematic"),
         ("image", 12, 2, False, "kinematic"), ("camera", 8, 2, False, "kinematic"),
         ("features", 60, 3, True, "dynamic"))
for observation, steps, num_envs, throttle, model in cases:
    for k, a in enumerate(rollout(observation, steps, num_envs, throttle, model)):
        out[f"{observation}-{model}/{k}"] = np.asarray(a)
np.savez(sys.argv[1], **out)
"""


def run_rollout(path: Path, disable_jit: bool) -> dict:
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1" if disable_jit else "0", "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", ROLLOUT, str(path), json.dumps(DISTURBANCES.__dict__)],
        env=env,
        check=True,
        cwd=ROOT,
        timeout=600,
    )
    with np.load(path) as data:
        return dict(data)


@pytest.mark.slow
def test_plain_python_runs_the_same_code_as_the_compiled_kernels(tmp_path):
    """With NUMBA_DISABLE_JIT=1 the kernels run as plain Python: the same numbers, bit for bit."""
    compiled = run_rollout(tmp_path / "compiled.npz", disable_jit=False)
    plain = run_rollout(tmp_path / "plain.npz", disable_jit=True)
    assert plain.pop("jit_disabled") and not compiled.pop("jit_disabled")
    assert compiled.keys() == plain.keys() and len(compiled) > 100
    for key in compiled:
        assert compiled[key].dtype == plain[key].dtype, key
        assert np.array_equal(compiled[key], plain[key]), f"{key} differs"


def test_the_thread_pool_gives_what_the_serial_loop_gives():
    """A fleet above ``parallel_from`` cars runs its kernels with prange; the numbers are the same."""
    kwargs = dict(families=("hairpin", "twisty"), disturbances=DISTURBANCES, start_lateral_offset=1.0)
    runs = []
    for parallel_from in (1, 1 << 30):
        outputs = []
        for observation in envs.OBSERVATION_TYPES:
            env = envs.RoadFollowVectorEnv(40, observation=observation, max_episode_steps=60, **kwargs)
            env.fleet.parallel_from = parallel_from
            obs, _ = env.reset(seed=1)
            rng = np.random.default_rng(2)
            outputs.append(obs)
            for _ in range(80 if observation != "image" else 20):
                obs, reward, terminated, truncated, info = env.step(rng.uniform(-1.3, 1.3, (40, 1)))
                outputs += [obs, reward, terminated, truncated, info["cte"], info["progress_m"]]
        runs.append(outputs)
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_native_vector_env_equals_gymnasiums_sync_vector_env_for_3000_steps():
    """The case that once differed in the last float32 bit (car 6, step 412) with a twin code path."""
    native = gym.make_vec(ENV_ID, num_envs=8, vectorization_mode="vector_entry_point")
    sync = gym.make_vec(ENV_ID, num_envs=8, vectorization_mode="sync")
    a, _ = native.reset(seed=11)
    b, _ = sync.reset(seed=11)
    assert np.array_equal(a, b)
    rng = np.random.default_rng(0)
    for step in range(3000):
        actions = rng.uniform(-1, 1, (8, 1)) * 0.3
        a, ra, ta, ua, _ = native.step(actions)
        b, rb, tb, ub, _ = sync.step(actions)
        assert np.array_equal(a, b), f"observations differ at step {step}"
        assert np.array_equal(ra, rb) and np.array_equal(ta, tb) and np.array_equal(ua, ub), f"step {step}"


def test_dynamic_car_in_the_native_vector_env_equals_single_envs_on_a_slippery_road():
    """Throttle and brake, tyres that slide: car i of the vector env is the single env seeded 11 + i."""
    half = envs.Road.from_points([[0, 0], [80, 0], [140, 40], [160, 120]], 7.0, name="half-ice")
    road = half.with_surfaces([(10.0, 30.0, "wet"), (30.0, 200.0, "ice")])
    kwargs = dict(car=envs.CarParams(model="dynamic"), throttle=True, target_speed=15.0, max_episode_steps=150)
    native = gym.make_vec(ENV_ID, num_envs=6, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(ENV_ID, num_envs=6, vectorization_mode="sync", **kwargs)
    a, info_a = native.reset(seed=11, options={"road": road})
    b, info_b = sync.reset(seed=11, options={"road": road})
    assert np.array_equal(a, b)
    rng = np.random.default_rng(2)
    seen_friction, slid = set(), False
    for step in range(600):
        actions = np.column_stack([rng.uniform(-1, 1, 6) * 0.2, rng.uniform(-0.2, 1, 6)])
        a, ra, ta, ua, info_a = native.step(actions)
        b, rb, tb, ub, info_b = sync.step(actions)
        assert np.array_equal(a, b), f"observations differ at step {step}"
        assert np.array_equal(ra, rb) and np.array_equal(ta, tb) and np.array_equal(ua, ub), f"step {step}"
        for key in ("slip_angle", "lateral_accel", "sliding", "friction", "speed"):
            assert np.array_equal(info_a[key], info_b[key]), f"info[{key!r}] differs at step {step}"
        seen_friction.update(info_a["friction"].tolist())
        slid = slid or bool(info_a["sliding"].any())
    assert {1.0, 0.7, 0.1} <= seen_friction and slid  # the surfaces were driven on, and tyres slid


@pytest.mark.parametrize("families", [("hairpin",), ("gentle", "twisty")])
def test_rays_find_what_testing_every_ray_against_every_edge_segment_finds(families):
    """The rays sensor tests each edge segment only against the rays within its angles (on a
    side whose angles only rise or only fall, by one pointer per side; on others, segment by
    segment); a brute-force check of every ray against every segment must find the same
    distances, on hairpins (many sides that turn back) and on the default roads (mostly not)."""
    from envs.road_batch import edge_point, edge_start

    angles = (-170.0, -120.0, -75.0, -30.0, -7.5, 0.0, 5.0, 45.0, 90.0, 135.0, 180.0)
    env = envs.RoadFollowVectorEnv(
        24,
        observation="rays",
        families=families,
        ray_angles_deg=angles,
        start_lateral_offset=3.0,
        start_heading_offset=1.5,
    )
    env.reset(seed=4)
    rng = np.random.default_rng(5)
    sensor, fleet = env.fleet.sensor, env.fleet
    hits = 0
    for _ in range(30):
        obs, *_ = env.step(rng.uniform(-1, 1, (24, 1)))
        hits += int(np.sum(obs < sensor.range))
        slots = fleet.roads.kernel_slots
        for i in range(24):
            x, y, heading = fleet.state[i, :3]
            j0 = edge_start(slots[i], fleet.s[i] - sensor.BEHIND)
            stride = max(int(np.floor(1.0 / slots[i]["spacing"] + 0.5)), 1)
            for r, angle in enumerate(np.radians(angles)):
                d = np.array([np.cos(heading + angle), np.sin(heading + angle)])
                best = sensor.range
                for side in (1.0, -1.0):
                    pts = np.array(
                        [
                            edge_point(fleet.roads.atlas, slots[i], j0 + stride * k, side)
                            for k in range(sensor.count + 1)
                        ]
                    ) - (x, y)
                    a, b = pts[:-1], pts[1:]
                    e = b - a
                    denom = d[0] * e[:, 1] - d[1] * e[:, 0]
                    with np.errstate(divide="ignore", invalid="ignore"):
                        t = (a[:, 0] * e[:, 1] - a[:, 1] * e[:, 0]) / denom
                        u = (a[:, 0] * d[1] - a[:, 1] * d[0]) / denom
                    hit = (np.abs(denom) > 1e-12) & (u >= 0) & (u <= 1) & (t > 0)
                    best = min(best, t[hit].min(initial=sensor.range))
                assert obs[i, r] == pytest.approx(best, abs=1e-4), (i, angles[r])
    assert hits > 24 * 30 * len(angles) // 3  # most rays do hit an edge


def test_the_rays_pseudo_angle_increases_with_the_angle_and_is_nan_at_the_car():
    """``_around`` (compiled with numpy's error model, and as plain Python) orders directions as
    their angle does, a quarter turn per unit, and gives NaN for the car's own position rather
    than dividing by zero."""
    from envs.observations import _around

    angles = np.linspace(0.0, 2 * np.pi, 1441)[:-1]
    for around in (_around, _around.py_func):
        seen = np.array([around(float(np.cos(a)), float(np.sin(a))) for a in angles])
        assert np.all(np.diff(seen) > 0) and seen[0] == 0.0 and seen[-1] < 4.0
        assert seen[360] == pytest.approx(1.0) and seen[720] == pytest.approx(2.0) and seen[1080] == pytest.approx(3.0)
        assert np.isnan(around(0.0, 0.0)) and np.isnan(around(-0.0, -0.0))


def test_the_generator_table_draws_what_each_generator_draws():
    """A kernel drawing through ``GeneratorTable`` gives each car ``rng.random(count)`` and leaves
    its generator where that call leaves it; a car given another generator draws from the new one."""
    from envs.seeding import GeneratorTable

    def generators():
        return [np.random.default_rng(s) for s in range(5)] + [np.random.Generator(np.random.Philox(7))]

    table, drawn, expected = GeneratorTable(6), generators(), generators()
    cars = np.array([5, 0, 3])
    for _ in range(3):
        got = table.uniforms(cars, [drawn[i] for i in cars], 4)
        assert np.array_equal(got, np.stack([expected[i].random(4) for i in cars]))
    assert all(d.random() == e.random() for d, e in zip(drawn, expected))  # the states moved alike
    drawn[3], expected[3] = np.random.default_rng(99), np.random.default_rng(99)
    table = pickle.loads(pickle.dumps(table))  # addresses are not pickled: rows are made again
    got = table.uniforms(np.array([3, 5]), [drawn[3], drawn[5]], 2)
    assert np.array_equal(got, np.stack([expected[3].random(2), expected[5].random(2)]))
    # table(): the rows as they are, only once every row is a generator a kernel can draw from
    assert table.table() == (None, None)  # rows 1, 2, 4 unset since the pickle
    table.pointers(np.arange(6), drawn)
    functions, _ = table.table()
    assert functions is not None and np.all(functions != 0)

    class Plain:  # a generator without numpy's ctypes interface: only its own methods draw from it
        def __init__(self, seed):
            self.rng = np.random.default_rng(seed)

        def random(self, count):
            return self.rng.random(count)

    plain = Plain(1)
    assert table.pointers(np.array([2]), [plain]) == (None, None)  # no kernel draws from it
    assert table.pointers(np.array([2, 3]), [plain, drawn[3]]) == (None, None)  # nor the second time
    got = table.uniforms(np.array([2, 3]), [plain, drawn[3]], 2)  # each drawn by its own methods
    assert np.array_equal(got, np.stack([np.random.default_rng(1).random(2), expected[3].random(2)]))
    assert table.table() == (None, None)
    table.pointers(np.array([2]), [drawn[2]])
    assert table.table()[0] is not None


CROSS_MODULE = r"""
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import envs
from envs.observations import FeatureSensor
from envs.road_batch import RoadBatch

assert envs.__file__.startswith(sys.argv[1]), envs.__file__
config = envs.RoadFollowConfig()
batch = RoadBatch(1, lookahead=config.lookahead_distances)
batch.set_road(0, envs.Road.from_points([[0.0, 0.0], [100.0, 0.0]], 7.0))
state, track = np.zeros((1, 7)), np.zeros((1, 4))  # at the road's start, heading along it
print(float(FeatureSensor(config)(state, track, batch, 1 << 40)[0, 4]))  # the first point ahead, forward [m]
"""


@pytest.mark.slow
def test_a_cached_kernel_compiles_again_when_a_module_it_inlines_changes(tmp_path):
    """The features kernel (``envs/observations.py``) compiles in the centreline look-up of
    ``envs/road_batch.py``; numba checks a cached kernel against its own file only, so without
    the package-wide stamp (``envs.jit.source_stamp``) an edit to the look-up left the cached
    kernel as it was. Here an edited copy of the package must report the edited point."""
    import shutil

    shutil.copytree(ROOT / "envs", tmp_path / "envs", ignore=shutil.ignore_patterns("__pycache__"))
    script = tmp_path / "first_point.py"
    script.write_text(CROSS_MODULE)
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    env.pop("NUMBA_DISABLE_JIT", None)

    def first_point() -> float:
        proc = subprocess.run(
            [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, env=env, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        return float(proc.stdout.split()[-1])

    first = envs.RoadFollowConfig().lookahead_distances[0]  # [m] ahead, on a straight road
    assert first_point() == pytest.approx(first)
    assert first_point() == pytest.approx(first)  # now from the cache
    source = tmp_path / "envs" / "road_batch.py"
    text = source.read_text()
    look_up = "    return lookup[row, PX] + fraction * lookup[row, DX], lookup[row, PY]"
    assert look_up in text, "the test edits the centreline look-up: update it with the look-up's code"
    edited = "    return 1.0 + lookup[row, PX] + fraction * lookup[row, DX], lookup[row, PY]"
    source.write_text(text.replace(look_up, edited))
    assert first_point() == pytest.approx(first + 1.0)


@pytest.mark.parametrize("parts", [2, 3])
def test_road_rows_written_over_threads_are_the_rows_written_serially(parts):
    """A fleet on the thread pool writes a new road's rows in ranges (``_write_rows_parallel``);
    every row is the serial writer's, and each is what it should be: an open road's samples, the
    last keeping the segment before it, rows straight on past the end; a closed road's laps."""
    from envs.road_batch import PX, PY, RoadBatch

    theta = np.linspace(0.0, 2 * np.pi, 300, endpoint=False)
    loop = envs.Road.from_points(30.0 * np.column_stack([np.cos(theta), np.sin(theta)]), 7.0, closed=True)
    bend = envs.generate_road("train", "twisty", 3).with_surfaces([(10.0, 60.0, "ice")])
    for road in (envs.generate_road("train", "gentle", 5), bend, loop):
        serial, threaded = (RoadBatch(2, lookahead=(40.0,)) for _ in range(2))
        serial.set_road(0, road)
        threaded.set_road(0, road, parts)
        rows = int(serial.slots[0]["num_rows"])
        assert rows >= 256  # written in ranges
        assert np.array_equal(serial.road_rows[:rows], threaded.road_rows[:rows])
        assert np.array_equal(serial.lookup[:rows], threaded.lookup[:rows])
        n = len(road.points)
        atlas, headings, friction = serial.atlas, serial.headings, serial.friction
        assert np.array_equal(atlas[:n, [PX, PY]], road.points)
        d = road.points[2] - road.points[1]
        assert headings[1] == math.atan2(d[1], d[0])
        assert np.array_equal(friction[:n], road.friction)
        if road.closed:  # the second lap is the first again, and the first point closes it
            assert np.array_equal(atlas[n : 2 * n, [PX, PY]], road.points)
        else:
            assert headings[n - 1] == headings[n - 2] and headings[n] == headings[n - 2]
            step = road.points[n - 1] - road.points[n - 2]
            assert np.allclose(atlas[n + 2, [PX, PY]], road.points[n - 1] + 3 * step)
