"""The roads N cars drive, side by side in shared tables, and the compiled look-ups on them.

Every distinct road in use is stored once, one row per centreline sample, in two tables:

* ``road_rows[M, 8]`` float64, what the projection and the step read, one 64-byte row (a cache
  line) a sample, seen through four views:

  * ``atlas[M, 4]`` (columns 0-3): the position ``px, py`` [m] and the unit direction of the
    segment starting there divided by the road's spacing ``vx, vy`` [1/m] (so ``(p - start) . v``
    is the position along it in samples);
  * ``headings[M]`` and ``curvatures[M]`` (columns 4, 5): the segment's angle [rad] and the
    curvature [1/m];
  * ``friction[M]`` (column 6): the friction coefficient of the surface there
    (``envs.road.SURFACES``); column 7 pads the row to 64 bytes;

* ``lookup[M, 4]`` float32, what looking ahead reads: the position and the segment to the next
  sample ``dx, dy`` [m] (about 30 um resolution on a 500 m road); 16-byte rows, four a cache line.

The row sizes are measured choices. A car's look-ahead points move by a sample a step, so with
64-byte rows every look-up of every step missed the caches (N = 4,096 cars read 33 MB of rows);
with 16-byte rows a point crosses into a new cache line every fourth step. The projection reads
one sample's position, heading and friction together: in one row they are one cache line, where
the atlas, headings and friction as three tables were three (the step kernel at N = 4,096 took
1-25% less time, 17% the median, alternately eight times on the 2-core Intel machine, where a
third of it waits on the road rows). The four views are kept rather than sliced at each use:
the step reads them every call.

Closed roads are stored as many laps as the farthest look-ahead needs (at least two, plus the
first point again), so arc lengths up to two laps need no modulo; every road is followed by rows
continuing its last segment straight, so looking ahead never runs out of rows. A road's rows
are written once, when a slot first gets it (:func:`_write_range`, every row from its own index,
over numba's thread pool for a fleet that uses it: ``parts`` of :meth:`RoadBatch.store`).

Slot ``i`` (the road car ``i`` drives) is one record of :data:`ROAD_RECORD` in
:attr:`RoadBatch.slots`: where the road's rows start, its segment count, the bounds of the
projection's search, spacing, length, width and start pose. Giving a car a road already stored
copies one record.

The per-car functions (:func:`project_car`, :func:`segment_foot`, :func:`centreline_at` and its
two halves :func:`row_and_fraction` and :func:`point_on_row`, :func:`edge_start`,
:func:`edge_point`, :func:`edge_centre`) are what the environments' kernels call;
:meth:`RoadBatch.project` and :meth:`RoadBatch.points_at` run them over a batch for direct use
(tests, notebooks), and :meth:`Road.project <envs.road.Road.project>` is the readable
reference they are tested against.
"""

from __future__ import annotations

import math

import numpy as np

from envs.jit import njit, object_array, prange, records_for_kernels
from envs.road import SURFACES, Road

PX, PY, VX, VY = range(4)  # columns of the atlas
DX, DY = 2, 3  # columns of the lookup table (its PX, PY are the atlas's)
PROJECTION_ROUNDS = 2  # search rounds per step: each moves by floor(t) segments, at most max_move
_BIG = 1 << 40  # an index bound no road reaches
ROW_BYTES = 80  # [bytes] one row of the two tables: the road row 64, lookup 16
ROAD_ROW_WIDTH = 8  # float64 columns of a road row: atlas 4, heading, curvature, friction, padding
_HEADING_COLUMN, _CURVATURE_COLUMN, _FRICTION_COLUMN = 4, 5, 6
DEAD_ROWS_BYTES = 4 * 2**20
"""[bytes] rows of roads no slot drives any more that the tables keep (so that a road driven
again costs one record copy) beyond three times the rows of the roads in use; past that, the
tables are rebuilt from the roads in use when they next fill. A single env meeting road after
road (about 60 kB of rows each) thus keeps some 70 dead roads (up to twice that as the tables
fill), not every road it met; a fleet keeps at least three times its live roads' rows, so one
that drives a quarter of its road pool at once (1,024 cars on the default 2,000 roads) never
rebuilds."""

