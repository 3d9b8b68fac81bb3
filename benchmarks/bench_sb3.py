"""Stable-Baselines3's view of the env: ``agents.sb3.FleetVecEnv`` (the native vector env) against
SB3's ``DummyVecEnv`` over single ``gymnasium.make`` envs, same N, same random actions, measured
alternately in one run (median of ``--repeats``); then PPO's learning speed on each.

    python benchmarks/bench_sb3.py [--envs 16 64] [--steps 4000] [--repeats 3] [--ppo-steps 8192]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np


def steps_per_second(venv, steps: int) -> float:
    n = venv.num_envs
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (64, n, 1)).astype(np.float32)
    venv.reset()
    clock = time.perf_counter()
    for t in range(steps):
        venv.step(actions[t % 64])
    return n * steps / (time.perf_counter() - clock)


def ppo_steps_per_second(venv, steps: int) -> float:
    import torch
    from stable_baselines3 import PPO

    torch.manual_seed(0)
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=512, n_epochs=5, seed=0, device="cpu")
    clock = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - clock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--steps", type=int, default=4000, help="vector steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ppo-steps", type=int, default=8192, help="PPO env steps per measurement (0: skip)")
    args = parser.parse_args()

    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    import envs
    from agents.sb3 import FleetVecEnv

    torch.set_num_threads(1)
    envs.jit.set_threads(1)
    makers = {
        "FleetVecEnv": lambda n: FleetVecEnv(n, seed=0),
        "DummyVecEnv": lambda n: DummyVecEnv([lambda: gym.make(envs.ENV_ID) for _ in range(n)]),
    }
    print("env steps per second, random actions, one thread (median of repeats, range):")
    for n in args.envs:
        venvs = {name: make(n) for name, make in makers.items()}
        for venv in venvs.values():
            steps_per_second(venv, 50)  # compile / warm up
        results = {name: [] for name in venvs}
        for _ in range(args.repeats):
            for name, venv in venvs.items():  # alternately, so both see the same machine
                results[name].append(steps_per_second(venv, args.steps))
        for name, values in results.items():
            print(
                f"  N = {n:>4}  {name:<12} {statistics.median(values):>12,.0f}  ({min(values):,.0f}-{max(values):,.0f})"
            )
        ratio = statistics.median(results["FleetVecEnv"]) / statistics.median(results["DummyVecEnv"])
        print(f"  N = {n:>4}  ratio        {ratio:.1f}x")
    if args.ppo_steps:
        n = 16
        print(f"PPO learning (MlpPolicy, N = {n}, n_steps 256, batch 512, 5 epochs), env steps per second:")
        for name, make in makers.items():
            values = [ppo_steps_per_second(make(n), args.ppo_steps) for _ in range(args.repeats)]
            print(f"  {name:<12} {statistics.median(values):>10,.0f}  ({min(values):,.0f}-{max(values):,.0f})")


if __name__ == "__main__":
    main()
