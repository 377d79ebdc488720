"""lsecflow.diann_report: DIA-NN's main report (a real DIA-NN 1.8 report of three runs of yeast, PXD010529, from the
diann R package; tests/data/diann_report) read as the diann R package reads it -- the precursor matrix exactly
diann_matrix's -- and summarised to protein groups as R does (iq 2.0.0's maxLFQ, stats::medpolish), with the
between-run ratios of DIA-NN's own MaxLFQ; each way a report arrives broken named. The same report written as
parquet here by pyarrow (as DIA-NN 1.9+ writes its main report; no parquet written by DIA-NN itself could be
brought here) is read to the same matrix."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import REPO, load_one, ups1_dataset
from lsecflow import diann_report, protein_tables
from lsecflow.diann_report import read_columns, read_report, run_name
from lsecflow.errors import ConfigError, InputDataError
from lsecflow.ingest import run_ingest
from lsecflow.proteomics import preprocess_dataset

DATA = REPO / "tests/data/diann_report"
REPORT = DATA / "report_trimmed.tsv.gz"
SAMPLES = ["KL_Try_001_a", "KL_Try_001_b", "KL_Try_001_c"]
RUN = "D:\\Raw\\PXD010529\\KL_Try_001_{}.mzML.dia"  # as the report writes it; messages show it repr()


def _ref(name: str) -> pd.DataFrame:
    ref = pd.read_csv(DATA / f"{name}.tsv.gz", sep="\t", index_col=0)
    ref.columns = SAMPLES
    return ref


@pytest.fixture(scope="module")
def runs() -> dict[str, str]:
    return protein_tables.sample_columns(REPORT, "diann_report", SAMPLES, {})


def test_the_report_is_detected_and_its_runs_are_the_samples(runs):
    """A run 'D:\\Raw\\...\\KL_Try_001_a.mzML.dia' is sample KL_Try_001_a (every extension off) or
    KL_Try_001_a.mzML (the last, as for a pg_matrix column)."""
    assert protein_tables.detect_protein_format(protein_tables.read_header(REPORT)) == "diann_report"
    assert runs["KL_Try_001_a"] == RUN.format("a")
    assert run_name(runs["KL_Try_001_b"]) == "KL_Try_001_b.mzML"
    once = protein_tables.sample_columns(REPORT, "diann_report", ["KL_Try_001_c.mzML"], {})
    assert once == {"KL_Try_001_c.mzML": runs["KL_Try_001_c"]}


def test_the_precursor_matrix_is_diann_matrix(runs):
    """Q.Value and PG.Q.Value <= 0.01 (82 rows of 2,992 out), Precursor.Normalised: 1,052 precursors x 3 runs,
    every value and every missing cell as diann_matrix(q = 0.01, pg.q = 0.01) gives them."""
    wide, groups, genes, report, matched = read_report(REPORT, protein_tables.read_header(REPORT), SAMPLES, {})
    assert matched == runs  # the runs matched on the report read once are those checked at start-up
    ref = _ref("precursors")
    assert sorted(wide.index) == sorted(ref.index) and report == {"rows_in_table": 2992, "rows_filtered": 82}
    got = wide.loc[ref.index]
    assert (got.isna().to_numpy() == ref.isna().to_numpy()).all()
    np.testing.assert_array_equal(got.to_numpy(), ref.to_numpy())
    assert groups.loc["AAAALAGGK1"] == "P0C0T4;Q3E792" and genes.loc["AAAALAGGK1"] == "RPS25A;RPS25B"


def test_every_q_value_filtered_is_diann_matrixs():
    """proteomics.qvalue_columns [Q.Value, Protein.Q.Value, PG.Q.Value, GG.Q.Value]: as diann_matrix(q, protein.q,
    pg.q, gg.q = 0.01), 948 precursors (1,052 on Q.Value and PG.Q.Value alone), every value and missing cell."""
    opts = {"qvalue_columns": ["Q.Value", "Protein.Q.Value", "PG.Q.Value", "GG.Q.Value"]}
    wide, _, _, report, _ = read_report(REPORT, protein_tables.read_header(REPORT), SAMPLES, opts)
    ref = _ref("precursors_every_q")
    assert sorted(wide.index) == sorted(ref.index) and len(ref) == 948
    np.testing.assert_array_equal(wide.loc[ref.index].to_numpy(), ref.to_numpy())
    with pytest.raises(InputDataError, match=re.escape("no column 'Lib.Q.Value', which proteomics.qvalue_columns: "
                                                       "Q.Value, Lib.Q.Value reads")):
        protein_tables.sample_columns(REPORT, "diann_report", SAMPLES, {"qvalue_columns": ["Q.Value", "Lib.Q.Value"]})


@pytest.mark.parametrize("parquet", [False, True], ids=["tsv", "parquet"])
def test_raw_quantities_of_proteotypic_precursors_are_diann_matrixs(tmp_path, parquet):
    """proteomics.quantity_column: Precursor.Quantity and proteotypic_only: as diann_matrix(quantity.header =
    "Precursor.Quantity", proteotypic.only = TRUE): every value and missing cell; the shared precursors dropped
    are counted. A report without the column asked for is refused from its header (at start-up)."""
    opts = {"quantity_column": "Precursor.Quantity", "proteotypic_only": True}
    path = _parquet(tmp_path, _typed()) if parquet else REPORT
    wide, _, _, report, _ = read_report(path, protein_tables.read_header(path), SAMPLES, opts)
    ref = _ref("precursors_raw_proteotypic")
    assert sorted(wide.index) == sorted(ref.index) and len(ref) < 1052
    np.testing.assert_array_equal(wide.loc[ref.index].to_numpy(), ref.to_numpy())
    assert report["rows_not_proteotypic"] == int((_typed()["Proteotypic"] == 0).sum()) > 0
    bare = _parquet(tmp_path, _typed().drop(columns="Proteotypic"), "bare.parquet")
    with pytest.raises(InputDataError, match=re.escape("no column 'Proteotypic', which proteomics.proteotypic_only: "
                                                       "true reads")):
        protein_tables.sample_columns(bare, "diann_report", SAMPLES, opts)


def test_a_clean_tsv_is_read_typed_a_broken_one_as_text(tmp_path):
    """The real report's numbers are typed as Arrow reads them (R's values bit for bit, as parsed from the text);
    one 'NaN' cell sends the report to the read as text (None here), which keeps every cell as written."""
    columns = read_columns(REPORT, protein_tables.read_header(REPORT), {})
    typed = diann_report._read_tsv(REPORT, columns, typed=True)
    text = pd.read_csv(REPORT, sep="\t", usecols=columns, dtype=str, keep_default_na=False)
    assert typed is not None and list(typed.columns) == columns
    assert typed["Q.Value"].dtype == float and typed["File.Name"].equals(text["File.Name"])
    assert diann_report._read_tsv(REPORT, columns, typed=False).equals(text)
    np.testing.assert_array_equal(typed["Precursor.Normalised"].to_numpy(),
                                  pd.to_numeric(text["Precursor.Normalised"].replace("", np.nan)).to_numpy())
    broken = text.assign(**{"Q.Value": text["Q.Value"].where(text.index != 3, "NaN")})
    broken.to_csv(tmp_path / "report.tsv", sep="\t", index=False)
    assert diann_report._read_tsv(tmp_path / "report.tsv", columns, typed=True) is None


@pytest.mark.parametrize("summary, reference", [("maxlfq", "iq_maxlfq"), ("median_polish", "median_polish"),
                                                ("diann_maxlfq", "diann_maxlfq")])
def test_protein_groups_are_rs(summary, reference):
    """371 protein groups: iq's maxLFQ and medpolish(na.rm = TRUE) of the log2 precursors within 1e-12 (measured
    6e-14), DIA-NN's own MaxLFQ (its R package's diann_maxlfq) within 1e-10 (its ridged system is ill-conditioned),
    the same missing cells; each group's count is its number of precursors."""
    values, var, report = protein_tables.read_protein_table(REPORT, "diann_report", SAMPLES,
                                                            {"summarise": summary}, "human")
    ref = _ref(reference)
    got = np.log2(values.loc[ref.index])
    assert len(values) == 371 and report["unit"] == "precursors" and report["peptides"] == 1052
    assert (got.isna().to_numpy() == ref.isna().to_numpy()).all()
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-10 if summary == "diann_maxlfq" else 1e-12)
    assert var.loc["P0C0T4;Q3E792", "symbol"] == "RPS25A;RPS25B" and var["count"].sum() == 1052


