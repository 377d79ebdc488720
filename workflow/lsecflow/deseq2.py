"""Glue to inmoose.deseq2 (the DESeq2 port) and the one DESeq2 step it lacks.

inmoose 0.9.1's ``nbinomLRT`` raises ``NotImplementedError``; :func:`add_lrt`
adds DESeq2's likelihood ratio test to a fitted model. :func:`quiet_inmoose`
keeps the port's progress lines out of the job logs.
"""
from __future__ import annotations

import contextlib
import logging
import warnings

import numpy as np

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_inmoose():
    """Run inmoose quietly: its INFO lines are dropped, its warnings go to our log (info)."""
    lib = logging.getLogger("inmoose")
    level = lib.level
    lib.setLevel(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            lib.setLevel(level)
    for w in caught:
        log.info("inmoose warning: %s", w.message)


def fitted_counts(dds) -> np.ndarray:
    """Samples x genes counts the model was fitted on: DESeq2's outlier-replaced counts for the genes it
    refitted (``replace``), the original counts elsewhere."""
    counts = np.asarray(dds.counts(), dtype=float).copy()
    if "replace" in dds.var and "replaceCounts" in dds.layers:
        rows = dds.var["replace"].fillna(False).to_numpy(dtype=bool)
        counts[:, rows] = np.asarray(dds.layers["replaceCounts"], dtype=float)[:, rows]
    return counts


def add_lrt(dds, reduced: str) -> None:
    """DESeq2's ``nbinomLRT`` on a fitted model (what inmoose 0.9.1 lacks).

    The reduced design is fitted with the full model's dispersions and size
    factors (on the outlier-replaced counts where DESeq2 replaced them);
    ``LRTStatistic`` is the deviance difference, ``LRTPvalue`` its
    chi-squared upper tail with the difference in coefficients as degrees of
    freedom. ``results()`` then reports them (``dds.test = "LRT"``).
    """
    import patsy
    from inmoose.deseq2.fitNbinomGLMs import fitNbinomGLMs
    from scipy.stats import chi2

    nz = ~dds.var["allZero"].to_numpy(dtype=bool)
    sub = dds[:, nz].copy()
    sub.X = fitted_counts(dds)[:, nz]
    model = patsy.dmatrix(reduced, data=sub.obs, NA_action="raise")
    fit = fitNbinomGLMs(sub, modelMatrix=model, alpha_hat=sub.var["dispersion"].astype(float),
                        renameCols=False)
    reduced_deviance = -2 * np.asarray(fit["logLike"], dtype=float)
    stat = np.full(dds.n_vars, np.nan)
    stat[nz] = reduced_deviance - dds.var["deviance"].to_numpy(dtype=float)[nz]
    df = dds.design.shape[1] - model.shape[1]
    dds.var["LRTStatistic"] = stat
    dds.var["LRTPvalue"] = chi2.sf(stat, df)
    for column in ("LRTStatistic", "LRTPvalue"):
        dds.var.type[column] = "results"
    dds.test = "LRT"
