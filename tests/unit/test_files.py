"""lsecflow.files: the single-cell readers (h5ad with counts in X, a layer or .raw, 10x mtx folders and h5) on the
real Tabula Muris Senis cells, unknown extensions refused, compression read from a file's bytes, text that is not
UTF-8 named by line."""
from __future__ import annotations

import gzip

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp
from helpers import TMS_H5AD
from lsecflow import files
from lsecflow.bulk_counts import read_bulk
from lsecflow.errors import InputDataError


@pytest.fixture(scope="module")
def tms() -> ad.AnnData:
    return ad.read_h5ad(TMS_H5AD)


def write_10x_mtx(adata: ad.AnnData, folder):
    folder.mkdir()
    with gzip.open(folder / "matrix.mtx.gz", "wb") as fh:
        scipy.io.mmwrite(fh, sp.csr_matrix(adata.X).T.astype(np.int64).tocoo(), field="integer")
    pd.DataFrame({"id": adata.var_names, "name": adata.var_names, "type": "Gene Expression"}).to_csv(
        folder / "features.tsv.gz", sep="\t", header=False, index=False)
    pd.Series(adata.obs_names).to_csv(folder / "barcodes.tsv.gz", header=False, index=False)


def write_10x_h5(adata: ad.AnnData, path):
    X = sp.csc_matrix(sp.csr_matrix(adata.X).T.astype(np.int32))  # genes x cells, CSC over cells
    with h5py.File(path, "w") as fh:
        m = fh.create_group("matrix")
        m["barcodes"] = np.array(adata.obs_names, dtype="S")
        m["data"], m["indices"], m["indptr"] = X.data, X.indices, X.indptr
        m["shape"] = np.array(X.shape, dtype=np.int32)
        f = m.create_group("features")
        f["id"] = np.array(adata.var_names, dtype="S")
        f["name"] = np.array(adata.var_names, dtype="S")
        f["feature_type"] = np.array(["Gene Expression"] * adata.n_vars, dtype="S")
        f["genome"] = np.array(["mm10"] * adata.n_vars, dtype="S")
        f["_all_tag_keys"] = np.array([b"genome"])


def test_h5ad_counts_in_X(tms):
    got = files.read_single_cell(str(TMS_H5AD), "h5ad")
    assert got.X.dtype == np.int32
    assert (got.X != sp.csr_matrix(tms.X).astype(np.int32)).nnz == 0
    assert list(got.obs_names) == list(tms.obs_names)


def test_h5ad_counts_in_layer_with_normalised_X(tmp_path, tms):
    import scanpy as sc

    a = tms.copy()
    a.layers["counts"] = a.X.copy()
    sc.pp.normalize_total(a)
    sc.pp.log1p(a)
    a.write_h5ad(tmp_path / "layered.h5ad")
    got = files.read_single_cell(str(tmp_path / "layered.h5ad"), "h5ad", "auto")
    assert (got.X != sp.csr_matrix(tms.X).astype(np.int32)).nnz == 0
    with pytest.raises(InputDataError, match="normalised or log-transformed"):
        files.read_single_cell(str(tmp_path / "layered.h5ad"), "h5ad", "X")
    with pytest.raises(InputDataError, match="counts.layer 'raw' but the file has no .raw"):
        files.read_single_cell(str(tmp_path / "layered.h5ad"), "h5ad", "raw")
    with pytest.raises(InputDataError, match="counts.layer 'spliced' not found"):
        files.read_single_cell(str(tmp_path / "layered.h5ad"), "h5ad", "spliced")


def test_h5ad_counts_in_raw(tmp_path, tms):
    """scanpy's layout in many published files: the counts in .raw (all genes), X normalised and cut to fewer
    genes. counts.layer: raw reads .raw's matrix and genes; the default refuses X's values, naming the key."""
    import scanpy as sc

    a = tms.copy()
    a.raw = a.copy()
    sc.pp.normalize_total(a)
    sc.pp.log1p(a)
    a = a[:, 100:].copy()
    a.write_h5ad(tmp_path / "raw.h5ad")
    got = files.read_single_cell(str(tmp_path / "raw.h5ad"), "h5ad", "raw")
    assert list(got.var_names) == list(tms.var_names) and list(got.obs_names) == list(tms.obs_names)
    assert (got.X != sp.csr_matrix(tms.X).astype(np.int32)).nnz == 0
    assert "age_group" in got.obs
    with pytest.raises(InputDataError, match="normalised or log-transformed .* raw for scanpy's .raw"):
        files.read_single_cell(str(tmp_path / "raw.h5ad"), "h5ad", "auto")
    a.layers["raw"] = a.X.copy()  # a layer that happens to be named raw stays that layer (as before .raw was read)
    a.write_h5ad(tmp_path / "layer_raw.h5ad")
    with pytest.raises(InputDataError, match="normalised or log-transformed"):
        files.read_single_cell(str(tmp_path / "layer_raw.h5ad"), "h5ad", "raw")


def test_10x_mtx_folder(tmp_path, tms):
    write_10x_mtx(tms, tmp_path / "mtx")
    assert files.detect_format(tmp_path / "mtx") == "10x_mtx"
    got = files.read_single_cell(str(tmp_path / "mtx"), "10x_mtx")
    assert list(got.var_names) == list(tms.var_names)
    assert (got.X != sp.csr_matrix(tms.X).astype(np.int32)).nnz == 0
    assert list(files.peek_single_cell_obs(str(tmp_path / "mtx"), "10x_mtx").index) == list(tms.obs_names)


def test_10x_h5_and_several_samples(tmp_path, tms):
    young = tms[tms.obs["age_group"] == "YOUNG"]
    old = tms[tms.obs["age_group"] == "OLD"]
    write_10x_h5(young, tmp_path / "young.h5")
    write_10x_h5(old, tmp_path / "old.h5")
    assert files.detect_format(tmp_path / "young.h5") == "10x_h5"
    got = files.read_single_cell({"young": str(tmp_path / "young.h5"), "old": str(tmp_path / "old.h5")}, "10x_h5")
    assert got.n_obs == tms.n_obs
    assert got.obs["_input_sample"].value_counts().to_dict() == {"old": old.n_obs, "young": young.n_obs}
    first = f"young:{young.obs_names[0]}"
    assert np.array_equal(got[first].X.toarray().ravel(), young[0].X.toarray().ravel().astype(np.int32))


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
