"""Exact kNN of the GPU path (lsecflow.cell_knn): k-means lists against all-against-all, time and agreement.

SYNTHETIC DATA, two kinds (--points):
  bootstrap  (default) PCA scores (30) of the real TMS liver cells (468 x 726 genes after lsecflow's ingest)
             drawn with replacement, each draw's counts binomially thinned to 80 % (as bench/sc_scale.py makes
             its cells), log-normalised as scanpy does and projected on the real cells' principal axes
  clumps     468 clump centres about 12 from the origin, each point a centre plus noise of sd 0.01 per
             dimension: near neighbours close together and far from the origin, where the expansion
             |a|^2 - 2 a.b + |b|^2 cancels in float32 (--float32 adds that comparison)
For each size: lsecflow.cell_knn.pruned_knn (k-means lists, exact by the triangle inequality) and
exact_knn (all against all, the reference in the same session), both float64; the ratio of their times, the
share of all-pairs distances the lists computed (its log line), and the largest difference of the neighbours'
distances (0 up to rounding: both are exact; ties may order indices differently). With cupy (the default where
it imports; --cpu for numpy) the first call of each kind compiles kernels: a warm-up on 5,000 points runs first.

    python3 bench/gpu_knn.py [--cells 100000 1000000] [--points bootstrap|clumps] [--cpu] [--float32]
                             [--no-all-pairs]

--no-all-pairs times the lists alone (at 1M cells all against all takes minutes on a GPU, hours on 2 cores).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))
from lsecflow.cell_knn import exact_knn, pruned_knn  # noqa: E402

THIN = 0.8


def clumps(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=12 / np.sqrt(30), size=(468, 30))
    return (centres[rng.integers(0, 468, n)] + rng.normal(scale=0.01, size=(n, 30))).astype(np.float32)


def bootstrap(n: int, seed: int = 0, comps: int = 30, chunk: int = 100_000) -> np.ndarray:
    """PCA scores of ``n`` thinned bootstrap draws of the real TMS cells, on the real cells' axes."""
    from lsecflow.cell_arrays import TARGET_SUM
    from pseudobulk_scale import real_cells

    raw = np.asarray(real_cells().X.todense(), dtype=np.float64)

    def log_norm(counts):
        return np.log1p(counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) * TARGET_SUM)

    real = log_norm(raw)
    mean = real.mean(axis=0)
    _, _, vt = np.linalg.svd(real - mean, full_matrices=False)
    axes = vt[:comps].T
    rng = np.random.default_rng(seed)
    out = np.empty((n, comps), dtype=np.float32)
    for start in range(0, n, chunk):
        draw = raw[rng.integers(0, raw.shape[0], min(chunk, n - start))]
        out[start:start + draw.shape[0]] = (log_norm(rng.binomial(draw.astype(np.int64), THIN)) - mean) @ axes
    return out


class _Share(logging.Handler):
    """The share of all-pairs distances from pruned_knn's log line."""

    def __init__(self):
        super().__init__()
        self.last = ""

    def emit(self, record):
        self.last = record.getMessage().rsplit(": ", 1)[-1]


def timed(fn, xp):
    if xp is not np:
        xp.cuda.Device().synchronize()
    t0 = time.perf_counter()
    out = fn()
    if xp is not np:
        xp.cuda.Device().synchronize()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--points", choices=["bootstrap", "clumps"], default="bootstrap")
    ap.add_argument("--k", type=int, default=14)
    ap.add_argument("--cpu", action="store_true", help="numpy, not cupy")
    ap.add_argument("--float32", action="store_true", help="also all against all in float32")
    ap.add_argument("--no-all-pairs", action="store_true", help="the k-means lists alone")
    args = ap.parse_args()
    if args.cpu:
        xp = np
    else:
        import cupy as xp
    share = _Share()
    logging.getLogger("lsecflow.cell_knn").addHandler(share)
    logging.getLogger("lsecflow.cell_knn").setLevel(logging.INFO)
    make = bootstrap if args.points == "bootstrap" else clumps
    warm = make(5000, seed=1)
    pruned_knn(warm, args.k, xp)
    exact_knn(warm, args.k, xp)
    print(f"{'numpy' if xp is np else 'cupy'}, {args.points} points, k = {args.k}", flush=True)
    for n in args.cells:
        p = make(n)
        (idx, dist), t_lists = timed(lambda: pruned_knn(p, args.k, xp), xp)
        print(f"{n:>9,} points  k-means lists (float64): {t_lists:8.2f} s, {share.last}", flush=True)
        if args.no_all_pairs:
            continue
        (ref_idx, ref_dist), t_all = timed(lambda: exact_knn(p, args.k, xp), xp)
        same = np.mean([len(np.intersect1d(a, b)) / args.k for a, b in zip(idx, ref_idx)])
        print(f"{n:>9,} points  all against all (float64): {t_all:8.2f} s; ratio lists / all: "
              f"{t_lists / t_all:.3f}; largest distance difference {np.abs(dist - ref_dist).max():.1e}, "
              f"same neighbours {same:.4f}", flush=True)
        if args.float32:
            (f_idx, _), t32 = timed(lambda: exact_knn(p, args.k, xp, dtype=np.float32), xp)
            kept = np.mean([len(np.intersect1d(a, b)) / args.k for a, b in zip(f_idx, ref_idx)])
            print(f"{n:>9,} points  all against all (float32): {t32:8.2f} s, float64 neighbours kept {kept:.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
