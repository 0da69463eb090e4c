"""Sources: the input folder becomes input records, one per candidate video file.

An input's id is the hash of its bytes, so renaming or moving the folder redoes nothing, and a
byte-identical copy under another name is rejected as ``duplicate_file`` right here. A file that
cannot be read is rejected with the OS's reason; nothing about one file stops the scan.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..schema import INPUT, Record, content_id, file_id

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .avi .mkv .webm .mpg .mpeg .m2v .ts .mts .m2ts .flv .wmv .ogv .3gp .gif .y4m".split()
)
STAGE = "sources"


class NoVideosError(ValueError):
    """The input folder holds no file with a video suffix: there is nothing to build from."""


def find_videos(input_dir: str | Path) -> list[Path]:
    """Every file with a video suffix under ``input_dir`` (hidden folders left out), sorted."""
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder does not exist or is not a folder: {root}")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and not _hidden(p, root))


def scan_inputs(input_dir: str | Path) -> list[Record]:
    """Input records for every file with a video suffix under ``input_dir``, sorted by path.

    Raises :class:`NoVideosError` when there is none: an empty build is a wrong ``--input``, not a dataset.
    """
    root = Path(input_dir)
    paths = find_videos(root)
    if not paths:
        raise NoVideosError(f"{root} holds no video file (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
    records: list[Record] = []
    seen: dict[str, str] = {}
    for p in paths:
        rel = p.relative_to(root).as_posix()
        fields = {"path": str(p.resolve()), "relpath": rel}
        try:
            if not p.is_file():
                raise OSError(0, "not a regular file (a folder, or a link to nothing)")
            rid = file_id(str(p))
        except OSError as e:
            rec = Record(id=content_id("unreadable", rel), kind=INPUT, fields=fields)
            records.append(rec.reject(STAGE, "unreadable", f"{rel}: cannot read: {e.strerror or e}"))
            continue
        rec = Record(id=rid, kind=INPUT, fields=fields)
        if rid in seen:
            rec.id = content_id(rid, rel)  # ids stay unique in the ledger
            rec.reject(STAGE, "duplicate_file", f"{rel} has the same bytes as {seen[rid]}", duplicate_of=rid)
        else:
            seen[rid] = rel
        records.append(rec)
    log.info("found %d candidate files under %s", len(records), root)
    return records


def _hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(root).parts)
