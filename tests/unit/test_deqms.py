"""lsecflow.deqms: DEqMS's spectraCounteBayes against R DEqMS 1.25 on the real UPS1 spike-in (peptide counts
read from its MaxQuant table), and the cases R cannot answer (no residual df, a variance of 0)."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from helpers import r_table, ups1_preprocessed
from lsecflow import deqms, limma
from lsecflow.errors import InputDataError
from lsecflow.formula import design_metadata
from scipy import special

CONTRAST = {"fmol25_vs_fmol10": {"variable": "group", "target": "fmol25", "reference": "fmol10"}}


def ups1_matrix():
    """The UPS1 reference preprocessing (median centring), its design and each protein's 'Razor + unique
    peptides'."""
    pre, sheet, var = ups1_preprocessed()
    return pre.values, design_metadata(sheet.loc[pre.values.columns], ["group"], CONTRAST), var["count"]


def deqms_table(values, meta, count, method="loess"):
    stats, prior = limma.contrast_tables(values, meta, "~ group", CONTRAST, {"lfc_threshold": 0.0, "deqms": method},
                                         count)
    return stats["fmol25_vs_fmol10"], prior


@pytest.mark.parametrize("variant, method, zeroed", [("deqms", "loess", False), ("deqms_nls", "nls", False),
                                                      ("deqms_spline", "spline", False), ("deqms_zero", "loess", True)])
def test_ups1_matches_r_deqms(variant, method, zeroed):
    """t, p, BH, posterior variance, df and d0 as R's spectraCounteBayes (loess and spline within 1e-9, nls --
    R's iterative nls against the exact least squares here -- within 1e-6); the same calls. ``deqms_zero``:
    five counts of 0, so 1 is added to every count, as R was given."""
    values, meta, count = ups1_matrix()
    ref = r_table(f"ups1.{variant}.tsv.gz")
    if zeroed:
        count = count.copy()
        count.loc[ref.index[:5]] = 0
    np.testing.assert_array_equal(count.loc[ref.index] + zeroed, ref["count"])  # the reader's counts are R's
    ours, prior = deqms_table(values, meta, count, method)
    ours = ours.loc[ref.index]
    tol = 1e-6 if method == "nls" else 1e-9
    for col, r_col in (("stat", "sca_t"), ("pvalue", "sca_P"), ("padj", "sca_adj"), ("s2_post", "post_var"),
                       ("df_total", "post_df")):
        np.testing.assert_allclose(ours[col], ref[r_col], rtol=tol, err_msg=col)
    np.testing.assert_allclose(ours["log2FoldChange"], ref["logFC"], rtol=1e-12, atol=1e-12)
    assert prior["df_prior"] == ref["d0"].iloc[0]
    assert set(ref.index[ours["padj"] < 0.05]) == set(ref.index[ref["sca_adj"] < 0.05])
    assert ours["B"].isna().all()  # limma's B belongs to eBayes's prior, not DEqMS's


@pytest.mark.parametrize("variant, method, tol", [("deqms", "loess", 1e-12), ("deqms_spline", "spline", 1e-9)])
def test_trend_is_r_loess_or_spline(variant, method, tol):
    """The smoothed log variance is R's loess(log(sigma^2) ~ log2(count), span = 0.75) to 1e-12, or its
    smooth.spline(log2(count), log(sigma^2)) to 1e-9 (the GCV search's spar agrees to about 1e-10)."""
    values, meta, count = ups1_matrix()
    ref = r_table(f"ups1.{variant}.tsv.gz")
    fit = limma.lm_fit(values.loc[ref.index].to_numpy(float), limma.design_matrix(meta, "~ group", {"group": "fmol10"}))
    out = deqms.spectra_count_ebayes(fit, ref["count"].to_numpy(float), method)
    np.testing.assert_allclose(out["trend"], ref["trend"], rtol=tol, atol=tol)


@pytest.mark.parametrize("target_d0", [0.7, 3.0, 4.6, 12.3])
def test_prior_df_is_the_grid_point_nearest_the_moment(target_d0):
    """With (e - e_trend)^2 - trigamma(df/2) averaging to trigamma(d0/2), DEqMS's grid search lands on d0."""
    df = np.full(50, 4.0)
    spread = np.sqrt(special.polygamma(1, target_d0 / 2) + special.polygamma(1, df / 2))
    e = np.where(np.arange(50) % 2 == 0, spread, -spread)
    assert deqms.prior_df(e, np.zeros(50), df) == pytest.approx(target_d0)


