"""Road geometry: a centreline polyline in metres, resampled to uniform spacing.

A :class:`Road` knows its arc length, heading and curvature at every sample, and
projects car positions onto itself *locally*: the search starts from the car's
previous arc-length index and moves a bounded number of samples, so it costs
O(1) per step and never jumps to another branch of a road that doubles back
near itself (hairpins, spirals).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from envs import limits
from envs.atomic import write_text_atomically
from envs.jit import njit

DEFAULT_SPACING = 0.5  # [m] target distance between resampled centreline points


SURFACES = {"dry": 1.0, "wet": 0.7, "gravel": 0.55, "snow": 0.3, "ice": 0.1}
"""Tyre-road friction coefficient of each surface (typical values for a passenger-car tyre:
dry asphalt 0.8-1.0, wet asphalt 0.5-0.7, gravel 0.5-0.6, packed snow 0.2-0.3, ice 0.05-0.15)."""


class RoadError(ValueError):
    """A road (or a roads file) is malformed."""


@dataclass(frozen=True, eq=False)
class Road:
    """A road: centreline points, width, open or closed.

    Build it with :meth:`Road.from_points` (which validates and resamples), not
    with the constructor.

    Attributes:
        points: ``(n, 2)`` centreline samples [m], uniformly spaced by ``spacing``.
            For a closed road the last point connects back to the first.
        width: road width [m].
        closed: whether the road is a loop.
        name: a human-readable identifier (``"train/twisty/17"`` for generated roads).
        spacing: distance between consecutive samples [m].
        headings: ``(n,)`` direction of travel at each sample [rad].
        curvatures: ``(n,)`` signed curvature at each sample [1/m], left turns positive.
        surfaces: sections ``(s_start, s_end, surface)`` [m] of another surface than dry
            asphalt (a name of :data:`SURFACES`); a later section covers an earlier one.
    """

    points: np.ndarray = field(repr=False)
    width: float
    closed: bool
    name: str
    spacing: float
    headings: np.ndarray = field(repr=False)
    curvatures: np.ndarray = field(repr=False)
    surfaces: tuple[tuple[float, float, str], ...] = ()

    # ------------------------------------------------------------------ build
    @classmethod
    def from_points(
        cls,
        points,
        width: float,
        closed: bool = False,
        name: str = "road",
        spacing: float = DEFAULT_SPACING,
        surfaces=(),
    ) -> Road:
        """Validate a user polyline ``[[x, y], ...]`` (metres) and resample it uniformly;
        ``surfaces`` as the attribute (validated by :meth:`with_surfaces`).

        The limits are those of :mod:`envs.limits`. Points closer than
        ``MIN_POINT_SPACING`` to the previous one are dropped as repeats. Sharp corners
        are kept as drawn (the resampling does not round them: the expert cuts them inside
        the road); a road that turns back on itself (a spike, a zig-zag tighter than the road
        is wide) or whose centreline crosses or runs onto itself is refused, because no
        car can follow it inside the road and "where on the road" would be ambiguous.

        Raises:
            RoadError: naming the road and what is wrong: points that are not pairs of
                finite numbers (a bool or a string is not a coordinate) or beyond
                ``MAX_COORDINATE``, too few or too many points, a road shorter or longer than
                the limits, a width that is not a number in ``[MIN_ROAD_WIDTH, MAX_ROAD_WIDTH]``,
                ``closed`` that is not a bool, a bad name or spacing, a road that turns back on
                itself or crosses itself.
        """
        if not isinstance(name, str):
            raise RoadError(f"road name must be a string, got {type(name).__name__}")
        if len(name) > limits.MAX_ROAD_NAME or not name.isprintable() or not name.strip():
            raise RoadError(f"road name must be 1 to {limits.MAX_ROAD_NAME} printable characters, got {name[:40]!r}")
        where = f"road {name!r}"
        pts = _coordinates(points, where)
        width = _real(width, f"{where}: width")
        if not (math.isfinite(width) and width > 0):
            raise RoadError(f"{where}: width must be a positive number of metres, got {width}")
        if not limits.MIN_ROAD_WIDTH <= width <= limits.MAX_ROAD_WIDTH:
            raise RoadError(
                f"{where}: width must be between {limits.MIN_ROAD_WIDTH:g} and "
                f"{limits.MAX_ROAD_WIDTH:g} m, got {width:g}"
            )
        if not isinstance(closed, (bool, np.bool_)):
            raise RoadError(f"{where}: closed must be true or false, got {closed!r}")
        closed = bool(closed)
        spacing = _real(spacing, f"{where}: spacing")
        if not (math.isfinite(spacing) and spacing > 0):
            raise RoadError(f"{where}: spacing must be positive, got {spacing}")
        if not limits.MIN_SAMPLE_SPACING <= spacing <= limits.MAX_SAMPLE_SPACING:
            raise RoadError(
                f"{where}: spacing must be between {limits.MIN_SAMPLE_SPACING:g} and "
                f"{limits.MAX_SAMPLE_SPACING:g} m, got {spacing:g}"
            )
        pts = _without_repeats(pts, closed)
        if len(pts) < 2:
            raise RoadError(
                f"{where}: needs at least two distinct points, got {len(pts)} "
                f"(points closer than {limits.MIN_POINT_SPACING:g} m count as one)"
            )
        if closed and len(pts) < 3:
            raise RoadError(f"{where}: a closed road needs at least three distinct points")
        src = np.vstack([pts, pts[:1]]) if closed else pts
        seg = np.hypot(*np.diff(src, axis=0).T)
        chord = np.concatenate([[0.0], np.cumsum(seg)])
        length = float(chord[-1])
        if length < limits.MIN_ROAD_LENGTH:
            raise RoadError(f"{where}: is too short ({length:.3g} m; at least {limits.MIN_ROAD_LENGTH:g} m)")
        if length > limits.MAX_ROAD_LENGTH:
            raise RoadError(f"{where}: is too long ({length:.4g} m; at most {limits.MAX_ROAD_LENGTH:g} m)")
        if length / spacing > limits.MAX_ROAD_SAMPLES:
            raise RoadError(
                f"{where}: {length:.4g} m at {spacing:g} m spacing is more than "
                f"{limits.MAX_ROAD_SAMPLES} samples; use a coarser spacing"
            )
        n_seg = max(1, int(round(length / spacing)))
        ds = length / n_seg
        s = np.arange(n_seg + (0 if closed else 1)) * ds
        s[-1] = min(s[-1], length)
        res = np.column_stack([np.interp(s, chord, src[:, 0]), np.interp(s, chord, src[:, 1])])
        _check_drivable(res, closed, width, ds, where)
        road = cls._from_uniform(res, width, closed, name, ds)
        return road.with_surfaces(surfaces) if surfaces != () else road

    @classmethod
    def _from_uniform(cls, pts: np.ndarray, width: float, closed: bool, name: str, ds: float, surfaces=()) -> Road:
        """The road through ``pts`` ``(n, 2)`` [m], already spaced ``ds`` [m] apart."""
        pts = np.ascontiguousarray(pts, dtype=np.float64)
        headings, curv = _headings_and_curvatures(pts, bool(closed), float(ds))
        for arr in (pts, headings, curv):
            arr.setflags(write=False)
        return cls(pts, float(width), bool(closed), str(name), float(ds), headings, curv, tuple(surfaces))

    def with_surfaces(self, surfaces) -> Road:
        """The same road with these surface sections ``[(s_start, s_end, surface), ...]``.

        Raises:
            RoadError: a section that is not three values, an unknown surface, or arc lengths
                that are not numbers with ``0 <= s_start < s_end <= length``.
        """
        if not isinstance(surfaces, (list, tuple)):
            raise RoadError(
                f"road {self.name!r}: surfaces must be a list of [s_start, s_end, surface], got {surfaces!r}"
            )
        if len(surfaces) > limits.MAX_SURFACE_SECTIONS:
            raise RoadError(
                f"road {self.name!r}: {len(surfaces)} surface sections; at most {limits.MAX_SURFACE_SECTIONS}"
            )
        checked = []
        for k, section in enumerate(surfaces):
            if not (isinstance(section, (list, tuple)) and len(section) == 3):
                raise RoadError(
                    f"road {self.name!r}: surface section #{k} must be [s_start, s_end, surface], got {section!r}"
                )
            start, end, surface = section
            if not isinstance(surface, str) or surface not in SURFACES:
                raise RoadError(
                    f"road {self.name!r}: surface section #{k}: unknown surface {surface!r}; "
                    f"choose from {', '.join(SURFACES)}"
                )
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, end)) or not (
                0.0 <= start < end <= self.length + 1e-9
            ):
                raise RoadError(
                    f"road {self.name!r}: surface section #{k} must run over 0 <= s_start < s_end <= "
                    f"{self.length:.1f} m, got {start!r} to {end!r}"
                )
            checked.append((float(start), float(end), surface))
        return Road(
            self.points,
            self.width,
            self.closed,
            self.name,
            self.spacing,
            self.headings,
            self.curvatures,
            tuple(checked),
        )

    @property
    def friction(self) -> np.ndarray:
        """``(n,)`` friction coefficient of the surface at each sample (dry asphalt: 1)."""
        mu = np.full(self.num_points, SURFACES["dry"])
        s = self.arc_lengths
        for start, end, surface in self.surfaces:
            end = math.inf if end >= self.length - 1e-9 else end  # a section to the end covers the last sample
            mu[(s >= start) & (s < end)] = SURFACES[surface]
        return mu

    # ------------------------------------------------------------ properties
    @property
    def num_points(self) -> int:
        return len(self.points)

    @property
    def num_segments(self) -> int:
        """Number of centreline segments (a closed road has one more: last point back to first)."""
        return len(self.points) if self.closed else len(self.points) - 1

    @property
    def length(self) -> float:
        """Centreline length [m]."""
        return self.num_segments * self.spacing

    @property
    def arc_lengths(self) -> np.ndarray:
        """``(n,)`` arc length of each sample [m]."""
        return np.arange(self.num_points) * self.spacing

    @property
    def half_width(self) -> float:
        return 0.5 * self.width

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Left and right road edges, each ``(n, 2)`` [m]."""
        normal = np.column_stack([-np.sin(self.headings), np.cos(self.headings)])
        return self.points + self.half_width * normal, self.points - self.half_width * normal

    def point_at(self, s) -> np.ndarray:
        """Centreline position(s) at arc length ``s`` [m] -> ``(..., 2)``.

        Closed roads wrap around; open roads extend straight beyond their ends.
        """
        s = np.asarray(s, dtype=np.float64)
        n_seg = self.num_segments
        u = s / self.spacing
        if self.closed:
            u = np.mod(u, n_seg)
            j = np.minimum(np.floor(u).astype(np.int64), n_seg - 1)
        else:
            j = np.clip(np.floor(u).astype(np.int64), 0, n_seg - 1)
        f = (u - j)[..., None]
        a = self.points[j]
        b = self.points[(j + 1) % self.num_points]
        return a + f * (b - a)

    # -------------------------------------------------------------- project
    def project(self, xy, s_guess=0.0, max_moves: int | None = None):
        """Project position(s) ``xy`` ``(..., 2)`` [m] onto the road near ``s_guess`` [m].

        The search is local: it starts at the segment containing ``s_guess`` and
        walks at most ``max_moves`` segments (default: enough to cover 10 m).

        Returns:
            ``(cte, s, heading)``: signed cross-track error [m] (positive = left of the
            direction of travel), arc length of the closest point [m], road heading
            there [rad].
        """
        xy = np.asarray(xy, dtype=np.float64)
        s_guess = np.broadcast_to(np.asarray(s_guess, dtype=np.float64), xy.shape[:-1])
        moves = max_moves if max_moves is not None else int(math.ceil(10.0 / self.spacing)) + 1
        n_seg = self.num_segments
        j = np.floor(s_guess / self.spacing).astype(np.int64)
        j = np.mod(j, n_seg) if self.closed else np.clip(j, 0, n_seg - 1)
        for _ in range(moves):
            a = self.points[j]
            d = self.points[(j + 1) % self.num_points] - a
            t = np.sum((xy - a) * d, axis=-1) / np.maximum(np.sum(d * d, axis=-1), 1e-18)
            step = (t > 1.0).astype(np.int64) - (t < 0.0).astype(np.int64)
            new = j + step
            new = np.mod(new, n_seg) if self.closed else np.clip(new, 0, n_seg - 1)
            if np.all(new == j):
                break
            j = new
        a = self.points[j]
        b = self.points[(j + 1) % self.num_points]
        d = b - a
        # a resampled segment that cuts a corner is shorter than `spacing`: use its true length
        seg_length = np.maximum(np.hypot(d[..., 0], d[..., 1]), 1e-9)
        t = np.clip(np.sum((xy - a) * d, axis=-1) / seg_length**2, 0.0, 1.0)
        foot = a + t[..., None] * d
        rel = xy - foot
        cross = (d[..., 0] * rel[..., 1] - d[..., 1] * rel[..., 0]) / seg_length
        s = (j + t) * self.spacing
        heading = np.arctan2(d[..., 1], d[..., 0])
        return cross, s, heading

    # ------------------------------------------------------------ transform
    def with_width(self, width: float) -> Road:
        """The same centreline with another width."""
        return Road.from_points(self.points, width, self.closed, self.name, self.spacing, self.surfaces)

    def to_json_dict(self) -> dict:
        out = {
            "name": self.name,
            "points": np.round(self.points, 4).tolist(),
            "width": self.width,
            "closed": self.closed,
        }
        if self.surfaces:
            out["surfaces"] = [list(section) for section in self.surfaces]
        return out

    def __reduce__(self):
        return (_rebuild_road, (self.points, self.width, self.closed, self.name, self.spacing, self.surfaces))


