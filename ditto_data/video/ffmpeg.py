"""Running the ``ffmpeg`` binary: one place that finds it and turns failures into VideoError.

An FFmpeg killed from outside (the OOM killer, a shutdown, Ray ending a dead driver's workers) says
nothing about its video, so it raises :class:`FFmpegKilled`, a :class:`~ditto_data.faults.MachineFault`
like a full disk FFmpeg reports: a stage does not reject the record for it, the build stops, and a
resume does the work again.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence

from ..faults import MachineFault, check_text
from .errors import VideoError


#: Signals another process sends to end FFmpeg; a crash on bad input (SIGSEGV, SIGABRT) is the video's fault.
EXTERNAL_KILLS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
_SIGNALLED = re.compile(r"received signal (2|15|1)\b")


class FFmpegKilled(MachineFault):
    """FFmpeg was ended by a signal from outside; not the video's fault, so not a rejection."""


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
    """Run ``ffmpeg -hide_banner -nostdin -v error ARGS``; on failure raise as :func:`check_exit` says."""
    cmd = [ffmpeg_bin(), "-hide_banner", "-nostdin", "-v", "error", *args]
    proc = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check_exit(proc.returncode, path, what, proc.stderr, reason)
    return proc


def raise_if_killed(returncode: int, path: str | os.PathLike[str] | None, what: str,
                    stderr: bytes | str | None = None) -> None:
    """Raise FFmpegKilled if FFmpeg's exit status (and ``stderr``) says another process ended it."""
    name = None
    if returncode < 0 and -returncode in EXTERNAL_KILLS:
        name = f"ffmpeg was killed by {signal.Signals(-returncode).name}"
    elif returncode == 255 and (not (stderr or "").strip() or _SIGNALLED.search(stderr_tail(stderr, 2))):
        # FFmpeg catches SIGINT/SIGTERM (a Ctrl-C reaches the whole process group) and exits 255,
        # silently at ``-v error``; a real error always says what went wrong
        name = "ffmpeg stopped on a signal"
    if name:
        raise FFmpegKilled(f"{os.fspath(path) if path is not None else 'ffmpeg'}: {what} was cut short: "
                           f"{name} (not the video's fault; run again to redo it)")


def check_exit(returncode: int, path: str | os.PathLike[str] | None, what: str,
               stderr: bytes | str | None, reason: str) -> None:
    """Nothing on a clean exit 0; FFmpegKilled if killed from outside; MachineFault if FFmpeg reports
    a machine error (a full disk: it can exit 0 after failing to finish the file); else
    VideoError(``reason``) naming ``path``."""
    raise_if_killed(returncode, path, what, stderr)
    check_text(stderr, f"{os.fspath(path) if path is not None else 'ffmpeg'}: {what}",
               (os.fspath(path),) if path is not None else ())
    if returncode == 0:
        return
    raise VideoError(path, f"{what} failed (ffmpeg exit {returncode}): {stderr_tail(stderr)}", reason)
