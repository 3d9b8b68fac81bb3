"""How an episode starts: which road, and the car's start offset, drawn from the car's rng.

Shared by the single and the vector environment so that car ``i`` of a vector reset with seed
``s`` starts exactly like a single environment reset with ``s + i``.
"""

from __future__ import annotations

import math

import numpy as np

from envs.config import RoadFollowConfig
from envs.generation import generate_roads
from envs.jit import njit
from envs.road import Road

OPTION_KEYS = ("road", "family", "road_index", "start_offset")
UNIFORMS_PER_EPISODE = 4
"""Numbers each episode draws from its car's rng, whatever its options: family, road index,
lateral and heading offset."""
ROADS_KEPT = 8192
"""Most roads the caller's ``roads`` dict of :func:`draw_episodes` holds before it is emptied
(the vector env's: about 25 kB a default road, so at most some 200 MB; the default pool of 2,000
roads fits, so autoresets on it never draw a road twice)."""


def draw_episodes(
    config: RoadFollowConfig,
    rngs: list[np.random.Generator],
    options: list[dict | None] | None = None,
    roads: dict | None = None,
    uniforms: np.ndarray | None = None,
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
        uniforms: ``[M, UNIFORMS_PER_EPISODE]`` the numbers each car's rng gave for this
            episode, if the caller drew them already (``envs.seeding.GeneratorTable``); by
            default they are drawn here.

    Returns:
        ``(roads, lateral[M] [m], heading[M] [rad])``.
    """
    u = uniforms
    if u is None:
        u = np.empty((len(rngs), UNIFORMS_PER_EPISODE))
        for rng, row in zip(rngs, u):
            rng.random(out=row)
    numbers, offsets = episode_table(config, u)
    lateral, heading = offsets  # rows: contiguous, and changed below by the options' start offsets
    names = config.families
    picks = [(names[f], i) for f, _, i in numbers.tolist()]  # (family, index)
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
    drawn = [key for k, key in enumerate(picks) if k not in given] if given else picks
    found = iter(roads_of(config.split, drawn, {} if roads is None else roads))
    return [given[k] if k in given else next(found) for k in range(len(picks))], lateral, heading


def roads_of(split: str, keys: list[tuple], roads: dict) -> list[Road]:
    """The generated road of ``split`` for each ``(family, index)`` of ``keys``: from ``roads``
    (a dict the caller keeps between calls, emptied past :data:`ROADS_KEPT` roads), the others
    generated together and added to it."""
    if len(roads) > ROADS_KEPT:
        roads.clear()
    chosen = list(map(roads.get, keys))
    if any(road is None for road in chosen):  # roads not drawn before: seeded and drawn together
        new = list(dict.fromkeys(key for road, key in zip(chosen, keys) if road is None))
        roads.update(zip(new, generate_roads(split, new)))
        chosen = [road or roads[key] for road, key in zip(chosen, keys)]
    return chosen


def episode_table(config: RoadFollowConfig, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`episode_numbers` of every row of ``uniforms`` ``[M, UNIFORMS_PER_EPISODE]``:
    ``numbers[M, 3]`` (family, position in the pool, road index) and ``offsets[2, M]``
    (lateral [m] and heading [rad] start offsets)."""
    numbers = np.empty((len(uniforms), 3), dtype=np.int64)
    offsets = np.empty((2, len(uniforms)))
    _episode_numbers(
        uniforms,
        len(config.families),
        config.road_pool,
        config.num_roads,
        config.start_lateral_offset,
        config.start_heading_offset,
        numbers,
        offsets,
    )
    return numbers, offsets


@njit(cache=True, inline="always")
def episode_numbers(u, m, num_families, pool, num_roads, lateral_offset, heading_offset):
    """Row ``m`` of ``u`` (an episode's uniforms) as ``(family, position, index, lateral,
    heading)``: the family, the road's position in ``pool`` and its index there (``pool`` empty:
    both the index in ``0 .. num_roads - 1``), and the start's lateral [m] and heading [rad]
    offsets."""
    family = int(u[m, 0] * num_families)
    if len(pool) > 0:
        position = int(u[m, 1] * len(pool))
        index = pool[position]
    else:
        position = index = int(u[m, 1] * num_roads)
    lateral = (2.0 * u[m, 2] - 1.0) * lateral_offset
    heading = (2.0 * u[m, 3] - 1.0) * heading_offset
    return family, position, index, lateral, heading


@njit(cache=True)
def _episode_numbers(u, num_families, pool, num_roads, lateral_offset, heading_offset, numbers, offsets):
    for m in range(u.shape[0]):
        numbers[m, 0], numbers[m, 1], numbers[m, 2], offsets[0, m], offsets[1, m] = episode_numbers(
            u, m, num_families, pool, num_roads, lateral_offset, heading_offset
        )


def episode_picks(config: RoadFollowConfig, uniforms: np.ndarray, options: list[dict | None] | None) -> np.ndarray:
    """``[M, 2]`` the family and the position in the pool (:func:`episode_numbers`) each car's
    road was drawn as from ``uniforms`` (:func:`draw_episodes`'s), or -1 for a car whose options
    chose its road (``road``, ``family`` or ``road_index``): what ``envs.fleet.Fleet`` remembers
    stored roads by."""
    picks = episode_table(config, uniforms)[0][:, :2]
    for k, opts in enumerate(options or ()):
        if opts and ("road" in opts or "family" in opts or "road_index" in opts):
            picks[k] = -1
    return picks


def _start_offset(value) -> tuple[float, float]:
    lateral, heading = (float(v) for v in value)
    if not (math.isfinite(lateral) and math.isfinite(heading)):
        raise ValueError(f"start_offset must be finite, got {value}")
    return lateral, heading
