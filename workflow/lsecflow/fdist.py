"""limma's ``fitFDist`` (limma 3.54.1) with the natural-spline trend it fits (R's ``splines::ns``) and
``trigammaInverse``, ported from R: the prior of limma's ``squeezeVar``
(:func:`lsecflow.limma_robust.squeeze_var`), which eBayes and edgeR's glmQLFit use. edgeR's route thus needs no
inmoose, whose import costs ~1.5 s of a DE job (statsmodels, matplotlib and its DESeq2 port come with it), where
R's ``library(edgeR)`` costs 0.2 s (``bench/edger.py``); inmoose's own fitFDist built its spline basis in
quadratic time (67 s for eBayes(trend = TRUE) of 16,000 genes) and stopped without interior knots.

The spline basis spans the same space as R's (its columns may differ by the orientation of the QR of the
boundary constraints, which the least-squares trend, its residual variance and its predictions do not see).
Checked against R through edgeR's ``glmQLFit`` (tests/unit/test_edger.py) and directly
(tests/unit/test_fdist.py).
"""
from __future__ import annotations

import logging

import numpy as np
from scipy.special import digamma, polygamma

log = logging.getLogger(__name__)


def spline_design(knots, x, order: int, derivs=0) -> np.ndarray:
    """R's ``splines::splineDesign(knots, x, ord, derivs)``: each B-spline basis function evaluated by scipy's
    ``splev`` once per derivative order over all points (``derivs``: one order, or one per point)."""
    from scipy.interpolate import splev

    x = np.asarray(x, dtype=float)
    der = np.zeros(len(x), dtype=int)
    d = np.asarray(derivs)
    if d.ndim == 0:
        der[:] = d
    else:
        der[:len(d)] = d
    n_bases = len(knots) - order
    res = np.empty((len(x), n_bases))
    for i in range(n_bases):
        coefs = np.zeros(n_bases)
        coefs[i] = 1
        for value in np.unique(der):
            rows = der == value
            res[rows, i] = splev(x[rows], (knots, coefs, order - 1), der=int(value))
    return res


def natural_spline(x, df: int | None = None, knots=None, boundary=None, intercept: bool = True):
    """R's ``splines::ns(x, df, knots, intercept, Boundary.knots)``: the natural cubic spline basis (linear
    beyond the boundary knots). Interior knots at quantiles of ``x`` (R's type 7) when only ``df`` is given.
    Returns (basis, interior knots, boundary knots), the knots to evaluate the same basis at other points."""
    x = np.asarray(x, dtype=float)
    if boundary is None:
        boundary = (float(x.min()), float(x.max()))
        outside_l = outside_r = np.zeros(len(x), dtype=bool)
    else:
        boundary = tuple(sorted(boundary))
        outside_l, outside_r = x < boundary[0], x > boundary[1]
    inside = ~(outside_l | outside_r)
    if knots is None:
        n_inner = max(df - 1 - int(intercept), 0)
        knots = np.quantile(x[inside], np.linspace(0, 1, n_inner + 2)[1:-1]) if n_inner else np.array([])
    knots = np.asarray(knots, dtype=float)
    aknots = np.sort(np.concatenate([np.repeat(boundary, 4), knots]))
    basis = np.zeros((len(x), len(knots) + 4))
    for side, pivot in ((outside_l, boundary[0]), (outside_r, boundary[1])):
        if side.any():  # linear beyond the boundary: value and slope at the pivot
            tt = spline_design(aknots, [pivot, pivot], 4, [0, 1])
            basis[side] = np.column_stack([np.ones(side.sum()), x[side] - pivot]) @ tt
    if inside.any():
        basis[inside] = spline_design(aknots, x[inside], 4)
    const = spline_design(aknots, list(boundary), 4, [2, 2])
    if not intercept:
        const, basis = const[:, 1:], basis[:, 1:]
    q, _ = np.linalg.qr(const.T, mode="complete")  # qr.qty(qr(t(const)), t(basis)), then drop its first 2 rows
    return (q.T @ basis.T).T[:, 2:], knots, boundary


