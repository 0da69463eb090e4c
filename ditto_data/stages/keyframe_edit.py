"""The ``keyframe_edit`` stage: edit the first frame of the source clip as the instruction says.

Ditto edits one keyframe with Qwen-Image-Edit (backend ``qwen-image-edit``); the edited keyframe
then guides video generation. The CPU default, :class:`StyleFilterEditor`, applies the edit's
style filter, the same one the CPU generator applies to every frame, so the keyframe equals frame 0
of the edited video. Written as a PNG artifact ``edited_keyframe``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..atomic import atomic_path
from ..builders.stage import ModelStageConfig, Resources, SampleError, Stage, register_stage
from ..schema import EDIT, Record
from .clip_frames import clip_video, read_frames_at
from ..models.families import KeyframeEditor
from ..models.options import DiffusionOptions
from .styles import apply_style


@dataclass
class KeyframeEditConfig(DiffusionOptions, ModelStageConfig):
    """Backend ``qwen-image-edit``. Ditto published no Qwen-Image-Edit settings; the defaults are
    the Qwen/Qwen-Image-Edit model card's example (50 steps, true_cfg_scale 4.0, negative " ")."""

    steps: int | None = 50  # Qwen-Image-Edit model card example
    true_cfg_scale: float | None = 4.0  # Qwen-Image-Edit model card example
    negative_prompt: str | None = " "  # Qwen-Image-Edit model card example

    def validate(self) -> None:
        self.validate_diffusion()


class UnsupportedEdit(ValueError):
    """The backend cannot make this edit (the CPU filters know global styles only)."""

    reason = "unsupported_edit"


class StyleFilterEditor(KeyframeEditor):
    """CPU keyframe edit: the style library's filter for the edit's style."""

    resources = Resources(cpus=1.0)

    def edit(self, image: np.ndarray, instruction: str, style: str | None, seed: int) -> np.ndarray:
        if not style:
            raise UnsupportedEdit(f"the CPU editor applies library styles only; no style for {instruction!r}")
        return apply_style(style, image, 0)


def write_png(image: np.ndarray, path) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def read_png(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@register_stage
class KeyframeEditStage(Stage):
    name = "keyframe_edit"
    requires = frozenset({"edit.instruction", "edit.source_video"})
    produces = frozenset({"edit.edited_keyframe"})
    kinds = (EDIT,)
    Config = KeyframeEditConfig
    resources = Resources(cpus=1.0)
    family = KeyframeEditor
    backends = {
        "cpu": "ditto_data.stages.keyframe_edit:StyleFilterEditor",
        "qwen-image-edit": "ditto_data.models.qwen_image:QwenImageEditor",
    }

    def process_record(self, r: Record) -> None:
        frame = read_frames_at(clip_video(r, self.ctx.out_dir, "source_video"), [0])[0]
        seed = self.ctx.sample_seed(r.id)
        edited = self.backend.edit(frame, r.fields["instruction"], r.fields.get("style"), seed)
        if edited.shape != frame.shape:  # model backends must give the keyframe back at its size
            raise SampleError("shape_mismatch", f"edited keyframe {edited.shape} != source {frame.shape}")
        path = self.ctx.artifact_path(f"{r.id}.png")
        write_png(edited, path)
        r.add_artifact("edited_keyframe", self.ctx.relpath(path), self.provenance(seed=seed))
