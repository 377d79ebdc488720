"""Glue to inmoose.deseq2 (the DESeq2 port), and the two DESeq2 steps it lacks or runs differently.

- inmoose 0.9.1's ``nbinomLRT`` raises ``NotImplementedError``: :func:`nbinomLRT`
  is DESeq2's, ported.
- Its optim fallback (genes whose IRLS does not converge) is scipy's TNC with a
  mis-scaled gradient: :func:`fitNbinomGLMsOptim` runs R's L-BFGS-B as R does.
- Its ``fitType = "local"`` raises ``NotImplementedError``:
  :func:`lsecflow.deseq2_local.estimateDispersionsFit` is DESeq2's (locfit ported).

:func:`as_in_r` puts these into inmoose for the duration of a ``DESeq`` call,
with the faster kernels of :mod:`lsecflow.deseq2_kernels` (same algorithms);
:func:`quiet_inmoose` keeps the port's progress lines out of the job logs.
"""
from __future__ import annotations

import contextlib
import logging
import warnings

import numpy as np

from .deseq2_kernels import kernels
from .deseq2_local import estimateDispersionsFit, parametric_fit_or_fallback

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


@contextlib.contextmanager
def as_in_r():
    """Within the block, inmoose's ``DESeq`` runs :func:`nbinomLRT` (its own is a stub raising
    ``NotImplementedError``; replaced where ``DESeq`` and ``refitWithoutOutliers`` call it),
    :func:`fitNbinomGLMsOptim` (R's optimiser, replacing scipy's TNC in ``fitNbinomGLMs``), DESeq2's
    ``estimateDispersionsFit`` with its local trend (:mod:`lsecflow.deseq2_local`), and the
    dispersion and IRLS kernels of :mod:`lsecflow.deseq2_kernels`. Restored on exit."""
    import importlib

    core, outliers, fitting, dispersions, vst = (importlib.import_module(f"inmoose.deseq2.{name}")
                                                 for name in ("core", "outliers", "fitNbinomGLMs", "dispersions", "vst"))

    saved = (core.nbinomLRT, outliers.nbinomLRT, fitting.fitNbinomGLMsOptim, dispersions.estimateDispersionsFit,
             vst.estimateDispersionsFit, dispersions.parametricDispersionFit)
    core.nbinomLRT = outliers.nbinomLRT = nbinomLRT
    fitting.fitNbinomGLMsOptim = fitNbinomGLMsOptim
    dispersions.estimateDispersionsFit = vst.estimateDispersionsFit = estimateDispersionsFit
    dispersions.parametricDispersionFit = parametric_fit_or_fallback(saved[-1])
    try:
        with kernels():
            yield
    finally:
        (core.nbinomLRT, outliers.nbinomLRT, fitting.fitNbinomGLMsOptim, dispersions.estimateDispersionsFit,
         vst.estimateDispersionsFit, dispersions.parametricDispersionFit) = saved


