"""The Ditto-1M tree: videos, training_metadata, source_video_captions and the DiffSynth CSVs.

Every writer returns the paths it wrote (relative to the dataset root) so the export can remove
what a previous export left that is no longer part of the dataset. Videos are hard links to the
work dir's finished files (a copy across file systems); metadata is written atomically with rows
sorted by id and no timestamps, so the same records always give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

from tqdm.auto import tqdm

from .. import atomic, layout
from ..schema import SIM2REAL, SIM2REAL_FROM, SIM2REAL_INSTRUCTION
from .plan import ExportPlan


log = logging.getLogger(__name__)

CSV_COLUMNS = ("video", "prompt", "vace_video")
REFERENCE_COLUMN = "vace_reference_image"


def json_rows(rows: list[dict]) -> str:
    """A JSON list with one row per line: compact, diff-friendly and stable."""
    if not rows:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n"


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix()


def write_videos(root: Path, plan: ExportPlan, progress: bool = True) -> set[str]:
    """Link every published video (and reference image) into ``videos/``."""
    jobs = [(s.file, s.relpath) for s in plan.sources]
    for e in plan.all_edits():
        jobs.append((e.file, e.relpath))
        if e.keyframe_file is not None and e.keyframe_relpath:
            jobs.append((e.keyframe_file, e.keyframe_relpath))
    written = set()
    for src, rel in tqdm(jobs, desc="export videos", unit="file", disable=not progress or None, leave=False):
        dst = layout.video_path(root, rel)
        atomic.link_or_copy(src, dst)
        written.add(_rel(root, dst))
    return written


def write_training_metadata(root: Path, plan: ExportPlan) -> set[str]:
    """``training_metadata/<category>.json``: source_path, instruction, edited_path (relative to videos/)."""
    written = set()
    for category, rows in plan.edits.items():
        data = [{"source_path": e.source.relpath, "instruction": e.instruction, "edited_path": e.relpath}
                for e in rows]
        p = layout.training_metadata_path(root, category)
        atomic.write_text(p, json_rows(data))
        written.add(_rel(root, p))
    sim = sim2real_rows(plan)
    if sim:
        p = layout.training_metadata_path(root, SIM2REAL)
        atomic.write_text(p, json_rows(sim))
        written.add(_rel(root, p))
    return written


def sim2real_rows(plan: ExportPlan) -> list[dict[str, str]]:
    """Ditto-1M's ``sim2real`` triplets from the global_style ones, reversed: the stylised video is the
    source, its real clip the target, and the instruction is the release's own prompt."""
    return [{"source_path": e.relpath, "instruction": SIM2REAL_INSTRUCTION, "edited_path": e.source.relpath}
            for e in plan.edits.get(SIM2REAL_FROM, [])]


def write_captions(root: Path, plan: ExportPlan) -> set[str]:
    """``source_video_captions/source_video_captions_<NNNN>.json``: path (relative to videos/source/), caption."""
    written = set()
    rows = [{"path": s.caption_path, "caption": s.caption} for s in plan.sources]
    for i in range(0, len(rows), layout.CAPTIONS_PER_FILE):
        p = layout.captions_path(root, i // layout.CAPTIONS_PER_FILE)
        atomic.write_text(p, json_rows(rows[i:i + layout.CAPTIONS_PER_FILE]))
        written.add(_rel(root, p))
    return written


def write_diffsynth_csvs(root: Path, plan: ExportPlan, keep_reference_image: bool) -> set[str]:
    """``csvs_for_DiffSynth/<category>.csv`` for DiffSynth-Studio's UnifiedDataset.

    ``video`` is the edited video, ``prompt`` the instruction, ``vace_video`` the source, all
    relative to ``videos/`` (pass ``--dataset_base_path OUT/videos``). No cell is ever empty: the
    plan has already rejected edits without an instruction or reference image.
    """
    written = set()
    header = list(CSV_COLUMNS) + ([REFERENCE_COLUMN] if keep_reference_image else [])
    for category, rows in plan.edits.items():
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        for e in rows:
            cells = [e.relpath, e.instruction, e.source.relpath]
            if keep_reference_image:
                cells.append(e.keyframe_relpath or "")
            if not all(cells):
                log.warning("skipping %s in %s.csv: an empty cell would become NaN in DiffSynth", e.id, category)
                continue
            w.writerow(cells)
        p = layout.diffsynth_csv_path(root, category)
        atomic.write_text(p, buf.getvalue())
        written.add(_rel(root, p))
    sim = sim2real_rows(plan)
    if sim:  # no reference column: the real clip's first frame has no file of its own
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(CSV_COLUMNS)
        w.writerows([r["edited_path"], r["instruction"], r["source_path"]] for r in sim)
        p = layout.diffsynth_csv_path(root, SIM2REAL)
        atomic.write_text(p, buf.getvalue())
        written.add(_rel(root, p))
    return written
