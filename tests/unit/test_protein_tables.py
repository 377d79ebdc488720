"""lsecflow.protein_tables: MaxQuant, DIA-NN and generic protein tables on the real UPS1 data (flagged rows
removed and counted), and bad tables named with their column and protein."""
from __future__ import annotations

import re

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import (
    REPO,
    UPS1_TABLE,
    bad_table,
    files_under,
    load_one,
    ups1_dataset,
    ups1_sheet,
)
from lsecflow import protein_tables
from lsecflow.errors import InputDataError, LsecflowError
from lsecflow.ingest import run_ingest


def layouts_of_ups1(tmp_path):
    """The real UPS1 LFQ values written as a DIA-NN pg_matrix and as a generic table with replicate rows."""
    sheet = ups1_sheet()
    values, var, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    runs = {s: f"D:\\raw\\2016\\{s}.raw" for s in sheet.index}
    diann = pd.DataFrame({"Protein.Group": values.index, "Protein.Ids": values.index, "Protein.Names": "",
                          "Genes": var["symbol"].to_numpy(), "First.Protein.Description": ""})
    for s, run in runs.items():
        diann[run] = values[s].replace(0, np.nan).to_numpy()
    diann_path = tmp_path / "report.pg_matrix.tsv"
    diann.to_csv(diann_path, sep="\t", index=False)
    generic = values.head(200).rename_axis("analyte").reset_index()
    spots = pd.concat([generic, generic.assign(**{s: generic[s] * 1.5 for s in sheet.index})])  # two spots each
    generic_path = tmp_path / "array.csv"
    spots.to_csv(generic_path, index=False)
    return values, diann_path, generic_path






# ------------------------------------------------------------------------------------------ readers
def test_maxquant_reader_removes_and_counts_flagged_rows():
    sheet = ups1_sheet()
    header = protein_tables.read_header(UPS1_TABLE)
    assert protein_tables.detect_protein_format(header) == "maxquant"
    values, var, report = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    # 24 decoys + 10 contaminants (one also 'only identified by site' is counted once, under its first flag)
    assert report["removed"] == {"Potential contaminant": 10, "Reverse": 24}
    assert values.shape == (2384 - 34, 6) and list(values.columns) == list(sheet.index)
    assert not any(i.startswith(("REV__", "CON__")) for i in values.index)
    raw = pd.read_csv(UPS1_TABLE, sep="\t", dtype={"Protein IDs": str})
    # (in this table six decoys' 'Protein IDs' lost their REV__ prefix: the Reverse flag removes them)
    raw = raw[raw["Reverse"].ne("+")].set_index("Protein IDs")
    assert np.array_equal(values["C_R1"].to_numpy(), raw.loc[values.index, "LFQ intensity C_R1"].to_numpy())
    # the raw intensities on request; a protein group of several genes keeps them all
    raw_int, _, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {"intensity": "intensity"},
                                                      "human", sheet)
    assert np.array_equal(raw_int["D_R2"].to_numpy(), raw.loc[raw_int.index, "Intensity D_R2"].to_numpy())
    assert var["symbol"].str.contains(";").sum() > 0


@pytest.mark.parametrize("mark", ["TRUE", "x", "yes"])
def test_maxquant_flags_written_otherwise_are_refused_not_ignored(tmp_path, mark):
    """MaxQuant writes '+' in Reverse / Potential contaminant / Only identified by site; a table re-saved with
    TRUE (or another mark) would have kept every decoy as a protein (before: refused only later, and for the
    wrong reason, duplicated ids). The reader names the column, the value and its line; with remove_flagged:
    false the flags are not read at all (this table then stops on its decoys' duplicated ids, its own problem)."""
    sheet = ups1_sheet()
    table = pd.read_csv(UPS1_TABLE, sep="\t", dtype=str, keep_default_na=False)
    table["Reverse"] = table["Reverse"].replace("+", mark)
    path = tmp_path / "proteinGroups.txt"
    table.to_csv(path, sep="\t", index=False)
    first = int(np.flatnonzero(table["Reverse"] == mark)[0]) + 2
    with pytest.raises(InputDataError, match=re.escape(f"proteinGroups.txt: column 'Reverse' holds '{mark}' (line "
                                                       f"{first}; 24 such rows): MaxQuant marks a flagged row with '+'")):
        protein_tables.read_protein_table(path, "maxquant", sheet.index, {}, "human", sheet)
    with pytest.raises(InputDataError, match="6 protein id.s. appear on more than one row"):
        protein_tables.read_protein_table(path, "maxquant", sheet.index, {"remove_flagged": False}, "human", sheet)


