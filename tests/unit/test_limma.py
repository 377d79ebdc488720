"""lsecflow.limma and lsecflow.limma_robust: moderated tests against R limma on the real UPS1 spike-in and the
endothelial secretome (FragPipe; no licence, so read from ../shared and skipped cleanly without it), and the
batched lm_fit against inmoose and R."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import (
    LIMMA_REF,
    SECRETOME,
    UPS1_TABLE,
    agreement,
    assert_matches,
    r_table,
    ups1_sheet,
)
from lsecflow import limma, protein_tables, proteomics
from lsecflow.formula import design_metadata

UPS1_CONTRAST = {"fmol25_vs_fmol10": {"variable": "group", "target": "fmol25", "reference": "fmol10"}}


def ups1_fit(opts: dict | None = None, normalize: str = "median"):
    """The UPS1 table through the reference preprocessing (or quantile normalisation) and limma."""
    sheet = ups1_sheet()
    values, var, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {"normalize": normalize})
    meta = design_metadata(sheet.loc[pre.values.columns], ["group"], UPS1_CONTRAST)
    stats, prior = limma.contrast_tables(pre.values, meta, "~ group", UPS1_CONTRAST,
                                         {"lfc_threshold": 0.0, **(opts or {})})
    return stats["fmol25_vs_fmol10"], pre, var, prior




def fit_one_value_per_group(**fit_args):
    """limma.fit of the UPS1 median matrix with proteins 1-4 down to one value per group (make_reference.R's
    x_df0: no residual df for least squares, two values for two coefficients for rlm), ``~ group``."""
    _, pre, _, _ = ups1_fit()
    sheet = ups1_sheet().loc[pre.values.columns]
    values = pre.values.copy()
    for g in ("fmol10", "fmol25"):
        values.iloc[:4, np.flatnonzero(sheet["group"].to_numpy() == g)[1:]] = np.nan
    meta = design_metadata(sheet, ["group"], UPS1_CONTRAST)
    return limma.fit(values, limma.design_matrix(meta, "~ group", {"group": "fmol10"}), **fit_args)


def assert_fit_matches(ours, r: pd.DataFrame, coefficient: dict[str, str], per_protein: dict[str, str]) -> None:
    """An eBayes fit against R's table within 1e-8 (relative): ``coefficient`` attributes (the second
    coefficient) and ``per_protein`` ones, each mapped to its column in ``r``."""
    for key, col in coefficient.items():
        np.testing.assert_allclose(np.asarray(getattr(ours, key), dtype=float)[:, 1], r[col], rtol=1e-8, err_msg=key)
    for key, col in per_protein.items():
        np.testing.assert_allclose(np.asarray(getattr(ours, key), dtype=float), r[col], rtol=1e-8, err_msg=key)


needs_secretome = pytest.mark.skipif(not (SECRETOME / "proteins_maxlfq.tsv.gz").exists(),
                                     reason="the secretome is not shipped (no licence); staged in ../shared only")


# ------------------------------------------------------------------------------------------ limma vs R
@pytest.mark.parametrize("variant, opts, normalize", [
    ("median", {}, "median"),
    ("treat", {"lfc_threshold": 0.5}, "median"),
    ("trend", {"trend": True}, "median"),
    ("robust", {"robust": True}, "median"),
    ("robust_trend", {"trend": True, "robust": True}, "median"),
    ("lmfit_robust", {"lm_method": "robust"}, "median"),
    ("quantile", {}, "quantile"),
    ("cyclicloess", {}, "cyclicloess"),
])
def test_ups1_matches_r_limma(variant, opts, normalize):
    ours, _, _, _ = ups1_fit(opts, normalize)
    ref = r_table(f"ups1.{variant}.tsv.gz")
    assert_matches(agreement(ours, ref))
    np.testing.assert_allclose(ours.loc[ref.index, "s2_post"], ref["s2_post"], rtol=1e-8)
    np.testing.assert_allclose(ours.loc[ref.index, "df_total"], ref["df_total"], rtol=1e-6)
    np.testing.assert_allclose(ours.loc[ref.index, "pvalue"], ref["P.Value"], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("variant, opts", [("plain", {}), ("trend", {"trend": True}), ("robust", {"robust": True}),
                                           ("robust_trend", {"trend": True, "robust": True})])
def test_ups1_log_odds_match_r(variant, opts):
    """B (eBayes's lods) as R's for every eBayes variant, on UPS1 whose missing values give proteins different
    total df: inmoose's tmixture_matrix overwrote df for the later columns (B off by up to 2.1 for plain and
    trend) and the robust kernel had df / r where R has t^2 / r (B off by ~37); both found against R."""
    ours, _, _, _ = ups1_fit(opts)
    ref = r_table("ups1.lods.tsv.gz")
    np.testing.assert_allclose(ours.loc[ref.index, "B"], ref[variant], rtol=1e-9, atol=1e-9)


@pytest.mark.skipif(not (SECRETOME.parent / "ups1_yeast_spikein").exists(), reason="../shared not staged")
def test_ups1_matches_the_staged_reference():
    """The staged UPS1 reference (../shared, made by its own make_reference.R from the same table)."""
    ours, _, _, _ = ups1_fit()
    ref = pd.read_csv(SECRETOME.parent / "ups1_yeast_spikein/limma_reference_fmol25_vs_fmol10.tsv", sep="\t",
                      dtype={"id": str})
    ids = pd.read_csv(UPS1_TABLE, sep="\t", dtype=str, usecols=["id", "Protein IDs"]).set_index("id")["Protein IDs"]
    ref.index = ref["id"].map(ids)
    assert len(ref) == 1470
    assert_matches(agreement(ours, ref))


def test_batched_lm_fit_equals_inmoose_and_r():
    """limma.lm_fit (one solve per missing-value pattern) gives inmoose's lmFit + eBayes where that works,
    and R's results where it does not: proteins whose observed samples leave a coefficient inestimable
    (a whole group missing; R: NA coefficient, df = observed - rank; inmoose 0.9.1: a singular-matrix error)."""
    from inmoose.limma import eBayes, lmFit

    _, pre, _, _ = ups1_fit()
    meta = design_metadata(ups1_sheet().loc[pre.values.columns], ["group"], UPS1_CONTRAST)
    design = limma.design_matrix(meta, "~ group", {"group": "fmol10"})
    ref, ours = eBayes(lmFit(pre.values.to_numpy(), design)), limma.fit(pre.values, design)
    for key in ("coefficients", "stdev_unscaled", "sigma", "df_residual", "Amean", "s2_post", "t", "p_value"):
        np.testing.assert_allclose(np.asarray(getattr(ours, key), dtype=float),
                                   np.asarray(getattr(ref, key), dtype=float), rtol=1e-8, atol=1e-12, err_msg=key)
    values = pre.values.copy()
    values.iloc[:3, :3] = np.nan  # C_R1..C_R3 are the fmol25 runs
    with pytest.raises(np.linalg.LinAlgError):
        lmFit(values.to_numpy(), design)
    ours = limma.fit(values, design)
    r = r_table("ups1.rank_deficient.tsv.gz")
    assert r["logFC"].isna().sum() == 3 and np.isnan(np.asarray(ours.coefficients)[:3, 1]).all()
    assert_fit_matches(ours, r, {"coefficients": "logFC", "stdev_unscaled": "se_unscaled", "t": "t",
                                 "p_value": "P.Value"}, {"sigma": "sigma", "df_residual": "df_residual",
                                                         "s2_post": "s2_post"})


def test_lowess_matches_r():
    """lowess.lowess / loess_fit (the trend of eBayes(trend = TRUE, robust = TRUE)) against R's lowess
    (defaults) and limma's loessFit(span = 0.4) on a seeded x with ties and y with 5 % outliers."""
    from lsecflow.lowess import loess_fit, lowess

    ref = pd.read_csv(LIMMA_REF / "lowess.tsv.gz", sep="\t")
    x, y = ref["x"].to_numpy(), ref["y"].to_numpy()
    assert len(np.unique(x)) < len(x) / 2  # ties, handled as R handles them
    fitted, residuals = loess_fit(y, x, span=0.4)
    np.testing.assert_allclose(fitted, ref["loessfit"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(residuals, y - ref["loessfit"], rtol=0, atol=1e-12)
    order = np.argsort(x, kind="stable")
    default = np.empty(len(x))
    default[order] = lowess(x[order], y[order])
    np.testing.assert_allclose(default, ref["lowess"], rtol=0, atol=1e-12)
    assert np.abs(default - ref["loessfit"]).max() > 0.01  # the two spans give different curves


def test_robust_lm_fit_matches_r_where_rlm_is_unfitted_or_unconverged(caplog):
    """lmFit(method = "robust"): proteins with no more values than coefficients are not fitted (R's mrlm:
    NA, df 0), and R's 102 proteins whose rlm does not converge in 20 iterations are counted in one warning
    and agree with R's last iterate (they are part of the reference table)."""
    with caplog.at_level("WARNING", logger="lsecflow.limma"):
        ours = fit_one_value_per_group(method="robust")
    r = r_table("ups1.lmfit_robust_df0.tsv.gz")
    assert r["logFC"].isna().sum() == 4 and np.isnan(np.asarray(ours.coefficients)[:4]).all()
    assert_fit_matches(ours, r, {"coefficients": "logFC", "stdev_unscaled": "se_unscaled", "t": "t",
                                 "p_value": "P.Value"}, {"sigma": "sigma", "df_residual": "df_residual",
                                                         "s2_post": "s2_post"})
    caplog.clear()
    with caplog.at_level("WARNING", logger="lsecflow.limma"):
        ups1_fit({"lm_method": "robust"})
    assert "102 of 1470 proteins did not converge" in caplog.text  # R: 102 "'rlm' failed to converge" warnings


def test_robust_trend_without_residual_df_matches_r():
    """eBayes(trend = TRUE, robust = TRUE) when some proteins have no residual df (one value per group):
    R leaves them out of the fit and interpolates their prior variance along the trend of the others."""
    ours = fit_one_value_per_group(trend=True, robust=True)
    r = r_table("ups1.robust_trend_df0.tsv.gz")
    assert (np.asarray(ours.df_residual)[:4] == 0).all()
    assert_fit_matches(ours, r, {"coefficients": "logFC", "t": "t", "p_value": "P.Value"},
                       {"s2_prior": "s2_prior", "s2_post": "s2_post", "df_prior": "df_prior"})
    assert r["s2_prior"].nunique() > 1000  # a trend, one prior variance per protein


@pytest.mark.parametrize("k, table", [(8, "ups1.infinite_prior.tsv"), (3, "ups1.infinite_prior_3.tsv")])
def test_infinite_prior_df_matches_r(k, table):
    """eBayes(trend = TRUE) on the first k complete UPS1 proteins: their residual variances are no more spread than
    chance, so R's prior df is Inf (s2_post = the trend, df_total = the pooled df). inmoose 0.9.1's eBayes stopped
    there with a KeyError (its B statistic's ``~Infdf`` of a Python bool), and for 3 proteins its natural spline
    without interior knots ("Problem with covariate"); limma_robust.ebayes and lsecflow.fdist give R's numbers."""
    _, pre, _, _ = ups1_fit()
    xk = pre.values.dropna().head(k)
    ref = pd.read_csv(LIMMA_REF / table, sep="\t", index_col="protein_ids")
    assert list(xk.index) == list(ref.index)
    meta = design_metadata(ups1_sheet().loc[xk.columns], ["group"], UPS1_CONTRAST)
    ours = limma.fit(xk, limma.design_matrix(meta, "~ group"), trend=True)
    assert np.isinf(ours.df_prior) and np.isinf(ref["df_prior"]).all()
    np.testing.assert_allclose(ours.s2_prior, ref["s2_prior"], rtol=1e-10)
    np.testing.assert_allclose(ours.s2_post, ref["s2_post"], rtol=1e-10)
    np.testing.assert_array_equal(limma.df_total(ours), ref["df_total"])
    np.testing.assert_allclose(np.asarray(ours.t)[:, 1], ref["t"], rtol=1e-10)
    np.testing.assert_allclose(np.asarray(ours.p_value)[:, 1], ref["P.Value"], rtol=1e-8)
    np.testing.assert_allclose(np.asarray(ours.lods)[:, 1], ref["B"], rtol=1e-8)


@needs_secretome
def test_secretome_matches_r_limma():
    """The staged secretome through the reference preprocessing: every contrast against R limma."""
    sheet = pd.read_csv(SECRETOME / "samples.tsv", sep="\t", dtype=str).set_index("sample", drop=False)
    opts = {"column_key": "intensity_column", "organism": "Homo sapiens"}
    path = SECRETOME / "proteins_maxlfq.tsv.gz"
    assert protein_tables.detect_protein_format(protein_tables.read_header(path)) == "fragpipe"
    values, _, report = protein_tables.read_protein_table(path, "fragpipe", sheet.index, opts, "human", sheet)
    assert report["removed"] == {"organism not Homo sapiens": 9}
    pre = proteomics.preprocess(values, sheet["group"], {})
    assert len(pre.values) == 1395 and int(pre.values.isna().to_numpy().sum()) == 654
    contrasts = {f"{t}_vs_PBS": {"variable": "group", "target": t, "reference": "PBS"} for t in ("CPPP", "CPPS", "MPP")}
    meta = design_metadata(sheet.loc[pre.values.columns], ["group"], contrasts)
    stats, prior = limma.contrast_tables(pre.values, meta, "~ group", contrasts, {"lfc_threshold": 0.0})
    assert prior["df_prior"] == pytest.approx(4.754, abs=1e-3) and prior["s2_prior"] == pytest.approx(0.07781, rel=1e-3)
    for name in contrasts:
        ref = pd.read_csv(SECRETOME / f"limma_reference_{name}.tsv", sep="\t", index_col="protein_id")
        stats_name = agreement(stats[name], ref)
        assert_matches(stats_name)
    assert int((stats["CPPP_vs_PBS"]["padj"] < 0.05).sum()) == 378


def test_ebayes_trend_gives_inmoose_numbers():
    """limma_robust.ebayes (squeezeVar on lsecflow.fdist's fitFDist) against inmoose's own eBayes(trend = TRUE) on
    the UPS1 fit (inmoose's spline trend is R's where it has interior knots; it took 67 s for 16,000 genes):
    the same prior and posterior variances within rounding."""
    from inmoose.limma import eBayes

    _, pre, _, _ = ups1_fit()
    meta = design_metadata(ups1_sheet().loc[pre.values.columns], ["group"], UPS1_CONTRAST)
    design = limma.design_matrix(meta, "~ group", {"group": "fmol10"})
    theirs = eBayes(limma.lm_fit(pre.values.to_numpy(), design), trend=True)
    ours = limma.fit(pre.values, design, trend=True)
    for key in ("s2_prior", "df_prior", "s2_post"):
        np.testing.assert_allclose(np.asarray(getattr(ours, key), dtype=float),
                                   np.asarray(getattr(theirs, key), dtype=float), rtol=1e-10, err_msg=key)


@pytest.mark.parametrize("robust", [False, True])
def test_no_residual_df_anywhere_is_refused_by_name(robust):
    """The UPS1 median matrix cut to one value per group for every protein (SYNTHETIC missingness): no protein has
    residual df, so R's eBayes stops ("No residual degrees of freedom in linear model fits"); here an UnfittableFit
    that says what to change, robust or not (the robust path divided by zero)."""
    from lsecflow.errors import UnfittableFit

    _, pre, _, _ = ups1_fit()
    x = pre.values.head(50).copy()
    sheet = ups1_sheet().loc[x.columns]
    for g in sheet["group"].unique():
        x.loc[:, sheet.index[sheet["group"] == g][1:]] = np.nan
    meta = design_metadata(sheet, ["group"], UPS1_CONTRAST)
    with pytest.raises(UnfittableFit, match="no feature has residual degrees of freedom"):
        limma.fit(x, limma.design_matrix(meta, "~ group"), robust=robust)
