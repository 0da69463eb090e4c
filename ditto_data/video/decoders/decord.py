"""decord backend: optional (``pip install eva-decord``), never chosen by ``auto``.

decord is unmaintained with known seek bugs and leaks; it is here for users whose pipelines
already depend on it. It applies rotation metadata itself (checked against FFmpeg). Files of
``PYAV_ONLY_CODECS`` are given to PyAV by the dispatcher, so that all backends return the same frames.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from ..errors import VideoError
from ..probe import open_container
from .base import PYAV_ONLY_CODECS, DecoderBackend, VideoMetadata

log = logging.getLogger(__name__)

class DecordDecoder(DecoderBackend):
    name = "decord"

    mishandled_codecs = PYAV_ONLY_CODECS

    def __init__(self, source: Path | bytes, threads: int = 1, name: str | None = None):
        import decord

        self.path = name or source
        c = open_container(source, name)  # decord does not name the codec
        try:
            codec = c.streams.video[0].codec_context.name if c.streams.video else None
        finally:
            c.close()
        if codec in self.mishandled_codecs:  # the dispatcher gives it to PyAV: do not index it twice
            self.metadata = VideoMetadata(0, 0.0, 0, 0, 0.0, codec=codec)
            self._vr = None
            return
        try:
            uri = str(source) if isinstance(source, Path) else io.BytesIO(source)
            self._vr = decord.VideoReader(uri, ctx=decord.cpu(0), num_threads=threads)
        except (decord.DECORDError, RuntimeError) as e:
            raise VideoError(self.path, f"decord cannot open it as a video: {str(e).splitlines()[0][:300]}",
                             "not_a_video") from None
        n = len(self._vr)
        if n <= 0:
            raise VideoError(self.path, "video stream holds no frames", "decode_error")
        h, w = self._vr[0].shape[:2]
        fps = float(self._vr.get_avg_fps())
        try:
            keyframes = [int(k) for k in self._vr.get_key_indices()]
        except Exception:  # noqa: BLE001 - keyframes are a hint
            keyframes = None
        self._vr.seek(0)
        self.metadata = VideoMetadata(num_frames=n, fps=fps, width=int(w), height=int(h),
                                      duration=n / fps if fps else 0.0, keyframe_indices=keyframes, codec=codec)

    def _decode(self, indices: list[int], out: np.ndarray | None = None) -> np.ndarray:
        import decord

        try:
            return self._vr.get_batch(indices).asnumpy()
        except (decord.DECORDError, RuntimeError) as e:
            raise VideoError(self.path, f"decord failed: {str(e).splitlines()[0][:300]}", "decode_error") from None

    def close(self) -> None:
        self._vr = None
