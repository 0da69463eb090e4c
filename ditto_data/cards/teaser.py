"""The card's teaser image: a grid of (source, edited) keyframe pairs taken from the dataset itself.

Frames are decoded from the published videos (the same frame index in both, the edit's keyframe
where the record names one), fitted into fixed cells and laid out two pairs per row. No text is
drawn (fonts differ between machines), so the same dataset always gives the same PNG bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

CELL = (256, 144)  # width, height of one frame cell
PAD = 4
PAIRS_PER_ROW = 2
BACKGROUND = (16, 16, 16)


def read_frame(path: str | Path, index: int = 0) -> np.ndarray:
    """Frame ``index`` (clamped to the last) of a video as uint8 [H, W, 3], decoded with PyAV."""
    import av

    last = None
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            last = frame
            if i >= index:
                break
    if last is None:
        raise ValueError(f"{path}: no frame could be decoded")
    return last.to_ndarray(format="rgb24")


def _fit(frame: np.ndarray) -> Image.Image:
    img = Image.fromarray(frame)
    scale = min(CELL[0] / img.width, CELL[1] / img.height)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    cell = Image.new("RGB", CELL, BACKGROUND)
    cell.paste(img.resize(size, Image.Resampling.LANCZOS), ((CELL[0] - size[0]) // 2, (CELL[1] - size[1]) // 2))
    return cell


def make_teaser(pairs: list[tuple[Path, Path, int]]) -> bytes:
    """PNG bytes of a grid of ``(source video, edited video, frame index)`` pairs."""
    if not pairs:
        raise ValueError("a teaser needs at least one (source, edited) pair")
    cols = min(PAIRS_PER_ROW, len(pairs)) * 2
    rows = -(-len(pairs) // PAIRS_PER_ROW)
    grid = Image.new("RGB", (cols * (CELL[0] + PAD) + PAD, rows * (CELL[1] + PAD) + PAD), BACKGROUND)
    for k, (src, edited, index) in enumerate(pairs):
        r, c = divmod(k, PAIRS_PER_ROW)
        for j, video in enumerate((src, edited)):
            x = PAD + (2 * c + j) * (CELL[0] + PAD)
            grid.paste(_fit(read_frame(video, index)), (x, PAD + r * (CELL[1] + PAD)))
    buf = io.BytesIO()
    grid.save(buf, format="PNG")
    return buf.getvalue()
