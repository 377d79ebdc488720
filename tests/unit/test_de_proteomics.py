"""lsecflow.de_proteomics: the proteomics DE entry point on the real UPS1 spike-in, judged by its known truth."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import (
    REPO,
    SECRETOME,
    UPS1_TABLE,
    UPS1_TRUTH,
    agreement,
    assert_matches,
    r_table,
    run_protein_de,
    secretome_dataset,
    ups1_dataset,
    write_config,
)
from lsecflow.calls import is_significant
from lsecflow.config import load_config
from lsecflow.de_files import OUTPUT_KINDS
from lsecflow.de_proteomics import run_de_proteomics
from lsecflow.errors import InputDataError
from lsecflow.ingest import run_ingest


# ------------------------------------------------------------------------------------------ the UPS1 truth
def ups1_truth(table: pd.DataFrame) -> pd.DataFrame:
    truth = pd.read_csv(UPS1_TRUTH, sep="\t", dtype={"id": str})
    truth = truth[truth["class"] != "decoy"]  # six decoys share a 'Protein IDs' value with their yeast protein
    ids = pd.read_csv(UPS1_TABLE, sep="\t", dtype=str, usecols=["id", "Protein IDs"]).set_index("id")["Protein IDs"]
    truth.index = truth["id"].map(ids)
    return table.join(truth[["class"]], on="gene_id")


def test_ups1_truth_and_fold_change_threshold(tmp_path):
    """Every UPS1 protein that passes the filter is called, their median log2FC is within 0.2 of 1.32; the
    yeast false-discovery proportion is reported, and de.lfc_threshold from the config lowers it."""
    cfg = write_config(tmp_path, {"ups1": ups1_dataset()})
    results = {}
    for threshold in (0.0, 0.5):
        conf = yaml.safe_load(cfg.read_text())
        conf["datasets"]["ups1"].setdefault("de", {})["lfc_threshold"] = threshold
        ds = load_config(conf, roots=[tmp_path, REPO], source=str(cfg)).datasets["ups1"]
        h5ad = tmp_path / f"counts_{threshold}.h5ad"
        run_ingest(ds.params(rule="ingest"), str(h5ad))
        outputs = {"fmol25_vs_fmol10": {k: str(tmp_path / f"{threshold}.{k}.tsv") for k in OUTPUT_KINDS}}
        table = run_de_proteomics(str(h5ad), ds.params(rule="de"), outputs)["fmol25_vs_fmol10"]
        table = ups1_truth(table)
        called = is_significant(table, 0.05, threshold)
        ups1 = table[table["class"] == "UPS1_human"]
        assert len(ups1) == 42 and abs(ups1["log2FoldChange"].median() - np.log2(2.5)) < 0.2
        yeast_fp = int((called & (table["class"] == "yeast")).sum())
        results[threshold] = (yeast_fp / int(called.sum()), int(called[ups1.index].sum()))
        print(f"lfc_threshold {threshold}: {int(called.sum())} called, {results[threshold][1]} of 42 UPS1, "
              f"{yeast_fp} yeast; observed FDP {results[threshold][0]:.3f}; UPS1 median log2FC "
              f"{ups1['log2FoldChange'].median():.3f}")
    assert results[0.0] == (pytest.approx(41 / 83, abs=1e-9), 42)  # all 42 called; R limma's FDP 41 / 83
    # treat against |log2FC| > 0.5: the yeast FDP more than halves; two noisy UPS1 proteins (MB, C5) drop out
    assert results[0.5][0] < results[0.0][0] / 2 and results[0.5][1] >= 40


def test_deqms_from_the_config_matches_r_and_the_truth(tmp_path):
    """de.deqms with proteomics.count_column through load_config, ingest (the counts travel in the h5ad) and the
    DE entry point: R DEqMS's table (make_reference.R, ups1.deqms) and the UPS1 truth (all 42 called)."""
    spec = ups1_dataset(de={"deqms": True})
    spec["proteomics"]["count_column"] = "Razor + unique peptides"
    table, outputs = run_protein_de(tmp_path, spec)
    table = table.reset_index()
    ref = r_table("ups1.deqms.tsv.gz")
    ours = table.set_index("gene_id").loc[ref.index]
    np.testing.assert_allclose(ours["stat"], ref["sca_t"], rtol=1e-9)
    np.testing.assert_allclose(ours["padj"], ref["sca_adj"], rtol=1e-9)
    written = pd.read_csv(outputs["table"], sep="\t")
    np.testing.assert_array_equal(written.set_index("gene_id").loc[ref.index, "peptide_count"], ref["count"])
    assert int((written["padj"] < 0.05).sum()) == int((ref["sca_adj"] < 0.05).sum()) == 91
    truth = ups1_truth(table)
    called = is_significant(truth, 0.05, 0.0)
    assert int(called[truth["class"] == "UPS1_human"].sum()) == 42


