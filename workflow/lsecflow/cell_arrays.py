"""The single-cell QC numerics written once for numpy and cupy: one code path, its array module chosen by
``compute.gpu`` (:mod:`lsecflow.gpu`).

* :func:`block_stats`: per-cell metrics and per-gene sums of one CSR block of raw counts, with scanpy's
  normalisation (``normalize_total(target_sum=1e4)`` then ``log1p``, float32; :func:`log_normalise_data`);
* :func:`covariance_pca`: PCA of a cells x genes CSR matrix read in row blocks: the genes' Gram matrix and
  sums accumulated block by block (float64), the covariance's leading eigenvectors, the cells' scores by a
  second pass. Exact (scanpy's ``svd_solver="covariance_eigh"`` computes the same), one pass for the
  loadings where a randomized solver needs several, and on a GPU the Gram product is one dense matrix
  product per block;
* :class:`BlockedKnn`: exact k nearest neighbours by blocked distance products (``|a|^2 - 2 a.b + |b|^2``,
  a block of query cells against all cells at a time), as a kNN transformer that
  :func:`scanpy.pp.neighbors` takes, so scanpy builds the connectivities as always.

The blocks are read on the host (scipy CSR); on the GPU each block's arrays (a CSR block's three arrays, or
a dense block for the PCA) move to the device one at a time as cupy arrays, and every result comes back to
the host as numpy.
"""
from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

TARGET_SUM = 1e4


def array_module(gpu: bool):
    """``numpy`` on the CPU, ``cupy`` on the GPU."""
    if gpu:
        import cupy

        return cupy
    return np


def to_host(a) -> np.ndarray:
    """A numpy copy of a numpy or cupy array."""
    return a.get() if hasattr(a, "get") else np.asarray(a)


def csr_arrays(block: sp.csr_matrix, xp):
    """``(data, indices, rows)`` of a scipy CSR block on ``xp``'s device; ``rows`` is each stored value's row."""
    if xp is np:
        rows = np.repeat(np.arange(block.shape[0], dtype=np.int32), np.diff(block.indptr))
    else:  # cupy.repeat takes no array of repeats: each value's row by a search of indptr
        rows = xp.searchsorted(xp.asarray(block.indptr), xp.arange(block.nnz), side="right") - 1
    return xp.asarray(block.data), xp.asarray(block.indices), rows


def log_normalise_data(data, rows, totals, xp):
    """scanpy's ``normalize_total(target_sum=1e4)`` + ``log1p`` of the stored values of a CSR block, with
    scanpy's arithmetic (float32: each value divided by its cell's total / 1e4, then ``log1p``), so a block
    gives the whole matrix's values bit for bit on the CPU.

    Parameters
    ----------
    data, rows
        Stored raw counts and each one's row (:func:`csr_arrays`).
    totals
        Each row's total count (any float type; integer totals are exact in float32 below 2**24).
    """
    factor = totals.astype(xp.float32) / TARGET_SUM
    factor = factor + (factor == 0)  # scanpy's guard against dividing by an empty cell's zero
    return xp.log1p(data.astype(xp.float32) / factor[rows])


def block_stats(block: sp.csr_matrix, mito: np.ndarray, xp) -> dict[str, np.ndarray]:
    """Per-cell metrics and per-gene sums of one block of raw counts (host numpy arrays back).

    Returns
    -------
    dict
        ``total``, ``n_genes``, ``mito`` (per cell, float64 / int64) and, per gene, float64 sums of the
        log-normalised values (``slog``), of the normalised values (``expm1`` of those, as scanpy's seurat
        HVG flavour reads them: ``s1``) and of their squares (``s2``).
    """
    n, g = block.shape
    data, indices, rows = csr_arrays(block, xp)
    values = data.astype(xp.float64)
    total = xp.bincount(rows, weights=values, minlength=n)
    stored_zero = rows[data == 0]  # explicit zeros are rare: count them, not the non-zeros
    n_genes = xp.diff(xp.asarray(block.indptr)) - xp.bincount(stored_zero, minlength=n)
    is_mito = xp.asarray(mito)[indices]
    mito_counts = xp.bincount(rows, weights=xp.where(is_mito, values, 0.0), minlength=n)
    lg = log_normalise_data(data, rows, total, xp)
    norm = xp.expm1(lg).astype(xp.float64)
    out = {"total": total, "n_genes": n_genes, "mito": mito_counts,
           "slog": xp.bincount(indices, weights=lg.astype(xp.float64), minlength=g),
           "s1": xp.bincount(indices, weights=norm, minlength=g),
           "s2": xp.bincount(indices, weights=norm * norm, minlength=g)}
    return {k: to_host(v) for k, v in out.items()}


def log_normalised_columns(block: sp.csr_matrix, columns: np.ndarray, totals: np.ndarray, xp) -> sp.csr_matrix:
    """The log-normalised values of ``columns`` of a block of raw counts (host CSR float32), normalised by
    each cell's total over all genes (``totals``, from :func:`block_stats`)."""
    sub = sp.csr_matrix(block[:, columns])
    data, _, rows = csr_arrays(sub, xp)
    values = to_host(log_normalise_data(data, rows, xp.asarray(totals), xp))
    return sp.csr_matrix((values, sub.indices, sub.indptr), shape=sub.shape)


def _dense(block: sp.csr_matrix, xp):
    """A CSR block as a dense float64 array on ``xp``'s device."""
    return xp.asarray(block.toarray(), dtype=xp.float64)


