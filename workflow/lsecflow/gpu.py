"""GPU-optional single-cell steps (``compute.gpu: auto | true | false``).

With a CUDA GPU and cupy, the single-cell QC's normalisation, gene
statistics, PCA and exact neighbours run on the GPU (:mod:`lsecflow.cell_arrays`, :mod:`lsecflow.cell_knn`,
the same code as on the CPU with cupy for numpy), and so do UMAP and
Leiden where rapids-singlecell is importable (every embedding step on it);
the pseudobulk sums need only cupy. Otherwise everything runs on the CPU
(numpy, scipy, scanpy). The
choice is made inside the job, on the node that runs it, and logged in one
line saying which and why. ``true`` without a usable GPU is an error, not a
silent fallback.
"""
from __future__ import annotations

import logging

from .errors import InputDataError

log = logging.getLogger(__name__)


def gpu_status(needs: str = "cupy") -> tuple[bool, str]:
    """(usable, why): at least one CUDA device and the libraries a step needs.

    Parameters
    ----------
    needs
        ``"cupy"`` (cupy alone: single-cell QC and the pseudobulk sums) or ``"rapids"``
        (rapids-singlecell too).
    """
    try:
        import cupy
        if needs == "rapids":
            import rapids_singlecell  # noqa: F401
    except ImportError as exc:
        what = "rapids-singlecell/cupy" if needs == "rapids" else "cupy"
        extra = "rapids" if needs == "rapids" else "gpu"
        return False, f"{what} not importable ({exc.name or exc}); pip install '.[{extra}]' on a GPU node"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # cupy raises CUDARuntimeError without a driver
        return False, f"no CUDA device ({exc})"
    if n < 1:
        return False, "no CUDA device"
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    return True, f"{n} CUDA device(s), using {name}"


def use_gpu(setting, step: str, needs: str = "cupy") -> bool:
    """Decide CPU or GPU for ``step`` from ``compute.gpu`` and log one line saying which and why.

    Parameters
    ----------
    setting
        ``"auto"``, ``True`` or ``False`` (``compute.gpu``).
    step
        What runs, for the log line.
    needs
        What the GPU path of ``step`` imports (see :func:`gpu_status`).

    Raises
    ------
    InputDataError
        ``compute.gpu: true`` and no usable GPU on this node.
    """
    if setting is False or setting == "false":
        log.info("%s runs on the CPU: compute.gpu is false", step)
        return False
    ok, why = gpu_status(needs)
    if ok:
        log.info("%s runs on the GPU (%s): %s", step, "rapids-singlecell" if needs == "rapids" else "cupy", why)
        return True
    if setting is True or setting == "true":
        raise InputDataError(f"config key 'compute.gpu' is true but {step} cannot use a GPU on this node: {why}. "
                             "Set compute.gpu: auto to fall back to the CPU.")
    log.info("%s runs on the CPU: compute.gpu is auto and %s", step, why)
    return False


def rapids_available() -> bool:
    """rapids-singlecell is importable (then the GPU embedding runs every step on it)."""
    import importlib.util

    return importlib.util.find_spec("rapids_singlecell") is not None


def embed_and_cluster_gpu(hvg, n_comps: int, n_neighbors: int, resolution: float, seed: int):
    """The GPU twin of :func:`lsecflow.qc_cells.embed_and_cluster` (PCA, neighbours, UMAP, Leiden of the
    log-normalised highly variable genes) with rapids-singlecell; in place."""
    import rapids_singlecell as rsc

    rsc.get.anndata_to_GPU(hvg)
    rsc.pp.pca(hvg, n_comps=n_comps)
    rsc.pp.neighbors(hvg, n_neighbors=n_neighbors, random_state=seed)
    rsc.tl.umap(hvg, random_state=seed)
    rsc.tl.leiden(hvg, resolution=resolution, random_state=seed)
    rsc.get.anndata_to_CPU(hvg)
    return hvg


def group_sums_flat(xp, indptr, indices, data, codes, n_groups: int, n_genes: int):
    """Per-group column sums of one CSR block as a weighted bincount, written once for numpy and cupy.

    Each stored value lands in bin ``codes[row] * n_genes + column``; sums
    are float64, so integer counts stay exact (below 2**53). On the GPU this
    moves only the block's three CSR arrays (no sparse-matrix product, no
    host-side float64 copy).

    Parameters
    ----------
    xp
        ``numpy`` or ``cupy``; the arrays must live there.
    indptr, indices, data
        The block in CSR form (rows = cells).
    codes
        Group (0 .. n_groups-1) of each row of the block.

    Returns
    -------
    ``n_groups x n_genes`` float64 array of ``xp``.
    """
    rows = xp.searchsorted(indptr, xp.arange(len(indices)), side="right") - 1
    bins = codes[rows].astype(xp.int64) * n_genes + indices
    return xp.bincount(bins, weights=data.astype(xp.float64), minlength=n_groups * n_genes).reshape(n_groups, n_genes)


def group_sums_gpu(block, codes, n_groups: int):
    """:func:`group_sums_flat` of a scipy CSR block on the GPU (cupy); returns a numpy array."""
    import cupy

    sums = group_sums_flat(cupy, cupy.asarray(block.indptr), cupy.asarray(block.indices), cupy.asarray(block.data),
                           cupy.asarray(codes), n_groups, block.shape[1])
    return sums.get()
