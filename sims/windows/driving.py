"""Roads driven live in a window: the run on one road, the list of roads, a panel, and the
driving app that watch and play are."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pygame

from agents.trajectory import Trajectory, step_rows
from envs import RoadFollowEnv
from envs.car import CarParams
from envs.config import RoadFollowConfig
from envs.generation import DEFAULT_FAMILIES, generate_road, road_key
from envs.road import Road
from envs.road_follow import MAX_EPISODE_STEPS
from sims.windows.app import DEFAULT_SIZE, TimedApp
from sims.windows.keys import DRIVING_KEYS
from sims.windows.panels import DIVIDER, READY_BLUE, PanelPainter, ViewOptions, drive_hud, outcome_banner

HOLD_SECONDS = 2.0  # [s] a finished road stays on screen this long before the next one
PANEL_GAP_PX = 4  # [px] between the two panels of the split view


class RoadRun:
    """One road driven live: the driver's car and, alongside, the expert's (the ghost).

    Each is a :class:`envs.RoadFollowEnv` on the same road, stepped together one
    step per tick, so the ghost is where the expert is after as many steps. Both are
    recorded as :class:`agents.trajectory.Trajectory` (``trajectory`` and ``ghost``).
    The run ends when the driver's episode ends (finished, off road, or ``max_steps``,
    the evaluation's time limit). ``on_step(obs, action, cte, step)`` is called before
    each step with what the driver saw and did.
    """

    def __init__(
        self,
        road: Road,
        driver,
        config: RoadFollowConfig,
        ghost_driver=None,
        max_steps: int = MAX_EPISODE_STEPS,
        on_step: Callable | None = None,
        seed: int = 0,
        driver_label: str | None = None,
    ):
        self.road = road
        self.driver = driver
        self.config = config
        self.max_steps = max_steps
        self.on_step = on_step
        self.env = RoadFollowEnv(config=config)
        self.obs, info = self.env.reset(seed=seed, options={"road": road})
        label = driver_label or getattr(driver, "name", "driver")
        self.trajectory = Trajectory(road, config.dt, config.car, label)
        self.trajectory.append(step_rows(self.env.fleet.state, info))
        self.ghost: Trajectory | None = None
        self.ghost_done = True
        if ghost_driver is not None:
            self.ghost_driver = ghost_driver
            self.ghost_env = RoadFollowEnv(config=dataclasses.replace(config, observation="features"))
            self.ghost_obs, ginfo = self.ghost_env.reset(seed=seed, options={"road": road})
            self.ghost = Trajectory(road, config.dt, config.car, getattr(ghost_driver, "name", "expert"))
            self.ghost.append(step_rows(self.ghost_env.fleet.state, ginfo))
            self.ghost_done = False
        self.steps = 0

    @property
    def outcome(self) -> str | None:
        return self.trajectory.outcome

    @property
    def done(self) -> bool:
        return self.trajectory.outcome is not None

    def tick(self) -> None:
        """One env step for the car and the ghost (nothing once the run is done)."""
        if self.done:
            return
        action = np.asarray(self.driver.act(self.obs[None], self.env.fleet), dtype=np.float64).reshape(-1)
        action = action[: self.config.action_size]
        if self.on_step is not None:
            self.on_step(self.obs, action, float(self.env.fleet.cte[0]), self.steps)
        self.obs, _, terminated, _, info = self.env.step(action)
        self.steps += 1
        self.trajectory.append(step_rows(self.env.fleet.state, info))
        if terminated:
            self.trajectory.outcome = "finished" if info["finished"] else "off road"
        elif self.steps >= self.max_steps:
            self.trajectory.outcome = "time limit"
        if not self.ghost_done:
            ghost_action = self.ghost_driver.act(self.ghost_obs[None], self.ghost_env.fleet).reshape(-1)[:1]
            self.ghost_obs, _, ghost_terminated, _, ginfo = self.ghost_env.step(ghost_action)
            self.ghost.append(step_rows(self.ghost_env.fleet.state, ginfo))
            if ghost_terminated:
                self.ghost.outcome = "finished" if ginfo["finished"] else "off road"
                self.ghost_done = True


class RoadList:
    """The roads a panel drives, one after the other: road ``i`` of a split (as
    ``roadschool evaluate`` numbers them, ``envs.generation.road_key``), or of a roads
    file (going round)."""

    def __init__(
        self,
        roads: list[Road] | None = None,
        split: str = "train",
        families: tuple[str, ...] = DEFAULT_FAMILIES,
        first: int = 0,
    ):
        if roads is not None and not roads:
            raise ValueError("no roads to drive")
        self.roads = roads
        self.split = split
        self.families = tuple(families) or DEFAULT_FAMILIES
        self.first = first

    def index(self, i: int) -> int:
        """``i`` moved into range: a file's roads go round, a split's start at 0."""
        return i % len(self.roads) if self.roads is not None else max(0, i)

    def __getitem__(self, i: int) -> Road:
        i = self.index(i)
        if self.roads is not None:
            return self.roads[i]
        return generate_road(self.split, *road_key(i, self.families, self.first))

    def label(self, i: int) -> str:
        i = self.index(i)
        name = self[i].name
        return f"{name} ({i + 1}/{len(self.roads)})" if self.roads is not None else name


class DrivePanel:
    """One panel of a driving window: a list of roads, the run on the current one,
    and a record of how the roads so far went. A finished road stays on screen for
    ``HOLD_SECONDS``, then the next one starts; with ``lead_seconds`` each road
    waits that long (counting down) before the car moves."""

    def __init__(
        self,
        roads: RoadList,
        start_run: Callable[[Road], RoadRun],
        dt: float,
        first: int = 0,
        lead_seconds: float = 0.0,
    ):
        self.roads = roads
        self.start_run = start_run
        self.dt = dt
        self.hold_ticks = max(1, int(round(HOLD_SECONDS / dt)))
        self.lead_ticks = int(round(lead_seconds / dt))
        self.lead = self.lead_ticks
        self.painter = PanelPainter()
        self.results: list[str] = []  # outcome of each road driven to its end
        self.completed = 0  # roads left after their hold (not skipped by a key)
        self.index = roads.index(first)
        self.run = start_run(roads[self.index])
        self._held = 0

    def goto(self, index: int) -> None:
        self.index = self.roads.index(index)
        self.run = self.start_run(self.roads[self.index])
        self._held = 0
        self.lead = self.lead_ticks

    def restart(self) -> None:
        self.goto(self.index)

    def tick(self) -> None:
        if self.lead > 0:
            self.lead -= 1
            return
        if self.run.done:
            self._held += 1
            if self._held >= self.hold_ticks:
                self.completed += 1
                self.goto(self.index + 1)
            return
        self.run.tick()
        if self.run.done:
            self.results.append(self.run.outcome)

    def hud(self, driver_label: str) -> dict[str, str]:
        """The drive's HUD (``drive_hud``), with the road's place in the list and how the roads so far went."""
        track = self.run.trajectory
        hud = drive_hud(track, len(track) - 1, self.run.ghost, driver_label)
        hud["road"] = self.roads.label(self.index)
        if self.results:
            done = sum(r == "finished" for r in self.results)
            hud["roads"] = f"{done}/{len(self.results)} finished"
        return hud

    def draw(self, surface, options: ViewOptions, driver_label: str, extra_hud=None) -> None:
        track = self.run.trajectory
        hud = self.hud(driver_label)
        hud.update(extra_hud or {})
        banner = (f"get ready ... {math.ceil(self.lead * self.dt)}", READY_BLUE) if self.lead > 0 else None
        self.painter.paint(
            surface, track, len(track) - 1, self.run.ghost, hud, options, banner or outcome_banner(track)
        )


class DrivingApp(TimedApp):
    """Panels of cars driving roads live; the base of watch and play."""

    keys = DRIVING_KEYS

    def __init__(
        self,
        panels: list[DrivePanel],
        dt: float,
        car: CarParams = CarParams(),
        size: tuple[int, int] = DEFAULT_SIZE,
        camera: str = "follow",
        speed: float = 1.0,
        max_roads: int | None = None,
    ):
        super().__init__(dt, size, camera, speed)
        if not panels:
            raise ValueError("a driving window needs at least one panel")
        self.panels = panels
        self.car = car
        self.max_roads = max_roads

    def next_road(self) -> None:
        for p in self.panels:
            p.goto(p.index + 1)

    def previous_road(self) -> None:
        for p in self.panels:
            p.goto(p.index - 1)

    def restart(self) -> None:
        for p in self.panels:
            p.restart()

    def tick(self) -> None:
        """One env step in every panel."""
        for p in self.panels:
            p.tick()
        if self.max_roads is not None and all(p.completed >= self.max_roads for p in self.panels):
            self.running = False

    # -- drawing
    def driver_label(self) -> str:
        return "driver"

    def panel_rects(self, area) -> list:
        if len(self.panels) == 1:
            return [pygame.Rect(area)]
        half = (area.width - PANEL_GAP_PX) // 2
        return [
            pygame.Rect(area.x, area.y, half, area.height),
            pygame.Rect(area.right - half, area.y, half, area.height),
        ]

    def draw_panels(self, canvas, rect) -> None:
        rects = self.panel_rects(rect)
        if len(rects) > 1:
            canvas.fill(DIVIDER, pygame.Rect(rects[0].right, rect.y, rects[1].left - rects[0].right, rect.height))
        for panel, r in zip(self.panels, rects):
            surface = canvas.subsurface(r)
            panel.draw(surface, self.options, self.driver_label(), self.extra_hud(panel))
            self.draw_panel_extras(surface, panel)

    def extra_hud(self, panel: DrivePanel) -> dict[str, str]:
        return {}

    def draw_panel_extras(self, surface, panel: DrivePanel) -> None:
        pass
