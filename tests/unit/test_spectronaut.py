"""Spectronaut's protein-group pivot report (counts.format: spectronaut) on a real export: einprot's example
(Spectronaut 20.4, directDIA, 200 protein groups x 6 runs of two mixes; MIT; tests/data/spectronaut/README in
tests/data/README.md), read as exported and through the DE against R limma (make_reference.R there)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, agreement, assert_matches, load_one, run_protein_de
from lsecflow import protein_tables, spectronaut
from lsecflow.errors import ConfigError, InputDataError

DATA = REPO / "tests/data/spectronaut"
PIVOT = DATA / "pg_pivot.tsv"


@pytest.fixture(scope="module")
def sheet() -> pd.DataFrame:
    return pd.read_csv(DATA / "sheet.tsv", sep="\t", index_col=0)


def _quantities() -> pd.DataFrame:
    """The pivot's PG.Quantity columns read plainly (pandas' own NaN), by run without '.raw'."""
    raw = pd.read_csv(PIVOT, sep="\t", index_col="PG.ProteinGroups")
    cols = [c for c in raw.columns if c.endswith(".PG.Quantity")]
    return raw[cols].rename(columns=lambda c: re.fullmatch(r"\[\d\] (.+)\.raw\.PG\.Quantity", c).group(1))


def test_the_pivot_is_detected_and_read_as_exported(sheet):
    """Detected from its header; each sample is the run of its name (with or without '.raw'); the values, ids,
    gene names and descriptions are the file's, NaN missing."""
    header = protein_tables.read_header(PIVOT)
    assert protein_tables.detect_protein_format(header) == "spectronaut"
    values, var, report = protein_tables.read_protein_table(PIVOT, "spectronaut", list(sheet.index), {}, "human", sheet)
    expected = _quantities()
    pd.testing.assert_frame_equal(values, expected[list(sheet.index)], check_names=False)
    assert int(values.isna().sum().sum()) == 2 and report["proteins"] == 200
    raw = pd.read_csv(PIVOT, sep="\t")
    assert var["symbol"].tolist() == raw["PG.Genes"].tolist()
    assert var["description"].tolist() == raw["PG.ProteinDescriptions"].tolist()
    with_extension = [f"{s}.raw" for s in sheet.index]
    again, _, _ = protein_tables.read_protein_table(PIVOT, "spectronaut", with_extension, {}, "human")
    np.testing.assert_array_equal(again.to_numpy(), values.to_numpy())


def test_filtered_is_missing_and_other_text_is_an_error(tmp_path, sheet):
    """'Filtered' (Spectronaut's mark of a value its filters removed) is a missing value; other text stops the read
    naming the column and the protein."""
    lines = PIVOT.read_text().splitlines()
    header = lines[0].split("\t")
    column = header.index("[4] LFQ_24min_500ng_2Th_3ms_B_01.raw.PG.Quantity")

    def with_cell(text: str):
        fields = lines[2].split("\t")
        fields[column] = text
        path = tmp_path / "pivot.tsv"
        path.write_text("\n".join([*lines[:2], "\t".join(fields), *lines[3:]]) + "\n")
        return protein_tables.read_protein_table(path, "spectronaut", list(sheet.index), {}, "human", sheet)[0]

    values = with_cell("Filtered")
    assert np.isnan(values.at["P61513", "LFQ_24min_500ng_2Th_3ms_B_01"])
    assert int(values.isna().sum().sum()) == 3
    with pytest.raises(InputDataError, match=re.escape("column '[4] LFQ_24min_500ng_2Th_3ms_B_01.raw.PG.Quantity', "
                                                       "protein 'P61513': value 'n.d.' is not a finite number")):
        with_cell("n.d.")


def test_a_sample_without_a_run_is_named_with_the_runs_there(sheet):
    samples = [*sheet.index[:5], "LFQ_24min_500ng_2Th_3ms_B_04"]
    with pytest.raises(InputDataError) as err:
        protein_tables.sample_columns(PIVOT, "spectronaut", samples, {})
    message = str(err.value)
    assert "sample 'LFQ_24min_500ng_2Th_3ms_B_04': the expected column is '[?] LFQ_24min_500ng_2Th_3ms_B_04.PG.Quantity'" \
        in message
    assert "[1] LFQ_24min_500ng_2Th_3ms_A_01.raw.PG.Quantity" in message and "PG.Cscore" not in message


