"""Moderated statistics for protein intensities, and for voom's log2 CPM with their weights
(:mod:`lsecflow.de_voom`): limma's ``lmFit`` + ``eBayes`` (the ``inmoose.limma`` port), and ``treat`` for a
fold-change threshold.

Each protein is fitted on its observed samples (missing values stay missing, as in limma). A contrast
``variable: target vs reference`` is read as a coefficient of the treatment-coded design with
``reference`` as the variable's base level, so it is exact with missing values (limma's
``contrasts.fit`` is only approximate then) and equals ``makeContrasts(target - reference)`` on a
group-means design. The empirical Bayes prior (``s2.prior``, ``df.prior``) depends only on the
residual variances, which do not depend on the parametrisation.

``de.lfc_threshold`` > 0 tests ``|log2FC| > threshold`` with limma's ``treat`` (McCarthy and Smyth
2009), as ``lfcThreshold`` does for counts; ``B`` is then not defined (NA). ``de.deqms`` replaces eBayes's
prior by DEqMS's, which depends on each protein's peptide count (:mod:`lsecflow.deqms`; ``B`` NA too).
"""
from __future__ import annotations

import logging
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .calls import benjamini_hochberg
from .contrasts import by_bases, coefficient
from .de_options import deqms_method
from .deqms import spectra_count_ebayes
from .formula import design_matrix, estimable, estimable_columns
from .limma_block import estimate_block
from .limma_robust import ebayes, ebayes_robust, rlm_solve

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["gene_id", "symbol", "description", "AveExpr", "log2FoldChange", "lfcSE", "stat", "pvalue",
                  "padj", "B", "n_valid_target", "n_valid_reference", "n_imputed", "df_total", "s2_post"]


def _ls_solve(Xo: np.ndarray, Y: np.ndarray, W: np.ndarray | None = None, Cinv: np.ndarray | None = None):
    """Least squares of every column of ``Y`` (observed samples x proteins) on ``Xo``: coefficients
    (p x proteins), unscaled standard errors (p, shared; proteins x p with weights), residual sigma (NaN
    without residual df). ``W`` (as ``Y``): weighted least squares per column, as R's ``lm.wfit``.
    ``Cinv``: the inverse of the observed samples' correlation matrix (``de.block``), generalised least
    squares with ``V = W^-1/2 C W^-1/2`` per column, as limma's ``gls.series``."""
    df = Xo.shape[0] - Xo.shape[1]
    if Cinv is not None:
        S = np.ones_like(Y) if W is None else np.sqrt(W)
        XS = Xo[:, None, :] * S[:, :, None]  # samples x proteins x p: W^1/2 X per column
        CXS = np.einsum("st,tgq->sgq", Cinv, XS)
        cov = np.linalg.inv(np.einsum("sgp,sgq->gpq", XS, CXS))  # (X' V^-1 X)^-1 per column
        coef = np.einsum("gpq,sgq,sg->pg", cov, CXS, S * Y)
        su = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        rs = S * (Y - Xo @ coef)
        resid2 = rs * (Cinv @ rs)  # summed over samples: r' V^-1 r
    elif W is None:
        coef, *_ = np.linalg.lstsq(Xo, Y, rcond=None)
        su = np.sqrt(np.diag(np.linalg.inv(Xo.T @ Xo)))
        resid2 = (Y - Xo @ coef) ** 2
    else:
        cov = np.linalg.inv(np.einsum("sp,sg,sq->gpq", Xo, W, Xo))  # (X'WX)^-1 per column
        coef = np.einsum("gpq,sq,sg->pg", cov, Xo, W * Y)
        su = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        resid2 = W * (Y - Xo @ coef) ** 2
    sigma = np.sqrt(resid2.sum(axis=0) / df) if df > 0 else np.full(Y.shape[1], np.nan)
    return coef, su, sigma


