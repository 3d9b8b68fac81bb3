"""How the world looks to the dashcam: colours, markings, texture, brightness, and their randomization.

An :class:`Appearance` is frozen and plain (colours as 0-255 RGB tuples), so it can sit in a
:class:`envs.RoadFollowConfig` and travel in a dataset's metadata. :data:`LOOKS` names a few
(``day``, ``dusk``, ``snow``, ``no-markings``): a road change for a policy that learned in daylight.
:meth:`Appearance.randomized` draws a per-episode variation from an rng (domain randomization, as
CarRacing's ``domain_randomize``); the camera kernel reads an appearance as one row of numbers
(:meth:`Appearance.as_row`, columns named below).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

MARKINGS = ("dashed", "solid", "none")

# columns of an appearance row (what the camera kernel reads, one row per car)
(ASPHALT, EDGE_LINE, CENTRE_LINE, VERGE, GRASS, SKY_HORIZON, SKY_ZENITH) = (0, 3, 6, 9, 12, 15, 18)  # RGB each
BRIGHTNESS, TEXTURE, EDGE_LINES, CENTRE_STYLE, TEXTURE_X, TEXTURE_Y = 21, 22, 23, 24, 25, 26
ROW_SIZE = 27

_COLOURS = ("asphalt", "edge_line", "centre_line", "verge", "grass", "sky_horizon", "sky_zenith")

RGB = tuple[int, int, int]

SURFACE_COLOURS: dict[str, RGB] = {  # the road's surface where it is not dry asphalt (``envs.road.SURFACES``)
    "dry": (92, 92, 98),
    "wet": (58, 66, 96),  # dark, blue-tinged: water on asphalt
    "gravel": (150, 128, 96),
    "snow": (222, 226, 232),
    "ice": (170, 214, 236),
}
"""Colours of the road's surfaces, in the top view and in the camera (where dry asphalt takes the
look's own asphalt colour, and the others replace it)."""


@dataclass(frozen=True)
class Appearance:
    """Colours [0-255 RGB] and styles of the camera's world."""

    asphalt: RGB = (92, 92, 96)
    edge_line: RGB = (235, 235, 235)
    """Colour of the solid lines along both road edges."""
    centre_line: RGB = (240, 200, 40)
    verge: RGB = (150, 135, 105)
    """The gravel strip (shoulder) just beyond each edge of the asphalt."""
    grass: RGB = (70, 125, 55)
    sky_horizon: RGB = (200, 220, 240)
    """Sky at the horizon, also the haze far ground fades into."""
    sky_zenith: RGB = (90, 140, 215)
    markings: str = "dashed"
    """Centre marking: ``dashed``, ``solid`` or ``none`` (``none`` also removes the edge lines)."""
    texture: float = 0.12
    """Contrast of the ground texture: brightness varies by about +-this fraction."""
    brightness: float = 1.0
    """Every colour is multiplied by this (then clipped to 255)."""

    def __post_init__(self):
        for name in _COLOURS:
            value = tuple(int(c) for c in getattr(self, name))
            if len(value) != 3 or min(value) < 0 or max(value) > 255:
                raise ValueError(f"Appearance.{name} must be three numbers in 0-255, got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        if self.markings not in MARKINGS:
            raise ValueError(f"Appearance.markings must be one of {', '.join(MARKINGS)}, got {self.markings!r}")
        if not (0.0 <= self.texture <= 1.0):
            raise ValueError(f"Appearance.texture must be in [0, 1], got {self.texture}")
        if not (self.brightness > 0.0 and math.isfinite(self.brightness)):
            raise ValueError(f"Appearance.brightness must be a positive number, got {self.brightness}")

    def as_row(self, texture_offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """``[ROW_SIZE]`` float64: the numbers the camera kernel reads (columns named in this module)."""
        row = np.zeros(ROW_SIZE)
        for k, name in enumerate(_COLOURS):
            row[3 * k : 3 * k + 3] = getattr(self, name)
        row[BRIGHTNESS] = self.brightness
        row[TEXTURE] = self.texture
        row[EDGE_LINES] = 0.0 if self.markings == "none" else 1.0
        row[CENTRE_STYLE] = MARKINGS.index(self.markings)  # 0 dashed, 1 solid, 2 none
        row[TEXTURE_X], row[TEXTURE_Y] = texture_offset
        return row

    def randomized(self, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
        """A per-episode variation of this look as an appearance row, drawn from ``rng``: each colour
        shifted by up to +-40 levels per channel (times ``strength``), brightness scaled by up to
        e^(+-0.35 strength), texture contrast by up to +-50% (times ``strength``), and the texture
        moved to a random place. Always draws the same 25 numbers, so the stream after it is fixed."""
        u = rng.random(25)
        row = self.as_row((64.0 * u[23], 64.0 * u[24]))
        row[: 3 * len(_COLOURS)] = np.clip(row[: 3 * len(_COLOURS)] + strength * 40.0 * (2.0 * u[:21] - 1.0), 0, 255)
        row[BRIGHTNESS] *= math.exp(strength * 0.35 * (2.0 * u[21] - 1.0))
        row[TEXTURE] = min(1.0, row[TEXTURE] * (1.0 + strength * 0.5 * (2.0 * u[22] - 1.0)))
        return row

    def replace(self, **changes) -> Appearance:
        return dataclasses.replace(self, **changes)


LOOKS: dict[str, Appearance] = {
    "day": Appearance(),
    "dusk": Appearance(
        asphalt=(70, 64, 70),
        edge_line=(205, 190, 180),
        centre_line=(215, 160, 45),
        verge=(115, 90, 75),
        grass=(55, 70, 50),
        sky_horizon=(235, 150, 95),
        sky_zenith=(60, 55, 110),
        brightness=0.7,
    ),
    "snow": Appearance(
        asphalt=(120, 122, 128),
        edge_line=(250, 250, 250),
        centre_line=(235, 205, 90),
        verge=(215, 218, 225),
        grass=(238, 240, 245),
        sky_horizon=(215, 220, 228),
        sky_zenith=(165, 175, 190),
        texture=0.06,
    ),
    "no-markings": Appearance(markings="none"),
}
"""Named looks: ``day`` (the default), ``dusk``, ``snow`` and ``no-markings``."""


def get_look(look: str | Appearance) -> Appearance:
    """A look by name (see :data:`LOOKS`) or the appearance itself."""
    if isinstance(look, Appearance):
        return look
    try:
        return LOOKS[look]
    except (KeyError, TypeError):
        raise ValueError(f"unknown look {look!r}; choose from {', '.join(LOOKS)} or pass an envs.Appearance") from None
