"""Frame-count and size handling shared by the Wan backends (generate, enhance).

Wan's VAE compresses time by ``4`` (the pipeline's ``vae_scale_factor_temporal``), so it makes
``4k+1`` frames, and space by ``vae_scale_factor_spatial x patch`` (16), so sizes are multiples of
16. A clip of ``T`` frames is padded to the next ``4k+1`` by repeating its last frame, generated at
that length, and the extra frames are dropped: output frame ``i`` is always aligned with source
frame ``i`` and the output has exactly ``T`` frames (Ditto's clips are 101 = 4x25+1 frames, so
nothing is padded there). The model runs at the configured ``width``/``height`` (default: the
source size rounded down to a multiple of 16; swapped for a clip of the other orientation, so a
832x480 setting runs a 720x1280 clip at 480x832) and its frames are resized back to the source size:
generating smaller and resizing is the cheap path, the dataset's size never changes.
"""

from __future__ import annotations

import numpy as np


def frames_for(t: int, temporal: int = 4) -> int:
    """The smallest ``temporal*k + 1`` that is ``>= t``."""
    return ((max(t, 1) - 1 + temporal - 1) // temporal) * temporal + 1


def pad_frames(frames: np.ndarray, n: int) -> np.ndarray:
    """``frames`` ``[T, ...]`` lengthened to ``n`` by repeating the last frame."""
    if len(frames) >= n:
        return frames[:n]
    return np.concatenate([frames, np.repeat(frames[-1:], n - len(frames), axis=0)])


def model_size(h: int, w: int, multiple: int, width: int | None = None, height: int | None = None) -> tuple[int, int]:
    """(height, width) the model runs at: the configured size (in the source's orientation), else the
    source's, as multiples of ``multiple``."""
    hh, ww = height or h, width or w
    if width and height and (h > w) != (height > width) and h != w:
        hh, ww = ww, hh
    return max(multiple, hh // multiple * multiple), max(multiple, ww // multiple * multiple)


def resize_frames(frames: np.ndarray, h: int, w: int) -> np.ndarray:
    """uint8 frames ``[T, H', W', C]`` (or ``[T, H', W']``) resized to ``h x w``."""
    import cv2

    if frames.shape[1:3] == (h, w):
        return frames
    interp = cv2.INTER_AREA if frames.shape[1] * frames.shape[2] > h * w else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in frames])


def to_pil(frames: np.ndarray) -> list:
    from PIL import Image

    if frames.ndim == 3:  # grey depth -> RGB, as VACE's control videos are
        frames = np.repeat(frames[..., None], 3, axis=-1)
    return [Image.fromarray(np.ascontiguousarray(f)) for f in frames]


def to_uint8(video: np.ndarray) -> np.ndarray:
    """A pipeline's float ``[T, H, W, 3]`` output in 0..1 as uint8 (diffusers' ``output_type="np"``
    postprocessing has already mapped the VAE's -1..1 to 0..1)."""
    return np.clip(np.asarray(video, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
