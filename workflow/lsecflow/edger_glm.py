"""edgeR's negative binomial GLM (edgeR 3.40.2), ported: ``glmFit`` and what it is made of.

``mglmOneWay`` for a design equivalent to one group per column (Newton per group, ``mglmOneGroup``, tol
1e-10), else ``mglmLevenberg`` (Levenberg-Marquardt from the "null" start, tol 1e-6, at most 250
iterations, each gene with its own damping); edgeR's unit deviance; ``predFC``'s prior counts
(``addPriorCount``) and ``aveLogCPM``. The per-gene loops are compiled (:mod:`lsecflow.edger_kernels`, as
edgeR's C++ runs them); this module shapes their inputs. The QL pipeline on top is :mod:`lsecflow.edger`.
"""
from __future__ import annotations

import numpy as np

from . import edger_kernels as kernels


def _as_c(a, shape=None) -> np.ndarray:
    """A C-contiguous, writeable float64 array (broadcast to ``shape``), as the compiled kernels take: one
    array type for every call, so each kernel compiles once (numba types a read-only array apart)."""
    a = np.asarray(a, dtype=float)
    return np.require(a if shape is None else np.broadcast_to(a, shape), float, ["C", "W"])


def unit_deviance(y: np.ndarray, mu: np.ndarray, phi) -> np.ndarray:
    """edgeR's ``compute_unit_nb_deviance`` (elementwise, broadcast): :func:`lsecflow.edger_kernels.unit_nb_deviance`."""
    shape = np.broadcast_shapes(np.shape(y), np.shape(mu), np.shape(phi))
    y, mu, phi = (_as_c(a, shape).reshape(-1) for a in (y, mu, phi))
    return kernels.unit_deviance_flat(y, mu, phi, np.empty(y.size)).reshape(shape)


def deviance(y, mu, phi, weights=1.0) -> np.ndarray:
    """Per-gene deviance (``nbinomDeviance``)."""
    return (np.asarray(weights) * unit_deviance(y, mu, phi)).sum(axis=1)


def fit_one_group(y: np.ndarray, offset: np.ndarray, disp: np.ndarray, weights: np.ndarray | None = None,
                  start: np.ndarray | None = None, maxit: int = 50, tol: float = 1e-10) -> np.ndarray:
    """``mglmOneGroup``: each gene's log mean rate (genes x samples ``y``; ``offset``, ``disp`` broadcast to
    it): Newton's iterations from the gamma solution (or ``start``), each gene stopping when its step is
    under ``tol``; -inf for a gene of zeros; the Poisson case (dispersion 0, weights 1) in closed form
    (:func:`lsecflow.edger_kernels.one_group`)."""
    y = _as_c(y)
    beta = np.full(y.shape[0], np.nan) if start is None else _as_c(start).reshape(y.shape[0]).copy()
    w = 1.0 if weights is None else weights
    return kernels.one_group(y, _as_c(offset, y.shape), _as_c(disp, y.shape), _as_c(w, y.shape), beta, maxit, tol)


def design_groups(X: np.ndarray) -> np.ndarray:
    """``designAsFactor``: samples with equal design rows share a group (codes in edgeR's level order)."""
    z = (np.e + np.pi) / 5
    key = (X * z ** np.arange(X.shape[1])).mean(axis=1)
    return np.unique(key, return_inverse=True)[1]


def _fit_one_way(y, X, groups, offset, disp, weights, start):
    """``mglmOneWay``: a one-group fit per group, mapped back to the design's coefficients."""
    k = groups.max() + 1
    first = np.array([np.flatnonzero(groups == g)[0] for g in range(k)])
    unique = X[first]
    identity = (unique == 1).sum() == k and (unique == 0).sum() == (k - 1) * k
    if start is not None and not identity:
        start = start @ unique.T
    beta = np.column_stack([
        fit_one_group(y[:, groups == g], offset[:, groups == g], disp[:, groups == g],
                      None if weights is None else weights[:, groups == g],
                      None if start is None else start[:, g]) for g in range(k)])
    beta = np.maximum(beta, -1e8)
    mu = np.exp(offset + beta[:, groups])
    coef = beta if identity else np.linalg.solve(unique, beta.T).T
    return coef, mu


def levenberg_start(y, X, offset, disp, weights) -> np.ndarray:
    """``get_levenberg_start`` (method "null"): the design's least-squares fit of each gene's log of its
    weighted mean count / library size."""
    N = np.exp(offset)
    cw = weights * N / (1 + disp * N)
    with np.errstate(divide="ignore"):
        level = np.log((y * cw / N).sum(axis=1) / cw.sum(axis=1))
    coef1 = np.linalg.lstsq(X, np.ones(X.shape[0]), rcond=None)[0]
    return level[:, None] * coef1[None, :]


