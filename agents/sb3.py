"""Stable-Baselines3 on the native vector env: a ``VecEnv`` adapter and a driver for trained models.

:class:`FleetVecEnv` is :class:`envs.RoadFollowVectorEnv` as an SB3 ``VecEnv``: all cars step in
one kernel call. SB3 resets an ended episode in the same step (the returned observation is the
next episode's first, the last one is in ``infos[i]["terminal_observation"]``), while the native
env resets on the next step; the adapter resets the ended cars at once with ``reset_mask``.
It also adds what SB3's ``Monitor`` would (``infos[i]["episode"] = {"r", "l", "t"}``) and
``TimeLimit.truncated``, so ``ep_rew_mean`` and bootstrapping on time limits work unchanged.

Car ``i`` of ``FleetVecEnv(n, seed=s)`` is the single env reset with seed ``s + i``, as in
``gymnasium.make_vec``. The slower, generic path, ``DummyVecEnv([lambda: gym.make(ENV_ID)] * n)``,
works too (``benchmarks/bench_sb3.py`` measures both).

Needs the ``rl`` extra: ``pip install -c constraints.txt -e '.[rl]'``.
"""

from __future__ import annotations

import time

import numpy as np

from envs import RoadFollowConfig, RoadFollowVectorEnv
from envs.fleet import Fleet

INSTALL_HINT = "Stable-Baselines3 is needed: pip install -c constraints.txt -e '.[rl]'"

try:
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv
except ImportError as _missing:  # keep `import agents.sb3` cheap to fail with one clear line
    raise ImportError(INSTALL_HINT) from _missing


class FleetVecEnv(VecEnv):
    """``num_envs`` cars of one :class:`envs.RoadFollowVectorEnv`, as an SB3 ``VecEnv``.

    Args:
        num_envs: cars (parallel episodes).
        config: the world (``observation``, ``split``, roads, start offsets ...).
        max_episode_steps: time limit per episode [steps].
        seed: seeds car ``i`` with ``seed + i`` at the first reset (``None``: fresh entropy).
    """

    def __init__(
        self, num_envs: int, config: RoadFollowConfig | None = None, max_episode_steps: int = 3000, seed: int | None = 0
    ):
        self.vector_env = RoadFollowVectorEnv(num_envs, config=config, max_episode_steps=max_episode_steps)
        super().__init__(num_envs, self.vector_env.single_observation_space, self.vector_env.single_action_space)
        self._first_seed = seed
        self._actions: np.ndarray | None = None
        self._returns = np.zeros(num_envs)
        self._lengths = np.zeros(num_envs, dtype=np.int64)
        self._clock = time.perf_counter()

    @property
    def fleet(self) -> Fleet:
        return self.vector_env.fleet

    def seed(self, seed: int | None = None):
        self._first_seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def reset(self) -> np.ndarray:
        obs, _ = self.vector_env.reset(seed=self._first_seed)
        self._first_seed = None  # later resets continue each car's own generator
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, -1)

    def step_wait(self):
        obs, reward, terminated, truncated, info = self.vector_env.step(self._actions)
        reward = np.asarray(reward, dtype=np.float32).copy()
        self._returns += reward
        self._lengths += 1
        done = terminated | truncated
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        if done.any():
            ended = np.flatnonzero(done)
            elapsed = round(time.perf_counter() - self._clock, 6)
            for i in ended.tolist():
                infos[i] = {
                    "terminal_observation": obs[i].copy(),
                    "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                    "episode": {"r": float(self._returns[i]), "l": int(self._lengths[i]), "t": elapsed},
                    "finished": bool(info["finished"][i]),
                    "off_road": bool(info["off_road"][i]),
                }
            self._returns[ended] = 0.0
            self._lengths[ended] = 0
            obs, _ = self.vector_env.reset(options={"reset_mask": done})  # SB3 resets in the same step
        return obs.copy(), reward, done.copy(), infos

    def close(self) -> None:
        self.vector_env.close()

    def get_attr(self, attr_name: str, indices=None) -> list:
        return [getattr(self.vector_env, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value, indices=None) -> None:
        raise AttributeError(f"FleetVecEnv cars share one simulation; cannot set {attr_name!r} per car")

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list:
        raise AttributeError(f"FleetVecEnv has no per-car envs to call {method_name!r} on")

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))


class SB3Driver:
    """A trained SB3 model as an :class:`agents.drivers.Driver` (deterministic actions).

    ``normalize`` is the ``VecNormalize`` the model trained behind, if any (its statistics,
    frozen, scale the observations the same way)."""

    name = "ppo"

    def __init__(self, model, normalize=None):
        self.model = model
        self.normalize = normalize

    def act(self, obs: np.ndarray, fleet: Fleet) -> np.ndarray:
        x = self.normalize.normalize_obs(obs) if self.normalize is not None else obs
        actions, _ = self.model.predict(x, deterministic=True)
        return np.clip(np.asarray(actions, dtype=np.float64).reshape(len(obs), -1), -1.0, 1.0)
