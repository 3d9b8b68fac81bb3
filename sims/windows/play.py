"""``roadschool play``: drive the car yourself, and optionally record it as training data.

Steer with the left and right arrow keys (or A and D): holding one turns the
wheel further, letting go brings it back to straight. A gamepad's left stick
(or its D-pad) steers too, where pygame sees one. Each road starts after a short
countdown. ``--record DATASET`` writes what you drove in the dataset format the
expert's ``roadschool collect`` writes (``agents.data.Dataset``), with your
action as the label, so ``roadschool train --data DATASET`` learns to drive like you.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pygame

from agents.data import CollectConfig, Dataset, dataset_metadata
from agents.drivers import ExpertDriver
from envs import rendering
from envs.config import RoadFollowConfig
from envs.observations import observation_space
from envs.road import Road
from sims.windows.app import DEFAULT_SIZE
from sims.windows.driving import DrivePanel, DrivingApp, RoadList, RoadRun
from sims.windows.keys import PLAY_KEYS
from sims.windows.plot import PADDING

COUNTDOWN_SECONDS = 3.0  # [s] before the car moves on each road
KEY_STEER_RATE = 2.5  # [1/s] how fast a held arrow moves the normalized steering
KEY_RETURN_RATE = 4.0  # [1/s] how fast it comes back to straight when no arrow is held
STICK_DEADZONE = 0.08  # stick deflections smaller than this count as centred
GAUGE_SIZE = (260, 40)  # [px]


class HumanDriver:
    """Normalized steering from the keyboard or a gamepad, as an ``agents.drivers.Driver``.

    Its state changes with events (so posted events drive it as well as real
    keys); each :meth:`act` advances it by one time step ``dt`` [s].
    """

    name = "human"

    def __init__(self, dt: float):
        self.dt = dt
        self.command = 0.0  # normalized steering in [-1, 1], left positive
        self.left = False
        self.right = False
        self.stick = 0.0  # gamepad x axis in [-1, 1], right positive
        self.hat = 0
        self.input = "keyboard"
        self._joysticks = {}

    def handle_event(self, event) -> bool:
        """Take a key / gamepad event; True if it was a steering event."""
        if event.type in (pygame.KEYDOWN, pygame.KEYUP):
            down = event.type == pygame.KEYDOWN
            if event.key in (pygame.K_LEFT, pygame.K_a):
                self.left, self.input = down, "keyboard"
                return True
            if event.key in (pygame.K_RIGHT, pygame.K_d):
                self.right, self.input = down, "keyboard"
                return True
        elif event.type == pygame.WINDOWFOCUSLOST:
            self.left = self.right = False
        elif event.type == pygame.JOYAXISMOTION and event.axis == 0:
            self.stick = float(event.value) if abs(event.value) > STICK_DEADZONE else 0.0
            self.input = "gamepad"
            return True
        elif event.type == pygame.JOYHATMOTION:
            self.hat = int(event.value[0])
            self.input = "gamepad"
            return True
        elif event.type == pygame.JOYDEVICEADDED:
            pad = pygame.joystick.Joystick(event.device_index)
            self._joysticks[pad.get_instance_id()] = pad
        elif event.type == pygame.JOYDEVICEREMOVED:
            self._joysticks.pop(event.instance_id, None)
            self.stick, self.hat = 0.0, 0
        return False

    def act(self, obs: np.ndarray, fleet) -> np.ndarray:
        """``[1, 1]`` normalized steering: the stick's position, or the arrows' ramped command."""
        if self.stick != 0.0:
            self.command = float(np.clip(-self.stick, -1.0, 1.0))
        else:
            target = float(self.left or self.hat < 0) - float(self.right or self.hat > 0)
            rate = KEY_STEER_RATE if target != 0.0 else KEY_RETURN_RATE
            delta = float(np.clip(target - self.command, -rate * self.dt, rate * self.dt))
            self.command = float(np.clip(self.command + delta, -1.0, 1.0))
        return np.array([[self.command]])


class HumanDataset:
    """What the human drove, as an ``agents.data.Dataset``: the observation before each
    step, the human's action as its label, the road, the episode (one per road
    attempt), the step and the cross-track error, with the metadata ``collect`` writes."""

    def __init__(self, path, config: RoadFollowConfig, roads: RoadList):
        self.path = Path(path)
        self.config = config
        self.roads = roads
        self.rows: dict[str, list] = {k: [] for k in ("obs", "action", "road", "episode", "step", "cte")}
        self.road_names: list[str] = []
        self.episodes = 0
        self._road = None
        self._started = False
        self._indices: list[int] = []

    def __len__(self) -> int:
        return len(self.rows["action"])

    def begin(self, road: Road, index: int) -> None:
        """A new attempt at ``road`` (road ``index`` of the list) starts."""
        if road.name not in self.road_names:
            self.road_names.append(road.name)
        self._road = self.road_names.index(road.name)
        self._started = False
        self._indices.append(index)

    def add(self, obs: np.ndarray, action: np.ndarray, cte: float, step: int) -> None:
        if not self._started:
            self._started = True
            self.episodes += 1
        self.rows["obs"].append(np.array(obs))
        self.rows["action"].append(np.float32(action[0]))
        self.rows["road"].append(self._road)
        self.rows["episode"].append(self.episodes - 1)
        self.rows["step"].append(step)
        self.rows["cte"].append(np.float32(cte))

    def dataset(self) -> Dataset:
        shape = observation_space(self.config).shape
        on_split = self.roads.roads is None
        world = self.config
        if on_split:
            world = dataclasses.replace(world, split=self.roads.split, families=tuple(self.roads.families))
        # the human drives without injected noise; the road indices are those of the window's list
        played = CollectConfig(
            num_roads=max(self._indices, default=0) + 1,
            first_road=self.roads.first,
            noise_std=0.0,
            noise_correlation=0.0,
            seed=0,
            env=world,
        )
        meta = dataset_metadata(played, shape, self.road_names, source="human", on_split=on_split)
        meta["num_roads"] = played.num_roads
        obs = np.stack(self.rows["obs"]) if self.rows["obs"] else np.zeros((0, *shape), dtype=np.float32)
        return Dataset(
            obs=obs,
            action=np.asarray(self.rows["action"], dtype=np.float32).reshape(-1, 1),
            road=np.asarray(self.rows["road"], dtype=np.int32),
            episode=np.asarray(self.rows["episode"], dtype=np.int32),
            step=np.asarray(self.rows["step"], dtype=np.int32),
            cte=np.asarray(self.rows["cte"], dtype=np.float32),
            metadata=meta,
        )

    def save(self) -> Path | None:
        """Write the dataset (atomically); nothing when nothing was driven."""
        if len(self) == 0:
            return None
        return self.dataset().save(self.path)


class PlayApp(DrivingApp):
    """``roadschool play``: you drive, the expert drives alongside as a ghost.

    Args:
        env_config: the world (its ``observation`` is what a recording stores).
        roads: the roads to drive, one after the other.
        record: write a dataset of your driving here (``.npz``).
    """

    title = "roadschool play"
    help_title = "roadschool play"
    keys = PLAY_KEYS

    def __init__(
        self,
        env_config: RoadFollowConfig,
        roads: RoadList,
        record=None,
        ghost: bool = True,
        size: tuple[int, int] = DEFAULT_SIZE,
        camera: str = "follow",
        speed: float = 1.0,
        max_roads: int | None = None,
        countdown: float = COUNTDOWN_SECONDS,
    ):
        self.env_config = env_config
        self.human = HumanDriver(env_config.dt)
        self.dataset = HumanDataset(record, env_config, roads) if record is not None else None
        ghost_driver = ExpertDriver() if ghost else None
        self._panel_ref: list[DrivePanel] = []

        def start(road: Road) -> RoadRun:
            on_step = None
            if self.dataset is not None:
                index = self._panel_ref[0].index if self._panel_ref else roads.index(0)
                self.dataset.begin(road, index)
                on_step = self.dataset.add
            self.human.command = 0.0
            return RoadRun(road, self.human, env_config, ghost_driver, on_step=on_step, driver_label="human")

        panel = DrivePanel(roads, start, env_config.dt, lead_seconds=countdown)
        self._panel_ref.append(panel)
        super().__init__([panel], env_config.dt, env_config.car, size, camera, speed, max_roads)
        if not pygame.joystick.get_init():
            pygame.joystick.init()

    def handle_event(self, event) -> None:
        if self.human.handle_event(event):
            return
        super().handle_event(event)

    def tick(self) -> None:
        panel = self.panels[0]
        was_done = panel.run.done
        super().tick()
        if self.dataset is not None and panel.run.done and not was_done:
            self.dataset.save()  # after every road, so a crash loses at most one

    def driver_label(self) -> str:
        return f"you ({self.human.input})"

    def extra_hud(self, panel: DrivePanel) -> dict[str, str]:
        if self.dataset is None:
            return {}
        return {"recorded": f"{len(self.dataset)} steps"}

    def draw_panel_extras(self, surface, panel: DrivePanel) -> None:
        """A steering gauge: where your wheel command is, from full left to full right."""
        gw, gh = GAUGE_SIZE
        w, h = surface.get_size()
        x, y = (w - gw) // 2, h - gh - PADDING
        plot = panel.painter.plot_rect
        if plot is not None and x < plot.right + PADDING:
            x = plot.right + PADDING
        if x + gw > w - 140:  # keep clear of the scale bar
            return
        box = pygame.Surface((gw, gh), pygame.SRCALPHA)
        box.fill((0, 0, 0, 160))
        surface.blit(box, (x, y))
        small = rendering.font(12)
        for text, left in (("L", True), ("R", False)):
            label = small.render(text, True, (255, 255, 255))
            surface.blit(label, (x + PADDING if left else x + gw - PADDING - label.get_width(), y + gh // 2 - 7))
        x0, x1 = x + 24, x + gw - 24
        cy = y + gh // 2
        pygame.draw.line(surface, (150, 150, 150), (x0, cy), (x1, cy), 2)
        mid = (x0 + x1) // 2
        pygame.draw.line(surface, (150, 150, 150), (mid, cy - 8), (mid, cy + 8), 1)
        # left is positive steering, drawn to the left
        px = mid - self.human.command * 0.5 * (x1 - x0)
        pygame.draw.line(surface, (30, 96, 235), (mid, cy), (px, cy), 6)
        pygame.draw.circle(surface, (255, 255, 255), (int(px), cy), 6)
        wheel = math.degrees(panel.run.trajectory.steer[-1])
        label = small.render(f"wheel {wheel:+5.1f} deg", True, (220, 220, 220))
        surface.blit(label, (x + (gw - label.get_width()) // 2, y + 1))

    def close(self) -> None:
        try:
            if self.dataset is not None:
                self.dataset.save()
        finally:
            super().close()