def nbinomLRT(obj, full=None, reduced=None, betaTol=1e-8, maxit=100, useOptim=True, quiet=False, useQR=True,
              minmu=None, type_="DESeq2"):
    """Port of DESeq2 1.38's ``nbinomLRT`` (``type = "DESeq2"``) onto an inmoose ``DESeqDataSet``.

    Full and reduced models are fitted by inmoose's ``fitNbinomGLMs`` with the
    dataset's dispersions; ``LRTStatistic`` is twice the log-likelihood
    difference, ``LRTPvalue`` its chi-squared upper tail with the difference
    in coefficients as degrees of freedom.

    As in DESeq2, Cook's distances are computed *before* the full model's
    means are stored, i.e. from the means of the gene-wise dispersion step
    (``estimateDispersionsGeneEst``) and the full fit's hat values. The Wald
    path computes them from its own fit; this is why DESeq2's LRT and Wald
    runs of one design can flag different genes as outliers.

    Parameters
    ----------
    obj
        ``DESeqDataSet`` with dispersions (``estimateDispersions``).
    full, reduced
        Design matrices (patsy), as inmoose's ``DESeq`` passes them; the full
        one must be the dataset's design (its columns are named as the Wald
        path names them, for ``results(contrast = ...)``).
    betaTol, maxit, useOptim, useQR, minmu
        As in ``fitNbinomGLMs``.
    quiet, type_
        Accepted for inmoose's call signature; only ``type_ = "DESeq2"``.

    Returns
    -------
    DESeqDataSet
        ``obj`` with the LRT results in ``var`` and ``obj.test = "LRT"``.
    """
    import pandas as pd
    from inmoose.deseq2.fitNbinomGLMs import fitNbinomGLMs
    from inmoose.deseq2.misc import buildDataFrameWithNACols, buildMatrixWithNACols
    from inmoose.deseq2.wald import calculateCooksDistance, recordMaxCooks
    from scipy.stats import chi2

    if type_ != "DESeq2":
        raise NotImplementedError(f"nbinomLRT type {type_!r}: only 'DESeq2' is ported")
    if "dispersion" not in obj.var:
        raise ValueError("testing requires dispersion estimates, first call estimateDispersions()")
    if reduced is None:
        raise ValueError("provide a reduced design for the LRT")
    minmu = 0.5 if minmu is None else minmu
    full = obj.design if full is None else full
    if list(full.design_info.column_names) != list(obj.design.design_info.column_names):
        raise ValueError("nbinomLRT: the full model must be the dataset's design (as DESeq passes it)")
    df = full.shape[1] - reduced.shape[1]
    if df < 1:
        raise ValueError("less than one degree of freedom, perhaps full and reduced models are not in the correct order")
    if not obj.var.type.filter("results").empty:
        obj = obj.removeResults()
    if obj.var["allZero"] is None:
        obj = obj.getBaseMeansAndVariances()
    obj.modelMatrixType = "standard"
    objNZ = obj[:, ~obj.var["allZero"]]
    fit_args = dict(betaTol=betaTol, maxit=maxit, useOptim=useOptim, useQR=useQR, warnNonposVar=False, minmu=minmu)
    fullModel = fitNbinomGLMs(objNZ, renameCols=True, **fit_args)
    reducedModel = fitNbinomGLMs(objNZ, modelMatrix=reduced, renameCols=False, **fit_args)
    stat = 2 * (np.asarray(fullModel["logLike"], dtype=float) - np.asarray(reducedModel["logLike"], dtype=float))
    modelMatrix = fullModel["modelMatrix"]
    H = fullModel["hat_diagonals"]
    obj.dispModelMatrix = modelMatrix
    # DESeq2 order: Cook's distances from the stored (dispersion-step) means, then the full fit's means stored
    cooks = calculateCooksDistance(objNZ, H, modelMatrix)
    maxCooks = recordMaxCooks(obj.design, obj.obs, modelMatrix, cooks, objNZ.n_vars)
    obj.layers["H"] = buildMatrixWithNACols(H, obj.var["allZero"])
    obj.layers["cooks"] = buildMatrixWithNACols(cooks, obj.var["allZero"])
    obj.betaPrior = False
    obj.betaPriorVar = np.full(modelMatrix.shape[1], 1e6)
    obj.modelMatrix = modelMatrix
    obj.reducedModelMatrix = reduced
    obj.test = "LRT"
    objNZ.layers["mu"] = fullModel["mu"]
    obj.layers["mu"] = buildMatrixWithNACols(fullModel["mu"], obj.var["allZero"])
    if np.any(~np.asarray(fullModel["betaConv"], dtype=bool)):
        log.info("%d genes did not converge in beta (full model)", int(np.sum(~np.asarray(fullModel["betaConv"]))))

    names = list(modelMatrix.design_info.column_names)
    beta = fullModel["betaMatrix"].set_axis(objNZ.var_names, axis=0)
    se = fullModel["betaSE"].set_axis(objNZ.var_names, axis=0).set_axis([f"SE_{n}" for n in names], axis=1)
    table = pd.concat([beta, se], axis=1)
    table["LRTStatistic"] = stat
    table["LRTPvalue"] = chi2.sf(stat, df)
    table["fullBetaConv"] = np.asarray(fullModel["betaConv"])
    table["reducedBetaConv"] = np.asarray(reducedModel["betaConv"])
    table["betaIter"] = np.asarray(fullModel["betaIter"])
    table["deviance"] = -2 * np.asarray(fullModel["logLike"], dtype=float)
    table["maxCooks"] = maxCooks
    results = buildDataFrameWithNACols(table, obj.var["allZero"])
    results.index = obj.var_names
    comparison = "full vs reduced"
    descriptions = ([f"log2 fold change (MLE): {n}" for n in names] + [f"standard error: {n}" for n in names]
                    + [f"LRT statistic: {comparison}", f"LRT p-value: {comparison}",
                       "convergence of betas for full model", "convergence of betas for reduced model",
                       "iterations for betas for full model", "deviance of the full model",
                       "maximum Cook's distance for row"])
    new_var = pd.concat([obj.var, results], axis=1)
    for c in obj.var.columns:
        new_var.type[c] = obj.var.type[c]
        new_var.description[c] = obj.var.description[c]
    obj.var = new_var
    for c, text in zip(results.columns, descriptions):
        obj.var.type[c] = "results"
        obj.var.description[c] = text
    return obj


