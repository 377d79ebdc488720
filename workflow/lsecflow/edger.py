"""edgeR's quasi-likelihood pipeline, ported from edgeR 3.40.2: ``estimateDisp``, ``glmQLFit``, ``glmQLFTest``,
``glmTreat``.

What ``de.engine: edger`` runs on counts (the recommended edgeR route for bulk and pseudobulk; muscat's
default for pseudobulk)::

    y <- calcNormFactors(DGEList(counts)); y <- estimateDisp(y, design)
    fit <- glmQLFit(y, design, robust = <de.robust>); glmQLFTest(fit, coef = <the contrast's> | <several>)

Ported line by line from edgeR's R and C++ (the algorithms, not the code):

- the negative binomial GLM (``glmFit``): :mod:`lsecflow.edger_glm`;
- ``estimateDisp`` (the parts the QL fit reads): Cox-Reid adjusted profile likelihoods of each gene with
  at least 5 counts on the grid ``0.1 x 2^seq(-10, 10, length = 21)`` (genes whose fit has exact zeros
  in a group get the design of their non-zero samples), smoothed across genes by ``locfitByCol``
  (:class:`lsecflow.locfit.LocalFit`, degree 0, span ``0.25 + 0.75 sqrt(50 / genes)``) against the
  average log CPM, maximised by the cubic-spline interpolant of ``maximizeInterpolant`` (R's "fmm"
  spline): the common and the trended dispersion (tagwise dispersions, which the QL fit ignores, are
  not computed);
- ``glmQLFit``: the GLM at the trended dispersions, residual df less those of exact-zero fits
  (``.residDF``), deviance / df squeezed towards the average log CPM trend by limma's ``squeezeVar``
  (``fitFDist``, :mod:`lsecflow.fdist`; ``robust``: ``fitFDistRobustly``);
- ``glmQLFTest``: the likelihood ratio of the design without the tested coefficient(s) over their df
  and the posterior QL dispersion, an F test on ``df.prior + df.residual`` (at most genes x residual
  df), and edgeR's Poisson bound (a gene whose QL variance falls below Poisson's keeps the larger of the
  two p-values);
- ``glmTreat`` (``de.lfc_threshold``): the deviances with the offsets shifted by +-lfc along the coefficient,
  read on the QL df by limma's ``zscoreT``, p-values by edgeR's "interval" null;
- ``logFC``: the coefficients refitted with 0.125 prior counts scaled by library size (``predFC``),
  ``logCPM``: ``aveLogCPM`` (prior count 2, the common dispersion);
- offsets from tximport's average transcript lengths (``counts.from_abundance: "no"``,
  :func:`tx_length_offsets`): the edgeR recipe of tximport's vignette, then ``scaleOffset``; every GLM above
  then runs on those genes x samples offsets, ``aveLogCPM`` on the plain library sizes, as edgeR does.

Checked against R edgeR 3.40.2 by ``tests/data/edger/make_reference.R`` (tests/unit/test_edger.py).
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from .edger_glm import ave_log_cpm, glm_fit
from .edger_kernels import LOW
from .errors import UnfittableDesign
from .limma_robust import squeeze_var
from .locfit import LocalFit
from .voom import effective_library_sizes


class NoResidualDF(UnfittableDesign):
    """The design leaves no residual df (as many coefficients as samples): a bulk fit stops, a pseudobulk cell
    type is skipped with the reason (the DE entry points find it before this module does:
    :func:`lsecflow.de_inputs.check_fittable`)."""


SPLINE_PTS = np.linspace(-10, 10, 21)
GRID_DISP = 0.1 * 2**SPLINE_PTS


# -- estimateDisp ------------------------------------------------------------------------------------------

def adjusted_profile_lik(y, X, disp, offset, start=None, lgamma_y1=None) -> tuple[np.ndarray, np.ndarray]:
    """``adjustedProfileLik``: NB log-likelihood at the MLE less half the log determinant of the Fisher
    information (Cox-Reid), per gene (``lgamma_y1``: ``lgamma(y + 1)``, when the caller has it). Returns
    (apl, coefficients)."""
    fit = glm_fit(y, X, disp, offset, prior_count=0, start=start)
    mu = fit["fitted"]
    phi = np.broadcast_to(disp, mu.shape)
    ly1 = gammaln(y + 1) if lgamma_y1 is None else lgamma_y1
    with np.errstate(divide="ignore", invalid="ignore"):
        logmu = np.log(mu)
        ll = y * logmu - mu - ly1  # Poisson, where the dispersion is 0
        if np.any(phi > 0):
            r = 1 / phi
            logmur = np.log(mu + r)
            nb = y * logmu - y * logmur + r * np.log(r) - r * logmur + gammaln(y + r) - ly1 - gammaln(r)
            ll = np.where(phi > 0, nb, ll)
    ll = np.where(mu == 0, 0.0, ll).sum(axis=1)
    W = mu / (1 + phi * mu)
    if X.shape[1] == 1:
        adj = np.log(np.abs(W.sum(axis=1))) / 2
    else:
        p = X.shape[1]
        info = (W @ (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], p * p)).reshape(-1, p, p)
        sign, logdet = np.linalg.slogdet(info)
        adj = np.where(sign > 0, logdet, X.shape[1] * np.log(LOW)) / 2
    return ll - adj, fit["coefficients"]


def _fmm_spline(x: np.ndarray, Y: np.ndarray):
    """R's ``fmm_spline`` (``splinefun(method = "fmm")``) for each row of ``Y`` at the shared knots ``x``:
    the coefficients b, c, d of each segment (``y + b t + c t^2 + d t^3``, t from the segment's left knot)."""
    n = x.size
    X1 = np.concatenate([[np.nan], x])  # 1-based, as the C code
    Yp = np.column_stack([np.full(Y.shape[0], np.nan), Y])
    m = Y.shape[0]
    dx = np.zeros(n + 1)
    bb = np.zeros(n + 1)
    c = np.zeros((m, n + 1))
    dx[1] = X1[2] - X1[1]
    c[:, 2] = (Yp[:, 2] - Yp[:, 1]) / dx[1]
    for i in range(2, n):
        dx[i] = X1[i + 1] - X1[i]
        bb[i] = 2.0 * (dx[i - 1] + dx[i])
        c[:, i + 1] = (Yp[:, i + 1] - Yp[:, i]) / dx[i]
        c[:, i] = c[:, i + 1] - c[:, i]
    nm1 = n - 1
    bb[1] = -dx[1]
    bb[n] = -dx[nm1]
    c1 = c[:, 3] / (X1[4] - X1[2]) - c[:, 2] / (X1[3] - X1[1])
    cn = c[:, nm1] / (X1[n] - X1[n - 2]) - c[:, n - 2] / (X1[nm1] - X1[n - 3])
    c[:, 1] = c1 * dx[1] * dx[1] / (X1[4] - X1[1])
    c[:, n] = -cn * dx[nm1] * dx[nm1] / (X1[n] - X1[n - 3])
    for i in range(2, n + 1):
        t = dx[i - 1] / bb[i - 1]
        bb[i] = bb[i] - t * dx[i - 1]
        c[:, i] = c[:, i] - t * c[:, i - 1]
    c[:, n] = c[:, n] / bb[n]
    for i in range(nm1, 0, -1):
        c[:, i] = (c[:, i] - dx[i] * c[:, i + 1]) / bb[i]
    B = np.zeros((m, n + 1))
    C = np.zeros((m, n + 1))
    D = np.zeros((m, n + 1))
    B[:, n] = (Yp[:, n] - Yp[:, n - 1]) / dx[n - 1] + dx[n - 1] * (c[:, n - 1] + 2.0 * c[:, n])
    for i in range(1, n):
        B[:, i] = (Yp[:, i + 1] - Yp[:, i]) / dx[i] - dx[i] * (c[:, i + 1] + 2.0 * c[:, i])
        D[:, i] = (c[:, i + 1] - c[:, i]) / dx[i]
        C[:, i] = 3.0 * c[:, i]
    C[:, n] = 3.0 * c[:, n]
    D[:, n] = D[:, nm1]
    return B[:, 1:], C[:, 1:], D[:, 1:]


def maximize_interpolant(x: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``maximizeInterpolant``: for each row of ``Y`` (values at the sorted points ``x``), the x of the
    maximum of its fmm cubic spline -- the best grid point, moved to a stationary point of the segment
    on its left or right when that point lies inside the segment and is higher."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    x = np.asarray(x, dtype=float)
    B, C, D = _fmm_spline(x, Y)
    rows = np.arange(Y.shape[0])
    k = Y.argmax(axis=1)
    best = Y[rows, k].copy()
    x_max = x[k].copy()
    for side in (-1, 0):  # the segment left of the maximum (k - 1), then right (k)
        seg = k + side
        ok = (seg >= 0) & (seg < x.size - 1)
        s = np.clip(seg, 0, x.size - 2)
        d, c, b = D[rows, s], C[rows, s], B[rows, s]
        a2, b2 = 3 * d, 2 * c
        with np.errstate(divide="ignore", invalid="ignore"):
            disc = b2 * b2 - 4 * a2 * b
            sol = -b2 / (2 * a2) - np.sqrt(np.where(disc < 0, np.nan, disc)) / (2 * a2)
            width = x[s + 1] - x[s]
            inside = ok & (disc >= 0) & (sol > 0) & (sol < width)
            val = ((d * sol + c) * sol + b) * sol + Y[rows, s]
        better = inside & (val > best)
        best = np.where(better, val, best)
        x_max = np.where(better, sol + x[s], x_max)
    return x_max


def _zero_patterns(zero: np.ndarray) -> list[np.ndarray]:
    """``.comboGroups``: genes grouped by their pattern of exact-zero fits."""
    _, inverse = np.unique(zero, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    return [np.flatnonzero(inverse == u) for u in range(inverse.max() + 1)] if inverse.size else []


def _pivot_rank_columns(Xs: np.ndarray) -> list[int]:
    """The columns R's ``qr(X)$pivot[1:rank]`` keeps: LINPACK's limited pivoting moves a column that depends on
    the ones before it to the end, so the first columns that raise the rank are kept, in order."""
    keep: list[int] = []
    for j in range(Xs.shape[1]):
        if np.linalg.matrix_rank(Xs[:, keep + [j]]) > len(keep):
            keep.append(j)
    return keep


def tx_length_offsets(counts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """edgeR's log offsets (genes x samples) from tximport's average transcript lengths (``lengths``, genes x
    samples, as ``counts``), tximport's recipe for edgeR::

        normMat <- lengths / exp(rowMeans(log(lengths)))       # each gene's length factors, geometric mean 1
        normCts <- counts / normMat
        eff.lib <- calcNormFactors(normCts) * colSums(normCts)  # TMM on the length-corrected counts
        y <- scaleOffset(DGEList(counts), log(sweep(normMat, 2, eff.lib, "*")))

    ``scaleOffset`` centres each gene's offsets on the mean log library size (``colSums(counts)``)."""
    x = np.asarray(counts, dtype=float)
    L = np.asarray(lengths, dtype=float)
    norm = L / np.exp(np.log(L).mean(axis=1, keepdims=True))
    off = np.log(norm * effective_library_sizes(x / norm)[None, :])
    return np.log(x.sum(axis=0)).mean() + off - off.mean(axis=1, keepdims=True)


def estimate_disp(y: np.ndarray, X: np.ndarray, lib_size: np.ndarray, min_row_sum: float = 5,
                  offset: np.ndarray | None = None) -> dict:
    """``estimateDisp(y, design)``'s common and trended dispersions and the average log CPM (``lib_size``:
    effective library sizes, ``lib.size x norm.factors``; ``offset``: genes x samples log offsets, which the
    GLMs take instead of the library sizes, as a DGEList's ``offset``). Returns ``common``, ``trended`` (per
    gene), ``ave_log_cpm``, ``span``."""
    y = np.asarray(y, dtype=float)
    G, n = y.shape
    if X.shape[1] >= n:
        raise NoResidualDF(f"the design has {X.shape[1]} coefficients for {n} samples: no residual df, edgeR cannot "
                           "estimate a dispersion")
    if offset is None:
        offset = np.log(np.asarray(lib_size, dtype=float))[None, :]
    sel = y.sum(axis=1) >= min_row_sum
    ys, offs = y[sel], np.broadcast_to(offset, y.shape)[sel]
    fit = glm_fit(ys, X, 0.05, offs, prior_count=0)
    zero = (fit["counts"] < 1e-4) & (fit["fitted"] < 1e-4)
    l0 = np.zeros((ys.shape[0], SPLINE_PTS.size))
    for genes in _zero_patterns(zero):
        nz = ~zero[genes[0]]
        if not nz.any():
            continue
        if nz.all():
            Xr = X
        else:
            Xr = X[nz][:, _pivot_rank_columns(X[nz])]
            if Xr.shape[0] == Xr.shape[1]:
                continue
        cury = ys[genes][:, nz]
        curo = offs[genes][:, nz]
        beta, ly1 = None, gammaln(cury + 1)
        for i, disp in enumerate(GRID_DISP):
            l0[genes, i], beta = adjusted_profile_lik(cury, Xr, disp, curo, start=beta, lgamma_y1=ly1)
    common = 0.1 * 2 ** maximize_interpolant(SPLINE_PTS, l0.sum(axis=0)[None, :])[0]
    ave = ave_log_cpm(y, lib_size, common)
    ntags = int(sel.sum())
    span = 1.0 if ntags <= 50 else 0.25 + 0.75 * (50 / ntags) ** 0.5
    m0 = l0 if span * ntags < 2 or ntags <= 1 else LocalFit(ave[sel], l0, alpha=span, degree=0).predict(ave[sel])
    trend = 0.1 * 2 ** maximize_interpolant(SPLINE_PTS, m0)
    trended = np.full(G, trend[np.argmin(ave[sel])])
    trended[sel] = trend
    return {"common": float(common), "trended": trended, "ave_log_cpm": ave, "span": span}


# -- glmQLFit and glmQLFTest -------------------------------------------------------------------------------

def residual_df(zero: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``.residDF``: residual df less the samples whose fits are exact zeros (and the coefficients only
    they estimate)."""
    nlib, ncoef = X.shape
    nzero = zero.sum(axis=1)
    df = np.full(zero.shape[0], nlib - ncoef)
    df[nzero == nlib] = 0
    some = np.flatnonzero((nzero > 0) & (nzero < nlib))
    if some.size:
        for genes in _zero_patterns(zero[some]):
            keep = ~zero[some[genes[0]]]
            df[some[genes]] = np.maximum(nlib - nzero[some[genes]] - np.linalg.matrix_rank(X[keep]), 0)
    return df


def ql_fit(y: np.ndarray, X: np.ndarray, disp: np.ndarray, lib_size: np.ndarray, ave: np.ndarray,
           robust: bool = False, offset: np.ndarray | None = None) -> dict:
    """``glmQLFit(y, design, dispersion, abundance.trend = TRUE, robust)`` on a DGEList (``lib_size``:
    effective library sizes; ``ave``: its ``AveLogCPM``; ``offset``: its genes x samples log offsets, used
    instead of the library sizes when given)."""
    fit = glm_fit(y, X, disp, np.log(np.asarray(lib_size, dtype=float))[None, :] if offset is None else offset)
    zero = (fit["fitted"] < 1e-4) & (fit["counts"] < 1e-4)
    df = residual_df(zero, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = fit["deviance"] / df
    s2[df == 0] = 0
    s2 = np.maximum(s2, 0)
    sq = squeeze_var(s2, df, ave, robust)
    fit.update(df_residual_zeros=df, df_prior=sq["df_prior"], var_post=sq["var_post"], var_prior=sq["var_prior"],
               ave_log_cpm=ave, s2=s2)
    return fit


def ql_test(fit: dict, coef: list[int], poisson_bound: bool = True) -> dict:
    """``glmQLFTest(fit, coef)``: logFC (log2; one column per tested coefficient), F, its df and the p-value.
    (The workflow tests coefficients only: each contrast comes from a fit whose base level is its reference.)"""
    X = fit["design"]
    X0 = np.delete(X, coef, axis=1)
    logfc = fit["coefficients"][:, coef] / np.log(2)
    null = glm_fit(fit["counts"], X0, fit["dispersion"], fit["offset"], fit["weights"], prior_count=0)
    lr = null["deviance"] - fit["deviance"]
    df_test = X.shape[1] - X0.shape[1]
    F = lr / df_test / fit["var_post"]
    n = fit["counts"].shape[1]
    df_total = np.minimum(fit["df_prior"] + fit["df_residual_zeros"], fit["counts"].shape[0] * (n - X.shape[1]))
    from scipy import stats

    p = stats.f.sf(F, df_test, df_total)
    if poisson_bound:
        below = ((fit["fitted"] * fit["dispersion"] + 1) * fit["var_post"][:, None] < 1).any(axis=1)
        if below.any():
            sub = {k: fit[k][below] for k in ("counts", "offset")}
            w = None if fit["weights"] is None else fit["weights"][below]
            pfull = glm_fit(sub["counts"], X, 0.0, sub["offset"], w, prior_count=0, start=fit["unshrunk"][below])
            pnull = glm_fit(sub["counts"], X0, 0.0, sub["offset"], w, prior_count=0)
            plr = pnull["deviance"] - pfull["deviance"]
            p[below] = np.maximum(p[below], stats.chi2.sf(plr, df_test))
    return {"logFC": logfc, "F": F, "df_test": df_test, "df_total": df_total, "pvalue": p}


def _integrate_pnorm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """edgeR's ``.integratepnorm``: the mean of the normal CDF over [a, b] (its value at a where a == b)."""
    from scipy.stats import norm

    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (b * norm.cdf(b) + norm.pdf(b) - (a * norm.cdf(a) + norm.pdf(a))) / (b - a)
    return np.where(a == b, norm.cdf(a), mean)


def _zscore_t(x: np.ndarray, df: np.ndarray) -> np.ndarray:
    """limma's ``zscoreT`` (exact: ``qnorm(pt(|x|, df, lower = FALSE, log = TRUE), lower = FALSE, log = TRUE)``,
    signed)."""
    from scipy import special, stats

    return -special.ndtri_exp(stats.t.logsf(np.abs(x), df)) * np.sign(x)


def treat(fit: dict, coef: int, lfc: float, poisson_bound: bool = True, ql: bool = True) -> dict:
    """``glmTreat(fit, coef, lfc)`` (null "interval"): the test of ``|log2FC| <= lfc`` for one coefficient, from
    the deviances of the full and the reduced design with the offsets shifted by +-``lfc`` along the coefficient;
    on a QL fit (``ql``) the two signed roots are read as t statistics on the QL df and turned into z-scores,
    and edgeR's Poisson bound applies (a plain ``glmFit`` at dispersion 0, the same test without QL). Returns
    ``logFC`` (the fit's, prior-count shrunk), ``unshrunk_logFC`` and ``pvalue``."""
    X = fit["design"]
    X0 = np.delete(X, coef, axis=1)
    unshrunk = fit["unshrunk"][:, coef] / np.log(2)
    adj = lfc * np.log(2) * X[:, coef]

    def root(offset):
        d0 = glm_fit(fit["counts"], X0, fit["dispersion"], offset, fit["weights"], prior_count=0)["deviance"]
        d1 = glm_fit(fit["counts"], X, fit["dispersion"], offset, fit["weights"], prior_count=0)["deviance"]
        return np.sqrt(np.maximum(0, d0 - d1))

    z_left, z_right = root(fit["offset"] + adj), root(fit["offset"] - adj)
    z_left, z_right = np.minimum(z_left, z_right), np.maximum(z_left, z_right)
    if ql:
        n = fit["counts"].shape[1]
        df_total = np.minimum(fit["df_prior"] + fit["df_residual_zeros"], fit["counts"].shape[0] * (n - X.shape[1]))
        s = np.sqrt(fit["var_post"])
        z_left, z_right = _zscore_t(z_left / s, df_total), _zscore_t(z_right / s, df_total)
    z_left = z_left * np.where(np.abs(unshrunk) <= lfc, 1.0, -1.0)
    c = 1.470402
    wide = z_right + z_left > c
    p = np.where(wide, _integrate_pnorm(-z_right, -z_right + c) + _integrate_pnorm(z_left - c, z_left),
                 2 * _integrate_pnorm(-z_right, z_left))
    if ql and poisson_bound:
        below = (fit["var_post"][:, None] * (1 + fit["fitted"] * fit["dispersion"]) < 1).any(axis=1)
        if below.any():
            w = None if fit["weights"] is None else fit["weights"][below]
            pois = glm_fit(fit["counts"][below], X, 0.0, fit["offset"][below], w, start=fit["unshrunk"][below])
            p[below] = np.maximum(p[below], treat(pois, coef, lfc, ql=False)["pvalue"])
    return {"logFC": fit["coefficients"][:, coef] / np.log(2), "unshrunk_logFC": unshrunk, "pvalue": p}
