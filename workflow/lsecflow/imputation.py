"""Missing protein intensities filled in (``proteomics.impute``), on the log2, filtered, normalised matrix.

Left-censored methods (a value is missing because it was below detection, so it is drawn low):

- ``downshift``: Perseus' default -- per sample, a normal ``impute_shift`` SDs below the sample's mean with
  ``impute_width`` x its SD;
- ``mindet``: imputeLCMD's ``impute.MinDet`` -- per sample, its ``impute_quantile`` quantile (R's type 7);
- ``minprob``: imputeLCMD's ``impute.MinProb`` -- per sample, draws from a normal centred on that quantile
  with SD = ``impute_tune_sigma`` x the median of the SDs of the proteins observed in more than half of
  the samples (one draw per protein of the sample, the missing ones kept, as R does);
- ``qrilc``: imputeLCMD's ``impute.QRILC`` -- per sample, the mean and SD of the complete (uncensored) normal
  estimated by regressing the sample's quantiles on the normal's, the normal's lowest ``p_missing + 0.001``
  then taken as the detection limit, and draws from that normal truncated above there, with SD
  ``impute_tune_sigma`` x the SD estimate (R passes the SD as tmvtnorm's ``sigma``, a covariance; with one
  dimension tmvtnorm hands it to its univariate sampler as an SD, so the SD is what R draws with).

Missing at random:

- ``knn``: ``impute::impute.knn(k = impute_k)`` -- for each protein with a missing value, the ``k`` proteins
  nearest in the samples where it was observed (Euclidean, averaged over the coordinates both have), and
  each missing value the mean of those neighbours' values there (the column mean where none has one);
  proteins missing in more than half of the samples (``rowmax`` 0.5) take the column means, and a sample
  missing in more than 80 % of the proteins (``colmax``) is an error, as in R. R splits tables of more than
  1,500 proteins by two-means clustering (a speed device, randomised); here every protein is searched,
  which is what R computes up to 1,500.

- ``svd`` and ``bpca``: pcaMethods' ``svdImpute`` (imputeLCMD's SVD) and Bayesian PCA (DEP's bpca):
  :mod:`.imputation_pca`;
- ``mle``: imputeLCMD's ``impute.wrapper.MLE`` (EM's normal of the runs, one draw per value: :mod:`.imputation_mle`).

Both, by protein:

- ``mar_mnar``: imputeLCMD's ``impute.MAR.MNAR`` with its defaults (``method.MAR = "KNN"``, ``method.MNAR =
  "QRILC"``) -- ``model.Selector`` compares the distribution of the proteins' mean intensities with the normal
  fitted to its quantiles and finds the censoring threshold where the observed distribution falls furthest short
  of it; proteins whose mean lies above are missing at random and filled by ``knn`` among themselves (``k`` 15,
  ``rowmax`` and ``colmax`` 0.99, R's wrapper), the rest (left-censored) by ``qrilc`` with ``tune_sigma`` 0.3.

The random methods draw from ``numpy.random.default_rng(seed)`` (``compute.seed``), samples in column
order: reproducible, but not R's random numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import imputation_mle
from .assay_keys import keys_set
from .errors import ConfigError, InputDataError
from .imputation_pca import bpca, svd

#: The ``proteomics`` keys each method reads (the others must keep their defaults).
METHOD_KEYS = {"downshift": ("impute_shift", "impute_width"), "mindet": ("impute_quantile",),
               "minprob": ("impute_quantile", "impute_tune_sigma"), "knn": ("impute_k",),
               "qrilc": ("impute_tune_sigma",), "mar_mnar": ("impute_mar_method",), "svd": ("impute_pcs",),
               "bpca": (), "mle": ()}


def _observed(x: pd.DataFrame, col, need: int = 2) -> pd.Series:
    observed = x[col].dropna()
    if len(observed) < need:
        raise InputDataError(f"imputation: sample {col!r} has fewer than {need} values to learn from")
    return observed


def downshift(x: pd.DataFrame, shift: float = 1.8, width: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """Perseus' left-censored imputation: each sample's missing values drawn from a normal with mean
    ``mean - shift * sd`` and SD ``width * sd`` of that sample's observed values."""
    rng = np.random.default_rng(seed)
    out = x.copy()
    for col in x.columns:
        miss = x[col].isna().to_numpy()
        if miss.any():
            observed = _observed(x, col)
            mu, sd = float(observed.mean()), float(observed.std(ddof=1))
            out.loc[miss, col] = rng.normal(mu - shift * sd, width * sd, int(miss.sum()))
    return out


