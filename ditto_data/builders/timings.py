"""Measured seconds per stage, kept with the build's state so a cost plan can use real figures.

After each build the runner appends, for every stage that processed records, one entry to
``OUT/.ditto/stage_times.json``: the stage, its own config hash (the same config gives the same
hash in another build), backend, records processed, wall seconds, the GPUs one worker holds and the
executor. ``ditto-data plan --out OUT`` turns these into GPU-seconds per record.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .. import atomic, layout

FILE = "stage_times.json"


def path(out_dir: str | Path) -> Path:
    return layout.state_dir(out_dir) / FILE


def load(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every recorded stage run of the build in ``out_dir`` (empty when none)."""
    p = path(out_dir)
    if not p.is_file():
        return []
    return list(json.loads(p.read_text(encoding="utf-8")))


def record(out_dir: str | Path, entries: list[dict[str, Any]]) -> None:
    """Append entries (those with processed records) atomically: a killed build leaves the old file."""
    entries = [dict(e, at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())) for e in entries if e.get("processed")]
    if entries:
        atomic.write_json(path(out_dir), load(out_dir) + entries)


def gpu_seconds_per_record(entries: list[dict[str, Any]], stage: str, config_hash: str) -> float | None:
    """Measured GPU-seconds per record of ``stage`` under ``config_hash`` (wall seconds x GPUs of its
    one worker, over records processed), or None when no run of that config has been recorded.

    With the local executor a GPU stage runs one worker, so this is its GPU time. Under Ray a pool of
    k workers runs side by side, so the figure is a lower bound (1/k of the GPU time); the entries
    keep ``executor`` so a caller can say so."""
    runs = [e for e in entries if e["stage"] == stage and e["config_hash"] == config_hash and e["processed"] > 0]
    if not runs:
        return None
    return sum(e["seconds"] * max(e.get("gpus", 0.0), 0.0) for e in runs) / sum(e["processed"] for e in runs)
