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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from envs.jit import njit

from envs.atomic import write_text_atomically

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
    ) -> "Road":
        """Validate a user polyline ``[[x, y], ...]`` (metres) and resample it uniformly;
        ``surfaces`` as the attribute (validated by :meth:`with_surfaces`).

        Raises:
            RoadError: fewer than two distinct points, non-finite coordinates,
                a non-positive or non-finite width, or a road shorter than two samples.
        """
        try:
            pts = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise RoadError(f"road {name!r}: points must be a list of [x, y] pairs ({exc})") from None
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise RoadError(f"road {name!r}: points must have shape (n, 2), got {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise RoadError(f"road {name!r}: points contain NaN or infinite coordinates")
        try:
            width = float(width)
        except (TypeError, ValueError):
            raise RoadError(f"road {name!r}: width must be a number, got {width!r}") from None
        if not math.isfinite(width) or width <= 0:
            raise RoadError(f"road {name!r}: width must be a positive number of metres, got {width}")
        if not (math.isfinite(spacing) and spacing > 0):
            raise RoadError(f"road {name!r}: spacing must be positive, got {spacing}")
        # drop repeated points
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(np.diff(pts, axis=0) != 0, axis=1)
        pts = pts[keep]
        if closed and len(pts) > 1 and np.all(pts[0] == pts[-1]):
            pts = pts[:-1]
        if len(pts) < 2:
            raise RoadError(f"road {name!r}: needs at least two distinct points, got {len(pts)}")
        if closed and len(pts) < 3:
            raise RoadError(f"road {name!r}: a closed road needs at least three distinct points")
        src = np.vstack([pts, pts[:1]]) if closed else pts
        seg = np.hypot(*np.diff(src, axis=0).T)
        chord = np.concatenate([[0.0], np.cumsum(seg)])
        length = float(chord[-1])
        n_seg = max(1, int(round(length / spacing)))
        if not closed and n_seg < 1:
            raise RoadError(f"road {name!r}: is too short ({length:.2f} m)")
        ds = length / n_seg
        s = np.arange(n_seg + (0 if closed else 1)) * ds
        s[-1] = min(s[-1], length)
        res = np.column_stack([np.interp(s, chord, src[:, 0]), np.interp(s, chord, src[:, 1])])
        road = cls._from_uniform(res, width, closed, name, ds)
        return road.with_surfaces(surfaces) if surfaces != () else road

    @classmethod
    def _from_uniform(cls, pts: np.ndarray, width: float, closed: bool, name: str, ds: float, surfaces=()) -> "Road":
        """The road through ``pts`` ``(n, 2)`` [m], already spaced ``ds`` [m] apart."""
        pts = np.ascontiguousarray(pts, dtype=np.float64)
        headings, curv = _headings_and_curvatures(pts, bool(closed), float(ds))
        for arr in (pts, headings, curv):
            arr.setflags(write=False)
        return cls(pts, float(width), bool(closed), str(name), float(ds), headings, curv, tuple(surfaces))

    def with_surfaces(self, surfaces) -> "Road":
        """The same road with these surface sections ``[(s_start, s_end, surface), ...]``.

        Raises:
            RoadError: a section that is not three values, an unknown surface, or arc lengths
                that are not numbers with ``0 <= s_start < s_end <= length``.
        """
        if not isinstance(surfaces, (list, tuple)):
            raise RoadError(f"road {self.name!r}: surfaces must be a list of [s_start, s_end, surface], "
                            f"got {surfaces!r}")  # fmt: skip
        checked = []
        for k, section in enumerate(surfaces):
            if not (isinstance(section, (list, tuple)) and len(section) == 3):
                raise RoadError(f"road {self.name!r}: surface section #{k} must be [s_start, s_end, surface], "
                                f"got {section!r}")  # fmt: skip
            start, end, surface = section
            if not isinstance(surface, str) or surface not in SURFACES:
                raise RoadError(f"road {self.name!r}: surface section #{k}: unknown surface {surface!r}; "
                                f"choose from {', '.join(SURFACES)}")  # fmt: skip
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, end)) or not (
                0.0 <= start < end <= self.length + 1e-9
            ):
                raise RoadError(f"road {self.name!r}: surface section #{k} must run over 0 <= s_start < s_end <= "
                                f"{self.length:.1f} m, got {start!r} to {end!r}")  # fmt: skip
            checked.append((float(start), float(end), surface))
        return Road(self.points, self.width, self.closed, self.name, self.spacing, self.headings, self.curvatures,
                    tuple(checked))  # fmt: skip

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
    def with_width(self, width: float) -> "Road":
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
    for a 900-point road; the same arithmetic as numpy array operations took ~100 us.
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
        headings[i] = np.arctan2(fwd_y + back_y, fwd_x + back_x)
        turn = np.arctan2(back_x * fwd_y - back_y * fwd_x, back_x * fwd_x + back_y * fwd_y)
        curvatures[i] = turn / ds
    if not closed:
        headings[0] = np.arctan2(points[1, 1] - points[0, 1], points[1, 0] - points[0, 0])
        headings[n - 1] = np.arctan2(points[n - 1, 1] - points[n - 2, 1], points[n - 1, 0] - points[n - 2, 0])
        curvatures[0] = curvatures[1] if n > 2 else 0.0
        curvatures[n - 1] = curvatures[n - 2] if n > 2 else 0.0
    return headings, curvatures


def _rebuild_road(points, width, closed, name, spacing, surfaces=()) -> Road:
    return Road._from_uniform(np.array(points), width, closed, name, spacing, surfaces)


# ------------------------------------------------------------------- files
def load_roads(path) -> list[Road]:
    """Read roads from a JSON file ``{"roads": [{"name", "points", "width", "closed"}]}``.

    Raises:
        RoadError: the file is missing, is not JSON, or a road in it is malformed;
            the message names the file and the problem.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RoadError(f"{path}: no such roads file") from None
    except OSError as exc:
        raise RoadError(f"{path}: cannot read roads file ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RoadError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("roads"), list):
        raise RoadError(f'{path}: expected an object {{"roads": [...]}}')
    if not data["roads"]:
        raise RoadError(f"{path}: the file holds no roads")
    roads = []
    for i, item in enumerate(data["roads"]):
        if not isinstance(item, dict) or "points" not in item:
            raise RoadError(f"{path}: road #{i} must be an object with 'points'")
        name = str(item.get("name", f"{path.stem}/{i}"))
        try:
            roads.append(
                Road.from_points(item["points"], item.get("width", 7.0), bool(item.get("closed", False)), name,
                                 surfaces=item.get("surfaces", ()))  # fmt: skip
            )
        except RoadError as exc:
            raise RoadError(f"{path}: {exc}") from None
    return roads


def save_roads(path, roads) -> None:
    """Write roads to a JSON file atomically (temporary file, then rename)."""
    write_text_atomically(path, json.dumps({"roads": [r.to_json_dict() for r in roads]}))