@njit(cache=True)
def _headings_and_curvatures(points: np.ndarray, closed: bool, ds: float):
    """Heading [rad] and curvature [1/m] at each of ``points`` ``(n, 2)`` [m], ``ds`` [m] apart.

    At a point, ``back`` is the segment into it and ``fwd`` the segment out of it: the heading
    is the direction of ``back + fwd``, the curvature the turn from ``back`` to ``fwd`` over
    ``ds``. An open road's end points take the direction of their one segment (the heading
    projection uses there) and the curvature of their neighbour. As one loop this takes ~50 us
    for a 900-point road; the same arithmetic as numpy array operations took ~100 us. Its
    ``atan2`` is ``math.atan2``, the C library's, compiled or not (numpy's ``arctan2``, run as
    plain Python, is a SIMD version on a machine with AVX-512 that differs in the last bit).
    """
    n = len(points)
    headings = np.empty(n)
    curvatures = np.empty(n)
    first, stop = (0, n) if closed else (1, n - 1)
    for i in range(first, stop):
        before = i - 1 if i > 0 else n - 1  # a closed road's first point follows its last
        after = i + 1 if i < n - 1 else 0
        back_x, back_y = points[i, 0] - points[before, 0], points[i, 1] - points[before, 1]
        fwd_x, fwd_y = points[after, 0] - points[i, 0], points[after, 1] - points[i, 1]
        headings[i] = math.atan2(fwd_y + back_y, fwd_x + back_x)
        turn = math.atan2(back_x * fwd_y - back_y * fwd_x, back_x * fwd_x + back_y * fwd_y)
        curvatures[i] = turn / ds
    if not closed:
        headings[0] = math.atan2(points[1, 1] - points[0, 1], points[1, 0] - points[0, 0])
        headings[n - 1] = math.atan2(points[n - 1, 1] - points[n - 2, 1], points[n - 1, 0] - points[n - 2, 0])
        curvatures[0] = curvatures[1] if n > 2 else 0.0
        curvatures[n - 1] = curvatures[n - 2] if n > 2 else 0.0
    return headings, curvatures


