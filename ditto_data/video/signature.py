"""A video's signature: one small vector per frame, sampled at a fixed rate in the video's own time.

Near-duplicate videos differ in encoding, size, borders, frame rate, the rate their clock claims,
a few damaged frames, an overlay or a flip, but they show the same pictures in the same order. A
signature keeps exactly that: for every frame sampled at ``fps`` (by timestamp), the lightness
layout at thumbnail size (:data:`THUMB`, area averaged from the 64x36 grey frames the standardizer's
scene analysis decodes anyway), mean-centred and unit-norm, in three framings (:data:`VIEWS`): the
whole frame; the picture inside black borders found over the whole video, so a letterboxed or
pillarboxed copy gives the thumbnails of the picture inside; and the centre of that picture, which
lines up with a cropped copy. (Borders are only a guess: a dark scene on black, like a globe in
space, loses its black surroundings to them in one copy and not in another with a logo in a
corner, so the whole frame is kept too.)
Grey only: colour grading moves colours far more than lightness layout. A blank frame (flatter than
:data:`MIN_ENERGY`) gets a zero vector, which matches nothing.

What *changes* between frames is compared too (:mod:`ditto_data.stages.timealign` takes
differences of these vectors at a lag matched to the alignment's rate): on a static camera every
frame looks alike and only the changes tell one moment from another, and a static logo or caption
burnt into a copy cancels out of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_path

THUMB = (16, 9)  # (w, h) of the per-frame thumbnail
VIEWS = ("frame", "picture", "centre")  # whole frame; inside black borders; centre of the picture
CENTRE = 0.8  # the centre view keeps this share of the picture's width and height
#: Frames per second of a signature; the analysis frames (at the target fps) are resampled to it.
SIGNATURE_FPS = 10.0
BORDER_LEVEL = 28  # a border row/column stays darker than this (8-bit grey) in 95% of the frames
MIN_ENERGY = 2.0  # a thumbnail flatter than this (std of grey levels) is blank: its vectors are zero


@dataclass
class VideoSignature:
    """``frames``: float16 [len(VIEWS), T, D] per view and sampled frame (unit-norm, or zero when
    blank); ``energy``: [len(VIEWS), T] contrast (std of grey levels) of each thumbnail; ``fps``: the
    sampling rate in the video's time; ``crop``: (x0, y0, x1, y1) of the picture inside black borders
    in the analysis frame."""

    frames: np.ndarray
    energy: np.ndarray
    fps: float
    crop: tuple[int, int, int, int]

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[1])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def has_borders(self) -> bool:
        return self.crop[0] > 0 or self.crop[1] > 0

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as ``.npz`` atomically."""
        with atomic_path(Path(path)) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, frames=self.frames, energy=self.energy,
                         fps=np.float64(self.fps), crop=np.asarray(self.crop, dtype=np.int32))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VideoSignature:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["frames"], z["energy"], float(z["fps"]),
                       tuple(int(v) for v in z["crop"]))  # type: ignore[arg-type]


def find_borders(frames: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the picture inside black bars: rows/columns from each edge inwards that
    stay darker than :data:`BORDER_LEVEL` in 95% of the frames; never more than a third per side."""
    t, h, w = frames.shape
    step = max(1, t // 200)
    sample = frames[::step]
    rows = np.percentile(sample.max(axis=2), 95, axis=0)  # [h]
    cols = np.percentile(sample.max(axis=1), 95, axis=0)  # [w]

    def run(v: np.ndarray, limit: int) -> int:
        n = 0
        while n < limit and v[n] < BORDER_LEVEL:
            n += 1
        return n

    y0, y1 = run(rows, h // 3), run(rows[::-1], h // 3)
    x0, x1 = run(cols, w // 3), run(cols[::-1], w // 3)
    if y0 + y1 >= h - 2 or x0 + x1 >= w - 2:  # an all-dark video: no borders to speak of
        return 0, 0, w, h
    return x0, y0, w - x1, h - y1


def resample_indices(num_frames: int, src_fps: float, fps: float) -> np.ndarray:
    """Indices of frames at ``src_fps`` nearest to a ``fps`` sampling of the same span."""
    n = max(1, int(round(num_frames * fps / src_fps)))
    return np.minimum(num_frames - 1, np.round(np.arange(n) * src_fps / fps).astype(np.int64))


def signature_from_grey(frames: np.ndarray, src_fps: float, fps: float = SIGNATURE_FPS) -> VideoSignature:
    """Signature of grey frames uint8 [T, H, W] sampled at ``src_fps`` (the scene analysis' frames)."""
    if frames.ndim != 3 or len(frames) == 0:
        raise ValueError(f"expected grey frames [T, H, W] with T >= 1, got shape {frames.shape}")
    x0, y0, x1, y1 = find_borders(frames)
    picked = frames[resample_indices(len(frames), src_fps, fps)]
    h, w = frames.shape[1:]
    cw, ch = (x1 - x0) * (1 - CENTRE) / 2, (y1 - y0) * (1 - CENTRE) / 2
    boxes = [(0, 0, w, h), (x0, y0, x1, y1),
             (int(round(x0 + cw)), int(round(y0 + ch)), int(round(x1 - cw)), int(round(y1 - ch)))]
    views, energies = [], []
    for bx0, by0, bx1, by1 in boxes:
        thumbs = np.stack([cv2.resize(f[by0:by1, bx0:bx1].astype(np.float32), THUMB,
                                      interpolation=cv2.INTER_AREA).ravel() for f in picked])
        energy = thumbs.std(axis=1)
        views.append(_unit_rows(thumbs - thumbs.mean(axis=1, keepdims=True), energy >= MIN_ENERGY))
        energies.append(energy)
    return VideoSignature(np.stack(views).astype(np.float16), np.stack(energies).astype(np.float16), float(fps),
                          (int(x0), int(y0), int(x1), int(y1)))


def _unit_rows(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    out = np.where(n > 1e-6, x / np.maximum(n, 1e-6), 0.0)
    out[~keep] = 0.0
    return out


def flip_thumbs(v: np.ndarray) -> np.ndarray:
    """The same vectors [..., D] for the horizontally mirrored video (thumbnail columns reversed)."""
    w, h = THUMB
    return v.reshape(*v.shape[:-1], h, w)[..., ::-1].reshape(v.shape)