def test_a_name_two_runs_share_is_no_runs():
    """'a.raw' and 'a.d' are both 'a' without their extension: 'a' names neither; their full names name each."""
    header = ["PG.ProteinGroups", "[1] a.raw.PG.Quantity", "[2] a.d.PG.Quantity", "[3] b.raw.PG.Quantity"]
    got = spectronaut.sample_columns(header, ["a", "a.d", "b"])
    assert got == {"a": "[?] a.PG.Quantity", "a.d": "[2] a.d.PG.Quantity", "b": "[3] b.raw.PG.Quantity"}


def test_a_per_run_count_column_gives_deqms_the_smallest(sheet):
    """proteomics.count_column with {} = '[n] <run>': each protein's smallest count over the dataset's runs."""
    opts = {"count_column": "{}.PG.NrOfPrecursorsUsedForQuantification"}
    _, var, _ = protein_tables.read_protein_table(PIVOT, "spectronaut", list(sheet.index), opts, "human", sheet)
    raw = pd.read_csv(PIVOT, sep="\t", index_col="PG.ProteinGroups")
    counts = raw[[c for c in raw.columns if c.endswith(".PG.NrOfPrecursorsUsedForQuantification")]]
    assert counts.shape[1] == 6
    np.testing.assert_array_equal(var["count"].to_numpy(), counts.min(axis=1).to_numpy())
    with pytest.raises(InputDataError, match=re.escape("sample 'LFQ_24min_500ng_2Th_3ms_A_01': no column "
                                                       "'[1] LFQ_24min_500ng_2Th_3ms_A_01.raw.PG.Peptides'")):
        protein_tables.read_protein_table(PIVOT, "spectronaut", list(sheet.index), {"count_column": "{}.PG.Peptides"},
                                          "human", sheet)


def test_the_dataset_from_config_is_r_limmas(tmp_path):
    """Through load_config (format detected, runs found before any job), ingest and the DE entry point: R limma on
    the pivot as R reads it (make_reference.R: 0 -> NA, log2, >= 2 values in each mix, median centring,
    Mix_B - Mix_A). A generic-table key is refused for this format."""
    spec = {"assay": "proteomics", "species": "human", "gene_ids": "protein", "counts": {"path": str(PIVOT)},
            "samples": {"sheet": str(DATA / "sheet.tsv")}, "design": "~ condition",
            "proteomics": {"normalize": "median", "impute": "none"},
            "contrasts": {"b_vs_a": {"variable": "condition", "target": "Mix_B", "reference": "Mix_A"}}}
    table, _ = run_protein_de(tmp_path, spec)
    ref = pd.read_csv(DATA / "pg_pivot.limma.tsv", sep="\t", index_col=0)
    stats = agreement(table, ref)
    assert stats["n_ref"] == 179
    assert_matches(stats, tol=1e-10)
    np.testing.assert_allclose(table.loc[ref.index, "padj"], ref["adj.P.Val"], rtol=1e-10)
    spec["proteomics"]["gene_column"] = "PG.Genes"
    with pytest.raises(ConfigError, match="counts.format is 'spectronaut', which does not read key"):
        load_one(tmp_path, spec)


def test_a_report_named_xls_is_read_as_the_text_it_is(tmp_path):
    """Spectronaut names its tab-separated reports '.xls' by default: such a file is detected and read as text."""
    path = tmp_path / "20260219_Report_PG_pivot.xls"
    path.write_bytes(PIVOT.read_bytes())
    spec = {"assay": "proteomics", "species": "human", "gene_ids": "protein", "counts": {"path": str(path)},
            "samples": {"sheet": str(DATA / "sheet.tsv")}, "design": "~ condition",
            "contrasts": {"b_vs_a": {"variable": "condition", "target": "Mix_B", "reference": "Mix_A"}}}
    ds = load_one(tmp_path, spec).datasets["p"]
    assert ds.format == "spectronaut"
    values, _, _ = protein_tables.read_protein_table(path, ds.format, list(_quantities().columns), {}, "human")
    pd.testing.assert_frame_equal(values, _quantities(), check_names=False)
