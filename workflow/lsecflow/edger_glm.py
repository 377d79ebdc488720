"""edgeR's negative binomial GLM (edgeR 3.40.2), ported: ``glmFit`` and what it is made of.

``mglmOneWay`` for a design equivalent to one group per column (Newton per group, ``mglmOneGroup``, tol
1e-10), else ``mglmLevenberg`` (Levenberg-Marquardt from the "null" start, tol 1e-6, at most 250
iterations, each gene with its own damping, all genes stepped at once); edgeR's unit deviance (Poisson
below dispersion 1e-4 -- where edgeR's C++ writes ``2/3`` in integer arithmetic, so its cubic term is 0 --
gamma above mu x phi 1e6, 1e-8 added to y and mu); ``predFC``'s prior counts (``addPriorCount``) and
``aveLogCPM``. The QL pipeline on top is :mod:`lsecflow.edger`.
"""
from __future__ import annotations

import numpy as np

LOW = 1e-10  # edgeR's low_value


def unit_deviance(y: np.ndarray, mu: np.ndarray, phi) -> np.ndarray:
    """edgeR's ``compute_unit_nb_deviance`` (elementwise)."""
    y = np.asarray(y, dtype=float) + 1e-8
    mu = np.asarray(mu, dtype=float) + 1e-8
    phi = np.broadcast_to(np.asarray(phi, dtype=float), np.broadcast_shapes(y.shape, mu.shape))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ylogy = y * np.log(y / mu)
        inv = 1 / phi
        out = 2 * (ylogy + (y + inv) * np.log((mu + inv) / (y + inv)))
        small = phi < 1e-4
        if small.any():
            resid = y - mu
            poisson = 2 * (ylogy - resid - 0.5 * resid * resid * phi * (1 + phi * (0 * resid - y)))
            out = np.where(small, poisson, out)
        big = ~small & (mu * phi > 1e6)
        if big.any():
            product = mu * phi
            out = np.where(big, 2 * ((y - mu) / mu - np.log(y / mu)) * mu / (1 + product), out)
    return out


def deviance(y, mu, phi, weights=1.0) -> np.ndarray:
    """Per-gene deviance (``nbinomDeviance``)."""
    return (np.asarray(weights) * unit_deviance(y, mu, phi)).sum(axis=1)


def fit_one_group(y: np.ndarray, offset: np.ndarray, disp: np.ndarray, weights: np.ndarray | None = None,
                  start: np.ndarray | None = None, maxit: int = 50, tol: float = 1e-10) -> np.ndarray:
    """``mglmOneGroup``: each gene's log mean rate (genes x samples ``y``; ``offset``, ``disp`` broadcast to
    it): Newton's iterations from the gamma solution (or ``start``), each gene stopping when its step is
    under ``tol``; -inf for a gene of zeros; the Poisson case (dispersion 0, weights 1) in closed form."""
    y = np.asarray(y, dtype=float)
    off = np.broadcast_to(offset, y.shape)
    disp = np.broadcast_to(disp, y.shape)
    w = np.ones_like(y) if weights is None else np.broadcast_to(weights, y.shape)
    G = y.shape[0]
    beta = np.full(G, np.nan) if start is None else np.array(start, dtype=float).reshape(G)
    nonzero = (y > LOW).any(axis=1)
    with np.errstate(divide="ignore"):
        guess = np.log(np.where(y > LOW, y / np.exp(off) * w, 0).sum(axis=1) / w.sum(axis=1))
    beta = np.where(np.isnan(beta), guess, beta)
    poisson = (disp == 0).all(axis=1) & (w == 1).all(axis=1)
    if poisson.any():
        with np.errstate(divide="ignore"):
            beta[poisson] = np.log(y[poisson].sum(axis=1) / np.exp(off[poisson]).sum(axis=1))
    active = np.flatnonzero(nonzero & ~poisson)
    for _ in range(maxit):
        if active.size == 0:
            break
        mu = np.exp(beta[active, None] + off[active])
        den = 1 + mu * disp[active]
        step = (((y[active] - mu) / den) * w[active]).sum(axis=1) / ((mu / den) * w[active]).sum(axis=1)
        beta[active] += step
        active = active[np.abs(step) >= tol]
    beta[~nonzero] = -np.inf
    return beta


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


