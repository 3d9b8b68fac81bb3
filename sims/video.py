"""Animated drives: the learned car on a road, its drift trail, the expert as a ghost."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from agents.evaluation import Trajectory
from envs.atomic import atomic_path
from envs.car import CarParams
from envs.road import Road


def _heading_of(trajectory: Trajectory, road: Road) -> np.ndarray:
    """Where the car pointed: recorded, or (older trajectories) along its motion."""
    if trajectory.heading is not None:
        return trajectory.heading
    return _heading(trajectory.xy, float(road.headings[0]))


def _heading(xy: np.ndarray, fallback: float) -> np.ndarray:
    d = np.diff(xy, axis=0)
    h = np.arctan2(d[:, 1], d[:, 0])
    return np.concatenate([[fallback], h]) if len(h) else np.array([fallback])


def drive_frames(
    road: Road,
    learner: Trajectory,
    expert: Trajectory | None = None,
    car: CarParams = CarParams(),
    size: int = 480,
    stride: int = 2,
    camera: str = "follow",
    pixels_per_metre: float = 8.0,
    max_frames: int | None = None,
):
    """Yield ``(frame[H, W, 3] uint8, step)`` along the learner's real trajectory.

    The trail is the positions the car actually drove, coloured by its measured
    |cross-track error|; the ghost is the expert at the same step.
    """
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from envs.rendering import CarPose, RoadRenderer

    renderer = RoadRenderer(size, size, camera=camera, pixels_per_metre=pixels_per_metre)
    heading = _heading_of(learner, road)
    ghost_heading = _heading_of(expert, road) if expert is not None else None
    steps = list(range(0, len(learner.xy), stride))
    if steps[-1] != len(learner.xy) - 1:
        steps.append(len(learner.xy) - 1)
    if max_frames is not None:
        steps = steps[:max_frames]
    try:
        for t in steps:
            velocity = None
            if car.model == "dynamic" and learner.lateral_speed is not None:  # where the body moves
                c, s = np.cos(heading[t]), np.sin(heading[t])
                vx, vy = learner.speed[t], learner.lateral_speed[t]
                velocity = (float(c * vx - s * vy), float(s * vx + c * vy))
            pose = CarPose(*learner.xy[t], heading[t], learner.steer[t], car.length, car.width, car.wheelbase,
                           velocity)  # fmt: skip
            ghost = None
            if expert is not None:
                g = min(t, len(expert.xy) - 1)
                ghost = CarPose(*expert.xy[g], ghost_heading[g], expert.steer[g], car.length, car.width, car.wheelbase)
            hud = {
                "road": road.name,
                "step": str(t),
                "speed": f"{learner.speed[t]:5.2f} m/s",
                "steer": f"{np.degrees(learner.steer[t]):+6.1f} deg",
                "cte": f"{learner.cte[t]:+6.3f} m",
                "progress": f"{100 * min(learner.progress_m[t] / road.length, 1):5.1f} %",
                "ghost": "expert" if expert is not None else "-",
            }
            sliding = learner.sliding[: t + 1] if learner.sliding is not None else None
            frame = renderer.render(road, pose, learner.xy[: t + 1], np.abs(learner.cte[: t + 1]), hud, ghost,
                                    trail_sliding=sliding)  # fmt: skip
            yield np.array(frame), t
    finally:
        renderer.close()


def dashcam_frames(policy, road: Road, env_config) -> np.ndarray:
    """``[T, H, W, 3]``: what the camera saw while ``policy`` drove ``road`` once (the evaluation's
    drive again: the same start and the same deterministic policy, so the same frames)."""
    import torch

    from envs import RoadFollowEnv

    env = RoadFollowEnv(config=env_config)
    obs, _ = env.reset(seed=0, options={"road": road})
    frames = [obs]
    with torch.inference_mode():
        for _ in range(3000):
            obs, _, terminated, truncated, _ = env.step(policy.act(obs))
            frames.append(obs)
            if terminated or truncated:
                break
    return np.stack(frames)


def beside(top: np.ndarray, dashcam: np.ndarray, gap: int = 8) -> np.ndarray:
    """The top view with the dashcam frame beside it, scaled up (nearest pixel) to the top view's
    height or to an integer factor below it, on a dark panel."""
    height = top.shape[0]
    scale = max(1, height // (2 * dashcam.shape[0]))
    big = np.repeat(np.repeat(dashcam, scale, axis=0), scale, axis=1)
    panel = np.full((height, big.shape[1] + 2 * gap, 3), 24, dtype=np.uint8)
    row = (height - big.shape[0]) // 2
    panel[row : row + big.shape[0], gap : gap + big.shape[1]] = big
    return np.concatenate([top, panel], axis=1)


def write_gif(path, frames, frame_seconds: float) -> Path:
    """Write RGB frames as an animated GIF (atomically) playing at real time."""
    path = Path(path)
    with atomic_path(path) as tmp:
        _save_gif(tmp, frames, frame_seconds)
    return path


def gif_bytes(frames, frame_seconds: float) -> bytes:
    """RGB frames as the bytes of an animated GIF playing at real time (for a notebook or a web page)."""
    import io

    buffer = io.BytesIO()
    _save_gif(buffer, frames, frame_seconds)
    return buffer.getvalue()


def _save_gif(target, frames, frame_seconds: float) -> None:
    from PIL import Image

    images = [Image.fromarray(f).quantize(colors=96, method=Image.Quantize.MEDIANCUT) for f in frames]
    if not images:
        raise ValueError("no frames to write")
    images[0].save(
        target,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=max(20, int(round(frame_seconds * 1000))),
        loop=0,
        optimize=False,
    )