def test_maxlfq_ratios_are_diann_maxlfqs():
    """DIA-NN's own MaxLFQ (its R package's diann_maxlfq) sets each group's level differently (towards its
    largest precursor, with a 1e-4 ridge): the levels around each group's mean agree within 5e-4 log2 on the
    342 groups seen in all three runs (measured 1.3e-4)."""
    values, _, _ = protein_tables.read_protein_table(REPORT, "diann_report", SAMPLES, {"summarise": "maxlfq"},
                                                     "human")
    ref = _ref("diann_maxlfq")
    got = np.log2(values.loc[ref.index])
    full = got.notna().all(axis=1) & ref.notna().all(axis=1)
    assert full.sum() == 342

    def centred(t):
        return t[full].sub(t[full].mean(axis=1), axis=0).to_numpy()

    assert np.abs(centred(got) - centred(ref)).max() < 5e-4


def _bent(tmp_path, edit) -> str:
    table = pd.read_csv(REPORT, sep="\t", dtype=str, keep_default_na=False)
    table = edit(table)
    out = tmp_path / "report.tsv"
    table.to_csv(out, sep="\t", index=False)
    return str(out)


def _at_row_3(column: str, value):
    """A bend: row 3's ``column`` set to ``value`` (precursor AAADALSDLEIK2)."""
    return lambda t: t.assign(**{column: t[column].where(t.index != 3, value)})


