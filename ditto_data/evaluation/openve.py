"""OpenVE-Bench's protocol (``ditto-data eval --bench openve``) on a model's edited videos.

The benchmark (``Lewandofski/OpenVE-Bench``): ``benchmark_videos.csv`` with ``edited_type, prompt,
original_video`` and ``videos/NNNN_<edited_type>_<words>.mp4``. Each output is rated by a VLM judge
with its edit type's rubric on three criteria, integers 1-5: Instruction Compliance, Consistency &
Detail Fidelity, Visual Quality & Stability. The second and third are capped by the first (an edit
that ignores the instruction cannot score as consistent or clean); a sample's score is the mean of
the three; a type's score the mean of its samples'. Overall, OpenVE's official script averages
samples (``sample_averaged``); a common variant averages the types' means (``type_averaged``): both
are given, named. Here the judge is a local Qwen2.5-VL (``QwenVLRubricJudge``) with our own rubric
prompts (``prompts/openve_<type>_v1.txt``), not the official judges (Gemini 2.5 Pro, Seed1.6-VL,
InternVL3.5-38B, Qwen3-VL-32B): numbers are comparable between models judged here, not with the
paper's table. Samples without an output or without a well-formed judge answer are counted and
listed, never scored.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..builders.stage import ModelStageConfig

log = logging.getLogger(__name__)

CRITERIA = ("instruction_compliance", "consistency_detail_fidelity", "visual_quality_stability")
LABELS = {"instruction_compliance": "Instruction Compliance", "consistency_detail_fidelity": "Consistency & Detail "
          "Fidelity", "visual_quality_stability": "Visual Quality & Stability"}
TYPES = ("global_style", "background_change", "local_change", "local_remove", "local_add", "subtitles_edit",
         "camera_multi_shot", "creative")
BENCH_CSV = "benchmark_videos.csv"
VIDEO_EXT = (".mp4", ".mov", ".mkv", ".webm", ".avi")


class BenchError(ValueError):
    """The benchmark or the outputs folder cannot be read; the message names the file and row."""


@dataclass(frozen=True)
class BenchItem:
    index: int  # row number in the CSV (0-based)
    edit_type: str  # normalised: global_style, local_add, ...
    instruction: str
    source: Path
    output: Path | None  # the model's edited video, None when it has none


def edit_type(raw: str) -> str:
    """``"Global Style"`` / ``global-style`` / ``GlobalStyle`` -> ``global_style``."""
    s = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", raw.strip())
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")


def _find_output(outputs: Path, source: Path, index: int) -> Path | None:
    """The model's video for ``source``: same file name, else same stem with another container, else
    a file named by the leading number (``0007.mp4``, ``0007_...``) or the row index."""
    if (outputs / source.name).is_file():
        return outputs / source.name
    for ext in VIDEO_EXT:
        if (outputs / f"{source.stem}{ext}").is_file():
            return outputs / f"{source.stem}{ext}"
    m = re.match(r"^(\d+)", source.stem)
    for key in ([m[1]] if m else []) + [f"{index:04d}", str(index)]:
        for p in sorted(outputs.glob(f"{key}*")):
            if p.suffix.lower() in VIDEO_EXT and re.match(rf"^{re.escape(key)}(\D|$)", p.stem):
                return p
    return None


def load_bench(bench: str | Path, outputs: str | Path) -> list[BenchItem]:
    """Rows of ``bench`` (a folder with ``benchmark_videos.csv``, or that CSV) with their outputs."""
    bench, outputs = Path(bench), Path(outputs)
    path = bench if bench.is_file() else bench / BENCH_CSV
    if not path.is_file():
        raise BenchError(f"{bench}: no {BENCH_CSV} (OpenVE-Bench's list of edited_type,prompt,original_video)")
    if not outputs.is_dir():
        raise BenchError(f"{outputs}: the outputs folder does not exist")
    base = path.parent
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    need = {"edited_type", "prompt", "original_video"}
    if rows and not need <= set(rows[0]):
        raise BenchError(f"{path}: needs columns {', '.join(sorted(need))}; has {', '.join(rows[0])}")
    items = []
    for i, r in enumerate(rows):
        rel = (r["original_video"] or "").strip()
        src = next((p for p in (base / rel, base / "videos" / Path(rel).name) if rel and p.is_file()), None)
        if src is None:
            raise BenchError(f"{path} row {i + 1}: source video not found: {rel!r}")
        if not (r["prompt"] or "").strip() or not (r["edited_type"] or "").strip():
            raise BenchError(f"{path} row {i + 1}: empty prompt or edited_type")
        items.append(BenchItem(i, edit_type(r["edited_type"]), " ".join(r["prompt"].split()), src,
                               _find_output(outputs, src, i)))
    return items


# -- scoring -----------------------------------------------------------------------------------


def sample_score(scores: dict[str, int]) -> dict[str, float]:
    """The protocol on one judge answer: cap criteria 2 and 3 by criterion 1, then the mean of three."""
    ic = scores["instruction_compliance"]
    capped = {"instruction_compliance": ic, "consistency_detail_fidelity": min(scores["consistency_detail_fidelity"], ic),
              "visual_quality_stability": min(scores["visual_quality_stability"], ic)}
    return {**capped, "score": sum(capped.values()) / 3.0}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-type means and both overall means of the scored samples (``capped`` dicts)."""
    keys = (*CRITERIA, "score")
    by_type: dict[str, list[dict]] = {}
    for s in samples:
        by_type.setdefault(s["edit_type"], [])
        if s.get("capped"):
            by_type[s["edit_type"]].append(s["capped"])
    per_type = {}
    for t in sorted(by_type, key=lambda t: (TYPES.index(t) if t in TYPES else len(TYPES), t)):
        scored = by_type[t]
        total = sum(1 for s in samples if s["edit_type"] == t)
        per_type[t] = {"samples": len(scored), "unscored": total - len(scored),
                       **{k: _mean([c[k] for c in scored]) for k in keys}}
    scored_all = [c for cs in by_type.values() for c in cs]
    with_scores = [v for v in per_type.values() if v["samples"]]
    return {
        "per_type": per_type,
        "overall": {
            "sample_averaged": {"samples": len(scored_all), **{k: _mean([c[k] for c in scored_all]) for k in keys}},
            "type_averaged": {"types": len(with_scores), **{k: _mean([v[k] for v in with_scores]) for k in keys}},
        },
    }


