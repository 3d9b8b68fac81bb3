"""Speed of the learning side: training throughput, closed-loop evaluation, the demo.

    python benchmarks/bench_learning.py [--json OUT]

* training throughput of the standard MLP loop on in-memory tensors (samples/s),
  for minibatches of 256 and for full-batch training;
* evaluating a policy on 200 unseen roads (seconds, road generation excluded and included);
* expert data collection (steps/s).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from agents.data import CollectConfig, collect  # noqa: E402
from agents.drivers import ExpertDriver, PolicyDriver  # noqa: E402
from agents.evaluation import evaluate  # noqa: E402
from agents.training import TrainConfig, train  # noqa: E402
from envs.generation import (
    _generate,  # noqa: E402
    split_roads,  # noqa: E402
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    results = {}

    t = time.perf_counter()
    data = collect(CollectConfig(num_roads=200))
    seconds = time.perf_counter() - t
    results["collect_200_roads_s"] = seconds
    results["collect_steps_per_s"] = len(data) / seconds

    for label, batch in (("minibatch_256", 256), ("full_batch", 0)):
        epochs = 3 if batch else 30
        _, history = train(data, None, TrainConfig(epochs=epochs, batch_size=batch, print_every=0))
        per_epoch = history.seconds[-1] / epochs
        results[f"train_{label}_samples_per_s"] = len(data) / per_epoch
    policy, _ = train(data, None, TrainConfig(epochs=3, print_every=0))

    _generate.cache_clear()
    t = time.perf_counter()
    roads = split_roads("unseen", 200, ("gentle", "twisty"))
    results["generate_200_roads_s"] = time.perf_counter() - t
    for name, driver in (("learner", PolicyDriver(policy)), ("expert", ExpertDriver())):
        t = time.perf_counter()
        evaluate(driver, roads)
        results[f"evaluate_{name}_200_unseen_roads_s"] = time.perf_counter() - t

    width = max(len(k) for k in results)
    print(f"training samples: {len(data)}; torch threads: {torch.get_num_threads()}")
    for key, value in results.items():
        print(f"{key:<{width}}  {value:>12,.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
