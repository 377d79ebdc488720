"""Pseudobulk at scale: wall time and peak RSS for 100,000 and 1,000,000 cells.

SYNTHETIC DATA: the matrices are the real Tabula Muris Senis liver cells of
the shipped dataset (after lsecflow's ingest), bootstrapped with replacement
to the wanted size by ``lsecflow.synthetic.bootstrap_cells`` (each real
sample split into 10 synthetic ones); every file says so in its ``uns``.

Each step runs in a fresh child process (peak RSS is its own; it includes
the ~0.2 GiB of Python + anndata + scanpy imports):
  reference  in memory: read the whole h5ad, sum per (sample, cell type) at once
  lsecflow   what the pseudobulk rule does: open the h5ad backed (on disk) and
             sum --chunk cells at a time
  gpu        (--gpu) the same backed, chunked read, each block summed on the
             GPU with cupy (what compute.gpu does for this rule)
The reference runs at 100k only unless --reference-all. Ratios lsecflow /
reference and gpu / lsecflow are printed (same machine, same session: compare
ratios, not seconds). Every step's pseudobulk matrix must be identical (SHA-256
of the summed counts), or the benchmark stops.

    .venv/bin/python bench/pseudobulk_scale.py [--cells 100000 1000000] [--chunk 100000] [--workdir DIR] [--gpu]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))


def tms_dataset():
    """The shipped TMS dataset as config/config.yaml runs it."""
    import yaml
    from lsecflow.config import load_config

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["datasets"] = {"tms_liver": cfg["datasets"]["tms_liver"]}
    return load_config(cfg, roots=[REPO]).datasets["tms_liver"]


def real_cells():
    """The shipped TMS sample after lsecflow's ingest (obs: sample, cell_type, ...)."""
    from lsecflow.ingest import build_counts

    adata, _ = build_counts(tms_dataset().params())
    return adata


def make(n_cells: int, path: str) -> None:
    from lsecflow.synthetic import bootstrap_cells

    bootstrap_cells(real_cells(), n_cells, path, seed=0)


def digest(pb) -> str:
    """SHA-256 of a pseudobulk matrix's row names and int64 counts."""
    import hashlib

    import numpy as np

    h = hashlib.sha256("\n".join(pb.obs_names).encode())
    h.update(np.ascontiguousarray(pb.X, dtype=np.int64).tobytes())
    return h.hexdigest()


def in_memory(path: str) -> str:
    import anndata as ad
    from lsecflow.pseudobulk import pseudobulk

    adata = ad.read_h5ad(path)
    pb, _ = pseudobulk(adata, "sample", "cell_type", 10, 0, chunk_size=adata.n_obs)
    return digest(pb)


def chunked(path: str, chunk: int, gpu: bool = False) -> str:
    import anndata as ad
    from lsecflow.pseudobulk import pseudobulk

    adata = ad.read_h5ad(path, backed="r")
    pb, _ = pseudobulk(adata, "sample", "cell_type", 10, 0, chunk_size=chunk, gpu=gpu)
    return digest(pb)


def main() -> None:
    from _child import ensure_made, measure

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--workdir", default="/tmp/lsecflow-bench")
    parser.add_argument("--reference-all", action="store_true", help="run the in-memory reference at every size")
    parser.add_argument("--gpu", action="store_true", help="also sum on the GPU (needs cupy and a CUDA device)")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.cells:
        path = work / f"tms_bootstrap_{n}.h5ad"
        ensure_made(path, make, n)
        wall, rss, total = measure(chunked, str(path), args.chunk)
        row = {"cells": n, "chunked_s": wall, "chunked_MiB": rss}
        if n == min(args.cells) or args.reference_all:
            ref_wall, ref_rss, ref_total = measure(in_memory, str(path))
            assert ref_total == total, "chunked and in-memory sums differ"
            row.update(reference_s=ref_wall, reference_MiB=ref_rss)
        if args.gpu:
            gpu_wall, gpu_rss, gpu_total = measure(chunked, str(path), args.chunk, True)
            assert gpu_total == total, "GPU and CPU sums differ"
            row.update(gpu_s=gpu_wall, gpu_MiB=gpu_rss)
        rows.append(row)
        print(f"{n:>9,} cells: lsecflow (backed, chunk {args.chunk:,}) {wall:7.1f} s {rss:7.0f} MiB"
              + (f" | reference (in memory) {row['reference_s']:7.1f} s {row['reference_MiB']:7.0f} MiB | "
                 f"ratio time {wall / row['reference_s']:.2f}, memory {rss / row['reference_MiB']:.2f}"
                 if "reference_s" in row else "")
              + (f" | gpu {row['gpu_s']:7.1f} s {row['gpu_MiB']:7.0f} MiB host | ratio gpu/cpu time "
                 f"{row['gpu_s'] / wall:.2f} (identical sums)" if "gpu_s" in row else ""), flush=True)
    big = max(rows, key=lambda r: r["cells"])
    print(f"peak RSS at {big['cells']:,} cells: {big['chunked_MiB'] / 1024:.2f} GiB "
          f"({'within' if big['chunked_MiB'] <= 4096 else 'OVER'} the 4 GiB budget)")


if __name__ == "__main__":
    main()
