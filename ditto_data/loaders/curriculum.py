"""The modality curriculum of Ditto (its MCL): the edited reference frame is always given during a
warm-up, then the probability of giving it is annealed to zero, so the model learns to edit from the
instruction alone.

Training loops call :meth:`ModalityCurriculum.probability` (or :meth:`sample`) per step; the clip
datasets take the curriculum and a step (``set_step``) and attach or blank the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCHEDULES = ("linear", "cosine")


@dataclass(frozen=True)
class ModalityCurriculum:
    """P(reference given) = 1 for ``step < warmup_steps``, annealed to 0 over ``anneal_steps``, then 0."""

    warmup_steps: int
    anneal_steps: int
    schedule: str = "linear"

    def __post_init__(self) -> None:
        if self.warmup_steps < 0 or self.anneal_steps < 0:
            raise ValueError("warmup_steps and anneal_steps must be >= 0")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")

    def probability(self, step: int) -> float:
        if step < self.warmup_steps:
            return 1.0
        if self.anneal_steps == 0:
            return 0.0
        t = (step - self.warmup_steps) / self.anneal_steps
        if t >= 1.0:
            return 0.0
        return 1.0 - t if self.schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))

    def sample(self, step: int, rng: np.random.Generator | None = None) -> bool:
        """Whether to give the reference at ``step`` (always draws, so rng streams stay aligned)."""
        u = (rng or np.random.default_rng()).random()
        return bool(u < self.probability(step))
