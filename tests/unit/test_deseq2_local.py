"""lsecflow.deseq2_local: DESeq2's fitType = "local" against R DESeq2 1.38.3 / locfit 1.5-9.7 (references made
by tests/data/deseq2_reference/make_local_reference.R): the trend, the tests and the VST on the real DLPC
counts, and DESeq2's automatic fallback from a failing parametric trend on SYNTHETIC counts."""
from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import REPO, shipped_dataset
from lsecflow import de
from lsecflow.deseq2_local import (
    DISPERSION_COLUMNS,
    dispersion_table,
    fmm_spline,
    residual_note,
    spline_eval,
    trend_residuals,
)
from lsecflow.ingest import build_counts

REF = REPO / "tests/data/deseq2_reference"


def reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{name}.tsv.gz", sep="\t", index_col=0)


def assert_same_tests(res: pd.DataFrame, ref: pd.DataFrame, label: str) -> None:
    """Identical padj < 0.05 calls and NA patterns; log2FC and p-values as close as DESeq2's own iterations allow."""
    ref = ref.reindex(res.index)
    assert ref["baseMean"].notna().all(), label
    both = res["pvalue"].notna() & ref["pvalue"].notna()
    assert set(res.index[res["padj"] < 0.05]) == set(ref.index[ref["padj"] < 0.05]), label
    assert int((res["pvalue"].isna() != ref["pvalue"].isna()).sum()) == 0, label
    assert int((res["padj"].isna() != ref["padj"].isna()).sum()) == 0, label
    assert np.abs(res.loc[both, "log2FoldChange"] - ref.loc[both, "log2FoldChange"]).max() < 1e-3, label
    logp = np.log10(res.loc[both, "pvalue"]) - np.log10(ref.loc[both, "pvalue"])
    assert np.abs(logp).max() < 1e-3, label


@pytest.fixture(scope="module")
def dlpc_local():
    """~ Group on the real DLPC counts with de.fit_type: local."""
    ds = shipped_dataset("dlpc_liver")
    adata, _ = build_counts(ds.params())
    opts = dict(ds.spec["de"], fit_type="local")
    return ds, opts, de.fit_model(adata, ds.spec["design"], ds.design_columns, opts, contrasts=ds.contrasts)


def test_local_trend_and_tests_match_deseq2(dlpc_local):
    """DESeq(fitType = "local"): the fitted trend (dispFit) within 1e-8 relative of R's on all 15,974 genes,
    the final dispersions within 1e-4, and the Disease vs Chow table with R's 568 calls."""
    ds, opts, dds = dlpc_local
    ref = reference("deseq2_local_Disease_vs_Chow")
    var = dds.var.set_index(dds.var_names.astype(str)).reindex(ref.index)
    assert dds.dispersionFunction.fitType == "local"
    np.testing.assert_allclose(var["dispFit"], ref["dispFit"], rtol=1e-8)
    np.testing.assert_allclose(var["dispersion"], ref["dispersion"], rtol=1e-4)
    res = de.contrast_results(dds, ds.contrasts["disease_vs_chow"], opts).set_index("gene_id")
    assert int((res["padj"] < 0.05).sum()) == 568
    assert_same_tests(res, ref, "fitType local")


def test_dispersion_table_and_trend_residuals(dlpc_local):
    """What the dispersion plot draws and the DE log reports: the fit's own trend is dispFit, the parametric one
    is refitted to the same genes for comparison, and the median |log(gene-wise / trend)| says which follows them
    closer -- on DLPC the local trend (the parametric one sits above most genes: median residual about -0.7)."""
    _, _, dds = dlpc_local
    table = dispersion_table(dds)
    assert list(table.columns) == DISPERSION_COLUMNS and len(table) == dds.n_vars
    assert (table["fit_type"] == "local").all()
    np.testing.assert_array_equal(table["trend_local"], table["dispFit"])
    assert table["trend_parametric"].notna().all() and int(table["dispOutlier"].sum()) > 0
    res = trend_residuals(table)
    used = dds.var[dds.var["dispGeneEst"] > 1e-6]
    assert res["local"] == pytest.approx(np.median(np.abs(np.log(used["dispGeneEst"] / used["dispFit"]))), rel=1e-12)
    assert list(res) == ["local", "parametric"] and res["local"] < 0.7 < 0.85 < res["parametric"]
    assert residual_note(table) == (f"median |log(gene-wise / trend)|: local {res['local']:.2f} (this fit), "
                                    f"parametric {res['parametric']:.2f}")


