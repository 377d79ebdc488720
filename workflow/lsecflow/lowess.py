"""R's ``lowess`` (Cleveland's algorithm, as R's C ``clowess``) and limma's ``loessFit`` without weights,
on numpy alone: the intensity trend of ``eBayes(trend = TRUE, robust = TRUE)``
(:mod:`lsecflow.limma_robust`) and the smoother of ``normalizeCyclicLoess``
(:func:`lsecflow.proteomics.normalize_cyclic_loess`) and of ``voom``'s mean-variance trend
(:mod:`lsecflow.voom`), with R's ``approx`` for reading such a trend."""
from __future__ import annotations

import numpy as np


def _seq_sum(v: np.ndarray) -> float:
    """Left-to-right sum (as a C loop adds), not numpy's pairwise one: keeps lowess within rounding of R's."""
    return float(np.cumsum(v)[-1]) if len(v) else 0.0


def _cube(v):
    return v * v * v


def _local_line(x: np.ndarray, y: np.ndarray, xs: float, nleft: int, nright: int, rw: np.ndarray | None
                ) -> float | None:
    """The weighted local line of :func:`lowess` at ``xs`` over the sorted ``x[nleft..nright]`` (and the
    ties beyond ``nright``): tricube weights of the distance over the window's radius ``h`` (1 within
    0.001 h, 0 beyond 0.999 h), times the robustness weights ``rw`` when given; ``None`` when every weight
    is zero."""
    h = max(xs - x[nleft], x[nright] - xs)
    r = np.abs(x[nleft:] - xs)
    beyond = (r > 0.999 * h) & (x[nleft:] > xs)
    end = int(np.argmax(beyond)) if beyond.any() else len(r)  # the first point right of xs past 0.999 h
    r, xw, yw = r[:end], x[nleft:nleft + end], y[nleft:nleft + end]
    w = np.where(r <= 0.999 * h, np.where(r <= 0.001 * h, 1.0, _cube(1.0 - _cube(r / h))), 0.0)
    if rw is not None:
        w = w * rw[nleft:nleft + end]
    a = _seq_sum(w)
    if a <= 0:
        return None
    w = w / a
    if h > 0:
        centre = _seq_sum(w * xw)
        b = xs - centre
        c = _seq_sum(w * (xw - centre) * (xw - centre))
        if np.sqrt(c) > 0.001 * (x[-1] - x[0]):  # spread enough to fit a slope
            w = w * (b / c * (xw - centre) + 1.0)
    return _seq_sum(w * yw)


def lowess(x: np.ndarray, y: np.ndarray, f: float = 2 / 3, iterations: int = 3, delta: float | None = None
           ) -> np.ndarray:
    """R's ``lowess(x, y, f, iter, delta)`` (Cleveland 1979) for ``x`` sorted increasingly: fitted values.

    Each fitted point is a weighted straight line through its ``f * n`` nearest neighbours (tricube
    weights); points within ``delta`` of the last fitted one are interpolated linearly (ties copy it);
    ``iterations`` robustness rounds then down-weight large residuals (bisquare of the residual over six
    times their median). ``delta`` defaults to R's, 1 % of the range of ``x``.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if n < 2:
        return y.copy()
    if delta is None:
        delta = 0.01 * (x[-1] - x[0])
    ns = max(2, min(n, int(f * n + 1e-7)))
    ys, rw = np.empty(n), None
    for step in range(iterations + 1):
        nleft, nright, last, i = 0, ns - 1, -1, 0
        while True:
            if nright < n - 1 and x[i] - x[nleft] > x[nright + 1] - x[i]:
                nleft, nright = nleft + 1, nright + 1  # the window moves right while that narrows it
                continue
            fitted = _local_line(x, y, x[i], nleft, nright, rw)
            ys[i] = y[i] if fitted is None else fitted
            if last < i - 1:  # skipped points: interpolate
                alpha = (x[last + 1:i] - x[last]) / (x[i] - x[last])
                ys[last + 1:i] = alpha * ys[i] + (1.0 - alpha) * ys[last]
            last = i
            cut = x[last] + delta
            i = last + 1
            while i < n and x[i] <= cut:
                if x[i] == x[last]:
                    ys[i] = ys[last]
                    last = i
                i += 1
            i = max(last + 1, i - 1)
            if last >= n - 1:
                break
        res = y - ys
        if step == iterations:
            break
        ares = np.abs(res)
        m1 = n // 2
        part = np.partition(ares, [n - m1 - 1, m1] if n % 2 == 0 else [m1])
        cmad = 3.0 * (part[m1] + part[n - m1 - 1]) if n % 2 == 0 else 6.0 * part[m1]
        if cmad < 1e-7 * (_seq_sum(ares) / n):  # residuals effectively zero
            break
        rw = np.where(ares <= 0.001 * cmad, 1.0,
                      np.where(ares <= 0.999 * cmad, (1.0 - (ares / cmad) * (ares / cmad)) ** 2, 0.0))
    return ys


def approx(x: np.ndarray, y: np.ndarray, xout: np.ndarray) -> np.ndarray:
    """R's ``approx(x, y, xout, rule = 2, ties = mean)``: linear interpolation, tied ``x`` averaged,
    constant beyond the ends."""
    ux, inv = np.unique(x, return_inverse=True)
    uy = np.bincount(inv, weights=y) / np.bincount(inv)
    return np.interp(xout, ux, uy)


def loess_fit(y: np.ndarray, x: np.ndarray, span: float = 0.3, iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """limma's ``loessFit(y, x, span, iterations)`` without weights: R's ``lowess`` of the finite pairs
    (``iter = iterations - 1``), ``(fitted, residuals)`` in input order, NaN where ``x`` or ``y`` is not finite."""
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    fitted = np.full(len(y), np.nan)
    obs = np.isfinite(y) & np.isfinite(x)
    nobs = int(obs.sum())
    if nobs == 0:
        return fitted, fitted.copy()
    if span < 1 / nobs:
        fitted[obs] = y[obs]
    else:
        o = np.argsort(x[obs], kind="stable")
        xo = x[obs][o]
        part = np.empty(nobs)
        part[o] = lowess(xo, y[obs][o], span, iterations - 1, 0.01 * (xo[-1] - xo[0]))
        fitted[obs] = part
    return fitted, y - fitted
