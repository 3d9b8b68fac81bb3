"""Procedural roads: seeded, in named families, in disjoint *train* and *unseen* splits.

A road is a curvature profile of clothoid-like pieces (curvature changes
linearly with arc length between random knots, sometimes held constant for a
sustained bend), integrated into a centreline. Roads that come too close to
themselves are redrawn from the same random stream, so every road is clean.

Road ``k`` of a split is drawn from ``SeedSequence(ROADS_ENTROPY,
spawn_key=(split, family, k))``: the same road on every machine and run, and
the two splits can never share a seed, however many roads are drawn.

Drawing is compiled (numba), about 0.2 ms a road instead of 4 ms, so the ~2,000 roads a
4096-car vector env resets onto are ready in well under a second
(``benchmarks/bench_generation.py``). The kernels read the road's random stream exactly as the
numpy ``Generator`` calls of the plain-numpy generator did, so every road is the road it was.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from envs.jit import njit
from envs.road import DEFAULT_SPACING, SURFACES, Road
from envs.seeding import bit_generators

ROADS_ENTROPY = 0x524F41445343484F  # "ROADSCHO": the root of every generated road
SPLITS = ("train", "unseen")
_SPLIT_KEYS = {"train": 0, "unseen": 1}


@dataclass(frozen=True)
class RoadFamily:
    """The ranges a family of roads is drawn from."""

    name: str
    max_curvature: float
    """Largest |curvature| of a knot [1/m] (1 / tightest radius)."""
    length_range: tuple[float, float] = (300.0, 500.0)
    """Road length [m]."""
    width_range: tuple[float, float] = (7.0, 8.0)
    """Road width [m]."""
    piece_length_range: tuple[float, float] = (20.0, 60.0)
    """Length of one clothoid-like piece [m]."""
    straight_probability: float = 0.2
    """Chance that a knot is a straight (curvature 0)."""
    hold_probability: float = 0.3
    """Chance that a piece holds its curvature constant (a sustained bend)."""
    min_curvature_fraction: float = 0.3
    """Non-straight knots have |curvature| of at least this fraction of max_curvature."""
    lead_in: float = 15.0
    """Straight run at the start of each road [m]."""
    surfaces: tuple[tuple[str, float], ...] = ()
    """Slippery sections: ``(surface, share)`` pairs (names of ``envs.road.SURFACES``); after
    the lead-in, stretches of dry asphalt and sections alternate, each section's surface drawn
    with these shares. Empty: dry all along."""
    section_length_range: tuple[float, float] = (40.0, 120.0)
    """Length of a slippery section, and of the dry stretch before it [m]."""

    def __post_init__(self):
        lo, hi = self.length_range
        if not (0 < lo <= hi):
            raise ValueError(f"family {self.name!r}: bad length_range {self.length_range}")
        if not (0 < self.width_range[0] <= self.width_range[1]):
            raise ValueError(f"family {self.name!r}: bad width_range {self.width_range}")
        if not (0 < self.piece_length_range[0] <= self.piece_length_range[1]):
            raise ValueError(f"family {self.name!r}: bad piece_length_range {self.piece_length_range}")
        if not (self.max_curvature > 0):
            raise ValueError(f"family {self.name!r}: max_curvature must be positive")
        if any(surface not in SURFACES or not share > 0 for surface, share in self.surfaces):
            raise ValueError(
                f"family {self.name!r}: surfaces must be (name of {', '.join(SURFACES)}, share > 0) "
                f"pairs, got {self.surfaces}"
            )
        if not (0 < self.section_length_range[0] <= self.section_length_range[1]):
            raise ValueError(f"family {self.name!r}: bad section_length_range {self.section_length_range}")

    @property
    def min_radius(self) -> float:
        """Tightest bend radius [m]."""
        return 1.0 / self.max_curvature


FAMILIES: dict[str, RoadFamily] = {
    f.name: f
    for f in (
        RoadFamily("gentle", max_curvature=1 / 60, piece_length_range=(30.0, 80.0), width_range=(7.5, 8.5)),
        RoadFamily("twisty", max_curvature=1 / 22, piece_length_range=(15.0, 45.0)),
        RoadFamily(
            "hairpin",
            max_curvature=1 / 11,
            piece_length_range=(12.0, 35.0),
            width_range=(6.5, 7.5),
            hold_probability=0.5,
            min_curvature_fraction=0.6,
        ),
        # the twisty family's bends with slippery sections (its own seeds: other roads)
        RoadFamily("wet", max_curvature=1 / 22, piece_length_range=(15.0, 45.0), surfaces=(("wet", 1.0),)),
        RoadFamily(
            "icy",
            max_curvature=1 / 22,
            piece_length_range=(15.0, 45.0),
            surfaces=(("wet", 0.4), ("snow", 0.3), ("ice", 0.3)),
        ),
    )
}
DEFAULT_FAMILIES = ("gentle", "twisty")


def get_family(family: str | RoadFamily) -> RoadFamily:
    """A family by name (``gentle``, ``twisty``, ``hairpin``) or the family itself."""
    if isinstance(family, RoadFamily):
        return family
    try:
        return FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown road family {family!r}; choose from {', '.join(FAMILIES)}") from None


def road_seed(split: str, family: str | RoadFamily, index: int) -> np.random.SeedSequence:
    """The seed of road ``index`` of ``split`` in ``family``."""
    return np.random.SeedSequence(ROADS_ENTROPY, spawn_key=_spawn_key(split, family, index))


def _spawn_key(split: str, family: str | RoadFamily, index: int) -> tuple[int, int, int]:
    if split not in _SPLIT_KEYS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if not (isinstance(index, (int, np.integer)) and index >= 0):
        raise ValueError(f"road index must be a non-negative integer, got {index!r}")
    family_key = zlib.crc32(get_family(family).name.encode())
    return _SPLIT_KEYS[split], family_key, int(index)


# ROADS_ENTROPY as the 32-bit words a SeedSequence makes of it: low word first, then zeros up to
# its pool size of 4 (the padding it adds when a spawn key follows)
_ENTROPY_WORDS = (ROADS_ENTROPY & 0xFFFFFFFF, ROADS_ENTROPY >> 32, 0, 0)


def _road_bits(split: str, family: RoadFamily, index: int) -> np.random.PCG64:
    """The bit generator ``default_rng(road_seed(split, family, index))`` draws from."""
    return _roads_bits(split, [(family, index)])[0]


def _roads_bits(split: str, keys: list[tuple[RoadFamily, int]]) -> list[np.random.PCG64]:
    """:func:`_road_bits` of each ``(family, index)``, seeded together (``envs.seeding``).

    A SeedSequence hashes the 32-bit words of its entropy followed by those of its spawn key;
    given those words it makes the same generator, for all the roads in one numpy pass.
    """
    spawn = [_spawn_key(split, family, index) for family, index in keys]
    if all(key[2] < 2**32 for key in spawn):
        return bit_generators(np.array([_ENTROPY_WORDS + key for key in spawn], dtype=np.uint32))
    return [np.random.PCG64(road_seed(split, family, index)) for family, index in keys]  # larger indices


def generate_road(split: str, family: str | RoadFamily = "twisty", index: int = 0) -> Road:
    """Road ``index`` of ``split`` in ``family``; cached, so asking again is free."""
    return generate_roads(split, [(family, index)])[0]


ROAD_CACHE_BYTES = 16 * 2**20
"""[bytes] most road samples :func:`generate_roads` keeps (points, headings and curvatures, about
25 kB a default road, so some 650 roads); the least recently asked for go first. Drawing a road
again costs about 0.4 ms, a few steps' worth: the budget holds the few hundred roads of the demo
and the benchmarks, and an env meeting road after road of a large pool keeps no more than this."""
_CACHE: dict[tuple[str, RoadFamily, int], Road] = {}
_cache_bytes = 0


def road_bytes(road: Road) -> int:
    """Bytes of ``road``'s sample arrays (points, headings, curvatures)."""
    return road.points.nbytes + road.headings.nbytes + road.curvatures.nbytes


