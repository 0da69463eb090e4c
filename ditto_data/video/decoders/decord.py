"""decord backend: optional (``pip install eva-decord``), never chosen by ``auto``.

decord is unmaintained with known seek bugs and leaks; it is here for users whose pipelines
already depend on it. It applies rotation metadata itself (checked against FFmpeg). Files of
``PYAV_ONLY_CODECS`` are served by the PyAV backend so that all backends return the same frames.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from ..errors import VideoError
from ..probe import check_file, open_container
from .base import PYAV_ONLY_CODECS, DecoderBackend, VideoMetadata, fspath

log = logging.getLogger(__name__)

class DecordDecoder(DecoderBackend):
    name = "decord"

    def __init__(self, path: str | os.PathLike[str], threads: int = 1):
        import decord

        self.path = fspath(path)
        check_file(self.path)
        c = open_container(self.path)
        try:
            codec = c.streams.video[0].codec_context.name if c.streams.video else None
        finally:
            c.close()
        self._delegate = None
        if codec in PYAV_ONLY_CODECS:
            from .pyav import PyAVDecoder

            log.info("%s: %s is decoded with PyAV so that backends agree", self.path, codec)
            self._delegate = PyAVDecoder(self.path, threads=threads)
            self.metadata = self._delegate.metadata
            return
        try:
            self._vr = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=threads)
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
        if self._delegate is not None:
            return self._delegate._decode(indices, out)
        import decord

        try:
            return self._vr.get_batch(indices).asnumpy()
        except (decord.DECORDError, RuntimeError) as e:
            raise VideoError(self.path, f"decord failed: {str(e).splitlines()[0][:300]}", "decode_error") from None

    def close(self) -> None:
        if self._delegate is not None:
            self._delegate.close()
        self._vr = None
