"""``RoadFollowEnv``: one car learns to follow a road."""

from __future__ import annotations

import dataclasses
import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.car import HEADING, LATERAL, SPEED
from envs.config import RoadFollowConfig
from envs.episode import draw_episodes
from envs.fleet import ROW_SLIDING, Fleet, car_info, car_step, step_table
from envs.observations import observation_space

MAX_EPISODE_STEPS = 3000
KEY_STEER = 0.5
"""Normalized steering a held arrow key asks for in ``gymnasium.utils.play.play`` (1 = full lock)."""


def make_config(config: RoadFollowConfig | None, overrides: dict) -> RoadFollowConfig:
    """``config`` (default: the defaults) with fields replaced; an unknown field is a TypeError."""
    config = config if config is not None else RoadFollowConfig()
    if not isinstance(config, RoadFollowConfig):
        raise TypeError(f"config must be a RoadFollowConfig, got {type(config).__name__}")
    fields = {f.name for f in dataclasses.fields(RoadFollowConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise TypeError(f"unknown RoadFollowEnv argument(s) {sorted(unknown)}; allowed: {', '.join(sorted(fields))}")
    return dataclasses.replace(config, **overrides) if overrides else config


def validate_actions(action, shape: tuple[int, ...]) -> np.ndarray:
    """Actions as a float64 array of ``shape`` (the kernels clip them to [-1, 1]); an array of
    another size is a ValueError, and so are NaN or infinite values and anything that is not numbers."""
    if isinstance(action, (str, bytes)):
        raise ValueError(f"action must be numbers, got {action[:40]!r}")
    try:
        a = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"action must be numbers of shape {shape[1:] if shape[0] == 1 else shape} "
            f"({str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__})"
        ) from None
    if a.shape != shape:
        if a.size != math.prod(shape):
            raise ValueError(f"action must have shape {shape[1:] if shape[0] == 1 else shape}, got {a.shape}")
        a = a.reshape(shape)
    if not math.isfinite(a.sum()) and not np.isfinite(a).all():  # a finite sum means no NaN or inf
        raise ValueError(f"action must be finite numbers, got {action!r} (NaN or infinite)")
    return a


class RoadFollowEnv(gym.Env):
    """A car with a cruise controller follows a procedurally generated road.

    ## Action Space
    ``Box(-1, 1, (1,))``: normalized steering, ``1`` asks for the full wheel angle
    to the left (``CarParams.max_steer``). With ``throttle=True`` the action is
    ``Box(-1, 1, (2,))``: ``[steer, accel]``, accel in units of ``max_accel``.
    Out-of-range values are clipped to [-1, 1]; NaN or infinite values raise ``ValueError``.

    ## Observation Space
    Chosen by ``observation``: ``features`` (default; cte, heading error, speed,
    steer and the centreline points ahead in the car's frame), ``rays`` (edge
    distances along fixed angles), ``image`` (64x64x1 uint8 top-down view) or
    ``camera`` (a forward dashcam, 32x64x3 uint8 RGB by default; ``envs.camera``).
    See ``envs.observations``.

    ## Rewards
    Named parts, each also in ``info``: ``reward_progress`` (per metre along the
    road), ``reward_centering`` (minus the squared cte as a fraction of half the
    width), ``reward_off_road`` (a one-off penalty for leaving the road).

    ## Episode End
    Terminated when the car leaves the road (|cte| > width / 2 + ``off_road_margin``)
    or reaches the end of an open road (a lap of a closed one); truncated after
    ``max_episode_steps`` (3000 when made through ``gymnasium.make``).

    ## Arguments
    ``RoadFollowEnv(render_mode=None, config=None, camera="follow", **fields)``: ``camera`` is
    ``follow`` (centred on the car) or ``road`` (the whole road; settable between frames
    through ``env.unwrapped.camera``), and ``fields`` are
    any fields of :class:`envs.RoadFollowConfig` (``observation``, ``split``,
    ``families``, ``target_speed``, ``throttle``, ``disturbances`` ...); an unknown
    name is a ``TypeError``. ``reset(options=...)`` takes ``road`` (an ``envs.Road``),
    ``family``, ``road_index`` and ``start_offset=(lateral_m, heading_rad)``.
    ``info`` has the same keys at every step: see ``envs.fleet.INFO_KEYS``.

    The simulation is ``envs.fleet.Fleet`` with one car: the same compiled kernels as
    :class:`envs.RoadFollowVectorEnv`'s.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 20}

    def __init__(
        self, render_mode: str | None = None, config: RoadFollowConfig | None = None, camera: str = "follow", **fields
    ):
        self.config = make_config(config, fields)
        if camera not in ("follow", "road"):
            raise ValueError(f"unknown camera {camera!r}; choose from follow, road")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; choose from {self.metadata['render_modes']}")
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.config.dt))}
        self.action_space = spaces.Box(-1.0, 1.0, (self.config.action_size,), dtype=np.float32)
        self.observation_space = observation_space(self.config)
        self.fleet = Fleet(self.config, 1)
        self.camera = camera
        self.renderer = None
        self._single_shape = (self.config.action_size,)
        self._action_shape = (1, self.config.action_size)
        self._table = step_table(1)  # each step's numbers, read into the info before the next step
        self._trail = np.zeros((0, 4))
        self._trail_len = 0
        self._started = False

    # ------------------------------------------------------------------ step
    def step(self, action):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        fleet = self.fleet
        a = fleet.actions  # [1, A], written in place: the usual action (a float array of the action's shape)
        if type(action) is np.ndarray and action.shape == self._single_shape and action.dtype.kind == "f":
            a[0] = action  # in 0.13 us, where converting and reshaping took 0.5 us
        else:  # anything else as validate_actions reads it (a ValueError that says what is wrong)
            a[...] = validate_actions(action, self._action_shape)
        table, obs = fleet.step(a, table=self._table)  # NaN or infinite actions: ValueError
        reward, terminated, info = car_step(table, 0, fleet.road_labels[0])
        if self.render_mode is not None:
            self._record_trail(bool(table[ROW_SLIDING, 0]))
            if self.render_mode == "human":
                self.render()
        return obs[0], reward, terminated, False, info

    # ----------------------------------------------------------------- reset
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        roads, lateral, heading = draw_episodes(self.config, [self.np_random], [options])
        self.fleet.reset_cars(np.zeros(1, dtype=np.int64), roads, lateral, heading, [self.np_random])
        self._started = True
        self._trail_len = 0
        if self.render_mode is not None:
            self._record_trail(False)
            if self.render_mode == "human":
                self.render()
        table, obs = self.fleet.report()
        return obs[0], car_info(table, 0, self.fleet.road_labels[0])

    @property
    def road(self):
        """The road of the current episode."""
        return self.fleet.roads.roads[0]

    @property
    def car_state(self) -> np.ndarray:
        """``[5]`` car state: x [m], y [m], heading [rad], speed [m/s], steer [rad] (the dynamic
        model's lateral speed and yaw rate follow in ``fleet.state[0, 5:]``)."""
        return self.fleet.state[0, :5].copy()

    # ---------------------------------------------------------------- render
    def _record_trail(self, sliding: bool) -> None:
        if self._trail_len == len(self._trail):
            grown = np.zeros((max(256, 2 * len(self._trail)), 4))
            grown[: self._trail_len] = self._trail[: self._trail_len]
            self._trail = grown
        st = self.fleet.state[0]
        self._trail[self._trail_len] = (st[0], st[1], abs(self.fleet.cte[0]), sliding)
        self._trail_len += 1

    @property
    def trail(self) -> np.ndarray:
        """``[T, 4]`` positions driven this episode (x [m], y [m], |cte| [m], whether a tyre slid
        there: 1 or 0); recorded when rendering."""
        return self._trail[: self._trail_len]

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        if not self._started:
            raise RuntimeError("call reset() before render()")
        from envs.rendering import CarPose, RoadRenderer

        if self.renderer is None:
            self.renderer = RoadRenderer(
                render_mode=self.render_mode, fps=self.metadata["render_fps"], camera=self.camera
            )
        self.renderer.camera = self.camera
        st = self.fleet.state[0]
        car = self.config.car
        velocity = None
        if car.model == "dynamic":  # the body's velocity: longitudinal and lateral speed, turned by the heading
            c, s = math.cos(st[HEADING]), math.sin(st[HEADING])
            velocity = (float(c * st[SPEED] - s * st[LATERAL]), float(s * st[SPEED] + c * st[LATERAL]))
        pose = CarPose(
            float(st[0]), float(st[1]), float(st[2]), float(st[4]), car.length, car.width, car.wheelbase, velocity
        )
        trail = self.trail
        hud = {
            "road": str(self.fleet.road_labels[0]),
            "step": str(self.fleet.steps[0]),
            "speed": f"{st[3]:5.2f} m/s",
            "steer": f"{np.degrees(st[4]):+6.1f} deg",
            "cte": f"{self.fleet.cte[0]:+6.2f} m",
            "progress": f"{100 * min(self.fleet.distance[0] / self.fleet.roads.length[0], 1.0):5.1f} %",
        }
        return self.renderer.render(self.road, pose, trail[:, :2], trail[:, 2], hud, trail_sliding=trail[:, 3] > 0)

    def get_keys_to_action(self) -> dict[tuple[int, ...], np.ndarray]:
        """The keyboard map of ``gymnasium.utils.play.play``: left / right arrows (or A / D) steer
        ``KEY_STEER`` of the full wheel angle; with ``throttle=True`` up / down (or W / S) also
        accelerate and brake. No key is straight ahead (``play``'s default ``noop=0``; with
        ``throttle=True`` pass ``noop=np.zeros(2, np.float32)``).

        ``play(gym.make("roadschool/RoadFollow-v0", render_mode="rgb_array"))`` then needs no key map.
        """
        import pygame

        steer = {
            (): 0.0,
            (pygame.K_LEFT,): KEY_STEER,
            (pygame.K_RIGHT,): -KEY_STEER,
            (pygame.K_a,): KEY_STEER,
            (pygame.K_d,): -KEY_STEER,
        }
        if not self.config.throttle:
            return {keys: np.array([s], dtype=np.float32) for keys, s in steer.items() if keys}
        accel = {(): 0.0, (pygame.K_UP,): 1.0, (pygame.K_DOWN,): -1.0, (pygame.K_w,): 1.0, (pygame.K_s,): -1.0}
        return {
            tuple(sorted(s_keys + a_keys)): np.array([s, a], dtype=np.float32)
            for s_keys, s in steer.items()
            for a_keys, a in accel.items()
            if s_keys + a_keys
        }

    def close(self):
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["renderer"] = None
        return state