def lm_fit(values: np.ndarray, design_mat, method: str = "ls", weights: np.ndarray | None = None,
           correlation: np.ndarray | None = None):
    """limma's ``lmFit(values, design, method, weights)``, one batch per missing-value pattern.

    inmoose's ``lmFit`` fits every protein on its own (statsmodels, ~1 ms each) as soon as one value is
    missing anywhere, and fails where a protein's observed samples leave a coefficient inestimable
    (a whole group missing). Here the proteins sharing a pattern of observed samples are solved
    together, and, as R's ``lm.fit``, a coefficient that the observed design cannot estimate is NA (the
    others fitted without it; residual df = observed samples - rank).

    ``method="robust"`` is ``lmFit(method = "robust")``: M-estimation with Huber's psi, MASS's ``rlm``
    defaults (:func:`lsecflow.limma_robust.rlm_solve`); as limma's ``mrlm``, a protein with no more observed
    samples than the design has columns is not fitted (NA). Where R's ``rlm`` stops ("'x' is singular":
    a whole group missing), the estimable coefficients are fitted and the others are NA, as for ``ls``.

    Unlike R, a coefficient that the pivot keeps but that the observed samples do not estimate
    (:func:`lsecflow.formula.estimable`: with a crossed design's cell unobserved, ``lm.fit`` gives the column
    the value of another comparison) is NA too; the fit, its residuals and variances are R's.

    ``weights`` (as ``values``, positive; ``method="ls"`` only): weighted least squares per row, voom's
    precision weights (:mod:`lsecflow.voom`).

    ``correlation`` (samples x samples; ``method="ls"`` only): ``lmFit(block, correlation)``, generalised least
    squares with that correlation between samples (:func:`lsecflow.limma_block.correlation_matrix`), each
    protein on its observed samples; ``cov.coefficients`` then is ``(X' C^-1 X)^-1``, as limma's ``gls.series``.
    """
    if (weights is not None or correlation is not None) and method != "ls":
        raise ValueError("lm_fit: weights and a block correlation go with method 'ls' only")
    from inmoose.limma import MArrayLM

    X = np.asarray(design_mat, dtype=float)
    names = list(design_mat.design_info.column_names)
    n, p = values.shape[0], X.shape[1]
    beta, su = np.full((n, p), np.nan), np.full((n, p), np.nan)
    sigma, df_res = np.full(n, np.nan), np.zeros(n)
    observed = np.isfinite(values)
    patterns, which = np.unique(observed, axis=0, return_inverse=True)
    not_converged, aliased = 0, np.zeros(p, dtype=int)
    for k, pattern in enumerate(patterns):
        rows = np.flatnonzero(which.ravel() == k)
        if not pattern.any() or (method == "robust" and pattern.sum() <= p):
            continue
        cols = estimable_columns(X[pattern])
        Xo = X[np.ix_(pattern, cols)]
        Y = values[np.ix_(rows, np.flatnonzero(pattern))].T  # observed samples x proteins
        if method == "robust":
            coef, se, sig, converged = rlm_solve(Xo, Y)
            not_converged += int((~converged).sum())
        else:
            W = None if weights is None else weights[np.ix_(rows, np.flatnonzero(pattern))].T
            Cinv = None if correlation is None else np.linalg.inv(correlation[np.ix_(pattern, pattern)])
            coef, se, sig = _ls_solve(Xo, Y, W, Cinv)
        beta[np.ix_(rows, cols)] = coef.T
        su[np.ix_(rows, cols)] = se
        lost = np.flatnonzero(~estimable(X[pattern]))  # dropped by the pivot, or kept with another meaning (R)
        beta[np.ix_(rows, lost)] = np.nan
        su[np.ix_(rows, lost)] = np.nan
        aliased[lost] += len(rows)
        df_res[rows] = pattern.sum() - len(cols)
        sigma[rows] = sig
    if not_converged:
        log.warning("lmFit(method = 'robust'): %d of %d proteins did not converge in rlm's 20 iterations (R warns "
                    "\"'rlm' failed to converge\" for each); their last iterate is used, as in R", not_converged, n)
    for j in np.flatnonzero(aliased):
        log.info("lmFit: coefficient %s is not estimable from the observed samples of %d of %d proteins (a group it "
                 "compares unobserved): NA there (R's lm.fit reports the value of another comparison)", names[j],
                 aliased[j], n)
    index = pd.RangeIndex(n)
    XtX = X.T @ X if correlation is None else X.T @ np.linalg.solve(correlation, X)
    fitted = MArrayLM(pd.DataFrame(beta, index=index, columns=names), pd.DataFrame(su, index=index, columns=names),
                      sigma, df_res, pd.DataFrame(np.linalg.inv(XtX), index=names, columns=names))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing row: NaN, as limma's rowMeans
        fitted.Amean = np.nanmean(values, axis=1)
    fitted.genes, fitted.method, fitted.design = None, method, design_mat
    return fitted


