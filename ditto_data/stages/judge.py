"""The ``judge`` stage: score every triplet, reject those under the config's thresholds.

Ditto filters with a VLM judge (backend ``qwen2.5-vl``: instruction fidelity, content
preservation, visual quality, safety, 0-10 each). The CPU default, :class:`MeasuredJudge`,
measures three things on pairs of consecutive frames spread over the clip, each in 0..1:

- ``temporal_consistency``: the edited video should change from frame to frame no more than its
  source does. With d_E and d_S the mean absolute difference of consecutive blurred grey
  thumbnails (64 px wide) of edited and source, ``min(1, (d_S + 2) / (d_E + 2))``: flicker or
  noise added by an edit lowers it, a faithful per-frame filter keeps it near 1.
- ``structure_preservation``: the edit should keep the scene's layout. The correlation of the
  Sobel gradient magnitudes of source and edited frames (blurred, 160 px wide), clipped at 0.
- ``quality``: not blank, not washed out: ``min(1, std(grey) / 32)`` averaged over frames.

Rejections keep their scores (``reason`` is ``judge_<score name>``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from ..builders.stage import ConfigError, ModelStageConfig, Resources, SampleError, Stage, register_stage
from ..schema import EDIT, Record
from .clip_frames import clip_video, read_frames_at, spread_indices
from ..models.families import EditJudge
from ..models.options import VLMOptions

CPU_SCORES = ("temporal_consistency", "structure_preservation", "quality")
VLM_SCORES = ("instruction_fidelity", "content_preservation", "visual_quality", "safety")


@dataclass
class JudgeConfig(VLMOptions, ModelStageConfig):
    """Minimum of each score (a score the backend does not give is not checked).

    The VLM judge decodes greedily (``temperature`` 0) so a verdict does not depend on sampling
    luck; only a malformed answer's retries sample (``retry_temperature``).

    ``pairs``: how many pairs of consecutive frames spread over the clip are judged.
    """

    pairs: int = 6
    frames: int | None = None  # frames of each video the VLM judge sees
    temperature: float | None = 0.0  # greedy: accept/reject must not be a coin toss
    min_temporal_consistency: float = 0.5
    min_structure_preservation: float = 0.2
    min_quality: float = 0.15
    min_instruction_fidelity: float = 6.0
    min_content_preservation: float = 6.0
    min_visual_quality: float = 6.0
    min_safety: float = 8.0

    def validate(self) -> None:
        if self.pairs < 1:
            raise ConfigError("pairs", "must be at least 1")
        for s in CPU_SCORES:
            if not 0.0 <= getattr(self, f"min_{s}") <= 1.0:
                raise ConfigError(f"min_{s}", "must be between 0 and 1")
        for s in VLM_SCORES:
            if not 0.0 <= getattr(self, f"min_{s}") <= 10.0:
                raise ConfigError(f"min_{s}", "must be between 0 and 10")


def _gray(frames: np.ndarray, width: int) -> np.ndarray:
    h = max(1, round(frames.shape[1] * width / frames.shape[2]))
    return np.stack([cv2.GaussianBlur(cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (width, h),
                                                 interpolation=cv2.INTER_AREA), (3, 3), 0)
                     for f in frames]).astype(np.float32)


def temporal_consistency(source: np.ndarray, edited: np.ndarray) -> float:
    """Frames come in consecutive pairs (0,1), (2,3) ... of both videos."""
    s, e = _gray(source, 64), _gray(edited, 64)
    d_s = float(np.abs(s[1::2] - s[0::2]).mean())
    d_e = float(np.abs(e[1::2] - e[0::2]).mean())
    return min(1.0, (d_s + 2.0) / (d_e + 2.0))


def structure_preservation(source: np.ndarray, edited: np.ndarray) -> float:
    def grad(g: np.ndarray) -> np.ndarray:
        return np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)).ravel()

    corrs = []
    for gs, ge in zip(_gray(source, 160), _gray(edited, 160)):
        a, b = grad(gs), grad(ge)
        if a.std() < 1e-6 or b.std() < 1e-6:
            corrs.append(0.0)
        else:
            corrs.append(float(np.corrcoef(a, b)[0, 1]))
    return max(0.0, float(np.mean(corrs)))


def quality(edited: np.ndarray) -> float:
    return float(np.mean([min(1.0, float(g.std()) / 32.0) for g in _gray(edited, 160)]))


class MeasuredJudge(EditJudge):
    """CPU judge: measured scores of the module docstring."""

    resources = Resources(cpus=1.0)

    def judge(self, source_frames: np.ndarray, edited_frames: np.ndarray, instruction: str,
              seed: int = 0) -> dict[str, Any]:
        return {"temporal_consistency": round(temporal_consistency(source_frames, edited_frames), 4),
                "structure_preservation": round(structure_preservation(source_frames, edited_frames), 4),
                "quality": round(quality(edited_frames), 4)}


def pair_indices(num_frames: int, pairs: int) -> list[int]:
    """Indices of ``pairs`` pairs of consecutive frames spread over a clip: [a, a+1, b, b+1, ...]."""
    starts = [min(i, num_frames - 2) for i in spread_indices(max(1, num_frames - 1), pairs)]
    return [j for a in starts for j in (a, a + 1)] if num_frames >= 2 else [0, 0]


@register_stage
class JudgeStage(Stage):
    name = "judge"
    requires = frozenset({"edit.edited_video"})
    produces = frozenset({"edit.scores"})
    kinds = (EDIT,)
    Config = JudgeConfig
    resources = Resources(cpus=1.0)
    family = EditJudge
    backends = {
        "cpu": "ditto_data.stages.judge:MeasuredJudge",
        "qwen2.5-vl": "ditto_data.models.qwen_vl:QwenVLJudge",
    }

    def process_record(self, r: Record) -> None:
        idx = pair_indices(int(r.fields["num_frames"]), self.config.pairs)
        src = read_frames_at(clip_video(r, self.ctx.out_dir, "source_video"), idx)
        edt = read_frames_at(clip_video(r, self.ctx.out_dir, "edited_video"), idx)
        seed = self.ctx.sample_seed(r.id)  # the VLM's retries sample from it
        verdict = dict(self.backend.judge(src, edt, r.fields["instruction"], seed=seed))
        rationale = verdict.pop("rationale", None)
        r.fields["scores"] = verdict
        if rationale:
            r.fields["judge_rationale"] = rationale
        r.provenance["scores"] = asdict(self.provenance(seed=seed))
        for name, value in verdict.items():
            floor = getattr(self.config, f"min_{name}", None)
            if floor is not None and value < floor:
                raise SampleError(f"judge_{name}", f"{name} {value:.3g} is under {floor}")