def cached_road_bytes() -> int:
    """Bytes of the roads :func:`generate_roads` keeps now (at most :data:`ROAD_CACHE_BYTES`)."""
    return _cache_bytes


def generate_roads(split: str, keys) -> list[Road]:
    """Roads ``(family, index)`` of ``split``, one per key: those not cached are seeded together
    (one vectorized SeedSequence, ``envs.seeding``) and drawn; the cache keeps the most recently
    asked for within :data:`ROAD_CACHE_BYTES`."""
    global _cache_bytes
    wanted = [(split, get_family(family), int(index)) for family, index in keys]
    missing = list(dict.fromkeys(key for key in wanted if key not in _CACHE))
    drawn = {}
    if missing:
        for key, bits in zip(missing, _roads_bits(split, [(family, index) for _, family, index in missing])):
            drawn[key] = _draw(split, key[1], key[2], bits)
    out = []
    for key in wanted:
        if key in drawn:
            road = drawn.pop(key)
            _cache_bytes += road_bytes(road)
        else:
            road = _CACHE.pop(key)
        _CACHE[key] = road  # asked for again: to the back of the queue
        out.append(road)
    while _cache_bytes > ROAD_CACHE_BYTES and _CACHE:
        _cache_bytes -= road_bytes(_CACHE.pop(next(iter(_CACHE))))
    return out


