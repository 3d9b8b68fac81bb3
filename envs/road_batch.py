"""N roads side by side in padded arrays, for batched projection and look-ups.

Slot ``i`` holds the road car ``i`` drives. Closed roads are stored at least twice
over (plus the first point again), so arc lengths up to two laps need no modulo;
open roads are stored once. Every road is followed by rows that continue its last
segment straight, as many as the farthest look-ahead needs, so looking ahead never
needs clamping (closed roads shorter than the look-ahead get more laps).
"""

from __future__ import annotations

import math

import numpy as np

from envs.road import Road

_BIG = 1 << 40
# columns of the atlas ``_geo``: one 64-byte row (one cache line) per centreline sample; the
# projection's search reads only the first half (numpy's take copies 32-byte items fastest)
PX, PY, VX, VY, UX, UY, HEADING, CURVATURE = range(8)


def _aligned_zeros(rows: int, cols: int, dtype=np.float64) -> np.ndarray:
    """A zeroed ``[rows, cols]`` array whose data starts on a 64-byte boundary (a cache line),
    so that each row of 64 (or 16) bytes lies in a single line."""
    size = rows * cols * np.dtype(dtype).itemsize
    raw = np.zeros(size + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + size].view(dtype).reshape(rows, cols)


# columns of a road's float record: its per-slot values, then where a car starts on it
# (x, y, vx, vy: the first sample's projection row, in the order project() keeps rows)
_REC_F = ("spacing", "length", "closed", "half_width", "x", "y", "vx", "vy", "heading", "cos", "sin", "seg_heading")
_START = tuple((name, c) for c, name in enumerate(_REC_F) if c >= 4) + (("spacing", 0),)


def scratch(buffers: dict, name: str, shape: tuple, dtype=np.float64) -> np.ndarray:
    """A reusable array ``buffers[name]`` of ``shape`` (new only when the shape changes):
    fresh large temporaries at every step cost more than the arithmetic on them."""
    buf = buffers.get(name)
    if buf is None or buf.shape != shape:
        buf = buffers[name] = np.empty(shape, dtype)
    return buf


class LazyRows(list):
    """The rows of a table as lists of Python floats, converted a block at a time on first use.

    ``rows[k]`` is None until its block is converted: read it as
    ``rows[k] or rows.fill(k)``. A car reads a few hundred rows of a road in an
    episode, so converting the whole road at every reset would cost more than driving.
    """

    __slots__ = ("_table",)
    BLOCK = 64

    def __init__(self, table: np.ndarray):
        super().__init__([None] * len(table))
        self._table = table.copy()

    def fill(self, k: int) -> list:
        """Convert the block holding row ``k``; returns row ``k``."""
        a = k - k % self.BLOCK
        b = min(a + self.BLOCK, len(self))
        self[a:b] = self._table[a:b].tolist()
        return self[k]


