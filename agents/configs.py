"""The learner's frozen configs: the network's shape and how it trains.

They live apart from :mod:`agents.model` and :mod:`agents.training` (which re-export them) so
that reading them needs no PyTorch: ``roadschool train --help`` is made from their fields.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from envs import limits
from envs.checks import check_types, in_range
from envs.config import OBSERVATION_TYPES


@dataclass(frozen=True)
class Architecture:
    """The layers of a :class:`SteeringNet` that are chosen, not given by the data."""

    hidden: tuple[int, ...] = (256, 256)
    """Widths of the hidden layers of the MLP (or of the CNN's head)."""
    channels: tuple[int, ...] = (16, 32, 32)
    """Channels of the CNN's strided 5x5 convolutions (image and camera observations); each halves the image."""
    channels_3x3: tuple[int, ...] = (48,)
    """Channels of the 3x3 convolutions after them, stride 1 (camera observations only)."""

    def __post_init__(self):
        check_types(self)
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be positive layer widths, got {self.hidden}")
        if not self.channels or min(self.channels) < 1 or (self.channels_3x3 and min(self.channels_3x3) < 1):
            raise ValueError(f"convolution channels must be positive, got {self.channels} and {self.channels_3x3}")
        if len(self.hidden) > 64 or len(self.channels) > 16 or len(self.channels_3x3) > 16:
            raise ValueError("at most 64 hidden layers and 16 convolution layers of each kind")


@dataclass(frozen=True)
class NetConfig:
    """Shape of a :class:`SteeringNet`: what the data gives (observation, shape, outputs) and the
    chosen ``architecture``. A checkpoint stores it (``net_config``) and rebuilds the net from it."""

    observation: str
    """Observation type the net reads: ``features``, ``rays``, ``image`` or ``camera``."""
    obs_shape: tuple[int, ...]
    """Shape of one observation."""
    architecture: Architecture = field(default_factory=Architecture)
    """The hidden widths and convolution channels."""
    outputs: int = 1
    """Actions the net outputs: 1 (steering) or 2 (steering and throttle/brake)."""

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.architecture.hidden

    @property
    def channels(self) -> tuple[int, ...]:
        return self.architecture.channels

    @property
    def channels_3x3(self) -> tuple[int, ...]:
        return self.architecture.channels_3x3

    def as_dict(self) -> dict:
        """Plain Python, as a checkpoint stores it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, stored: dict) -> NetConfig:
        """The config :meth:`as_dict` wrote, or an older checkpoint's (its architecture fields at the top)."""
        stored = dict(stored)
        arch = stored.pop("architecture", None)
        flat = {k: stored.pop(k) for k in ("hidden", "channels", "channels_3x3") if k in stored}
        if arch is None:
            arch = flat
        if not isinstance(arch, dict):
            raise TypeError("architecture is not an object")
        return cls(architecture=Architecture(**arch), **stored)

    def __post_init__(self):
        object.__setattr__(self, "obs_shape", tuple(int(x) for x in self.obs_shape))
        if not isinstance(self.architecture, Architecture):
            raise TypeError(f"architecture must be an Architecture, got {type(self.architecture).__name__}")
        if self.outputs not in (1, 2):
            raise ValueError(f"outputs must be 1 (steering) or 2 (steering and throttle), got {self.outputs!r}")
        if self.observation not in OBSERVATION_TYPES:
            raise ValueError(
                f"unknown observation {str(self.observation)[:40]!r}; choose from {', '.join(OBSERVATION_TYPES)}"
            )
        if self.observation == "image":
            if len(self.obs_shape) != 3 or self.obs_shape[0] != self.obs_shape[1] or not 1 <= self.obs_shape[2] <= 4:
                raise ValueError(f"an image observation has shape (size, size, channels), got {self.obs_shape}")
        elif self.observation == "camera":
            if len(self.obs_shape) != 3 or self.obs_shape[2] != 3:
                raise ValueError(f"a camera observation has shape (height, width, 3), got {self.obs_shape}")
        elif len(self.obs_shape) != 1:
            raise ValueError(f"a {self.observation} observation is a vector, got shape {self.obs_shape}")
        if min(self.obs_shape) < 1:
            raise ValueError(f"observation shape must be positive, got {self.obs_shape}")
        count = self.parameter_count
        if count > limits.MAX_NETWORK_PARAMETERS:
            raise limits.RequestTooLarge(
                f"a network with hidden widths {' '.join(map(str, self.hidden))} on {self.observation} observations "
                f"{self.obs_shape} has {count:.3g} parameters; at most {limits.MAX_NETWORK_PARAMETERS:.3g}"
            )

    @property
    def parameter_count(self) -> int:
        """Trainable parameters of the :class:`SteeringNet` this describes (weights and biases)."""
        count = 0
        if self.observation == "image":
            c_in, size = self.obs_shape[-1], self.obs_shape[0]
            for c_out in self.channels:
                count += c_in * c_out * 25 + c_out
                c_in, size = c_out, (size + 1) // 2
            width = c_in * size * size
        elif self.observation == "camera":  # as SteeringNet builds it: strided 5x5, then 3x3 convolutions
            c_in, rows, cols = self.obs_shape[-1], self.obs_shape[0], self.obs_shape[1]
            for c_out in self.channels:
                count += c_in * c_out * 25 + c_out
                c_in, rows, cols = c_out, (rows + 1) // 2, (cols + 1) // 2
            for c_out in self.channels_3x3:
                count += c_in * c_out * 9 + c_out
                c_in = c_out
            width = c_in * rows * cols
        else:
            width = int(np.prod(self.obs_shape, dtype=object))
        for h in (*self.hidden, self.outputs):
            count += width * h + h
            width = h
        return count


@dataclass(frozen=True)
class TrainConfig:
    """How the network is trained."""

    epochs: int = 30
    """Passes over the training data."""
    batch_size: int = 256
    """Minibatch size; 0 (or the dataset size or more) means full-batch training."""
    learning_rate: float = 2e-3
    """Adam step size (decayed to 1% of this over the run by cosine annealing)."""
    weight_decay: float = 0.0
    """Decoupled weight decay (AdamW)."""
    seed: int = 0
    """Seeds weight initialization and shuffling."""
    print_every: int = 10
    """Print an epoch line every this many epochs (0: never)."""
    net: Architecture = dataclasses.field(default_factory=Architecture)
    """The network's hidden widths and convolution channels (stored in the checkpoint's ``net_config``)."""
    augment_brightness: float = 0.0
    """Camera frames: scale each training frame's brightness by a factor drawn in 1 +- this."""
    augment_flip: bool = False
    """Camera frames: mirror half the training frames left-right, their steering negated."""
    checkpoint_every: int = 1
    """Also write the checkpoint every this many epochs, so a killed run can resume (0: only at the end)."""

    def __post_init__(self):
        check_types(self)
        in_range(self, "epochs", 0, 1_000_000)
        in_range(self, "batch_size", 0, 2**31)
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay must be non-negative, got {self.weight_decay}")
        in_range(self, "seed", 0, 2**32 - 1)
        in_range(self, "print_every", 0, 2**31)
        in_range(self, "checkpoint_every", 0, 2**31)
        if not 0.0 <= self.augment_brightness < 1.0:
            raise ValueError(f"augment_brightness must be in [0, 1), got {self.augment_brightness}")

    @property
    def augments(self) -> bool:
        return self.augment_brightness > 0.0 or self.augment_flip
