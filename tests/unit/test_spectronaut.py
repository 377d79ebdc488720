"""Spectronaut's protein-group pivot report (counts.format: spectronaut) on a real export: einprot's example
(Spectronaut 20.4, directDIA, 200 protein groups x 6 runs of two mixes; MIT; provenance in tests/data/README.md),
read as exported and through the DE against R limma (make_reference.R there). Its long report
(spectronaut_report) on two real ones: SpectroPipeR's HYE demo (a row per precursor and run, 8 runs; MIT) and
MSstatsConvert's test input (a row per fragment, 6 runs, CSV; Artistic-2.0), against the rules of limma's
readSpectronaut applied here with plain pandas."""
from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, agreement, assert_matches, load_one, run_protein_de
from lsecflow import protein_tables, spectronaut
from lsecflow.errors import ConfigError, InputDataError
from lsecflow.methods import methods_text

DATA = REPO / "tests/data/spectronaut"
PIVOT = DATA / "pg_pivot.tsv"
HYE = DATA / "hye_report.tsv"
FRAGMENTS = DATA / "msstats_fragments.csv.gz"


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


def _precursors(report: pd.DataFrame, quantity: str, q: float = 0.01) -> pd.DataFrame:
    """Smyth and Li's readSpectronaut rules on a report read plainly: not imputed, EG.Qvalue and PG.Qvalue <= q, the
    quantity above 0; precursors x runs (first row of a precursor and run: fragment rows repeat it)."""
    keep = (report["EG.Qvalue"] <= q) & (report["PG.Qvalue"] <= q) & (report[quantity] > 0)
    if "EG.IsImputed" in report:
        keep &= ~report["EG.IsImputed"].astype(bool)
    kept = report[keep]
    wide = kept.groupby(["EG.PrecursorId", "R.FileName"])[quantity].first().unstack("R.FileName")
    return wide.loc[kept["EG.PrecursorId"].unique()]


