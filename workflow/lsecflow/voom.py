"""limma-voom for counts (``de.engine: voom``): edgeR's TMM normalisation factors and limma's ``voom``
precision weights, ported from edgeR 3.40 ``calcNormFactors`` and limma 3.54 ``voom``.

The weighted fit and the moderated tests are :mod:`lsecflow.limma` (``lmFit(v, design)`` then ``eBayes`` or
``treat``). Checked against R on the real DLPC counts by ``tests/data/voom/make_reference.R``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .errors import UnfittableFit
from .limma_weights import array_weights
from .lowess import approx, lowess


def _tmm_factor(obs: np.ndarray, ref: np.ndarray, n_obs: float, n_ref: float, logratio_trim: float = 0.3,
                sum_trim: float = 0.05) -> float:
    """edgeR's ``.calcFactorTMM`` (``doWeighting = TRUE``, ``Acutoff = -1e10``): the weighted mean of the
    log ratios of ``obs`` to ``ref`` over the genes left after trimming 30 % of the log ratios and 5 % of the
    mean log expressions at each end, weighted by the inverse of their asymptotic variances; as ``2^mean``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_r = np.log2((obs / n_obs) / (ref / n_ref))
        abs_e = (np.log2(obs / n_obs) + np.log2(ref / n_ref)) / 2
        v = (n_obs - obs) / n_obs / obs + (n_ref - ref) / n_ref / ref
    fin = np.isfinite(log_r) & np.isfinite(abs_e) & (abs_e > -1e10)
    log_r, abs_e, v = log_r[fin], abs_e[fin], v[fin]
    if log_r.size == 0 or np.max(np.abs(log_r)) < 1e-6:  # R: max() of no ratio is -Inf, so 1 (no gene shared)
        return 1.0
    n = len(log_r)
    lo_l = np.floor(n * logratio_trim) + 1
    lo_s = np.floor(n * sum_trim) + 1
    rank_r, rank_e = rankdata(log_r), rankdata(abs_e)
    keep = (rank_r >= lo_l) & (rank_r <= n + 1 - lo_l) & (rank_e >= lo_s) & (rank_e <= n + 1 - lo_s)
    f = np.nansum(log_r[keep] / v[keep]) / np.nansum(1 / v[keep])
    return float(2 ** (0.0 if np.isnan(f) else f))


def tmm_factors(counts: np.ndarray, lib_size: np.ndarray | None = None) -> np.ndarray:
    """edgeR's ``calcNormFactors(counts, method = "TMM")``: one factor per sample, geometric mean 1.

    Parameters
    ----------
    counts
        Genes x samples raw counts.
    lib_size
        Library sizes; the column sums by default.

    Returns
    -------
    numpy.ndarray
        The normalisation factors; the effective library size is ``lib_size * factor``. The reference sample
        is the one whose upper-quartile fraction is closest to the mean's (edgeR's rule).
    """
    x = np.asarray(counts, dtype=float)
    lib = x.sum(axis=0) if lib_size is None else np.asarray(lib_size, dtype=float)
    x = x[(x > 0).any(axis=1)]
    if x.shape[0] == 0 or x.shape[1] == 1:
        return np.ones(len(lib))
    f75 = np.quantile(x, 0.75, axis=0) / lib  # R's quantile type 7
    ref = int(np.argmax(np.sqrt(x).sum(axis=0))) if np.median(f75) < 1e-20 else int(np.argmin(np.abs(f75 - f75.mean())))
    f = np.array([_tmm_factor(x[:, i], x[:, ref], lib[i], lib[ref]) for i in range(x.shape[1])])
    return f / np.exp(np.mean(np.log(f)))


def effective_library_sizes(counts: np.ndarray) -> np.ndarray:
    """Column sums times edgeR's TMM factors (:func:`tmm_factors`) of genes x samples ``counts``: the library
    sizes voom, the CPM and the QC trend use (edgeR's ``lib.size * norm.factors``)."""
    x = np.asarray(counts, dtype=float)
    return x.sum(axis=0) * tmm_factors(x)


@dataclass
class Voom:
    """limma's ``EList`` from ``voom``: ``E`` (log2-CPM, genes x samples), ``weights`` (same shape), the
    library sizes it used, and the mean-variance trend (``sx``, ``sy`` per gene, the lowess ``line``)."""

    E: np.ndarray
    weights: np.ndarray
    lib_size: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    line: tuple[np.ndarray, np.ndarray]
    sample_weights: np.ndarray | None = None


