"""Exact k nearest neighbours of cells in PCA space, written once for numpy and cupy (the GPU path of
single-cell QC; :mod:`lsecflow.cell_arrays` holds the rest of it).

* :func:`exact_knn`: blocks of query cells against all cells by ``|a|^2 - 2 a.b + |b|^2`` in float64, one
  matrix product per block;
* :func:`smallest_k`: each row's ``k`` smallest values: ``argpartition`` on numpy; on cupy (whose
  ``argpartition`` sorts whole rows) by a threshold from segment minima, or ``k`` row minima in turn;
* :class:`BlockedKnn`: :func:`exact_knn` as the kNN transformer that :func:`scanpy.pp.neighbors` takes, so
  scanpy builds the connectivities as always.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .cell_arrays import to_host

#: segments per row whose minima bound the k-th smallest value (:func:`smallest_k`, method "threshold")
SEGMENTS = 1024


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
    p = xp.asarray(points, dtype=dtype)
    sq = (p * p).sum(axis=1)[:, None]
    ones = xp.ones_like(sq)
    # one matrix product gives the squared distances: [-2a, |a|^2, 1] . [b, 1, |b|^2] = |a|^2 - 2 a.b + |b|^2,
    # so each block of distances is written once and read by the top-k, with no passes to add the norms
    queries, targets = xp.concatenate([-2.0 * p, sq, ones], axis=1), xp.concatenate([p, ones, sq], axis=1)
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


class BlockedKnn:
    """:func:`exact_knn` as the kNN transformer :func:`scanpy.pp.neighbors` accepts (``transformer=``):
    ``fit_transform`` returns the cells x cells sparse distances of each cell's ``n_neighbors - 1`` nearest
    other cells (scanpy adds the cell itself, as it does for RAPIDS' results)."""

    def __init__(self, n_neighbors: int = 15, xp=np, block: int | None = None):
        self.n_neighbors, self.xp, self.block = n_neighbors, xp, block

    def get_params(self, deep: bool = True) -> dict:
        return {"n_neighbors": self.n_neighbors}

    def fit_transform(self, X) -> sp.csr_matrix:
        n = X.shape[0]
        idx, dist = exact_knn(np.asarray(X), self.n_neighbors - 1, self.xp, self.block)
        indptr = np.arange(0, idx.size + 1, idx.shape[1])
        return sp.csr_matrix((dist.ravel(), idx.ravel(), indptr), shape=(n, n))
