"""Read any described dataset (``ditto_data.catalog``) into the rows every loader serves.

A Ditto tree is read by :mod:`.tree` (its description says ``layout: ditto``); every other layout
by :func:`read_described`: metadata files (JSON list, CSV with a sniffed delimiter, parquet) ->
field binding per file -> path fixes -> the one resolver :func:`resolve_media` -> rows with the
unified columns (:data:`ditto_data.dataset.features.ROW_COLUMNS`: ids, category, instruction, caption,
absolute video paths, paths relative to the dataset root, the dataset of origin) and the original
entry under ``original``. Nothing is dropped silently: rows whose files are missing, rows lacking a
value and paths that were fixed are counted in a :class:`Defects`, and reported in one warning.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import Description, DescriptionError, describe, detect, for_repo, slug
from ..catalog.description import candidates, is_template, template_columns
from .. import layout
from ..schema import SOURCE, content_id
from ..dataset.tree import DatasetReadError

log = logging.getLogger(__name__)

ALL = "all"  # the config of every row of a described dataset
_SNIFF = ",;\t|"


@dataclass
class Defects:
    """What reading found wrong, by kind, with the rows it concerns (never silently dropped)."""

    rows: int = 0  # metadata entries read
    path_fixes: Counter = field(default_factory=Counter)  # "old -> new" -> paths fixed
    missing: list[str] = field(default_factory=list)  # "<file>#<row>: <path>" whose video is absent
    incomplete: list[str] = field(default_factory=list)  # "<file>#<row>: no <role>"
    outside: list[str] = field(default_factory=list)  # paths escaping the dataset folder

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "path_fixes": dict(self.path_fixes), "missing_files": len(self.missing),
                "incomplete_rows": len(self.incomplete), "paths_outside": len(self.outside),
                "examples": {"missing_files": self.missing[:5], "incomplete_rows": self.incomplete[:5],
                             "paths_outside": self.outside[:5]}}

    def warn(self, where: str) -> None:
        for kind, items in (("missing video file(s)", self.missing), ("row(s) lacking a value", self.incomplete),
                            ("path(s) outside the dataset folder", self.outside)):
            if items:
                more = f" and {len(items) - 3} more" if len(items) > 3 else ""
                log.warning("%s: %d %s, left out: %s%s", where, len(items), kind, "; ".join(items[:3]), more)
        for fix, n in self.path_fixes.items():
            log.info("%s: fixed a known path mistake (%s) in %d path(s)", where, fix, n)


# -- metadata files ----------------------------------------------------------------------------


def metadata_files(root: Path, desc: Description) -> list[Path]:
    """The metadata files of ``desc`` under ``root``, sorted, each once."""
    found = {p for g in desc.metadata for p in root.glob(g) if p.is_file()}
    return sorted(found)


def _format(desc: Description, path: Path) -> str:
    if desc.format != "auto":
        return desc.format
    suffix = path.suffix.lower()
    return {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}.get(suffix, "")


def sniff_delimiter(sample: str) -> str:
    """``,`` ``;`` tab or ``|``: what the header line and first rows are split by."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=_SNIFF).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return max(_SNIFF, key=first.count) if any(c in first for c in _SNIFF) else ","


def read_table(desc: Description, path: Path) -> list[dict[str, Any]]:
    """The entries of one metadata file as dicts (raises DescriptionError on a format mismatch)."""
    fmt = _format(desc, path)
    try:
        if fmt == "csv":
            text = path.read_text(encoding="utf-8-sig")
            head = "\n".join(text[:65536].splitlines()[:20])  # the Sniffer is quadratic-ish in its sample
            reader = csv.reader(io.StringIO(text), delimiter=desc.delimiter or sniff_delimiter(head))
            header = list(desc.columns) or next(reader, [])
            rows = []
            for i, cells in enumerate(reader):
                if not cells:
                    continue
                if len(cells) != len(header):
                    rows.append({"__bad__": f"{len(cells)} cells, the header has {len(header)}", "__line__": i})
                    continue
                rows.append(dict(zip(header, cells)))
            return rows
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        if fmt == "json":
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() == ".jsonl":
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            data = json.loads(text)
            if desc.records_key and isinstance(data, dict):
                data = data.get(desc.records_key)
            if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
                raise DescriptionError(str(path), "format", "expected a JSON list of objects"
                                       + (f" under {desc.records_key!r}" if desc.records_key else ""))
            return data
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as e:
        if isinstance(e, DescriptionError):
            raise
        raise DescriptionError(str(path), "format", f"cannot read it as {fmt or desc.format}: {e}") from None
    except Exception as e:  # pyarrow's errors  # noqa: BLE001
        raise DescriptionError(str(path), "format", f"cannot read it as {fmt}: {e}") from None
    raise DescriptionError(str(path), "format", f"cannot tell the format of {path.name} (set format: json|csv|parquet)")


