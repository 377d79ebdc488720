"""limma's sample quality weights (``de.sample_weights``): ``arrayWeights`` (Ritchie et al. 2006), one weight per
sample from a log-linear model of the residual variances, so that a noisy sample counts less instead of being
excluded. Ported from limma 3.54.1: the gene-by-gene update (``method = "genebygene"``, missing values included)
and the REML iteration (``method = "reml"``), with R's ``"auto"`` choice between them. voom uses the gene-by-gene
update (:func:`lsecflow.voom.voom_with_quality_weights`); proteins ``arrayWeights(E, design)``
(:mod:`lsecflow.de_proteomics`). Checked against R by ``tests/data/limma/make_reference.R`` and
``tests/data/voom/make_reference.R``.
"""
from __future__ import annotations

import logging

import numpy as np

from .formula import estimable_columns

log = logging.getLogger(__name__)


def log_sample_weights(weights) -> None:
    """Log each sample's weight (a Series indexed by sample), lowest first."""
    log.info("sample weights (arrayWeights), lowest first: %s",
             ", ".join(f"{s} {w:.3f}" for s, w in weights.sort_values().items()))


def _contr_sum(n: int) -> np.ndarray:
    """R's ``contr.sum(n)``: n x (n - 1)."""
    return np.vstack([np.eye(n - 1), -np.ones((1, n - 1))])


def array_weights(E: np.ndarray, design: np.ndarray, weights: np.ndarray | None = None, prior_n: float = 10,
                  method: str = "auto", maxiter: int = 50, tol: float = 1e-5) -> np.ndarray:
    """limma's ``arrayWeights(E, design, weights, prior.n, method, maxiter, tol)``: one weight per sample.

    Parameters
    ----------
    E
        Features x samples log expression (NaN = missing).
    design
        Samples x coefficients design matrix (R keeps the columns of its pivoted QR).
    weights
        Observation weights as ``E`` (voom's), or None.
    method
        ``genebygene``: each feature in turn (``E``'s row order, as R) fitted by weighted least squares on its
        observed samples (its ``weights`` row times the current sample weights; skipped with fewer than 3 observed
        samples or 2 residual df), and a Fisher-scoring step on the log-linear variance model (``contr.sum`` over
        samples, ``prior.n`` features' worth of prior information at equal weights) from its leverage-corrected
        residuals. ``reml``: the REML scoring iteration over all features at once (rows with a missing value
        dropped, as R). ``auto`` (R's default): ``genebygene`` with missing values or ``weights``, else ``reml``.
        Features whose residual variance is below 1e-15 are left out, as R.
    """
    E = np.array(E, dtype=float)
    X = np.asarray(design, dtype=float)
    n = E.shape[1]
    X = X[:, estimable_columns(X)]  # R: the columns of qr(design)$pivot[1:rank]
    if E.shape[0] < 2 or n - X.shape[1] < 2:
        return np.ones(n)
    E[~np.isfinite(E)] = np.nan
    has_na = bool(np.isnan(E).any())
    if method == "auto":
        method = "genebygene" if has_na or weights is not None else "reml"
    if method == "genebygene":
        return _gene_by_gene(E, X, weights, prior_n)
    if weights is not None:
        raise NotImplementedError("arrayWeights(method = 'reml') with prior weights is not ported")
    if has_na:
        complete = ~np.isnan(E).any(axis=1)
        log.info("arrayWeights (REML): removing %d rows with missing values", int((~complete).sum()))
        E = E[complete]
        if E.shape[0] < 2:
            return np.ones(n)
    return _reml(E, X, prior_n, maxiter, tol)


