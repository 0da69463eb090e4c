"""Read a dataset tree (ours or a Ditto-1M download, either extracted layout) into plain rows.

One reader serves both, because our builds write Ditto-1M's tree: ``training_metadata/<config>.json``
lists triplets with paths relative to ``videos/``, ``source_video_captions/*.json`` holds the source
captions keyed by path. Rows are plain dicts (cheap to pickle into DataLoader workers and to write as
WebDataset JSON). Files that are absent are reported once, in one warning, and left out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import layout
from ..schema import SIM2REAL, SOURCE

log = logging.getLogger(__name__)

#: Optional metadata keys (relative to ``videos/``) for the other streams a triplet may carry.
REFERENCE_KEYS = ("reference_path", "edited_keyframe_path", "vace_reference_image")
DEPTH_KEYS = ("depth_path", "depth_video_path")


class DatasetReadError(ValueError):
    """The dataset cannot serve samples at all (no metadata, malformed metadata, or zero readable
    samples); the message names the file and, for a bad entry, which one."""


#: Metadata keys that hold paths (relative to ``videos/``); each must be a string when present.
PATH_KEYS = ("source_path", "edited_path", "path", *("reference_path", "edited_keyframe_path",
             "vace_reference_image", "depth_path", "depth_video_path"))


def check_entries(path: Path, entries: Any, what: str = "triplets") -> list[dict[str, Any]]:
    """``entries`` if it is a list of objects whose path keys are strings; else DatasetReadError
    naming ``path`` and the entry."""
    if not isinstance(entries, list):
        raise DatasetReadError(f"{path}: expected a JSON list of {what}, got {type(entries).__name__}")
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise DatasetReadError(f"{path}: entry {i} is a {type(e).__name__}, expected an object")
        for k in (*PATH_KEYS, *TEXT_KEYS):
            if e.get(k) is not None and not isinstance(e[k], str):
                raise DatasetReadError(f"{path}: entry {i}: {k!r} is a {type(e[k]).__name__}, expected a string")
    return entries


TEXT_KEYS = ("instruction", "caption")


def _resolve(root: Path, rel: str, check_files: bool = True) -> Path | None:
    """A metadata path resolved inside the dataset (None when absent and ``check_files``);
    :class:`~ditto_data.layout.OutsideDataset` when it would lead outside it."""
    if check_files:
        return layout.resolve_video(root, rel)
    return layout.contained_path(root / layout.VIDEOS, rel)


def list_configs(root: str | Path) -> list[str]:
    """Config names a dataset offers: every ``training_metadata/*.json`` stem, plus ``source``."""
    md = Path(root) / layout.TRAINING_METADATA
    names = sorted(p.stem for p in md.glob("*.json")) if md.is_dir() else []
    return names + [SOURCE]


def read_captions(root: str | Path) -> dict[str, str]:
    """Source captions keyed by the source hash (``<shard>/<hash>.mp4`` -> ``<hash>``)."""
    out: dict[str, str] = {}
    folder = Path(root) / layout.CAPTIONS
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entries = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            log.warning("skipping unreadable caption file %s: %s", p, e)
            continue
        for e in check_entries(p, entries, "captions"):
            path, cap = e.get("path"), e.get("caption")
            if not path or not isinstance(cap, str):
                continue
            try:
                out[layout.source_hash(path)] = cap
            except ValueError:
                out[Path(path).stem] = cap
    return out


def _ids(edited_rel: str, source_rel: str) -> tuple[str, str, str]:
    """(edit id, source id, category) from metadata paths, tolerant of non-Ditto names.

    A reversed triplet (Ditto-1M's ``sim2real``: an edited video as the source, the real clip as
    the target) takes its id from the edited video, so ids stay unique when a clip has several
    edits; its category is ``sim2real``.
    """
    try:
        layout.parse_edited(edited_rel)
    except ValueError:
        try:
            _, _, h, n = layout.parse_edited(source_rel)
        except ValueError:
            pass
        else:
            return f"{h}_{n}", h, SIM2REAL
    try:
        folder, _, h, n = layout.parse_edited(edited_rel)
        eid, category = f"{h}_{n}", layout.category_of_folder(folder)
    except ValueError:
        eid, category = Path(edited_rel).stem, layout.category_of_folder(edited_rel.split("/", 1)[0])
    try:
        sid = layout.source_hash(source_rel)
    except ValueError:
        sid = Path(source_rel).stem
    return eid, sid, category


def _first(entry: dict[str, Any], keys: Iterable[str]) -> str | None:
    for k in keys:
        v = entry.get(k)
        if isinstance(v, str) and v:
            return v
    return None


def _sibling_png(edited: Path) -> Path | None:
    p = edited.with_suffix(".png")
    return p if p.is_file() else None


def read_metadata(root: str | Path, config: str) -> list[dict[str, Any]]:
    """The raw entries of ``training_metadata/<config>.json`` (a clear error if it is absent)."""
    path = Path(root) / layout.TRAINING_METADATA / f"{config}.json"
    if not path.is_file():
        have = ", ".join(list_configs(root)) or "none"
        raise DatasetReadError(f"{path}: no metadata for config {config!r} (configs here: {have})")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise DatasetReadError(f"{path}: not valid JSON: {e}") from e
    return check_entries(path, entries)


def read_triplets(root: str | Path, config: str, check_files: bool = True,
                  missing_out: list[str] | None = None, extras: bool = True) -> list[dict[str, Any]]:
    """Rows of a triplet config, with absolute file paths (missing files reported and skipped).

    Each row has the :data:`ditto_data.dataset.features.EDIT_COLUMNS` keys (``source_video`` and
    ``edited_video`` are absolute paths) plus ``reference_image`` and ``depth_video`` (absolute or None)
    and ``original`` (the metadata entry). Missing files are also appended to ``missing_out``.
    Without ``extras`` the reference image and depth video are neither looked up nor checked (None):
    for readers of the two videos only, whom a bad reference path must not cost the triplet.
    """
    root = Path(root)
    captions = read_captions(root)
    rows, missing = [], []
    meta_path = layout.training_metadata_path(root, config)
    for i, e in enumerate(read_metadata(root, config)):
        where = f"{meta_path} entry {i}"
        edited_rel = e.get("edited_path")
        if not edited_rel:
            log.warning("%s entry %d has no edited_path; skipped", layout.training_metadata_path(root, config), i)
            continue
        source_rel = e.get("source_path")
        if not source_rel:
            try:
                source_rel = layout.source_of_edited(edited_rel)
            except ValueError:
                log.warning("cannot find the source of %s (no source_path); skipped", edited_rel)
                continue
        eid, sid, category = _ids(edited_rel, source_rel)
        ref_rel, depth_rel = (_first(e, REFERENCE_KEYS), _first(e, DEPTH_KEYS)) if extras else (None, None)
        try:
            src = _resolve(root, source_rel, check_files)
            edt = _resolve(root, edited_rel, check_files)
            ref = _resolve(root, ref_rel) if ref_rel else None
            depth = _resolve(root, depth_rel) if depth_rel else None
        except layout.OutsideDataset as err:
            log.warning("%s: refused: %s", where, err)
            continue
        if src is None or edt is None:
            missing.extend(r for r, f in ((source_rel, src), (edited_rel, edt)) if f is None)
            continue
        if not ref_rel and extras:
            ref = _sibling_png(edt)
        rows.append({
            "id": eid,
            "source_id": sid,
            "category": category,
            "instruction": e.get("instruction") or "",
            "caption": e.get("caption") or captions.get(sid, ""),
            "source_video": str(src.resolve()),
            "edited_video": str(edt.resolve()),
            "source_path": source_rel,
            "edited_path": edited_rel,
            "reference_image": str(ref.resolve()) if ref else None,
            "depth_video": str(depth.resolve()) if depth else None,
            "original": e,
        })
    report_missing(root, config, missing)
    if missing_out is not None:
        missing_out.extend(missing)
    return rows


def report_missing(root: Path, config: str, missing: list[str]) -> None:
    """One warning for all files of a config that are absent (the first few named)."""
    if not missing:
        return
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    log.warning("%s/%s: %d video file(s) missing under %s, their triplets skipped: %s",
                root, config, len(missing), root / layout.VIDEOS, shown)


def source_files(root: str | Path) -> list[tuple[str, Path]]:
    """(path relative to ``videos/source``, file) of every source video, in either layout, sorted."""
    base = Path(root) / layout.VIDEOS / SOURCE
    found: dict[str, Path] = {}
    for sub in (base / SOURCE, base):  # doubled layout first, the plain one wins on clashes
        if sub.is_dir():
            for p in sub.glob("*/*.mp4"):
                found[p.relative_to(sub).as_posix()] = p
    return sorted(found.items())


