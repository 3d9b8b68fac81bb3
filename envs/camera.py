"""The dashcam: a forward-looking pinhole camera on each car, rendered from the flat 2D world.

``camera`` observations are ``[N, H, W, 3]`` uint8 RGB. The camera sits ``camera_height`` [m]
above the car's reference point, looks along its heading, pitched ``camera_pitch_deg`` down,
with a horizontal field of view of ``camera_fov_deg`` and square pixels.

The pinhole model (pixel centres at integer indices; ``f = (W / 2) / tan(fov / 2)`` [px]): the
ray through column ``col``, row ``row`` has ``u = (col + 0.5 - W / 2) / f`` (right positive) and
``v = (row + 0.5 - H / 2) / f`` (down positive); in the car's frame (x forward, y left, z up) it
points along ``(cos p - v sin p, -u, -(sin p + v cos p))`` for pitch ``p``, so it meets the
ground at ``t = h / (sin p + v cos p)``: ``x = t (cos p - v sin p)``, ``y = -t u``. Every pixel
of a row sees ground at the same distance ahead ``x``, and ``y`` is linear in the column. The
horizon (``sin p + v cos p = 0``) is the row ``H / 2 - f tan p - 0.5``.

Per car, the kernel takes the centreline from ``BEHIND`` metres back to twice the view's range
ahead as chords about 2 m long (from the road tables, ``envs.road_batch``), in the car's frame.
For each ground row it finds, for each chord near the row, the columns where the chord is the
nearest and within reach (its foot and its offset are linear in the column), so every pixel
knows its signed distance from the centreline and its arc length along it. The colour follows:
asphalt (or the colour of the road's surface there, where it is wet, gravel, snow or ice), edge
lines, centre marking (dashed, solid or none), verge, grass; a seeded value-noise ground texture
fixed to the world, so motion is visible; haze towards the horizon; sky above it.

Far ground is filtered analytically rather than supersampled: each pixel's footprint on the
ground [m] (from the row's depth step and the column's lateral step, seen along and across the
road) box-filters every stripe (a line's coverage is the fraction of the footprint it covers;
dashes likewise along the road), and the texture fades out where the footprint outgrows its
cells. So a line a tenth of a pixel wide far away is a faint grey, steady from frame to frame,
not a line that flickers on and off.

How the world looks (colours, markings, texture, brightness) is an appearance row per car
(``envs.appearance``), set at each episode's reset: the configured look, or with
``appearance_randomization`` > 0 a variation drawn from the episode's rng.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces

from envs.appearance import (
    ASPHALT,
    BRIGHTNESS,
    CENTRE_LINE,
    CENTRE_STYLE,
    EDGE_LINE,
    EDGE_LINES,
    GRASS,
    ROW_SIZE,
    SKY_HORIZON,
    SKY_ZENITH,
    SURFACE_COLOURS,
    TEXTURE,
    TEXTURE_X,
    TEXTURE_Y,
    VERGE,
    get_look,
)
from envs.car import HEADING, X, Y
from envs.config import RoadFollowConfig
from envs.jit import njit, prange
from envs.road import SURFACES
from envs.road_batch import RoadBatch, S, edge_centre, edge_start

VERGE_WIDTH = 1.2  # [m] gravel strip beyond each edge of the asphalt
EDGE_LINE_WIDTH = 0.15  # [m]
EDGE_LINE_INSET = 0.15  # [m] from the asphalt's edge to the line's outer side
CENTRE_LINE_WIDTH = 0.15  # [m]
DASH_PERIOD = 6.0  # [m] a dash and a gap
DASH_LENGTH = 3.0  # [m]
TEXTURE_CELLS = 64  # the texture table is TEXTURE_CELLS x TEXTURE_CELLS, tiled over the world
FINE_CELL = 0.5  # [m] fine texture cell (grain)
COARSE_CELL = 3.0  # [m] coarse texture cell (patches)
TEXTURE_SEED = 20261201  # the ground texture's table is the same on every machine
CHORD = 2.0  # [m] centreline chords the kernel measures distances to (sagitta <= 5 cm at 11 m radius)
BEHIND = 30.0  # [m] of road behind the car that may be in view (a hairpin's earlier leg)

PER_FRAME_CARS = 64  # the camera runs on threads from parallel_from / PER_FRAME_CARS cars
FUSED = {"contract", "arcp"}
"""The camera kernel's fast-math flags: LLVM may fuse a multiply and an add into one instruction
(FMA, ``contract``), rounding once instead of twice, and divide by multiplying with the
reciprocal (``arcp``). The frame kernel is a long chain of such operations per pixel; with them it
runs about 20% faster. Nothing else is relaxed (no reassociation, no NaN or infinity
assumptions), and the step kernels keep strict arithmetic, so only a pixel whose colour lies
within a rounding error of a half grey level could differ from the plain-Python run
(``NUMBA_DISABLE_JIT=1``, which rounds every operation); in 124 M channel values compared with
the strict kernel none did. Every car of a vector env and a single env run the same compiled
code, and stay identical."""

# columns of the per-row table
GROUND, AHEAD, LATERAL0, LATERAL_STEP, DEPTH_STEP, HAZE, SKY_MIX = range(7)
ROW_COLUMNS = 7


def camera_space(config: RoadFollowConfig) -> spaces.Box:
    height, width = config.camera_size
    return spaces.Box(0, 255, (height, width, 3), dtype=np.uint8)


def focal_length(config: RoadFollowConfig) -> float:
    """The pinhole's focal length [px]: ``(W / 2) / tan(fov / 2)``."""
    return 0.5 * config.camera_size[1] / math.tan(math.radians(config.camera_fov_deg) / 2.0)