def test_proteins_without_residual_df_are_not_tested_and_do_not_move_the_others(caplog):
    """Four proteins down to one value per group have no residual df: NA (R's DEqMS would misalign its
    loess fit), and the other proteins get exactly what DEqMS gives without those four."""
    values, meta, count = ups1_matrix()
    cut = values.copy()
    for g in ("fmol10", "fmol25"):
        cut.iloc[:4, np.flatnonzero(meta["group"].astype(str).to_numpy() == g)[1:]] = np.nan
    with caplog.at_level(logging.WARNING, logger="lsecflow.deqms"):
        full, _ = deqms_table(cut, meta, count)
    assert "4 proteins have no residual df and are not tested" in caplog.text
    assert full.iloc[:4][["stat", "pvalue", "padj", "s2_post"]].isna().all().all()
    assert full.iloc[:4]["log2FoldChange"].notna().all()
    rest, _ = deqms_table(cut.iloc[4:], meta, count)
    np.testing.assert_allclose(full.iloc[4:]["stat"], rest["stat"], rtol=1e-12)
    np.testing.assert_allclose(full.iloc[4:]["pvalue"], rest["pvalue"], rtol=1e-12)


@pytest.mark.parametrize("method", ["loess", "spline"])
def test_a_protein_of_zero_variance_is_read_off_the_trend(caplog, method):
    """A protein whose residual variance is exactly 0 (where R's loess and smooth.spline stop on log 0) is left
    out of the smoothing and tested with the prior at its count; the other proteins are as without it."""
    values, meta, count = ups1_matrix()
    count = count.reindex(values.index)
    fit = limma.lm_fit(values.to_numpy(float), limma.design_matrix(meta, "~ group", {"group": "fmol10"}))
    fit.sigma = np.asarray(fit.sigma, dtype=float).copy()
    fit.sigma[10] = 0.0
    with caplog.at_level(logging.WARNING, logger="lsecflow.deqms"):
        out = deqms.spectra_count_ebayes(fit, count.to_numpy(float), method)
    assert "1 proteins have a residual variance of 0" in caplog.text
    assert np.isfinite(out["t"][10, 1]) and out["s2_post"][10] > 0 and np.isfinite(out["trend"][10])
    # its prior is the trend at its count: another protein with that count and residual df shares it
    df = np.asarray(fit.df_residual)
    same = np.flatnonzero((count.to_numpy() == count.iloc[10]) & (df == df[10]) & (np.arange(len(count)) != 10))[0]
    assert out["s2_prior"][10] == pytest.approx(out["s2_prior"][same], rel=1e-9)
    keep = np.arange(len(count)) != 10
    rest = limma.lm_fit(values.to_numpy(float)[keep], limma.design_matrix(meta, "~ group", {"group": "fmol10"}))
    without = deqms.spectra_count_ebayes(rest, count.to_numpy(float)[keep], method)
    np.testing.assert_allclose(out["t"][keep, 1], without["t"][:, 1], rtol=1e-12)


def test_counts_are_needed():
    values, meta, _ = ups1_matrix()
    with pytest.raises(ValueError, match="de.deqms needs each protein's peptide count"):
        deqms_table(values, meta, None)


def test_nls_trend_is_the_least_squares_of_a_plus_b_over_count():
    """nls(sigma^2 ~ a + b / count) is linear in a and b: on values planted exactly on such a curve the
    trend returns it (log) exactly."""
    count = np.array([1, 2, 3, 5, 8, 13, 21], dtype=float)
    sigma2 = 0.02 + 0.3 / count
    np.testing.assert_allclose(deqms.trend(count, sigma2, "nls"), np.log(sigma2), rtol=1e-12)
    assert pd.isna(deqms.trend(count, np.r_[sigma2[:-1], np.nan], "nls")[-1])


