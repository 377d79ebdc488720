"""limma's blocking (``de.block``): samples that share a block (a mouse, a litter, a donor, a culture batch)
are correlated, and limma models that as a random effect instead of a fixed one.

``duplicateCorrelation(y, design, block)`` estimates each gene's intra-block correlation by REML
(statmod's ``mixedModel2Fit``: two variance components, fitted as a gamma GLM with identity link,
statmod's ``glmgam.fit``), and their consensus ``tanh(trimmed mean(atanh(rho)))``; ``lmFit(y, design, block,
correlation)`` is then generalised least squares with that correlation between the samples of a block
(limma's ``gls.series``). Ported from limma 3.54.1 and statmod 1.5.0, vectorised over genes; checked against
R by ``tests/data/limma/make_reference.R`` and ``tests/data/voom/make_reference.R``.

The REML components are computed in a basis of the design's residual space that differs from R's
Householder one; the fit depends only on the space (the squared projections enter through sums over
equal eigenvalues), so the estimates agree to rounding.
"""
from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import pandas as pd

from .errors import InputDataError
from .formula import estimable_columns

log = logging.getLogger(__name__)

RHO_MAX = 0.99
"""limma's upper bound on a gene's correlation before the consensus."""


class BlockError(InputDataError, ValueError):
    """``de.block``'s within-block correlation cannot be estimated from these samples (a pseudobulk cell type is
    then skipped, as for too few samples; a bulk dataset stops)."""


class Correlation(NamedTuple):
    """What :func:`duplicate_correlation` returns (limma's ``consensus.correlation`` and ``atanh.correlations``),
    and why the consensus is 0 without an estimate (``note``, empty otherwise)."""
    consensus: float
    atanh: np.ndarray
    note: str = ""


def block_indicator(block) -> np.ndarray:
    """Samples x blocks indicator matrix (bool) of the labels ``block``, blocks in order of appearance."""
    labels = np.asarray(block).astype(str)
    levels = list(dict.fromkeys(labels))
    return labels[:, None] == np.array(levels)[None, :]


def correlation_matrix(block, rho: float) -> np.ndarray:
    """limma's ``cormatrix``: ``rho`` between two samples of the same block, 1 on the diagonal, 0 elsewhere."""
    Z = block_indicator(block).astype(float)
    C = rho * (Z @ Z.T)
    np.fill_diagonal(C, 1.0)
    return C


def block_in_design(design: np.ndarray, block) -> bool:
    """limma's test in ``duplicateCorrelation``: the block dummies (all levels but the first) lie in the column
    space of ``design``, so the design already tells the blocks apart and no correlation can be estimated."""
    X = np.asarray(design, dtype=float)
    Xe = X[:, estimable_columns(X)]
    residual = np.linalg.qr(Xe, mode="complete")[0][:, Xe.shape[1]:]
    dummies = block_indicator(block)[:, 1:].astype(float)
    return bool(residual.shape[1] == 0 or np.abs(residual.T @ dummies).max() < 1e-8)


def _gamma_deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """statmod's ``deviance.gamma`` per row: Inf where a mean is negative; pairs with both y and mu below
    1e-15 left out."""
    with np.errstate(divide="ignore", invalid="ignore"):
        term = (y - mu) / mu - np.log(y / mu)
    term = np.where((y < 1e-15) & (mu < 1e-15), 0.0, term)
    dev = 2 * term.sum(axis=1)
    return np.where((mu < 0).any(axis=1), np.inf, dev)