def horizon_row(config: RoadFollowConfig) -> float:
    """The image row (pixel centres at integers, may be fractional) of the horizon."""
    return 0.5 * config.camera_size[0] - focal_length(config) * math.tan(math.radians(config.camera_pitch_deg)) - 0.5


def row_table(config: RoadFollowConfig) -> np.ndarray:
    """``[H, ROW_COLUMNS]``: per image row, what every pixel in it sees (the pinhole model of the
    module docstring): GROUND (1: ground in range, 0: sky, 2: ground past the range, all haze),
    AHEAD (distance ahead x [m]), LATERAL0 and LATERAL_STEP (y [m] of column 0, and per column),
    DEPTH_STEP (the ground distance one row spans [m]), HAZE (0-1 blend towards the horizon's
    colour) and SKY_MIX (0 at the horizon, 1 at the zenith colour)."""
    height, width = config.camera_size
    f = focal_length(config)
    pitch = math.radians(config.camera_pitch_deg)
    sp, cp = math.sin(pitch), math.cos(pitch)
    h = config.camera_height
    reach = config.camera_range
    rows = np.zeros((height, ROW_COLUMNS))
    for r in range(height):
        v = (r + 0.5 - 0.5 * height) / f
        down = sp + v * cp  # how steeply the row's rays fall: the ray's -z component
        forward = cp - v * sp
        if down <= 1e-9:
            elevation = math.atan2(-down, forward)
            rows[r, GROUND] = 0
            rows[r, SKY_MIX] = min(1.0, elevation / 0.6)
            continue
        t = h / down
        x = t * forward
        rows[r, AHEAD] = x
        rows[r, LATERAL0] = -t * (0.5 - 0.5 * width) / f
        rows[r, LATERAL_STEP] = -t / f
        rows[r, DEPTH_STEP] = h / (down * down * f)  # |dx / dv| / f
        rows[r, HAZE] = min(1.0, (x / reach) ** 2)
        rows[r, GROUND] = 1 if x < reach else 2
    return rows


