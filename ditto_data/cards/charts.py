"""The build's funnel and score histograms: chart data from the records, and the card's PNGs of them.

One description of each chart (plain dicts, JSON-ready) feeds both pictures of it: the viewer page
draws it as inline SVG, the dataset card shows it as a PNG drawn here with Pillow (text in Pillow's
bundled font, so the same records give the same bytes on any machine with the same Pillow).

- funnel: per record kind (input -> clip -> edit), the records each stage received and rejected, in
  pipeline order, ending with what was published;
- histograms: each score a stage measured (judge scores, motion, dedup similarity), binned, split
  into records that passed, records rejected for this score, and records rejected for another reason,
  with the stage's threshold marked: what a threshold throws away.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

from .. import layout
from ..schema import CLIP, EDIT, INPUT, KINDS

BINS = 20
EXPORT = "export"  # the export's own rejections (records it cannot publish)
CLIP_SCORES = {  # field -> (stage that rejects on it, config key of its threshold, rejects at or above?)
    "motion": ("motion", "threshold", False),
    "dedup_similarity": ("dedup", "threshold", True),
}


def build_config(root: str | Path) -> dict[str, Any] | None:
    """The build's resolved config (``.ditto/config.json``), or None for a dataset built elsewhere."""
    p = layout.state_dir(root) / "config.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def _stage_kinds(pipeline: list[str], config: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    """(stage, kinds it takes) for every enabled stage of the pipeline, then export."""
    from ..builders.stage import get_stage

    out = []
    for name in pipeline:
        if not (config.get("stages", {}).get(name) or {}).get("enabled", True):
            continue
        try:
            out.append((name, tuple(get_stage(name).kinds)))
        except KeyError:  # a stage this installation does not know: place it by what it rejected
            out.append((name, ()))
    out.append((EXPORT, (CLIP, EDIT)))
    return out


def funnel(records: list[dict[str, Any]], config: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Steps ``{kind, stage, entered, rejected, passed, reasons}``, kinds in lineage order.

    A stage of a kind appears when it takes that kind or rejected some of it; ``entered`` is the
    records of that kind not rejected by an earlier stage. The final records hold no input that
    gave clips (the clips replace it); such inputs are counted from the clips' parents.
    """
    from ..builders.config import DEFAULT_PIPELINE

    config = config or {}
    stages = _stage_kinds(list(config.get("pipeline") or DEFAULT_PIPELINE), config)
    steps = []
    for kind in KINDS:
        of_kind = [r for r in records if r["kind"] == kind]
        if not of_kind:
            continue
        left = len(of_kind)
        if kind == INPUT:  # an input that gave clips is not among the final records: its clips name it
            ids = {r["id"] for r in of_kind}
            left += len({r.get("parent_id") for r in records if r["kind"] == CLIP} - ids - {None})
        steps.append({"kind": kind, "stage": None, "entered": left, "rejected": 0, "passed": left, "reasons": {}})
        for stage, kinds in stages:
            rej = [r for r in of_kind if r["status"] != "ok" and r.get("rejected_by") == stage]
            if kind not in kinds and not rej:
                continue
            reasons: dict[str, int] = {}
            for r in rej:
                reasons[r.get("reason") or "?"] = reasons.get(r.get("reason") or "?", 0) + 1
            steps.append({"kind": kind, "stage": stage, "entered": left, "rejected": len(rej),
                          "passed": left - len(rej), "reasons": dict(sorted(reasons.items()))})
            left -= len(rej)
        other = [r for r in of_kind if r["status"] != "ok" and r.get("rejected_by") not in {s for s, _ in stages}]
        if other:  # rejected by a stage no longer in the pipeline
            steps.append({"kind": kind, "stage": "other", "entered": left, "rejected": len(other),
                          "passed": left - len(other), "reasons": {}})
    return steps