def _twice(t):
    return pd.concat([t, t.iloc[[0]]])


def _other_group(t):
    t.loc[1, "Protein.Group"] = "P99999"  # the same precursor as row 0, another run
    return t


@pytest.mark.parametrize("edit, says", [
    (_twice, f"precursor 'AAAALAGGK1' is on more than one row of run {RUN.format('a')!r}"),
    (_other_group, "precursor 'AAAALAGGK1' is in different protein groups in different runs"),
    (_at_row_3("Q.Value", "low"),
     "column 'Q.Value', precursor 'AAADALSDLEIK2': value 'low' is not a finite number >= 0"),
    (_at_row_3("Q.Value", ""),
     "column 'Q.Value', precursor 'AAADALSDLEIK2': value '' is not a finite number >= 0"),
    (_at_row_3("Precursor.Normalised", "-5"),
     "column 'Precursor.Normalised', precursor 'AAADALSDLEIK2': value -5 is not a finite number >= 0"),
    (_at_row_3("Precursor.Normalised", "inf"),
     "column 'Precursor.Normalised', precursor 'AAADALSDLEIK2': value inf is not a finite number >= 0"),
    (_at_row_3("Precursor.Normalised", "NaN"),
     "column 'Precursor.Normalised', precursor 'AAADALSDLEIK2': value 'NaN' is not a finite number >= 0"),
    (_at_row_3("Precursor.Id", ""),
     "1 row(s) of the samples' runs have no Precursor.Id (first at line 5)"),
    (lambda t: t[~t["File.Name"].str.endswith("_c.mzML.dia")],
     "1 sample(s) have no run in the report's 'File.Name' column: 'KL_Try_001_c'. Runs there (as sample names): "
     "KL_Try_001_a, KL_Try_001_b"),
    (lambda t: t.assign(**{"Q.Value": np.where(t["File.Name"].str.endswith("_b.mzML.dia"), "0.5", t["Q.Value"])}),
     f"column {RUN.format('b')!r} (sample 'KL_Try_001_b') has no quantified precursor passing the q-values"),
])
def test_a_broken_report_is_refused_naming_what(tmp_path, edit, says):
    """Each a row DIA-NN does not write; the diann R package would drop the last four without a word. (A cell
    that Arrow's CSV reader cannot take as a number -- text, 'NaN' -- sends the report to the text reader, which
    names it.)"""
    with pytest.raises(InputDataError, match=re.escape(says)):
        protein_tables.read_protein_table(_bent(tmp_path, edit), "diann_report", SAMPLES, {}, "human")


