"""lsecflow.de_edger (``de.engine: edger``): the rule's entry point from a config on the real DLPC counts against
R edgeR (tests/data/edger/make_reference.R), its files and leave-one-out refits, the design test, and the keys
edgeR does not read refused at parse time."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import DLPC_COUNTS, dlpc_dataset, load_datasets
from lsecflow.de_edger import COLUMNS, DISPERSION_COLUMNS, contrast_tables, edger_tables, run_de_edger
from lsecflow.de_files import OUTPUT_KINDS
from lsecflow.errors import ConfigError
from lsecflow.formula import design_metadata
from lsecflow.ingest import run_ingest
from scipy.stats import norm
from test_edger import REF
from test_voom import dlpc_filtered

R_COLUMNS = {"log2FoldChange": "logFC", "logCPM": "logCPM", "F": "F", "pvalue": "PValue", "padj": "FDR",
             "df_total": "df_total"}


def assert_like_r(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    """edgeR's columns within 1e-6 relative (p-values, whose last digits follow the GLM's convergence
    tolerance; the others far closer), and the signed statistic GSEA ranks by."""
    ours = ours.set_index("gene_id").loc[ref.index]
    for col, r_col in R_COLUMNS.items():
        np.testing.assert_allclose(ours[col], ref[r_col], rtol=1e-6, atol=1e-10, err_msg=col)
    np.testing.assert_allclose(ours["stat"], np.sign(ref["logFC"]) * np.sqrt(ref["F"]), rtol=1e-6, atol=1e-7)


def run_from_config(folder, counts, **de) -> tuple[dict, dict, object]:
    """de.engine: edger through load_config, ingest and run_de_edger in ``folder``; (tables, outputs, dataset)."""
    spec = dlpc_dataset(counts, de={"engine": "edger", **de})
    if counts == DLPC_COUNTS:  # the whole matrix: no leave-one-out refits (20 whole-pipeline refits: 20 s)
        spec["paracrine"] = {"robustness": False}
    ds = load_datasets({"dlpc_liver": spec}).datasets["dlpc_liver"]
    h5ad = folder / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {c: {k: str(folder / f"{c}.{k}.tsv") for k in OUTPUT_KINDS} for c in ds.contrasts}
    tables = run_de_edger(str(h5ad), ds.params(rule="de"), outputs, dispersions=str(folder / "dispersions.tsv.gz"))
    return tables, outputs, ds


def test_entry_point_from_config(tmp_path):
    """de.engine: edger through load_config, ingest and run_de_edger: R's table, the four other files of each
    contrast (CPM of the TMM libraries; edgeR's log CPM), and the fit's dispersion file (R's values)."""
    tables, outputs, _ = run_from_config(tmp_path, DLPC_COUNTS)
    disp = pd.read_csv(tmp_path / "dispersions.tsv.gz", sep="\t", index_col="gene_id")
    ref = pd.read_csv(REF / "dispersions.tsv.gz", sep="\t", index_col="gene_id")
    assert list(disp.columns) == DISPERSION_COLUMNS[1:] and len(disp) == len(ref)
    for ours, theirs in (("logCPM", "AveLogCPM"), ("trended", "trended"), ("common", "common"),
                         ("s2_post", "s2_post"), ("df_prior", "df_prior")):
        np.testing.assert_allclose(disp.loc[ref.index, ours], ref[theirs], rtol=1e-9, err_msg=ours)
    assert_like_r(tables["disease_vs_chow"], pd.read_csv(REF / "ql_Disease_vs_Chow.tsv.gz", sep="\t", index_col=0))
    written = pd.read_csv(outputs["agonist_vs_chow"]["table"], sep="\t")
    assert list(written.columns) == COLUMNS and (written["padj"] < 0.05).sum() > 100
    log_cpm = pd.read_csv(outputs["agonist_vs_chow"]["vst"], sep="\t", index_col=0)
    cpm = pd.read_csv(outputs["agonist_vs_chow"]["normalized"], sep="\t", index_col=0)
    assert log_cpm.shape == cpm.shape == (15974, 20)
    assert (log_cpm.to_numpy() > np.log2(cpm.to_numpy() + 1e-9) - 1e-9).mean() > 0.5  # the prior lifts low counts
    assert (pd.read_csv(outputs["disease_vs_chow"]["summary"], sep="\t")["status"] == "tested").all()


def test_leave_one_out_refits_the_whole_pipeline(tmp_path, dlpc_small):
    """The leave-one-out file on the real DLPC subset (2,000 genes): every significant paracrine factor refitted
    without each sample of the contrast's groups, and each refit is edgeR's pipeline on the kept samples (TMM,
    dispersions and the QL fit redone: the same numbers as contrast_tables without that sample)."""
    from lsecflow.de_inputs import count_unit, fit_samples, testable

    tables, outputs, ds = run_from_config(tmp_path, dlpc_small)
    loo = pd.read_csv(outputs["agonist_vs_chow"]["loo"], sep="\t")
    table = tables["agonist_vs_chow"]
    sig = set(table.loc[table["padj"] < 0.05, "gene_id"])
    in_groups = dlpc_filtered()[1]["Group"].isin(["Chow", "Disease/Agonist"]).sum()
    assert len(loo) > 5 * in_groups and set(loo["gene_id"]) <= sig and loo["left_out"].nunique() == in_groups
    params = ds.params(rule="de")
    adata = fit_samples(ad.read_h5ad(tmp_path / "counts.h5ad"), params)
    counts, meta, contrasts, _, _ = count_unit(adata, params, testable(adata, params, outputs))
    left = loo["left_out"].iloc[0]
    keep = counts.columns != left
    again, _ = contrast_tables(counts.loc[:, keep], meta.loc[keep], "~ Group",
                               {"agonist_vs_chow": contrasts["agonist_vs_chow"]}, ds.spec["de"])
    mine = loo[loo["left_out"] == left].set_index("gene_id")
    np.testing.assert_allclose(mine["pvalue"], again["agonist_vs_chow"].loc[mine.index, "pvalue"], rtol=1e-9)  # 10 digits


def test_design_test_is_edgers_f_test_of_the_dropped_coefficients():
    """de.test: lrt with ~ batch + Group against ~ batch: glmQLFTest of both Group coefficients (R's table; the
    batch is SYNTHETIC), and every contrast table carries its p-values."""
    counts, sheet = dlpc_filtered()
    contrasts = {"Disease_vs_Chow": {"variable": "Group", "target": "Disease", "reference": "Chow"}}
    meta = design_metadata(sheet, ["batch", "Group"], contrasts)
    opts = {"test": "lrt", "reduced": "~ batch"}
    res = edger_tables(counts, meta, "~ batch + Group", contrasts, opts, pd.Series("x", index=counts.index))
    ref = pd.read_csv(REF / "ql_batch_F_Group.tsv.gz", sep="\t", index_col=0)
    f = res.design_test.set_index("gene_id").loc[ref.index]
    np.testing.assert_allclose(f["stat"], ref["F"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(f["pvalue"], ref["PValue"], rtol=1e-6, atol=1e-12)
    assert [c for c in f.columns if c.startswith("log2FC_")] == ["log2FC_Group[T.Disease]",
                                                                 "log2FC_Group[T.Disease/Agonist]"]
    table = res.tables["Disease_vs_Chow"].set_index("gene_id").loc[ref.index]
    np.testing.assert_allclose(table["pvalue"], f["pvalue"])
    batch_only = pd.read_csv(REF / "ql_batch_Disease_vs_Chow.tsv.gz", sep="\t", index_col=0)
    np.testing.assert_allclose(table["log2FoldChange"], batch_only["logFC"], atol=1e-10)  # the contrast's own FC


def test_lfc_threshold_is_glmtreat():
    """de.lfc_threshold under edgeR: glmTreat's p-values (R's, on DLPC), stat their signed normal quantile, and
    far fewer calls than the test against 0 cut at that fold change."""
    counts, sheet = dlpc_filtered()
    contrasts = {"c": {"variable": "Group", "target": "Disease", "reference": "Chow"}}
    meta = design_metadata(sheet, ["Group"], contrasts)
    tables, _ = contrast_tables(counts, meta, "~ Group", contrasts, {"lfc_threshold": 1.0})
    t = tables["c"]
    ref = pd.read_csv(REF / "treat1_Disease_vs_Chow.tsv.gz", sep="\t", index_col=0)
    np.testing.assert_allclose(t.loc[ref.index, "pvalue"], ref["PValue"], rtol=1e-6)
    np.testing.assert_allclose(t.loc[ref.index, "padj"], ref["FDR"], rtol=1e-6)
    np.testing.assert_allclose(np.abs(t["stat"]), norm.isf(t["pvalue"] / 2))
    assert (np.sign(t["stat"]) == np.sign(t["log2FoldChange"])).all()
    assert (t["pvalue"] < 1e-3).sum() == 50  # the point test against 0: 167 genes under 1e-3 (R: the same 50)


@pytest.mark.parametrize("de, says", [
    ({"engine": "edger", "trend": True}, "de.trend"),
    ({"engine": "edger", "sample_weights": True}, "de.sample_weights"),
    ({"engine": "edger", "shrink": True}, "de.shrink"),
])
def test_keys_edger_does_not_read_are_refused(de, says):
    with pytest.raises(ConfigError, match=says.replace(".", r"\.").replace("(", r"\(")):
        load_datasets({"dlpc_liver": dlpc_dataset(DLPC_COUNTS, de=de)})


def test_robust_is_read():
    ds = load_datasets({"dlpc_liver": dlpc_dataset(DLPC_COUNTS, de={"engine": "edger", "robust": True})})
    assert ds.datasets["dlpc_liver"].spec["de"]["robust"] is True


def test_estimate_disp_refuses_a_design_without_residual_df():
    """edgeR's own check, for callers of lsecflow.edger (the DE entry points stop earlier, with every engine:
    test_de_inputs.py)."""
    from lsecflow.edger import NoResidualDF, estimate_disp

    X = np.column_stack([np.ones(4), [0, 0, 1, 1], [0, 1, 0, 0], [0, 0, 1, 0]])
    with pytest.raises(NoResidualDF, match="4 coefficients for 4 samples"):
        estimate_disp(np.full((10, 4), 50.0), X, np.full(4, 1e6))