def glmgam_fit(X: np.ndarray, y: np.ndarray, start: np.ndarray, tol: float = 1e-6, maxit: int = 50) -> np.ndarray:
    """statmod's ``glmgam.fit(X, y, coef.start = start, tol, maxit)`` for many problems at once: a gamma GLM
    with identity link by Fisher scoring with Levenberg damping, each problem (the leading axis: ``X``
    (G, m, p), ``y`` (G, m), ``start`` (G, p)) iterated as R iterates it alone. Returns the coefficients
    (G, p); NaN where the start gives a negative mean (R stops there)."""
    G, m, p = X.shape
    beta = start.astype(float).copy()
    mu = np.einsum("gmp,gp->gm", X, beta)
    bad = (mu < 0).any(axis=1)
    dev = _gamma_deviance(y, mu)
    lam = np.zeros(G)
    it = np.zeros(G, dtype=int)
    active = ~bad & (y.max(axis=1) > 0)
    beta[y.max(axis=1) == 0] = 0.0  # R: all y zero, coefficients 0
    eye = np.eye(p)
    while active.any():
        a = np.flatnonzero(active)
        it[a] += 1
        v = mu[a] ** 2
        v = np.maximum(v, v.max(axis=1, keepdims=True) / 1e3)
        XVX = np.einsum("gmp,gm,gmq->gpq", X[a], 1 / v, X[a])
        diag = np.diagonal(XVX, axis1=1, axis2=2)
        maxinfo = diag.max(axis=1)
        first = it[a] == 1
        lam[a[first]] = np.abs(diag[first].mean(axis=1)) / p
        dl = np.einsum("gmp,gm->gp", X[a], (y[a] - mu[a]) / v)
        beta_old, dev_old = beta[a].copy(), dev[a].copy()
        lev = np.zeros(len(a), dtype=int)
        dbeta = np.zeros((len(a), p))
        damped_out = np.zeros(len(a), dtype=bool)
        pending = np.ones(len(a), dtype=bool)
        while pending.any():
            k = np.flatnonzero(pending)
            g = a[k]
            lev[k] += 1
            step = np.linalg.solve(XVX[k] + lam[g][:, None, None] * eye, dl[k][:, :, None])[:, :, 0]
            dbeta[k] = step
            beta[g] = beta_old[k] + step
            mu[g] = np.einsum("gmp,gp->gm", X[g], beta[g])
            dev[g] = _gamma_deviance(y[g], mu[g])
            with np.errstate(divide="ignore", invalid="ignore"):
                done = (dev[g] <= dev_old[k]) | (dev[g] / mu[g].max(axis=1) < 1e-15)
            pending[k[done]] = False
            k, g = k[~done], g[~done]
            over = lam[g] / maxinfo[k] > 1e15
            beta[g[over]] = beta_old[k[over]]  # "Too much damping": R keeps the old coefficients and stops
            damped_out[k[over]] = True
            pending[k[over]] = False
            lam[g[~over]] *= 2
        damped_out |= lam[a] / maxinfo > 1e15
        lam[a[(lev == 1) & ~damped_out]] /= 10
        with np.errstate(divide="ignore", invalid="ignore"):
            converged = ((dl * dbeta).sum(axis=1) < tol) | (dev[a] / mu[a].max(axis=1) < 1e-15)
        stop = damped_out | converged | (it[a] > maxit)
        active[a[stop]] = False
    beta[bad] = np.nan
    return beta