NUMBERS = ["PG.Quantity", "PG.Normalised", "Genes.MaxLFQ", "Q.Value", "Protein.Q.Value", "PG.Q.Value",
           "GG.Q.Value", "Precursor.Quantity", "Precursor.Normalised"]


def _typed(float_type=np.float64) -> pd.DataFrame:
    """The real report with its numbers typed as a parquet file holds them (each parsed from its text, so the
    float64 values are R's; an empty cell is null)."""
    table = pd.read_csv(REPORT, sep="\t", dtype=str, keep_default_na=False)
    for name in NUMBERS:
        table[name] = np.array([float(x) if x else np.nan for x in table[name]], dtype=float_type)
    return table.assign(Proteotypic=table["Proteotypic"].astype(int))


def _parquet(tmp_path, table: pd.DataFrame, name: str = "report.parquet") -> str:
    path = tmp_path / name
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path)
    return str(path)


def _diann2(table: pd.DataFrame) -> pd.DataFrame:
    """As DIA-NN 2 lays its report.parquet out: a Run column beside File.Name (the file name without folder and
    extensions; DIA-NN's own, derived here), text columns dictionary-encoded (pandas categoricals)."""
    run = table["File.Name"].map(lambda r: run_name(r, every=True))
    table = table.assign(Run=run)
    for name in ("Run", "Protein.Group", "Genes"):
        table[name] = table[name].astype("category")
    return table


def _written(tmp_path, table: pd.DataFrame, name: str = "report.tsv") -> Path:
    """The report written as DIA-NN writes it: tab-separated, nothing quoted."""
    path = tmp_path / name
    path.write_text("\n".join("\t".join(row) for row in [list(table.columns), *table.to_numpy().tolist()]) + "\n")
    return path


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "text"])
def test_a_quote_in_a_report_is_a_character(tmp_path, monkeypatch, typed):
    """DIA-NN quotes no field: a protein name opening with '"' (and one with a quote inside) is read as written, with
    the numbers typed and as text alike, to the report's matrix (the pandas reader before stopped there: 'EOF
    inside string'). A row with a field too many is an error naming the row (pandas kept it without a word)."""
    table = pd.read_csv(REPORT, sep="\t", dtype=str, keep_default_na=False)
    table.loc[5, "Protein.Names"] = '"Probable protein'
    table.loc[6, "Protein.Names"] = 'a "quoted" name'
    if not typed:  # as when a cell is not a number
        read = diann_report._read_tsv
        monkeypatch.setattr(diann_report, "_read_tsv", lambda path, columns, typed: read(path, columns, False))
    path = _written(tmp_path, table)
    wide = read_report(path, protein_tables.read_header(path), SAMPLES, {})[0]
    ref = _ref("precursors")
    np.testing.assert_array_equal(wide.loc[ref.index].to_numpy(), ref.to_numpy())
    path.write_text(path.read_text().replace("\n", "\textra\n", 3).replace("\textra\n", "\n", 2))
    with pytest.raises(InputDataError, match=re.escape("cannot be read as a DIA-NN report (CSV parse error: "
                                                       "Expected 16 columns, got 17")):
        read_report(path, protein_tables.read_header(path), SAMPLES, {})