def ground_texture() -> np.ndarray:
    """``[2, TEXTURE_CELLS, TEXTURE_CELLS]`` float64 in [-1, 1]: the fine and coarse value-noise
    tables of the ground, from a fixed seed."""
    rng = np.random.default_rng(TEXTURE_SEED)
    return rng.uniform(-1.0, 1.0, (2, TEXTURE_CELLS, TEXTURE_CELLS))


def surface_table() -> np.ndarray:
    """``[K, 4]``: the friction coefficient and RGB colour of each surface other than dry asphalt
    (``envs.road.SURFACES``, ``envs.appearance.SURFACE_COLOURS``): where the road's friction there
    is one of them, the camera paints the asphalt in its colour."""
    rows = [(mu, *SURFACE_COLOURS[name]) for name, mu in SURFACES.items() if name != "dry"]
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


# ---------------------------------------------------------------------------------- kernel
@njit(cache=True, inline="always")
def _cover(a, b, p, w):
    """The fraction of the footprint ``[p - w / 2, p + w / 2]`` inside the stripe ``[a, b]``."""
    lo = max(a, p - 0.5 * w)
    hi = min(b, p + 0.5 * w)
    return max(hi - lo, 0.0) / w


@njit(cache=True, inline="always")
def _painted(s):
    """Painted length of the dash pattern on ``[0, s]`` [m]."""
    period = math.floor(s / DASH_PERIOD)
    return period * DASH_LENGTH + min(s - period * DASH_PERIOD, DASH_LENGTH)


@njit(cache=True, inline="always")
def _noise(table, layer, gx, gy):
    """Bilinear value noise of ``table[layer]`` at texture coordinates ``(gx, gy)`` [cells]."""
    ix, iy = math.floor(gx), math.floor(gy)
    fx, fy = gx - ix, gy - iy
    mask = TEXTURE_CELLS - 1
    x0, y0 = ix & mask, iy & mask
    x1, y1 = (ix + 1) & mask, (iy + 1) & mask
    top = table[layer, y0, x0] + fx * (table[layer, y0, x1] - table[layer, y0, x0])
    bottom = table[layer, y1, x0] + fx * (table[layer, y1, x1] - table[layer, y1, x0])
    return top + fy * (bottom - top)


@njit(cache=True, inline="always")
def _clip_columns(a, b, low, high, lo, hi):
    """Narrow the column interval ``[lo, hi]`` to where ``a + b * col`` lies in ``[low, high]``."""
    if abs(b) < 1e-12:
        if a < low or a > high:
            return 1.0, 0.0  # empty
        return lo, hi
    c1 = (low - a) / b
    c2 = (high - a) / b
    if c1 > c2:
        c1, c2 = c2, c1
    return max(lo, c1), min(hi, c2)