# -- fields ------------------------------------------------------------------------------------

REQUIRED = ("source", "edited", "instruction")


def bind_fields(desc: Description, columns: set[str], where: str) -> dict[str, str | None]:
    """Role -> the column (or template) used in this file; a required role that matches nothing is an
    error naming the field, its candidates and the columns the file has."""
    out: dict[str, str | None] = {}
    required = REQUIRED + (("category",) if desc.category_from == "field" else ())
    for role in ("source", "edited", "instruction", "caption", "category", "id", "reference"):
        cands = candidates(desc.fields.get(role))
        hit = next((c for c in cands if (all(t in columns for t in template_columns(c)) if is_template(c)
                                         else c in columns)), None)
        if hit is None and role in required:
            have = ", ".join(sorted(columns)[:30]) or "none"
            raise DescriptionError(where, f"fields.{role}", f"none of {list(cands)} is a column of this file "
                                   f"(it has: {have})")
        out[role] = hit
    return out


def _value(entry: dict[str, Any], spec: str | None) -> str:
    if spec is None:
        return ""
    if is_template(spec):
        return spec.format_map({k: _value(entry, k) for k in template_columns(spec)})
    v = entry.get(spec)
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v).strip()


def category_of(desc: Description, raw: str) -> str:
    return desc.category_names.get(raw) or slug(raw)


# -- paths: the one resolver -------------------------------------------------------------------


def fix_path(desc: Description, raw: str) -> tuple[str, str | None]:
    """A metadata path with the description's known mistakes fixed: (path, the fix applied or None)."""
    rel = raw.replace("\\", "/")
    for f in desc.path_fixes:
        if rel.startswith(f.old):
            return f.new + rel[len(f.old):], f"{f.old} -> {f.new}"
    return rel, None


def candidate_paths(desc: Description, role: str, rel: str, first_only: bool = False) -> list[str] | None:
    """Where a (fixed) metadata path may be, relative to the dataset root; None when it escapes it."""
    while rel.startswith("./"):
        rel = rel[2:]
    if not rel or rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        return None
    out = []
    for r in desc.roots_of(role):
        cand = posixpath.normpath(posixpath.join(r, rel) if r else rel)
        if cand == ".." or cand.startswith("../"):
            return None
        out.append(cand)
        if first_only:
            break
    return out


def resolve_media(root: Path, desc: Description, role: str, raw: str, *, check: bool = True,
                  real_root: str | None = None) -> tuple[str | None, str | None, str | None]:
    """Every metadata path goes through here: (path relative to ``root``, the file's absolute real
    path or None, the fix applied or None).

    The path is fixed, tried under each of the role's roots, and must stay inside ``root``, also
    through symlinks (``real_root``: ``os.path.realpath(root)``, computed once by the caller). A path
    escaping the folder gives ``(None, None, fix)``; with ``check=False`` no file is looked up.
    """
    rel, fix = fix_path(desc, raw)
    cands = candidate_paths(desc, role, rel, first_only=not check)
    if cands is None:
        return None, None, fix
    if not check:
        return cands[0], None, fix
    real_root = real_root or os.path.realpath(root)
    for cand in cands:
        p = os.path.join(root, cand)
        if os.path.isfile(p):
            real = layout.real_inside(p, real_root)
            if real is None:
                return None, None, fix
            return cand, real, fix
    return cands[0], None, fix


# -- rows --------------------------------------------------------------------------------------


def _files_for(root: Path, desc: Description, config: str | None) -> list[tuple[Path, str | None]]:
    """(metadata file, its category when the category comes from the file name), for ``config``."""
    files = metadata_files(root, desc)
    if not files:
        raise DescriptionError(str(root), "metadata", f"no file matches {list(desc.metadata)} "
                               f"(description {desc.name!r} from {desc.origin})")
    out = []
    for f in files:
        cat = category_of(desc, f.stem) if desc.category_from == "file" else (
            desc.category if desc.category_from == "constant" else None)
        if config in (None, ALL) or cat is None or cat == config:
            out.append((f, cat))
    return out


