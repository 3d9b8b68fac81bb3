"""How an episode starts: which road, and the car's start offset, drawn from the car's rng.

Shared by the single and the vector environment so that car ``i`` of a vector reset with seed
``s`` starts exactly like a single environment reset with ``s + i``.
"""

from __future__ import annotations

import math

import numpy as np

from envs.config import RoadFollowConfig
from envs.generation import generate_roads
from envs.road import Road

OPTION_KEYS = ("road", "family", "road_index", "start_offset")
ROADS_KEPT = 8192
"""Most roads the caller's ``roads`` dict of :func:`draw_episodes` holds before it is emptied
(the vector env's: about 25 kB a default road, so at most some 200 MB; the default pool of 2,000
roads fits, so autoresets on it never draw a road twice)."""


def draw_episodes(
    config: RoadFollowConfig,
    rngs: list[np.random.Generator],
    options: list[dict | None] | None = None,
    roads: dict | None = None,
) -> tuple[list[Road], np.ndarray, np.ndarray]:
    """Choose the road and start offset of a new episode for each of ``M`` cars.

    Every car draws four uniform numbers from its own rng, whatever its options, so options
    never shift the stream: the family, the road index, the lateral and the heading offset.

    Args:
        config: the environment's configuration (split, families, road pool, offsets).
        rngs: one generator per car.
        options: per car, None or a dict that may hold ``road`` (a :class:`Road` to drive),
            ``family`` and ``road_index`` (a generated road of the configured split), and
            ``start_offset`` ``(lateral [m], heading [rad])``. Unknown keys are an error.
        roads: a dict the caller keeps between calls, mapping ``(family, index)`` to the
            generated road, so that a road drawn before costs one look-up.

    Returns:
        ``(roads, lateral[M] [m], heading[M] [rad])``.
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
    names = config.families
    picks = [(names[f], i) for f, i in zip(family_pick.tolist(), index_pick.tolist())]  # (family, index)
    given: dict[int, Road] = {}
    for k, opts in enumerate(options or ()):
        if not opts:
            continue
        unknown = set(opts) - set(OPTION_KEYS)
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; allowed: {', '.join(OPTION_KEYS)}")
        if "start_offset" in opts:
            lateral[k], heading[k] = _start_offset(opts["start_offset"])
        if "road" in opts:
            if not isinstance(opts["road"], Road):
                raise TypeError(f"options['road'] must be an envs.Road, got {type(opts['road']).__name__}")
            given[k] = opts["road"]
        else:
            picks[k] = (opts.get("family", picks[k][0]), opts.get("road_index", picks[k][1]))
    if roads is None:
        roads = {}
    elif len(roads) > ROADS_KEPT:
        roads.clear()
    chosen = [given.get(k) or roads.get(key) for k, key in enumerate(picks)]
    if any(road is None for road in chosen):  # roads not drawn before: seeded and drawn together
        new = list(dict.fromkeys(key for road, key in zip(chosen, picks) if road is None))
        roads.update(zip(new, generate_roads(config.split, new)))
        chosen = [road or roads[key] for road, key in zip(chosen, picks)]
    return chosen, lateral, heading


def _start_offset(value) -> tuple[float, float]:
    lateral, heading = (float(v) for v in value)
    if not (math.isfinite(lateral) and math.isfinite(heading)):
        raise ValueError(f"start_offset must be finite, got {value}")
    return lateral, heading
