"""Video files: animated GIF always, MP4 with the ``video`` extra. Every GIF of roadschool
(window recordings, ``replay --out``, the demo's drive, saliency, notebook animations) is
written here, by one encoder with one timing rule.

Frames are written as they come, so a recording of any length costs bounded
memory. A GIF shares one 256-colour palette between all frames (the road's,
the trail's and the cars' colours are in it exactly; the rest is fitted to the
first frame) and stores each frame as the rectangle that changed since the
one before. Frame durations are whole hundredths of a second in a GIF, so they
are rounded cumulatively: frame ``k`` ends at ``round((k + 1) * frame_seconds, 2)``
and a long recording never drifts from real time.

A file is written atomically (``envs.atomic``): under a temporary name, renamed when closed.
"""

from __future__ import annotations

import io
import queue
import threading
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from PIL import GifImagePlugin, Image

from envs import rendering
from envs.atomic import atomic_path
from envs.rendering import import_pygame

VIDEO_SUFFIXES = (".gif", ".mp4")
GIF_PALETTE_SIZE = 256
WRITE_QUEUE_FRAMES = 16  # frames waiting for the writer thread; a full queue makes the window wait


def video_available() -> bool:
    """Whether MP4 can be written (the optional ``video`` extra: imageio with its ffmpeg)."""
    try:  # the optional extra: imported only to see whether it is there
        import imageio.v2  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def check_video_path(path) -> Path:
    """``path`` as a Path if its suffix is a video format this machine can write, else ValueError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"{path}: a recording must end in .gif or .mp4")
    if suffix == ".mp4" and not video_available():
        raise ValueError(
            f"{path}: writing .mp4 needs the video extra (pip install 'roadschool[video]'); .gif works as is"
        )
    return path


def _known_colours() -> list[tuple[int, int, int]]:
    """Colours the pictures draw flat, which the GIF palette keeps exactly."""
    r = rendering
    colours = [
        r.GRASS_COLOUR,
        r.ASPHALT_COLOUR,
        r.EDGE_COLOUR,
        r.CENTRELINE_COLOUR,
        r.CAR_COLOUR,
        r.CAR_OUTLINE_COLOUR,
        r.WINDSCREEN_COLOUR,
        r.HEADLIGHT_COLOUR,
        r.WHEEL_COLOUR,
        r.GHOST_COLOUR,
        r.HUD_TEXT_COLOUR,
        (0, 0, 0),
        *r.TRAIL_PALETTE,
    ]
    out = []
    for c in colours:
        c = tuple(int(v) for v in c)
        if c not in out:
            out.append(c)
    return out


class _GifStream:
    """Encodes RGB frames, one at a time, into an animated GIF that loops forever, onto an open binary file."""

    def __init__(self, file, size: tuple[int, int], frame_seconds: float):
        if not frame_seconds > 0:
            raise ValueError(f"frame_seconds must be positive, got {frame_seconds}")
        self.size = (int(size[0]), int(size[1]))
        self.frame_seconds = float(frame_seconds)
        self.frames = 0
        self._file = file
        self._palette = None  # a 1x1 "P" image holding the palette
        self._previous: np.ndarray | None = None

    def _start(self, first: np.ndarray) -> None:
        known = _known_colours()
        fitted = Image.fromarray(first).quantize(GIF_PALETTE_SIZE - len(known), method=Image.Quantize.MEDIANCUT)
        rest = fitted.getpalette()[: 3 * (GIF_PALETTE_SIZE - len(known))]
        palette = [v for c in known for v in c] + rest
        palette += [0] * (3 * GIF_PALETTE_SIZE - len(palette))
        self._palette = Image.new("P", (1, 1))
        self._palette.putpalette(palette)
        w, h = self.size
        header = b"GIF89a" + _u16(w) + _u16(h) + bytes([0xF7, 0, 0]) + bytes(palette)
        header += b"!\xff\x0bNETSCAPE2.0\x03\x01" + _u16(0) + b"\x00"  # loop forever
        self._file.write(header)

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(height, width, 3)`` uint8 frame."""
        frame = np.asarray(frame, dtype=np.uint8)
        if frame.shape != (self.size[1], self.size[0], 3):
            raise ValueError(f"frame has shape {frame.shape}, expected {(self.size[1], self.size[0], 3)}")
        if self._palette is None:
            self._start(frame)
        image = Image.fromarray(frame).quantize(palette=self._palette, dither=Image.Dither.NONE)
        index = np.asarray(image)
        if self._previous is None:
            box = (0, 0, self.size[0], self.size[1])
        else:
            changed = index != self._previous
            if changed.any():
                rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
                box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
            else:
                box = (0, 0, 1, 1)  # nothing changed: a one-pixel frame keeps the timing
        self._previous = index
        part = image.crop(box) if box != (0, 0, self.size[0], self.size[1]) else image
        k = self.frames
        centiseconds = round(100 * (k + 1) * self.frame_seconds) - round(100 * k * self.frame_seconds)
        for chunk in GifImagePlugin.getdata(part, offset=box[:2], duration=10 * max(1, centiseconds)):
            self._file.write(chunk)
        self.frames += 1

    def finish(self) -> None:
        self._file.write(b";")


