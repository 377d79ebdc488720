"""Shrunken log2 fold changes: DESeq2's normal prior and an apeGLM-type Cauchy prior.

``shrink: normal`` is DESeq2's ``lfcShrink(type = "normal")``: the prior
variance is matched to the upper quantile of the MLE fold changes of every
contrast of each factor (DESeq2's ``estimateBetaPriorVar`` on the expanded
model matrix), then the model is refitted with that prior by inmoose's
``nbinomWaldTest(betaPrior = TRUE)``. The prior variance is computed here
because inmoose 0.9.1's weighted quantile (its ``Hmisc.wtd_quantile``)
mis-parses ``isnan(w) | w == 0`` and gives a different variance than R
(0.219 against R's 0.189 on DLPC).

``shrink: apeglm`` follows apeglm's model (Zhu, Ibrahim & Love 2018): a
Cauchy prior on the contrast's coefficient with scale
``min(sqrt(priorVar(mle)), 1)`` (Efron-Morris estimate from the MLEs and
their standard errors), a wide normal prior (sd 15) on the other
coefficients, the negative binomial likelihood with DESeq2's dispersions and
size factors (on DESeq2's outlier-replaced counts for the genes it refitted,
the counts their MLE comes from; R's apeglm is given the original counts);
the maximum a posteriori estimate is found by Newton steps with backtracking
**started at the MLE**, so strong, well-supported effects are not pulled to
zero by a poor starting point. Its standard error is
from the posterior curvature at the mode (Laplace).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import norm

from .deseq2 import as_in_r, fitted_counts
from .errors import InputDataError

LOG2E = np.log2(np.e)


def wtd_quantile(x: np.ndarray, weights: np.ndarray, prob: float) -> float:
    """Hmisc's ``wtd.quantile(x, weights, prob, normwt = TRUE)`` (type ``quantile``)."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(weights, dtype=float)
    ok = ~np.isnan(x + w)
    x, w = x[ok], w[ok]
    w = w * len(x) / w.sum()
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    ux, inverse = np.unique(x, return_inverse=True)
    wts = np.bincount(inverse, weights=w)
    n = wts.sum()
    pos = 1 + (n - 1) * prob
    low = max(np.floor(pos), 1)
    high = min(low + 1, n)
    frac = pos % 1
    cum = np.cumsum(wts)

    def step(v):  # approx(cum, ux, xout, method = "constant", f = 1, rule = 2): the right value
        i = np.searchsorted(cum, v, side="left")
        return ux[min(i, len(ux) - 1)]

    return float((1 - frac) * step(low) + frac * step(high))


def match_weighted_upper_quantile(x: np.ndarray, weights: np.ndarray, upper: float = 0.05) -> float:
    """DESeq2's ``matchWeightedUpperQuantileForVariance``."""
    sd = wtd_quantile(np.abs(x), weights, 1 - upper) / norm.ppf(1 - upper / 2)
    return sd ** 2


def _factor_levels(dds, column: str) -> list[str]:
    return [str(v) for v in dds.obs[column].cat.categories]


def _design_factors(dds) -> list[str]:
    """The categorical columns of the design, in model order; refuses interaction terms."""
    factors = []
    for term in dds.design.design_info.terms:
        names = [f.name() for f in term.factors]
        if len(names) > 1:

            raise InputDataError(f"LFC shrinkage is not available for designs with interaction terms "
                                 f"({':'.join(names)}); set de.shrink: false")
        if names:
            factors.append(names[0].removeprefix("C(").removesuffix(")"))
    return factors


def level_effects(dds, column: str) -> pd.DataFrame:
    """MLE log2 effect of every level of ``column`` relative to its base level (genes x levels)."""
    levels = _factor_levels(dds, column)
    out = pd.DataFrame(0.0, index=dds.var_names, columns=levels)
    for level in levels[1:]:
        out[level] = dds.var[f"{column}_{level}_vs_{levels[0]}"].to_numpy(dtype=float)
    return out


def normal_prior_variance(dds, upper: float = 0.05) -> dict[str, float]:
    """DESeq2's ``estimateBetaPriorVar`` for the expanded model matrix, per factor.

    Every pairwise contrast of a factor's levels (``addAllContrasts``) gets
    a variance matched to the weighted upper quantile of its finite
    (|LFC| < 10) MLEs, weights ``1 / (1 / baseMean + dispFit)``; a factor's
    prior variance is their mean (``averagePriorsOverLevels``).
    """
    nz = ~dds.var["allZero"].to_numpy(dtype=bool)
    weights = 1 / (1 / dds.var["baseMean"].to_numpy(dtype=float) + dds.var["dispFit"].to_numpy(dtype=float))[nz]
    out = {}
    for column in _design_factors(dds):
        effects = level_effects(dds, column).to_numpy()[nz]
        variances = []
        k = effects.shape[1]
        for i in range(k):
            for j in range(i + 1, k):
                lfc = effects[:, j] - effects[:, i]
                finite = np.abs(lfc) < 10
                variances.append(match_weighted_upper_quantile(lfc[finite], weights[finite], upper)
                                 if finite.any() else 1e6)
        out[column] = float(np.mean(variances))
    return out


