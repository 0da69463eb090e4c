"""Sources: the input folder becomes input records, one per candidate video file.

An input's id is the hash of its bytes, so renaming or moving the folder redoes nothing, and a
byte-identical copy under another name is rejected as ``duplicate_file`` right here. Nothing about
one name stops the scan: a file that cannot be read, a link to nothing or to itself, a folder that
cannot be listed or a symlinked folder that loops back are each rejected with a reason naming them
(names that are not valid UTF-8 included: :func:`ditto_data.faults.display_name`). Symlinked
folders are followed, each real folder once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..faults import display_name, raise_if_machine_fault
from ..schema import INPUT, Record, content_id, file_id

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .avi .mkv .webm .mpg .mpeg .m2v .ts .mts .m2ts .flv .wmv .ogv .3gp .gif .y4m".split()
)
STAGE = "sources"


class NoVideosError(ValueError):
    """The input folder holds no file with a video suffix: there is nothing to build from."""


def walk_inputs(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """(video files under ``root``, [(relative name, why it was not searched)]), following symlinked
    folders, each real folder once (a link back up the tree is reported, not followed forever)."""
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()

    def visit(d: Path) -> None:
        rel = d.relative_to(root).as_posix()
        try:
            st = d.stat()
        except (OSError, RuntimeError) as e:
            raise_if_machine_fault(e)
            problems.append((rel, f"folder cannot be opened: {getattr(e, 'strerror', None) or e}"))
            return
        if (st.st_dev, st.st_ino) in seen:
            problems.append((rel, "symlinked folder loops back to a folder already searched; not followed again"))
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            raise_if_machine_fault(e)
            problems.append((rel or ".", f"folder cannot be listed: {e.strerror or e}"))
            return
        for e in entries:
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            try:
                is_dir = e.is_dir()  # follows links; a link loop or a dangling link is not a folder
            except OSError:
                is_dir = False
            if is_dir:
                visit(p)
            elif p.suffix.lower() in VIDEO_SUFFIXES:
                files.append(p)

    visit(root)
    return sorted(files), problems


def scan_inputs(input_dir: str | Path) -> list[Record]:
    """Input records for every file with a video suffix under ``input_dir``, sorted by path.

    Raises :class:`NoVideosError` when there is none and nothing unsearchable: an empty build is a wrong
    ``--input``, not a dataset.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder does not exist or is not a folder: {root}")
    paths, problems = walk_inputs(root)
    if not paths and not problems:  # unsearchable entries are reported as rejections instead
        raise NoVideosError(f"{root} holds no video file (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
    records: list[Record] = []
    for rel, why in problems:
        log.warning("%s: %s", display_name(root / rel), why)
        rec = Record(id=content_id("unreadable", rel), kind=INPUT, fields={"path": str(root / rel), "relpath": rel})
        records.append(rec.reject(STAGE, "unreadable", f"{display_name(rel)}: {why}"))
    seen: dict[str, str] = {}
    for p in paths:
        rel = p.relative_to(root).as_posix()
        fields = {"path": str(p.absolute()), "relpath": rel}
        try:
            fields["path"] = str(p.resolve(strict=True))
            if not p.is_file():
                raise OSError(0, "not a regular file")
            rid = file_id(fields["path"])
        except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop, on Python < 3.13
            raise_if_machine_fault(e)
            why = getattr(e, "strerror", None) or str(e) or type(e).__name__
            rec = Record(id=content_id("unreadable", rel), kind=INPUT, fields=fields)
            records.append(rec.reject(STAGE, "unreadable", f"{display_name(rel)}: cannot read: {why}"))
            continue
        rec = Record(id=rid, kind=INPUT, fields=fields)
        if rid in seen:
            rec.id = content_id(rid, rel)  # ids stay unique in the ledger
            rec.reject(STAGE, "duplicate_file", f"{display_name(rel)} has the same bytes as {display_name(seen[rid])}",
                       duplicate_of=rid)
        else:
            seen[rid] = rel
        records.append(rec)
    log.info("found %d candidate files under %s", len(records), root)
    return records