def fit(values: pd.DataFrame, design_mat, trend: bool = False, robust: bool = False, method: str = "ls",
        deqms: str | None = None, count=None, weights: pd.DataFrame | None = None, block=None):
    """``eBayes(lmFit(values, design, method), trend, robust)`` (proteins x samples, NaN = missing); the
    robust empirical Bayes, with or without the trend, and the robust ``lmFit`` are
    :mod:`lsecflow.limma_robust` (inmoose lacks them). With ``deqms`` (``loess``, ``nls`` or ``spline``),
    ``spectraCounteBayes`` of the ``lmFit`` result on ``count`` (per protein, ``values``' order) instead.
    ``weights`` (as ``values``): observation weights of the least-squares fit (voom's). ``block``
    (:class:`lsecflow.limma_block.Block`, ``de.block``): ``lmFit(block, correlation)``."""
    lm = lm_fit(values.to_numpy(dtype=float), design_mat, method,
                None if weights is None else weights.to_numpy(dtype=float),
                None if block is None else block.matrix())
    if deqms:
        dq = spectra_count_ebayes(lm, count, deqms)
        lm.t, lm.p_value, lm.s2_post, lm.s2_prior = dq["t"], dq["p_value"], dq["s2_post"], dq["s2_prior"]
        lm.df_prior, lm.lods, lm.deqms = dq["df_prior"], np.full(dq["t"].shape, np.nan), dq
        return lm
    return (ebayes_robust if robust else ebayes)(lm, trend=trend)


def block_of(values: pd.DataFrame, meta: pd.DataFrame, design: str, labels: pd.Series | None,
             weights: pd.DataFrame | None = None):
    """``de.block``: the within-block correlation of ``values`` (features x samples) under ``design``
    (:func:`lsecflow.limma_block.estimate_block`), or None without ``labels``."""
    if labels is None:
        return None
    return estimate_block(labels, values, np.asarray(design_matrix(meta, design)), weights)


def df_total(fitted) -> np.ndarray:
    """limma's ``df.total`` of a :func:`fit` result: residual plus prior df, capped at the pooled residual df
    (set by :func:`lsecflow.limma_robust.ebayes` or ``ebayes_robust``); DEqMS: its own df
    (``d0 + df.residual``, not capped)."""
    if getattr(fitted, "deqms", None) is not None:
        return fitted.deqms["df_total"]
    return np.asarray(fitted.df_total, dtype=float)


def treat(fitted, j: int, lfc: float) -> tuple[np.ndarray, np.ndarray]:
    """limma's ``treat`` for coefficient ``j`` of an eBayes fit: (t, p) for ``H0: |beta| <= lfc``.

    As limma 3.54 (``upshot = FALSE``): with the posterior variances and total df of eBayes,
    ``p = P(T > (|b| - lfc)/se) + P(T > (|b| + lfc)/se)``; t is ``(|b| - lfc)/se`` signed by b,
    0 where ``|b| <= lfc``.
    """
    coef = np.asarray(fitted.coefficients, dtype=float)[:, j]
    se = np.asarray(fitted.stdev_unscaled, dtype=float)[:, j] * np.sqrt(np.asarray(fitted.s2_post, dtype=float))
    df = df_total(fitted)
    right, left = (np.abs(coef) - lfc) / se, (np.abs(coef) + lfc) / se
    p = stats.t.sf(right, df) + stats.t.sf(left, df)
    t = np.where(coef > lfc, np.maximum(right, 0), np.where(coef < -lfc, -np.maximum(right, 0), 0.0))
    return t, p