ROAD_RECORD = np.dtype(
    [
        ("offset", np.int64),  # first atlas row of the road
        ("num_rows", np.int64),  # atlas rows stored for it (laps and extension included)
        ("n_seg", np.int64),  # centreline segments (a closed road: one more, back to the start)
        ("seg_lo", np.int64),  # the projection's segment index stays in [seg_lo, seg_hi] ...
        ("seg_hi", np.int64),
        ("seg_mod", np.int64),  # ... modulo seg_mod (closed roads: n_seg; open: no wrap)
        ("look_hi", np.int64),  # the last sample look-ups by arc length read (two laps if closed)
        ("max_move", np.int64),  # segments one projection round may move
        ("spacing", np.float64),  # [m] between samples
        ("length", np.float64),  # [m] of one lap / the whole road
        ("half_width", np.float64),  # [m]
        ("x0", np.float64),  # start pose: first sample [m] and heading there [rad]
        ("y0", np.float64),
        ("heading0", np.float64),
        ("closed", np.bool_),
    ],
    align=True,
)


# place of a car on its road: the columns of ``Fleet.track[N, 4]``
S, DISTANCE, CTE, HEADING_ERROR = range(4)
TRACK_COLUMNS = ("s", "distance", "cte", "heading_error")
"""arc length of the projection [m] (within the first lap), progress since the start [m],
signed cross-track error [m] (left positive), heading error [rad]"""


# ------------------------------------------------------------------ kernels (one car each)
@njit(cache=True, inline="always")
def segment_foot(atlas, headings, road, seg, x, y):
    """Foot of ``(x, y)`` [m] on segment ``seg`` of ``road``: ``(s, cte, heading)``, the arc
    length [m] (clamped to the segment), the signed distance from the segment's line [m], left
    positive, and the segment's angle [rad]."""
    r = road.offset + seg
    dx = x - atlas[r, PX]
    dy = y - atlas[r, PY]
    vx = atlas[r, VX]
    vy = atlas[r, VY]
    t = min(max(dx * vx + dy * vy, 0.0), 1.0)
    cte = (vx * dy - vy * dx) * road.spacing
    return (seg + t) * road.spacing, cte, headings[r]


@njit(cache=True, inline="always")
def project_car(atlas, headings, road, x, y, seg):
    """Local projection of ``(x, y)`` [m] onto ``road`` near segment ``seg``.

    Each of :data:`PROJECTION_ROUNDS` rounds moves the segment index by ``floor(t)``, where ``t``
    is the position along the current segment in segment lengths (at most ``max_move``), so the
    search is O(1) and never leaves the neighbourhood of the previous progress (it cannot jump
    to another leg of a hairpin). Returns ``(seg, s, cte, heading)`` as :func:`segment_foot`.
    """
    for _ in range(PROJECTION_ROUNDS):
        r = road.offset + seg
        t = (x - atlas[r, PX]) * atlas[r, VX] + (y - atlas[r, PY]) * atlas[r, VY]
        move = min(max(math.floor(t), -road.max_move), road.max_move)
        seg = min(max(seg + move, road.seg_lo), road.seg_hi)
        if road.closed:  # an integer modulo costs as much as the rest of the round: open roads skip it
            seg %= road.seg_mod
    s, cte, heading = segment_foot(atlas, headings, road, seg, x, y)
    return seg, s, cte, heading


@njit(cache=True, inline="always")
def centreline_at(lookup, road, s):
    """The centreline point ``(x, y)`` [m] at arc length ``s`` [m] from the road's start, from the
    float32 lookup table: up to two laps of a closed road; past an open road's end its last
    segment continues straight."""
    row, fraction = row_and_fraction(road, s)
    return point_on_row(lookup, row, fraction)


