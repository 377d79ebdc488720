"""Single-cell QC: per-cell metrics and thresholds, doublets, embedding and clusters, cluster calls
from the marker signatures, and the LSEC recovery check."""
from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import cell_blocks, cell_leiden, plots, qc_plots
from .cell_arrays import array_module, covariance_pca, pca_init, umap_layout
from .cell_blocks import timed
from .cell_knn import BlockedKnn
from .errors import InputDataError
from .files import write_json_atomic, write_tsv_atomic
from .gpu import embed_and_cluster_gpu, rapids_available, use_gpu
from .markers import LSEC, load_markers

log = logging.getLogger(__name__)


def mad_limits(values: np.ndarray, nmads: float) -> tuple[float, float]:
    """Median +/- ``nmads`` scaled MADs."""
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    return med - nmads * mad, med + nmads * mad


def qc_calls(cells: pd.DataFrame, opts: dict, has_mito: bool = True) -> pd.DataFrame:
    """Thresholds (config, else ``nmads`` MADs of the log counts, log genes and mitochondrial fraction)
    and each cell's pass / fail with its reasons; the thresholds used are in ``.attrs['thresholds']``.

    ``cells``: per-cell ``total_counts``, ``n_genes``, ``mito_fraction``, ``doublet_score``,
    ``predicted_doublet`` (:func:`lsecflow.cell_blocks.scan`); ``has_mito``: the matrix has mitochondrial
    genes (without, no mitochondrial threshold applies: ``max_mito_fraction`` is None, and a configured one
    is reported as having nothing to act on).
    """
    total, n_genes, mito_frac = (cells[c].to_numpy() for c in ("total_counts", "n_genes", "mito_fraction"))
    nm = opts["nmads"]
    lo_counts = opts.get("min_counts")
    if lo_counts is None:
        lo_counts = float(np.expm1(mad_limits(np.log1p(total), nm)[0]))
    lo_genes = opts.get("min_genes")
    if lo_genes is None:
        lo_genes = float(np.expm1(mad_limits(np.log1p(n_genes), nm)[0]))
    hi_mito = opts.get("max_mito_fraction")
    if not has_mito:
        if hi_mito is not None:
            log.warning("qc.max_mito_fraction %s has nothing to act on: the matrix holds no mitochondrial genes "
                        "(symbols starting mt- or MT-); no cell is filtered by it", hi_mito)
        else:
            log.warning("no mitochondrial genes (symbols starting mt- or MT-) in the matrix: cells are not "
                        "filtered by mitochondrial fraction (a gene subset, or ids without symbols?)")
        hi_mito = None
    elif hi_mito is None:
        hi_mito = float(mad_limits(mito_frac, nm)[1])
    table = cells.copy()
    reasons = []
    for row in table.itertuples():
        r = []
        if row.total_counts < lo_counts:
            r.append("low counts")
        if row.n_genes < lo_genes:
            r.append("few genes")
        if hi_mito is not None and row.mito_fraction > hi_mito:
            r.append("high mitochondrial fraction")
        if opts["remove_doublets"] and row.predicted_doublet:
            r.append("predicted doublet")
        reasons.append("; ".join(r))
    table["qc_reason"] = reasons
    table["qc_pass"] = table["qc_reason"] == ""
    table.attrs["thresholds"] = {"min_counts": lo_counts, "min_genes": lo_genes, "max_mito_fraction": hi_mito}
    return table


def mito_genes(var: pd.DataFrame) -> np.ndarray:
    """Mitochondrial genes (symbols starting mt- / MT-)."""
    return var["symbol"].astype(str).str.match(r"^(mt-|MT-)").to_numpy()


def cell_qc(adata, opts: dict, seed: int = 0, chunk: int = 20_000) -> pd.DataFrame:
    """Per-cell metrics, scrublet doublet scores (per block of ``chunk`` cells) and pass / fail
    (:func:`qc_calls`) of an AnnData in memory or backed."""
    mito = mito_genes(adata.var)
    scan = cell_blocks.scan(adata.X, adata.obs_names, mito, chunk, seed, doublets=opts.get("doublets") != "none")
    return qc_calls(scan.cells, opts, bool(mito.any()))