def test_design_test_is_limmas_moderated_f_with_missing_values(tmp_path):
    """de.test: lrt on proteins: limma's moderated F test of the coefficients de.reduced drops, from the config
    through the DE entry point, against R's topTable(coef = 2:3) of ~ batch + group (make_reference.R; batch
    SYNTHETIC) on the real UPS1 intensities: F, p and padj within 1e-8, NA where R's is (7 proteins whose batch
    coefficient the observed runs cannot estimate), and every contrast table carrying the F test's p-values."""
    sheet = pd.read_csv(REPO / "config/samples/ups1_spikein.tsv", sep="\t")
    sheet["batch"] = np.where(sheet["replicate"] == 3, "b", "a")
    sheet.to_csv(tmp_path / "sheet.tsv", sep="\t", index=False)
    spec = ups1_dataset(design="~ batch + group", de={"test": "lrt", "reduced": "~ 1"})
    spec["samples"]["sheet"] = str(tmp_path / "sheet.tsv")
    lrt = {"table": str(tmp_path / "design.lrt.tsv"), "summary": str(tmp_path / "design.lrt.summary.tsv")}
    table, _ = run_protein_de(tmp_path, spec, lrt=lrt)
    table = table.reset_index()
    ref = r_table("ups1.f_batch_group.tsv.gz")
    ours = pd.read_csv(lrt["table"], sep="\t", index_col="gene_id").loc[ref.index]
    for col, r_col in (("stat", "F"), ("pvalue", "P.Value"), ("padj", "adj.P.Val"), ("AveExpr", "AveExpr")):
        np.testing.assert_allclose(ours[col], ref[r_col], rtol=1e-8, atol=1e-12, err_msg=col)
    assert ours["stat"].isna().sum() == ref["F"].isna().sum() == 7
    assert int((ours["padj"] < 0.05).sum()) == int((ref["adj.P.Val"] < 0.05).sum()) == 66
    one = table.set_index("gene_id").loc[ref.index]
    np.testing.assert_allclose(one["pvalue"], ours["pvalue"], rtol=1e-9)  # the file keeps 10 digits
    assert pd.read_csv(lrt["summary"], sep="\t").at[0, "test"] == "moderated F ~ batch + group vs ~ 1"


def test_no_refit_without_a_sample_the_design_needs(caplog):
    """SYNTHETIC log values, ~ group + batch with batches x, x, y, y, z, z over groups a, a, a, b, b, b: batch y
    holds one sample of each group, so without s2 or s3 group is confounded with batch (the design cannot be
    fitted: R's edgeR stops, limma would drop a column and test a different model). Those two get no refit, with
    a warning, as in the DESeq2 engine's refits; the other four are refitted."""
    from lsecflow.de_options import de_defaults
    from lsecflow.de_proteomics import leave_one_out
    from lsecflow.formula import design_metadata

    samples = [f"s{i}" for i in range(6)]
    sheet = pd.DataFrame({"group": ["a"] * 3 + ["b"] * 3, "batch": ["x", "x", "y", "y", "z", "z"]}, index=samples)
    contrasts = {"b_vs_a": {"variable": "group", "target": "b", "reference": "a"}}
    meta = design_metadata(sheet, ["group", "batch"], contrasts)
    rng = np.random.default_rng(1)
    sd = np.sqrt(0.05 * 4 / rng.chisquare(4, 50))  # variances that differ between proteins (a finite prior df)
    values = pd.DataFrame(10 + rng.normal(0, 1, (50, 6)) * sd[:, None], index=[f"p{i}" for i in range(50)],
                          columns=samples)
    values.iloc[0, 3:] += 3  # one induced factor
    table = pd.DataFrame({"gene_id": values.index, "symbol": ["Tnf"] + [f"X{i}" for i in range(49)],
                          "log2FoldChange": [3.0] + [0.0] * 49, "padj": [1e-4] + [0.9] * 49})
    opts = {**de_defaults(), "engine": "limma"}
    with caplog.at_level("WARNING"):
        loo = leave_one_out(values, meta, "~ group + batch", contrasts, opts, {"b_vs_a": table}, {"Tnf"})
    assert sorted(loo["b_vs_a"]["left_out"]) == ["s0", "s1", "s4", "s5"]
    assert "no refit without s2" in caplog.text and "no refit without s3" in caplog.text
    assert "confounded" in caplog.text


