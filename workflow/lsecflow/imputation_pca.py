"""``proteomics.impute: svd`` and ``bpca``: missing protein values from a low-rank model of the runs, ports of
pcaMethods 1.90.0 as the packages proteomics users go through call it.

- ``svd``: imputeLCMD's ``impute.wrapper.SVD(x, K = impute_pcs)``, i.e. pcaMethods' ``pca(x, method =
  "svdImpute", nPcs = K)@completeObs`` (Troyanskaya et al. 2001) -- each sample centred on its mean, missing
  cells set to 0, then repeatedly each sample's missing values regressed on the K leading eigengenes (left
  singular vectors) over its observed proteins, until the relative change is at most 0.01 (checked from the
  sixth step; at most 100 steps); the missing cells are then the rank-K reconstruction plus the sample's mean.

- ``bpca``: MsCoreUtils' ``impute_bpca`` (DEP's and MSnbase's "bpca"), i.e. pcaMethods' ``pca(x, method =
  "bpca", nPcs = samples - 1)`` (Oba et al. 2003's Bayesian PCA, variational Bayes with automatic relevance
  determination of the components) -- samples centred, the model started from the covariance of the
  zero-filled matrix, up to 100 steps, stopping when the noise precision changes by under 1e-4 in log10
  over 10 steps; the missing cells are the model's reconstruction plus the sample's mean.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputDataError


def svd(x: pd.DataFrame, n_pcs: int = 2, threshold: float = 0.01, max_steps: int = 100) -> tuple[pd.DataFrame, int]:
    """``pcaMethods::pca(x, method = "svdImpute", nPcs = n_pcs)@completeObs`` (module notes): the filled matrix
    and the number of steps taken."""
    values = x.to_numpy(dtype=float)
    miss = np.isnan(values)
    if n_pcs >= values.shape[1]:
        raise InputDataError(f"imputation svd: impute_pcs {n_pcs} needs more than {n_pcs} samples "
                             f"(there are {values.shape[1]})")
    center = np.nanmean(values, axis=0)
    m = np.where(miss, 0.0, values - center)
    tol = np.sqrt(np.finfo(float).eps)  # MASS::ginv's
    old, error, steps = m, np.inf, 0
    while error > threshold and steps < max_steps:
        eigengenes = np.linalg.svd(m, full_matrices=False)[0][:, :n_pcs]
        for j in np.flatnonzero(miss.any(axis=0)):
            seen = ~miss[:, j]
            m[~seen, j] = eigengenes[~seen] @ (np.linalg.pinv(eigengenes[seen], rcond=tol) @ m[seen, j])
        steps += 1
        if steps > 5:
            error = np.sqrt(np.sum((old - m) ** 2) / np.sum(old ** 2))
        old = m.copy()
    u, d, vt = np.linalg.svd(m, full_matrices=False)
    fitted = (u[:, :n_pcs] * d[:n_pcs]) @ vt[:n_pcs] + center
    return pd.DataFrame(np.where(miss, fitted, values), index=x.index, columns=x.columns), steps


def bpca(x: pd.DataFrame, max_steps: int = 100, threshold: float = 1e-4) -> tuple[pd.DataFrame, int]:
    """``pcaMethods::pca(x, method = "bpca", nPcs = ncol(x) - 1)`` with its ``completeObs`` (module notes; its
    ``BPCA_initmodel`` and ``BPCA_dostep`` line by line): the filled matrix and the steps taken."""
    values = x.to_numpy(dtype=float)
    center = np.nanmean(values, axis=0)
    y = values - center
    nans = np.isnan(y)
    rows, cols = y.shape
    comps = cols - 1
    mean = np.nanmean(y, axis=0)
    covy = np.cov(np.where(nans, 0.0, y), rowvar=False)
    u, d, _ = np.linalg.svd(covy)
    pa = u[:, :comps] * np.sqrt(d[:comps])
    tau = float(np.clip(1 / (np.trace(covy) - d[:comps].sum()), 1e-10, 1e10))
    galpha0, balpha0, gmu0, btau0, gtau0 = 1e-10, 1.0, 0.001, 1.0, 1e-10
    alpha = (2 * galpha0 + cols) / (tau * np.diag(pa.T @ pa) + 2 * galpha0 / balpha0)
    sigw = np.eye(comps)
    complete = ~nans.any(axis=1)
    tau_old, steps, scores = 1000.0, 0, np.zeros((rows, comps))
    for steps in range(1, max_steps + 1):
        rx = np.eye(comps) + tau * pa.T @ pa + sigw
        rx_inv = np.linalg.inv(rx)
        dy = y[complete] - mean
        xs = tau * rx_inv @ pa.T @ dy.T
        t = dy.T @ xs.T
        trs = float(np.sum(dy * dy))
        scores[complete] = xs.T
        # the proteins with a missing value, all at once (R loops over them; the same sums in another order)
        miss = nans[~complete]
        weight = miss.astype(float)
        outer = np.einsum("jk,jl->jkl", pa, pa).reshape(cols, -1)  # each sample's loading outer product
        rinv = np.linalg.inv(rx - tau * (weight @ outer).reshape(-1, comps, comps))
        dyo = np.where(miss, 0.0, y[~complete] - mean)
        xi = np.einsum("ikl,il->ik", rinv, tau * dyo @ pa)
        filled = np.where(miss, xi @ pa.T, dyo)
        t += filled.T @ xi + np.einsum("jk,jkl->jl", pa, np.einsum("ij,ikl->jkl", weight, rinv))
        quad = np.einsum("jk,ikl,jl->ij", pa, rinv, pa, optimize=True)  # pa_j' rinv_i pa_j
        trs += float(np.sum(filled * filled)) + miss.sum() / tau + float(np.sum(weight * quad))
        scores[~complete] = xi
        t /= rows
        trs /= rows
        dw = rx_inv + tau * t.T @ pa @ rx_inv + np.diag(alpha) / rows
        dw_inv = np.linalg.inv(dw)
        pa = t @ dw_inv
        tau = (cols + 2 * gtau0 / rows) / (trs - np.trace(t.T @ pa) + (mean @ mean * gmu0 + 2 * gtau0 / btau0) / rows)
        sigw = dw_inv * (cols / rows)
        alpha = (2 * galpha0 + cols) / (tau * np.diag(pa.T @ pa) + np.diag(sigw) + 2 * galpha0 / balpha0)
        if steps % 10 == 0:
            if abs(np.log10(tau) - np.log10(tau_old)) < threshold:
                break
            tau_old = tau
    fitted = scores @ pa.T + center
    return pd.DataFrame(np.where(nans, fitted, values), index=x.index, columns=x.columns), steps
