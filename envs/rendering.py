"""Top-down pictures of a road, the car, the trail it drove and a HUD, drawn with pygame.

pygame is imported on the first frame, never when this module is imported, so a
headless user who never renders never pays for it. Frames work without a display
(``SDL_VIDEODRIVER=dummy``).

Coordinates: the world is in metres with y up; the screen is in pixels with y down.
Both cameras map a world point ``(x, y)`` to the screen point
``(x * scale - origin_x, -y * scale - origin_y)``, so each frame is described by
three numbers, and :meth:`RoadRenderer.world_to_screen` uses the last frame's.

Speed: the static picture of the road (grass, asphalt, edge lines, dashed centreline)
is drawn once per road and camera and then only blitted. The "road" camera keeps one
window-sized picture; the "follow" camera keeps square tiles of the road at its
scale, drawn the first time the car comes near them and kept in a bounded
least-recently-used cache, so roads of any size cost bounded memory. The trail is
drawn as a few polylines, one per run of segments in the same colour bin.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from envs.appearance import SURFACE_COLOURS

if TYPE_CHECKING:
    from envs.road import Road

CAMERAS = ("follow", "road")
RENDER_MODES = ("rgb_array", "human")

# colours (R, G, B)
GRASS_COLOUR = (84, 138, 66)
ASPHALT_COLOUR = SURFACE_COLOURS["dry"]
SKID_COLOUR = (28, 28, 30)
SKID_WIDTH = 0.25  # [m]
VELOCITY_COLOUR = (250, 210, 40)
VELOCITY_ARROW_SECONDS = 0.4  # the arrow reaches where the car's centre would be this much later
EDGE_COLOUR = (240, 240, 240)
CENTRELINE_COLOUR = (232, 214, 120)
CAR_COLOUR = (30, 96, 235)
CAR_OUTLINE_COLOUR = (12, 30, 80)
WINDSCREEN_COLOUR = (36, 48, 76)
HEADLIGHT_COLOUR = (255, 246, 170)
WHEEL_COLOUR = (20, 20, 20)
GHOST_COLOUR = (170, 225, 255)
GHOST_FILL_ALPHA = 90  # 0..255
HUD_TEXT_COLOUR = (255, 255, 255)
HUD_PANEL_RGBA = (0, 0, 0, 160)
TRAIL_COLOUR_BINS = 12  # |cte| / half_width in [0, 1] is shown in this many colours

# sizes
EDGE_LINE_WIDTH = 0.15  # [m]
CENTRELINE_WIDTH = 0.12  # [m]
CENTRELINE_DASH = 3.0  # [m] dash length, and gap length
TRAIL_WIDTH = 0.35  # [m]
ROAD_CAMERA_MARGIN = 16  # [px] around the fitted road
MIN_SEGMENT_PX = 2.0  # [px] the road outline is thinned to segments at least this long
FOLLOW_TILE_PX = 512  # [px] side of one cached tile of the follow camera's road picture
FOLLOW_CACHE_PX = 16_000_000  # [px] most pixels of road tiles kept at once
HUD_FONT_SIZE = 14  # [px]
HUD_PADDING = 6  # [px]
GHOST_OUTLINE_PX = 2  # [px] at least: the ghost's outline, drawn over the car, shows where they overlap
MONO_FONTS = "dejavusansmono,liberationmono,couriernew,monospace"
SANS_FONTS = "dejavusans,liberationsans,arial,sans"
SCALE_BAR_TARGET_PX = 110  # [px] the scale bar is the longest "nice" length below this
CAR_MARKER_BELOW_PX = 16  # [px] a car drawn shorter than this also gets a ring around it
CAR_MARKER_RADIUS = 10  # [px]

_pygame = None  # the pygame module, once a frame has been drawn
_fonts: dict[tuple[int, bool, bool], object] = {}


def import_pygame():
    """pygame, imported on first use (quietly, without its banner)."""
    global _pygame
    if _pygame is None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        _pygame = pygame
    return _pygame


def font(size: int, mono: bool = True, bold: bool = False):
    """A system font of ``size`` px (monospace, or sans serif; the default font if the system
    has none), made once and shared by the renderer and every window."""
    pg = import_pygame()
    if not pg.font.get_init():  # first use, or pygame.quit() (gymnasium's play() ends with it) dropped them
        _fonts.clear()
        pg.font.init()
    key = (size, mono, bold)
    if key not in _fonts:
        _fonts[key] = pg.font.SysFont(MONO_FONTS if mono else SANS_FONTS, size, bold=bold)
    return _fonts[key]


def hud_box(hud: dict[str, str]) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` [px] of the HUD panel :meth:`RoadRenderer.draw_hud` draws for
    these lines (all 0 for no lines): the one measure of the HUD, for whoever lays out around it."""
    if not hud:
        return 0, 0, 0, 0
    f = font(HUD_FONT_SIZE)
    w = max(f.size(f"{label}: {value}")[0] for label, value in hud.items()) + 2 * HUD_PADDING
    return HUD_PADDING, HUD_PADDING, w, f.get_linesize() * len(hud) + 2 * HUD_PADDING


