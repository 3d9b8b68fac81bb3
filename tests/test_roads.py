"""Tests of road geometry (envs/road.py, envs/road_batch.py) and generation (envs/generation.py)."""

import json
import math
import pickle

import numpy as np
import pytest

from envs import FAMILIES, SPLITS, Road, RoadError, generate_road, load_roads, save_roads, split_roads
from envs.generation import road_seed
from envs.road_batch import RoadBatch


# ------------------------------------------------------------ test roads
def straight_road(length=100.0, width=7.0) -> Road:
    return Road.from_points([[0.0, 0.0], [length, 0.0]], width, name="straight")


def circle_road(radius=50.0, width=7.0) -> Road:
    """A closed counter-clockwise circle around the origin, starting at (radius, 0)."""
    theta = np.linspace(0.0, 2 * math.pi, 2000, endpoint=False)
    return Road.from_points(radius * np.column_stack([np.cos(theta), np.sin(theta)]), width, closed=True, name="circle")


def hairpin_road(leg=60.0, gap=8.0, width=5.0) -> Road:
    """Along +x, a left half circle of diameter ``gap``, back along -x ``gap`` metres to the left."""
    r = gap / 2
    out = np.column_stack([np.linspace(0.0, leg, 121), np.zeros(121)])
    theta = np.linspace(-math.pi / 2, math.pi / 2, 200)[1:-1]
    bend = np.column_stack([leg + r * np.cos(theta), r + r * np.sin(theta)])
    back = np.column_stack([np.linspace(leg, 0.0, 121), np.full(121, gap)])
    return Road.from_points(np.vstack([out, bend, back]), width, name="hairpin")


def spiral_road(turns=3, arm_gap=12.0, r0=15.0, width=6.0) -> Road:
    """An Archimedean spiral r = r0 + arm_gap * theta / 2 pi, counter-clockwise outwards."""
    theta = np.linspace(0.0, 2 * math.pi * turns, 6000)
    r = r0 + arm_gap * theta / (2 * math.pi)
    return Road.from_points(np.column_stack([r * np.cos(theta), r * np.sin(theta)]), width, name="spiral")


def left_normal(road: Road, s) -> np.ndarray:
    """Unit normals ``(..., 2)`` to the left of the centreline at arc lengths ``s``."""
    ahead, behind = road.point_at(np.asarray(s) + 0.01), road.point_at(np.asarray(s) - 0.01)
    d = ahead - behind
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    return np.stack([-d[..., 1], d[..., 0]], axis=-1)


# -------------------------------------------------------------- building
def test_from_points_resamples_uniformly():
    road = Road.from_points([[0, 0], [10, 0], [10, 10]], 7.0)
    assert road.length == pytest.approx(20.0)
    steps = np.linalg.norm(np.diff(road.points, axis=0), axis=1)
    assert road.spacing == pytest.approx(0.5)
    assert np.all(steps <= road.spacing + 1e-9)
    assert road.num_points == 41
    assert not road.points.flags.writeable


def test_closed_road_drops_repeated_first_point():
    square = [[0, 0], [10, 0], [10, 10], [0, 10]]
    a = Road.from_points(square, 7.0, closed=True)
    b = Road.from_points(square + [[0, 0]], 7.0, closed=True)
    assert a.length == pytest.approx(40.0)
    assert np.array_equal(a.points, b.points)


def test_circle_curvature_and_length():
    road = circle_road(radius=50.0)
    assert road.length == pytest.approx(2 * math.pi * 50.0, rel=1e-4)
    # resampling the 2000-gon makes a few samples cut its corners: curvature is 1/50 on average, +-2 %
    assert np.mean(road.curvatures) == pytest.approx(1 / 50.0, rel=1e-4)
    np.testing.assert_allclose(road.curvatures, 1 / 50.0, rtol=2e-2)
    np.testing.assert_allclose(np.hypot(*road.points.T), 50.0, atol=1e-3)