def test_a_parquet_report_is_read_as_the_tsv(tmp_path, runs):
    """Written as parquet with float64 numbers: the same precursors x runs, bit for bit diann_matrix's, the same
    groups, counts and runs as the TSV."""
    path = _parquet(tmp_path, _typed())
    assert protein_tables.detect_protein_format(protein_tables.read_header(path)) == "diann_report"
    assert protein_tables.sample_columns(path, "diann_report", SAMPLES, {}) == runs
    wide, groups, genes, report, _ = read_report(path, protein_tables.read_header(path), SAMPLES, {})
    tsv = read_report(REPORT, protein_tables.read_header(REPORT), SAMPLES, {})
    ref = _ref("precursors")
    np.testing.assert_array_equal(wide.loc[ref.index].to_numpy(), ref.to_numpy())
    assert groups.equals(tsv[1]) and genes.equals(tsv[2]) and report == tsv[3]


def test_a_diann2_parquet_report_with_decoys(tmp_path):
    """A Run column (read before File.Name), float32 numbers (DIA-NN's own are float32 in places: each value is R's
    rounded to float32), dictionary-encoded text; and 30 SYNTHETIC decoy rows (copies of target rows, Decoy = 1,
    their ids prefixed) dropped and counted: the same precursors, matrix and proteins as without them."""
    table = _diann2(_typed(np.float32)).assign(Decoy=0)
    decoys = table.iloc[:30].assign(Decoy=1, **{"Precursor.Id": "DECOY_" + table["Precursor.Id"].iloc[:30]})
    path = _parquet(tmp_path, pd.concat([table, decoys], ignore_index=True))
    header = protein_tables.read_header(path)
    assert protein_tables.sample_columns(path, "diann_report", SAMPLES, {}) == {s: s for s in SAMPLES}
    wide, _, _, report, _ = read_report(path, header, SAMPLES, {})
    ref = _ref("precursors")
    assert sorted(wide.index) == sorted(ref.index)
    assert report == {"rows_in_table": 3022, "rows_decoy": 30, "rows_filtered": 82}
    np.testing.assert_array_equal(wide.loc[ref.index].to_numpy(), ref.to_numpy().astype(np.float32))
    values, var, _ = protein_tables.read_protein_table(path, "diann_report", SAMPLES, {}, "human")
    assert len(values) == 371 and var["count"].sum() == 1052


def _null_q(t):
    return t.assign(**{"Q.Value": t["Q.Value"].where(t.index != 3)})


@pytest.mark.parametrize("edit, says", [
    (_null_q, "column 'Q.Value', precursor 'AAADALSDLEIK2': value '' is not a finite number >= 0"),
    (_at_row_3("Precursor.Normalised", -5.0),
     "column 'Precursor.Normalised', precursor 'AAADALSDLEIK2': value -5 is not a finite number >= 0"),
    (_at_row_3("Precursor.Id", None),
     "1 row(s) of the samples' runs have no Precursor.Id (first at row 4)"),
    (lambda t: t.assign(**{"Protein.Group": np.arange(len(t))}), "column 'Protein.Group' holds int64, not text"),
    (lambda t: t.assign(**{"Q.Value": t["Q.Value"] > 0}), "column 'Q.Value' holds bool, not numbers"),
    (lambda t: t.assign(Decoy=np.where(t.index == 3, 2, 0)),
     "column 'Decoy', precursor 'AAADALSDLEIK2': value 2 is not 0 or 1"),
    (lambda t: t.drop(columns="PG.Q.Value"),
     "no column 'PG.Q.Value', which proteomics.qvalue_columns: Q.Value, PG.Q.Value reads"),
])
def test_a_broken_parquet_report_is_refused_naming_what(tmp_path, edit, says):
    path = _parquet(tmp_path, edit(_typed()))
    with pytest.raises(InputDataError, match=re.escape(says)):
        protein_tables.read_protein_table(path, "diann_report", SAMPLES, {}, "human")


