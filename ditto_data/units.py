"""Human sizes (``2GB``, ``500MB``, ``64MiB``) for archive parts and shards."""

from __future__ import annotations

import re

_UNITS = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
          "T": 10**12, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip


def parse_size(size: str | int) -> int:
    """``"2GB"`` -> 2_000_000_000, ``"512MiB"`` -> 536_870_912, ``1000`` -> 1000."""
    if isinstance(size, int):
        n = size
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(size))
        if not m or m[2].upper() not in _UNITS:
            raise ValueError(f"bad size {size!r}: use a number with an optional unit (KB, MB, GB, MiB, GiB)")
        n = int(float(m[1]) * _UNITS[m[2].upper()])
    if n <= 0:
        raise ValueError(f"bad size {size!r}: must be positive")
    return n
