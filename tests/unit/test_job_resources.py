"""lsecflow.job_resources: what the single-cell QC job asks the scheduler for, from its input's shape."""
from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp
from helpers import TMS_H5AD
from lsecflow.job_resources import (
    LEIDEN_BESIDE_CELLS,
    h5ad_shape,
    single_cell_qc_mb,
    single_cell_qc_minutes,
    single_cell_qc_threads,
)


def test_shape_is_read_without_the_matrix(tmp_path):
    assert h5ad_shape(TMS_H5AD) == (468, 726)
    dense = tmp_path / "dense.h5ad"
    ad.AnnData(np.ones((3, 5), dtype=np.float32)).write_h5ad(dense)
    assert h5ad_shape(dense) == (3, 5)
    sparse = tmp_path / "sparse.h5ad"
    ad.AnnData(sp.random(7, 4, density=0.5, format="csr", dtype=np.float32)).write_h5ad(sparse)
    assert h5ad_shape(sparse) == (7, 4)
    assert h5ad_shape(tmp_path / "not_yet.h5ad") is None  # a dry run: the ingest has not run


def test_memory_follows_cells_and_scrublets_block_not_the_matrix():
    """Measured peaks (bench/sc_scale.py, docs/benchmarks.md): 12.45 GiB at 1M cells x 20k genes without
    doublet scores (11.0 GiB before the covariance PCA, on exact-duplicate cells), 13.37 GiB for the job and
    its Leiden process together since Leiden runs beside the UMAP, 11.4 GiB for scrublet on a block of 20k
    cells x 20k genes."""
    assert single_cell_qc_mb(None, 20_000, True) == 4000
    assert single_cell_qc_mb((468, 726), 20_000, True) == 4000  # the shipped sample: the floor
    atlas = single_cell_qc_mb((1_000_000, 20_000), 20_000, False)
    assert 13.37 * 1024 <= atlas <= 15 * 1024
    block = single_cell_qc_mb((100_000, 20_000), 20_000, True)
    assert 11.4 * 1024 <= block <= 14 * 1024 and single_cell_qc_mb((100_000, 20_000), 20_000, False) == 4000
    assert single_cell_qc_mb((100_000, 20_000), 5_000, True) < block  # smaller blocks, less for scrublet


def test_run_time_follows_cells_and_doublet_scores():
    """Measured (bench/sc_scale.py, 2 cores, docs/benchmarks.md): 1M cells x 20k genes took 1,482 s without
    doublet scores and 4,077 s with scrublet; the request is twice that, never under an hour."""
    assert single_cell_qc_minutes(None, 20_000, True) == 60  # a dry run: the ingest has not run
    assert single_cell_qc_minutes((468, 726), 20_000, True) == 60  # the shipped sample: the floor
    without = single_cell_qc_minutes((1_000_000, 20_000), 20_000, False)
    with_scrublet = single_cell_qc_minutes((1_000_000, 20_000), 20_000, True)
    assert 2 * 1_482 / 60 <= without <= 3 * 1_482 / 60
    assert 2 * 4_077 / 60 <= with_scrublet <= 3 * 4_077 / 60
    assert single_cell_qc_minutes((1_000_000, 20_000), 5_000, True) < with_scrublet  # smaller blocks, less search


def test_two_cores_where_leiden_runs_beside_the_gpu_layout():
    assert single_cell_qc_threads(None, True) == 1  # a dry run: the ingest has not run
    assert single_cell_qc_threads((468, 726), True) == 1
    assert single_cell_qc_threads((LEIDEN_BESIDE_CELLS - 1, 20_000), True) == 1
    assert single_cell_qc_threads((LEIDEN_BESIDE_CELLS, 20_000), True) == single_cell_qc_threads((10**6, 20_000), True) == 2
    assert single_cell_qc_threads((10**6, 20_000), False) == 1  # the CPU path clusters after the UMAP