def embed_and_cluster(hvg: ad.AnnData, opts: dict, n_comps: int, seed: int = 0, gpu: bool = False,
                      chunk: int = 20_000, exact_knn: bool | None = None, array_umap: bool | None = None,
                      leiden_beside: bool | None = None) -> ad.AnnData:
    """PCA, neighbours, UMAP and Leiden of the log-normalised highly variable genes (in place).

    PCA from the genes' covariance, accumulated ``chunk`` cells at a time
    (:func:`lsecflow.cell_arrays.covariance_pca`; exact, the subspace of scanpy's ARPACK PCA); neighbours
    by scanpy (its defaults: pynndescent beyond 4,096 cells) or, with ``exact_knn``, exactly by blocked
    distance products, all against all or from 50,000 cells within k-means lists
    (:class:`lsecflow.cell_knn.BlockedKnn`); UMAP by scanpy (spectral start) or, with
    ``array_umap``, by :func:`lsecflow.cell_arrays.umap_layout` from the first two PCs (scanpy's defaults:
    ``min_dist`` 0.5, ``spread`` 1); Leiden by scanpy (igraph), on the GPU path from 200,000 cells in a second
    process beside the layout (``leiden_beside``; :mod:`lsecflow.cell_leiden`, the same labels). With ``gpu``
    the PCA, neighbours and UMAP
    layout run on cupy (``exact_knn`` and ``array_umap`` default to ``gpu``), or every step on
    rapids-singlecell where it is importable (:func:`lsecflow.gpu.embed_and_cluster_gpu`).
    """
    import scanpy as sc

    n_neighbors = min(15, hvg.n_obs - 1)
    if gpu and rapids_available():
        return embed_and_cluster_gpu(hvg, n_comps, n_neighbors, opts["leiden_resolution"], seed)
    xp = array_module(gpu)
    with timed(f"PCA ({'cupy' if gpu else 'numpy'}, covariance, {n_comps} components)"):
        pca = covariance_pca(sp.csr_matrix(hvg.X), n_comps, xp, chunk)
    hvg.obsm["X_pca"], hvg.varm["PCs"] = pca["scores"], pca["loadings"]
    hvg.uns["pca"] = {"variance": pca["variance"], "variance_ratio": pca["variance_ratio"],
                      "params": {"zero_center": True, "solver": "covariance_eigh"}}
    knn = BlockedKnn(n_neighbors, xp) if (gpu if exact_knn is None else exact_knn) else None
    with timed(f"neighbours ({knn.describe(hvg.n_obs) if knn else 'scanpy'})"):
        sc.pp.neighbors(hvg, n_neighbors=n_neighbors, use_rep="X_pca", random_state=seed, transformer=knn)
    own_umap = gpu if array_umap is None else array_umap
    with cell_leiden.clustering(hvg, opts["leiden_resolution"], seed, leiden_beside, gpu) as finish_leiden:
        if own_umap:
            with timed(f"UMAP (layout on {'cupy' if gpu else 'numpy'}, PCA start)"):
                umap_from_pca(hvg, xp, seed)
        else:
            with timed("UMAP (scanpy)"):
                sc.tl.umap(hvg, random_state=seed)
        with timed("Leiden (scanpy, igraph)"):
            finish_leiden()
    return hvg


def umap_from_pca(hvg: ad.AnnData, xp, seed: int = 0, min_dist: float = 0.5, spread: float = 1.0) -> None:
    """UMAP coordinates (``obsm["X_umap"]``) by :func:`lsecflow.cell_arrays.umap_layout` on ``xp``, from the
    neighbours' fuzzy graph (``obsp["connectivities"]``) and the first two PCs, with scanpy's ``min_dist``
    and ``spread``; ``uns["umap"]`` records the parameters as scanpy does, and how the layout was made."""
    from umap.umap_ import find_ab_params

    a, b = find_ab_params(spread, min_dist)
    hvg.obsm["X_umap"] = umap_layout(hvg.obsp["connectivities"], pca_init(hvg.obsm["X_pca"], seed), xp,
                                     a=float(a), b=float(b), seed=seed)
    hvg.uns["umap"] = {"params": {"a": float(a), "b": float(b), "min_dist": min_dist, "spread": spread,
                                  "init": "pca", "layout": "lsecflow.cell_arrays.umap_layout"}}


def cluster_calls(clusters: pd.Series, scores: pd.DataFrame, labels: pd.Series | None,
                  lsec_label: str | None) -> pd.DataFrame:
    """Per cluster: size, mean signature scores, called type and label mix."""
    df = scores.groupby(clusters.to_numpy(), observed=True).mean()
    df.index = df.index.astype(str)
    out = df.add_prefix("mean_score_")
    out.insert(0, "n_cells", clusters.value_counts().reindex(df.index).to_numpy())
    out["call"] = df.idxmax(axis=1)
    if labels is not None:
        mix = pd.crosstab(clusters.to_numpy(), labels.astype(str).to_numpy())
        mix.index = mix.index.astype(str)
        out["top_label"] = mix.idxmax(axis=1).reindex(out.index)
        out["top_label_fraction"] = (mix.max(axis=1) / mix.sum(axis=1)).reindex(out.index)
        if lsec_label is not None and lsec_label in mix.columns:
            out["lsec_label_fraction"] = (mix[lsec_label] / mix.sum(axis=1)).reindex(out.index)
    return out.sort_index(key=lambda idx: idx.astype(int))


