"""Single-cell QC: per-cell metrics and thresholds, doublets, embedding and clusters, cluster calls
from the marker signatures, and the LSEC recovery check."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import plots, qc_plots
from .files import write_json_atomic, write_tsv_atomic
from .gpu import embed_and_cluster_gpu, use_gpu
from .markers import LSEC, load_markers, score_signatures

log = logging.getLogger(__name__)


def mad_limits(values: np.ndarray, nmads: float) -> tuple[float, float]:
    """Median +/- ``nmads`` scaled MADs."""
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    return med - nmads * mad, med + nmads * mad


def cell_qc(adata, opts: dict, seed: int = 0) -> pd.DataFrame:
    """Per-cell metrics, thresholds (config or MAD) and scrublet doublet scores.

    Returns a table with ``total_counts``, ``n_genes``, ``mito_fraction``,
    ``doublet_score``, ``predicted_doublet``, ``qc_pass`` and ``qc_reason``;
    the thresholds used are in ``.attrs['thresholds']``.
    """
    import scanpy as sc

    X = adata.X
    total = np.asarray(X.sum(axis=1)).ravel().astype(float)
    n_genes = np.asarray((X > 0).sum(axis=1)).ravel().astype(float)
    sym = adata.var["symbol"].astype(str)
    mito = sym.str.match(r"^(mt-|MT-)").to_numpy()
    mito_frac = np.asarray(X[:, mito].sum(axis=1)).ravel() / np.maximum(total, 1) if mito.any() else np.zeros(len(total))
    nm = opts["nmads"]
    lo_counts = opts.get("min_counts")
    if lo_counts is None:
        lo_counts = float(np.expm1(mad_limits(np.log1p(total), nm)[0]))
    lo_genes = opts.get("min_genes")
    if lo_genes is None:
        lo_genes = float(np.expm1(mad_limits(np.log1p(n_genes), nm)[0]))
    hi_mito = opts.get("max_mito_fraction")
    if hi_mito is None:
        hi_mito = float(mad_limits(mito_frac, nm)[1]) if mito.any() else 1.0
    table = pd.DataFrame({"total_counts": total, "n_genes": n_genes, "mito_fraction": mito_frac},
                         index=adata.obs_names)
    try:
        tmp = adata.copy()
        sc.pp.scrublet(tmp, random_state=seed, verbose=False)
        table["doublet_score"] = tmp.obs["doublet_score"].to_numpy()
        table["predicted_doublet"] = tmp.obs["predicted_doublet"].astype(bool).to_numpy()
    except Exception as exc:  # noqa: BLE001 - scrublet fails on tiny or degenerate data; say so, go on
        log.warning("scrublet could not run (%s): doublet scores left empty", exc)
        table["doublet_score"] = np.nan
        table["predicted_doublet"] = False
    reasons = []
    for row in table.itertuples():
        r = []
        if row.total_counts < lo_counts:
            r.append("low counts")
        if row.n_genes < lo_genes:
            r.append("few genes")
        if row.mito_fraction > hi_mito:
            r.append("high mitochondrial fraction")
        if opts["remove_doublets"] and row.predicted_doublet:
            r.append("predicted doublet")
        reasons.append("; ".join(r))
    table["qc_reason"] = reasons
    table["qc_pass"] = table["qc_reason"] == ""
    table.attrs["thresholds"] = {"min_counts": lo_counts, "min_genes": lo_genes, "max_mito_fraction": hi_mito}
    return table


def embed_and_cluster(adata, opts: dict, seed: int = 0, gpu: bool = False):
    """Normalise, HVG, PCA, neighbours, UMAP and Leiden; returns a new AnnData.

    scanpy on the CPU; with ``gpu`` the same steps with rapids-singlecell
    (:func:`lsecflow.gpu.embed_and_cluster_gpu`).
    """
    import scanpy as sc

    a = adata.copy()
    a.X = a.X.astype(np.float32)
    a.layers["counts"] = a.X.copy()
    n_top = min(opts["n_hvg"], a.n_vars)
    n_comps = int(min(opts["n_pcs"], a.n_obs - 1, a.n_vars - 1))
    if gpu:

        return embed_and_cluster_gpu(a, n_top, n_comps, min(15, a.n_obs - 1), opts["leiden_resolution"], seed)
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    sc.pp.highly_variable_genes(a, n_top_genes=n_top, flavor="seurat")
    sc.pp.pca(a, n_comps=n_comps, mask_var="highly_variable", random_state=seed)
    sc.pp.neighbors(a, n_neighbors=min(15, a.n_obs - 1), random_state=seed)
    sc.tl.umap(a, random_state=seed)
    sc.tl.leiden(a, resolution=opts["leiden_resolution"], flavor="igraph", n_iterations=2, directed=False,
                 random_state=seed)
    return a


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


def cell_table(cells: pd.DataFrame, adata, embedded, scores: pd.DataFrame, labels: pd.Series | None,
               calls: pd.DataFrame) -> pd.DataFrame:
    """The per-cell QC table: metrics and pass/fail (``cells``), sample, given label, cluster, UMAP,
    signature scores, the cell's and its cluster's call."""
    clusters = embedded.obs["leiden"].astype(str)
    cells["sample"] = adata.obs["sample"].astype(str)
    if labels is not None:
        cells["cell_type_label"] = labels
    cells["leiden"] = clusters
    cells["UMAP1"], cells["UMAP2"] = embedded.obsm["X_umap"][:, 0], embedded.obsm["X_umap"][:, 1]
    cells = cells.join(scores.add_prefix("score_"))
    cells["cell_call"] = scores.idxmax(axis=1)
    cells["cluster_call"] = clusters.map(calls["call"]).to_numpy()
    return cells


def sc_verdict(cells: pd.DataFrame, thresholds: dict, calls: pd.DataFrame, labels: pd.Series | None,
               lsec_label: str) -> dict:
    """The run-level QC summary (``verdict.json``), with the LSEC cluster check when cells carry labels."""
    verdict = {"n_cells": int(len(cells)), "n_pass": int(cells["qc_pass"].sum()),
               "thresholds": thresholds, "n_clusters": int(len(calls)),
               "fail_reasons": cells.loc[~cells["qc_pass"], "qc_reason"].value_counts().to_dict()}
    if labels is not None:
        verdict.update(lsec_check(cells["leiden"], calls, labels, lsec_label))
    return verdict


def run_qc_single_cell(counts_h5ad: str, params: dict, markers_path: str, outputs: dict[str, str],
                       figures: dict[str, str], *, seed: int = 0, gpu="auto") -> dict:
    """Rule entry point: single-cell QC tables and figures.

    ``outputs`` names the files: ``cells`` (metrics, doublets, pass/fail with
    reason, cluster, UMAP, signature scores and calls), ``clusters``,
    ``verdict`` (JSON); ``figures`` the PNG of each figure kind (cell_qc,
    umap, purity). ``gpu`` is ``compute.gpu`` (see :mod:`lsecflow.gpu`).
    """
    import anndata as ad

    spec = params["spec"]
    opts, sc_spec = spec["qc"], spec["single_cell"]
    adata = ad.read_h5ad(counts_h5ad)
    cells = cell_qc(adata, opts, seed)
    thresholds = dict(cells.attrs["thresholds"])
    log.info("cell QC thresholds: %s; %d of %d cells pass", thresholds, int(cells["qc_pass"].sum()),
             len(cells))
    embedded = embed_and_cluster(adata, opts, seed, gpu=use_gpu(gpu, "single-cell QC embedding"))
    markers = load_markers(markers_path, set(embedded.var["symbol"].astype(str)))
    log.info("marker signatures found: %s", {k: len(v) for k, v in markers.items()})
    scores = score_signatures(embedded, markers, seed)
    labels = adata.obs[sc_spec["cell_type_key"]].astype(str) if sc_spec["cell_type_key"] in adata.obs else None
    calls = cluster_calls(embedded.obs["leiden"].astype(str), scores, labels, sc_spec["lsec_label"])
    cells = cell_table(cells, adata, embedded, scores, labels, calls)
    verdict = sc_verdict(cells, thresholds, calls, labels, sc_spec["lsec_label"])
    write_tsv_atomic(cells.rename_axis("cell").reset_index(), outputs["cells"])
    write_tsv_atomic(calls.rename_axis("cluster").reset_index(), outputs["clusters"])
    write_json_atomic(verdict, outputs["verdict"])
    plots.configure(spec.get("figures"))
    qc_plots.sc_figures(cells, calls, list(scores.columns), thresholds, figures, params["name"])
    log.info("QC verdict: %s", verdict)
    return verdict