def _damped_steps(xwx: np.ndarray, dl: np.ndarray, lam: np.ndarray, genes: np.ndarray, eye: np.ndarray):
    """The Levenberg steps ``(XtWX + lambda I) step = dl`` by Cholesky (``dpotrf``/``dpotrs``), all genes at
    once; where a factorisation fails, that gene's damping rises tenfold until it succeeds (``lam`` updated)."""
    try:
        L = np.linalg.cholesky(xwx + lam[genes][:, None, None] * eye)
    except np.linalg.LinAlgError:
        L = np.empty_like(xwx)
        for j, g in enumerate(genes):
            while True:
                try:
                    L[j] = np.linalg.cholesky(xwx[j] + lam[g] * eye)
                    break
                except np.linalg.LinAlgError:
                    lam[g] = lam[g] * 10 if lam[g] > 0 else 1e-100
    z = np.linalg.solve(L, dl[:, :, None])
    return np.linalg.solve(np.swapaxes(L, 1, 2), z)[:, :, 0]


def fit_levenberg(y, X, offset, disp, weights, beta, tol: float = 1e-6, maxit: int = 250):
    """``fit_levenberg`` for every gene at once, each with its own damping (genes x coefficients ``beta``
    updated in place). Returns (beta, mu, deviance)."""
    G, n = y.shape
    p = X.shape[1]
    ymax = y.max(axis=1)
    mu = np.exp(offset + beta @ X.T)
    dev = deviance(y, mu, disp, weights)
    zero = ymax < LOW
    beta[zero], mu[zero], dev[zero] = np.nan, 0.0, 0.0
    max_info = np.full(G, -1.0)
    lam = np.zeros(G)
    active = np.flatnonzero(~zero)
    eye = np.eye(p)
    XX = (X[:, :, None] * X[:, None, :]).reshape(n, p * p)  # X'WX = W @ XX, one product per pair of columns
    for it in range(1, maxit + 1):
        if active.size == 0:
            break
        ya, mua, da, wa, oa = y[active], mu[active], disp[active], weights[active], offset[active]
        den = 1 + mua * da
        wt = mua / den * wa
        dl = ((ya - mua) / den * wa) @ X
        xwx = (wt @ XX).reshape(-1, p, p)
        max_info[active] = np.maximum(max_info[active], np.diagonal(xwx, axis1=1, axis2=2).max(axis=1))
        if it == 1:
            lam[active] = np.maximum(max_info[active] * 1e-6, 1e-13)
        m = active.size
        lev = np.zeros(m, dtype=int)
        pending = np.ones(m, dtype=bool)
        failed = np.zeros(m, dtype=bool)
        low_dev = np.zeros(m, dtype=bool)
        dbeta = np.zeros((m, p))
        while pending.any():
            idx = np.flatnonzero(pending)
            lev[idx] += 1
            g = active[idx]
            step = _damped_steps(xwx[idx], dl[idx], lam, g, eye)
            dbeta[idx] = step
            beta_new = beta[g] + step
            mu_new = np.exp(oa[idx] + beta_new @ X.T)
            dev_new = deviance(ya[idx], mu_new, da[idx], wa[idx])
            low = dev_new / ymax[g] < 1e-13
            ok = (dev_new <= dev[g]) | low
            acc = idx[ok]
            beta[g[ok]], mu[g[ok]], dev[g[ok]] = beta_new[ok], mu_new[ok], dev_new[ok]
            low_dev[acc] = low[ok]
            pending[acc] = False
            rej = idx[~ok]
            grej = active[rej]
            lam[grej] *= 2
            lam[grej] = np.where(lam[grej] <= 0, 1e-100, lam[grej])
            gave_up = lam[grej] / max_info[grej] > 1e13
            failed[rej[gave_up]] = True
            pending[rej[gave_up]] = False
        divergence = (dl * dbeta).sum(axis=1)
        stop = failed | low_dev | (divergence < tol)
        speed = ~stop & (lev == 1)
        lam[active[speed]] /= 10
        active = active[~stop]
    return beta, mu, dev


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
    size (genes x samples)."""
    py, poff = add_prior_count(np.asarray(y, dtype=float), np.log(np.asarray(lib_size, dtype=float))[None, :],
                               prior_count)
    return np.log2(py / np.exp(poff) * 1e6)
