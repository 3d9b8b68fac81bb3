"""The live plot of a panel: cross-track error [m] over distance along the road [m]."""

from __future__ import annotations

import math

import numpy as np
import pygame

from agents.trajectory import Trajectory
from envs import rendering
from envs.road import Road

PADDING = 6  # [px]
PLOT_AXIS = (150, 150, 150)
PLOT_EDGE = (235, 235, 235)


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

    def draw(self, surface, rect, track: Trajectory, t: int, ghost: Trajectory | None, ghost_t: int) -> None:
        """Plot ``track`` up to step ``t`` (and ``ghost`` up to ``ghost_t``) into ``rect`` of ``surface``."""
        road = track.road
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
        pygame.draw.circle(surface, PLOT_EDGE, (rect.x + int(px[0]), rect.y + int(py[0])), 3)

    def _start(self, size: tuple[int, int], road: Road, with_ghost: bool) -> None:
        w, h = size
        small = rendering.font(12)
        line_h = small.get_linesize()
        bg = pygame.Surface(size, pygame.SRCALPHA)
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
                pygame.draw.line(bg, c, (x + 6 * i, PADDING + line_h // 2), (x + 6 * i + 5, PADDING + line_h // 2), 3)
            x -= 10
        for text in ("cross-track error [m] over distance", "cte [m] over distance", "cte [m]"):
            if small.size(text)[0] <= x - PADDING:
                bg.blit(small.render(text, True, rendering.HUD_TEXT_COLOUR), (PADDING, PADDING))
                break
        # axes: zero line, dashed road edges with their values, distance labels
        _, y0 = self._to_px(np.zeros(1), np.zeros(1))
        pygame.draw.line(bg, PLOT_AXIS, (left, int(y0[0])), (right, int(y0[0])), 1)
        for edge in (road.half_width, -road.half_width):
            _, ye = self._to_px(np.zeros(1), np.array([edge]))
            ye = int(ye[0])
            for xd in range(left, right, 8):
                pygame.draw.line(bg, PLOT_EDGE, (xd, ye), (min(xd + 4, right), ye), 1)
            label = small.render(f"{edge:+.1f}", True, PLOT_EDGE)
            bg.blit(label, (left - 4 - label.get_width(), ye - label.get_height() // 2))
        zero = small.render("0", True, PLOT_AXIS)
        bg.blit(zero, (left - 4 - zero.get_width(), int(y0[0]) - zero.get_height() // 2))
        pygame.draw.line(bg, PLOT_AXIS, (left, top), (left, bottom), 1)
        start = small.render("0 m", True, PLOT_AXIS)
        end = small.render(f"{road.length:.0f} m", True, PLOT_AXIS)
        bg.blit(start, (left, bottom + 2))
        bg.blit(end, (right - end.get_width(), bottom + 2))
        self._background = bg
        self._layer = pygame.Surface(size, pygame.SRCALPHA)
        self._drawn = {"car": 0, "ghost": 0}

    def _to_px(self, distance: np.ndarray, cte: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        left, right, top, bottom, length, ymax = self._map
        px = left + np.clip(distance / length, 0.0, 1.0) * (right - left)
        mid = 0.5 * (top + bottom)
        py = mid - np.clip(cte / ymax, -1.0, 1.0) * 0.5 * (bottom - top)
        return px, py

    def _extend(self, which: str, track: Trajectory, t: int, half_width: float) -> None:
        start = max(self._drawn[which] - 1, 0)
        if t <= start:
            self._drawn[which] = max(self._drawn[which], t + 1)
            return
        px, py = self._to_px(track.progress_m[start : t + 1], track.cte[start : t + 1])
        pts = np.column_stack([px, py]).tolist()
        if which == "ghost":
            pygame.draw.lines(self._layer, rendering.GHOST_COLOUR, False, pts, 1)
        else:
            ratio = np.abs(track.cte[start : t + 1]) / max(half_width, 1e-9)
            seg = 0.5 * (ratio[:-1] + ratio[1:])
            top = rendering.TRAIL_COLOUR_BINS - 1
            bins = np.minimum(np.rint(seg * top).astype(int), top)
            cuts = [0, *(np.flatnonzero(np.diff(bins)) + 1).tolist(), len(bins)]
            for a, b in zip(cuts[:-1], cuts[1:]):
                pygame.draw.lines(self._layer, rendering.TRAIL_PALETTE[int(bins[a])], False, pts[a : b + 1], 2)
        self._drawn[which] = t + 1