def _trail_palette(n: int) -> list[tuple[int, int, int]]:
    """``n`` colours from green (|cte| = 0) through yellow to red (|cte| >= half width)."""
    green, yellow, red = np.array([40, 215, 70]), np.array([250, 215, 40]), np.array([235, 40, 35])
    out = []
    for r in np.linspace(0.0, 1.0, n):
        c = green + 2 * r * (yellow - green) if r <= 0.5 else yellow + (2 * r - 1) * (red - yellow)
        out.append(tuple(int(round(v)) for v in c))
    return out


TRAIL_PALETTE = _trail_palette(TRAIL_COLOUR_BINS)


@dataclass(frozen=True)
class CarPose:
    """Where a car is and how it looks, for drawing."""

    x: float
    """Rear-axle position, world frame [m]."""
    y: float
    """Rear-axle position, world frame [m]."""
    heading: float
    """Direction the car points [rad]: 0 is +x, counter-clockwise positive (world y up)."""
    steer: float = 0.0
    """Front-wheel angle [rad], positive to the left."""
    length: float = 4.5
    """Body length [m]."""
    width: float = 1.8
    """Body width [m]."""
    wheelbase: float = 2.7
    """Distance between the axles [m]; the body overhangs both axles equally."""
    velocity: tuple[float, float] | None = None
    """World-frame velocity of the body [m/s], drawn as an arrow when given (a car that slides
    moves where it does not point)."""

    @property
    def overhang(self) -> float:
        """Body length behind the rear axle, and in front of the front axle [m]."""
        return 0.5 * (self.length - self.wheelbase)

    @property
    def body_centre(self) -> np.ndarray:
        """``(2,)`` centre of the body [m], half a wheelbase ahead of the rear axle."""
        half = 0.5 * self.wheelbase
        return np.array([self.x + half * math.cos(self.heading), self.y + half * math.sin(self.heading)])


def _rect(x0: float, x1: float, half_w: float) -> np.ndarray:
    return np.array([[x0, -half_w], [x1, -half_w], [x1, half_w], [x0, half_w]])


def _car_shapes(car: CarPose) -> dict[str, np.ndarray]:
    """The car's parts as polygons in the car frame (x forward from the rear axle, y left) [m]."""
    rear, front = -car.overhang, car.wheelbase + car.overhang
    hw, length = 0.5 * car.width, car.length
    chamfer = 0.12 * car.width
    body = np.array(
        [
            [rear, -hw],
            [front - chamfer, -hw],
            [front, -hw + chamfer],
            [front, hw - chamfer],
            [front - chamfer, hw],
            [rear, hw],
        ]
    )
    ws_back, ws_front = front - 0.42 * length, front - 0.27 * length
    windscreen = np.array(
        [
            [ws_back, -0.40 * car.width],
            [ws_front, -0.34 * car.width],
            [ws_front, 0.34 * car.width],
            [ws_back, 0.40 * car.width],
        ]
    )
    lamp = 0.07 * length
    headlights = [
        _rect(front - lamp, front - 0.01, 0.09 * car.width) + [0.0, s * 0.33 * car.width] for s in (-1.0, 1.0)
    ]
    wheel = _rect(-0.085 * length, 0.085 * length, 0.09 * car.width)
    c, s = math.cos(car.steer), math.sin(car.steer)
    front_wheel = wheel @ np.array([[c, s], [-s, c]])
    wheel_y = hw - 0.04 * car.width
    wheels = [wheel + [0.0, sy * wheel_y] for sy in (-1.0, 1.0)]
    wheels += [front_wheel + [car.wheelbase, sy * wheel_y] for sy in (-1.0, 1.0)]
    return {"wheels": wheels, "body": body, "windscreen": windscreen, "headlights": headlights}


