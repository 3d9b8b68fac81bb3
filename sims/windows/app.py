"""The app loop of every window: events in, frames out, and time in ticks of the env's step.

Every window of roadschool (watch, play, draw, replay) is an :class:`App`: a
class with ``handle_event(event)``, ``update(seconds)`` and ``draw() -> Surface``,
and ``run(max_frames)``, the loop that feeds it pygame's events and shows what it
draws. Tests post events and step frames without real time.

Time (:class:`TimedApp`): the window shows ``FPS`` frames a second and each frame
advances the world by ``1 / FPS`` seconds times the time speed (frame-locked, so a
run is the same on every machine). The world moves in *ticks* of the environment's
time step ``dt``: one env step per tick. A recording gets the first frame and then
one frame per tick, drawn right after it, at ``dt`` per frame: it plays at real time
however fast time ran in the window, and never skips a step.
"""

from __future__ import annotations

import math
import os

import pygame

from sims.recording import FrameRecorder
from sims.windows.keys import QUIT, Key, bindings, help_lines, hints, key_name
from sims.windows.panels import PAUSED_YELLOW, RECORD_RED, STATUS_TEXT, ViewOptions, draw_help, draw_status_bar

FPS = 60  # [frames/s] the window's frame rate
DEFAULT_SIZE = (1280, 720)  # [px]
MIN_SIZE = (320, 240)  # [px] the window is kept at least this large
STATUS_BAR_PX = 24  # [px]
TIME_SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
MAX_TICKS_PER_FRAME = 32  # more is dropped (time slows down), never skipped
ZOOM_STEP = 1.25
ZOOM_RANGE = (1.0, 48.0)  # [px/m] follow camera


def pygame_error() -> type[Exception]:
    """pygame's error class (raised, for one, when no window can be opened)."""
    return pygame.error


def pygame_module():
    """pygame, with its display (headless works) and fonts ready (again after a window closed them)."""
    if not pygame.display.get_init():
        pygame.display.init()
    if not pygame.font.get_init():
        pygame.font.init()
    return pygame


def headless() -> bool:
    """True when pygame draws to no screen (``SDL_VIDEODRIVER=dummy``): nobody watches, so don't wait."""
    return os.environ.get("SDL_VIDEODRIVER", "") in ("dummy", "offscreen")


def nearest_speed(speed: float) -> float:
    """The time speed of ``TIME_SPEEDS`` closest to ``speed``."""
    if not (speed > 0 and math.isfinite(speed)):
        raise ValueError(f"time speed must be a positive number, got {speed}")
    return min(TIME_SPEEDS, key=lambda s: abs(math.log(s / speed)))


def speed_text(speed: float) -> str:
    return f"{speed:g}" if speed >= 1 else f"1/{round(1 / speed)}"


class App:
    """A window: events in, frames out.

    Subclasses declare ``keys`` (each names a method; :mod:`sims.windows.keys`) and override
    :meth:`handle_event` (calling this one for closing, resizing and the keys), :meth:`update`
    and :meth:`draw`. ``running`` turns False when the window is closed or q / Esc is pressed.
    Use as a context manager, or call :meth:`close`, to release the window and finish any recording.
    """

    title = "roadschool"
    keys: tuple[Key, ...] = (QUIT,)

    def __init__(self, size: tuple[int, int] = DEFAULT_SIZE):
        pygame_module()
        self.size = _clamp_size(size)
        self.running = True
        self.frames = 0
        self.recorder: FrameRecorder | None = None
        self._canvas = None
        self._window = None
        self._bindings = bindings(self.keys)

    # -- the three parts tests drive
    def handle_event(self, event) -> None:
        if event.type in (pygame.QUIT, pygame.WINDOWCLOSE):
            self.running = False
        elif event.type == pygame.VIDEORESIZE:
            self.size = _clamp_size(event.size)
        elif event.type == pygame.KEYDOWN:
            method = self._bindings.get(key_name(event))
            if method is not None:
                getattr(self, method)()

    def update(self, seconds: float) -> None:
        """Advance the app by ``seconds`` of wall time."""

    def draw(self):
        """Draw the current frame and return it (a pygame Surface of ``self.size``)."""
        canvas = self.canvas()
        canvas.fill((0, 0, 0))
        return canvas

    def quit(self) -> None:
        self.running = False

    # -- the loop
    def canvas(self):
        """The surface frames are drawn on, remade when the size changes."""
        if self._canvas is None or self._canvas.get_size() != self.size:
            self._canvas = pygame.Surface(self.size)
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
        window = pygame.display.get_surface()
        if window is None:
            return
        if window.get_size() != self.size:
            window = self._window = pygame.display.set_mode(self.size, pygame.RESIZABLE)
        window.blit(frame, (0, 0))
        pygame.display.flip()

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
                pygame.display.quit()
                self._window = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _clamp_size(size) -> tuple[int, int]:
    w, h = (int(v) for v in size)
    return max(w, MIN_SIZE[0]), max(h, MIN_SIZE[1])


class TimedApp(App):
    """An app that plays something in ticks of ``dt`` seconds, with view options, a time
    speed, pause, zoom, help, a status bar and an optional recording.

    Subclasses define ``keys``, :meth:`tick` and :meth:`draw_panels`.
    """

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

    def start_recording(self, path) -> None:
        """Record from now on: this frame, then one frame per tick, ``dt`` seconds each."""
        self.recorder = FrameRecorder(path, self.size, self.dt)

    # -- events: the keys of the table, and the mouse wheel zooms
    def handle_event(self, event) -> None:
        super().handle_event(event)
        if event.type == pygame.MOUSEWHEEL and event.y:
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
        canvas = self.canvas()
        w, h = self.size
        self.draw_panels(canvas, pygame.Rect(0, 0, w, h - STATUS_BAR_PX))
        bar = pygame.Rect(0, h - STATUS_BAR_PX, w, STATUS_BAR_PX)
        draw_status_bar(canvas, bar, hints(self.active_keys()), self.state_labels())
        if self.show_help:
            draw_help(canvas, self.help_title, help_lines(self.active_keys()))
        return canvas

    def draw_panels(self, canvas, rect) -> None:
        """Draw everything above the status bar into ``rect`` of ``canvas``."""

    def active_keys(self) -> tuple[Key, ...]:
        """The bindings that do something now (the help box and the status bar show these)."""
        return self.keys

    def state_labels(self) -> list[tuple[str, tuple[int, int, int]]]:
        out = []
        if self.paused:
            out.append(("PAUSED", PAUSED_YELLOW))
        out.append((f"time x{speed_text(self.speed)}", STATUS_TEXT))
        out.append((f"{self.options.camera} camera", STATUS_TEXT))
        if self.recorder is not None:
            out.append((f"REC {self.recorder.frames} frames", RECORD_RED))
        return out