def f_test(fitted, columns: list[int]) -> tuple[np.ndarray, np.ndarray, int]:
    """limma's moderated F test of coefficients ``columns`` of an eBayes fit, as ``topTable(fit, coef =
    columns)`` (limma 3.54: ``[.MArrayLM`` then ``classifyTestsF(fstat.only = TRUE)``): the moderated t's
    rotated by the eigenvectors of ``cov2cor(cov.coefficients)`` (the unweighted design's, as lmFit
    keeps it; eigenvalues under 1e-8 of the largest dropped, ``r`` kept), ``F = |t Q|^2``; p from
    F(r, df.prior + df.residual), or chi-square(r) of ``r F`` when the first feature's df exceed 1e6.
    Returns (F, p, r); NaN where a t is."""
    t = np.asarray(fitted.t, dtype=float)[:, columns]
    if len(columns) == 1:
        F, r = t[:, 0] ** 2, 1
    else:
        cov = np.asarray(fitted.cov_coefficients, dtype=float)[np.ix_(columns, columns)].copy()
        diag = np.diag(cov).copy()
        cov[np.diag_indices_from(cov)] = np.where(diag == 0, 1.0, diag)
        scale = 1 / np.sqrt(np.diag(cov))
        cor = cov * np.outer(scale, scale)
        np.fill_diagonal(cor, 1.0)
        values, vectors = np.linalg.eigh(cor)
        values, vectors = values[::-1], vectors[:, ::-1]  # R's eigen: decreasing
        r = int((values / values[0] > 1e-8).sum())
        Q = vectors[:, :r] / np.sqrt(values[:r]) / np.sqrt(r)
        F = ((t @ Q) ** 2).sum(axis=1)
    df2 = np.broadcast_to(np.asarray(fitted.df_prior, dtype=float) + np.asarray(fitted.df_residual, dtype=float),
                          F.shape)
    p = stats.chi2.sf(r * F, r) if df2[0] > 1e6 else stats.f.sf(F, r, df2)
    return F, p, r


def design_test(values: pd.DataFrame, meta: pd.DataFrame, design: str, reduced: str, opts: dict,
                weights: pd.DataFrame | None = None, block=None) -> pd.DataFrame:
    """``de.test: lrt`` for limma: the moderated F test (:func:`f_test`) of the coefficients of ``design`` that
    ``reduced`` lacks, on the eBayes fit of ``design`` (``de.trend``, ``de.robust``, ``lm_method``; voom's
    ``weights``). Columns: ``AveExpr``, each tested coefficient (``log2FC_<name>``), ``stat`` (F), ``pvalue``,
    ``padj`` (BH), ``df_total`` (``df.prior + df.residual``, the F's denominator df); index ``values``'."""
    full = design_matrix(meta, design)
    names = list(full.design_info.column_names)
    kept = set(design_matrix(meta, reduced).design_info.column_names)
    if not kept <= set(names):
        raise ValueError(f"de.reduced {reduced!r}: its columns {sorted(kept - set(names))} are not columns of the "
                         f"design {design!r}")
    tested = [i for i, n in enumerate(names) if n not in kept]
    fitted = fit(values, full, opts.get("trend", False), opts.get("robust", False), opts.get("lm_method", "ls"),
                 weights=weights, block=block)
    F, p, r = f_test(fitted, tested)
    coef = np.asarray(fitted.coefficients, dtype=float)
    table = pd.DataFrame({"AveExpr": np.asarray(fitted.Amean, dtype=float)}, index=values.index)
    for i in tested:
        table[f"log2FC_{names[i]}"] = coef[:, i]
    table["stat"], table["pvalue"], table["padj"] = F, p, benjamini_hochberg(p)
    table["df_total"] = np.asarray(fitted.df_prior, dtype=float) + np.asarray(fitted.df_residual, dtype=float)
    log.info("moderated F test of %s (%d of %d coefficients, rank %d) against %s: %d features, %d at padj < 0.05",
             design, len(tested), len(names), r, reduced, len(table), int((table["padj"] < 0.05).sum()))
    return table


