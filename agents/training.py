"""The standard training loop, step for step as in the tutorial it comes from.

For each epoch: ``model.train()``; for each minibatch: forward pass, loss,
``optimizer.zero_grad()``, ``loss.backward()``, ``optimizer.step()``. Then
``model.eval()`` and, inside ``torch.inference_mode()``, the test loss on
unseen-road data. Data lives in memory as tensors and is shuffled with a
seeded generator, so two runs with the same seed give identical weights.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agents.configs import Architecture, TrainConfig  # noqa: F401 - Architecture is re-exported
from agents.data import Dataset, config_to_dict
from agents.model import (
    CheckpointError,
    NetConfig,
    SteeringNet,
    SteeringPolicy,
    load_checkpoint,
    net_from_checkpoint,
    save_checkpoint,
)
from envs.atomic import check_output_path


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the message says at which epoch and what was kept."""


@dataclass
class History:
    """Per-epoch losses and timings of a run."""

    epoch: list[int] = dataclasses.field(default_factory=list)
    train_loss: list[float] = dataclasses.field(default_factory=list)
    test_loss: list[float] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    train_loss_by_action: list[list[float]] = dataclasses.field(default_factory=list)
    """Per epoch, the training loss of each output (steering, then throttle if there is one)."""
    test_loss_by_action: list[list[float]] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def to_tensors(data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    obs = torch.from_numpy(np.ascontiguousarray(data.obs))
    if obs.dtype != torch.uint8:
        obs = obs.float()
    labels = torch.from_numpy(np.ascontiguousarray(data.action, dtype=np.float32))
    return obs, labels.reshape(len(labels), -1)


ACTION_NAMES = ("steer", "throttle")


def augment(x: torch.Tensor, y: torch.Tensor, config: TrainConfig, generator: torch.Generator):
    """The training loop's optional augmentations of a minibatch of camera frames ``x[B, H, W, 3]``
    (uint8) and steering labels ``y[B, 1]``, drawn from ``generator``: brightness scaled per frame
    (``config.augment_brightness``), and half the frames mirrored left-right with their steering
    negated (``config.augment_flip``; the road's markings are symmetric, so a mirrored frame is a
    frame of the mirrored road). Returns float frames."""
    x = x.float()
    if config.augment_brightness > 0.0:
        scale = 1.0 + config.augment_brightness * (2.0 * torch.rand(len(x), 1, 1, 1, generator=generator) - 1.0)
        x = (x * scale).clamp_(0.0, 255.0)
    if config.augment_flip:
        flip = torch.rand(len(x), generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(2), x)
        y = torch.where(flip[:, None], -y, y)
    return x, y


def evaluate_loss(model: nn.Module, obs: torch.Tensor, labels: torch.Tensor, batch_size: int = 8192) -> float:
    """Mean squared error over a dataset, with gradients off."""
    return float(evaluate_loss_by_action(model, obs, labels, batch_size).mean())


def evaluate_loss_by_action(model: nn.Module, obs: torch.Tensor, labels: torch.Tensor, batch_size: int = 8192):
    """``[A]`` mean squared error of each output over a dataset, with gradients off."""
    model.eval()
    total = torch.zeros(labels.shape[1], dtype=torch.float64)
    with torch.inference_mode():
        for i in range(0, len(obs), batch_size):
            pred = model(obs[i : i + batch_size])
            total += ((pred - labels[i : i + batch_size]) ** 2).sum(dim=0).double()
    return (total / max(1, len(obs))).numpy()


def train(
    train_data: Dataset,
    test_data: Dataset | None,
    config: TrainConfig = TrainConfig(),
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    log=print,
    extra_metadata: dict | None = None,
    on_epoch: Callable[[History, float], None] | None = None,
) -> tuple[SteeringPolicy, History]:
    """Train a :class:`SteeringNet` on ``train_data``; report the test loss on ``test_data``.

    Args:
        checkpoint: where to write the checkpoint (atomically) at the end and every
            ``checkpoint_every`` epochs.
        resume: a checkpoint to continue from (its weights, optimizer state,
            epoch and history); ``config.epochs`` is the total to reach.
        log: where epoch lines go (``print`` by default).
        on_epoch: called after every epoch with the history so far and the learning rate
            that epoch used (e.g. to write TensorBoard scalars as training goes).
    """
    if len(train_data) == 0:
        raise ValueError("the training dataset is empty")
    if checkpoint is not None:
        check_output_path(checkpoint)
    if test_data is not None and test_data.observation != train_data.observation:
        raise ValueError("training and test data hold different observation types")
    torch.manual_seed(config.seed)
    obs, labels = to_tensors(train_data)
    test_obs, test_labels = to_tensors(test_data) if test_data is not None else (None, None)

    # the model: a new one, or the one a checkpoint describes
    start_epoch, history, payload = 0, History(), None
    if resume is not None:
        payload = load_checkpoint(resume)
        model = net_from_checkpoint(payload, resume)
        if model.config.observation != train_data.observation:
            raise CheckpointError(
                f"{resume}: was trained on {model.config.observation!r}, not {train_data.observation!r}"
            )
        if model.config.obs_shape != tuple(obs.shape[1:]):
            raise CheckpointError(
                f"{resume}: reads observations of shape {model.config.obs_shape}, "
                f"the dataset holds {tuple(obs.shape[1:])}"
            )
        start_epoch = int(payload.get("epoch", 0))
        history = History(**payload.get("history", {}))
    else:
        net_config = NetConfig(train_data.observation, tuple(obs.shape[1:]), config.net, outputs=labels.shape[1])
        model = SteeringNet(net_config)
        sample = 4096 if train_data.observation == "camera" else 50_000  # camera frames are big as floats
        model.set_normalization(
            obs[torch.randperm(len(obs), generator=torch.Generator().manual_seed(config.seed))[:sample]]
        )

    # the mechanic: an optimizer, and a schedule that calms it down towards the end
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    if payload is not None and "optimizer_state" in payload:
        optimizer.load_state_dict(payload["optimizer_state"])
    total_epochs = max(config.epochs, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda e: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(e, total_epochs) / total_epochs)),
        last_epoch=start_epoch - 1,
    )
    loss_fn = nn.MSELoss()
    batch_size = len(obs) if config.batch_size == 0 else min(config.batch_size, len(obs))

    meta = {
        "observation": train_data.observation,
        "train_config": config_to_dict(config),
        "env": train_data.metadata.get("env"),
        "train_data": {"roads": len(train_data.road_names), "samples": len(train_data)},
        **(extra_metadata or {}),
    }
    clock = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        # --- training: drive, analyze, fix, repeat
        model.train()
        # each epoch's shuffle depends only on (seed, epoch), so a resumed run matches an uninterrupted one
        shuffler = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        order = torch.randperm(len(obs), generator=shuffler)
        augmenter = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch + 500_009)
        running, seen = 0.0, 0
        running_by_action = torch.zeros(labels.shape[1], dtype=torch.float64)
        for i in range(0, len(obs), batch_size):
            idx = order[i : i + batch_size]
            x, y = obs[idx], labels[idx]  # the data step: a minibatch (uint8 frames stay uint8 until here)
            if config.augments:
                x, y = augment(x, y, config, augmenter)
            pred = model(x)  # 1. forward pass
            loss = loss_fn(pred, y)  # 2. calculate the loss
            if not torch.isfinite(loss):  # diverged: stop before the step spoils the weights
                _diverged(epoch + 1, checkpoint, history)
            optimizer.zero_grad()  # 3. optimizer zero grad
            loss.backward()  # 4. loss backward (backpropagation)
            optimizer.step()  # 5. optimizer step (gradient descent)
            running += loss.item() * len(idx)
            running_by_action += ((pred.detach() - y) ** 2).sum(dim=0).double()
            seen += len(idx)
        schedule.step()

        # --- testing: drive, observe, no changes
        model.eval()
        with torch.inference_mode():
            test_by_action = (
                evaluate_loss_by_action(model, test_obs, test_labels)
                if test_obs is not None
                else np.full(labels.shape[1], np.nan)
            )
            test_loss = float(test_by_action.mean())
        if not math.isfinite(running / seen) or (test_obs is not None and not math.isfinite(test_loss)):
            _diverged(epoch + 1, checkpoint, history)

        history.epoch.append(epoch + 1)
        history.train_loss.append(running / seen)
        history.test_loss.append(test_loss)
        history.seconds.append(time.perf_counter() - clock)
        train_by_action = (running_by_action / seen).numpy()
        history.train_loss_by_action.append(train_by_action.tolist())
        history.test_loss_by_action.append(test_by_action.tolist())
        if config.print_every and ((epoch + 1) % config.print_every == 0 or epoch + 1 == config.epochs):
            line = f"Epoch: {epoch + 1} | Train Loss: {running / seen:.6f}"
            if test_obs is not None:
                line += f" | Test Loss: {test_loss:.6f}"
            if labels.shape[1] > 1:  # each output's share (train, and test if there is test data)
                line += " | " + ", ".join(
                    f"{name} {a:.6f}" + (f"/{b:.6f}" if test_obs is not None else "")
                    for name, a, b in zip(ACTION_NAMES, train_by_action, test_by_action)
                )
            log(line)
        if on_epoch is not None:  # with the learning rate this epoch used (LambdaLR: base * factor(epoch))
            on_epoch(history, schedule.base_lrs[0] * schedule.lr_lambdas[0](epoch))
        if checkpoint is not None and config.checkpoint_every and (epoch + 1) % config.checkpoint_every == 0:
            _save(checkpoint, model, optimizer, epoch + 1, history, meta)
    if checkpoint is not None:
        _save(checkpoint, model, optimizer, max(config.epochs, start_epoch), history, meta)
    model.eval()
    source = str(checkpoint) if checkpoint is not None else "the trained policy"
    return SteeringPolicy(model, {**meta, "history": history.as_dict()}, source=source), history


def _diverged(epoch: int, checkpoint, history: History) -> None:
    """Raise :class:`TrainingDiverged`, saying which checkpoint (if any) holds the last good epoch."""
    kept = ""
    if checkpoint is not None and Path(checkpoint).exists():
        try:
            kept = f"; {checkpoint} keeps epoch {int(load_checkpoint(checkpoint).get('epoch', 0))}"
        except CheckpointError:
            kept = ""
    if not kept:
        kept = "; no checkpoint was written"
    raise TrainingDiverged(
        f"diverged at epoch {epoch} (the loss is NaN or infinite); try a smaller learning rate{kept}"
    )


def _save(path, model, optimizer, epoch, history, meta) -> None:
    save_checkpoint(
        path,
        model,
        optimizer_state=optimizer.state_dict(),
        epoch=epoch,
        history=history.as_dict(),
        **meta,
    )
