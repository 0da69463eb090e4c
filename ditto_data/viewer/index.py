"""The viewer's rows: a dataset's triplets and a build's rejections as columns, queried a page at a time.

A view is one ``training_metadata/<config>.json`` (our builds and Ditto-1M downloads alike, either
extracted layout) or, for our builds, ``rejected``: every record a stage rejected, from
``.ditto/records.json``. Rows are held as an Arrow table (a million rows of short strings fit in a
few hundred MB and filter in milliseconds); a page of rows is turned into dicts only when asked
for, and its video files are looked up then (in either layout), so nothing scales with the whole
dataset but the table. Scores and provenance come from the build's records, joined by id.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .. import layout
from ..cards.charts import chart_data, score_values
from ..dataset.tree import DEPTH_KEYS, REFERENCE_KEYS, list_configs, read_captions, read_metadata
from ..schema import CATEGORIES, SIM2REAL, SOURCE

log = logging.getLogger(__name__)

REJECTED = "rejected"
TEXT = ("instruction", "id")  # what the text filter searches (and a rejection's message)
FACETS = {"published": ("category",), REJECTED: ("stage", "reason", "kind")}
SELECTIONS_KEPT = 4
DEFAULT_FPS = 20.0  # Ditto-1M's; used only when neither the records nor the source metadata say
_STRINGS = ("id", "source_id", "category", "kind", "stage", "reason", "message", "instruction", "caption",
            "source", "edited", "reference", "depth")


@dataclass
class Query:
    """One page of a view: text, facet values, score ranges, sort, offset and size."""

    text: str = ""
    facets: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    sort: str | None = None  # a score name, or None for id order
    desc: bool = False
    offset: int = 0
    limit: int = 50


class View:
    """The rows of one view as an Arrow table sorted by id, with their score columns."""

    def __init__(self, name: str, table: pa.Table, scores: list[str]):
        self.name = name
        self.table = table
        self.scores = scores
        self._selected: dict[str, pa.Table] = {}  # the last few selections: paging on must not sort again

    @property
    def facets(self) -> tuple[str, ...]:
        return FACETS[REJECTED if self.name == REJECTED else "published"]

    def summary(self) -> dict[str, Any]:
        """Rows, facet values with counts, and each score's range: what the filter panel offers."""
        t = self.table
        facets = {}
        for f in self.facets:
            vc = pc.value_counts(t[f]).to_pylist() if t.num_rows else []
            facets[f] = sorted(([v["values"], v["counts"]] for v in vc if v["values"]), key=lambda x: (-x[1], x[0]))
        ranges = {}
        for s in self.scores:
            mm = pc.min_max(t[f"s:{s}"]).as_py()
            ranges[s] = [mm["min"], mm["max"]]
        return {"name": self.name, "rows": t.num_rows, "facets": facets, "scores": self.scores, "ranges": ranges}

    def mask(self, q: Query) -> pa.Array | None:
        t, conds = self.table, []
        if q.text.strip():
            needle = q.text.strip()
            cols = TEXT + (("message",) if self.name == REJECTED else ())
            m = None
            for c in cols:
                hit = pc.fill_null(pc.match_substring(t[c], needle, ignore_case=True), False)
                m = hit if m is None else pc.or_(m, hit)
            conds.append(m)
        for f, v in q.facets.items():
            if f not in self.facets:
                raise ValueError(f"unknown filter {f!r} for view {self.name!r} (filters: {', '.join(self.facets)})")
            if v:
                conds.append(pc.fill_null(pc.equal(t[f], v), False))
        for s, (lo, hi) in q.ranges.items():
            if s not in self.scores:
                raise ValueError(f"unknown score {s!r} (scores here: {', '.join(self.scores) or 'none'})")
            col = t[f"s:{s}"]
            if lo is not None:
                conds.append(pc.fill_null(pc.greater_equal(col, lo), False))
            if hi is not None:
                conds.append(pc.fill_null(pc.less_equal(col, hi), False))
        if not conds:
            return None
        m = conds[0]
        for c in conds[1:]:
            m = pc.and_(m, c)
        return m

    def select(self, q: Query) -> pa.Table:
        """The rows matching ``q``, in its order (id order unless sorted by a score; missing scores last)."""
        key = repr((q.text.strip(), sorted(q.facets.items()), sorted(q.ranges.items()), q.sort, q.desc))
        if key not in self._selected:
            self._selected[key] = self._select(q)
            while len(self._selected) > SELECTIONS_KEPT:
                self._selected.pop(next(iter(self._selected)))
        return self._selected[key]

    def _select(self, q: Query) -> pa.Table:
        t = self.table
        m = self.mask(q)
        if m is not None:
            t = t.filter(m)
        if q.sort:
            if q.sort not in self.scores:
                raise ValueError(f"cannot sort by {q.sort!r} (scores here: {', '.join(self.scores) or 'none'})")
            order = "descending" if q.desc else "ascending"
            t = t.take(pc.sort_indices(t, sort_keys=[(f"s:{q.sort}", order, "at_end"), ("id", "ascending", "at_end")]))
        elif q.desc:
            t = t.take(pc.sort_indices(t, sort_keys=[("id", "descending")]))
        return t

    def query(self, q: Query) -> tuple[int, list[dict[str, Any]]]:
        """(matching rows, the requested page of them as row dicts)."""
        t = self.select(q)
        return t.num_rows, self.rows_of(t, q.offset, q.limit)

    def rows_of(self, t: pa.Table, offset: int, limit: int) -> list[dict[str, Any]]:
        return [self.row_dict(r) for r in t.slice(max(0, offset), max(0, limit)).to_pylist()]

    def row_dict(self, r: dict[str, Any]) -> dict[str, Any]:
        """A table row as the page shows it (scores grouped, empty fields dropped)."""
        out = {k: r[k] for k in _STRINGS if k not in ("source", "edited", "reference", "depth") and r.get(k)}
        out["i"] = r["i"]
        out["scores"] = {s: r[f"s:{s}"] for s in self.scores if r.get(f"s:{s}") is not None}
        out["paths"] = {k: r[k] for k in ("source", "edited", "reference", "depth") if r.get(k)}
        for k in ("fps", "num_frames"):
            if r.get(k) is not None:
                out[k] = r[k]
        return out

    def find(self, row_id: str) -> dict[str, Any] | None:
        idx = pc.index(self.table["id"], row_id).as_py()
        return None if idx < 0 else self.row_dict(self.table.slice(idx, 1).to_pylist()[0])


