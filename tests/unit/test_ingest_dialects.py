"""Property-based input tests (hypothesis): the shipped DLPC sheet and a real count slice written in random
but valid dialects read to the same model, and random corruptions of them stop with an lsecflow error
before any job.

Valid dialects: sheet as .tsv/.txt/.csv (delimiter by extension), a byte-order mark, CRLF line ends, every
field quoted, its columns and rows shuffled, an extra column, the design levels renamed (contrasts
renamed with them), trailing empty lines, gzipped (named .gz or not); matrix as .tsv/.csv, gzipped or not,
CRLF, quoted, its genes and sample columns shuffled, gzipped where its name says plain or plain where it
says .gz. What the DE fits -- ``lsecflow.de_inputs.model_inputs``: the counts (samples
sorted by id) and the design columns as categoricals ordered by role -- must be identical to the
reference's, with the renamed levels mapped back; the DE tables depend on nothing else, and a second
property runs the whole fit on fewer examples and compares the tables themselves.

Corruptions (one per example, at a random place): whitespace around a level, a case variant of a level,
an NA-like design value, a non-integer, negative or overflowing count, a truncated gzip, a duplicated
gene id, a duplicated sample id, a duplicated key in the dataset file, the sheet or matrix zipped (as a
workbook is); each kind also once as an explicit example. Each must raise an
``LsecflowError`` (a message naming the problem; never another exception, which would be a traceback)
in the parse-time checks or in ingest -- before any DE job."""
from __future__ import annotations

import csv
import gzip
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import DLPC_COUNTS, DLPC_SHEET, REPO, dlpc_dataset
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lsecflow import de, de_inputs
from lsecflow.config import load_config
from lsecflow.errors import LsecflowError
from lsecflow.ingest import build_counts

LEVELS = ["Chow", "Disease", "Disease/Agonist"]