class GifWriter:
    """Streams RGB frames into an animated GIF file that loops forever (atomically).

    Args:
        path: file to write (``.gif``).
        size: ``(width, height)`` of every frame [px].
        frame_seconds: how long each frame shows [s] (the env's time step).
    """

    def __init__(self, path, size: tuple[int, int], frame_seconds: float):
        self.path = Path(path)
        self._files = ExitStack()
        tmp = self._files.enter_context(atomic_path(self.path))
        self._stream: _GifStream | None = _GifStream(self._files.enter_context(open(tmp, "wb")), size, frame_seconds)
        self._frames = 0
        self.size = self._stream.size

    @property
    def frames(self) -> int:
        return self._frames

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(height, width, 3)`` uint8 frame."""
        self._stream.write(frame)
        self._frames = self._stream.frames

    def close(self) -> Path:
        """Finish the file and move it to its name; a recording of no frames writes nothing.
        Closing again does nothing."""
        if self._stream is None:
            return self.path
        if self.frames == 0:
            self.abort()
        else:
            self._stream.finish()
            self._stream = None
            self._files.close()
        return self.path

    def abort(self) -> None:
        """Leave nothing behind: the temporary file is removed."""
        self._stream = None
        _abort(self._files)


def _abort(files: ExitStack) -> None:
    """Close ``files`` (an ``atomic_path`` among them) as if an error had happened: nothing is kept."""
    error = RuntimeError("the recording was abandoned")
    files.__exit__(type(error), error, None)


def write_gif(path, frames, frame_seconds: float) -> Path:
    """Write RGB frames ``(H, W, 3)`` uint8 as an animated GIF (atomically), playing at real time."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("no frames to write")
    writer = GifWriter(path, (first.shape[1], first.shape[0]), frame_seconds)
    try:
        writer.write(first)
        for frame in frames:
            writer.write(frame)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def gif_bytes(frames, frame_seconds: float) -> bytes:
    """RGB frames as the bytes of an animated GIF playing at real time (for a notebook or a web page)."""
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to write")
    buffer = io.BytesIO()
    stream = _GifStream(buffer, (frames[0].shape[1], frames[0].shape[0]), frame_seconds)
    for frame in frames:
        stream.write(frame)
    stream.finish()
    return buffer.getvalue()


class Mp4Writer:
    """Streams RGB frames into an H.264 MP4 at ``1 / frame_seconds`` frames per second (needs the video extra)."""

    def __init__(self, path, size: tuple[int, int], frame_seconds: float):
        import imageio.v2 as imageio  # the optional video extra (check_video_path checked it is there)

        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self.frames = 0
        self._files = ExitStack()
        tmp = self._files.enter_context(atomic_path(self.path))
        self._pad = (self.size[0] % 2, self.size[1] % 2)  # yuv420p needs even sides
        self._writer = imageio.get_writer(
            tmp,
            format="FFMPEG",
            fps=1.0 / frame_seconds,
            codec="libx264",
            pixelformat="yuv420p",
            quality=8,
            macro_block_size=1,
        )
        self._files.callback(self._writer.close)

    def write(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame, dtype=np.uint8)
        if any(self._pad):
            frame = np.pad(frame, ((0, self._pad[1]), (0, self._pad[0]), (0, 0)), mode="edge")
        self._writer.append_data(frame)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it to its name; a recording of no frames writes nothing."""
        if self.frames == 0:
            self.abort()
        else:
            self._files.close()
        return self.path

    def abort(self) -> None:
        _abort(self._files)


def open_video(path, size: tuple[int, int], frame_seconds: float):
    """A :class:`GifWriter` or :class:`Mp4Writer` for ``path``'s suffix."""
    path = check_video_path(path)
    if path.suffix.lower() == ".mp4":
        return Mp4Writer(path, size, frame_seconds)
    return GifWriter(path, size, frame_seconds)


class FrameRecorder:
    """Writes the frames a window shows to a video file on a background thread, in order, none dropped.

    ``add(surface)`` copies the surface's pixels (scaled to the recording's size
    if the window was resized since the recording began) and returns at once
    unless the writer has fallen ``WRITE_QUEUE_FRAMES`` behind, when it waits.
    """

    def __init__(self, path, size: tuple[int, int], frame_seconds: float):
        self.size = (int(size[0]), int(size[1]))
        self.frame_seconds = float(frame_seconds)
        self.writer = open_video(path, self.size, frame_seconds)
        self.path = self.writer.path
        self.frames = 0
        self._queue: queue.Queue = queue.Queue(maxsize=WRITE_QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="roadschool-recorder", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue
            try:
                self.writer.write(np.frombuffer(item, dtype=np.uint8).reshape(self.size[1], self.size[0], 3))
            except BaseException as exc:  # reported by add() / close()
                self._error = exc

    def add(self, surface) -> None:
        """Record one frame: a pygame Surface."""
        if self._error is not None:
            raise RuntimeError(f"recording {self.path} failed: {self._error}") from self._error
        pg = import_pygame()  # (a window's surface: pygame is there; imported quietly)
        if surface.get_size() != self.size:
            surface = pg.transform.smoothscale(surface, self.size)
        self._queue.put(pg.image.tobytes(surface, "RGB"))
        self.frames += 1

    def close(self) -> Path:
        """Wait for the writer and finish the file."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            self.writer.abort()
            raise RuntimeError(f"recording {self.path} failed: {self._error}") from self._error
        return self.writer.close()


def _u16(value: int) -> bytes:
    return int(value).to_bytes(2, "little")