def _table(rows: list[dict[str, Any]], scores: list[str]) -> pa.Table:
    cols: dict[str, pa.Array] = {k: pa.array([r.get(k) for r in rows], pa.string()) for k in _STRINGS}
    cols["i"] = pa.array(range(len(rows)), pa.int64())  # replaced by the id order below
    cols["fps"] = pa.array([r.get("fps") for r in rows], pa.float64())
    cols["num_frames"] = pa.array([r.get("num_frames") for r in rows], pa.int64())
    for s in scores:
        cols[f"s:{s}"] = pa.array([r.get("scores", {}).get(s) for r in rows], pa.float64())
    return _numbered(pa.table(cols))


def _numbered(t: pa.Table) -> pa.Table:
    """Sorted by id, with ``i`` its position: the order pages and static chunks follow."""
    t = t.sort_by("id") if t.num_rows else t
    i = pa.array(range(t.num_rows), pa.int64())
    return t.set_column(t.schema.get_field_index("i"), "i", i) if "i" in t.column_names else t.append_column("i", i)


_DITTO_EDITED = r"^[^/]+/(\d{4})/([0-9A-Za-z]+)_\d+\.mp4$"  # layout.source_of_edited's rule, as a regex


def _stem(paths: pa.Array) -> pa.Array:
    """File names without folder and extension, column-wise."""
    return pc.replace_substring_regex(pc.replace_substring_regex(paths, r"^.*/", ""), r"\.[^.]*$", "")