def test_diann_and_generic_layouts(tmp_path):
    sheet = ups1_sheet()
    values, diann_path, generic_path = layouts_of_ups1(tmp_path)
    assert protein_tables.detect_protein_format(protein_tables.read_header(diann_path)) == "diann"
    got, var, _ = protein_tables.read_protein_table(diann_path, "diann", sheet.index, {}, "human", sheet)
    # runs matched by file name; DIA-NN writes missing values as blanks (read as NaN, never as 0)
    pd.testing.assert_frame_equal(got.fillna(0), values, check_names=False)
    assert protein_tables.detect_protein_format(protein_tables.read_header(generic_path)) == "protein_table"
    with pytest.raises(InputDataError, match="appear on more than one row.*duplicate_ids: mean"):
        protein_tables.read_protein_table(generic_path, "protein_table", sheet.index, {}, "human", sheet)
    avg, _, report = protein_tables.read_protein_table(generic_path, "protein_table", sheet.index,
                                                       {"duplicate_ids": "mean"}, "human", sheet)
    assert report["replicate_rows_averaged"] == 200
    np.testing.assert_allclose(avg.to_numpy(), values.head(200).to_numpy() * 1.25)


def test_table_without_intensity_columns(tmp_path):
    path = bad_table(tmp_path, lambda df: df.drop(columns=[c for c in df.columns if "intensity" in c.lower()],
                                                  inplace=True))
    with pytest.raises(LsecflowError) as exc:
        load_one(tmp_path, ups1_dataset(table=path))
    msg = str(exc.value)
    assert path in msg and "sample 'C_R1'" in msg and "'LFQ intensity C_R1'" in msg


def test_sheet_names_columns_not_in_table(tmp_path):
    sheet = ups1_sheet().assign(column=lambda d: "LFQ intensity " + d["sample"])
    sheet.loc["D_R3", "column"] = "LFQ intensity D_R9"
    sheet_path = tmp_path / "sheet.tsv"
    sheet.to_csv(sheet_path, sep="\t", index=False)
    spec = ups1_dataset(samples={"sheet": str(sheet_path)})
    spec["proteomics"]["column_key"] = "column"
    with pytest.raises(LsecflowError, match=r"sample 'D_R3': the sheet's column 'column' names 'LFQ intensity D_R9'"):
        load_one(tmp_path, spec)


@pytest.mark.parametrize("column, value, counted, hint", [
    ("LFQ intensity D_R2", "n.d.", False, "leave the cell empty, or write NA or NaN"),
    ("Razor + unique peptides", "-", True, "leave the cell empty"),
    ("LFQ intensity D_R2", "2635800,5", False, "a decimal comma"),  # a European locale's export
    ("LFQ intensity D_R2", "#N/A", False, "an Excel error value"),
    ("LFQ intensity D_R2", "inf", False, ""),  # was read as an infinite intensity
])
def test_non_numeric_value_names_column_and_protein(tmp_path, column, value, counted, hint):
    """A value that is not a finite number, in an intensity column or in the peptide-count column that DEqMS
    reads: the ingest names the column, the protein and the value, what the value probably is, and leaves
    nothing behind."""
    def edit(df):
        df.loc[df["Protein IDs"] == "P01375", column] = value
    spec = ups1_dataset(table=bad_table(tmp_path, edit))
    if counted:
        spec["de"] = {"deqms": True}
        spec["proteomics"]["count_column"] = column
    ds = load_one(tmp_path, spec).datasets["p"]
    out = tmp_path / "results/counts.h5ad"
    with pytest.raises(InputDataError, match=rf"column '{re.escape(column)}', protein 'P01375': value '{re.escape(value)}' "
                                             rf"is not a finite number \(.*{hint}"):
        run_ingest(ds.params(rule="ingest"), str(out))
    assert files_under(tmp_path / "results") == []


