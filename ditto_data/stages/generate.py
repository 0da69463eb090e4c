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
from .clip_frames import clip_video, iter_clip_frames
from .keyframe_edit import UnsupportedEdit, read_png
from ..models.families import VideoGenerator
from ..models.options import WAN_NEGATIVE_PROMPT, DiffusionOptions, EncodeOptions
from .styles import apply_style


@dataclass
class GenerateConfig(EncodeOptions, DiffusionOptions, ModelStageConfig):
    """The edited video's generation (backend ``wan-vace``) and encoding.

    Defaults are the public Ditto release's VACE settings: its ComfyUI inference workflow runs
    Wan2.1-VACE-14B with a CausVid acceleration LoRA (rank 32) at 4 UniPC steps, cfg 1.2, shift 2.0,
    VACE strength 0.975. The paper generated Ditto-1M with a quantized, distilled VACE (about 20% of
    the full model's cost) whose exact settings are not published; these are the nearest public ones.
    Few steps at low CFG need the acceleration LoRA (``lora``): without one, use ~30-50 steps and
    guidance ~5 (Wan's own defaults).
    """

    steps: int | None = 4  # Ditto release, ComfyUI workflow: 4 steps (with the CausVid LoRA)
    guidance_scale: float | None = 1.2  # Ditto release, ComfyUI workflow: cfg 1.2
    flow_shift: float | None = 2.0  # Ditto release, ComfyUI workflow: shift 2.0 (UniPC)
    conditioning_scale: float | None = 0.975  # Ditto release, ComfyUI workflow: VACE strength 0.975
    negative_prompt: str | None = WAN_NEGATIVE_PROMPT  # Wan's shared_config.py sample_neg_prompt

    def validate(self) -> None:
        self.validate_encode()
        self.validate_diffusion()
        if self.conditioning_scale is not None and not 0 <= self.conditioning_scale <= 2:
            raise ConfigError("conditioning_scale", "must be between 0 and 2")


class StyleFilterGenerator(VideoGenerator):
    """CPU generation: the edit's style filter on every frame, as a stream."""

    resources = Resources(cpus=1.0)
    streams = True  # takes and returns iterables of frames

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
class GenerateStage(Stage):
    name = "generate"
    requires = frozenset({"edit.edited_keyframe", "edit.source_video"})
    produces = frozenset({"edit.edited_video"})
    kinds = (EDIT,)
    Config = GenerateConfig
    resources = Resources(cpus=1.0)
    family = VideoGenerator
    backends = {
        "cpu": "ditto_data.stages.generate:StyleFilterGenerator",
        "wan-vace": "ditto_data.models.wan_vace:WanVaceGenerator",
    }

    def process_record(self, r: Record) -> None:
        cfg = self.config
        src = clip_video(r, self.ctx.out_dir, "source_video")
        keyframe = read_png(self.ctx.out_dir / r.artifacts["edited_keyframe"])
        depth = None
        if self.backend.streams:
            frames = iter_clip_frames(src)
        else:
            frames = read_frames(src)
            if r.artifacts.get("depth_video"):
                depth = read_frames(self.ctx.out_dir / r.artifacts["depth_video"])[..., 0]
        seed = self.ctx.sample_seed(r.id)
        edited = self.backend.generate(frames, keyframe, depth, r.fields["instruction"], r.fields.get("style"), seed)
        path = self.ctx.artifact_path(f"{r.id}.mp4")
        encode_checked(edited, path, source_shape(r), cfg.gop, cfg.crf, cfg.preset)
        r.add_artifact("edited_video", self.ctx.relpath(path), self.provenance(seed=seed))