_MAX_ATTEMPTS = 200  # draws of one road before its family is declared too tight


def _draw(split: str, family: RoadFamily, index: int, bits: np.random.PCG64 | None = None) -> Road:
    """Draw road ``index`` afresh (no cache) from its bit generator ``bits`` (made if None)."""
    if bits is None:
        bits = _road_bits(split, family, index)
    name = f"{split}/{family.name}/{index}"
    ranges = _family_ranges(family)
    max_draws = int(ranges[0]["max_draws"])
    raw = bits.random_raw(2 * max_draws)  # enough for two attempts
    stream = np.array([0, _NO_HALF], dtype=np.int64)
    for _ in range(_MAX_ATTEMPTS):
        if len(raw) - stream[0] < max_draws:
            raw = np.concatenate([raw, bits.random_raw(len(raw))])  # the stream goes on
        points, width, spacing = _draw_centreline(raw, stream, ranges, DEFAULT_SPACING)
        if stream[0] > len(raw):  # max_draws is a bound, so this cannot happen
            raise RuntimeError(f"{name} drew past the {len(raw)} random numbers fetched for it")
        if _is_clear_of_itself(points, spacing, width):
            # the points are already uniformly spaced: from_points would give them back unchanged
            road = Road._from_uniform(points, width, False, name, spacing)
            if family.surfaces:  # drawn after the centreline, from the stream where it stopped
                road = road.with_surfaces(_draw_surfaces(np.random.Generator(bits), family, road.length))
            return road
    raise RuntimeError(f"could not draw a clean road for {name}; the family's ranges are too tight")


# ------------------------------------------------------------ the random stream
# The kernels draw from the road's PCG64 stream exactly as numpy's ``Generator`` does, so every
# road is the one the ``rng.uniform`` / ``rng.random`` / ``rng.choice`` calls of the plain-numpy
# generator drew (tests/test_generation_speed.py holds the two to each other):
#   * ``rng.random()`` is the top 53 bits of the next 64-bit draw, times 2**-53;
#   * ``rng.uniform(low, high)`` is ``low + (high - low) * rng.random()``;
#   * ``rng.choice([-1.0, 1.0])`` is picked by the top bit of the next 32-bit draw, and a 32-bit
#     draw is the low half of a fresh 64-bit draw whose high half is kept for the next one.
# ``raw`` holds 64-bit draws fetched ahead with ``bit_generator.random_raw``; ``stream`` is
# ``[index of the next unused draw in raw, the kept high half or _NO_HALF]``.

_NO_HALF = -1
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True)
def _random(raw: np.ndarray, stream: np.ndarray) -> float:
    """``rng.random()``: uniform in [0, 1)."""
    bits = raw[stream[0]]
    stream[0] += 1
    return float(bits >> np.uint64(11)) * _DOUBLE_UNIT


@njit(cache=True)
def _uniform(raw: np.ndarray, stream: np.ndarray, low: float, high: float) -> float:
    """``rng.uniform(low, high)``."""
    return low + (high - low) * _random(raw, stream)


@njit(cache=True)
def _random_sign(raw: np.ndarray, stream: np.ndarray) -> float:
    """``rng.choice([-1.0, 1.0])``."""
    if stream[1] != _NO_HALF:
        word = stream[1]
        stream[1] = _NO_HALF
    else:
        bits = raw[stream[0]]
        stream[0] += 1
        word = np.int64(bits & np.uint64(0xFFFFFFFF))
        stream[1] = np.int64(bits >> np.uint64(32))
    return 1.0 if word >> 31 else -1.0


# ------------------------------------------------------------------ drawing
_RANGES = np.dtype(
    [
        ("length_low", np.float64),
        ("length_high", np.float64),
        ("width_low", np.float64),
        ("width_high", np.float64),
        ("piece_low", np.float64),
        ("piece_high", np.float64),
        ("straight_probability", np.float64),
        ("hold_probability", np.float64),
        ("min_curvature_fraction", np.float64),
        ("max_curvature", np.float64),
        ("lead_in", np.float64),
        ("max_knots", np.int64),  # most knots one profile can have
        ("max_draws", np.int64),  # most 64-bit draws one road can take
    ],
    align=True,
)
"""A family's ranges as the kernels read them (units as in :class:`RoadFamily`): one record,
passed as an array of one, which numba unboxes ~20x faster than a namedtuple (~0.4 us vs 7 us)."""