def log_dnbinom_mu(k, mu, size):
    """log of the negative binomial density with mean ``mu``, finite wherever R's ``dnbinom(log = TRUE)``
    is: inmoose's ``dnbinom_mu`` forms p = size / (size + mu), which rounds to 1 for a tiny ``mu``, and
    returns -inf for a positive count there (a box corner that R's ``optim`` visits during its line
    search reads as 1e300, and the search stalls)."""
    return nb_log_density(k, size)(mu)


def nb_log_density(k, size):
    """:func:`log_dnbinom_mu` for fixed counts ``k`` and ``size``, as a function of ``mu`` (the terms
    without ``mu`` computed once, for an optimiser that calls it thousands of times)."""
    from scipy.special import gammaln

    k = np.asarray(k, dtype=float)
    coeff = gammaln(size + k) - gammaln(k + 1) - gammaln(size)
    zero = k == 0

    def density(mu):
        mu = np.asarray(mu, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_share = -np.log1p(size / mu)  # log(mu / (size + mu))
            return coeff - size * np.log1p(mu / size) + np.where(zero, 0.0, k * log_share)

    return density


def r_numeric_gradient(fn, lower: float, upper: float, ndeps: float = 1e-3):
    """The gradient R's ``optim(method = "L-BFGS-B")`` uses when given none: central differences with
    step ``ndeps`` (R's default 1e-3), shortened on the side where a bound would be crossed (R's
    ``fmingr`` in src/appl/optim.c)."""

    def grad(p):
        p = np.array(p, dtype=float)
        out = np.empty_like(p)
        for i in range(p.size):
            x = p.copy()
            up = min(p[i] + ndeps, upper)
            down = max(p[i] - ndeps, lower)
            x[i] = up
            f_up = fn(x)
            x[i] = down
            f_down = fn(x)
            out[i] = (f_up - f_down) / (up - down)
        return out

    return grad


def optim_beta(x: np.ndarray, nf: np.ndarray, k: np.ndarray, alpha: float, lambda_: np.ndarray, start: np.ndarray,
               weights=1.0, large: float = 30.0):
    """One gene's coefficients as DESeq2's optim fallback finds them.

    ``optim(start, negLogPost, method = "L-BFGS-B", lower = -large,
    upper = large)`` with R's defaults (``lmm`` 5, ``factr`` 1e7, ``pgtol``
    0, ``maxit`` 100) and R's numerical gradient
    (:func:`r_numeric_gradient`); the objective is DESeq2's negative log
    posterior on the log2 scale, with a normal prior of precision
    ``lambda_``.

    Parameters
    ----------
    x
        Samples x coefficients design matrix.
    nf, k
        The gene's normalisation factors and counts, per sample.
    alpha
        The gene's dispersion.
    lambda_
        Prior precision per coefficient (1e-6: DESeq2's wide prior).
    start
        Starting coefficients (log2 scale).
    weights
        Observation weights, or 1.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x`` the coefficients, ``success`` as R's ``convergence == 0``.
    """
    from scipy.optimize import minimize

    # R's dnorm(p, 0, sd, log = TRUE), written out as scipy's norm.logpdf computes it (same floats, no
    # per-call overhead of scipy.stats)
    sd = np.sqrt(1 / np.asarray(lambda_, dtype=float))
    log_sd, log_c = np.log(sd), np.log(np.sqrt(2 * np.pi))
    density = nb_log_density(k, 1 / alpha)

    def neg_log_post(p):
        with np.errstate(over="ignore", invalid="ignore"):
            log_like = np.sum(weights * density(nf * 2 ** (x @ p)))
            z = p / sd
            value = -(log_like + np.sum(-z**2 / 2.0 - log_c - log_sd))
        return value if np.isfinite(value) else 1e300

    return minimize(neg_log_post, np.asarray(start, dtype=float), method="L-BFGS-B",
                    jac=r_numeric_gradient(neg_log_post, -large, large), bounds=[(-large, large)] * x.shape[1],
                    options=dict(maxcor=5, ftol=1e7 * np.finfo(float).eps, gtol=0.0, maxiter=100))


def fitNbinomGLMsOptim(obj, modelMatrix, lambda_, colsForOptim, colStable, normalizationFactors, alpha_hat, weights,
                       useWeights, betaMatrix, betaSE, betaConv, beta_mat, mu, logLike, minmu=0.5):
    """DESeq2's ``fitNbinomGLMsOptim`` as R runs it: the genes whose IRLS did not converge are fitted by
    :func:`optim_beta` (R's ``optim`` L-BFGS-B), started where DESeq2 starts them.

    inmoose 0.9.1 uses scipy's TNC with an analytic gradient that is off by a factor ln(2)^2 (and adds
    the prior as a scalar); on a gene whose MLE is at -inf (a group of zero counts) the two optimisers
    stop at different points of the flat likelihood (Anxa10: -18.79 against R's -17.98; now -18.00).
    Standard errors and log-likelihoods follow DESeq2. Arguments and return value are inmoose's (genes
    are columns).
    """
    x = np.asarray(modelMatrix, dtype=float)
    lambda_ = np.asarray(lambda_, dtype=float)
    ridge = np.diag(lambda_ / np.log(2) ** 2)
    large = 30.0
    counts = obj.counts()
    for col in colsForOptim:
        if colStable[col] and np.all(np.abs(betaMatrix.iloc[col, :]) < large):
            start = np.asarray(betaMatrix.iloc[col, :], dtype=float)
        else:
            start = np.asarray(beta_mat[col, :], dtype=float)
        nf, k, alpha = normalizationFactors[:, col], counts[:, col], alpha_hat.iloc[col]
        w_col = weights[:, col] if useWeights else 1.0
        o = optim_beta(x, nf, k, alpha, lambda_, start, w_col, large)
        if o.success:
            betaConv[col] = True
        betaMatrix.iloc[col, :] = o.x
        with np.errstate(over="ignore"):
            mu_col = nf * 2 ** (x @ o.x)
        mu[:, col] = mu_col
        mu_col = np.maximum(mu_col, minmu)
        w = np.diag(w_col * 1 / (1 / mu_col + alpha))
        xtwx = x.T @ w @ x
        inv = np.linalg.inv(xtwx + ridge)
        sigma = inv @ xtwx @ inv
        betaSE.iloc[col, :] = np.log2(np.exp(1)) * np.sqrt(np.maximum(np.diag(sigma), 0))
        logLike[col] = np.sum(w_col * log_dnbinom_mu(k, mu_col, 1 / alpha))
    return {"betaMatrix": betaMatrix, "betaSE": betaSE, "betaConv": betaConv, "mu": mu, "logLike": logLike}



def tx_length_factors(counts: np.ndarray, lengths: np.ndarray, sf_type: str = "ratio") -> np.ndarray:
    """DESeq2's normalisation factors from tximport's average transcript lengths (samples x genes), as
    ``estimateSizeFactors`` makes them for a ``DESeqDataSetFromTximport`` (its ``avgTxLength`` branch): the
    lengths divided by each gene's geometric mean over samples, the median-of-ratios (or poscounts) size
    factors of the counts divided by them, their product divided by each gene's geometric mean again.
    (inmoose 0.9.1's own ``avgTxLength`` branch divides by the samples' means instead, a wrong axis.)"""
    from inmoose.deseq2.estimateSizeFactors import estimateNormFactors

    counts = np.asarray(counts, dtype=float)
    lengths = np.asarray(lengths, dtype=float)
    nm = lengths / np.exp(np.log(lengths).mean(axis=0))
    geo = None
    if sf_type == "poscounts":  # R: geoMeanNZ of the counts (not of counts / nm), per gene
        with np.errstate(divide="ignore"):
            logs = np.where(counts > 0, np.log(np.where(counts > 0, counts, 1)), 0.0)
        geo = np.where((counts > 0).any(axis=0), np.exp(logs.sum(axis=0) / counts.shape[0]), 0.0)
    return np.asarray(estimateNormFactors(counts, nm, geoMeans=geo), dtype=float)