def _silac(t):
    """SYNTHETIC: the report made multiplexed as DIA-NN writes a SILAC report (its Channel.* columns, as in the real
    SILAC report of MSstatsConvert's tests, MSV000097050): each precursor twice, light and heavy."""
    heavy = t.assign(**{"Precursor.Id": t["Precursor.Id"] + "(SILAC-K-H)"})
    return pd.concat([t, heavy], ignore_index=True).assign(**{"Channel.Q.Value": "0", "Channel.L": "1",
                                                             "Channel.H": "1"})


@pytest.mark.parametrize("parquet", [False, True], ids=["tsv", "parquet"])
def test_a_multiplexed_report_is_refused(tmp_path, parquet):
    """Read as label-free, a SILAC or plexDIA report's channels would be summed into one protein value per run:
    refused from the header at start-up (Channel.* columns), or at ingest where a Channel column holds several
    channels (numbers too, as mTRAQ names them)."""
    text = pd.read_csv(REPORT, sep="\t", dtype=str, keep_default_na=False)
    path = tmp_path / "report.tsv"
    _silac(text).to_csv(path, sep="\t", index=False)
    with pytest.raises(InputDataError, match=re.escape("a multiplexed report (columns Channel.Q.Value, Channel.L, "
                                                       "Channel.H: DIA-NN's --channels, SILAC or plexDIA)")):
        protein_tables.sample_columns(path, "diann_report", SAMPLES, {})
    plex = _typed().assign(Channel=np.arange(2992) % 3 * 4)  # SYNTHETIC mTRAQ channels 0, 4, 8
    path = _parquet(tmp_path, plex) if parquet else tmp_path / "plex.tsv"
    if not parquet:
        plex.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputDataError, match=re.escape("column 'Channel' holds 3 channels ('0', '4', '8')")):
        protein_tables.read_protein_table(path, "diann_report", SAMPLES, {}, "human")
    one = _parquet(tmp_path, _typed().assign(Channel="0"), "one.parquet")  # one channel: label-free
    assert len(protein_tables.read_protein_table(one, "diann_report", SAMPLES, {}, "human")[0]) == 371


def test_a_parquet_that_is_not_a_report_or_not_parquet_is_refused(tmp_path):
    """Only DIA-NN's main report is read as parquet (a pg_matrix written as parquet is refused, named); a file
    named .parquet that is none (here gzip) is named at the header."""
    other = _parquet(tmp_path, pd.DataFrame({"Protein.Group": ["P1"], "a.raw": [1.0]}), "pg.parquet")
    with pytest.raises(InputDataError, match=re.escape("a parquet file is read as DIA-NN's main report "
                                                       "(report.parquet) only")):
        protein_tables.read_header(other)
    path = tmp_path / "report.parquet"
    path.write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(InputDataError, match=re.escape(f"{path}: cannot be read as a parquet file")):
        protein_tables.sample_columns(path, "diann_report", SAMPLES, {})
    cut = Path(_parquet(tmp_path, _typed(), "cut.parquet"))
    cut.write_bytes(cut.read_bytes()[:5000])
    with pytest.raises(InputDataError, match=re.escape(f"{cut}: cannot be read as a parquet file")):
        protein_tables.read_header(cut)


