"""Cutting records into a stage's batches, giving each output back to its input, and a stage's
statistics: what the chain runner (``chain.py``) and the executors share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..schema import Record

if TYPE_CHECKING:
    from .stage import Stage


def batches(records: list[Record], stage: type[Stage]) -> list[list[Record]]:
    """``records`` cut into ``stage``'s batches: ``batch_size`` at a time, or all at once for a global stage."""
    if stage.is_global:
        return [records] if records else []
    size = stage.batch_size
    return [records[i:i + size] for i in range(0, len(records), size)]


def group_outputs(inputs: list[Record], outputs: list[Record], stage: str) -> dict[str, list[Record]]:
    """Assign each output to its input (same id, or child by ``parent_id``); every input needs one."""
    ids = {r.id for r in inputs}
    grouped: dict[str, list[Record]] = {r.id: [] for r in inputs}
    for o in outputs:
        key = o.id if o.id in ids else o.parent_id
        if key not in ids:
            raise RuntimeError(f"stage {stage!r} returned record {o.id!r} that belongs to no input of its batch")
        grouped[key].append(o)
    missing = [k for k, v in grouped.items() if not v]
    if missing:
        raise RuntimeError(f"stage {stage!r} dropped records {missing[:5]}: return them, rejected if need be")
    return grouped


@dataclass
class StageStats:
    """What one stage did in a build, or on one row of a chain (the executors send these back)."""

    name: str
    fingerprint: str
    processed: int = 0  # records this run processed
    reused: int = 0  # records found finished in the ledger
    rejected: int = 0
    seconds: float = 0.0

    def add(self, other: StageStats) -> None:
        """Count ``other`` in: the same stage's work on other records (another row, another worker)."""
        self.processed += other.processed
        self.reused += other.reused
        self.rejected += other.rejected
        self.seconds += other.seconds

    @property
    def per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0