def lsec_check(clusters: pd.Series, calls: pd.DataFrame, labels: pd.Series, lsec_label: str) -> dict:
    """How well the marker-called LSEC clusters recover the labelled LSECs."""
    lsec_clusters = [c for c in calls.index if calls.at[c, "call"] == LSEC]
    in_lsec = clusters.astype(str).isin(lsec_clusters).to_numpy()
    is_lsec = (labels.astype(str) == lsec_label).to_numpy()
    return {
        "lsec_clusters": lsec_clusters,
        "labelled_lsec_in_lsec_clusters": float(in_lsec[is_lsec].mean()) if is_lsec.any() else None,
        "other_labels_in_lsec_clusters": float((~is_lsec[in_lsec]).mean()) if in_lsec.any() else None,
        "n_cells_in_lsec_clusters": int(in_lsec.sum()),
    }


def cell_table(cells: pd.DataFrame, obs: pd.DataFrame, embedded: ad.AnnData, scores: pd.DataFrame,
               labels: pd.Series | None, calls: pd.DataFrame) -> pd.DataFrame:
    """The per-cell QC table: metrics and pass/fail (``cells``), sample, given label, cluster, UMAP,
    signature scores, the cell's and its cluster's call."""
    clusters = embedded.obs["leiden"].astype(str)
    cells["sample"] = obs["sample"].astype(str)
    if labels is not None:
        cells["cell_type_label"] = labels
    cells["leiden"] = clusters
    cells["UMAP1"], cells["UMAP2"] = embedded.obsm["X_umap"][:, 0], embedded.obsm["X_umap"][:, 1]
    cells = cells.join(scores.add_prefix("score_"))
    cells["cell_call"] = scores.idxmax(axis=1)
    cells["cluster_call"] = clusters.map(calls["call"]).to_numpy()
    return cells


def sc_verdict(cells: pd.DataFrame, thresholds: dict, calls: pd.DataFrame, labels: pd.Series | None,
               lsec_label: str, n_mito: int) -> dict:
    """The run-level QC summary (``verdict.json``), with the LSEC cluster check when cells carry labels;
    ``n_mito``: the matrix's mitochondrial genes (0: the fraction was not measured, no threshold applied)."""
    verdict = {"n_cells": int(len(cells)), "n_pass": int(cells["qc_pass"].sum()),
               "thresholds": thresholds, "mitochondrial_genes": int(n_mito), "n_clusters": int(len(calls)),
               "fail_reasons": cells.loc[~cells["qc_pass"], "qc_reason"].value_counts().to_dict()}
    if labels is not None:
        verdict.update(lsec_check(cells["leiden"], calls, labels, lsec_label))
    return verdict


def embedding_and_scores(adata, scan: cell_blocks.Scan, opts: dict, markers_path: str, chunk: int, seed: int,
                         gpu: bool) -> tuple[ad.AnnData, pd.DataFrame]:
    """Second pass and what follows it: the log-normalised highly variable genes embedded and clustered
    (:func:`embed_and_cluster`), and every cell's marker signature scores."""
    var = adata.var
    hvg = cell_blocks.seurat_hvg(scan.genes, min(opts["n_hvg"], adata.n_vars))
    log_mean = pd.Series(scan.genes["log_mean"].to_numpy(), index=adata.var_names)
    markers = load_markers(markers_path, set(var["symbol"].astype(str)))
    log.info("%d highly variable genes; marker signatures found: %s", int(hvg.sum()),
             {k: len(v) for k, v in markers.items()})
    symbol_to_var = pd.Series(adata.var_names, index=var["symbol"].astype(str).to_numpy())
    signatures = {ct: [symbol_to_var[g] for g in genes if g in symbol_to_var.index] for ct, genes in markers.items()}
    signatures = {ct: genes for ct, genes in signatures.items() if genes}
    if not signatures:
        wanted = sorted({g for genes in load_markers(markers_path).values() for g in genes})
        raise InputDataError(f"none of the {len(wanted)} genes of the marker panel {markers_path} ({', '.join(wanted[:5])}, "
                             f"...) is among the {adata.n_vars} genes of the matrix (symbols such as "
                             f"{', '.join(var['symbol'].astype(str)[:5])}): no cell can be scored. Check the dataset's "
                             "species and gene_ids, or give a panel of your genes (qc.markers)")
    scored = cell_blocks.score_genes(log_mean, signatures, seed)
    names = cell_blocks.score_columns(scored)
    columns = np.union1d(np.flatnonzero(hvg), adata.var_names.get_indexer(names))
    with timed("log-normalised HVG and signature genes (second pass)"):
        values = cell_blocks.log_columns(adata.X, columns, scan.cells["total_counts"].to_numpy(), chunk,
                                         array_module(gpu))
    at = pd.Series(np.arange(len(columns)), index=columns)
    embedded = ad.AnnData(values[:, at[np.flatnonzero(hvg)].to_numpy()], obs=pd.DataFrame(index=adata.obs_names),
                          var=var.iloc[np.flatnonzero(hvg)].copy())
    n_comps = int(min(opts["n_pcs"], adata.n_obs - 1, adata.n_vars - 1))
    with timed(f"embedding ({'GPU' if gpu else 'CPU'}): PCA, neighbours, UMAP, Leiden"):
        embed_and_cluster(embedded, opts, n_comps, seed, gpu, chunk)
    with timed("signature scores"):
        scores = cell_blocks.signature_scores(values[:, at[adata.var_names.get_indexer(names)].to_numpy()], names,
                                              scored)
    scores.index = adata.obs_names
    return embedded, scores


