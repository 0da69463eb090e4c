"""Aligned clip sampling: which frame indices to read, and how to bring frames to a training size.

Indices are computed once per triplet (from the shorter of its streams) and read from every stream,
so source, edited and depth frames line up. Resizing is plain torch (no torchvision): scale to
cover the target, then crop, like DiffSynth-Studio's ``ImageCropAndResize``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

STARTS = ("random", "start", "center")
ON_SHORT = ("pad", "shrink", "skip")


class ClipTooShort(ValueError):
    """A video has fewer frames than the clip needs and ``on_short='skip'``."""


@dataclass(frozen=True)
class ClipSampler:
    """Chooses ``num_frames`` indices per triplet.

    ``stride`` steps through the source frames; or ``fps`` asks for a target frame rate and the step
    is ``source fps / fps`` (fractional steps are rounded down per frame). ``start`` is where the
    clip begins: ``random`` (seeded per sample), ``start`` (frame 0) or ``center``. A video shorter
    than the clip is handled by ``on_short``: ``pad`` repeats the last frame (keeps batch shapes),
    ``shrink`` reads fewer frames, keeping the count ``4k+1`` (DiffSynth-Studio's rule), ``skip``
    raises :class:`ClipTooShort` so the dataset moves on.
    """

    num_frames: int = 17
    stride: int = 1
    fps: float | None = None
    start: str = "random"
    on_short: str = "pad"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_frames < 1 or self.stride < 1:
            raise ValueError(f"num_frames and stride must be >= 1, got {self.num_frames}, {self.stride}")
        if self.start not in STARTS:
            raise ValueError(f"start must be one of {STARTS}, got {self.start!r}")
        if self.on_short not in ON_SHORT:
            raise ValueError(f"on_short must be one of {ON_SHORT}, got {self.on_short!r}")
        if self.fps is not None and self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")

    @classmethod
    def diffsynth(cls, num_frames: int = 81) -> ClipSampler:
        """DiffSynth-Studio's ``UnifiedDataset``: the first ``num_frames`` frames (4k+1), no stride."""
        if num_frames % 4 != 1:
            raise ValueError(f"DiffSynth-Studio (Wan) needs 4k+1 frames, got {num_frames}")
        return cls(num_frames=num_frames, stride=1, start="start", on_short="shrink")

    def with_seed(self, seed: int) -> ClipSampler:
        return replace(self, seed=seed)

    def step(self, video_fps: float | None) -> float:
        if self.fps is None or not video_fps:
            return float(self.stride)
        return max(video_fps / self.fps, 1e-6)

    def indices(self, available: int, video_fps: float | None = None,
                rng: np.random.Generator | None = None) -> list[int]:
        """Frame indices for a video of ``available`` frames."""
        if available < 1:
            raise ClipTooShort("video has no frames")
        step, n = self.step(video_fps), self.num_frames
        span = math.floor((n - 1) * step) + 1  # frames the clip covers
        if span > available:
            if self.on_short == "skip":
                raise ClipTooShort(f"clip needs {span} frames, video has {available}")
            if self.on_short == "shrink":
                n = 1 + math.floor((available - 1) / step)
                n = max(1, n - (n - 1) % 4)  # largest 4k+1 that fits
            start = 0
        else:
            last = available - span
            if self.start == "start" or last == 0:
                start = 0
            elif self.start == "center":
                start = last // 2
            else:
                start = int((rng or np.random.default_rng(self.seed)).integers(0, last + 1))
        return [min(start + math.floor(i * step), available - 1) for i in range(n)]


def check_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0 or h % 16 or w % 16:
        raise ValueError(f"size must be (height, width), both positive multiples of 16; got {size}")
    return h, w


def resize_crop(frames: torch.Tensor, size: tuple[int, int] | None, crop: str = "center",
                rng: np.random.Generator | None = None) -> torch.Tensor:
    """[T,C,H,W] uint8 -> [T,C,h,w] uint8: scale to cover (h, w), then a centre or random crop.

    Bilinear with antialiasing on uint8 (torch's fast CPU path); no-op when already at size.
    """
    if size is None:
        return frames
    h, w = size
    H, W = frames.shape[-2:]
    if (H, W) == (h, w):
        return frames
    scale = max(h / H, w / W)
    nh, nw = max(h, round(H * scale)), max(w, round(W * scale))
    if (nh, nw) != (H, W):
        frames = F.interpolate(frames.contiguous(), size=(nh, nw), mode="bilinear", antialias=True,
                               align_corners=False)
    if crop == "random":
        r = rng or np.random.default_rng()
        top, left = int(r.integers(0, nh - h + 1)), int(r.integers(0, nw - w + 1))
    else:
        top, left = (nh - h) // 2, (nw - w) // 2
    return frames[..., top:top + h, left:left + w]


def to_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1] (the range video diffusion models train in)."""
    return frames.float().div_(127.5).sub_(1.0)
