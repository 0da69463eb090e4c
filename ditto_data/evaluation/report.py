"""Run the metrics over triplets and summarise them per category (the paper's table)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..atomic import write_json
from .clip_score import DEFAULT_CLIP, ClipScorer
from .triplets import Triplet, load_triplets

log = logging.getLogger(__name__)

METRICS = ("clip_t", "clip_f", "vlm")


def read_video(path: Path, max_frames: int | None) -> np.ndarray:
    """The first ``max_frames`` consecutive frames (all when None), uint8 ``[T, H, W, 3]``.

    Uses the project's decoder API (``ditto_data.video``) and PyAV where that is not available.
    """
    try:
        from ..video import probe, read_frames
    except ImportError:
        import av

        frames = []
        with av.open(str(path)) as c:
            for f in c.decode(video=0):
                frames.append(f.to_ndarray(format="rgb24"))
                if max_frames and len(frames) >= max_frames:
                    break
        if not frames:
            raise ValueError(f"{path}: no video frames decoded")
        return np.stack(frames)
    n = probe(path).num_frames
    return read_frames(path, list(range(min(n, max_frames) if max_frames else n)))


@dataclass
class EvalResult:
    """Per-sample scores and their means per category and overall."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "summary": self.summary, "samples": self.rows}


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["category"], []).append(r)
    if len(groups) > 1 or not groups:
        groups["all"] = rows
    return {cat: {"samples": len(rs), **{m: _mean([r.get(m) for r in rs]) for m in METRICS}}
            for cat, rs in sorted(groups.items())}


def evaluate(triplets: str | Path | list[Triplet], clip_model: str = DEFAULT_CLIP, max_frames: int | None = None,
             vlm_model: str | None = None, device: str = "auto", out_json: str | Path | None = None,
             progress: bool = True) -> EvalResult:
    """CLIP-T and CLIP-F of each edited video (and the VLM score when ``vlm_model`` is given).

    The VLM score is the mean of the Qwen2.5-VL judge's four 0-10 scores (instruction fidelity,
    content preservation, visual quality, safety) for the (source, edited, instruction) triplet.
    """
    items = triplets if isinstance(triplets, list) else load_triplets(triplets)
    scorer = ClipScorer(clip_model, device=device)
    judge = None
    if vlm_model:
        from ..builders.stage import ModelStageConfig
        from ..models.qwen_vl import QwenVLJudge

        judge = QwenVLJudge(ModelStageConfig(backend="qwen2.5-vl", model=vlm_model, device=device))
        judge.setup()
    rows = []
    for t in tqdm(items, desc="eval", unit="video", disable=not progress):
        edited = read_video(t.edited, max_frames)
        row: dict[str, Any] = {"id": t.id, "category": t.category, "instruction": t.instruction,
                               "source": str(t.source), "edited": str(t.edited), "frames": int(len(edited)),
                               **scorer.score(edited, t.instruction), "vlm": None}
        if judge is not None:
            from ..models.qwen_vl import VLMOutputError

            try:
                scores = judge.judge(read_video(t.source, max_frames), edited, t.instruction)
                row["vlm"] = float(np.mean([scores[k] for k in judge.SCORE_KEYS]))
                row["vlm_scores"] = scores
            except VLMOutputError as e:
                log.warning("%s: VLM judge gave no usable answer: %s", t.edited, e)
        rows.append(row)
    result = EvalResult(rows, summarise(rows), {"clip_model": clip_model, "vlm_model": vlm_model,
                                                 "max_frames": max_frames, "scale": "cosine x 100"})
    if out_json is not None:
        write_json(out_json, result.to_dict())
    return result
