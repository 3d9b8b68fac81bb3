"""``roadschool watch``: a window where a car drives road after road, the expert alongside.

A policy that sees the camera has its dashcam drawn in each panel; ``s`` lays the occlusion
saliency over it (:func:`agents.saliency.occlusion_saliency`: where covering a square of the
frame moves the steering most, in red). A map costs one forward pass per square, too many for
every frame, so a new one is made every ``SALIENCY_EVERY`` steps from squares laid side by side,
and the dashcam's caption says so.
"""

from __future__ import annotations

import numpy as np

from agents.drivers import ExpertDriver
from envs.config import RoadFollowConfig
from envs.road import Road
from envs.road_follow import MAX_EPISODE_STEPS
from sims.windows.app import DEFAULT_SIZE
from sims.windows.driving import DrivePanel, DrivingApp, RoadList, RoadRun
from sims.windows.keys import SALIENCY, SPLIT_VIEW, WATCH_KEYS, Key
from sims.windows.panels import STATUS_TEXT, draw_dashcam

SALIENCY_EVERY = 10
"""[steps] a new saliency map every this many env steps (0.5 s of driving)."""
SALIENCY_PATCH = 8
"""[px] the covered squares, side by side: 32 forward passes on a 32 x 64 frame, about 75 ms on the
loaded 2-core machine (half-overlapping squares, as ``roadschool explain`` uses, took 200 ms)."""


class DashcamSaliency:
    """The saliency map of one panel's dashcam, made again only every ``every`` steps of its run."""

    def __init__(self, policy, every: int = SALIENCY_EVERY, patch: int = SALIENCY_PATCH):
        self.policy = policy
        self.every = every
        self.patch = patch
        self.run: RoadRun | None = None
        self.step = -1
        self.map: np.ndarray | None = None
        self.maps_made = 0

    def for_frame(self, run: RoadRun, frame: np.ndarray) -> np.ndarray:
        """``[H, W]`` float32: the map of ``run``'s frame now, or of the one ``every`` steps ago at most."""
        if self.map is None or run is not self.run or run.steps - self.step >= self.every or run.steps < self.step:
            from agents.saliency import occlusion_saliency

            self.map = occlusion_saliency(self.policy, frame[None], patch=self.patch, stride=self.patch)[0]
            self.run, self.step = run, run.steps
            self.maps_made += 1
        return self.map


class WatchApp(DrivingApp):
    """``roadschool watch``: the learned car (or the expert) drives road after road.

    Args:
        driver: who drives (a :class:`agents.drivers.Driver`).
        driver_label: how the HUD names it.
        env_config: the world (``agents.evaluation.env_config_for`` the policy's observation).
        roads: the roads of the single view.
        split_roads: the train and unseen roads of the split view.
        split_view: start in the split view.
        ghost: drive the expert alongside as a ghost.
        record: write what is shown to this ``.gif`` / ``.mp4``.
    """

    title = "roadschool watch"
    help_title = "roadschool watch"
    keys = WATCH_KEYS

    def __init__(
        self,
        driver,
        env_config: RoadFollowConfig,
        roads: RoadList,
        split_roads: tuple[RoadList, RoadList] | None = None,
        split_view: bool = False,
        driver_label: str = "learner",
        ghost: bool = True,
        size: tuple[int, int] = DEFAULT_SIZE,
        camera: str = "follow",
        speed: float = 1.0,
        max_roads: int | None = None,
        record=None,
        max_steps: int = MAX_EPISODE_STEPS,
    ):
        self.driver = driver
        self.env_config = env_config
        self.label = driver_label
        self.max_steps = max_steps
        self._ghost = ExpertDriver() if ghost else None
        self.single = [self._panel(roads)]
        self.split_roads = split_roads
        self.split = None
        self.dashcam = env_config.observation == "camera"
        """Draw the camera frame the driver sees in each panel."""
        self.saliency_policy = getattr(driver, "policy", None) if self.dashcam else None
        self.show_saliency = False
        self._saliency: dict[DrivePanel, DashcamSaliency] = {}
        super().__init__(self.single, env_config.dt, env_config.car, size, camera, speed, max_roads)
        if split_view:
            self.toggle_split()
        if record is not None:
            self.start_recording(record)

    def _panel(self, roads: RoadList, first: int = 0) -> DrivePanel:
        def start(road: Road) -> RoadRun:
            return RoadRun(road, self.driver, self.env_config, self._ghost, self.max_steps, driver_label=self.label)

        return DrivePanel(roads, start, self.env_config.dt, first)

    def toggle_split(self) -> None:
        if self.split_roads is None:
            return
        if self.panels is self.split:
            self.panels = self.single
        else:
            if self.split is None:
                index = self.single[0].index
                self.split = [self._panel(r, index) for r in self.split_roads]
            self.panels = self.split

    def toggle_saliency(self) -> None:
        """The saliency overlay on the dashcam on / off (a policy that sees the camera only)."""
        if self.saliency_policy is not None:
            self.show_saliency = not self.show_saliency

    def active_keys(self) -> tuple[Key, ...]:
        unused = {k for k, used in ((SPLIT_VIEW, self.split_roads), (SALIENCY, self.saliency_policy)) if used is None}
        return tuple(k for k in self.keys if k not in unused)

    def draw_panel_extras(self, surface, panel: DrivePanel) -> None:
        if not self.dashcam:
            return
        frame = panel.run.obs
        if self.show_saliency:
            from agents.saliency import overlay

            saliency = self._saliency.setdefault(panel, DashcamSaliency(self.saliency_policy))
            frame = overlay(frame, saliency.for_frame(panel.run, frame))
            caption = f"saliency (s): a map every {saliency.every} steps, {saliency.patch} px squares"
        else:
            caption = "dashcam" + (" (s: saliency)" if self.saliency_policy is not None else "")
        draw_dashcam(surface, frame, caption)

    def state_labels(self) -> list[tuple[str, tuple[int, int, int]]]:
        labels = super().state_labels()
        if self.show_saliency:
            labels.insert(
                -1 if self.recorder is not None else len(labels),
                (f"saliency every {SALIENCY_EVERY} steps", STATUS_TEXT),
            )
        return labels

    def driver_label(self) -> str:
        return self.label
