"""``roadschool draw``: draw a road with the mouse, save it, and send a car down it.

Click to place points or hold the button and drag; the road runs smoothly
through them (a centripetal Catmull-Rom spline, which never loops or overshoots
between points), resampled every 0.5 m as every road is. ``s`` saves it to a
roads JSON file (``envs.save_roads``; the file's other roads are kept, and a
road of the same name is replaced); Enter sends the learned car down it at
once (the expert without ``--policy``), ``e`` sends the expert, and Esc comes
back to drawing. Closing the window saves unsaved changes.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pygame

from agents.drivers import ExpertDriver
from agents.evaluation import env_config_for
from envs import rendering
from envs.rendering import GRASS_COLOUR, RoadRenderer
from envs.road import Road, RoadError, load_roads, save_roads
from sims.windows.app import DEFAULT_SIZE, STATUS_BAR_PX, App
from sims.windows.driving import RoadList
from sims.windows.keys import BACK_TO_DRAWING, DRAW_KEYS, TRIAL_KEYS, help_lines, hints, key_name
from sims.windows.panels import STATUS_TEXT, aligned, draw_help, draw_status_bar
from sims.windows.watch import WatchApp

DEFAULT_WIDTH = 7.0  # [m]
WIDTH_STEP = 0.5  # [m]
WIDTH_RANGE = (3.0, 30.0)  # [m]
DRAW_SCALE = 3.0  # [px/m] at the start: the window spans about 420 m x 230 m
SCALE_RANGE = (0.5, 40.0)  # [px/m]
DRAG_SPACING_PX = 24  # a drag adds a point every this many pixels (smooths a shaky hand)
SPLINE_STEP = 0.5  # [m] the spline is sampled this finely before the road resamples it
GRID_METRES = 10.0  # [m] a faint grid line every this many metres (every 5th stronger)
PAN_FRACTION = 0.125  # an arrow key moves the view by this fraction of the window
MESSAGE_FRAMES = 180  # a status message shows this many frames (3 s)
POINT_COLOUR = (255, 255, 255)
POINT_OUTLINE = (20, 20, 20)
START_COLOUR = (40, 215, 70)
PREVIEW_COLOUR = (255, 255, 255)


class RoadTrialApp(WatchApp):
    """The car (and the expert's ghost) going down the drawn road, round and round."""

    keys = TRIAL_KEYS


def smooth_centreline(points, closed: bool, step: float = SPLINE_STEP) -> np.ndarray:
    """``(m, 2)`` points every ~``step`` metres along a centripetal Catmull-Rom spline
    through ``points`` ``(n, 2)`` [m] (a closed one joins the last point to the first)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) > 1:
        keep = np.concatenate([[True], np.hypot(*np.diff(p, axis=0).T) > 1e-6])
        p = p[keep]
    if len(p) < 3:
        return p
    if closed:
        ext = np.vstack([p[-1:], p, p[:2]])
    else:
        ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    out = []
    for i in range(len(ext) - 3):
        p0, p1, p2, p3 = ext[i : i + 4]
        t1 = max(float(np.hypot(*(p1 - p0))) ** 0.5, 1e-6)
        t2 = t1 + max(float(np.hypot(*(p2 - p1))) ** 0.5, 1e-6)
        t3 = t2 + max(float(np.hypot(*(p3 - p2))) ** 0.5, 1e-6)
        n = max(2, math.ceil(float(np.hypot(*(p2 - p1))) / step))
        t = np.linspace(t1, t2, n, endpoint=False)[:, None]
        a1 = ((t1 - t) * p0 + t * p1) / t1
        a2 = ((t2 - t) * p1 + (t - t1) * p2) / (t2 - t1)
        a3 = ((t3 - t) * p2 + (t - t2) * p3) / (t3 - t2)
        b1 = ((t2 - t) * a1 + t * a2) / t2
        b2 = ((t3 - t) * a2 + (t - t1) * a3) / (t3 - t1)
        out.append(((t2 - t) * b1 + (t - t1) * b2) / (t2 - t1))
    if not closed:
        out.append(p[-1:])
    return np.vstack(out)


class DrawApp(App):
    """``roadschool draw``: place points with the mouse, see the road, save it, drive it.

    Args:
        out: the roads JSON file to save to.
        driver: who Enter sends down the road (``None``: the expert).
        observation: the observation type ``driver`` reads.
        driver_label: how the HUD names ``driver``.
        width: starting road width [m].
        name: the road's name (default ``drawn/<k>``, the first name the file does not have).
    """

    title = "roadschool draw"
    keys = DRAW_KEYS

    def __init__(
        self,
        out,
        driver=None,
        observation: str = "features",
        driver_label: str = "learner",
        width: float = DEFAULT_WIDTH,
        name: str | None = None,
        size: tuple[int, int] = DEFAULT_SIZE,
    ):
        super().__init__(size)
        if not (math.isfinite(width) and WIDTH_RANGE[0] <= width <= WIDTH_RANGE[1]):
            raise ValueError(f"width must be between {WIDTH_RANGE[0]} and {WIDTH_RANGE[1]} m, got {width}")
        self.out = Path(out)
        existing = self._existing_roads()
        self.name = name or _free_name({r.name for r in existing})
        self.driver = driver
        self.observation = observation
        self.driver_label = driver_label
        self.points: list[tuple[float, float]] = []
        self.width = float(width)
        self.closed = False
        self.centre = (0.0, 0.0)  # [m] world point at the middle of the view
        self.scale = DRAW_SCALE
        self.show_help = False
        self.saved = True  # nothing to save yet
        self.mouse: tuple[int, int] | None = None
        self.dragging = False
        self.drive: WatchApp | None = None  # the car going down the road (drive mode)
        self.message = ""
        self._message_frames = 0
        self._road_key = None
        self._road: Road | None = None
        self._grid = None
        self.renderer = RoadRenderer(camera="follow", pixels_per_metre=self.scale)

    # -- the road
    def road(self) -> Road | None:
        """The road drawn so far (None with fewer than two points)."""
        key = (tuple(self.points), self.width, self.closed)
        if key != self._road_key:
            self._road_key = key
            self._road, self._road_error = None, ""
            closed = self.closed and len(self.points) >= 3
            line = smooth_centreline(self.points, closed)
            if len(line) >= 2:
                try:
                    self._road = Road.from_points(line, self.width, closed, self.name)
                except RoadError as exc:
                    self._road, self._road_error = None, str(exc)
        return self._road

    def _existing_roads(self) -> list[Road]:
        return load_roads(self.out) if self.out.exists() else []

    # -- view
    def origin(self) -> tuple[int, int]:
        """Top-left pixel of the view in global pixels, as ``RoadRenderer``'s follow camera places it."""
        w, h = self.size[0], self.size[1] - STATUS_BAR_PX
        cx, cy = self.centre
        return int(round(cx * self.scale - 0.5 * w)), int(round(-cy * self.scale - 0.5 * h))

    def to_world(self, pos) -> tuple[float, float]:
        """The world point [m] at the centre of pixel ``pos``."""
        ox, oy = self.origin()
        return ((pos[0] + 0.5 + ox) / self.scale, -(pos[1] + 0.5 + oy) / self.scale)

    def to_screen(self, xy) -> np.ndarray:
        ox, oy = self.origin()
        xy = np.asarray(xy, dtype=np.float64)
        return xy * np.array([self.scale, -self.scale]) - np.array([ox, oy])

    # -- events
    def handle_event(self, event) -> None:
        if event.type in (pygame.QUIT, pygame.WINDOWCLOSE):
            self.running = False
            return
        if event.type == pygame.VIDEORESIZE:
            super().handle_event(event)
            if self.drive is not None:
                self.drive.handle_event(event)
            return
        if self.drive is not None:
            if event.type == pygame.KEYDOWN and key_name(event) in BACK_TO_DRAWING:
                self.stop_driving()
            else:
                self.drive.handle_event(event)
                self.running = self.drive.running  # q in the trial quits
            return
        if event.type == pygame.KEYDOWN:
            super().handle_event(event)
        elif event.type == pygame.MOUSEBUTTONDOWN:
            if event.button == 1:
                self.add_point(event.pos)
                self.dragging = True
            elif event.button == 3:
                self.undo()
        elif event.type == pygame.MOUSEBUTTONUP and event.button == 1:
            self.dragging = False
        elif event.type == pygame.MOUSEMOTION:
            self.mouse = tuple(event.pos)
            if self.dragging and self.points:
                last = self.to_screen(self.points[-1])
                if math.hypot(event.pos[0] - last[0], event.pos[1] - last[1]) >= DRAG_SPACING_PX:
                    self.add_point(event.pos)
        elif event.type == pygame.WINDOWLEAVE:
            self.mouse = None
        elif event.type == pygame.MOUSEWHEEL and event.y:
            self.scale = min(max(self.scale * 1.25 ** (1 if event.y > 0 else -1), SCALE_RANGE[0]), SCALE_RANGE[1])

    def add_point(self, pos) -> None:
        if pos[1] >= self.size[1] - STATUS_BAR_PX:
            return  # a click on the status bar
        self.points.append(self.to_world(pos))
        self.saved = False

    def undo(self) -> None:
        if self.points:
            self.points.pop()
            self.saved = False

    def clear(self) -> None:
        if self.points:
            self.points.clear()
            self.saved = False

    def narrower(self) -> None:
        self._set_width(self.width - WIDTH_STEP)

    def wider(self) -> None:
        self._set_width(self.width + WIDTH_STEP)

    def _set_width(self, width: float) -> None:
        width = min(max(width, WIDTH_RANGE[0]), WIDTH_RANGE[1])
        if width != self.width:
            self.width = width
            self.saved = False

    def toggle_closed(self) -> None:
        self.closed = not self.closed
        self.saved = False

    def pan(self, dx: float, dy: float) -> None:
        w, h = self.size
        step = PAN_FRACTION * min(w, h) / self.scale
        self.centre = (self.centre[0] + dx * step, self.centre[1] + dy * step)

    def pan_up(self) -> None:
        self.pan(0, 1)

    def pan_down(self) -> None:
        self.pan(0, -1)

    def pan_left(self) -> None:
        self.pan(-1, 0)

    def pan_right(self) -> None:
        self.pan(1, 0)

    def toggle_help(self) -> None:
        self.show_help = not self.show_help

    def say(self, text: str) -> None:
        self.message, self._message_frames = text, MESSAGE_FRAMES

    def save(self) -> Path | None:
        """Write the road into the roads file (keeping the file's other roads); None if there is no road."""
        road = self.road()
        if road is None:
            reason = getattr(self, "_road_error", "")
            self.say(f"not saved: {reason}" if reason else "nothing to save: place at least two points")
            return None
        try:
            roads = self._existing_roads()
        except RoadError as exc:
            self.say(f"not saved: {exc}")
            return None
        names = [r.name for r in roads]
        if road.name in names:
            roads[names.index(road.name)] = road
        else:
            roads.append(road)
        save_roads(self.out, roads)
        self.saved = True
        self.say(f"saved {road.name} to {self.out} ({len(roads)} road{'s' if len(roads) != 1 else ''})")
        return self.out

    # -- driving
    def drive_learner(self) -> None:
        self._start_driving(self.driver, self.driver_label if self.driver is not None else "expert")

    def drive_expert(self) -> None:
        self._start_driving(None, "expert")

    def _start_driving(self, driver, label: str) -> None:
        road = self.road()
        if road is None:
            self.say("place at least two points first")
            return
        expert = driver is None
        config = env_config_for("features" if expert else self.observation)
        self.drive = RoadTrialApp(
            ExpertDriver() if expert else driver,
            config,
            RoadList([road]),
            driver_label=label,
            ghost=not expert,
            size=self.size,
        )

    def stop_driving(self) -> None:
        if self.drive is not None:
            self.drive.close()
        self.drive = None

    # -- time and drawing
    def update(self, seconds: float) -> None:
        if self._message_frames > 0:
            self._message_frames -= 1
        if self.drive is not None:
            self.drive.size = self.size
            self.drive.update(seconds)

    def draw(self):
        if self.drive is not None:
            return self.drive.draw()
        canvas = self.canvas()
        w, h = self.size
        area = canvas.subsurface(pygame.Rect(0, 0, w, h - STATUS_BAR_PX))
        road = self.road()
        if road is not None:
            self.renderer.pixels_per_metre = self.scale
            self.renderer.render_onto(area, road, None, np.zeros((0, 2)), np.zeros(0), {}, centre=self.centre)
        else:
            area.fill(GRASS_COLOUR)
        area.blit(self._grid_on_grass(area), (0, 0))
        self._draw_points(area)
        self._draw_hud(area, road)
        state = [(self.message, STATUS_TEXT)] if self._message_frames > 0 else []
        draw_status_bar(canvas, pygame.Rect(0, h - STATUS_BAR_PX, w, STATUS_BAR_PX), hints(self.keys), state)
        if self.show_help:
            draw_help(canvas, "roadschool draw", help_lines(self.keys))
        return canvas

    def _grid_on_grass(self, area):
        """Faint grid lines every ``GRID_METRES`` where ``area`` shows grass (cached for the view and road)."""
        size = area.get_size()
        key = (size, self.origin(), self.scale, self._road_key)
        if self._grid is None or self._grid[0] != key:
            grass = pygame.mask.from_threshold(area, (*GRASS_COLOUR, 255), (1, 1, 1, 255))
            layer = grass.to_surface(setsurface=self._grid_lines(size), unsetcolor=(0, 0, 0, 0))
            self._grid = (key, layer)
        return self._grid[1]

    def _grid_lines(self, size):
        """A transparent layer of the grid lines of the view."""
        layer = pygame.Surface(size, pygame.SRCALPHA)
        w, h = size
        ox, oy = self.origin()
        spacing = GRID_METRES
        while spacing * self.scale < 12:  # too dense to see: every 5th line only
            spacing *= 5
        first_x = math.ceil(ox / self.scale / spacing)
        last_x = math.floor((ox + w) / self.scale / spacing)
        for i in range(first_x, last_x + 1):
            x = round(i * spacing * self.scale - ox)
            alpha = 60 if i % 5 == 0 else 28
            pygame.draw.line(layer, (255, 255, 255, alpha), (x, 0), (x, h))
        first_y = math.ceil(-(oy + h) / self.scale / spacing)
        last_y = math.floor(-oy / self.scale / spacing)
        for j in range(first_y, last_y + 1):
            y = round(-j * spacing * self.scale - oy)
            alpha = 60 if j % 5 == 0 else 28
            pygame.draw.line(layer, (255, 255, 255, alpha), (0, y), (w, y))
        return layer

    def _draw_points(self, surface) -> None:
        if not self.points:
            return
        pts = self.to_screen(self.points)
        # keep far-away points drawable: pygame wants coordinates of moderate size
        pts = np.clip(pts, -10_000, 10_000).tolist()
        if len(pts) > 1:
            pygame.draw.lines(surface, POINT_COLOUR, self.closed and len(pts) >= 3, pts, 1)
        if self.mouse is not None and not self.dragging and self.mouse[1] < surface.get_height():
            _dashed_line(surface, PREVIEW_COLOUR, pts[-1], self.mouse)
        for p in pts[1:]:
            pygame.draw.circle(surface, POINT_OUTLINE, p, 5)
            pygame.draw.circle(surface, POINT_COLOUR, p, 3)
        pygame.draw.circle(surface, POINT_OUTLINE, pts[0], 7)
        pygame.draw.circle(surface, START_COLOUR, pts[0], 5)
        label = rendering.font(12).render("start", True, (255, 255, 255))
        surface.blit(label, (pts[0][0] + 9, pts[0][1] - label.get_height() - 2))

    def _draw_hud(self, surface, road: Road | None) -> None:
        lines = {
            "road": self.name,
            "points": str(len(self.points)),
            "length": f"{road.length:.0f} m" if road is not None else "-",
            "width": f"{self.width:.1f} m",
            "shape": "closed loop" if self.closed else "open road",
            "file": f"{self.out.name} ({'saved' if self.saved else 'not saved'})",
        }
        if not self.points:
            lines["start"] = "click to place the first point"
        self.renderer.draw_hud(surface, aligned(lines))

    def close(self) -> None:
        """Save unsaved changes, then close."""
        try:
            if not self.saved and self.road() is not None:
                self.save()
            elif not self.saved and getattr(self, "_road_error", ""):
                print(f"roadschool draw: {self.name} not saved: {self._road_error}", file=sys.stderr)
        finally:
            self.stop_driving()
            self.renderer.close()
            super().close()


def _free_name(taken: set[str]) -> str:
    k = 0
    while f"drawn/{k}" in taken:
        k += 1
    return f"drawn/{k}"


def _dashed_line(surface, colour, a, b, dash: int = 6) -> None:
    (x0, y0), (x1, y1) = a, b
    length = math.hypot(x1 - x0, y1 - y0)
    if length < 1:
        return
    n = int(length // dash)
    for i in range(0, n, 2):
        f0, f1 = i / n, min((i + 1) / n, 1.0)
        start = (x0 + f0 * (x1 - x0), y0 + f0 * (y1 - y0))
        pygame.draw.line(surface, colour, start, (x0 + f1 * (x1 - x0), y0 + f1 * (y1 - y0)))
