"""Moderated statistics for protein intensities: limma's ``lmFit`` + ``eBayes`` (the ``inmoose.limma`` port),
and ``treat`` for a fold-change threshold.

Each protein is fitted on its observed samples (missing values stay missing, as in limma). A contrast
``variable: target vs reference`` is read as a coefficient of the treatment-coded design with
``reference`` as the variable's base level, so it is exact with missing values (limma's
``contrasts.fit`` is only approximate then) and equals ``makeContrasts(target - reference)`` on a
group-means design. The empirical Bayes prior (``s2.prior``, ``df.prior``) depends only on the
residual variances, which do not depend on the parametrisation.

``de.lfc_threshold`` > 0 tests ``|log2FC| > threshold`` with limma's ``treat`` (McCarthy and Smyth
2009), as ``lfcThreshold`` does for counts; ``B`` is then not defined (NA).
"""
from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from scipy import stats

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["gene_id", "symbol", "description", "AveExpr", "log2FoldChange", "lfcSE", "stat", "pvalue",
                  "padj", "B", "n_valid_target", "n_valid_reference", "n_imputed", "df_total", "s2_post"]


def bh(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (R's ``p.adjust(method = "BH")``; NaN stays NaN, not counted)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    n = len(q)
    if n:
        order = np.argsort(q)[::-1]
        adj = np.minimum.accumulate(q[order] * n / np.arange(n, 0, -1))
        res = np.empty(n)
        res[order] = np.minimum(adj, 1.0)
        out[ok] = res
    return out


def design_matrix(meta: pd.DataFrame, design: str, variable: str | None = None, reference: str | None = None):
    """The treatment-coded design matrix of ``design`` over ``meta`` (categoricals, canonical order), with
    ``reference`` as the base level of ``variable`` when given."""
    import patsy

    meta = meta.copy()
    if variable is not None:
        cats = list(meta[variable].cat.categories)
        meta[variable] = meta[variable].cat.reorder_categories([reference] + [c for c in cats if c != reference])
    return patsy.dmatrix(design, meta)


def fit(values: pd.DataFrame, design_mat, trend: bool = False, robust: bool = False):
    """``eBayes(lmFit(values, design))`` (proteins x samples, NaN = missing)."""
    from inmoose.limma import eBayes, lmFit

    return eBayes(lmFit(values.to_numpy(dtype=float), design_mat), trend=trend, robust=robust)


def treat(fitted, j: int, lfc: float) -> tuple[np.ndarray, np.ndarray]:
    """limma's ``treat`` for coefficient ``j`` of an eBayes fit: (t, p) for ``H0: |beta| <= lfc``.

    As limma 3.54 (``upshot = FALSE``): with the posterior variances and total df of eBayes,
    ``p = P(T > (|b| - lfc)/se) + P(T > (|b| + lfc)/se)``; t is ``(|b| - lfc)/se`` signed by b,
    0 where ``|b| <= lfc``.
    """
    coef = np.asarray(fitted.coefficients, dtype=float)[:, j]
    se = np.asarray(fitted.stdev_unscaled, dtype=float)[:, j] * np.sqrt(np.asarray(fitted.s2_post, dtype=float))
    df = np.asarray(fitted.df_total, dtype=float)
    right, left = (np.abs(coef) - lfc) / se, (np.abs(coef) + lfc) / se
    p = stats.t.sf(right, df) + stats.t.sf(left, df)
    t = np.where(coef > lfc, np.maximum(right, 0), np.where(coef < -lfc, -np.maximum(right, 0), 0.0))
    return t, p


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
                         "stat": t, "pvalue": p, "padj": bh(p), "B": b,
                         "df_total": np.asarray(fitted.df_total, dtype=float), "s2_post": s2_post})


def contrast_tables(values: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict
                    ) -> tuple[dict[str, pd.DataFrame], dict]:
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
        The dataset's ``de`` block (``lfc_threshold``, ``trend``, ``robust``).

    Returns
    -------
    (tables, prior)
        Per contrast the statistics (index = protein ids, input order); the eBayes prior
        (``df_prior``, ``s2_prior`` of the first fit; identical for every parametrisation).
    """
    tables, fits, prior = {}, {}, {}
    t0 = time.time()
    for name, c in contrasts.items():
        key = (c["variable"], c["reference"])
        if key not in fits:
            fits[key] = fit(values, design_matrix(meta, design, *key), opts.get("trend", False),
                            opts.get("robust", False))
        fitted = fits[key]
        cols = fitted.coefficients.columns if hasattr(fitted.coefficients, "columns") else None
        wanted = f"{c['variable']}[T.{c['target']}]"
        names = list(cols) if cols is not None else list(fitted.design.design_info.column_names)
        if wanted not in names:
            raise ValueError(f"contrast {name!r}: no coefficient {wanted!r} in the design ({', '.join(names)})")
        tables[name] = coefficient_table(fitted, names.index(wanted), opts.get("lfc_threshold", 0.0))
        tables[name].index = values.index
        if not prior:
            prior = {"df_prior": float(np.atleast_1d(fitted.df_prior)[0]),
                     "s2_prior": float(np.median(np.atleast_1d(fitted.s2_prior)))}
    log.info("limma: %d proteins x %d samples, %d contrasts from %d fit(s) in %.1f s; eBayes (trend %s, robust %s) "
             "df.prior %.4g, s2.prior %.4g", values.shape[0], values.shape[1], len(contrasts), len(fits),
             time.time() - t0, opts.get("trend", False), opts.get("robust", False), prior.get("df_prior", np.nan),
             prior.get("s2_prior", np.nan))
    return tables, prior
