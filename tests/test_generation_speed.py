"""The compiled road generator draws the roads the plain-numpy generator drew.

envs/generation.py draws roads in numba kernels that read the road's PCG64 stream the way
numpy's ``Generator`` does. These tests hold it to a copy of the plain-numpy generator it
replaced (``reference_road`` below): the same random draws, the same redraws, the same roads.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envs import generation, seeding
from envs.generation import FAMILIES, SPLITS, generate_road, road_seed
from envs.road import DEFAULT_SPACING, Road, RoadError

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------- the plain-numpy generator
def reference_road(split: str, family: str, index: int) -> Road:
    """Road ``index`` as envs/generation.py drew it with numpy's Generator (commit ad62041)."""
    fam = FAMILIES[family]
    rng = np.random.default_rng(road_seed(split, family, index))
    for _ in range(200):
        try:
            road = _reference_draw(rng, fam, f"{split}/{family}/{index}")
        except RoadError:  # Road.from_points refuses a draw that crosses itself: it is not clear either
            continue
        if _reference_is_clear(road.points, road.spacing, road.width):
            return road
    raise RuntimeError("no clean road")


def _reference_draw(rng, family, name) -> Road:
    length = rng.uniform(*family.length_range)
    width = rng.uniform(*family.width_range)
    n_seg = int(round(length / DEFAULT_SPACING))
    ds = length / n_seg
    s_knots, k_knots = [0.0, family.lead_in], [0.0, 0.0]
    while s_knots[-1] < length:
        piece = rng.uniform(*family.piece_length_range)
        if rng.random() < family.straight_probability:
            k = 0.0
        else:
            k = rng.choice([-1.0, 1.0]) * rng.uniform(family.min_curvature_fraction, 1.0) * family.max_curvature
        s_knots.append(s_knots[-1] + piece)
        k_knots.append(k)
        if rng.random() < family.hold_probability:
            hold = min(rng.uniform(*family.piece_length_range), math.pi / max(abs(k), 1e-9))
            s_knots.append(s_knots[-1] + hold)
            k_knots.append(k)
    kappa = np.interp(np.arange(int(round(length / ds)) + 1) * ds, s_knots, k_knots)
    heading = np.concatenate([[0.0], np.cumsum(0.5 * (kappa[1:] + kappa[:-1]) * ds)])
    mid = 0.5 * (heading[1:] + heading[:-1])
    xy = np.zeros((len(kappa), 2))
    xy[1:, 0] = np.cumsum(ds * np.cos(mid))
    xy[1:, 1] = np.cumsum(ds * np.sin(mid))
    return Road.from_points(xy, width, closed=False, name=name)


def _reference_is_clear(points, spacing, width) -> bool:
    step = max(1, int(round(2.0 / spacing)))
    pts = points[::step]
    s = (np.arange(len(points)) * spacing)[::step]
    clearance = 2.0 * width
    d2 = np.sum((pts[:, None, :] - pts[None, :, :]) ** 2, axis=-1)
    far_along = np.abs(s[:, None] - s[None, :]) > math.pi * clearance
    return not np.any(d2[far_along] < clearance**2)


def _atan2(y, x):
    """``atan2`` elementwise, as the C library computes it (``math.atan2``, which the compiled
    kernels call): numpy's ``arctan2`` on a machine with AVX-512 is its own SIMD version, which
    differs from the C library's in the last bit for about 7% of arguments."""
    return np.array([math.atan2(a, b) for a, b in zip(np.ravel(y).tolist(), np.ravel(x).tolist())]).reshape(np.shape(y))


def _reference_headings_and_curvatures(pts, closed, ds):
    if closed:
        fwd = np.roll(pts, -1, axis=0) - pts
        back = pts - np.roll(pts, 1, axis=0)
    else:
        d = np.diff(pts, axis=0)
        fwd = np.vstack([d, d[-1:]])
        back = np.vstack([d[:1], d])
    headings = _atan2(fwd[:, 1] + back[:, 1], fwd[:, 0] + back[:, 0])
    if not closed:
        headings[0] = math.atan2(fwd[0, 1], fwd[0, 0])
        headings[-1] = math.atan2(back[-1, 1], back[-1, 0])
    turn = _atan2(back[:, 0] * fwd[:, 1] - back[:, 1] * fwd[:, 0], back[:, 0] * fwd[:, 0] + back[:, 1] * fwd[:, 1])
    curv = turn / ds
    if not closed:
        curv[0] = curv[1] if len(curv) > 2 else 0.0
        curv[-1] = curv[-2] if len(curv) > 2 else 0.0
    return headings, curv


