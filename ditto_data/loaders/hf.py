"""``ditto_data.load``: a dataset folder or Hub repo id -> ``datasets.Dataset`` / ``IterableDataset``.

Reads the Ditto-1M tree directly (see :mod:`.tree`), so it works on our builds and on a Ditto-1M
download alike, with no HF data files needed. Video columns are ``datasets.Video`` features over
absolute paths, so rows decode lazily with the stock decoder; for training use the clip datasets.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .. import layout
from ..schema import EDIT_COLUMNS, SOURCE, SOURCE_COLUMNS, hf_features
from .tree import DatasetReadError, list_configs, read_sources, read_triplets

log = logging.getLogger(__name__)

#: Metadata and captions: always fetched for a repo id before anything else.
META_PATTERNS = [f"{layout.TRAINING_METADATA}/*.json", f"{layout.CAPTIONS}/*.json", layout.CARD]


def resolve_root(path_or_repo_id: str | Path, config: str, revision: str | None = None,
                 cache_dir: str | None = None) -> Path:
    """A local dataset folder as is; a repo id is snapshot-downloaded (metadata, then its videos)."""
    p = Path(path_or_repo_id).expanduser()
    if p.exists():
        if not p.is_dir():
            raise DatasetReadError(f"{p}: not a dataset folder")
        return p
    repo_id = str(path_or_repo_id)
    if repo_id.count("/") != 1:
        raise DatasetReadError(f"{repo_id}: no such folder, and not a Hub repo id (owner/name)")
    from huggingface_hub import snapshot_download

    kw: dict[str, Any] = {"repo_type": "dataset", "revision": revision or "main", "cache_dir": cache_dir}
    root = Path(snapshot_download(repo_id, allow_patterns=META_PATTERNS, **kw))
    folders = {SOURCE} if config == SOURCE else _video_folders(root, config)
    patterns = [f"{layout.VIDEOS}/{f}/**" for f in sorted(folders)]
    if patterns:
        root = Path(snapshot_download(repo_id, allow_patterns=META_PATTERNS + patterns, **kw))
    log.info("%s: using snapshot %s", repo_id, root)
    return root


def _video_folders(root: Path, config: str) -> set[str]:
    from .tree import read_metadata

    folders = {SOURCE}
    for e in read_metadata(root, config):
        rel = e.get("edited_path") or ""
        if "/" in rel:
            folders.add(rel.split("/", 1)[0])
    return folders


def _check_split(split: str | None) -> None:
    if split not in (None, "train"):
        raise ValueError(f"split {split!r}: a Ditto dataset has one split, 'train'")


def load(path_or_repo_id: str | Path, name: str = "global_style", split: str | None = "train",
         streaming: bool = False, *, revision: str | None = None, cache_dir: str | None = None,
         probe_sources: bool = True):
    """Load one config of a Ditto-style dataset as a ``datasets`` object.

    ``name`` is any ``training_metadata/<name>.json`` of the dataset (``global_style``, ``local``,
    Ditto-1M's ``global``, ``global_freeform3`` ...) or ``source``. Triplets whose files are missing
    are reported in one warning and left out. ``split=None`` gives a ``DatasetDict`` (``train``).
    Raises :class:`DatasetReadError` if the config has no readable rows.
    """
    import datasets

    _check_split(split)
    root = resolve_root(path_or_repo_id, name, revision, cache_dir)
    if name == SOURCE:
        rows, columns = read_sources(root, probe_files=probe_sources), SOURCE_COLUMNS
    else:
        rows, columns = read_triplets(root, name), EDIT_COLUMNS
    if not rows:
        raise DatasetReadError(f"{root}: config {name!r} has no readable rows "
                               f"(configs here: {', '.join(list_configs(root))})")
    features = hf_features(columns)
    table = {c: [r[c] for r in rows] for c in columns}
    if streaming:
        ds = datasets.IterableDataset.from_generator(
            _rows, features=features, gen_kwargs={"shards": _chunks(table, columns)})
    else:
        ds = datasets.Dataset.from_dict(table, features=features, split=datasets.Split.TRAIN)
    return datasets.IterableDatasetDict({"train": ds}) if split is None and streaming else (
        datasets.DatasetDict({"train": ds}) if split is None else ds)


def _chunks(table: dict[str, list], columns: dict[str, str], n: int = 64) -> list[list[dict]]:
    """Rows in up to ``n`` shards, so a streaming dataset splits across DataLoader workers."""
    rows = [dict(zip(columns, vals)) for vals in zip(*(table[c] for c in columns))]
    k = -(-len(rows) // max(1, min(n, len(rows))))  # contiguous chunks keep the metadata order
    return [rows[i:i + k] for i in range(0, len(rows), k)]


def _rows(shards: list[list[dict]]):
    for shard in shards:
        yield from shard