@dataclass
class JudgeConfig(ModelStageConfig):
    """The rubric judge's options (see ``QwenVLRubricJudge``)."""

    frames: int = 4
    constrained: bool = True
    max_pixels: int | None = None
    max_retries: int = 1


@dataclass
class BenchResult:
    samples: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "summary": self.summary, "samples": self.samples}


def prompt_for(kind: str):
    """The versioned rubric prompt of an edit type (``openve_<type>``), or the generic one."""
    from ..models.prompts import load_prompt

    try:
        return load_prompt(f"openve_{kind}")
    except KeyError:
        log.warning("no OpenVE rubric for edit type %r: using the generic one", kind)
        return load_prompt("openve_generic")


def evaluate_openve(bench: str | Path, outputs: str | Path, vlm_model: str, *, device: str = "auto",
                    frames: int = 4, max_frames: int | None = None, constrained: bool = True,
                    max_pixels: int | None = None, out_json: str | Path | None = None,
                    progress: bool = True) -> BenchResult:
    """Rate each output with the local judge and summarise per type and overall (both averagings)."""
    from tqdm import tqdm

    from ..models.qwen_vl import QwenVLRubricJudge, VLMOutputError
    from .report import read_video

    items = load_bench(bench, outputs)
    judge = QwenVLRubricJudge(JudgeConfig(backend="qwen2.5-vl", model=vlm_model, device=device, frames=frames,
                                          constrained=constrained, max_pixels=max_pixels))
    judge.setup()
    samples: list[dict[str, Any]] = []
    for it in tqdm(items, desc="openve", unit="video", disable=not progress):
        row: dict[str, Any] = {"index": it.index, "edit_type": it.edit_type, "instruction": it.instruction,
                               "source": str(it.source), "output": str(it.output) if it.output else None,
                               "scores": None, "capped": None, "status": "scored"}
        if it.output is None:
            row["status"] = "no_output"
        else:
            prompt = prompt_for(it.edit_type)
            row["prompt"] = prompt.id
            try:
                scores = judge.rate(read_video(it.source, max_frames), read_video(it.output, max_frames),
                                    it.instruction, prompt, CRITERIA, seed=it.index)
                row["scores"], row["capped"] = scores, sample_score(scores)
            except VLMOutputError as e:
                row["status"], row["error"] = "judge_malformed", str(e)
                log.warning("%s: the judge gave no well-formed answer: %s", it.output, e)
        samples.append(row)
    missing = [s["source"] for s in samples if s["status"] == "no_output"]
    if missing:
        log.warning("%d of %d benchmark videos have no output in %s (e.g. %s): not scored", len(missing),
                    len(samples), outputs, Path(missing[0]).name)
    result = BenchResult(samples, summarise(samples), {
        "bench": "openve", "judge": vlm_model, "frames": frames, "constrained": constrained,
        "prompts": sorted({s["prompt"] for s in samples if s.get("prompt")}),
        "averaging": {"sample_averaged": "mean over all scored samples (OpenVE's official script)",
                      "type_averaged": "mean of the per-type means"}})
    if out_json is not None:
        write_json(out_json, result.to_dict())
    return result
