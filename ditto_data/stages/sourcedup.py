"""Near-duplicate *sources*: which videos show the same footage, found among many and explained.

Two steps, so that it scales:

1. **candidates** with faiss: a few key frames of every signature (spread over it; mirrored, and
   inside its borders where it has some, too), and what changes at them, go into similarity
   searches (:func:`~ditto_data.stages.neardup.similar_pairs`: exact up to 50,000 key
   vectors, the inverted-file join beyond); two sources that share at least one
   pair of key frames (or of changes) above ``candidate_threshold`` are a candidate pair. Key
   frames are compared by picture, whatever their time, so a re-timed or cut copy is still found.
2. **verification** of each candidate pair by :func:`~ditto_data.stages.timealign.align`: the
   pair is a near-duplicate when its best alignment's ``score`` reaches ``threshold`` and it covers
   at least ``min_coverage`` of the shorter video (one video a part of the other counts; two videos
   sharing a short stretch do not).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..video.signature import VideoSignature, flip_thumbs
from .neardup import similar_pairs
from .timealign import LAG, MIN_CHANGE, Alignment, align

log = logging.getLogger(__name__)

#: Calibrated on ``benchmarks/bench_neardup.py`` (see the README): alignment score and coverage.
THRESHOLD = 0.4
MIN_COVERAGE = 0.5
CANDIDATE_THRESHOLD = 0.6
#: The aligned frames must also look alike this much (median cosine): changes alone line up by
#: chance between plain, smoothly moving pictures once there are thousands of sources (measured on
#: synthetic drifting blobs); the benchmark's copies all score >= 0.51 (a logo over a dark globe).
MIN_SIMILARITY = 0.45
KEYS_PER_SOURCE = 16


@dataclass
class SourceMatch:
    """Signatures ``a`` < ``b`` (indices) align as ``alignment`` (B's time against A's)."""

    a: int
    b: int
    alignment: Alignment


def key_frames(sig: VideoSignature, k: int = KEYS_PER_SOURCE) -> np.ndarray:
    """Indices of up to ``k`` non-blank frames spread evenly over the signature."""
    live = np.flatnonzero(np.abs(sig.frames[0].astype(np.float32)).sum(1) > 0)
    if len(live) <= k:
        return live
    return live[np.round(np.linspace(0, len(live) - 1, k)).astype(np.int64)]


def _key_vectors(sig: VideoSignature, keys: int) -> tuple[np.ndarray, np.ndarray]:
    """A signature's key vectors for the candidate search: (frames, changes), each with the mirror
    images. Frames in the whole-frame view and, where there are borders, inside them; changes are
    differences of thumbnails :data:`~ditto_data.stages.timealign.LAG` frames apart, which a
    burnt-in logo or caption that dominates a dark picture does not touch."""
    idx = key_frames(sig, keys)
    frames = [sig.frames[v][idx].astype(np.float32) for v in ((0, 1) if sig.has_borders else (0,))]
    raw = sig.frames[0].astype(np.float32) * sig.energy[0].astype(np.float32)[:, None]
    idx = idx[idx >= LAG]
    d = raw[idx] - raw[idx - LAG]
    n = np.linalg.norm(d, axis=1)
    d = d[n >= MIN_CHANGE] / n[n >= MIN_CHANGE, None]
    f = np.concatenate(frames) if frames else np.zeros((0, sig.frames.shape[-1]), np.float32)
    return np.concatenate([f, flip_thumbs(f)]), np.concatenate([d, flip_thumbs(d)])


def candidate_pairs(signatures: list[VideoSignature], candidate_threshold: float = CANDIDATE_THRESHOLD,
                    keys: int = KEYS_PER_SOURCE, index: str = "auto", seed: int = 0,
                    progress: bool = False) -> list[tuple[int, int]]:
    """Pairs of signatures (i < j) that share a key frame pair, or a key change pair, above
    ``candidate_threshold``."""
    found = []
    per_sig = [_key_vectors(sig, keys) for sig in signatures]
    for kind in (0, 1):  # frames, then changes: one search each
        vecs = [v[kind] for v in per_sig]
        owner = np.concatenate([np.full(len(v), s, dtype=np.int64) for s, v in enumerate(vecs)])
        if len(owner) < 2:
            continue
        a, b, _, how = similar_pairs(np.concatenate(vecs), candidate_threshold, index=index, seed=seed,
                                     progress=progress)
        sa, sb = owner[a], owner[b]
        other = sa != sb
        found.append(np.stack([np.minimum(sa, sb)[other], np.maximum(sa, sb)[other]], axis=1))
        log.info("source candidates: %d key %s of %d sources with %s", len(owner), ("frames", "changes")[kind],
                 len(signatures), how)
    if not found:
        return []
    pairs = np.unique(np.concatenate(found), axis=0)
    log.info("source candidates: %d pairs", len(pairs))
    return [(int(p), int(q)) for p, q in pairs]


def is_duplicate(al: Alignment | None, threshold: float = THRESHOLD, min_coverage: float = MIN_COVERAGE) -> bool:
    """The decision on one alignment: score, coverage, and frames that look alike."""
    return (al is not None and al.score >= threshold and al.coverage >= min_coverage
            and not al.similarity < MIN_SIMILARITY)


def find_duplicate_sources(signatures: list[VideoSignature], threshold: float = THRESHOLD,
                           min_coverage: float = MIN_COVERAGE, candidate_threshold: float = CANDIDATE_THRESHOLD,
                           keys: int = KEYS_PER_SOURCE, index: str = "auto", seed: int = 0,
                           progress: bool = False) -> list[SourceMatch]:
    """Every near-duplicate pair of sources, with the alignment that shows it, sorted by (a, b)."""
    out = []
    pairs = candidate_pairs(signatures, candidate_threshold, keys, index, seed, progress)
    with single_blas_thread():
        for i, j in tqdm(pairs, desc="align sources", disable=not progress, leave=False):
            al = align(signatures[i], signatures[j])
            if is_duplicate(al, threshold, min_coverage):
                out.append(SourceMatch(i, j, al))
    return out


def single_blas_thread():
    """A context in which BLAS uses one thread: alignments are many products of ~200x144 matrices,
    which OpenBLAS's thread start-up makes several times slower (6x measured on 2 busy cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