@njit(cache=True, inline="always", fastmath=FUSED)
def _camera_car(
    i, state, track, slots, atlas, friction, surfaces, rows, looks, texture, chords, nearest, nearest_chord, out
):
    """Car ``i``'s camera frame into ``out[i]`` (``[H, W, 3]`` uint8). ``friction`` is the road
    tables' friction column, ``surfaces`` ``[K, 4]`` the friction coefficient and colour of each
    surface other than dry asphalt (:func:`surface_table`)."""
    x, y, heading = state[i, X], state[i, Y], state[i, HEADING]
    c, sn = math.cos(heading), math.sin(heading)
    road = slots[i]
    look = looks[i]
    height, width = out.shape[1], out.shape[2]
    half = road.half_width
    reach = half + VERGE_WIDTH + 1.0  # [m] beyond this from the centreline all is grass
    # the centreline as chords in the car's frame: start (ax, ay), unit direction (ux, uy),
    # length, arc length at the start, and the band of distances ahead the chord is near
    count = chords.shape[1]
    stride = max(math.floor(CHORD / road.spacing + 0.5), 1)
    j = edge_start(road, track[i, S] - BEHIND)
    bx, by = edge_centre(atlas, road, j)
    bx, by = c * (bx - x) + sn * (by - y), c * (by - y) - sn * (bx - x)
    for k in range(count):
        ax, ay = bx, by
        s_a = min(max(j, 0), road.look_hi + 1) * road.spacing
        j += stride
        px, py = edge_centre(atlas, road, j)
        bx, by = c * (px - x) + sn * (py - y), c * (py - y) - sn * (px - x)
        length = math.hypot(bx - ax, by - ay)
        if length < 1e-9:  # past an open road's end: no chord
            chords[i, k, 6], chords[i, k, 7] = 1.0, -1.0
            continue
        chords[i, k, 0], chords[i, k, 1] = ax, ay
        chords[i, k, 2], chords[i, k, 3] = (bx - ax) / length, (by - ay) / length
        chords[i, k, 4], chords[i, k, 5] = length, s_a
        chords[i, k, 6] = min(ax, bx) - reach
        chords[i, k, 7] = max(ax, bx) + reach
    best = nearest[i]
    best_chord = nearest_chord[i]
    # the look's colours in locals: the loops below store into ``out``, after which numba would
    # otherwise read them from ``looks`` again for every pixel
    g0, g1, g2 = look[GRASS], look[GRASS + 1], look[GRASS + 2]
    v0, v1, v2 = look[VERGE], look[VERGE + 1], look[VERGE + 2]
    a0, a1, a2 = look[ASPHALT], look[ASPHALT + 1], look[ASPHALT + 2]
    e0, e1, e2 = look[EDGE_LINE], look[EDGE_LINE + 1], look[EDGE_LINE + 2]
    c0, c1, c2 = look[CENTRE_LINE], look[CENTRE_LINE + 1], look[CENTRE_LINE + 2]
    h0, h1, h2 = look[SKY_HORIZON], look[SKY_HORIZON + 1], look[SKY_HORIZON + 2]
    bright, tex, tex_x, tex_y = look[BRIGHTNESS], look[TEXTURE], look[TEXTURE_X], look[TEXTURE_Y]
    for r in range(height):
        ground = rows[r, GROUND]
        if ground != 1.0:  # sky, or ground so far that it is all haze
            mix = rows[r, SKY_MIX]
            for ch in range(3):
                value = look[SKY_HORIZON + ch] + mix * (look[SKY_ZENITH + ch] - look[SKY_HORIZON + ch])
                value = min(max(math.floor(value * look[BRIGHTNESS] + 0.5), 0), 255)
                for col in range(width):
                    out[i, r, col, ch] = value
            continue
        ahead, lateral0, step, depth, haze = (
            rows[r, AHEAD],
            rows[r, LATERAL0],
            rows[r, LATERAL_STEP],
            rows[r, DEPTH_STEP],
            rows[r, HAZE],
        )
        for col in range(width):
            best[0, col] = reach
            best_chord[col] = -1
        # each chord claims the columns where it is nearer than any chord so far: along the row
        # its offset p = p0 + col dp and its foot q = q0 + col dq are linear in the column
        for k in range(count):
            if not (chords[i, k, 6] <= ahead <= chords[i, k, 7]):
                continue
            ax, ay, ux, uy, length = chords[i, k, 0], chords[i, k, 1], chords[i, k, 2], chords[i, k, 3], chords[i, k, 4]
            p0 = -uy * (ahead - ax) + ux * (lateral0 - ay)
            dp = ux * step
            q0 = ux * (ahead - ax) + uy * (lateral0 - ay)
            dq = uy * step
            lo, hi = _clip_columns(p0, dp, -reach, reach, 0.0, width - 1.0)
            # each chord reaches half a chord past its ends, closing the wedges outside bends
            lo, hi = _clip_columns(q0, dq, -0.5 * CHORD, length + 0.5 * CHORD, lo, hi)
            for col in range(max(math.ceil(lo), 0), min(math.floor(hi), width - 1) + 1):
                p = p0 + col * dp
                if abs(p) < best[0, col]:
                    best[0, col] = abs(p)
                    best[1, col] = p
                    best[2, col] = chords[i, k, 5] + q0 + col * dq
                    best_chord[col] = k
        edge_lines = look[EDGE_LINES] != 0.0
        centre_style = look[CENTRE_STYLE]
        fine_cell_fade = max(0.0, 1.0 - max(abs(step), depth) / FINE_CELL)
        coarse_cell_fade = max(0.0, 1.0 - max(abs(step), depth) / COARSE_CELL)
        clear = half - EDGE_LINE_INSET - EDGE_LINE_WIDTH  # between the edge lines ...
        mid = 0.5 * CENTRE_LINE_WIDTH  # ... and off the centre line: plain asphalt
        for col in range(width):
            lateral = lateral0 + col * step
            wx = x + ahead * c - lateral * sn  # the ground point in the world [m]
            wy = y + ahead * sn + lateral * c
            k = best_chord[col]
            asphalt = verge = edge = centre = 0.0
            if k >= 0:
                ux, uy = chords[i, k, 2], chords[i, k, 3]
                p = best[1, col]
                # the pixel's footprint across the road and along it [m]
                across = abs(ux * step) + abs(uy) * depth + 1e-9
                reach_p = abs(p) + 0.5 * across
                if reach_p < clear and abs(p) - 0.5 * across > mid:  # the common case, no stripe to weigh
                    asphalt = 1.0
                else:
                    asphalt = _cover(-half, half, p, across)
                    verge = _cover(half, half + VERGE_WIDTH, p, across) + _cover(-half - VERGE_WIDTH, -half, p, across)
                    if edge_lines:
                        outer = half - EDGE_LINE_INSET
                        edge = _cover(outer - EDGE_LINE_WIDTH, outer, p, across) + _cover(
                            -outer, -outer + EDGE_LINE_WIDTH, p, across
                        )
                    if centre_style < 2.0:
                        centre = _cover(-mid, mid, p, across)
                        if centre_style == 0.0 and centre > 0.0:  # dashed: the painted fraction along the road
                            s_here = best[2, col]
                            along = abs(uy * step) + abs(ux) * depth + 1e-9
                            centre *= (_painted(s_here + 0.5 * along) - _painted(s_here - 0.5 * along)) / along
            grass = 1.0 - asphalt - verge
            # texture: grain on everything, patches mostly on the grass, faded where cells get sub-pixel
            shade = 1.0
            if fine_cell_fade > 0.0:
                grain = _noise(texture, 0, (wx + tex_x) / FINE_CELL, (wy + tex_y) / FINE_CELL)
                shade += tex * fine_cell_fade * grain * (1.0 + grass)
            if grass > 0.0 and coarse_cell_fade > 0.0:
                patch = _noise(texture, 1, (wx - tex_y) / COARSE_CELL, (wy + tex_x) / COARSE_CELL)
                shade += tex * coarse_cell_fade * patch * 1.5 * grass
            road_colour = (a0, a1, a2)  # the look's asphalt, or the surface of the road there
            if asphalt > 0.0 and len(surfaces) > 0:
                mu = friction[road.offset + min(max(math.floor(best[2, col] / road.spacing), 0), road.num_rows - 1)]
                if mu != 1.0:
                    for m in range(len(surfaces)):
                        if surfaces[m, 0] == mu:
                            road_colour = (surfaces[m, 1], surfaces[m, 2], surfaces[m, 3])
            weights = (grass, verge, asphalt, edge, centre, shade, haze, bright)
            out[i, r, col, 0] = _channel(weights, g0, v0, road_colour[0], e0, c0, h0)
            out[i, r, col, 1] = _channel(weights, g1, v1, road_colour[1], e1, c1, h1)
            out[i, r, col, 2] = _channel(weights, g2, v2, road_colour[2], e2, c2, h2)


