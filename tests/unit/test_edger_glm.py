"""lsecflow.edger_glm: edgeR's NB GLM fits against planted truth (SYNTHETIC counts); against R they are checked
through the whole QL pipeline on the real DLPC counts (tests/unit/test_edger.py)."""
from __future__ import annotations

import numpy as np
import pytest
from lsecflow import edger_glm as glm


def test_levenberg_agrees_with_the_one_way_fit():
    """The same model written as a one-way design (one group per column) and as a design that is not
    (an extra all-zero-effect column made estimable by a covariate) fits to the same deviance; planted
    counts, SYNTHETIC."""
    rng = np.random.default_rng(1)
    groups = np.repeat([0, 1, 2], 4)
    mu = np.exp(rng.normal(3, 1, size=(300, 1)) + np.array([0.0, 1.0, -0.5])[groups])
    y = rng.negative_binomial(5, 5 / (5 + mu)).astype(float)
    y[y.sum(axis=1) == 0, 0] = 1
    X1 = np.eye(3)[groups]
    one = glm.glm_fit(y, X1, 0.2, np.zeros(12), prior_count=0)
    assert one["method"] == "oneway"
    X2 = np.column_stack([X1, np.arange(12) % 2])  # a within-group covariate: not one-way
    lev = glm.glm_fit(y, X2, 0.2, np.zeros(12), prior_count=0)
    assert lev["method"] == "levenberg"
    assert (lev["deviance"] <= one["deviance"] + 1e-6).all()  # a larger model fits at least as well
    lev_same = glm.fit_levenberg(y, X1, np.zeros((300, 12)), np.full((300, 12), 0.2), np.ones((300, 12)),
                                   glm.levenberg_start(y, X1, np.zeros((300, 12)), 0.2, np.ones((300, 12))))
    np.testing.assert_allclose(lev_same[2], one["deviance"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(lev_same[0], one["coefficients"], atol=1e-4)


def test_a_gene_of_zeros_and_a_poisson_fit():
    """mglmOneGroup: -inf for zeros; at dispersion 0 the closed-form Poisson rate."""
    y = np.array([[0, 0, 0, 0], [3, 5, 2, 6]], dtype=float)
    off = np.log([10.0, 20, 10, 20])
    beta = glm.fit_one_group(y, off, np.zeros((2, 4)))
    assert beta[0] == -np.inf
    assert beta[1] == pytest.approx(np.log(16 / 60))
    nb = glm.fit_one_group(y[1:], off, np.full((1, 4), 0.3))
    mu = np.exp(nb[0] + off)
    assert ((y[1] - mu) / (1 + 0.3 * mu)).sum() == pytest.approx(0, abs=1e-8)  # the NB score is zero


def test_unit_deviance_branches_meet():
    """The Poisson (dispersion < 1e-4) and negative binomial branches give nearly the same deviance on either
    side of the switch, and the gamma branch (mu x phi > 1e6) meets the NB one; the deviance is 0 at y = mu."""
    y = np.array([0.0, 3.0, 40.0, 500.0])
    mu = np.array([0.5, 4.0, 30.0, 520.0])
    below, above = glm.unit_deviance(y, mu, 0.99999e-4), glm.unit_deviance(y, mu, 1.00001e-4)
    np.testing.assert_allclose(below, above, rtol=1e-3)
    y_big, mu_big = np.array([1.9e6]), np.array([2.0e6])  # mu x phi crosses 1e6 at phi = 0.5
    np.testing.assert_allclose(glm.unit_deviance(y_big, mu_big, 0.5000001), glm.unit_deviance(y_big, mu_big, 0.4999999),
                               rtol=1e-4)
    assert glm.unit_deviance(np.array([7.0]), np.array([7.0]), 0.3)[0] == pytest.approx(0, abs=1e-12)
