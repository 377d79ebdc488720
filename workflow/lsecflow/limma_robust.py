"""limma's robust options, which ``inmoose.limma`` 0.9.1 lacks:

* the robust empirical Bayes (``eBayes(robust = TRUE)``, Phipson et al. 2016): ``fitFDistRobustly`` and the
  moderated statistics that follow from it, after limma 3.54.1 (R/fitFDistRobustly.R, R/squeezeVar.R,
  R/ebayes.R), with or without an intensity trend (``eBayes(trend = TRUE, robust = TRUE)``: the trend of
  the log variances is limma's ``loessFit``, i.e. R's ``lowess``, :func:`lsecflow.lowess.lowess`). A protein whose residual
  variance is an outlier among the others gets a smaller prior df (its own variance counts for more),
  instead of one prior df for all;
* the robust linear model (``lmFit(method = "robust")``, limma's ``mrlm``): each protein fitted by
  M-estimation with MASS's ``rlm`` defaults (:func:`rlm_solve`), so that one outlying sample moves the
  coefficient less than in least squares;

and eBayes itself (:func:`ebayes`: inmoose 0.9.1's stops whenever the prior df is infinite) on limma's
``squeezeVar`` (:func:`squeeze_var`, with ``fitFDist`` from :mod:`lsecflow.fdist`: R's spline trend in linear
time and memory, where inmoose's took 67 s for 16,000 genes and stopped without interior knots), with
:func:`log_odds` (R's B).
"""
from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from .errors import UnfittableFit
from .fdist import fit_f_dist
from .lowess import approx, loess_fit

HUBER_K = 1.345  # MASS::psi.huber's k (95 % efficiency at the normal)


def _gauss_uniform(n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """statmod's ``gauss.quad.prob(n, dist = "uniform")``: nodes and weights on [0, 1]."""
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1) / 2, w / 2


def _winsorized_moments(df1: float, df2: float, tail: np.ndarray) -> tuple[float, float]:
    """Mean and variance of the Winsorised log-F(df1, df2) (limma's ``winsorizedMoments``)."""
    nodes01, weights = _gauss_uniform()
    fq = stats.f.ppf([tail[0], 1 - tail[1]], df1, df2) if np.isfinite(df2) else \
        stats.chi2.ppf([tail[0], 1 - tail[1]], df1) / df1
    zq = np.log(fq)
    q = fq / (1 + fq)
    nodes = q[0] + (q[1] - q[0]) * nodes01
    fnodes = nodes / (1 - nodes)
    znodes = np.log(fnodes)
    dens = (stats.f.pdf(fnodes, df1, df2) if np.isfinite(df2) else stats.chi2.pdf(fnodes * df1, df1) * df1)
    f = dens / (1 - nodes) ** 2
    q21 = q[1] - q[0]
    m = q21 * np.sum(weights * f * znodes) + np.sum(zq * tail)
    v = q21 * np.sum(weights * f * (znodes - m) ** 2) + np.sum((zq - m) ** 2 * tail)
    return float(m), float(v)


def _scale(v):
    """A scalar scale as a float, a per-variance (trended) one as an array."""
    return float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)


