"""What a camera policy looks at: occlusion sensitivity (Zeiler and Fergus, 2014).

Cover a square of the frame with the frame's mean colour and see how much the steering moves:
a square whose covering moves it a lot is one the network relies on. The map is the steering
change averaged over every square that covers a pixel, so it has the frame's size.
"""

from __future__ import annotations

import numpy as np
import torch


def occlusion_saliency(policy, frames: np.ndarray, patch: int = 8, stride: int = 4, batch: int = 512) -> np.ndarray:
    """``[T, H, W]`` float32: for each pixel of ``frames[T, H, W, 3]`` (uint8), the mean absolute
    change of the normalized steering when a ``patch`` x ``patch`` square covering it is filled
    with the frame's mean colour (squares every ``stride`` pixels)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3] camera frames, got shape {frames.shape}")
    t, height, width, _ = frames.shape
    rows = list(range(0, max(height - patch, 0) + 1, stride))
    cols = list(range(0, max(width - patch, 0) + 1, stride))
    if rows[-1] + patch < height:
        rows.append(height - patch)
    if cols[-1] + patch < width:
        cols.append(width - patch)
    squares = [(r, c) for r in rows for c in cols]
    saliency = np.zeros((t, height, width), dtype=np.float32)
    with torch.inference_mode():
        for k in range(t):
            frame = frames[k]
            base = policy.act(frame)[0]
            fill = frame.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
            change = np.empty(len(squares), dtype=np.float32)
            for start in range(0, len(squares), batch):
                chunk = squares[start : start + batch]
                covered = np.repeat(frame[None], len(chunk), axis=0)
                for j, (r, c) in enumerate(chunk):
                    covered[j, r : r + patch, c : c + patch] = fill
                change[start : start + len(chunk)] = np.abs(policy.act(covered)[:, 0] - base)
            total = np.zeros((height, width), dtype=np.float32)
            count = np.zeros((height, width), dtype=np.float32)
            for (r, c), d in zip(squares, change):
                total[r : r + patch, c : c + patch] += d
                count[r : r + patch, c : c + patch] += 1.0
            saliency[k] = total / np.maximum(count, 1.0)
    return saliency


def overlay(frame: np.ndarray, saliency: np.ndarray, scale: float | None = None, strength: float = 0.75) -> np.ndarray:
    """``frame[H, W, 3]`` uint8 with ``saliency[H, W]`` laid over it in red (``scale``: the
    saliency shown at full strength; default: this map's maximum)."""
    top = float(saliency.max()) if scale is None else scale
    weight = np.clip(saliency / max(top, 1e-9), 0.0, 1.0)[..., None] * strength
    red = np.array([255.0, 40.0, 40.0])
    return (frame * (1.0 - weight) + red * weight).round().astype(np.uint8)
