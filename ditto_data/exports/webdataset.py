"""Write a dataset config as WebDataset tar shards that every WebDataset reader takes.

A triplet sample is ``<key>.source.mp4``, ``<key>.edited.mp4``, ``<key>.json`` (plus
``<key>.depth.mp4`` / ``<key>.reference.png`` where the dataset has them); a ``source`` sample is
``<key>.video.mp4`` and ``<key>.json``. Keys hold no dot and a sample's members are adjacent, which
is what ``webdataset``, ``wids``, ``ray.data.read_webdataset`` and the ``datasets`` webdataset builder
(which turns each ``*.mp4`` member into a ``Video`` column, named by the member's suffix) all expect.

Each shard folder also gets ``_shards.json``: a wids shard index (``__kind__``
``wids-shard-index-v1``, ``shardlist`` of ``url`` relative to the index, ``nsamples``), with our
``config`` and a ``fingerprint`` of the files the shards were made from, so a stale shard set is
recognised. Shards are deterministic (samples sorted by id, fixed member metadata: mtime 0,
uid/gid 0, mode 0644) and written atomically, so re-exporting gives byte-identical files and a
killed export never leaves a half shard under a final name.

The Hub copy (:func:`write_hub_shards`, run by ``ditto-data pack``) puts every config under
``webdataset/<config>/<config>-NNNNNN.tar``; the card's ``configs`` point there, so stock
``load_dataset(repo, config)`` streams decodable videos with no extraction step.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..atomic import atomic_path, write_json
from ..dataset.shards import (INDEX, JSON_FIELDS, SOURCE_JSON_FIELDS, WIDS_KIND, config_rows, fingerprint, hub_configs,
                              hub_shard_dir, read_index, row_files)
from ..dataset.tree import DatasetReadError
from ..units import parse_size

log = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE = "1GB"
#: a small dataset is still cut into this many shards, so DataLoader workers (and ranks) each get
#: whole shards of their own instead of all reading every shard
MIN_SHARDS = 8


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 0, 0o644, 0, 0
    info.uname = info.gname = ""
    tf.addfile(info, io.BytesIO(data))


def _members(row: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    key = row["id"]
    fields = SOURCE_JSON_FIELDS if "video" in row else JSON_FIELDS
    meta = {k: row.get(k) for k in fields}
    yield f"{key}.json", (json.dumps(meta, ensure_ascii=False, sort_keys=True) + "\n").encode()
    for suffix, path in row_files(row):
        yield f"{key}.{suffix}", Path(path).read_bytes()


def samples_per_shard(n: int, min_shards: int = MIN_SHARDS) -> int:
    """The sample cap that cuts ``n`` samples into at least ``min_shards`` shards (when there are enough)."""
    return max(1, math.ceil(n / min_shards))


def write_webdataset(dataset_dir: str | Path, out_dir: str | Path, config: str = "global_style",
                     shard_size: str | int = DEFAULT_SHARD_SIZE, max_samples: int | None = None,
                     progress: bool = True, prefix: str = "shard", min_shards: int = MIN_SHARDS,
                     rows: list[dict[str, Any]] | None = None) -> list[Path]:
    """Write ``out_dir/<prefix>-NNNNNN.tar``; returns the shard paths; also writes ``out_dir/_shards.json``.

    A shard closes at ``shard_size`` bytes or ``max_samples`` samples, whichever comes first.
    Without ``max_samples`` the cap is chosen so that the config makes at least ``min_shards``
    shards: with fewer shards than DataLoader workers, workers would share shards.
    """
    limit, out_dir = parse_size(shard_size), Path(out_dir)
    rows = config_rows(dataset_dir, config) if rows is None else rows
    if not rows:
        raise DatasetReadError(f"{dataset_dir}: config {config!r} has no sample with its videos present")
    if max_samples is None:
        max_samples = samples_per_shard(len(rows), min_shards)
    out_dir.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, Any]] = []
    stack: contextlib.ExitStack | None = None
    tf, count, size = None, 0, 0

    def name(i: int) -> str:
        return f"{prefix}-{i:06d}.tar"

    def close() -> None:
        nonlocal stack, tf, count, size
        if stack is not None:
            stack.close()  # closes the tar, then fsyncs and renames it into place
            path = out_dir / name(len(shards))
            shards.append({"url": path.name, "nsamples": count, "filesize": path.stat().st_size})
        stack, tf, count, size = None, None, 0, 0

    try:
        for row in tqdm(rows, desc=f"webdataset {config}", unit="sample", disable=not progress):
            members = list(_members(row))
            n = sum(512 + -(-len(d) // 512) * 512 for _, d in members)
            if count and (size + n > limit or count >= max_samples):
                close()
            if stack is None:
                stack = contextlib.ExitStack()
                tmp = stack.enter_context(atomic_path(out_dir / name(len(shards))))
                tf = stack.enter_context(tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT))
            for member, data in members:
                _add(tf, member, data)
            count, size = count + 1, size + n
        close()
    except BaseException:
        if stack is not None:
            stack.__exit__(*sys.exc_info())  # removes the half-written temporary shard
        raise
    keep = {s["url"] for s in shards}
    for old in out_dir.glob(f"{prefix}-*.tar"):  # a longer earlier export's tail
        if old.name not in keep:
            old.unlink()
    write_json(out_dir / INDEX, {"__kind__": WIDS_KIND, "wids_version": 1, "name": config, "config": config,
                                 "fingerprint": fingerprint(rows), "shard_size": limit,
                                 "max_samples": max_samples,
                                 "shardlist": shards})
    log.info("wrote %d samples in %d shard(s) to %s", len(rows), len(shards), out_dir)
    return [out_dir / s["url"] for s in shards]


# -- the Hub copy ---------------------------------------------------------------------------------


def write_hub_shards(root: str | Path, shard_size: str | int = DEFAULT_SHARD_SIZE, progress: bool = True,
                     configs: list[str] | None = None) -> dict[str, tuple[str, list[Path]]]:
    """Write ``webdataset/<config>/`` for every config with samples; unchanged ones are kept.

    Returns config -> (``written`` or ``unchanged``, shard paths). Shard folders of configs that no
    longer have samples are removed.
    """
    root = Path(root)
    limit = parse_size(shard_size)
    out: dict[str, tuple[str, list[Path]]] = {}
    for config in configs or hub_configs(root):
        folder = hub_shard_dir(root, config)
        try:
            rows = config_rows(root, config)
        except DatasetReadError as e:
            log.info("no WebDataset shards for %s: %s", config, e)
            rows = []
        if not rows:
            for p in list(folder.glob("*.tar")) + [folder / INDEX]:
                p.unlink(missing_ok=True)
            continue
        idx = read_index(folder)
        same = idx and (idx.get("shard_size"), idx.get("max_samples")) == (limit, samples_per_shard(len(rows)))
        present = idx and all((folder / s["url"]).is_file() for s in idx["shardlist"])
        if same and present and idx.get("fingerprint") == fingerprint(rows):
            log.info("%s: WebDataset shards unchanged", config)
            out[config] = "unchanged", [folder / s["url"] for s in idx["shardlist"]]
            continue
        out[config] = "written", write_webdataset(root, folder, config, shard_size=limit, progress=progress,
                                                  prefix=config, rows=rows)
    return out


__all__ = ["write_hub_shards", "write_webdataset"]
