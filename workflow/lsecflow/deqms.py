"""DEqMS (Zhu et al. 2020, Mol Cell Proteomics 19:1047): limma's moderated t with a prior variance that
depends on how many peptides (or PSMs) quantified each protein -- ``de.deqms`` of ``assay: proteomics``.

A port of DEqMS's ``spectraCounteBayes`` (Bioconductor DEqMS 1.25, github yafeng/DEqMS @b2c7a6e) on an
``lmFit`` result:

1. the log residual variances ``log(sigma^2)`` are smoothed against ``log2(count)``: ``loess(span = 0.75)``
   with R's defaults (degree 2, surface "interpolate"; scikit-misc wraps the same netlib ``dloess`` code as
   R), or ``nls(sigma^2 ~ a + b / count)`` (linear in a and b, so its least-squares solution is exact);
2. the prior df ``d0`` is DEqMS's moment estimate: the first local minimum, on the grid 0.1, 0.2, ..., of
   ``|mean((e - e_trend)^2 - trigamma(df / 2)) - trigamma(d0 / 2)|`` where ``e = log(sigma^2) -
   digamma(df / 2) + log(df / 2)``;
3. the prior variance ``s0^2 = exp(e_trend + digamma(d0 / 2) - log(d0 / 2))`` and the posterior
   ``(d0 s0^2 + df sigma^2) / (d0 + df)`` give ``t = coef / (stdev.unscaled sqrt(post))`` on ``d0 + df``
   degrees of freedom (not capped at the pooled df as limma's ``df.total`` is).

Departures from R, where R gives no answer: proteins without residual df are not tested (NA; R's
``loess`` drops their NA variance and DEqMS then recycles a shorter fitted vector over all proteins),
and a protein whose residual variance is exactly 0 (``log 0``: R's ``loess`` stops, and its infinite
term would spoil the prior df) is left out of the loess or spline and of the prior df, and gets the trend
at its count. A count of 0 anywhere: 1 is added to every count (DEqMS's vignette, "add pseudocount 1 to all
proteins"), logged.
"""
from __future__ import annotations

import logging

import numpy as np
from scipy import special, stats

from .errors import InputDataError
from .smooth_spline import smooth_spline

log = logging.getLogger(__name__)


def _smoother_failed(kind: str, x: np.ndarray, why) -> InputDataError:
    """The error of a trend (``loess`` or ``spline``) that cannot be fitted, with what to use instead."""
    return InputDataError(f"DEqMS: the {kind} of the log variances over log2 peptide count failed on {len(x)} "
                          f"proteins with {len(np.unique(x))} distinct counts ({why}); with so few, use de.deqms: "
                          "nls, or limma's eBayes (de.deqms: false)")


def _loess(x: np.ndarray, y: np.ndarray, span: float = 0.75):
    """R's ``loess(y ~ x, span)`` with its defaults: the fitted values and the model (whose ``predict``
    evaluates it elsewhere, within the range of ``x``, where R's "interpolate" surface ends)."""
    from skmisc.loess import loess

    if len(x) < 2:  # skmisc's dloess crashes the process on a single point (R's loess stops)
        raise _smoother_failed("loess", x, "a curve needs more than one point")
    model = loess(x, y, span=span)
    try:
        model.fit()
    except ValueError as exc:  # dloess's numerical warnings, which R prints and skmisc raises
        raise _smoother_failed("loess", x, exc) from exc
    return np.asarray(model.outputs.fitted_values, dtype=float), model


def trend(count: np.ndarray, sigma2: np.ndarray, method: str) -> np.ndarray:
    """DEqMS's trend of ``log(sigma^2)`` over the proteins' counts (NaN where ``sigma2`` is NaN).

    Parameters
    ----------
    count
        Peptide / PSM count per protein (>= 1).
    sigma2
        Residual variance per protein (NaN without residual df).
    method
        ``loess`` (``loess(log(sigma^2) ~ log2(count), span = 0.75)``), ``spline``
        (``smooth.spline(log2(count), log(sigma^2))``; for both, variances of 0 are left out and their trend
        read off the fit) or ``nls`` (``log`` of ``nls(sigma^2 ~ a + b / count)``, whose least-squares
        solution is linear, so exact whatever nls's start).
    """
    out = np.full(len(count), np.nan)
    usable = np.isfinite(sigma2)
    if method == "nls":
        X = np.column_stack([np.ones(int(usable.sum())), 1 / count[usable]])
        (a, b), *_ = np.linalg.lstsq(X, sigma2[usable], rcond=None)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[usable] = np.log(a + b / count[usable])
        return out
    fit = usable & (sigma2 > 0)
    x = np.log2(count)
    zero = usable & ~fit
    if method == "spline":
        spline = _spline(x[fit], np.log(sigma2[fit]))
        out[fit] = spline.fitted
        out[zero] = spline.predict(x[zero])
        return out
    out[fit], model = _loess(x[fit], np.log(sigma2[fit]))
    if zero.any():
        lo, hi = x[fit].min(), x[fit].max()
        out[zero] = np.asarray(model.predict(np.clip(x[zero], lo, hi)).values, dtype=float)
    return out


