"""The single-cell QC numerics written once for numpy and cupy: one code path, its array module chosen by
``compute.gpu`` (:mod:`lsecflow.gpu`).

* :func:`block_stats`: per-cell metrics and per-gene sums of one CSR block of raw counts, with scanpy's
  normalisation (``normalize_total(target_sum=1e4)`` then ``log1p``, float32; :func:`log_normalise_data`);
* :func:`covariance_pca`: PCA of a cells x genes CSR matrix read in row blocks: the genes' Gram matrix and
  sums accumulated block by block (float64), the covariance's leading eigenvectors, the cells' scores by a
  second pass. Exact (scanpy's ``svd_solver="covariance_eigh"`` computes the same), one pass for the
  loadings where a randomized solver needs several, and on a GPU the Gram product is one dense matrix
  product per block;
* exact k nearest neighbours by blocked distance products (within k-means lists from 50,000 cells):
  :mod:`lsecflow.cell_knn`;
* :func:`umap_layout`: UMAP's layout optimisation with each epoch's edges as array operations (umap-learn's
  rules, the edges of an epoch updated in groups rather than one by one), from :func:`pca_init`.

The blocks are read on the host (scipy CSR); on the GPU each block's three CSR arrays move to the device one
block at a time as cupy arrays (the PCA densifies them there), and every result comes back to the host as
numpy.
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


def repeat_index(counts, xp, by_search: bool | None = None):
    """Each position ``i`` repeated ``counts[i]`` times (``np.repeat(arange(len(counts)), counts)``; cupy's
    ``repeat`` takes no array of repeats, so there (``by_search``, the default on cupy) each entry's
    position comes from a search of the cumulative ends)."""
    if not ((xp is not np) if by_search is None else by_search):
        return np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    ends = xp.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    return xp.searchsorted(ends, xp.arange(total), side="right")


def csr_arrays(block: sp.csr_matrix, xp):
    """``(data, indices, rows)`` of a scipy CSR block on ``xp``'s device; ``rows`` is each stored value's row."""
    rows = repeat_index(xp.asarray(np.diff(block.indptr)), xp)
    return xp.asarray(block.data), xp.asarray(block.indices), rows


def row_sums(values, indptr: np.ndarray, rows, xp):
    """Per-row sums of a CSR block's stored ``values`` (float64; 0 for an empty row): on the CPU by segment
    (``np.add.reduceat`` over ``indptr``, ~7x faster than ``bincount`` with weights), on cupy by ``bincount``."""
    n = len(indptr) - 1
    if xp is not np:
        return xp.bincount(rows, weights=values.astype(xp.float64), minlength=n)
    out = np.zeros(n)
    starts = np.asarray(indptr[:-1])
    filled = np.flatnonzero(np.diff(indptr) > 0)
    if len(filled):
        out[filled] = np.add.reduceat(np.asarray(values, dtype=np.float64), starts[filled])
    return out


def column_sums(values, indices, indptr: np.ndarray, n_columns: int, xp):
    """Per-column sums of a CSR block's stored ``values`` (float64): on the CPU by scipy's sparse column sum
    (~2.5x faster than ``bincount`` with weights), on cupy by ``bincount``."""
    if xp is not np:
        return xp.bincount(indices, weights=values.astype(xp.float64), minlength=n_columns)
    X = sp.csr_matrix((np.asarray(values, dtype=np.float64), indices, indptr), shape=(len(indptr) - 1, n_columns))
    return np.asarray(X.sum(axis=0)).ravel()


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
    indptr = block.indptr if xp is np else xp.asarray(block.indptr)
    values = data.astype(xp.float64)
    total = row_sums(values, block.indptr, rows, xp)
    stored_zero = rows[data == 0]  # explicit zeros are rare: count them, not the non-zeros
    n_genes = xp.diff(indptr) - xp.bincount(stored_zero, minlength=n)
    is_mito = xp.asarray(mito)[indices]
    mito_counts = row_sums(xp.where(is_mito, values, 0.0), block.indptr, rows, xp) if mito.any() else xp.zeros(n)
    lg = log_normalise_data(data, rows, total, xp)
    norm = xp.expm1(lg).astype(xp.float64)
    out = {"total": total, "n_genes": n_genes, "mito": mito_counts,
           "slog": column_sums(lg, indices, block.indptr, g, xp),
           "s1": column_sums(norm, indices, block.indptr, g, xp),
           "s2": column_sums(norm * norm, indices, block.indptr, g, xp)}
    return {k: to_host(v) for k, v in out.items()}


def log_normalised_columns(block: sp.csr_matrix, columns: np.ndarray, totals: np.ndarray, xp) -> sp.csr_matrix:
    """The log-normalised values of ``columns`` of a block of raw counts (host CSR float32), normalised by
    each cell's total over all genes (``totals``, from :func:`block_stats`)."""
    sub = sp.csr_matrix(block[:, columns])
    data, _, rows = csr_arrays(sub, xp)
    values = to_host(log_normalise_data(data, rows, xp.asarray(totals), xp))
    return sp.csr_matrix((values, sub.indices, sub.indptr), shape=sub.shape)


