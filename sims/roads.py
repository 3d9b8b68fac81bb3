"""Which roads a command drives: a slice of a split, or a roads file."""

from __future__ import annotations

from pathlib import Path

from envs import DEFAULT_FAMILIES, load_roads
from envs.generation import split_roads
from envs.road import Road


def roads_for(args) -> tuple[list[Road], str]:
    """Roads named by ``--roads-file`` or by ``--split/--roads/--family/--first-road``, and a label."""
    if getattr(args, "roads_file", None):
        return load_roads(args.roads_file), Path(args.roads_file).name
    families = tuple(args.family) if args.family else DEFAULT_FAMILIES
    return split_roads(args.split, args.roads, families, args.first_road), args.split
