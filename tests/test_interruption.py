"""Killed mid-run, nothing is lost or left half-written: ``train`` keeps a valid last checkpoint that
``--resume`` continues exactly; a killed ``collect`` leaves no file."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from agents.data import CollectConfig, collect
from agents.model import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sims.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def checkpoint_epoch(path: Path) -> int:
    try:
        return int(load_checkpoint(path)["epoch"]) if path.exists() else 0
    except Exception:  # noqa: BLE001 - a half-written checkpoint would show here, and fail the test below
        return -1


@pytest.mark.slow
def test_train_killed_with_sigkill_resumes_exactly(tmp_path):
    collect(CollectConfig(num_roads=2, max_steps=200)).save(tmp_path / "data.npz")
    epochs = "60"
    common = [
        "--data",
        str(tmp_path / "data.npz"),
        "--epochs",
        epochs,
        "--hidden",
        "32",
        "--batch-size",
        "64",
        "--print-every",
        "0",
    ]
    out = tmp_path / "killed.pt"
    proc = cli("train", *common, "--out", str(out))
    deadline = time.monotonic() + 120
    while checkpoint_epoch(out) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = checkpoint_epoch(out)
    assert 3 <= killed_at < int(epochs)  # a valid checkpoint of an epoch before the end
    for args in (["--out", str(out), "--resume", str(out)], ["--out", str(tmp_path / "whole.pt")]):
        p = cli("train", *common, *args)
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
    a, b = load_checkpoint(out), load_checkpoint(tmp_path / "whole.pt")
    assert a["epoch"] == b["epoch"] == int(epochs)
    for key, value in b["model_state"].items():
        assert torch.equal(a["model_state"][key], value), key
    assert a["history"]["train_loss"] == b["history"]["train_loss"]


@pytest.mark.slow
def test_collect_killed_leaves_no_file(tmp_path):
    out = tmp_path / "data.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sims.cli", "collect", "--roads", "400", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen = b""
    deadline = time.monotonic() + 300
    while b"collect" not in seen and time.monotonic() < deadline:  # its progress bar: the cars are driving
        chunk = os.read(proc.stderr.fileno(), 256)
        if not chunk:
            break
        seen += chunk
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert b"collect" in seen, seen
    assert proc.returncode == -signal.SIGKILL, "collect finished before it was killed: the test needs more roads"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_soak_short_version_keeps_resident_memory_flat(tmp_path):
    """``benchmarks/soak.py --quick``: 200,000 car-steps with autoresets, and 4,000 rendered steps in
    episodes of 4 steps, which meet some 800 roads of the default pool. Before the road caches were
    bounded the single env kept every road it met (about 140 kB a road) and this grew by 79 MB."""
    import json

    from envs.generation import ROAD_CACHE_BYTES
    from envs.road_batch import DEAD_ROWS_BYTES, ROW_BYTES

    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(out.read_text())
    vector, single = figures["results"]
    for result in figures["results"]:
        assert result["max_growth_mb"] <= figures["limit_mb"], result
        assert result["episodes_ended"] > 0  # the autoresets and resets were exercised
    assert single["roads_met"] >= 600, single  # many more roads than the caches keep
    assert single["road_cache_bytes"] <= ROAD_CACHE_BYTES, single
    # the dead roads' budget plus four times the road in use (about 1,000 rows), up to twice that as the tables fill
    assert single["road_table_rows_used"] <= 2 * (DEAD_ROWS_BYTES // ROW_BYTES) + 8 * 2000, single
