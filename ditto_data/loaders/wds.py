"""Read WebDataset tar shards (``<key>.source.mp4``, ``<key>.edited.mp4``, ``<key>.json``) from a
local folder or any fsspec URL, streaming (tar mode ``r|``: no seeking, works over HTTP/S3).

A shard that breaks mid-way (truncated, corrupt) ends with one warning naming it; the samples read
before the break are kept.
"""

from __future__ import annotations

import json
import logging
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_BRACE = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"^(\d+)\.\.(\d+)$")

#: member suffix -> row field (the reader's contract with ``ditto_data.exports.webdataset``)
MEMBERS = {"source.mp4": "source_video", "edited.mp4": "edited_video", "depth.mp4": "depth_video",
           "reference.png": "reference_image"}


def expand_urls(spec: str | Path | list[str | Path]) -> list[str]:
    """Shard URLs from a list, a brace pattern or a folder URL.

    Braces expand as in webdataset and the shell: ranges (``shard-{000000..000009}.tar``, zero
    padded like their first bound) and lists (``{train,extra}-{0..3}.tar``), several per URL.
    """
    if isinstance(spec, (list, tuple)):
        return [u for s in spec for u in expand_urls(s)]
    spec = str(spec)
    m = _BRACE.search(spec)
    if m and (_RANGE.match(m.group(1)) or "," in m.group(1)):
        head, tail = spec[:m.start()], spec[m.end():]
        r = _RANGE.match(m.group(1))
        if r:
            a, b = r.group(1), r.group(2)
            if int(b) < int(a):
                raise ValueError(f"{spec}: empty brace range {{{a}..{b}}}")
            choices = [str(i).zfill(len(a)) for i in range(int(a), int(b) + 1)]
        else:
            choices = m.group(1).split(",")
        return [u for c in choices for u in expand_urls(head + c + tail)]
    import fsspec

    fs, path = fsspec.core.url_to_fs(spec)
    if fs.isdir(path):
        found = sorted(p for p in fs.find(path) if p.endswith(".tar"))
        if not found:
            raise FileNotFoundError(f"{spec}: no .tar shards in this folder")
        return [fs.unstrip_protocol(p) if "://" in spec else p for p in found]
    return [spec]


def is_webdataset(spec: Any) -> bool:
    """True for shard URLs/lists/patterns, or a folder holding .tar shards and no metadata."""
    if isinstance(spec, (list, tuple)):
        return bool(spec) and all(isinstance(s, (str, Path)) and str(s).endswith(".tar") for s in spec)
    if not isinstance(spec, (str, Path)):
        return False
    s = str(spec)
    if s.endswith(".tar") or any(_RANGE.match(g) or "," in g for g in _BRACE.findall(s)):
        return True
    p = Path(s)
    if "://" not in s and p.is_dir():
        return not (p / "training_metadata").is_dir() and any(p.glob("*.tar"))
    return "://" in s


def iter_shard(url: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {suffix: bytes}) per sample, in tar order; members of a key must be adjacent."""
    import fsspec

    key, group = None, {}
    try:
        with fsspec.open(url, "rb") as f, tarfile.open(fileobj=f, mode="r|*") as tf:
            for m in tf:
                if not m.isfile():
                    continue
                base = m.name.rsplit("/", 1)[-1]
                if "." not in base:
                    continue
                k, suffix = base.split(".", 1)
                data = tf.extractfile(m).read()
                if k != key and key is not None:
                    yield key, group
                    group = {}
                key = k
                group[suffix] = data
    except (tarfile.TarError, OSError, EOFError) as e:
        log.warning("WebDataset shard %s is broken after key %s (%s); rest of the shard skipped", url, key, e)
        return
    if key is not None:
        yield key, group


def row_of(key: str, members: dict[str, bytes]) -> dict[str, Any]:
    """A triplet row (as :func:`ditto_data.dataset.tree.read_triplets` gives) with bytes for files."""
    meta = json.loads(members["json"]) if "json" in members else {}
    row = {"id": key, "source_id": "", "category": "", "instruction": "", "caption": "",
           "reference_image": None, "depth_video": None, **meta}
    for suffix, field in MEMBERS.items():
        row[field] = members.get(suffix)
    return row
