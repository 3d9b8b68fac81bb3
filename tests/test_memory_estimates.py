"""watch, play and replay estimate the memory a request would take and refuse, in one line with exit
code 2, before a window opens or a file is written, what the machine cannot hold."""

import json

import numpy as np
import pytest

from agents.trajectory import COLUMNS
from envs import limits
from sims import memory
from sims.episodes import EPISODE_FORMAT, EPISODE_FORMAT_VERSION
from tests.test_hostile_input import refused


@pytest.fixture
def small_machine(monkeypatch):
    """A machine of 1 GiB of RAM (so at most 0.8 GiB a request)."""
    monkeypatch.setattr(limits, "machine_memory", lambda: 2**30)


def test_window_and_recording_estimates_grow_with_the_pixels():
    small, large = (640, 480), (4096, 4096)
    assert memory.window_bytes(large) > 40 * memory.window_bytes(small) / 2  # pixels times 55, tiles capped
    assert memory.recording_bytes(large) == pytest.approx(memory.recording_bytes(small) * (4096 * 4096) / (640 * 480))
    assert memory.window_bytes(small, panels=2) > memory.window_bytes(small)  # two panels' road tiles
    assert memory.recording_bytes(small, queued=False) < memory.recording_bytes(small) / 5


def test_play_recording_a_hundred_thousand_image_roads_is_refused_before_the_window(tmp_path, capsys):
    out = tmp_path / "me.npz"
    err = refused(
        capsys, "play", "--record", str(out), "--roads", "100000", "--observation", "image", "--max-frames", "1"
    )
    assert "would need about" in err and "100000 roads of image observations" in err and "TiB" in err, err
    assert not out.exists()


def test_watch_recording_a_large_window_is_refused_on_a_small_machine(small_machine, tmp_path, capsys):
    out = tmp_path / "w.gif"
    err = refused(
        capsys, "watch", "--policy", "expert", "--size", "4096x4096", "--record", str(out), "--max-frames", "1"
    )
    assert "watch in a 4096x4096 window recording" in err and "would need about 1." in err, err
    assert list(tmp_path.iterdir()) == []


def test_watch_in_a_small_window_is_not_refused_on_a_small_machine(small_machine):
    memory.check_watch((640, 480), record="w.gif")  # about 70 MiB: no error
    assert memory.window_bytes((640, 480), panels=2) + memory.recording_bytes((640, 480)) < 0.1 * 2**30


def _compressed_episode(path, steps: int) -> None:
    """An episode file whose track of ``steps`` rows of zeros packs into a few kB per million rows."""
    points = np.column_stack([np.linspace(0.0, 100.0, 201), np.zeros(201)])
    meta = {
        "road": {"name": "bomb", "width": 7.0, "closed": False, "spacing": 0.5},
        "dt": 0.05,
        "columns": list(COLUMNS),
        "format": EPISODE_FORMAT,
        "format_version": EPISODE_FORMAT_VERSION,
    }
    np.savez_compressed(
        path,
        metadata=np.array(json.dumps(meta)),
        track=np.zeros((steps, len(COLUMNS))),
        ghost=np.zeros((0, len(COLUMNS))),
        road_points=points,
    )


def test_replay_of_an_episode_that_unpacks_past_the_memory_is_refused_before_reading_it(
    small_machine, tmp_path, capsys
):
    bomb = tmp_path / "bomb.npz"
    _compressed_episode(bomb, 16_000_000)  # 0.9 GB of track in a file of about 1 MB
    assert bomb.stat().st_size < 2e6
    assert memory.episode_file_bytes(bomb) > 16_000_000 * len(COLUMNS) * 8
    err = refused(capsys, "replay", str(bomb), "--out", str(tmp_path / "r.gif"), "--max-frames", "1")
    assert "would need about" in err and "bomb.npz" in err, err
    err = refused(capsys, "replay", str(tmp_path), "--max-frames", "1")  # a folder: its largest file is named
    assert "bomb.npz" in err, err
    assert not (tmp_path / "r.gif").exists()


def test_episode_estimate_reads_headers_and_leaves_damaged_files_to_the_loader(tmp_path):
    good = tmp_path / "good.npz"
    _compressed_episode(good, 100)
    assert memory.episode_file_bytes(good) >= 100 * len(COLUMNS) * 8 + 201 * 16
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")
    assert memory.episode_file_bytes(damaged) is None