def trigamma_inverse(x: float) -> float:
    """limma's ``trigammaInverse``: the y with trigamma(y) = x, by Newton's method from 0.5 + 1/x."""
    if x > 1e7:
        return 1 / np.sqrt(x)
    if x < 1e-6:
        return 1 / x
    y = 0.5 + 1 / x
    for _ in range(50):
        tri = float(polygamma(1, y))
        dif = tri * (1 - tri / x) / float(polygamma(2, y))
        y += dif
        if -dif / y < 1e-8:
            break
    else:
        log.warning("trigammaInverse: iteration limit exceeded")
    return y


def fit_f_dist(x, df1, covariate=None) -> dict:
    """limma's ``fitFDist(x, df1, covariate)``: moment estimates of the scale and the second df of a scaled F
    distribution from the log variances ``x`` on ``df1`` df; with ``covariate``, the scale follows a natural-
    spline trend in it (1-4 df by the number of variances). Returns ``scale`` (an array with a covariate) and
    ``df2``."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n == 0:
        return {"scale": np.nan, "df2": np.nan}
    if n == 1:
        return {"scale": x, "df2": 0}
    df1 = np.asarray(df1, dtype=float)
    ok = np.isfinite(df1) & (df1 > 1e-15)
    if df1.ndim == 0:
        if not ok:
            return {"scale": np.nan, "df2": np.nan}
        ok = np.ones(n, dtype=bool)
    df1 = np.broadcast_to(df1, x.shape)
    if covariate is not None:
        covariate = np.asarray(covariate, dtype=float).copy()
        if np.isnan(covariate).any():
            raise ValueError("NA covariate values not allowed")
        fin = np.isfinite(covariate)
        if not fin.all():
            if fin.any():
                covariate[covariate == -np.inf] = covariate[fin].min() - 1
                covariate[covariate == np.inf] = covariate[fin].max() + 1
            else:
                covariate = np.sign(covariate)
    ok = ok & np.isfinite(x) & (x > -1e-15)
    nok = int(ok.sum())
    if nok == 1:
        return {"scale": x[ok], "df2": 0}
    x, df1 = x[ok], df1[ok]
    if covariate is not None:
        cov_ok, cov_out = covariate[ok], covariate[~ok]
        splinedf = min(1 + (nok >= 3) + (nok >= 6) + (nok >= 30), len(np.unique(cov_ok)))
        if splinedf < 2:
            out = fit_f_dist(x, df1)
            return {"scale": np.full(n, out["scale"]), "df2": out["df2"]}
    x = np.maximum(x, 0)
    m = np.median(x)
    if m == 0:
        log.warning("More than half of residual variances are exactly zero: eBayes unreliable")
        m = 1
    elif (x == 0).any():
        log.warning("Zero sample variances detected, have been offset away from zero")
    x = np.maximum(x, 1e-5 * m)
    e = np.log(x) - digamma(df1 / 2) + np.log(df1 / 2)
    if covariate is None:
        emean = e.mean()
        evar = np.sum((e - emean) ** 2) / (nok - 1)
    else:
        design, knots, boundary = natural_spline(cov_ok, df=splinedf)
        coef, _, rank, _ = np.linalg.lstsq(design, e, rcond=None)
        fitted = design @ coef
        emean = np.empty(n)
        emean[ok] = fitted
        if (~ok).any():  # R's predict(design, newx): the same basis at the left-out variances' covariate
            emean[~ok] = natural_spline(cov_out, knots=knots, boundary=boundary)[0] @ coef
        evar = np.sum((e - fitted) ** 2) / (nok - rank)  # mean(fit$effects[-(1:rank)]^2)
    evar = evar - np.mean(polygamma(1, df1 / 2))
    if evar > 0:
        df2 = 2 * trigamma_inverse(evar)
        s20 = np.exp(emean + digamma(df2 / 2) - np.log(df2 / 2))
    else:
        df2 = np.inf
        s20 = np.mean(x) if covariate is None else np.exp(emean)
    return {"scale": s20, "df2": df2}
