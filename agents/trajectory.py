"""The record of a drive: what one car did on one road, step by step.

One type for every drive, live or done: the evaluation records one per road
(``agents.evaluation.drive``), a window appends to one as its car drives, an
episode file stores one (``sims.episodes``) and a replay, a report and a video
draw one. Row ``t`` is the car after ``t`` steps of ``dt`` seconds (row 0: the
start), with the columns of :data:`COLUMNS`. The heading is recorded as the car
drove, never reconstructed: a car that slides does not point where it moves.
"""

from __future__ import annotations

import numpy as np

from envs.car import HEADING, LATERAL, SPEED, STEER, CarParams, X, Y
from envs.rendering import CarPose
from envs.road import Road

COLUMNS = ("x", "y", "heading", "speed", "steer", "lateral_speed", "cte", "progress_m", "lateral_accel", "sliding")
"""Rear-axle position x, y [m]; heading [rad]; speed [m/s] (along the heading); front-wheel angle
[rad]; lateral speed of the centre of gravity [m/s] (0 for the kinematic car); cross-track error
[m]; distance along the road [m]; lateral acceleration [m/s^2] (0 for the kinematic car); whether
a tyre slid during the step (1 or 0)."""
OPTIONAL_COLUMNS = ("lateral_speed", "lateral_accel", "sliding")  # zeros where a record lacks them
OUTCOMES = ("finished", "off road", "time limit")
_STATE_COLUMNS = (X, Y, HEADING, SPEED, STEER, LATERAL)  # the first six columns, from the car's state
_INFO_COLUMNS = ("cte", "progress_m", "lateral_accel", "sliding")  # the rest, from the env's info


def step_rows(state: np.ndarray, info: dict) -> np.ndarray:
    """``(N, len(COLUMNS))`` the record of ``N`` cars after a step: ``state`` is the fleet's
    ``[N, 7]`` car state, ``info`` the env's info (``[N]`` arrays, or scalars for one car)."""
    state = np.asarray(state, dtype=np.float64).reshape(-1, state.shape[-1])
    rows = np.empty((len(state), len(COLUMNS)))
    rows[:, : len(_STATE_COLUMNS)] = state[:, _STATE_COLUMNS]
    for k, name in enumerate(_INFO_COLUMNS, start=len(_STATE_COLUMNS)):
        rows[:, k] = np.asarray(info[name], dtype=np.float64)
    return rows


