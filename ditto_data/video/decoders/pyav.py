"""PyAV backend: always available, frame-exact by presentation timestamps.

The index is built by demuxing (no decoding): every video packet's pts, sorted, gives frame
index -> pts, and keyframe packets give the seek points. To fetch frame ``i`` we seek to the last
keyframe at or before it, decode forward and match frames by pts. If a seek lands after the frame
(broken index, damaged keyframe) we retry from an earlier keyframe, and finally decode from the
start, so results always equal a sequential full decode. Files whose packets lack timestamps are
decoded sequentially.
"""

from __future__ import annotations

import bisect
import logging
import os

import numpy as np

from ..errors import VideoError
from ..probe import normalize_rotation, open_container
from .base import DecoderBackend, VideoMetadata, fspath, rotate_display

log = logging.getLogger(__name__)


class PyAVDecoder(DecoderBackend):
    name = "pyav"

    def __init__(self, path: str | os.PathLike[str], threads: int = 0):
        import av

        self.path = fspath(path)
        self._container = open_container(self.path)
        if not self._container.streams.video:
            self._container.close()
            raise VideoError(self.path, "no video stream", "no_video_stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = threads
        try:
            pkts = [(p.pts, p.is_keyframe) for p in self._container.demux(self._stream) if p.size]
        except av.error.FFmpegError as e:
            self._container.close()
            raise VideoError(self.path, f"cannot read packets: {e}", "decode_error") from None
        if not pkts:
            self._container.close()
            raise VideoError(self.path, "video stream holds no frames", "decode_error")
        pts = [p for p, _ in pkts]
        self._timestamped = all(p is not None for p in pts) and len(set(pts)) == len(pts)
        if self._timestamped:
            self._pts = sorted(pts)
            self._index = {p: i for i, p in enumerate(self._pts)}
            keyframes = sorted(self._index[p] for p, k in pkts if k)
            if not keyframes or keyframes[0] != 0:
                keyframes = [0, *keyframes]
        else:
            self._pts, self._index, keyframes = [], {}, None
        self.rotation = self._read_rotation()
        s = self._stream
        rate = s.average_rate or s.guessed_rate
        fps = float(rate) if rate else 0.0
        n = len(pkts)
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif self._container.duration:
            duration = self._container.duration / 1e6
        else:
            duration = n / fps if fps else 0.0
        w, h = s.codec_context.width, s.codec_context.height
        if self.rotation in (90, 270):
            w, h = h, w
        self.metadata = VideoMetadata(num_frames=n, fps=fps, width=w, height=h, duration=duration,
                                      keyframe_indices=keyframes, rotation=self.rotation, codec=s.codec_context.name)

    def _read_rotation(self) -> int:
        self._rewind()
        try:
            for frame in self._container.decode(self._stream):
                return normalize_rotation(getattr(frame, "rotation", 0))
        except Exception as e:  # noqa: BLE001 - a damaged first frame leaves rotation unknown, not fatal
            log.debug("%s: no frame to read rotation from: %s", self.path, e)
        return 0

    def _rewind(self) -> None:
        self._container.seek(0, backward=True, any_frame=False)  # container-level: start of file

    def close(self) -> None:
        self._container.close()

    @staticmethod
    def _rgb(frame) -> np.ndarray:
        return frame.to_ndarray(format="rgb24")

    def _decode(self, indices: list[int]) -> np.ndarray:
        import av

        try:
            frames = self._decode_timestamped(indices) if self._timestamped else self._decode_sequential(indices)
        except av.error.FFmpegError as e:
            raise VideoError(self.path, f"decode failed: {e}", "decode_error") from None
        return rotate_display(np.stack(frames), self.rotation)

    def _decode_sequential(self, indices: list[int]) -> list[np.ndarray]:
        """Decode from the start, counting frames: slow but right for files without timestamps."""
        self._rewind()
        want = set(indices)
        got: dict[int, np.ndarray] = {}
        for i, frame in enumerate(self._container.decode(self._stream)):
            if i in want:
                got[i] = self._rgb(frame)
                if len(got) == len(want):
                    break
        missing = [i for i in indices if i not in got]
        if missing:
            raise VideoError(self.path, f"frames {missing[:5]} could not be decoded (stream ends early)",
                             "decode_error")
        return [got[i] for i in indices]

    def _decode_timestamped(self, indices: list[int]) -> list[np.ndarray]:
        kfs = self.metadata.keyframe_indices or [0]
        got: dict[int, np.ndarray] = {}
        pending = list(indices)
        while pending:
            target = pending[0]
            k = kfs[bisect.bisect_right(kfs, target) - 1]
            self._decode_run(k, pending, got, kfs)
            pending = [i for i in pending if i not in got]
        return [got[i] for i in indices]

    def _decode_run(self, k: int, pending: list[int], got: dict[int, np.ndarray], kfs: list[int]) -> None:
        """Seek to keyframe ``k`` and decode forward collecting ``pending`` frames until the next one
        is better reached by a fresh seek. Retries from earlier keyframes if the seek overshoots."""
        target = pending[0]
        start = k
        while True:
            if start == 0:
                self._rewind()
            else:
                self._container.seek(self._pts[start], stream=self._stream, backward=True, any_frame=False)
            want = iter(pending)
            nxt = next(want)
            overshoot = False
            for frame in self._container.decode(self._stream):
                i = self._index.get(frame.pts)
                if i is None:
                    continue
                if i > nxt:
                    if nxt == target:  # the seek landed after the frame we came for
                        overshoot = True
                        break
                    return  # a later pending frame was skipped: the next run seeks for it
                if i == nxt:
                    got[i] = self._rgb(frame)
                    nxt = next(want, None)
                    if nxt is None:
                        return
                    # jump instead of decoding a long stretch when a later keyframe is closer
                    nk = kfs[bisect.bisect_right(kfs, nxt) - 1]
                    if nk > i:
                        return
            else:
                if target in got:
                    return
                overshoot = True  # stream ended without giving the target
            if not overshoot:
                return
            if start == 0:
                raise VideoError(self.path, f"frame {target} could not be decoded even from the start",
                                 "decode_error")
            log.debug("%s: seek to keyframe %d overshot frame %d; retrying earlier", self.path, start, target)
            earlier = [x for x in kfs if x < start]
            start = earlier[-1] if earlier else 0
