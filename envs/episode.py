"""How an episode starts: which road, and the car's start offset, drawn from one rng.

Shared by the single and the vector environment so that car ``i`` of a vector
reset with seed ``s`` starts exactly like a single environment reset with ``s + i``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envs.config import RoadFollowConfig
from envs.generation import _generate, generate_road, get_family
from envs.road import Road

OPTION_KEYS = ("road", "family", "road_index", "start_offset")


@dataclass(frozen=True)
class EpisodeStart:
    road: Road
    lateral: float  # [m], left positive
    heading_offset: float  # [rad]


def draw_episode(config: RoadFollowConfig, rng: np.random.Generator, options: dict | None) -> EpisodeStart:
    """Choose the road and start offset of a new episode.

    ``options`` may hold ``road`` (a :class:`Road` to drive), ``family`` and
    ``road_index`` (a generated road of the configured split), and
    ``start_offset`` ``(lateral [m], heading [rad])``. Unknown keys are an error.
    """
    options = options or {}
    unknown = set(options) - set(OPTION_KEYS)
    if unknown:
        raise ValueError(f"unknown reset option(s) {sorted(unknown)}; allowed: {', '.join(OPTION_KEYS)}")
    # draw the same random numbers whatever the options, so options never shift the stream
    family_pick, index_pick, lateral, heading = _picks(config, rng.random(4).tolist())
    if "road" in options:
        road = options["road"]
        if not isinstance(road, Road):
            raise TypeError(f"options['road'] must be an envs.Road, got {type(road).__name__}")
    else:
        family = options.get("family", config.families[family_pick])
        index = options.get("road_index", index_pick)
        road = generate_road(config.split, family, index)
    if "start_offset" in options:
        lateral, heading = (float(v) for v in options["start_offset"])
        if not (math.isfinite(lateral) and math.isfinite(heading)):
            raise ValueError(f"start_offset must be finite, got {options['start_offset']}")
    return EpisodeStart(road, lateral, heading)


def _picks(config: RoadFollowConfig, u: list[float]) -> tuple[int, int, float, float]:
    """Family position, road index, lateral [m] and heading [rad] offsets from four uniform numbers."""
    u_family, u_index, u_lateral, u_heading = u
    family_pick = int(u_family * len(config.families))
    pool = config.road_indices
    index_pick = int(pool[int(u_index * len(pool))]) if pool is not None else int(u_index * config.num_roads)
    lateral = (2.0 * u_lateral - 1.0) * config.start_lateral_offset
    heading = (2.0 * u_heading - 1.0) * config.start_heading_offset
    return family_pick, index_pick, lateral, heading


def draw_episodes(config: RoadFollowConfig, rngs: list[np.random.Generator], roads: dict | None = None):
    """:func:`draw_episode` without options for many cars, each from its own rng (the autoreset path).

    Returns ``(roads, lateral[M], heading[M])`` with the same numbers :func:`draw_episode` gives.
    ``roads``: a dict the caller keeps between calls, mapping ``(family position, index)`` to
    the generated road, so a road already drawn costs one dict look-up.
    """
    u = np.empty((len(rngs), 4))
    for rng, row in zip(rngs, u):
        rng.random(out=row)
    family_pick = (u[:, 0] * len(config.families)).astype(np.int64)
    pool = config.road_indices
    if pool is not None:
        index_pick = np.asarray(pool, dtype=np.int64)[(u[:, 1] * len(pool)).astype(np.int64)]
    else:
        index_pick = (u[:, 1] * config.num_roads).astype(np.int64)
    lateral = (2.0 * u[:, 2] - 1.0) * config.start_lateral_offset
    heading = (2.0 * u[:, 3] - 1.0) * config.start_heading_offset
    if roads is None:
        roads = {}
    elif len(roads) > 8192:  # as many as generate_road's own cache keeps
        roads.clear()
    chosen = []
    for key in zip(family_pick.tolist(), index_pick.tolist()):
        road = roads.get(key)
        if road is None:
            road = roads[key] = _generate(config.split, get_family(config.families[key[0]]), key[1])
        chosen.append(road)
    return chosen, lateral, heading
