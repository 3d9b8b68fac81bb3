"""``roadschool explain``: what a camera policy looks at, as occlusion-sensitivity overlays (PNG and GIF)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from envs import DEFAULT_FAMILIES, FAMILIES, SPLITS, limits
from envs.checks import check_types, in_range
from sims.options import Command, add_config


@dataclass(frozen=True)
class ExplainConfig:
    """Which frames of which road are explained, and how finely."""

    split: str = field(default="unseen", metadata={"choices": SPLITS})
    """Road split."""
    family: str = field(default=DEFAULT_FAMILIES[-1], metadata={"choices": tuple(FAMILIES)})
    """Road family."""
    road_index: int = 0
    """Road of the split."""
    frames: int = 60
    """Frames explained (at most)."""
    every: int = 4
    """Explain every K-th step of the drive."""
    patch: int = 8
    """Side of the occluding square [px]."""
    out: Path = Path("explain")
    """Folder for saliency.png and saliency.gif."""

    def __post_init__(self):
        check_types(self)
        in_range(self, "road_index", 0, limits.MAX_ROAD_INDEX - 1)
        in_range(self, "frames", 1, 100_000)
        in_range(self, "every", 1, 100_000)
        in_range(self, "patch", 1, limits.MAX_IMAGE_SIZE, unit="px")


def explain_options(p: argparse.ArgumentParser):
    p.add_argument("--policy", required=True, type=Path, help="checkpoint of a camera policy (.pt)")
    options = add_config(p, ExplainConfig)
    return lambda args: setattr(args, "config", options.build(args))


def cmd_explain(args: argparse.Namespace) -> int:
    cfg = args.config
    import torch

    from agents.evaluation import env_config_for, policy_world
    from agents.model import SteeringPolicy
    from agents.saliency import occlusion_saliency, overlay
    from envs import generate_road
    from sims.recording import write_gif
    from sims.video import dashcam_frames

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    policy = SteeringPolicy.load(args.policy, observation="camera")
    road = generate_road(cfg.split, cfg.family, cfg.road_index)
    world = policy_world(policy.metadata)  # the camera it was trained with (size, pitch, look)
    frames = dashcam_frames(policy, road, env_config_for("camera", world))[:: cfg.every][: cfg.frames]
    print(f"explaining {len(frames)} frames of {road.name} (occlusion squares of {cfg.patch} px) ...")
    saliency = occlusion_saliency(policy, frames, patch=cfg.patch, stride=max(1, cfg.patch // 2))
    scale = float(np.percentile(saliency.max(axis=(1, 2)), 90))  # one scale for all frames: they compare
    cfg.out.mkdir(parents=True, exist_ok=True)
    zoom = max(1, 256 // frames.shape[2])

    def big(image):
        return np.repeat(np.repeat(image, zoom, axis=0), zoom, axis=1)

    pairs = [
        np.concatenate([big(f), np.full((f.shape[0] * zoom, 6, 3), 24, np.uint8), big(overlay(f, s, scale))], axis=1)
        for f, s in zip(frames, saliency)
    ]
    write_gif(cfg.out / "saliency.gif", pairs, frame_seconds=cfg.every * 0.05)
    _write_png(cfg.out / "saliency.png", pairs, road.name, cfg.patch)
    print(
        f"wrote {cfg.out / 'saliency.png'} and {cfg.out / 'saliency.gif'} (left: the frame, right: red where "
        f"covering it moves the steering most)"
    )
    return 0


def _write_png(path: Path, pairs: list[np.ndarray], road: str, patch: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from envs.atomic import atomic_path

    picks = np.linspace(0, len(pairs) - 1, min(6, len(pairs))).round().astype(int)
    fig, axes = plt.subplots(len(picks), 1, figsize=(7, 1.9 * len(picks)), squeeze=False)
    for ax, k in zip(axes[:, 0], picks):
        ax.imshow(pairs[k], interpolation="nearest")
        ax.set_title(f"frame {k}: the dashcam, and where covering a {patch} px square moves the steering", fontsize=8)
        ax.axis("off")
    fig.suptitle(f"What the network looks at: occlusion sensitivity on {road}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


COMMANDS = (
    Command(
        "explain", "what a camera policy looks at: occlusion saliency over its frames", cmd_explain, explain_options
    ),
)