def run_qc_single_cell(counts_h5ad: str, params: dict, markers_path: str, outputs: dict[str, str],
                       figures: dict[str, str], *, seed: int = 0, gpu="auto", chunk: int = 20_000) -> dict:
    """Rule entry point: single-cell QC tables and figures, the matrix read ``chunk`` cells at a time
    (:mod:`lsecflow.cell_blocks`), so memory grows with the cells' tables and the highly variable genes,
    not with the whole matrix.

    ``outputs`` names the files: ``cells`` (metrics, doublets, pass/fail with
    reason, cluster, UMAP, signature scores and calls), ``clusters``,
    ``verdict`` (JSON); ``figures`` the PNG of each figure kind (cell_qc,
    umap, purity). ``gpu`` is ``compute.gpu`` (see :mod:`lsecflow.gpu`).
    """
    spec = params["spec"]
    opts, sc_spec = spec["qc"], spec["single_cell"]
    adata = ad.read_h5ad(counts_h5ad, backed="r")
    log.info("%d cells x %d genes, read %d cells at a time", adata.n_obs, adata.n_vars, chunk)
    mito = mito_genes(adata.var)
    if opts["doublets"] == "none":
        log.info("doublet scores skipped (qc.doublets: none)")
    on_gpu = use_gpu(gpu, "single-cell QC (normalisation, gene statistics, PCA, neighbours, UMAP layout)",
                     needs="cupy")
    if on_gpu:
        log.info("%s", "UMAP and Leiden run on the GPU (rapids-singlecell)" if rapids_available() else
                 "the UMAP layout runs on the GPU (cupy, lsecflow.cell_arrays.umap_layout), Leiden on the CPU "
                 "(scanpy, igraph): rapids-singlecell is not importable")
    with timed("metrics, doublets and gene statistics (first pass)"):
        scan = cell_blocks.scan(adata.X, adata.obs_names, mito, chunk, seed, doublets=opts["doublets"] == "scrublet",
                                xp=array_module(on_gpu))
    cells = qc_calls(scan.cells, opts, bool(mito.any()))
    thresholds = dict(cells.attrs["thresholds"])
    log.info("cell QC thresholds: %s; %d of %d cells pass", thresholds, int(cells["qc_pass"].sum()), len(cells))
    embedded, scores = embedding_and_scores(adata, scan, opts, markers_path, chunk, seed, on_gpu)
    labels = adata.obs[sc_spec["cell_type_key"]].astype(str) if sc_spec["cell_type_key"] in adata.obs else None
    calls = cluster_calls(embedded.obs["leiden"].astype(str), scores, labels, sc_spec["lsec_label"])
    cells = cell_table(cells, adata.obs, embedded, scores, labels, calls)
    verdict = sc_verdict(cells, thresholds, calls, labels, sc_spec["lsec_label"], int(mito.sum()))
    with timed("tables and figures"):
        write_tsv_atomic(cells.rename_axis("cell").reset_index(), outputs["cells"])
        write_tsv_atomic(calls.rename_axis("cluster").reset_index(), outputs["clusters"])
        write_json_atomic(verdict, outputs["verdict"])
        plots.configure(spec.get("figures"))
        qc_plots.sc_figures(cells, calls, list(scores.columns), thresholds, figures, params["name"])
    log.info("QC verdict: %s", verdict)
    return verdict