def normalized_cpm(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts per million of the TMM-effective library sizes (genes x samples), edgeR's ``cpm(y)``."""
    x = counts.to_numpy(dtype=float)
    return pd.DataFrame(x / effective_library_sizes(x) * 1e6, index=counts.index, columns=counts.columns)


def log_cpm(counts: np.ndarray, lib_size: np.ndarray) -> np.ndarray:
    """voom's ``log2((counts + 0.5) / (lib.size + 1) * 1e6)`` (genes x samples)."""
    return np.log2((np.asarray(counts, dtype=float) + 0.5) / (np.asarray(lib_size, dtype=float) + 1) * 1e6)


def voom(counts: np.ndarray, design: np.ndarray, lib_size: np.ndarray, span: float = 0.5,
         sample_weights: np.ndarray | None = None, correlation: np.ndarray | None = None) -> Voom:
    """limma's ``voom(counts, design, lib.size, span, weights, block, correlation)`` (``normalize.method =
    "none"``; ``sample_weights``: one prior weight per sample, as :func:`voom_with_quality_weights` passes them;
    ``correlation``: the samples' correlation matrix of ``block`` and ``correlation``,
    :func:`lsecflow.limma_block.correlation_matrix`, the fit then generalised least squares as limma's).

    The log-CPM are fitted by least squares (weighted by ``sample_weights`` when given); the square root of each
    gene's residual standard deviation against its mean log count is smoothed by R's ``lowess``; each
    observation's weight is the trend's value at its fitted log count to the power -4. Genes with all-zero
    counts stay out of the trend.

    Parameters
    ----------
    counts
        Genes x samples raw counts (no missing values).
    design
        Samples x coefficients design matrix (weights do not depend on its parametrisation).
    lib_size
        Effective library sizes (:func:`effective_library_sizes`).
    span
        lowess's span for the trend.
    sample_weights
        Prior weight of each sample (R: ``voom(weights = )``), or None.
    correlation
        Samples x samples correlation matrix (``de.block``), or None.
    """
    counts = np.asarray(counts, dtype=float)
    if counts.shape[0] < 2:
        raise UnfittableFit(f"voom needs at least two genes to fit its mean-variance trend, and {counts.shape[0]} "
                            "passes the pre-filter (R's voom stops too); lower de.min_count / de.min_samples")
    lib_size = np.asarray(lib_size, dtype=float)
    y = log_cpm(counts, lib_size)
    X = np.asarray(design, dtype=float)
    root = np.ones(X.shape[0]) if sample_weights is None else np.sqrt(np.asarray(sample_weights, dtype=float))
    if correlation is None:
        whiten = np.diag(root)  # lm.wfit: sqrt(w) X, sqrt(w) y
    else:  # gls.series: V = W^-1/2 C W^-1/2, backsolve(chol(V), ., transpose = TRUE)
        whiten = np.linalg.inv(np.linalg.cholesky(correlation / np.outer(root, root)))
    coef, *_ = np.linalg.lstsq(whiten @ X, whiten @ y.T, rcond=None)
    rank = np.linalg.matrix_rank(X)
    fitted = (X @ coef).T  # genes x samples; the same for any parametrisation of the design's column space
    df = X.shape[0] - rank
    if df == 0:
        raise ValueError("voom: the design leaves no residual degrees of freedom (no replication)")
    sigma = np.sqrt(((whiten @ (y - fitted).T) ** 2).sum(axis=0) / df)
    sx = y.mean(axis=1) + np.mean(np.log2(lib_size + 1)) - np.log2(1e6)
    sy = np.sqrt(sigma)
    used = counts.sum(axis=1) > 0
    order = np.argsort(sx[used], kind="stable")
    lx = sx[used][order]
    ly = lowess(lx, sy[used][order], f=span)
    fitted_logcount = np.log2(1e-6 * 2 ** fitted * (lib_size + 1))
    weights = 1 / approx(lx, ly, fitted_logcount.ravel()).reshape(fitted.shape) ** 4
    return Voom(y, weights, lib_size, sx, sy, (lx, ly))


def voom_with_quality_weights(counts: np.ndarray, design: np.ndarray, lib_size: np.ndarray,
                              span: float = 0.5, correlation: np.ndarray | None = None) -> Voom:
    """limma's ``voomWithQualityWeights(counts, design, lib.size, span, block, correlation)`` (``method =
    "genebygene"``): voom, sample weights from its weights (:func:`array_weights`, which ignores blocks, as R's),
    voom again with those as prior weights, sample weights again; the observation weights are voom's times the
    sample's (``sample_weights`` holds those). ``correlation``: both voom fits by generalised least squares."""
    v = voom(counts, design, lib_size, span, correlation=correlation)
    aw = array_weights(v.E, design, v.weights, method="genebygene")
    v = voom(counts, design, lib_size, span, sample_weights=aw, correlation=correlation)
    aw = array_weights(v.E, design, v.weights, method="genebygene")
    v.weights = v.weights * aw[None, :]
    v.sample_weights = aw
    return v
