"""DESeq2's ``fitType = "local"``, which inmoose 0.9.1 lacks (it raises ``NotImplementedError``).

- :func:`local_dispersion_fit` is DESeq2's ``localDispersionFit``: the log gene-wise dispersions
  regressed on the log mean normalised counts by locfit (:class:`lsecflow.locfit.LocalFit`),
  weighted by the means.
- :func:`estimateDispersionsFit` is DESeq2's, over inmoose's: ``local`` fits that trend, and a
  ``parametric`` fit that fails falls back to it, as R does (inmoose stops there).
- :func:`variance_stabilized` is ``getVarianceStabilizedData``: for a local trend DESeq2
  integrates ``1 / sqrt(variance)`` numerically and interpolates the integral with R's
  ``splinefun`` (Forsythe-Malcolm-Moler end conditions, :func:`fmm_spline`); other trends go to
  inmoose's closed forms.

:func:`lsecflow.deseq2.as_in_r` installs :func:`estimateDispersionsFit` into inmoose's ``DESeq``.
"""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd

from .locfit import LocalFit


def local_dispersion_fit(means, disps, min_disp: float = 1e-8):
    """DESeq2's ``localDispersionFit``: ``locfit(log(disps) ~ log(means), weights = means)`` on the
    genes with ``disps >= 10 * min_disp``; returns ``means -> exp(predict(fit, log(means)))``."""
    means, disps = np.asarray(means, dtype=float), np.asarray(disps, dtype=float)
    use = disps >= min_disp * 10
    if not use.any():  # R returns the constant (a vector, not a function); the same value as a function
        def constant(q):
            return _like(q, np.full(np.shape(q), min_disp, dtype=float))
        return constant
    fit = LocalFit(np.log(means[use]), np.log(disps[use]), weights=means[use])

    def dispersion_function(q):
        return _like(q, np.exp(fit.predict(np.log(np.asarray(q, dtype=float)))))

    dispersion_function.locfit = fit
    return dispersion_function


def _like(q, values: np.ndarray):
    """Values shaped as ``q`` came: a Series keeps its index (inmoose's ``setDispFunction`` passes one)."""
    if isinstance(q, pd.Series):
        return pd.Series(values, index=q.index)
    return values if np.ndim(q) else float(values)


def _inmoose_fit(obj, **kwargs):
    """inmoose's own ``estimateDispersionsFit`` (the package's name; :func:`lsecflow.deseq2.as_in_r`
    replaces the one its modules call)."""
    return importlib.import_module("inmoose.deseq2").estimateDispersionsFit(obj, **kwargs)


def parametric_fit_or_fallback(fit):
    """inmoose's ``parametricDispersionFit`` (``fit``) with any failure raised as ``RuntimeError``, the one
    inmoose's ``estimateDispersionsFit`` turns into DESeq2's fallback to the local trend. R wraps the fit in
    ``try()``, so every error falls back; statsmodels' own (a ValueError when too few genes stay within the
    residual bounds: an empty or one-gene gamma GLM) escaped inmoose's ``except RuntimeError``."""
    def parametric(means, disps):
        try:
            return fit(means, disps)
        except RuntimeError:
            raise
        except Exception as exc:  # noqa: BLE001 -- R's try() catches every error here
            raise RuntimeError(f"parametric dispersion fit failed: {type(exc).__name__}: {exc}") from exc
    return parametric


def estimateDispersionsFit(obj, fitType="parametric", minDisp=1e-8, quiet=False):
    """DESeq2's ``estimateDispersionsFit``: inmoose's, with ``local`` (and the parametric fit's
    fallback to it) supplied. The function's ``fitType`` attribute says which trend was fitted."""
    if fitType == "parametric":
        try:
            return _inmoose_fit(obj, fitType="parametric", minDisp=minDisp, quiet=quiet)
        except NotImplementedError:  # inmoose's parametric fit failed and it would switch to 'local'
            fitType = "local"  # the callers (de.fit_model, qc.vst_blind) say so in their logs
    if fitType != "local":
        return _inmoose_fit(obj, fitType=fitType, minDisp=minDisp, quiet=quiet)
    if "allZero" not in obj.var:
        obj = obj.getBaseMeansAndVariances()
    var = obj.var[~obj.var["allZero"].astype(bool)]
    use = (var["dispGeneEst"] > 100 * minDisp).to_numpy()
    if not use.any():  # inmoose raises DESeq2's message for this case before it looks at fitType
        return _inmoose_fit(obj, fitType="mean", minDisp=minDisp, quiet=quiet)
    fn = local_dispersion_fit(var["baseMean"].to_numpy()[use], var["dispGeneEst"].to_numpy()[use], minDisp)
    fn.fitType = "local"
    obj.setDispFunction(fn)
    return obj


