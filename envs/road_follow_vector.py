"""``RoadFollowVectorEnv``: N cars on N roads, stepped by one compiled kernel.

Car ``i`` after ``reset(seed=s)`` is exactly the single ``RoadFollowEnv`` reset
with seed ``s + i`` (as Gymnasium's own vector envs seed their copies), and it
stays identical step for step, autoresets included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs import limits
from envs.config import RoadFollowConfig
from envs.episode import UNIFORMS_PER_EPISODE, draw_episodes, episode_picks, roads_of
from envs.fleet import INFO_KEYS, ROW_REWARD, Fleet, info_arrays
from envs.observations import observation_space
from envs.road_follow import MAX_EPISODE_STEPS, make_config, validate_actions
from envs.seeding import generators


class RoadFollowVectorEnv(VectorEnv):
    """``num_envs`` independent road-following cars with next-step autoreset.

    Made by ``gymnasium.make_vec("roadschool/RoadFollow-v0", num_envs=N,
    vectorization_mode="vector_entry_point", **fields)`` or directly. Takes the
    same configuration fields as :class:`envs.RoadFollowEnv`, plus
    ``max_episode_steps``. ``reset(options=...)`` takes the single env's options;
    ``road``, ``family`` and ``road_index`` may also be sequences of one value per
    car, and ``reset_mask`` (``[N]`` bool) resets only some cars. Rendering is
    done by the single environment.

    The simulation is ``envs.fleet.Fleet`` with N cars: the single env's compiled kernels,
    run over every car at once (on numba's threads from ``Fleet.parallel_from`` cars).
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        config: RoadFollowConfig | None = None,
        max_episode_steps: int | None = MAX_EPISODE_STEPS,
        render_mode: str | None = None,
        **fields,
    ):
        if not (isinstance(num_envs, (int, np.integer)) and num_envs >= 1):
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if num_envs > limits.MAX_CARS:
            raise limits.RequestTooLarge(f"num_envs must be at most {limits.MAX_CARS} cars, got {num_envs}")
        if render_mode is not None:
            raise ValueError("RoadFollowVectorEnv does not render; render single RoadFollowEnv copies instead")
        self.config = make_config(config, fields)
        self.num_envs = int(num_envs)
        self.render_mode = None
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.config.dt))}
        self.single_action_space = spaces.Box(-1.0, 1.0, (self.config.action_size,), dtype=np.float32)
        self.single_observation_space = observation_space(self.config)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.fleet = Fleet(self.config, self.num_envs, max_steps=max_episode_steps)
        self.max_episode_steps = max_episode_steps
        self.rngs = np.full(self.num_envs, None, dtype=object)  # each car's Generator, made by the first reset
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._started = False
        self._roads: dict = {}  # (family, index) -> road, for autoresets
        self._all_cars = np.ones(self.num_envs, dtype=bool)  # the info's "_key" masks
        self._all_cars.flags.writeable = False
        self._masks = dict.fromkeys(_MASK_KEYS, self._all_cars)

    @property
    def max_episode_steps(self) -> int | None:
        """Steps after which a car's episode is truncated (None: never); settable between steps."""
        return self.fleet.max_steps

    @max_episode_steps.setter
    def max_episode_steps(self, steps: int | None) -> None:
        self.fleet.max_steps = steps

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is not None and len(np.asarray(mask)) != self.num_envs:
            raise ValueError(f"reset_mask must have {self.num_envs} entries")
        cars = np.arange(self.num_envs) if mask is None else np.flatnonzero(np.asarray(mask, dtype=bool))
        if not self._started and len(cars) < self.num_envs:
            raise RuntimeError("the first reset() must reset every car")
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed must be an int or a list of {self.num_envs} seeds, got {len(seeds)}")
        per_car = {k: v for k, v in options.items() if _is_per_car(k, v)}
        for k, v in per_car.items():
            if len(v) != self.num_envs:
                raise ValueError(f"options[{k!r}] must have one entry per car ({self.num_envs}), got {len(v)}")
        if not self._started:  # an unseeded car's first generator is seeded from the OS, as Gymnasium's
            fresh = np.random.SeedSequence().entropy
            seeds = [fresh + i if s is None else s for i, s in enumerate(seeds)]
        new = [i for i in cars.tolist() if seeds[i] is not None]
        # each seed's generator is Gymnasium's ``seeding.np_random(seed)``, made for all cars at once
        for i, rng in zip(new, generators([seeds[i] for i in new])):
            self.rngs[i] = rng
        car_options = [{k: (v[i] if k in per_car else v) for k, v in options.items()} for i in cars.tolist()]
        self._reset_cars(cars, car_options)
        self._started = True
        self._autoreset[cars] = False
        table, obs = self.fleet.report()
        return obs, self._info(table)[0]

    def _reset_cars(self, cars: np.ndarray, options: list[dict] | None) -> None:
        if options is None:  # an autoreset: cars whose road is stored start in one kernel
            cars, numbers, offsets = self.fleet.restart(cars)  # the others: on their road, stored first
            if len(cars):
                names = self.config.families
                keys = [(names[f], i) for f, _, i in numbers.tolist()]
                roads = roads_of(self.config.split, keys, self._roads)
                self.fleet.reset_cars(cars, roads, offsets[0], offsets[1], None, numbers[:, :2])
            return
        rngs = self.rngs[cars]
        uniforms = self.fleet.generators.uniforms(cars, rngs, UNIFORMS_PER_EPISODE)
        roads, lateral, heading = draw_episodes(self.config, rngs, options, self._roads, uniforms)
        # the roads a reset drew are remembered for autoresets too
        self.fleet.reset_cars(cars, roads, lateral, heading, rngs, episode_picks(self.config, uniforms, options))

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        # checked here although the kernel checks too: autoresets below change state before it runs
        a = self.fleet.actions  # [N, A], written in place (as the single env writes its one car's)
        if type(actions) is np.ndarray and actions.shape == a.shape and actions.dtype.kind == "f":
            np.copyto(a, actions)
            if not math.isfinite(a.sum()):
                validate_actions(actions, a.shape)  # raises: NaN or infinite
        else:
            a[...] = validate_actions(actions, a.shape)
        # next-step autoreset: cars whose episode ended last step start a new one and stay put
        resetting = self._autoreset  # replaced below, never changed in place
        if resetting.any():
            self._reset_cars(resetting.nonzero()[0], None)
        table, obs = self.fleet.step(a, resetting)
        info, terminated, truncated = self._info(table)
        self._autoreset = terminated | truncated
        return obs, table[ROW_REWARD], terminated, truncated, info

    def _info(self, table: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
        """Per-car info arrays (same keys as the single env), ``_key`` masks all True; and the
        terminated and truncated flags."""
        info, terminated, truncated = info_arrays(table, self.fleet.road_labels)
        info.update(self._masks)  # read-only, so they can be shared
        return info, terminated, truncated

    def close_extras(self, **kwargs):
        pass


_MASK_KEYS = tuple(f"_{k}" for k in INFO_KEYS)


def _is_per_car(key: str, value) -> bool:
    return key in ("road", "family", "road_index") and isinstance(value, (list, tuple, np.ndarray))
