"""Exact k nearest neighbours of cells in PCA space, written once for numpy and cupy (the GPU path of
single-cell QC; :mod:`lsecflow.cell_arrays` holds the rest of it).

* :func:`exact_knn`: blocks of query cells against all cells by ``|a|^2 - 2 a.b + |b|^2`` in float64, one
  matrix product per block;
* :func:`smallest_k`: each row's ``k`` smallest values: ``argpartition`` on numpy; on cupy (whose
  ``argpartition`` sorts whole rows) by a threshold from segment minima, or ``k`` row minima in turn;
* :func:`pruned_knn`: the same neighbours from a fraction of the distances: the cells dealt into k-means
  lists, each list's cells searched against the nearest lists, then against every other list that the
  triangle inequality cannot rule out (exact, not approximate);
* :class:`BlockedKnn`: either, by size, as the kNN transformer that :func:`scanpy.pp.neighbors` takes, so
  scanpy builds the connectivities as always.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

from .cell_arrays import scatter_rows, to_host

log = logging.getLogger(__name__)

#: segments per row whose minima bound the k-th smallest value (:func:`smallest_k`, method "threshold")
SEGMENTS = 1024
#: cells from which :class:`BlockedKnn` searches by lists (:func:`pruned_knn`) rather than all against all
PRUNE_FROM = 50_000
#: seconds between :func:`pruned_knn`'s progress lines (the GPU takes seconds; numpy at 1M cells minutes)
PROGRESS_EVERY = 30.0


def exact_knn(points: np.ndarray, k: int, xp=np, block: int | None = None,
              dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Each point's ``k`` nearest other points (euclidean), exactly: blocks of ``block`` query points
    against all points by ``|a|^2 - 2 a.b + |b|^2`` in ``dtype``, the point itself left out; by default a
    block's distances take at most 1 GiB (2**27 float64 values: 134 query cells against a million), at
    most 2,048 rows.

    float64 on the GPU too: the expansion cancels where neighbours are close and far from the origin. On
    100,000 bootstrapped cells (PCA scores of norm ~12, 15th neighbour at distance ~0.05) float32 kept
    0.917 of the float64 neighbours, and the first GPU run agreed with scanpy's kNN at 0.931, below
    issue 25's 0.95 (docs/benchmarks.md, GPU). On an H200 float64 took 0.99 s against float32's 0.92 s
    for 100,000 points (bench/gpu_knn.py, before the one-product distances and the threshold top-k);
    consumer GPUs multiply float64 far slower than float32.

    Returns
    -------
    (indices, distances)
        ``n x k`` host arrays, nearest first.
    """
    n = points.shape[0]
    k = min(k, n - 1)
    queries, targets = augmented(xp.asarray(points, dtype=dtype), xp)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float64)
    per_block = 2**30 // np.dtype(dtype).itemsize
    block = max(64, min(2048, per_block // max(n, 1))) if block is None else block
    for start in range(0, n, block):
        stop = min(start + block, n)
        d2 = queries[start:stop] @ targets.T
        d2[xp.arange(stop - start), xp.arange(start, stop)] = xp.inf
        part, near = smallest_k(d2, k, xp)
        indices[start:stop] = to_host(part)
        distances[start:stop] = to_host(xp.sqrt(xp.maximum(near, 0.0)))
    return indices, distances


def augmented(p, xp):
    """``([-2a, |a|^2, 1], [b, 1, |b|^2])`` for the rows of ``p``: one matrix product of the first by the second
    (transposed) gives the squared distances ``|a|^2 - 2 a.b + |b|^2``, so each block of distances is written
    once and read by the top-k, with no passes to add the norms."""
    sq = (p * p).sum(axis=1)[:, None]
    ones = xp.ones_like(sq)
    return xp.concatenate([-2.0 * p, sq, ones], axis=1), xp.concatenate([p, ones, sq], axis=1)


def smallest_k(d2, k: int, xp, method: str | None = None):
    """Each row's ``k`` smallest values and their columns, smallest first (ties by column).

    Parameters
    ----------
    d2
        Rows x columns array (numpy or cupy), not changed.
    k
        How many, at most the number of columns.
    xp
        ``numpy`` or ``cupy``.
    method
        ``"partition"`` (numpy's default): ``argpartition``, introselect in one pass. cupy's
        ``argpartition`` sorts whole rows (its documentation says so), which for a block of query cells
        against a million cells costs more than the distances themselves, so on cupy:
        ``"threshold"`` (cupy's default): the minima of :data:`SEGMENTS` strided segments of each row are
        real values of the row, so the k-th smallest of them bounds the row's k-th smallest from above;
        the values at or under that bound (k or a few more) are gathered and sorted. Two passes over the
        block (the segment minima, the comparison), whatever ``k``.
        ``"minima"``: ``k`` row minima in turn, each found one masked out (``k`` passes and a copy).
    """
    method = ("threshold" if xp is not np else "partition") if method is None else method
    rows, n = d2.shape
    if method == "partition":
        part = xp.sort(xp.argpartition(d2, k - 1, axis=1)[:, :k], axis=1)
        near = xp.take_along_axis(d2, part, axis=1)
        order = xp.argsort(near, axis=1, kind="stable")
        return xp.take_along_axis(part, order, axis=1), xp.take_along_axis(near, order, axis=1)
    if method == "minima":
        d2 = d2.copy()
        at = xp.arange(rows)
        part = xp.empty((rows, k), dtype=xp.int64)
        near = xp.empty((rows, k), dtype=d2.dtype)
        for r in range(k):
            col = xp.argmin(d2, axis=1)
            part[:, r], near[:, r] = col, d2[at, col]
            d2[at, col] = xp.inf
        return part, near
    if method != "threshold":
        raise ValueError(f"smallest_k: method {method!r} is none of partition, threshold, minima")
    segments = min(n, max(k, SEGMENTS))
    depth = n // segments  # segment j: columns j, j + segments, ... (strided: adjacent minima read adjacent values)
    strided = xp.lib.stride_tricks.as_strided(
        d2, shape=(rows, depth, segments), strides=(d2.strides[0], segments * d2.strides[1], d2.strides[1]))
    minima = xp.concatenate([strided.min(axis=1), d2[:, depth * segments:]], axis=1)  # and the columns left over
    bound = xp.sort(minima, axis=1)[:, k - 1]
    row, col = xp.nonzero(d2 <= bound[:, None])
    value = d2[row, col]
    order = xp.lexsort(xp.stack([col, value, row]))  # by row, then value, then column
    row, col, value = row[order], col[order], value[order]
    per_row = xp.bincount(row, minlength=rows)
    first = xp.cumsum(per_row) - per_row
    take = first[:, None] + xp.arange(k)[None, :]
    return col[take], value[take]


def inverted_lists(p, n_lists: int, xp=np, seed: int = 0, iterations: int = 10, per_list: int = 64):
    """k-means lists of the rows of ``p`` (float64, on ``xp``): centroids from ``iterations`` Lloyd steps on
    ``per_list`` random points per list (started from random points; a list left empty keeps its centroid),
    then each point in the list of its nearest centroid.

    Returns
    -------
    (centroids, order, starts, radius)
        ``centroids`` (lists x dims) on ``xp``; on the host: ``order``, the points sorted by list (list ``l``
        is ``order[starts[l]:starts[l + 1]]``), and ``radius``, each list's largest distance of a member from
        its centroid (``-inf`` where a list is empty).
    """
    n = p.shape[0]
    rng = np.random.default_rng(seed)
    sample = p[xp.asarray(np.sort(rng.choice(n, size=min(n, per_list * n_lists), replace=False)))]
    centroids = sample[xp.asarray(rng.choice(sample.shape[0], size=n_lists, replace=False))]
    for _ in range(iterations):
        nearest, _ = nearest_centroid(sample, centroids, xp)
        counts = xp.bincount(nearest, minlength=n_lists)[:, None]
        sums = scatter_rows(nearest, sample, n_lists, xp)
        centroids = xp.where(counts > 0, sums / xp.maximum(counts, 1), centroids)
    nearest, dist = (to_host(a) for a in nearest_centroid(p, centroids, xp))
    order = np.argsort(nearest, kind="stable")
    starts = np.searchsorted(nearest[order], np.arange(n_lists + 1))
    radius = np.full(n_lists, -np.inf)
    filled = starts[:-1] < starts[1:]
    radius[filled] = np.maximum.reduceat(dist[order], starts[:-1][filled])
    return centroids, order, starts, radius


def nearest_centroid(p, centroids, xp, block: int = 65_536):
    """Each row's nearest centroid and its distance, ``block`` rows at a time (``xp`` arrays)."""
    targets = augmented(centroids, xp)[1]
    nearest, dist = [], []
    for start in range(0, p.shape[0], block):
        d2 = augmented(p[start:start + block], xp)[0] @ targets.T
        at = xp.argmin(d2, axis=1)
        nearest.append(at)
        dist.append(xp.sqrt(xp.maximum(d2[xp.arange(d2.shape[0]), at], 0.0)))
    return xp.concatenate(nearest), xp.concatenate(dist)


def pruned_knn(points: np.ndarray, k: int, xp=np, n_lists: int | None = None, probe: int = 8, seed: int = 0,
               budget: int = 2**27) -> tuple[np.ndarray, np.ndarray]:
    """The neighbours of :func:`exact_knn` (the same distances, in float64) from a fraction of the distances.

    The points are dealt into ``n_lists`` k-means lists (:func:`inverted_lists`; default ``sqrt(n)``). The
    points of each list are searched against the ``probe`` lists with the nearest centroids (itself first,
    more lists where those hold fewer than ``k + 1`` points), which gives each point a ``k``-th distance ``r``
    at least as large as its true one. A list ``M`` can hold a point nearer than ``r`` only if
    ``|q - c_M| - radius_M <= r`` (triangle inequality), so every such list is searched too and the top ``k``
    merged: the result is exact, whatever the lists (``probe`` and ``n_lists`` set only the work). The slack
    on that test covers float64 rounding of the expanded distances (``4 sqrt(16 eps max|p|^2)``).

    Blocks hold at most ``budget`` distances (2**27 float64 values: 1 GiB), so a large list is searched in
    row blocks, and a long second search in column blocks. On the 30 PCs of thinned bootstrap draws of the
    TMS cells it computed 5.3 % of the distances that :func:`exact_knn` computes at 50,000 cells (1.9 s
    against 39.1 s with numpy on 2 cores), 0.88 % at 1M (154 s; bench/gpu_knn.py, docs/benchmarks.md).

    Returns
    -------
    (indices, distances)
        ``n x k`` host arrays, nearest first, as :func:`exact_knn` (where distances tie, as between exact
        duplicates, either may list them in another order).
    """
    n = points.shape[0]
    k = min(k, n - 1)
    p = xp.asarray(points, dtype=np.float64)
    n_lists = max(1, min(n, int(np.sqrt(n)) if n_lists is None else n_lists))
    centroids, order, starts, radius = inverted_lists(p, n_lists, xp, seed)
    queries, targets = augmented(p[xp.asarray(order)], xp)  # in list order: list l is rows starts[l]..
    centroid_queries, centroid_targets = augmented(centroids, xp)
    between = to_host(xp.sqrt(xp.maximum(centroid_queries @ centroid_targets.T, 0.0)))
    radius_on = xp.asarray(radius)
    slack = 4.0 * np.sqrt(16.0 * np.finfo(np.float64).eps * float((p * p).sum(axis=1).max()))
    sizes = np.diff(starts)
    found = np.empty((n, k), dtype=np.int64)
    near_d2 = np.empty((n, k), dtype=np.float64)
    computed, started, said = 0, time.perf_counter(), time.perf_counter()
    filled = np.flatnonzero(sizes)
    for done, lst in enumerate(filled):
        if time.perf_counter() - said > PROGRESS_EVERY:
            said = time.perf_counter()
            log.info("exact neighbours: %d of %d lists searched (%.0f s)", done, len(filled), said - started)
        by_centroid = np.argsort(between[lst], kind="stable")
        by_centroid = np.concatenate([[lst], by_centroid[by_centroid != lst]])
        enough = int(np.searchsorted(np.cumsum(sizes[by_centroid]), k + 1)) + 1
        first = by_centroid[:max(probe, enough)]
        cols = _positions(starts, first)
        cols_on = xp.asarray(cols)
        near_targets = targets[cols_on]  # gathered once for the list's row blocks
        rows = max(1, min(sizes[lst], budget // cols.size))
        for lo in range(starts[lst], starts[lst + 1], rows):
            hi = min(lo + rows, starts[lst + 1])
            d2 = queries[lo:hi] @ near_targets.T
            own = lo - starts[lst]  # the list's own points are the first columns: leave each point out
            d2[xp.arange(hi - lo), xp.arange(own, own + hi - lo)] = xp.inf
            at, d2_k = smallest_k(d2, k, xp)
            at = cols_on[at]
            computed += d2.size
            # lists that may hold a point nearer than the k-th found: |q - c_M| - radius_M <= r
            kth = xp.sqrt(xp.maximum(d2_k[:, -1], 0.0))
            bound = xp.sqrt(xp.maximum(queries[lo:hi] @ centroid_targets.T, 0.0)) - radius_on[None, :]
            need = to_host((bound <= (kth + slack)[:, None]).any(axis=0))
            need[first] = False
            more = _positions(starts, np.flatnonzero(need))
            width = max(k + 1, budget // (hi - lo))
            for c0 in range(0, more.size, width):
                batch = xp.asarray(more[c0:c0 + width])
                d2 = queries[lo:hi] @ targets[batch].T
                computed += d2.size
                pick, d2_k = smallest_k(xp.concatenate([d2_k, d2], axis=1), k, xp)
                at = xp.take_along_axis(xp.concatenate([at, xp.broadcast_to(batch, d2.shape)], axis=1), pick, axis=1)
            found[order[lo:hi]] = order[to_host(at)]
            near_d2[order[lo:hi]] = to_host(d2_k)
    log.info("exact neighbours of %d cells by %d k-means lists: %.2f %% of the all-pairs distances computed",
             n, n_lists, 100.0 * computed / max(n * n, 1))
    return found, np.sqrt(np.maximum(near_d2, 0.0))


def _positions(starts: np.ndarray, lists: np.ndarray) -> np.ndarray:
    """The sorted-order positions of the points of ``lists`` (host), list after list."""
    if lists.size == 0:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([np.arange(starts[m], starts[m + 1]) for m in lists])


class BlockedKnn:
    """Exact neighbours as the kNN transformer :func:`scanpy.pp.neighbors` accepts (``transformer=``):
    ``fit_transform`` returns the cells x cells sparse distances of each cell's ``n_neighbors - 1`` nearest
    other cells (scanpy adds the cell itself, as it does for RAPIDS' results), by :func:`exact_knn` below
    ``prune_from`` cells (default :data:`PRUNE_FROM`), by :func:`pruned_knn` from there."""

    def __init__(self, n_neighbors: int = 15, xp=np, block: int | None = None, prune_from: int | None = None):
        self.n_neighbors, self.xp, self.block = n_neighbors, xp, block
        self.prune_from = PRUNE_FROM if prune_from is None else prune_from

    def describe(self, n: int) -> str:
        """How the neighbours of ``n`` cells are found, for the step's log line."""
        how = "k-means lists" if n >= self.prune_from else "all against all"
        return f"exact, {how} on {'numpy' if self.xp is np else 'cupy'}"

    def get_params(self, deep: bool = True) -> dict:
        return {"n_neighbors": self.n_neighbors}

    def fit_transform(self, X) -> sp.csr_matrix:
        n = X.shape[0]
        if n >= self.prune_from:
            idx, dist = pruned_knn(np.asarray(X), self.n_neighbors - 1, self.xp)
        else:
            idx, dist = exact_knn(np.asarray(X), self.n_neighbors - 1, self.xp, self.block)
        indptr = np.arange(0, idx.size + 1, idx.shape[1])
        return sp.csr_matrix((dist.ravel(), idx.ravel(), indptr), shape=(n, n))