def examples(n: int) -> settings:
    """``n`` examples, derandomised (the same examples on every run: a failure reproduces in CI), no deadline."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def slice_() -> pd.DataFrame:
    """60 real DLPC genes (the most expressed) x 20 samples, header as published (Sample724)."""
    counts = pd.read_csv(DLPC_COUNTS, sep="\t", index_col=0)
    return counts.loc[counts.sum(axis=1).sort_values(ascending=False).index[:60]]


def write_table(df: pd.DataFrame, path: Path, crlf: bool, quote: bool, bom: bool = False, trailing: int = 0,
                index: bool = True, gz: bool | None = None) -> Path:
    """``gz``: gzip the file or not whatever its name says (None: as its name says)."""
    sep = "," if ".csv" in path.name else "\t"
    text = df.to_csv(sep=sep, index=index, lineterminator="\r\n" if crlf else "\n",
                     quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL)
    text = ("\ufeff" if bom else "") + text + ("\r\n" if crlf else "\n") * trailing
    if path.name.endswith(".gz") if gz is None else gz:
        with gzip.open(path, "wt", newline="") as fh:
            fh.write(text)
    else:
        path.write_text(text, newline="")
    return path


def config_for(folder: Path, counts: Path, sheet: Path, names: dict[str, str], dataset_text: str | None = None):
    """A config over the two files; contrasts use the renamed levels; fitType mean (60 genes)."""
    spec = dlpc_dataset(counts, sheet)
    spec["de"] = {"fit_type": "mean"}
    spec["paracrine"] = {"enabled": False}
    for c in spec["contrasts"].values():
        c["target"], c["reference"] = names[c["target"]], names[c["reference"]]
    if dataset_text is not None:  # the dataset as a file (for duplicate-key corruption)
        path = folder / "dataset.yaml"
        path.write_text(dataset_text)
        return {"results": str(folder / "results"), "datasets": {"dlpc_liver": str(path)}}
    return {"results": str(folder / "results"), "datasets": {"dlpc_liver": spec}}


def model_of(cfg: dict):
    ds = load_config(cfg, roots=[REPO]).datasets["dlpc_liver"]
    adata, _ = build_counts(ds.params())
    sub, counts, meta = de_inputs.model_inputs(adata, ds.design_columns, ds.spec["de"], ds.contrasts)
    return ds, adata, counts, meta


@pytest.fixture(scope="module")
def reference(slice_, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    counts = write_table(slice_, folder / "counts.tsv.gz", False, False)
    cfg = config_for(folder, counts, DLPC_SHEET, {lv: lv for lv in LEVELS})
    ds, adata, counts_df, meta = model_of(cfg)
    dds = de.fit_model(adata, ds.spec["design"], ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)
    tables = {n: de.contrast_results(dds, c, ds.spec["de"]) for n, c in ds.contrasts.items()}
    return counts_df, meta, tables


dialects = st.fixed_dictionaries({
    "sheet_ext": st.sampled_from([".tsv", ".txt", ".csv"]),
    "sheet_bom": st.booleans(), "sheet_crlf": st.booleans(), "sheet_quote": st.booleans(),
    "sheet_trailing": st.integers(0, 3), "sheet_seed": st.integers(0, 2**31 - 1),
    "extra_column": st.booleans(),
    "names": st.permutations(["ctrl", "PN disease", "PN+DLPC", "grp-1", "B"]).map(lambda p: dict(zip(LEVELS, p[:3]))),
    "matrix_ext": st.sampled_from([".tsv", ".tsv.gz", ".csv", ".csv.gz", ".txt"]),
    "matrix_crlf": st.booleans(), "matrix_quote": st.booleans(), "matrix_seed": st.integers(0, 2**31 - 1),
    # compression read from the bytes, not the name (a browser that decompressed a download keeps its .gz)
    "matrix_gz_flipped": st.booleans(), "sheet_gzipped": st.booleans(),
})


def write_dialect(folder: Path, slice_: pd.DataFrame, d: dict) -> tuple[Path, Path]:
    rng = np.random.default_rng(d["sheet_seed"])
    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str)
    sheet["Group"] = sheet["Group"].map(d["names"])
    if d["extra_column"]:
        sheet["note"] = [f"mouse {i}" for i in range(len(sheet))]
    sheet = sheet.iloc[rng.permutation(len(sheet)), rng.permutation(sheet.shape[1])]
    gz_name = d["sheet_gzipped"] and d["sheet_seed"] % 2  # half of the gzipped sheets named .gz, half not
    sheet_path = write_table(sheet, folder / f"sheet{d['sheet_ext']}{'.gz' if gz_name else ''}", d["sheet_crlf"],
                             d["sheet_quote"], d["sheet_bom"], d["sheet_trailing"], index=False, gz=d["sheet_gzipped"])
    mrng = np.random.default_rng(d["matrix_seed"])
    matrix = slice_.iloc[mrng.permutation(slice_.shape[0]), mrng.permutation(slice_.shape[1])]
    flip = d["matrix_ext"].endswith(".gz") != d["matrix_gz_flipped"] if d["matrix_gz_flipped"] else None
    counts_path = write_table(matrix, folder / f"counts{d['matrix_ext']}", d["matrix_crlf"], d["matrix_quote"], gz=flip)
    return counts_path, sheet_path


CORRUPTIONS = ["level_whitespace", "level_case", "level_na", "non_integer", "negative", "overflow", "huge_float",
               "truncated_gzip", "duplicated_gene", "duplicated_sample", "duplicated_yaml_key", "zipped"]


@examples(200)
@given(d=dialects)
def test_valid_dialects_give_the_same_model(slice_, reference, d):
    ref_counts, ref_meta, _ = reference
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        counts_path, sheet_path = write_dialect(folder, slice_, d)
        _, _, counts, meta = model_of(config_for(folder, counts_path, sheet_path, d["names"]))
    pd.testing.assert_frame_equal(counts, ref_counts)
    back = {v: k for k, v in d["names"].items()}
    assert list(meta["Group"].cat.categories.map(back)) == list(ref_meta["Group"].cat.categories)
    assert list(meta["Group"].map(back)) == list(ref_meta["Group"])


@examples(12)
@given(d=dialects)
def test_valid_dialects_give_the_same_de_tables(slice_, reference, d):
    """The whole fit on fewer examples (a fit takes ~0.2 s): every contrast's table identical."""
    *_, ref_tables = reference
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        counts_path, sheet_path = write_dialect(folder, slice_, d)
        ds, adata, _, _ = model_of(config_for(folder, counts_path, sheet_path, d["names"]))
        dds = de.fit_model(adata, ds.spec["design"], ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)
        for name, contrast in ds.contrasts.items():
            pd.testing.assert_frame_equal(de.contrast_results(dds, contrast, ds.spec["de"]), ref_tables[name])


