"""Time each cell of the notebook, run top to bottom by nbclient as the test suite runs it.

For every code cell: wall time, and CPU time of the kernel process plus the worker processes it
started and waited for (``/proc/PID/stat``: utime + stime + cutime + cstime), so a figure taken on
a busy shared machine still says what a quiet one would need. Full settings unless ``--quick``
(``ROADSCHOOL_NOTEBOOK_QUICK=1``). Outputs go to a temporary folder; the notebook file is not changed.

    python benchmarks/notebook_times.py [--quick] [--json OUT] [--executed OUT.ipynb]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "teaching-a-car-to-steer.ipynb"


def cpu_seconds(pid: int) -> float:
    """CPU time of process ``pid`` and of its children it has waited for [s]."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def main(argv=None) -> int:
    import nbclient
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the test suite's quick settings")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--executed", type=Path, help="write the notebook with its outputs here (to read the results)")
    args = parser.parse_args(argv)
    os.environ["ROADSCHOOL_NOTEBOOK_QUICK"] = "1" if args.quick else "0"
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    rows, start = [], {}

    with tempfile.TemporaryDirectory() as tmp:
        client = nbclient.NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": tmp}})

        def pid() -> int:
            return client.km.provisioner.process.pid

        def on_start(cell, cell_index, **_):
            start["wall"], start["cpu"] = time.perf_counter(), cpu_seconds(pid())

        def on_done(cell, cell_index, **_):
            first = "".join(cell.source).strip().splitlines()[0][:60] if cell.source.strip() else ""
            rows.append(
                {
                    "cell": cell_index,
                    "first_line": first,
                    "wall_s": round(time.perf_counter() - start["wall"], 1),
                    "cpu_s": round(cpu_seconds(pid()) - start["cpu"], 1),
                }
            )
            print(
                f"cell {cell_index:2d}: {rows[-1]['wall_s']:7.1f} s wall, {rows[-1]['cpu_s']:7.1f} s CPU  {first}",
                flush=True,
            )

        client.on_cell_execute = on_start
        client.on_cell_executed = on_done
        clock = time.perf_counter()
        client.execute()
        total = time.perf_counter() - clock
    if args.executed:
        nbformat.write(nb, args.executed)
    cpu = sum(r["cpu_s"] for r in rows)
    print(
        f"{'quick' if args.quick else 'full'} settings: {total:.0f} s wall in all (kernel start included), "
        f"{sum(r['wall_s'] for r in rows):.0f} s in the cells, {cpu:.0f} s of CPU in the cells; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"quick": args.quick, "total_wall_s": round(total, 1), "cells": rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
