"""The machine's fault or the sample's? One classifier, so a full disk is never a bad video.

A stage rejects a record when the *sample* is bad (not a video, too short, damaged frames); the
rejection goes to the ledger and a rerun reuses it. An error of the *machine* (a full disk, an I/O
error, too many open files, no memory, a read-only or no-longer-writable output folder, a child
process killed from outside) says nothing about the sample: recording it as a rejection would lose
a good input for good. Such errors become :class:`MachineFault`, which stops the build, reaches the
ledger never, and leaves a rerun (after the cause is gone) to do the work as if nothing happened.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

#: errnos that are always the machine's fault, whatever file they are about.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM,
                            errno.EROFS})
#: errnos that are the machine's fault when they are about the build's own output folder.
OUTPUT_ERRNOS = frozenset({errno.EACCES, errno.EPERM})
#: What FFmpeg prints for the machine's errnos (:func:`check_text`). EIO and ENOMEM are left out on
#: purpose: a damaged or crafted video makes FFmpeg report them too, and one bad sample must not stop
#: a build. A permission error while FFmpeg runs is the environment's: the input was readable when
#: it was hashed, and the output is ours.
MACHINE_TEXTS = tuple(os.strerror(e) for e in (errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.EROFS,
                                                errno.EACCES, errno.EPERM))


_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")


class MachineFault(Exception):
    """The machine failed, not the sample: stop, record nothing, and let a rerun redo the work."""


def _inside(path: str | os.PathLike[str] | bytes | None, root: Path | None) -> bool:
    if path is None or root is None:
        return False
    try:
        p = os.path.abspath(os.fsdecode(path))
        r = os.path.abspath(root)
    except (TypeError, ValueError):
        return False
    return p == r or p.startswith(r.rstrip(os.sep) + os.sep)


def machine_fault(exc: BaseException, out_dir: str | os.PathLike[str] | None = None) -> str | None:
    """Why ``exc`` (or an exception it was raised from) is the machine's fault, or None.

    ``out_dir``: the build's output folder; a permission error about a file under it means the
    folder's permissions changed under the build, not that a sample is bad.
    """
    root = Path(out_dir) if out_dir is not None else None
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, MachineFault):
            return str(e)
        if type(e).__module__.startswith("av."):
            pass  # PyAV's errors (even its MemoryError, its EIO) come from the data it decodes
        elif isinstance(e, MemoryError):
            return "out of memory"
        elif isinstance(e, OSError) and e.errno is not None:
            if e.errno in MACHINE_ERRNOS:
                return f"{os.strerror(e.errno)}{_name(e)}"
            if e.errno in OUTPUT_ERRNOS and (_inside(e.filename, root) or _inside(e.filename2, root)):
                return f"{os.strerror(e.errno)} on the output folder{_name(e)}"
        elif isinstance(e, OSError) and e.errno is None and _SHORT_WRITE.search(str(e)):
            return f"short write, the disk is full ({e})"  # numpy's tofile/save on a full disk
        # Messages are not searched for "No space left on device": they hold file names, and a file
        # may be named so. FFmpeg's messages are checked where they come out (check_text).
        # Ray hands a worker's exception back wrapped, with the original as ``cause``
        e = e.__cause__ or e.__context__ or getattr(e, "cause", None)
    return None


def raise_if_machine_fault(exc: BaseException, out_dir: str | os.PathLike[str] | None = None) -> None:
    """Raise :class:`MachineFault` (from ``exc``) if ``exc`` is the machine's fault; else return."""
    why = machine_fault(exc, out_dir)
    if why is not None and not isinstance(exc, MachineFault):
        raise MachineFault(why if isinstance(exc, OSError) else f"{why}: {exc}") from exc
    if why is not None:
        raise exc


#: Free space under which a file that was "written fine" but does not read back is blamed on the disk.
LOW_SPACE = 64 << 20


def low_space(folder: str | os.PathLike[str], need: int = 0) -> bool:
    """True when the file system of ``folder`` has less than ``need`` + :data:`LOW_SPACE` bytes free."""
    import shutil

    try:
        return shutil.disk_usage(folder).free < need + LOW_SPACE
    except OSError:
        return True


def check_text(text: str | bytes | None, what: str, names: tuple[str, ...] = ()) -> None:
    """Raise MachineFault if a child's messages (FFmpeg's stderr) report a machine error. ``names``
    (the input file's) are taken out first: a file named "No space left on device.mp4" is data."""
    if not text:
        return
    s = text.decode("utf-8", "surrogateescape") if isinstance(text, bytes) else text
    for n in names:
        s = s.replace(n, "")
    for t in MACHINE_TEXTS:
        if t in s:
            raise MachineFault(f"{what}: {t} (the machine's fault, not the video's)")


def _name(e: OSError) -> str:
    return f": {display_name(e.filename)}" if e.filename is not None else ""


def display_name(name: str | os.PathLike[str] | bytes) -> str:
    """A file name as printable text: bytes that are not UTF-8 shown as ``\\xNN`` (any name can be told)."""
    if isinstance(name, bytes):
        return name.decode("utf-8", "backslashreplace")
    s = os.fspath(name)
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name byte gives
        return s.encode("utf-8", "backslashreplace").decode("ascii")
