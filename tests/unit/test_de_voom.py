"""lsecflow.de_voom (``de.engine: voom``): every contrast's table against R limma-voom on the real DLPC counts
(tests/data/voom/make_reference.R: TMM, voom, lmFit, eBayes / treat), and the rule's entry point from a
config: its files, the leave-one-out refits, and the same table as R."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import DLPC_COUNTS, REPO, dlpc_dataset, load_datasets
from lsecflow.de_files import OUTPUT_KINDS
from lsecflow.de_voom import COLUMNS, run_de_voom, voom_tables
from lsecflow.formula import design_metadata
from lsecflow.ingest import run_ingest
from test_voom import VOOM_REF, dlpc_filtered

CONTRASTS = {"Disease_vs_Chow": {"variable": "Group", "target": "Disease", "reference": "Chow"},
             "DiseaseAgonist_vs_Chow": {"variable": "Group", "target": "Disease/Agonist", "reference": "Chow"},
             "DiseaseAgonist_vs_Disease": {"variable": "Group", "target": "Disease/Agonist", "reference": "Disease"}}
R_COLUMNS = {"log2FoldChange": "logFC", "AveExpr": "AveExpr", "stat": "t", "pvalue": "P.Value", "padj": "adj.P.Val",
             "B": "B", "s2_post": "s2_post", "df_total": "df_total"}


def assert_like_r(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Every statistic R wrote within 1e-8 (relative; p-values also 1e-12 absolute), and the same calls."""
    ours = ours.set_index("gene_id").loc[ref.index]
    for col, r_col in R_COLUMNS.items():
        if r_col in ref:
            np.testing.assert_allclose(ours[col], ref[r_col], rtol=1e-8, atol=1e-12 if col in ("pvalue", "padj") else 0,
                                       err_msg=col)
    assert ((ours["padj"] < 0.05) == (ref["adj.P.Val"] < 0.05)).all()


@pytest.mark.parametrize("reference, design, contrast, opts", [
    ("voom_Disease_vs_Chow", "~ Group", "Disease_vs_Chow", {}),
    ("voom_DiseaseAgonist_vs_Disease", "~ Group", "DiseaseAgonist_vs_Disease", {}),
    ("voom_trend_robust_Disease_vs_Chow", "~ Group", "Disease_vs_Chow", {"trend": True, "robust": True}),
    ("voom_treat1_Disease_vs_Chow", "~ Group", "Disease_vs_Chow", {"lfc_threshold": 1.0}),
    ("voom_batch_Disease_vs_Chow", "~ batch + Group", "Disease_vs_Chow", {}),
    ("voomqw_DiseaseAgonist_vs_Chow", "~ Group", "DiseaseAgonist_vs_Chow", {"sample_weights": True}),
])
def test_tables_match_r_limma_voom(reference, design, contrast, opts):
    counts, sheet = dlpc_filtered()
    columns = ["batch", "Group"] if "batch" in design else ["Group"]
    meta = design_metadata(sheet, columns, CONTRASTS)
    symbols = pd.Series("x", index=counts.index)
    tables = voom_tables(counts, meta, design, {contrast: CONTRASTS[contrast]}, {"lfc_threshold": 0.0, **opts},
                         symbols).tables
    ref = pd.read_csv(VOOM_REF / f"{reference}.tsv.gz", sep="\t", index_col=0)
    assert list(tables[contrast].columns) == COLUMNS and len(ref) == len(counts) == 15974
    assert_like_r(tables[contrast], ref)
    if opts.get("lfc_threshold"):
        assert tables[contrast]["B"].isna().all()  # treat has no B, as topTreat