def fit_f_dist_robustly(x: np.ndarray, df1, covariate=None, winsor_tail_p=(0.05, 0.1)) -> dict:
    """limma's ``fitFDistRobustly(x, df1, covariate)``: ``scale`` (one per variance when ``covariate`` is
    given: the trend), ``df2`` and per-variance ``df2_shrunk``.

    With a covariate (``eBayes(trend = TRUE, robust = TRUE)``: the proteins' average log intensity), the
    log variances' trend is limma's ``loessFit(z, covariate, span = 0.4)`` (:func:`loess_fit`) and the
    Winsorised residuals around it give ``df2``; the non-robust start is ``fitFDist`` with the covariate
    (:func:`lsecflow.fdist.fit_f_dist`, a spline trend).
    """
    x = np.asarray(x, dtype=float).copy()
    n = len(x)
    df1 = np.broadcast_to(np.asarray(df1, dtype=float), x.shape).copy()
    if covariate is not None:
        covariate = np.asarray(covariate, dtype=float).copy()
        if len(covariate) != n:
            raise ValueError("x and covariate are different lengths")
        if not np.isfinite(covariate).all():
            raise ValueError("covariate contains NA or infinite values")
    ok = ~np.isnan(x) & np.isfinite(df1) & (df1 > 1e-6)
    if not ok.all():
        fit = fit_f_dist_robustly(x[ok], df1[ok], None if covariate is None else covariate[ok], winsor_tail_p)
        shrunk = x.copy()
        shrunk[ok], shrunk[~ok] = fit["df2_shrunk"], fit["df2"]
        scale = fit["scale"]
        if covariate is not None:  # the trend at the left-out variances' covariate, interpolated
            scale = np.empty(n)
            scale[ok] = fit["scale"]
            scale[~ok] = np.exp(approx(covariate[ok], np.log(fit["scale"]), covariate[~ok]))
        return {"scale": scale, "df2": fit["df2"], "df2_shrunk": shrunk}
    m = np.median(x)
    if m <= 0:
        raise ValueError("variances are mostly <= 0")
    x[x < m * 1e-12] = m * 1e-12
    non_robust = fit_f_dist(x, df1, covariate)  # fit_f_dist copies what it changes (inmoose's changed its input)
    tail = np.resize(np.asarray(winsor_tail_p, dtype=float), 2)
    if np.all(tail < 1 / n):
        return {"scale": _scale(non_robust["scale"]), "df2": non_robust["df2"],
                "df2_shrunk": np.full(n, non_robust["df2"])}
    # unequal df1: move each variance to the quantile it would have at the largest df1
    df1max = df1.max()
    low = df1 < df1max - 1e-14
    if low.any():
        s, d2 = non_robust["scale"], non_robust["df2"]
        s = s if np.ndim(s) == 0 else np.asarray(s)[low]
        f = x[low] / s
        pupper = stats.f.logsf(f, df1[low], d2)
        plower = stats.f.logcdf(f, df1[low], d2)
        up = pupper < plower
        f[up] = stats.f.isf(np.exp(pupper[up]), df1max, d2)
        f[~up] = stats.f.ppf(np.exp(plower[~up]), df1max, d2)
        x[low] = f * s
    df1 = float(df1max)
    z = np.log(x)
    if covariate is None:
        ztrend = stats.trim_mean(z, tail[1])
        zresid = z - ztrend
    else:
        ztrend, zresid = loess_fit(z, covariate, span=0.4)
    zrq = np.quantile(zresid, [tail[0], 1 - tail[1]])  # R's type-7 quantiles
    zwins = np.clip(zresid, zrq[0], zrq[1])
    zwmean = zwins.mean()
    zwvar = np.mean((zwins - zwmean) ** 2) * n / (n - 1)
    mom_inf = _winsorized_moments(df1, np.inf, tail)
    funval_inf = np.log(zwvar / mom_inf[1])
    if funval_inf <= 0:  # df2 = Inf: no variance spread beyond sampling
        ztc = ztrend + zwmean - mom_inf[0]
        fstat = np.exp(z - ztc)
        tail_p = stats.chi2.sf(fstat * df1, df1)
        r = stats.rankdata(fstat)
        prob_not = np.minimum(tail_p / ((n - r + 0.5) / n), 1)
        shrunk = np.full(n, np.inf)
        out = prob_not < 1
        if out.any():
            shrunk[out] = prob_not[out] * n * df1
            o = np.argsort(tail_p, kind="stable")
            shrunk[o] = np.maximum.accumulate(shrunk[o])
        return {"scale": _scale(np.exp(ztc)), "df2": np.inf, "df2_shrunk": shrunk}
    if not np.isfinite(non_robust["df2"]):
        return {"scale": _scale(non_robust["scale"]), "df2": np.inf, "df2_shrunk": np.full(n, np.inf)}

    def fun(v):  # on the link scale v = df2 / (1 + df2); v = 1 is df2 = Inf
        return funval_inf if v >= 1 else np.log(zwvar / _winsorized_moments(df1, v / (1 - v), tail)[1])

    rbx = non_robust["df2"] / (1 + non_robust["df2"])
    funval_low = fun(rbx)
    if funval_low >= 0:
        df2 = non_robust["df2"]
    else:  # R: uniroot(fun, c(rbx, 1), tol = 1e-8)
        root = optimize.brentq(fun, rbx, 1.0, xtol=1e-8)
        df2 = root / (1 - root)
    mom = _winsorized_moments(df1, df2, tail)
    ztc = ztrend + zwmean - mom[0]
    fstat = np.exp(z - ztc)
    log_tail = stats.f.logsf(fstat, df1, df2)
    r = stats.rankdata(fstat)
    log_not = np.minimum(log_tail - (np.log(n - r + 0.5) - np.log(n)), 0)
    prob_not, prob_out = np.exp(log_not), -np.expm1(log_not)
    if (log_not < 0).any():
        min_log = log_tail.min()
        if min_log == -np.inf:
            shrunk = prob_not * df2
        else:
            df2_out = np.log(0.5) / min_log * df2
            df2_out = np.log(0.5) / stats.f.logsf(fstat.max(), df1, df2_out) * df2_out
            shrunk = prob_not * df2 + prob_out * df2_out
        o = np.argsort(log_tail, kind="stable")
        ordered = shrunk[o]
        means = np.cumsum(ordered) / np.arange(1, n + 1)
        imin = int(np.argmin(means))
        ordered[: imin + 1] = means[imin]
        shrunk[o] = np.maximum.accumulate(ordered)
    else:
        shrunk = np.full(n, df2)
    return {"scale": _scale(np.exp(ztc)), "df2": float(df2), "df2_shrunk": shrunk}