def every_kind(test):
    """One explicit example of each corruption besides the random ones: the derandomised draws need not reach every
    kind (the zipped one was added and not drawn until made explicit)."""
    for kind in CORRUPTIONS:
        test = example(kind=kind, row=3, gene=5, column=2, na="NA", space=" ", big="18446744073709551615")(test)
    return test


@examples(200)
@given(kind=st.sampled_from(CORRUPTIONS), row=st.integers(0, 19), gene=st.integers(0, 59),
       column=st.integers(0, 19), na=st.sampled_from(["NA", "NaN", "null", "", "N/A", "#N/A", "None", "-"]),
       space=st.sampled_from([" ", "  ", "\t"]), big=st.sampled_from(["18446744073709551615", "9223372036854775808",
                                                                      "123456789012345678901234567890"]))
@example(kind="zipped", row=0, gene=0, column=0, na="NA", space=" ", big="1")  # the matrix zipped (odd rows: the sheet)
@every_kind
def test_corruptions_stop_with_an_lsecflow_error(slice_, kind, row, gene, column, na, space, big):
    names = {lv: lv for lv in LEVELS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str)
        matrix = slice_.astype(object).copy()
        dataset_text = None
        if kind == "level_whitespace":
            sheet.loc[row, "Group"] = sheet.loc[row, "Group"] + space if row % 2 else space + sheet.loc[row, "Group"]
        elif kind == "level_case":
            sheet.loc[row, "Group"] = sheet.loc[row, "Group"].lower() if row % 2 else sheet.loc[row, "Group"].upper()
        elif kind == "level_na":
            sheet.loc[row, "Group"] = na
        elif kind == "non_integer":
            matrix.iat[gene, column] = f"{matrix.iat[gene, column]}.5"
        elif kind == "negative":
            matrix.iat[gene, column] = -1 - int(matrix.iat[gene, column])
        elif kind == "overflow":
            matrix.iat[gene, column] = big
        elif kind == "huge_float":
            matrix.iat[gene, column] = "1e20"
        elif kind == "duplicated_gene":
            matrix.index = [matrix.index[gene] if i == (gene + 1 + row) % 60 else g for i, g in enumerate(matrix.index)]
        elif kind == "duplicated_sample":
            sheet.loc[row, "sample"] = sheet.loc[(row + 1) % 20, "sample"]
        sheet_path = write_table(sheet, folder / "sheet.tsv", False, False, index=False)
        counts_path = write_table(matrix, folder / "counts.tsv.gz", False, False)
        if kind == "truncated_gzip":
            data = counts_path.read_bytes()
            counts_path.write_bytes(data[: max(200, int(len(data) * (0.3 + 0.03 * row)))])
        if kind == "zipped":  # the sheet or the matrix zipped under its own name (as a workbook is a zip)
            target = sheet_path if row % 2 else counts_path
            data = target.read_bytes()
            with zipfile.ZipFile(target, "w") as z:
                z.writestr("sheet1.xml", data)
        if kind == "duplicated_yaml_key":
            spec = config_for(folder, counts_path, sheet_path, names)["datasets"]["dlpc_liver"]
            text = yaml.safe_dump(spec, sort_keys=False)
            key = ["design", "species", "assay", "contrasts", "samples"][row % 5]
            dup = yaml.safe_dump({key: spec[key]}, sort_keys=False)
            dataset_text = text + dup if row % 2 else dup + text
        cfg = config_for(folder, counts_path, sheet_path, names, dataset_text)
        with pytest.raises(LsecflowError) as exc:
            model_of(cfg)
    message = str(exc.value)
    assert message and "Traceback" not in message
    if kind == "zipped":
        assert "is a zip archive (as an .xlsx workbook is), not a text table" in message, message
    if kind in ("non_integer", "negative", "overflow", "huge_float"):
        sample = slice_.columns[column]
        assert sample in message or sample.replace("Sample724", "Sample725") in message, message
