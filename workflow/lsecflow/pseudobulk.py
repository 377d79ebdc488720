"""Pseudobulk: raw counts summed per (sample, cell type), read block by block from a backed h5ad."""
from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .files import write_h5ad_atomic, write_tsv_atomic
from .gpu import group_sums_gpu, use_gpu

log = logging.getLogger(__name__)


def group_sums(X, codes: np.ndarray, n_groups: int, chunk_size: int = 100_000, gpu: bool = False) -> np.ndarray:
    """Sum the rows of ``X`` by group, reading ``chunk_size`` rows at a time.

    Parameters
    ----------
    X
        Cells x genes counts: a scipy sparse or numpy matrix, or a backed
        (on-disk) AnnData matrix, which is then read block by block so memory
        stays bounded by one block plus the ``n_groups x genes`` result.
    codes
        Group of each row (0 .. n_groups-1); -1 leaves a row out.
    gpu
        Sum on the GPU (cupy; see :mod:`lsecflow.gpu`); same sums.
    """
    out = np.zeros((n_groups, X.shape[1]), dtype=np.int64)
    for start in range(0, X.shape[0], chunk_size):
        c = codes[start:start + chunk_size]
        keep = np.flatnonzero(c >= 0)
        if not len(keep):
            continue
        block = sp.csr_matrix(X[start:start + len(c)])[keep]
        if gpu:

            out += np.rint(group_sums_gpu(block, c[keep], n_groups)).astype(np.int64)
            continue
        indicator = sp.csr_matrix((np.ones(len(keep)), (c[keep], np.arange(len(keep)))),
                                  shape=(n_groups, len(keep)))
        out += np.rint((indicator @ block).toarray()).astype(np.int64)  # counts: float sums are exact
    return out


def pseudobulk(adata: ad.AnnData, sample_key: str, cell_type_key: str, min_cells: int,
               min_counts: int, mask: np.ndarray | None = None, chunk_size: int = 100_000, gpu: bool = False
               ) -> tuple[ad.AnnData, pd.DataFrame]:
    """Sum raw counts per (sample, cell type).

    Parameters
    ----------
    adata
        Cells x genes raw counts, in memory or backed (``read_h5ad(..., backed="r")``:
        the matrix is then read in blocks of ``chunk_size`` cells).
    mask
        Cells to use (default: all).

    Returns
    -------
    (anndata.AnnData, pandas.DataFrame)
        Pseudobulk samples x genes (``obs``: sample, cell type, n_cells,
        n_counts and the per-sample columns of ``adata.obs``) for the groups
        that pass ``min_cells`` and ``min_counts``; and a table of every
        group with ``kept`` and ``reason``.
    """
    mask = np.ones(adata.n_obs, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    obs = adata.obs[mask]
    groups = obs[[sample_key, cell_type_key]].astype(str)
    key = groups[sample_key] + "|" + groups[cell_type_key]
    selected, uniques = pd.factorize(key, sort=True)
    codes = np.full(adata.n_obs, -1, dtype=np.int64)
    codes[mask] = selected
    summed = group_sums(adata.X, codes, len(uniques), chunk_size, gpu)
    table = pd.DataFrame({"sample": [u.split("|", 1)[0] for u in uniques],
                          "cell_type": [u.split("|", 1)[1] for u in uniques],
                          "n_cells": np.bincount(selected, minlength=len(uniques)),
                          "n_counts": summed.sum(axis=1)}, index=uniques)
    reasons = np.where(table["n_cells"] < min_cells, f"fewer than {min_cells} cells",
                       np.where(table["n_counts"] < min_counts, f"fewer than {min_counts} counts", ""))
    table["kept"] = reasons == ""
    table["reason"] = reasons
    per_sample = [c for c in obs.columns if c not in (sample_key, cell_type_key)
                  and (obs.groupby(sample_key, observed=True)[c].nunique(dropna=False) <= 1).all()]
    sample_obs = obs.drop_duplicates(sample_key).set_index(sample_key)[per_sample]
    pb_obs = table.join(sample_obs, on="sample")
    pb = ad.AnnData(X=summed[table["kept"].to_numpy()], obs=pb_obs[table["kept"].to_numpy()].copy(),
                    var=adata.var.copy())
    pb.obs.index = pb.obs.index.astype(str)
    return pb, table.reset_index(drop=True)


def qc_pass_mask(cell_names, cells_qc: str, what: str) -> np.ndarray:
    """Which cells pass QC in ``qc/cells.tsv``; logs how many are left out of ``what`` and why."""
    qc = pd.read_csv(cells_qc, sep="\t", index_col="cell", usecols=["cell", "qc_pass", "qc_reason"])
    passing = qc["qc_pass"].reindex(cell_names).fillna(False).to_numpy(dtype=bool)
    log.info("%d of %d cells fail QC and are left out of %s (%s)", int((~passing).sum()), len(passing), what,
             qc.loc[~qc["qc_pass"], "qc_reason"].value_counts().to_dict())
    return passing


def cells_passing_qc(adata: ad.AnnData, cells_qc: str, what: str) -> ad.AnnData:
    """The cells of ``adata`` that pass QC (:func:`qc_pass_mask`), as a new AnnData."""
    return adata[qc_pass_mask(adata.obs_names, cells_qc, what)].copy()


def run_pseudobulk(counts_h5ad: str, params: dict, out_h5ad: str, out_table: str, cells_qc: str | None = None,
                   chunk_size: int = 100_000, gpu="auto") -> None:
    """Rule entry point: pseudobulk a single-cell dataset (cell types in config).

    The counts are opened backed (on disk) and summed ``chunk_size`` cells at
    a time, so memory does not grow with the number of cells. With
    ``cells_qc`` (``qc/cells.tsv``), cells failing QC are left out. ``gpu``
    is ``compute.gpu`` (see :mod:`lsecflow.gpu`).
    """
    spec = params["spec"]
    adata = ad.read_h5ad(counts_h5ad, backed="r")
    log.info("pseudobulk of %d cells x %d genes, read %d cells at a time", adata.n_obs, adata.n_vars, chunk_size)
    mask = np.ones(adata.n_obs, dtype=bool)
    if cells_qc is not None:
        mask &= qc_pass_mask(adata.obs_names, cells_qc, "the pseudobulk")
    key = spec["single_cell"]["cell_type_key"]
    unlabelled = adata.obs[key].isna().to_numpy()
    if unlabelled.any():
        log.warning("%d of %d cells have no %s (empty in obs): left out of the pseudobulk", int(unlabelled.sum()),
                    adata.n_obs, key)
    labels = adata.obs[key].astype(str)
    mask &= labels.isin(list(params["cell_types"].values())).to_numpy() & ~unlabelled
    adata.obs["cell_type"] = labels
    pb, table = pseudobulk(adata, "sample", "cell_type", spec["pseudobulk"]["min_cells"],
                           spec["pseudobulk"]["min_counts"], mask=mask, chunk_size=chunk_size,
                           gpu=use_gpu(gpu, "pseudobulk aggregation", needs="cupy"))
    adata.file.close()
    for row in table[~table["kept"]].itertuples():
        log.info("pseudobulk %s / %s dropped: %s (%d cells, %d counts)", row.sample, row.cell_type, row.reason,
                 row.n_cells, row.n_counts)
    log.info("%d of %d pseudobulk samples kept", int(table["kept"].sum()), len(table))
    write_tsv_atomic(table, out_table)
    write_h5ad_atomic(pb, out_h5ad)
