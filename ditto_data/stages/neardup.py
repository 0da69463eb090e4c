"""Near-duplicate groups among L2-normalised vectors: a faiss-trained inverted file plus union-find.

One function serves the dedup stage and its benchmark. Every pair with cosine similarity at or
above ``threshold`` is an edge; connected components of two or more vectors are the groups (so a
chain a~b~c is one group even where a and c alone fall under the threshold: any near-duplicate
link is enough to drop a source).

Small sets use an exact ``IndexFlatIP`` range search. Large ones use an inverted file: spherical
k-means cells (faiss ``Kmeans`` in a faiss ``PCAMatrix`` projection) trained on a sample, each
vector stored in its nearest cell and compared with the vectors of its ``nprobe`` nearest cells.
Near-duplicates lie so close together that they share a cell or a neighbouring one, so recall of
planted duplicates stays above 0.99 at a few percent of the exact cost. The comparison runs cell
by cell as matrix products (BLAS) in the projection, and the candidates are then checked on the
full vectors; this is many times faster than faiss's one-query-at-a-time IVF scan on CPUs.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

#: Above this many vectors ``index="auto"`` switches from exact search to the inverted file.
EXACT_MAX = 50_000


@dataclass
class NearDuplicates:
    """Result of :func:`find_near_duplicates`.

    ``groups``: lists of row indices (ascending), each of two or more vectors, ordered by first row.
    ``best``: per row, the highest similarity found to another row at or above the threshold
    (NaN where none). ``best_match``: the row that similarity was to (-1 where none).
    ``pairs``: number of distinct edges found. ``index``: the faiss index description used.
    """

    groups: list[list[int]]
    best: np.ndarray
    best_match: np.ndarray
    pairs: int
    index: str

    def group_of(self) -> np.ndarray:
        """Per row, the index of its group in ``groups`` (-1 for rows in no group)."""
        out = np.full(len(self.best), -1, dtype=np.int64)
        for g, members in enumerate(self.groups):
            out[members] = g
        return out


class _UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int64)

    def find(self, a: int) -> int:
        p = self.parent
        root = a
        while p[root] != root:
            root = p[root]
        while p[a] != root:  # path compression
            p[a], a = root, p[a]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def default_nlist(n: int) -> int:
    """Inverted-file cells for ``n`` vectors: about 4 sqrt(n), a power of two, 16 to 65536."""
    return int(min(65536, max(16, 2 ** round(math.log2(4 * math.sqrt(max(n, 1)))))))


class Cells:
    """Spherical k-means cells, trained (faiss) on a sample, found in a PCA projection of the vectors.

    Finding the nearest cells of N vectors costs N x nlist x dims multiply-adds, the largest cost
    at a million vectors; projecting to ``cell_dim`` dimensions first (faiss ``PCAMatrix``, learnt
    on the same sample) cuts it several times, and near-duplicates stay near in the projection.
    """

    def __init__(self, vectors: np.ndarray, nlist: int, cell_dim: int = 128, train_size: int | None = None,
                 niter: int = 10, seed: int = 0):
        import faiss

        n, d = vectors.shape
        train_size = min(n, train_size or 32 * nlist)  # 32 points a cell: cells need only be compact
        rng = np.random.default_rng(seed)
        sample = vectors[np.sort(rng.choice(n, train_size, replace=False))] if train_size < n else vectors
        sample = np.ascontiguousarray(sample)
        self.pca = None
        if cell_dim and cell_dim < d:
            self.pca = faiss.PCAMatrix(d, cell_dim)
            self.pca.train(sample)
            sample = self.project(sample)
        km = faiss.Kmeans(sample.shape[1], nlist, niter=niter, spherical=True, seed=seed,
                          min_points_per_centroid=1, max_points_per_centroid=max(256, train_size // nlist + 1))
        km.train(sample)
        self.quantizer = faiss.IndexFlatIP(sample.shape[1])
        self.quantizer.add(km.centroids)

    def project(self, x: np.ndarray) -> np.ndarray:
        """Rows in the cells' space: PCA-projected and re-normalised (unchanged without PCA)."""
        if self.pca is None:
            return x
        y = self.pca.apply(np.ascontiguousarray(x))
        return y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)

    def nearest(self, x: np.ndarray, k: int) -> np.ndarray:
        """Indices [len(x), k] of the k nearest cells of each row, nearest first."""
        return self.quantizer.search(self.project(x), k)[1]