@pytest.mark.parametrize(
    "points, width, closed, message",
    [
        ([[0.0, 0.0]], 7.0, False, "at least two distinct points"),
        ([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]], 7.0, False, "at least two distinct points"),
        ([], 7.0, False, r"shape \(n, 2\)"),
        ([[0, 0], [1, 1]], 7.0, True, "closed road needs at least three"),
        ([[0, 0], [float("nan"), 1.0], [2, 2]], 7.0, False, "NaN or infinite"),
        ([[0, 0], [float("inf"), 1.0]], 7.0, False, "NaN or infinite"),
        ([[0, 0, 0], [1, 1, 1]], 7.0, False, r"shape \(n, 2\)"),
        ([[0, 0], [1, "a"]], 7.0, False, "list of"),
        ([[0, 0], [10, 0]], 0.0, False, "width must be a positive number"),
        ([[0, 0], [10, 0]], -3.0, False, "width must be a positive number"),
        ([[0, 0], [10, 0]], float("nan"), False, "width must be a positive number"),
        ([[0, 0], [10, 0]], float("inf"), False, "width must be a positive number"),
        ([[0, 0], [10, 0]], "wide", False, "width must be a number"),
    ],
)
def test_bad_roads_raise_road_error(points, width, closed, message):
    with pytest.raises(RoadError, match=message) as err:
        Road.from_points(points, width, closed=closed, name="bad-road")
    assert "bad-road" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_with_width_keeps_the_centreline():
    road = generate_road("train", "twisty", 3)
    wider = road.with_width(12.0)
    assert wider.width == 12.0
    np.testing.assert_allclose(wider.points, road.points, atol=1e-9)


def test_road_pickles():
    road = generate_road("train", "twisty", 1)
    copy = pickle.loads(pickle.dumps(road))
    assert np.array_equal(copy.points, road.points)
    assert np.array_equal(copy.headings, road.headings)
    assert np.array_equal(copy.curvatures, road.curvatures)
    assert (copy.width, copy.closed, copy.name, copy.spacing) == (road.width, road.closed, road.name, road.spacing)


# ------------------------------------------------------------------ files
def test_save_load_round_trip(tmp_path):
    roads = [generate_road("train", "twisty", 0), circle_road(), straight_road()]
    path = tmp_path / "sub" / "roads.json"
    save_roads(path, roads)
    loaded = load_roads(path)
    assert [r.name for r in loaded] == [r.name for r in roads]
    for a, b in zip(loaded, roads):
        assert (a.width, a.closed) == (b.width, b.closed)
        assert a.points.shape == b.points.shape
        np.testing.assert_allclose(a.points, b.points, atol=1e-3)
        assert a.length == pytest.approx(b.length, rel=1e-5)
    again = tmp_path / "again.json"
    save_roads(again, loaded)
    for a, b in zip(load_roads(again), loaded):  # a saved road is a fixed point
        np.testing.assert_allclose(a.points, b.points, atol=1e-4)
    assert not list(path.parent.glob("*.tmp"))  # the atomic write leaves no temporary file


def test_load_missing_file_names_it(tmp_path):
    path = tmp_path / "nowhere.json"
    with pytest.raises(RoadError, match="nowhere.json.*no such roads file"):
        load_roads(path)


def test_load_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"roads": [ {"points": [[0, 0], [1, 1]] ')
    with pytest.raises(RoadError, match="broken.json.*not valid JSON"):
        load_roads(path)


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"roads": [{"name": "r", "points": [[0, 0]], "width": 7}]}, "at least two distinct points"),
        ({"roads": [{"name": "r", "points": [[0, 0], [5, 5]], "width": -1}]}, "width"),
        ({"roads": [{"name": "r", "points": [[0, 0], [None, 5]], "width": 7}]}, "NaN|list of"),
        ({"roads": [{"width": 7}]}, "'points'"),
        ({"roads": []}, "no roads"),
        ([1, 2, 3], "expected an object"),
    ],
)
def test_load_bad_road_names_the_file(tmp_path, payload, message):
    path = tmp_path / "bad_roads.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(RoadError, match=message) as err:
        load_roads(path)
    assert "bad_roads.json" in str(err.value)


# ------------------------------------------------------------- projection
def test_cross_track_error_on_a_straight_road_is_left_positive():
    road = straight_road()
    cte, s, heading = road.project([30.0, 1.0], s_guess=30.0)
    assert cte == pytest.approx(1.0)
    assert s == pytest.approx(30.0)
    assert heading == pytest.approx(0.0)
    cte, s, _ = road.project([38.0, -2.0], s_guess=30.0)  # the local search reaches 10 m
    assert cte == pytest.approx(-2.0)
    assert s == pytest.approx(38.0)