def test_entry_point_from_config(tmp_path):
    """de.engine: voom through load_config, ingest and run_de_voom: R's table, the four other files of each
    contrast, and leave-one-out refits of the significant paracrine factors (voom redone without each sample)."""
    ds = load_datasets({"dlpc_liver": dlpc_dataset(DLPC_COUNTS, de={"engine": "voom"})}).datasets["dlpc_liver"]
    h5ad = tmp_path / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {c: {k: str(tmp_path / f"{c}.{k}.tsv") for k in OUTPUT_KINDS} for c in ds.contrasts}
    tables = run_de_voom(str(h5ad), ds.params(rule="de"), outputs)
    assert_like_r(tables["disease_vs_chow"], pd.read_csv(VOOM_REF / "voom_Disease_vs_Chow.tsv.gz", sep="\t",
                                                         index_col=0))
    written = pd.read_csv(outputs["agonist_vs_chow"]["table"], sep="\t")
    assert list(written.columns) == COLUMNS and (written["padj"] < 0.05).sum() > 500
    log_cpm = pd.read_csv(outputs["agonist_vs_chow"]["vst"], sep="\t", index_col=0)
    cpm = pd.read_csv(outputs["agonist_vs_chow"]["normalized"], sep="\t", index_col=0)
    factors = pd.read_csv(VOOM_REF / "norm_factors.tsv.gz", sep="\t", index_col=0)["norm_factor"]
    np.testing.assert_allclose(cpm.sum(axis=0) * factors.loc[cpm.columns], 1e6, rtol=1e-10)  # CPM of TMM libraries
    assert log_cpm.shape == cpm.shape == (15974, 20)
    loo = pd.read_csv(outputs["agonist_vs_chow"]["loo"], sep="\t")
    sig = set(written.loc[written["padj"] < 0.05, "gene_id"])
    in_groups = dlpc_filtered()[1]["Group"].isin(["Chow", "Disease/Agonist"]).sum()
    assert len(loo) > 100 and set(loo["gene_id"]) <= sig and loo["left_out"].nunique() == in_groups
    assert (pd.read_csv(outputs["disease_vs_chow"]["summary"], sep="\t")["status"] == "tested").all()


def test_sample_weights_from_config_are_written_and_change_the_calls(tmp_path):
    """de.sample_weights: the weights file the rule declares (R's weights), and the calls of R's
    voomWithQualityWeights fit, which differ from plain voom's on DLPC (down-weighting Sample725 and the QC
    outlier Sample756 instead of excluding them). The refits of the leave-one-out check, each redoing the weights,
    are left out here (test_entry_point_from_config covers them without weights)."""
    spec = dlpc_dataset(DLPC_COUNTS, de={"engine": "voom", "sample_weights": True}, paracrine={"robustness": False})
    ds = load_datasets({"dlpc_liver": spec}).datasets["dlpc_liver"]  # no leave-one-out refits: 30 s of the test
    h5ad = tmp_path / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {c: {k: str(tmp_path / f"{c}.{k}.tsv") for k in OUTPUT_KINDS} for c in ds.contrasts}
    tables = run_de_voom(str(h5ad), ds.params(rule="de"), outputs, sample_weights=str(tmp_path / "weights.tsv"))
    ref = pd.read_csv(VOOM_REF / "voomqw_DiseaseAgonist_vs_Chow.tsv.gz", sep="\t", index_col=0)
    assert_like_r(tables["agonist_vs_chow"], ref)
    weights = pd.read_csv(tmp_path / "weights.tsv", sep="\t", index_col="sample")["weight"]
    r_weights = pd.read_csv(VOOM_REF / "quality_weights.tsv.gz", sep="\t", index_col=0)["weight"]
    np.testing.assert_allclose(weights.loc[r_weights.index], r_weights, rtol=1e-9)  # the TSV keeps 10 digits
    counts, sheet = dlpc_filtered()
    plain = voom_tables(counts, design_metadata(sheet, ["Group"], CONTRASTS), "~ Group",
                        {"c": CONTRASTS["DiseaseAgonist_vs_Chow"]}, {"lfc_threshold": 0.0},
                        pd.Series("x", index=counts.index)).tables
    n_weighted, n_plain = int((ref["adj.P.Val"] < 0.05).sum()), int((plain["c"]["padj"] < 0.05).sum())
    assert n_weighted > 3 * n_plain > 0, (n_weighted, n_plain)


