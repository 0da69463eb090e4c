"""The ``standardize`` stage: each input file becomes up to ``max_clips`` standardized clips.

Ditto's sources are 101 frames at 20 fps, 1280x720 (720x1280 for portrait). The work is done by
:mod:`ditto_data.video.standard_clips`; this module turns its results into CLIP records and its
errors into rejections of the input (``not_a_video``, ``no_video_stream``, ``too_short``,
``decode_error``, ``all_segments_cut``) whose message names the file.

Each input also gets its near-duplicate *signature* (:mod:`ditto_data.video.signature`), made from
the grey frames the scene analysis decodes anyway (no second decode), written once as
``<input id>.sig.npz`` and shared by its clips as their ``signature`` artifact: the dedup stage
compares sources with it, whatever their frame rate or clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..builders.stage import ConfigError, Resources, Stage, StageConfig, register_stage
from ..schema import CLIP, INPUT, Record, content_id

log = logging.getLogger(__name__)

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
#: VideoError reasons -> the stage's rejection reasons
REASONS = {"empty_file": "not_a_video", "not_found": "unreadable", "encode_error": "decode_error"}


@dataclass
class StandardizeConfig(StageConfig):
    """Target clips: ``width`` x ``height`` is the landscape size (portrait sources get it swapped)."""

    width: int = 1280
    height: int = 720
    fps: float = 20.0
    num_frames: int = 101
    max_clips: int = 3
    pad_short: bool = False  # pad a source shorter than num_frames by repeating its last frame
    scene_threshold: float = 0.2  # 0..1 change score of a scene cut; 1 or more turns detection off
    gop: int = 20
    crf: float = 18.0
    preset: str = "veryfast"
    threads: int = 2  # x264 threads per clip (fixed: the output is deterministic)

    def validate(self) -> None:
        for name in ("width", "height"):
            v = getattr(self, name)
            if v < 2 or v % 2:
                raise ConfigError(name, f"must be an even number of pixels (H.264 yuv420p), got {v}")
        if self.fps <= 0:
            raise ConfigError("fps", f"must be positive, got {self.fps}")
        if self.num_frames < 1:
            raise ConfigError("num_frames", f"must be at least 1, got {self.num_frames}")
        if self.max_clips < 1:
            raise ConfigError("max_clips", f"must be at least 1, got {self.max_clips}")
        if self.scene_threshold <= 0:
            raise ConfigError("scene_threshold", f"must be positive, got {self.scene_threshold}")
        if self.gop < 1:
            raise ConfigError("gop", f"must be at least 1, got {self.gop}")
        if not 0 <= self.crf <= 51:
            raise ConfigError("crf", f"must be within 0..51, got {self.crf}")
        if self.preset not in X264_PRESETS:
            raise ConfigError("preset", f"{self.preset!r} is not one of {', '.join(X264_PRESETS)}")
        if self.threads < 1:
            raise ConfigError("threads", f"must be at least 1, got {self.threads}")

    def options(self):  # -> ditto_data.video.standard_clips.StandardizeOptions
        from ..video.standard_clips import StandardizeOptions

        return StandardizeOptions(
            width=self.width, height=self.height, fps=self.fps, num_frames=self.num_frames,
            max_clips=self.max_clips, pad_short=self.pad_short, scene_threshold=self.scene_threshold,
            gop=self.gop, crf=self.crf, preset=self.preset, threads=self.threads,
        )  # fmt: skip


def input_facts(info) -> dict:
    """Probe facts of the input file, as ``input_*`` fields of its clips."""
    return {
        "input_codec": info.codec, "input_width": info.width, "input_height": info.height,
        "input_fps": info.fps, "input_num_frames": info.num_frames, "input_duration": info.duration,
        "input_pix_fmt": info.pix_fmt, "input_rotation": info.rotation, "input_has_audio": info.has_audio,
        "input_container": info.container,
    }  # fmt: skip


@register_stage
class StandardizeStage(Stage):
    """Input file -> CLIP records (artifact ``video``); bad inputs are rejected, never raised."""

    name = "standardize"
    requires = frozenset({"input"})
    produces = frozenset({"clip", "clip.video", "clip.signature"})
    kinds = (INPUT,)
    resources = Resources(cpus=2.0)  # one FFmpeg decode + x264 with 2 threads
    batch_size = 1
    Config = StandardizeConfig
    version = 2  # 2: clips carry their source's signature

    def process(self, batch: list[Record]) -> list[Record]:
        out: list[Record] = []
        for rec in batch:
            out.extend(self._one(rec))
        return out

    def _one(self, rec: Record) -> list[Record]:
        from ..video import VideoError, probe
        from ..video.signature import signature_from_grey
        from ..video.standard_clips import plan_clips, transcode_window

        path = rec.fields["path"]
        rel = rec.fields.get("relpath", path)
        opts = self.config.options()
        try:
            info = probe(path)
            plan = plan_clips(path, opts, keep_frames=True)
        except VideoError as e:
            return [self._reject(rec, e, rel)]
        except OSError as e:
            self.not_the_machine(e)
            return [rec.reject(self.name, "unreadable", f"{rel}: cannot read: {e.strerror or e}")]
        signature = self.ctx.artifact_path(f"{rec.id}.sig.npz")
        signature_from_grey(plan.analysis.frames, opts.fps).save(signature)
        plan.analysis.frames = None  # free the frames before the transcodes
        clips: list[Record] = []
        errors: list[VideoError] = []
        for start in plan.starts:
            clip_id = content_id(rec.id, str(start))
            try:
                clip = transcode_window(path, self.ctx.artifact_path(f"{clip_id}.mp4"), info, start, opts, plan.pad)
            except VideoError as e:
                self.not_the_machine(e)
                log.warning("%s: clip at frame %d failed: %s", rel, start, e)
                errors.append(e)
                continue
            child = rec.child(clip_id, CLIP)
            child.fields.pop("path", None)
            child.fields.pop("relpath", None)
            child.fields.update(
                width=clip.width, height=clip.height, fps=clip.fps, num_frames=clip.num_frames,
                duration=clip.duration, start_frame=clip.start_frame, input_relpath=rel,
                padded_frames=clip.padded_frames, scene_cuts=len(plan.analysis.cuts), **input_facts(info),
            )  # fmt: skip
            child.add_artifact("video", self.ctx.relpath(clip.path),
                               self.provenance(start_frame=start, padded_frames=clip.padded_frames))
            child.add_artifact("signature", self.ctx.relpath(signature),
                               self.provenance(analysed_frames=plan.analysis.num_frames))
            clips.append(child)
        if not clips:
            return [self._reject(rec, errors[0], rel)]
        return clips

    def _reject(self, rec: Record, e, rel: str) -> Record:
        if e.reason == "ffmpeg_missing":
            raise e  # the machine is misconfigured: no sample can succeed
        self.not_the_machine(e)
        reason = REASONS.get(e.reason, e.reason)
        return rec.reject(self.name, reason, f"{rel}: {e.detail}")
