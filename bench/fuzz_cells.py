"""The shipped Tabula Muris Senis cells (h5ad) bent as users' single-cell files come, each bend once, through the
parse-time checks and the ingest job; then, for the bends ingest accepts, the pseudobulk, single-cell QC
(metrics, doublets, embedding, clusters, marker calls) and the cell-type proportions (on the cells passing QC, as
the workflow runs them; since 2026-12-04). Prints per bend:
accepted, refused (with the message) or CRASH (any exception that is not an LsecflowError).

Bends: normalised X, normalised X with raw counts in ``.raw``, empty / unused / numeric cell-type labels,
duplicated gene or cell ids, dense / CSC / int64 / float64 X, empty cells, a negative or NaN count, an empty design
value, no LSECs, one cell type, a gene name with a trailing space, three or nine cells, symbols no marker panel
knows, half the cells empty.

    .venv/bin/python bench/fuzz_cells.py [--start 0] [--trials 18] [--traceback]
"""
from __future__ import annotations

import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))
from _fuzz import run_each_bend, trial_arguments  # noqa: E402
from lsecflow.composition import run_composition  # noqa: E402
from lsecflow.config import load_config  # noqa: E402
from lsecflow.ingest import run_ingest  # noqa: E402
from lsecflow.pseudobulk import run_pseudobulk  # noqa: E402
from lsecflow.qc_cells import run_qc_single_cell  # noqa: E402
from lsecflow.rule_params import guard_params  # noqa: E402

LSEC = "endothelial cell of hepatic sinusoid"
ACCEPTED = "accepted (ingest, pseudobulk, QC and proportions)"


def _normalised(a):
    a.X = sp.csr_matrix(a.X.multiply(1 / (a.X.sum(axis=1) + 1)) * 1e4)
    return a


def _set(a, value, column=None):
    X = a.X.tolil()
    X[0, 0] = value
    a.X = X.tocsr()
    return a


def _obs(a, column, values):
    a.obs[column] = values
    return a


def _rename(a, axis, i, name):
    names = (a.var_names if axis == "var" else a.obs_names).tolist()
    names[i] = name
    if axis == "var":
        a.var_names = names
    else:
        a.obs_names = names
    return a


def _blank_types(a):
    labels = a.obs["cell_type"].astype(object)
    labels.iloc[:5] = np.nan
    return _obs(a, "cell_type", pd.Categorical(labels))


def _raw_counts(a):
    a.raw = a.copy()
    return _normalised(a)


def _empty_cells(a):
    X = a.X.tolil()
    X[:3] = 0
    a.X = X.tocsr()
    return a


def _unknown_symbols(a):
    a.var_names = "x" + a.var_names.astype(str)
    return a


def _design_gap(a):
    age = a.obs["age_group"].astype(object)
    age.iloc[0] = None
    return _obs(a, "age_group", age)


BENDS = {
    "normalised X": _normalised,
    "normalised X, counts in .raw": _raw_counts,
    "empty cell types (NaN)": _blank_types,
    "an unused cell-type category": lambda a: _obs(a, "cell_type", a.obs["cell_type"].astype("category")
                                                   .cat.add_categories(["ghost"])),
    "numeric cell-type labels": lambda a: _obs(a, "cell_type", pd.Categorical(np.arange(a.n_obs) % 3)),
    "a duplicated gene": lambda a: _rename(a, "var", 1, a.var_names[0]),
    "a duplicated cell": lambda a: _rename(a, "obs", 1, a.obs_names[0]),
    "a gene name with a trailing space": lambda a: _rename(a, "var", 3, a.var_names[3] + " "),
    "dense X": lambda a: setattr(a, "X", a.X.toarray()) or a,
    "CSC X": lambda a: setattr(a, "X", sp.csc_matrix(a.X)) or a,
    "int64 X": lambda a: setattr(a, "X", a.X.astype(np.int64)) or a,
    "float64 X": lambda a: setattr(a, "X", a.X.astype(np.float64)) or a,
    "three empty cells": _empty_cells,
    "a negative count": lambda a: _set(a, -1),
    "a NaN count": lambda a: _set(a, np.nan),
    "an empty design value": _design_gap,
    "no LSECs": lambda a: a[a.obs["cell_type"] != LSEC].copy(),
    "one cell type": lambda a: _obs(a, "cell_type", "hepatocyte"),
    "three cells": lambda a: a[:3].copy(),
    "nine cells": lambda a: a[:9].copy(),
    "symbols no marker panel knows": _unknown_symbols,
    "half the cells empty": lambda a: setattr(a, "X", sp.csr_matrix(a.X.multiply(
        (np.arange(a.n_obs) % 2 == 0)[:, None]))) or a,
}


def run(bend, base: ad.AnnData, folder: Path) -> str:
    path = folder / "cells.h5ad"
    bend(base.copy()).write_h5ad(path)
    spec = yaml.safe_load((REPO / "config/datasets/tms_liver.yaml").read_text())
    spec["counts"]["path"] = str(path)
    spec["samples"]["sheet"] = str(REPO / "config/samples/tms_liver.tsv")
    ds = load_config({"results": str(folder / "results"), "datasets": {"t": spec}}, roots=[REPO]).datasets["t"]
    out = folder / "results" / "counts.h5ad"
    out.parent.mkdir(parents=True)
    run_ingest(guard_params(ds.params(rule="ingest")), str(out))
    run_pseudobulk(str(out), ds.params(), str(folder / "pb.h5ad"), str(folder / "pb.tsv"))
    run_qc_single_cell(str(out), ds.params(), ds.spec["qc"]["markers"],
                       {k: str(folder / f"qc.{k}") for k in ("cells", "clusters", "verdict")},
                       {k: str(folder / f"{k}.png") for k in ("cell_qc", "umap", "purity")})
    run_composition(str(out), guard_params(ds.params(rule="composition")), str(folder / "propeller.tsv"),
                    str(folder / "proportions.tsv"), str(folder / "proportions.png"), cells_qc=str(folder / "qc.cells"))
    return ACCEPTED


def main() -> None:
    args = trial_arguments(__doc__, len(BENDS)).parse_args()
    base = ad.read_h5ad(REPO / "resources/data/tms_liver/tms_liver_sample_counts.h5ad")
    run_each_bend(list(BENDS), lambda name, folder: run(BENDS[name], base, folder), args, ACCEPTED)


if __name__ == "__main__":
    main()
