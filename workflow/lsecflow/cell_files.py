"""Single-cell count files: h5ad (counts in X, a layer or scanpy's .raw), Cell Ranger matrix folders
(:mod:`lsecflow.tenx`) and HDF5 files, one file or one per sample; read whole at ingest, or only their cell names
and obs at parse time."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .count_checks import check_counts_sparse
from .errors import InputDataError
from .files import SINGLE_CELL_FORMATS, check_exists
from .tenx import checked_parts, read_10x_folder

log = logging.getLogger(__name__)


def _read_h5ad(path: Path, backed: str | None = None):
    """An h5ad file, whole or ``backed``; any file anndata cannot open is an error naming it (parse time and
    ingest alike)."""
    import anndata as ad

    try:
        return ad.read_h5ad(path, backed=backed)
    except Exception as exc:  # noqa: BLE001 - report any unreadable file the same way
        raise InputDataError(f"{path}: cannot be read as h5ad ({exc})") from exc


def _read_one_single_cell(path: Path, fmt: str, layer: str = "auto"):
    import anndata as ad
    import scanpy as sc

    if fmt == "h5ad":
        adata = _read_h5ad(path)
        if layer == "auto":
            layer = "counts" if "counts" in adata.layers else "X"
        from_raw = layer == "raw" and "raw" not in adata.layers  # a layer named raw is that layer, as before
        where = "X" if layer == "X" else ".raw" if from_raw else f"layers[{layer!r}]"
        if from_raw:  # scanpy's .raw, where many published files keep the counts (its genes may be more)
            if adata.raw is None:
                raise InputDataError(f"{path}: counts.layer 'raw' but the file has no .raw")
            adata = adata.raw.to_adata()
        elif layer != "X":
            if layer not in adata.layers:
                raise InputDataError(
                    f"{path}: counts.layer {layer!r} not found (layers: {', '.join(adata.layers) or 'none'})"
                )
            adata.X = adata.layers[layer]
        log.info("%s: counts taken from %s (%d genes)", path, where, adata.n_vars)
        adata.layers.clear()
        adata.var = pd.DataFrame(index=adata.var_names.astype(str))
        return adata
    if fmt == "10x_mtx":
        X, cells, genes = read_10x_folder(path)
        adata = ad.AnnData(X, obs=pd.DataFrame(index=cells), var=pd.DataFrame(index=genes))
    elif fmt == "10x_h5":
        try:
            adata = sc.read_10x_h5(path, gex_only=True)
        except Exception as exc:  # noqa: BLE001 - h5py's and scanpy's errors alike: a file that is not one
            raise InputDataError(f"{path}: cannot be read as a Cell Ranger HDF5 matrix ({type(exc).__name__}: "
                                 f"{exc})") from exc
        if "gene_ids" in adata.var:
            adata.var_names = adata.var["gene_ids"].astype(str)
    else:
        raise InputDataError(f"{path}: format {fmt!r} is not a single-cell format ({', '.join(SINGLE_CELL_FORMATS)})")
    symbols = adata.var_names.astype(str)
    adata.var = pd.DataFrame(index=symbols)
    return adata


def single_cell_paths(path_spec) -> dict[str | None, Path]:
    """Normalise ``counts.path``: one path, or a mapping sample -> path."""
    if isinstance(path_spec, dict):
        return {str(k): Path(v) for k, v in path_spec.items()}
    return {None: Path(path_spec)}


def read_single_cell(path_spec, fmt: str, layer: str = "auto"):
    """Read single-cell counts (cells x genes) from one or several inputs.

    With a mapping sample -> path, cells are concatenated, named
    ``<sample>:<barcode>`` and get ``obs['_input_sample']``.
    """
    import anndata as ad

    parts = []
    for sample, path in single_cell_paths(path_spec).items():
        adata = _read_one_single_cell(path, fmt, layer)
        if sample is not None:
            adata.obs_names = [f"{sample}:{b}" for b in adata.obs_names]
            adata.obs["_input_sample"] = sample
        check_counts_sparse(adata.X, adata.obs_names, adata.var_names, path)
        parts.append(adata)
    if len(parts) == 1:
        adata = parts[0]
    else:
        genes = [list(p.var_names) for p in parts]
        if any(g != genes[0] for g in genes[1:]):
            raise InputDataError("counts.path: the 10x inputs do not list the same genes in the same order")
        adata = ad.concat(parts, join="outer", merge="same")
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise InputDataError(f"{path_spec}: the matrix is empty ({adata.n_obs} cells x {adata.n_vars} genes)")
    dup = adata.var_names[adata.var_names.duplicated()].unique()
    if len(dup):
        raise InputDataError(f"{path_spec}: duplicated gene ids ({len(dup)}): {', '.join(dup[:10])}")
    dup = adata.obs_names[adata.obs_names.duplicated()].unique()
    if len(dup):
        raise InputDataError(f"{path_spec}: duplicated cell ids ({len(dup)}): {', '.join(dup[:10])}")
    X = sp.csr_matrix(adata.X)
    adata.X = X.astype(np.int32) if (X.data.size == 0 or X.data.max() < 2**31) else X.astype(np.int64)
    return adata


def peek_single_cell_obs(path_spec, fmt: str) -> pd.DataFrame:
    """Cell names and obs columns without loading the matrix (parse time)."""
    import h5py

    frames = []
    for sample, path in single_cell_paths(path_spec).items():
        check_exists(path)
        if fmt == "h5ad":
            obs = _read_h5ad(path, backed="r").obs.copy()
        elif fmt == "10x_h5":
            try:
                with h5py.File(path, "r") as fh:
                    grp = fh["matrix"] if "matrix" in fh else fh[list(fh.keys())[0]]
                    obs = pd.DataFrame(index=[b.decode() for b in grp["barcodes"][:]])
            except (OSError, KeyError, IndexError) as exc:
                raise InputDataError(f"{path}: cannot be read as a Cell Ranger HDF5 matrix (no barcodes found: "
                                     f"{type(exc).__name__}: {exc})") from exc
        elif fmt == "10x_mtx":  # the three files' sizes checked too (the matrix's header only)
            obs = pd.DataFrame(index=checked_parts(path)[0])
        else:
            raise InputDataError(f"{path}: format {fmt!r} is not a single-cell format")
        if sample is not None:
            obs.index = [f"{sample}:{b}" for b in obs.index]
            obs["_input_sample"] = sample
        frames.append(obs)
    return pd.concat(frames) if len(frames) > 1 else frames[0]
