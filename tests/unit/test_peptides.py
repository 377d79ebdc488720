"""lsecflow.peptides: a MaxQuant peptides.txt summarised to proteins as R summarises it (stats::medpolish with
na.rm, DEqMS 1.25.0's medianSweeping, iq 2.0.0's maxLFQ, the sum of intensities;
``tests/data/peptides/make_reference.R``) on the
real UPS1 spike-in peptides (100 vs 10 fmol in yeast, known truth), and through ingest and DE to the truth."""
from __future__ import annotations

import gzip
import re

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO, load_config, run_protein_de, write_config
from lsecflow import protein_tables
from lsecflow.errors import ConfigError, InputDataError
from lsecflow.ingest import run_ingest
from lsecflow.peptides import maxlfq, median_polish, summarise
from lsecflow.proteomics import preprocess_dataset

TABLE = REPO / "resources/data/ups1_peptides/peptides_trimmed.tsv.gz"
TRUTH = REPO / "resources/data/ups1_peptides/truth.tsv.gz"
REF = REPO / "tests/data/peptides"
RUNS = ["10_R1", "10_R2", "10_R3", "100_R1", "100_R2", "100_R3"]


def _spec(**proteomics) -> dict:
    spec = yaml.safe_load((REPO / "config/datasets/ups1_peptides.yaml").read_text())
    spec["counts"]["path"] = str(TABLE)
    spec["samples"]["sheet"] = str(REPO / spec["samples"]["sheet"])
    spec["proteomics"].update(proteomics)
    return spec


@pytest.fixture(scope="module")
def peptides() -> tuple[pd.DataFrame, pd.Series]:
    """The log2 intensities of the peptides with a value, and their leading razor proteins, as the R script."""
    table = pd.read_csv(TABLE, sep="\t")
    x = np.log2(table[[f"Intensity {r}" for r in RUNS]].set_axis(RUNS, axis=1).replace(0, np.nan))
    keep = x.notna().any(axis=1)
    return x[keep], table.loc[keep, "Leading razor protein"]


@pytest.mark.parametrize("method", ["median_polish", "median_sweep", "maxlfq", "diann_maxlfq", "sum"])
def test_each_summary_is_rs(peptides, method):
    """915 proteins from 5,538 peptides: the same missing cells as R and values within 1e-12 (measured 8e-14);
    median polish stops unconverged after 10 iterations on the same 12 proteins as R warns of, and MaxLFQ splits
    the samples of the same 6 proteins into separate components as iq annotates. DIA-NN's MaxLFQ (the diann
    package's diann_maxlfq): within 1e-10 (measured 4.1e-11; its ridge leaves the system with a condition number
    near 1e4, and R's levels and these are each ~2e-11 from a 40-digit solution)."""
    ref = pd.read_csv(REF / f"ups1_{method}.tsv.gz", sep="\t", index_col=0)
    got, not_converged = summarise(*peptides, method)
    assert sorted(got.index) == sorted(ref.index) and len(got) == 915
    got = got.loc[ref.index]
    assert (got.isna().to_numpy() == ref.isna().to_numpy()).all()
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-10 if method == "diann_maxlfq" else 1e-12)
    flags = {"median_polish": "ups1_median_polish_not_converged.txt", "maxlfq": "ups1_maxlfq_split.txt"}
    expected = int((REF / flags[method]).read_text()) if method in flags else 0
    assert not_converged == expected
    assert (expected > 0) == (method in flags)  # the flagged cases are exercised


def test_median_polish_on_a_small_matrix_with_gaps():
    """R 4.2.2's medpolish(rbind(c(1,2,NA,4), c(2,NA,5,7), c(0,1,2,3)), na.rm = TRUE), printed with 17 digits:
    converged at the 7th sweep; a column without a value keeps an NaN effect."""
    overall, row, col, converged = median_polish(np.array([[1, 2, np.nan, 4], [2, np.nan, 5, 7], [0, 1, 2, 3.]]))
    assert converged and overall == 2.4921875
    np.testing.assert_array_equal(col, [-1.4923095703125, -0.49224853515625, 0.49993896484375, 1.5078125])
    np.testing.assert_array_equal(row, [0, 2.015625, -0.9998779296875])
    _, _, col, _ = median_polish(np.array([[1, np.nan], [2, np.nan]]))
    assert np.isnan(col[1]) and not np.isnan(col[0])


