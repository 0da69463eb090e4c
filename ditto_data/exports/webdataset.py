"""Write a dataset config as WebDataset tar shards: ``<key>.source.mp4``, ``<key>.edited.mp4``,
``<key>.json`` (plus ``<key>.reference.png`` / ``<key>.depth.mp4`` where the dataset has them).

Shards are deterministic (samples sorted by id, fixed member metadata: mtime 0, uid/gid 0, mode
0644) and written atomically, so re-exporting gives byte-identical files and a killed export never
leaves a half shard under a final name. ``ditto_data.loaders.StreamingTripletDataset`` reads them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..units import parse_size
from ..atomic import atomic_path, write_json
from ..loaders.tree import DatasetReadError, read_triplets

log = logging.getLogger(__name__)

#: JSON fields of a sample (file paths are members, not fields)
JSON_FIELDS = ("id", "source_id", "category", "instruction", "caption", "source_path", "edited_path")


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 0, 0o644, 0, 0
    info.uname = info.gname = ""
    tf.addfile(info, io.BytesIO(data))


def _members(row: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    key = row["id"]
    meta = {k: row.get(k) for k in JSON_FIELDS}
    yield f"{key}.json", (json.dumps(meta, ensure_ascii=False, sort_keys=True) + "\n").encode()
    yield f"{key}.source.mp4", Path(row["source_video"]).read_bytes()
    yield f"{key}.edited.mp4", Path(row["edited_video"]).read_bytes()
    if row.get("depth_video"):
        yield f"{key}.depth.mp4", Path(row["depth_video"]).read_bytes()
    if row.get("reference_image"):
        yield f"{key}.reference.png", Path(row["reference_image"]).read_bytes()


def write_webdataset(dataset_dir: str | Path, out_dir: str | Path, config: str = "global_style",
                     shard_size: str | int = "1GB", max_samples: int | None = None,
                     progress: bool = True) -> list[Path]:
    """Write ``out_dir/shard-NNNNNN.tar``; a shard closes at ``shard_size`` bytes or ``max_samples``
    samples, whichever comes first. Returns the shard paths; also writes ``out_dir/shards.json``."""
    limit, out_dir = parse_size(shard_size), Path(out_dir)
    rows = sorted(read_triplets(dataset_dir, config), key=lambda r: r["id"])
    if not rows:
        raise DatasetReadError(f"{dataset_dir}: config {config!r} has no triplet with both videos present")
    out_dir.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, Any]] = []
    stack: contextlib.ExitStack | None = None
    tf, count, size = None, 0, 0

    def close() -> None:
        nonlocal stack, tf, count, size
        if stack is not None:
            stack.close()  # closes the tar, then fsyncs and renames it into place
            path = out_dir / f"shard-{len(shards):06d}.tar"
            shards.append({"name": path.name, "samples": count, "bytes": path.stat().st_size})
        stack, tf, count, size = None, None, 0, 0

    try:
        for row in tqdm(rows, desc=f"webdataset {config}", unit="sample", disable=not progress):
            members = list(_members(row))
            n = sum(512 + -(-len(d) // 512) * 512 for _, d in members)
            if count and (size + n > limit or (max_samples and count >= max_samples)):
                close()
            if stack is None:
                stack = contextlib.ExitStack()
                tmp = stack.enter_context(atomic_path(out_dir / f"shard-{len(shards):06d}.tar"))
                tf = stack.enter_context(tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT))
            for name, data in members:
                _add(tf, name, data)
            count, size = count + 1, size + n
        close()
    except BaseException:
        if stack is not None:
            stack.__exit__(*sys.exc_info())  # removes the half-written temporary shard
        raise
    write_json(out_dir / "shards.json", {"config": config, "shards": shards})
    log.info("wrote %d samples in %d shard(s) to %s", len(rows), len(shards), out_dir)
    return [out_dir / s["name"] for s in shards]
