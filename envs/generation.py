"""Procedural roads: seeded, in named families, in disjoint *train* and *unseen* splits.

A road is a curvature profile of clothoid-like pieces (curvature changes
linearly with arc length between random knots, sometimes held constant for a
sustained bend), integrated into a centreline. Roads that come too close to
themselves are redrawn from the same random stream, so every road is clean.

Road ``k`` of a split is drawn from ``SeedSequence(ROADS_ENTROPY,
spawn_key=(split, family, k))``: the same road on every machine and run, and
the two splits can never share a seed, however many roads are drawn.
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass

import numpy as np

from envs.road import DEFAULT_SPACING, Road

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
    if split not in _SPLIT_KEYS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if not (isinstance(index, (int, np.integer)) and index >= 0):
        raise ValueError(f"road index must be a non-negative integer, got {index!r}")
    fam = get_family(family)
    family_key = zlib.crc32(fam.name.encode())
    return np.random.SeedSequence(ROADS_ENTROPY, spawn_key=(_SPLIT_KEYS[split], family_key, int(index)))


def generate_road(split: str, family: str | RoadFamily = "twisty", index: int = 0) -> Road:
    """Road ``index`` of ``split`` in ``family``; cached, so asking again is free."""
    return _generate(split, get_family(family), int(index))


@functools.lru_cache(maxsize=8192)
def _generate(split: str, family: RoadFamily, index: int) -> Road:
    rng = np.random.default_rng(road_seed(split, family, index))
    name = f"{split}/{family.name}/{index}"
    for _ in range(200):
        road = _draw_road(rng, family, name)
        if _is_clear_of_itself(road):
            return road
    raise RuntimeError(f"could not draw a clean road for {name}; the family's ranges are too tight")


def _curvature_profile(rng: np.random.Generator, family: RoadFamily, length: float, ds: float) -> np.ndarray:
    """Curvature [1/m] at arc lengths ``0, ds, 2 ds, ...`` up to ``length``."""
    s_knots = [0.0, family.lead_in]
    k_knots = [0.0, 0.0]
    kmax = family.max_curvature
    while s_knots[-1] < length:
        piece = rng.uniform(*family.piece_length_range)
        if rng.random() < family.straight_probability:
            k = 0.0
        else:
            k = rng.choice([-1.0, 1.0]) * rng.uniform(family.min_curvature_fraction, 1.0) * kmax
        s_knots.append(s_knots[-1] + piece)
        k_knots.append(k)
        if rng.random() < family.hold_probability:
            # hold the bend, at most a half turn
            hold = min(rng.uniform(*family.piece_length_range), math.pi / max(abs(k), 1e-9))
            s_knots.append(s_knots[-1] + hold)
            k_knots.append(k)
    s = np.arange(int(round(length / ds)) + 1) * ds
    return np.interp(s, s_knots, k_knots)


def _draw_road(rng: np.random.Generator, family: RoadFamily, name: str) -> Road:
    length = rng.uniform(*family.length_range)
    width = rng.uniform(*family.width_range)
    n_seg = int(round(length / DEFAULT_SPACING))
    ds = length / n_seg
    kappa = _curvature_profile(rng, family, length, ds)
    # exact heading integral of a piecewise-linear curvature, midpoint rule for position
    heading = np.concatenate([[0.0], np.cumsum(0.5 * (kappa[1:] + kappa[:-1]) * ds)])
    mid = 0.5 * (heading[1:] + heading[:-1])
    xy = np.zeros((len(kappa), 2))
    xy[1:, 0] = np.cumsum(ds * np.cos(mid))
    xy[1:, 1] = np.cumsum(ds * np.sin(mid))
    return Road.from_points(xy, width, closed=False, name=name)


def _is_clear_of_itself(road: Road) -> bool:
    """True if no two parts of the road far apart along it come closer than ~two widths."""
    step = max(1, int(round(2.0 / road.spacing)))
    pts = road.points[::step]
    s = road.arc_lengths[::step]
    clearance = 2.0 * road.width
    d2 = np.sum((pts[:, None, :] - pts[None, :, :]) ** 2, axis=-1)
    far_along = np.abs(s[:, None] - s[None, :]) > math.pi * clearance
    return not np.any(d2[far_along] < clearance**2)


def road_plan(count: int, families, first: int = 0) -> list[tuple[str, int]]:
    """``(family, index)`` of the ``count`` roads of a mixed list: road ``i`` is of family
    ``families[i % F]`` with index ``first + i``. Collection and evaluation both use it, so
    evaluating on the train split drives exactly the roads trained on."""
    families = (families,) if isinstance(families, str) else tuple(families)
    return [(families[i % len(families)], first + i) for i in range(count)]


def split_roads(split: str, count: int, family: str | RoadFamily = "twisty", start: int = 0) -> list[Road]:
    """Roads ``start .. start + count - 1`` of a split."""
    return [generate_road(split, family, i) for i in range(start, start + count)]
