"""The README's benchmark commands run on this tree (in their short modes; the numbers are not
checked, only that each script runs to the end and reports what it measures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(*args: str) -> str:
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / args[0]), *args[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


def test_generation_benchmark_times_this_tree_against_another():
    out = run_benchmark("bench_generation.py", "--roads", "3", "--repeat", "1", "--against", str(ROOT))
    for family in ("gentle", "twisty", "hairpin"):
        assert f"  {family} " in out and "ms/road" in out, out
    assert "other / this:" in out, out


@pytest.mark.parametrize("pool", [[], ["--one-road"]])
def test_breakdown_benchmark_reports_the_parts_of_a_step(pool):
    out = run_benchmark("bench_breakdown.py", "--steps", "3", *pool)
    assert "thread pool:" in out and "one thread:" in out and "copy rate" in out, out
    assert ("one road" if pool else "400-road pool") in out, out


@pytest.mark.slow
def test_env_benchmark_runs_its_measurements_against_a_checkout(tmp_path):
    out = run_benchmark(
        "bench_env.py",
        "--quick",
        "--repeat",
        "1",
        "--only",
        "single,rays-256,first-reset",
        "--against",
        str(ROOT),
        "--json",
        str(tmp_path / "env.json"),
    )
    for name in ("single", "rays-256", "first-reset"):
        assert name in out, out
    assert (tmp_path / "env.json").is_file()
