"""lsecflow.smooth_spline: R 4.2's smooth.spline (GCV) on real data -- R's cars (ties, a knot at every
distinct x), faithful (126 distinct x, so 71 knots) and DEqMS's own call on the UPS1 spike-in -- against
tests/data/limma/make_spline_reference.R."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import LIMMA_REF
from lsecflow import smooth_spline as ss
from lsecflow.errors import InputDataError


def _read(name: str) -> pd.DataFrame:
    """A table of make_spline_reference.R (R's format() pads every value)."""
    table = pd.read_csv(LIMMA_REF / name, sep="\t", dtype=str).apply(lambda col: col.str.strip())
    return table.set_index("case").apply(pd.to_numeric).reset_index()


POINTS = _read("smooth_spline.tsv.gz")
PARAMS = _read("smooth_spline_params.tsv").set_index("case")


@pytest.mark.parametrize("case", ["cars", "faithful", "ups1_deqms"])
def test_matches_r_smooth_spline(case):
    """The same search path (R's iteration count), spar to 1e-9, lambda, df and GCV to 1e-8, the fitted
    values to 1e-9 of their scale, and the knots R placed."""
    points, ref = POINTS[POINTS["case"] == case], PARAMS.loc[case]
    fit = ss.smooth_spline(points["x"], points["y"])
    assert fit.iterations == ref["iterations"]
    assert len(fit.knots) - 6 == ref["knots"]
    assert fit.spar == pytest.approx(ref["spar"], abs=1e-9)
    for ours, theirs in ((fit.lambda_, "lambda"), (fit.df, "df"), (fit.crit, "crit"), (fit.ratio, "ratio")):
        assert ours == pytest.approx(ref[theirs], rel=1e-8), theirs
    scale = np.abs(points["fitted"]).max()
    np.testing.assert_allclose(fit.fitted, points["fitted"], rtol=0, atol=1e-9 * scale)


def test_knot_counts_are_r_nknots_smspl():
    """R's .nknots.smspl at its breakpoints, as R 4.2.2 prints them (50 and 200 distinct x give 49 and 99:
    R's floating point lands just under the power of two it truncates)."""
    assert [ss.n_knots(n) for n in (4, 49, 50, 126, 199, 200, 799, 800, 3199, 3200, 10_000)] == \
        [4, 49, 49, 71, 99, 99, 139, 140, 199, 200, 205]


def test_predict_is_the_fit_inside_and_linear_outside():
    """At the data's distinct x predict is the fit; beyond the range it continues the end value along the
    end slope (R's predict.smooth.spline), so three points out there lie on one line."""
    points = POINTS[POINTS["case"] == "cars"]
    fit = ss.smooth_spline(points["x"], points["y"])
    np.testing.assert_allclose(fit.predict(points["x"]), fit.fitted, rtol=1e-12)
    right = fit.predict(np.array([26.0, 30.0, 34.0]))
    assert right[2] - right[1] == pytest.approx(right[1] - right[0], rel=1e-9)
    assert right[0] != pytest.approx(fit.fitted.max())


def test_tied_points_share_one_fitted_value():
    """Points at one x are one point of the fit (their mean, weighted by their number): each gets the same
    fitted value, in the input's order however it is shuffled."""
    x = np.repeat(np.arange(10.0), 2)
    y = np.sin(x) + np.tile([-0.1, 0.1], 10)
    fit = ss.smooth_spline(x, y)
    np.testing.assert_array_equal(fit.fitted[::2], fit.fitted[1::2])
    order = np.random.default_rng(0).permutation(len(x))
    np.testing.assert_allclose(ss.smooth_spline(x[order], y[order]).fitted, fit.fitted[order], rtol=1e-12)


@pytest.mark.parametrize("x, message", [([1, 5, 5, 5, 5, 5, 5, 7, 9], "no spread"), ([], "got 0"),
                                        ([1, 2, 3, 3, 3, 3, 3, 3], "at least four distinct x values, got 3"),
                                        ([1, 2, 2, 2, 3, 3, 3, 2], "at least four distinct x values, got 3"),
                                        ([1, 2, 3, np.nan], "infinite")])
def test_degenerate_x_is_a_clear_error(x, message):
    """Where R stops -- a zero interquartile range ("'tol' must be strictly positive"), fewer than four
    distinct x ("need at least four unique 'x' values"; R 4.2.2 on these very x), missing values -- the port
    stops too, in words; four distinct x are enough."""
    y = np.arange(len(x), dtype=float)
    assert np.isfinite(ss.smooth_spline([1, 2, 3, 4, 4, 2], np.arange(6.0)).fitted).all()
    with pytest.raises(InputDataError, match=message):
        ss.smooth_spline(x, y)


@pytest.mark.parametrize("scale, shift", [(1e-3, 0.0), (7.5, -40.0), (2.0, 3.0)])
def test_the_fit_is_equivariant_as_rs(scale, shift):
    """What follows from R's definition, on real data (faithful): x enters only through its [0, 1]-scaled copy
    and an IQR-relative tolerance, so an increasing affine map of x leaves the fit (a reflection would not: with
    fewer knots than distinct x, R places them from the smallest x); the GCV criterion scales with y^2 and the
    penalty does not involve y, so y's scale and shift carry through. Up to the spar search's rounding (its
    path may end 1e-10 apart)."""
    points = POINTS[POINTS["case"] == "faithful"]
    x, y = points["x"].to_numpy(), points["y"].to_numpy()
    base = ss.smooth_spline(x, y)
    np.testing.assert_allclose(ss.smooth_spline(scale * x + shift, y).fitted, base.fitted, rtol=1e-7)
    moved = ss.smooth_spline(x, scale * y + shift)
    np.testing.assert_allclose(moved.fitted, scale * base.fitted + shift, rtol=1e-7, atol=1e-7 * abs(shift))
    assert moved.spar == pytest.approx(base.spar, abs=1e-9)
