"""The ``dedup`` stage: near-duplicate sources and clips are rejected, keeping one of each kind.

A global stage (it needs every clip at once). Two passes:

1. **Sources.** Each clip carries its source's signature (made by ``standardize``). Sources whose
   signatures align in time (:func:`~ditto_data.stages.sourcedup.find_duplicate_sources`:
   faiss candidates, then frame-by-frame alignment under a speed factor and offset) are
   near-duplicates: a re-encode, a re-timed copy, a part of the other. Sources are taken best first
   (most clips, then most pixels, then fewest blank frames, then lowest id); one that duplicates a
   source already kept has *all* its clips rejected, each pointing to the kept source's clip that
   shows the same moment, whether or not its own windows line up with that source's windows.
2. **Clips.** Among the clips left, those whose ``features`` vectors reach ``threshold`` cosine
   (:func:`~ditto_data.stages.neardup.find_near_duplicates`) are grouped, and each group keeps
   the clip with the most to offer: the longest, then the most bits per second (at the
   standardizer's constant quality a blurred or blocky re-encode compresses smaller), then the
   lowest id. This is where the DINOv2 backend's semantic features act.

Every rejection has reason ``near_duplicate`` and records ``duplicate_of`` (a kept clip id),
``dedup_score`` and ``dedup_evidence`` (which frames of which video aligned with which, at which
speed; or the cosine of the clip vectors); the card's rejection table shows them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..builders.stage import ConfigError, Resources, Stage, StageConfig, register_stage
from ..schema import CLIP, Record
from ..video.signature import VideoSignature
from . import sourcedup
from .features import load_vector
from .neardup import find_near_duplicates
from .timealign import Alignment

log = logging.getLogger(__name__)

#: Clip-vector cosine thresholds per features backend. cpu: calibrated on
#: benchmarks/bench_neardup.py (re-encodes of one clip score above 0.97, other scenes below 0.5).
#: dinov2: NOT calibrated here (no DINOv2 weights can be fetched on the machines this was built on;
#: a tiny random model says nothing): a conservative value, above the 0.90-0.93 cosine commonly
#: used for semantic near-duplicates, so that only very close clips merge; run the benchmark where
#: the weights are cached to calibrate it.
CLIP_THRESHOLDS = {"cpu": 0.95, "dinov2": 0.95}
DINOV2_THRESHOLD = CLIP_THRESHOLDS["dinov2"]


@dataclass
class DedupConfig(StageConfig):
    """``threshold``: cosine of clip ``features`` vectors at or above which two clips are
    near-duplicates (default: the features backend's, :data:`CLIP_THRESHOLDS`).
    ``sources``: compare whole sources by their signatures first; ``source_threshold`` (alignment
    score), ``min_coverage`` (share of the shorter source that must align) and
    ``candidate_threshold`` (key-frame cosine that makes a candidate pair) are calibrated on
    ``benchmarks/bench_neardup.py``.
    ``index``: ``auto`` (exact up to 50,000 vectors, then ``ivf``), ``flat`` or ``ivf``; ``nlist`` and
    ``nprobe`` tune the inverted file (``nlist`` default about 4 sqrt(N))."""

    threshold: float | None = None
    sources: bool = True
    source_threshold: float = sourcedup.THRESHOLD
    min_coverage: float = sourcedup.MIN_COVERAGE
    candidate_threshold: float = sourcedup.CANDIDATE_THRESHOLD
    index: str = "auto"
    nlist: int | None = None
    nprobe: int = 8

    def validate(self) -> None:
        if self.threshold is not None and not -1.0 <= self.threshold <= 1.0:
            raise ConfigError("threshold", f"is a cosine similarity in [-1, 1], got {self.threshold}")
        for name in ("source_threshold", "candidate_threshold"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(name, f"must be in [-1, 1], got {getattr(self, name)}")
        if not 0.0 < self.min_coverage <= 1.0:
            raise ConfigError("min_coverage", f"is a share in (0, 1], got {self.min_coverage}")
        if self.index not in ("auto", "flat", "ivf"):
            raise ConfigError("index", f"{self.index!r} is not one of auto, flat, ivf")
        if self.nlist is not None and self.nlist < 1:
            raise ConfigError("nlist", "must be at least 1")
        if self.nprobe < 1:
            raise ConfigError("nprobe", "must be at least 1")


@register_stage
class DedupStage(Stage):
    name = "dedup"
    requires = frozenset({"clip.features"})
    produces = frozenset({"clip.dedup_group"})
    kinds = (CLIP,)
    is_global = True  # every clip at once
    Config = DedupConfig
    resources = Resources(cpus=2.0)

    def process(self, batch: list[Record]) -> list[Record]:
        cfg = self.config
        members = []
        for r in batch:
            rel = r.artifacts.get("features")
            if not rel:
                r.reject(self.name, "missing_features", f"clip {r.id} has no 'features' artifact: run the "
                         "features stage before dedup")
                continue
            members.append(r)
        if cfg.sources:
            self._dedup_sources([r for r in members if r.ok])
        vectors, kept = [], []
        for r in members:
            if not r.ok:
                continue
            rel = r.artifacts["features"]
            try:
                vectors.append(load_vector(self.ctx.out_dir / rel))
            except (OSError, ValueError) as e:
                self.not_the_machine(e)
                r.reject(self.name, "missing_features", f"clip {r.id}: cannot read features {rel}: {e}")
                continue
            kept.append(r)
        if kept:
            self._dedup_clips(kept, vectors)
        return batch

    def _dedup_clips(self, members: list[Record], vectors: list[np.ndarray]) -> None:
        cfg = self.config
        dims = {len(v) for v in vectors}
        if len(dims) > 1:
            raise RuntimeError(f"features of different lengths {sorted(dims)}: the features stage ran with "
                               "different settings for some clips; rerun it")
        backend = (members[0].provenance.get("features") or {}).get("backend") or "cpu"
        threshold = cfg.threshold if cfg.threshold is not None else CLIP_THRESHOLDS.get(backend, 0.95)
        found = find_near_duplicates(np.stack(vectors), threshold, index=cfg.index, nlist=cfg.nlist,
                                     nprobe=cfg.nprobe, seed=self.ctx.seed, progress=len(members) > 10000)
        for group in found.groups:
            recs = [members[i] for i in group]
            keep = min(recs, key=lambda r: self._priority(r))
            for i, r in zip(group, recs):
                r.fields["dedup_group"] = keep.id
                r.fields["dedup_similarity"] = round(float(found.best[i]), 4)
                if r is not keep:
                    evidence = (f"{backend} clip vectors: best cosine {found.best[i]:.3f} >= {threshold} "
                                f"in a group of {len(group)}")
                    r.reject(self.name, "near_duplicate", f"near-duplicate of clip {keep.id} ({evidence})",
                             duplicate_of=keep.id, dedup_score=round(float(found.best[i]), 4),
                             dedup_evidence=evidence)
        log.info("dedup: %d clips, %d near-duplicate clip groups, %d rejected", len(members), len(found.groups),
                 sum(len(g) - 1 for g in found.groups))

    def _dedup_sources(self, members: list[Record]) -> None:
        """Reject every clip of a source that duplicates a better source (see the module docstring)."""
        cfg = self.config
        by_source: dict[str, list[Record]] = {}
        for r in members:
            by_source.setdefault(r.parent_id or r.id, []).append(r)
        ids, sigs = [], []
        for sid in sorted(by_source):
            rel = by_source[sid][0].artifacts.get("signature")
            if not rel:
                continue  # made by an older standardize: clip vectors still apply
            try:
                sigs.append(VideoSignature.load(self.ctx.out_dir / rel))
            except (OSError, ValueError, KeyError) as e:
                log.warning("source %s: cannot read its signature %s (%s): compared by clip vectors only", sid,
                            rel, e)
                continue
            ids.append(sid)
        if len(sigs) < 2:
            return
        matches = sourcedup.find_duplicate_sources(sigs, cfg.source_threshold, cfg.min_coverage,
                                                   cfg.candidate_threshold, index=cfg.index, seed=self.ctx.seed,
                                                   progress=len(sigs) > 10000)
        edges: dict[int, list[sourcedup.SourceMatch]] = {}
        for m in matches:
            edges.setdefault(m.a, []).append(m)
            edges.setdefault(m.b, []).append(m)
        order = sorted(range(len(ids)), key=lambda k: self._source_priority(by_source[ids[k]], sigs[k], ids[k]))
        kept: set[int] = set()
        dropped = 0
        for k in order:
            dups = [m for m in edges.get(k, []) if (m.b if m.a == k else m.a) in kept]
            if not dups:
                kept.add(k)
                continue
            m = max(dups, key=lambda m: (m.alignment.score, -min(m.a, m.b)))
            other = m.b if m.a == k else m.a
            self._reject_source(by_source[ids[k]], by_source[ids[other]], m.alignment, mine_is_a=m.a == k)
            dropped += 1
        log.info("dedup: %d sources with signatures, %d near-duplicate pairs, %d sources rejected", len(ids),
                 len(matches), dropped)

    def _reject_source(self, clips: list[Record], kept_clips: list[Record], al: Alignment, mine_is_a: bool) -> None:
        kept_clips = sorted(kept_clips, key=lambda r: (int(r.fields.get("start_frame") or 0), r.id))
        al = al.inverted() if mine_is_a else al  # A: the kept source, B: this one
        evidence = al.describe(_name(kept_clips[0]), _name(clips[0]))
        theirs = _name(kept_clips[0])
        for r in clips:
            lo, hi = _span(r)
            lo, hi = (lo - al.offset) / al.rate, (hi - al.offset) / al.rate  # in the kept source's time
            target = max(kept_clips, key=lambda c: (_overlap((lo, hi), _span(c)), -_span(c)[0]))
            r.fields["dedup_group"] = target.id
            r.reject(self.name, "near_duplicate",
                     f"near-duplicate of source {theirs} (clip {target.id}): {evidence}; score "
                     f"{al.score:.3f} >= {self.config.source_threshold}",
                     duplicate_of=target.id, duplicate_of_source=target.parent_id, dedup_score=round(al.score, 4),
                     dedup_evidence=evidence, dedup_alignment=al.to_dict())

    @staticmethod
    def _source_priority(clips: list[Record], sig: VideoSignature, sid: str) -> tuple:
        """Sort key of a source, smallest kept: most clips, most pixels, fewest blank frames, lowest id."""
        f = clips[0].fields
        pixels = int(f.get("input_width") or 0) * int(f.get("input_height") or 0)
        live = float(np.mean(np.abs(sig.frames[0].astype(np.float32)).sum(1) > 0)) if sig.num_frames else 0.0
        return (-len(clips), -pixels, -round(live, 3), sid)

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


def _name(r: Record) -> str:
    return str(r.fields.get("input_relpath") or r.parent_id or r.id)


def _span(r: Record) -> tuple[float, float]:
    """A clip's seconds in its source: (start, end)."""
    fps = float(r.fields.get("fps") or 20.0)
    start = int(r.fields.get("start_frame") or 0) / fps
    return start, start + int(r.fields.get("num_frames") or 0) / fps


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