def test_maxlfq_on_small_matrices():
    """iq's rules (its maxLFQ in R gives these values and annotations): one peptide is its own values; a sample
    without a shared peptide is a component of its own (its peptides' median), and the split is reported; two
    samples sharing peptides get the levels of their median ratio around the mean of their values."""
    level, split = maxlfq(np.array([[1.0, np.nan, 3.0]]))
    np.testing.assert_array_equal(level, [1.0, np.nan, 3.0])
    assert not split
    level, split = maxlfq(np.array([[10.0, 11.0, np.nan], [12.0, 14.0, np.nan], [np.nan, np.nan, 5.0],
                                    [np.nan, np.nan, 7.0]]))
    # samples 1-2: median ratio 1.5, mean of their values 11.75 -> 11.0 and 12.5; sample 3 alone: median 6
    np.testing.assert_allclose(level, [11.0, 12.5, 6.0], rtol=0, atol=1e-12)
    assert split


def test_the_table_reads_as_its_proteins():
    """Detected from its header; each protein's count is its number of quantified peptides (R's table of the
    peptides with a value); a UPS1 protein is named by its peptides' gene name, a yeast one by its id."""
    header = protein_tables.read_header(TABLE)
    assert protein_tables.detect_protein_format(header) == "maxquant_peptides"
    values, var, report = protein_tables.read_protein_table(TABLE, "maxquant_peptides", RUNS,
                                                            {"intensity": "intensity"}, "human")
    counts = pd.read_csv(REF / "ups1_peptide_counts.tsv.gz", sep="\t", index_col=0)["peptides"]
    assert var["count"].reindex(counts.index).tolist() == counts.astype(float).tolist()
    assert report["peptides"] == 5633 and report["peptides_without_a_value"] == 95 and report["proteins"] == 915
    assert var.loc["P01375ups|TNFA_HUMAN_UPS", "symbol"] == "TNF"
    assert var.loc["sp|P09938|RIR2_YEAST", "symbol"] == "sp|P09938|RIR2_YEAST"
    polish = pd.read_csv(REF / "ups1_median_polish.tsv.gz", sep="\t", index_col=0)
    np.testing.assert_allclose(np.log2(values.loc[polish.index].to_numpy()), polish.to_numpy(), atol=1e-12)


def _bent(tmp_path, edit) -> str:
    lines = gzip.open(TABLE, "rt").read().splitlines()
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    edit(header, rows)
    out = tmp_path / "peptides.txt"
    out.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n")
    return str(out)


def test_flagged_peptides_are_removed_and_a_peptide_without_protein_is_named(tmp_path):
    def flag(header, rows):
        rows[1][header.index("Reverse")] = "+"
    values, _, report = protein_tables.read_protein_table(_bent(tmp_path, flag), "maxquant_peptides", RUNS,
                                                          {"intensity": "intensity"}, "human")
    assert report["removed"] == {"Reverse": 1} and report["peptides"] == 5632

    def orphan(header, rows):
        rows[1][header.index("Leading razor protein")] = ""
    with pytest.raises(InputDataError, match=re.escape("1 peptide(s) have no protein (first: "
                                                       "'AAAEYEKGEYETAISTINDAVEQGR')")):
        protein_tables.read_protein_table(_bent(tmp_path, orphan), "maxquant_peptides", RUNS,
                                          {"intensity": "intensity"}, "human")


def _set(column, value, row=1):
    def edit(header, rows):
        rows[row][header.index(column)] = value
    return edit


