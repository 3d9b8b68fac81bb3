"""``roadschool watch``: a window where a car drives road after road, the expert alongside.

Every window of roadschool (watch, play, draw, replay) is an :class:`App`: a
class with ``handle_event(event)``, ``update(seconds)`` and ``draw() -> Surface``,
and ``run(max_frames)``, the loop that feeds it pygame's events and shows what it
draws. Tests post events and step frames without real time.

Time: the window shows ``FPS`` frames a second and each frame advances the world
by ``1 / FPS`` seconds times the time speed (frame-locked, so a run is the same
on every machine). The world moves in *ticks* of the environment's time step
``dt``: one env step per tick. A recording gets the first frame and then one
frame per tick, drawn right after it, at ``dt`` per frame: it plays at real time
however fast time ran in the window, and never skips a step.

What a panel shows, bottom to top: the road (``envs.rendering.RoadRenderer``),
the trail coloured by |cross-track error|, the expert's car as a ghost, the car,
a HUD of live metrics (top left), a small plot of cross-track error over
distance (bottom left), the scale bar (bottom right) and, when a road is done,
a banner saying how it ended (top right). A status bar under the panels shows
the keys, the time speed and the recording.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.car import CarParams
from envs.config import RoadFollowConfig
from envs.generation import DEFAULT_FAMILIES, generate_road
from envs.road import Road
from envs.rendering import import_pygame
from envs.road_follow import MAX_EPISODE_STEPS

FPS = 60  # [frames/s] the window's frame rate
DEFAULT_SIZE = (1280, 720)  # [px]
MIN_SIZE = (320, 240)  # [px] the window is kept at least this large
STATUS_BAR_PX = 24  # [px]
PANEL_GAP_PX = 4  # [px] between the two panels of the split view
PADDING = 6  # [px]
HOLD_SECONDS = 2.0  # [s] a finished road stays on screen this long before the next one
TIME_SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
MAX_TICKS_PER_FRAME = 32  # more is dropped (time slows down), never skipped
ZOOM_STEP = 1.25
ZOOM_RANGE = (1.0, 48.0)  # [px/m] follow camera

MONO_FONTS = "dejavusansmono,liberationmono,couriernew,monospace"
SANS_FONTS = "dejavusans,liberationsans,arial,sans"
STATUS_BG = (24, 26, 30)
STATUS_TEXT = (205, 210, 218)
STATUS_DIM = (130, 136, 146)
RECORD_RED = (235, 60, 50)
READY_BLUE = (40, 110, 210)
PAUSED_YELLOW = (250, 215, 90)
DIVIDER = (16, 16, 18)
OUTCOME_COLOURS = {"finished": (40, 170, 70), "off road": (205, 45, 40), "time limit": (200, 140, 30)}
PLOT_AXIS = (150, 150, 150)
PLOT_EDGE = (235, 235, 235)

_fonts: dict[tuple[str, int, bool], object] = {}


def pygame_error() -> type[Exception]:
    """pygame's error class (raised, for one, when no window can be opened)."""
    return import_pygame().error


def pygame_module():
    """pygame, imported quietly on first use, with its display (headless works) and fonts ready."""
    pygame = import_pygame()
    if not pygame.display.get_init():
        pygame.display.init()
    if not pygame.font.get_init():
        pygame.font.init()
    return pygame


def font(size: int, mono: bool = True, bold: bool = False):
    key = ("mono" if mono else "sans", size, bold)
    if key not in _fonts:
        _fonts[key] = pygame_module().font.SysFont(MONO_FONTS if mono else SANS_FONTS, size, bold=bold)
    return _fonts[key]


def headless() -> bool:
    """True when pygame draws to no screen (``SDL_VIDEODRIVER=dummy``): nobody watches, so don't wait."""
    return os.environ.get("SDL_VIDEODRIVER", "") in ("dummy", "offscreen")


