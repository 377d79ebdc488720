"""GPU-optional single-cell steps (``compute.gpu: auto | true | false``).

With a CUDA GPU and rapids-singlecell importable, the single-cell QC
embedding (normalisation, HVG, PCA, neighbours, UMAP, Leiden) and the
pseudobulk sums run on the GPU; otherwise on the CPU (scanpy, scipy). The
choice is made inside the job, on the node that runs it, and logged in one
line saying which and why. ``true`` without a usable GPU is an error, not a
silent fallback.
"""
from __future__ import annotations

import logging

from .errors import InputDataError

log = logging.getLogger(__name__)


def gpu_status() -> tuple[bool, str]:
    """(usable, why): rapids-singlecell and cupy importable and at least one CUDA device."""
    try:
        import cupy
        import rapids_singlecell  # noqa: F401
    except ImportError as exc:
        return False, f"rapids-singlecell/cupy not importable ({exc.name or exc}); pip install '.[gpu]' on a GPU node"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # cupy raises CUDARuntimeError without a driver
        return False, f"no CUDA device ({exc})"
    if n < 1:
        return False, "no CUDA device"
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    return True, f"{n} CUDA device(s), using {name}"


def use_gpu(setting, step: str) -> bool:
    """Decide CPU or GPU for ``step`` from ``compute.gpu`` and log one line saying which and why.

    Parameters
    ----------
    setting
        ``"auto"``, ``True`` or ``False`` (``compute.gpu``).
    step
        What runs, for the log line.

    Raises
    ------
    InputDataError
        ``compute.gpu: true`` and no usable GPU on this node.
    """
    if setting is False or setting == "false":
        log.info("%s runs on the CPU: compute.gpu is false", step)
        return False
    ok, why = gpu_status()
    if ok:
        log.info("%s runs on the GPU (rapids-singlecell): %s", step, why)
        return True
    if setting is True or setting == "true":
        raise InputDataError(f"config key 'compute.gpu' is true but {step} cannot use a GPU on this node: {why}. "
                             "Set compute.gpu: auto to fall back to the CPU.")
    log.info("%s runs on the CPU: compute.gpu is auto and %s", step, why)
    return False


def embed_and_cluster_gpu(a, n_top: int, n_comps: int, n_neighbors: int, resolution: float, seed: int):
    """The GPU twin of :func:`lsecflow.qc.embed_and_cluster` (same steps, rapids-singlecell); in place."""
    import rapids_singlecell as rsc

    rsc.get.anndata_to_GPU(a)
    rsc.pp.normalize_total(a, target_sum=1e4)
    rsc.pp.log1p(a)
    rsc.pp.highly_variable_genes(a, n_top_genes=n_top, flavor="seurat")
    rsc.pp.pca(a, n_comps=n_comps, mask_var="highly_variable")
    rsc.pp.neighbors(a, n_neighbors=n_neighbors, random_state=seed)
    rsc.tl.umap(a, random_state=seed)
    rsc.tl.leiden(a, resolution=resolution, random_state=seed)
    rsc.get.anndata_to_CPU(a)
    return a


def group_sums_gpu(block, codes, n_groups: int):
    """indicator @ block on the GPU (cupy sparse); returns a numpy array."""
    import cupy
    import cupyx.scipy.sparse as csp
    import numpy as np

    indicator = csp.csr_matrix((cupy.ones(len(codes)), (cupy.asarray(codes), cupy.arange(len(codes)))),
                               shape=(n_groups, len(codes)))
    return (indicator @ csp.csr_matrix(block.astype(np.float64))).toarray().get()