def _dense(block: sp.csr_matrix, xp):
    """A CSR block as a dense float64 array on ``xp``'s device, filled there from the block's three arrays
    (only those cross to a GPU, not the dense block)."""
    block = sp.csr_matrix(block)
    block.sum_duplicates()
    data, indices, rows = csr_arrays(block, xp)
    flat = xp.zeros(block.shape[0] * block.shape[1], dtype=xp.float64)
    flat[rows * block.shape[1] + indices] = data  # flat positions: numpy's 2-d fancy assignment is 10x slower
    return flat.reshape(block.shape)


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


def scatter_rows(index, values, n: int, xp):
    """``out[index[i]] += values[i]`` for the rows of ``values`` (n x dims, float64), by one weighted
    ``bincount`` per column (numpy and cupy alike)."""
    return xp.stack([xp.bincount(index, weights=values[:, c], minlength=n) for c in range(values.shape[1])], axis=1)


def pca_init(scores: np.ndarray, seed: int = 0) -> np.ndarray:
    """umap-learn's ``init="pca"`` from scores already computed: the first two components scaled to +-10,
    plus normal noise of sd 1e-4 (its ``noisy_scale_coords``; the noise parts cells that coincide)."""
    init = np.asarray(scores[:, :2], dtype=np.float64)
    init = init * (10.0 / max(float(np.abs(init).max()), 1e-12))
    return (init + np.random.RandomState(seed).normal(scale=1e-4, size=init.shape)).astype(np.float32)


