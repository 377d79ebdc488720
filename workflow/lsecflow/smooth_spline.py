"""R's ``smooth.spline(x, y)`` with its defaults (GCV choice of the smoothing parameter), for DEqMS's
``fit.method = "spline"`` (:mod:`lsecflow.deqms`).

A port of R 4.2's ``stats::smooth.spline`` and its Fortran/C core (``sbart.c``, ``sslvrg.f``, ``sgram.f``,
``stxwx.f``; R Core, GPL-2):

1. points whose x agree to ``1e-6 * IQR(x)`` are one point: their mean y, weighted by how many they are,
   and their spread around it added to the residual sum of squares (``yssw``);
2. x is scaled to [0, 1]; the cubic B-spline basis has a knot at every distinct x when there are fewer than
   50, else at ``.nknots.smspl(nx)`` of them, evenly spaced in rank;
3. for a smoothing parameter ``spar`` the penalty is ``lambda = r * 256^(3 spar - 1)``, r = tr(X'WX) /
   tr(Sigma) over the inner diagonal (Sigma = the integrals of B_i'' B_j'', with sgram's 0.333 for 1/3);
   the coefficients solve ``(X'WX + lambda Sigma) c = X'Wy``;
4. ``spar`` minimises GCV = ``(rss / n) / (1 - df / n)^2`` (df = the trace of the hat matrix) over
   [-1.5, 1.5], by the same Forsythe-Malcolm-Moler golden-section / parabolic search (tol 1e-4, eps 2e-8), and
   -- as in R -- the fit returned is the one of the search's last evaluation.

The linear algebra is dense (R's is banded); the two agree to rounding. Weights, ``df``, ``cv = TRUE`` and a
given ``spar`` or ``lambda`` are not ported (DEqMS uses none).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import interpolate, linalg

from .errors import InputDataError

#: The squared inverse of the golden ratio, (3 - sqrt(5)) / 2, as in sbart.c.
GOLD = 0.381966011250105151795413165634
BIG = 1e100


def n_knots(nx: int) -> int:
    """R's ``.nknots.smspl``: the number of inner knots for ``nx`` distinct x."""
    if nx < 50:
        return nx
    a1, a2, a3, a4 = np.log2([50, 100, 140, 200])
    if nx < 200:
        value = 2 ** (a1 + (a2 - a1) * (nx - 50) / 150)
    elif nx < 800:
        value = 2 ** (a2 + (a3 - a2) * (nx - 200) / 600)
    elif nx < 3200:
        value = 2 ** (a3 + (a4 - a3) * (nx - 800) / 2400)
    else:
        value = 200 + (nx - 3200) ** 0.2
    return int(np.trunc(value))


@dataclass
class SmoothSpline:
    """A fitted smoothing spline: ``fitted`` per input point, ``spar``, ``lambda_``, ``df`` (the hat matrix's
    trace), ``crit`` (GCV), ``iterations`` (of the spar search) and what :meth:`predict` needs."""

    fitted: np.ndarray
    spar: float
    lambda_: float
    df: float
    crit: float
    iterations: int
    ratio: float
    knots: np.ndarray
    coef: np.ndarray
    x_min: float
    x_range: float

    def predict(self, x) -> np.ndarray:
        """The spline at ``x`` -- linear beyond the data's range, continuing the end values and slopes (R's
        ``predict.smooth.spline``)."""
        xs = (np.asarray(x, dtype=float) - self.x_min) / self.x_range
        spline = interpolate.BSpline(self.knots, self.coef, 3, extrapolate=False)
        out = spline(np.clip(xs, 0.0, 1.0))
        ends = spline(np.array([0.0, 1.0]))
        slopes = spline.derivative(1)(np.array([0.0, 1.0]))
        out = np.where(xs < 0, ends[0] + slopes[0] * xs, out)
        return np.where(xs > 1, ends[1] + slopes[1] * (xs - 1), out)


def _collapse_ties(x: np.ndarray, y: np.ndarray):
    """Distinct x (to R's tolerance), the weight (count), mean y and within-group sum of squares of each,
    and each point's group."""
    q75, q25 = np.percentile(x, [75, 25])
    tol = 1e-6 * (q75 - q25)
    if not np.isfinite(tol) or tol <= 0:
        raise InputDataError("smooth.spline: the x values have no spread (their interquartile range is 0), "
                             "so there is no curve to fit")
    xx = np.round((x - x.mean()) / tol)
    _, first, group = np.unique(xx, return_index=True, return_inverse=True)
    ux = x[first]
    wbar = np.bincount(group).astype(float)
    ybar = np.bincount(group, weights=y) / wbar
    yssw = float(np.sum(np.bincount(group, weights=y * y) - wbar * ybar ** 2))
    return ux, wbar, ybar, yssw, group