def similar_pairs(vectors: np.ndarray, threshold: float, index: str = "auto", nlist: int | None = None,
                  nprobe: int = 8, chunk: int = 16384, seed: int = 0,
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Every pair of rows of ``vectors`` (float32 [N, D], L2-normalised) whose cosine similarity is
    >= ``threshold``: (rows a, rows b, similarities, index description), a < b, each pair once,
    sorted by (a, b). ``index`` as for :func:`find_near_duplicates`."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array [N, D], got shape {vectors.shape}")
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
    n = len(vectors)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    if n < 2:
        return (*empty, "none")
    if index == "auto":
        index = "flat" if n <= EXACT_MAX else "ivf"

    def add(rows: np.ndarray, sims: np.ndarray, ids: np.ndarray) -> None:
        keep = (ids != rows) & (sims >= threshold) & (ids >= 0)
        rows, sims, ids = rows[keep], sims[keep], ids[keep]
        found.append((np.minimum(rows, ids), np.maximum(rows, ids), sims.astype(np.float32)))

    if index == "flat":
        kind = "IndexFlatIP"
        _flat_search(vectors, threshold, chunk, add, progress)
    elif index == "ivf":
        nlist = min(nlist or default_nlist(n), n)
        nprobe = max(1, min(nprobe, nlist))
        kind = f"IVF cell join (nlist={nlist}, nprobe={nprobe})"
        _cell_join(vectors, threshold, nlist, nprobe, chunk, seed, add, progress)
    else:
        raise ValueError(f"index must be auto, flat or ivf, not {index!r}")
    if not found:
        return (*empty, kind)
    a, b, s = (np.concatenate(x) for x in zip(*found))
    key = a * n + b  # each pair once (found from both sides, or in two cells)
    key, first = np.unique(key, return_index=True)
    return key // n, key % n, s[first], kind


def find_near_duplicates(vectors: np.ndarray, threshold: float, index: str = "auto", nlist: int | None = None,
                         nprobe: int = 8, chunk: int = 16384, seed: int = 0,
                         progress: bool = False) -> NearDuplicates:
    """Group rows of ``vectors`` (float32 [N, D], L2-normalised) whose cosine similarity is >= ``threshold``.

    ``index``: ``flat`` (exact ``IndexFlatIP`` range search), ``ivf`` (approximate, see the module
    docstring) or ``auto`` (flat up to :data:`EXACT_MAX` rows). ``nlist`` is the number of cells
    (default :func:`default_nlist`), ``nprobe`` the nearest cells each vector is compared in.
    Rows are handled in chunks of ``chunk`` so intermediate results stay small.
    """
    a, b, sims, kind = similar_pairs(vectors, threshold, index=index, nlist=nlist, nprobe=nprobe, chunk=chunk,
                                     seed=seed, progress=progress)
    n = len(vectors)
    best = np.full(n, np.nan, dtype=np.float32)
    best_match = np.full(n, -1, dtype=np.int64)
    if kind == "none":
        return NearDuplicates([], best, best_match, 0, "none")
    _update_best(best, best_match, a, sims, b)
    _update_best(best, best_match, b, sims, a)
    log.info("near-duplicates among %d vectors of %d dims with %s: %d pairs", n, vectors.shape[1], kind, len(a))
    uf = _UnionFind(n)
    for x, y in zip(a.tolist(), b.tolist()):
        uf.union(x, y)
    members: dict[int, list[int]] = {}
    for i in np.flatnonzero(best_match >= 0).tolist():
        members.setdefault(uf.find(i), []).append(i)
    groups = sorted((sorted(m) for m in members.values() if len(m) > 1), key=lambda g: g[0])
    return NearDuplicates(groups, best, best_match, len(a), kind)


