"""Single-cell QC at scale: wall time per step and peak memory at 100,000 and 1,000,000 cells.

SYNTHETIC DATA: the real Tabula Muris Senis liver cells of the shipped dataset (after lsecflow's ingest,
468 cells x 726 genes) widened to --genes genes with binomially thinned copies of the real genes
(``lsecflow.synthetic.expand_genes``) and bootstrapped with replacement to the wanted number of cells
(``lsecflow.synthetic.bootstrap_cells``, each real sample split into 10, each draw's counts binomially thinned
to 80 % so that copies are distinct cells); every file says so in its ``uns``.

Each step runs in a fresh child process (peak RSS is its own, imports included):
  lsecflow   the rule's function (lsecflow.qc_cells.run_qc_single_cell): the h5ad opened backed and read
             --chunk cells at a time (metrics, scrublet per block, gene statistics; then the highly variable
             and signature genes), PCA / neighbours / UMAP / Leiden of the HVG, tables and figures
  reference  the whole matrix in memory as before (scanpy: scrublet, normalise, log1p, HVG, PCA,
             neighbours, UMAP, Leiden, signature scores); only up to --reference-max cells. With
             --doublets scrublet keep that at 20,000: scrublet densifies the matrix it scores (about 11 GiB
             at 20,000 cells x 20,000 genes), so the whole matrix of 100,000 cells does not fit in 24 GiB
  gpu        (--gpu) lsecflow with compute.gpu: true: the same code on cupy (normalisation, gene statistics,
             covariance PCA, exact kNN (k-means lists from 50,000 cells), the UMAP layout;
             lsecflow.cell_arrays), Leiden by scanpy (all on rapids-singlecell if it is importable); the
             device memory is cupy's pool at the end (it keeps freed blocks, so this is its high-water mark)
  gpu-code   (--gpu-code-on-cpu) the GPU's code path run with numpy (exact kNN, lsecflow's UMAP
             layout): what the GPU run computes, measured where no GPU is
Ratios are lsecflow / reference and gpu / lsecflow (same machine, same session: compare ratios). Where Leiden
runs in a second process beside the UMAP (lsecflow.cell_leiden; the GPU job from 200,000 cells, --leiden-beside), that
process's own peak and time are printed beside the job's ("+ x GiB Leiden process"): the two together bound the
job's memory from above.
Agreement (each run saves its embedding): PCA subspace cosine, kNN overlap and Leiden ARI of lsecflow
against the reference and of gpu (or gpu-code) against lsecflow (issue 25's bounds: >= 0.999, >= 0.95,
>= 0.7), and each UMAP's share of cells' PCA neighbours kept (lsecflow.cell_arrays.neighbour_preservation).

    .venv/bin/python bench/sc_scale.py [--cells 100000 1000000] [--genes 20000] [--chunk 20000]
                                       [--workdir DIR] [--reference-max 20000] [--doublets scrublet|none] [--gpu]
                                       [--gpu-code-on-cpu] [--no-cpu] [--make-only] [--leiden-beside auto|yes|no]

--no-cpu leaves out the CPU job (for a lent GPU machine, where the CPU job at 1M cells does not fit one 10-minute
command: its time then comes from another run, and no ratio is printed); --make-only writes the input files and stops
(to make the 1M file in the background while the 100k runs go on).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))


def dataset():
    from pseudobulk_scale import tms_dataset

    return tms_dataset()


#: each bootstrapped cell's counts binomially thinned to 80 %, so that copies of a real cell are distinct cells
#: (exact duplicates tie at distance 0 and make the kNN agreement a matter of tie-breaking)
THIN = 0.8


def make(n_cells: int, n_genes: int, path: Path) -> None:
    from lsecflow.synthetic import bootstrap_cells, expand_genes
    from pseudobulk_scale import real_cells

    bootstrap_cells(expand_genes(real_cells(), n_genes, seed=0), n_cells, path, seed=0, thin=THIN)


class _StepLog(logging.Handler):
    """Collects the ``timed`` lines of lsecflow.cell_blocks: {step: seconds}."""

    def __init__(self):
        super().__init__()
        self.steps, self.leiden_process = {}, None

    def emit(self, record):
        if record.msg.startswith("%s · %s:"):
            self.steps[record.args[1]] = record.args[2]
        elif record.msg.startswith("Leiden in the second process"):  # lsecflow.cell_leiden: seconds, own peak
            self.leiden_process = {"seconds": record.args[0], "peak_gib": record.args[1]}


def save_embedding(adata, path: str) -> None:
    """What the agreement check reads: PCA loadings, each cell's neighbour indices, Leiden labels."""
    import numpy as np

    d = adata.obsp["distances"].tocsr()
    np.savez(path, pcs=np.asarray(adata.varm["PCs"]), knn_indptr=d.indptr, knn_indices=d.indices,
             leiden=adata.obs["leiden"].astype(str).to_numpy(), genes=adata.var_names.astype(str).to_numpy(),
             scores=np.asarray(adata.obsm["X_pca"]), umap=np.asarray(adata.obsm["X_umap"]))


