"""An experiment grid whose worker dies names the run that failed; rerun with ``resume`` it skips the
finished runs."""

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sims.experiments.grid import Backend, RunFailed, run_grid


@dataclass(frozen=True)
class Job:
    value: int
    folder: str


def job(spec: Job) -> dict:
    folder = Path(spec.folder)
    with open(folder / "ran.txt", "a") as fh:
        fh.write(f"{spec.value}\n")
    if spec.value == 3 and (folder / "die").exists():
        os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies, as if killed or out of memory
    return {
        "row": {"value": spec.value, "square": spec.value**2},
        "details": {"weights": np.arange(spec.value, dtype=np.float32)},
    }


@pytest.mark.slow
def test_a_dead_worker_is_named_and_resume_skips_the_finished_runs(tmp_path):
    (tmp_path / "die").write_text("")
    specs = [Job(v, str(tmp_path)) for v in range(6)]
    store = tmp_path / "store"
    with pytest.raises(RunFailed, match=r"worker process died .*Job\(value=3.*rerun with --resume"):
        run_grid(job, specs, Backend("local", workers=2), describe=repr, log=lambda line: None, store=store)
    finished = len(list(store.glob("*.json")))
    assert 0 < finished < 6 or finished == 5
    (tmp_path / "die").unlink()
    (tmp_path / "ran.txt").write_text("")
    results = run_grid(
        job, specs, Backend("local", workers=2), describe=repr, log=lambda line: None, store=store, resume=True
    )
    assert [r["row"]["square"] for r in results] == [v * v for v in range(6)]
    assert all(np.array_equal(r["details"]["weights"], np.arange(v, dtype=np.float32)) for v, r in enumerate(results))
    ran_again = sorted(int(x) for x in (tmp_path / "ran.txt").read_text().split())
    assert 3 in ran_again and len(ran_again) == 6 - finished  # only the runs that had not finished
