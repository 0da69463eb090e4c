"""Reading a standardized clip record's video: where it is, which frames, decoded in chunks.

Shared by the stages that read clips (features, motion, caption, edit, generate, judge); the decoding itself is ``ditto_data.video``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..schema import Record


class ClipUnreadable(Exception):
    """A clip's video is missing or cannot be decoded; ``reason`` is the machine-readable rejection."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def clip_video(record: Record, out_dir: Path, key: str = "video") -> Path:
    """A record's video artifact (``video`` of a clip; ``source_video`` or ``edited_video`` of an edit)."""
    rel = record.artifacts.get(key)
    if not rel:
        raise ClipUnreadable("missing_video", f"{record.kind} {record.id} has no {key!r} artifact")
    path = Path(out_dir) / rel
    if not path.is_file():
        raise ClipUnreadable("missing_video", f"{record.kind} {record.id}: video {path} does not exist")
    return path


def read_frames_at(path: Path, indices: list[int]) -> np.ndarray:
    """Frames at ``indices`` (uint8 [T, H, W, 3]); decode failures become ClipUnreadable."""
    from ..video import VideoError, read_frames

    try:
        return read_frames(path, indices)
    except (VideoError, OSError, ValueError, RuntimeError) as e:
        raise ClipUnreadable("decode_error", f"cannot decode {path}: {e}") from e


def spread_indices(num_frames: int, k: int) -> list[int]:
    """``k`` frame indices spread evenly over a clip (centres of k equal spans), unique, ascending.

    Evenly spaced rather than codec keyframes: two encodings of one video have different GOPs but
    the same frames at the same relative positions.
    """
    if num_frames <= 0:
        return []
    return sorted({min(num_frames - 1, int((i + 0.5) * num_frames / k)) for i in range(k)})


def read_spread_frames(path: Path, k: int) -> np.ndarray:
    """``k`` frames uint8 [k, H, W, 3] spread evenly over a clip (fewer if it is shorter)."""
    from ..video import VideoDecoder, VideoError

    try:
        with VideoDecoder(path) as dec:
            indices = spread_indices(len(dec), k)
            if not indices:
                raise ClipUnreadable("decode_error", f"cannot decode {path}: it has no frames")
            return dec.get_frames(indices)
    except (VideoError, OSError, ValueError, RuntimeError) as e:
        raise ClipUnreadable("decode_error", f"cannot decode {path}: {e}") from e


def iter_clip_frames(path: Path, stride: int = 1, chunk: int = 16,
                     max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Frames of a clip one at a time ([H, W, 3] uint8), every ``stride``-th, decoded ``chunk`` at a
    time so a 1280x720 clip never sits in memory whole."""
    from ..video import VideoDecoder, VideoError

    try:
        with VideoDecoder(path) as dec:
            indices = list(range(0, len(dec), stride))[:max_frames]
            for s in range(0, len(indices), chunk):
                yield from dec.get_frames(indices[s:s + chunk])
    except (VideoError, OSError, ValueError, RuntimeError) as e:
        raise ClipUnreadable("decode_error", f"cannot decode {path}: {e}") from e