def agreement(a: str, b: str) -> dict:
    """Subspace cosine of the PCA loadings (on the genes both used), mean kNN overlap, Leiden ARI
    (lsecflow.cell_arrays' measures, as the agreement tests use them), and each UMAP's share of 2,000 random
    cells' 15 nearest neighbours in its own PCA space kept among their 15 nearest in the UMAP."""
    import numpy as np
    import scipy.sparse as sp
    from lsecflow.cell_arrays import knn_overlap, neighbour_preservation, subspace_cosine
    from sklearn.metrics import adjusted_rand_score

    x, y = np.load(a, allow_pickle=True), np.load(b, allow_pickle=True)
    common, ia, ib = np.intersect1d(x["genes"], y["genes"], return_indices=True)
    cos = subspace_cosine(x["pcs"][ia], y["pcs"][ib]) if len(common) == len(x["genes"]) else float("nan")
    n = len(x["leiden"])
    graph = [sp.csr_matrix((np.ones(len(z["knn_indices"])), z["knn_indices"], z["knn_indptr"]), shape=(n, n))
             for z in (x, y)]
    overlap = knn_overlap(*graph)
    kept = [round(neighbour_preservation(z["scores"], z["umap"], sample=2000), 3) for z in (x, y)]
    return {"pca_subspace_cosine": round(cos, 6), "knn_overlap": round(overlap, 4),
            "leiden_ari": round(float(adjusted_rand_score(x["leiden"], y["leiden"])), 3),
            "umap_neighbours_kept": kept}


def run_lsecflow(path: str, out: str, chunk: int, gpu: bool, doublets: str, gpu_code: bool = False,
                 leiden_beside: bool | None = None) -> dict:
    from lsecflow import qc_cells

    embed = qc_cells.embed_and_cluster

    def embed_and_save(hvg, *args, **kwargs):
        kwargs["leiden_beside"] = leiden_beside
        if gpu_code:
            kwargs.update(exact_knn=True, array_umap=True)
        result = embed(hvg, *args, **kwargs)
        save_embedding(result, f"{out}/embedding.npz")
        return result

    qc_cells.embed_and_cluster = embed_and_save

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # matplotlib's font subsetting: pages of glyph lists
    handler = _StepLog()
    logging.getLogger("lsecflow.cell_blocks").addHandler(handler)
    logging.getLogger("lsecflow.cell_leiden").addHandler(handler)
    ds = dataset()
    params = ds.params()
    params["spec"]["qc"]["doublets"] = doublets
    Path(out).mkdir(parents=True, exist_ok=True)
    tables = {"cells": f"{out}/cells.tsv", "clusters": f"{out}/clusters.tsv", "verdict": f"{out}/verdict.json"}
    figures = {k: f"{out}/{k}.png" for k in ("cell_qc", "umap", "purity")}
    verdict = qc_cells.run_qc_single_cell(path, params, ds.spec["qc"]["markers"], tables, figures, seed=0,
                                          gpu=gpu, chunk=chunk)
    import pandas as pd

    missing = int(pd.read_csv(tables["cells"], sep="\t", usecols=["doublet_score"])["doublet_score"].isna().sum())
    if missing and doublets == "scrublet":
        raise RuntimeError(f"{missing} cells have no doublet score: scrublet failed (see the log)")
    info = {"steps": handler.steps, "n_clusters": verdict["n_clusters"], "n_pass": verdict["n_pass"],
            "embedding": f"{out}/embedding.npz", "leiden_process": handler.leiden_process}
    if gpu:
        import cupy

        info["device_gib"] = cupy.get_default_memory_pool().total_bytes() / 2**30
    return info


def run_reference(path: str, out: str, doublets: str) -> dict:
    """The whole-matrix path, in memory (scanpy), timed per step."""
    import anndata as ad
    import numpy as np
    import scanpy as sc
    from lsecflow.markers import load_markers, score_signatures

    steps, t = {}, time.perf_counter()

    def lap(name):
        nonlocal t
        steps[name] = time.perf_counter() - t
        t = time.perf_counter()

    ds = dataset()
    opts = ds.spec["qc"]
    adata = ad.read_h5ad(path)
    lap("read")
    if doublets == "scrublet":
        tmp = adata.copy()
        sc.pp.scrublet(tmp, random_state=0, verbose=False, use_approx_neighbors=False)  # as lsecflow
        del tmp
        lap("scrublet")
    a = adata.copy()
    a.X = a.X.astype(np.float32)
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    sc.pp.highly_variable_genes(a, n_top_genes=min(opts["n_hvg"], a.n_vars), flavor="seurat")
    lap("normalise and HVG")
    sc.pp.pca(a, n_comps=opts["n_pcs"], mask_var="highly_variable", random_state=0)
    sc.pp.neighbors(a, n_neighbors=15, random_state=0)
    sc.tl.umap(a, random_state=0)
    sc.tl.leiden(a, resolution=opts["leiden_resolution"], flavor="igraph", n_iterations=2, directed=False,
                 random_state=0)
    lap("PCA, neighbours, UMAP, Leiden")
    Path(out).mkdir(parents=True, exist_ok=True)
    hvg = a[:, a.var["highly_variable"].to_numpy()].copy()
    hvg.varm["PCs"] = a.varm["PCs"][a.var["highly_variable"].to_numpy()]
    save_embedding(hvg, f"{out}/embedding.npz")
    score_signatures(a, load_markers(ds.spec["qc"]["markers"], set(a.var["symbol"].astype(str))), 0)
    lap("signature scores")
    return {"steps": steps, "n_clusters": int(a.obs["leiden"].nunique()), "embedding": f"{out}/embedding.npz"}


