"""Marker panels (``resources/markers``): reading them, and calling cell types from their signatures."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputDataError
from .lrdb import read_checked

#: The label of the LSEC signature in the shipped marker panels.
LSEC = "LSEC"


def load_markers(path, genes=None) -> dict[str, list[str]]:
    """Marker table (``cell_type``, ``gene``, ``reference``) -> {cell type: genes}.

    With ``genes``, only markers present in it are kept (order preserved). An empty file, a missing column,
    no row or an empty cell type or gene is an error naming the file (and the line).
    """
    table = read_checked(path, ["cell_type", "gene"], "marker table", filled=("cell_type", "gene"))
    present = None if genes is None else set(genes)
    out: dict[str, list[str]] = {}
    for ct, grp in table.groupby("cell_type", sort=False):
        keep = [g for g in grp["gene"] if present is None or g in present]
        if keep:
            out[ct] = keep
    return out


def score_signatures(a, markers: dict[str, list[str]], seed: int = 0) -> pd.DataFrame:
    """scanpy ``score_genes`` per signature on log-normalised data (cells x types)."""
    import scanpy as sc

    symbol_to_var = pd.Series(a.var_names, index=a.var["symbol"].astype(str).to_numpy())
    scores = {}
    for ct, genes in markers.items():
        var_names = [symbol_to_var[g] for g in genes if g in symbol_to_var.index]
        if not var_names:
            continue
        sc.tl.score_genes(a, var_names, score_name="_score", random_state=seed, use_raw=False)
        scores[ct] = a.obs.pop("_score").to_numpy()
    return pd.DataFrame(scores, index=a.obs_names)


def call_cell_types(adata, markers_path, seed: int = 0) -> pd.Series:
    """Label each cell with its highest marker signature (raw counts in, labels out).

    Counts are normalised to 10,000 per cell and log1p-transformed on a copy;
    signatures are scored with scanpy ``score_genes`` (seeded).
    """
    import scanpy as sc

    a = adata.copy()
    a.X = a.X.astype(np.float32)
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    markers = load_markers(markers_path, set(a.var["symbol"].astype(str)))
    if not markers:
        raise InputDataError(f"{markers_path}: no marker gene is among the dataset's genes; cannot call cell types")
    scores = score_signatures(a, markers, seed)
    return scores.idxmax(axis=1)
