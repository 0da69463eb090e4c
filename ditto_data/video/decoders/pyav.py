"""PyAV backend: always available, frame-exact by presentation timestamps.

The index is built by demuxing (no decoding): every video packet's pts, sorted, gives frame
index -> pts, and keyframe packets give the seek points. To fetch frame ``i`` we seek to the last
keyframe at or before it, decode forward and match frames by pts. If a seek lands after the frame
(broken index, damaged keyframe) we retry from an earlier keyframe, and finally decode from the
start, so results always equal a sequential full decode. Files whose packets lack timestamps are
decoded sequentially. For H.264, frames that are neither wanted nor referenced are never decoded,
which makes this the fastest backend for a loader's short clips (see ``_decode_run``).
"""

from __future__ import annotations

import bisect
import logging
import os
from pathlib import Path

import numpy as np

from ..errors import VideoError
from ..probe import open_container, stream_rotation
from .base import DecoderBackend, VideoMetadata, rotate_display

log = logging.getLogger(__name__)


class PyAVDecoder(DecoderBackend):
    name = "pyav"

    def __init__(self, source: Path | bytes, threads: int = 1, name: str | None = None):
        import av

        self.path = name or source
        self._source = source
        self._container = open_container(source, name)
        if not self._container.streams.video:
            self._container.close()
            raise VideoError(self.path, "no video stream", "no_video_stream")
        self._stream = self._container.streams.video[0]
        self._reformatter = av.video.reformatter.VideoReformatter()  # keeps its SwsContext between frames
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
        self.rotation = self._prime()
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

    def _prime(self) -> int:
        """Show the decoder the stream's first packet and return the display rotation.

        A decoder whose first input is a mid-stream keyframe has not read what the stream says only
        at its start: imageio_cockatoo.mp4 names its x264 build in frame 0's SEI, and FFmpeg works
        around that build's 4:4:4 bug only once it knows it; seeked straight to frame 76, every
        frame came out wrong. Parsing the packet with ``skip_frame=ALL`` teaches the decoder that
        without decoding a picture (a third of a loader's open time at 720p).
        """
        rotation = stream_rotation(self._container, self._stream, self._source)  # MP4/MOV: tkhd, no decode
        ctx = self._stream.codec_context
        self._rewind()
        ctx.skip_frame = "ALL"
        try:
            for packet in self._container.demux(self._stream):
                if packet.size:
                    ctx.decode(packet)
                    break
        except Exception as e:  # noqa: BLE001 - a damaged first packet is found again when asked for
            log.debug("%s: first packet does not parse: %s", self.path, e)
        finally:
            ctx.skip_frame = "DEFAULT"
        return rotation or 0

    def _rewind(self) -> None:
        self._container.seek(0, backward=True, any_frame=False)  # container-level: start of file

    def close(self) -> None:
        self._container.close()

    def _decode(self, indices: list[int], out: np.ndarray | None = None) -> np.ndarray:
        import av

        got = _Frames(self.path, indices, self._reformatter, out if not self.rotation else None)
        try:
            if self._timestamped:
                self._decode_timestamped(indices, got)
            else:
                self._decode_sequential(indices, got)
        except av.error.FFmpegError as e:
            raise VideoError(self.path, f"decode failed: {e}", "decode_error") from None
        return rotate_display(got.out, self.rotation)

    def _decode_sequential(self, indices: list[int], got: _Frames) -> None:
        """Decode from the start, counting frames: slow but right for files without timestamps."""
        self._rewind()
        want = set(indices)
        for i, frame in enumerate(self._container.decode(self._stream)):
            if i in want:
                got.put(i, frame)
                if got.complete:
                    return
        missing = [i for i in indices if i not in got]
        raise VideoError(self.path, f"frames {missing[:5]} could not be decoded (stream ends early)",
                         "decode_error")

    def _decode_timestamped(self, indices: list[int], got: _Frames) -> None:
        kfs = self.metadata.keyframe_indices or [0]
        pending = list(indices)
        while pending:
            self._decode_run(self._run(pending, kfs), got, kfs)
            pending = [i for i in pending if i not in got]

    @staticmethod
    def _run(pending: list[int], kfs: list[int]) -> list[int]:
        """The leading frames of ``pending`` that one seek serves: a frame whose nearest keyframe lies
        after the previous wanted frame is better reached by a fresh seek than by decoding onward."""
        run = pending[:1]
        for i in pending[1:]:
            if kfs[bisect.bisect_right(kfs, i) - 1] > run[-1]:
                break
            run.append(i)
        return run

    def _decode_run(self, run: list[int], got: _Frames, kfs: list[int]) -> None:
        """Seek to the keyframe before ``run[0]`` and decode forward, collecting ``run``'s frames.

        H.264 shortcuts, both bit-exact: packets of frames we do not want are decoded with
        ``skip_frame=NONREF``, so frames no other frame references (most B-frames) are never
        decoded; and once the last wanted packet is in, the decoder is drained instead of fed
        the packets its reorder delay would otherwise pull in. Retries from earlier keyframes
        if the seek lands after ``run[0]`` (broken index, damaged keyframe).
        """
        target = run[0]
        start = kfs[bisect.bisect_right(kfs, target) - 1]
        ctx = self._stream.codec_context
        fast = ctx.name == "h264"
        while True:
            if start == 0:
                self._rewind()
            else:
                self._container.seek(self._pts[start], stream=self._stream, backward=True, any_frame=False)
            wanted = {self._pts[i]: i for i in run}
            unsent = set(wanted)
            skipping = False
            for packet in self._container.demux(self._stream):
                if fast and skipping != (packet.pts not in wanted):
                    skipping = not skipping
                    ctx.skip_frame = "NONREF" if skipping else "DEFAULT"
                unsent.discard(packet.pts)
                done = self._collect(ctx.decode(packet if packet.size else None), wanted, run[-1], got)
                if fast and not unsent and not done:  # every wanted frame is in the decoder: drain it
                    done = self._collect(ctx.decode(None), wanted, run[-1], got) or True
                if done:
                    break
            if skipping:
                ctx.skip_frame = "DEFAULT"
            if target in got:
                return  # frames of the run still missing start the next run
            if start == 0:
                raise VideoError(self.path, f"frame {target} could not be decoded even from the start",
                                 "decode_error")
            log.debug("%s: seek to keyframe %d overshot frame %d; retrying earlier", self.path, start, target)
            earlier = [x for x in kfs if x < start]
            start = earlier[-1] if earlier else 0

    def _collect(self, frames, wanted: dict[int, int], last: int, got: _Frames) -> bool:
        """Keep the wanted ones of decoded ``frames``; True once nothing more of the run can come
        (all collected, or frames past its last one arrive: output is in display order)."""
        done = False
        for frame in frames:
            i = wanted.get(frame.pts)
            if i is not None:
                if i not in got:
                    got.put(i, frame)
            elif frame.pts is not None and self._index.get(frame.pts, -1) > last:
                done = True
        return done or all(i in got for i in wanted.values())


class _Frames:
    """The frames of sorted ``indices``, converted to RGB straight into one [T,H,W,3] array (the
    caller's ``out``, or one allocated at the first frame's size): no per-frame list to stack."""

    def __init__(self, path: os.PathLike[str], indices: list[int], reformatter, out: np.ndarray | None = None):
        self.path = path
        self.reformatter = reformatter
        self.slot = {i: k for k, i in enumerate(indices)}
        self.filled: set[int] = set()
        self.out = out

    def put(self, i: int, frame) -> None:
        rgb = self.reformatter.reformat(frame, format="rgb24").to_ndarray()
        if self.out is None:
            self.out = np.empty((len(self.slot), *rgb.shape), np.uint8)
        elif rgb.shape != self.out.shape[1:]:
            raise VideoError(self.path, f"frame {i} is {rgb.shape[1]}x{rgb.shape[0]}, earlier ones "
                             f"{self.out.shape[2]}x{self.out.shape[1]}: the size changes mid-stream", "decode_error")
        self.out[self.slot[i]] = rgb
        self.filled.add(i)

    def __contains__(self, i: int) -> bool:
        return i in self.filled

    @property
    def complete(self) -> bool:
        return len(self.filled) == len(self.slot)
