"""lsecflow.fdist: limma's fitFDist (with R's natural-spline trend and trigammaInverse) against R limma 3.54.1 on
SYNTHETIC variances made by tests/data/limma/make_fdist_reference.R -- trends of 2-4 spline df, variances left
out and predicted beyond the covariate's range, a zero variance, finite and infinite df2, no covariate -- and
against inmoose's fitFDist (what edgeR's route used before) on the real DLPC quasi-likelihood dispersions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import LIMMA_REF
from lsecflow.fdist import fit_f_dist, natural_spline, spline_design, trigamma_inverse
from scipy.special import polygamma

REF = pd.read_csv(LIMMA_REF / "fdist.tsv", sep="\t", skipinitialspace=True)


@pytest.mark.parametrize("case", sorted(REF["case"].unique()))
def test_fit_f_dist_matches_limma(case):
    ref = REF[REF["case"] == case]
    cov = None if ref["covariate"].isna().all() else ref["covariate"].to_numpy()
    fit = fit_f_dist(ref["x"].to_numpy(), ref["df1"].to_numpy(), cov)
    df2 = ref["df2"].iloc[0]
    assert fit["df2"] == df2 if np.isinf(df2) else fit["df2"] == pytest.approx(df2, rel=1e-10)
    np.testing.assert_allclose(np.broadcast_to(fit["scale"], len(ref)), ref["scale"], rtol=1e-10)


def test_reference_covers_the_branches():
    """The R cases hold finite and infinite df2, left-out variances beyond both ends of the covariate, and a
    zero variance (so the test above would see a slip in any of them)."""
    assert np.isinf(REF["df2"]).any() and np.isfinite(REF["df2"]).sum() > 100
    left_out = REF[REF["df1"] == 0]
    kept = REF[REF["df1"] > 0].groupby("case")["covariate"].agg(["min", "max"])
    beyond = left_out.join(kept, on="case")
    assert ((beyond["covariate"] < beyond["min"]).any() and (beyond["covariate"] > beyond["max"]).any())
    assert (REF["x"] == 0).any()


def test_natural_spline_spans_rs_space_and_extends_linearly():
    """The basis has df columns, reproduces any linear function exactly (a natural spline's span holds them)
    and is linear beyond the boundary knots."""
    x = np.linspace(0, 10, 50)
    basis, knots, boundary = natural_spline(x, df=4)
    assert basis.shape == (50, 4) and len(knots) == 2 and boundary == (0.0, 10.0)
    line = 2 + 0.5 * x
    coef = np.linalg.lstsq(basis, line, rcond=None)[0]
    np.testing.assert_allclose(basis @ coef, line, atol=1e-10)
    out = natural_spline(np.array([-3.0, -2.0, -1.0, 12.0, 13.0]), knots=knots, boundary=boundary)[0] @ coef
    np.testing.assert_allclose(np.diff(out[:3]), 0.5, atol=1e-10)
    assert out[4] - out[3] == pytest.approx(0.5)


@pytest.mark.parametrize("y", [1e-3, 0.7, 3.0, 250.0])
def test_trigamma_inverse(y):
    assert trigamma_inverse(float(polygamma(1, y))) == pytest.approx(y, rel=1e-7)


def test_spline_design_is_inmoose_splinedesign():
    """fdist.spline_design (each basis function once per derivative order: linear time) against inmoose's port of
    R's splineDesign (quadratic), values and derivatives."""
    from inmoose.utils import splines

    x = np.sort(np.random.default_rng(1).uniform(0, 10, 300))
    knots = np.r_[[0.0] * 4, 2.5, 5, 7.5, [10.0] * 4]
    for derivs, xx in ((0, x), ([0, 1], x[:2]), ([2, 2], x[:2])):
        np.testing.assert_array_equal(spline_design(knots, xx, 4, derivs), splines.spline_design(knots, xx, 4, derivs))