# --------------------------------------------------------------------------- app
class App:
    """A window: events in, frames out.

    Subclasses override :meth:`handle_event` (calling this one for closing and
    resizing), :meth:`update` and :meth:`draw`. ``running`` turns False when the
    window is closed or q / Esc is pressed. Use as a context manager, or call
    :meth:`close`, to release the window and finish any recording.
    """

    title = "roadschool"

    def __init__(self, size: tuple[int, int] = DEFAULT_SIZE):
        pygame_module()
        self.size = _clamp_size(size)
        self.running = True
        self.frames = 0
        self.recorder = None
        self._canvas = None
        self._window = None

    # -- the three parts tests drive
    def handle_event(self, event) -> None:
        pg = pygame_module()
        if event.type in (pg.QUIT, pg.WINDOWCLOSE):
            self.running = False
        elif event.type == pg.VIDEORESIZE:
            self.size = _clamp_size(event.size)
        elif event.type == pg.KEYDOWN and event.key in (pg.K_ESCAPE, pg.K_q):
            self.running = False

    def update(self, seconds: float) -> None:
        """Advance the app by ``seconds`` of wall time."""

    def draw(self):
        """Draw the current frame and return it (a pygame Surface of ``self.size``)."""
        canvas = self.canvas()
        canvas.fill((0, 0, 0))
        return canvas

    # -- the loop
    def canvas(self):
        """The surface frames are drawn on, remade when the size changes."""
        if self._canvas is None or self._canvas.get_size() != self.size:
            self._canvas = pygame_module().Surface(self.size)
        return self._canvas

    def run(self, max_frames: int | None = None, pace: bool = True) -> int:
        """Show frames until the window closes (or ``max_frames`` were shown); return how many were shown.

        ``pace`` waits to show ``FPS`` frames a second; without it frames follow
        as fast as they are drawn (the world still moves ``1 / FPS`` s per frame).
        """
        pg = pygame_module()
        if self._window is None:
            pg.display.set_caption(self.title)
            self._window = pg.display.set_mode(self.size, pg.RESIZABLE)
        clock = pg.time.Clock()
        shown = 0
        while self.running and (max_frames is None or shown < max_frames):
            for event in pg.event.get():
                self.handle_event(event)
            if not self.running:
                break
            self.update(1.0 / FPS)
            frame = self.draw()
            self._present(frame)
            self.frames += 1
            shown += 1
            if pace:
                clock.tick(FPS)
        return shown

    def _present(self, frame) -> None:
        pg = pygame_module()
        window = pg.display.get_surface()
        if window is None:
            return
        if window.get_size() != self.size:
            window = self._window = pg.display.set_mode(self.size, pg.RESIZABLE)
        window.blit(frame, (0, 0))
        pg.display.flip()

    def record_frame(self) -> None:
        """Send the current frame to the recording, if there is one."""
        if self.recorder is not None:
            self.recorder.add(self.draw())

    def close(self) -> None:
        """Finish the recording and close the window."""
        recorder, self.recorder = self.recorder, None
        try:
            if recorder is not None:
                recorder.close()
        finally:
            if self._window is not None:
                pygame_module().display.quit()
                self._window = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _clamp_size(size) -> tuple[int, int]:
    w, h = (int(v) for v in size)
    return max(w, MIN_SIZE[0]), max(h, MIN_SIZE[1])


# ------------------------------------------------------------------------ tracks
class Track:
    """What one car did, step by step: position, heading, steering, speed, cte and progress.

    A live run appends to it; a replay reads a saved one. Row ``t`` is the state
    after ``t`` steps.
    """

    COLUMNS = ("x", "y", "heading", "steer", "speed", "cte", "progress_m")

    def __init__(self, rows: np.ndarray | None = None):
        self._rows = np.zeros((256, len(self.COLUMNS))) if rows is None else np.asarray(rows, dtype=np.float64)
        self.n = 0 if rows is None else len(self._rows)

    @classmethod
    def from_columns(cls, **columns: np.ndarray) -> "Track":
        return cls(np.column_stack([np.asarray(columns[c], dtype=np.float64) for c in cls.COLUMNS]))

    def append(self, x: float, y: float, heading: float, steer: float, speed: float, cte: float, progress_m: float):
        if self.n == len(self._rows):
            grown = np.zeros((2 * len(self._rows), len(self.COLUMNS)))
            grown[: self.n] = self._rows[: self.n]
            self._rows = grown
        self._rows[self.n] = (x, y, heading, steer, speed, cte, progress_m)
        self.n += 1

    def __len__(self) -> int:
        return self.n

    def row(self, t: int) -> list[float]:
        """The values of :attr:`COLUMNS` after ``t`` steps."""
        return self._rows[t].tolist()

    def row_array(self) -> np.ndarray:
        """``(n, 7)`` a copy of all rows."""
        return self._rows[: self.n].copy()

    def column(self, name: str) -> np.ndarray:
        return self._rows[: self.n, self.COLUMNS.index(name)]

    @property
    def xy(self) -> np.ndarray:
        """``(n, 2)`` rear-axle positions [m]."""
        return self._rows[: self.n, :2]

    @property
    def cte(self) -> np.ndarray:
        return self.column("cte")

    @property
    def progress_m(self) -> np.ndarray:
        return self.column("progress_m")

    def pose(self, t: int, car: CarParams):
        from envs.rendering import CarPose

        x, y, heading, steer = self._rows[t, :4]
        return CarPose(float(x), float(y), float(heading), float(steer), car.length, car.width, car.wheelbase)

    def summary(self, upto: int | None = None) -> dict:
        """mean and max |cte| [m] over steps 1..upto (as the evaluation measures them)."""
        n = self.n if upto is None else upto + 1
        column = self.COLUMNS.index("cte")
        cte = np.abs(self._rows[1:n, column]) if n > 1 else np.abs(self._rows[:n, column])
        if len(cte) == 0:
            return {"mean_abs_cte": 0.0, "max_abs_cte": 0.0}
        return {"mean_abs_cte": float(cte.mean()), "max_abs_cte": float(cte.max())}


