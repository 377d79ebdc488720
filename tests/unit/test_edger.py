"""lsecflow.edger: edgeR's estimateDisp, glmQLFit and glmQLFTest against R edgeR 3.40.2 on the real DLPC counts
(tests/data/edger/make_reference.R), and the pieces against planted truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import REPO
from lsecflow import edger
from lsecflow.voom import tmm_factors
from test_voom import dlpc_filtered

REF = REPO / "tests/data/edger"
LEVELS = ["Chow", "Disease", "Disease/Agonist"]


def design(sheet: pd.DataFrame, reference: str, batch: bool = False) -> np.ndarray:
    """model.matrix(~ [batch +] Group) with ``reference`` as Group's base level (columns: intercept, batch
    levels but the first, the other Group levels in R's order)."""
    cols = [np.ones(len(sheet))]
    if batch:
        cols += [(sheet["batch"] == b).to_numpy(float) for b in sorted(sheet["batch"].unique())[1:]]
    cols += [(sheet["Group"] == g).to_numpy(float) for g in LEVELS if g != reference]
    return np.column_stack(cols)


@pytest.fixture(scope="module")
def dlpc():
    counts, sheet = dlpc_filtered()
    y = counts.to_numpy(dtype=float)
    return y, sheet, y.sum(axis=0) * tmm_factors(y)


@pytest.fixture(scope="module")
def fits(dlpc):
    """estimateDisp + glmQLFit per (reference, batch, robust), each made once."""
    y, sheet, lib = dlpc
    made = {}

    def get(reference="Chow", batch=False, robust=False):
        key = (reference, batch, robust)
        if key not in made:
            X = design(sheet, reference, batch)
            disp = edger.estimate_disp(y, X, lib)
            made[key] = disp, edger.ql_fit(y, X, disp["trended"], lib, disp["ave_log_cpm"], robust=robust)
        return made[key]
    return get


