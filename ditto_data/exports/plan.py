"""What an export publishes: the source and triplet rows, their shard folders and paths.

A pure selection over the build's final records (plus the video headers), so every writer of the
export (Ditto tree, HF metadata, CSVs, card) sees the same rows in the same order. Sources are
sorted by id and sharded by their index; an edit lives in its source's shard (Ditto's rule: drop
``_<n>`` from an edited path to find its source). An edit the export cannot publish (source not
exported, video missing, frame count or size unlike its source's, no instruction) is rejected by
stage ``export`` with a reason, so the card's rejection table counts it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .. import layout
from ..schema import CATEGORIES, CLIP, EDIT, Record, is_category_name, ordered_categories
from .facts import FactsCache, VideoFacts

log = logging.getLogger(__name__)

STAGE = "export"


@dataclass(frozen=True)
class SourceRow:
    id: str
    shard: str
    relpath: str  # relative to videos/: source/<shard>/<id>.mp4
    file: Path  # the standardized clip in the work dir
    caption: str
    facts: VideoFacts

    @property
    def caption_path(self) -> str:
        """The path as source_video_captions writes it (relative to videos/source/)."""
        return self.relpath.split("/", 1)[1]


@dataclass(frozen=True)
class EditRow:
    id: str
    source: SourceRow
    category: str
    instruction: str
    caption: str
    style: str
    relpath: str  # relative to videos/: <category>/<shard>/<id>.mp4
    file: Path
    keyframe_relpath: str | None  # relative to videos/, when the reference image is exported
    keyframe_file: Path | None


@dataclass
class ExportPlan:
    sources: list[SourceRow] = field(default_factory=list)
    edits: dict[str, list[EditRow]] = field(default_factory=dict)  # category -> rows sorted by id

    def counts(self) -> dict[str, int]:
        """Config name -> rows; only configs that have rows."""
        out = {c: len(rows) for c, rows in self.edits.items() if rows}
        if self.sources:
            out["source"] = len(self.sources)
        return out

    def all_edits(self) -> list[EditRow]:
        return sorted((e for rows in self.edits.values() for e in rows), key=lambda e: e.id)


def _text(value) -> str:
    """One line of text: instructions go into CSV cells and prompts."""
    return " ".join(str(value).split()) if value is not None else ""


def _caption(value) -> str:
    return str(value).strip() if value is not None else ""


def plan_export(out_dir: str | Path, records: list[Record], shard_size: int, keep_reference_image: bool,
                facts: FactsCache) -> ExportPlan:
    """Select the publishable rows of ``records``; rejects (in place) the edits that are not."""
    out = Path(out_dir)
    plan = ExportPlan()

    clips = sorted((r for r in records if r.kind == CLIP and r.ok), key=lambda r: r.id)
    kept: list[tuple[Record, Path, VideoFacts]] = []
    for r in clips:
        rel = r.artifacts.get("video")
        f = out / rel if rel else None
        vf = facts.get(f) if f is not None else None
        if vf is None or vf.num_frames <= 0:
            r.reject(STAGE, "missing_video", f"clip {r.id}: standardized video {rel!r} is missing or unreadable")
            continue
        kept.append((r, f, vf))
    by_id: dict[str, SourceRow] = {}
    for i, (r, f, vf) in enumerate(kept):
        shard = layout.shard_name(i, shard_size)
        row = SourceRow(r.id, shard, layout.source_relpath(shard, r.id), f, _caption(r.fields.get("caption")), vf)
        plan.sources.append(row)
        by_id[r.id] = row

    for r in sorted((r for r in records if r.kind == EDIT and r.ok), key=lambda r: r.id):
        row = _edit_row(out, r, by_id, keep_reference_image, facts)
        if row is not None:
            plan.edits.setdefault(row.category, []).append(row)
    plan.edits = {c: plan.edits[c] for c in ordered_categories(plan.edits) if plan.edits.get(c)}
    return plan


def _edit_row(out: Path, r: Record, sources: dict[str, SourceRow], keep_reference_image: bool,
              facts: FactsCache) -> EditRow | None:
    def reject(reason: str, message: str) -> None:
        log.warning("not exporting edit %s: %s", r.id, message)
        r.reject(STAGE, reason, f"edit {r.id}: {message}")

    category = r.category or r.fields.get("category")
    if not is_category_name(category or ""):  # Ditto's three, or another dataset's edit types
        return reject("bad_category", f"category {category!r} is not a folder name ([a-z][a-z0-9_]*, not "
                      f"'source'; Ditto's are {', '.join(CATEGORIES)})")
    src = sources.get(r.source_id or r.parent_id or "")
    if src is None:
        return reject("source_not_exported", f"its source clip {r.source_id!r} is not in the dataset")
    if not r.id.startswith(f"{src.id}_"):
        return reject("bad_id", f"its id must be {src.id}_<n> (Ditto finds the source by dropping _<n>)")
    instruction = _text(r.fields.get("instruction"))
    if not instruction:
        return reject("empty_instruction", "it has no instruction (an empty CSV cell breaks DiffSynth-Studio)")
    rel = r.artifacts.get("edited_video")
    f = out / rel if rel else None
    vf = facts.get(f) if f is not None else None
    if vf is None:
        return reject("missing_video", f"edited video {rel!r} is missing or unreadable")
    if (vf.num_frames, vf.width, vf.height) != (src.facts.num_frames, src.facts.width, src.facts.height):
        return reject("shape_mismatch", f"edited video is {vf.num_frames} frames {vf.width}x{vf.height}, its "
                      f"source {src.facts.num_frames} frames {src.facts.width}x{src.facts.height}")
    key_rel, key_file = None, None
    if keep_reference_image:
        krel = r.artifacts.get("edited_keyframe")
        key_file = out / krel if krel else None
        if key_file is None or not key_file.is_file():
            return reject("missing_keyframe", f"edited keyframe {krel!r} is missing (export.keep_reference_image)")
        key_rel = f"{category}/{src.shard}/{r.id}{key_file.suffix or '.png'}"
    return EditRow(
        id=r.id, source=src, category=category, instruction=instruction,
        caption=_caption(r.fields.get("caption")) or src.caption, style=_text(r.fields.get("style")),
        relpath=layout.edited_relpath(category, src.shard, r.id), file=f,
        keyframe_relpath=key_rel, keyframe_file=key_file,
    )  # fmt: skip