def read_described(root: str | Path, desc: Description, config: str | None = ALL, *, check_files: bool = True,
                   defects: Defects | None = None) -> list[dict[str, Any]]:
    """Rows of ``config`` (a category, or ``all``) of a dataset in a ``table`` layout.

    With ``check_files=False`` no file is looked up (rows carry paths relative to ``root`` under
    their first root, and ``None`` videos): what a selective download needs to plan.
    """
    root = Path(root)
    d = defects if defects is not None else Defects()
    rows: list[dict[str, Any]] = []
    real_root = os.path.realpath(root)
    for path, file_cat in _files_for(root, desc, config):
        entries = read_table(desc, path)
        rel_meta = path.relative_to(root).as_posix()
        columns = {k for e in entries[:200] for k in e if not k.startswith("__")}
        if not entries:
            continue
        bound = bind_fields(desc, columns, str(path))
        for i, e in enumerate(entries):
            d.rows += 1
            where = f"{rel_meta}#{i}"
            if "__bad__" in e:
                d.incomplete.append(f"{where}: {e['__bad__']}")
                continue
            vals = {r: _value(e, bound[r]) for r in bound}
            lacking = [r for r in REQUIRED if not vals[r]]
            category = file_cat if file_cat is not None else category_of(desc, vals["category"])
            if not category:
                lacking.append("category")
            if lacking:
                d.incomplete.append(f"{where}: no {', '.join(lacking)}")
                continue
            if config not in (None, ALL) and category != config:
                continue
            paths, planned = {}, {}
            for role in ("source", "edited"):
                planned[role] = fix_path(desc, vals[role])[0]
                rel, f, fix = resolve_media(root, desc, role, vals[role], check=check_files, real_root=real_root)
                if fix:
                    d.path_fixes[fix] += 1
                if rel is None:
                    d.outside.append(f"{where}: {vals[role]}")
                    break
                if check_files and f is None:
                    d.missing.append(f"{where}: {rel}")
                    break
                paths[role] = (rel, f)
            if len(paths) < 2:
                continue
            ref = None
            if vals["reference"] and check_files:
                _, ref, _ = resolve_media(root, desc, "edited", vals["reference"], real_root=real_root)
            (src_rel, src), (edt_rel, edt) = paths["source"], paths["edited"]
            rows.append({
                "id": vals["id"] or content_id(desc.name, edt_rel, src_rel),
                "source_id": content_id(desc.name, src_rel),
                "category": category,
                "instruction": " ".join(vals["instruction"].split()),
                "caption": vals["caption"],
                "source_video": src,
                "edited_video": edt,
                "source_path": src_rel,
                "edited_path": edt_rel,
                "reference_image": ref,
                "depth_video": None,
                "dataset": desc.name,
                "original": {k: v for k, v in e.items() if not k.startswith("__")},
            })
            if not check_files:
                rows[-1]["planned"] = planned  # the fixed metadata paths, for a selective download
    if defects is None:
        d.warn(f"{root} ({desc.name}, {config})")
    return rows


def configs_described(root: str | Path, desc: Description) -> list[str]:
    """The categories of a described dataset, plus ``all``."""
    root = Path(root)
    if desc.category_from == "constant":
        return [desc.category, ALL]
    if desc.category_from == "file":
        return sorted({category_of(desc, f.stem) for f in metadata_files(root, desc)}) + [ALL]
    rows = read_described(root, desc, ALL, check_files=False, defects=Defects())
    return sorted({r["category"] for r in rows}) + [ALL]


# -- which description, which folder ---------------------------------------------------------


def choose(path_or_repo_id: str | Path, description: str | Path | Description | None) -> Description:
    """The description to read with: given, shipped for the repo id, detected in the folder, else Ditto's."""
    if description is not None:
        return describe(description)
    p = Path(path_or_repo_id).expanduser()
    if p.is_dir():
        try:
            return detect(p)
        except DescriptionError as e:
            raise DatasetReadError(f"{p}: not a Ditto tree (no training_metadata/) and {e}") from None
    return for_repo(str(path_or_repo_id)) or describe("ditto-1m")


