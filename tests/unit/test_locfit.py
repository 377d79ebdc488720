"""lsecflow.locfit: locfit's default one-dimensional fit against R locfit 1.5-9.7 (references made by
tests/data/deseq2_reference/make_local_reference.R on SYNTHETIC inputs seeded there)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import REPO
from lsecflow.errors import InputDataError
from lsecflow.locfit import LocalFit

CASES = pd.read_csv(REPO / "tests/data/deseq2_reference/locfit_cases.tsv.gz", sep="\t")


@pytest.mark.parametrize("case", ["smooth", "ties", "small"])
def test_predictions_match_r_locfit(case):
    """predict(locfit(y ~ x, weights = w), grid) on a grid one unit past both ends of x (so the linear
    extrapolation is checked too): smooth (200 points), tied x (60 points on 7 values), n = 9."""
    rows = CASES[CASES["case"] == case]
    data, pred = rows[rows["kind"] == "data"], rows[rows["kind"] == "pred"]
    fit = LocalFit(data["x"], data["y"], data["w"])
    got = fit.predict(pred["x"].to_numpy())
    np.testing.assert_allclose(got, pred["fit"].to_numpy(), rtol=0, atol=1e-8)
    outside = (pred["x"] < data["x"].min()) | (pred["x"] > data["x"].max())
    assert outside.sum() > 20  # the grid does reach past both ends


def test_fit_at_a_vertex_is_the_local_quadratic():
    """At each fitting point the prediction is the kernel-weighted quadratic fitted there (the
    parametric component subtracted and added back cancels): checked against numpy's least squares, to
    1e-7 -- locfit's Jacobi eigensolver stops once every off-diagonal entry is below sqrt(1e-15) of the
    diagonal's, so its solution is that close to the exact one, not closer (R's agrees with ours to 1e-9)."""
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 5, 80))
    y = np.cos(x) + 0.1 * rng.normal(size=80)
    w = rng.uniform(0.5, 1.5, 80)
    fit = LocalFit(x, y, w)
    assert len(fit.vertices) >= 3
    k = int(80 * 0.7)
    for x0 in fit.vertices:
        d = np.abs(x - x0)
        h = np.sort(d)[k - 1]
        kern = np.clip(1 - (d / h) ** 3, 0, None) ** 3
        X = np.column_stack([np.ones(80), x - x0, (x - x0) ** 2 / 2])
        sw = np.sqrt(w * kern)
        coef = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        assert fit.predict([x0])[0] == pytest.approx(coef[0], abs=1e-7)


def test_bad_input_is_refused():
    with pytest.raises(InputDataError, match="finite"):
        LocalFit([1.0, np.nan, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(InputDataError, match="equal length"):
        LocalFit([1.0, 2.0], [1.0])
    with pytest.raises(InputDataError, match="all 3 points have the same x"):  # was a ZeroDivisionError
        LocalFit([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize("span", [0.3, 1.0])
def test_local_constant_matches_edgers_locfit_by_col(span):
    """Degree 0 on a matrix, as edgeR's dispersion trend calls it (locfitByCol: locfit(deg = 0, alpha = span),
    fitted()): R's values (tests/data/edger/make_reference.R, SYNTHETIC input with ten tied x), and each column
    the same as fitted alone."""
    ref = pd.read_csv(REPO / "tests/data/edger/locfit_deg0.tsv.gz", sep="\t")
    ref = ref[ref["span"] == span]
    Y = ref[["y_a", "y_b", "y_c"]].to_numpy()
    fit = LocalFit(ref["x"], Y, alpha=span, degree=0)
    got = fit.predict(ref["x"].to_numpy())
    np.testing.assert_allclose(got, ref[["fit_a", "fit_b", "fit_c"]].to_numpy(), rtol=0, atol=1e-12)
    alone = LocalFit(ref["x"], Y[:, 1], alpha=span, degree=0).predict(ref["x"].to_numpy())
    np.testing.assert_allclose(alone, got[:, 1], rtol=0, atol=1e-14)
    # span 0.3 follows the sine (a range over 0.5), span 1 (every point in each window) flattens it
    assert (np.ptp(got[:, 0]) > 0.5) == (span < 1)
