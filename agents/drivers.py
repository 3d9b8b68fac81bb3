"""Who drives: anything with ``act(obs, fleet) -> actions[N, A]`` (steering, and throttle when the
environment takes ``throttle`` actions).

The expert reads the road from the fleet (privileged); a learned policy reads
only the observations. Both drive every car of a vector environment at once.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from agents.expert import PathExpert
from envs.fleet import Fleet


class Driver(Protocol):
    name: str

    def act(self, obs: np.ndarray, fleet: Fleet) -> np.ndarray:
        """Normalized actions ``[N, A]`` for observations ``obs[N, ...]`` of the cars in ``fleet``."""
        ...


class ExpertDriver:
    """The path expert as a :class:`Driver`."""

    name = "expert"

    def __init__(self, expert=None):
        self.expert = expert or PathExpert()

    def act(self, obs: np.ndarray, fleet: Fleet) -> np.ndarray:
        return self.expert.act(fleet)


class PolicyDriver:
    """A learned policy as a :class:`Driver`."""

    name = "learner"

    def __init__(self, policy):
        self.policy = policy

    def act(self, obs: np.ndarray, fleet: Fleet) -> np.ndarray:
        return self.policy.act(obs).reshape(len(obs), -1)