def _normal_fit(dds):
    """The design refitted with DESeq2's normal prior on the expanded model matrix (cached on ``dds``)."""
    cached = dds.uns.get("_lsecflow_normal_fit")
    if cached is not None:
        return cached
    from inmoose.deseq2 import nbinomWaldTest

    prior = normal_prior_variance(dds)
    fit = dds.copy()
    fit.modelMatrixType = "expanded"
    names = fit.makeExpandedModelMatrix().design_info.column_names
    variance = pd.Series(1e6, index=names, dtype=float)
    for column, value in prior.items():
        variance[[n for n in names if n.startswith(f"{column}[") or n.startswith(f"C({column})[")]] = value
    for layer in ("H", "mu"):  # inmoose reuses them only on a path that fails; the MLE refit gives the same
        if layer in fit.layers:
            del fit.layers[layer]
    with as_in_r():
        fit = nbinomWaldTest(fit, betaPrior=True, betaPriorVar=variance, modelMatrixType="expanded", quiet=True)
    dds.uns["_lsecflow_normal_fit"] = fit
    return fit


def shrink_normal(dds, contrast: dict) -> tuple[np.ndarray, np.ndarray]:
    """``lfcShrink(dds, contrast = c(variable, target, reference), type = "normal")``: LFC and SE (log2)."""
    fit = _normal_fit(dds)
    res = fit.results(contrast=[contrast["variable"], contrast["target"], contrast["reference"]])
    return res["log2FoldChange"].to_numpy(dtype=float), res["lfcSE"].to_numpy(dtype=float)


def prior_variance_efron_morris(mle: np.ndarray, se: np.ndarray, lo: float = 1e-6, hi: float = 400.0) -> float:
    """apeglm's ``priorVar``: the normal prior variance A solving A = sum((X^2 - D) I) / sum(I), I = 1/(2(A+D)^2)."""
    keep = ~np.isnan(mle)
    x2, d = mle[keep] ** 2, se[keep] ** 2

    def objective(a):
        info = 1 / (2 * (a + d) ** 2)
        return np.sum((x2 - d) * info) / np.sum(info) - a

    if objective(lo) < 0:
        return lo
    return float(brentq(objective, lo, hi, xtol=1e-12))


def _treatment_design(dds, base: dict[str, str] | None = None) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Intercept + treatment-coded indicators of every design factor (samples x coefficients).

    ``base`` overrides a factor's base level (default: the model's first level). Returns the matrix and,
    per column, ``(factor, level)`` (``("", "Intercept")`` for the intercept).
    """
    columns, labels = [np.ones(dds.n_obs)], [("", "Intercept")]
    for column in _design_factors(dds):
        values = dds.obs[column].astype(str).to_numpy()
        levels = _factor_levels(dds, column)
        ref = (base or {}).get(column, levels[0])
        for level in [lv for lv in levels if lv != ref]:
            columns.append((values == level).astype(float))
            labels.append((column, level))
    return np.column_stack(columns), labels


def _contrast_design(dds, contrast: dict) -> tuple[np.ndarray, int]:
    """Treatment-coded design with the contrast's reference as base level of its variable.

    Returns the matrix and the column index of ``target`` vs ``reference``.
    """
    X, labels = _treatment_design(dds, {contrast["variable"]: contrast["reference"]})
    return X, labels.index((contrast["variable"], contrast["target"]))


def _log_posterior(beta, X, y, offset, alpha, coef, scale, wide):
    mu = np.exp(np.einsum("ij,gj->gi", X, beta) + offset)
    size = 1 / alpha[:, None]
    ll = np.sum(y * np.log(mu) - (y + size) * np.log1p(alpha[:, None] * mu), axis=1)
    others = np.delete(beta, coef, axis=1)
    return ll - np.log1p((beta[:, coef] / scale) ** 2) - np.sum(others ** 2, axis=1) / (2 * wide ** 2)


def apeglm_map(y: np.ndarray, X: np.ndarray, offset: np.ndarray, alpha: np.ndarray, start: np.ndarray, coef: int,
               scale: float, wide: float = 15.0, maxit: int = 100, tol: float = 1e-8
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum a posteriori coefficients of an NB GLM with apeglm's priors, Newton from ``start``.

    Parameters
    ----------
    y
        Counts, genes x samples.
    X
        Design, samples x coefficients (natural-log scale).
    offset
        log size factors, per sample, or log normalisation factors, genes x samples.
    alpha
        NB dispersion per gene.
    start
        Starting coefficients (the MLE), genes x coefficients.
    coef
        Index of the shrunk coefficient (Cauchy prior with ``scale``); the
        others get a normal prior with sd ``wide``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        MAP coefficients, the posterior sd of ``coef`` (Laplace) and a
        converged flag per gene.
    """
    beta = start.copy()
    G, p = beta.shape
    off = np.broadcast_to(offset, y.shape)
    converged = np.zeros(G, dtype=bool)
    prior_h = np.full(p, -1 / wide ** 2)
    active = np.ones(G, dtype=bool)
    obj = _log_posterior(beta, X, y, off, alpha, coef, scale, wide)

    def derivatives(b, yy, oo, aa, fisher_safe):
        mu = np.exp(b @ X.T + oo)
        r = (yy - mu) / (1 + aa[:, None] * mu)
        grad = r @ X
        w = mu * (1 + aa[:, None] * yy) / (1 + aa[:, None] * mu) ** 2
        hess = -np.einsum("gi,ij,ik->gjk", w, X, X)
        bk = b[:, coef]
        grad[:, np.arange(p) != coef] -= b[:, np.arange(p) != coef] / wide ** 2
        grad[:, coef] += -2 * bk / (scale ** 2 + bk ** 2)
        hk = -2 * (scale ** 2 - bk ** 2) / (scale ** 2 + bk ** 2) ** 2
        diag = prior_h.copy()[None, :].repeat(len(b), axis=0)
        diag[:, coef] = np.minimum(hk, 0) if fisher_safe else hk
        hess[:, np.arange(p), np.arange(p)] += diag
        return grad, hess

    for _ in range(maxit):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        grad, hess = derivatives(beta[idx], y[idx], off[idx], alpha[idx], True)
        step = -np.linalg.solve(hess, grad[..., None])[..., 0]
        t = np.ones(len(idx))
        new_obj = np.full(len(idx), -np.inf)
        trial = beta[idx]
        for _ in range(30):  # backtracking: accept the first step size that does not lower the posterior
            trial = beta[idx] + t[:, None] * step
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # a step too far: not finite,
                new_obj = _log_posterior(trial, X, y[idx], off[idx], alpha[idx], coef, scale, wide)  # so halved
            bad = ~(new_obj >= obj[idx] - 1e-12) & (t > 1e-8)
            if not bad.any():
                break
            t[bad] /= 2
        moved = np.abs(t[:, None] * step).max(axis=1)
        beta[idx] = trial
        obj[idx] = new_obj
        done = moved < tol
        converged[idx[done]] = True
        active[idx[done]] = False
    _, hess = derivatives(beta, y, off, alpha, False)
    with np.errstate(invalid="ignore"):
        cov = np.linalg.inv(-hess)
        sd = np.sqrt(cov[:, coef, coef])
    if np.isnan(sd).any():  # not concave at the mode: the positive part of the prior's curvature
        _, hess_safe = derivatives(beta, y, off, alpha, True)
        sd = np.where(np.isnan(sd), np.sqrt(np.linalg.inv(-hess_safe)[:, coef, coef]), sd)
    return beta, sd, converged


