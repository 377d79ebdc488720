"""lsecflow.cell_files: the single-cell readers (h5ad with counts in X, a layer or .raw, 10x mtx folders and h5,
one file or one per sample) on the real Tabula Muris Senis cells, and broken files named."""
from __future__ import annotations

import anndata as ad
import h5py
import numpy as np
import pytest
import scipy.sparse as sp
from helpers import TMS_H5AD, write_10x_mtx
from lsecflow import cell_files, files
from lsecflow.errors import InputDataError


@pytest.fixture(scope="module")
def tms() -> ad.AnnData:
    return ad.read_h5ad(TMS_H5AD)


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
    got = cell_files.read_single_cell(str(TMS_H5AD), "h5ad")
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
    got = cell_files.read_single_cell(str(tmp_path / "layered.h5ad"), "h5ad", "auto")
    assert (got.X != sp.csr_matrix(tms.X).astype(np.int32)).nnz == 0
    with pytest.raises(InputDataError, match="normalised or log-transformed"):
        cell_files.read_single_cell(str(tmp_path / "layered.h5ad"), "h5ad", "X")
    with pytest.raises(InputDataError, match="counts.layer 'raw' but the file has no .raw"):
        cell_files.read_single_cell(str(tmp_path / "layered.h5ad"), "h5ad", "raw")
    with pytest.raises(InputDataError, match="counts.layer 'spliced' not found"):
        cell_files.read_single_cell(str(tmp_path / "layered.h5ad"), "h5ad", "spliced")


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
    got = cell_files.read_single_cell(str(tmp_path / "raw.h5ad"), "h5ad", "raw")
    assert list(got.var_names) == list(tms.var_names) and list(got.obs_names) == list(tms.obs_names)
    assert (got.X != sp.csr_matrix(tms.X).astype(np.int32)).nnz == 0
    assert "age_group" in got.obs
    with pytest.raises(InputDataError, match="normalised or log-transformed .* raw for scanpy's .raw"):
        cell_files.read_single_cell(str(tmp_path / "raw.h5ad"), "h5ad", "auto")
    a.layers["raw"] = a.X.copy()  # a layer that happens to be named raw stays that layer (as before .raw was read)
    a.write_h5ad(tmp_path / "layer_raw.h5ad")
    with pytest.raises(InputDataError, match="normalised or log-transformed"):
        cell_files.read_single_cell(str(tmp_path / "layer_raw.h5ad"), "h5ad", "raw")


def test_10x_mtx_folder(tmp_path, tms):
    write_10x_mtx(tms, tmp_path / "mtx")
    assert files.detect_format(tmp_path / "mtx") == "10x_mtx"
    got = cell_files.read_single_cell(str(tmp_path / "mtx"), "10x_mtx")
    assert list(got.var_names) == list(tms.var_names)
    assert (got.X != sp.csr_matrix(tms.X).astype(np.int32)).nnz == 0
    assert list(cell_files.peek_single_cell_obs(str(tmp_path / "mtx"), "10x_mtx").index) == list(tms.obs_names)


def test_10x_h5_and_several_samples(tmp_path, tms):
    young = tms[tms.obs["age_group"] == "YOUNG"]
    old = tms[tms.obs["age_group"] == "OLD"]
    write_10x_h5(young, tmp_path / "young.h5")
    write_10x_h5(old, tmp_path / "old.h5")
    assert files.detect_format(tmp_path / "young.h5") == "10x_h5"
    got = cell_files.read_single_cell({"young": str(tmp_path / "young.h5"), "old": str(tmp_path / "old.h5")}, "10x_h5")
    assert got.n_obs == tms.n_obs
    assert got.obs["_input_sample"].value_counts().to_dict() == {"old": old.n_obs, "young": young.n_obs}
    first = f"young:{young.obs_names[0]}"
    assert np.array_equal(got[first].X.toarray().ravel(), young[0].X.toarray().ravel().astype(np.int32))


@pytest.mark.parametrize("bend", ["truncated", "no barcodes", "not HDF5"])
def test_a_broken_10x_h5_is_named_at_parse_time_and_at_ingest(tmp_path, tms, bend):
    """A download cut short, a file without the barcodes dataset, a text file named .h5: before, h5py's OSError /
    KeyError at start-up and scanpy's bare Exception at ingest; now both name the file."""
    path = tmp_path / "cells.h5"
    write_10x_h5(tms[:40], path)
    if bend == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif bend == "no barcodes":
        with h5py.File(path, "a") as fh:
            del fh["matrix"]["barcodes"]
    else:
        path.write_text("cell,gene,count\n")
    for call in (lambda: cell_files.peek_single_cell_obs(str(path), "10x_h5"),
                 lambda: cell_files.read_single_cell(str(path), "10x_h5")):
        with pytest.raises(InputDataError, match=f"{path}: cannot be read as a Cell Ranger HDF5 matrix"):
            call()


def test_an_h5ad_cut_short_is_named_at_parse_time_and_at_ingest(tmp_path, tms):
    """A download cut short: refused at start-up (the backed read) and, should it change after, at ingest too
    (before: h5py's OSError there)."""
    path = tmp_path / "cells.h5ad"
    tms.write_h5ad(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    for call in (lambda: cell_files.peek_single_cell_obs(str(path), "h5ad"),
                 lambda: cell_files.read_single_cell(str(path), "h5ad")):
        with pytest.raises(InputDataError, match=f"{path}: cannot be read as h5ad"):
            call()
