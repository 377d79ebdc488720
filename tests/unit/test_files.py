"""lsecflow.files: unknown extensions refused, workbooks known, compression read from a file's bytes, text that is
not UTF-8 named by line (the single-cell readers: test_cell_files.py)."""
from __future__ import annotations

import gzip

import pytest
from helpers import TMS_H5AD
from lsecflow import files
from lsecflow.bulk_counts import read_bulk
from lsecflow.errors import InputDataError


def test_unknown_extension(tmp_path):
    (tmp_path / "m.parquet").write_bytes(b"PAR1")
    with pytest.raises(InputDataError, match="unknown count-matrix format"):
        files.detect_format(tmp_path / "m.parquet")


def test_a_workbook_is_known_by_its_name_or_its_bytes(tmp_path):
    """An old Excel .xls (OLE2 bytes) named .tsv is refused as a workbook, with the format declared too; text
    (named .xls too), gzip and HDF5 files are not workbooks."""
    xls = tmp_path / "counts.tsv"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    for declared in ("auto", "tsv"):
        with pytest.raises(InputDataError, match="counts.tsv: is a spreadsheet workbook, not a text table"):
            files.detect_format(xls, declared)
    (tmp_path / "t.tsv").write_text("gene\ta\ng1\t1\n")
    assert files.workbook(tmp_path / "t.tsv") == files.workbook(TMS_H5AD) == ""
    (tmp_path / "peaks.xls").write_text("gene\ta\ng1\t1\n")  # text named .xls, as some tools write: not a workbook
    assert files.workbook(tmp_path / "peaks.xls") == files.workbook(tmp_path / "missing.xlsx") == ""


def test_compression_is_read_from_the_bytes_and_a_misleading_name_is_logged(tmp_path, caplog):
    """A gzip file named .tsv and a plain file named .tsv.gz (a browser that decompressed a download keeps its
    name) are read as what they are, each with a warning naming the file; a file whose name says the truth
    is read without one; the warning comes once per file, not once per read."""
    text = "gene_id\tS1\nG1\t3\n"
    gz_plain, plain_gz, honest = tmp_path / "a.tsv", tmp_path / "b.tsv.gz", tmp_path / "c.tsv.gz"
    for path in (gz_plain, honest):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    plain_gz.write_text(text)
    with caplog.at_level("WARNING", logger="lsecflow.files"):
        assert [files.compression(p) for p in (gz_plain, plain_gz, honest)] == ["gzip", None, "gzip"]
        for path in (gz_plain, plain_gz, honest):
            with files.open_text(path) as fh:
                assert fh.read() == text
    warned = "\n".join(r.getMessage() for r in caplog.records)
    assert "a.tsv: gzip-compressed though its name does not end in .gz" in warned
    assert "b.tsv.gz: named .gz but not gzip-compressed; read as plain text" in warned
    assert "c.tsv.gz" not in warned
    assert warned.count("a.tsv: gzip-compressed") == 1  # once per file, though it was read twice


def test_a_count_matrix_that_is_not_utf8_is_named_by_line(tmp_path):
    """Latin-1 bytes in a gzipped count matrix's gene ids (``files.reading`` around the bulk reader): the message
    gives the line and the bytes, not a codec's position in pandas' buffer."""
    path = tmp_path / "counts.tsv.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"gene_id\tS1\tS2\nG1\t3\t4\nG\xe92\t1\t0\n")
    with pytest.raises(InputDataError, match=r"line 3 is not UTF-8 \(near 'G.2\\t1\\t0'; byte 0xe9"):
        read_bulk(path, "tsv")