def test_dispersions_and_ql_fit_match_edger(fits):
    """estimateDisp's common and trended dispersions and AveLogCPM, glmQLFit's deviance, prior df and
    posterior QL dispersion, gene by gene."""
    disp, fit = fits()
    ref = pd.read_csv(REF / "dispersions.tsv.gz", sep="\t")
    assert len(ref) == len(fit["deviance"]) > 15000
    np.testing.assert_allclose(disp["common"], ref["common"][0], rtol=1e-10)
    np.testing.assert_allclose(disp["trended"], ref["trended"], rtol=1e-9)
    np.testing.assert_allclose(disp["ave_log_cpm"], ref["AveLogCPM"], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(fit["deviance"], ref["deviance"], rtol=1e-9)
    np.testing.assert_allclose(fit["df_prior"], ref["df_prior"], rtol=1e-9)
    np.testing.assert_allclose(fit["var_post"], ref["s2_post"], rtol=1e-9)
    # a trend that matters: the dispersion falls with the abundance, over an order of magnitude
    low, high = np.quantile(ref["AveLogCPM"], [0.05, 0.95])
    t = ref["trended"].to_numpy()
    assert np.median(t[ref["AveLogCPM"] < low]) > 3 * np.median(t[ref["AveLogCPM"] > high])


@pytest.mark.parametrize(("name", "reference", "batch", "robust", "tested"), [
    ("ql_Disease_vs_Chow", "Chow", False, False, ["Disease"]),
    ("ql_DiseaseAgonist_vs_Disease", "Disease", False, False, ["Disease/Agonist"]),
    ("ql_robust_Disease_vs_Chow", "Chow", False, True, ["Disease"]),
    ("ql_batch_Disease_vs_Chow", "Chow", True, False, ["Disease"]),
    ("ql_batch_F_Group", "Chow", True, False, ["Disease", "Disease/Agonist"]),
])
def test_ql_tests_match_edger(fits, name, reference, batch, robust, tested):
    """glmQLFTest's logFC, F, df and p-value; the batch design is not one-way (edgeR's Levenberg fit); the
    last case is the F test of both Group coefficients."""
    _, fit = fits(reference, batch, robust)
    X = fit["design"]
    others = [g for g in LEVELS if g != reference]
    coef = [X.shape[1] - len(others) + others.index(g) for g in tested]
    res = edger.ql_test(fit, coef=coef)
    ref = pd.read_csv(REF / f"{name}.tsv.gz", sep="\t")
    fc = [c for c in ref.columns if c.startswith("logFC")]
    np.testing.assert_allclose(res["logFC"], ref[fc].to_numpy(), atol=1e-10)
    np.testing.assert_allclose(res["F"], ref["F"], rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(res["df_total"], ref["df_total"], rtol=1e-10)
    np.testing.assert_allclose(res["pvalue"], ref["PValue"], rtol=1e-6, atol=1e-12)
    if robust:
        np.testing.assert_allclose(fit["df_prior"], ref["df_prior"], rtol=1e-9)
        assert np.ptp(fit["df_prior"]) > 0  # robust: a prior df per gene
    # p-values small enough to matter agree too (edgeR's QL test is conservative on DLPC: with its QC outlier
    # the prior df is 3.3, and no single contrast has a gene at FDR < 0.05 -- limma-voom finds 0 and 2 too)
    assert (ref["PValue"] < 1e-3).sum() > 90


def test_maximize_interpolant_finds_a_cubic_maximum_between_grid_points():
    """The fmm spline reproduces a cubic exactly, so the maximum it finds is the cubic's own, off the grid;
    a maximum at the end of the grid stays there."""
    x = np.linspace(-10, 10, 21)
    peak = np.array([0.37, -4.81, 7.2])
    Y = np.vstack([-(x - p) ** 2 * (1 + 0.01 * (x - p)) for p in peak] + [x])
    got = edger.maximize_interpolant(x, Y)
    np.testing.assert_allclose(got[:3], peak, atol=1e-9)
    assert got[3] == 10


def test_no_residual_df_is_refused():
    y = np.arange(1, 13, dtype=float).reshape(3, 4) * 10
    with pytest.raises(ValueError, match="no residual df"):
        edger.estimate_disp(y, np.eye(4), y.sum(axis=0))


def test_pseudobulk_fits_match_edger():
    """The small, noisy fits of pseudobulk: the shipped Tabula Muris Senis subset summed per cell type and mouse
    (6-9 samples, 262-469 genes, common dispersions near 3), ~ age_group, against R
    (tests/data/edger/make_pseudobulk_reference.R)."""
    long = pd.read_csv(REF / "tms_pseudobulk_counts.tsv.gz", sep="\t", dtype={"sample": str})
    sheet = pd.read_csv(REF / "tms_pseudobulk_sheet.tsv", sep="\t", dtype=str)
    ref = pd.read_csv(REF / "tms_pseudobulk_ql.tsv.gz", sep="\t")
    assert sheet["cell_type"].nunique() == 5
    for ct, s in sheet.groupby("cell_type"):
        counts = long[long["cell_type"] == ct].pivot(index="gene", columns="sample", values="count")[s["sample"]]
        X = np.column_stack([np.ones(len(s)), (s["age_group"] == "OLD").to_numpy(float)])
        y = counts.to_numpy(dtype=float)
        lib = y.sum(axis=0) * tmm_factors(y)
        disp = edger.estimate_disp(y, X, lib)
        res = edger.ql_test(edger.ql_fit(y, X, disp["trended"], lib, disp["ave_log_cpm"]), coef=[1])
        r = ref[ref["cell_type"] == ct].set_index("gene").loc[counts.index]
        np.testing.assert_allclose(disp["common"], r["common"].iloc[0], rtol=1e-9, err_msg=ct)
        np.testing.assert_allclose(res["logFC"][:, 0], r["logFC"], atol=1e-9, err_msg=ct)
        np.testing.assert_allclose(res["F"], r["F"], rtol=1e-6, atol=1e-9, err_msg=ct)
        np.testing.assert_allclose(res["pvalue"], r["PValue"], rtol=1e-6, err_msg=ct)


@pytest.mark.parametrize(("name", "batch"), [("treat1_Disease_vs_Chow", False), ("treat1_batch_Disease_vs_Chow", True)])
def test_treat_matches_edger(fits, name, batch):
    """glmTreat(fit, coef, lfc = 1) (null "interval", the QL fit's df, edgeR's Poisson bound): p-values and the
    unshrunk logFC it reads the interval by."""
    _, fit = fits("Chow", batch)
    res = edger.treat(fit, fit["design"].shape[1] - 2, 1.0)
    ref = pd.read_csv(REF / f"{name}.tsv.gz", sep="\t")
    np.testing.assert_allclose(res["pvalue"], ref["PValue"], rtol=1e-7)
    np.testing.assert_allclose(res["logFC"], ref["logFC"], atol=1e-10)
    np.testing.assert_allclose(res["unshrunk_logFC"], ref["unshrunk.logFC"], atol=1e-5)
    assert ref["PValue"].min() < 1e-4 and (ref["PValue"] > 0.99).mean() > 0.5  # genes on both sides of the call


def test_reduced_design_keeps_the_first_columns_that_raise_the_rank():
    """estimateDisp's design for genes with a group of exact zeros: R's qr(X)$pivot[1:rank] keeps the first
    columns that raise the rank, in order (a column of zeros, or one equal to an earlier one, goes)."""
    X = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 1], [1, 1, 1]], dtype=float)
    assert edger._pivot_rank_columns(X) == [0, 1]
    assert edger._pivot_rank_columns(X[:, [0, 2, 1]]) == [0, 1]
    Z = np.column_stack([np.ones(4), np.zeros(4), [0, 1, 0, 1]])
    assert edger._pivot_rank_columns(Z) == [0, 2]


def test_genes_with_a_group_of_zeros_get_the_reduced_design():
    """Genes whose counts are 0 in every sample of one group (PLANTED among 2,000 real DLPC genes: gene 1 in Chow,
    gene 2 in Disease): their fits at dispersion 0.05 have exact zeros there, so their profile likelihoods are
    computed on the other samples with the reduced design, and their residual df drop by that group's samples
    less one coefficient (.residDF); R's dispersions, df, s2.post and p-values (make_reference.R)."""
    counts, sheet = dlpc_filtered()
    y = counts.to_numpy(dtype=float)[:2000].copy()
    y[0, (sheet["Group"] == "Chow").to_numpy()] = 0
    y[1, (sheet["Group"] == "Disease").to_numpy()] = 0
    X = design(sheet, "Chow")
    lib = y.sum(axis=0) * tmm_factors(y)
    disp = edger.estimate_disp(y, X, lib)
    fit = edger.ql_fit(y, X, disp["trended"], lib, disp["ave_log_cpm"])
    res = edger.ql_test(fit, coef=[1])
    ref = pd.read_csv(REF / "zero_groups.tsv.gz", sep="\t")
    np.testing.assert_allclose(disp["trended"], ref["trended"], rtol=1e-9)
    np.testing.assert_array_equal(fit["df_residual_zeros"], ref["df_residual"])
    np.testing.assert_allclose(fit["var_post"], ref["s2_post"], rtol=1e-9)
    np.testing.assert_allclose(res["pvalue"], ref["PValue"], rtol=1e-7)
    n_chow = int((sheet["Group"] == "Chow").sum())
    assert fit["df_residual_zeros"][0] == X.shape[0] - X.shape[1] - (n_chow - 1)
