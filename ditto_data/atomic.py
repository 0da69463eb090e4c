"""Atomic file writes: a killed process never leaves a half-written file under a finished name.

Everything is written to a temporary name in the same folder, checked (``verify``), flushed to
disk, then renamed into place (``os.replace`` is atomic on POSIX within a file system). Files get
the mode a plain ``open`` would give them (0666 less the umask), not ``mkstemp``'s private 0600,
so shared storage and Ray nodes running as other users can read them. :func:`exclusive` is the OS
lock that keeps two processes from working in one folder at once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TMP_MARK = ".tmp-"  # temporary files carry this in their name; sweep_tmp removes leftovers


def umask() -> int:
    """The process's umask, read without changing it (``os.umask`` would, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], verify: Callable[[Path], object] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success ``verify(tmp)`` runs (it raises if the
    file is not what was meant: an FFmpeg that exits 0 on a full disk), then the file is fsynced
    and renamed to ``path``.

    The temporary name keeps the suffix so tools that guess the format from it (FFmpeg) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}{TMP_MARK}", suffix=path.suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~umask())  # a caller may still chmod it (extract keeps the member's x bit)
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if verify is not None:
            verify(tmp_path)
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
    """UTF-8 text; a lone surrogate (from a file name that is not UTF-8) is written as ``\\udcNN``
    rather than making the whole file unwritable."""
    write_bytes(path, text.encode("utf-8", "backslashreplace"))


def json_str(obj: Any, indent: int | None = None) -> str:
    """JSON that can hold any file name, as valid Unicode: a name that is not valid UTF-8 reaches
    Python with lone surrogates (``surrogateescape``), which UTF-8 (and Arrow) cannot take; they are
    written as JSON's ``\\udcNN`` escapes, so ``json.loads`` gives back the very same string (and
    ``os.fsencode`` the name's bytes). Everything else stays as ``ensure_ascii=False`` writes it."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def json_bytes(obj: Any, indent: int | None = 2) -> bytes:
    """:func:`json_str` as UTF-8 bytes."""
    return json_str(obj, indent).encode("utf-8")


def write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> None:
    """Deterministic JSON (sorted keys off: callers order their dicts; UTF-8, trailing newline)."""
    write_bytes(path, json_bytes(obj, indent) + b"\n")


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


class Busy(RuntimeError):
    """Another process holds the lock of a folder (a second build on the same output)."""


@contextlib.contextmanager
def exclusive(lock_file: str | os.PathLike[str], what: str, wait: bool = False) -> Iterator[None]:
    """Hold an OS lock (``flock``) on ``lock_file`` for the block: one process at a time.

    The kernel drops the lock when its holder dies, so a killed run never leaves a stale lock.
    ``wait=False`` raises :class:`Busy` naming the holder's pid when another process has it.
    """
    import fcntl

    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise Busy(f"{what} is in use by another process (pid {holder}); wait for it to finish, "
                       f"or use another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # no pid left behind: a finished folder is the same whoever built it
    finally:
        os.close(fd)  # closing the descriptor releases the lock


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