def assert_same_road(road: Road, expected: Road) -> None:
    for attribute in ("name", "width", "closed", "spacing"):
        assert getattr(road, attribute) == getattr(expected, attribute)
    assert road.points.shape == expected.points.shape
    np.testing.assert_allclose(road.points, expected.points, rtol=0, atol=1e-9)
    np.testing.assert_allclose(road.headings, expected.headings, rtol=0, atol=1e-12)
    np.testing.assert_allclose(road.curvatures, expected.curvatures, rtol=0, atol=1e-12)


# ------------------------------------------------------------------- tests
@pytest.mark.parametrize("family, count", [("gentle", 25), ("twisty", 25), ("hairpin", 8)])
@pytest.mark.parametrize("split", SPLITS)
def test_roads_are_those_of_the_plain_numpy_generator(split, family, count):
    for index in range(count):
        road = generation._draw(split, FAMILIES[family], index)  # drawn afresh
        assert_same_road(road, reference_road(split, family, index))


def test_kernels_draw_what_the_generator_draws():
    """A mixed sequence of draws, the 32-bit ones (the sign) included, gives the Generator's numbers
    and leaves the stream where the Generator leaves it."""
    choices = np.random.default_rng(1).integers(0, 3, size=400)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        bits = np.random.PCG64(seed)
        raw, stream = bits.random_raw(len(choices)), np.array([0, generation._NO_HALF])
        for choice in choices:
            if choice == 0:
                assert generation._random(raw, stream) == rng.random()
            elif choice == 1:
                assert generation._uniform(raw, stream, 12.0, 35.0) == rng.uniform(12.0, 35.0)
            else:
                assert generation._random_sign(raw, stream) == rng.choice([-1.0, 1.0])
        state = rng.bit_generator.state
        assert state["has_uint32"] == (stream[1] != generation._NO_HALF)
        if state["has_uint32"]:
            assert state["uinteger"] == stream[1]
        replay = np.random.PCG64(seed)
        replay.advance(int(stream[0]))
        assert replay.state["state"] == state["state"]


@pytest.mark.parametrize("index", [0, 1, 299, 2**32 - 1, 2**32, 2**40 + 3])
def test_road_bits_are_those_of_road_seed(index):
    """One road's bits, and many roads' hashed together (``envs.seeding``, from
    ``SEEDS_TOGETHER_FROM`` roads), are those of its SeedSequence."""
    keys = [(family, index + k) for family in FAMILIES.values() for k in range(5)]
    assert len(keys) >= seeding.SEEDS_TOGETHER_FROM
    for split in SPLITS:
        for (family, i), bits in zip(keys, generation._roads_bits(split, keys)):
            expected = np.random.default_rng(road_seed(split, family, i)).bit_generator.state
            assert bits.state == expected
            assert generation._road_bits(split, family, i).state == expected


def test_clearance_check_agrees_with_the_pairwise_check():
    """Every draw, the rejected ones too, and hairpins whose legs pass just inside and just
    outside the clearance."""
    for family in FAMILIES.values():
        ranges = generation._family_ranges(family)
        for seed in range(40):
            raw = np.random.PCG64(seed).random_raw(4 * int(ranges[0]["max_draws"]))
            points, width, spacing = generation._draw_centreline(raw, np.array([0, -1]), ranges, DEFAULT_SPACING)
            assert generation._is_clear_of_itself(points, spacing, width) == _reference_is_clear(points, spacing, width)
    width = 7.0
    for gap in 2 * width * np.array([0.5, 1 - 1e-6, 1 - 1e-12, 1.0, 1 + 1e-12, 1 + 1e-6, 1.5]):
        # two straight 100 m legs ``gap`` apart, joined by a half circle
        leg = np.column_stack([np.linspace(0.0, 100.0, 201), np.zeros(201)])
        turn = np.linspace(-np.pi / 2, np.pi / 2, 200)[1:-1]
        bend = np.column_stack([100.0 + 0.5 * gap * np.cos(turn), 0.5 * gap + 0.5 * gap * np.sin(turn)])
        road = Road.from_points(np.vstack([leg, bend, leg[::-1] + [0.0, gap]]), width)
        clear = generation._is_clear_of_itself(road.points, road.spacing, road.width)
        assert clear == _reference_is_clear(road.points, road.spacing, road.width) == (gap >= 2 * width)


