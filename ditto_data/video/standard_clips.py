"""Standardize a source video into fixed-size clips: N frames at F fps, WxH (or HxW for portrait).

Three steps, each one FFmpeg process:

1. **analyse**: decode to tiny grey frames at the target fps (scaled in the decoder's filter graph,
   deblocking skipped) and score consecutive-frame changes; a *cut* is a spike of the score above
   ``scene_threshold``. The pass stops as soon as enough cut-free windows are known, so a long
   source is not decoded to its end to make three 5-second clips.
2. **plan**: greedily pick up to ``max_clips`` non-overlapping N-frame windows that hold no cut
   (with one frame of margin, since seeking can shift a window by one frame).
3. **transcode** each window with one FFmpeg command: accurate seek, fps filter, scale to cover and
   centre crop (display aspect: rotation and sample aspect applied), exactly N frames, H.264
   yuv420p with a keyframe every ``gop`` frames, audio dropped; written atomically and verified.

A source with fewer than N frames at the target fps is rejected as ``too_short`` unless
``pad_short`` is set, which repeats its last frame. Failures are :class:`VideoError` with a
machine-readable ``reason`` (``too_short``, ``all_segments_cut``, ``decode_error``, ...).
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..faults import MachineFault, check_text, low_space
from .encode import TO_BT709, verify_video, x264_args
from .errors import VideoError
from .ffmpeg import ffmpeg_bin, raise_if_killed, run_ffmpeg, stderr_tail
from .probe import VideoInfo, probe

log = logging.getLogger(__name__)

ANALYSIS_SIZE = (64, 36)  # grey frames for cut detection: enough for histograms and pixel change
SPIKE_RATIO = 1.5  # a cut's score must exceed its +-2 neighbours' by this factor (motion is not a cut)
MARGIN = 1  # frames kept clear of a cut on each side of a window (seek may shift a window by one)


@dataclass(frozen=True)
class StandardizeOptions:
    """Target of standardization. ``width``/``height`` are the landscape size; portrait sources
    get them swapped. ``scene_threshold`` is on a 0..1 scale (mean of the grey-level histogram
    distance and the mean absolute pixel change between consecutive frames)."""

    width: int = 1280
    height: int = 720
    fps: float = 20.0
    num_frames: int = 101
    max_clips: int = 3
    pad_short: bool = False
    scene_threshold: float = 0.2
    gop: int = 20
    crf: float = 18
    preset: str = "veryfast"
    threads: int = 2


@dataclass
class SceneAnalysis:
    """Result of the analysis pass. ``num_frames`` frames at the target fps were read (all of the
    source when ``complete``); ``cuts`` are frame indices that start a new shot."""

    num_frames: int
    cuts: list[int]
    scores: np.ndarray
    complete: bool
    warnings: str = ""
    #: the grey frames themselves, uint8 [num_frames, 36, 64], when asked for (``keep_frames``)
    frames: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Clip:
    """One standardized clip written by :func:`standardize`."""

    path: Path
    start_frame: int  # first frame, counted at the target fps from the source's start
    num_frames: int
    width: int
    height: int
    fps: float
    duration: float
    padded_frames: int = 0
    info: VideoInfo | None = field(default=None, repr=False)


def output_size(info: VideoInfo, width: int, height: int) -> tuple[int, int]:
    """(w, h) of the clips of ``info``: landscape size, or swapped for a portrait display aspect."""
    long, short = max(width, height), min(width, height)
    return (short, long) if info.portrait else (long, short)


def cover_size(aspect: float, width: int, height: int) -> tuple[int, int]:
    """Smallest size of display aspect ``aspect`` that covers ``width`` x ``height``."""
    if aspect >= width / height:
        return max(width, math.ceil(height * aspect)), height
    return width, max(height, math.ceil(width / aspect))


def video_filter(info: VideoInfo, opts: StandardizeOptions, pad: int = 0, keep: int | None = None) -> str:
    """The transcode's filter chain: fps, [keep the first ``keep`` frames], scale to cover (and to
    BT.709 limited range, which ``x264_args`` tags), centre crop, square pixels, tail padding.

    FFmpeg rotates (autorotate) before this chain, so sizes here are display sizes. A little tail
    padding (``MARGIN``) is always there so a window ending at the source's last frame still gets
    N frames when seeking shifts it; ``-frames:v`` cuts what is not needed.
    """
    w, h = output_size(info, opts.width, opts.height)
    sw, sh = cover_size(info.display_aspect, w, h)
    trim = f"trim=end_frame={keep}," if keep else ""
    convert = to_bt709(info)  # a scale option, or a filter run on the (even-sized) crop
    scale_opt, after_crop = (convert, "") if convert.startswith(":") else ("", convert)
    return (f"fps={opts.fps:g},{trim}scale={sw}:{sh}:flags=bicubic{scale_opt},crop={w}:{h}{after_crop},setsar=1,"
            f"tpad=stop_mode=clone:stop={pad + MARGIN}")


#: AVColorSpace values the colorspace filter takes as an input matrix (names as it spells them)
_SPACES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020ncl"}


def to_bt709(info: VideoInfo) -> str:
    """What the chain adds after its scale so the output's samples are BT.709 limited range, as tagged.

    Samples already BT.709 stay as they are. Other YUV samples go through FFmpeg's ``colorspace``
    filter (swscale does not convert between YUV matrices); untagged ones are read as BT.601, as
    swscale and the decoders read them. RGB-like sources are converted by the scale itself.
    """
    fmt = info.pix_fmt or ""
    if info.color_space == 1 and info.color_range != 2:
        return ""
    if fmt.startswith(("yuv420p", "yuv422p", "yuv444p")) and not fmt.startswith("yuvj"):
        space = _SPACES.get(info.color_space, "smpte170m")
        rng = "pc" if info.color_range == 2 else "tv"
        return (f",colorspace=space=bt709:range=tv:primaries=bt709:trc=bt709:ispace={space}:irange={rng}"
                f":iprimaries=bt709:itrc=bt709:fast=1")
    return f":{TO_BT709}"


def detect_cuts(scores: np.ndarray, threshold: float, upto: int | None = None) -> list[int]:
    """Frames ``i`` whose change score ``scores[i]`` (frame i-1 -> i) is a spike above ``threshold``."""
    n = len(scores) if upto is None else min(upto, len(scores))
    cuts = []
    for i in np.flatnonzero(scores[1:n] >= threshold) + 1:
        lo, hi = max(1, i - 2), min(len(scores), i + 3)
        neighbours = np.concatenate([scores[lo:i], scores[i + 1:hi]])
        if not len(neighbours) or scores[i] >= SPIKE_RATIO * neighbours.max():
            cuts.append(int(i))
    return cuts


def plan_windows(num_frames: int, cuts: list[int], length: int, max_clips: int, complete: bool = True,
                 lookahead: int = 0) -> tuple[list[int], bool]:
    """Greedy non-overlapping cut-free windows of ``length`` frames; returns (starts, final).

    ``final`` is False when more frames are needed to confirm a window (analysis still running).
    A window [s, s+length) is cut-free when no cut c has s - MARGIN < c <= s + length - 1 + MARGIN.
    """
    starts: list[int] = []
    s = 0
    cuts = sorted(cuts)
    while len(starts) < max_clips:
        end = s + length - 1 + MARGIN  # last frame that must be in the same shot
        if s + length > num_frames:
            return starts, complete
        inside = [c for c in cuts if s - MARGIN < c <= end]
        if inside:
            s = inside[-1] + MARGIN
            continue
        if not complete and end + lookahead >= num_frames:
            return starts, False  # a cut could still show up right after this window
        starts.append(s)
        s += length
    return starts, True


#: Sources are decoded with FFmpeg's own threading, which is bit-exact on a valid stream. On a
#: damaged one its multi-threaded error concealment differs from run to run, so whenever FFmpeg
#: reports errors the work is redone single-threaded: the same input always gives the same clips
#: (resume's "same output as an uninterrupted build"). x264 encodes with ``opts.threads`` either way.
DECODE_FAST: list[str] = []
DECODE_REPEATABLE = ["-threads", "1"]


def analyse(path: str | os.PathLike[str], fps: float, threshold: float, length: int | None = None,
            max_clips: int | None = None, keep_frames: bool = False) -> SceneAnalysis:
    """Cut detection on tiny grey frames at ``fps``; stops early once ``max_clips`` cut-free windows
    of ``length`` frames are known (both None: read the whole source). ``keep_frames`` keeps the
    grey frames in the result (the near-duplicate signature is made from them: no second decode)."""
    result, errors = _analyse(path, fps, threshold, length, max_clips, DECODE_FAST, keep_frames)
    if errors:
        result, _ = _analyse(path, fps, threshold, length, max_clips, DECODE_REPEATABLE, keep_frames)
    return result


def _analyse(path: str | os.PathLike[str], fps: float, threshold: float, length: int | None,
             max_clips: int | None, threads: list[str], keep_frames: bool = False) -> tuple[SceneAnalysis, bool]:
    w, h = ANALYSIS_SIZE
    size = w * h
    cmd = [ffmpeg_bin(), "-hide_banner", "-nostdin", "-v", "error", "-skip_loop_filter", "all", *threads,
           "-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn",
           "-vf", f"fps={fps:g},scale={w}:{h}:flags=area,format=gray", "-f", "rawvideo", "pipe:1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    prev: tuple[np.ndarray, np.ndarray] | None = None  # previous frame and its histogram
    scores: list[float] = []  # scores[i]: change from frame i-1 to frame i (scores[0] = 0)
    kept: list[bytes] = []
    stopped = False
    try:
        while True:
            buf = _read_exact(proc.stdout, size)
            if len(buf) < size:
                break
            if keep_frames:
                kept.append(buf)
            f = np.frombuffer(buf, np.uint8).reshape(h, w).astype(np.int16)
            hist = np.bincount(f.ravel() >> 4, minlength=16) / size
            if prev is None:
                scores.append(0.0)
            else:
                pix = np.abs(f - prev[0]).mean() / 255.0
                scores.append(float((pix + np.abs(hist - prev[1]).sum() / 2) / 2))
            prev = (f, hist)
            if length and max_clips and len(scores) % 10 == 0:
                cuts = detect_cuts(np.asarray(scores), threshold, upto=len(scores) - 2)
                if plan_windows(len(scores), cuts, length, max_clips, complete=False, lookahead=2)[1]:
                    stopped = True
                    break
    finally:
        if stopped:
            proc.kill()
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
        rc = proc.wait()
    if not stopped:  # else the partial scores below would pass for the whole video's
        raise_if_killed(rc, path, "scene analysis", err)
        check_text(err, f"{path}: scene analysis", (os.fspath(path),))
    n = len(scores)
    if not stopped and rc != 0 and n == 0:
        raise VideoError(path, f"FFmpeg could not decode any frame: {stderr_tail(err)}", "decode_error")
    if n == 0:
        raise VideoError(path, "the video stream decodes to no frames", "decode_error")
    warnings = stderr_tail(err, 3) if err and not stopped else ""
    if warnings:
        log.warning("%s: decoder reported errors (kept the %d frames it gave): %s", path, n, warnings)
    s = np.asarray(scores)
    n_final = None if not stopped else len(s) - 2
    frames = np.frombuffer(b"".join(kept), np.uint8).reshape(len(kept), h, w) if keep_frames else None
    return SceneAnalysis(num_frames=n, cuts=detect_cuts(s, threshold, upto=n_final), scores=s,
                         complete=not stopped, warnings=warnings, frames=frames), bool(err and err.strip())


def _read_exact(f, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def transcode_window(path: str | os.PathLike[str], out: str | os.PathLike[str], info: VideoInfo,
                     start_frame: int, opts: StandardizeOptions, pad: int = 0) -> Clip:
    """Write frames [start_frame, start_frame + N) (at the target fps) of ``path`` to ``out`` with
    one FFmpeg command, atomically; verify it holds exactly N frames of the target size. With
    ``pad`` > 0 only N - pad source frames are kept and the last is repeated ``pad`` times."""
    n = opts.num_frames
    w, h = output_size(info, opts.width, opts.height)
    seek = ["-ss", f"{start_frame / opts.fps:.6f}"] if start_frame else []
    out = Path(out)
    with atomic_path(out) as tmp:
        def transcode(before: list[str], after: list[str], threads: list[str]) -> str:
            proc = run_ffmpeg([*before, *threads, "-i", str(path), *after, "-map", "0:v:0", "-an", "-sn",
                               "-dn", "-vf", video_filter(info, opts, pad, keep=n - pad if pad else None),
                               "-frames:v", str(n), *x264_args(opts.gop, opts.crf, opts.preset, opts.threads),
                               "-r", f"{opts.fps:g}", "-y", "-f", "mp4", str(tmp)], path, "transcode",
                              reason="decode_error")  # fmt: skip
            return proc.stderr.decode("utf-8", "replace").strip()

        errors = transcode(seek, [], DECODE_FAST)
        if errors:
            # Seeking into some streams (an I-frame that is not a clean entry point) decodes garbage
            # until the next IDR frame: decode from the start and drop frames up to the window,
            # single-threaded so that errors that remain are reported the same way every time.
            log.info("%s: decode errors in the window at frame %d; decoding again from the start", path,
                     start_frame)
            errors = transcode([], seek, DECODE_REPEATABLE)
        if errors:
            raise VideoError(path, f"damaged frames in the window at frame {start_frame}: {stderr_tail(errors, 2)}",
                             "decode_error")
        try:
            got = verify_video(tmp, n, w, h)
        except VideoError as e:
            if e.reason == "bad_output" and "cannot be read back" in e.detail and low_space(out.parent):
                # FFmpeg said it succeeded and left no readable file on a full disk: not the source's fault
                raise MachineFault(f"{out}: transcode of {path} reported success but {e.detail}") from e
            raise VideoError(path, f"transcode gave {e.detail}", "decode_error") from None
        if got.has_audio:
            raise VideoError(path, "transcode kept an audio stream", "decode_error")
    return Clip(path=out, start_frame=start_frame, num_frames=n, width=w, height=h, fps=opts.fps,
                duration=n / opts.fps, padded_frames=pad, info=got)


@dataclass
class ClipPlan:
    """Which windows of a source become clips: ``starts`` (frames at the target fps), ``pad``
    frames of last-frame repetition (only for short sources with ``pad_short``)."""

    starts: list[int]
    pad: int
    analysis: SceneAnalysis


def plan_clips(path: str | os.PathLike[str], opts: StandardizeOptions = StandardizeOptions(),
               keep_frames: bool = False) -> ClipPlan:
    """Analyse ``path`` and choose its clip windows; VideoError ``too_short`` / ``all_segments_cut``
    / ``decode_error`` when there is none. ``keep_frames``: keep the analysis frames in the plan."""
    n = opts.num_frames
    scan = analyse(path, opts.fps, opts.scene_threshold, n, opts.max_clips, keep_frames=keep_frames)
    starts, _ = plan_windows(scan.num_frames, scan.cuts, n, opts.max_clips, complete=True)
    pad = 0
    if not starts:
        if scan.num_frames < n:
            if not opts.pad_short:
                raise VideoError(path, f"too short: {scan.num_frames} frames at {opts.fps:g} fps "
                                       f"({scan.num_frames / opts.fps:.2f} s), need {n}", "too_short")  # fmt: skip
            start, seg = _longest_segment(scan.num_frames, scan.cuts)
            starts, pad = [start], n - seg
            log.info("%s: %d frames, padded with %d copies of the last", path, seg, pad)
        else:
            raise VideoError(path, f"all segments cut: no {n}-frame window without a scene cut "
                                   f"(cuts at frames {scan.cuts[:10]} of {scan.num_frames})",
                             "all_segments_cut")  # fmt: skip
    return ClipPlan(starts=starts, pad=pad, analysis=scan)


def standardize(path: str | os.PathLike[str], out_path: Callable[[int], str | os.PathLike[str]],
                opts: StandardizeOptions = StandardizeOptions(), info: VideoInfo | None = None) -> list[Clip]:
    """Standardize ``path`` into up to ``opts.max_clips`` clips; ``out_path(start_frame)`` names each.

    Returns the clips in source order. Raises :class:`VideoError` (file named, ``reason`` set) when
    no clip can be made: not a video, no video stream, decode failure, too short, or every window
    holds a scene cut.
    """
    info = info or probe(path)
    plan = plan_clips(path, opts)
    return [transcode_window(path, out_path(s), info, s, opts, plan.pad) for s in plan.starts]


def _longest_segment(num_frames: int, cuts: list[int]) -> tuple[int, int]:
    """(start, length) of the longest stretch between cuts."""
    bounds = [0, *sorted(c for c in cuts if 0 < c < num_frames), num_frames]
    return max(((a, b - a) for a, b in zip(bounds, bounds[1:])), key=lambda x: x[1])
