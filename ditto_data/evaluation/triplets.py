"""Where the (source, instruction, edited) triplets to evaluate come from.

- a CSV or JSON file of rows with ``source``, ``instruction``, ``edited`` (paths relative to the
  file's folder); DiffSynth's column names (``vace_video``, ``prompt``, ``video``) and Ditto's
  metadata names (``source_path``, ``edited_path``) are accepted too;
- a folder holding such a file (``triplets.csv`` / ``triplets.json``);
- a built or downloaded Ditto-style dataset: every config, read by the one tree reader
  (:func:`ditto_data.dataset.tree.read_triplets`) with its rules: both extracted layouts, paths
  out of the dataset refused, absent videos reported once and left out.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..dataset.tree import list_configs, read_triplets
from ..layout import TRAINING_METADATA, OutsideDataset, contained_path
from ..schema import SOURCE

log = logging.getLogger(__name__)

_SOURCE_KEYS = ("source", "source_path", "vace_video", "source_video")
_EDITED_KEYS = ("edited", "edited_path", "video", "edited_video")
_TEXT_KEYS = ("instruction", "prompt")


class TripletError(ValueError):
    """A triplet list that cannot be read; the message names the file and the row."""


@dataclass(frozen=True)
class Triplet:
    source: Path
    instruction: str
    edited: Path
    category: str = "all"
    id: str = ""


def _pick(row: dict, keys: tuple[str, ...], where: str) -> str:
    for k in keys:
        v = row.get(k)
        if isinstance(v, str) and v.strip():
            return v.strip()
    raise TripletError(f"{where}: needs one of the columns {', '.join(keys)}")


def _rows_of(path: Path) -> list[dict]:
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8") as f:
                return list(csv.DictReader(f))
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as e:
        raise TripletError(f"{path}: cannot read triplets: {e}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise TripletError(f"{path}: must hold a JSON list of objects")
    return data


def _from_file(path: Path) -> list[Triplet]:
    base, out = path.parent, []
    for i, row in enumerate(_rows_of(path)):
        where = f"{path} row {i + 1}"
        text = _pick(row, _TEXT_KEYS, where)
        try:  # paths stay inside the list's folder: a row must not make us read any file of the machine
            src = contained_path(base, _pick(row, _SOURCE_KEYS, where))
            edt = contained_path(base, _pick(row, _EDITED_KEYS, where))
        except OutsideDataset as e:
            log.warning("%s: refused: %s", where, e)
            continue
        for p in (src, edt):
            if not p.is_file():
                raise TripletError(f"{where}: video not found: {p}")
        out.append(Triplet(src, text, edt, str(row.get("category") or "all"), str(row.get("id") or edt.stem)))
    return out


def _from_dataset(root: Path) -> list[Triplet]:
    out = []
    for config in list_configs(root):
        if config == SOURCE:
            continue
        for r in read_triplets(root, config, extras=False):
            if not r["instruction"].strip():
                raise TripletError(f"{root}/{config}: triplet {r['id']} has no instruction to score against")
            out.append(Triplet(Path(r["source_video"]), r["instruction"], Path(r["edited_video"]), r["category"],
                               r["id"]))
    if not out:
        raise TripletError(f"{root}: no triplet with both videos present")
    return out


def load_triplets(path: str | Path) -> list[Triplet]:
    """Triplets from a CSV/JSON file, a folder holding ``triplets.csv``/``.json``, or a dataset folder."""
    path = Path(path)
    if path.is_file():
        return _from_file(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if (path / TRAINING_METADATA).is_dir():
        return _from_dataset(path)
    for name in ("triplets.csv", "triplets.json"):
        if (path / name).is_file():
            return _from_file(path / name)
    raise TripletError(f"{path}: neither a dataset (no {TRAINING_METADATA}/) nor a folder with triplets.csv/.json")