def _draw_surfaces(rng: np.random.Generator, family: RoadFamily, length: float) -> list[tuple[float, float, str]]:
    """Sections ``(s_start, s_end, surface)`` along a road of ``length`` [m]: after the lead-in,
    a dry stretch then a section, each of a length drawn from ``section_length_range``."""
    names = [surface for surface, _ in family.surfaces]
    shares = np.array([share for _, share in family.surfaces], dtype=np.float64)
    sections = []
    s = family.lead_in
    while True:
        s += rng.uniform(*family.section_length_range)  # dry
        if s >= length:
            return sections
        end = min(s + rng.uniform(*family.section_length_range), length)
        sections.append((float(s), float(end), names[int(rng.choice(len(names), p=shares / shares.sum()))]))
        s = end


def _family_ranges(family: RoadFamily) -> np.ndarray:
    # each loop of the profile adds a piece of at least piece_low until it passes the length
    max_loops = math.ceil(family.length_range[1] / family.piece_length_range[0]) + 2
    ranges = np.array(
        [
            (
                *family.length_range,
                *family.width_range,
                *family.piece_length_range,
                family.straight_probability,
                family.hold_probability,
                family.min_curvature_fraction,
                family.max_curvature,
                family.lead_in,
                2 + 2 * max_loops,
                2 + 6 * max_loops,  # length and width, then at most 6 a loop
            )
        ],
        dtype=_RANGES,
    )
    ranges.setflags(write=False)
    return ranges


@njit(cache=True)
def _draw_centreline(raw: np.ndarray, stream: np.ndarray, ranges: np.ndarray, spacing: float):
    """One draw of a road with a family's ``ranges``, resampled to about ``spacing`` [m].

    Returns ``(points (n, 2) [m], width [m], ds [m])``, the points ``ds`` apart along the road:
    the same points ``Road.from_points`` makes of the drawn centreline.
    """
    f = ranges[0]
    length = _uniform(raw, stream, f["length_low"], f["length_high"])
    width = _uniform(raw, stream, f["width_low"], f["width_high"])
    n_seg = round(length / spacing)
    ds = length / n_seg
    kappa = _curvature_profile(raw, stream, f, length, ds)
    # the exact heading integral of a piecewise-linear curvature, the midpoint rule for position,
    # and chord, the length of the polyline up to each point
    n = len(kappa)
    x, y, chord = np.empty(n), np.empty(n), np.empty(n)
    x[0], y[0], chord[0] = 0.0, 0.0, 0.0
    heading = 0.0
    for i in range(1, n):
        next_heading = heading + 0.5 * (kappa[i] + kappa[i - 1]) * ds
        mid = 0.5 * (next_heading + heading)
        heading = next_heading
        x[i] = x[i - 1] + ds * math.cos(mid)
        y[i] = y[i - 1] + ds * math.sin(mid)
        chord[i] = chord[i - 1] + np.hypot(x[i] - x[i - 1], y[i] - y[i - 1])
    # resample as from_points does (it would keep every point: consecutive ones are ~ds apart)
    road_length = chord[n - 1]
    road_seg = round(road_length / spacing)
    if road_seg < 1:
        road_seg = 1
    road_ds = road_length / road_seg
    last = road_seg * road_ds
    if road_length < last:
        last = road_length
    px, py = np.empty(road_seg + 1), np.empty(road_seg + 1)
    _interpolate(chord, x, n, road_ds, last, px)
    _interpolate(chord, y, n, road_ds, last, py)
    points = np.empty((road_seg + 1, 2))
    for i in range(road_seg + 1):
        points[i, 0], points[i, 1] = px[i], py[i]
    return points, width, road_ds


@njit(cache=True)
def _curvature_profile(raw: np.ndarray, stream: np.ndarray, f, length: float, ds: float) -> np.ndarray:
    """Curvature [1/m] at arc lengths ``0, ds, 2 ds, ...`` up to ``length``, the family's
    ranges in the record ``f``."""
    piece_low, piece_high = f["piece_low"], f["piece_high"]
    kmax = f["max_curvature"]
    s_knots, k_knots = np.empty(f["max_knots"]), np.empty(f["max_knots"])
    s_knots[0], k_knots[0] = 0.0, 0.0
    s_knots[1], k_knots[1] = f["lead_in"], 0.0  # a straight lead-in
    n = 2  # knots so far
    while s_knots[n - 1] < length:
        piece = _uniform(raw, stream, piece_low, piece_high)
        if _random(raw, stream) < f["straight_probability"]:
            k = 0.0
        else:
            k = _random_sign(raw, stream) * _uniform(raw, stream, f["min_curvature_fraction"], 1.0) * kmax
        s_knots[n], k_knots[n] = s_knots[n - 1] + piece, k
        n += 1
        if _random(raw, stream) < f["hold_probability"]:
            # hold the bend, at most a half turn
            hold = _uniform(raw, stream, piece_low, piece_high)
            half_turn = math.pi / (abs(k) if abs(k) > 1e-9 else 1e-9)
            s_knots[n], k_knots[n] = s_knots[n - 1] + (half_turn if half_turn < hold else hold), k
            n += 1
    count = round(length / ds) + 1
    kappa = np.empty(count)
    _interpolate(s_knots, k_knots, n, ds, (count - 1) * ds, kappa)
    return kappa


