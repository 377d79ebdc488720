"""lsecflow.cell_arrays: the CPU's segment and column sums give what cupy's bincount formula gives, on the
real TMS liver counts with empty cells planted at the start, the middle and the end of a block."""
from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp
from helpers import TMS_H5AD
from lsecflow import cell_arrays


class BincountNumpy:
    """numpy under another name, so that the helpers take their cupy (bincount) branch on the CPU."""

    def __getattr__(self, name):
        return getattr(np, name)


def block_with_empty_cells() -> sp.csr_matrix:
    X = sp.csr_matrix(ad.read_h5ad(TMS_H5AD).X, dtype=np.float32)
    empty = sp.csr_matrix((1, X.shape[1]), dtype=np.float32)
    return sp.vstack([empty, empty, X[:200], empty, X[200:], empty, empty]).tocsr()


def test_row_and_column_sums_equal_bincount():
    block = block_with_empty_cells()
    data, indices, rows = cell_arrays.csr_arrays(block, np)
    values = data.astype(np.float64)
    sums = cell_arrays.row_sums(values, block.indptr, rows, np)
    assert sums.shape == (block.shape[0],) and sums[[0, 1, 202, -2, -1]].tolist() == [0.0] * 5
    np.testing.assert_array_equal(sums, np.bincount(rows, weights=values, minlength=block.shape[0]))
    np.testing.assert_array_equal(sums, np.asarray(block.sum(axis=1)).ravel())
    cols = cell_arrays.column_sums(values, indices, block.indptr, block.shape[1], np)
    np.testing.assert_allclose(cols, np.bincount(indices, weights=values, minlength=block.shape[1]), rtol=1e-12)


def test_block_stats_equal_the_bincount_path():
    """block_stats on the CPU (segment and column sums) equals its cupy formulas run with numpy."""
    block = block_with_empty_cells()
    mito = np.zeros(block.shape[1], dtype=bool)
    mito[::50] = True
    fast, plain = cell_arrays.block_stats(block, mito, np), cell_arrays.block_stats(block, mito, BincountNumpy())
    for key in ("total", "n_genes", "mito"):
        np.testing.assert_array_equal(fast[key], plain[key], err_msg=key)
    for key in ("slog", "s1", "s2"):
        np.testing.assert_allclose(fast[key], plain[key], rtol=1e-12, err_msg=key)
    assert fast["total"][0] == 0 and fast["n_genes"][-1] == 0