def umap_layout(graph: sp.spmatrix, init: np.ndarray, xp=np, *, a: float, b: float, n_epochs: int | None = None,
                gamma: float = 1.0, initial_alpha: float = 1.0, negative_sample_rate: int = 5, seed: int = 0,
                batches: int = 8, max_step: float | None = 4.0) -> np.ndarray:
    """UMAP's layout optimisation (umap-learn's ``optimize_layout_euclidean`` with ``move_other=True``, as
    ``simplicial_set_embedding`` calls it) with the edges of each epoch processed together as array
    operations, so that it runs on a GPU with cupy alone.

    The same rules as umap-learn: edges below ``max(weight) / n_epochs`` dropped; edge ``i`` sampled every
    ``max(weight) / weight_i`` epochs (attraction on both ends, each gradient component clipped to +-4),
    followed by ``negative_sample_rate`` random cells per sampling pushed off its head (same coefficient and
    clip; ``0.001`` in the denominator); the learning rate falls linearly from ``initial_alpha``; 500 epochs
    up to 10,000 cells, else 200; the initial layout rescaled to [0, 10].

    What differs: umap-learn updates one edge after another, each seeing the positions its predecessors moved.
    Here an epoch's edges are dealt into ``batches`` groups (every ``batches``-th edge, so a cell's consecutive
    edges land in different groups, and each group reads the edge arrays in order), and each group's gradients
    are computed from the same positions and summed per cell. Summed at once, many pushes on one cell add up
    where one after another they would not (cells sitting on top of each other at the start all repel each other
    at full strength): 1.6 % of 100,000 cells ended beyond 3x the embedding's radius, one 36x; so each cell's
    summed move per group is also clipped to +-``max_step`` (4) times the learning rate, the bound umap-learn
    puts on one update. With both, on 100,000 bootstrapped cells the layout kept the share of each cell's 15
    nearest neighbours in PCA space among its 15 nearest in the layout (0.180) that umap-learn's kept (0.184);
    see docs/benchmarks.md.

    Parameters
    ----------
    graph
        The symmetric fuzzy graph (scanpy's ``obsp["connectivities"]``).
    init
        Initial coordinates (cells x 2), e.g. :func:`pca_init`.
    a, b
        The curve's parameters (``umap.umap_.find_ab_params(spread, min_dist)``).
    batches
        Groups per epoch (1: all of an epoch's edges at once).
    max_step
        Bound on each cell's summed move per group and coordinate, in units of the learning rate (``None``:
        unbounded, for the test that shows why it is there).

    Returns
    -------
    numpy.ndarray
        Cells x 2, float32, on the host.
    """
    g = sp.coo_matrix(graph)
    g.sum_duplicates()
    n = g.shape[0]
    n_epochs = (500 if n <= 10_000 else 200) if n_epochs is None else n_epochs
    keep = g.data >= g.data.max() / n_epochs
    per_sample = g.data.max() / g.data[keep].astype(np.float64)
    emb = np.asarray(init, dtype=np.float64)
    span = emb.max(axis=0) - emb.min(axis=0)
    emb = 10.0 * (emb - emb.min(axis=0)) / np.where(span > 0, span, 1.0)
    pos = xp.asarray(emb.astype(np.float32))
    head, tail = xp.asarray(g.row[keep].astype(np.int64)), xp.asarray(g.col[keep].astype(np.int64))
    per_sample = xp.asarray(per_sample)
    per_negative = per_sample / negative_sample_rate
    next_sample, next_negative = per_sample.copy(), per_negative.copy()
    rng = xp.random.RandomState(seed)
    alpha = initial_alpha
    for epoch in range(n_epochs):
        due = xp.flatnonzero(next_sample <= epoch)
        for group in range(batches):
            edges = due[group::batches]
            j, k = head[edges], tail[edges]
            diff = pos[j] - pos[k]
            d2 = (diff * diff).sum(axis=1)
            d2_ = xp.where(d2 > 0, d2, 1.0)
            coeff = xp.where(d2 > 0, -2.0 * a * b * d2_ ** (b - 1.0) / (a * d2_ ** b + 1.0), 0.0)
            grad = xp.clip(coeff[:, None] * diff, -4.0, 4.0) * alpha
            move = scatter_rows(j, grad, n, xp) - scatter_rows(k, grad, n, xp)
            next_sample[edges] += per_sample[edges]
            n_negative = xp.maximum(xp.trunc((epoch - next_negative[edges]) / per_negative[edges]), 0)
            next_negative[edges] += n_negative * per_negative[edges]
            src = j[repeat_index(n_negative.astype(xp.int64), xp)]
            diff = pos[src] - pos[rng.randint(0, n, size=src.shape[0])]
            d2 = (diff * diff).sum(axis=1)
            d2_ = xp.where(d2 > 0, d2, 1.0)
            coeff = xp.where(d2 > 0, 2.0 * gamma * b / ((0.001 + d2_) * (a * d2_ ** b + 1.0)), 0.0)
            grad = xp.clip(coeff[:, None] * diff, -4.0, 4.0) * alpha
            move += scatter_rows(src, grad, n, xp)
            if max_step is not None:
                move = xp.clip(move, -max_step * alpha, max_step * alpha)
            pos += move.astype(xp.float32)
        alpha = initial_alpha * (1.0 - epoch / n_epochs)
    return to_host(pos)


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


def neighbour_preservation(points: np.ndarray, layout: np.ndarray, k: int = 15, sample: int | None = None,
                           seed: int = 0) -> float:
    """Mean share of each cell's ``k`` nearest neighbours in ``points`` (e.g. PCA scores) that are among its
    ``k`` nearest in ``layout`` (e.g. UMAP): how the tests and bench/sc_scale.py compare two UMAP layouts of
    the same cells. ``sample``: that many cells at random as queries (against all cells)."""
    from sklearn.neighbors import NearestNeighbors

    n = points.shape[0]
    queries = np.arange(n) if sample is None or sample >= n else np.random.default_rng(seed).choice(n, sample, False)
    near = [NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z[queries], return_distance=False)
            for z in (np.asarray(points), np.asarray(layout))]
    kept = [len(np.intersect1d(a[a != q][:k], b[b != q][:k])) for q, a, b in zip(queries, *near)]
    return float(np.mean(kept) / k)