@pytest.mark.parametrize("edit, says", [
    (_set("Sequence", "AAADAISDIEIK"), "peptide 'AAADAISDIEIK' is on more than one row (1 sequences repeated): "
                                       "MaxQuant's peptides.txt lists each sequence once"),
    (_set("Intensity 10_R1", "n. def."), "column 'Intensity 10_R1', peptide 'AAAEYEKGEYETAISTINDAVEQGR': value "
                                         "'n. def.' is not a finite number"),
    (_set("Sequence", ""), "1 row(s) have no peptide id in column 'Sequence' (first at line 3)"),
])
def test_a_bent_peptide_table_is_refused_naming_the_peptide(tmp_path, edit, says):
    """Found by bench/fuzz_proteins.py --table peptides: a repeated sequence was summarised twice without a word
    (a pasted row, or MaxQuant's modified-peptide table); the other messages named a peptide a protein."""
    with pytest.raises(InputDataError, match=re.escape(says)):
        protein_tables.read_protein_table(_bent(tmp_path, edit), "maxquant_peptides", RUNS, {"intensity": "intensity"},
                                          "human")


def test_config_keys_of_peptide_tables(tmp_path):
    """DEqMS takes the peptide counts without count_column; count_column (a protein table's) and summarise on a
    protein table are refused at start-up, each named."""
    ds = load_config(yaml.safe_load(write_config(tmp_path, {"pep": _spec()}).read_text()),
                     roots=[tmp_path, REPO]).datasets["pep"]
    assert ds.format == "maxquant_peptides" and ds.spec["de"]["deqms"] == "loess"
    bad = _spec(count_column="Razor + unique peptides")
    with pytest.raises(ConfigError, match=re.escape("proteomics.count_column is read for maxquant, fragpipe, diann, "
                                                    "spectronaut and protein_table tables")):
        load_config(yaml.safe_load(write_config(tmp_path, {"pep": bad}).read_text()), roots=[tmp_path, REPO])
    protein = yaml.safe_load((REPO / "config/datasets/ups1_spikein.yaml").read_text())
    protein["counts"]["path"] = str(REPO / protein["counts"]["path"])
    protein["samples"]["sheet"] = str(REPO / protein["samples"]["sheet"])
    protein["proteomics"]["summarise"] = "sum"
    with pytest.raises(ConfigError, match=re.escape("proteomics.summarise is read for maxquant_peptides, "
                                                    "diann_report, spectronaut_report and peptide_table tables")):
        load_config(yaml.safe_load(write_config(tmp_path, {"prot": protein}).read_text()), roots=[tmp_path, REPO])


def test_peptides_to_de_find_the_spiked_proteins(tmp_path):
    """The shipped dataset (median polish, DEqMS loess) through ingest and DE: every tested UPS1 protein called
    at padj < 0.05 and their median log2 fold change within 0.3 of the truth, log2(10) = 3.32 (measured: 42/42,
    3.15). Technical replicates: many yeast proteins are called too (docs/proteomics.md)."""
    table, _ = run_protein_de(tmp_path, _spec())
    truth = pd.read_csv(TRUTH, sep="\t", index_col=0)["class"].reindex(table.index)
    ups = truth.eq("UPS1_human")
    assert ups.sum() == 42 and (table.loc[ups, "padj"] < 0.05).all()
    assert abs(table.loc[ups, "log2FoldChange"].median() - np.log2(10)) < 0.3
    assert table["peptide_count"].min() >= 1


def test_the_preprocessing_table_starts_with_the_summary(tmp_path):
    """qc/preprocessing.tsv (and the report) say how the proteins were made, before the protein steps."""
    ds = load_config(yaml.safe_load(write_config(tmp_path, {"pep": _spec()}).read_text()),
                     roots=[tmp_path, REPO]).datasets["pep"]
    run_ingest(ds.params(rule="ingest"), str(tmp_path / "counts.h5ad"))
    _, _, pre = preprocess_dataset(ad.read_h5ad(tmp_path / "counts.h5ad"), ds.spec)
    assert [s["step"] for s in pre.steps[:2]] == ["summarise", "input"]
    assert pre.steps[0]["detail"] == ("5633 peptides (95 without a value, left out) summarised to 915 proteins by "
                                      "median_polish; median polish did not converge in 10 sweeps for 12 of 915 "
                                      "proteins (R's medpolish warns the same; their values are the 10th sweep's)")
