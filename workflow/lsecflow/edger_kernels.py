"""Compiled per-gene loops of edgeR's GLM (numba): ``compute_unit_nb_deviance``, ``glm_levenberg::fit`` and
``glm_one_group``, each written as edgeR 3.40.2's C++ runs it, one gene at a time.

Why compiled: numpy's whole-matrix version of the Levenberg loop had to carry the few genes whose coefficients
run towards -inf (a group of zeros) through ~30 more passes, each costing numpy's per-call overhead on a handful
of genes; 1,800 of its 2,400 damped steps on the DLPC ``~ batch + Group`` fit touched fewer than 100 genes
(``bench/edger.py``; docs/benchmarks.md). Here a gene stops when it converges, as in R.

The functions compile on first use and are cached next to this file (``cache=True``; numba falls back to a
user cache when the folder is read-only). Arrays are passed C-contiguous and float64 (the callers in
:mod:`lsecflow.edger_glm` make them so), so each kernel compiles once.
"""
from __future__ import annotations

import math

import numba
import numpy as np

LOW = 1e-10  # edgeR's low_value
SUPREMELY_LOW = 1e-13
RIDICULOUSLY_LOW = 1e-100


@numba.njit(cache=True)
def unit_nb_deviance(y: float, mu: float, phi: float) -> float:
    """edgeR's ``compute_unit_nb_deviance`` for one count: Poisson below dispersion 1e-4 (edgeR's C++ writes
    ``2/3`` in integer arithmetic there, so its cubic term is 0), gamma above mu x phi 1e6, 1e-8 added to y
    and mu."""
    y = y + 1e-8
    mu = mu + 1e-8
    if phi < 1e-4:
        resid = y - mu
        return 2 * (y * math.log(y / mu) - resid - 0.5 * resid * resid * phi * (1 + phi * (0 * resid - y)))
    product = mu * phi
    if product > 1e6:
        return 2 * ((y - mu) / mu - math.log(y / mu)) * mu / (1 + product)
    inv = 1 / phi
    return 2 * (y * math.log(y / mu) + (y + inv) * math.log((mu + inv) / (y + inv)))


@numba.njit(cache=True)
def unit_deviance_flat(y, mu, phi, out):
    """:func:`unit_nb_deviance` over three flat arrays of one length, into ``out``."""
    for k in range(y.size):
        out[k] = unit_nb_deviance(y[k], mu[k], phi[k])
    return out


@numba.njit(cache=True)
def _means(y_g, X, off_g, beta_g, disp_g, w_g, mu_out):
    """``autofill`` (mu = exp(offset + X beta)) for one gene, returning its deviance (``nb_deviance``)."""
    n, p = X.shape
    dev = 0.0
    for i in range(n):
        eta = off_g[i]
        for j in range(p):
            eta += X[i, j] * beta_g[j]
        mu_out[i] = math.exp(eta)
        dev += w_g[i] * unit_nb_deviance(y_g[i], mu_out[i], disp_g[i])
    return dev


@numba.njit(cache=True)
def _cholesky(A, lam, L) -> bool:
    """Lower Cholesky factor of ``A + lam I`` into ``L`` (``dpotrf``); False where it is not positive definite."""
    p = A.shape[0]
    for a in range(p):
        for b in range(a + 1):
            s = A[a, b] + (lam if a == b else 0.0)
            for k in range(b):
                s -= L[a, k] * L[b, k]
            if a == b:
                if s <= 0.0:
                    return False
                L[a, a] = math.sqrt(s)
            else:
                L[a, b] = s / L[b, b]
    return True


@numba.njit(cache=True)
def _cholesky_solve(L, rhs, z, out):
    """``dpotrs``: solve ``L L' out = rhs`` (``z``: scratch)."""
    p = L.shape[0]
    for a in range(p):
        s = rhs[a]
        for k in range(a):
            s -= L[a, k] * z[k]
        z[a] = s / L[a, a]
    for a in range(p - 1, -1, -1):
        s = z[a]
        for k in range(a + 1, p):
            s -= L[k, a] * out[k]
        out[a] = s / L[a, a]