class RoadBatch:
    """Centreline arrays of the roads ``num_slots`` cars drive, for batched look-ups.

    Every distinct road in use is stored once in "atlas" arrays; slot ``i``
    points at its road through ``offset[i]``, so giving a car a new road is O(1)
    once the road has been seen. Atlas: ``_geo[M, 8]`` holds in one 64-byte row per
    sample its position ``px, py`` [m], the unit direction of the segment starting
    there divided by the segment's length ``vx, vy`` [1/m], the unit direction
    itself ``ux, uy``, the segment's angle ``heading`` [rad] and the ``curvature``
    [1/m] (columns ``PX .. CURVATURE``); ``_look[M, 4]`` holds, in float32 for
    look-ups ahead, the position and the segment itself (``dx, dy`` [m], to the
    next sample). Per-slot vectors:
    ``spacing`` [m], ``length`` [m], ``n_seg``, ``closed`` (0/1 float),
    ``half_width`` [m]; and ``ahead_units[K, N]``, the look-ahead distances
    in segments of each slot's road.
    """

    def __init__(self, num_slots: int, max_move: int = 4, max_travel: float = 0.0, lookahead=()):
        """``max_move``: fewest segments one projection round may move; ``max_travel``: farthest
        a car moves per step [m], so a slot may also move enough segments of its road to cover it
        (roads built with a fine ``spacing`` need more); ``lookahead``: the distances ahead [m]
        :meth:`ahead_rows` looks at."""
        self.num_slots = num_slots
        self.max_move = max_move
        self.max_travel = max_travel
        self.roads: list[Road | None] = [None] * num_slots
        n = num_slots
        # per-slot values, one column per quantity (each a contiguous vector), written a row
        # per slot from the road's record in one assignment (see set_roads)
        self._slot_i = np.zeros((n, 7), dtype=np.int64, order="F")
        self._slot_f = np.zeros((n, 4), order="F")
        self._bind_slot_views()
        self._slot_i[:] = (0, 1, 0, 0, _BIG, 0, max_move)
        self._slot_f[:] = (1.0, 1.0, 0.0, 1.0)
        self._lookahead = np.asarray(lookahead, dtype=np.float64).reshape(-1, 1)
        self._max_ahead = float(self._lookahead.max(initial=0.0))
        self.ahead_units = np.zeros((len(self._lookahead), n))
        # each road stored: id -> (record number, road); its record holds its per-slot values
        self._atlas_index: dict[int, tuple[int, Road]] = {}
        self._rec_i = np.zeros((64, 7), dtype=np.int64)  # row offset, n_seg, lo, hi, mod, look_hi, max_move
        self._rec_f = np.zeros((64, len(_REC_F)))  # columns _REC_F
        self._num_records = 0
        self._generation = 0  # counts atlas rebuilds, which renumber the records
        self._used = 0
        self._geo = _aligned_zeros(1024, 8)
        # positions and segments in float32 for look-ups ahead: less memory traffic, 30 um at 500 m
        self._look = _aligned_zeros(1024, 4, np.float32)
        self._rows_cache: dict[int, tuple[Road, list]] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self.any_closed = False  # whether any slot holds a closed road
        self.last_rows: np.ndarray | None = None  # atlas rows at the segments project() returned

    _SLOT_VIEWS = ("_row_offset", "n_seg", "_lo", "_hi", "_mod", "_look_hi", "_max_move",
                   "spacing", "length", "closed", "half_width")  # fmt: skip

    def _bind_slot_views(self) -> None:
        """The per-slot vectors, as views of the columns of the two slot tables."""
        for name, column in zip(self._SLOT_VIEWS, list(self._slot_i.T) + list(self._slot_f.T)):
            setattr(self, name, column)

    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in self._SLOT_VIEWS}
        state["_buffers"] = {}
        state["last_rows"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._slot_i = np.asfortranarray(self._slot_i)
        self._slot_f = np.asfortranarray(self._slot_f)
        self._bind_slot_views()
        for name in ("_geo", "_look"):  # unpickled copies may lose the cache-line alignment
            table = getattr(self, name)
            aligned = _aligned_zeros(*table.shape, table.dtype)
            aligned[:] = table
            setattr(self, name, aligned)

    def _entry(self, road: Road) -> int:
        """Record number of ``road``, storing it in the atlas if new."""
        hit = self._atlas_index.get(id(road))
        if hit is not None and hit[1] is road:
            return hit[0]
        offset = self._store(road)
        if self._num_records == len(self._rec_i):
            self._rec_i = np.concatenate([self._rec_i, np.zeros_like(self._rec_i)])
            self._rec_f = np.concatenate([self._rec_f, np.zeros_like(self._rec_f)])
        entry = self._num_records
        self._num_records += 1
        ints, floats = self._record(road)
        self._rec_i[entry] = (offset,) + ints
        # the first sample's atlas row: where a car starting on this road projects
        vx, vy, seg_heading = self._geo[offset, [VX, VY, HEADING]].tolist()
        x, y, heading, cos, sin = floats[4:]
        self._rec_f[entry] = floats[:4] + (x, y, vx, vy, heading, cos, sin, seg_heading)
        self._atlas_index[id(road)] = (entry, road)
        self._rows_cache.pop(id(road), None)
        return entry

    def _layout(self, road: Road) -> tuple[int, int]:
        """``(laps, extension)``: a closed road is stored ``laps`` times over plus its first point
        again; after every road come ``extension`` rows continuing its last segment straight, so
        that looking ahead from anywhere on the road never runs past its stored rows."""
        extension = math.ceil(self._max_ahead / road.spacing) + 2
        laps = 1 + math.ceil(extension / len(road.points)) if road.closed else 1
        return laps, extension

    def _stored_length(self, road: Road) -> int:
        laps, extension = self._layout(road)
        return laps * len(road.points) + (1 if road.closed else 0) + extension

    def _store(self, road: Road) -> int:
        """Append ``road``'s samples to the atlas; returns where they start."""
        pts, kap = road.points, road.curvatures
        laps, extension = self._layout(road)
        if road.closed:
            pts = np.vstack([pts] * laps + [pts[:1]])
            kap = np.concatenate([kap] * laps + [kap[:1]])
        seg = np.diff(pts, axis=0)
        d = np.vstack([seg, seg[-1:]])
        norm = np.hypot(d[:, 0], d[:, 1])
        norm[norm == 0] = 1.0
        rows = np.empty((len(pts), 8))
        rows[:, PX], rows[:, PY] = pts[:, 0], pts[:, 1]
        rows[:, UX], rows[:, UY] = d[:, 0] / norm, d[:, 1] / norm
        rows[:, VX], rows[:, VY] = rows[:, UX] / road.spacing, rows[:, UY] / road.spacing
        rows[:, HEADING] = np.arctan2(d[:, 1], d[:, 0])
        rows[:, CURVATURE] = kap
        need = len(pts) + extension
        if self._used + need > len(self._geo):
            self._grow(need)
        start = self._used
        geo = self._geo[start : start + need]
        geo[: len(pts)] = rows
        geo[len(pts) :] = rows[-1]
        look = self._look[start : start + need]
        look[: len(pts), :2] = pts
        look[len(pts) :, :2] = pts[-1] + np.arange(1, extension + 1)[:, None] * seg[-1]
        look[: len(seg), 2:] = seg
        look[len(seg) :, 2:] = seg[-1]
        self._used += need
        return start

    def rows(self, slot: int) -> LazyRows:
        """Slot ``slot``'s atlas rows (``px, py, vx, vy, ux, uy, heading, curvature``) as lists, for scalar code."""
        return self._slot_rows(slot)[1]

    def rows32(self, slot: int) -> LazyRows:
        """Slot ``slot``'s float32 look-up rows ``(px, py, dx, dy)`` as Python floats, for scalar code."""
        return self._slot_rows(slot)[2]

    def _slot_rows(self, slot: int) -> tuple:
        road = self.roads[slot]
        key = id(road)
        hit = self._rows_cache.get(key)
        if hit is not None and hit[0] is road:
            return hit
        start = int(self._row_offset[slot])
        n = self._stored_length(road)
        hit = (road, LazyRows(self._geo[start : start + n]), LazyRows(self._look[start : start + n]))
        if len(self._rows_cache) > 64:
            self._rows_cache.clear()
        self._rows_cache[key] = hit
        return hit

    def _grow(self, need: int) -> None:
        in_use = {id(r) for r in self.roads if r is not None}
        stored = sum(self._stored_length(r) for _, r in self._atlas_index.values())
        live = sum(self._stored_length(r) for k, (_, r) in self._atlas_index.items() if k in in_use)
        if stored > 4 * live + (1 << 20):
            # mostly roads no car drives any more: rebuild with the live ones only
            self._atlas_index, self._used, self._num_records = {}, 0, 0
            self._generation += 1
            size = max(1024, 2 * (live + need))
            self._geo = _aligned_zeros(size, 8)
            self._look = _aligned_zeros(size, 4, np.float32)
            for slot, road in enumerate(self.roads):
                if road is not None:
                    self._slot_i[slot] = self._rec_i[self._entry(road)]
            if self._used + need <= len(self._geo):
                return
        size = max(2 * len(self._geo), self._used + need)
        geo = _aligned_zeros(size, 8)
        geo[: self._used] = self._geo[: self._used]
        self._geo = geo
        look = _aligned_zeros(size, 4, np.float32)
        look[: self._used] = self._look[: self._used]
        self._look = look

    def set_road(self, slot: int, road: Road) -> None:
        """Put ``road`` in ``slot``."""
        self.set_roads(np.array([slot]), [road])

    def set_roads(self, slots: np.ndarray, roads: list[Road]) -> dict[str, np.ndarray]:
        """Put ``roads[k]`` in ``slots[k]`` (one vectorized write per per-slot array).

        Returns each road's start as ``[M]`` arrays by name: ``x, y`` [m], ``heading``
        [rad] and its ``cos, sin``, and the first sample's ``spacing`` [m], ``vx, vy``
        [1/m] and ``seg_heading`` [rad] (its atlas row, for projecting a car beside it);
        ``rows`` is ``[M, 4]``: ``x, y, vx, vy``, the rows :meth:`project` starts from.
        """
        generation = self._generation
        entries = []
        index, in_slot = self._atlas_index, self.roads
        for slot, road in zip(slots.tolist(), roads):
            hit = index.get(id(road))
            entries.append(hit[0] if hit is not None and hit[1] is road else self._entry(road))
            in_slot[slot] = road
        if self._generation != generation:  # the atlas was rebuilt meanwhile: look the roads up again
            entries = [self._entry(road) for road in roads]
        entries = np.array(entries, dtype=np.int64)
        self._slot_i[slots] = self._rec_i[entries]
        f = self._rec_f[entries]
        self._slot_f[slots] = f[:, :4]
        closed = f[:, 2].any()
        if closed or self.any_closed:
            self.any_closed = bool(closed) or bool(self.closed.any())
        if len(self._lookahead):
            self.ahead_units[:, slots] = self._lookahead / f[:, 0]
        start = {name: f[:, c] for name, c in _START}
        start["rows"] = f[:, 4:8]  # x, y, vx, vy
        return start

    def _record(self, road: Road) -> tuple[tuple, tuple]:
        """Per-slot values of ``road``: ``(n_seg, lo, hi, mod, look_hi, max_move)`` and
        the columns of ``_REC_F`` up to ``sin``."""
        nseg = road.num_segments
        max_move = max(self.max_move, int(math.ceil(self.max_travel / road.spacing)) + 2)
        if road.closed:
            ints = (nseg, -_BIG, _BIG, nseg, 2 * nseg - 1, max_move)
        else:
            ints = (nseg, 0, nseg - 1, _BIG, nseg - 1, max_move)
        floats = (road.spacing, road.length, 1.0 if road.closed else 0.0, road.half_width)
        h0 = float(road.headings[0])
        start = (float(road.points[0, 0]), float(road.points[0, 1]), h0, math.cos(h0), math.sin(h0))
        return ints, floats + start

    # ------------------------------------------------------------ look-ups
    def points_at(self, s: np.ndarray):
        """Centreline ``(x, y)`` at arc lengths ``s[N, K]`` (or ``[N]``) [m] ahead of each slot's start.

        Reads the float32 copy of the centreline (about 30 um resolution on a 500 m road),
        computing in float64; returned arrays are reused by the next call.

        ``s`` must lie in ``[0, 2 * length)`` for closed roads (one wrap) and may
        pass the end of an open road (straight extension).
        """
        expand = s.ndim == 2
        spacing = self.spacing[:, None] if expand else self.spacing
        hi = self._look_hi[:, None] if expand else self._look_hi
        off = self._row_offset[:, None] if expand else self._row_offset
        # every temporary lives in a reused buffer: fresh large arrays each step cost more than the arithmetic
        u = np.divide(s, spacing, out=scratch(self._buffers, "u", s.shape, np.float64))
        j = scratch(self._buffers, "j", s.shape, np.int64)
        j[...] = u  # truncation towards zero, as astype
        np.minimum(np.maximum(j, 0, out=j), hi, out=j)
        frac = np.subtract(u, j, out=u)  # position along segment j, in segments (beyond 1 past an open end)
        rec = scratch(self._buffers, "rec", j.shape + (4,), np.float32)
        np.take(self._look, np.add(j, off, out=j), axis=0, out=rec, mode="clip")  # indices are in range; "clip" skips the checks
        x = scratch(self._buffers, "x", j.shape, np.float64)
        y = scratch(self._buffers, "y", j.shape, np.float64)
        np.multiply(frac, rec[..., 2], out=x)
        np.add(x, rec[..., 0], out=x)
        np.multiply(frac, rec[..., 3], out=y)
        np.add(y, rec[..., 1], out=y)
        return x, y

    def ahead_rows(self, s: np.ndarray):
        """Look-up rows for the look-ahead distances: ``(frac[K, N], rows[K, N, 4])``.

        For car ``i`` at arc length ``s[i]`` [m], the centreline ``lookahead[k]`` metres
        ahead is ``rows[k, i, :2] + frac[k, i] * rows[k, i, 2:]`` (start of a segment plus
        a fraction of it; past an open road's end the last segment extends straight).
        One row per look-ahead distance, cars along the contiguous axis, so every
        operation runs over N cars at once; the arrays are reused by the next call.
        """
        shape = self.ahead_units.shape
        # in atlas rows: the roads' extension rows keep every index in range, so no clamping
        base = np.add(s / self.spacing, self._row_offset)
        u = np.add(self.ahead_units, base, out=scratch(self._buffers, "ahead_u", shape, np.float64))
        j = scratch(self._buffers, "ahead_j", shape, np.int64)
        j[...] = u  # u >= 0: truncation is the floor
        np.subtract(u, j, out=u)
        rec = scratch(self._buffers, "ahead_rec", shape + (4,), np.float32)
        np.take(self._look, j, axis=0, out=rec, mode="clip")
        return u, rec

    def curvature_at(self, s: np.ndarray) -> np.ndarray:
        """Curvature [1/m] at arc lengths ``s[N, K]`` (nearest sample below)."""
        u = s / self.spacing[:, None]
        j = np.minimum(np.maximum(u.astype(np.int64), 0), self._look_hi[:, None])
        return self._geo.reshape(-1).take((j + self._row_offset[:, None]) * 8 + CURVATURE)

    def project(self, x: np.ndarray, y: np.ndarray, seg: np.ndarray, rounds: int = 2, seg_rows=None):
        """Local projection of positions ``x[N], y[N]`` [m] near segment indices ``seg[N]``.

        Each round moves the segment index by ``floor(t)`` (bounded by the slot's ``max_move``),
        where ``t`` is the position along the current segment in segment lengths,
        so the search is O(1) and never leaves the neighbourhood of the previous
        progress. A fixed number of rounds keeps single and batched runs identical.

        Returns:
            ``(seg, s, cte, seg_heading)``: new segment index, arc length of the
            closest point [m] in ``[0, length]``, signed cross-track error [m]
            (left positive), heading of the segment [rad].

        ``seg_rows``: the atlas rows ``px, py, vx, vy`` at ``seg`` if the caller kept them
        (``last_rows`` of the previous call), which saves gathering them again. After the
        call ``last_rows`` holds those rows at the returned segments (a new array the
        caller may keep).
        """
        off, spacing, lo, hi, mod = self._row_offset, self.spacing, self._lo, self._hi, self._mod
        max_move = self._max_move
        half = self._geo.reshape(-1, 4)  # row 2 k: px, py, vx, vy of sample k
        rec = half.take((seg + off) * 2, axis=0, mode="clip") if seg_rows is None else seg_rows
        for round_ in range(rounds):
            t = (x - rec[:, PX]) * rec[:, VX] + (y - rec[:, PY]) * rec[:, VY]
            move = np.minimum(np.maximum(np.floor(t).astype(np.int64), -max_move), max_move)
            new = np.minimum(np.maximum(seg + move, lo), hi)
            if self.any_closed:  # open roads' index needs no wrapping (their modulus is huge)
                new = np.mod(new, mod)
            if round_ < rounds - 1:
                rec = half.take((new + off) * 2, axis=0, mode="clip")
            else:  # the last round moves few cars: gather only their rows
                moved = np.flatnonzero(new != seg)
                if rec is seg_rows:
                    rec = rec.copy()
                if len(moved):
                    rec[moved] = half.take((new[moved] + off[moved]) * 2, axis=0, mode="clip")
            seg = new
        self.last_rows = rec
        dx = x - rec[:, PX]
        dy = y - rec[:, PY]
        t = (dx * rec[:, VX] + dy * rec[:, VY]).clip(0.0, 1.0)
        cte = (rec[:, VX] * dy - rec[:, VY] * dx) * spacing  # signed distance from the segment's line
        s = (seg + t) * spacing
        heading = self._geo.reshape(-1).take((seg + off) * 8 + HEADING, mode="clip")
        return seg, s, cte, heading

    def edge_segments(self, s: np.ndarray, behind: float, ahead: float, step: float):
        """Road edges near arc length ``s[N]``: ``(ax, ay, bx, by)`` each ``[N, 2 W]`` [m].

        Segments of the left and right edges from ``s - behind`` to ``s + ahead``,
        sampled every ``step`` metres (degenerate beyond an open road's ends).
        """
        count = max(1, int(math.ceil((ahead + behind) / step)))
        stride = np.maximum(np.round(step / self.spacing).astype(np.int64), 1)
        j0 = np.floor((s - behind) / self.spacing).astype(np.int64)
        j0 = j0 + (j0 < 0) * (self.closed > 0) * self.n_seg  # closed roads: wrap into the first lap
        j = j0[:, None] + stride[:, None] * np.arange(count + 1)
        j = np.minimum(np.maximum(j, 0), self._look_hi[:, None] + 1) + self._row_offset[:, None]
        rec = self._geo.take(j, axis=0, mode="clip")
        px, py = rec[..., PX], rec[..., PY]
        # unit normal to the left of each sample's segment
        nx, ny = -rec[..., UY], rec[..., UX]
        hw = self.half_width[:, None]
        lx, ly = px + hw * nx, py + hw * ny
        rx, ry = px - hw * nx, py - hw * ny
        ax = np.concatenate([lx[:, :-1], rx[:, :-1]], axis=1)
        ay = np.concatenate([ly[:, :-1], ry[:, :-1]], axis=1)
        bx = np.concatenate([lx[:, 1:], rx[:, 1:]], axis=1)
        by = np.concatenate([ly[:, 1:], ry[:, 1:]], axis=1)
        return ax, ay, bx, by
