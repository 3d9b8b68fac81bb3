"""The dashcam against Gymnasium's pixel driving env ``CarRacing-v3`` in one run, and the camera CNN's
training throughput.

Measurements, alternated round by round (``--repeat`` rounds), reported as the median with the range:

* ``carracing``: ``gymnasium.make("CarRacing-v3")`` (96x96 RGB, Box2D + pygame), no render mode,
  a fixed action ``[0, 0.1, 0]``, reset whenever an episode ends: steps/s. Needs
  ``pip install "box2d==2.3.10"`` (Gymnasium's ``box2d`` extra); skipped with a note if missing;
* ``camera-single``: ``gymnasium.make("roadschool/RoadFollow-v0", observation="camera")`` (32x64
  RGB by default), fixed action ``[0.0]``: steps/s;
* ``camera-256``: the vector env with 256 cars, ``observation="camera"``: car-steps/s;
* ``cnn-train``: the camera demo's PilotNet-style CNN, one optimizer step on minibatches of 128
  uint8 frames (brightness and flip augmentations on): training samples/s (torch on 2 threads).

The machine is shared: compare the ratios from one run, not figures from different runs.

    python benchmarks/bench_camera.py [--seconds 4] [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def carracing(seconds: float) -> float | None:
    import gymnasium as gym
    import numpy as np

    try:
        env = gym.make("CarRacing-v3")
    except Exception as exc:  # box2d not installed
        print(f"CarRacing-v3 unavailable ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None
    env.reset(seed=0)
    action = np.array([0.0, 0.1, 0.0], dtype=np.float32)
    for _ in range(50):  # the zoom-in frames at the start
        env.step(action)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(action)
        steps += 1
        if terminated or truncated:
            env.reset()
    env.close()
    return steps / (time.perf_counter() - start)


def camera_single(seconds: float) -> float:
    import gymnasium as gym

    import envs

    env = gym.make(envs.ENV_ID, observation="camera")
    env.reset(seed=0)
    for _ in range(20):
        env.step([0.0])
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step([0.0])
        steps += 1
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def camera_vector(seconds: float, n: int = 256) -> float:
    import numpy as np

    import envs

    env = envs.RoadFollowVectorEnv(n, observation="camera")
    env.reset(seed=0)
    actions = np.zeros((n, 1))
    for _ in range(5):
        env.step(actions)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(actions)
        steps += 1
    return n * steps / (time.perf_counter() - start)


def cnn_train(seconds: float, batch: int = 128) -> float:
    import torch

    from agents.model import Architecture, NetConfig, SteeringNet
    from agents.training import TrainConfig, augment
    from envs import RoadFollowConfig

    torch.set_num_threads(2)
    torch.manual_seed(0)
    height, width = RoadFollowConfig().camera_size
    config = TrainConfig(net=Architecture(hidden=(100, 50, 10)), augment_flip=True, augment_brightness=0.2)
    model = SteeringNet(NetConfig("camera", (height, width, 3), config.net))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    frames = torch.randint(0, 256, (4096, height, width, 3), dtype=torch.uint8)
    labels = torch.rand(4096, 1) * 2 - 1
    generator = torch.Generator().manual_seed(0)
    samples, start, k = 0, None, 0
    while start is None or time.perf_counter() - start < seconds:
        if k == 3:
            start = time.perf_counter()  # after warm-up
        idx = torch.randint(0, 4096, (batch,), generator=generator)
        x, y = augment(frames[idx], labels[idx], config, generator)
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        samples += batch if start is not None else 0
        k += 1
    return samples / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"carracing": [], "camera-single": [], "camera-256": [], "cnn-train": []}
    for round_ in range(args.repeat):
        for name, measure in (
            ("carracing", carracing),
            ("camera-single", camera_single),
            ("camera-256", camera_vector),
            ("cnn-train", cnn_train),
        ):
            value = measure(args.seconds)
            if value is not None:
                runs[name].append(value)
            print(f"round {round_ + 1}: {name} {value if value is None else round(value, 1)}", file=sys.stderr)
    summary = {k: {"median": statistics.median(v), "min": min(v), "max": max(v)} for k, v in runs.items() if v}
    units = {"carracing": "steps/s", "camera-single": "steps/s", "camera-256": "car-steps/s", "cnn-train": "samples/s"}
    print(f"{'measurement':<16}{'median':>14}{'range':>26}")
    for name, s in summary.items():
        print(f"{name:<16}{s['median']:>14,.0f}{s['min']:>12,.0f} - {s['max']:<11,.0f}{units[name]}")
    if "carracing" in summary:
        base = summary["carracing"]["median"]
        for name in ("camera-single", "camera-256"):
            print(f"{name} / CarRacing-v3: {summary[name]['median'] / base:.0f}x")
        summary["ratios"] = {n: summary[n]["median"] / base for n in ("camera-single", "camera-256")}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
