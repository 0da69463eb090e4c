"""Probe a video file: the facts the pipeline decides on (display size, fps, frame count, codec...).

Uses PyAV (libav* in-process, no subprocess). Sizes are the *display* size: rotation metadata is
applied, so a phone video stored 1920x1080 with a 90 degree display matrix reports 1080x1920.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import VideoError

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

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_rotation(deg: float | int | None) -> int:
    """Any display-matrix angle -> one of 0, 90, 180, 270 (counter-clockwise)."""
    if not deg:
        return 0
    return int(round(float(deg) / 90.0)) % 4 * 90


def check_file(path: str | os.PathLike[str]) -> Path:
    """Raise VideoError for a path that is missing, not a file, or empty; return it as a Path."""
    p = Path(path)
    if not p.exists():
        raise VideoError(p, "no such file", "not_found")
    if not p.is_file():
        raise VideoError(p, "not a regular file", "not_found")
    if p.stat().st_size == 0:
        raise VideoError(p, "file is empty (zero bytes)", "empty_file")
    return p


def open_container(path: str | os.PathLike[str]):  # -> av.container.InputContainer
    """``av.open`` with errors turned into VideoError naming the file."""
    import av

    p = check_file(path)
    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise VideoError(p, "not a video FFmpeg can read (invalid data found when processing input)",
                         "not_a_video") from None
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError(p, f"cannot open: {e}", "not_a_video") from None


def first_frame_rotation(container, stream) -> int | None:
    """Rotation from the first decodable frame's display matrix (PyAV exposes it only on frames)."""
    import av

    try:
        for i, frame in enumerate(container.decode(stream)):
            return normalize_rotation(getattr(frame, "rotation", 0))
    except (av.error.FFmpegError, ValueError) as e:
        log.debug("no frame decoded while probing rotation: %s", e)
    return None


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Facts of the file at ``path``; raises :class:`VideoError` (naming the file) if it holds no video."""
    container = open_container(path)
    try:
        return _probe(container, Path(path))
    finally:
        container.close()


def _probe(container, p: Path) -> VideoInfo:
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
    rotation = first_frame_rotation(container, s)
    if rotation is None:
        rotation = 0
    w, h = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    return VideoInfo(
        path=str(p), width=w, height=h, fps=fps, num_frames=num_frames, duration=duration,
        codec=cc.name, pix_fmt=cc.format.name if cc.format else None, rotation=rotation,
        has_audio=has_audio, has_video=True, container=container.format.name,
        coded_width=coded_w, coded_height=coded_h, num_frames_estimated=estimated,
        bit_rate=int(container.bit_rate) if container.bit_rate else None,
    )  # fmt: skip
