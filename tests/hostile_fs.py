"""A small file system that really fills up, for the hostile-world tests (a tmpfs; needs root)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest


@pytest.fixture()
def small_disk(tmp_path):
    """A 4 MB tmpfs (``small_disk.dir``), and ``small_disk(n)``: fill it with a file so that about
    ``n`` bytes stay free; returns that file (unlink it to free the space). Skipped where mounting
    is not permitted, with the reason."""
    d = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {r.stderr.strip()}")

    def leave(n: int) -> Path:
        st = os.statvfs(d)
        filler = d / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - n))
        return filler

    leave.dir = d
    try:
        yield leave
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)
