"""HF data files: what makes stock ``datasets.load_dataset(OUT, "<config>")`` decode both videos.

datasets' videofolder builder reads a ``metadata.parquet`` and turns every ``<col>_file_name``
column into a ``Video`` column ``<col>`` (``file_name`` into ``video``), resolving each path
inside the metadata file's own folder (it refuses ``..``). So the triplet metadata sits in
``videos/`` (the one folder above a source and its edit), with all categories in one file and a
``category`` column that each config selects with the builder's ``filters`` option; the source
metadata sits in ``videos/source/``. Parquet keeps the column types of :mod:`ditto_data.dataset.features` exactly.
Each config lists the mp4s it reads too: the videofolder module is inferred from them, and a
non-streaming load from the Hub downloads them.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomic, layout
from ..dataset.features import EDIT_COLUMNS, SOURCE_COLUMNS, Columns
from ..schema import CATEGORIES, SIM2REAL, SIM2REAL_FROM, SIM2REAL_INSTRUCTION, SOURCE
from .plan import EditRow, ExportPlan, SourceRow


def _source_row(s: SourceRow) -> dict[str, Any]:
    return {"id": s.id, "caption": s.caption, "video": s.caption_path, "path": s.relpath,
            "num_frames": s.facts.num_frames, "fps": s.facts.fps, "width": s.facts.width, "height": s.facts.height}


def _edit_row(e: EditRow) -> dict[str, Any]:
    return {"id": e.id, "source_id": e.source.id, "category": e.category, "instruction": e.instruction,
            "caption": e.caption, "source_video": e.source.relpath, "edited_video": e.relpath,
            "source_path": e.source.relpath, "edited_path": e.relpath}


def _sim2real_row(e: EditRow) -> dict[str, Any]:
    """The reversed triplet of a global_style edit (see :func:`.ditto_tree.sim2real_rows`)."""
    return {"id": e.id, "source_id": e.source.id, "category": SIM2REAL, "instruction": SIM2REAL_INSTRUCTION,
            "caption": e.source.caption, "source_video": e.relpath, "edited_video": e.source.relpath,
            "source_path": e.relpath, "edited_path": e.source.relpath}


def _parquet_bytes(rows: list[dict[str, Any]], columns: Columns) -> bytes:
    """The metadata file of ``rows`` (a row's video columns hold paths relative to the file's folder)."""
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([columns.metadata_row(r) for r in rows], schema=columns.arrow_schema()), buf)
    return buf.getvalue()


def write_hf_metadata(root, plan: ExportPlan) -> set[str]:
    """Write the metadata files of every config with rows; returns their paths relative to ``root``."""
    written = set()
    if plan.sources:
        p = layout.hf_metadata_path(root, SOURCE)
        atomic.write_bytes(p, _parquet_bytes([_source_row(s) for s in plan.sources], SOURCE_COLUMNS))
        written.add(p.relative_to(root).as_posix())
    edits = plan.all_edits()
    if edits:
        rows = [_edit_row(e) for e in edits] + [_sim2real_row(e) for e in plan.edits.get(SIM2REAL_FROM, [])]
        p = layout.hf_metadata_path(root, CATEGORIES[0])
        atomic.write_bytes(p, _parquet_bytes(rows, EDIT_COLUMNS))
        written.add(p.relative_to(root).as_posix())
    return written
