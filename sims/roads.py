"""Which roads a command drives: a slice of a split, or a roads file."""

from __future__ import annotations

from pathlib import Path

from envs import DEFAULT_FAMILIES, generate_road, load_roads
from envs.generation import road_plan
from envs.road import Road


def split_road_list(split: str, count: int, families, first: int = 0) -> list[Road]:
    """The roads of :func:`envs.generation.road_plan`: the same roads ``roadschool collect``
    drives, so train-split evaluation is on the roads trained on."""
    return [generate_road(split, family, index) for family, index in road_plan(count, families, first)]


def roads_for(args) -> tuple[list[Road], str]:
    """Roads named by ``--roads-file`` or by ``--split/--roads/--family/--first-road``, and a label."""
    if getattr(args, "roads_file", None):
        return load_roads(args.roads_file), Path(args.roads_file).name
    families = tuple(args.family) if args.family else DEFAULT_FAMILIES
    return split_road_list(args.split, args.roads, families, args.first_road), args.split
