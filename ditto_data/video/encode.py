"""Encode RGB frames to H.264 with the ``ffmpeg`` binary, deterministically and atomically.

Frames are piped as raw RGB to one ffmpeg process (no temp PNGs). The encoder settings are fixed
(libx264, yuv420p, closed GOP of ``gop`` frames, no scene-cut keyframes, fixed B-frames and
threads) so the same frames always give the same bytes, and decoders can seek cheaply.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..faults import MachineFault
from .errors import VideoError
from .ffmpeg import check_exit, ffmpeg_bin
from .probe import VideoInfo, probe


#: BT.709, limited range: the tags (container and H.264 VUI) that say how the YUV samples were made,
#: so players and decoders convert them back to RGB with the matrix that made them
COLOR_ARGS = ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv")
#: the scale options that make those samples: RGB (or the source's YUV, as its tags say) to BT.709 limited range
TO_BT709 = "out_color_matrix=bt709:out_range=tv"


def x264_args(gop: int = 20, crf: float = 18, preset: str = "veryfast", threads: int = 2) -> list[str]:
    """FFmpeg output options for a deterministic H.264 yuv420p stream with a keyframe every ``gop``
    frames. Shared with the standardize transcode so both make the same kind of file."""
    return [
        "-c:v", "libx264", "-preset", preset, "-crf", f"{crf:g}", "-pix_fmt", "yuv420p",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "2",
        "-x264-params", "open-gop=0", "-threads", str(threads), "-movflags", "+faststart",
        *COLOR_ARGS,
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
    ]  # fmt: skip


def verify_video(path: str | os.PathLike[str], num_frames: int, width: int, height: int) -> VideoInfo:
    """Probe a video just written and check it holds ``num_frames`` frames of ``width`` x ``height``;
    VideoError (``bad_output``) otherwise. Run before a video is renamed into place
    (``atomic_path(..., verify=...)``): FFmpeg can exit 0 on a full disk after failing to write
    the index (moov atom), leaving a file no reader can open."""
    try:
        got = probe(path)
    except VideoError as e:
        raise VideoError(path, f"the file just written cannot be read back: {e.detail}", "bad_output") from e
    if (got.num_frames, got.width, got.height) != (num_frames, width, height):
        raise VideoError(path, f"the file just written holds {got.num_frames} frames of {got.width}x{got.height}, "
                               f"expected {num_frames} of {width}x{height}", "bad_output")  # fmt: skip
    return got


def encode_video(frames: np.ndarray | Iterable[np.ndarray], path: str | os.PathLike[str], fps: float,
                 gop: int = 20, crf: float = 18, preset: str = "veryfast", threads: int = 2) -> Path:
    """Write ``frames`` (uint8 [T,H,W,3] array, or an iterable of [H,W,3]) to ``path`` as H.264 MP4.

    Width and height must be even (yuv420p). Returns the path. Raises VideoError with ffmpeg's
    stderr tail on failure; nothing is left at ``path`` then. The file is probed before it is
    renamed into place; frames that were checked here and still give a file that does not read
    back is the machine's fault (a full disk), not the frames': :class:`MachineFault`.
    """
    path = Path(path)
    if fps <= 0:
        raise VideoError(path, f"fps must be positive, got {fps}", "bad_frames")
    if gop < 1:
        raise VideoError(path, f"gop must be at least 1, got {gop}", "bad_frames")
    if hasattr(frames, "numpy") and not isinstance(frames, np.ndarray):  # a torch tensor [T,H,W,3]
        frames = frames.numpy()
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        raise VideoError(path, f"frames array has shape {frames.shape}, expected [T,H,W,3]", "bad_frames")
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise VideoError(path, "no frames to encode", "bad_frames")
    first = _check(first, path, 0, None)
    h, w = first.shape[:2]
    if h % 2 or w % 2:
        raise VideoError(path, f"frame size {w}x{h}: width and height must be even for H.264 yuv420p",
                         "bad_frames")
    count = {"n": 0}

    def verify(tmp: Path) -> None:
        try:
            verify_video(tmp, count["n"], w, h)
        except VideoError as e:
            raise MachineFault(f"{path}: ffmpeg reported success but {e.detail}: the disk or the encoder "
                               f"failed, not the frames") from e

    with atomic_path(path, verify=verify) as tmp:
        cmd = [ffmpeg_bin(), "-hide_banner", "-nostdin", "-v", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "pipe:0",
               "-an", "-vf", f"scale={TO_BT709},format=yuv420p,setsar=1",
               *x264_args(gop, crf, preset, threads), "-f", "mp4", str(tmp)]  # fmt: skip
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        n = 0
        try:
            if isinstance(frames, np.ndarray):  # a whole array: one write
                _check(frames[-1], path, len(frames) - 1, (h, w))
                proc.stdin.write(np.ascontiguousarray(frames).data)
                n = len(frames)
            else:
                proc.stdin.write(first.data)
                n = 1
                for frame in it:
                    proc.stdin.write(_check(frame, path, n, (h, w)).data)
                    n += 1
            proc.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        stderr = proc.stderr.read()
        proc.stderr.close()
        check_exit(proc.wait(), path, "ffmpeg encode", stderr, "encode_error")
        if n == 0:
            raise VideoError(path, "no frames to encode", "bad_frames")
        count["n"] = n
    return path


def _check(frame, path: Path, i: int, size: tuple[int, int] | None) -> np.ndarray:
    """One uint8 [H,W,3] frame (numpy or torch), contiguous; of ``size`` (h, w) when given."""
    if hasattr(frame, "numpy") and not isinstance(frame, np.ndarray):  # torch tensor
        frame = frame.numpy()
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        raise VideoError(path, f"frame {i}: dtype {a.dtype}, expected uint8", "bad_frames")
    if a.ndim != 3 or a.shape[-1] != 3:
        raise VideoError(path, f"frame {i}: shape {a.shape}, expected [H,W,3] RGB", "bad_frames")
    if size is not None and a.shape[:2] != size:
        raise VideoError(path, f"frame {i}: size {a.shape[1]}x{a.shape[0]} differs from the first frame's "
                               f"{size[1]}x{size[0]}", "bad_frames")  # fmt: skip
    return np.ascontiguousarray(a)