def fit_levenberg(y, X, offset, disp, weights, beta, tol: float = 1e-6, maxit: int = 250):
    """``mglmLevenberg``: edgeR's Levenberg-Marquardt fit of each gene from ``beta`` (genes x coefficients;
    :func:`lsecflow.edger_kernels.levenberg`). Returns (beta, mu, deviance)."""
    y = _as_c(y)
    return kernels.levenberg(y, _as_c(X), _as_c(offset, y.shape), _as_c(disp, y.shape), _as_c(weights, y.shape),
                             _as_c(beta).copy(), tol, maxit)


def glm_fit(y: np.ndarray, X: np.ndarray, disp, offset, weights=None, prior_count: float = 0.125,
            start: np.ndarray | None = None) -> dict:
    """``glmFit``: the NB GLM of genes x samples ``y`` on design ``X`` at dispersions ``disp`` (scalar,
    per gene or genes x samples) with ``offset`` (log effective library sizes, per sample or genes x
    samples). Returns coefficients (natural log; with ``prior_count``, ``predFC``'s), unshrunk
    coefficients, fitted values, deviance, residual df and the method."""
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    G, n = y.shape
    d = np.asarray(disp, dtype=float)
    disp_m = np.broadcast_to(d[:, None] if d.ndim == 1 else d, (G, n)).astype(float)
    off = np.broadcast_to(np.asarray(offset, dtype=float), (G, n)).astype(float)
    w = np.ones((G, n)) if weights is None else np.broadcast_to(weights, (G, n)).astype(float)
    groups = design_groups(X)
    if groups.max() + 1 == X.shape[1]:
        coef, mu = _fit_one_way(y, X, groups, off, disp_m, None if weights is None else w, start)
        dev = deviance(y, mu, disp_m, w)
        method = "oneway"
    else:
        beta = levenberg_start(y, X, off, disp_m, w) if start is None else np.array(start, dtype=float)
        coef, mu, dev = fit_levenberg(y, X, off, disp_m, w, beta)
        method = "levenberg"
    out = {"coefficients": coef, "unshrunk": coef, "fitted": mu, "deviance": dev,
           "df_residual": np.full(G, n - X.shape[1]), "method": method, "counts": y, "design": X,
           "offset": off, "dispersion": disp_m, "weights": weights}
    if prior_count > 0:
        py, poff = add_prior_count(y, off, prior_count)
        out["coefficients"] = glm_fit(py, X, disp_m, poff, weights, prior_count=0)["coefficients"]
    return out


def add_prior_count(y: np.ndarray, offset: np.ndarray, prior_count: float) -> tuple[np.ndarray, np.ndarray]:
    """``addPriorCount``: the prior scaled by each library's size over the mean size, added to the counts
    and twice to the library sizes (returned as log offsets)."""
    lib = np.exp(offset)
    adj = prior_count * lib / lib.mean(axis=-1, keepdims=True)
    return y + adj, np.log(lib + 2 * adj)


def ave_log_cpm(y: np.ndarray, lib_size: np.ndarray, dispersion=0.05, prior_count: float = 2.0) -> np.ndarray:
    """``aveLogCPM``: each gene's average log2 CPM, a one-group NB fit with ``prior_count`` scaled by
    library size (effective library sizes ``lib_size``)."""
    y = np.asarray(y, dtype=float)
    py, poff = add_prior_count(y, np.log(np.asarray(lib_size, dtype=float))[None, :], prior_count)
    d = np.asarray(dispersion, dtype=float)
    beta = fit_one_group(py, poff, d[:, None] if d.ndim == 1 else d)
    return (beta + np.log(1e6)) / np.log(2)


def log_cpm(y: np.ndarray, lib_size: np.ndarray, prior_count: float = 2.0) -> np.ndarray:
    """``cpm(y, lib.size, log = TRUE, prior.count)``: log2 counts per million with the prior scaled by library
    size (genes x samples; ``lib_size`` per sample, or genes x samples as ``exp(offset)`` of a DGEList with
    offsets)."""
    py, poff = add_prior_count(np.asarray(y, dtype=float), np.log(np.atleast_2d(np.asarray(lib_size, dtype=float))),
                               prior_count)
    return np.log2(py / np.exp(poff) * 1e6)
