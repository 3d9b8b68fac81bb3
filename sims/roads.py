"""Which roads a command drives: a slice of a split, or a roads file."""

from __future__ import annotations

from envs import generate_road, load_roads
from envs.road import Road


def split_road_list(split: str, count: int, families, first: int = 0) -> list[Road]:
    """Road ``i`` (0-based) is of family ``families[i % F]`` with index ``first + i``: the
    same roads ``roadschool collect`` drives, so train-split evaluation is on the roads trained on."""
    families = tuple(families)
    return [generate_road(split, families[i % len(families)], first + i) for i in range(count)]


def roads_for(args) -> tuple[list[Road], str]:
    """Roads named by ``--roads-file`` or by ``--split/--roads/--family/--first-road``, and a label."""
    if getattr(args, "roads_file", None):
        return load_roads(args.roads_file), str(args.roads_file)
    return split_road_list(args.split, args.roads, args.family, args.first_road), args.split
