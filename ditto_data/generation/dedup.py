"""The ``dedup`` stage: of each group of near-duplicate sources, keep one and reject the others.

A global stage (it needs every clip at once). It reads the ``features`` vectors, groups clips whose
cosine similarity reaches ``threshold`` (:func:`~ditto_data.generation.neardup.find_near_duplicates`:
exact for small sets, a faiss-trained inverted file for large ones) and keeps, per group, the clip
with the most to offer: the longest, then the one whose standardized video took the most bits per
second (at the standardizer's constant quality a blurred or blocky re-encode compresses smaller, so
this picks the pristine copy), then the lowest id. Every member gets ``dedup_group`` (the kept id)
and ``dedup_similarity`` (its best similarity in the group); the others are rejected with reason
``near_duplicate`` and ``duplicate_of``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..builders.stage import ConfigError, Resources, Stage, StageConfig, register_stage
from ..schema import CLIP, Record
from .features import load_vector
from .neardup import find_near_duplicates

log = logging.getLogger(__name__)


@dataclass
class DedupConfig(StageConfig):
    """``threshold``: cosine similarity at or above which two clips are near-duplicates (0.95 suits
    the CPU colour-layout features: re-encodes score above 0.97, different scenes below 0.5).
    ``index``: ``auto`` (exact up to 50,000 clips, then ``ivf``), ``flat`` or ``ivf``; ``nlist`` and
    ``nprobe`` tune the inverted file (``nlist`` default about 4 sqrt(N))."""

    threshold: float = 0.95
    index: str = "auto"
    nlist: int | None = None
    nprobe: int = 8

    def validate(self) -> None:
        if not -1.0 <= self.threshold <= 1.0:
            raise ConfigError("threshold", f"is a cosine similarity in [-1, 1], got {self.threshold}")
        if self.index not in ("auto", "flat", "ivf"):
            raise ConfigError("index", f"{self.index!r} is not one of auto, flat, ivf")
        if self.nlist is not None and self.nlist < 1:
            raise ConfigError("nlist", "must be at least 1")
        if self.nprobe < 1:
            raise ConfigError("nprobe", "must be at least 1")


@register_stage
class DedupStage(Stage):
    name = "dedup"
    kinds = (CLIP,)
    batch_size = None  # global: every clip at once
    Config = DedupConfig
    resources = Resources(cpus=2.0)

    def process(self, batch: list[Record]) -> list[Record]:
        cfg = self.config
        vectors, members = [], []
        for r in batch:
            rel = r.artifacts.get("features")
            if not rel:
                r.reject(self.name, "missing_features", f"clip {r.id} has no 'features' artifact: run the "
                         "features stage before dedup")
                continue
            try:
                vectors.append(load_vector(self.ctx.out_dir / rel))
            except (OSError, ValueError) as e:
                self.not_the_machine(e)
                r.reject(self.name, "missing_features", f"clip {r.id}: cannot read features {rel}: {e}")
                continue
            members.append(r)
        if not members:
            return batch
        dims = {len(v) for v in vectors}
        if len(dims) > 1:
            raise RuntimeError(f"features of different lengths {sorted(dims)}: the features stage ran with "
                               "different settings for some clips; rerun it")
        found = find_near_duplicates(np.stack(vectors), cfg.threshold, index=cfg.index, nlist=cfg.nlist,
                                     nprobe=cfg.nprobe, seed=self.ctx.seed, progress=len(members) > 10000)
        for group in found.groups:
            recs = [members[i] for i in group]
            keep = min(recs, key=lambda r: self._priority(r))
            for i, r in zip(group, recs):
                r.fields["dedup_group"] = keep.id
                r.fields["dedup_similarity"] = round(float(found.best[i]), 4)
                if r is not keep:
                    r.reject(self.name, "near_duplicate",
                             f"near-duplicate of {keep.id} (group of {len(group)}; best cosine "
                             f"{found.best[i]:.3f} >= {cfg.threshold})", duplicate_of=keep.id)
        log.info("dedup: %d clips, %d near-duplicate groups, %d rejected", len(members), len(found.groups),
                 sum(len(g) - 1 for g in found.groups))
        return batch

    def _priority(self, r: Record) -> tuple:
        """Sort key, smallest kept: longest, then most bits per second, then lowest id."""
        f = r.fields
        fps = float(f.get("fps") or 0)
        duration = float(f.get("duration") or (int(f.get("num_frames") or 0) / fps if fps else 0.0))
        try:
            size = (self.ctx.out_dir / r.artifacts["video"]).stat().st_size
        except (KeyError, OSError):
            size = 0
        return (-round(duration, 2), -(size / duration if duration > 0 else size), r.id)
