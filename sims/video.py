"""Frames of drives, for GIFs and MP4s: the one producer every video file of a drive comes from.

:func:`drive_frames` draws a :class:`agents.trajectory.Trajectory` step by step as the
windows draw it (``sims.windows.panels.paint_drive``): the road, the trail the car really
drove coloured by its measured |cross-track error|, the expert as a ghost at the same
step, the HUD, the live cte plot where it fits and, at the end, how the drive ended. The
files themselves are written by ``sims.recording`` (one GIF writer).
"""

from __future__ import annotations

import numpy as np
import pygame

from agents.trajectory import Trajectory
from envs import RoadFollowEnv
from envs.road import Road
from sims.windows.panels import PanelPainter, ViewOptions, paint_drive


def drive_frames(
    track: Trajectory,
    ghost: Trajectory | None = None,
    size: tuple[int, int] = (480, 480),
    stride: int = 1,
    camera: str = "follow",
    pixels_per_metre: float = 8.0,
    max_frames: int | None = None,
    hold_seconds: float = 0.0,
    driver_label: str | None = None,
    steps: list[int] | None = None,
):
    """Yield ``(frame[H, W, 3] uint8, step)``: every ``stride``-th step of ``track`` and its
    last, then the last again for ``hold_seconds`` (at ``stride`` steps a frame), or the
    ``steps`` given; at most ``max_frames`` frames. ``driver_label`` names the driver in the
    HUD (default: the track's)."""
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if steps is None:
        steps = list(range(0, len(track), stride))
        if steps[-1] != len(track) - 1:
            steps.append(len(track) - 1)
        steps += [len(track) - 1] * int(round(hold_seconds / (stride * track.dt)))
    if max_frames is not None:
        steps = steps[:max_frames]
    painter = PanelPainter()
    surface = pygame.Surface(size)
    options = ViewOptions(camera=camera, pixels_per_metre=pixels_per_metre)
    try:
        for t in steps:
            paint_drive(painter, surface, track, t, ghost, options, driver_label)
            pixels = np.frombuffer(pygame.image.tobytes(surface, "RGB"), dtype=np.uint8)
            yield pixels.reshape(size[1], size[0], 3).copy(), t
    finally:
        painter.renderer.close()


def dashcam_frames(policy, road: Road, env_config) -> np.ndarray:
    """``[T, H, W, 3]``: what the camera saw while ``policy`` drove ``road`` once (the evaluation's
    drive again: the same start and the same deterministic policy, so the same frames)."""
    import torch  # heavy, and only a policy's drive needs it (not replay's frames, which come from a file)

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
