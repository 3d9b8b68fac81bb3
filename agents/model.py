"""The steering network and the policy that drives with it.

``SteeringNet`` is an MLP for ``features``/``rays`` observations, a small
CNN for ``image`` ones and a PilotNet-style CNN for ``camera`` ones (NVIDIA's
"End to End Learning for Self-Driving Cars", 2016, scaled to the frame:
normalization, strided 5x5 convolutions, then 3x3 ones, then a small fully
connected head). It normalizes its inputs with statistics measured on the
training data (stored as buffers, so they travel with the weights); camera
frames stay uint8 until a minibatch reaches the net.
``SteeringPolicy`` wraps a trained net and rebuilds it from a checkpoint alone.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agents.configs import Architecture, NetConfig  # noqa: F401 - Architecture is re-exported
from envs.atomic import atomic_path

CHECKPOINT_FORMAT = "roadschool-checkpoint"


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, unsafe or of the wrong kind."""


class SteeringNet(nn.Module):
    """Observation -> normalized actions: steering, and throttle/brake if ``outputs`` is 2 (each
    ideally in [-1, 1])."""

    def __init__(self, config: NetConfig):
        super().__init__()
        self.config = config
        shape = config.obs_shape
        self.register_buffer("obs_mean", torch.zeros(shape))
        self.register_buffer("obs_std", torch.ones(shape))
        layers: list[nn.Module] = []
        if config.observation == "image":
            c_in = shape[-1]
            size = shape[0]
            for c_out in config.channels:
                layers += [nn.Conv2d(c_in, c_out, 5, stride=2, padding=2), nn.ReLU()]
                c_in, size = c_out, (size + 1) // 2
            layers.append(nn.Flatten())
            width = c_in * size * size
        elif config.observation == "camera":  # PilotNet: strided 5x5 convolutions, then 3x3 ones
            c_in, rows, cols = shape[-1], shape[0], shape[1]
            for c_out in config.channels:
                layers += [nn.Conv2d(c_in, c_out, 5, stride=2, padding=2), nn.ReLU()]
                c_in, rows, cols = c_out, (rows + 1) // 2, (cols + 1) // 2
            for c_out in config.channels_3x3:
                layers += [nn.Conv2d(c_in, c_out, 3, stride=1, padding=1), nn.ReLU()]
                c_in = c_out
            layers.append(nn.Flatten())
            width = c_in * rows * cols
        else:
            width = int(np.prod(shape))
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, config.outputs))
        self.body = nn.Sequential(*layers)

    def set_normalization(self, obs: torch.Tensor) -> None:
        """Input mean and std from training observations; an input that never varied is only centred."""
        x = obs.float()
        if self.config.observation == "camera":  # per colour channel
            mean = x.mean(dim=(0, 1, 2)).expand(self.config.obs_shape)
            std = x.std(dim=(0, 1, 2)).clamp_min(1.0).expand(self.config.obs_shape)
        elif self.config.observation == "image":
            mean = x.mean().expand(self.config.obs_shape)
            std = x.std().clamp_min(1.0).expand(self.config.obs_shape)
        else:
            mean, spread = x.mean(dim=0), x.std(dim=0)
            std = torch.where(spread > 1e-3, spread, torch.ones_like(spread))  # not 1000x on a later change
        self.obs_mean.copy_(mean)
        self.obs_std.copy_(std)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs[B, *obs_shape]`` -> ``[B, outputs]`` normalized actions."""
        x = (obs.float() - self.obs_mean) / self.obs_std
        if self.config.observation in ("image", "camera"):
            x = x.permute(0, 3, 1, 2)  # HWC -> CHW
        return self.body(x)


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(path, model: SteeringNet, **metadata) -> Path:
    """Write ``model``'s state dict and plain-Python metadata atomically."""
    path = Path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "net_config": model.config.as_dict(),
        "model_state": model.state_dict(),
        **metadata,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path) -> dict:
    """Read a checkpoint with ``weights_only=True`` (a pickle that runs code is refused).

    Raises:
        CheckpointError: naming the file and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: is not a regular file (a folder, device or pipe), not a checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise CheckpointError(f"{path}: refused: not a plain weights file ({first[:160]})") from None
    except Exception as exc:  # noqa: BLE001 - torch's reader of untrusted bytes raises any kind (KeyError, TypeError...)
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a roadschool checkpoint")
    return payload


def net_from_checkpoint(payload: dict, path="checkpoint") -> SteeringNet:
    try:
        cfg = NetConfig.from_dict(payload["net_config"])
        net = SteeringNet(cfg)
        net.load_state_dict(payload["model_state"])
    except (KeyError, TypeError, RuntimeError, ValueError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: checkpoint does not describe a SteeringNet ({first})") from None
    for name, tensor in net.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path}: its weights ({name}) hold NaN or infinite values (a diverged training?)")
    return net


class SteeringPolicy:
    """A trained :class:`SteeringNet`, ready to drive."""

    name = "learner"

    def __init__(self, net: SteeringNet, metadata: dict | None = None, source: str = "the policy"):
        self.net = net.eval()
        self.metadata = metadata or {}
        self.source = str(source)
        """Where the policy came from (its checkpoint file), for error messages."""

    @property
    def observation(self) -> str:
        return self.net.config.observation

    @classmethod
    def load(cls, path, observation: str | None = None) -> SteeringPolicy:
        """Rebuild a policy from a checkpoint file alone."""
        payload = load_checkpoint(path)
        net = net_from_checkpoint(payload, path)
        if observation is not None and net.config.observation != observation:
            raise CheckpointError(
                f"{path}: the policy reads {net.config.observation!r} observations, not {observation!r}"
            )
        meta = {k: v for k, v in payload.items() if k not in ("model_state", "optimizer_state")}
        return cls(net, meta, source=str(path))

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Normalized actions for one observation (-> ``[outputs]``) or a batch (-> ``[B, outputs]``),
        in [-1, 1]."""
        obs = np.asarray(obs)
        single = obs.shape == self.net.config.obs_shape
        batch = obs[None] if single else obs
        if batch.shape[1:] != self.net.config.obs_shape:
            raise ValueError(
                f"{self.source}: the policy reads observations of shape {self.net.config.obs_shape}, "
                f"got {batch.shape[1:]}"
            )
        with torch.inference_mode():
            out = self.net(torch.as_tensor(batch)).numpy()
        if not np.all(np.isfinite(out)):
            raise ValueError(
                f"{self.source}: the policy's actions are NaN or infinite for "
                f"{int((~np.isfinite(out)).any(axis=-1).sum())} of {len(out)} observations"
            )
        out = np.clip(out, -1.0, 1.0)
        return out[0] if single else out