def _column(entries: list[dict[str, Any]], key: str, present: set[str]) -> pa.Array:
    """One key of every metadata entry as strings (anything else becomes null)."""
    if key not in present:  # most optional keys are in no entry: skip the copy
        return pa.nulls(len(entries), pa.string())
    try:
        return pa.array([e.get(key) for e in entries], pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([v if isinstance(v := e.get(key), str) else None for e in entries], pa.string())


def _first_column(entries: list[dict[str, Any]], keys: tuple[str, ...], present: set[str]) -> pa.Array:
    """The first of ``keys`` an entry has (non-empty), column-wise."""
    cols = [pc.if_else(pc.fill_null(pc.not_equal(c, ""), False), c, None)
            for c in (_column(entries, k, present) for k in keys)]
    return pc.coalesce(*cols)


class DatasetIndex:
    """Everything the viewer serves about one dataset folder; views are read on first use."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"{root} is not a dataset folder")
        self.configs = [c for c in list_configs(self.root) if c != SOURCE]
        records_path = layout.state_dir(self.root) / "records.json"
        self.records: list[dict[str, Any]] | None = None
        if records_path.is_file():
            try:
                self.records = json.loads(records_path.read_text(encoding="utf-8"))
            except ValueError as e:
                log.warning("ignoring unreadable build records %s: %s", records_path, e)
        if not self.configs and self.records is None:
            raise ValueError(f"{self.root}: no training_metadata/*.json and no .ditto/records.json: "
                             "not a dataset built by ditto-data nor a Ditto-1M download")
        self.by_id = {r["id"]: r for r in self.records or []}
        self._views: dict[str, View] = {}
        self._captions: dict[str, str] | None = None
        self._info: dict[str, Any] | None = None

    @property
    def view_names(self) -> list[str]:
        return self.configs + ([REJECTED] if self.records is not None else [])

    def view(self, name: str) -> View:
        if name not in self.view_names:
            raise KeyError(f"no view {name!r} in {self.root} (views: {', '.join(self.view_names)})")
        if name not in self._views:
            self._views[name] = self._rejected() if name == REJECTED else self._published(name)
        return self._views[name]

    # -- building views ---------------------------------------------------------------------

    def _source_meta(self) -> pa.Table | None:
        """id, fps and frame count of our sources (``videos/source/metadata.parquet``)."""
        p = layout.hf_metadata_path(self.root, SOURCE)
        if not p.is_file():
            return None
        import pyarrow.parquet as pq

        return pq.read_table(p, columns=["id", "fps", "num_frames"])

    def _record_columns(self) -> tuple[pa.Array, dict[str, pa.Array], list[str]]:
        """The build's edit records as columns (ids, fields the page shows, one per score)."""
        edits = [r for r in self.records or [] if r.get("kind") == "edit"]
        scores = [score_values(r) for r in edits]
        names = sorted({k for s in scores for k in s})
        cols = {
            "fps": pa.array([(r.get("fields") or {}).get("fps") for r in edits], pa.float64()),
            "num_frames": pa.array([(r.get("fields") or {}).get("num_frames") for r in edits], pa.int64()),
            "reference": pa.array([(r.get("artifacts") or {}).get("edited_keyframe") for r in edits], pa.string()),
            "depth": pa.array([(r.get("artifacts") or {}).get("depth_video") for r in edits], pa.string()),
            **{f"s:{n}": pa.array([s.get(n) for s in scores], pa.float64()) for n in names},
        }  # fmt: skip
        return pa.array([r["id"] for r in edits], pa.string()), cols, names

    def _published(self, config: str) -> View:
        """A metadata file's rows, computed column-wise: a million entries index in seconds.

        Ids and categories follow the tree reader's rule (:func:`ditto_data.dataset.tree.read_triplets`:
        the file stem; the first folder without its batch number; a reversed triplet is ``sim2real``,
        named by its edited source), a missing source is found by dropping ``_<n>``.
        """
        if self._captions is None:
            self._captions = read_captions(self.root)
        entries = read_metadata(self.root, config)
        present = set().union(*(e for e in entries if isinstance(e, dict)))  # the keys any entry has
        entries = [e if isinstance(e, dict) else {} for e in entries]
        edited = _column(entries, "edited_path", present)
        keep = pc.fill_null(pc.not_equal(edited, ""), False)
        entries_t = pa.table({
            "edited": edited, "source": _column(entries, "source_path", present),
            "instruction": _column(entries, "instruction", present), "caption": _column(entries, "caption", present),
            "reference": _first_column(entries, REFERENCE_KEYS, present),
            "depth": _first_column(entries, DEPTH_KEYS, present),
        }).filter(keep)  # fmt: skip
        del entries
        edited = entries_t["edited"]
        source = pc.if_else(pc.fill_null(pc.not_equal(entries_t["source"], ""), False), entries_t["source"], None)
        if source.null_count:
            derived = pc.if_else(pc.match_substring_regex(edited, _DITTO_EDITED),
                                 pc.replace_substring_regex(edited, _DITTO_EDITED, r"source/\1/\2.mp4"), None)
            source = pc.coalesce(source, derived)
        ids = _stem(edited)
        sids = _stem(pc.fill_null(source, ""))
        folder = pc.replace_substring_regex(edited, r"/.*$", "")
        base = pc.replace_substring_regex(folder, r"[0-9]+$", "")
        category = pc.if_else(pc.is_in(base, pa.array(CATEGORIES)), base, folder)
        # a reversed triplet (sim2real: an edited video as the source) is named by that edited video
        reversed_ = pc.and_(pc.invert(pc.match_substring_regex(edited, _DITTO_EDITED)),
                            pc.match_substring_regex(pc.fill_null(source, ""), _DITTO_EDITED))
        if pc.any(reversed_).as_py():
            src_stem = _stem(pc.fill_null(source, ""))
            ids = pc.if_else(reversed_, src_stem, ids)
            sids = pc.if_else(reversed_, pc.replace_substring_regex(src_stem, r"_[0-9]+$", ""), sids)
            category = pc.if_else(reversed_, pa.scalar(SIM2REAL), category)
        cap_keys = pa.array(list(self._captions), pa.string())
        captions = pc.take(pa.array(list(self._captions.values()), pa.string()), pc.index_in(sids, cap_keys))
        rec_ids, rec, scores = self._record_columns()
        at = pc.index_in(ids, rec_ids)
        facts = self._source_meta()
        fps, frames = pc.take(rec["fps"], at), pc.take(rec["num_frames"], at)
        if facts is not None:
            fat = pc.index_in(sids, facts["id"])
            fps = pc.coalesce(fps, pc.take(facts["fps"].cast(pa.float64()), fat))
            frames = pc.coalesce(frames, pc.take(facts["num_frames"].cast(pa.int64()), fat))
        empty = pa.nulls(len(ids), pa.string())
        cols = {
            "id": ids, "source_id": sids, "category": category, "kind": empty, "stage": empty, "reason": empty,
            "message": empty, "instruction": pc.fill_null(entries_t["instruction"], ""),
            "caption": pc.coalesce(pc.if_else(pc.fill_null(pc.not_equal(entries_t["caption"], ""), False),
                                              entries_t["caption"], None), captions, ""),
            "source": source, "edited": edited,
            "reference": pc.coalesce(entries_t["reference"], pc.take(rec["reference"], at)),
            "depth": pc.coalesce(entries_t["depth"], pc.take(rec["depth"], at)),
            "fps": fps, "num_frames": frames,
            **{f"s:{n}": pc.take(rec[f"s:{n}"], at) for n in scores},
        }  # fmt: skip
        scores = [n for n in scores if pc.count(cols[f"s:{n}"]).as_py()]
        table = pa.table({k: v for k, v in cols.items() if not k.startswith("s:") or k[2:] in scores})
        return View(config, _numbered(table), scores)

    def _rejected(self) -> View:
        rows = []
        for r in self.records or []:
            if r.get("status") == "ok":
                continue
            f, a = r.get("fields") or {}, r.get("artifacts") or {}
            parent = self.by_id.get(r.get("source_id") or r.get("parent_id") or "") or {}
            if r["kind"] == "edit":
                source = a.get("source_video") or (parent.get("artifacts") or {}).get("video")
                edited, reference = a.get("edited_video"), a.get("edited_keyframe")
            else:
                source, edited, reference = a.get("video"), None, None
            rows.append({
                "id": r["id"], "kind": r["kind"],
                "source_id": r.get("source_id") or (r.get("parent_id") if r["kind"] == "edit" else None),
                "category": r.get("category"), "stage": r.get("rejected_by"), "reason": r.get("reason"),
                "message": r.get("message"), "instruction": f.get("instruction") or "",
                "caption": f.get("caption") or "", "source": source, "edited": edited, "reference": reference,
                "depth": a.get("depth_video"), "fps": f.get("fps"), "num_frames": f.get("num_frames"),
                "scores": score_values(r),
            })  # fmt: skip
        scores = sorted({s for r in rows for s in r["scores"]})
        return View(REJECTED, _table(rows, scores), scores)

    # -- what the page gets -----------------------------------------------------------------

    def media_path(self, relpath: str) -> str | None:
        """The file a row names, relative to the dataset root, if it exists inside it.

        Build work files (``.ditto/...``) are relative to the root; metadata paths are relative to
        ``videos/`` and found in either extracted layout.
        """
        if relpath.startswith(layout.STATE + "/"):
            found: Path | None = self.root / relpath
            found = found if found.is_file() else None
        else:
            try:
                found = layout.resolve_video(self.root, relpath)
            except layout.OutsideDataset:  # '..', absolute, a link out: never served
                found = None
        if found is None or not _inside(self.root, found):
            return None
        return found.relative_to(self.root).as_posix()

    def with_media(self, view: View, row: dict[str, Any]) -> dict[str, Any]:
        """Add ``media``: stream -> path under the root of each file that exists (a missing one is None)."""
        paths = row.get("paths", {})
        row["media"] = {k: self.media_path(p) for k, p in paths.items()}
        if not row["media"].get("reference") and paths.get("edited"):  # export.keep_reference_image
            row["media"]["reference"] = self.media_path(str(Path(paths["edited"]).with_suffix(".png"))) or None
        if "fps" not in row:
            row["fps_assumed"] = True
            row["fps"] = DEFAULT_FPS
        return row

    def page(self, name: str, q: Query) -> dict[str, Any]:
        view = self.view(name)
        total, rows = view.query(q)
        return {"view": name, "total": total, "offset": q.offset, "rows": [self.with_media(view, r) for r in rows]}

    def sample(self, name: str, row_id: str) -> dict[str, Any] | None:
        """One row with everything: media, scores, and the build's provenance and record fields."""
        view = self.view(name)
        row = view.find(row_id)
        if row is None:
            return None
        return self.detail(view, row)

    def detail(self, view: View, row: dict[str, Any]) -> dict[str, Any]:
        row = self.with_media(view, row)
        rec = self.by_id.get(row["id"])
        if rec:
            row["provenance"] = [{"artifact": k, **{f: v.get(f) for f in ("stage", "backend", "model", "revision",
                                                                          "seed", "config_hash")}}
                                 for k, v in sorted((rec.get("provenance") or {}).items())]
            f = rec.get("fields") or {}
            row["style"] = f.get("style")
            row["fields"] = {k: v for k, v in sorted(f.items()) if isinstance(v, (int, float, str)) and
                             not isinstance(v, bool) and k not in ("path", "caption", "instruction")
                             and not (isinstance(v, float) and not math.isfinite(v))}
            if rec.get("fields", {}).get("judge_rationale"):
                row["rationale"] = rec["fields"]["judge_rationale"]
        return row

    def info(self) -> dict[str, Any]:
        """The dataset's name, views and (for our builds) charts: what the page needs first."""
        if self._info is None:
            self._info = {
                "name": self.root.name, "views": self.view_names, "default_view": (self.configs or [REJECTED])[0],
                "has_records": self.records is not None, "charts": chart_data(self.root, self.records),
            }  # fmt: skip
        return self._info


def _inside(root: Path, path: Path) -> bool:
    """Whether ``path`` (symlinks followed) stays inside ``root``: what the browser may be given."""
    try:
        return Path(path).resolve().is_relative_to(root)
    except OSError:
        return False