def score_values(record: dict[str, Any]) -> dict[str, float]:
    """The scores a record carries: its judge's ``scores`` and the clip scores it inherited."""
    f = record.get("fields") or {}
    out = {}
    for k, v in (f.get("scores") or {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[k] = float(v)
    for k in CLIP_SCORES:
        v = f.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[k] = float(v)
    return out


def score_rule(name: str, config: dict[str, Any] | None) -> tuple[str, float | None, bool]:
    """(stage, threshold or None, rejects at or above it?) of a score."""
    stages = (config or {}).get("stages", {})
    if name in CLIP_SCORES:
        stage, key, above = CLIP_SCORES[name]
        return stage, (stages.get(stage) or {}).get(key), above
    return "judge", (stages.get("judge") or {}).get(f"min_{name}"), False


def _range(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0
    if lo >= 0 and hi <= 10:
        return 0.0, 10.0
    if hi == lo:
        return lo - 0.5, hi + 0.5
    return (0.0 if lo >= 0 else lo), hi


def histograms(records: list[dict[str, Any]], config: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One histogram per score: ``{score, kind, stage, threshold, above, lo, hi, passed, rejected, other}``.

    A score is counted on the records of the kind that owns it (judge scores on edits, clip scores
    on clips), so an edit's inherited motion is not counted twice.
    """
    by_score: dict[str, list[tuple[float, str]]] = {}
    for r in records:
        for name, v in score_values(r).items():
            owner = CLIP if name in CLIP_SCORES else EDIT
            if r["kind"] != owner:
                continue
            stage, _, _ = score_rule(name, config)
            if r["status"] == "ok":
                cls = "passed"
            elif r.get("rejected_by") == stage and (stage != "judge" or r.get("reason") == f"judge_{name}"):
                cls = "rejected"
            else:
                cls = "other"
            by_score.setdefault(name, []).append((v, cls))
    out = []
    for name in sorted(by_score, key=lambda n: (n in CLIP_SCORES, n)):
        vals = by_score[name]
        lo, hi = _range([v for v, _ in vals])
        counts = {c: [0] * BINS for c in ("passed", "rejected", "other")}
        for v, cls in vals:
            i = min(BINS - 1, max(0, int((v - lo) / (hi - lo) * BINS)))
            counts[cls][i] += 1
        stage, threshold, above = score_rule(name, config)
        out.append({"score": name, "kind": CLIP if name in CLIP_SCORES else EDIT, "stage": stage,
                    "threshold": threshold, "above": above, "lo": lo, "hi": hi, **counts})
    return out


# -- PNG --------------------------------------------------------------------------------------

COLORS = {"passed": (76, 159, 112), "rejected": (208, 76, 64), "other": (150, 150, 150),
          "text": (30, 30, 30), "axis": (120, 120, 120), "bg": (255, 255, 255), "threshold": (40, 40, 40)}


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def funnel_png(steps: list[dict[str, Any]]) -> bytes:
    """Horizontal bars, one per funnel step: passed in green, rejected in red, with counts."""
    from PIL import Image, ImageDraw

    row, label_w, bar_w, pad = 26, 230, 420, 12
    img = Image.new("RGB", (label_w + bar_w + 300 + 2 * pad, pad * 2 + row * len(steps) + 24), COLORS["bg"])
    d = ImageDraw.Draw(img)
    f, fb = _font(13), _font(14)
    d.text((pad, pad), "records per stage: passed / rejected", fill=COLORS["text"], font=fb)
    top = max((s["entered"] for s in steps), default=1) or 1
    for i, s in enumerate(steps):
        y = pad + 24 + i * row
        label = f"{s['kind']}s" if s["stage"] is None else f"  {s['stage']}"
        d.text((pad, y + 4), label, fill=COLORS["text"], font=fb if s["stage"] is None else f)
        x0 = pad + label_w
        wp = round(bar_w * s["passed"] / top)
        wr = round(bar_w * s["rejected"] / top)
        if wp:
            d.rectangle([x0, y + 3, x0 + wp, y + row - 5], fill=COLORS["passed"])
        if wr:
            d.rectangle([x0 + wp, y + 3, x0 + wp + wr, y + row - 5], fill=COLORS["rejected"])
        reasons = ", ".join(f"{k} {n}" for k, n in s["reasons"].items())
        text = str(s["passed"]) + (f"  (-{s['rejected']}: {reasons})" if s["rejected"] else "")
        d.text((x0 + wp + wr + 6, y + 4), text, fill=COLORS["text"], font=f)
    return _png(img)


def histograms_png(hists: list[dict[str, Any]], cols: int = 3) -> bytes:
    """A grid of stacked histograms (passed, rejected for this score, rejected otherwise) with thresholds."""
    from PIL import Image, ImageDraw

    cw, ch, pad = 300, 190, 10
    rows = max(1, -(-len(hists) // cols))
    ncols = max(1, min(cols, len(hists)))
    img = Image.new("RGB", (ncols * cw + pad, rows * ch + pad + 22), COLORS["bg"])
    d = ImageDraw.Draw(img)
    f, fb = _font(11), _font(13)
    x = pad
    for name, label in (("passed", "passed"), ("rejected", "rejected for this score"), ("other", "rejected otherwise")):
        d.rectangle([x, pad + 2, x + 10, pad + 12], fill=COLORS[name])
        d.text((x + 14, pad), label, fill=COLORS["text"], font=f)
        x += 20 + round(d.textlength(label, font=f)) + 10
    for k, h in enumerate(hists):
        r, c = divmod(k, cols)
        ox, oy = pad + c * cw, pad + 22 + r * ch
        px0, py0, pw, ph = ox + 30, oy + 22, cw - 50, ch - 60
        title = f"{h['score']} ({h['stage']})"
        d.text((ox, oy), title, fill=COLORS["text"], font=fb)
        totals = [h["passed"][i] + h["rejected"][i] + h["other"][i] for i in range(BINS)]
        top = max(totals) or 1
        bw = pw / BINS
        for i in range(BINS):
            y = py0 + ph
            for cls in ("passed", "rejected", "other"):
                n = h[cls][i]
                if n:
                    hgt = ph * n / top
                    d.rectangle([px0 + i * bw + 1, y - hgt, px0 + (i + 1) * bw - 1, y], fill=COLORS[cls])
                    y -= hgt
        d.line([px0, py0 + ph, px0 + pw, py0 + ph], fill=COLORS["axis"])
        d.line([px0, py0, px0, py0 + ph], fill=COLORS["axis"])
        d.text((px0 - 4 - d.textlength(str(top), font=f), py0 - 4), str(top), fill=COLORS["axis"], font=f)
        d.text((px0 - 10, py0 + ph + 3), f"{h['lo']:g}", fill=COLORS["axis"], font=f)
        hi = f"{h['hi']:.3g}"
        d.text((px0 + pw - d.textlength(hi, font=f), py0 + ph + 3), hi, fill=COLORS["axis"], font=f)
        t = h["threshold"]
        if isinstance(t, (int, float)) and h["lo"] <= t <= h["hi"]:
            tx = px0 + pw * (t - h["lo"]) / (h["hi"] - h["lo"])
            for yy in range(int(py0), int(py0 + ph), 6):
                d.line([tx, yy, tx, yy + 3], fill=COLORS["threshold"], width=2)
            label = f"{'max' if h['above'] else 'min'} {t:g}"
            d.text((min(tx + 3, px0 + pw - d.textlength(label, font=f)), py0 + ph + 16), label,
                   fill=COLORS["threshold"], font=f)
    return _png(img)


def chart_data(root: str | Path, records: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """``{"funnel": [...], "histograms": [...]}`` of a build, or None without records."""
    if records is None:
        return None
    config = build_config(root)
    return {"funnel": funnel(records, config), "histograms": histograms(records, config)}


__all__ = ["INPUT", "chart_data", "funnel", "funnel_png", "histograms", "histograms_png", "score_values"]
