"""lsecflow.edger_kernels: the compiled per-gene loops against the maximum likelihood they look for, found
independently (scipy's optimiser), and the Cholesky step against numpy's; planted counts, SYNTHETIC. Against R
they are checked through the whole QL pipeline on the real DLPC counts (tests/unit/test_edger.py)."""
from __future__ import annotations

import numpy as np
import pytest
from lsecflow import edger_glm as glm
from lsecflow import edger_kernels as kernels
from scipy import optimize


def _planted(genes: int = 40, seed: int = 3):
    """NB counts on a two-factor design (batch + group, not one-way), dispersion 0.15, SYNTHETIC."""
    rng = np.random.default_rng(seed)
    batch, group = np.tile([0, 1], 6), np.repeat([0, 1, 2], 4)
    X = np.column_stack([np.ones(12), batch, group == 1, group == 2]).astype(float)
    beta = np.column_stack([rng.normal(3, 1, genes), rng.normal(0, 0.5, genes), rng.normal(0, 1, (genes, 2))])
    off = np.log(rng.uniform(0.5, 2, 12))[None, :].repeat(genes, axis=0)
    mu = np.exp(beta @ X.T + off)
    y = rng.negative_binomial(1 / 0.15, 1 / (1 + 0.15 * mu)).astype(float)
    return y, X, off


def _fit(y, X, off, disp):
    w = np.ones_like(y)
    d = np.full_like(y, disp)
    return glm.fit_levenberg(y, X, off, d, w, glm.levenberg_start(y, X, off, d, w))


def test_levenberg_reaches_the_likelihood_maximum():
    """Each gene's deviance is the smallest scipy's BFGS finds from the same start (to 1e-5), and the NB score
    equations hold at the coefficients."""
    y, X, off = _planted()
    beta, mu, dev = _fit(y, X, off, 0.15)
    score = ((y - mu) / (1 + 0.15 * mu)) @ X
    assert np.abs(score).max() < 1e-3 * y.sum(axis=1).max()
    for g in range(0, y.shape[0], 8):
        best = optimize.minimize(lambda b: glm.deviance(y[g:g + 1], np.exp(off[g] + X @ b)[None, :], 0.15)[0],
                                 np.zeros(X.shape[1]) + np.log(y[g].mean() + 1) * np.eye(X.shape[1])[0],
                                 method="BFGS", options={"gtol": 1e-9})
        assert dev[g] <= best.fun + 1e-5
        np.testing.assert_allclose(beta[g], best.x, atol=2e-3)


def test_a_group_of_zeros_runs_its_coefficient_down_and_fits_the_rest():
    """A gene whose group 2 is all zeros: that coefficient heads towards -inf (its means fall below 1e-4 within
    the iteration cap) and the deviance is that of the other eight samples fitted without it; a gene of zeros
    gets NaN coefficients, zero means and deviance 0."""
    y, X, off = _planted(genes=6)
    y[0, 8:] = 0
    y[1] = 0
    beta, mu, dev = _fit(y, X, off, 0.15)
    assert beta[0, 3] < -10 and (mu[0, 8:] < 1e-4).all()
    rest = _fit(y[:1, :8], X[:8, :3], off[:1, :8], 0.15)
    assert dev[0] == pytest.approx(rest[2][0], abs=1e-4)
    assert np.isnan(beta[1]).all() and (mu[1] == 0).all() and dev[1] == 0


def test_cholesky_step_is_numpys_and_refuses_a_matrix_that_is_not_positive_definite():
    """``_cholesky`` + ``_cholesky_solve`` solve (A + lambda I) x = b as numpy does; a singular A with no damping
    is refused (False), which makes the Levenberg loop raise its damping as edgeR does."""
    rng = np.random.default_rng(0)
    M = rng.normal(size=(4, 4))
    A, b = M @ M.T, rng.normal(size=4)
    L, z, x = np.zeros((4, 4)), np.empty(4), np.empty(4)
    assert kernels._cholesky(A, 0.5, L)
    kernels._cholesky_solve(L, b, z, x)
    np.testing.assert_allclose(x, np.linalg.solve(A + 0.5 * np.eye(4), b), rtol=1e-10)
    singular = np.outer(b, b)
    assert not kernels._cholesky(singular, 0.0, L)
    assert kernels._cholesky(singular, 1e-6, L)


def test_unit_deviance_is_the_negative_binomial_deviance():
    """Away from its Poisson and gamma branches, edgeR's unit deviance is twice the log-likelihood ratio of the
    saturated NB model (scipy's NB log pmf at mu = y against mu), to rounding and edgeR's 1e-8."""
    from scipy import stats

    y = np.array([1.0, 4.0, 17.0, 250.0])
    mu = np.array([2.5, 3.0, 30.0, 200.0])
    phi = 0.2
    r = 1 / phi
    ll = stats.nbinom.logpmf(y, r, r / (r + mu))
    saturated = stats.nbinom.logpmf(y, r, r / (r + y))
    np.testing.assert_allclose(glm.unit_deviance(y, mu, phi), 2 * (saturated - ll), rtol=1e-6)
