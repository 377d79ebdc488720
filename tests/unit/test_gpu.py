"""compute.gpu: the CPU fallback and its log line everywhere; the GPU path
against the CPU path only where a CUDA GPU and its libraries are present
(cupy for the pseudobulk sums, rapids-singlecell too for the embedding;
skipped cleanly otherwise, as in CI)."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from helpers import TMS_H5AD
from lsecflow import gpu
from lsecflow import pseudobulk as pb
from lsecflow.errors import InputDataError

HAS_GPU, WHY = gpu.gpu_status()  # cupy and a CUDA device: single-cell QC and pseudobulk
HAS_RAPIDS_GPU, WHY_RAPIDS = gpu.gpu_status("rapids")


def tms_counts(backed: bool = False):
    """The shipped TMS cells, in memory or backed (read in blocks, as the pseudobulk rule does), with a sample column."""
    import anndata as ad

    a = ad.read_h5ad(TMS_H5AD, backed="r" if backed else None)
    a.obs["sample"] = a.obs["cell"].astype(str).str.split("_").str[1]
    return a


def cell_type_codes(a) -> tuple[np.ndarray, int]:
    """Each cell's cell-type group (0 .. n-1) and the number of groups n."""
    codes = np.asarray(a.obs["cell_type"].astype("category").cat.codes, dtype=np.int64)
    return codes, int(codes.max()) + 1




needs_gpu = pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU here: {WHY}")


def test_auto_and_false_say_which_and_why(caplog):
    caplog.set_level(logging.INFO, logger="lsecflow.gpu")
    assert gpu.use_gpu(False, "pseudobulk aggregation") is False
    assert "pseudobulk aggregation runs on the CPU: compute.gpu is false" in caplog.text
    caplog.clear()
    assert gpu.use_gpu("auto", "single-cell QC") is HAS_GPU
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1  # one line, saying which and why
    if HAS_GPU:
        assert lines[0].startswith("single-cell QC runs on the GPU (cupy): ")
    else:
        assert lines[0] == f"single-cell QC runs on the CPU: compute.gpu is auto and {WHY}"
    caplog.clear()
    # rapids-singlecell is asked for by name only; cupy alone is enough for every GPU step
    assert gpu.use_gpu("auto", "embedding", needs="rapids") is HAS_RAPIDS_GPU
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("embedding runs on the GPU (rapids-singlecell): ") if HAS_RAPIDS_GPU else \
        line == f"embedding runs on the CPU: compute.gpu is auto and {WHY_RAPIDS}"


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU and cupy")
def test_true_without_a_gpu_is_a_clear_error():
    with pytest.raises(InputDataError, match=r"config key 'compute.gpu' is true but single-cell QC cannot "
                                             r"use a GPU on this node: .*Set compute.gpu: auto"):
        gpu.use_gpu(True, "single-cell QC")




def test_group_sums_kernel_equals_sparse_product():
    """The GPU path's arithmetic (gpu.group_sums_flat), run here with numpy on the real TMS counts:
    the same integer sums as the CPU path's sparse product, left-out rows included."""
    import scipy.sparse as sp

    a = tms_counts()
    X = sp.csr_matrix(a.X)
    codes, n = cell_type_codes(a)
    codes[::7] = -1  # left out, as cells failing QC are
    keep = np.flatnonzero(codes >= 0)
    block = X[keep]
    flat = gpu.group_sums_flat(np, block.indptr, block.indices, block.data, codes[keep], n, X.shape[1])
    np.testing.assert_array_equal(flat, pb.group_sums(X, codes, n, 100))
    assert flat.sum() == block.sum(dtype=np.float64) > 0


@needs_gpu
def test_gpu_pseudobulk_sums_equal_cpu():
    a = tms_counts()
    codes, n = cell_type_codes(a)
    np.testing.assert_array_equal(pb.group_sums(a.X, codes, n, 100, gpu=True), pb.group_sums(a.X, codes, n, 100))


@needs_gpu
def test_gpu_pseudobulk_backed_with_mask_equals_cpu():
    """What the pseudobulk rule does: the h5ad read backed, in blocks, with QC-failed cells left out."""
    a = tms_counts(backed=True)
    mask = np.random.default_rng(0).random(a.n_obs) < 0.8
    cpu, cpu_cells = pb.pseudobulk(a, "sample", "cell_type", 5, 0, mask=mask, chunk_size=777)
    dev, dev_cells = pb.pseudobulk(a, "sample", "cell_type", 5, 0, mask=mask, chunk_size=777, gpu=True)
    assert cpu.n_obs > 5 and list(dev.obs_names) == list(cpu.obs_names)
    np.testing.assert_array_equal(np.asarray(dev.X), np.asarray(cpu.X))
    assert dev_cells.equals(cpu_cells)
