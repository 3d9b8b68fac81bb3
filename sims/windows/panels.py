"""What a window draws: panels of a drive, with their HUD and banner, the status bar and the help box.

A panel shows, bottom to top: the road (``envs.rendering.RoadRenderer``), the trail
coloured by |cross-track error|, the expert's car as a ghost, the car, a HUD of live
metrics (top left), a small plot of cross-track error over distance (bottom left,
:mod:`sims.windows.plot`), the scale bar (bottom right) and, when a road is done, a
banner saying how it ended (top right). A status bar under the panels shows the keys,
the time speed and the recording. A policy that sees the camera has its dashcam drawn at the
top right (:func:`draw_dashcam`). :func:`paint_drive` draws a panel of a
:class:`agents.trajectory.Trajectory` at one step: the windows and every video file
(``sims.video.drive_frames``) draw drives with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pygame

from agents.trajectory import Trajectory
from envs import rendering
from envs.rendering import RoadRenderer
from sims.windows.plot import PADDING, LivePlot

STATUS_BG = (24, 26, 30)
STATUS_TEXT = (205, 210, 218)
STATUS_DIM = (130, 136, 146)
RECORD_RED = (235, 60, 50)
READY_BLUE = (40, 110, 210)
PAUSED_YELLOW = (250, 215, 90)
DIVIDER = (16, 16, 18)
OUTCOME_COLOURS = {"finished": (40, 170, 70), "off road": (205, 45, 40), "time limit": (200, 140, 30)}
# what a HUD keeps when the panel is too small for all of it
COMPACT_HUDS = (("road", "cte", "mean |cte|", "progress", "expert cte"), ("cte", "progress"), ("cte",))
CAR_ROOM_PX = 28  # [px] kept free above the middle of a panel, where the follow camera puts the car


@dataclass
class ViewOptions:
    """What the panels show (changed by keys)."""

    camera: str = "follow"
    show_ghost: bool = True
    show_trail: bool = True
    pixels_per_metre: float = 8.0


class PanelPainter:
    """Draws one panel: the road with the car, trail, ghost and HUD (by ``RoadRenderer``),
    then the live plot, and a banner when the road is done."""

    def __init__(self):
        self.renderer = RoadRenderer()
        self.plot = LivePlot()
        self.plot_rect = None  # where the plot was drawn in the last frame (None: not shown)

    def paint(
        self,
        surface,
        track: Trajectory,
        t: int,
        ghost: Trajectory | None,
        hud: dict[str, str],
        options: ViewOptions,
        banner: tuple[str, tuple[int, int, int]] | None = None,
        show_plot: bool = True,
    ) -> None:
        """Draw ``track`` at step ``t`` (and ``ghost`` at the same step, or its last) onto ``surface``."""
        road = track.road
        self.renderer.camera = options.camera
        self.renderer.pixels_per_metre = options.pixels_per_metre
        ghost_t = min(t, len(ghost) - 1) if ghost is not None else -1
        ghost_pose = ghost.pose(ghost_t) if ghost is not None and options.show_ghost else None
        if options.show_trail:
            trail_xy, trail_cte, sliding = track.xy[: t + 1], np.abs(track.cte[: t + 1]), track.sliding[: t + 1]
        else:
            trail_xy, trail_cte, sliding = np.zeros((0, 2)), np.zeros(0), None
        w, h = surface.get_size()
        hud = fitting_hud(hud, w, h)
        hud_w, hud_h = hud_extent(hud)
        pose = track.pose(t)
        self.renderer.render_onto(surface, road, pose, trail_xy, trail_cte, hud, ghost_pose, trail_sliding=sliding)
        self.plot_rect = None
        if show_plot:
            pw, ph = min(440, max(220, int(0.36 * w))), min(170, max(104, int(0.24 * h)))
            clear_of_car = ph + PADDING <= h // 2 - CAR_ROOM_PX or pw + PADDING <= w // 2 - CAR_ROOM_PX
            if h >= hud_h + ph + 3 * PADDING and w >= pw + 150 and clear_of_car:
                rect = self.plot_rect = pygame.Rect(PADDING, h - ph - PADDING, pw, ph)
                self.plot.draw(surface, rect, track, t, ghost if options.show_ghost else None, ghost_t)
        if banner is not None:
            car_px = self.renderer.world_to_screen(pose.body_centre)
            draw_banner(surface, banner[0], banner[1], (hud_w, hud_h), tuple(car_px.tolist()))


def paint_drive(
    painter: PanelPainter,
    surface,
    track: Trajectory,
    t: int,
    ghost: Trajectory | None,
    options: ViewOptions,
    driver_label: str | None = None,
    extra_hud: dict[str, str] | None = None,
    banner: tuple[str, tuple[int, int, int]] | None = None,
) -> None:
    """A panel of ``track`` at step ``t``: its HUD (:func:`drive_hud` and ``extra_hud``) and,
    at the end of a drive that ended, the banner saying how (or ``banner``)."""
    hud = drive_hud(track, t, ghost, driver_label)
    hud.update(extra_hud or {})
    if banner is None and t == len(track) - 1:
        banner = outcome_banner(track)
    painter.paint(surface, track, t, ghost, hud, options, banner)


def drive_hud(track: Trajectory, t: int, ghost: Trajectory | None = None, driver_label: str | None = None) -> dict:
    """The HUD of a drive at step ``t``: the road, who drives, the car's live metrics and the ghost's cte."""
    hud = {"road": track.road.name, "driver": driver_label or track.driver}
    hud.update(car_hud(track, t))
    if ghost is not None:
        hud["expert cte"] = f"{ghost.cte[min(t, len(ghost) - 1)]:+6.2f} m"
    return hud


def car_hud(track: Trajectory, t: int) -> dict[str, str]:
    """The live metrics of a car at step ``t``."""
    mean_cte, max_cte = track.abs_cte_stats(t)
    progress = track.progress_m[t]
    return {
        "time": f"{t * track.dt:6.1f} s",
        "speed": f"{track.speed[t]:6.2f} m/s",
        "steer": f"{math.degrees(track.steer[t]):+6.1f} deg",
        "cte": f"{track.cte[t]:+6.2f} m",
        "mean |cte|": f"{mean_cte:6.2f} m",
        "max |cte|": f"{max_cte:6.2f} m",
        "progress": f"{100 * min(max(progress, 0.0) / track.road.length, 1.0):6.1f} %",
    }


def outcome_banner(track: Trajectory) -> tuple[str, tuple[int, int, int]] | None:
    """The banner text and colour of how ``track`` ended (None while it goes on)."""
    if track.outcome is None:
        return None
    t = len(track) - 1
    if track.outcome == "finished":
        text = f"FINISHED in {t * track.dt:.1f} s, mean |cte| {track.abs_cte_stats()[0]:.2f} m"
    elif track.outcome == "off road":
        text = f"OFF ROAD after {track.progress_m[-1]:.0f} m"
    else:
        text = f"TIME LIMIT after {t * track.dt:.0f} s"
    return text, OUTCOME_COLOURS[track.outcome]


# ---------------------------------------------------------------------- the HUD
def fitting_hud(hud: dict[str, str], width: int, height: int) -> dict[str, str]:
    """``hud`` with its values lined up, cut down to fewer lines (or none) if it would not fit
    a panel of this size above the car, which the follow camera keeps in the middle."""
    for keep in (tuple(hud), *COMPACT_HUDS):
        lines = aligned({k: hud[k] for k in keep if k in hud})
        w, h = hud_extent(lines)
        if w <= width - PADDING and h <= height // 2 - CAR_ROOM_PX:
            return lines
    return {}


def aligned(hud: dict[str, str]) -> dict[str, str]:
    """HUD lines with their values lined up (the renderer writes ``label: value``)."""
    width = max((len(k) for k in hud), default=0)
    return {k: " " * (width - len(k)) + v for k, v in hud.items()}


def hud_extent(hud: dict[str, str]) -> tuple[int, int]:
    """The bottom-right corner [px] of the HUD panel the renderer draws for these lines
    (``envs.rendering.hud_box``, its measure): what is laid out around the HUD keeps clear of it."""
    x, y, w, h = rendering.hud_box(hud)
    return x + w, y + h


def draw_banner(surface, text: str, colour: tuple[int, int, int], hud: tuple[int, int], avoid=None) -> None:
    """A coloured box with ``text``: top right of the panel, clear of the HUD (its bottom-right
    corner ``hud``) and, where it can be, of the point ``avoid`` (the car, in pixels)."""
    sw, sh = surface.get_size()
    f = rendering.font(18, mono=False, bold=True)
    if f.size(text)[0] + 6 * PADDING > sw and ", " in text:  # too wide for the panel: the part before the comma
        text = text.split(", ")[0]
    label = f.render(text, True, (255, 255, 255))
    w, h = label.get_width() + 4 * PADDING, label.get_height() + 2 * PADDING
    places = [
        (sw - w - PADDING, PADDING),  # top right
        (PADDING, hud[1] + PADDING),  # under the HUD
        (min(max(hud[0] + PADDING, (sw - w) // 2), sw - w - PADDING), sh // 2 + 40),  # under the middle
    ]
    fits = [(x, y) for x, y in places if x >= PADDING and (x >= hud[0] + PADDING or y >= hud[1] + PADDING)] or places
    box = pygame.Rect(*fits[0], w, h)
    if avoid is not None:
        for x, y in fits:
            if not pygame.Rect(x, y, w, h).inflate(40, 40).collidepoint(avoid):
                box = pygame.Rect(x, y, w, h)
                break
    pygame.draw.rect(surface, colour, box, border_radius=6)
    pygame.draw.rect(surface, (255, 255, 255), box, 2, border_radius=6)
    surface.blit(label, (box.x + 2 * PADDING, box.y + PADDING))


# ---------------------------------------------------------- the window's chrome
def draw_status_bar(surface, rect, hints: list[str], right: list[tuple[str, tuple[int, int, int]]]) -> None:
    """The bar under the panels: key hints on the left (as many as fit), state on the right."""
    f = rendering.font(13)
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
    pygame.draw.line(surface, DIVIDER, rect.topleft, (rect.right, rect.top))


def draw_help(surface, title: str, keys: list[tuple[str, str]]) -> None:
    """A centred box listing keys and what they do."""
    f, head = rendering.font(14), rendering.font(18, mono=False, bold=True)
    key_w = max(f.size(k)[0] for k, _ in keys)
    text_w = max(f.size(d)[0] for _, d in keys)
    line_h = f.get_linesize() + 2
    w = key_w + text_w + 6 * PADDING
    h = head.get_linesize() + line_h * len(keys) + 5 * PADDING
    sw, sh = surface.get_size()
    box = pygame.Rect(max(0, (sw - w) // 2), max(0, (sh - h) // 2), w, h)
    panel = pygame.Surface(box.size, pygame.SRCALPHA)
    panel.fill((10, 12, 16, 225))
    surface.blit(panel, box.topleft)
    pygame.draw.rect(surface, STATUS_DIM, box, 1)
    surface.blit(head.render(title, True, (255, 255, 255)), (box.x + 2 * PADDING, box.y + 2 * PADDING))
    y = box.y + 3 * PADDING + head.get_linesize()
    for k, d in keys:
        surface.blit(f.render(k, True, PAUSED_YELLOW), (box.x + 2 * PADDING, y))
        surface.blit(f.render(d, True, (235, 235, 235)), (box.x + 4 * PADDING + key_w, y))
        y += line_h


# ---------------------------------------------------------------- the dashcam
DASHCAM_TOP_PX = 52  # [px] from the panel's top: below where the outcome banner goes
DASHCAM_MAX_WIDTH = 0.36  # of the panel's width


def dashcam_rect(panel_size: tuple[int, int], frame_shape: tuple[int, ...]):
    """Where the dashcam goes in a panel of ``panel_size``: top right, below the banner, scaled
    by a whole factor to at most ``DASHCAM_MAX_WIDTH`` of the panel (None: the panel is too small)."""
    w, h = panel_size
    fh, fw = frame_shape[:2]
    zoom = min(int(DASHCAM_MAX_WIDTH * w) // fw, (h // 2 - DASHCAM_TOP_PX) // fh, 6)
    if zoom < 1:
        return None
    return pygame.Rect(w - fw * zoom - PADDING, DASHCAM_TOP_PX, fw * zoom, fh * zoom)


def draw_dashcam(surface, frame: np.ndarray, caption: str):
    """The camera frame ``frame[H, W, 3]`` (uint8) blown up at the top right of ``surface``, framed,
    with ``caption`` under it; returns where it went (None: no room)."""
    rect = dashcam_rect(surface.get_size(), frame.shape)
    if rect is None:
        return None
    picture = pygame.image.frombuffer(np.ascontiguousarray(frame).tobytes(), frame.shape[1::-1], "RGB")
    surface.blit(pygame.transform.scale(picture, rect.size), rect.topleft)
    pygame.draw.rect(surface, STATUS_BG, rect.inflate(4, 4), 2)
    f = rendering.font(12)
    label = f.render(caption, True, (255, 255, 255))
    if label.get_width() > rect.width and ", " in caption:  # too wide: the part before the comma
        label = f.render(caption.split(", ")[0], True, (255, 255, 255))
    back = pygame.Rect(rect.x - 2, rect.bottom + 2, max(rect.width, label.get_width()) + 4, label.get_height() + 4)
    back.right = min(back.right, surface.get_width())
    surface.fill(STATUS_BG, back)
    surface.blit(label, (back.x + 2, back.y + 2))
    return rect