@njit(cache=True, inline="always")
def _channel(weights, grass_c, verge_c, asphalt_c, edge_c, centre_c, sky_c):
    """One colour channel of a ground pixel: the surfaces' colours by their coverage, the lines
    painted over them, the texture's shade, haze towards the horizon's colour, the brightness."""
    grass, verge, asphalt, edge, centre, shade, haze, bright = weights
    value = grass * grass_c + verge * verge_c + asphalt * asphalt_c
    value += edge * (edge_c - value)
    value += centre * (centre_c - value)
    value *= shade
    value += haze * (sky_c - value)
    return min(max(math.floor(value * bright + 0.5), 0), 255)


@njit(cache=True, fastmath=FUSED)
def _camera(state, track, slots, atlas, friction, surfaces, rows, looks, texture, chords, nearest, nearest_chord, out):
    for i in range(state.shape[0]):
        _camera_car(
            i, state, track, slots, atlas, friction, surfaces, rows, looks, texture, chords, nearest, nearest_chord, out
        )


@njit(cache=True, parallel=True, fastmath=FUSED)
def _camera_parallel(
    state, track, slots, atlas, friction, surfaces, rows, looks, texture, chords, nearest, nearest_chord, out
):
    for i in prange(state.shape[0]):
        _camera_car(
            i, state, track, slots, atlas, friction, surfaces, rows, looks, texture, chords, nearest, nearest_chord, out
        )