def test_robust_lmfit_is_set_against_least_squares(tmp_path, caplog):
    """lm_method: robust on the real UPS1 table: the DE log sets its calls against least squares on the same
    matrix (128 against 83: the 45 extra are all yeast, false, docs/proteomics.md) as a warning; with treat
    (lfc_threshold 0.5: 41 against 40) as information only."""
    with caplog.at_level("INFO", logger="lsecflow.de_proteomics"):
        table, _ = run_protein_de(tmp_path, ups1_dataset(de={"lm_method": "robust"}))
    called = ups1_truth(table.reset_index())
    called = called.loc[called["padj"] < 0.05, "class"].value_counts()
    assert (called.get("UPS1_human"), called.get("yeast")) == (42, 86)  # least squares: 42 and 41
    line = [r for r in caplog.records if "the robust lmFit calls" in r.getMessage()]
    assert len(line) == 1 and line[0].levelname == "WARNING", caplog.text
    assert "calls 128 proteins, least squares on the same matrix 83" in line[0].getMessage()
    caplog.clear()
    with caplog.at_level("INFO", logger="lsecflow.de_proteomics"):
        run_protein_de(tmp_path, ups1_dataset(de={"lm_method": "robust", "lfc_threshold": 0.5}), prefix="treat")
    line = [r for r in caplog.records if "the robust lmFit calls" in r.getMessage()]
    assert len(line) == 1 and line[0].levelname == "INFO" and "calls 41 proteins" in line[0].getMessage()


# ------------------------------------------------------------------------------------------ crossed design vs R
SECRETOME_REF = REPO / "tests/data/secretome_interaction"
CROSSED = {
    "cppp_in_hcaec": {"variable": "group", "target": "CPPP", "reference": "PBS", "within": {"cell_type": "HCAEC"}},
    "cppp_in_hitaec": {"variable": "group", "target": "CPPP", "reference": "PBS", "within": {"cell_type": "HITAEC"}},
    "cppp_by_cell": {"variable": "group", "target": "CPPP", "reference": "PBS",
                     "interaction": {"variable": "cell_type", "target": "HCAEC", "reference": "HITAEC"}},
}
needs_secretome = pytest.mark.skipif(not (SECRETOME / "proteins_maxlfq.tsv.gz").exists(),
                                     reason="the secretome is not shipped (no licence); staged in ../shared only")


def crossed_de(folder, design: str = "~ cell_type * group", contrasts: dict = CROSSED, de: dict | None = None,
               sheet: Path = SECRETOME / "samples_all.tsv", **proteomics):
    """The real HCAEC + HITAEC secretome (22 samples, cell_type x group) through config, ingest and the DE entry
    point (``de``: keys of the dataset's ``de`` block; with ``test: lrt`` the design test is written to
    ``folder``/design.lrt.tsv): every contrast's table indexed by protein id, and the matrix the tests saw."""
    spec = secretome_dataset(design=design, contrasts=contrasts, de=de or {})
    spec["samples"]["sheet"] = str(sheet)
    spec["proteomics"].update(proteomics)
    folder.mkdir(exist_ok=True)
    cfg = write_config(folder, {"secretome": spec})
    ds = load_config(yaml.safe_load(cfg.read_text()), roots=[folder, REPO], source=str(cfg)).datasets["secretome"]
    h5ad = folder / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {c: {k: str(folder / f"{c}.{k}.tsv") for k in OUTPUT_KINDS} for c in ds.contrasts}
    lrt = {"table": str(folder / "design.lrt.tsv"), "summary": str(folder / "design.lrt.summary.tsv")}
    tables = run_de_proteomics(str(h5ad), ds.params(rule="de"), outputs,
                               lrt=lrt if (de or {}).get("test") == "lrt" else None)
    values = pd.read_csv(outputs[next(iter(contrasts))]["normalized"], sep="\t", index_col="gene_id")
    return {name: t.set_index("gene_id") for name, t in tables.items()}, values


def secretome_ref(name: str) -> pd.DataFrame:
    return pd.read_csv(SECRETOME_REF / f"{name}.tsv.gz", sep="\t", index_col="protein_id")