def squeeze_var(var: np.ndarray, df: np.ndarray, covariate: np.ndarray | None, robust: bool = False) -> dict:
    """limma's ``squeezeVar(var, df, covariate, robust)``: prior df (per feature when robust), prior and
    posterior variances (an infinite prior df: the prior variance). ``fitFDist`` is :func:`lsecflow.fdist.fit_f_dist`,
    ``fitFDistRobustly`` :func:`fit_f_dist_robustly`; eBayes (:func:`ebayes`) and edgeR's glmQLFit use it."""
    var = np.asarray(var, dtype=float).copy()
    df = np.asarray(df, dtype=float)
    var[df == 0] = 0
    if robust:
        f = fit_f_dist_robustly(var, df, covariate)
        df_prior, scale = np.asarray(f["df2_shrunk"], dtype=float), f["scale"]
    else:
        f = fit_f_dist(var, df, covariate)
        df_prior, scale = f["df2"], f["scale"]
    df_prior_v = np.broadcast_to(df_prior, var.shape).astype(float)
    scale_v = np.broadcast_to(scale, var.shape).astype(float)
    post = scale_v.copy()
    fin = np.isfinite(df_prior_v)
    post[fin] = (df[fin] * var[fin] + df_prior_v[fin] * scale_v[fin]) / (df[fin] + df_prior_v[fin])
    return {"df_prior": df_prior, "var_prior": scale, "var_post": post}