def read_sources(root: str | Path, probe_files: bool = True) -> list[dict[str, Any]]:
    """Rows of the ``source`` config (:data:`ditto_data.dataset.features.SOURCE_COLUMNS`), captions joined by hash.

    ``path`` is relative to ``videos/``, as the edits' ``source_path`` and the published metadata
    write it. With ``probe_files`` each file is probed for its size, fps and frame count; a file that cannot be
    probed is reported (one warning) and skipped.
    """
    root = Path(root)
    captions = read_captions(root)
    rows, bad = [], []
    probe = None
    if probe_files:
        from ..video import probe
    for rel, f in source_files(root):
        sid = Path(rel).stem
        row = {"id": sid, "caption": captions.get(sid, ""), "video": str(f.resolve()), "path": f"{SOURCE}/{rel}",
               "num_frames": None, "fps": None, "width": None, "height": None}
        if probe is not None:
            try:
                info = probe(f)
            except Exception as e:  # noqa: BLE001 - any unreadable file is reported, not raised
                bad.append(f"{rel} ({e})")
                continue
            row.update(num_frames=int(info.num_frames), fps=float(info.fps), width=int(info.width),
                       height=int(info.height))
        rows.append(row)
    if bad:
        log.warning("%s: %d source video(s) unreadable, skipped: %s", root, len(bad), "; ".join(bad[:5]))
    return rows
