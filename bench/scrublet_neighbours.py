"""Scrublet's neighbours, exact against approximate: time, peak memory and doublet calls on one block.

SYNTHETIC DATA: the first --cells cells of bench/sc_scale.py's bootstrap of the real TMS liver cells
(20,000 genes, made if missing), with --fraction of them replaced by the sum of two cells of different
types (``lsecflow.synthetic.plant_doublets``: the planted truth).

Two runs of scanpy's scrublet on the same block, each in a fresh child process (peak RSS its own):
  exact    ``use_approx_neighbors=False``: scikit-learn's brute-force kNN (what lsecflow uses,
           ``lsecflow.cell_blocks.scrublet_scores``)
  approx   scanpy's default: pynndescent once the block and its simulated doublets pass 8,192 cells
           (lsecflow before; its numba compilation is part of its time, as in a workflow job)
Printed: time and memory of each and the ratio approx / exact; each run's AUC of the doublet scores
against the planted doublets, its threshold and calls; the correlation of the two runs' scores and the
share of cells called the same.

    .venv/bin/python bench/scrublet_neighbours.py [--cells 10000 20000] [--fraction 0.1]
                                                  [--workdir /tmp/lsecflow_sc_scale]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))


def block_with_doublets(path: str, n_cells: int, fraction: float):
    """(counts, truth): the first ``n_cells`` cells of ``path`` with planted heterotypic doublets."""
    import anndata as ad
    import numpy as np
    import scipy.sparse as sp
    from lsecflow.synthetic import plant_doublets

    a = ad.read_h5ad(path, backed="r")
    X = sp.csr_matrix(a.X[:n_cells])
    counts, truth = plant_doublets(X, a.obs["cell_type"].to_numpy()[:n_cells], fraction, seed=0)
    return counts.astype(np.float32), truth


def run(path: str, n_cells: int, fraction: float, exact: bool) -> dict:
    import anndata as ad
    import scanpy as sc

    X, truth = block_with_doublets(path, n_cells, fraction)
    a = ad.AnnData(X)
    sc.pp.scrublet(a, random_state=0, verbose=False, use_approx_neighbors=False if exact else None)
    return {"scores": a.obs["doublet_score"].to_numpy().tolist(),
            "called": a.obs["predicted_doublet"].to_numpy().astype(bool).tolist(),
            "threshold": float(a.uns["scrublet"]["threshold"]), "truth": truth.tolist()}


def main() -> None:
    import numpy as np
    from _child import ensure_made, measure
    from sc_scale import THIN, make
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[10_000, 20_000])
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--genes", type=int, default=20_000)
    ap.add_argument("--source-cells", type=int, default=100_000, help="cells of the bootstrap file to read from")
    ap.add_argument("--workdir", default="/tmp/lsecflow_sc_scale")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"synthetic_{args.source_cells}x{args.genes}_thin{THIN}.h5ad"
    ensure_made(path, make, args.source_cells, args.genes)
    rows = []
    for n in args.cells:
        row, truth = {"cells": n}, None
        for name, exact in (("exact", True), ("approx", False)):
            wall, rss, out = measure(run, str(path), n, args.fraction, exact)
            if truth is None:  # the block and its planted doublets, as the child made them (seeded: the same in both)
                truth = np.asarray(out["truth"])
                row["planted"] = int(truth.sum())
            assert (np.asarray(out["truth"]) == truth).all(), "the two runs planted different doublets"
            scores, called = np.asarray(out["scores"]), np.asarray(out["called"])
            row[name] = {"wall_s": round(wall, 1), "peak_gib": round(rss / 1024, 2), "threshold": round(out["threshold"], 3),
                         "auc": round(roc_auc_score(truth, scores), 4), "called": int(called.sum()),
                         "called_planted": int((called & truth).sum())}
            row[name + "_arrays"] = (scores, called)
            print(f"{n:>7,} cells  {name:<6} {wall:7.1f} s  peak {rss / 1024:5.2f} GiB  AUC {row[name]['auc']:.4f}  "
                  f"threshold {row[name]['threshold']:.3f}  called {row[name]['called']} "
                  f"({row[name]['called_planted']} of {row['planted']} planted)", flush=True)
        (s1, c1), (s2, c2) = row.pop("exact_arrays"), row.pop("approx_arrays")
        row["ratio_time_approx_over_exact"] = round(row["approx"]["wall_s"] / row["exact"]["wall_s"], 2)
        row["score_correlation"] = round(float(np.corrcoef(s1, s2)[0, 1]), 6)
        row["calls_same"] = round(float((c1 == c2).mean()), 5)
        print(f"{'':>7}        ratio approx/exact: time {row['ratio_time_approx_over_exact']}; scores correlated "
              f"{row['score_correlation']}; cells called the same {row['calls_same']}", flush=True)
        rows.append(row)
    out = work / f"scrublet_neighbours_{'_'.join(map(str, args.cells))}.json"
    out.write_text(json.dumps(rows, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