def default_config(desc: Description, config: str | None) -> str:
    if config is not None:
        return config
    return "global_style" if desc.layout == "ditto" else ALL


def read_rows(path_or_repo_id: str | Path, config: str | None = None, description=None, *,
              revision: str | None = None, cache_dir: str | None = None, check_files: bool = True,
              defects: Defects | None = None) -> tuple[Path, Description, str, list[dict[str, Any]]]:
    """(local root, description, config, rows) of any described dataset, local or a Hub repo id.

    The one entry point of ``load``, the clip datasets and ``convert``: a Ditto tree goes through
    :func:`.tree.read_triplets`, anything else through :func:`read_described`.
    """
    desc = choose(path_or_repo_id, description)
    config = default_config(desc, config)
    if desc.layout == "ditto":
        from .resolve import resolve_root
        from ..dataset.tree import list_configs, read_triplets

        missing: list[str] = []
        if config == ALL:  # every training_metadata config of a local tree, each row once
            root = Path(path_or_repo_id).expanduser()
            if not (root / "training_metadata").is_dir():
                raise DatasetReadError(f"{path_or_repo_id}: config 'all' of a Ditto tree needs a local folder with "
                                       f"training_metadata/; name a config for a Hub repo")
            seen, rows = set(), []
            for c in (c for c in list_configs(root) if c != SOURCE):
                for r in read_triplets(root, c, check_files=check_files, missing_out=missing):
                    key = (r["source_path"], r["edited_path"])
                    if key not in seen:
                        seen.add(key)
                        rows.append(r)
        else:
            root = resolve_root(path_or_repo_id, config, revision, cache_dir)
            rows = read_triplets(root, config, check_files=check_files, missing_out=missing)
        if defects is not None:
            defects.missing.extend(missing)
            defects.rows += len(rows) + len(missing)
        for r in rows:
            r["dataset"] = desc.name
        return root, desc, config, rows
    root = resolve_described_root(path_or_repo_id, desc, config, revision, cache_dir)
    return root, desc, config, read_described(root, desc, config, check_files=check_files, defects=defects)


# -- Hub: selective download and safe extraction ----------------------------------------------

EXACT_LIMIT = 2000  # more needed files than this: fetch their folders instead of naming each file


def plan_patterns(desc: Description, rows: list[dict[str, Any]]) -> list[str]:
    """``allow_patterns`` for the video files of ``rows`` (read with ``check_files=False``): each file
    under each of its candidate roots, and the archives that may hold them."""
    rels: set[str] = set()
    folders: set[str] = set()
    for r in rows:
        for role, rel in r["planned"].items():
            rels.update(candidate_paths(desc, role, rel) or [])
            bare = rel[2:] if rel.startswith("./") else rel
            if "/" in bare:
                folders.add(bare.split("/", 1)[0])
    esc = lambda s: s.replace("[", "[[]")  # noqa: E731 - fnmatch's only special character in file names
    pats = sorted(esc(p) for p in rels) if len(rels) <= EXACT_LIMIT else sorted(
        {esc(posixpath.dirname(p)) + "/*" for p in rels})
    for a in desc.archives:
        if "{folder}" in a.pattern:
            pats += [a.pattern.replace("{folder}", esc(f)) for f in sorted(folders)]
        else:
            pats.append(a.pattern)
    return pats


def resolve_described_root(path_or_repo_id: str | Path, desc: Description, config: str,
                           revision: str | None = None, cache_dir: str | None = None) -> Path:
    """A local folder as is; a Hub repo id: its metadata, then only the videos (or archives) ``config``
    needs, downloaded into ``cache_dir`` (default: under the Hugging Face datasets cache, see
    ``resolve.default_cache_dir``) and extracted."""
    from .resolve import local_or_cache

    root, repo_id = local_or_cache(path_or_repo_id, cache_dir)
    if repo_id is None:
        return root
    from ..hub import download
    from ..hub.extract import extract_described

    meta = list(desc.metadata)
    download(repo_id, root, include=meta, revision=revision, progress=False)
    planned = read_described(root, desc, config, check_files=False, defects=Defects())
    pats = plan_patterns(desc, planned)
    download(repo_id, root, include=meta + pats, revision=revision, progress=False)
    extract_described(root, desc, progress=False)
    log.info("%s: using %s (%d patterns)", repo_id, root, len(pats))
    return root


