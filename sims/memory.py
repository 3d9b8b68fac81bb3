"""Memory the window commands would take, estimated before any work: ``watch``, ``play``, ``replay``.

Each ``check_*`` function adds up what its command keeps at once and refuses the request
through :func:`envs.limits.check_memory` (more than ``MAX_MEMORY_FRACTION`` of the RAM: a
one-line :class:`envs.limits.RequestTooLarge`, exit code 2) before a window opens or a file is
read. What is counted, each measured against ``/usr/bin/time -v`` (README, "Limits"):

* the window: the screen and the canvas frames are drawn on, and the road camera's picture of
  the whole road, 4 bytes a pixel each; the follow camera's road tiles, as many as one panel's
  view needs (at most ``envs.rendering.FOLLOW_CACHE_PX`` pixels), for each panel (``watch``'s
  split view has two);
* a recording (``--record``, ``replay --out``): the frames waiting for the writer thread (3
  bytes a pixel each, ``sims.recording.WRITE_QUEUE_FRAMES`` of them, plus the one being
  written) and the GIF encoder's copies of one frame (about 8 bytes a pixel);
* the roads of a roads file: their samples (about 100 bytes each once an environment holds
  them, ``envs.limits.MAX_FILE_SAMPLES``);
* ``play --record --roads N``: the dataset kept in memory until it is written, a row a step
  (the observation twice, as kept and as joined for writing, and about 450 bytes of labels and
  Python objects), up to the time limit on each of the N roads;
* ``replay``: the arrays of the largest episode file, read from the ``.npy`` headers inside
  it (a compressed file can unpack to far more than its size), and the road rebuilt from its
  points.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from envs import limits
from envs.observations import observation_space
from envs.rendering import FOLLOW_CACHE_PX, FOLLOW_TILE_PX
from envs.road_follow import MAX_EPISODE_STEPS
from sims.recording import WRITE_QUEUE_FRAMES

SURFACE_BYTES_PER_PIXEL = 4  # a pygame surface: 32 bits a pixel
WINDOW_SURFACES = 3  # the screen, the canvas and the road camera's whole-road picture
RECORDING_FRAME_BYTES_PER_PIXEL = 3  # an RGB frame waiting for the writer
GIF_ENCODER_BYTES_PER_PIXEL = 8  # PIL's RGB copy (4), the palette image, its index, the previous index, the change mask
ROAD_SAMPLE_BYTES = 100  # [bytes] a road sample held by an environment (geometry and its kernel tables)
PLAY_ROW_OVERHEAD_BYTES = 450  # [bytes] a recorded step's labels and the Python objects holding them


def window_bytes(size: tuple[int, int], panels: int = 1) -> int:
    """Bytes of the pictures a window of ``size`` ``(width, height)`` [px] keeps, ``panels`` side by side."""
    w, h = (int(v) for v in size)
    panel_w = math.ceil(w / panels)
    tiles = (math.ceil(panel_w / FOLLOW_TILE_PX) + 1) * (math.ceil(h / FOLLOW_TILE_PX) + 1)
    tile_px = min(tiles * FOLLOW_TILE_PX**2, FOLLOW_CACHE_PX)
    return SURFACE_BYTES_PER_PIXEL * (WINDOW_SURFACES * w * h + panels * tile_px)


def recording_bytes(size: tuple[int, int], queued: bool = True) -> int:
    """Bytes of recording frames of ``size`` [px]: the queue of frames waiting for the writer
    thread (``queued``; ``replay --out`` writes each frame itself) and the encoder's copies."""
    px = int(size[0]) * int(size[1])
    frames = WRITE_QUEUE_FRAMES + 2 if queued else 1  # waiting, being written, and the copy being made
    return px * (frames * RECORDING_FRAME_BYTES_PER_PIXEL + GIF_ENCODER_BYTES_PER_PIXEL)


def roads_bytes(roads) -> int:
    """Bytes of the roads ``roads`` (a list of :class:`envs.Road`) once environments hold them."""
    return ROAD_SAMPLE_BYTES * sum(road.num_points for road in roads)


