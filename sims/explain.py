"""``roadschool explain``: what a camera policy looks at, as occlusion-sensitivity overlays (PNG and GIF)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from envs import DEFAULT_FAMILIES, FAMILIES, SPLITS
from sims.arguments import non_negative_int, positive_int


def register(subparsers) -> dict:
    p = subparsers.add_parser("explain", help="what a camera policy looks at: occlusion saliency over its frames")
    p.add_argument("--policy", required=True, type=Path, help="checkpoint of a camera policy (.pt)")
    p.add_argument("--split", choices=SPLITS, default="unseen", help="road split (default: %(default)s)")
    p.add_argument("--family", choices=list(FAMILIES), default=DEFAULT_FAMILIES[-1], help="(default: %(default)s)")
    p.add_argument("--road-index", type=non_negative_int, default=0, help="road of the split (default: 0)")
    p.add_argument("--frames", type=positive_int, default=60, help="frames explained (default: %(default)s)")
    p.add_argument("--every", type=positive_int, default=4, help="explain every K-th step (default: %(default)s)")
    p.add_argument("--patch", type=positive_int, default=8, help="occluding square [px] (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("explain"), help="folder for saliency.png and saliency.gif")
    return {"explain": cmd_explain}


def cmd_explain(args: argparse.Namespace) -> int:
    import torch

    from agents.evaluation import env_config_for, policy_world
    from agents.model import SteeringPolicy
    from agents.saliency import occlusion_saliency, overlay
    from envs import generate_road
    from sims.recording import write_gif
    from sims.video import dashcam_frames

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    policy = SteeringPolicy.load(args.policy, observation="camera")
    road = generate_road(args.split, args.family, args.road_index)
    world = policy_world(policy.metadata)  # the camera it was trained with (size, pitch, look)
    frames = dashcam_frames(policy, road, env_config_for("camera", world))[:: args.every][: args.frames]
    print(f"explaining {len(frames)} frames of {road.name} (occlusion squares of {args.patch} px) ...")
    saliency = occlusion_saliency(policy, frames, patch=args.patch, stride=max(1, args.patch // 2))
    scale = float(np.percentile(saliency.max(axis=(1, 2)), 90))  # one scale for all frames: they compare
    args.out.mkdir(parents=True, exist_ok=True)
    zoom = max(1, 256 // frames.shape[2])
    big = lambda image: np.repeat(np.repeat(image, zoom, axis=0), zoom, axis=1)  # noqa: E731
    pairs = [np.concatenate([big(f), np.full((f.shape[0] * zoom, 6, 3), 24, np.uint8), big(overlay(f, s, scale))], axis=1)
             for f, s in zip(frames, saliency)]  # fmt: skip
    write_gif(args.out / "saliency.gif", pairs, frame_seconds=args.every * 0.05)
    _write_png(args.out / "saliency.png", pairs, road.name, args.patch)
    print(f"wrote {args.out / 'saliency.png'} and {args.out / 'saliency.gif'} (left: the frame, right: red where "
          f"covering it moves the steering most)")
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