def test_cross_track_error_on_a_circle_is_positive_inside():
    road = circle_road(radius=50.0)
    angles = np.linspace(0.1, 2 * math.pi - 0.1, 17)
    for radius, expected in ((48.0, 2.0), (52.0, -2.0), (50.0, 0.0)):
        xy = radius * np.column_stack([np.cos(angles), np.sin(angles)])
        cte, s, heading = road.project(xy, s_guess=50.0 * angles)
        np.testing.assert_allclose(cte, expected, atol=2e-3)
        # off the centreline of a polygon, s is exact to radius offset / radius * spacing / 2
        np.testing.assert_allclose(s, road.length * angles / (2 * math.pi), atol=0.011)
        np.testing.assert_allclose(np.cos(heading - (angles + math.pi / 2)), 1.0, atol=1e-4)


def test_closed_road_wraps_arc_length():
    road = circle_road(radius=50.0)
    np.testing.assert_allclose(road.point_at(road.length + 10.0), road.point_at(10.0), atol=1e-9)
    _, s, _ = road.project([50.0 * math.cos(-0.05), 50.0 * math.sin(-0.05)], s_guess=0.0)
    assert s == pytest.approx(road.length - 2.5, abs=0.01)


def test_cross_track_error_is_the_distance_to_a_segment_that_cuts_a_corner():
    """Resampling a sharp corner makes a segment shorter than ``spacing``; cte is still in metres."""
    road = Road.from_points([[0, 0], [10.25, 0], [10.25, 10]], 7.0)
    d = np.diff(road.points, axis=0)
    lengths = np.hypot(*d.T)
    j = int(np.argmin(lengths))
    assert lengths[j] < 0.9 * road.spacing  # the corner is cut
    a, b = road.points[j], road.points[j + 1]
    u = (b - a) / lengths[j]
    outside = 0.5 * (a + b) - 1.0 * np.array([-u[1], u[0]])  # 1 m to the right, outside the left turn
    cte, s, heading = road.project(outside, s_guess=j * road.spacing)
    assert cte == pytest.approx(-1.0, abs=1e-9)
    assert s == pytest.approx((j + 0.5) * road.spacing, abs=1e-9)
    assert heading == pytest.approx(math.atan2(u[1], u[0]))
    batch = RoadBatch(1)
    batch.set_road(0, road)
    _, _, batch_cte, _ = batch.project(outside[:1], outside[1:], np.array([j]))
    assert batch_cte[0] == pytest.approx(-1.0, abs=1e-9)


def _project_along(road: Road, lateral: float, step: float):
    """Positions every ``step`` metres along the road, ``lateral`` metres to its left,
    projected incrementally (each from the previous s) by Road.project and by RoadBatch.project."""
    s_true = np.arange(0.0, road.length, step)
    xy = road.point_at(s_true) + lateral * left_normal(road, s_true)
    road_s, road_cte = [], []
    s = 0.0
    for p in xy:
        cte, s, _ = road.project(p, s_guess=s)
        road_s.append(float(s))
        road_cte.append(float(cte))
    batch = RoadBatch(1, max_move=8)
    batch.set_road(0, road)
    seg = np.zeros(1, dtype=np.int64)
    batch_s, batch_cte = [], []
    for p in xy:
        seg, s_b, cte_b, _ = batch.project(p[:1], p[1:], seg)
        batch_s.append(float(s_b[0]))
        batch_cte.append(float(cte_b[0]))
    return s_true, np.array(road_s), np.array(road_cte), np.array(batch_s), np.array(batch_cte)


@pytest.mark.parametrize("make_road", [hairpin_road, spiral_road], ids=["hairpin", "spiral"])
@pytest.mark.parametrize("lateral", [1.0, -1.0])
@pytest.mark.parametrize("step", [0.3, 1.4])
def test_projection_never_jumps_to_the_next_leg(make_road, lateral, step):
    road = make_road()
    s_true, road_s, road_cte, batch_s, batch_cte = _project_along(road, lateral, step)
    for s, cte in ((road_s, road_cte), (batch_s, batch_cte)):
        assert np.all(np.diff(s) > 0), "progress must increase monotonically"
        np.testing.assert_allclose(cte, lateral, atol=0.005)
        # on the inside of a bend s sticks at a polygon vertex for a moment: a fraction of a sample
        assert np.max(np.abs(s - s_true)) < 0.5 * road.spacing


