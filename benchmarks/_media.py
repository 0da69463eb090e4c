"""The real clips the benchmarks run on, fetched and cached by ``ditto_data.samples``.

A clip that cannot be had ends the benchmark with one line saying how to get it, not a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ditto_data.samples import MediaUnavailable, fetch  # noqa: E402


def media(names: Iterable[str] | None = None, folder: str | Path | None = None) -> Path:
    """The folder holding the named clips (default: all): ``folder`` when given, else the sample cache."""
    names = list(names) if names is not None else None
    if folder is not None:
        missing = [n for n in names or [] if not (Path(folder) / n).is_file()]
        if missing:
            sys.exit(f"error: {folder} lacks {', '.join(missing)}; leave out the folder option to fetch them")
        return Path(folder)
    try:
        return fetch(names)
    except MediaUnavailable as e:
        sys.exit(f"error: {e}")
