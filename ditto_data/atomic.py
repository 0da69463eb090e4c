"""Atomic file writes: a killed process never leaves a half-written file under a finished name.

Everything is written to a temporary name in the same folder, flushed to disk, then renamed into
place (``os.replace`` is atomic on POSIX within a file system).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_MARK = ".tmp-"  # temporary files carry this in their name; sweep_tmp removes leftovers


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed to ``path``.

    The temporary name keeps the suffix so tools that guess the format from it (FFmpeg) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}{TMP_MARK}", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> None:
    """Deterministic JSON (sorted keys off: callers order their dicts; UTF-8, trailing newline)."""
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def link_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Put ``src`` at ``dst`` atomically: a hard link where possible, else a copy."""
    import shutil

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() and os.path.samefile(src, dst):
        return
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def sweep_tmp(root: str | os.PathLike[str]) -> int:
    """Remove temporary files a killed process left under ``root``; returns how many."""
    n = 0
    for p in Path(root).rglob(f"*{TMP_MARK}*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
