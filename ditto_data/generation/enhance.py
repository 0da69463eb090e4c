"""The ``enhance`` stage: refine the edited video (Ditto: Wan2.2's low-noise expert).

The CPU default is the identity: the edited video stays as generated and the provenance says so.
Backend ``wan2.2`` re-noises the video at a late timestep and runs the last few denoising steps,
writing a new ``edited_video`` with the same frame count, size and fps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..builders.stage import Resources, Stage, register_stage
from ..schema import EDIT, Record
from ..video import read_frames
from .clips import clip_video
from .generate import GenerateConfig, encode_checked, source_shape


@dataclass
class EnhanceConfig(GenerateConfig):
    """``steps`` of ``total_steps`` are rerun (Wan2.2 refinement: re-noise late, denoise the rest)."""

    total_steps: int | None = None


class Identity:
    """CPU enhance: leaves the video as it is."""

    resources = Resources(cpus=0.25)
    identity = True

    def __init__(self, config: EnhanceConfig):
        pass

    def setup(self) -> None:
        pass

    def enhance(self, edited_frames: np.ndarray, instruction: str, seed: int) -> np.ndarray:
        return edited_frames


@register_stage
class Enhance(Stage):
    name = "enhance"
    kinds = (EDIT,)
    Config = EnhanceConfig
    backends = {
        "cpu": "ditto_data.generation.enhance:Identity",
        "wan2.2": "ditto_data.generation.backends.wan22:Wan22Enhancer",
    }

    def process(self, batch: list[Record]) -> list[Record]:
        cfg = self.config
        for r in batch:
            if getattr(self.backend, "identity", False):
                r.provenance["enhance"] = asdict(self.provenance())
                continue
            with self.rejecting(r):
                frames = read_frames(clip_video(r, self.ctx.out_dir, "edited_video"))
                out = self.backend.enhance(frames, r.fields["instruction"], self.ctx.seed)
                path = self.ctx.artifact_path(f"{r.id}.mp4")
                encode_checked(out, path, source_shape(r), cfg.gop, cfg.crf, cfg.preset)
                r.add_artifact("edited_video", self.ctx.relpath(path), self.provenance(seed=self.ctx.seed))
        return batch
