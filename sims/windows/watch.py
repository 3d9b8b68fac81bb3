"""``roadschool watch``: a window where a car drives road after road, the expert alongside."""

from __future__ import annotations

from agents.drivers import ExpertDriver
from envs.config import RoadFollowConfig
from envs.road import Road
from envs.road_follow import MAX_EPISODE_STEPS
from sims.windows.app import DEFAULT_SIZE
from sims.windows.driving import DrivePanel, DrivingApp, RoadList, RoadRun
from sims.windows.keys import SPLIT_VIEW, WATCH_KEYS, Key


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

    def active_keys(self) -> tuple[Key, ...]:
        return self.keys if self.split_roads is not None else tuple(k for k in self.keys if k is not SPLIT_VIEW)

    def driver_label(self) -> str:
        return self.label