DISPERSION_COLUMNS = ["gene_id", "baseMean", "dispGeneEst", "dispFit", "dispersion", "dispOutlier",
                      "used_for_trend", "trend_parametric", "trend_local", "fit_type"]


def dispersion_table(dds, min_disp: float = 1e-8) -> pd.DataFrame:
    """The fit's dispersions, one row per gene with counts (what DESeq2's ``plotDispEsts`` draws): mean
    normalised count, gene-wise, fitted and final dispersion, DESeq2's dispersion outlier flag,
    ``used_for_trend`` (gene-wise above ``100 * min_disp``, as DESeq2 fits its trend), and the
    parametric and local trends at each gene's mean: the fit's own trend is ``dispFit``; the other
    is fitted here to the final gene-wise estimates, for comparison (NA where the parametric fit
    fails). ``fit_type`` names the fit's own trend."""
    var = dds.var[~dds.var["allZero"].astype(bool)]
    means = var["baseMean"].to_numpy(dtype=float)
    disps = var["dispGeneEst"].to_numpy(dtype=float)
    use = disps > 100 * min_disp
    own = dds.dispersionFunction.fitType
    table = pd.DataFrame({"gene_id": var.index.astype(str), "baseMean": means, "dispGeneEst": disps,
                          "dispFit": var["dispFit"].to_numpy(dtype=float),
                          "dispersion": var["dispersion"].to_numpy(dtype=float),
                          "dispOutlier": var["dispOutlier"].fillna(False).to_numpy(dtype=bool)
                          if "dispOutlier" in var else False,
                          "used_for_trend": use, "trend_parametric": np.nan, "trend_local": np.nan,
                          "fit_type": own})
    if own in ("parametric", "local"):
        table[f"trend_{own}"] = table["dispFit"]
    if use.any() and own != "local":
        table["trend_local"] = local_dispersion_fit(means[use], disps[use], min_disp)(means)
    if use.any() and own != "parametric":
        try:
            fit = parametric_fit_or_fallback(importlib.import_module("inmoose.deseq2.dispersions").parametricDispersionFit)(
                pd.Series(means[use]), pd.Series(disps[use]))
            table["trend_parametric"] = np.asarray(fit(pd.Series(means)), dtype=float)
        except RuntimeError:  # the parametric fit fails on these genes (DESeq2 then switches to local)
            pass
    return table[DISPERSION_COLUMNS]


def trend_residuals(table: pd.DataFrame) -> dict[str, float]:
    """Median absolute ``log(dispGeneEst / trend)`` over the genes a trend is fitted on, for the fit's own
    trend (``dispFit``, listed first) and each other trend of :func:`dispersion_table` (the usual way to
    choose ``fitType``: the smaller, the closer the trend follows the genes)."""
    rows = table[table["used_for_trend"].astype(bool)]
    if rows.empty:
        return {}
    own = str(rows["fit_type"].iloc[0])
    out = {own: rows["dispFit"]} | {k: rows[f"trend_{k}"] for k in ("parametric", "local") if k != own}
    return {k: float(np.median(np.abs(np.log(rows["dispGeneEst"] / v)))) for k, v in out.items() if v.notna().all()}


def residual_note(table: pd.DataFrame) -> str:
    """One line for the DE log and the plot: each trend's :func:`trend_residuals`, the fit's own marked."""
    res = trend_residuals(table)
    own = next(iter(res), None)
    return "median |log(gene-wise / trend)|: " + ", ".join(
        f"{k} {v:.2f}{' (this fit)' if k == own else ''}" for k, v in res.items())