@njit(cache=True)
def _interpolate(xp: np.ndarray, fp: np.ndarray, n: int, dx: float, last: float, out: np.ndarray) -> None:
    """``out[:] = np.interp(x, xp[:n], fp[:n])`` at ``x = 0, dx, 2 dx, ..., last``, with numpy's
    arithmetic (``xp`` strictly ascending)."""
    j = 0
    for i in range(len(out)):
        x = i * dx if i < len(out) - 1 else last
        if x < xp[0]:
            out[i] = fp[0]
        elif x >= xp[n - 1]:
            out[i] = fp[n - 1]
        else:
            while xp[j + 1] <= x:
                j += 1
            slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
            out[i] = slope * (x - xp[j]) + fp[j]


def _is_clear_of_itself(points: np.ndarray, spacing: float, width: float) -> bool:
    """True if no two parts of the road far apart along it come closer than ~two widths."""
    clearance = 2.0 * float(width)
    # clearance**2 is libm's pow, which differs from clearance * clearance in the last bit for
    # ~0.1% of widths; computed here, in Python, it is the threshold roads were always held to
    return _no_close_pair(points, spacing, math.pi * clearance, clearance, clearance**2)


@njit(cache=True)
def _no_close_pair(
    points: np.ndarray, spacing: float, far_along: float, clearance: float, clearance_squared: float
) -> bool:
    """True if no two of every ``step``-th point (about 2 m apart) of the road's ``points``
    ``spacing`` [m] apart, that are more than ``far_along`` [m] apart along the road, are
    closer than ``clearance`` [m] (squared distance below ``clearance_squared``)."""
    step = round(2.0 / spacing)
    if step < 1:
        step = 1
    count = (len(points) + step - 1) // step
    gap = step * spacing  # the most two consecutive checked points can be apart
    # samples a + 1 .. a + near - 1 are surely not far along from sample a: the search for the
    # first one that is starts at a + near
    near = int(far_along / gap) - 1
    # After a sample at distance d from sample a, the next (d - clearance) / reach samples are
    # farther than the clearance and need no check (a 1% margin in reach dwarfs any rounding).
    # This and `near` cut the check from ~18 us to ~4 us a road.
    reach = 1.01 * gap
    for a in range(count):
        xa, ya = points[a * step, 0], points[a * step, 1]
        s_a = (a * step) * spacing
        b = a + (near if near > 1 else 1)
        while b < count and (b * step) * spacing - s_a <= far_along:
            b += 1
        while b < count:
            dx = xa - points[b * step, 0]
            dy = ya - points[b * step, 1]
            d2 = dx * dx + dy * dy
            if d2 < clearance_squared:
                return False
            b += 1 + int((math.sqrt(d2) - clearance) / reach)
    return True


def road_key(i: int, families, first: int = 0) -> tuple[str | RoadFamily, int]:
    """``(family, index)`` of road ``i`` of a mixed list of roads of a split: of family
    ``families[i % F]``, with index ``first + i``. The one rule of which roads a command drives:
    collection, evaluation and the windows all use it, so evaluating on the train split drives
    exactly the roads trained on."""
    families = (families,) if isinstance(families, (str, RoadFamily)) else tuple(families)
    return families[i % len(families)], first + i


def road_plan(count: int, families, first: int = 0) -> list[tuple[str | RoadFamily, int]]:
    """``(family, index)`` of the ``count`` roads of a mixed list (:func:`road_key` of 0 .. count - 1)."""
    return [road_key(i, families, first) for i in range(count)]


def split_roads(split: str, count: int, families="twisty", first: int = 0) -> list[Road]:
    """The ``count`` roads of ``split`` that :func:`road_plan` names: one family (a name), or a
    mix of families taken in turn, from index ``first``."""
    return generate_roads(split, road_plan(count, families, first))
