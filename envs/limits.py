"""The documented limits on what roadschool accepts, in one place (the README lists them).

Every limit here is checked where input enters (a roads file, ``Road.from_points``, a
dataset, a checkpoint, a configuration, a command-line option) before any work starts,
and refused with one line that names the file or option and what is wrong.
"""

from __future__ import annotations

import os

# ------------------------------------------------------------------ roads
MAX_COORDINATE = 1e6
"""Largest |x| or |y| of a road point [m] (1000 km: far beyond any road, well inside float precision)."""
MAX_ROAD_POINTS = 200_000
"""Most points a road may be given as."""
MIN_ROAD_LENGTH = 5.0
"""Shortest road [m] (about a car length)."""
MAX_ROAD_LENGTH = 50_000.0
"""Longest road [m] (50 km; 100,000 samples at the default 0.5 m spacing)."""
MIN_POINT_SPACING = 1e-3
"""Points closer than this [m] to the previous point kept are taken as repeats and dropped."""
MIN_SAMPLE_SPACING = 0.01
"""Finest resampling spacing of a road [m]."""
MAX_SAMPLE_SPACING = 5.0
"""Coarsest resampling spacing of a road [m]."""
MAX_ROAD_SAMPLES = 200_000
"""Most resampled points of one road (length / spacing)."""
MIN_ROAD_WIDTH = 1.0
"""Narrowest road [m]."""
MAX_ROAD_WIDTH = 100.0
"""Widest road [m]."""
MAX_TURN_BACK_DEG = 150.0
"""A road whose centreline turns by more than this [deg] within a stretch as long as the road
is wide turns back on itself (a spike or a zig-zag no car can follow inside the road): refused."""
MAX_ROAD_NAME = 200
"""Longest road name [characters]."""
MAX_SURFACE_SECTIONS = 10_000
"""Most surface sections (wet, icy, ...) of one road."""

# ------------------------------------------------------------------ environments
MAX_DT = 0.5
"""Longest time step [s] (the car's road projection covers at most ~10 m a step)."""
MAX_ROAD_INDEX = 2**31
"""Generated road indices are below this."""
MAX_SENSORS = 360
"""Most look-ahead points or rays of an observation."""
MAX_SENSOR_RANGE = 1000.0
"""Farthest look-ahead point or ray [m]."""
MAX_IMAGE_SIZE = 512
"""Largest side of the image observation [px]."""
MIN_METRES_PER_PIXEL = 0.01
"""Finest scale of the image observation [m/px]."""
MAX_METRES_PER_PIXEL = 10.0
"""Coarsest scale of the image observation [m/px]."""
MAX_WIND = 50.0
"""Strongest crosswind or gust [m/s]."""
MAX_OBSERVATION_NOISE = 10.0
"""Largest sensor noise standard deviation [m]."""

# ------------------------------------------------------------------ files
MAX_ROADS_FILE_BYTES = 64 * 2**20
"""Largest roads file [bytes] (64 MiB)."""
MAX_ROADS_PER_FILE = 10_000
"""Most roads in one roads file."""
MAX_FILE_SAMPLES = 5_000_000
"""Most resampled points of all the roads of one file together (2,500 km at 0.5 m; ~100 bytes
each in memory once the environment holds them)."""
MAX_JSON_DEPTH = 16
"""Deepest nesting of arrays and objects in a JSON file read by roadschool (a roads file needs 4)."""

# ------------------------------------------------------------------ requests
MAX_CARS = 100_000
"""Most cars (roads) one command drives at once."""
MAX_NETWORK_PARAMETERS = 50_000_000
"""Most trainable parameters of a steering network (200 MB of float32 weights, about 4x that
while training with Adam)."""
MAX_MEMORY_FRACTION = 0.8
"""A request whose estimated memory exceeds this fraction of the machine's RAM is refused."""


class RequestTooLarge(ValueError):
    """A request would take more memory (or more of something) than the documented limit."""


def machine_memory() -> int:
    """Total physical memory of this machine [bytes] (8 GiB if it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def check_memory(what: str, needed_bytes: float) -> None:
    """Refuse ``what`` if it would take more than :data:`MAX_MEMORY_FRACTION` of the RAM.

    Raises:
        RequestTooLarge: naming ``what``, the estimate and the limit.
    """
    budget = MAX_MEMORY_FRACTION * machine_memory()
    if not needed_bytes <= budget:
        raise RequestTooLarge(
            f"{what} would need about {_gib(needed_bytes)} of memory; this machine allows "
            f"{_gib(budget)} ({MAX_MEMORY_FRACTION:.0%} of its RAM)"
        )


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n < 2**40 else f"{n / 2**40:.3g} TiB"