# -------------------------------------------------------------------------- runs
class RoadRun:
    """One road driven live: the driver's car and, alongside, the expert's (the ghost).

    Each is a :class:`envs.RoadFollowEnv` on the same road, stepped together one
    step per tick, so the ghost is where the expert is after as many steps. The
    run ends when the driver's episode ends (finished, off road, or
    ``max_steps``, the evaluation's time limit). ``on_step(obs, action, cte, step)``
    is called before each step with what the driver saw and did.
    """

    def __init__(
        self,
        road: Road,
        driver,
        config: RoadFollowConfig,
        ghost_driver=None,
        max_steps: int = MAX_EPISODE_STEPS,
        on_step: Callable | None = None,
        seed: int = 0,
    ):
        from envs import RoadFollowEnv

        self.road = road
        self.driver = driver
        self.config = config
        self.max_steps = max_steps
        self.on_step = on_step
        self.env = RoadFollowEnv(config=config)
        self.obs, info = self.env.reset(seed=seed, options={"road": road})
        self.track = Track()
        _keep(self.track, self.env, info)
        self.ghost: Track | None = None
        self.ghost_done = True
        if ghost_driver is not None:
            self.ghost_driver = ghost_driver
            self.ghost_env = RoadFollowEnv(config=dataclasses.replace(config, observation="features"))
            self.ghost_obs, ginfo = self.ghost_env.reset(seed=seed, options={"road": road})
            self.ghost = Track()
            _keep(self.ghost, self.ghost_env, ginfo)
            self.ghost_done = False
        self.steps = 0
        self.outcome: str | None = None

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def tick(self) -> None:
        """One env step for the car and the ghost (nothing once the run is done)."""
        if self.done:
            return
        action = np.asarray(self.driver.act(self.obs[None], self.env.fleet), dtype=np.float64).reshape(-1)
        action = action[: self.config.action_size]
        if self.on_step is not None:
            self.on_step(self.obs, action, float(self.env.fleet.cte[0]), self.steps)
        self.obs, _, terminated, _, info = self.env.step(action)
        self.steps += 1
        _keep(self.track, self.env, info)
        if terminated:
            self.outcome = "finished" if info["finished"] else "off road"
        elif self.steps >= self.max_steps:
            self.outcome = "time limit"
        if not self.ghost_done:
            ghost_action = self.ghost_driver.act(self.ghost_obs[None], self.ghost_env.fleet).reshape(-1)[:1]
            self.ghost_obs, _, ghost_terminated, _, ginfo = self.ghost_env.step(ghost_action)
            _keep(self.ghost, self.ghost_env, ginfo)
            self.ghost_done = bool(ghost_terminated)


def _keep(track: Track, env, info: dict) -> None:
    x, y, heading, speed, steer = env.car_state.tolist()
    track.append(x, y, heading, steer, speed, float(info["cte"]), float(info["progress_m"]))


class RoadList:
    """The roads a panel drives, one after the other: road ``i`` of a split (as
    ``roadschool evaluate`` numbers them), or of a roads file (going round)."""

    def __init__(
        self,
        roads: list[Road] | None = None,
        split: str = "train",
        families: tuple[str, ...] = DEFAULT_FAMILIES,
        first: int = 0,
    ):
        if roads is not None and not roads:
            raise ValueError("no roads to drive")
        self.roads = roads
        self.split = split
        self.families = tuple(families) or DEFAULT_FAMILIES
        self.first = first

    def index(self, i: int) -> int:
        """``i`` moved into range: a file's roads go round, a split's start at 0."""
        return i % len(self.roads) if self.roads is not None else max(0, i)

    def __getitem__(self, i: int) -> Road:
        i = self.index(i)
        if self.roads is not None:
            return self.roads[i]
        return generate_road(self.split, self.families[i % len(self.families)], self.first + i)

    def label(self, i: int) -> str:
        i = self.index(i)
        name = self[i].name
        return f"{name} ({i + 1}/{len(self.roads)})" if self.roads is not None else name


# -------------------------------------------------------------------------- view
@dataclass
class ViewOptions:
    """What the panels show (changed by keys)."""

    camera: str = "follow"
    show_ghost: bool = True
    show_trail: bool = True
    pixels_per_metre: float = 8.0