def assert_f_like_r(ours: pd.DataFrame, reference: str) -> pd.DataFrame:
    """A design-test table against R's topTable(coef = <both Group coefficients>): F, p, padj within 1e-8."""
    ref = pd.read_csv(VOOM_REF / f"{reference}.tsv.gz", sep="\t", index_col=0)
    ours = ours.set_index("gene_id").loc[ref.index]
    for col, r_col in (("stat", "F"), ("pvalue", "P.Value"), ("padj", "adj.P.Val"), ("AveExpr", "AveExpr"),
                       ("log2FC_Group[T.Disease]", "GroupDisease")):
        np.testing.assert_allclose(ours[col], ref[r_col], rtol=1e-8, atol=1e-12, err_msg=col)
    assert ((ours["padj"] < 0.05) == (ref["adj.P.Val"] < 0.05)).all() and (ours["padj"] < 0.05).sum() > 100
    return ref


def test_design_test_is_rs_moderated_f(tmp_path):
    """de.test: lrt under voom: limma's moderated F test of the Group coefficients of ~ batch + Group (topTable with
    both; SYNTHETIC balanced batch, real counts) from the rule's entry point: the design table within 1e-8 of R's,
    its summary, and every contrast table carrying the F test's p-values with its own fold change (as DESeq2's
    after an LRT)."""
    sheet = pd.read_csv(REPO / "tests/data/deseq2_reference/synthetic_batch_sheet.tsv.gz", sep="\t")
    sheet.to_csv(tmp_path / "sheet.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DLPC_COUNTS, tmp_path / "sheet.tsv", design="~ batch + Group",
                        de={"engine": "voom", "test": "lrt", "reduced": "~ batch"}, paracrine={"robustness": False})
    ds = load_datasets({"dlpc_liver": spec}).datasets["dlpc_liver"]
    h5ad = tmp_path / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {c: {k: str(tmp_path / f"{c}.{k}.tsv") for k in OUTPUT_KINDS} for c in ds.contrasts}
    lrt = {"table": str(tmp_path / "design.lrt.tsv"), "summary": str(tmp_path / "design.lrt.summary.tsv")}
    tables = run_de_voom(str(h5ad), ds.params(rule="de"), outputs, lrt=lrt)
    written = pd.read_csv(lrt["table"], sep="\t")
    ref = assert_f_like_r(written, "voom_batch_F_Group")
    summary = pd.read_csv(lrt["summary"], sep="\t").iloc[0]
    assert summary["test"] == "moderated F ~ batch + Group vs ~ batch"
    assert summary["significant"] == (ref["adj.P.Val"] < 0.05).sum()
    one = tables["disease_vs_chow"].set_index("gene_id").loc[ref.index]
    np.testing.assert_allclose(one["pvalue"], written.set_index("gene_id").loc[ref.index, "pvalue"], rtol=1e-9)
    assert one["B"].isna().all()
    wald = pd.read_csv(VOOM_REF / "voom_batch_Disease_vs_Chow.tsv.gz", sep="\t", index_col=0)
    np.testing.assert_allclose(one["log2FoldChange"], wald.loc[ref.index, "logFC"], rtol=1e-8)


def test_design_test_with_trend_and_robust_is_rs():
    """The same F test after eBayes(trend = TRUE, robust = TRUE): df.prior differs by gene (the F's denominator)."""
    counts, sheet = dlpc_filtered()
    meta = design_metadata(sheet, ["batch", "Group"], CONTRASTS)
    result = voom_tables(counts, meta, "~ batch + Group", {"c": CONTRASTS["Disease_vs_Chow"]},
                         {"lfc_threshold": 0.0, "trend": True, "robust": True, "test": "lrt", "reduced": "~ batch"},
                         pd.Series("x", index=counts.index))
    assert_f_like_r(result.design_test, "voom_batch_F_Group_trend_robust")