def test_a_long_report_is_detected_and_filtered_as_readspectronaut():
    """SpectroPipeR's HYE report: detected; its precursors (EG.TotalQuantity (Settings)) as limma's rules keep them;
    one precursor per protein group here, so each group's summary is its precursor (median polish of one row);
    samples named by R.FileName."""
    header = protein_tables.read_header(HYE)
    assert protein_tables.detect_protein_format(header) == "spectronaut_report"
    sheet = pd.read_csv(DATA / "hye_sheet.tsv", sep="\t", index_col=0)
    raw = pd.read_csv(HYE, sep="\t")
    expected = _precursors(raw, "EG.TotalQuantity (Settings)")[list(sheet.index)]
    wide, proteins, genes, report, runs = spectronaut.read_report(HYE, header, list(sheet.index), {}, sheet)
    pd.testing.assert_frame_equal(wide, expected, check_names=False)
    assert report == {"rows_in_table": 16, "rows_imputed": 0, "rows_filtered": 0}
    assert proteins.to_dict() == {"_YEEMVENMK_.2": "P29311", "_YGPSLMPGGSEEAWPHIK_.3": "P38720"}
    values, var, _ = protein_tables.read_protein_table(HYE, "spectronaut_report", list(sheet.index),
                                                       {"summarise": "median_polish"}, "human", sheet)
    np.testing.assert_allclose(values.loc[["P29311", "P38720"]].to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert var.loc[["P29311", "P38720"], "symbol"].tolist() == ["BMH1", "GND1"]
    assert var["count"].tolist() == [1, 1]


def test_a_fragment_report_gives_each_precursor_once():
    """MSstatsConvert's fragment-level CSV (gzipped): FG.Quantity repeated on each fragment row is read once per
    precursor and run; a stricter qvalue drops the rows readSpectronaut's rule drops; the default quantity,
    absent from this report, is named with the columns there are."""
    header = protein_tables.read_header(FRAGMENTS)
    assert protein_tables.detect_protein_format(header) == "spectronaut_report"
    raw = pd.read_csv(FRAGMENTS)
    runs = sorted(raw["R.FileName"].unique())
    for q, quantified, dropped in ((0.01, 108, 0), (1e-6, 87, 126)):  # of 18 precursors x 6 runs; 648 rows
        opts = {"quantity_column": "FG.Quantity", "qvalue": q}
        wide, proteins, _, report, _ = spectronaut.read_report(FRAGMENTS, header, runs, opts)
        expected = _precursors(raw, "FG.Quantity", q)
        pd.testing.assert_frame_equal(wide, expected.reindex(columns=runs), check_names=False)
        assert report["rows_filtered"] == dropped and int(wide.notna().sum().sum()) == quantified
        assert wide.shape == (18, 6) and set(proteins) == {"1/sp|O75475|PSIP1_HUMAN"}
    with pytest.raises(InputDataError, match=re.escape("no column 'EG.TotalQuantity (Settings)', which "
                                                       "proteomics.quantity_column reads (columns of that kind here: "
                                                       "PG.Qvalue, PG.Quantity, PEP.Quantity, EG.Qvalue, FG.Quantity")):
        spectronaut.read_report(FRAGMENTS, header, runs, {})


@pytest.mark.parametrize("edit, says", [
    (("FG.Quantity", 1, "1697.7"), "precursor '_AVDITTPK_.2' has different FG.Quantity values in run "
                                   "'lgillet_I150211_008_A'"),
    (("EG.Qvalue", 0, "n.a."), "column 'EG.Qvalue', precursor '_AVDITTPK_.2' (run 'lgillet_I150211_008_A'): value "
                               "'n.a.' is not a finite number >= 0"),
    (("FG.Quantity", 0, "-3"), "value -3 is not a finite number >= 0"),
    (("FG.Quantity", 0, "1e999"), "value '1e999' is not a finite number >= 0"),
    (("PG.Qvalue", 2, ""), "column 'PG.Qvalue', precursor '_AVDITTPK_.2' (run 'lgillet_I150211_008_A'): value "
                           "empty, NaN or Filtered is not a finite number >= 0"),
    (("PG.ProteinGroups", 0, "P12345"), "precursor '_AVDITTPK_.2' is in different protein groups in different runs"),
])
def test_a_broken_report_is_refused_naming_what(tmp_path, edit, says):
    """Cells a Spectronaut report does not hold, each stopping the read with the precursor (and run) named."""
    column, row, value = edit
    raw = pd.read_csv(FRAGMENTS, dtype=str, keep_default_na=False)
    if column == "PG.ProteinGroups":  # the precursor's rows of one run in another group
        raw.loc[(raw["EG.PrecursorId"] == "_AVDITTPK_.2") & (raw["R.FileName"] == "lgillet_I150211_009_B"),
                column] = value
    else:
        raw.loc[row, column] = value
    path = tmp_path / "report.csv"
    raw.to_csv(path, index=False)
    runs = sorted(raw["R.FileName"].unique())
    with pytest.raises(InputDataError, match=re.escape(says)):
        spectronaut.read_report(path, protein_tables.read_header(path), runs, {"quantity_column": "FG.Quantity"})


def test_filtered_and_imputed_rows_are_not_quantified(tmp_path):
    """A 'Filtered' quantity is no value and an imputed row (EG.IsImputed True) is dropped, each counted; a flag
    other than True/False is refused."""
    raw = pd.read_csv(HYE, sep="\t", dtype=str, keep_default_na=False)
    raw.loc[0, "EG.TotalQuantity (Settings)"] = "Filtered"
    raw.loc[3, "EG.IsImputed"] = "True"
    path = tmp_path / "Report.xls"
    raw.to_csv(path, sep="\t", index=False)
    sheet = pd.read_csv(DATA / "hye_sheet.tsv", sep="\t", index_col=0)
    wide, _, _, report, _ = spectronaut.read_report(path, protein_tables.read_header(path), list(sheet.index), {})
    assert report == {"rows_in_table": 16, "rows_imputed": 1, "rows_filtered": 1}
    assert int(wide.isna().sum().sum()) == 2
    assert np.isnan(wide.at["_YEEMVENMK_.2", sheet.index[0]]) and np.isnan(wide.at["_YGPSLMPGGSEEAWPHIK_.3",
                                                                                    sheet.index[1]])
    raw.loc[3, "EG.IsImputed"] = "yes"
    raw.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputDataError, match="column 'EG.IsImputed', precursor '_YGPSLMPGGSEEAWPHIK_.3': value "
                                             "'yes' is not True or False"):
        spectronaut.read_report(path, protein_tables.read_header(path), list(sheet.index), {})