def covariance_pca(X: sp.csr_matrix, n_comps: int, xp=np, chunk: int = 20_000) -> dict[str, np.ndarray]:
    """PCA of ``X`` (cells x genes, centred implicitly) from the covariance matrix, read ``chunk`` rows at a
    time.

    The genes' Gram matrix ``X'X`` and column sums are accumulated in float64 over the blocks; the
    covariance ``(X'X - n m m') / (n - 1)`` gives its ``n_comps`` leading eigenvectors (``xp.linalg.eigh``);
    a second pass gives each cell's scores ``(x - m) V``. Each component's sign makes its largest loading
    positive.

    Returns
    -------
    dict
        ``scores`` (cells x n_comps, float32), ``loadings`` (genes x n_comps), ``variance`` and
        ``variance_ratio`` (the share of the total variance), as scanpy stores them.
    """
    n, g = X.shape
    gram = xp.zeros((g, g), dtype=xp.float64)
    sums = xp.zeros(g, dtype=xp.float64)
    for start in range(0, n, chunk):
        d = _dense(X[start:start + chunk], xp)
        gram += d.T @ d
        sums += d.sum(axis=0)
    mean = sums / n
    cov = (gram - n * xp.outer(mean, mean)) / max(n - 1, 1)
    evals, evecs = xp.linalg.eigh(cov)
    order = xp.argsort(evals)[::-1][:n_comps]
    variance, loadings = evals[order], evecs[:, order]
    flip = xp.sign(loadings[xp.argmax(xp.abs(loadings), axis=0), xp.arange(loadings.shape[1])])
    loadings = loadings * xp.where(flip == 0, 1.0, flip)
    shift = mean @ loadings
    scores = np.empty((n, loadings.shape[1]), dtype=np.float32)
    for start in range(0, n, chunk):
        scores[start:start + chunk] = to_host(_dense(X[start:start + chunk], xp) @ loadings - shift)
    total = float(to_host(xp.trace(cov)))
    variance = to_host(variance)
    return {"scores": scores, "loadings": to_host(loadings), "variance": variance,
            "variance_ratio": variance / total if total > 0 else np.zeros_like(variance)}


def exact_knn(points: np.ndarray, k: int, xp=np, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Each point's ``k`` nearest other points (euclidean), exactly: blocks of ``block`` query points
    against all points by ``|a|^2 - 2 a.b + |b|^2`` (float32 on the device, float64 on the CPU), the
    point itself left out.

    Returns
    -------
    (indices, distances)
        ``n x k`` host arrays, nearest first.
    """
    n = points.shape[0]
    k = min(k, n - 1)
    dtype = xp.float32 if xp is not np else np.float64
    p = xp.asarray(points, dtype=dtype)
    sq = (p * p).sum(axis=1)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        d2 = sq[start:stop, None] - 2.0 * (p[start:stop] @ p.T) + sq[None, :]
        d2[xp.arange(stop - start), xp.arange(start, stop)] = xp.inf
        part = xp.argpartition(d2, k - 1, axis=1)[:, :k]
        near = xp.take_along_axis(d2, part, axis=1)
        order = xp.argsort(near, axis=1)
        indices[start:stop] = to_host(xp.take_along_axis(part, order, axis=1))
        distances[start:stop] = to_host(xp.sqrt(xp.maximum(xp.take_along_axis(near, order, axis=1), 0.0)))
    return indices, distances


class BlockedKnn:
    """:func:`exact_knn` as the kNN transformer :func:`scanpy.pp.neighbors` accepts (``transformer=``):
    ``fit_transform`` returns the cells x cells sparse distances of each cell's ``n_neighbors - 1`` nearest
    other cells (scanpy adds the cell itself, as it does for RAPIDS' results)."""

    def __init__(self, n_neighbors: int = 15, xp=np, block: int = 2048):
        self.n_neighbors, self.xp, self.block = n_neighbors, xp, block

    def get_params(self, deep: bool = True) -> dict:
        return {"n_neighbors": self.n_neighbors}

    def fit_transform(self, X) -> sp.csr_matrix:
        n = X.shape[0]
        idx, dist = exact_knn(np.asarray(X), self.n_neighbors - 1, self.xp, self.block)
        indptr = np.arange(0, idx.size + 1, idx.shape[1])
        return sp.csr_matrix((dist.ravel(), idx.ravel(), indptr), shape=(n, n))


def subspace_cosine(u: np.ndarray, v: np.ndarray) -> float:
    """Cosine of the largest principal angle between two loading subspaces (genes x components; 1 = the
    same subspace): how the agreement tests and bench/sc_scale.py compare two PCAs."""
    qu, _ = np.linalg.qr(u)
    qv, _ = np.linalg.qr(v)
    return float(np.linalg.svd(qu.T @ qv, compute_uv=False).min())


def knn_overlap(a: sp.csr_matrix, b: sp.csr_matrix) -> float:
    """Mean share of each cell's neighbours in ``a`` also found in ``b`` (two cells x cells distance graphs,
    compared by their sparsity patterns)."""
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    shared = [len(np.intersect1d(a.indices[a.indptr[i]:a.indptr[i + 1]], b.indices[b.indptr[i]:b.indptr[i + 1]]))
              / max(a.indptr[i + 1] - a.indptr[i], 1) for i in range(a.shape[0])]
    return float(np.mean(shared))
