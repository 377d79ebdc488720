"""The pseudobulk sum itself, CPU (scipy) against GPU (cupy), matrix in memory.

SYNTHETIC DATA: a random sparse counts matrix (``--cells`` x ``--genes``,
``--density`` non-zero, one random gene in each of ``density x genes``
equal strata per cell, Poisson(3)+1 values) and ``--groups`` random groups;
it isolates the arithmetic that ``compute.gpu`` moves to the GPU from the
h5ad reading that ``bench/pseudobulk_scale.py --gpu`` times with it.

Both paths run ``lsecflow.pseudobulk.group_sums`` in this process, one after the
other, ``--repeats`` times after a small warm-up (cupy's start-up); the sums
must be identical. Prints each ratio gpu / cpu (same process: compare
ratios, not seconds). Needs cupy and a CUDA GPU.

    python bench/gpu_group_sums.py [--cells 1000000] [--genes 20000] [--density 0.02] [--chunk 100000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))


def synthetic_counts(rng, n_cells: int, n_genes: int, density: float):
    """CSR counts with sorted, unique column indices, built directly (scipy.sparse.random needs cells x genes memory)."""
    import numpy as np
    import scipy.sparse as sp

    k = max(1, int(density * n_genes))
    width = n_genes // k
    cols = (np.arange(k, dtype=np.int32) * width + rng.integers(0, width, (n_cells, k), dtype=np.int32)).ravel()
    vals = (rng.poisson(3, n_cells * k) + 1).astype(np.float32)
    return sp.csr_matrix((vals, cols, np.arange(n_cells + 1, dtype=np.int64) * k), shape=(n_cells, n_genes))


def main() -> None:
    import numpy as np
    from lsecflow import pseudobulk as de
    from lsecflow.gpu import gpu_status

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--density", type=float, default=0.02)
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    ok, why = gpu_status("cupy")
    if not ok:
        sys.exit(f"no GPU to compare with: {why}")
    print(f"GPU: {why}", flush=True)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    X = synthetic_counts(rng, args.cells, args.genes, args.density)
    codes = rng.integers(0, args.groups, args.cells)
    print(f"synthetic {args.cells:,} x {args.genes:,}, {X.nnz:,} non-zero, {args.groups} groups "
          f"(made in {time.perf_counter() - t0:.0f} s)", flush=True)
    de.group_sums(X[:1000], codes[:1000], args.groups, gpu=True)  # warm-up: cupy start-up, kernel compilation
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        cpu = de.group_sums(X, codes, args.groups, args.chunk)
        t_cpu = time.perf_counter() - t0
        t0 = time.perf_counter()
        gpu = de.group_sums(X, codes, args.groups, args.chunk, gpu=True)
        t_gpu = time.perf_counter() - t0
        if not np.array_equal(cpu, gpu):
            sys.exit("GPU and CPU sums differ")
        print(f"repeat {rep + 1}: cpu {t_cpu:.2f} s, gpu {t_gpu:.2f} s, ratio gpu/cpu {t_gpu / t_cpu:.2f} "
              f"(chunk {args.chunk:,}; identical sums)", flush=True)


if __name__ == "__main__":
    main()