def _penalty(knots: np.ndarray, nk: int) -> np.ndarray:
    """Sigma[i, j] = the integral over [0, 1] of B_i''(t) B_j''(t) dt as R's sgram computes it: B'' is linear
    on each knot interval, from y1 at its left end to y1 + y2 at its right, and the integral of each product is
    ``h (y1_i y1_j + (y2_i y1_j + y2_j y1_i) / 2 + 0.333 y2_i y2_j)`` -- with sgram's 0.3330 where the exact
    integral has 1/3."""
    breaks = np.unique(knots)
    second = interpolate.BSpline(knots, np.eye(nk), 3).derivative(2)
    left, right = second(breaks[:-1]), second(breaks[1:])
    y1, y2 = left, right - left
    h = np.diff(breaks)[:, None]
    cross = y2.T @ (y1 * h)
    return y1.T @ (y1 * h) + 0.5 * (cross + cross.T) + 0.3330 * (y2.T @ (y2 * h))


def smooth_spline(x, y) -> SmoothSpline:
    """``smooth.spline(x, y)`` with R's defaults (module notes).

    Parameters
    ----------
    x, y
        Finite values, at least four distinct x.

    Returns
    -------
    SmoothSpline
        ``fitted`` is R's ``fitted()``: the spline at each input x, in the input's order.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InputDataError("smooth.spline: missing or infinite values in x or y")
    if len(np.unique(x)) < 4:  # before the interquartile range, which an empty x has none of
        raise InputDataError(f"smooth.spline needs at least four distinct x values, got {len(np.unique(x))}")
    ux, wbar, ybar, yssw, group = _collapse_ties(x, y)
    nx = len(ux)
    if nx <= 3:  # x distinct but within R's tolerance of each other
        raise InputDataError(f"smooth.spline needs at least four distinct x values, got {nx} (to 1e-6 x their IQR)")
    x_range = ux[-1] - ux[0]
    xbar = (ux - ux[0]) / x_range
    inner = n_knots(nx)
    knots = np.r_[np.repeat(xbar[0], 3), xbar[np.trunc(np.linspace(1, nx, inner)).astype(int) - 1],
                  np.repeat(xbar[-1], 3)]
    nk = inner + 2
    basis = interpolate.BSpline.design_matrix(xbar, knots, 3).toarray()
    xwx = basis.T @ (basis * wbar[:, None])
    xwy = basis.T @ (wbar * ybar)
    sigma = _penalty(knots, nk)
    ratio = np.trace(xwx[2:nk - 3, 2:nk - 3]) / np.trace(sigma[2:nk - 3, 2:nk - 3])
    sumw = wbar.sum()

    def evaluate(spar: float):
        lam = ratio * 16.0 ** (6.0 * spar - 2.0)
        try:
            factor = linalg.cho_factor(xwx + lam * sigma, lower=False)
        except linalg.LinAlgError:
            return lam, None, None, None, None
        coef = linalg.cho_solve(factor, xwy)
        sz = basis @ coef
        lev = np.einsum("ij,ji->i", basis, linalg.cho_solve(factor, basis.T)) * wbar
        rss = yssw + np.sum(wbar * (ybar - sz) ** 2)
        df = float(lev.sum())
        return lam, coef, sz, df, (rss / sumw) / (1.0 - df / sumw) ** 2

    spar, fit, iterations = _fmin(evaluate, -1.5, 1.5, tol=1e-4, eps=2e-8, maxit=500)
    lam, coef, sz, df, crit = fit
    if coef is None:
        raise InputDataError(f"smooth.spline: the smoothing parameter search failed (spar {spar:.3g}: the "
                             "penalised system is not positive definite)")
    return SmoothSpline(fitted=sz[group], spar=spar, lambda_=lam, df=df, crit=crit, iterations=iterations,
                        ratio=ratio, knots=knots, coef=coef, x_min=ux[0], x_range=x_range)


def _fmin(evaluate, a: float, b: float, tol: float, eps: float, maxit: int):
    """sbart.c's spar search (Brent's fmin as Forsythe, Malcolm and Moler wrote it, R's variant): the spar
    found, the fit of the last evaluation (which R returns) and the iteration count."""
    v = w = x = a + GOLD * (b - a)
    d = e = 0.0
    last = evaluate(x)
    fx = fv = fw = last[4] if last[4] is not None else np.inf
    iterations = 0
    while last[1] is not None:
        xm = (a + b) * 0.5
        tol1 = eps * abs(x) + tol / 3.0
        tol2 = tol1 * 2.0
        iterations += 1
        if abs(x - xm) <= tol2 - (b - a) * 0.5 or iterations > maxit:
            break
        golden = abs(e) <= tol1 or fx >= BIG or fv >= BIG or fw >= BIG
        if not golden:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = (q - r) * 2.0
            if q > 0.0:
                p = -p
            q = abs(q)
            r, e = e, d
            golden = abs(p) >= abs(0.5 * q * r) or q == 0.0 or p <= q * (a - x) or p >= q * (b - x)
            if not golden:
                d = p / q
                u = x + d
                if u - a < tol2 or b - u < tol2:
                    d = np.copysign(tol1, xm - x)
        if golden:
            e = (a - x) if x >= xm else (b - x)
            d = GOLD * e
        u = x + (d if abs(d) >= tol1 else np.copysign(tol1, d))
        last = evaluate(u)
        fu = last[4] if last[4] is not None and np.isfinite(last[4]) else 2 * BIG
        if fu <= fx:
            if u >= x:
                a = x
            else:
                b = x
            v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv, w, fw = w, fw, u, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return x, last, iterations
