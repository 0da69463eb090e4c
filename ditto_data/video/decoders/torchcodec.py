"""torchcodec backend (auto's first choice with FFmpeg threads): FFmpeg's decoder behind an exact frame index.

torchcodec applies rotation itself. Each decoder decodes frame 0 at open (see ``_prime``). Files of
``PYAV_ONLY_CODECS`` (MPEG-1/2, where torchcodec's system FFmpeg decodes differently and its MPEG-PS
index is off by frames), and requests that torchcodec fails on, are given to PyAV by the dispatcher
(``ditto_data.video.decoders.VideoDecoder``), so results never differ between backends.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import VideoError
from ..probe import normalize_rotation
from .base import PYAV_ONLY_CODECS, DecoderBackend, VideoMetadata

log = logging.getLogger(__name__)


class TorchCodecDecoder(DecoderBackend):
    name = "torchcodec"

    mishandled_codecs = PYAV_ONLY_CODECS

    def __init__(self, source: Path | bytes, threads: int = 1, name: str | None = None):
        from torchcodec.decoders import VideoDecoder as _TCDecoder

        self.path = name or source
        try:
            self._dec = _TCDecoder(str(source) if isinstance(source, Path) else source, seek_mode="exact",
                                   dimension_order="NHWC", num_ffmpeg_threads=threads)
        except (RuntimeError, ValueError) as e:
            raise VideoError(self.path, f"torchcodec cannot open it as a video: {_short(e)}", "not_a_video") from None
        m = self._dec.metadata
        if m.codec in self.mishandled_codecs:  # the dispatcher gives it to PyAV
            self.metadata = VideoMetadata(0, 0.0, 0, 0, 0.0, codec=m.codec)
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
        try:
            return self._dec.get_frames_at(indices).data.numpy()
        except RuntimeError as e:
            raise VideoError(self.path, f"torchcodec failed: {_short(e)}", "decode_error") from None

    def close(self) -> None:
        self._dec = None


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
