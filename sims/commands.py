"""What several ``roadschool`` commands share: which roads they drive, who drives, progress bars."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from envs import DEFAULT_FAMILIES, FAMILIES, SPLITS, limits, load_roads
from envs.checks import check_types, in_range
from envs.generation import split_roads
from sims.options import ConfigOptions, add_config


@dataclass(frozen=True)
class RoadSelection:
    """Which roads a command drives: roads ``first_road, first_road + 1, ...`` of a split (the road
    families in turn, as ``roadschool collect`` numbers them), or the roads of a file."""

    split: str = field(default="train", metadata={"choices": SPLITS})
    """Road split."""
    num_roads: int | None = None
    """Number of roads (not given: as many as the command drives; road after road until a window closes)."""
    families: tuple[str, ...] = field(default=DEFAULT_FAMILIES, metadata={"choices": tuple(FAMILIES)})
    """Road families, used in turn; --family is repeatable."""
    first_road: int = 0
    """Index of the first road of the split."""
    roads_file: Path | None = None
    """Drive the roads of this JSON file instead of a split."""

    def __post_init__(self):
        if isinstance(self.families, str):
            object.__setattr__(self, "families", (self.families,))
        check_types(self)
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose from {', '.join(SPLITS)}")
        if not self.families or any(f not in FAMILIES for f in self.families):
            raise ValueError(f"families must name road families among {', '.join(FAMILIES)}")
        if self.num_roads is not None:
            in_range(self, "num_roads", 1, limits.MAX_CARS)
        in_range(self, "first_road", 0, limits.MAX_ROAD_INDEX - 1)

    def roads(self) -> tuple[list, str]:
        """The roads, and a label for tables (the split, or the file's name)."""
        if self.roads_file is not None:
            return load_roads(self.roads_file), self.roads_file.name
        if self.num_roads is None:
            raise ValueError("num_roads is needed to list the roads of a split")
        return split_roads(self.split, self.num_roads, self.families, self.first_road), self.split


ROAD_ALIASES = {"num_roads": "--roads", "families": "--family"}
"""The option names of :class:`RoadSelection` users know from before the options were generated."""


def add_roads(parser: argparse.ArgumentParser, default: RoadSelection, only=None, helps=None) -> ConfigOptions:
    """The road options of a command whose roads default to ``default``."""
    group = parser.add_argument_group("roads")
    return add_config(group, RoadSelection, defaults=default, aliases=ROAD_ALIASES, only=only, helps=helps)


def add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_tensorboard(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="write TensorBoard scalars (losses/train, losses/test, eval/unseen/completion_rate, "
        "...) to DIR; needs pip install '.[tensorboard]'",
    )


def add_policy(parser: argparse.ArgumentParser, required: bool = True, expert: bool = True) -> None:
    what = "checkpoint of the learned car" + (", or 'expert'" if expert else "")
    parser.add_argument(
        "--policy",
        required=required,
        default=None if required else "expert",
        metavar="PATH|expert" if expert else "PATH",
        help=what + ("" if required else " (default: expert)"),
    )


@dataclass(frozen=True)
class Driving:
    """Who drives for ``--policy``: the driver, the observation it reads and a label for windows."""

    driver: object
    observation: str
    label: str

    @property
    def policy(self):
        """The learned policy (None for the expert)."""
        return getattr(self.driver, "policy", None)

    def world(self):
        """The world the policy was trained in (its car, actions, sensors); the default one for the expert."""
        from agents.evaluation import policy_world

        return policy_world(getattr(self.policy, "metadata", None))


def driver_for(spec: str, threads: int | None = None) -> Driving:
    """The driver named by ``--policy``: ``expert`` or a checkpoint (its torch running on ``threads``
    threads when given: one observation at a time in a window gains nothing from more)."""
    from agents.drivers import ExpertDriver, PolicyDriver

    if spec == "expert":
        return Driving(ExpertDriver(), "features", "expert")
    import torch

    from agents.model import SteeringPolicy

    if threads is not None:
        torch.set_num_threads(threads)
    policy = SteeringPolicy.load(spec)
    return Driving(PolicyDriver(policy), policy.observation, f"learner ({Path(spec).name})")
