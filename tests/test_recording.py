"""Tests of sims/recording.py: the one GIF encoder (window recordings, write_gif, gif_bytes), its
timing rule and its atomic files."""

import io

import numpy as np
import pytest
from PIL import Image

from sims.recording import GifWriter, _known_colours, gif_bytes, write_gif


def durations(gif: Image.Image) -> list[int]:
    out = []
    for i in range(gif.n_frames):
        gif.seek(i)
        out.append(gif.info["duration"])
    return out


def coloured_frames(n: int = 6) -> list[np.ndarray]:
    known = _known_colours()
    frames = []
    for k in range(n):
        f = np.zeros((30, 40, 3), dtype=np.uint8)
        f[:] = known[0]
        f[5 + k : 10 + k, 3:20] = known[4]
        f[20:25, 25:35] = known[12 + k]
        frames.append(f)
    return frames


def test_gif_writer_round_trip_and_cumulative_durations(tmp_path):
    frames = coloured_frames()
    frames.append(frames[-1].copy())  # an unchanged frame still takes its time
    writer = GifWriter(tmp_path / "a.gif", (40, 30), 1 / 30)
    for f in frames:
        writer.write(f)
    assert not (tmp_path / "a.gif").exists(), "nothing under the final name before the file is complete"
    writer.close()
    assert writer.close() == tmp_path / "a.gif", "closing again does nothing"
    gif = Image.open(tmp_path / "a.gif")
    for i, f in enumerate(frames):
        gif.seek(i)
        np.testing.assert_array_equal(np.asarray(gif.convert("RGB")), f)
    assert durations(gif) == [30, 40, 30, 30, 40, 30, 30]  # 1/30 s in whole hundredths, no drift
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"], "no temporary file left"


def test_write_gif_and_gif_bytes_follow_the_one_timing_rule(tmp_path):
    """Frame k ends at round((k + 1) * frame_seconds, 2) s: 15 ms frames take 10 or 20 ms and six end at 90 ms
    (rounding each frame on its own, to at least 20 ms, played them 33 % slow)."""
    frames = coloured_frames()
    path = write_gif(tmp_path / "b.gif", frames, 0.015)
    from_file = durations(Image.open(path))
    from_bytes = durations(Image.open(io.BytesIO(gif_bytes(frames, 0.015))))
    assert from_file == from_bytes
    ends = np.cumsum(from_file)
    assert ends.tolist() == [10 * round(100 * (k + 1) * 0.015) for k in range(6)] and ends[-1] == 90
    assert path.read_bytes() == gif_bytes(frames, 0.015), "one encoder: the same bytes"


def test_a_failed_or_empty_recording_leaves_nothing(tmp_path):
    writer = GifWriter(tmp_path / "empty.gif", (40, 30), 0.05)
    assert writer.close() == tmp_path / "empty.gif"
    writer = GifWriter(tmp_path / "broken.gif", (40, 30), 0.05)
    writer.write(coloured_frames(1)[0])
    with pytest.raises(ValueError, match="shape"):
        writer.write(np.zeros((10, 10, 3), dtype=np.uint8))
    writer.abort()

    def frames():
        yield coloured_frames(1)[0]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_gif(tmp_path / "interrupted.gif", frames(), 0.05)
    with pytest.raises(ValueError, match="no frames"):
        write_gif(tmp_path / "none.gif", [], 0.05)
    assert list(tmp_path.iterdir()) == []