@needs_secretome
def test_crossed_protein_design_matches_r_limma(tmp_path):
    """Within and interaction contrasts of ~ cell_type * group on the real secretome, and a plain contrast of
    ~ cell_type + group with filter_by a list of columns: R limma 3.54.1's numbers
    (tests/data/secretome_interaction/make_reference.R). The default filter holds each cell_type x group cell to
    min_valid (R's "cells" filter), so no protein misses a group the contrast compares."""
    tables, values = crossed_de(tmp_path)
    assert len(values) == 685
    for name in CROSSED:
        ref = secretome_ref(f"cells_{name}")
        assert list(tables[name].index.sort_values()) == list(ref.index.sort_values())
        assert_matches(agreement(tables[name], ref), tol=1e-7)  # R's table: 9 significant digits, |t| up to 60
        np.testing.assert_allclose(tables[name].loc[ref.index, "pvalue"], ref["P.Value"], rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(tables[name].loc[ref.index, "s2_post"], ref["s2_post"], rtol=1e-8)
    assert [int((tables[n]["padj"] < 0.05).sum()) for n in CROSSED] == [318, 190, 55]
    n = pd.read_csv(SECRETOME / "samples_all.tsv", sep="\t").groupby(["group", "cell_type"]).size()
    summary = pd.read_csv(tmp_path / "cppp_by_cell.summary.tsv", sep="\t").iloc[0]  # each cell, not 2 x 2 summed
    assert summary["n_by_level"] == (f"{n['CPPP', 'HCAEC']} vs {n['PBS', 'HCAEC']} samples in cell_type HCAEC, "
                                     f"{n['CPPP', 'HITAEC']} vs {n['PBS', 'HITAEC']} in cell_type HITAEC"), summary
    additive = {"cppp": {"variable": "group", "target": "CPPP", "reference": "PBS"}}
    tables, _ = crossed_de(tmp_path / "additive", "~ cell_type + group", additive, filter_by=["cell_type", "group"])
    ref = secretome_ref("cells_cppp_additive")
    assert_matches(agreement(tables["cppp"], ref), tol=1e-7)
    assert int((tables["cppp"]["padj"] < 0.05).sum()) == 304


@needs_secretome
@pytest.mark.parametrize("option, de", [("trend_robust", {"trend": True, "robust": True}),
                                        ("lm_robust", {"lm_method": "robust"}),
                                        ("weights", {"sample_weights": True}),
                                        ("deqms", {"deqms": True}),
                                        ("deqms_spline", {"deqms": "spline"}),
                                        ("block", {"block": "culture"})])
def test_crossed_design_with_each_limma_option_matches_r(tmp_path, option, de):
    """The interaction contrast of ~ cell_type * group on the real secretome with eBayes(trend, robust), lmFit's
    robust M-estimation, arrayWeights (gene by gene: the matrix has missing values), DEqMS (loess, and spline,
    over FragPipe's 'Combined Total Peptides') and a block (the replicate number within each cell type: whether
    replicates were paired culture runs is not stated, so this checks the arithmetic: duplicateCorrelation's
    consensus -0.018) as
    R limma 3.54.1 / DEqMS 1.25.0 (make_reference.R): the options' code paths with a crossed design, not only
    UPS1's two groups."""
    counts = {"count_column": "Combined Total Peptides"} if de.get("deqms") else {}
    sheet = pd.read_csv(SECRETOME / "samples_all.tsv", sep="\t", dtype=str)
    sheet["culture"] = sheet["cell_type"] + "_" + sheet["replicate"]  # the replicate number within a cell type
    sheet.to_csv(tmp_path / "sheet.tsv", sep="\t", index=False)
    tables, _ = crossed_de(tmp_path, contrasts={"cppp_by_cell": CROSSED["cppp_by_cell"]}, de=de,
                           sheet=tmp_path / "sheet.tsv", **counts)
    ref = secretome_ref(f"cells_cppp_by_cell_{option}")
    ours = tables["cppp_by_cell"]
    assert list(ours.index.sort_values()) == list(ref.index.sort_values())
    assert_matches(agreement(ours, ref), tol=1e-7)  # R's 9 digits; |t| up to ~60
    np.testing.assert_allclose(ours.loc[ref.index, "pvalue"], ref["P.Value"], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ours.loc[ref.index, "s2_post"], ref["s2_post"], rtol=1e-8)
    calls = {"trend_robust": 58, "lm_robust": 234, "weights": 10, "deqms": 52, "deqms_spline": 52, "block": 54}
    assert int((ours["padj"] < 0.05).sum()) == calls[option]


@needs_secretome
def test_crossed_interaction_term_is_limmas_moderated_f(tmp_path):
    """de.test: lrt with de.reduced ~ cell_type + group on the real secretome: limma's moderated F of the three
    cell_type:group coefficients, as R's topTable(coef = ...) (92 proteins at adj.P < 0.05)."""
    crossed_de(tmp_path, de={"test": "lrt", "reduced": "~ cell_type + group"})
    ours = pd.read_csv(tmp_path / "design.lrt.tsv", sep="\t", index_col="gene_id")
    ref = secretome_ref("cells_interaction_F")
    ours = ours.loc[ref.index]
    np.testing.assert_allclose(ours["stat"], ref["F"], rtol=1e-8)
    np.testing.assert_allclose(ours["pvalue"], ref["P.Value"], rtol=1e-7)
    called = set(ref.index[ref["adj.P.Val"] < 0.05])
    assert set(ref.index[ours["padj"] < 0.05]) == called and len(called) == 92


@needs_secretome
def test_unobserved_cell_gives_na_not_another_comparison(tmp_path):
    """With the filter on group alone, some proteins miss a whole cell_type x group cell. R's lm.fit then still
    reports "CPPP vs PBS within HCAEC" for a protein without HCAEC CPPP values: the HITAEC difference, to the
    last digit (208 proteins, 51 of them at adj.P < 0.05; 61 calls among the 322 proteins missing a cell the
    contrast compares). Here those coefficients are NA (lsecflow.formula.estimable); every other protein keeps
    R's numbers (the residual variances, the prior and so every other p are R's)."""
    from lsecflow.contrasts import cells

    tables, values = crossed_de(tmp_path, filter_by="group")
    sheet = pd.read_csv(SECRETOME / "samples_all.tsv", sep="\t", dtype=str).set_index("sample").loc[values.columns]
    r_hitaec = secretome_ref("group_cppp_in_hitaec")
    for name, c in CROSSED.items():
        ref, ours = secretome_ref(f"group_{name}"), tables[name].loc[values.index]
        empty = np.logical_or.reduce([values.loc[:, mask].notna().sum(axis=1).to_numpy() == 0
                                      for mask in cells(sheet, c).values()])
        assert empty.sum() > 0
        np.testing.assert_array_equal(ours["log2FoldChange"].isna().to_numpy(), empty)
        kept = values.index[~empty]
        np.testing.assert_allclose(ours.loc[kept, "log2FoldChange"], ref.loc[kept, "logFC"], atol=1e-8)
        np.testing.assert_allclose(ours.loc[kept, "stat"], ref.loc[kept, "t"], rtol=1e-8)
        np.testing.assert_allclose(ours.loc[kept, "s2_post"], ref.loc[kept, "s2_post"], rtol=1e-8)
        if name == "cppp_in_hcaec":  # R's number where HCAEC's CPPP samples are all missing: HITAEC's difference
            hcaec_cppp = next(mask for label, mask in cells(sheet, c).items() if "CPPP" in label)
            lost = values.index[values.loc[:, hcaec_cppp].isna().all(axis=1).to_numpy() & ref.loc[values.index,
                                                                                                  "logFC"].notna()]
            np.testing.assert_allclose(ref.loc[lost, "logFC"], r_hitaec.loc[lost, "logFC"], atol=1e-8)
            assert (len(lost), int((ref.loc[lost, "adj.P.Val"] < 0.05).sum())) == (208, 51)
            assert (int(empty.sum()), int((ref.loc[values.index[empty], "adj.P.Val"] < 0.05).sum())) == (322, 61)


def test_a_tested_protein_without_a_peptide_count_is_named(tmp_path):
    """de.deqms with a count missing for a protein that reaches the test: the DE job names the column and the
    protein (before: a KeyError from the message itself, which read a key the DE job's parameters do not carry;
    found by bench/fuzz_proteins.py)."""
    table = pd.read_csv(UPS1_TABLE, sep="\t", dtype=str, keep_default_na=False)
    kept = (table[["Reverse", "Potential contaminant", "Only identified by site"]] == "").all(axis=1)
    first = int(np.flatnonzero(kept)[0])
    table.iloc[first, table.columns.get_loc("Razor + unique peptides")] = ""
    path = tmp_path / "proteinGroups.txt"
    table.to_csv(path, sep="\t", index=False)
    spec = ups1_dataset(table=path, de={"deqms": True})
    spec["proteomics"]["count_column"] = "Razor + unique peptides"
    with pytest.raises(InputDataError, match=re.escape(f"proteomics.count_column 'Razor + unique peptides' has no "
                                                       f"count for 1 tested protein(s) (first: "
                                                       f"'{table.iloc[first]['Protein IDs']}')")):
        run_protein_de(tmp_path, spec)