def shrink_apeglm(dds, contrast: dict, res: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """apeGLM-type shrinkage of one contrast (module docstring), log2 LFC and SE, started at the MLE."""
    X, coef = _contrast_design(dds, contrast)
    ln2 = np.log(2)
    mle = res["log2FoldChange"].to_numpy(dtype=float) * ln2
    se = res["lfcSE"].to_numpy(dtype=float) * ln2
    scale = min(np.sqrt(prior_variance_efron_morris(mle, se)), 1.0)
    ok = ~np.isnan(mle) & ~dds.var["allZero"].to_numpy(dtype=bool)
    # the MLE in this parametrisation: same fitted linear predictor as the model's own coefficients
    X_old, labels = _treatment_design(dds)
    names = [lv if not c else f"{c}_{lv}_vs_{_factor_levels(dds, c)[0]}" for c, lv in labels]
    B_old = dds.var[names].to_numpy(dtype=float)[ok] * ln2
    start = (np.linalg.lstsq(X, X_old, rcond=None)[0] @ B_old.T).T
    start[:, coef] = mle[ok]
    y = fitted_counts(dds).T[ok]  # the counts the MLE was fitted on
    # R's lfcShrink(type = "apeglm"): log normalisation factors where the fit has them, else log size factors
    nf = dds.normalizationFactors
    offset = (np.log(np.asarray(nf, dtype=float)).T[ok] if nf is not None else
              np.log(np.asarray(dds.sizeFactors, dtype=float))[None, :])
    alpha = dds.var["dispersion"].to_numpy(dtype=float)[ok]
    beta, sd, _ = apeglm_map(y, X, offset, alpha, start, coef, scale)
    lfc = np.full(len(mle), np.nan)
    lfc_se = np.full(len(mle), np.nan)
    lfc[ok] = beta[:, coef] * LOG2E
    lfc_se[ok] = sd * LOG2E
    return lfc, lfc_se


def shrink_contrast(dds, contrast: dict, res: pd.DataFrame, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Shrunken LFC and SE (log2) of one contrast, in ``res``'s gene order; ``method`` normal | apeglm."""
    if method == "normal":
        lfc, se = shrink_normal(dds, contrast)
    else:
        lfc, se = shrink_apeglm(dds, contrast, res.reindex(dds.var_names))
    order = dds.var_names.get_indexer(res.index)
    return lfc[order], se[order]