def _flat_search(vectors, threshold, chunk, add, progress) -> None:
    """Exact: every row against every row, with faiss's range search (BLAS for batches of queries)."""
    import faiss

    idx = faiss.IndexFlatIP(vectors.shape[1])
    idx.add(vectors)
    radius = float(np.nextafter(np.float32(threshold), np.float32(-2)))  # faiss keeps sim > radius
    n = len(vectors)
    for start in tqdm(range(0, n, chunk), desc="near-duplicates", disable=not progress, leave=False):
        q = vectors[start:start + chunk]
        lims, sims, ids = idx.range_search(q, radius)
        rows = np.repeat(np.arange(start, start + len(q), dtype=np.int64), np.diff(lims).astype(np.int64))
        add(rows, sims, ids.astype(np.int64))


def _cell_join(vectors, threshold, nlist, nprobe, chunk, seed, add, progress, cell_dim: int = 128,
               margin: float = 0.1, block: int = 2048) -> None:
    """Approximate: IVF search done cell by cell. Each row is stored in its nearest k-means cell and
    probes its ``nprobe`` nearest cells; for each cell, the rows probing it are compared with the rows
    stored in it by one matrix product (BLAS), in blocks so a crowded cell stays in memory.

    The comparison runs in the cells' PCA projection (``cell_dim`` dimensions) with the threshold
    lowered by ``margin``, and only the candidate pairs it passes are checked against ``threshold``
    on the full vectors: a near-duplicate pair's projected cosine differs from its full cosine by a
    few hundredths, while the projected product costs ``cell_dim / D`` of the full one. In all
    nprobe N^2 cell_dim / nlist multiply-adds at BLAS speed, instead of faiss's IVF scan of one query
    at a time.
    """
    n, d = vectors.shape
    t0 = time.perf_counter()
    cells = Cells(vectors, nlist, cell_dim=cell_dim, seed=seed)
    t1 = time.perf_counter()
    projected = cells.pca is not None
    proj = np.empty((n, cell_dim), dtype=np.float32) if projected else vectors
    nearest = np.empty((n, nprobe), dtype=np.int64)
    for start in tqdm(range(0, n, chunk), desc="assign cells", disable=not progress, leave=False):
        p = cells.project(vectors[start:start + chunk])
        if projected:
            proj[start:start + len(p)] = p
        nearest[start:start + len(p)] = cells.quantizer.search(p, nprobe)[1]
    t2 = time.perf_counter()

    def lists(assign: np.ndarray, per_row: int) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(assign, kind="stable")
        return order // per_row, np.searchsorted(assign[order], np.arange(nlist + 1))

    stored, stored_at = lists(np.ascontiguousarray(nearest[:, 0]), 1)
    probing, probing_at = lists(nearest.ravel(), nprobe)
    del nearest
    cut = threshold - margin if projected else threshold
    for c in tqdm(range(nlist), desc="join cells", disable=not progress, leave=False):
        db = stored[stored_at[c]:stored_at[c + 1]]
        qs = probing[probing_at[c]:probing_at[c + 1]]
        if len(db) == 0 or len(qs) == 0:
            continue
        xd = proj[db]
        for b in range(0, len(qs), block):
            q = qs[b:b + block]
            sims = proj[q] @ xd.T
            i, j = np.nonzero(sims >= cut)
            qi, dj = q[i], db[j]
            if projected:  # check the candidates on the full vectors
                full = np.einsum("ij,ij->i", vectors[qi], vectors[dj])
                add(qi, full, dj)
            else:
                add(qi, sims[i, j], dj)
    log.info("cells: trained in %.1fs, assigned in %.1fs, joined in %.1fs", t1 - t0, t2 - t1,
             time.perf_counter() - t2)


def _update_best(best: np.ndarray, best_match: np.ndarray, rows: np.ndarray, sims: np.ndarray,
                 ids: np.ndarray) -> None:
    """best[r] = max over edges (r, i) of sim, and best_match the i of that max (vectorised)."""
    if len(rows) == 0:
        return
    order = np.lexsort((ids, -sims, rows))  # per row: highest sim first, ties by lower id
    rows, sims, ids = rows[order], sims[order], ids[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    r, s, i = rows[first], sims[first], ids[first]
    cur = best[r]
    better = np.isnan(cur) | (s > cur) | ((s == cur) & (i < best_match[r]))
    best[r[better]] = s[better]
    best_match[r[better]] = i[better]
