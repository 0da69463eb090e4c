"""What ``probe`` and the decoders read: a path, a video file's bytes, or a binary file object.

Bytes come straight from a WebDataset shard or an HTTP response without touching the disk. A file
object is read into memory once, from where it stands: a decoder may open the data twice (its
backend, then PyAV for frames the backend fails on), and two readers cannot share one file position.
Pass a path for large files.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO, Union

from .errors import VideoError

VideoSource = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]


def check_file(path: str | os.PathLike[str]) -> Path:
    """Raise VideoError for a path that is missing, not a file, or empty; return it as a Path."""
    p = Path(path)
    if not p.exists():
        raise VideoError(p, "no such file", "not_found")
    if not p.is_file():
        raise VideoError(p, "not a regular file", "not_found")
    if p.stat().st_size == 0:
        raise VideoError(p, "file is empty (zero bytes)", "empty_file")
    return p


def resolve_source(source: VideoSource, name: str | None = None) -> tuple[Path | bytes, str]:
    """(a checked path or the data's bytes, the name errors give): ``name`` labels data that has none,
    e.g. ``shard-000.tar:key.source.mp4``."""
    if isinstance(source, (str, os.PathLike)):
        p = check_file(source)
        return p, name or str(p)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
        name = name or (source.name if isinstance(getattr(source, "name", None), str) else None)
    else:
        raise TypeError(f"a video source is a path, bytes or a binary file object, not {type(source).__name__}")
    label = name or f"<{len(data)} bytes of video>"
    if not data:
        raise VideoError(label, "file is empty (zero bytes)", "empty_file")
    return data, label


def open_binary(source: Path | bytes) -> BinaryIO:
    """A fresh binary reader over a resolved source."""
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
