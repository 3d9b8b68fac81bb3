"""Speed of procedural road generation: milliseconds per fresh road, for each family.

    python benchmarks/bench_generation.py [--roads N] [--repeat R] [--json OUT]
    python benchmarks/bench_generation.py --impl-path DIR      # time the tree at DIR instead
    python benchmarks/bench_generation.py --against DIR        # this tree and DIR, alternately
    python benchmarks/bench_generation.py --impl-path A --against B   # two other trees

Each run draws roads ``0 .. N-1`` of the ``train`` split of every family with
``envs.generation._draw`` (in an older tree, ``_generate`` after clearing its cache), so every road is drawn afresh
(redraws of roads that came too close to themselves included). A run is repeated
(``--repeat``, default 3) and reported as the median with the range, because this
machine's speed varies from minute to minute. The first road of the process is timed
on its own (``first_road_s``): it includes compiling the kernels, or loading them from
numba's cache.

``--impl-path DIR`` imports ``envs`` from ``DIR`` (another checkout, e.g. the commit
before a change) instead of this tree. ``--against DIR`` runs this tree and ``DIR`` in
fresh subprocesses, one run of each in turn, ``--repeat`` times, and reports both
medians and their ratio, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("gentle", "twisty", "hairpin")
DEFAULT_FAMILIES = ("gentle", "twisty")  # what the envs draw unless told otherwise


def time_tree(roads: int, repeat: int, families) -> dict:
    """Time generation in this process (``envs`` must be importable): ms per road per family."""
    import envs
    from envs.generation import FAMILIES as FAMILY_BY_NAME

    try:  # this tree: `_draw` draws a road afresh at every call (the cache lies around it)
        from envs.generation import _draw as draw

        def clear() -> None:
            pass
    except ImportError:  # an older tree (ad62041 and before): a cached `_generate`
        from envs.generation import _generate as draw

        clear = draw.cache_clear

    t = time.perf_counter()
    draw("unseen", FAMILY_BY_NAME[families[0]], 0)
    first_road_s = time.perf_counter() - t
    for name in families:  # warm every family's path before timing
        draw("unseen", FAMILY_BY_NAME[name], 1)
    runs = {name: [] for name in families}
    for _ in range(repeat):
        for name in families:
            family = FAMILY_BY_NAME[name]
            clear()
            t = time.perf_counter()
            for index in range(roads):
                draw("train", family, index)
            runs[name].append(1e3 * (time.perf_counter() - t) / roads)
    return {
        "envs": str(Path(envs.__file__).parent),
        "roads": roads,
        "first_road_s": first_road_s,
        "ms_per_road": {name: statistics.median(v) for name, v in runs.items()},
        "runs_ms_per_road": runs,
    }


def time_in_subprocess(tree: Path, roads: int, repeat: int, families) -> dict:
    """Time the tree at ``tree`` in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, __file__, "--impl-path", str(tree), "--in-process"]
        command += ["--roads", str(roads), "--repeat", str(repeat), "--families", *families, "--json", str(out)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def report(result: dict) -> None:
    print(f"envs from {result['envs']}: first road {result['first_road_s']:.2f} s")
    for name, ms in result["ms_per_road"].items():
        runs = result["runs_ms_per_road"][name]
        print(f"  {name:8s} {ms:7.3f} ms/road  (range {min(runs):.3f} .. {max(runs):.3f}, {result['roads']} roads)")
    defaults = [result["ms_per_road"][f] for f in DEFAULT_FAMILIES if f in result["ms_per_road"]]
    if len(defaults) == len(DEFAULT_FAMILIES):
        print(f"  default families (gentle, twisty): {statistics.mean(defaults):.3f} ms/road on average")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roads", type=int, default=300, help="fresh roads per family and run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--impl-path", type=Path, help="import envs from this tree instead of this one")
    parser.add_argument("--against", type=Path, help="time this tree (or --impl-path) and this one alternately")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.against is not None:
        trees = {"this": (args.impl_path or ROOT).resolve(), "other": args.against.resolve()}
        runs = {key: [] for key in trees}
        for _ in range(args.repeat):
            for key, tree in trees.items():
                runs[key].append(time_in_subprocess(tree, args.roads, 1, args.families))
        results = {}
        for key, rs in runs.items():
            per_run = {name: [r["ms_per_road"][name] for r in rs] for name in args.families}
            results[key] = {
                "envs": rs[0]["envs"],
                "roads": args.roads,
                "first_road_s": statistics.median(r["first_road_s"] for r in rs),
                "ms_per_road": {name: statistics.median(v) for name, v in per_run.items()},
                "runs_ms_per_road": per_run,
            }
            report(results[key])
        this, other = results["this"]["ms_per_road"], results["other"]["ms_per_road"]
        ratio = {name: other[name] / this[name] for name in args.families}
        results["other_over_this"] = ratio
        print("other / this: " + ", ".join(f"{name} {r:.1f}x" for name, r in ratio.items()))
    elif args.impl_path is not None and not args.in_process:
        results = time_in_subprocess(args.impl_path.resolve(), args.roads, args.repeat, args.families)
        report(results)
    else:
        sys.path.insert(0, str(args.impl_path.resolve() if args.impl_path else ROOT))
        results = time_tree(args.roads, args.repeat, args.families)
        report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