def log_odds(t: np.ndarray, su: np.ndarray, df_total: np.ndarray, df_prior, s2_prior, proportion: float = 0.01,
             stdev_coef_lim=(0.1, 4)) -> np.ndarray:
    """eBayes's ``lods`` (B, genes x coefficients) from its moderated t, unscaled standard errors, total and prior
    df and prior variance, as limma 3.54's ``.ebayes``: ``var.prior`` per coefficient by ``tmixture.vector``.

    inmoose 0.9.1's ``tmixture_matrix`` hands every column the same ``df`` array, which its
    ``tmixture_vector`` overwrites (``df[df < max] = max``): where the total df differ between genes (missing
    values, a robust prior) the later columns' ``var.prior`` and the kernel's df were not R's, and B was off
    by up to 2 on UPS1. Here each column gets its own copy, and the kernel is R's
    ``log((t^2 + df) / (t^2 / r + df))``."""
    from inmoose.limma import tmixture_vector

    df_total = np.asarray(df_total, dtype=float)
    s2_prior = np.asarray(s2_prior, dtype=float)
    lim = np.array(stdev_coef_lim) ** 2 / np.median(s2_prior)
    var_prior = np.array([tmixture_vector(t[:, j], su[:, j], df_total.copy(), proportion, lim)
                          for j in range(t.shape[1])], dtype=float)
    failed = np.isnan(var_prior)
    var_prior[failed] = np.resize(1 / np.atleast_1d(s2_prior), int(failed.sum()))  # R recycles 1 / s2.prior
    r = (su ** 2 + var_prior[None, :]) / su ** 2
    t2 = t ** 2
    infinite = np.broadcast_to(np.asarray(df_prior, dtype=float) > 1e6, df_total.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = np.where(infinite[:, None], t2 * (1 - 1 / r) / 2,
                          (1 + df_total[:, None]) / 2 * np.log((t2 + df_total[:, None]) / (t2 / r + df_total[:, None])))
    return np.log(proportion / (1 - proportion)) - np.log(r) / 2 + kernel


def residual_df(fitted) -> np.ndarray:
    """The ``lmFit`` result's residual df, refused (:class:`~lsecflow.errors.UnfittableFit`) when no feature has
    any: R's eBayes stops there too ("No residual degrees of freedom in linear model fits")."""
    df_res = np.asarray(fitted.df_residual, dtype=float)
    if not (df_res > 0).any():
        raise UnfittableFit(f"no feature has residual degrees of freedom (each of the {len(df_res)} is observed in "
                            "no more samples than the design has coefficients), so eBayes has no variance to "
                            "moderate: keep features with more observed values (proteomics.min_valid) or drop a "
                            "design term")
    return df_res


def ebayes(fitted, trend: bool = False, proportion: float = 0.01, stdev_coef_lim=(0.1, 4)):
    """``eBayes(fit, trend)`` on an ``lmFit`` result, as limma 3.54's ``.ebayes``: :func:`squeeze_var` for
    the prior, then ``s2_post``, ``t``, ``df_total`` (capped at the pooled residual df), ``p_value`` and
    :func:`log_odds` set on ``fitted``, which is returned. inmoose 0.9.1's own ``eBayes`` stops with a
    ``KeyError`` whenever the prior df is infinite (residual variances no more spread than chance: its
    ``~Infdf`` of a Python bool is -2, an index); R then takes ``s2_post = s2_prior`` and ``df_total`` = the
    pooled df, as here."""
    df_res = residual_df(fitted)
    sigma2 = np.asarray(fitted.sigma, dtype=float) ** 2
    if not np.isfinite(sigma2).any():
        raise ValueError("no finite residual standard deviations")
    out = squeeze_var(sigma2, df_res, covariate=np.asarray(fitted.Amean, dtype=float) if trend else None)
    return _moderate(fitted, df_res, out["df_prior"], out["var_prior"], np.asarray(out["var_post"], dtype=float),
                     proportion, stdev_coef_lim)


def _moderate(fitted, df_res, df_prior, s2_prior, s2_post, proportion, stdev_coef_lim):
    """What both eBayes variants do once the prior is fitted: the moderated t, ``df_total`` (residual plus prior
    df, capped at the pooled residual df), the p-values and :func:`log_odds`, set on ``fitted``."""
    su = np.asarray(fitted.stdev_unscaled, dtype=float)
    t = np.asarray(fitted.coefficients, dtype=float) / su / np.sqrt(s2_post)[:, None]
    df_total = np.minimum(df_res + np.asarray(df_prior, dtype=float), np.nansum(df_res))
    fitted.df_prior, fitted.s2_prior, fitted.s2_post, fitted.df_total = df_prior, s2_prior, s2_post, df_total
    fitted.t, fitted.p_value = t, 2 * stats.t.sf(np.abs(t), df_total[:, None])
    fitted.lods = log_odds(t, su, df_total, df_prior, s2_prior, proportion, stdev_coef_lim)
    return fitted


def ebayes_robust(fitted, trend: bool = False, proportion: float = 0.01, stdev_coef_lim=(0.1, 4)):
    """``eBayes(fit, robust = TRUE, trend)`` on an ``lmFit`` result: sets ``df_prior`` (per protein),
    ``s2_prior`` (per protein with ``trend``: the trend over ``fitted.Amean``), ``s2_post``, ``df_total``,
    ``t``, ``p_value`` and ``lods`` on ``fitted`` and returns it."""
    sigma2 = np.asarray(fitted.sigma, dtype=float) ** 2
    df_res = residual_df(fitted)
    var = sigma2.copy()
    var[df_res == 0] = 0
    fit = fit_f_dist_robustly(var, df_res, np.asarray(fitted.Amean, dtype=float) if trend else None)
    df_prior, s2_prior = fit["df2_shrunk"], fit["scale"]
    finite = np.isfinite(df_prior)
    s2_post = np.broadcast_to(s2_prior, var.shape).astype(float)  # a copy
    s2_post[finite] = ((df_res[finite] * var[finite] + df_prior[finite] * s2_post[finite])
                       / (df_res[finite] + df_prior[finite]))
    return _moderate(fitted, df_res, df_prior, s2_prior, s2_post, proportion, stdev_coef_lim)


def rlm_solve(Xo: np.ndarray, Y: np.ndarray, k: float = HUBER_K, maxit: int = 20, acc: float = 1e-4):
    """MASS's ``rlm(x, y)`` with its defaults (Huber's psi, ``scale.est = "MAD"``, least-squares start,
    ``maxit = 20``, ``acc = 1e-4`` on the residuals) for every column of ``Y``, as limma's ``mrlm`` calls it.

    Iteratively reweighted least squares, all proteins of a missing-value pattern at once: each round the
    scale is the median absolute residual / 0.6745, each sample's weight ``min(1, k / |residual / scale|)``,
    and a protein stops once its residuals change by at most ``acc`` (relative). A zero scale stops that
    protein where it is (R: ``done``).

    Parameters
    ----------
    Xo
        Observed samples x coefficients, full column rank.
    Y
        Observed samples x proteins.

    Returns
    -------
    (coefficients (p x proteins), unscaled standard errors (proteins x p: ``sqrt(diag((X'WX)^-1))`` at the
    final weights, limma's ``chol2inv(out$qr$qr)``), sigma (proteins: rlm's ``s``, the last scale),
    converged (proteins; where False, R warns "'rlm' failed to converge" and keeps the last iterate, as here))
    """
    n, m = Y.shape
    coef, *_ = np.linalg.lstsq(Xo, Y, rcond=None)
    resid = Y - Xo @ coef
    w = np.ones((n, m))
    scale = np.full(m, np.nan)
    active, converged = np.ones(m, dtype=bool), np.zeros(m, dtype=bool)
    for _ in range(maxit):
        idx = np.flatnonzero(active)
        old = resid[:, idx]
        s = np.median(np.abs(old), axis=0) / 0.6745
        scale[idx] = s
        zero = s == 0
        converged[idx[zero]], active[idx[zero]] = True, False
        idx, old, s = idx[~zero], old[:, ~zero], s[~zero]
        if not len(idx):
            break
        with np.errstate(divide="ignore"):
            wi = np.minimum(1.0, k / np.abs(old / s))
        w[:, idx] = wi
        gram = np.einsum("ij,im,ik->mjk", Xo, wi, Xo)
        rhs = np.einsum("ij,im,im->mj", Xo, wi, Y[:, idx])
        ci = np.linalg.solve(gram, rhs[..., None])[..., 0].T
        coef[:, idx] = ci
        resid[:, idx] = Y[:, idx] - Xo @ ci
        change = np.sqrt(((old - resid[:, idx]) ** 2).sum(axis=0) / np.maximum(1e-20, (old ** 2).sum(axis=0)))
        done = change <= acc
        converged[idx[done]], active[idx[done]] = True, False
        if not active.any():
            break
    su = np.sqrt(np.diagonal(np.linalg.inv(np.einsum("ij,im,ik->mjk", Xo, w, Xo)), axis1=1, axis2=2))
    return coef, su, scale, converged