def test_gene_names_turned_into_dates_are_reported_by_ingest(tmp_path):
    """The real UPS1 table with two gene names as Excel leaves them (planted): ingest goes on, and its report and
    log name them."""
    def edit(df):
        df.loc[df["Protein IDs"] == "P01375", "Gene names"] = "2-Sep"
        df.loc[df["Protein IDs"] == "P00441", "Gene names"] = "1-Mar"
    ds = load_one(tmp_path, ups1_dataset(table=bad_table(tmp_path, edit))).datasets["p"]
    report = run_ingest(ds.params(rule="ingest"), str(tmp_path / "counts.h5ad"))
    assert report["date_like_gene_names"] == ["1-Mar", "2-Sep"]


# ------------------------------------------------------------------------------------------ peptide counts
def test_count_column_total_and_per_sample(tmp_path):
    """proteomics.count_column: one column as is; with {} one column per sample, the smallest kept (DEqMS's
    vignette), here on the real UPS1 table with per-sample columns planted from its total (labelled)."""
    sheet = ups1_sheet()
    opts = {"count_column": "Razor + unique peptides"}
    _, var, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, opts, "human", sheet)
    total = pd.read_csv(UPS1_TABLE, sep="\t", dtype=str).set_index("Protein IDs")
    assert var.loc["P01375", "count"] == float(total.loc["P01375", "Razor + unique peptides"])

    def per_sample(df):  # planted: each run's count is the total minus the run's index (clipped at 0)
        for i, s in enumerate(sheet.index):
            df[f"Razor + unique peptides {s}"] = (df["Razor + unique peptides"].astype(int) - i).clip(lower=0)
        df.loc[df["Protein IDs"] == "P01375", "Razor + unique peptides D_R2"] = 0
    path = bad_table(tmp_path, per_sample)
    _, var2, _ = protein_tables.read_protein_table(path, "maxquant", sheet.index,
                                                   {"count_column": "Razor + unique peptides {}"}, "human", sheet)
    expected = (var["count"] - (len(sheet) - 1)).clip(lower=0)
    expected["P01375"] = 0
    pd.testing.assert_series_equal(var2["count"], expected, check_names=False)


def test_per_sample_count_columns_follow_the_tables_run_names(tmp_path):
    """With proteomics.column_key the sheet's ids are not the table's run names: ``{}`` in count_column is the
    run name read off each sample's intensity column (here 'mouse1' ... read from 'LFQ intensity C_R1' ...),
    through the parse-time check and the ingest; a run without its count column is named."""
    runs = list(ups1_sheet().index)

    def per_run(df):  # planted: each run's count is the total minus the run's position (clipped at 0)
        for i, run in enumerate(runs):
            df[f"Razor + unique peptides {run}"] = (df["Razor + unique peptides"].astype(int) - i).clip(lower=0)
    table = bad_table(tmp_path, per_run)
    sheet = ups1_sheet().assign(column=lambda d: "LFQ intensity " + d["sample"])
    sheet["sample"] = [f"mouse{i + 1}" for i in range(len(sheet))]
    sheet_path = tmp_path / "sheet.tsv"
    sheet.to_csv(sheet_path, sep="\t", index=False)
    spec = ups1_dataset(table=table, samples={"sheet": str(sheet_path)}, de={"deqms": True})
    spec["proteomics"].update(column_key="column", count_column="Razor + unique peptides {}")
    ds = load_one(tmp_path, spec).datasets["p"]
    read = sheet.set_index("sample", drop=False)
    _, var, _ = protein_tables.read_protein_table(table, "maxquant", read.index, ds.spec["proteomics"], "human", read)
    _, total, _ = protein_tables.read_protein_table(table, "maxquant", read.index,
                                                    {**ds.spec["proteomics"], "count_column": "Razor + unique peptides"},
                                                    "human", read)
    pd.testing.assert_series_equal(var["count"], (total["count"] - (len(runs) - 1)).clip(lower=0), check_names=False)
    assert protein_tables.run_name("LFQ intensity C_R1", "maxquant", {}, "mouse1") == "C_R1"
    assert protein_tables.run_name("HIT_C_1 MaxLFQ Intensity", "fragpipe", {}, "s") == "HIT_C_1"
    assert protein_tables.run_name("odd column", "maxquant", {}, "mouse1") == "mouse1"
    spec["proteomics"]["count_column"] = "{} Spectral Count"
    with pytest.raises(LsecflowError, match=r"sample 'mouse1': no column 'C_R1 Spectral Count'"):
        load_one(tmp_path, spec)