@numba.njit(cache=True)
def levenberg(y, X, offset, disp, w, beta, tol, maxit):
    """``glm_levenberg::fit`` for each gene (rows of the genes x samples ``y``, ``offset``, ``disp``, ``w``):
    Levenberg-Marquardt damping from ``beta`` (genes x coefficients, updated in place), tolerance ``tol`` on
    the divergence ``dl . dbeta``, at most ``maxit`` iterations. Returns (beta, mu, deviance); a gene of zeros
    gets NaN coefficients, zero means and deviance 0."""
    G, n = y.shape
    p = X.shape[1]
    mu = np.zeros((G, n))
    dev = np.zeros(G)
    ww, deriv, mu_new = np.empty(n), np.empty(n), np.empty(n)
    xtwx, L = np.empty((p, p)), np.zeros((p, p))
    dl, dbeta, beta_new, z = np.empty(p), np.zeros(p), np.empty(p), np.empty(p)
    for g in range(G):
        ymax = 0.0
        for i in range(n):
            ymax = max(ymax, y[g, i])
        if ymax < LOW:
            beta[g, :] = np.nan
            continue
        d = _means(y[g], X, offset[g], beta[g], disp[g], w[g], mu[g])
        max_info, lam = -1.0, 0.0
        for it in range(1, maxit + 1):
            for i in range(n):
                den = 1 + mu[g, i] * disp[g, i]
                ww[i] = mu[g, i] / den * w[g, i]
                deriv[i] = (y[g, i] - mu[g, i]) / den * w[g, i]
            for a in range(p):
                s = 0.0
                for i in range(n):
                    s += deriv[i] * X[i, a]
                dl[a] = s
                for b in range(a + 1):
                    s = 0.0
                    for i in range(n):
                        s += ww[i] * X[i, a] * X[i, b]
                    xtwx[a, b] = s
                    xtwx[b, a] = s
                max_info = max(max_info, xtwx[a, a])
            if it == 1:
                lam = max(max_info * 1e-6, SUPREMELY_LOW)
            lev, low_dev, failed = 0, False, False
            while True:
                lev += 1
                while not _cholesky(xtwx, lam, L):  # singular through zero fits: damp more, as edgeR
                    lam *= 10
                    if lam <= 0:
                        lam = RIDICULOUSLY_LOW
                _cholesky_solve(L, dl, z, dbeta)
                for j in range(p):
                    beta_new[j] = beta[g, j] + dbeta[j]
                dev_new = _means(y[g], X, offset[g], beta_new, disp[g], w[g], mu_new)
                if dev_new / ymax < SUPREMELY_LOW:
                    low_dev = True
                if dev_new <= d or low_dev:
                    beta[g, :] = beta_new
                    mu[g, :] = mu_new
                    d = dev_new
                    break
                lam *= 2
                if lam <= 0:
                    lam = RIDICULOUSLY_LOW
                if lam / max_info > 1 / SUPREMELY_LOW:  # steps too small to matter
                    failed = True
                    break
            if failed or low_dev:
                break
            divergence = 0.0
            for j in range(p):
                divergence += dl[j] * dbeta[j]
            if divergence < tol:
                break
            if lev == 1:
                lam /= 10
        dev[g] = d
    return beta, mu, dev


@numba.njit(cache=True)
def one_group(y, offset, disp, w, beta, maxit, tol):
    """``glm_one_group`` for each gene: Newton's iterations on the log mean rate from ``beta`` (NaN: edgeR's
    start, the log of the weighted mean of count / library size over the non-zero counts), stopping when the
    step is under ``tol``; -inf for a gene of zeros; the Poisson case (dispersions 0, weights 1) in closed
    form. Returns ``beta`` (updated in place)."""
    G, n = y.shape
    for g in range(G):
        nonzero, poisson = False, True
        num, den_w, ysum, libsum = 0.0, 0.0, 0.0, 0.0
        for i in range(n):
            if y[g, i] > LOW:
                nonzero = True
                num += y[g, i] / math.exp(offset[g, i]) * w[g, i]
            den_w += w[g, i]
            if disp[g, i] != 0 or w[g, i] != 1:
                poisson = False
            ysum += y[g, i]
            libsum += math.exp(offset[g, i])
        if not nonzero:
            beta[g] = -np.inf
            continue
        if poisson:
            beta[g] = math.log(ysum / libsum)
            continue
        b = beta[g]
        if math.isnan(b):
            b = math.log(num / den_w)
        for _ in range(maxit):
            dl, info = 0.0, 0.0
            for i in range(n):
                mu = math.exp(b + offset[g, i])
                den = 1 + mu * disp[g, i]
                dl += (y[g, i] - mu) / den * w[g, i]
                info += mu / den * w[g, i]
            step = dl / info
            b += step
            if abs(step) < tol:
                break
        beta[g] = b
    return beta
