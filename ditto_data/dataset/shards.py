"""A dataset's WebDataset samples and its Hub shard sets, as every reader and writer sees them.

A triplet sample is ``<key>.source.mp4``, ``<key>.edited.mp4``, ``<key>.json`` (plus
``<key>.depth.mp4`` / ``<key>.reference.png``); a ``source`` sample is ``<key>.video.mp4`` and
``<key>.json``. A shard folder's ``_shards.json`` is a wids shard index with our ``config`` and a
``fingerprint`` of the files the shards were made from, so a stale shard set is recognised. The
writer is :mod:`ditto_data.exports.webdataset`; the card and ``ditto-data pack`` read from here.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from ..schema import SIM2REAL, SOURCE, ordered_categories
from .features import EDIT_COLUMNS, SOURCE_COLUMNS
from .tree import DatasetReadError, list_configs, read_sources, read_triplets

log = logging.getLogger(__name__)

#: JSON fields of a sample: the text columns (files are members, not fields)
JSON_FIELDS = EDIT_COLUMNS.json_fields
SOURCE_JSON_FIELDS = SOURCE_COLUMNS.json_fields
INDEX = "_shards.json"  # "_": Ray Data skips it when it lists a shard folder; wids reads it
WIDS_KIND = "wids-shard-index-v1"
#: the Hub copy of every config: ``webdataset/<config>/<config>-NNNNNN.tar``
HUB_DIR = "webdataset"


def row_files(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(member suffix, file path) of a row, in member order."""
    if "video" in row:  # a source row
        return [("video.mp4", row["video"])]
    out = [("source.mp4", row["source_video"]), ("edited.mp4", row["edited_video"])]
    if row.get("depth_video"):
        out.append(("depth.mp4", row["depth_video"]))
    if row.get("reference_image"):
        out.append(("reference.png", row["reference_image"]))
    return out


def config_rows(dataset_dir: str | Path, config: str) -> list[dict[str, Any]]:
    """The rows of ``config`` (a triplet config, ``sim2real`` or ``source``), sorted by id."""
    if config == SOURCE:
        rows = read_sources(dataset_dir, probe_files=False)
    else:
        rows = read_triplets(dataset_dir, config)
    bad = [r["id"] for r in rows if "." in r["id"] or "/" in r["id"]]
    if bad:
        raise DatasetReadError(f"{dataset_dir}/{config}: WebDataset keys cannot hold '.' or '/': {bad[:3]}")
    return sorted(rows, key=lambda r: r["id"])


def fingerprint(rows: list[dict[str, Any]]) -> str:
    """Hash of the rows' metadata and their files' (size, mtime): changes when the shards would."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps({k: v for k, v in r.items() if not k.endswith(("_video", "_image")) and k != "video"},
                            sort_keys=True, default=str).encode())
        for suffix, path in row_files(r):
            st = Path(path).stat()
            h.update(f"{suffix}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def hub_configs(root: str | Path) -> list[str]:
    """Configs a dataset publishes: every ``training_metadata/<config>.json`` (categories, ``sim2real``), ``source``."""
    have = [c for c in list_configs(root) if c != SOURCE]
    return [c for c in ordered_categories(have) if c != SIM2REAL] + ([SIM2REAL] if SIM2REAL in have else []) + [SOURCE]


def hub_shard_dir(root: str | Path, config: str) -> Path:
    return Path(root) / HUB_DIR / config


def hub_pattern(shards: list[str]) -> str:
    """The card's ``data_files`` pattern matching a config's shards (paths relative to the repo root):
    ``webdataset/<config>/<config>-*.tar`` for the ones :func:`ditto_data.exports.webdataset.write_hub_shards` makes."""
    folder, name = shards[0].rsplit("/", 1)
    return f"{folder}/{name.rsplit('-', 1)[0]}-*.tar"


def read_index(folder: Path) -> dict[str, Any] | None:
    try:
        idx = json.loads((folder / INDEX).read_text())
    except (OSError, ValueError):
        return None
    return idx if isinstance(idx, dict) and idx.get("__kind__") == WIDS_KIND else None


def current_hub_shards(root: str | Path) -> dict[str, list[str]]:
    """Config -> shard paths (relative to ``root``) of the Hub shards that match the dataset as it is now.

    Shards made before the dataset changed are left out, so a card never points at stale files.
    """
    root = Path(root)
    out: dict[str, list[str]] = {}
    base = root / HUB_DIR
    if not base.is_dir():
        return out
    for config in hub_configs(root):
        folder = hub_shard_dir(root, config)
        idx = read_index(folder)
        if not idx or not idx.get("shardlist"):
            continue
        try:
            rows = config_rows(root, config)
        except DatasetReadError:
            continue
        if idx.get("fingerprint") != fingerprint(rows):
            log.warning("%s: WebDataset shards are older than the dataset; run `ditto-data pack` again", folder)
            continue
        files = [folder / s["url"] for s in idx["shardlist"]]
        if all(f.is_file() for f in files):
            out[config] = [f.relative_to(root).as_posix() for f in files]
    return out
