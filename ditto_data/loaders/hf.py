"""``ditto_data.load``: a dataset folder or Hub repo id -> ``datasets.Dataset`` / ``IterableDataset``.

Reads the Ditto-1M tree directly (see :mod:`.tree`), so it works on our builds and on a Ditto-1M
download alike, with no HF data files needed; any other described dataset (``ditto_data.catalog``)
through :mod:`.described`. Video columns are ``datasets.Video`` features over
absolute paths, so rows decode lazily with the stock decoder; for training use the clip datasets.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..dataset.features import ROW_COLUMNS, SOURCE_COLUMNS
from ..schema import SOURCE
from ..dataset.tree import DatasetReadError, list_configs, read_sources
from .resolve import resolve_root

log = logging.getLogger(__name__)

def _check_split(split: str | None) -> None:
    if split not in (None, "train"):
        raise ValueError(f"split {split!r}: a Ditto dataset has one split, 'train'")


def load(path_or_repo_id: str | Path, name: str | None = None, split: str | None = "train",
         streaming: bool = False, *, revision: str | None = None, cache_dir: str | None = None,
         probe_sources: bool = True, description=None):
    """Load one config of any described dataset as a ``datasets`` object.

    ``description``: a catalog name (``ditto-1m``, ``openve-3m``, ``senorita-2m`` ...), a YAML file or a
    :class:`ditto_data.catalog.Description`; by default the one shipped for the repo id, or detected
    from the folder's metadata files, else Ditto's tree. ``name`` is a config: for a Ditto tree any
    ``training_metadata/<name>.json`` (default ``global_style``) or ``source``; for another dataset a
    category or ``all`` (the default). Rows have :data:`ditto_data.dataset.features.ROW_COLUMNS` (``original``
    is the metadata entry as JSON). Rows whose files are missing are reported in one warning and
    left out. ``split=None`` gives a ``DatasetDict`` (``train``). Raises :class:`DatasetReadError` if
    the config has no readable rows.
    """
    import datasets

    from .described import configs_described, read_rows

    _check_split(split)
    if name == SOURCE:
        root = resolve_root(path_or_repo_id, name, revision, cache_dir)
        rows, columns = read_sources(root, probe_files=probe_sources), SOURCE_COLUMNS
    else:
        root, desc, name, rows = read_rows(path_or_repo_id, name, description, revision=revision,
                                           cache_dir=cache_dir)
        rows = [{**r, "original": json.dumps(r.get("original"), ensure_ascii=False, default=str)} for r in rows]
        columns = ROW_COLUMNS
    if not rows:
        have = list_configs(root) if name == SOURCE or desc.layout == "ditto" else configs_described(root, desc)
        raise DatasetReadError(f"{root}: config {name!r} has no readable rows (configs here: {', '.join(have)})")
    features = columns.hf_features()
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