PEPTIDES = REPO / "resources/data/ups1_peptides/peptides_trimmed.tsv.gz"
RUNS = ["10_R1", "10_R2", "10_R3", "100_R1", "100_R2", "100_R3"]
GENERIC = {"id_column": "peptide", "protein_column": "protein", "gene_column": "gene"}


@pytest.mark.parametrize("summary", ["median_polish", "maxlfq"])
def test_a_generic_peptide_table_is_summarised_as_maxquants(tmp_path, summary):
    """counts.format peptide_table: the real UPS1 peptides.txt written as any engine's peptide table (its flagged
    rows left out, columns renamed: peptide, protein, gene, one column per sample) gives the proteins, gene names,
    peptide counts and values that the MaxQuant reader gives."""
    table = pd.read_csv(PEPTIDES, sep="\t", dtype=str, keep_default_na=False)
    clean = table[(table["Reverse"] == "") & (table["Potential contaminant"] == "")]
    generic = pd.DataFrame({"peptide": clean["Sequence"], "protein": clean["Leading razor protein"],
                            "gene": clean["Gene names"], **{r: clean[f"Intensity {r}"] for r in RUNS}})
    path = tmp_path / "peptides.tsv"
    generic.to_csv(path, sep="\t", index=False)
    opts = {"summarise": summary, "intensity": "intensity"}
    ref_values, ref_var, _ = protein_tables.read_protein_table(PEPTIDES, "maxquant_peptides", RUNS, opts, "human")
    values, var, report = protein_tables.read_protein_table(path, "peptide_table", RUNS,
                                                            {"summarise": summary, **GENERIC}, "human")
    pd.testing.assert_frame_equal(values, ref_values)
    pd.testing.assert_frame_equal(var[["gene_id", "symbol", "count"]], ref_var[["gene_id", "symbol", "count"]])
    assert report["unit"] == "peptides" and len(values) == 915


def test_a_precursor_matrix_as_a_peptide_table_is_the_reports(tmp_path):
    """DIA-NN's precursors x runs (as its pr_matrix lays them out; here diann_matrix's, made by R from the real
    report, with each precursor's protein group and genes) read as a peptide_table: the protein groups the DIA-NN
    report reader makes, by MaxLFQ."""
    data = REPO / "tests/data/diann_report"
    report = pd.read_csv(data / "report_trimmed.tsv.gz", sep="\t", dtype=str, keep_default_na=False)
    runs = ["KL_Try_001_a", "KL_Try_001_b", "KL_Try_001_c"]
    matrix = pd.read_csv(data / "precursors.tsv.gz", sep="\t", index_col=0).set_axis(runs, axis=1)
    groups = report.drop_duplicates("Precursor.Id").set_index("Precursor.Id").loc[matrix.index]
    pr = pd.concat([groups[["Protein.Group", "Genes"]], matrix], axis=1).rename_axis("Precursor.Id").reset_index()
    opts = {"summarise": "maxlfq", "id_column": "Precursor.Id", "protein_column": "Protein.Group",
            "gene_column": "Genes"}
    pr.to_csv(tmp_path / "report.pr_matrix.tsv", sep="\t", index=False)
    values, _, _ = protein_tables.read_protein_table(tmp_path / "report.pr_matrix.tsv", "peptide_table", runs, opts,
                                                     "human")
    ref, _, _ = protein_tables.read_protein_table(data / "report_trimmed.tsv.gz", "diann_report", runs,
                                                  {"summarise": "maxlfq"}, "human")
    pd.testing.assert_frame_equal(values.loc[ref.index], ref, rtol=0, atol=1e-9)


