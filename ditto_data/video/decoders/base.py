"""What every decoder backend shares: metadata, index checking, caller-order results, rotation.

Frames are returned in *display* orientation (rotation metadata applied), the same way by every
backend, so ``get_frames`` shapes agree with :func:`ditto_data.video.probe`'s width and height.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VideoError


#: Codecs that torchcodec and decord decode differently from PyAV: they link the system FFmpeg,
#: whose MPEG-1/2 decoder is not bit-exact with the one bundled in PyAV's wheels, and torchcodec's
#: index of MPEG-PS files is off by several frames. The dispatcher hands such files to PyAV.
PYAV_ONLY_CODECS = frozenset({"mpeg1video", "mpeg2video"})


@dataclass(frozen=True)
class VideoMetadata:
    """``num_frames`` is exact (counted from the index, not the header); sizes are display sizes."""

    num_frames: int
    fps: float
    width: int
    height: int
    duration: float
    keyframe_indices: list[int] | None = None
    rotation: int = 0
    codec: str | None = None


def rotate_display(frames: np.ndarray, rotation: int) -> np.ndarray:
    """Stored [T,H,W,3] frames -> display orientation (FFmpeg's counter-clockwise display angle)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(frames, k=k, axes=(1, 2))) if k else frames


class DecoderBackend:
    """Base of the backends: ``__init__(source, threads, name)`` takes a checked path or the video's
    bytes and the name errors give; subclasses set ``path`` (that name: the path, or a label for
    bytes) and ``metadata``, and implement ``_decode``. ``mishandled_codecs``: codecs whose frames
    this backend gets wrong; the dispatcher gives such files to PyAV."""

    name: str = "?"
    mishandled_codecs: frozenset[str] = frozenset()
    path: Path | str
    metadata: VideoMetadata

    def _decode(self, indices: list[int], out: np.ndarray | None = None) -> np.ndarray:
        """Frames at sorted, unique, valid ``indices`` -> uint8 [T,H,W,3] display orientation,
        written into ``out`` where the backend can (the caller copies otherwise)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def check_indices(self, indices: Iterable[int] | int | None) -> list[int]:
        """Python-style indices (negative counts from the end) -> non-negative ints; bad ones raise."""
        n = self.metadata.num_frames
        if indices is None:
            return list(range(n))
        if isinstance(indices, (int, np.integer)):
            indices = [int(indices)]
        if hasattr(indices, "tolist"):  # numpy array or torch tensor
            indices = indices.tolist()
        out = []
        for i in indices:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
                raise VideoError(self.path, f"frame index {i!r} is not an integer", "bad_index")
            j = int(i) + n if i < 0 else int(i)
            if not 0 <= j < n:
                raise VideoError(self.path, f"frame index {i} out of range: the video has {n} frames", "bad_index")
            out.append(j)
        return out

    def get_frames(self, indices: Sequence[int] | np.ndarray | int | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
        """uint8 [T,H,W,3] RGB frames at ``indices`` (caller's order, repeats allowed), written into
        ``out`` (uint8, C-contiguous, that shape) when given: a loader reuses its memory."""
        wanted = self.check_indices(indices)
        shape = (len(wanted), self.metadata.height, self.metadata.width, 3)
        if out is not None and (out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous):
            raise ValueError(f"out must be a C-contiguous uint8 array of shape {shape}, "
                             f"got {out.dtype} {out.shape}")
        if not wanted:
            return np.empty(shape, np.uint8) if out is None else out
        unique = sorted(set(wanted))
        frames = self._decode(unique, out if unique == wanted else None)
        if len(frames) != len(unique):
            raise VideoError(self.path, f"{self.name} returned {len(frames)} frames for {len(unique)} indices",
                             "decode_error")
        if unique != wanted:
            pos = {j: k for k, j in enumerate(unique)}
            return np.take(frames, [pos[j] for j in wanted], axis=0, out=out)
        if out is None or frames is out:
            return frames
        if frames.shape != out.shape:
            raise VideoError(self.path, f"frames are {frames.shape[2]}x{frames.shape[1]}, the stream says "
                             f"{out.shape[2]}x{out.shape[1]}", "decode_error")
        np.copyto(out, frames)
        return out

