"""``ditto-data convert`` (on top, like the build): any described dataset -> our layout (Ditto tree,
HF data files, DiffSynth CSVs, the card; WebDataset shards on request), so the viewer, card,
publish and eval work on it.

The source's rows become the records an export takes (a source clip per distinct source video, an
edit ``<clip id>_<n>`` per row) and :func:`ditto_data.exports.export_dataset` writes everything:
videos are hard links (a copy across file systems), so a converted 1 TB dataset costs no second
terabyte. Nothing is dropped silently: the summary counts the source's defects (rows whose files
are missing, rows lacking a value, paths fixed by the description) and the rows the export
refuses (frame-count or size mismatch between source and edit, unreadable video, no instruction),
with examples, and is written to ``OUT/.ditto/convert.json``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import atomic, layout
from .schema import CLIP, EDIT, SOURCE, Record, content_id

log = logging.getLogger(__name__)

SUMMARY = "convert.json"  # under OUT/.ditto/


@dataclass
class ConvertSummary:
    dataset: str
    description: str  # where the description came from
    config: str
    read: dict[str, Any]  # Defects.summary() of the source
    counts: dict[str, int]  # rows written per config
    refused: dict[str, int] = field(default_factory=dict)  # export's rejection reason -> rows
    refused_examples: dict[str, list[str]] = field(default_factory=dict)
    webdataset: dict[str, int] = field(default_factory=dict)  # category -> shards written

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rows_to_records(rows: list[dict[str, Any]]) -> list[Record]:
    """Source clips and edits for the export: a clip per distinct source file, edits ``<clip>_<n>``
    numbered in the order of their edited paths (the same rows always give the same ids)."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_source.setdefault(r["source_video"], []).append(r)
    records: list[Record] = []
    for src_file, group in sorted(by_source.items()):
        first = group[0]
        cid = content_id(first.get("dataset") or "", first["source_path"])
        records.append(Record(id=cid, kind=CLIP, fields={"caption": first.get("caption") or ""},
                              artifacts={"video": src_file}))
        for n, r in enumerate(sorted(group, key=lambda r: (r["edited_path"], r["id"]))):
            records.append(Record(
                id=f"{cid}_{n}", kind=EDIT, parent_id=cid, source_id=cid, category=r["category"],
                fields={"instruction": r["instruction"], "caption": r.get("caption") or "",
                        "original_id": r["id"], "dataset": r.get("dataset"), "original_path": r["edited_path"]},
                artifacts={"edited_video": r["edited_video"]}))
    return records


def convert(src: str | Path, out: str | Path, description=None, config: str | None = None, *,
            webdataset: bool = False, license: str | None = None, progress: bool = True,
            revision: str | None = None, cache_dir: str | None = None) -> ConvertSummary:
    """Write the dataset at ``src`` (a folder or Hub repo id, read with ``description``) as our layout
    under ``out``; returns (and saves) the summary. ``config``: a category, or all rows (default)."""
    from .builders.config import ExportConfig
    from .loaders.described import ALL, Defects, read_rows
    from .dataset.tree import DatasetReadError
    from .exports import export_dataset

    defects = Defects()
    root, desc, config, rows = read_rows(src, config or ALL, description, revision=revision, cache_dir=cache_dir,
                                         defects=defects)
    if Path(out).resolve() == Path(root).resolve():
        raise ValueError(f"{out}: converting into the source folder would overwrite it; choose another --to")
    if not rows:
        raise DatasetReadError(f"{root}: no row of {desc.name} ({config}) has both videos present; nothing to "
                               f"convert ({defects.summary()})")
    defects.warn(f"{root} ({desc.name})")
    records = rows_to_records(rows)
    counts = export_dataset(out, records, ExportConfig(license=license or desc.license or "other"), progress=progress)
    refused = [r for r in records if not r.ok]
    reasons = Counter(r.reason for r in refused)
    examples: dict[str, list[str]] = {}
    for r in refused:
        examples.setdefault(r.reason or "?", [])
        if len(examples[r.reason or "?"]) < 5:
            examples[r.reason or "?"].append(f"{r.fields.get('original_path') or r.artifacts}: {r.message}")
    summary = ConvertSummary(desc.name, desc.origin, config, defects.summary(), counts, dict(reasons), examples)
    if webdataset:
        from .exports.webdataset import write_hub_shards

        for cat, (_, shards) in write_hub_shards(out, progress=progress,
                                                 configs=[c for c in counts if c != SOURCE]).items():
            summary.webdataset[cat] = len(shards)
    atomic.write_json(layout.state_dir(out) / SUMMARY, summary.to_dict())
    log.info("converted %s: %s; %d source rows with defects, %d refused by the export", desc.name, counts,
             len(defects.missing) + len(defects.incomplete) + len(defects.outside), len(refused))
    return summary
