"""Single-cell QC's first pass (``lsecflow.cell_blocks.scan``: per-cell metrics and per-gene sums, no
doublets) on a backed h5ad, with the CPU's segment / column sums against the ``bincount`` formulas that the
GPU path uses (the CPU's arithmetic before 2026-12-02), alternating in one process so that both read the
file alike; prints each run, the median ratio and the largest difference of the results.

SYNTHETIC DATA by default: bench/sc_scale.py's bootstrap of the real TMS liver cells (labelled in its uns).

    .venv/bin/python bench/first_pass.py [--h5ad /tmp/lsecflow_sc_scale/synthetic_1000000x20000_thin0.8.h5ad]
                                         [--repeats 2] [--chunk 20000]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from lsecflow.cell_blocks import scan  # noqa: E402


class BincountNumpy:
    """numpy under another name: ``lsecflow.cell_arrays`` then takes its cupy (``bincount``) branch."""

    def __getattr__(self, name):
        return getattr(np, name)


def main() -> None:
    import anndata as ad

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--h5ad", default="/tmp/lsecflow_sc_scale/synthetic_1000000x20000_thin0.8.h5ad")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=20_000)
    args = ap.parse_args()
    adata = ad.read_h5ad(args.h5ad, backed="r")
    print(f"{args.h5ad}: {adata.n_obs} x {adata.n_vars}; {adata.uns.get('lsecflow_synthetic', 'real data')}")
    mito = np.asarray(adata.var_names.str.lower().str.startswith("mt-"))
    times: dict[str, list[float]] = {"segment sums": [], "bincount": []}
    results = {}
    for _ in range(args.repeats):
        for name, xp in (("bincount", BincountNumpy()), ("segment sums", np)):
            t0 = time.perf_counter()
            results[name] = scan(adata.X, adata.obs_names, mito, args.chunk, doublets=False, xp=xp)
            times[name].append(time.perf_counter() - t0)
            print(f"{name}: {times[name][-1]:.1f} s", flush=True)
    a, b = results["segment sums"], results["bincount"]
    # a matrix without mitochondrial genes has no fraction (NaN) in both
    diff = max(float(np.abs(a.cells[c].fillna(-1) - b.cells[c].fillna(-1)).max())
               for c in ("total_counts", "n_genes", "mito_fraction"))
    gdiff = max(float((np.abs(a.genes[c] - b.genes[c]) / np.abs(b.genes[c]).clip(1e-300)).max()) for c in a.genes)
    fast, plain = statistics.median(times["segment sums"]), statistics.median(times["bincount"])
    print(f"median: segment sums {fast:.1f} s, bincount {plain:.1f} s, ratio {plain / fast:.2f}x; cell metrics "
          f"differ by at most {diff}, gene statistics by {gdiff:.1e} (relative)")


if __name__ == "__main__":
    main()
