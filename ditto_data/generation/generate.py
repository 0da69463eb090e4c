"""The ``generate`` stage: the edited video, same frame count, size and fps as its source.

Ditto generates with Wan2.1-VACE from the edited keyframe (reference), the depth video (control)
and the instruction (backend ``wan-vace``). The CPU default, :class:`StyleFilterGenerator`,
applies the edit's style filter to every source frame, streaming frames from decoder to encoder so
a 1280x720 clip never sits in memory whole. Every output is probed: a video whose frame count or
size differs from its source is rejected (DiffSynth-Studio reads both with the same indices).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..builders.stage import ConfigError, ModelStageConfig, Resources, SampleError, Stage, register_stage
from ..schema import EDIT, Record
from ..video import encode_video, probe, read_frames
from .clips import clip_video, iter_clip_frames
from .keyframe_edit import UnsupportedEdit, read_png
from .options import DiffusionOptions
from .styles import apply_style


@dataclass
class GenerateConfig(DiffusionOptions, ModelStageConfig):
    """Encoding of the edited video: a keyframe every ``gop`` frames (cheap random access)."""

    gop: int = 20
    crf: float = 18.0
    preset: str = "veryfast"

    def validate(self) -> None:
        if self.gop < 1:
            raise ConfigError("gop", "must be at least 1")
        if not 0 <= self.crf <= 51:
            raise ConfigError("crf", "must be between 0 and 51")


class StyleFilterGenerator:
    """CPU generation: the edit's style filter on every frame, as a stream."""

    resources = Resources(cpus=1.0)
    streams = True  # takes and returns iterables of frames

    def __init__(self, config: GenerateConfig):
        self.config = config

    def setup(self) -> None:
        pass

    def generate(self, source_frames: Iterable[np.ndarray], edited_keyframe: np.ndarray,
                 depth_frames: np.ndarray | None, instruction: str, style: str | None, seed: int) -> Iterator[np.ndarray]:
        if not style:
            raise UnsupportedEdit(f"the CPU generator applies library styles only; no style for {instruction!r}")
        for i, frame in enumerate(source_frames):
            yield apply_style(style, frame, i)


def encode_checked(frames: Iterable[np.ndarray] | np.ndarray, path: Path, like: dict, gop: int, crf: float,
                   preset: str) -> None:
    """Encode, then compare with the source's frame count and size (DiffSynth reads both alike)."""
    encode_video(frames, path, fps=like["fps"], gop=gop, crf=crf, preset=preset)
    info = probe(path)
    want = (like["num_frames"], like["width"], like["height"])
    got = (info.num_frames, info.width, info.height)
    if got != want:
        path.unlink(missing_ok=True)
        raise SampleError("shape_mismatch", f"{path.name} has (frames, width, height) {got}, its source {want}")


def source_shape(r: Record) -> dict:
    return {k: r.fields[k] for k in ("num_frames", "width", "height", "fps")}


@register_stage
class Generate(Stage):
    name = "generate"
    kinds = (EDIT,)
    Config = GenerateConfig
    resources = Resources(cpus=1.0)
    backends = {
        "cpu": "ditto_data.generation.generate:StyleFilterGenerator",
        "wan-vace": "ditto_data.generation.backends.wan_vace:WanVaceGenerator",
    }

    def process(self, batch: list[Record]) -> list[Record]:
        cfg = self.config
        for r in batch:
            with self.rejecting(r):
                src = clip_video(r, self.ctx.out_dir, "source_video")
                keyframe = read_png(self.ctx.out_dir / r.artifacts["edited_keyframe"])
                depth = None
                if getattr(self.backend, "streams", False):
                    frames = iter_clip_frames(src)
                else:
                    frames = read_frames(src)
                    if r.artifacts.get("depth_video"):
                        depth = read_frames(self.ctx.out_dir / r.artifacts["depth_video"])[..., 0]
                edited = self.backend.generate(frames, keyframe, depth, r.fields["instruction"],
                                               r.fields.get("style"), self.ctx.seed)
                path = self.ctx.artifact_path(f"{r.id}.mp4")
                encode_checked(edited, path, source_shape(r), cfg.gop, cfg.crf, cfg.preset)
                r.add_artifact("edited_video", self.ctx.relpath(path), self.provenance(seed=self.ctx.seed))
        return batch
