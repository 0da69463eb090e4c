"""Compare two video signatures under a time alignment: which frames of A show which frames of B.

A copy whose clock runs at another rate (a wrong frame-rate header, a speed change), starts later
(a sub-clip) or drops frames (a frame-rate conversion) shows A's pictures at B's times
``b = offset + rate * a``. :func:`align` finds that line by Hough voting: every frame of A votes
for the frames of B it resembles most, each vote gives one offset per candidate rate, and the
(rate, offset) cell with the most votes wins; the best few cells are refined and checked frame by
frame along their line. The line's evidence is robust to damaged or blanked frames (medians), and
a horizontally flipped copy is tried as well.

Two kinds of evidence must agree along the line (see :mod:`ditto_data.video.signature`): the
frames look alike (``similarity``), and what changes in A changes the same way in B
(``changes``). The second is what separates a copy from another moment of the same static setup,
whose frames all look alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..video.signature import VIEWS, VideoSignature, flip_thumbs

#: Candidate clock rates of B against A: 0.4x to 2.5x, 1% apart, and exactly 1.
RATES = np.unique(np.concatenate([np.exp(np.linspace(np.log(0.4), np.log(2.5), 185)), [1.0]]))
VOTES_PER_FRAME = 4
MIN_VOTE = 0.3
#: Framings compared (indices into VIEWS, A's then B's): whole frames; pictures inside borders;
#: the centre of one picture on the other whole picture (one is a crop of the other).
VIEW_PAIRS = ((0, 0), (1, 1), (2, 1), (1, 2))
#: Score given up per unit of |log rate| away from the nearest ratio of two common frame rates
#: (:data:`COMMON_RATES`) when choosing between lines: on a short overlap a 1-2% speed error moves
#: no frame, so the line at the plainest speed (a wrong header's 25/20, or 1) is reported.
PLAIN_RATE = 0.2
_FPS = (10, 12, 12.5, 15, 20, 23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60)
COMMON_RATES = np.log(np.unique([round(a / b, 4) for a in _FPS for b in _FPS if 0.4 <= a / b <= 2.5]))
MIN_FRAMES = 8  # an alignment must cover at least this many signature frames (0.8 s at 10 fps)


@dataclass
class Alignment:
    """B's time = ``offset`` + ``rate`` x A's time (seconds); spans in seconds of each video.

    ``similarity``: median cosine of aligned frames' thumbnails; ``changes``: median cosine of their
    changes (NaN where neither moves); ``coverage``: the aligned span's share of the shorter video
    (in A's time); ``score``: the evidence in one number, the smaller of the two medians."""

    rate: float
    offset: float
    a_span: tuple[float, float]
    b_span: tuple[float, float]
    flipped: bool
    views: tuple[str, str]
    similarity: float
    changes: float
    coverage: float
    frames: int
    score: float

    def describe(self, a: str = "A", b: str = "B") -> str:
        """One line for a rejection message: which seconds of A show which of B, how."""
        # B's clock covers `rate` seconds per second of A: B plays A's pictures 1/rate times as fast
        how = f"{1 / self.rate:.2f}x speed" if abs(self.rate - 1) > 0.01 else "the same speed"
        flip = ", mirrored" if self.flipped else ""
        if self.views[0] != self.views[1]:
            flip += f", {a}'s {self.views[0]} on {b}'s {self.views[1]}"
        return (f"{self.a_span[0]:.1f}-{self.a_span[1]:.1f} s of {a} align with {self.b_span[0]:.1f}-"
                f"{self.b_span[1]:.1f} s of {b}, played at {how}{flip} ({self.frames} frames: similarity "
                f"{self.similarity:.3f}, changes {self.changes:.3f}, coverage {self.coverage:.2f})")

    def inverted(self) -> Alignment:
        """The same alignment seen from B: A's time = -offset/rate + (1/rate) x B's time."""
        return Alignment(rate=1 / self.rate, offset=-self.offset / self.rate, a_span=self.b_span,
                         b_span=self.a_span, flipped=self.flipped, views=(self.views[1], self.views[0]),
                         similarity=self.similarity, changes=self.changes, coverage=self.coverage,
                         frames=self.frames, score=self.score)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


LAG = 3  # signature frames between the two frames of a change (0.3 s at 10 fps)
MIN_CHANGE = 0.5  # a change of the thumbnail smaller than this (RMS, grey levels) is no motion
MIN_MOVING = 0.25  # a video moves when this share of its frames does; then alignments must show it


def _votes(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, weight) of each frame of A's best matches in B."""
    k = min(VOTES_PER_FRAME, s.shape[1])
    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
    i = np.repeat(np.arange(s.shape[0]), k)
    j = top.ravel()
    w = s[i, j]
    keep = w >= MIN_VOTE
    return i[keep], j[keep], w[keep]


def _hough(i: np.ndarray, j: np.ndarray, w: np.ndarray, best: int) -> list[tuple[float, float, float]]:
    """The ``best`` (weight, rate, offset) cells (offsets in B frames, 1-frame bins) with the most votes."""
    if len(i) == 0:
        return []
    offs = j[None, :] - RATES[:, None] * i[None, :]  # [rates, votes]
    lo = int(np.floor(offs.min())) - 1
    bins = np.round(offs - lo).astype(np.int64)
    width = int(bins.max()) + 2
    flat_idx = (np.arange(len(RATES))[:, None] * width + bins).ravel()
    hist = np.bincount(flat_idx, weights=np.tile(w, len(RATES)), minlength=len(RATES) * width)
    hist = hist.reshape(len(RATES), width)
    hist[:, 1:] += hist[:, :-1] * 0.5  # a vote half-counts in the next bin: rounding splits lines
    out: list[tuple[float, float, float]] = []
    flat = hist.ravel()
    top = np.argpartition(-flat, min(best * 8, flat.size - 1))[: best * 8]
    for f in top[np.lexsort((top, -flat[top]))]:  # strongest first, ties by index: deterministic
        r, o = divmod(int(f), width)
        cell = (float(hist[r, o]), float(RATES[r]), float(o + lo))
        if all(abs(np.log(cell[1] / c[1])) > 0.03 or abs(cell[2] - c[2]) > 3 for c in out):
            out.append(cell)
        if len(out) == best:
            break
    return out


def _changes(x: np.ndarray, lag: float) -> tuple[np.ndarray, np.ndarray]:
    """Differences x[t] - x[t - lag] of the thumbnails ``x`` (mean-centred, scaled to RMS grey levels,
    not normalised: a static overlay cancels out; lag rounded, at least 1), unit-norm, and which rows
    move (an RMS difference of :data:`MIN_CHANGE` grey levels or more, between two non-blank frames)."""
    k = max(1, int(round(lag)))
    prev = x[np.maximum(0, np.arange(len(x)) - k)]
    d = x - prev
    n = np.linalg.norm(d, axis=1)
    live = (np.linalg.norm(x, axis=1) > 0) & (np.linalg.norm(prev, axis=1) > 0)
    moving = live & (n >= MIN_CHANGE) & (np.arange(len(x)) >= k)
    return d / np.maximum(n, 1e-6)[:, None], moving


def _line(n: int, m: int, rate: float, offset: float) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(n)
    j = np.round(offset + rate * i).astype(np.int64)
    ok = (j >= 0) & (j < m)
    return i[ok], j[ok]


def _median(v: np.ndarray) -> float:
    return float(np.median(v)) if len(v) else float("nan")


class _Pair:
    """A and one orientation of B, with what evidence along a line needs."""

    def __init__(self, xa: np.ndarray, ea: np.ndarray, xb: np.ndarray, eb: np.ndarray):
        self.xa, self.xb = xa, xb
        self.raw_b = xb * eb[:, None]  # mean-centred thumbnails (unit vectors times their contrast)
        self.live_a, self.live_b = np.abs(xa).sum(1) > 0, np.abs(xb).sum(1) > 0
        self.sm = xa @ xb.T
        self.da, self.moving_a = _changes(xa * ea[:, None], LAG)
        self._db: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.both_move = min(self.moving_a.mean(), self.changes_b(LAG)[1].mean()) >= MIN_MOVING

    def votes(self):
        db, moving_b = self.changes_b(LAG)
        sd = self.da @ db.T
        both = self.moving_a[:, None] & moving_b[None, :]
        return _votes(np.where(both, np.maximum(self.sm, 0.5 * (self.sm + sd)), self.sm))

    def changes_b(self, lag: float) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, int(round(lag)))
        if k not in self._db:
            self._db[k] = _changes(self.raw_b, k)
        return self._db[k]

    def evidence(self, rate: float, offset: float):
        n, m = self.sm.shape
        i, j = _line(n, m, rate, offset)
        if len(i) < MIN_FRAMES:
            return None
        both = self.live_a[i] & self.live_b[j]
        sim = _median(self.sm[i[both], j[both]])
        db, moving_b = self.changes_b(LAG * rate)
        mv = self.moving_a[i] & moving_b[j]
        chg = float("nan")
        if mv.sum() >= max(MIN_FRAMES // 2, len(i) // 4):
            chg = _median(np.einsum("ij,ij->i", self.da[i[mv]], db[j[mv]]))
        elif self.both_move:
            sim = float("nan")  # both videos move, but not along this line: not an alignment
        return i, j, sim, chg


def align(a: VideoSignature, b: VideoSignature, cells: int = 2) -> Alignment | None:
    """The best time alignment of B against A, or None when nothing lines up (no votes, or an
    overlap shorter than :data:`MIN_FRAMES`). Both signatures must share their ``fps``.

    The ``cells`` strongest Hough cells of each framing and orientation are refined and checked."""
    if abs(a.fps - b.fps) > 1e-6:
        raise ValueError(f"signatures sampled at different rates ({a.fps:g} and {b.fps:g} fps)")
    xa, ea = a.frames.astype(np.float32), a.energy.astype(np.float32)
    xb, eb = b.frames.astype(np.float32), b.energy.astype(np.float32)
    pairs, how = [], []
    for va, vb in VIEW_PAIRS:
        if (va, vb) == (1, 1) and not (a.has_borders or b.has_borders):
            continue  # the picture is the whole frame in both
        for flipped in (False, True) if va == vb else (False,):
            pairs.append(_Pair(xa[va], ea[va], flip_thumbs(xb[vb]) if flipped else xb[vb], eb[vb]))
            how.append((flipped, VIEWS[va], VIEWS[vb]))
    found_cells = [(w, r, o, k) for k, p in enumerate(pairs) for w, r, o in _hough(*p.votes(), cells)]
    best: Alignment | None = None
    for _, rate, offset, k in found_cells:
        p = pairs[k]
        flipped, view_a, view_b = how[k]
        found = None
        near = np.exp(COMMON_RATES[np.abs(COMMON_RATES - np.log(rate)) < 0.025])  # common ratios in the cell
        for r in np.concatenate([rate * (1 + np.linspace(-0.005, 0.005, 3)), near]):  # refine: cells are 1% x 1 frame
            for o in offset + np.linspace(-0.5, 0.5, 3):
                ev = p.evidence(r, o)
                if ev is None:
                    continue
                i, j, sim, chg = ev
                s = _score(sim, chg)
                key = s - _plainness(r)  # of near-equal lines, the plainest speed
                if found is None or key > found[0] + 1e-9:
                    found = (key, r, o, i, j, sim, chg)
        if found is None:
            continue
        _, r, o, i, j, sim, chg = found
        s = _score(sim, chg)
        n, m = p.sm.shape
        cover = len(i) / max(1.0, min(n, m / r))
        fps = a.fps
        cand = Alignment(rate=float(r), offset=float(o / fps), a_span=(i[0] / fps, (i[-1] + 1) / fps),
                         b_span=(j[0] / fps, (j[-1] + 1) / fps), flipped=bool(flipped),
                         views=(view_a, view_b), similarity=sim,
                         changes=chg, coverage=float(min(1.0, cover)), frames=int(len(i)), score=float(s))
        key = (cand.score - _plainness(cand.rate), cand.coverage)
        if best is None or key > (best.score - _plainness(best.rate), best.coverage):
            best = cand
    return best


def _plainness(rate: float) -> float:
    """Score handicap of a speed: :data:`PLAIN_RATE` per unit of log distance to a common ratio."""
    return PLAIN_RATE * float(np.min(np.abs(COMMON_RATES - np.log(rate))))


def _score(sim: float, chg: float) -> float:
    """The evidence of an alignment: where the frames move, that they change alike (a copy with a
    burnt-in logo or other grading still does; another moment of a static setup does not); where
    nothing moves, that the frames look alike."""
    if np.isnan(chg):
        return -1.0 if np.isnan(sim) else sim
    return chg