def _lm_coefficients(dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R's ``lm.fit(cbind(1, d), dy)`` per problem: (coefficients (G, 2), fitted (G, m)); the ``d`` column NA
    where it is (nearly) constant, as R's pivoted QR (tolerance 1e-7) drops it."""
    d = dx[:, :, 1]
    centred = d - d.mean(axis=1, keepdims=True)
    deficient = np.linalg.norm(centred, axis=1) < 1e-7 * np.linalg.norm(dx[:, :, 1:], axis=(1, 2)).clip(1e-300)
    coef = np.full((len(dy), 2), np.nan)
    fitted = np.repeat(dy.mean(axis=1, keepdims=True), dy.shape[1], axis=1)
    coef[deficient, 0] = dy[deficient].mean(axis=1)
    ok = ~deficient
    if ok.any():
        slope = (centred[ok] * dy[ok]).sum(axis=1) / (centred[ok] ** 2).sum(axis=1)
        coef[ok, 1] = slope
        coef[ok, 0] = dy[ok].mean(axis=1) - slope * d[ok].mean(axis=1)
        fitted[ok] = coef[ok, :1] + slope[:, None] * d[ok]
    return coef, fitted


def mixed_model_varcomp(y: np.ndarray, X: np.ndarray, Z: np.ndarray, w: np.ndarray | None = None,
                        tol: float = 1e-6, maxit: int = 20) -> np.ndarray:
    """statmod's ``mixedModel2Fit(y, X, Z, w, only.varcomp = TRUE, maxit)`` for many genes sharing ``X``
    (samples x coefficients, full column rank) and ``Z`` (samples x blocks): the residual and block variance
    components (genes x 2) by REML. ``y`` and ``w`` are genes x samples; as statmod, the weights scale
    ``y`` and ``X`` by their square roots and not ``Z``."""
    G, n = y.shape
    r = X.shape[1]
    mq = n - r
    if mq == 0:
        return np.full((G, 2), np.nan)
    if w is None:
        Q = np.linalg.qr(X, mode="complete")[0][:, r:]  # a basis of the residual space
        QtZ = np.broadcast_to(Q.T @ Z, (G, mq, Z.shape[1]))
        Qty = y @ Q
    else:
        sw = np.sqrt(w)
        Q = np.linalg.qr(sw[:, :, None] * X[None], mode="complete")[0][:, :, r:]
        QtZ = np.einsum("gnm,nz->gmz", Q, Z)
        Qty = np.einsum("gnm,gn->gm", Q, sw * y)
    u, s, _ = np.linalg.svd(QtZ, full_matrices=True)
    d = np.zeros((G, mq))
    d[:, :s.shape[1]] = s ** 2
    dy = np.einsum("gmk,gm->gk", u, Qty) ** 2
    dx = np.stack([np.ones((G, mq)), d], axis=2)
    coef, fitted = _lm_coefficients(dx, dy)
    use_glm = (mq > 2) & ((np.abs(d) > 1e-15).sum(axis=1) > 1) & (d.var(axis=1, ddof=1) > 1e-15)
    if use_glm.any():
        start = np.where((fitted >= 0).all(axis=1)[:, None], coef, np.stack([dy.mean(axis=1), np.zeros(G)], axis=1))
        coef[use_glm] = glmgam_fit(dx[use_glm], dy[use_glm], start[use_glm], tol=tol, maxit=maxit)
    return coef


def duplicate_correlation(values: np.ndarray, design: np.ndarray, block, weights: np.ndarray | None = None,
                          trim: float = 0.15) -> Correlation:
    """limma's ``duplicateCorrelation(values, design, block = block, weights = weights, trim)``.

    Parameters
    ----------
    values
        Genes x samples (log2 expression; NaN = missing).
    design
        Samples x coefficients design matrix.
    block
        One label per sample.
    weights
        Observation weights as ``values`` (voom's), or None; a weight <= 0 makes the value missing.

    Returns
    -------
    Correlation
        The consensus correlation and each gene's ``atanh`` of its REML estimate (NaN where a gene has too
        few observed samples or blocks: limma needs more than ``ncol(design) + 2`` samples, and at least two
        blocks but fewer than the samples less one). As limma, blocks all of size 1, or a block factor already
        in the design, give a consensus of 0 (with ``note`` saying which).
    """
    M = np.array(values, dtype=float)
    X = np.asarray(design, dtype=float)
    labels = np.asarray(block).astype(str)
    G, n = M.shape
    Zall = block_indicator(labels)
    max_size = int(Zall.sum(axis=0).max())
    if max_size == 1:
        return Correlation(0.0, np.zeros(G), "every block holds a single sample")
    if block_in_design(X, labels):
        return Correlation(0.0, np.zeros(G), "the block factor is already in the design")
    W = None
    if weights is not None:
        W = np.array(weights, dtype=float)
        W[~(W > 0)] = np.nan
        M[~np.isfinite(W)] = np.nan
    rho = np.full(G, np.nan)
    observed = np.isfinite(M)
    patterns, which = np.unique(observed, axis=0, return_inverse=True)
    which = which.ravel()
    for k, pattern in enumerate(patterns):
        rows = np.flatnonzero(which == k)
        nobs = int(pattern.sum())
        blocks = Zall[pattern][:, Zall[pattern].any(axis=0)]
        nblocks = blocks.shape[1]
        if not (nobs > X.shape[1] + 2 and 1 < nblocks < nobs - 1):
            continue
        Xo = X[pattern]
        Xo = Xo[:, estimable_columns(Xo)]
        s = mixed_model_varcomp(M[np.ix_(rows, pattern)], Xo, blocks.astype(float),
                                None if W is None else W[np.ix_(rows, pattern)])
        with np.errstate(divide="ignore", invalid="ignore"):
            rho[rows] = np.where(np.isnan(s[:, 0]), np.nan, s[:, 1] / s.sum(axis=1))
    rho_min = 1 / (1 - max_size) + 0.01
    rho = np.where(np.isnan(rho), np.nan, np.clip(rho, rho_min, RHO_MAX))
    arho = np.arctanh(rho)
    finite = arho[~np.isnan(arho)]
    from scipy.stats import trim_mean  # here: the parse-time checks import this module and not scipy.stats

    consensus = float(np.tanh(trim_mean(finite, trim))) if len(finite) else float("nan")
    return Correlation(consensus, arho)


class Block(NamedTuple):
    """A fit's blocking (``de.block``): the sheet column, each sample's block (in the fit's sample order), the
    consensus correlation the fit uses, and how it was estimated."""
    column: str
    labels: np.ndarray
    correlation: float
    rounds: tuple[float, ...] = ()
    """The consensus of each round of duplicateCorrelation (voom's recipe has two; the last is used)."""
    genes: int = 0
    """Genes (or proteins) with a correlation estimate in the last round."""
    note: str = ""
    """Why the correlation is 0 without an estimate (limma's warnings), else empty."""

    def matrix(self) -> np.ndarray:
        """The samples x samples correlation matrix (:func:`correlation_matrix`)."""
        return correlation_matrix(self.labels, self.correlation)

    def describe(self) -> str:
        """One line for the log and the files: the column, the blocks, the correlation."""
        sizes = block_indicator(self.labels).sum(axis=0)
        text = (f"block {self.column!r} ({len(sizes)} blocks of {sizes.min()}-{sizes.max()} samples): "
                f"consensus correlation {self.correlation:.4f}")
        if self.note:
            return f"{text} ({self.note}: limma sets it to 0, an ordinary fit)"
        rounds = "" if len(self.rounds) < 2 else "; rounds " + " then ".join(f"{r:.4f}" for r in self.rounds)
        return f"{text} (duplicateCorrelation over {self.genes} features{rounds})"


def estimate_block(labels: pd.Series, values, design: np.ndarray, weights=None,
                   rounds: tuple[float, ...] = ()) -> Block:
    """:func:`duplicate_correlation` of ``values`` (genes x samples; a DataFrame's columns are matched to
    ``labels``' index) as a :class:`Block` named after ``labels``; ``rounds``: the consensus of earlier rounds
    (voom's recipe)."""
    if isinstance(values, pd.DataFrame):
        labels = labels.loc[values.columns]
    column = str(labels.name)
    if labels.astype(str).nunique() < 2:  # R's duplicateCorrelation stops in model.matrix(~ factor(block))
        raise BlockError(f"de.block {column!r}: all {len(labels)} samples are in one block "
                         f"({labels.astype(str).iloc[0]!r}), so there is no within-block correlation to estimate")
    dc = duplicate_correlation(np.asarray(values, dtype=float), design, labels.to_numpy(),
                               None if weights is None else np.asarray(weights, dtype=float))
    if not np.isfinite(dc.consensus):
        raise BlockError(f"de.block {column!r}: no feature has enough observed samples in enough blocks to "
                         "estimate the within-block correlation (limma needs more samples than design columns + 2, "
                         "and at least two blocks but fewer than the samples less one)")
    return Block(column, labels.astype(str).to_numpy(), dc.consensus, (*rounds, dc.consensus),
                 int(np.isfinite(dc.atanh).sum()) if not dc.note else 0, dc.note)


def block_labels(obs: pd.DataFrame, column: str | None) -> pd.Series | None:
    """Each sample's block (``de.block``) from ``obs`` (index = samples), named after the column; None without
    ``de.block``. A sample without a block is an error naming it (the sheet is checked at parse time; this
    guards the samples a job derives, such as pseudobulk ones)."""
    if not column:
        return None
    labels = obs[column]
    missing = labels.isna()
    if missing.any():
        raise InputDataError(f"de.block {column!r}: sample(s) {', '.join(map(str, labels.index[missing]))} have no "
                             "value in that column")
    return labels.astype(str).rename(column)
