"""The ``enhance`` stage: refine the edited video (Ditto: Wan2.2's low-noise expert).

The CPU default is the identity: the edited video stays as generated and the provenance says so.
Backend ``wan2.2`` re-noises the video at a late timestep and runs the last few denoising steps,
writing a new ``edited_video`` with the same frame count, size and fps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..builders.stage import ConfigError, ModelStageConfig, Resources, Stage, register_stage
from ..schema import EDIT, Record
from ..video import read_frames
from .clip_frames import clip_video
from .generate import encode_checked, source_shape
from ..models.families import Enhancer
from ..models.options import WAN_NEGATIVE_PROMPT, DiffusionOptions, EncodeOptions

EXPERTS = ("low", "high")


@dataclass
class EnhanceConfig(EncodeOptions, DiffusionOptions, ModelStageConfig):
    """Backend ``wan2.2``: the last ``steps`` of a ``total_steps`` schedule, rerun from a re-noised video.

    Defaults are Ditto's enhancer as released (``denoising_enhancing/``): Wan2.2-T2V-A14B's
    low-noise expert only, a 40-step UniPC schedule at flow shift 12, re-noised at
    ``timesteps[-4]`` and denoised over those 4 steps with CFG 3.0 (Wan2.2's guidance for the
    low-noise expert), Wan's standard negative prompt and an empty prompt.
    """

    steps: int | None = 4  # Ditto release: re-noise at timesteps[-4], run the last 4 steps
    total_steps: int = 40  # Ditto release: 40-step schedule (Wan2.2 T2V-A14B's sample_steps)
    flow_shift: float | None = 12.0  # Ditto release: shift 12 (Wan2.2 T2V-A14B's sample_shift)
    guidance_scale: float | None = 3.0  # Ditto release: 3.0 on the low-noise expert (Wan2.2's (3.0, 4.0))
    negative_prompt: str | None = WAN_NEGATIVE_PROMPT  # Ditto release: Wan's standard negative prompt
    prompt: str = ""  # Ditto release: empty prompt
    prompt_from_instruction: bool = False  # True: prompt with the edit's instruction instead
    expert: str = "low"  # low: transformer_2 of a two-expert Wan2.2 checkpoint (t < boundary); high: transformer

    def validate(self) -> None:
        self.validate_encode()
        self.validate_diffusion()
        if self.expert not in EXPERTS:
            raise ConfigError("expert", f"{self.expert!r} is not one of {', '.join(EXPERTS)}")
        if self.total_steps < 1:
            raise ConfigError("total_steps", "must be at least 1")
        if self.steps is not None and self.steps > self.total_steps:
            raise ConfigError("steps", f"must be at most total_steps ({self.total_steps})")


class Identity(Enhancer):
    """CPU enhance: leaves the video as it is."""

    resources = Resources(cpus=0.25)
    identity = True

    def enhance(self, edited_frames: np.ndarray, instruction: str, seed: int) -> np.ndarray:
        return edited_frames


@register_stage
class EnhanceStage(Stage):
    name = "enhance"
    requires = frozenset({"edit.edited_video"})
    produces = frozenset({"edit.edited_video"})
    kinds = (EDIT,)
    Config = EnhanceConfig
    family = Enhancer
    backends = {
        "cpu": "ditto_data.stages.enhance:Identity",
        "wan2.2": "ditto_data.models.wan22:Wan22Enhancer",
    }

    def process_record(self, r: Record) -> None:
        cfg = self.config
        if self.backend.identity:
            r.provenance["enhance"] = asdict(self.provenance())
            return
        frames = read_frames(clip_video(r, self.ctx.out_dir, "edited_video"))
        seed = self.ctx.sample_seed(r.id)
        out = self.backend.enhance(frames, r.fields["instruction"], seed)
        path = self.ctx.artifact_path(f"{r.id}.mp4")
        encode_checked(out, path, source_shape(r), cfg.gop, cfg.crf, cfg.preset)
        r.add_artifact("edited_video", self.ctx.relpath(path), self.provenance(seed=seed))