class CameraSensor:
    """The dashcam of N cars (see the module docstring)."""

    work = PER_FRAME_CARS  # car-steps of the step kernel one frame costs (``envs.observations``)

    def __init__(self, config: RoadFollowConfig):
        height, width = config.camera_size
        self.shape = (height, width, 3)
        self.rows = row_table(config)
        self.texture = ground_texture()
        self.surfaces = surface_table()
        self.look = get_look(config.appearance)
        self.randomization = float(config.appearance_randomization)
        self.count = math.ceil((BEHIND + 2.0 * config.camera_range) / CHORD) + 1  # chords per car
        self.looks = np.zeros((0, ROW_SIZE))  # one appearance row per car, set at reset

    def _rows_for(self, n: int) -> np.ndarray:
        if len(self.looks) != n:
            grown = np.tile(self.look.as_row(), (n, 1))
            keep = min(n, len(self.looks))
            grown[:keep] = self.looks[:keep]
            self.looks = grown
        return self.looks

    def reset_cars(self, cars: np.ndarray, rngs: list[np.random.Generator], num_cars: int) -> None:
        """New episodes for ``cars``: the configured look, or one drawn from each car's rng."""
        looks = self._rows_for(num_cars)
        for i, rng in zip(np.asarray(cars).tolist(), rngs):
            looks[i] = self.look.randomized(rng, self.randomization) if self.randomization > 0 else self.look.as_row()

    def __call__(self, state, track, roads: RoadBatch, parallel_from: int) -> np.ndarray:
        """``[N, H, W, 3]`` uint8 frames of the cars at ``state`` (``[N, 5]``) on ``roads``."""
        n = len(state)
        height, width, _ = self.shape
        out = np.empty((n,) + self.shape, dtype=np.uint8)
        chords = np.empty((n, self.count, 8))
        nearest = np.empty((n, 3, width))
        nearest_chord = np.empty((n, width), dtype=np.int64)
        # a frame costs about as much as 100 steps of a car: threads pay from a few cars on
        kernel = _camera_parallel if n * self.work >= parallel_from else _camera
        kernel(
            state,
            track,
            roads.kernel_slots,
            roads.atlas,
            roads.friction,
            self.surfaces,
            self.rows,
            self._rows_for(n),
            self.texture,
            chords,
            nearest,
            nearest_chord,
            out,
        )
        return out

    def noise_scale(self) -> float:
        return 25.0