def test_a_peptide_table_without_its_protein_column_is_refused(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("peptide\tprotein\tS1\tS2\nAAK\tP1\t1\t2\nCCK\t\t3\t4\n")
    with pytest.raises(InputDataError, match=re.escape("needs proteomics.protein_column")):
        protein_tables.sample_columns(path, "peptide_table", ["S1", "S2"], {})
    with pytest.raises(InputDataError, match=re.escape("proteomics.protein_column 'Protein' is not a column")):
        protein_tables.sample_columns(path, "peptide_table", ["S1", "S2"], {"protein_column": "Protein"})
    with pytest.raises(InputDataError, match=re.escape("1 peptide(s) have no protein (first: 'CCK'); every peptide "
                                                       "needs its protein (proteomics.protein_column)")):
        protein_tables.read_protein_table(path, "peptide_table", ["S1", "S2"], {"protein_column": "protein"}, "human")
    path.write_text("peptide\tprotein\tS1\tS2\nAAK\tP1\t1\t2\nAAK\tP1\t3\t4\n")  # two charges, one id
    with pytest.raises(InputDataError, match=re.escape("peptide 'AAK' is on more than one row (1 sequences repeated): "
                                                       "each peptide (or precursor) is one row: make the id column "
                                                       "tell modified forms or charges apart")):
        protein_tables.read_protein_table(path, "peptide_table", ["S1", "S2"], {"protein_column": "protein"}, "human")


def test_a_fragpipe_like_peptide_table_goes_through_the_config(tmp_path):
    """The real UPS1 peptides laid out as FragPipe's combined_peptide.tsv ('Peptide Sequence', 'Protein', 'Gene',
    '<sample> Intensity'; no FragPipe-written file was available to test), with the sheet naming each sample's
    column: checked at start-up (format declared), ingested to the 915 proteins of the MaxQuant reader."""
    table = pd.read_csv(PEPTIDES, sep="\t", dtype=str, keep_default_na=False)
    clean = table[(table["Reverse"] == "") & (table["Potential contaminant"] == "")]
    layout = {"Peptide Sequence": clean["Sequence"], "Protein": clean["Leading razor protein"],
              "Gene": clean["Gene names"], **{f"{r} Intensity": clean[f"Intensity {r}"] for r in RUNS}}
    pd.DataFrame(layout).to_csv(tmp_path / "combined_peptide.tsv", sep="\t", index=False)
    spec = yaml.safe_load((REPO / "config/datasets/ups1_peptides.yaml").read_text())
    sheet = pd.read_csv(REPO / spec["samples"]["sheet"], sep="\t")
    sheet.assign(column=sheet["sample"] + " Intensity").to_csv(tmp_path / "sheet.tsv", sep="\t", index=False)
    spec["samples"]["sheet"] = str(tmp_path / "sheet.tsv")
    spec["counts"] = {"path": str(tmp_path / "combined_peptide.tsv"), "format": "peptide_table"}
    spec["proteomics"].pop("intensity")  # MaxQuant's column family: refused on a generic table
    spec["proteomics"].update(id_column="Peptide Sequence", protein_column="Protein", gene_column="Gene",
                              column_key="column")
    ds = load_one(tmp_path, spec).datasets["p"]
    run_ingest(ds.params(rule="ingest"), str(tmp_path / "counts.h5ad"))
    assert ad.read_h5ad(tmp_path / "counts.h5ad").shape == (6, 915)
    spec["proteomics"].pop("protein_column")
    with pytest.raises(LsecflowError, match=re.escape("counts.format peptide_table needs proteomics.protein_column")):
        load_one(tmp_path, spec)
