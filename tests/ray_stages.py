"""Deterministic stages that do real FFmpeg work, for the Ray executor tests and benchmark.

They live in their own module (not in a test file) because Ray workers import stage classes by
reference: the test fixture puts this folder on the workers' PYTHONPATH. Fault injection is
driven by files, so that it needs no change to a config (which would change fingerprints):

- ``DITTO_TEST_CRASH_DIR``: when ``<dir>/arm`` exists, the first worker to rename it to
  ``<dir>/died`` kills its own process (``os._exit``) in the middle of a batch;
- ``DITTO_TEST_SLOW``: seconds ``_ray_edit`` sleeps per batch (so a build can be killed midway);
- ``DITTO_TEST_TRACE``: a folder where ``_ray_edit`` and ``_ray_thumb`` leave one JSON file per
  batch with its wall-clock start and end (to show chained stages overlap).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ditto_data import atomic
from ditto_data.builders.stage import Resources, Stage, StageConfig, register_stage
from ditto_data.schema import CLIP, EDIT, INPUT, content_id, edit_id
from ditto_data.video.ffmpeg import raise_if_killed

FFMPEG = ["ffmpeg", "-v", "error", "-nostdin", "-y"]
# one encoder thread and bitexact muxing: the same bytes whichever worker or node encodes
X264 = ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "26", "-pix_fmt", "yuv420p", "-threads", "1",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]


def _ffmpeg(args: list[str], out: Path) -> str | None:
    """Run FFmpeg writing ``out`` atomically; the error text on failure, else None. An FFmpeg killed
    from outside (Ray ending a dead driver's workers) raises FFmpegKilled, as the library's does."""
    try:
        with atomic.atomic_path(out) as tmp:
            p = subprocess.run([*FFMPEG, *args, str(tmp)], capture_output=True, text=True)
            raise_if_killed(p.returncode, out, "test stage")
            if p.returncode != 0:
                raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"rc {p.returncode}")
    except RuntimeError as e:
        return str(e)
    return None


def _maybe_die() -> None:
    d = os.environ.get("DITTO_TEST_CRASH_DIR")
    if not d:
        return
    try:
        os.rename(os.path.join(d, "arm"), os.path.join(d, "died"))
    except FileNotFoundError:
        return
    os._exit(1)  # a worker dying mid-batch, as a segfault or the OOM killer would


def _trace(stage: str, batch, start: float) -> None:
    d = os.environ.get("DITTO_TEST_TRACE")
    if d:
        blob = {"stage": stage, "ids": [r.id for r in batch], "start": start, "end": time.time()}
        atomic.write_text(Path(d) / f"{stage}-{uuid.uuid4().hex}.json", json.dumps(blob))


@dataclass
class ScaleConfig(StageConfig):
    width: int = 128
    height: int = 72
    frames: int = 10


@register_stage
class RayScale(Stage):
    """input -> one small clip (scaled, first ``frames`` frames); unreadable inputs rejected."""

    name = "_ray_scale"
    kinds = (INPUT,)
    batch_size = 1
    resources = Resources(cpus=1)
    Config = ScaleConfig

    def process(self, batch):
        out = []
        for r in batch:
            cid = content_id(r.id, "clip")
            dst = self.ctx.artifact_path(f"{cid}.mp4")
            c = self.config
            err = _ffmpeg(["-threads", "1", "-i", r.fields["path"], "-frames:v", str(c.frames),
                           "-vf", f"scale={c.width}:{c.height},setsar=1", *X264], dst)
            if err:
                out.append(r.reject(self.name, "undecodable", f"{r.fields['relpath']}: {err}"))
                continue
            clip = r.child(cid, CLIP, source_id=cid)
            clip.fields.update(width=c.width, height=c.height, num_frames=c.frames, input_relpath=r.fields["relpath"])
            clip.add_artifact("video", self.ctx.relpath(dst), self.provenance())
            out.append(clip)
        return out


@register_stage
class RayRank(Stage):
    """Global stage: numbers the clips by id (needs every record at once, like dedup)."""

    name = "_ray_rank"
    kinds = (CLIP,)
    is_global = True

    def process(self, batch):
        for i, r in enumerate(sorted(batch, key=lambda r: r.id)):
            r.fields["rank"] = i
        return batch


FILTERS = {"negative": "negate", "grey": "hue=s=0", "mirror": "hflip"}


@dataclass
class EditConfig(StageConfig):
    styles: list[str] | None = None  # default: negative, grey


@register_stage
class RayEdit(Stage):
    """clip -> one edit per style, each a filtered copy of the clip's video."""

    name = "_ray_edit"
    kinds = (CLIP,)
    batch_size = 2
    resources = Resources(cpus=1)
    Config = EditConfig

    def process(self, batch):
        start = time.time()
        time.sleep(float(os.environ.get("DITTO_TEST_SLOW", "0")))
        out = []
        for r in batch:
            out.append(r)
            src = self.ctx.out_dir / r.artifacts["video"]
            for n, style in enumerate(self.config.styles or ["negative", "grey"]):
                _maybe_die()
                eid = edit_id(r.id, n)
                dst = self.ctx.artifact_path(f"{eid}.mp4")
                err = _ffmpeg(["-threads", "1", "-i", str(src), "-vf", FILTERS[style], *X264], dst)
                e = r.child(eid, EDIT, source_id=r.id, category="global_style")
                e.fields.update(instruction=f"Make it {style}.", style=style)
                if err:
                    e.reject(self.name, "encode_failed", f"{eid}: {err}")
                else:
                    e.add_artifact("edited_video", self.ctx.relpath(dst), self.provenance())
                out.append(e)
        _trace(self.name, batch, start)
        return out


@register_stage
class RayThumb(Stage):
    """edit -> the same edit with a PNG of its first frame; chained after ``_ray_edit`` on Ray."""

    name = "_ray_thumb"
    kinds = (EDIT,)
    batch_size = 1
    resources = Resources(cpus=1)

    def process(self, batch):
        start = time.time()
        for r in batch:
            dst = self.ctx.artifact_path(f"{r.id}.png")
            err = _ffmpeg(["-threads", "1", "-i", str(self.ctx.out_dir / r.artifacts["edited_video"]),
                           "-frames:v", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-f", "image2"], dst)
            if err:
                r.reject(self.name, "thumbnail_failed", f"{r.id}: {err}")
            else:
                r.add_artifact("thumbnail", self.ctx.relpath(dst), self.provenance())
        _trace(self.name, batch, start)
        return batch


PIPELINE = ["_ray_scale", "_ray_rank", "_ray_edit", "_ray_thumb"]


def run_pipeline(input_dir, out_dir, cfg, executor):
    """``ditto_data.pipeline.build`` with the given executor; returns (records, stage stats)."""
    from ditto_data import pipeline

    res = pipeline.build(input_dir, out_dir, cfg, progress=False, executor=executor)
    return res.records, res.stages
