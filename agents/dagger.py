"""DAgger: let the learner drive, have the expert label what it saw, aggregate, retrain."""

from __future__ import annotations

import dataclasses

from agents.data import CollectConfig, Dataset, collect
from agents.drivers import PolicyDriver
from agents.model import SteeringPolicy
from agents.training import History, TrainConfig, train


def dagger(
    policy: SteeringPolicy,
    data: Dataset,
    test_data: Dataset | None,
    rounds: int,
    collect_config: CollectConfig,
    train_config: TrainConfig,
    checkpoint=None,
    log=print,
    progress: bool = False,
) -> tuple[SteeringPolicy, Dataset, list[History]]:
    """Run ``rounds`` rounds of DAgger starting from ``policy`` trained on ``data``.

    Each round drives the learner (no injected noise) on the configured roads
    with a fresh seed, labels every visited state with the expert, appends those
    steps to the data and retrains from scratch on the aggregate.
    """
    histories = []
    for k in range(1, rounds + 1):
        cfg = dataclasses.replace(collect_config, noise_std=0.0, seed=collect_config.seed + 7919 * k)
        visited = collect(cfg, driver=PolicyDriver(policy), progress=progress)
        data = data.concatenate(visited)
        log(f"DAgger round {k}/{rounds}: +{len(visited)} learner-visited steps, {len(data)} in all")
        policy, history = train(
            data,
            test_data,
            train_config,
            checkpoint=checkpoint,
            log=log,
            extra_metadata={"dagger_rounds": k},
        )
        histories.append(history)
    return policy, data, histories
