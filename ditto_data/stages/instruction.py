"""The ``instruction`` stage: each source clip gets ``edits_per_source`` edit records.

Ditto writes instructions with Qwen2.5-VL from frames and the caption (backend ``qwen2.5-vl``,
categories ``local``, ``global_style``, ``global_freeform``). The CPU default,
:class:`StyleLibraryInstructor`, picks distinct styles from the style library and one of each
style's phrasings, with an RNG seeded by (build seed, clip id), so a build is repeatable and the
instruction describes exactly the filter that keyframe edit and generate will apply.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..builders.stage import ConfigError, ModelStageConfig, Resources, Stage, register_stage
from ..schema import CATEGORIES, CLIP, EDIT, Record, edit_id
from .clip_frames import clip_video, read_spread_frames
from ..models.families import Instructor
from ..models.options import VLMOptions
from .styles import get_style, style_names


@dataclass
class InstructionConfig(VLMOptions, ModelStageConfig):
    """``styles``: the styles the CPU default draws from (empty: all of the library).

    ``categories``: what the VLM backend writes (empty: local, global_style, global_freeform).
    """

    edits_per_source: int = 2
    styles: list[str] = field(default_factory=list)
    frames: int = 4
    categories: list[str] | None = None

    def validate(self) -> None:
        if self.edits_per_source < 1:
            raise ConfigError("edits_per_source", "must be at least 1")
        for i, c in enumerate(self.categories or []):
            if c not in CATEGORIES:
                raise ConfigError(f"categories[{i}]", f"unknown category {c!r}; known: {', '.join(CATEGORIES)}")
        known = style_names()
        for i, s in enumerate(self.styles):
            if s not in known:
                raise ConfigError(f"styles[{i}]", f"unknown style {s!r}; known: {', '.join(known)}")
        if self.backend == "cpu" and self.edits_per_source > len(self.styles or known):
            raise ConfigError("edits_per_source", f"the CPU default has only {len(self.styles or known)} styles "
                              "to choose from, without repeats")


class StyleLibraryInstructor(Instructor):
    """CPU instructions: distinct global styles per clip, one phrasing each, seeded."""

    resources = Resources(cpus=1.0)
    needs_frames = False

    def __init__(self, config: InstructionConfig):
        super().__init__(config)
        self.styles = list(config.styles or style_names())

    def instructions(self, frames: np.ndarray | None, caption: str, n: int, seed: int) -> list[dict[str, Any]]:
        rng = random.Random(seed)
        return [{"instruction": rng.choice(get_style(s).phrasings), "category": "global_style", "style": s}
                for s in rng.sample(self.styles, n)]


@register_stage
class InstructionStage(Stage):
    name = "instruction"
    requires = frozenset({"clip.video"})
    produces = frozenset({"edit", "edit.instruction", "edit.source_video"})
    kinds = (CLIP,)
    Config = InstructionConfig
    resources = Resources(cpus=1.0)
    family = Instructor
    backends = {
        "cpu": "ditto_data.stages.instruction:StyleLibraryInstructor",
        "qwen2.5-vl": "ditto_data.models.qwen_vl:QwenVLInstructor",
    }

    def process_record(self, clip: Record) -> list[Record]:
        return self._edits(clip)

    def _edits(self, clip: Record) -> list[Record]:
        seed = self.ctx.sample_seed(clip.id)
        frames = None
        if self.backend.needs_frames:
            frames = read_spread_frames(clip_video(clip, self.ctx.out_dir), self.config.frames)
        edits = self.backend.instructions(frames, clip.fields.get("caption", ""), self.config.edits_per_source, seed)
        prov = asdict(self.provenance(seed=seed))
        out = []
        for n, e in enumerate(edits):
            if e.get("category") not in CATEGORIES or not str(e.get("instruction", "")).strip():
                continue  # the VLM backend already rejects these; never export a bad row
            rec = clip.child(edit_id(clip.id, n), EDIT, category=e["category"], source_id=clip.id)
            rec.fields.update(instruction=e["instruction"].strip(), style=e.get("style"))
            for src_key, key in (("video", "source_video"), ("depth_video", "depth_video")):
                if src_key in clip.artifacts:
                    rec.artifacts[key] = clip.artifacts[src_key]
                    rec.provenance[key] = clip.provenance.get(src_key, {})
            rec.provenance["instruction"] = prov
            out.append(rec)
        return out
