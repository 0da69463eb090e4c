"""Comparing what builds and exports wrote: one helper for the tests that compare output trees."""

from __future__ import annotations

from pathlib import Path


def user_files(out: Path) -> dict[str, bytes]:
    """Every file a user of the dataset sees (all but the builder's ``.ditto/`` state) and its bytes:
    the whole pipeline is deterministic, videos included."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.relative_to(out).as_posix().startswith(".ditto/")}
