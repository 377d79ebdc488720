"""``proteomics.impute: mle`` -- imputeLCMD's ``impute.wrapper.MLE``: the maximum-likelihood multivariate normal of
the runs (proteins as the observations) by EM with Schafer's ``norm`` package, then one draw of each protein's
missing values from their normal given its observed ones (``norm::imp.norm`` after ``rngseed(1234567)``).

A port of norm 1.0-11.1 as imputeLCMD 2.1 calls it:

* ``prelim.norm``: each run centred and scaled by its observed values' mean and SD (divisor n), proteins sorted
  by their pattern of missing runs (stable; pattern code 1 + sum of 2^j over the missing runs j);
* ``em.norm``: from mean 0 and covariance I, EM steps (each pattern's missing runs' conditional mean and
  covariance given the observed ones, then the mean and covariance of the completed sufficient statistics,
  divisor n) until no entry of the mean or of the covariance's upper triangle moves by more than 1e-4, at most
  1,000 steps;
* ``imp.norm``: norm's own generator -- Park and Miller's minimal standard (16807, Schrage's method) in single
  precision and Box-Muller pairs, one deviate discarded first -- seeded with imputeLCMD's 1234567; the patterns
  taken from the last to the first, and in each protein its missing runs in order, each value its conditional
  mean plus the Cholesky factor's row times the deviates so far; back on the original scale.

The seed is imputeLCMD's, not ``compute.seed``, so that the values are R's (the draws are R's to single
precision: its deviates are computed in single precision).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .errors import InputDataError

log = logging.getLogger(__name__)

#: imputeLCMD's ``impute.wrapper.MLE``: ``rngseed(1234567)``
SEED = 1234567
#: em.norm's ``maxits``
MAX_STEPS = 1000


class NormRng:
    """norm's ``rangen`` (the minimal standard generator, single precision) and ``gauss`` (Box-Muller, the
    second deviate of a pair kept for the next call), as its Fortran computes them."""

    def __init__(self, seed: int = SEED):
        self.ix, self.alt, self.kept = int(seed), 0, 0.0
        self.uniform()  # rngseed's rngs: rangen(seed) sets the state and steps it once

    def uniform(self) -> np.float32:
        xhi = self.ix // 65536
        xalo = (self.ix - xhi * 65536) * 16807
        leftflo = xalo // 65536
        fhi = xhi * 16807 + leftflo
        k = fhi // 32768
        ix = (((xalo - leftflo * 65536) - 2147483647) + (fhi - k * 32768) * 65536) + k
        self.ix = ix + 2147483647 if ix < 0 else ix
        return np.float32(self.ix) * np.float32(4.656612875e-10)

    def gauss(self) -> float:
        if self.alt:
            self.alt = 0
            return self.kept
        u1, u2 = self.uniform(), self.uniform()
        radius = np.sqrt(np.float32(-2) * np.log(u1))
        angle = np.float32(2) * np.float32(3.141593) * u2
        self.alt, self.kept = 1, float(radius * np.sin(angle))
        return float(radius * np.cos(angle))


def standardise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """norm's ``ctrsc``: each column centred on its observed values' mean and divided by their SD (divisor n;
    a column without spread is only centred). Returns (standardised, means, SDs)."""
    seen = ~np.isnan(values)
    count = seen.sum(axis=0)
    sum1 = np.nansum(values, axis=0)
    mean = sum1 / count
    sd = np.sqrt((np.nansum(values ** 2, axis=0) - sum1 ** 2 / count) / count)
    sd = np.where(sd > 0, sd, 1.0)
    return (values - mean) / sd, mean, sd


def _regression(sigma: np.ndarray, o: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The coefficients of the missing runs on the observed ones, ``sigma_mo sigma_oo^-1``; where ``sigma_oo``
    is exactly singular (fewer proteins than runs), the least-squares solution (norm's sweep divides by pivots
    at rounding level there; numpy's solve stops)."""
    try:
        return np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)]).T
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)], rcond=None)[0].T


