"""Probe a video file: the facts the pipeline decides on (display size, fps, frame count, codec...).

Uses PyAV (libav* in-process, no subprocess). Sizes are the *display* size: rotation metadata is
applied, so a phone video stored 1920x1080 with a 90 degree display matrix reports 1080x1920.
"""

from __future__ import annotations

import io
import logging
import math
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import VideoError
from .source import VideoSource, open_binary, resolve_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video file. ``rotation`` is FFmpeg's display-matrix angle (counter-clockwise
    degrees, normalised to 0/90/180/270); ``width``/``height`` have it applied, ``coded_*`` do not.
    ``num_frames`` comes from the container header, or is estimated from duration x fps where the
    header has none (``num_frames_estimated``)."""

    path: str
    width: int
    height: int
    fps: float
    num_frames: int
    duration: float
    codec: str | None
    pix_fmt: str | None
    rotation: int
    has_audio: bool
    has_video: bool
    container: str | None = None
    coded_width: int = 0
    coded_height: int = 0
    num_frames_estimated: bool = False
    bit_rate: int | None = None
    sample_aspect_ratio: float = 1.0  # of the coded pixels (non-square in e.g. DV, some phone clips)
    color_space: int = 2  # FFmpeg's AVColorSpace of the YUV samples (1 BT.709, 2 unspecified, 5/6 BT.601)
    color_range: int = 0  # AVColorRange (0 unspecified, 1 limited "tv", 2 full "pc")

    @property
    def display_aspect(self) -> float:
        """Width / height as shown: sample aspect ratio and rotation applied."""
        sar = self.sample_aspect_ratio or 1.0
        if self.rotation in (90, 270):
            return self.coded_height / (self.coded_width * sar)
        return self.coded_width * sar / self.coded_height

    @property
    def portrait(self) -> bool:
        return self.display_aspect < 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_rotation(deg: float | int | None) -> int:
    """Any display-matrix angle -> one of 0, 90, 180, 270 (counter-clockwise)."""
    if not deg:
        return 0
    return int(round(float(deg) / 90.0)) % 4 * 90


def open_container(source: VideoSource, name: str | None = None):  # -> av.container.InputContainer
    """``av.open`` on a path, bytes or file object, with errors turned into VideoError naming it."""
    import av

    src, label = resolve_source(source, name)
    try:
        return av.open(str(src) if isinstance(src, Path) else io.BytesIO(src), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise VideoError(label, "not a video FFmpeg can read (invalid data found when processing input)",
                         "not_a_video") from None
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError(label, f"cannot open: {e}", "not_a_video") from None


def stream_rotation(container, stream, source: str | Path | bytes | None = None) -> int | None:
    """The video stream's display rotation, or None where no frame decodes to tell.

    PyAV exposes the display matrix only on decoded frames, and decoding a 720p keyframe costs
    more than a loader's whole index; so MP4/MOV files are read from their ``tkhd`` box (where
    FFmpeg takes it from), and other containers from their first decodable frame. ``source``: the
    container's path or bytes (default: its name, a path).
    """
    import av

    if "mov" in (container.format.name or "").split(","):
        try:
            deg = _mov_track_rotation(container.name if source is None else source, stream.index)
            if deg is not None:
                return deg
        except (OSError, struct.error, ValueError) as e:
            log.debug("%s: cannot read tkhd (%s); decoding a frame for the rotation", container.name, e)
    try:
        container.seek(0, backward=True, any_frame=False)
        for frame in container.decode(stream):
            return normalize_rotation(getattr(frame, "rotation", 0))
    except (av.error.FFmpegError, ValueError) as e:
        log.debug("no frame decoded while probing rotation: %s", e)
    return None


def _mov_track_rotation(source: str | Path | bytes, track: int) -> int | None:
    """Rotation of the ``track``-th ``trak`` (FFmpeg's stream index): its tkhd matrix times the
    movie's mvhd matrix, as FFmpeg's mov demuxer combines them, turned into an angle the way
    ``av_display_rotation_get`` does. None if the file has no such track."""

    def boxes(f, end: int):
        while f.tell() + 8 <= end:
            start = f.tell()
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
            elif size == 0:
                size = end - start
            if size < 8:
                return
            yield kind, start + size
            f.seek(start + size)

    def matrix(f, skip_v0: int, skip_v1: int) -> list[list[float]]:
        version = f.read(4)[0]
        f.seek(skip_v1 if version == 1 else skip_v0, os.SEEK_CUR)
        m = struct.unpack(">9i", f.read(36))  # rows of (16.16, 16.16, 2.30) fixed point
        return [[m[3 * r] / 65536, m[3 * r + 1] / 65536, m[3 * r + 2] / 2**30] for r in range(3)]

    movie = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    with open_binary(Path(source) if isinstance(source, str) else source) as f:
        end = f.seek(0, os.SEEK_END)
        f.seek(0)
        for kind, moov_end in boxes(f, end):
            if kind != b"moov":
                continue
            n = 0
            for k, box_end in boxes(f, moov_end):
                if k == b"mvhd":
                    movie = matrix(f, 16 + 16, 28 + 16)
                elif k == b"trak" and n == track:
                    for k2, _ in boxes(f, box_end):
                        if k2 == b"tkhd":
                            tk = matrix(f, 20 + 16, 32 + 16)
                            m = [[sum(tk[i][e] * movie[e][j] for e in range(3)) for j in range(2)] for i in range(2)]
                            sx, sy = math.hypot(m[0][0], m[1][0]), math.hypot(m[0][1], m[1][1])
                            if not sx or not sy:
                                return 0
                            return normalize_rotation(-math.degrees(math.atan2(m[0][1] / sy, m[0][0] / sx)))
                    return None
                elif k == b"trak":
                    n += 1
    return None


def probe(source: VideoSource, name: str | None = None) -> VideoInfo:
    """Facts of a video (a path, bytes or file object; ``name`` labels data that has none); raises
    :class:`VideoError` (naming the file) if it holds no video."""
    src, label = resolve_source(source, name)
    container = open_container(src, label)
    try:
        return _probe(container, label, src)
    finally:
        container.close()


def _probe(container, p: str, src: Path | bytes) -> VideoInfo:
    has_audio = bool(container.streams.audio)
    if not container.streams.video:
        what = "an audio-only file" if has_audio else "no streams FFmpeg recognises as video"
        raise VideoError(p, f"no video stream ({what})", "no_video_stream")
    s = container.streams.video[0]
    cc = s.codec_context
    coded_w, coded_h = int(cc.width or 0), int(cc.height or 0)
    if coded_w <= 0 or coded_h <= 0:
        raise VideoError(p, "video stream has no frame size (corrupt header?)", "decode_error")
    rate = s.average_rate or s.guessed_rate or s.base_rate
    fps = float(rate) if rate else 0.0
    if s.duration is not None and s.time_base is not None:
        duration = float(s.duration * s.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    else:
        duration = 0.0
    num_frames = int(s.frames or 0)
    estimated = num_frames <= 0
    if estimated:
        num_frames = int(round(duration * fps)) if fps > 0 else 0
    elif duration <= 0 and fps > 0:
        duration = num_frames / fps
    sar_q = s.sample_aspect_ratio or cc.sample_aspect_ratio
    sar = float(sar_q) if sar_q and float(sar_q) > 0 else 1.0
    rotation = stream_rotation(container, s, src)
    if rotation is None:
        rotation = 0
    w, h = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    return VideoInfo(
        path=str(p), width=w, height=h, fps=fps, num_frames=num_frames, duration=duration,
        codec=cc.name, pix_fmt=cc.format.name if cc.format else None, rotation=rotation,
        has_audio=has_audio, has_video=True, container=container.format.name,
        coded_width=coded_w, coded_height=coded_h, num_frames_estimated=estimated,
        bit_rate=int(container.bit_rate) if container.bit_rate else None, sample_aspect_ratio=sar,
        color_space=int(cc.colorspace or 2), color_range=int(cc.color_range or 0),
    )  # fmt: skip