@njit(cache=True, inline="always")
def row_and_fraction(road, s):
    """Where arc length ``s`` [m] lies in ``road``'s rows: the table row of the sample at or below
    it and the fraction of the way to the next sample (rows held at the stored rows' ends)."""
    u = s / road.spacing
    j = min(max(math.floor(u), 0), road.num_rows - 1)
    return road.offset + j, u - j


@njit(cache=True, inline="always")
def point_on_row(lookup, row, fraction):
    """The point ``fraction`` of the way from the sample of lookup table row ``row`` to the next [m]."""
    return lookup[row, PX] + fraction * lookup[row, DX], lookup[row, PY] + fraction * lookup[row, DY]


@njit(cache=True, inline="always")
def sample_row(road, s):
    """The table row of the sample at or below arc length ``s`` [m]: a closed road wraps round
    its laps, an open road holds at its ends."""
    j = math.floor(s / road.spacing)
    if road.closed:
        j = j % road.n_seg
    else:
        j = min(max(j, 0), road.n_seg)
    return road.offset + j


@njit(cache=True)
def edge_start(road, s):
    """The sample index at or below arc length ``s`` [m] where a stretch of edges starts; a
    closed road's negative arc lengths wrap into its first lap."""
    j = math.floor(s / road.spacing)
    if road.closed and j < 0:
        j += road.n_seg
    return j


@njit(cache=True, inline="always")
def edge_point(atlas, road, j, side):
    """The left (``side`` = 1) or right (``side`` = -1) road edge [m] at sample ``j``; samples
    past an open road's ends are held at its ends (the road stops there)."""
    r = road.offset + min(max(j, 0), road.look_hi + 1)
    # unit normal to the left of the sample's segment: (-uy, ux), with u = v * spacing
    offset = side * road.half_width * road.spacing
    return atlas[r, PX] - offset * atlas[r, VY], atlas[r, PY] + offset * atlas[r, VX]


@njit(cache=True, inline="always")
def edge_centre(atlas, road, j):
    """The centreline sample ``j`` [m], held at an open road's ends as :func:`edge_point`."""
    r = road.offset + min(max(j, 0), road.look_hi + 1)
    return atlas[r, PX], atlas[r, PY]


def _road_columns(road_rows):
    """The four views of ``road_rows``: ``atlas[M, 4]``, ``headings[M]``, ``curvatures[M]``, ``friction[M]``."""
    return (
        road_rows[:, :4],
        road_rows[:, _HEADING_COLUMN],
        road_rows[:, _CURVATURE_COLUMN],
        road_rows[:, _FRICTION_COLUMN],
    )


road_columns = njit(cache=True, inline="always")(_road_columns)
""":func:`_road_columns` as kernels call it (a kernel that takes ``road_rows`` and makes the views
itself is handed one array where it was handed four: each array argument costs about 75 ns of
numba's dispatch, a tenth of a single env's step)."""


# ------------------------------------------------------------------- batch entry points
@njit(cache=True)
def _project_cars(atlas, headings, slots, x, y, seg, out_seg, out_s, out_cte, out_heading):
    for i in range(len(x)):
        out_seg[i], out_s[i], out_cte[i], out_heading[i] = project_car(atlas, headings, slots[i], x[i], y[i], seg[i])


@njit(cache=True)
def _points_at(lookup, slots, s, out_x, out_y):
    for i in range(s.shape[0]):
        for k in range(s.shape[1]):
            out_x[i, k], out_y[i, k] = centreline_at(lookup, slots[i], s[i, k])