def _rebuild_road(points, width, closed, name, spacing, surfaces=()) -> Road:
    return Road._from_uniform(np.array(points), width, closed, name, spacing, surfaces)


# ------------------------------------------------------------- validation
def _real(value, what: str) -> float:
    """``value`` as a float if it is a real number (a bool or a string is not), else RoadError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RoadError(f"{what} must be a number, got {_show(value)}")
    try:
        return float(value)
    except OverflowError:
        raise RoadError(f"{what} is too large, got a {len(str(value))}-digit number") from None


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _coordinates(points, where: str) -> np.ndarray:
    """``points`` as a ``(n, 2)`` float array of finite coordinates within the limits."""
    if isinstance(points, np.ndarray):
        if points.dtype.kind not in "iuf":
            raise RoadError(
                f"{where}: points must be a list of [x, y] pairs of numbers, got an array of {points.dtype}"
            )
        if points.ndim != 2 or points.shape[1] != 2:
            raise RoadError(f"{where}: points must have shape (n, 2), got {points.shape}")
        if len(points) > limits.MAX_ROAD_POINTS:
            raise RoadError(f"{where}: has {len(points)} points; at most {limits.MAX_ROAD_POINTS}")
        pts = points.astype(np.float64)
    else:
        if not isinstance(points, (list, tuple)):
            raise RoadError(f"{where}: points must be a list of [x, y] pairs of numbers, got {type(points).__name__}")
        if len(points) > limits.MAX_ROAD_POINTS:
            raise RoadError(f"{where}: has {len(points)} points; at most {limits.MAX_ROAD_POINTS}")
        pts = np.empty((len(points), 2))
        for i, pair in enumerate(points):
            if isinstance(pair, np.ndarray):
                pair = pair.tolist()
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                shape = f"{len(pair)} values" if isinstance(pair, (list, tuple)) else type(pair).__name__
                raise RoadError(
                    f"{where}: points must have shape (n, 2): a list of [x, y] pairs of numbers; "
                    f"point #{i} is {_show(pair) if shape.endswith('values') else shape}"
                )
            for j, v in enumerate(pair):
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                    raise RoadError(
                        f"{where}: points must be a list of [x, y] pairs of numbers; point #{i} is {_show(pair)}"
                    )
                try:
                    pts[i, j] = v
                except OverflowError:
                    raise RoadError(
                        f"{where}: point #{i} has a coordinate beyond "
                        f"{limits.MAX_COORDINATE:g} m ({len(str(v))} digits)"
                    ) from None
        if len(pts) == 0:
            raise RoadError(f"{where}: points must have shape (n, 2), got (0,): no points")
    if not np.all(np.isfinite(pts)):
        raise RoadError(f"{where}: points contain NaN or infinite coordinates")
    big = np.abs(pts).max(initial=0.0)
    if big > limits.MAX_COORDINATE:
        i = int(np.argmax(np.abs(pts).max(axis=1)))
        raise RoadError(
            f"{where}: point #{i} has a coordinate of {big:.3g} m; at most "
            f"{limits.MAX_COORDINATE:g} m from the origin on each axis"
        )
    return pts


def _without_repeats(pts: np.ndarray, closed: bool) -> np.ndarray:
    """``pts`` without the points closer than ``MIN_POINT_SPACING`` to the previous one kept
    (and, for a closed road, without a last point that repeats the first)."""
    gap = limits.MIN_POINT_SPACING
    steps = np.hypot(*np.diff(pts, axis=0).T) if len(pts) > 1 else np.zeros(0)
    if np.all(steps >= gap):
        kept = pts
    else:  # rare: walk the points, each compared with the last one kept
        keep = [0]
        for i in range(1, len(pts)):
            if math.hypot(*(pts[i] - pts[keep[-1]])) >= gap:
                keep.append(i)
        kept = pts[keep]
    if closed and len(kept) > 1 and math.hypot(*(kept[-1] - kept[0])) < gap:
        kept = kept[:-1]
    return kept


def _check_drivable(points: np.ndarray, closed: bool, width: float, ds: float, where: str) -> None:
    """Refuse a resampled centreline ``points`` ``(n, 2)`` [m] that turns back on itself or crosses itself."""
    n = len(points)
    src = np.vstack([points, points[:1]]) if closed else points
    d = np.diff(src, axis=0)
    if len(d) >= 2:
        direction = np.arctan2(d[:, 1], d[:, 0])
        turn = np.angle(np.exp(1j * np.diff(direction)))  # wrapped to (-pi, pi]
        heading = np.concatenate([[0.0], np.cumsum(turn)])  # unwrapped direction of each segment
        limit = math.radians(limits.MAX_TURN_BACK_DEG)
        window = max(1, int(math.ceil(width / ds)))
        k = min(window, len(heading) - 1)
        net = np.abs(heading[k:] - heading[:-k]) if k >= 1 else np.zeros(0)
        sharp = np.abs(turn)
        worst = np.flatnonzero((net > limit) if len(net) else np.zeros(0, bool))
        single = np.flatnonzero(sharp > limit)
        if len(single) or len(worst):
            i = int(single[0] + 1) if len(single) else int(worst[0])
            angle = math.degrees(float(sharp[single[0]])) if len(single) else math.degrees(float(net[worst[0]]))
            x, y = points[i % n]
            raise RoadError(
                f"{where}: turns back on itself near ({x:.1f}, {y:.1f}) m: it turns {angle:.0f} degrees within "
                f"{min(width, k * ds):.1f} m, more than {limits.MAX_TURN_BACK_DEG:g} within a road width "
                f"(a spike or a zig-zag no car can follow inside the road)"
            )
    clearance = 0.5 * width
    step = max(1, int(clearance / ds))
    a, b = _first_close_pair(points, ds, step, 2 * math.pi * width, clearance * clearance, closed)
    if a >= 0:
        (xa, ya), (xb, yb) = points[a], points[b]
        raise RoadError(
            f"{where}: crosses or runs onto itself: the centreline at ({xa:.1f}, {ya:.1f}) m comes within half a "
            f"road width of itself at ({xb:.1f}, {yb:.1f}) m, {abs(b - a) * ds:.0f} m further along"
        )


@njit(cache=True)
def _first_close_pair(points, ds, step, far_along, clearance_squared, closed):
    """The first pair ``(a, b)`` of every ``step``-th sample of ``points`` ``(n, 2)`` (``ds`` [m]
    apart) more than ``far_along`` [m] apart along the road (around it, if ``closed``) and
    closer than ``sqrt(clearance_squared)`` [m]; ``(-1, -1)`` if there is none."""
    n = len(points)
    length = n * ds if closed else (n - 1) * ds
    count = (n + step - 1) // step
    reach = 1.01 * step * ds  # the most two consecutive checked samples can be apart
    clearance = math.sqrt(clearance_squared)
    for a in range(count):
        ia = a * step
        xa, ya = points[ia, 0], points[ia, 1]
        b = a + 1
        while b < count:
            ib = b * step
            along = (ib - ia) * ds
            if closed:
                along = min(along, length - along)
            dx = xa - points[ib, 0]
            dy = ya - points[ib, 1]
            d2 = dx * dx + dy * dy
            if along > far_along and d2 < clearance_squared:
                return ia, ib
            skip = int((math.sqrt(d2) - clearance) / reach)
            b += 1 + (skip if skip > 0 else 0)
    return -1, -1


# ------------------------------------------------------------------- files
def load_roads(path) -> list[Road]:
    """Read roads from a JSON file ``{"roads": [{"name", "points", "width", "closed"}]}``.

    Each road needs ``points`` (a list of ``[x, y]`` numbers in metres); ``width`` (a number of
    metres, default 7), ``closed`` (``true``/``false``, default false) and ``name`` (a string,
    default ``<file stem>/<index>``, unique in the file) are optional; other keys are refused.
    The limits (file size, JSON depth, roads per file and those of :meth:`Road.from_points`)
    are in :mod:`envs.limits`.

    Raises:
        RoadError: the file is missing, unreadable, not UTF-8 JSON, too large or too deeply
            nested, or a road in it is malformed; the message names the file and the problem.
    """
    path = Path(path)
    data = read_json_file(path, "roads file", RoadError, limits.MAX_ROADS_FILE_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("roads"), list):
        raise RoadError(f'{path}: expected an object {{"roads": [...]}}')
    extra = sorted(set(data) - {"roads"})
    if extra:
        raise RoadError(f'{path}: unknown key {extra[0]!r} (a roads file holds only "roads")')
    if not data["roads"]:
        raise RoadError(f"{path}: the file holds no roads")
    if len(data["roads"]) > limits.MAX_ROADS_PER_FILE:
        raise RoadError(f"{path}: holds {len(data['roads'])} roads; at most {limits.MAX_ROADS_PER_FILE}")
    roads: list[Road] = []
    seen: dict[str, int] = {}
    samples = 0
    for i, item in enumerate(data["roads"]):
        if not isinstance(item, dict) or "points" not in item:
            raise RoadError(f"{path}: road #{i} must be an object with 'points'")
        extra = sorted(set(item) - _ROAD_KEYS)
        if extra:
            raise RoadError(
                f"{path}: road #{i}: unknown key {extra[0][:40]!r}; a road has {', '.join(sorted(_ROAD_KEYS))}"
            )
        name = item.get("name", f"{path.stem}/{i}")
        if not isinstance(name, str):
            raise RoadError(f"{path}: road #{i}: name must be a string, got {type(name).__name__}")
        if name in seen:
            raise RoadError(f"{path}: road #{i} has the same name {name!r} as road #{seen[name]}; names must be unique")
        seen[name] = i
        try:
            roads.append(
                Road.from_points(
                    item["points"],
                    item.get("width", 7.0),
                    item.get("closed", False),
                    name,
                    surfaces=item.get("surfaces", ()),
                )
            )
        except RoadError as exc:
            raise RoadError(
                f"{path}: road #{i}: {exc}" if not str(exc).startswith("road ") else f"{path}: {exc}"
            ) from None
        samples += roads[-1].num_points
        if samples > limits.MAX_FILE_SAMPLES:
            raise RoadError(
                f"{path}: its roads hold more than {limits.MAX_FILE_SAMPLES:,} samples in all "
                f"(over {limits.MAX_FILE_SAMPLES * DEFAULT_SPACING / 1000:,.0f} km of road at "
                f"{DEFAULT_SPACING} m spacing); split the file"
            )
    return roads


_ROAD_KEYS = frozenset({"name", "points", "width", "closed", "surfaces"})


def read_json_file(path: Path, kind: str, error: type[Exception], max_bytes: int):
    """The JSON value in the UTF-8 file ``path``, or ``error`` naming the file and the problem.

    Refused: a missing or unreadable file, a directory, more than ``max_bytes``, text that is
    not UTF-8 (UTF-16, random bytes), nesting deeper than ``MAX_JSON_DEPTH``, invalid JSON,
    and the non-standard constants ``NaN`` and ``Infinity``.
    """
    try:
        if path.is_dir():
            raise error(f"{path}: is a directory, not a {kind}")
        if path.exists() and not path.is_file():
            raise error(f"{path}: is not a regular file (a device or a pipe), not a {kind}")
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{path}: is {size / 2**20:.1f} MiB; a {kind} may be at most {max_bytes / 2**20:.0f} MiB")
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)  # a file that grows while read stops here too
        if len(raw) > max_bytes:
            raise error(f"{path}: a {kind} may be at most {max_bytes / 2**20:.0f} MiB")
    except FileNotFoundError:
        raise error(f"{path}: no such {kind}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {kind} ({exc.strerror or exc})") from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(raw) >= 2 and raw[0] == 0) or (len(raw) >= 2 and raw[1] == 0):
        raise error(f"{path}: is UTF-16 (or another wide encoding), not UTF-8 text; save it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    depth = json_depth(text)
    if depth > limits.MAX_JSON_DEPTH:
        raise error(f"{path}: JSON nested {depth} deep; at most {limits.MAX_JSON_DEPTH}")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:
        raise error(
            f"{path}: not valid JSON ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})"
        ) from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text`` (brackets inside strings ignored)."""
    raw = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8", "replace"), dtype=np.uint8)
    opening = (raw == ord("[")) | (raw == ord("{"))
    closing = (raw == ord("]")) | (raw == ord("}"))
    marks = np.flatnonzero(opening | closing)
    if len(marks) == 0:
        return 0
    return int(np.cumsum(np.where(opening[marks], 1, -1), dtype=np.int64).max(initial=0))


def save_roads(path, roads) -> None:
    """Write roads to a JSON file atomically (temporary file, then rename)."""
    write_text_atomically(path, json.dumps({"roads": [r.to_json_dict() for r in roads]}))
