"""torchcodec backend (auto's first choice with FFmpeg threads): FFmpeg's decoder behind an exact frame index.

torchcodec applies rotation itself. Each decoder decodes frame 0 at open (see ``_prime``). Files of
``PYAV_ONLY_CODECS`` (MPEG-1/2, where torchcodec's system FFmpeg decodes differently and its MPEG-PS
index is off by frames), and any request that torchcodec fails on, are served by the PyAV backend so
results never differ between backends.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from ..errors import VideoError
from ..probe import check_file, normalize_rotation
from .base import PYAV_ONLY_CODECS, DecoderBackend, VideoMetadata, fspath

log = logging.getLogger(__name__)


class TorchCodecDecoder(DecoderBackend):
    name = "torchcodec"

    def __init__(self, path: str | os.PathLike[str], threads: int = 1):
        from torchcodec.decoders import VideoDecoder as _TCDecoder

        self.path = fspath(path)
        self.threads = threads
        check_file(self.path)
        try:
            self._dec = _TCDecoder(str(self.path), seek_mode="exact", dimension_order="NHWC",
                                   num_ffmpeg_threads=threads)
        except (RuntimeError, ValueError) as e:
            raise VideoError(self.path, f"torchcodec cannot open it as a video: {_short(e)}", "not_a_video") from None
        m = self._dec.metadata
        self._fallback = None
        if m.codec in PYAV_ONLY_CODECS:
            from .pyav import PyAVDecoder

            log.info("%s: %s is decoded with PyAV so that backends agree", self.path, m.codec)
            self._fallback = PyAVDecoder(self.path, threads=self.threads)
            self._dec = None
            self.metadata = self._fallback.metadata
            return
        n = int(m.num_frames or 0)
        if n <= 0:
            raise VideoError(self.path, "video stream holds no frames", "decode_error")
        try:
            keyframes = [int(k) for k in self._dec._get_key_frame_indices().tolist()]
        except Exception:  # noqa: BLE001 - private API; keyframes are a hint, not a must
            keyframes = None
        if keyframes is not None and (not keyframes or keyframes[0] != 0):
            keyframes = [0, *keyframes]
        self.metadata = VideoMetadata(
            num_frames=n, fps=float(m.average_fps_from_header or m.average_fps or 0.0), width=int(m.width), height=int(m.height),
            duration=float(m.duration_seconds or 0.0), keyframe_indices=keyframes,
            rotation=normalize_rotation(getattr(m, "rotation", 0)), codec=m.codec,
        )  # fmt: skip
        self._prime()

    def _prime(self) -> None:
        """Decode frame 0 once, so the decoder reads what the stream says only at its start before
        any seek: seeked straight to frame 76 of imageio_cockatoo.mp4, it never learns the x264
        build named in frame 0's SEI, whose 4:4:4 bug FFmpeg works around, and every frame comes
        out wrong (see the PyAV backend's ``_prime``, which parses the packet without decoding;
        torchcodec has no way to do that)."""
        try:
            self._dec.get_frame_at(0)
        except (RuntimeError, IndexError) as e:  # a damaged first frame is reported when asked for
            log.debug("%s: first frame does not decode: %s", self.path, _short(e))

    def _decode(self, indices: list[int], out: np.ndarray | None = None) -> np.ndarray:
        if self._dec is None:
            return self._fallback._decode(indices, out)
        try:
            return self._dec.get_frames_at(indices).data.numpy()
        except RuntimeError as e:
            log.warning("%s: torchcodec failed (%s); decoding these frames with PyAV", self.path, _short(e))
        if self._fallback is None:
            from .pyav import PyAVDecoder

            self._fallback = PyAVDecoder(self.path, threads=self.threads)
            if self._fallback.metadata.num_frames < self.metadata.num_frames:
                log.warning("%s: PyAV counts %d frames, torchcodec %d", self.path,
                            self._fallback.metadata.num_frames, self.metadata.num_frames)
        return self._fallback._decode(indices, out)

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.close()
        self._dec = None


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