def main() -> None:
    from _child import ensure_made, measure

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--genes", type=int, default=20_000)
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--workdir", default="/tmp/lsecflow_sc_scale")
    ap.add_argument("--reference-max", type=int, default=20_000)
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--gpu-code-on-cpu", action="store_true",
                    help="also run the GPU's code path with numpy (exact kNN, lsecflow's UMAP layout)")
    ap.add_argument("--doublets", choices=["scrublet", "none"], default="scrublet",
                    help="qc.doublets: scrublet scores doublets (lsecflow per block, the reference on the whole "
                         "matrix), none skips it in both")
    ap.add_argument("--no-cpu", action="store_true", help="leave out the CPU job (lsecflow on numpy)")
    ap.add_argument("--leiden-beside", choices=["auto", "yes", "no"], default="auto",
                    help="Leiden in a second process beside the UMAP: auto (the GPU job from 200,000 cells with 2 "
                         "cores), always, never (lsecflow.cell_leiden)")
    ap.add_argument("--make-only", action="store_true", help="write the input files, then stop")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    beside = {"auto": None, "yes": True, "no": False}[args.leiden_beside]
    results = []
    for n in args.cells:
        path = work / f"synthetic_{n}x{args.genes}_thin{THIN}.h5ad"
        ensure_made(path, make, n, args.genes)
        if args.make_only:
            continue
        row = {"cells": n, "genes": args.genes, "file_gib": round(path.stat().st_size / 2**30, 2), "chunk": args.chunk,
               "doublets": args.doublets}
        runs = (("lsecflow", run_lsecflow, (str(work / f"out_{n}"), args.chunk, False, args.doublets, False, beside)),
                ("reference", run_reference, (str(work / f"out_ref_{n}"), args.doublets)),
                ("gpu", run_lsecflow, (str(work / f"out_gpu_{n}"), args.chunk, True, args.doublets, False, beside)),
                ("gpu-code", run_lsecflow,
                 (str(work / f"out_gpucode_{n}"), args.chunk, False, args.doublets, True, beside)))
        for name, target, extra in runs:
            if ((name == "reference" and n > args.reference_max) or (name == "gpu" and not args.gpu)
                    or (name == "lsecflow" and args.no_cpu)
                    or (name == "gpu-code" and not args.gpu_code_on_cpu)):
                continue
            wall, rss, info = measure(target, str(path), *extra)
            row[name] = {"wall_s": round(wall, 1), "peak_gib": round(rss / 1024, 2),
                         "steps": {k: round(v, 1) for k, v in info["steps"].items()}, "n_clusters": info["n_clusters"],
                         "embedding": info["embedding"]}
            if "device_gib" in info:
                row[name]["device_gib"] = round(info["device_gib"], 2)
            side = info.get("leiden_process")
            if side:  # Leiden's own process beside the UMAP: its peak adds to the job's (an upper bound)
                row[name]["leiden_process"] = {k: round(v, 2) for k, v in side.items()}
            print(f"{n:>9,} cells  {name:<9} {wall:8.1f} s  peak {rss / 1024:6.2f} GiB"
                  + (f" + {side['peak_gib']:.2f} GiB Leiden process ({side['seconds']:.1f} s)" if side else "")
                  + (f" (device {info['device_gib']:.2f} GiB)" if "device_gib" in info else "") + "  "
                  + "; ".join(f"{k} {v:.1f} s" for k, v in info["steps"].items()), flush=True)
        for a, b in (("lsecflow", "reference"), ("gpu", "lsecflow"), ("gpu-code", "lsecflow")):
            if a in row and b in row:
                row[f"{a}/{b}"] = {"time": round(row[a]["wall_s"] / row[b]["wall_s"], 2),
                                   "memory": round(row[a]["peak_gib"] / row[b]["peak_gib"], 2)}
                print(f"{'':>9}        ratio {a}/{b}: time {row[f'{a}/{b}']['time']}, "
                      f"memory {row[f'{a}/{b}']['memory']}", flush=True)
                row[f"{a}/{b}"]["agreement"] = agreement(row[a]["embedding"], row[b]["embedding"])
                print(f"{'':>9}        agreement {a} vs {b}: {row[f'{a}/{b}']['agreement']}", flush=True)
        results.append(row)
    if args.make_only:
        return
    out = work / f"results_{'_'.join(map(str, args.cells))}_{args.doublets}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