def test_hairpin_and_spiral_geometry():
    """The test roads really are tight: legs 8 m apart, arms 12 m apart."""
    hairpin = hairpin_road()
    a = hairpin.point_at(10.0)
    b = hairpin.point_at(hairpin.length - 10.0)
    assert np.linalg.norm(a - b) == pytest.approx(8.0, abs=1e-6)
    spiral = spiral_road()
    p = spiral.points[len(spiral.points) // 2]
    r = np.hypot(*p)
    # the next arm outwards along the same ray is 12 m further out
    theta = math.atan2(p[1], p[0])
    outer = (r + 12.0) * np.array([math.cos(theta), math.sin(theta)])
    assert np.min(np.linalg.norm(spiral.points - outer, axis=1)) < 0.05


def test_road_batch_matches_road_on_a_closed_road():
    road = circle_road(radius=30.0)
    batch = RoadBatch(3, max_move=8)
    for slot in range(3):
        batch.set_road(slot, road)
    angles = np.array([0.3, 2.0, 5.0])
    xy = 31.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    seg = np.floor(30.0 * angles / road.spacing).astype(np.int64)
    _, s, cte, _ = batch.project(xy[:, 0], xy[:, 1], seg)
    cte_ref, s_ref, _ = road.project(xy, s_guess=30.0 * angles)
    np.testing.assert_allclose(cte, cte_ref, atol=1e-9)
    np.testing.assert_allclose(s, s_ref, atol=1e-9)
    ahead_x, ahead_y = batch.points_at(np.array([[road.length + 5.0], [1.0], [20.0]]))  # slot 0 wraps a lap
    expected = road.point_at([5.0, 1.0, 20.0])
    np.testing.assert_allclose(np.column_stack([ahead_x[:, 0], ahead_y[:, 0]]), expected, atol=1e-9)


def test_road_batch_stays_right_while_its_atlas_grows_and_is_rebuilt():
    """Giving one slot a thousand new roads grows the atlas and then rebuilds it from the
    roads still in use; the other slots' roads must read the same throughout."""
    kept = [generate_road("train", "twisty", 0), circle_road(radius=40.0)]
    batch = RoadBatch(3, max_move=8)
    batch.set_road(1, kept[0])
    batch.set_road(2, kept[1])
    s = np.array([[10.0, 300.0], [12.0, 180.0], [30.0, 240.0]])
    atlas_sizes = []
    for k in range(1100):
        angle = 0.01 * k
        road = Road.from_points([[k, 0.0], [k + 1000.0 * math.cos(angle), 1000.0 * math.sin(angle)]], 7.0)
        batch.set_road(0, road)
        atlas_sizes.append(len(batch._atlas_index))
        if k % 50 and k != 1099:
            continue
        x, y = batch.points_at(s)
        for slot, r in enumerate([road] + kept):
            np.testing.assert_allclose(np.column_stack([x[slot], y[slot]]), r.point_at(s[slot]), atol=1e-5)
        xy = np.stack([r.point_at(s[i, 0]) + left_normal(r, s[i, 0]) for i, r in enumerate([road] + kept)])
        seg = np.floor(s[:, 0] / batch.spacing).astype(np.int64)
        _, s_proj, cte, _ = batch.project(xy[:, 0], xy[:, 1], seg)
        np.testing.assert_allclose(cte, 1.0, atol=1e-3)
        np.testing.assert_allclose(s_proj, s[:, 0], atol=1e-3)
    assert max(atlas_sizes) > atlas_sizes[-1], "the atlas should have been rebuilt"


def test_a_rebuilt_road_batch_fills_up_without_doubling_its_tables():
    """One slot meeting road after road (a single env) rebuilds its tables whenever the dead
    roads' rows pass their budget; each rebuild makes room for that budget at once, so between
    two rebuilds the tables are never copied into larger ones."""
    batch = RoadBatch(1, max_move=8)
    tables_per_layout: dict[int, list[np.ndarray]] = {}  # held, so that no object id is reused
    kept = []  # the roads too
    for k in range(160):
        road = Road.from_points([[0.0, 0.0], [1500.0, 10.0 * k]], 7.0, name=f"line {k}")
        kept.append(road)
        batch.set_road(0, road)
        tables = tables_per_layout.setdefault(batch.layout, [])
        if not any(table is batch.atlas for table in tables):
            tables.append(batch.atlas)
        x, y = batch.points_at(np.array([[100.0]]))
        np.testing.assert_allclose([x[0, 0], y[0, 0]], road.point_at([100.0])[0], atol=1e-5)
    rebuilt = {layout: tables for layout, tables in tables_per_layout.items() if layout > 0}
    assert len(rebuilt) >= 2, "the tables should have been rebuilt more than once"
    assert all(len(tables) == 1 for tables in rebuilt.values()), {k: len(v) for k, v in rebuilt.items()}


def test_road_batch_with_a_known_pool_grows_once_for_all_of_it():
    """Eight slots that come to hold every road of a 40-road pool, eight at a time, grow the tables
    once (room for the pool at the mean rows of the first roads stored) and read each road right;
    without ``expected_roads`` the tables double on the way."""
    pool = [generate_road("train", family, i) for family in ("gentle", "twisty") for i in range(20)]
    grown = {}
    for expected in (0, len(pool)):
        batch = RoadBatch(8, max_move=8)
        batch.expected_roads = expected
        tables = []
        for start in range(0, len(pool), 8):
            batch.set_roads(np.arange(8), pool[start : start + 8])
            if not tables or tables[-1] is not batch.atlas:
                tables.append(batch.atlas)
            x, y = batch.points_at(np.full((8, 1), 25.0))
            expected_xy = np.stack([road.point_at([25.0])[0] for road in pool[start : start + 8]])
            np.testing.assert_allclose(np.column_stack([x[:, 0], y[:, 0]]), expected_xy, atol=1e-5)
        grown[expected] = len(tables)
    assert grown[len(pool)] == 1, grown
    assert grown[0] >= 2, grown


# ------------------------------------------------------------- generation
# road 0 of each split and family: (length [m], width [m], first point, last point)
GOLDEN_ROAD_0 = {
    ("train", "gentle"): (417.41, 8.162, (0.0, 0.0), (249.43, 78.97)),
    ("unseen", "gentle"): (354.87, 7.888, (0.0, 0.0), (277.26, 189.16)),
    ("train", "twisty"): (434.37, 7.441, (0.0, 0.0), (-156.66, -48.31)),
    ("unseen", "twisty"): (444.52, 7.658, (0.0, 0.0), (-71.52, 219.46)),
    ("train", "hairpin"): (362.82, 6.508, (0.0, 0.0), (180.19, -30.6)),
    ("unseen", "hairpin"): (331.97, 6.986, (0.0, 0.0), (-75.18, -177.49)),
    ("train", "wet"): (453.92, 7.56, (0.0, 0.0), (235.52, 99.11)),
    ("unseen", "wet"): (355.82, 7.932, (0.0, 0.0), (190.37, 72.6)),
    ("train", "icy"): (394.45, 7.014, (0.0, 0.0), (-39.96, 46.46)),
    ("unseen", "icy"): (473.13, 7.148, (0.0, 0.0), (-145.31, 225.81)),
}
# and the surfaces of road 0 of the slippery families (s_start, s_end [m], surface)
GOLDEN_SURFACES_0 = {
    ("train", "icy"): [(128.2, 227.7, "snow"), (336.1, 394.5, "snow")],
    ("unseen", "icy"): [(96.5, 153.8, "wet"), (230.1, 317.8, "snow"), (371.0, 444.1, "snow")],
    ("unseen", "wet"): [(63.1, 113.4, "wet"), (196.4, 272.2, "wet")],
}


@pytest.mark.parametrize("split, family", sorted(GOLDEN_ROAD_0))
def test_golden_fingerprint_of_road_0(split, family):
    """A change in generation that alters the roads must be deliberate: update these values then."""
    road = generate_road(split, family, 0)
    length, width, first, last = GOLDEN_ROAD_0[split, family]
    assert round(road.length, 2) == length
    assert round(road.width, 3) == width
    assert tuple(np.round(road.points[0], 2).tolist()) == first
    assert tuple(np.round(road.points[-1], 2).tolist()) == last
    assert road.name == f"{split}/{family}/0"


@pytest.mark.parametrize("split, family", sorted(GOLDEN_SURFACES_0))
def test_golden_surfaces_of_road_0(split, family):
    road = generate_road(split, family, 0)
    assert [(round(a, 1), round(b, 1), name) for a, b, name in road.surfaces] == GOLDEN_SURFACES_0[split, family]


def test_slippery_families_have_the_shares_they_ask_for():
    share = {}
    for index in range(60):
        road = generate_road("train", "icy", index)
        for start, end, surface in road.surfaces:
            share[surface] = share.get(surface, 0.0) + end - start
    total = sum(share.values())
    assert set(share) == {"wet", "snow", "ice"}
    assert share["wet"] / total == pytest.approx(0.4, abs=0.12) and share["ice"] / total == pytest.approx(0.3, abs=0.12)
    assert generate_road("train", "twisty", 0).surfaces == ()


def test_golden_fingerprints_cover_every_split_and_family():
    assert set(GOLDEN_ROAD_0) == {(s, f) for s in SPLITS for f in FAMILIES}


SPLIT_CHECK_COUNT = 300


def _fingerprint(road: Road) -> bytes:
    return np.round(road.points, 2).tobytes() + np.round(road.width, 3).tobytes()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_train_and_unseen_splits_share_no_road(family):
    train = {_fingerprint(r) for r in split_roads("train", SPLIT_CHECK_COUNT, family)}
    unseen = {_fingerprint(r) for r in split_roads("unseen", SPLIT_CHECK_COUNT, family)}
    assert len(train) == SPLIT_CHECK_COUNT and len(unseen) == SPLIT_CHECK_COUNT  # no repeats within a split
    assert not train & unseen


def test_road_seeds_differ_across_splits_families_and_indices():
    states = {}
    for split in SPLITS:
        for family in FAMILIES:
            for index in range(SPLIT_CHECK_COUNT):
                key = road_seed(split, family, index).generate_state(4, np.uint64).tobytes()
                assert key not in states, f"{(split, family, index)} has the seed of {states.get(key)}"
                states[key] = (split, family, index)


def test_generation_is_deterministic_and_cached():
    from envs.generation import _draw

    road = generate_road("unseen", "hairpin", 7)
    assert generate_road("unseen", "hairpin", 7) is road  # cached
    fresh = _draw("unseen", FAMILIES["hairpin"], 7)  # drawn again, bypassing the cache
    assert fresh is not road
    assert np.array_equal(fresh.points, road.points)
    assert (fresh.width, fresh.name) == (road.width, road.name)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_generated_roads_respect_their_family(family):
    fam = FAMILIES[family]
    for road in split_roads("train", 20, family):
        assert fam.length_range[0] - 0.5 <= road.length <= fam.length_range[1] + 0.5
        assert fam.width_range[0] <= road.width <= fam.width_range[1]
        assert np.max(np.abs(road.curvatures)) <= fam.max_curvature * 1.05
        assert not road.closed
        assert np.all(np.isfinite(road.points))


def test_unknown_split_family_or_index_names_the_allowed_values():
    with pytest.raises(ValueError, match="train, unseen"):
        generate_road("test", "twisty", 0)
    with pytest.raises(ValueError, match="gentle, twisty, hairpin"):
        generate_road("train", "bumpy", 0)
    with pytest.raises(ValueError, match="non-negative integer"):
        road_seed("train", "twisty", -1)


# ------------------------------------------------------------------- surfaces
def test_surfaces_survive_json_and_pickle_and_set_the_friction_along_the_road(tmp_path):
    import pickle

    from envs.road import SURFACES

    road = Road.from_points([[0, 0], [100, 0]], 7.0, name="s").with_surfaces([(10, 20.5, "wet"), (50, 100, "ice")])
    mu = road.friction
    s = road.arc_lengths
    assert np.all(mu[s < 10] == SURFACES["dry"]) and np.all(mu[(s >= 10) & (s < 20.5)] == SURFACES["wet"])
    assert np.all(mu[s >= 50] == SURFACES["ice"])
    save_roads(tmp_path / "r.json", [road])
    (again,) = load_roads(tmp_path / "r.json")
    assert again.surfaces == road.surfaces == ((10.0, 20.5, "wet"), (50.0, 100.0, "ice"))
    assert pickle.loads(pickle.dumps(road)).surfaces == road.surfaces
    assert road.with_width(9.0).surfaces == road.surfaces


@pytest.mark.parametrize(
    "surfaces, message",
    [
        ([(0, 10, "lava")], "unknown surface"),
        ([(10, 5, "ice")], "s_start < s_end"),
        ([(0, 500, "ice")], "s_start < s_end"),
        ([(0, True, "ice")], "s_start < s_end"),
        ([(0, 10)], r"\[s_start, s_end, surface\]"),
        ("ice", r"\[s_start, s_end, surface\]"),
        (5, "surfaces must be a list"),
    ],
)
def test_bad_surface_sections_are_refused_with_the_reason(surfaces, message):
    with pytest.raises(RoadError, match=message):
        Road.from_points([[0, 0], [100, 0]], 7.0, surfaces=surfaces)