def test_a_long_report_dataset_is_checked_at_start_up_and_ingested(tmp_path):
    """Through load_config (format detected, each sample's run found before any job), ingest and the methods text;
    a sample without a run, a DIA-NN quantity or a DIA-NN q-value column stops load_config, named."""
    from lsecflow.ingest import run_ingest

    spec = {"assay": "proteomics", "species": "human", "gene_ids": "protein", "counts": {"path": str(HYE)},
            "samples": {"sheet": str(DATA / "hye_sheet.tsv")}, "design": "~ mix",
            "proteomics": {"summarise": "maxlfq", "min_valid": 1},
            "contrasts": {"b_vs_a": {"variable": "mix", "target": "B", "reference": "A"}}}
    ds = load_one(tmp_path, spec).datasets["p"]
    assert ds.format == "spectronaut_report"
    run_ingest(ds.params(rule="ingest"), str(tmp_path / "counts.h5ad"))
    import anndata as ad

    adata = ad.read_h5ad(tmp_path / "counts.h5ad")
    assert adata.shape == (8, 2) and set(adata.var_names) == {"P29311", "P38720"}
    text = "\n".join(methods_text(ds.spec, {}, 0, fmt=ds.format))
    assert ("precursor quantities (EG.TotalQuantity (Settings)) with EG.Qvalue and PG.Qvalue at most 0.01 (not those "
            "Spectronaut imputed) were read from the Spectronaut long report; precursors with a value were summarised "
            "to their protein groups by MaxLFQ") in text
    for change, says in ((("samples", "sheet", str(DATA / "sheet.tsv")), "6 sample(s) have no run in the report's "
                                                                         "'R.FileName' column"),
                         (("proteomics", "quantity_column", "Precursor.Normalised"),
                          "proteomics.quantity_column 'Precursor.Normalised': a Spectronaut report's precursor "
                          "quantity is one of"),
                         (("proteomics", "qvalue_columns", ["Lib.Q.Value"]),
                          "proteomics.qvalue_columns Lib.Q.Value: Spectronaut's q-value columns end in 'Qvalue'")):
        bad = copy.deepcopy(spec)
        section, key, value = change
        bad[section][key] = value
        if section == "samples":
            bad["design"], bad["contrasts"] = "~ condition", {"b": {"variable": "condition", "target": "Mix_B",
                                                                     "reference": "Mix_A"}}
        with pytest.raises(ConfigError, match=re.escape(says)):
            load_one(tmp_path, bad)


def test_a_quote_in_a_description_is_a_character(tmp_path, sheet):
    """Spectronaut quotes no field of its tab-separated reports: a description opening with '"' is read as written,
    in the pivot and in the long report (read with quoting, the rest of the file would be one field)."""
    lines = PIVOT.read_text().splitlines()
    column = lines[0].split("\t").index("PG.ProteinDescriptions")
    fields = lines[1].split("\t")
    fields[column] = '"Oxidant-induced cell-cycle arrest protein 5'
    path = tmp_path / "pivot.tsv"
    path.write_text("\n".join([lines[0], "\t".join(fields), *lines[2:]]) + "\n")
    values, var, _ = protein_tables.read_protein_table(path, "spectronaut", list(sheet.index), {}, "human", sheet)
    assert var.at["P38738", "description"] == fields[column] and values.shape == (200, 6)
    raw = pd.read_csv(HYE, sep="\t", dtype=str, keep_default_na=False)
    raw.loc[0, "PG.ProteinDescriptions"] = '"14-3-3 protein homolog 1'
    long = tmp_path / "report.tsv"
    long.write_text("\n".join("\t".join(row) for row in [list(raw.columns), *raw.to_numpy().tolist()]) + "\n")
    hye = pd.read_csv(DATA / "hye_sheet.tsv", sep="\t", index_col=0)
    wide = spectronaut.read_report(long, protein_tables.read_header(long), list(hye.index), {}, hye)[0]
    expected = spectronaut.read_report(HYE, protein_tables.read_header(HYE), list(hye.index), {}, hye)[0]
    pd.testing.assert_frame_equal(wide, expected)