def _gene_by_gene(E: np.ndarray, X: np.ndarray, weights: np.ndarray | None, prior_n: float) -> np.ndarray:
    """limma's ``.arrayWeightsGeneByGene`` (see :func:`array_weights`)."""
    n = E.shape[1]
    Z2 = _contr_sum(n)
    Z = np.column_stack([np.ones(n), Z2])
    info2 = prior_n * Z2.T @ Z2
    gam = np.zeros(n - 1)
    aw = np.ones(n)
    for i in range(E.shape[0]):
        w = aw if weights is None else aw * weights[i]
        obs = ~np.isnan(E[i])
        if obs.all():
            Xo = X
        else:
            if obs.sum() <= 2:
                continue
            Xo = X[obs][:, estimable_columns(X[obs])]
            if obs.sum() - Xo.shape[1] < 2:
                continue
        root = np.sqrt(w[obs])
        q, _ = np.linalg.qr(Xo * root[:, None])
        ys = E[i, obs] * root
        resid = ys - q @ (q.T @ ys)
        d, h1 = np.zeros(n), np.zeros(n)
        d[obs] = resid ** 2  # w * (y - X b)^2
        s2 = float(d.sum()) / (obs.sum() - Xo.shape[1])  # R: mean(effects[-(1:rank)]^2), the same sum of squares
        if s2 < 1e-15:
            continue
        h1[obs] = 1 - (q ** 2).sum(axis=1)  # 1 - hat(fit$qr)
        info = Z.T @ (h1[:, None] * Z)
        info2 = info2 + info[1:, 1:] - np.outer(info[1:, 0] / info[0, 0], info[0, 1:])
        dl = Z2.T @ (d / s2 - h1)
        gam = gam + np.linalg.solve(info2, dl)
        aw = np.exp(Z2 @ -gam)
    return aw


def _reml(E: np.ndarray, X: np.ndarray, prior_n: float, maxiter: int, tol: float) -> np.ndarray:
    """limma's ``.arrayWeightsREML`` (complete features x samples ``E``; see :func:`array_weights`)."""
    n, p = E.shape[1], X.shape[1]
    Z2 = _contr_sum(n)
    Z = np.column_stack([np.ones(n), Z2])
    w = np.ones(n)

    def fit(w):
        root = np.sqrt(w)
        q, _ = np.linalg.qr(X * root[:, None])
        ys = E.T * root[:, None]  # samples x features
        resid_w = ys - q @ (q.T @ ys)  # sqrt(w) (y - X b)
        return q, resid_w, (resid_w ** 2).sum(axis=0) / (n - p)

    q, resid_w, s2 = fit(w)
    keep = s2 >= 1e-15
    if not keep.all():
        E = E[keep]
        if E.shape[0] < 2:
            return w
        q, resid_w, s2 = fit(w)
    genes = E.shape[0]
    gam = np.zeros(n - 1)
    last = np.inf
    for it in range(1, maxiter + 1):
        if it > 1:
            q, resid_w, s2 = fit(w)
        pairs = [q[:, : p - k] * q[:, k:] for k in range(p)]  # R's Q2, block k: Q[, 1:(p-k)] * Q[, (k+1):p]
        Q2 = np.column_stack(pairs)
        Q2[:, p:] *= np.sqrt(2)
        h = (q ** 2).sum(axis=1)
        QZ = Q2.T @ Z
        info = Z.T @ ((1 - 2 * h)[:, None] * Z) + QZ.T @ QZ
        info2 = info[1:, 1:] - np.outer(info[1:, 0] / info[0, 0], info[0, 1:])
        z = ((resid_w ** 2) / s2[None, :]).mean(axis=1) - (1 - h)  # R: colMeans(t(w * residuals^2) / s2)
        info2 = genes * info2 + prior_n * Z2.T @ Z2
        z = genes * z + prior_n * (w - 1)
        dl = Z2.T @ z
        step = np.linalg.solve(info2, dl)
        conv = float(dl @ step) / (n - 1) / (genes + prior_n)
        if np.isnan(conv) or conv >= last:
            log.warning("arrayWeights (REML): convergence tolerance not achievable, stopping prematurely (as R)")
            break
        last = conv
        gam = gam + step
        w = np.exp(Z2 @ -gam)
        if conv < tol:
            break
        if it == maxiter:
            log.warning("arrayWeights (REML): iteration limit reached (as R)")
    return w
