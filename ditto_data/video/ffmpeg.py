"""Running the ``ffmpeg`` binary: one place that finds it and turns failures into VideoError."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence

from .errors import VideoError


def ffmpeg_bin() -> str:
    """Path of ``ffmpeg`` (``DITTO_FFMPEG`` overrides); VideoError if it is not installed."""
    exe = os.environ.get("DITTO_FFMPEG") or shutil.which("ffmpeg")
    if not exe:
        raise VideoError(None, "the ffmpeg binary is not installed (apt-get install ffmpeg)", "ffmpeg_missing")
    return exe


def stderr_tail(stderr: bytes | str | None, lines: int = 8) -> str:
    """The last ``lines`` of FFmpeg's messages, without the object addresses it prints
    (``[h264 @ 0x55...]``), so a message is the same on every run and the ledger stays deterministic."""
    if not stderr:
        return "(no output)"
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    return "\n".join(re.sub(r" @ 0x[0-9a-fA-F]+", "", text).strip().splitlines()[-lines:])


def run_ffmpeg(args: Sequence[str], path: str | os.PathLike[str] | None, what: str,
               reason: str = "encode_error", input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run ``ffmpeg -hide_banner -nostdin -v error ARGS``; on failure raise VideoError naming ``path``."""
    cmd = [ffmpeg_bin(), "-hide_banner", "-nostdin", "-v", "error", *args]
    proc = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise VideoError(path, f"{what} failed (ffmpeg exit {proc.returncode}): {stderr_tail(proc.stderr)}", reason)
    return proc