def test_headings_and_curvatures_are_those_of_the_array_formulas():
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(2, 300))
        closed = trial % 2 == 1 and n >= 3
        pts = np.cumsum(rng.normal(size=(n, 2)), axis=0)
        road = Road._from_uniform(pts.copy(), 7.0, closed, "r", 0.5)
        headings, curvatures = _reference_headings_and_curvatures(pts, closed, 0.5)
        np.testing.assert_array_equal(road.headings, headings)
        np.testing.assert_array_equal(road.curvatures, curvatures)


def test_generation_without_the_jit_draws_the_same_roads():
    """With NUMBA_DISABLE_JIT=1 the kernels run as plain Python: the same roads come out."""
    keys = [("train", "gentle", 0), ("unseen", "twisty", 3)]
    script = (
        "import sys, numpy as np; from envs.generation import generate_road\n"
        f"for key in {keys!r}:\n"
        "    r = generate_road(*key)\n"
        "    np.save(sys.stdout.buffer, np.column_stack([r.points, r.headings, r.curvatures]))\n"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, check=True).stdout
    stream = io.BytesIO(out)
    for key in keys:
        road = generate_road(*key)
        np.testing.assert_array_equal(np.load(stream), np.column_stack([road.points, road.headings, road.curvatures]))


SEEDS = [0, 1, 5, 299, 2**31, 2**32 - 1, 2**32, 2**40 + 3, 2**64 - 1, 2**64, 2**100 + 3, 2**130 + 11, 987654321]


def test_generators_made_together_are_gymnasiums_one_by_one():
    """envs.seeding hashes all seeds at once: each generator must be np_random(seed)'s, state for
    state, and its seed sequence must generate the words the full SeedSequence generates."""
    from gymnasium.utils.seeding import np_random

    seeds = (SEEDS + [np.int64(77), True]) * 2  # enough to be hashed together
    assert len(seeds) >= seeding.SEEDS_TOGETHER_FROM
    made = seeding.generators(seeds)
    for seed, rng in zip((SEEDS + [77, 1]) * 2, made):
        expected = np_random(seed)[0]
        assert rng.bit_generator.state == expected.bit_generator.state
        assert np.array_equal(rng.random(5), expected.random(5))
        full = np.random.SeedSequence(seed)
        for n, dtype in [(1, np.uint32), (9, np.uint32), (3, np.uint64)]:
            assert np.array_equal(rng.bit_generator.seed_seq.generate_state(n, dtype), full.generate_state(n, dtype))
    copy = pickle.loads(pickle.dumps(made[3]))
    assert copy.bit_generator.state == made[3].bit_generator.state
    for with_a_negative in ([3, -1], [3] * seeding.SEEDS_TOGETHER_FROM + [-1]):  # one by one, and together
        with pytest.raises(Exception, match="greater or equal to zero"):
            seeding.generators(with_a_negative)
    for seed, rng in zip([8, 2**64], seeding.generators([8, 2**64])):  # few: one by one
        assert rng.bit_generator.state == np_random(seed)[0].bit_generator.state


def test_roads_generated_together_are_the_roads_generated_one_by_one():
    keys = [("twisty", 4), ("hairpin", 2**32 + 1), ("gentle", 4), ("twisty", 4), ("hairpin", 0)]
    together = generation.generate_roads("unseen", keys)
    assert together[0] is together[3]  # one road, cached
    for (family, index), road in zip(keys, together):
        assert_same_road(road, generation._draw("unseen", FAMILIES[family], index))
        assert generation.generate_road("unseen", family, index) is road