def min_det(x: pd.DataFrame, q: float = 0.01) -> pd.DataFrame:
    """imputeLCMD's ``impute.MinDet``: each sample's missing values set to its ``q`` quantile (R's default
    type 7, numpy's ``linear``)."""
    low = pd.Series({col: float(np.quantile(_observed(x, col, 1), q)) for col in x.columns})
    return x.fillna(low)


def min_prob_sd(x: pd.DataFrame, tune_sigma: float = 1.0) -> float:
    """``impute.MinProb``'s SD: ``tune_sigma`` x the median SD (n - 1) of the proteins observed in more than
    half of the samples."""
    seen = x.notna().sum(axis=1) / x.shape[1] > 0.5
    sds = x[seen].std(axis=1, ddof=1).dropna()
    if sds.empty:
        raise InputDataError("imputation minprob: no protein is observed in more than half of the samples and "
                             "twice, so the spread of the draws cannot be learnt")
    return float(sds.median()) * tune_sigma


def min_prob(x: pd.DataFrame, q: float = 0.01, tune_sigma: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """imputeLCMD's ``impute.MinProb``: per sample, a normal centred on the ``q`` quantile with SD
    :func:`min_prob_sd`; one draw per protein, the missing ones kept (R's order of draws)."""
    rng = np.random.default_rng(seed)
    sd = min_prob_sd(x, tune_sigma)
    out = x.copy()
    for col in x.columns:
        centre = float(np.quantile(_observed(x, col, 1), q))
        draws = rng.normal(centre, sd, len(x))
        miss = x[col].isna().to_numpy()
        out.loc[miss, col] = draws[miss]
    return out


def _r_seq(start: float, stop: float, by: float) -> np.ndarray:
    """R's ``seq(from, to, by)``: ``from + (0:n) * by`` with ``n = as.integer((to - from) / by + 1e-10)``,
    capped at ``to``."""
    n = int((stop - start) / by + 1e-10)
    return np.minimum(start + np.arange(n + 1) * by, stop)


def _normal_by_quantiles(values: np.ndarray, p_missing: float, what: str) -> tuple[float, float]:
    """imputeLCMD's quantile regression (``impute.QRILC``, ``model.Selector``): the mean and SD of the normal whose
    quantiles at ``p_missing + 0.001`` ... 0.991 best fit (least squares) the observed ``values``' quantiles 0.001,
    0.011, ..., 0.991 (R's type 7). ``what`` names the data in an error."""
    from scipy.stats import norm

    q_normal = norm.ppf(_r_seq(p_missing + 0.001, 0.991, (0.99 - p_missing) / 99))
    q_values = np.quantile(values, _r_seq(0.001, 0.991, 0.01))
    if len(q_normal) != len(q_values):  # R's lm stops: "variable lengths differ"
        raise InputDataError(f"imputation {what}: {len(q_normal)} normal quantiles against {len(q_values)} of the "
                             "data (imputeLCMD stops here too)")
    sd, mean = np.polyfit(q_normal, q_values, 1)
    return float(mean), float(sd)


def qrilc_parameters(x: pd.DataFrame) -> pd.DataFrame:
    """``impute.QRILC``'s estimation, line by line, per sample (rows): ``p_missing``, the ``mean`` and ``sd`` of
    the complete normal (least squares of the sample's quantiles 0.001, 0.011, ..., 0.991 (R's type 7) on the
    standard normal's at ``p_missing + 0.001`` ... 0.991) and the truncation point ``upper`` (that normal's
    ``p_missing + 0.001`` quantile)."""
    from scipy.stats import norm

    rows = []
    for col in x.columns:
        values = x[col].to_numpy(dtype=float)
        p = float(np.isnan(values).mean())
        if p >= 0.99:
            raise InputDataError(f"imputation qrilc: sample {col!r} misses {p:.1%} of its proteins; QRILC needs "
                                 "under 99 % missing to fit the sample's distribution")
        observed = _observed(x, col).to_numpy()
        mean, sd = _normal_by_quantiles(observed, p, f"qrilc: sample {col!r}")
        if not sd > 1e-8 * max(1.0, abs(mean)):  # R's rtmvnorm stops on 0: its sigma must be positive definite
            raise InputDataError(f"imputation qrilc: sample {col!r}: the normal fitted to its {len(observed)} observed "
                                 f"values has SD {sd:.3g}, so there is no distribution to draw from (too few, or "
                                 "equal, values); use a method that needs no fit (mindet, downshift)")
        rows.append({"sample": col, "p_missing": p, "mean": mean, "sd": sd, "upper": norm.ppf(p + 0.001, mean, sd)})
    return pd.DataFrame(rows).set_index("sample")


def qrilc_draws(mean: float, sd: float, upper: float, n: int, tune_sigma: float, rng) -> np.ndarray:
    """``n`` of ``impute.QRILC``'s draws for one sample: a normal with ``mean`` and SD ``tune_sigma * sd``
    (module notes) truncated above ``upper``."""
    from scipy.stats import truncnorm

    scale = float(sd * tune_sigma)
    return truncnorm.rvs(-np.inf, (upper - mean) / scale, loc=mean, scale=scale, size=n, random_state=rng)


def qrilc(x: pd.DataFrame, tune_sigma: float = 1.0, seed: int = 0, params: pd.DataFrame | None = None
          ) -> pd.DataFrame:
    """imputeLCMD's ``impute.QRILC``: per sample, one draw per protein (:func:`qrilc_draws`) from the normal of
    :func:`qrilc_parameters` (``params``, when already computed); the missing ones kept."""
    rng = np.random.default_rng(seed)
    params = qrilc_parameters(x) if params is None else params
    out = x.copy()
    for col in x.columns:
        mean, sd, upper = params.loc[col, ["mean", "sd", "upper"]]
        draws = qrilc_draws(mean, sd, upper, len(x), tune_sigma, rng)
        miss = x[col].isna().to_numpy()
        out.loc[miss, col] = draws[miss]
    return out


def model_selector(x: pd.DataFrame) -> tuple[np.ndarray, float]:
    """imputeLCMD's ``model.Selector``, line by line: whether each protein is missing at random (its mean above the
    censoring threshold) and the threshold. The proteins' means get ``impute.QRILC``'s quantile regression (a
    normal), and the threshold is where ``10 ((F_normal - F_observed + 1) / (F_observed + 1) - 1)`` peaks over the
    support (512 points from 4 SDs below the normal's mean to the smallest mean, the sorted means, 512 points from
    the largest to 4 SDs above); none above 0: every protein is missing at random."""
    from scipy.stats import norm

    means = x.mean(axis=1, skipna=True).to_numpy(dtype=float)
    observed = means[~np.isnan(means)]
    mean, sd = _normal_by_quantiles(observed, float(np.isnan(means).mean()), "mar_mnar: the proteins' means")
    ordered = np.sort(observed)
    support = np.concatenate([np.linspace(mean - 4 * sd, ordered[0], 512), ordered,
                              np.linspace(ordered[-1], mean + 4 * sd, 512)])
    cdf_observed = np.searchsorted(ordered, support, side="right") / len(ordered)  # R's ecdf
    objective = ((norm.cdf(support, mean, sd) - cdf_observed + 1) / (cdf_observed + 1) - 1) * 10
    if objective.max() > 0:
        threshold = support[objective == objective.max()]
    else:
        threshold = np.array([mean - 4 * sd - 1])
    with np.errstate(invalid="ignore"):
        mar = means > np.resize(threshold, len(means))  # R compares with a recycled vector where several tie
    return mar, float(threshold[0])


def mar_mnar(x: pd.DataFrame, seed: int = 0, mar_method: str = "knn") -> tuple[pd.DataFrame, int, float]:
    """imputeLCMD's ``impute.MAR.MNAR`` (module notes; ``mar_method``: its ``method.MAR``, KNN by default, or SVD
    or MLE as its ``impute.MAR`` runs them: K = 2, imputeLCMD's seed), then QRILC: the filled matrix, how many
    proteins were missing at random and the censoring threshold."""
    mar, threshold = model_selector(x)
    out = x.copy()
    if mar.any():
        sub = x.loc[mar]
        filled = {"knn": lambda: knn(sub, k=15, rowmax=0.99, colmax=0.99), "svd": lambda: svd(sub, 2)[0],
                  "mle": lambda: imputation_mle.mle(sub)[0]}[mar_method]()
        out.loc[mar] = filled.to_numpy()
    return qrilc(out, 0.3, seed), int(mar.sum()), threshold


def knn(x: pd.DataFrame, k: int = 10, rowmax: float = 0.5, colmax: float = 0.8) -> pd.DataFrame:
    """``impute::impute.knn(x, k, rowmax, colmax)`` without R's split of large tables (module notes)."""
    values = x.to_numpy(dtype=float)
    miss = np.isnan(values)
    n = values.shape[1]
    heavy = miss.sum(axis=0) > colmax * len(values)
    if heavy.any():
        col = x.columns[np.flatnonzero(heavy)[0]]
        raise InputDataError(f"imputation knn: sample {col!r} misses {int(miss[:, heavy][:, 0].sum())} of "
                             f"{len(values)} proteins (more than {colmax:.0%}; impute.knn's colmax)")
    over = miss.sum(axis=1) > int(rowmax * n)
    rows = np.flatnonzero(~over)
    sub, sub_miss = values[rows], miss[rows]
    seen = ~sub_miss
    filled = np.where(sub_miss, 0.0, sub)
    out = sub.copy()
    for i in np.flatnonzero(sub_miss.any(axis=1)):
        cols = seen[i]
        both = seen[:, cols]
        shared = both.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            dist = (((filled[:, cols] - sub[i, cols]) ** 2) * both).sum(axis=1) / shared
        dist[shared == 0] = np.inf
        dist[i] = np.inf
        near = np.argsort(dist, kind="stable")[:k]
        for j in np.flatnonzero(sub_miss[i]):
            have = seen[near, j]
            out[i, j] = sub[near[have], j].mean() if have.any() else np.nan
    col_mean = np.nanmean(np.where(sub_miss, np.nan, sub), axis=0)
    result = values.copy()
    result[rows] = np.where(np.isnan(out), col_mean, out)
    result[over] = np.where(miss[over], col_mean, values[over])
    return pd.DataFrame(result, index=x.index, columns=x.columns)


def impute(x: pd.DataFrame, opts: dict, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """``proteomics.impute`` on ``x``: the filled matrix, the mask of imputed cells and a one-line detail
    for the preprocessing log."""
    method = opts.get("impute", "none")
    mask = x.isna()
    q, k = opts.get("impute_quantile", 0.01), opts.get("impute_k", 10)
    if method == "none" or not mask.to_numpy().any():
        return x, pd.DataFrame(False, index=x.index, columns=x.columns), f"0 values imputed ({method})"
    empty = [str(c) for c in x.columns[mask.all(axis=0).to_numpy()]]
    if empty:  # every method learns a sample's values from its own (or its neighbours') observed ones
        raise InputDataError(f"imputation {method}: sample(s) {', '.join(map(repr, empty))} have no value among the "
                             f"{len(x)} proteins through the valid-value filter, so there is nothing to impute "
                             "them from; leave them out (qc.exclude) or filter within each group (min_valid_in: each)")
    if method == "downshift":
        shift, width = opts.get("impute_shift", 1.8), opts.get("impute_width", 0.3)
        out = downshift(x, shift, width, seed)
        how = f"down-shifted normal, shift {shift} SD, width {width} SD, seed {seed}"
    elif method == "mindet":
        out, how = min_det(x, q), f"each sample's {q} quantile, MinDet"
    elif method == "minprob":
        sigma = opts.get("impute_tune_sigma", 1.0)
        out = min_prob(x, q, sigma, seed)
        how = f"normal at each sample's {q} quantile, SD {min_prob_sd(x, sigma):.4g}, MinProb, seed {seed}"
    elif method == "knn":
        out, how = knn(x, k), f"mean of the {k} nearest proteins, impute.knn"
    elif method == "svd":
        pcs = opts.get("impute_pcs", 2)
        out, steps = svd(x, pcs)
        how = f"SVD: rank-{pcs} reconstruction after {steps} steps, pcaMethods' svdImpute as imputeLCMD calls it"
    elif method == "bpca":
        out, steps = bpca(x)
        how = f"BPCA: {x.shape[1] - 1} components, {steps} steps, pcaMethods' bpca as MsCoreUtils' impute_bpca calls it"
    elif method == "mle":
        out, steps = imputation_mle.mle(x)
        how = (f"MLE: the runs' normal by EM ({steps} steps), one draw per missing value, norm's generator with "
               f"imputeLCMD's seed {imputation_mle.SEED}")
    elif method == "mar_mnar":
        mar_method = opts.get("impute_mar_method", "knn")
        out, n_mar, threshold = mar_mnar(x, seed, mar_method)
        by = {"knn": "the mean of their 15 nearest", "svd": "SVD (K 2)", "mle": "MLE (EM, imputeLCMD's seed)"}
        how = (f"MAR-MNAR: {n_mar} of {len(x)} proteins missing at random (mean above {threshold:.4g}) by "
               f"{by[mar_method]}, the others QRILC (tune_sigma 0.3), imputeLCMD's impute.MAR.MNAR, seed {seed}")
    elif method == "qrilc":
        sigma = opts.get("impute_tune_sigma", 1.0)
        params = qrilc_parameters(x)
        out = qrilc(x, sigma, seed, params)
        how = (f"QRILC: truncated normals, detection limits {params['upper'].min():.3g}-{params['upper'].max():.3g}, "
               f"tune_sigma {sigma}, seed {seed}")
    else:
        raise ValueError(f"unknown imputation {method!r}")
    return out, mask, f"{int(mask.to_numpy().sum())} values imputed ({how})"


def check_impute(source, spec: dict, n_samples: int | None = None) -> None:
    """At parse time: refuse a key of another imputation method set off its default (it would be ignored), and
    ``svd`` with as many components as the ``n_samples`` analysed, or more."""
    if spec["assay"] != "proteomics":
        return
    method = spec["proteomics"].get("impute", "none")
    pcs = spec["proteomics"].get("impute_pcs", 2)
    if method == "svd" and n_samples is not None and pcs >= n_samples:
        raise ConfigError(f"{source}: key 'proteomics.impute_pcs': {pcs} components need more than {pcs} samples, "
                          f"and the sheet has {n_samples} (after qc.exclude); lower impute_pcs")
    others = sorted({key for keys in METHOD_KEYS.values() for key in keys} - set(METHOD_KEYS.get(method, ())))
    stray = [dotted.split(".", 1)[1] for dotted in keys_set(spec, [f"proteomics.{key}" for key in others])]
    if stray:
        users = {key: [m for m, keys in METHOD_KEYS.items() if key in keys] for key in stray}
        raise ConfigError(f"{source}: key(s) {', '.join('proteomics.' + key for key in stray)} are not read by "
                          f"proteomics.impute {method!r} (" + "; ".join(f"{key} is for {' / '.join(m)}"
                                                                        for key, m in users.items())
                          + "); remove them or choose that method")