def _to_world(car: CarPose, pts: np.ndarray) -> np.ndarray:
    c, s = math.cos(car.heading), math.sin(car.heading)
    return pts @ np.array([[c, s], [-s, c]]) + [car.x, car.y]


def _nice_length(max_metres: float) -> float:
    """The longest of 1, 2, 5 x 10^k metres not above ``max_metres`` (at least 0.1 m)."""
    best = 0.1
    for exponent in range(-1, 6):
        for m in (1.0, 2.0, 5.0):
            if m * 10.0**exponent <= max_metres:
                best = m * 10.0**exponent
    return best


class _RoadPicture:
    """A road outline in global pixel coordinates (``X = x * scale``, ``Y = -y * scale``)
    that draws any part of itself onto a surface."""

    def __init__(self, road: Road, scale: float):
        left, right = road.edges()
        centre = road.points
        n = len(centre)
        stride = max(1, int(MIN_SEGMENT_PX / (road.spacing * scale)))
        idx = np.arange(0, n, stride)
        if idx[-1] != n - 1:
            idx = np.append(idx, n - 1)
        if road.closed:
            idx = np.append(idx, 0)  # the closing segment
        flip = np.array([scale, -scale])
        self.centre = centre[idx] * flip
        self.left = left[idx] * flip
        self.right = right[idx] * flip
        arc = np.arange(n)[idx] * road.spacing
        if road.closed:
            arc[-1] = road.length
        period = max(2 * CENTRELINE_DASH, 16.0 / scale)
        self.dash_on = (arc[:-1] % period) < 0.5 * period
        colours = [ASPHALT_COLOUR] * (len(idx) - 1)  # per drawn segment, by the surface at its start
        for start, end, surface in road.surfaces:
            for k in np.flatnonzero((arc[:-1] >= start) & (arc[:-1] < end)).tolist():
                colours[k] = SURFACE_COLOURS[surface]
        self.colours = colours
        self.edge_px = max(1, int(round(EDGE_LINE_WIDTH * scale)))
        self.centre_px = max(1, int(round(CENTRELINE_WIDTH * scale)))
        self.show_lines = road.half_width * scale >= 3.0
        corners = np.stack([self.left[:-1], self.left[1:], self.right[:-1], self.right[1:]])
        pad = self.edge_px + 2
        self.seg_lo = corners.min(axis=0) - pad
        self.seg_hi = corners.max(axis=0) + pad
        self.lo = self.seg_lo.min(axis=0)
        self.hi = self.seg_hi.max(axis=0)

    def segments_in(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Indices of the segments whose bounding boxes meet the pixel rectangle."""
        lo, hi = self.seg_lo, self.seg_hi
        hit = (lo[:, 0] < x1) & (hi[:, 0] > x0) & (lo[:, 1] < y1) & (hi[:, 1] > y0)
        return np.flatnonzero(hit)

    def draw(self, surface, origin: tuple[float, float], segments: np.ndarray) -> None:
        """Draw asphalt, edge lines and the dashed centreline of ``segments`` onto ``surface``,
        whose top-left pixel is ``origin`` in global pixel coordinates."""
        if len(segments) == 0:
            return
        pg = import_pygame()
        o = np.asarray(origin, dtype=np.float64)
        left, right, centre = self.left - o, self.right - o, self.centre - o
        runs = np.split(segments, np.flatnonzero(np.diff(segments) != 1) + 1)
        for run in runs:
            a, b = int(run[0]), int(run[-1]) + 1
            lr, rr = left[a : b + 1].tolist(), right[a : b + 1].tolist()
            colours = self.colours
            for i in range(b - a):
                pg.draw.polygon(surface, colours[a + i], (lr[i], lr[i + 1], rr[i + 1], rr[i]))
        if not self.show_lines:
            return
        for run in runs:  # lines after all asphalt, so no quad covers a line
            a, b = int(run[0]), int(run[-1]) + 1
            pg.draw.lines(surface, EDGE_COLOUR, False, left[a : b + 1].tolist(), self.edge_px)
            pg.draw.lines(surface, EDGE_COLOUR, False, right[a : b + 1].tolist(), self.edge_px)
            on = self.dash_on[a:b]
            edges = np.flatnonzero(np.diff(np.concatenate([[False], on, [False]]).astype(np.int8)))
            for start, stop in zip(edges[::2], edges[1::2]):
                pts = centre[a + start : a + stop + 1].tolist()
                pg.draw.lines(surface, CENTRELINE_COLOUR, False, pts, self.centre_px)


class _FittedBackground:
    """The whole road fitted into the window: one window-sized picture."""

    def __init__(self, road: Road, size: tuple[int, int]):
        pg = import_pygame()
        w, h = size
        left, right = road.edges()
        both = np.vstack([left, right])
        lo, hi = both.min(axis=0), both.max(axis=0)
        span = np.maximum(hi - lo, 1e-3)
        self.scale = float(min((w - 2 * ROAD_CAMERA_MARGIN) / span[0], (h - 2 * ROAD_CAMERA_MARGIN) / span[1]))
        self.scale = max(self.scale, 1e-6)
        mid = 0.5 * (lo + hi)
        self.origin = (round(mid[0] * self.scale - 0.5 * w), round(-mid[1] * self.scale - 0.5 * h))
        self.surface = pg.Surface(size)
        self.surface.fill(GRASS_COLOUR)
        picture = _RoadPicture(road, self.scale)
        picture.draw(self.surface, self.origin, np.arange(len(picture.dash_on)))


class _FollowBackground:
    """The road at the follow camera's scale, as lazily drawn tiles in an LRU cache."""

    def __init__(self, road: Road, scale: float):
        self.scale = scale
        self.picture = _RoadPicture(road, scale)
        self.tiles: OrderedDict[tuple[int, int], object] = OrderedDict()
        self.empty: set[tuple[int, int]] = set()
        self.max_tiles = max(16, FOLLOW_CACHE_PX // FOLLOW_TILE_PX**2)

    def _tile(self, key: tuple[int, int]):
        """The tile's surface, or None if no road crosses it."""
        tile = self.tiles.get(key)
        if tile is not None:
            self.tiles.move_to_end(key)
            return tile
        if key in self.empty:
            return None
        t = FOLLOW_TILE_PX
        x0, y0 = key[0] * t, key[1] * t
        segments = self.picture.segments_in(x0, y0, x0 + t, y0 + t)
        if len(segments) == 0:
            if len(self.empty) > 100_000:
                self.empty.clear()
            self.empty.add(key)
            return None
        tile = import_pygame().Surface((t, t))
        tile.fill(GRASS_COLOUR)
        self.picture.draw(tile, (x0, y0), segments)
        self.tiles[key] = tile
        if len(self.tiles) > self.max_tiles:
            self.tiles.popitem(last=False)
        return tile

    def blit(self, canvas, origin: tuple[int, int]) -> None:
        """Paint the view whose top-left pixel is ``origin`` (global pixel coordinates)."""
        ox, oy = origin
        w, h = canvas.get_size()
        t = FOLLOW_TILE_PX
        p = self.picture
        if ox + w < p.lo[0] or ox > p.hi[0] or oy + h < p.lo[1] or oy > p.hi[1]:
            canvas.fill(GRASS_COLOUR)
            return
        keys = [(i, j) for j in range(oy // t, (oy + h - 1) // t + 1) for i in range(ox // t, (ox + w - 1) // t + 1)]
        tiles = [self._tile(k) for k in keys]
        if any(tile is None for tile in tiles):
            canvas.fill(GRASS_COLOUR)
        canvas.blits(
            [(tile, (k[0] * t - ox, k[1] * t - oy)) for k, tile in zip(keys, tiles) if tile is not None],
            doreturn=False,
        )


class RoadRenderer:
    """Draws frames of a car on a road, top down, with pygame.

    Each frame shows, bottom to top: grass; the road (asphalt, white edge lines);
    the ideal path (the centreline, dashed); the trail the car drove, coloured by
    |cross-track error| from green (0) through yellow to red (at or past the road
    edge); the ghost car, if given (translucent light blue); the car, with its
    windscreen, headlights and front wheels turned by the steering angle; the ghost's outline
    (over the car, so a ghost under it shows); a HUD
    panel (top left); a scale bar (bottom right).

    ## Arguments
    - `width`, `height`: frame size [px].
    - `camera`: "follow" (centred on the car, north up, `pixels_per_metre`) or
      "road" (the whole road fitted into the frame). Settable between frames.
    - `pixels_per_metre`: the follow camera's scale [px/m]. Settable between frames.
    - `render_mode`: "rgb_array" (`render` returns the frame) or "human" (a window,
      paced at `fps`; `render` returns None).
    """

    def __init__(
        self,
        width: int = 600,
        height: int = 600,
        camera: str = "follow",
        pixels_per_metre: float = 8.0,
        render_mode: str = "rgb_array",
        fps: int = 20,
    ):
        if render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be one of {RENDER_MODES}, got {render_mode!r}")
        if width < 1 or height < 1:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        if not (math.isfinite(pixels_per_metre) and pixels_per_metre > 0):
            raise ValueError(f"pixels_per_metre must be positive, got {pixels_per_metre}")
        self.width = int(width)
        self.height = int(height)
        self.camera = camera
        self.pixels_per_metre = float(pixels_per_metre)
        self.render_mode = render_mode
        self.fps = int(fps)
        self._canvas = None
        self._window = None
        self._clock = None
        self._view: tuple[float, float, float] | None = None  # scale, origin x, origin y
        self._fitted: tuple[Road, _FittedBackground] | None = None
        self._follow: tuple[Road, _FollowBackground] | None = None
        self._panels: dict[tuple[int, int], object] = {}
        self._texts: dict[str, object] = {}

    @property
    def camera(self) -> str:
        return self._camera

    @camera.setter
    def camera(self, value: str) -> None:
        if value not in CAMERAS:
            raise ValueError(f"camera must be one of {CAMERAS}, got {value!r}")
        self._camera = value

    # ---------------------------------------------------------------- public
    def render(
        self,
        road: Road,
        car: CarPose,
        trail_xy: np.ndarray,
        trail_abs_cte: np.ndarray,
        hud: dict[str, str],
        ghost: CarPose | None = None,
        trail_sliding: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """Draw one frame.

        Args:
            road: the road to draw.
            car: the car's pose.
            trail_xy: ``(n, 2)`` positions the car drove [m], oldest first (n may be 0).
            trail_abs_cte: ``(n,)`` |cross-track error| at those positions [m].
            hud: lines of the HUD panel, shown as ``"label: value"``.
            ghost: another car (e.g. the expert), drawn translucent under the car with its
                outline over the car, so that a ghost right under the car is still seen.
            trail_sliding: ``(n,)`` whether the tyres slid at those positions: skid marks there.

        Returns:
            rgb_array mode: ``(height, width, 3)`` uint8 frame (read-only). human mode: None.
        """
        pg = import_pygame()
        if self._canvas is None:
            self._canvas = pg.Surface((self.width, self.height))
        canvas = self._canvas
        self._draw_frame(canvas, road, car, trail_xy, trail_abs_cte, hud, ghost, None, trail_sliding)
        if self.render_mode == "rgb_array":
            return np.frombuffer(pg.image.tobytes(canvas, "RGB"), dtype=np.uint8).reshape(self.height, self.width, 3)
        if self._window is None:
            pg.display.init()
            pg.display.set_caption("roadschool")
            self._window = pg.display.set_mode((self.width, self.height))
            self._clock = pg.time.Clock()
        self._window.blit(canvas, (0, 0))
        pg.event.pump()
        pg.display.flip()
        self._clock.tick(self.fps)
        return None

    def world_to_screen(self, xy: np.ndarray) -> np.ndarray:
        """``(..., 2)`` world points [m] -> ``(..., 2)`` pixel coordinates (x right, y down)
        in the most recent frame; pixel ``(i, j)`` spans ``[i, i + 1) x [j, j + 1)``."""
        if self._view is None:
            raise RuntimeError("world_to_screen needs a frame: call render() first")
        scale, ox, oy = self._view
        xy = np.asarray(xy, dtype=np.float64)
        return xy * np.array([scale, -scale]) - np.array([ox, oy])

    def render_onto(
        self,
        surface,
        road: Road,
        car: CarPose | None,
        trail_xy: np.ndarray,
        trail_abs_cte: np.ndarray,
        hud: dict[str, str],
        ghost: CarPose | None = None,
        centre: tuple[float, float] | None = None,
        trail_sliding: np.ndarray | None = None,
    ) -> None:
        """Draw the frame :meth:`render` would, onto ``surface`` (a pygame Surface of any size).

        The frame is the surface's size, so one renderer can draw into a resizable
        window or a part of one (a subsurface); ``width`` and ``height`` are left as
        they are. ``car`` may be None (no car is drawn); the follow camera centres on
        ``centre`` (world ``(x, y)`` [m]) if given, else on the car. Afterwards
        :meth:`world_to_screen` maps onto ``surface``.
        """
        size = (self.width, self.height)
        self.width, self.height = surface.get_size()
        try:
            self._draw_frame(surface, road, car, trail_xy, trail_abs_cte, hud, ghost, centre, trail_sliding)
        finally:
            self.width, self.height = size

    def draw_hud(self, surface, hud: dict[str, str]) -> None:
        """The HUD panel (top left of ``surface``): one ``label: value`` line per item, in the
        box :func:`hud_box` measures."""
        if not hud:
            return
        x, y, w, h = hud_box(hud)
        lines = [self._text(f"{label}: {value}") for label, value in hud.items()]
        line_h = font(HUD_FONT_SIZE).get_linesize()
        surface.blit(self._panel(w, h), (x, y))
        surface.blits(
            [(s, (x + HUD_PADDING, y + HUD_PADDING + i * line_h)) for i, s in enumerate(lines)], doreturn=False
        )

    def close(self) -> None:
        """Close the window (human mode) and drop cached pictures."""
        if self._window is not None:
            import_pygame().display.quit()
        self._window = None
        self._clock = None
        self._canvas = None
        self._fitted = None
        self._follow = None
        self._panels.clear()
        self._texts.clear()

    # --------------------------------------------------------------- drawing
    def _draw_frame(self, canvas, road, car, trail_xy, trail_abs_cte, hud, ghost, centre, trail_sliding) -> None:
        """The one draw sequence of :meth:`render` and :meth:`render_onto`, bottom to top."""
        if car is None and centre is None and self.camera == "follow":
            raise ValueError("the follow camera needs a car or a centre to look at")
        trail_xy = np.asarray(trail_xy, dtype=np.float64).reshape(-1, 2)
        trail_abs_cte = np.asarray(trail_abs_cte, dtype=np.float64).reshape(-1)
        if len(trail_xy) != len(trail_abs_cte):
            raise ValueError(f"trail_xy has {len(trail_xy)} points but trail_abs_cte has {len(trail_abs_cte)}")
        self._draw_background(canvas, road, car, centre)
        self._draw_skid_marks(canvas, trail_xy, trail_sliding, car.width if car is not None else 1.8)
        self._draw_trail(canvas, trail_xy, trail_abs_cte, road.half_width)
        if ghost is not None:
            self._draw_ghost(canvas, ghost)
        if car is not None:
            self._draw_car(canvas, car)
        if ghost is not None:  # over the car: a ghost right under it is still seen
            self._draw_ghost_outline(canvas, ghost)
        self.draw_hud(canvas, hud)
        self._draw_scale_bar(canvas)

    def _draw_background(self, canvas, road: Road, car: CarPose | None, centre=None) -> None:
        size = (self.width, self.height)
        if self.camera == "road":
            if self._fitted is None or self._fitted[0] is not road or self._fitted[1].surface.get_size() != size:
                self._fitted = (road, _FittedBackground(road, size))
            bg = self._fitted[1]
            canvas.blit(bg.surface, (0, 0))
            self._view = (bg.scale, float(bg.origin[0]), float(bg.origin[1]))
            return
        scale = self.pixels_per_metre
        if self._follow is None or self._follow[0] is not road or self._follow[1].scale != scale:
            self._follow = (road, _FollowBackground(road, scale))
        cx, cy = car.body_centre if centre is None else centre
        origin = (int(round(cx * scale - 0.5 * self.width)), int(round(-cy * scale - 0.5 * self.height)))
        self._follow[1].blit(canvas, origin)
        self._view = (scale, float(origin[0]), float(origin[1]))

    def _draw_trail(self, canvas, xy: np.ndarray, abs_cte: np.ndarray, half_width: float) -> None:
        n = len(xy)
        if n == 0:
            return
        pg = import_pygame()
        scale = self._view[0]
        width_px = max(2, int(round(TRAIL_WIDTH * scale)))
        p = self.world_to_screen(xy)
        ratio = abs_cte / max(half_width, 1e-9)
        if n == 1:
            k = min(int(round(ratio[0] * (TRAIL_COLOUR_BINS - 1))), TRAIL_COLOUR_BINS - 1)
            pg.draw.circle(canvas, TRAIL_PALETTE[k], p[0].tolist(), max(1, width_px // 2 + 1))
            return
        m = width_px + 2
        inside = (p[:, 0] > -m) & (p[:, 0] < self.width + m) & (p[:, 1] > -m) & (p[:, 1] < self.height + m)
        visible = inside[:-1] | inside[1:]  # per segment
        shown = np.flatnonzero(visible)
        if len(shown) == 0:
            return
        first, last = int(shown[0]), int(shown[-1]) + 1  # segments first..last-1
        seg_ratio = 0.5 * (ratio[first:last] + ratio[first + 1 : last + 1])
        bins = np.minimum(np.rint(seg_ratio * (TRAIL_COLOUR_BINS - 1)).astype(np.int64), TRAIL_COLOUR_BINS - 1)
        key = np.where(visible[first:last], bins, -1)
        starts = np.flatnonzero(np.diff(key)) + 1
        starts = np.concatenate([[0], starts]).tolist()
        stops = starts[1:] + [len(key)]
        pts = p[first : last + 1].tolist()
        keys = key.tolist()
        for a, b in zip(starts, stops):
            k = keys[a]
            if k >= 0:
                pg.draw.lines(canvas, TRAIL_PALETTE[k], False, pts[a : b + 1], width_px)

    def _draw_skid_marks(self, canvas, xy: np.ndarray, sliding: np.ndarray | None, car_width: float) -> None:
        """Two dark lines, a track width apart, along the trail where the tyres slid."""
        if sliding is None or len(xy) < 2:
            return
        sliding = np.asarray(sliding, dtype=bool).reshape(-1)
        if len(sliding) != len(xy):
            raise ValueError(f"trail_sliding has {len(sliding)} entries but the trail {len(xy)} points")
        marked = np.flatnonzero(sliding[1:] & sliding[:-1])  # segments slid at both ends
        if len(marked) == 0:
            return
        pg = import_pygame()
        step = xy[1:] - xy[:-1]
        normal = np.column_stack([-step[:, 1], step[:, 0]]) / np.maximum(np.hypot(*step.T), 1e-9)[:, None]
        width_px = max(1, int(round(SKID_WIDTH * self._view[0])))
        half = 0.4 * car_width
        for side in (half, -half):
            a = self.world_to_screen(xy[marked] + side * normal[marked]).tolist()
            b = self.world_to_screen(xy[marked + 1] + side * normal[marked]).tolist()
            for p, q in zip(a, b):
                pg.draw.line(canvas, SKID_COLOUR, p, q, width_px)

    def _on_screen(self, pts: np.ndarray) -> bool:
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return bool(hi[0] >= 0 and hi[1] >= 0 and lo[0] < self.width and lo[1] < self.height)

    def _draw_ghost(self, canvas, ghost: CarPose) -> None:
        """The ghost's translucent body and windscreen (under the car; its outline comes over it)."""
        pg = import_pygame()
        shapes = _car_shapes(ghost)
        body = self.world_to_screen(_to_world(ghost, shapes["body"]))
        if not self._on_screen(body):
            return
        x0, y0 = np.floor(body.min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(body.max(axis=0)).astype(int) + 2
        layer = pg.Surface((x1 - x0, y1 - y0), pg.SRCALPHA)
        pg.draw.polygon(layer, (*GHOST_COLOUR, GHOST_FILL_ALPHA), (body - [x0, y0]).tolist())
        canvas.blit(layer, (x0, y0))
        windscreen = self.world_to_screen(_to_world(ghost, shapes["windscreen"]))
        pg.draw.polygon(canvas, GHOST_COLOUR, windscreen.tolist(), 1)

    def _draw_ghost_outline(self, canvas, ghost: CarPose) -> None:
        body = self.world_to_screen(_to_world(ghost, _car_shapes(ghost)["body"]))
        if self._on_screen(body):
            width = max(GHOST_OUTLINE_PX, int(round(0.06 * self._view[0])))
            import_pygame().draw.polygon(canvas, GHOST_COLOUR, body.tolist(), width)

    def _draw_car(self, canvas, car: CarPose) -> None:
        pg = import_pygame()
        shapes = _car_shapes(car)
        body = self.world_to_screen(_to_world(car, shapes["body"]))
        if not self._on_screen(body):
            return
        for wheel in shapes["wheels"]:
            pg.draw.polygon(canvas, WHEEL_COLOUR, self.world_to_screen(_to_world(car, wheel)).tolist())
        pg.draw.polygon(canvas, CAR_COLOUR, body.tolist())
        pg.draw.polygon(canvas, CAR_OUTLINE_COLOUR, body.tolist(), 1)
        pg.draw.polygon(canvas, WINDSCREEN_COLOUR, self.world_to_screen(_to_world(car, shapes["windscreen"])).tolist())
        for lamp in shapes["headlights"]:
            pg.draw.polygon(canvas, HEADLIGHT_COLOUR, self.world_to_screen(_to_world(car, lamp)).tolist())
        if car.velocity is not None:  # where the body is going: off its heading when it slides
            start = car.body_centre
            tip = start + VELOCITY_ARROW_SECONDS * np.asarray(car.velocity, dtype=np.float64)
            a, b = self.world_to_screen(start), self.world_to_screen(tip)
            if np.hypot(*(b - a)) >= 4.0:
                width_px = max(2, int(round(0.15 * self._view[0])))
                pg.draw.line(canvas, VELOCITY_COLOUR, a.tolist(), b.tolist(), width_px)
                direction = (b - a) / np.hypot(*(b - a))
                side = np.array([-direction[1], direction[0]])
                head = max(6.0, 3.0 * width_px)
                pg.draw.polygon(
                    canvas,
                    VELOCITY_COLOUR,
                    [
                        b.tolist(),
                        (b - head * direction + 0.5 * head * side).tolist(),
                        (b - head * direction - 0.5 * head * side).tolist(),
                    ],
                )
        if car.length * self._view[0] < CAR_MARKER_BELOW_PX:  # too small to find at a glance
            centre = self.world_to_screen(car.body_centre).tolist()
            pg.draw.circle(canvas, CAR_COLOUR, centre, CAR_MARKER_RADIUS, 2)

    def _text(self, text: str):
        """The rendered text surface (cached; the cache is emptied when it grows large)."""
        surface = self._texts.get(text)
        if surface is None:
            if len(self._texts) > 512:
                self._texts.clear()
            surface = font(HUD_FONT_SIZE).render(text, True, HUD_TEXT_COLOUR)
            self._texts[text] = surface
        return surface

    def _panel(self, w: int, h: int):
        """A translucent dark box (cached by size)."""
        panel = self._panels.get((w, h))
        if panel is None:
            if len(self._panels) > 64:
                self._panels.clear()
            panel = import_pygame().Surface((w, h), import_pygame().SRCALPHA)
            panel.fill(HUD_PANEL_RGBA)
            self._panels[(w, h)] = panel
        return panel

    def _draw_scale_bar(self, canvas) -> None:
        pg = import_pygame()
        scale = self._view[0]
        metres = _nice_length(SCALE_BAR_TARGET_PX / scale)
        bar_px = max(1, int(round(metres * scale)))
        label = self._text(f"{metres:g} m")
        w = max(bar_px, label.get_width()) + 2 * HUD_PADDING
        h = label.get_height() + 8 + 2 * HUD_PADDING
        x, y = self.width - w - HUD_PADDING, self.height - h - HUD_PADDING
        canvas.blit(self._panel(w, h), (x, y))
        canvas.blit(label, (x + w - HUD_PADDING - label.get_width(), y + HUD_PADDING))
        bx1 = x + w - HUD_PADDING
        bx0 = bx1 - bar_px
        by = y + h - HUD_PADDING - 3
        pg.draw.line(canvas, HUD_TEXT_COLOUR, (bx0, by), (bx1, by), 2)
        pg.draw.line(canvas, HUD_TEXT_COLOUR, (bx0, by - 4), (bx0, by + 2), 1)
        pg.draw.line(canvas, HUD_TEXT_COLOUR, (bx1 - 1, by - 4), (bx1 - 1, by + 2), 1)
