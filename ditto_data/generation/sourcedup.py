"""Near-duplicate *sources*: which videos show the same footage, found among many and explained.

Two steps, so that it scales:

1. **candidates** with faiss: a few key frames of every signature (spread over it; mirrored, and
   inside its borders where it has some, too) go into one similarity search (:func:`~ditto_data.generation.neardup.similar_pairs`: exact
   up to 50,000 key frames, the inverted-file join beyond); two sources that share at least one
   pair of key frames above ``candidate_threshold`` are a candidate pair. Key frames are compared
   by picture, whatever their time, so a re-timed or cut copy is still found.
2. **verification** of each candidate pair by :func:`~ditto_data.generation.timealign.align`: the
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
from .timealign import Alignment, align

log = logging.getLogger(__name__)

#: Calibrated on ``benchmarks/bench_neardup.py`` (see the README): alignment score and coverage.
THRESHOLD = 0.4
MIN_COVERAGE = 0.5
CANDIDATE_THRESHOLD = 0.6
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


def candidate_pairs(signatures: list[VideoSignature], candidate_threshold: float = CANDIDATE_THRESHOLD,
                    keys: int = KEYS_PER_SOURCE, index: str = "auto", seed: int = 0,
                    progress: bool = False) -> list[tuple[int, int]]:
    """Pairs of signatures (i < j) that share a key frame pair above ``candidate_threshold``."""
    vecs, owner = [], []
    for s, sig in enumerate(signatures):
        idx = key_frames(sig, keys)
        for view in (0, 1) if sig.has_borders else (0,):  # the whole frame; the picture inside borders
            v = sig.frames[view][idx].astype(np.float32)
            vecs += [v, flip_thumbs(v)]
            owner += [s] * (2 * len(idx))
    if not vecs:
        return []
    x = np.concatenate(vecs)
    owner_a = np.asarray(owner, dtype=np.int64)
    a, b, _, kind = similar_pairs(x, candidate_threshold, index=index, seed=seed, progress=progress)
    sa, sb = owner_a[a], owner_a[b]
    other = sa != sb
    pairs = np.unique(np.stack([np.minimum(sa, sb)[other], np.maximum(sa, sb)[other]], axis=1), axis=0)
    log.info("source candidates: %d key frames of %d sources with %s: %d candidate pairs", len(x),
             len(signatures), kind, len(pairs))
    return [(int(p), int(q)) for p, q in pairs]


def is_duplicate(al: Alignment | None, threshold: float = THRESHOLD, min_coverage: float = MIN_COVERAGE) -> bool:
    """The decision on one alignment."""
    return al is not None and al.score >= threshold and al.coverage >= min_coverage


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
