"""The one exception of ``ditto_data.video``: its message always names the file and what failed."""

from __future__ import annotations

import os


class VideoError(Exception):
    """A video could not be probed, decoded or encoded; ``path`` and ``reason`` say which and why.

    ``reason`` is machine-readable (``not_found``, ``empty_file``, ``not_a_video``, ``no_video_stream``,
    ``decode_error``, ``bad_index``, ``encode_error``, ``bad_frames``) so callers can reject records
    with it; the message is for people.
    """

    def __init__(self, path: str | os.PathLike[str] | None, message: str, reason: str = "error"):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)