def _spline(x: np.ndarray, y: np.ndarray):
    """``smooth.spline(x, y)``; too few distinct counts is an error saying what to use instead."""
    try:
        return smooth_spline(x, y)
    except InputDataError as exc:
        raise _smoother_failed("spline", x, exc) from exc


def with_pseudo_count(count) -> np.ndarray:
    """The counts as DEqMS uses them: with a count of 0 anywhere, 1 added to every count (its vignette's
    pseudo-count; logged), else as given."""
    count = np.asarray(count, dtype=float)
    if (count == 0).any():
        log.info("DEqMS: %d proteins have a count of 0; 1 is added to every count (DEqMS's pseudo-count)",
                 int((count == 0).sum()))
        return count + 1
    return count


def prior_df(e: np.ndarray, e_trend: np.ndarray, df: np.ndarray) -> float:
    """DEqMS's prior df: the first local minimum over d0 = 0.1, 0.2, ... (at most 10 x the number of
    proteins with residual df) of ``|mean((e - e_trend)^2 - trigamma(df / 2)) - trigamma(d0 / 2)|``."""
    target = np.nanmean((e - e_trend) ** 2 - special.polygamma(1, df / 2))
    gaps: list[float] = []
    for i in range(1, int(np.sum(df > 0)) * 10 + 1):
        gaps.append(abs(target - float(special.polygamma(1, i / 20))))
        if i > 2 and gaps[i - 3] < gaps[i - 2]:
            break
    return (int(np.argmin(gaps)) + 1) / 10


def spectra_count_ebayes(fitted, count, method: str = "loess") -> dict:
    """``spectraCounteBayes(fit, fit.method = method)`` on an ``lmFit`` result (:func:`lsecflow.limma.lm_fit`).

    Parameters
    ----------
    fitted
        The ``lmFit`` result (``coefficients``, ``stdev_unscaled``, ``sigma``, ``df_residual``).
    count
        Peptide / PSM count per protein, in the fit's order (no NaN; 0 allowed, see the module notes).
    method
        ``loess``, ``nls`` or ``spline``.

    Returns
    -------
    dict
        ``t``, ``p_value`` (proteins x coefficients), ``s2_post``, ``s2_prior``, ``df_total`` (per protein;
        NaN without residual df), ``df_prior`` (d0), ``trend`` (the smoothed log variance), ``count`` (as
        used, after any pseudo-count).
    """
    count = with_pseudo_count(count)
    df = np.asarray(fitted.df_residual, dtype=float)
    sigma2 = np.asarray(fitted.sigma, dtype=float) ** 2
    sigma2[df == 0] = np.nan
    tested = np.isfinite(sigma2)
    if not (sigma2[tested] > 0).any():
        raise InputDataError(f"DEqMS: none of the {len(sigma2)} proteins has a residual variance to moderate (each "
                             "has no residual df, or a variance of 0): the design leaves no replicate to estimate "
                             "one; add samples or drop a term of the design")
    if (~tested).any():
        log.warning("DEqMS: %d proteins have no residual df and are not tested (NA)", int((~tested).sum()))
    if (sigma2[tested] == 0).any():
        log.warning("DEqMS: %d proteins have a residual variance of 0 (log 0): left out of the prior df%s, their "
                    "prior variance read off the trend at their count", int((sigma2[tested] == 0).sum()),
                    "" if method == "nls" else f" and the {method}")
    dfn = np.where(tested, df, np.nan)
    with np.errstate(divide="ignore"):
        y = np.log(sigma2)
    shift = special.digamma(dfn / 2) - np.log(dfn / 2)
    y_trend = trend(count, sigma2, method)
    e, e_trend = y - shift, y_trend - shift
    fine = np.isfinite(e)
    d0 = prior_df(e[fine], e_trend[fine], dfn[fine])
    s2_prior = np.exp(e_trend + special.digamma(d0 / 2) - np.log(d0 / 2))
    s2_post = (d0 * s2_prior + dfn * np.where(tested, sigma2, np.nan)) / (d0 + dfn)
    coef = np.asarray(fitted.coefficients, dtype=float)
    t = coef / (np.asarray(fitted.stdev_unscaled, dtype=float) * np.sqrt(s2_post)[:, None])
    df_total = d0 + dfn
    p = 2 * stats.t.sf(np.abs(t), df_total[:, None])
    log.info("DEqMS (%s trend of log variance over log2 count): prior df %.1f, prior variance %.3g to %.3g",
             method, d0, np.nanmin(s2_prior), np.nanmax(s2_prior))
    return {"t": t, "p_value": p, "s2_post": s2_post, "s2_prior": s2_prior, "df_total": df_total,
            "df_prior": d0, "trend": y_trend, "count": count}