def _root(cov: np.ndarray) -> np.ndarray:
    """norm's ``chols`` of a conditional covariance: its Cholesky factor; where rounding leaves it a hair below
    positive definite (a variance of about 0: the value is its conditional mean), the factor of its eigenvalues
    clipped at 0. Clearly indefinite (R's chols takes the square root of a negative, NaN) is an error."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh((cov + cov.T) / 2)
        if values.min() < -1e-8 * max(1.0, values.max()):
            raise
        return vectors * np.sqrt(np.clip(values, 0, None))


def em(z: np.ndarray, max_steps: int = MAX_STEPS, criterion: float = 1e-4) -> tuple[np.ndarray, np.ndarray, int]:
    """``em.norm`` on the standardised ``z`` (NaN = missing): the MLE mean and covariance and the steps taken."""
    n, p = z.shape
    miss = np.isnan(z)
    patterns = [(pattern, np.flatnonzero((miss == pattern).all(axis=1))) for pattern in np.unique(miss, axis=0)]
    mu, sigma = np.zeros(p), np.eye(p)
    upper = np.triu_indices(p)
    for step in range(1, max_steps + 1):
        t1, t2 = np.zeros(p), np.zeros((p, p))
        for pattern, rows in patterns:
            x = np.where(miss[rows], 0.0, z[rows])
            o, m = ~pattern, pattern
            if m.any():
                coef = _regression(sigma, o, m)
                x[:, m] = mu[m] + (x[:, o] - mu[o]) @ coef.T
                t2[np.ix_(m, m)] += len(rows) * (sigma[np.ix_(m, m)] - coef @ sigma[np.ix_(o, m)])
            t1 += x.sum(axis=0)
            t2 += x.T @ x
        new_mu = t1 / n
        new_sigma = t2 / n - np.outer(new_mu, new_mu)
        change = max(np.abs(new_mu - mu).max(), np.abs(new_sigma - sigma)[upper].max())
        mu, sigma = new_mu, new_sigma
        if change <= criterion:
            break
    return mu, sigma, step


def draw(z: np.ndarray, mu: np.ndarray, sigma: np.ndarray, rng: NormRng) -> np.ndarray:
    """``imp.norm``'s draws: ``z`` with each missing value drawn from its normal given the row's observed values,
    in norm's order (module notes)."""
    miss = np.isnan(z)
    code = 1 + miss @ (2 ** np.arange(z.shape[1]))
    order = np.argsort(code, kind="stable")
    out = z.copy()
    rng.gauss()  # is1n's first deviate, discarded
    for c in np.unique(code)[::-1]:
        rows = order[code[order] == c]
        m = miss[rows[0]]
        if not m.any():
            continue
        o = ~m
        coef = _regression(sigma, o, m)
        chol = _root(sigma[np.ix_(m, m)] - coef @ sigma[np.ix_(o, m)])
        for i in rows:
            dev = np.array([rng.gauss() for _ in range(int(m.sum()))])
            out[i, m] = mu[m] + coef @ (z[i, o] - mu[o]) + chol @ dev
    return out


def mle(x: pd.DataFrame, seed: int = SEED) -> tuple[pd.DataFrame, int]:
    """imputeLCMD's ``impute.wrapper.MLE(x)`` (proteins x runs): the filled matrix and EM's steps."""
    values = x.to_numpy(dtype=float)
    if np.isnan(values).all(axis=1).any():
        raise InputDataError("imputation mle: a protein without any value cannot be drawn from its runs' normal")
    z, mean, sd = standardise(values)
    try:
        mu, sigma, steps = em(z)
        if steps == MAX_STEPS:
            log.warning("imputation mle: EM stopped at em.norm's %d steps without converging (%d proteins x %d runs, "
                        "%.0f%% missing): the runs' normal is poorly determined, and the draws with it", MAX_STEPS,
                        *values.shape, 100 * np.isnan(values).mean())
        filled = draw(z, mu, sigma, NormRng(seed)) * sd + mean
    except np.linalg.LinAlgError as exc:  # R's chols would draw NaN from the square root of a negative
        raise InputDataError(
            f"imputation mle: the runs' covariance estimated by EM is not positive definite ({exc}): {values.shape[0]} "
            "proteins "
            f"with {100 * np.isnan(values).mean():.0f}% of their values missing are too few to estimate a normal of "
            f"{values.shape[1]} runs; use impute: knn, bpca or a left-censored method") from exc
    return pd.DataFrame(np.where(np.isnan(values), filled, values), index=x.index, columns=x.columns), steps