def coefficient_table(fitted, j: int, lfc_threshold: float = 0.0) -> pd.DataFrame:
    """One coefficient of an eBayes fit as topTable(sort.by = "none") columns (``logFC`` as
    ``log2FoldChange``, ``t`` as ``stat``, ``P.Value`` as ``pvalue``, ``adj.P.Val`` (BH) as ``padj``)."""
    coef = np.asarray(fitted.coefficients, dtype=float)[:, j]
    s2_post = np.asarray(fitted.s2_post, dtype=float)
    se = np.asarray(fitted.stdev_unscaled, dtype=float)[:, j] * np.sqrt(s2_post)
    if lfc_threshold > 0:
        t, p = treat(fitted, j, lfc_threshold)
        b = np.full(len(coef), np.nan)
    else:
        t, p = np.asarray(fitted.t, dtype=float)[:, j], np.asarray(fitted.p_value, dtype=float)[:, j]
        b = np.asarray(fitted.lods, dtype=float)[:, j]
    return pd.DataFrame({"AveExpr": np.asarray(fitted.Amean, dtype=float), "log2FoldChange": coef, "lfcSE": se,
                         "stat": t, "pvalue": p, "padj": benjamini_hochberg(p), "B": b,
                         "df_total": df_total(fitted), "s2_post": s2_post})


def contrast_tables(values: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict,
                    count: pd.Series | None = None, weights: pd.DataFrame | None = None, block=None,
                    features: str = "proteins") -> tuple[dict[str, pd.DataFrame], dict]:
    """Fit the design and extract every contrast (one fit per base level needed).

    Parameters
    ----------
    values
        Proteins x samples (log2, NaN = missing), columns in ``meta``'s order.
    meta
        Design columns as categoricals (:func:`lsecflow.formula.design_metadata`).
    contrasts
        name -> ``{variable, target, reference}``.
    opts
        The dataset's ``de`` block (``lfc_threshold``, ``trend``, ``robust``, ``lm_method``, ``deqms``).
    count
        Peptide / PSM count per protein (index = ``values``' index), for ``de.deqms``.
    weights
        Observation weights as ``values`` (voom's precision weights, :mod:`lsecflow.voom`), or None.
    block
        ``de.block``'s :class:`lsecflow.limma_block.Block` (labels in ``values``' column order, the consensus
        correlation), or None.
    features
        What ``values``' rows are, for the log (voom's genes are named as such from ``weights``).

    Returns
    -------
    (tables, prior)
        Per contrast the statistics (index = protein ids, input order); the eBayes prior
        (``df_prior``, ``s2_prior`` of the first fit; identical for every parametrisation).
    """
    tables, prior = {}, {}
    t0 = time.time()
    smoother = deqms_method(opts)
    if smoother and count is None:
        raise ValueError("de.deqms needs each protein's peptide count (proteomics.count_column)")
    counts = None if count is None else count.reindex(values.index).to_numpy(dtype=float)
    groups = by_bases(contrasts)
    for levels, group in groups:
        fitted = fit(values, design_matrix(meta, design, levels), opts.get("trend", False), opts.get("robust", False),
                     opts.get("lm_method", "ls"), smoother, counts, weights, block)
        cols = fitted.coefficients.columns if hasattr(fitted.coefficients, "columns") else None
        names = list(cols) if cols is not None else list(fitted.design.design_info.column_names)
        for name in group:
            wanted = coefficient(names, contrasts[name], name)
            tables[name] = coefficient_table(fitted, names.index(wanted), opts.get("lfc_threshold", 0.0))
            tables[name].index = values.index
        if not prior:
            prior = {"df_prior": float(np.nanmedian(np.atleast_1d(fitted.df_prior))),
                     "s2_prior": float(np.nanmedian(np.atleast_1d(fitted.s2_prior)))}
    tables = {name: tables[name] for name in contrasts}
    moderation = (f"DEqMS ({smoother} trend over peptide count)" if smoother else
                  f"eBayes (trend {opts.get('trend', False)}, robust {opts.get('robust', False)})")
    log.info("limma: %d %s x %d samples, %d contrasts from %d fit(s) in %.1f s; lmFit (method %s%s), %s "
             "df.prior %.4g, s2.prior %.4g (medians where per feature)", values.shape[0],
             "genes (voom weights)" if weights is not None else features, values.shape[1],
             len(contrasts), len(groups), time.time() - t0, opts.get("lm_method", "ls"),
             "" if block is None else f", block {block.column!r}, correlation {block.correlation:.4f}", moderation,
             prior.get("df_prior", np.nan), prior.get("s2_prior", np.nan))
    return tables, prior