def play_dataset_bytes(env_config, roads: int, max_steps: int) -> int:
    """Bytes of ``play --record``'s dataset after ``roads`` roads of at most ``max_steps`` steps."""
    space = observation_space(env_config)
    obs = int(np.prod(space.shape)) * space.dtype.itemsize
    return roads * max_steps * (2 * obs + PLAY_ROW_OVERHEAD_BYTES)


def episode_file_bytes(path) -> int | None:
    """Bytes of the arrays an episode file (``.npz``) unpacks to, and of the road rebuilt from its
    points (ten arrays of a sample's size), read from the headers without reading the arrays;
    None if the file is not a readable ``.npz`` (loading it then says what is wrong)."""
    total, points = 0, 0
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                with z.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    fmt = np.lib.format
                    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                    shape, _, dtype = read(fh)
                size = math.prod(int(n) for n in shape) * dtype.itemsize
                total += size
                if info.filename == "road_points.npy":
                    points = size // 16
    except (
        OSError,
        ValueError,
        zipfile.BadZipFile,
        EOFError,
        TypeError,
        SyntaxError,
        RecursionError,
        NotImplementedError,
        RuntimeError,
        OverflowError,
        KeyError,
        IndexError,
    ):
        return None
    return total + ROAD_SAMPLE_BYTES * points


# ------------------------------------------------------------------ the commands
def check_watch(size, record=None, roads_file=None, roads=None) -> None:
    """Refuse ``roadschool watch`` if it would take too much memory: its window of ``size``
    (two panels side by side unless it shows ``roads_file``), a recording into ``record`` and
    ``roads``, the roads of ``roads_file``."""
    size = tuple(size)
    need = window_bytes(size, panels=1 if roads_file else 2)  # v shows two roads side by side
    what = f"watch in a {size[0]}x{size[1]} window"
    if record is not None:
        need += recording_bytes(size)
        what += f" recording {record}"
    if roads is not None:
        need += roads_bytes(roads)
        what += f" on the {len(roads)} roads of {roads_file}"
    limits.check_memory(what, need)


def check_play(
    size, env_config, record=None, num_roads=None, roads_file=None, roads=None, max_steps: int | None = None
) -> None:
    """Refuse ``roadschool play`` if it would take too much memory: its window, the roads of
    ``roads_file`` and, with ``record`` and ``num_roads`` N, the dataset of N roads driven
    to the time limit (without a number of roads the dataset grows only as fast as a person drives)."""
    size = tuple(size)
    need = window_bytes(size)
    what = f"play in a {size[0]}x{size[1]} window"
    if roads is not None:
        need += roads_bytes(roads)
        what += f" on the {len(roads)} roads of {roads_file}"
    if record is not None and num_roads is not None:
        need += play_dataset_bytes(env_config, num_roads, max_steps or MAX_EPISODE_STEPS)
        what += f" recording {num_roads} roads of {env_config.observation} observations"
    limits.check_memory(what, need)


def check_replay(size, paths: list[Path], out=None, episode: int = 0) -> None:
    """Refuse ``roadschool replay`` if it would take too much memory: its window (or the file
    ``out`` it renders episode ``episode`` into) and the largest of its episode files, which are
    read one at a time."""
    size = tuple(size)
    if out is not None:
        paths = paths[episode : episode + 1]
        need = window_bytes(size)
        if Path(out).suffix.lower() in (".gif", ".mp4"):
            need += recording_bytes(size, queued=False)
        what = f"replay into {out} at {size[0]}x{size[1]}"
    else:
        need = window_bytes(size)
        what = f"replay in a {size[0]}x{size[1]} window"
    largest, name = 0, None
    for path in paths:
        n = episode_file_bytes(path)
        if n is not None and n > largest:
            largest, name = n, path
    if name is not None:
        need += largest
        what += f" of {name}" if len(paths) == 1 else f" of {len(paths)} episodes (the largest, {name})"
    limits.check_memory(what, need)