def fmm_spline(x, y) -> tuple[np.ndarray, ...]:
    """R's ``spline_coef`` with ``method = "fmm"`` (``splinefun``'s default): knots, ``y`` and the
    cubic coefficients ``b, c, d`` (end conditions: third derivatives of the cubics through the first
    and last four points)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = x.size
    b, c, d = np.zeros(n), np.zeros(n), np.zeros(n)
    if n < 3:
        b[:] = (y[1] - y[0]) / (x[1] - x[0])
        return x, y, b, c, d
    # 0-based transcription of the 1-based C: b diagonal, d off-diagonal, c right-hand side
    d[0] = x[1] - x[0]
    c[1] = (y[1] - y[0]) / d[0]
    for i in range(1, n - 1):
        d[i] = x[i + 1] - x[i]
        b[i] = 2.0 * (d[i - 1] + d[i])
        c[i + 1] = (y[i + 1] - y[i]) / d[i]
        c[i] = c[i + 1] - c[i]
    b[0], b[n - 1] = -d[0], -d[n - 2]
    c[0] = c[n - 1] = 0.0
    if n > 3:
        c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
        c[n - 1] = c[n - 2] / (x[n - 1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
        c[0] = c[0] * d[0] * d[0] / (x[3] - x[0])
        c[n - 1] = -c[n - 1] * d[n - 2] * d[n - 2] / (x[n - 1] - x[n - 4])
    for i in range(1, n):
        t = d[i - 1] / b[i - 1]
        b[i] = b[i] - t * d[i - 1]
        c[i] = c[i] - t * c[i - 1]
    c[n - 1] = c[n - 1] / b[n - 1]
    for i in range(n - 2, -1, -1):
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
    b[n - 1] = (y[n - 1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[n - 1])
    for i in range(n - 1):
        b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
        d[i] = (c[i + 1] - c[i]) / d[i]
        c[i] = 3.0 * c[i]
    c[n - 1] = 3.0 * c[n - 1]
    d[n - 1] = d[n - 2]
    return x, y, b, c, d


def spline_eval(coef: tuple[np.ndarray, ...], u) -> np.ndarray:
    """R's ``spline_eval`` (fmm): the piece of the knot at or below ``u`` (the first piece below the
    first knot, the last above the last one)."""
    x, y, b, c, d = coef
    u = np.asarray(u, dtype=float)
    i = np.clip(np.searchsorted(x, u, side="right") - 1, 0, x.size - 1)
    dx = u - x[i]
    return y[i] + dx * (b[i] + dx * (c[i] + dx * d[i]))


def variance_stabilized(dds) -> np.ndarray:
    """DESeq2's ``getVarianceStabilizedData`` (samples x genes, as inmoose returns it)."""
    fn = dds.dispersionFunction
    if getattr(fn, "fitType", None) != "local":
        from inmoose.deseq2.vst import getVarianceStabilizedData

        return np.asarray(getVarianceStabilizedData(dds), dtype=float)
    ncounts = np.asarray(dds.counts(normalized=True), dtype=float)
    if dds.sizeFactors is None:  # approximate size factors from the normalisation factors, as R
        sf = np.exp(np.log(np.asarray(dds.normalizationFactors, dtype=float)).mean(axis=1))
    else:
        sf = np.asarray(dds.sizeFactors, dtype=float)
    xg = np.sinh(np.linspace(np.arcsinh(0), np.arcsinh(ncounts.max()), 1000))[1:]
    base_vars = np.asarray(fn(xg), dtype=float) * xg**2 + np.mean(1 / sf) * xg
    integrand = 1 / np.sqrt(base_vars)
    spline = fmm_spline(np.arcsinh((xg[1:] + xg[:-1]) / 2),
                        np.cumsum((xg[1:] - xg[:-1]) * (integrand[1:] + integrand[:-1]) / 2))
    h1, h2 = np.quantile(ncounts.mean(axis=0), [0.95, 0.999])
    s1, s2 = spline_eval(spline, np.arcsinh([h1, h2]))
    eta = (np.log2(h2) - np.log2(h1)) / (s2 - s1)
    xi = np.log2(h1) - eta * s1
    return eta * spline_eval(spline, np.arcsinh(ncounts)) + xi
