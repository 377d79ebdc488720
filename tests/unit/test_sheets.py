"""lsecflow.sheets: a lab's sample sheet as it comes (CSV, BOM, CRLF, its own id column), and sheet errors."""
from __future__ import annotations

import pandas as pd
import pytest
from helpers import DLPC_COUNTS, REPO, dlpc_dataset, load_datasets
from lsecflow.errors import ConfigError
from lsecflow.ingest import build_counts


def test_a_labs_sheet_as_it_comes(tmp_path):
    """The shipped DLPC sheet as a lab sends it: CSV, UTF-8 byte-order mark, CRLF line ends, ids in a column
    named sample_id (samples.id_column), rows shuffled. Parse-time checks and ingest read it exactly as the
    TSV: the same sheet, the same counts.h5ad obs and matrix (so the same DE)."""
    tsv = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t", dtype=str)
    lab = tsv.rename(columns={"sample": "sample_id"}).sample(frac=1, random_state=3)
    csv = tmp_path / "sheet.csv"
    csv.write_bytes(b"\xef\xbb\xbf" + lab.to_csv(index=False, lineterminator="\r\n").encode())
    spec = dlpc_dataset(DLPC_COUNTS, csv)
    spec["samples"]["id_column"] = "sample_id"
    ours, ref = load_datasets({"d": spec}).datasets["d"], load_datasets({"d": dlpc_dataset(DLPC_COUNTS)}).datasets["d"]
    assert ours.sheet.sort_index().equals(ref.sheet.sort_index())
    a, _ = build_counts(ours.params(rule="ingest"))
    b, _ = build_counts(ref.params(rule="ingest"))
    a, b = a[sorted(a.obs_names)], b[sorted(b.obs_names)]  # rows follow the sheet; DE sorts samples itself
    assert a.obs.equals(b.obs) and (a.X == b.X).all() and a.var.equals(b.var)


@pytest.mark.parametrize("name, content, error", [
    ("sheet.xlsx", "sample\tGroup\n", "unknown file type '.xlsx'; name it .tsv"),
    ("sheet.csv", "id,Group\nSample720,Chow\n", "the sample id column 'sample' is missing .* samples.id_column"),
    # the delimiter the extension does not say: named, with the fix
    ("sheet.tsv", "sample,Group\nSample720,Chow\n", "its header has commas and no tabs: name the file .csv, or save "
                                                      "it tab-separated"),
    ("sheet.csv", "sample\tGroup\nSample720\tChow\n", "its header has tabs and no commas: name the file .tsv"),
    ("sheet.tsv", "sample;Group\nSample720;Chow\n", "semicolons and no tabs: save it tab-separated .* or comma"),
    # Latin-1 (Excel's "CSV" on Windows): the line and the bytes, not a codec's position
    ("sheet.tsv", "sample\tGroup\nSample720\tChow\nSample725\tDiseas\xe9\n",
     r"line 3 is not UTF-8 \(near 'Sample725\\tDiseas.'; byte 0xe9, Latin-1 .*save the file as UTF-8"),
    # a workbook saved under a text name (binary: no Latin-1 advice)
    ("sheet.csv", "PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xe9\x8c",
     r"is a zip archive \(as an .xlsx workbook is\), not a text table.*'CSV UTF-8 \(.csv\)'"),
])
def test_sheet_type_and_id_column_errors(tmp_path, name, content, error):
    (tmp_path / name).write_bytes(content.encode("latin-1"))
    with pytest.raises(ConfigError, match=error):
        load_datasets({"d": dlpc_dataset(DLPC_COUNTS, tmp_path / name)})


@pytest.mark.parametrize("rename", [True, False])
def test_a_transposed_matrix_is_named_as_such(tmp_path, rename):
    """300 real DLPC genes written with samples as rows: the parse-time check says the matrix looks transposed
    (through samples.rename's check or the id match), and lists at most 20 of the 300 gene ids it found where
    samples belong (found by bench/fuzz_inputs.py)."""
    counts = pd.read_csv(DLPC_COUNTS, sep="\t", index_col=0).head(300)
    counts.T.to_csv(tmp_path / "t.tsv.gz", sep="\t")
    spec = dlpc_dataset(tmp_path / "t.tsv.gz")
    if not rename:
        spec["samples"].pop("rename")
    with pytest.raises(ConfigError, match="300 sample columns for 20 samples .* is the matrix transposed") as err:
        load_datasets({"d": spec})
    assert rename or "... and 280 more" in str(err.value)
