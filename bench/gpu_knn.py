"""Exact kNN on a GPU (lsecflow.cell_knn.exact_knn with cupy): float64 against float32, time and neighbours kept.

SYNTHETIC DATA: points in 30 dimensions shaped like the PCA scores of bootstrapped cells (bench/sc_scale.py):
468 clump centres about 12 from the origin, each point one centre plus noise of sd 0.01 per dimension, so that
near neighbours are close together and far from the origin, where the expansion |a|^2 - 2 a.b + |b|^2 cancels.
Truth for --sample query points: distances by differences in float64 (no cancellation), on the device.
The first call of each kind compiles cupy's kernels: a warm-up on 5,000 points runs before the timings.

    python3 bench/gpu_knn.py [--cells 100000 1000000] [--sample 500]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from lsecflow.cell_arrays import to_host  # noqa: E402
from lsecflow.cell_knn import exact_knn  # noqa: E402


def points(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=12 / np.sqrt(30), size=(468, 30))
    return (centres[rng.integers(0, 468, n)] + rng.normal(scale=0.01, size=(n, 30))).astype(np.float32)


def truth(p, queries, k: int, xp) -> np.ndarray:
    """Each query's k nearest other points by differences (float64)."""
    dev = xp.asarray(p, dtype=xp.float64)
    out = []
    for q in queries:
        d = ((dev - dev[q]) ** 2).sum(axis=1)
        d[q] = xp.inf
        out.append(to_host(xp.argsort(d)[:k]))
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--sample", type=int, default=500)
    ap.add_argument("--k", type=int, default=14)
    args = ap.parse_args()
    import cupy as xp

    warm = points(5000, seed=1)
    for dtype in (np.float64, np.float32):
        exact_knn(warm, args.k, xp, dtype=dtype)
    for n in args.cells:
        p = points(n)
        queries = np.random.default_rng(1).choice(n, size=min(args.sample, n), replace=False)
        ref = truth(p, queries, args.k, xp)
        times = {}
        for dtype in (np.float64, np.float32):
            xp.cuda.Device().synchronize()
            t0 = time.perf_counter()
            idx, _ = exact_knn(p, args.k, xp, dtype=dtype)
            times[dtype] = time.perf_counter() - t0
            kept = np.mean([len(np.intersect1d(a, b)) / args.k for a, b in zip(idx[queries], ref)])
            print(f"{n:>9,} points  {np.dtype(dtype).name}: {times[dtype]:7.2f} s, "
                  f"neighbours kept {kept:.4f} ({len(queries)} queries)", flush=True)
        print(f"{'':>9}         ratio float64 / float32 time: {times[np.float64] / times[np.float32]:.2f}", flush=True)


if __name__ == "__main__":
    main()