class Trajectory:
    """What one car did on one road: :data:`COLUMNS` per step, ``dt`` [s] apart.

    Args:
        road: the road driven.
        dt: the time step [s].
        car: the car (its sizes draw it; a dynamic car also shows where it moves).
        driver: who drove, for people (``expert``, ``learner (model.pt)``, ``human``).
        rows: ``(T, len(COLUMNS))`` the steps so far (None: none yet; :meth:`append` adds them).
        outcome: how the drive ended (one of :data:`OUTCOMES`), None while it goes on.
    """

    def __init__(
        self,
        road: Road,
        dt: float,
        car: CarParams = CarParams(),
        driver: str = "driver",
        rows: np.ndarray | None = None,
        outcome: str | None = None,
    ):
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES} or None, got {outcome!r}")
        self.road = road
        self.dt = float(dt)
        self.car = car
        self.driver = driver
        self.outcome = outcome
        if rows is None:
            self._rows, self.n = np.zeros((256, len(COLUMNS))), 0
        else:
            rows = np.array(rows, dtype=np.float64)
            if rows.ndim != 2 or rows.shape[1] != len(COLUMNS):
                raise ValueError(f"rows must have shape (T, {len(COLUMNS)}), got {rows.shape}")
            self._rows, self.n = rows, len(rows)

    @classmethod
    def from_columns(
        cls,
        road: Road,
        dt: float,
        car: CarParams = CarParams(),
        driver: str = "driver",
        outcome: str | None = None,
        **columns: np.ndarray,
    ) -> Trajectory:
        """A trajectory of named ``(T,)`` columns (``xy`` ``(T, 2)`` may stand for x and y;
        :data:`OPTIONAL_COLUMNS` left out are zeros)."""
        if "xy" in columns:
            xy = np.asarray(columns.pop("xy"), dtype=np.float64)
            columns["x"], columns["y"] = xy[:, 0], xy[:, 1]
        unknown = set(columns) - set(COLUMNS)
        missing = [c for c in COLUMNS if c not in columns and c not in OPTIONAL_COLUMNS]
        if unknown or missing:
            raise ValueError(f"unknown columns {sorted(unknown)}, missing columns {missing}")
        n = len(np.asarray(columns["x"]))
        rows = np.column_stack([np.asarray(columns.get(c, np.zeros(n)), dtype=np.float64) for c in COLUMNS])
        return cls(road, dt, car, driver, rows, outcome)

    def append(self, rows: np.ndarray) -> None:
        """Add steps: ``(len(COLUMNS),)`` one, or ``(k, len(COLUMNS))`` (see :func:`step_rows`)."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, len(COLUMNS))
        if self.n + len(rows) > len(self._rows):
            grown = np.zeros((max(2 * len(self._rows), self.n + len(rows)), len(COLUMNS)))
            grown[: self.n] = self._rows[: self.n]
            self._rows = grown
        self._rows[self.n : self.n + len(rows)] = rows
        self.n += len(rows)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"<Trajectory of {self.driver} on {self.road.name}: {self.n} rows, {self.outcome or 'driving'}>"

    # -- columns (views: they change as the drive goes on)
    @property
    def rows(self) -> np.ndarray:
        """``(T, len(COLUMNS))`` all steps."""
        return self._rows[: self.n]

    def column(self, name: str) -> np.ndarray:
        return self._rows[: self.n, COLUMNS.index(name)]

    @property
    def xy(self) -> np.ndarray:
        """``(T, 2)`` rear-axle positions [m]."""
        return self._rows[: self.n, :2]

    @property
    def heading(self) -> np.ndarray:
        return self.column("heading")

    @property
    def speed(self) -> np.ndarray:
        return self.column("speed")

    @property
    def steer(self) -> np.ndarray:
        return self.column("steer")

    @property
    def lateral_speed(self) -> np.ndarray:
        return self.column("lateral_speed")

    @property
    def cte(self) -> np.ndarray:
        return self.column("cte")

    @property
    def progress_m(self) -> np.ndarray:
        return self.column("progress_m")

    @property
    def lateral_accel(self) -> np.ndarray:
        return self.column("lateral_accel")

    @property
    def sliding(self) -> np.ndarray:
        """``(T,)`` bool: a tyre slid during the step."""
        return self.column("sliding") != 0.0

    @property
    def finished(self) -> bool:
        return self.outcome == "finished"

    @property
    def off_road(self) -> bool:
        return self.outcome == "off road"

    # -- what it means
    def pose(self, t: int) -> CarPose:
        """The car at step ``t``, for drawing (a dynamic car with the velocity of its body)."""
        x, y, heading, speed, steer, lateral = self._rows[t, :6].tolist()
        velocity = None
        if self.car.model == "dynamic":  # where the body moves: off its heading when it slides
            c, s = np.cos(heading), np.sin(heading)
            velocity = (float(c * speed - s * lateral), float(s * speed + c * lateral))
        car = self.car
        return CarPose(x, y, heading, steer, car.length, car.width, car.wheelbase, velocity)

    def abs_cte_stats(self, upto: int | None = None) -> tuple[float, float]:
        """Mean and max |cte| [m] over the driven steps 1 .. ``upto`` (all; the start alone if none)."""
        n = self.n if upto is None else upto + 1
        cte = np.abs(self.cte[1:n] if n > 1 else self.cte[:n])
        return (float(cte.mean()), float(cte.max())) if len(cte) else (0.0, 0.0)

    def metrics(self) -> dict:
        """The evaluation's metrics of this drive (``agents.evaluation.METRICS``; the start is not a driven step)."""
        driven = slice(1, None) if self.n > 1 else slice(None)
        mean_cte, max_cte = self.abs_cte_stats()
        return {
            "completion_rate": float(self.finished),
            "off_road_rate": float(self.off_road),
            "mean_abs_cte": mean_cte,
            "max_abs_cte": max_cte,
            "mean_speed": float(self.speed[driven].mean()),
            "episodes": 1,
            "lap_time": (self.n - 1) * self.dt if self.finished else None,
            "peak_lateral_accel": float(np.abs(self.lateral_accel[driven]).max()),
            "sliding_time": float(self.sliding[driven].sum()) * self.dt,
        }