def test_too_few_proteins_for_the_loess_is_a_clear_error():
    """R's loess warns and fits five points anyway; skmisc raises: the error says what to do instead."""
    values, meta, count = ups1_matrix()
    with pytest.raises(InputDataError, match="loess of the log variances over log2 peptide count failed on 5 "
                                             "proteins.*use de.deqms: nls, or limma's eBayes"):
        deqms_table(values.head(5), meta, count)
    table, _ = deqms_table(values.head(5), meta, count, "nls")
    assert table["stat"].notna().all()


def test_too_few_distinct_counts_for_the_spline_is_a_clear_error():
    """smooth.spline needs four distinct counts (R stops); the error says so and what to use instead."""
    values, meta, count = ups1_matrix()
    few = pd.Series(np.resize([1.0, 2.0, 3.0], len(count)), index=count.index)
    with pytest.raises(InputDataError, match="spline of the log variances over log2 peptide count failed on "
                                             r"\d+ proteins with 3 distinct counts.*use de.deqms: nls"):
        deqms_table(values, meta, few, "spline")


def test_planted_count_dependent_variances_are_what_deqms_gains_on():
    """SYNTHETIC, planted truth: 2,000 proteins, 3 vs 3, each protein's variance falling with its peptide
    count (0.01 + 0.2 / count, as DEqMS's premise), 200 changed by log2FC 0.8. DEqMS's prior follows the
    count, so at padj < 0.05 it calls more of the changed proteins than limma's single prior, its false
    share still below 0.05 x 2. (Over seeds 1-5: 157-174 against 133-150 called, false share 0.030-0.044
    against 0.041-0.056; the top-200 ranking is alike, 174-182 against 170-180, not always better.)"""
    rng = np.random.default_rng(11)
    n, changed = 2000, np.arange(200)
    count = pd.Series(np.minimum(rng.geometric(0.12, n), 60).astype(float), index=[f"p{i}" for i in range(n)])
    sd = np.sqrt(0.01 + 0.2 / count.to_numpy())
    values = rng.normal(20, 1, n)[:, None] + rng.normal(0, 1, (n, 6)) * sd[:, None]
    values[changed, 3:] += 0.8
    values = pd.DataFrame(values, index=count.index, columns=[f"s{j}" for j in range(6)])
    sheet = pd.DataFrame({"group": ["fmol10"] * 3 + ["fmol25"] * 3}, index=values.columns)
    meta = design_metadata(sheet, ["group"], CONTRAST)
    truth = pd.Series(False, index=values.index)
    truth.iloc[changed] = True
    out = {}
    for name, opts in (("limma", {}), ("deqms", {"deqms": "loess"})):
        stats, _ = limma.contrast_tables(values, meta, "~ group", CONTRAST, {"lfc_threshold": 0.0, **opts}, count)
        table = stats["fmol25_vs_fmol10"]
        called = table["padj"] < 0.05
        out[name] = (int(truth[table["pvalue"].rank(method="first") <= 200].sum()), int((called & truth).sum()),
                     float((called & ~truth).sum() / max(called.sum(), 1)))
    print(out)
    assert out["deqms"][1] > out["limma"][1] + 10
    assert out["deqms"][2] < 0.1


@pytest.mark.parametrize("method", ["loess", "nls", "spline"])
def test_no_protein_with_a_residual_variance_is_a_clear_error(method):
    """One value per group leaves no residual df anywhere (and a variance of exactly 0 nothing to take a log
    of): DEqMS has nothing to moderate, and says why, instead of failing inside its grid search."""
    values, meta, count = ups1_matrix()
    one = values.copy()
    for g in ("fmol10", "fmol25"):
        one.iloc[:, np.flatnonzero(meta["group"].astype(str).to_numpy() == g)[1:]] = np.nan
    with pytest.raises(InputDataError, match="none of the 1470 proteins has a residual variance to moderate"):
        deqms_table(one, meta, count, method)


def test_one_protein_for_the_loess_is_a_clear_error_not_a_crash():
    """scikit-misc's dloess crashes the whole process (a segmentation fault, found by bench/fuzz_engines.py)
    when handed one point: a single protein with a residual variance is refused before it gets there."""
    values, meta, count = ups1_matrix()
    with pytest.raises(InputDataError, match="loess .* failed on 1 proteins .*more than one point.*de.deqms: nls"):
        deqms_table(values.head(1), meta, count)
