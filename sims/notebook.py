"""Pictures and animations a Jupyter notebook shows inline.

``show_drive(policy, road)`` drives a policy (a trained :class:`agents.model.SteeringPolicy`,
a checkpoint path, or ``"expert"``) down one road and returns a :class:`DriveAnimation`:
the last expression of a cell, it plays in the notebook as an animated GIF (the learned car,
its drift trail coloured by |cross-track error|, the expert's car as a translucent ghost and
the HUD), with the drive's metrics under it. ``show_frame(env)`` does the same for one frame of
an env made with ``render_mode="rgb_array"``.

Nothing here needs Jupyter or IPython: the objects have ``_repr_html_`` (and ``_repr_png_``),
which every notebook front end displays, and ``save(path)`` writes them to a file.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from agents.drivers import ExpertDriver, PolicyDriver
from agents.evaluation import drive, env_config_for
from agents.model import SteeringPolicy
from agents.trajectory import Trajectory
from envs import generate_road
from envs.atomic import atomic_path
from envs.road import Road
from sims.recording import gif_bytes
from sims.video import drive_frames


@dataclass
class DriveAnimation:
    """An animated drive, shown inline by a notebook (``_repr_html_``)."""

    gif: bytes
    """The animation as GIF bytes."""
    road: str
    """The road's name."""
    driver: str
    """Who drove (``learner`` or ``expert``)."""
    metrics: dict
    """The drive's metrics (``agents.evaluation.Trajectory.metrics``)."""
    frames: int
    """Frames in the animation."""
    trajectory: Trajectory
    """Everything the car did, step by step."""

    def caption(self) -> str:
        m = self.metrics
        ending = (
            "reached the end"
            if m["completion_rate"]
            else ("left the road" if m["off_road_rate"] else "ran out of time")
        )
        return (
            f"{self.driver} on road {self.road}: {ending} after {len(self.trajectory.cte) - 1} steps, "
            f"mean |cte| {m['mean_abs_cte']:.3f} m, max |cte| {m['max_abs_cte']:.3f} m"
        )

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.gif).decode("ascii")
        return (
            f'<figure style="margin:0"><img src="data:image/gif;base64,{data}" '
            f'alt="drive on {html.escape(self.road)}"/>'
            f"<figcaption>{html.escape(self.caption())}</figcaption></figure>"
        )

    def __repr__(self) -> str:
        return f"<DriveAnimation: {self.caption()} ({self.frames} frames)>"

    def save(self, path) -> Path:
        """Write the animation as a ``.gif`` file."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_bytes(self.gif)
        return path


def show_drive(
    policy,
    road: Road | None = None,
    split: str = "unseen",
    index: int = 0,
    family: str = "twisty",
    ghost: bool = True,
    stride: int = 2,
    max_frames: int = 150,
    size: int = 360,
    max_steps: int = 3000,
) -> DriveAnimation:
    """Drive ``policy`` down one road and return the drive as an animation a notebook shows.

    Args:
        policy: a :class:`agents.model.SteeringPolicy`, a checkpoint path, or ``"expert"``.
        road: the road to drive; default: road ``index`` of ``family`` in ``split``.
        ghost: draw the expert's drive of the same road as a translucent ghost.
        stride: draw every ``stride``-th step (the GIF still plays at real time).
        max_frames: at most this many frames (the first ``stride * max_frames`` steps).
        size: side of the square frames [px].
    """
    if stride < 1 or max_frames < 1:
        raise ValueError(f"stride and max_frames must be at least 1, got {stride} and {max_frames}")
    if isinstance(policy, (str, Path)) and str(policy) == "expert":
        driver, observation = ExpertDriver(), "features"
    else:
        if isinstance(policy, (str, Path)):
            policy = SteeringPolicy.load(policy)
        driver, observation = PolicyDriver(policy), policy.observation
    if road is None:
        road = generate_road(split, family, index)
    env_config = env_config_for(observation)
    trajectory = drive(driver, [road], env_config, max_steps=max_steps)[0]
    expert = drive(ExpertDriver(), [road], env_config_for("features"), max_steps=max_steps)[0] if ghost else None
    frames = [f for f, _ in drive_frames(trajectory, expert, size=(size, size), stride=stride, max_frames=max_frames)]
    return DriveAnimation(
        gif_bytes(frames, stride * env_config.dt), road.name, driver.name, trajectory.metrics(), len(frames), trajectory
    )


@dataclass
class Frame:
    """One RGB picture, shown inline by a notebook (``_repr_png_``)."""

    pixels: np.ndarray
    """``[H, W, 3]`` uint8."""

    def __repr__(self) -> str:
        return f"<Frame {self.pixels.shape[1]}x{self.pixels.shape[0]}>"

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(self.pixels)).save(buffer, format="PNG")
        return buffer.getvalue()


def show_frame(env) -> Frame:
    """The env's current picture (``env.render()`` of an env made with ``render_mode="rgb_array"``)."""
    pixels = env.render()
    if pixels is None:
        raise ValueError("the env drew nothing: make it with render_mode='rgb_array'")
    return Frame(np.asarray(pixels))