class LivePlot:
    """A small plot of cross-track error [m] over distance along the road [m].

    The car's line has the trail's colours (green at the centre to red at the
    edge), the expert's is the ghost's light blue; dashed lines mark the road
    edges. Lines are drawn incrementally, so a frame costs two blits.
    """

    def __init__(self):
        self._key = None
        self._background = None
        self._layer = None
        self._drawn = {"car": 0, "ghost": 0}
        self._map = None

    def draw(self, surface, rect, road: Road, track: Track, t: int, ghost: Track | None, ghost_t: int) -> None:
        pg = pygame_module()
        same = self._key is not None and self._key[0] == tuple(rect.size)
        same = same and all(a is b for a, b in zip(self._key[1:], (road, track, ghost)))
        rewound = t + 1 < self._drawn["car"] or (ghost is not None and ghost_t + 1 < self._drawn["ghost"])
        if not same or rewound:
            self._start(rect.size, road, ghost is not None)
            self._key = (tuple(rect.size), road, track, ghost)
        if ghost is not None:
            self._extend("ghost", ghost, ghost_t, road.half_width)
        self._extend("car", track, t, road.half_width)
        surface.blit(self._background, rect.topleft)
        surface.blit(self._layer, rect.topleft)
        px, py = self._to_px(track.progress_m[t : t + 1], track.cte[t : t + 1])
        pg.draw.circle(surface, PLOT_EDGE, (rect.x + int(px[0]), rect.y + int(py[0])), 3)

    def _start(self, size: tuple[int, int], road: Road, with_ghost: bool) -> None:
        from envs import rendering

        pg = pygame_module()
        w, h = size
        small = font(12)
        line_h = small.get_linesize()
        bg = pg.Surface(size, pg.SRCALPHA)
        bg.fill(rendering.HUD_PANEL_RGBA)
        ymax = math.ceil(road.half_width + 1.0)
        left = PADDING + small.size(f"{-road.half_width:+.1f}")[0] + 4
        right = w - PADDING - 4
        top = PADDING + line_h + 4
        bottom = h - PADDING - line_h - 2
        self._map = (left, right, top, bottom, max(road.length, 1e-6), ymax)
        # legend (right): the car in the trail's colours, the expert in the ghost's
        x = w - PADDING
        legend = [("car", rendering.TRAIL_PALETTE[::5])]
        if with_ghost:
            legend.insert(0, ("expert", [rendering.GHOST_COLOUR]))
        for label, colours in legend:
            text = small.render(label, True, rendering.HUD_TEXT_COLOUR)
            x -= text.get_width()
            bg.blit(text, (x, PADDING))
            x -= 4 + 6 * len(colours)
            for i, c in enumerate(colours):
                pg.draw.line(bg, c, (x + 6 * i, PADDING + line_h // 2), (x + 6 * i + 5, PADDING + line_h // 2), 3)
            x -= 10
        for text in ("cross-track error [m] over distance", "cte [m] over distance", "cte [m]"):
            if small.size(text)[0] <= x - PADDING:
                bg.blit(small.render(text, True, rendering.HUD_TEXT_COLOUR), (PADDING, PADDING))
                break
        # axes: zero line, dashed road edges with their values, distance labels
        _, y0 = self._to_px(np.zeros(1), np.zeros(1))
        pg.draw.line(bg, PLOT_AXIS, (left, int(y0[0])), (right, int(y0[0])), 1)
        for edge in (road.half_width, -road.half_width):
            _, ye = self._to_px(np.zeros(1), np.array([edge]))
            ye = int(ye[0])
            for xd in range(left, right, 8):
                pg.draw.line(bg, PLOT_EDGE, (xd, ye), (min(xd + 4, right), ye), 1)
            label = small.render(f"{edge:+.1f}", True, PLOT_EDGE)
            bg.blit(label, (left - 4 - label.get_width(), ye - label.get_height() // 2))
        zero = small.render("0", True, PLOT_AXIS)
        bg.blit(zero, (left - 4 - zero.get_width(), int(y0[0]) - zero.get_height() // 2))
        pg.draw.line(bg, PLOT_AXIS, (left, top), (left, bottom), 1)
        start = small.render("0 m", True, PLOT_AXIS)
        end = small.render(f"{road.length:.0f} m", True, PLOT_AXIS)
        bg.blit(start, (left, bottom + 2))
        bg.blit(end, (right - end.get_width(), bottom + 2))
        self._background = bg
        self._layer = pg.Surface(size, pg.SRCALPHA)
        self._drawn = {"car": 0, "ghost": 0}

    def _to_px(self, distance: np.ndarray, cte: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        left, right, top, bottom, length, ymax = self._map
        px = left + np.clip(distance / length, 0.0, 1.0) * (right - left)
        mid = 0.5 * (top + bottom)
        py = mid - np.clip(cte / ymax, -1.0, 1.0) * 0.5 * (bottom - top)
        return px, py

    def _extend(self, which: str, track: Track, t: int, half_width: float) -> None:
        from envs import rendering

        pg = pygame_module()
        start = max(self._drawn[which] - 1, 0)
        if t <= start:
            self._drawn[which] = max(self._drawn[which], t + 1)
            return
        px, py = self._to_px(track.progress_m[start : t + 1], track.cte[start : t + 1])
        pts = np.column_stack([px, py]).tolist()
        if which == "ghost":
            pg.draw.lines(self._layer, rendering.GHOST_COLOUR, False, pts, 1)
        else:
            ratio = np.abs(track.cte[start : t + 1]) / max(half_width, 1e-9)
            seg = 0.5 * (ratio[:-1] + ratio[1:])
            top = rendering.TRAIL_COLOUR_BINS - 1
            bins = np.minimum(np.rint(seg * top).astype(int), top)
            cuts = [0, *(np.flatnonzero(np.diff(bins)) + 1).tolist(), len(bins)]
            for a, b in zip(cuts[:-1], cuts[1:]):
                pg.draw.lines(self._layer, rendering.TRAIL_PALETTE[int(bins[a])], False, pts[a : b + 1], 2)
        self._drawn[which] = t + 1


class PanelPainter:
    """Draws one panel: the road with the car, trail, ghost and HUD (by ``RoadRenderer``),
    then the live plot, and a banner when the road is done."""

    def __init__(self):
        from envs.rendering import RoadRenderer

        self.renderer = RoadRenderer()
        self.plot = LivePlot()
        self.plot_rect = None  # where the plot was drawn in the last frame (None: not shown)

    def paint(
        self,
        surface,
        road: Road,
        car: CarParams,
        track: Track,
        t: int,
        ghost: Track | None,
        hud: dict[str, str],
        options: ViewOptions,
        banner: tuple[str, tuple[int, int, int]] | None = None,
        show_plot: bool = True,
    ) -> None:
        pg = pygame_module()
        self.renderer.camera = options.camera
        self.renderer.pixels_per_metre = options.pixels_per_metre
        ghost_t = min(t, len(ghost) - 1) if ghost is not None else -1
        ghost_pose = ghost.pose(ghost_t, car) if ghost is not None and options.show_ghost else None
        if options.show_trail:
            trail_xy, trail_cte = track.xy[: t + 1], np.abs(track.cte[: t + 1])
        else:
            trail_xy, trail_cte = np.zeros((0, 2)), np.zeros(0)
        w, h = surface.get_size()
        hud = fitting_hud(hud, w, h)
        hud_w, hud_h = hud_size(hud)
        pose = track.pose(t, car)
        self.renderer.render_onto(surface, road, pose, trail_xy, trail_cte, hud, ghost_pose)
        self.plot_rect = None
        if show_plot:
            pw, ph = min(440, max(220, int(0.36 * w))), min(170, max(104, int(0.24 * h)))
            clear_of_car = ph + PADDING <= h // 2 - CAR_ROOM_PX or pw + PADDING <= w // 2 - CAR_ROOM_PX
            if h >= hud_h + ph + 3 * PADDING and w >= pw + 150 and clear_of_car:
                rect = self.plot_rect = pg.Rect(PADDING, h - ph - PADDING, pw, ph)
                self.plot.draw(surface, rect, road, track, t, ghost if options.show_ghost else None, ghost_t)
        if banner is not None:
            car_px = self.renderer.world_to_screen(pose.body_centre)
            draw_banner(surface, banner[0], banner[1], (hud_w, hud_h), tuple(car_px.tolist()))


# what a HUD keeps when the panel is too small for all of it
COMPACT_HUDS = (("road", "cte", "mean |cte|", "progress", "expert cte"), ("cte", "progress"), ("cte",))
CAR_ROOM_PX = 28  # [px] kept free above the middle of a panel, where the follow camera puts the car


def fitting_hud(hud: dict[str, str], width: int, height: int) -> dict[str, str]:
    """``hud`` with its values lined up, cut down to fewer lines (or none) if it would not fit
    a panel of this size above the car, which the follow camera keeps in the middle."""
    for keep in (tuple(hud), *COMPACT_HUDS):
        lines = aligned({k: hud[k] for k in keep if k in hud})
        w, h = hud_size(lines)
        if w <= width - PADDING and h <= height // 2 - CAR_ROOM_PX:
            return lines
    return {}


def aligned(hud: dict[str, str]) -> dict[str, str]:
    """HUD lines with their values lined up (the renderer writes ``label: value``)."""
    width = max((len(k) for k in hud), default=0)
    return {k: " " * (width - len(k)) + v for k, v in hud.items()}


def hud_size(hud: dict[str, str]) -> tuple[int, int]:
    """Size [px] of the renderer's HUD panel for these lines, with its margin."""
    if not hud:
        return 0, 0
    f = font(14)
    w = max(f.size(f"{k}: {v}")[0] for k, v in hud.items()) + 2 * PADDING
    return w + PADDING, f.get_linesize() * len(hud) + 3 * PADDING


def draw_banner(surface, text: str, colour: tuple[int, int, int], hud: tuple[int, int], avoid=None) -> None:
    """A coloured box with ``text``: top right of the panel, clear of the HUD (of size ``hud``)
    and, where it can be, of the point ``avoid`` (the car, in pixels)."""
    pg = pygame_module()
    label = font(18, mono=False, bold=True).render(text, True, (255, 255, 255))
    w, h = label.get_width() + 4 * PADDING, label.get_height() + 2 * PADDING
    sw, sh = surface.get_size()
    places = [
        (sw - w - PADDING, PADDING),  # top right
        (PADDING, hud[1] + PADDING),  # under the HUD
        (max(hud[0] + PADDING, (sw - w) // 2), sh // 2 + 40),  # under the middle
    ]
    fits = [(x, y) for x, y in places if x >= PADDING and (x >= hud[0] + PADDING or y >= hud[1] + PADDING)] or places
    box = pg.Rect(*fits[0], w, h)
    if avoid is not None:
        for x, y in fits:
            if not pg.Rect(x, y, w, h).inflate(40, 40).collidepoint(avoid):
                box = pg.Rect(x, y, w, h)
                break
    pg.draw.rect(surface, colour, box, border_radius=6)
    pg.draw.rect(surface, (255, 255, 255), box, 2, border_radius=6)
    surface.blit(label, (box.x + 2 * PADDING, box.y + PADDING))


def draw_status_bar(surface, rect, hints: list[str], right: list[tuple[str, tuple[int, int, int]]]) -> None:
    """The bar under the panels: key hints on the left (as many as fit), state on the right."""
    pg = pygame_module()
    f = font(13)
    surface.fill(STATUS_BG, rect)
    x = rect.right - PADDING
    cy = rect.centery
    for text, colour in reversed(right):
        label = f.render(text, True, colour)
        x -= label.get_width()
        surface.blit(label, (x, cy - label.get_height() // 2))
        x -= 3 * PADDING
    room = x - rect.x - PADDING
    shown = ""
    for hint in hints:
        candidate = f"{shown}   {hint}" if shown else hint
        if f.size(candidate)[0] > room:
            break
        shown = candidate
    if shown:
        label = f.render(shown, True, STATUS_DIM)
        surface.blit(label, (rect.x + PADDING, cy - label.get_height() // 2))
    pg.draw.line(surface, DIVIDER, rect.topleft, (rect.right, rect.top))


def draw_help(surface, title: str, keys: list[tuple[str, str]]) -> None:
    """A centred box listing keys and what they do."""
    pg = pygame_module()
    f, head = font(14), font(18, mono=False, bold=True)
    key_w = max(f.size(k)[0] for k, _ in keys)
    text_w = max(f.size(d)[0] for _, d in keys)
    line_h = f.get_linesize() + 2
    w = key_w + text_w + 6 * PADDING
    h = head.get_linesize() + line_h * len(keys) + 5 * PADDING
    sw, sh = surface.get_size()
    box = pg.Rect(max(0, (sw - w) // 2), max(0, (sh - h) // 2), w, h)
    panel = pg.Surface(box.size, pg.SRCALPHA)
    panel.fill((10, 12, 16, 225))
    surface.blit(panel, box.topleft)
    pg.draw.rect(surface, STATUS_DIM, box, 1)
    surface.blit(head.render(title, True, (255, 255, 255)), (box.x + 2 * PADDING, box.y + 2 * PADDING))
    y = box.y + 3 * PADDING + head.get_linesize()
    for k, d in keys:
        surface.blit(f.render(k, True, PAUSED_YELLOW), (box.x + 2 * PADDING, y))
        surface.blit(f.render(d, True, (235, 235, 235)), (box.x + 4 * PADDING + key_w, y))
        y += line_h


def outcome_banner(outcome: str | None, run_track: Track, dt: float) -> tuple[str, tuple[int, int, int]] | None:
    if outcome is None:
        return None
    t = len(run_track) - 1
    if outcome == "finished":
        text = f"FINISHED in {t * dt:.1f} s, mean |cte| {run_track.summary()['mean_abs_cte']:.2f} m"
    elif outcome == "off road":
        text = f"OFF ROAD after {run_track.progress_m[-1]:.0f} m"
    else:
        text = f"TIME LIMIT after {t * dt:.0f} s"
    return text, OUTCOME_COLOURS[outcome]


def car_hud(track: Track, t: int, dt: float, road: Road) -> dict[str, str]:
    """The live metrics of a car at step ``t``."""
    row = dict(zip(Track.COLUMNS, track.row(t)))
    stats = track.summary(t)
    return {
        "time": f"{t * dt:6.1f} s",
        "speed": f"{row['speed']:6.2f} m/s",
        "steer": f"{math.degrees(row['steer']):+6.1f} deg",
        "cte": f"{row['cte']:+6.2f} m",
        "mean |cte|": f"{stats['mean_abs_cte']:6.2f} m",
        "max |cte|": f"{stats['max_abs_cte']:6.2f} m",
        "progress": f"{100 * min(max(row['progress_m'], 0.0) / road.length, 1.0):6.1f} %",
    }


# ------------------------------------------------------------------ live panels
class DrivePanel:
    """One panel of a driving window: a list of roads, the run on the current one,
    and a record of how the roads so far went. A finished road stays on screen for
    ``HOLD_SECONDS``, then the next one starts; with ``lead_seconds`` each road
    waits that long (counting down) before the car moves."""

    def __init__(
        self,
        roads: RoadList,
        start_run: Callable[[Road], RoadRun],
        dt: float,
        first: int = 0,
        lead_seconds: float = 0.0,
    ):
        self.roads = roads
        self.start_run = start_run
        self.dt = dt
        self.hold_ticks = max(1, int(round(HOLD_SECONDS / dt)))
        self.lead_ticks = int(round(lead_seconds / dt))
        self.lead = self.lead_ticks
        self.painter = PanelPainter()
        self.results: list[str] = []  # outcome of each road driven to its end
        self.completed = 0  # roads left after their hold (not skipped by a key)
        self.index = roads.index(first)
        self.run = start_run(roads[self.index])
        self._held = 0

    def goto(self, index: int) -> None:
        self.index = self.roads.index(index)
        self.run = self.start_run(self.roads[self.index])
        self._held = 0
        self.lead = self.lead_ticks

    def restart(self) -> None:
        self.goto(self.index)

    def tick(self) -> None:
        if self.lead > 0:
            self.lead -= 1
            return
        if self.run.done:
            self._held += 1
            if self._held >= self.hold_ticks:
                self.completed += 1
                self.goto(self.index + 1)
            return
        self.run.tick()
        if self.run.done:
            self.results.append(self.run.outcome)

    def hud(self, driver_label: str) -> dict[str, str]:
        run = self.run
        t = len(run.track) - 1
        hud = {"road": self.roads.label(self.index), "driver": driver_label}
        hud.update(car_hud(run.track, t, self.dt, run.road))
        if run.ghost is not None:
            g = min(t, len(run.ghost) - 1)
            hud["expert cte"] = f"{run.ghost.cte[g]:+6.2f} m"
        if self.results:
            done = sum(r == "finished" for r in self.results)
            hud["roads"] = f"{done}/{len(self.results)} finished"
        return hud

    def draw(self, surface, options: ViewOptions, driver_label: str, car: CarParams, extra_hud=None) -> None:
        run = self.run
        hud = self.hud(driver_label)
        if extra_hud:
            hud.update(extra_hud)
        banner = outcome_banner(run.outcome, run.track, self.dt)
        if self.lead > 0:
            banner = (f"get ready ... {math.ceil(self.lead * self.dt)}", READY_BLUE)
        self.painter.paint(surface, run.road, car, run.track, len(run.track) - 1, run.ghost, hud, options, banner)


@dataclass(frozen=True)
class Key:
    """A key binding: the keys, the name shown in help, what it does, the app method it calls."""

    keys: tuple[str, ...]
    shown: str
    does: str
    method: str


DRIVING_KEYS = (
    Key(("space",), "space", "pause / go on", "toggle_pause"),
    Key((".", "s"), ". or s", "one step (pauses)", "step_once"),
    Key(("right", "n"), "right or n", "next road", "next_road"),
    Key(("left", "p"), "left or p", "previous road", "previous_road"),
    Key(("r",), "r", "restart the road", "restart"),
    Key(("g",), "g", "ghost (the expert) on / off", "toggle_ghost"),
    Key(("t",), "t", "trail on / off", "toggle_trail"),
    Key(("c",), "c", "camera: follow the car / whole road", "toggle_camera"),
    Key(("=", "+", "[+]"), "+", "time faster (x2)", "faster"),
    Key(("-", "[-]"), "-", "time slower (/2)", "slower"),
    Key(("v",), "v", "split view: a train and an unseen road", "toggle_split"),
    Key(("h", "f1"), "h", "this help", "toggle_help"),
)
QUIT_HELP = [("mouse wheel", "zoom (follow camera)"), ("q or esc", "quit")]


def key_name(event) -> str:
    """pygame's name of the pressed key (``"space"``, ``"left"``, ``"a"``, ``"[+]"`` ...)."""
    return pygame_module().key.name(event.key)


def nearest_speed(speed: float) -> float:
    """The time speed of ``TIME_SPEEDS`` closest to ``speed``."""
    if not (speed > 0 and math.isfinite(speed)):
        raise ValueError(f"time speed must be a positive number, got {speed}")
    return min(TIME_SPEEDS, key=lambda s: abs(math.log(s / speed)))


def speed_text(speed: float) -> str:
    return f"{speed:g}" if speed >= 1 else f"1/{round(1 / speed)}"


class ViewerApp(App):
    """An app that plays something in ticks of ``dt`` seconds, with a table of keys,
    view options, a time speed, pause, zoom, help and an optional recording.

    Subclasses define ``keys`` (each names a method), :meth:`tick` and :meth:`draw_panels`.
    """

    keys: tuple[Key, ...] = ()
    help_title = "roadschool"

    def __init__(self, dt: float, size: tuple[int, int] = DEFAULT_SIZE, camera: str = "follow", speed: float = 1.0):
        super().__init__(size)
        if not (dt > 0 and math.isfinite(dt)):
            raise ValueError(f"dt must be a positive number of seconds, got {dt}")
        self.dt = float(dt)
        self.options = ViewOptions(camera=camera)
        self.speed = nearest_speed(speed)
        self.paused = False
        self.show_help = False
        self.ticks = 0
        self._time = 0.0
        self._bindings = {name: k.method for k in self.keys for name in k.keys}

    def start_recording(self, path) -> None:
        """Record from now on: this frame, then one frame per tick, ``dt`` seconds each."""
        from sims.recording import FrameRecorder

        self.recorder = FrameRecorder(path, self.size, self.dt)

    # -- keys
    def handle_event(self, event) -> None:
        pg = pygame_module()
        super().handle_event(event)
        if event.type == pg.KEYDOWN:
            method = self._bindings.get(key_name(event))
            if method is not None:
                getattr(self, method)()
        elif event.type == pg.MOUSEWHEEL and event.y:
            self.zoom(ZOOM_STEP ** (1 if event.y > 0 else -1))

    def toggle_pause(self) -> None:
        self.paused = not self.paused

    def step_once(self) -> None:
        self.paused = True
        self.tick_and_record()

    def toggle_ghost(self) -> None:
        self.options.show_ghost = not self.options.show_ghost

    def toggle_trail(self) -> None:
        self.options.show_trail = not self.options.show_trail

    def toggle_camera(self) -> None:
        self.options.camera = "road" if self.options.camera == "follow" else "follow"

    def faster(self) -> None:
        self.speed = TIME_SPEEDS[min(TIME_SPEEDS.index(self.speed) + 1, len(TIME_SPEEDS) - 1)]

    def slower(self) -> None:
        self.speed = TIME_SPEEDS[max(TIME_SPEEDS.index(self.speed) - 1, 0)]

    def toggle_help(self) -> None:
        self.show_help = not self.show_help

    def zoom(self, factor: float) -> None:
        lo, hi = ZOOM_RANGE
        self.options.pixels_per_metre = min(max(self.options.pixels_per_metre * factor, lo), hi)

    # -- time
    def update(self, seconds: float) -> None:
        """Run as many ticks as ``seconds`` times the time speed holds (none while paused)."""
        if self.recorder is not None and self.recorder.frames == 0:
            self.record_frame()  # the first frame: where everything starts
        if self.paused:
            return
        self._time += seconds * self.speed
        ticks = 0
        while self._time >= self.dt * (1 - 1e-9) and ticks < MAX_TICKS_PER_FRAME and self.running:
            self.tick_and_record()
            self._time -= self.dt
            ticks += 1
        if ticks == MAX_TICKS_PER_FRAME:
            self._time = 0.0

    def tick_and_record(self) -> None:
        self.tick()
        self.ticks += 1
        self.record_frame()

    def tick(self) -> None:
        """Advance by one time step ``dt``."""

    # -- drawing
    def draw(self):
        pg = pygame_module()
        canvas = self.canvas()
        w, h = self.size
        self.draw_panels(canvas, pg.Rect(0, 0, w, h - STATUS_BAR_PX))
        draw_status_bar(canvas, pg.Rect(0, h - STATUS_BAR_PX, w, STATUS_BAR_PX), self.hints(), self.state_labels())
        if self.show_help:
            draw_help(canvas, self.help_title, self.help_lines())
        return canvas

    def draw_panels(self, canvas, rect) -> None:
        """Draw everything above the status bar into ``rect`` of ``canvas``."""

    def help_lines(self) -> list[tuple[str, str]]:
        return [(k.shown, k.does) for k in self.keys] + QUIT_HELP

    def hints(self) -> list[str]:
        return []

    def state_labels(self) -> list[tuple[str, tuple[int, int, int]]]:
        out = []
        if self.paused:
            out.append(("PAUSED", PAUSED_YELLOW))
        out.append((f"time x{speed_text(self.speed)}", STATUS_TEXT))
        out.append((f"{self.options.camera} camera", STATUS_TEXT))
        if self.recorder is not None:
            out.append((f"REC {self.recorder.frames} frames", RECORD_RED))
        return out


class DrivingApp(ViewerApp):
    """Panels of cars driving roads live; the base of watch and play."""

    keys = DRIVING_KEYS

    def __init__(
        self,
        panels: list[DrivePanel],
        dt: float,
        car: CarParams = CarParams(),
        size: tuple[int, int] = DEFAULT_SIZE,
        camera: str = "follow",
        speed: float = 1.0,
        max_roads: int | None = None,
    ):
        super().__init__(dt, size, camera, speed)
        if not panels:
            raise ValueError("a driving window needs at least one panel")
        self.panels = panels
        self.car = car
        self.max_roads = max_roads

    def next_road(self) -> None:
        for p in self.panels:
            p.goto(p.index + 1)

    def previous_road(self) -> None:
        for p in self.panels:
            p.goto(p.index - 1)

    def restart(self) -> None:
        for p in self.panels:
            p.restart()

    def toggle_split(self) -> None:
        pass  # only watch has a split view

    def tick(self) -> None:
        """One env step in every panel."""
        for p in self.panels:
            p.tick()
        if self.max_roads is not None and all(p.completed >= self.max_roads for p in self.panels):
            self.running = False

    # -- drawing
    def driver_label(self) -> str:
        return "driver"

    def panel_rects(self, area) -> list:
        pg = pygame_module()
        if len(self.panels) == 1:
            return [pg.Rect(area)]
        half = (area.width - PANEL_GAP_PX) // 2
        return [pg.Rect(area.x, area.y, half, area.height), pg.Rect(area.right - half, area.y, half, area.height)]

    def draw_panels(self, canvas, rect) -> None:
        pg = pygame_module()
        rects = self.panel_rects(rect)
        if len(rects) > 1:
            canvas.fill(DIVIDER, pg.Rect(rects[0].right, rect.y, rects[1].left - rects[0].right, rect.height))
        for panel, r in zip(self.panels, rects):
            surface = canvas.subsurface(r)
            panel.draw(surface, self.options, self.driver_label(), self.car, self.extra_hud(panel))
            self.draw_panel_extras(surface, panel)

    def extra_hud(self, panel: DrivePanel) -> dict[str, str]:
        return {}

    def draw_panel_extras(self, surface, panel: DrivePanel) -> None:
        pass

    def hints(self) -> list[str]:
        return ["h help", "space pause", "right/left road", "+/- time", "g ghost", "t trail", "c camera", "q quit"]


# ------------------------------------------------------------------------- watch
class WatchApp(DrivingApp):
    """``roadschool watch``: the learned car (or the expert) drives road after road.

    Args:
        driver: who drives (a :class:`agents.drivers.Driver`).
        driver_label: how the HUD names it.
        env_config: the world (``agents.evaluation.env_config_for`` the policy's observation).
        roads: the roads of the single view.
        split_roads: the train and unseen roads of the split view.
        split_view: start in the split view.
        ghost: drive the expert alongside as a ghost.
        record: write what is shown to this ``.gif`` / ``.mp4``.
    """

    title = "roadschool watch"
    help_title = "roadschool watch"

    def __init__(
        self,
        driver,
        env_config: RoadFollowConfig,
        roads: RoadList,
        split_roads: tuple[RoadList, RoadList] | None = None,
        split_view: bool = False,
        driver_label: str = "learner",
        ghost: bool = True,
        size: tuple[int, int] = DEFAULT_SIZE,
        camera: str = "follow",
        speed: float = 1.0,
        max_roads: int | None = None,
        record=None,
        max_steps: int = MAX_EPISODE_STEPS,
    ):
        from agents.drivers import ExpertDriver

        self.driver = driver
        self.env_config = env_config
        self.label = driver_label
        self.max_steps = max_steps
        self._ghost = ExpertDriver() if ghost else None
        self.single = [self._panel(roads)]
        self.split_roads = split_roads
        self.split = None
        super().__init__(self.single, env_config.dt, env_config.car, size, camera, speed, max_roads)
        if split_view:
            self.toggle_split()
        if record is not None:
            self.start_recording(record)

    def _panel(self, roads: RoadList, first: int = 0) -> DrivePanel:
        def start(road: Road) -> RoadRun:
            return RoadRun(road, self.driver, self.env_config, self._ghost, self.max_steps)

        return DrivePanel(roads, start, self.env_config.dt, first)

    def toggle_split(self) -> None:
        if self.split_roads is None:
            return
        if self.panels is self.split:
            self.panels = self.single
        else:
            if self.split is None:
                index = self.single[0].index
                self.split = [self._panel(r, index) for r in self.split_roads]
            self.panels = self.split

    def driver_label(self) -> str:
        return self.label

    def hints(self) -> list[str]:
        hints = super().hints()
        if self.split_roads is not None:
            hints.insert(-1, "v split view")
        return hints