def test_local_vst_matches_deseq2(dlpc_local):
    """varianceStabilizingTransformation(blind = FALSE) of the local fit: DESeq2's numerical integration
    of the trend, interpolated by an FMM spline (every 16th gene in the reference), within 1e-8."""
    _, _, dds = dlpc_local
    ref = reference("deseq2_local_vst")
    _, vst = de.normalized_and_vst(dds)
    np.testing.assert_allclose(vst.loc[ref.index, ref.columns].to_numpy(), ref.to_numpy(), rtol=0, atol=1e-8)


def test_failing_parametric_trend_falls_back_to_local_as_r(caplog):
    """SYNTHETIC counts whose dispersion rises with the mean: DESeq2's parametric fit fails and R substitutes
    the local trend; so does lsecflow (it used to fall back to 'mean'), with a warning, and the table is R's."""
    counts = reference("synthetic_rising_counts")
    sheet = pd.read_csv(REF / "synthetic_rising_sheet.tsv.gz", sep="\t", index_col=0)
    adata = ad.AnnData(counts.T.astype(np.int64), obs=sheet.loc[counts.columns],
                       var=pd.DataFrame({"gene_id": counts.index, "symbol": counts.index}, index=counts.index))
    ds = shipped_dataset("dlpc_liver")
    opts = dict(ds.spec["de"], min_count=0, min_samples=0)
    contrast = {"variable": "cond", "target": "b", "reference": "a"}
    with caplog.at_level(logging.WARNING, logger="lsecflow.de"):
        dds = de.fit_model(adata, "~ cond", ["cond"], opts, contrasts={"b_vs_a": contrast})
    assert dds.dispersionFunction.fitType == "local" and dds.uns["lsecflow_fit"]["fit_type"] == "local"
    assert "local regression trend substituted" in caplog.text
    ref = reference("deseq2_rising_b_vs_a")
    var = dds.var.set_index(dds.var_names.astype(str)).reindex(ref.index)
    np.testing.assert_allclose(var["dispFit"], ref["dispFit"], rtol=1e-8)
    assert_same_tests(de.contrast_results(dds, contrast, opts).set_index("gene_id"), ref, "parametric -> local")
    table = dispersion_table(dds)
    assert table["trend_parametric"].isna().all()  # the parametric trend cannot be fitted here
    assert set(trend_residuals(table)) == {"local"}


def test_fmm_spline_reproduces_a_cubic():
    """R's FMM end conditions match the third derivative of the cubic through the end points, so a cubic is
    reproduced exactly, between knots and beyond them (scipy's not-a-knot spline differs on other data)."""
    x = np.array([0.0, 0.3, 1.1, 1.5, 2.6, 3.0, 4.2])
    cubic = np.poly1d([0.5, -2.0, 1.0, 3.0])
    u = np.linspace(-1, 5, 61)
    np.testing.assert_allclose(spline_eval(fmm_spline(x, cubic(x)), u), cubic(u), rtol=1e-10, atol=1e-10)


def test_a_parametric_fit_that_errors_falls_back_as_in_r():
    """Gene-wise dispersions all below the gamma GLM's residual window (SYNTHETIC, 1e-9): no gene is left to fit.
    statsmodels raises a ValueError that inmoose's ``except RuntimeError`` let through (the DE job died); R's
    ``try()`` falls back to the local trend for any error, and the wrapper makes it a RuntimeError so inmoose
    does the same."""
    from inmoose.deseq2.dispersions import parametricDispersionFit
    from lsecflow.deseq2_local import parametric_fit_or_fallback

    means, disps = pd.Series([10.0, 100.0, 1000.0]), pd.Series([1e-9] * 3)
    with pytest.raises(ValueError):
        parametricDispersionFit(means, disps)
    with pytest.raises(RuntimeError, match="parametric dispersion fit failed: ValueError"):
        parametric_fit_or_fallback(parametricDispersionFit)(means, disps)