class RoadBatch:
    """The roads of ``num_slots`` cars: the atlas, one :data:`ROAD_RECORD` per slot, and look-ups.

    Attributes:
        road_rows, lookup: the tables of every road stored (see the module docstring), ``M`` rows
            each; atlas, headings, curvatures, friction: views of ``road_rows``' columns.
        slots: ``[num_slots]`` record array of :data:`ROAD_RECORD`, slot ``i`` = car ``i``'s road;
            ``kernel_slots`` is the same memory as kernels take it, ``slot_words`` as ``[N, 15]``
            int64 words (what :func:`copy_record` writes).
        roads: ``[num_slots]`` object array, the :class:`Road` in each slot (None until set).
        records: ``[R, 15]`` int64, the record of every road stored, by record number, as words;
            ``stored_roads``, ``stored_names``: ``[R]`` object arrays, the road of each record
            number and its name (None past the last).
        layout: how many times the tables were rebuilt from the roads in use, which renumbers
            the records (a caller that remembers record numbers forgets them when it changes).
        expected_roads: how many distinct roads the slots may come to hold (an env's road pool;
            0, the default: not known), so that the tables grow once for all of them.
    """

    def __init__(
        self, num_slots: int, max_move: int = 4, max_travel: float = 0.0, lookahead=(), expected_roads: int = 0
    ):
        """``max_move``: fewest segments one projection round may move; ``max_travel``: farthest
        a car moves per step [m], so a slot may also move enough segments of its road to cover it
        (roads built with a fine ``spacing`` need more); ``lookahead``: the farthest distances
        ahead [m] that look-ups by arc length read (stored rows cover them); ``expected_roads``:
        :attr:`expected_roads`."""
        self.num_slots = num_slots
        self.max_move = max_move
        self.max_travel = max_travel
        self.max_ahead = float(max(lookahead, default=0.0))
        self.roads = np.full(num_slots, None, dtype=object)  # the Road in each slot
        self.slots = np.rec.array(np.zeros(num_slots, dtype=ROAD_RECORD))
        self.slots[:] = _empty_record()
        self.kernel_slots = records_for_kernels(self.slots)  # the same memory, as kernels take it
        self.slot_words = _words(self.slots)
        # each road stored: id -> (record number, road); _records[k] is its slot record
        self._atlas_index: dict[int, tuple[int, Road]] = {}
        self.stored_roads = np.full(64, None, dtype=object)  # the road of each record number
        self.stored_names = np.full(64, None, dtype=object)  # and its name
        self.layout = 0  # counts the rebuilds that renumbered the records
        self.expected_roads = expected_roads  # distinct roads the slots may come to hold (0: not known)
        self._set_records(np.zeros(64, dtype=ROAD_RECORD))
        self._num_records = 0
        self._used = 0
        self._tables(1024)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for view in ("atlas", "headings", "curvatures", "friction"):  # views of road_rows
            del state[view]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        aligned = _cache_aligned_zeros(self.road_rows.shape)  # unpickled, the rows lie anywhere
        aligned[:] = self.road_rows
        self.road_rows = aligned
        self.kernel_slots = records_for_kernels(self.slots)  # unpickled, the views were copies
        self.slot_words = _words(self.slots)
        self._set_records(self._records)
        self._views()

    # ------------------------------------------------------------- per-slot values
    @property
    def spacing(self) -> np.ndarray:
        """``[N]`` sample spacing of each slot's road [m]."""
        return self.slots.spacing

    @property
    def length(self) -> np.ndarray:
        """``[N]`` length of each slot's road [m] (one lap of a closed road)."""
        return self.slots.length

    @property
    def half_width(self) -> np.ndarray:
        """``[N]`` half the width of each slot's road [m]."""
        return self.slots.half_width

    @property
    def closed(self) -> np.ndarray:
        """``[N]`` whether each slot's road is a loop."""
        return self.slots.closed

    # ------------------------------------------------------------------- set roads
    def set_road(self, slot: int, road: Road, parts: int = 1) -> None:
        """Put ``road`` in ``slot`` (``parts``: as :meth:`store`'s)."""
        self.set_roads(np.array([slot]), [road], parts)

    def set_roads(self, slots: np.ndarray, roads: list[Road], parts: int = 1) -> None:
        """Put ``roads[k]`` in ``slots[k]``: the record of a road already stored is copied,
        a new road is stored first (``parts``: as :meth:`store`'s)."""
        slots = np.asarray(slots, dtype=np.int64)
        copy_records(self.records, self.slot_words, slots, self.store(slots, roads, parts))

    def store(self, slots: np.ndarray, roads: list[Road], parts: int = 1) -> np.ndarray:
        """The record numbers ``[M]`` of ``roads`` (storing those not stored yet), which are to
        go into ``slots``: the caller copies the records (:func:`copy_records`, into
        :attr:`slot_words`). ``slots`` must not change before that. ``parts``: threads that write
        a new road's rows (a fleet on numba's thread pool passes its thread count)."""
        self.roads[slots] = object_array(roads)
        index = self._atlas_index
        entries = [hit[0] if (hit := index.get(id(road))) is not None and hit[1] is road else -1 for road in roads]
        if -1 in entries:  # storing may rebuild the atlas, which renumbers every record
            new = {id(road): road for road, entry in zip(roads, entries) if entry == -1}
            need = sum(self._num_rows(road) for road in new.values())
            if self._used + need > len(self.atlas):
                self._grow(need, len(new))  # once for all of them
            for road in roads:
                self._entry(road, parts)
            entries = [self._atlas_index[id(road)][0] for road in roads]
        return np.array(entries, dtype=np.int64)

    def _entry(self, road: Road, parts: int = 1) -> int:
        """Record number of ``road``, storing it in the atlas if new."""
        hit = self._atlas_index.get(id(road))
        if hit is not None and hit[1] is road:
            return hit[0]
        laps, extension = self._layout(road)
        num_rows = self._num_rows(road)
        if self._used + num_rows > len(self.atlas):
            self._grow(num_rows, 1)
        offset = self._used
        args = (
            road.points,
            road.curvatures,
            road.friction if road.surfaces else _DRY,  # (computing a dry road's took 2.7-4.7 us)
            road.closed,
            laps,
            extension,
            road.spacing,
            offset,
            self.atlas,
            self.headings,
            self.curvatures,
            self.lookup,
            self.friction,
        )
        if parts > 1 and num_rows >= _PARALLEL_ROWS:
            _write_rows_parallel(*args, parts)
        else:
            _write_rows(*args)
        self._used += num_rows
        if self._num_records == len(self._records):
            self._set_records(np.concatenate([self._records, np.zeros_like(self._records)]))
            more = np.full(len(self.stored_roads), None, dtype=object)
            self.stored_roads = np.concatenate([self.stored_roads, more])
            self.stored_names = np.concatenate([self.stored_names, more])
        entry = self._num_records
        self._num_records += 1
        self._records[entry] = self._record(road, offset, num_rows)
        self._atlas_index[id(road)] = (entry, road)
        self.stored_roads[entry], self.stored_names[entry] = road, road.name
        return entry

    def _set_records(self, records: np.ndarray) -> None:
        self._records = records
        self.records = _words(records)  # the same memory as 8-byte words, as kernels copy them

    def _layout(self, road: Road) -> tuple[int, int]:
        """``(laps, extension)``: a closed road is stored ``laps`` times over plus its first point
        again; after every road come ``extension`` rows continuing its last segment straight, so
        that looking ahead from anywhere on the road never runs past its stored rows."""
        extension = math.ceil(self.max_ahead / road.spacing) + 2
        laps = 1 + math.ceil(extension / len(road.points)) if road.closed else 1
        return laps, extension

    def _num_rows(self, road: Road) -> int:
        """Rows ``road`` takes in the tables."""
        laps, extension = self._layout(road)
        return laps * len(road.points) + (1 if road.closed else 0) + extension

    def _record(self, road: Road, offset: int, num_rows: int) -> tuple:
        """``road``'s slot record (fields of :data:`ROAD_RECORD`, in order)."""
        n = road.num_segments
        max_move = max(self.max_move, int(math.ceil(self.max_travel / road.spacing)) + 2)
        lo, hi, mod = (-_BIG, _BIG, n) if road.closed else (0, n - 1, _BIG)
        look_hi = 2 * n - 1 if road.closed else n - 1
        x0, y0 = road.points[0].tolist()
        return (
            offset,
            num_rows,
            n,
            lo,
            hi,
            mod,
            look_hi,
            max_move,
            road.spacing,
            road.length,
            road.half_width,
            x0,
            y0,
            float(road.headings[0]),
            road.closed,
        )

    def _grow(self, need: int, new_roads: int) -> None:
        """Room for ``need`` more rows, for ``new_roads`` roads: rebuilt from the roads still in a
        slot when those are few of what is stored (cars that drove many roads), otherwise doubled,
        or made room for all :attr:`expected_roads` at once (at the mean rows of the roads stored
        and these, and a quarter more) where the tables may grow that far before a rebuild anyway
        (four times the rows in use and the dead rows' budget: 256 cars of a 400-road pool, not
        one car of a 2,000-road pool). A rebuild makes the tables as large as the rows may come to
        before the next one, so that they never double in between (a single env on a 400-road pool
        doubled its tables six times a rebuild, about once in 20 resets: a reset took 115 us, 80 us
        without the doublings, measured on the 2-core machine). Growing copies every row into new
        memory, which the machine maps page by page: 21 MB took 13-40 ms on the 2-core machine,
        60 us a step over a benchmark's 781 steps of 256 cars."""
        index = self._atlas_index
        live = {id(r): r for r in self.roads if r is not None and id(r) in index and index[id(r)][1] is r}
        live_rows = sum(int(self._records[index[k][0]]["num_rows"]) for k in live)
        if self._used > 4 * live_rows + DEAD_ROWS_BYTES // ROW_BYTES:
            old_tables, old_records, old_index = self._table_list(), self._records.copy(), index
            self._atlas_index, self._used, self._num_records = {}, 0, 0
            self.stored_roads = np.full(len(self._records), None, dtype=object)
            self.stored_names = self.stored_roads.copy()
            self.layout += 1
            # room for what may pile up before the next rebuild, so the tables do not double on the way
            self._tables(max(1024, 4 * (live_rows + need) + DEAD_ROWS_BYTES // ROW_BYTES))
            for key, road in live.items():  # copy the live roads' rows and records over
                entry = self._num_records
                self._num_records += 1
                rec = self._records[entry] = old_records[old_index[key][0]]
                start, rows = int(rec["offset"]), int(rec["num_rows"])
                for table, old in zip(self._table_list(), old_tables):
                    table[self._used : self._used + rows] = old[start : start + rows]
                self._records[entry]["offset"] = self._used
                self._used += rows
                self._atlas_index[key] = (entry, road)
                self.stored_roads[entry], self.stored_names[entry] = road, road.name
            for slot, road in enumerate(self.roads):
                if road is not None and id(road) in live:
                    self.kernel_slots[slot] = self._records[self._atlas_index[id(road)][0]]
            if self._used + need <= len(self.atlas):
                return
        rows = max(2 * len(self.atlas), self._used + need)
        if self.expected_roads:
            pool_rows = math.ceil(1.25 * self.expected_roads * (self._used + need) / (self._num_records + new_roads))
            if pool_rows <= 4 * (live_rows + need) + DEAD_ROWS_BYTES // ROW_BYTES:  # what a rebuild would leave
                rows = max(rows, pool_rows)
        old_tables = self._table_list()
        self._tables(rows)
        for table, old in zip(self._table_list(), old_tables):
            table[: self._used] = old[: self._used]

    def _tables(self, rows: int) -> None:
        """New tables of ``rows`` rows: zeros, friction 1."""
        self.road_rows = _cache_aligned_zeros((rows, ROAD_ROW_WIDTH))
        self.lookup = np.zeros((rows, 4), dtype=np.float32)
        self._views()
        self.friction[:] = 1.0

    def _views(self) -> None:
        """``atlas``, ``headings``, ``curvatures``, ``friction``: the columns of ``road_rows``."""
        self.atlas, self.headings, self.curvatures, self.friction = _road_columns(self.road_rows)

    def _table_list(self) -> tuple[np.ndarray, ...]:
        return self.road_rows, self.lookup

    # ------------------------------------------------------------------- look-ups
    def project(self, x: np.ndarray, y: np.ndarray, seg: np.ndarray):
        """:func:`project_car` for every slot: positions ``x[N], y[N]`` [m] near segments ``seg[N]``.

        Returns ``(seg, s, cte, heading)``, each ``[N]``: new segment index, arc length of the
        closest point [m], signed cross-track error [m] (left positive), heading of the segment [rad].
        """
        n = len(x)
        out = np.empty(n, dtype=np.int64), np.empty(n), np.empty(n), np.empty(n)
        x, y, seg = np.asarray(x, np.float64), np.asarray(y, np.float64), np.asarray(seg, np.int64)
        _project_cars(self.atlas, self.headings, self.kernel_slots, x, y, seg, *out)
        return out

    def points_at(self, s: np.ndarray):
        """Centreline ``(x, y)`` [m] at arc lengths ``s[N, K]`` (or ``[N]``) [m] from each slot's
        road start (:func:`centreline_at`)."""
        s = np.asarray(s, dtype=np.float64)
        s2 = s.reshape(len(s), -1)
        x, y = np.empty(s2.shape), np.empty(s2.shape)
        _points_at(self.lookup, self.kernel_slots, np.ascontiguousarray(s2), x, y)
        return x.reshape(s.shape), y.reshape(s.shape)

    def friction_at(self, s: np.ndarray) -> np.ndarray:
        """Friction coefficient of the surface at arc lengths ``s[N, K]`` [m] (the sample at or below each)."""
        slots = self.slots
        j = np.floor(s / slots.spacing[:, None]).astype(np.int64)
        j = np.minimum(np.maximum(j, 0), slots.look_hi[:, None])
        return self.friction[j + slots.offset[:, None]]

    def curvature_at(self, s: np.ndarray) -> np.ndarray:
        """Curvature [1/m] at arc lengths ``s[N, K]`` [m] (the sample at or below each)."""
        slots = self.slots
        j = np.floor(s / slots.spacing[:, None]).astype(np.int64)
        j = np.minimum(np.maximum(j, 0), slots.look_hi[:, None])
        return self.curvatures[j + slots.offset[:, None]]


@njit(cache=True, inline="always")
def copy_record(records, slot_words, slot, entry):
    """Record ``entry`` of ``records`` into slot ``slot``, word by word (both as ``[n, 15]`` int64)."""
    for w in range(slot_words.shape[1]):
        slot_words[slot, w] = records[entry, w]


@njit(cache=True)
def copy_records(records, slot_words, slots, entries):
    """Records ``entries[M]`` into ``slots[M]`` (:func:`copy_record`)."""
    for k in range(len(slots)):
        copy_record(records, slot_words, slots[k], entries[k])


def _cache_aligned_zeros(shape: tuple[int, int]) -> np.ndarray:
    """A float64 array of zeros whose first element starts a 64-byte cache line, so that each
    64-byte row of ``road_rows`` is one line: numpy's own allocations of this size start 16 bytes
    into a line, which left every row across two. (On the 2-core AMD machine, whose step kernel
    does not wait on memory, the step kernel at N = 4,096 ran as fast either way: 174-179 us
    against 174-180 us, alternately three times; the layout is for the machines that do wait.)"""
    rows, width = shape
    buffer = np.zeros(rows * width + 8)
    skip = (-buffer.ctypes.data % 64) // 8
    return buffer[skip : skip + rows * width].reshape(rows, width)


def _words(records: np.ndarray) -> np.ndarray:
    """``records`` (of the aligned :data:`ROAD_RECORD`, 8-byte fields) as a ``[n, 15]`` int64 view."""
    return records.view(np.ndarray).view(np.int64).reshape(len(records), ROAD_RECORD.itemsize // 8)


_DRY = np.zeros(0)  # the friction of a road without surface sections, as _write_rows takes it
_PARALLEL_ROWS = 256  # rows from which a road is written over the thread pool (``store``'s parts > 1)
_DRY_FRICTION = SURFACES["dry"]


def _empty_record() -> tuple:
    """The record of a slot without a road (every look-up stays at atlas row 0)."""
    return (0, 1, 1, 0, 0, _BIG, 0, 1, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, False)


@njit(cache=True)
def _write_rows(
    points, curvatures, friction, closed, laps, extension, spacing, offset, atlas, headings, curv, lookup, friction_rows
):
    """A road's rows of the four tables, from row ``offset``: its samples ``laps`` times over (a
    closed road, then its first point again) or once, then ``extension`` rows continuing the last
    segment straight (:func:`_write_range`)."""
    n = len(points)
    total = (laps * n + 1 if closed else n) + extension
    _write_range(
        0,
        total,
        points,
        curvatures,
        friction,
        closed,
        laps,
        spacing,
        offset,
        atlas,
        headings,
        curv,
        lookup,
        friction_rows,
    )


@njit(cache=True, parallel=True)
def _write_rows_parallel(
    points,
    curvatures,
    friction,
    closed,
    laps,
    extension,
    spacing,
    offset,
    atlas,
    headings,
    curv,
    lookup,
    friction_rows,
    parts,
):
    """:func:`_write_rows` over numba's thread pool, a range of rows per thread (a road of 960
    rows in 10.4 us on two threads, against 19.8 us before the rows were written as a range,
    measured on the 2-core AMD machine)."""
    n = len(points)
    total = (laps * n + 1 if closed else n) + extension
    for part in prange(parts):
        _write_range(
            part * total // parts,
            (part + 1) * total // parts,
            points,
            curvatures,
            friction,
            closed,
            laps,
            spacing,
            offset,
            atlas,
            headings,
            curv,
            lookup,
            friction_rows,
        )


@njit(cache=True)
def _write_range(
    lo, hi, points, curvatures, friction, closed, laps, spacing, offset, atlas, headings, curv, lookup, friction_rows
):
    """Rows ``lo .. hi - 1`` of a road written from row ``offset`` (:func:`_write_rows`), each
    from its own index: sample ``k`` of the ``laps * n (+ 1)`` samples is point ``k % n``, and its
    segment runs to the next point; the last sample's continues the one before it, and so do the
    extension's rows, which go straight on from the last sample by whole segments. ``friction``:
    each sample's friction coefficient, or empty for a road that is dry all along."""
    n = len(points)
    samples = laps * n + 1 if closed else n
    last = (samples - 1) % n
    for k in range(lo, hi):
        if k < samples:
            a = k if k < n else k % n
            s = k if k < samples - 1 else k - 1  # the segment: the last sample keeps the one before it
        else:  # straight on past the end: the last sample plus whole last segments
            a = last
            s = samples - 2
        a0 = s if s < n else s % n
        b0 = a0 + 1 if a0 + 1 < n else 0
        dx, dy = points[b0, 0] - points[a0, 0], points[b0, 1] - points[a0, 1]
        if k < samples:
            px, py = points[a, 0], points[a, 1]
        else:
            ahead = k - samples + 1
            px, py = points[last, 0] + ahead * dx, points[last, 1] + ahead * dy
        norm = np.hypot(dx, dy)
        if norm == 0.0:
            norm = 1.0
        r = offset + k
        atlas[r, PX], atlas[r, PY] = px, py
        atlas[r, VX], atlas[r, VY] = dx / norm / spacing, dy / norm / spacing
        headings[r] = math.atan2(dy, dx)  # the C library's, compiled or not (see envs.road)
        curv[r] = curvatures[a]
        friction_rows[r] = friction[a] if len(friction) > 0 else _DRY_FRICTION
        lookup[r, PX], lookup[r, PY], lookup[r, DX], lookup[r, DY] = px, py, dx, dy