def test_qvalue_is_a_report_key_and_deqms_counts_its_precursors(tmp_path):
    """proteomics.qvalue on a protein table is refused, named; DEqMS on a report needs no count_column (through
    load_config, which knows the format), on a protein table it does."""
    spec = ups1_dataset()
    spec["proteomics"]["qvalue"] = 0.05
    with pytest.raises(ConfigError, match=re.escape("proteomics.qvalue is read for diann_report and spectronaut_report "
                                                    "tables")):
        load_one(tmp_path, spec)
    spec = ups1_dataset()
    spec["proteomics"].update(quantity_column="Precursor.Quantity", proteotypic_only=True,
                              qvalue_columns=["Lib.Q.Value"])
    with pytest.raises(ConfigError, match=re.escape("proteomics.qvalue_columns is read for diann_report and "
                                                    "spectronaut_report tables; proteomics.quantity_column is read "
                                                    "for diann_report and spectronaut_report tables; "
                                                    "proteomics.proteotypic_only is read for diann_report tables")):
        load_one(tmp_path, spec)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample\tdose\nKL_Try_001_a\t1\nKL_Try_001_b\t2\nKL_Try_001_c\t3\n")  # SYNTHETIC dose
    report = {"assay": "proteomics", "species": "human", "gene_ids": "protein", "counts": {"path": str(REPORT)},
              "samples": {"sheet": str(sheet)}, "numeric": ["dose"], "proteomics": {"min_valid": 1},
              "design": "~ dose", "contrasts": {"per_dose": {"variable": "dose"}}, "de": {"deqms": "loess"}}
    assert load_one(tmp_path, report).datasets["p"].spec["de"]["deqms"] == "loess"
    with pytest.raises(ConfigError, match="needs each protein's peptide or PSM count"):
        load_one(tmp_path, ups1_dataset(de={"deqms": "loess"}))


@pytest.mark.parametrize("parquet", [False, True], ids=["tsv", "parquet"])
def test_a_report_dataset_is_checked_at_start_up_and_ingested(tmp_path, parquet):
    """Through load_config (format detected, every sample's run found before any job) and the ingest job: the
    proteins and the preprocessing table's first step; the TSV and the report as DIA-NN 2 writes it in parquet.
    The 'dose' is SYNTHETIC (three runs of one digest): it only makes the config valid; nothing is tested along
    it. A sample without a run stops load_config."""
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample\tdose\nKL_Try_001_a\t1\nKL_Try_001_b\t2\nKL_Try_001_c\t3\n")
    path = _parquet(tmp_path, _diann2(_typed())) if parquet else str(REPORT)
    spec = {"assay": "proteomics", "species": "human", "gene_ids": "protein",
            "counts": {"path": path}, "samples": {"sheet": str(sheet)}, "numeric": ["dose"],
            "proteomics": {"summarise": "maxlfq", "min_valid": 1}, "design": "~ dose",
            "contrasts": {"per_dose": {"variable": "dose"}}}
    ds = load_one(tmp_path, spec).datasets["p"]
    assert ds.format == "diann_report"
    run_ingest(ds.params(rule="ingest"), str(tmp_path / "counts.h5ad"))
    adata = ad.read_h5ad(tmp_path / "counts.h5ad")
    assert adata.shape == (3, 371)
    _, _, pre = preprocess_dataset(adata, ds.spec)
    assert pre.steps[0]["detail"] == ("2992 report rows, dropped: 82 above the q-values or without a quantity; 1052 "
                                      "precursors (0 without a value, left out) summarised to 371 proteins by maxlfq")
    sheet.write_text("sample\tdose\nKL_Try_001_a\t1\nKL_Try_001_b\t2\nKL_Try_001_d\t3\n")
    column = "Run" if parquet else "File.Name"
    with pytest.raises(ConfigError, match=re.escape(f"1 sample(s) have no run in the report's {column!r} column: "
                                                    "'KL_Try_001_d'")):
        load_one(tmp_path, spec)


@pytest.mark.parametrize("opts, says", [
    ({"quantity_column": "FG.Quantity"}, "proteomics.quantity_column 'FG.Quantity': a DIA-NN report's precursor "
                                         "quantity is one of Precursor.Normalised, Precursor.Quantity"),
    ({"qvalue_columns": ["Q.Value", "EG.Qvalue"]}, "proteomics.qvalue_columns EG.Qvalue: DIA-NN's q-value columns "
                                                   "end in 'Q.Value'"),
])
def test_a_spectronaut_column_for_a_diann_report_is_refused(opts, says):
    """The quantity and q-value keys are shared with Spectronaut's report: a DIA-NN report refuses that engine's
    column names, named (the schema allows both engines' names)."""
    with pytest.raises(InputDataError, match=re.escape(says)):
        read_columns(REPORT, protein_tables.read_header(REPORT), opts)
