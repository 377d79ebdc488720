"""Quality control: bulk samples, single cells, and the LSEC purity panel.

Bulk: library size, detected genes, mitochondrial and ribosomal fractions,
a blind variance-stabilising transformation (DESeq2's ``vst``: dispersion
trend fitted on a gene subset, closed-form transform), sample correlation
with hierarchical clustering, PCA, and robust (MAD) outlier scores.

Purity panel: for each marker signature (``resources/markers``) a per-sample
score (mean log2 CPM of its markers) and a *marker share*: the signature's
share of the panel's total marker CPM. The share is an index of which cell
type dominates the marker signal, not a cell fraction.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputDataError

log = logging.getLogger(__name__)

LSEC = "LSEC"


# --------------------------------------------------------------------------- markers
def load_markers(path, genes=None) -> dict[str, list[str]]:
    """Marker table (``cell_type``, ``gene``, ``reference``) -> {cell type: genes}.

    With ``genes``, only markers present in it are kept (order preserved).
    """
    table = pd.read_csv(path, sep="\t", dtype=str)
    missing = {"cell_type", "gene"} - set(table.columns)
    if missing:
        raise InputDataError(f"{path}: marker table lacks column(s) {', '.join(sorted(missing))}")
    present = None if genes is None else set(genes)
    out: dict[str, list[str]] = {}
    for ct, grp in table.groupby("cell_type", sort=False):
        keep = [g for g in grp["gene"] if present is None or g in present]
        if keep:
            out[ct] = keep
    return out


def cpm(counts: np.ndarray) -> np.ndarray:
    """Counts per million (samples or cells x genes)."""
    lib = counts.sum(axis=1, keepdims=True).astype(float)
    return counts / np.maximum(lib, 1) * 1e6


def purity_panel(counts: pd.DataFrame, symbols: pd.Series, markers: dict[str, list[str]]) -> pd.DataFrame:
    """Per-sample marker scores and shares.

    Parameters
    ----------
    counts
        Samples x genes raw counts (columns = gene ids).
    symbols
        Symbol of each gene id.
    markers
        {cell type: symbols}, as from :func:`load_markers`.

    Returns
    -------
    pandas.DataFrame
        ``score_<type>`` (mean log2(CPM+1) of the markers found),
        ``share_<type>`` (sum of marker CPM / sum over all signatures),
        ``dominant`` and ``n_markers_<type>``.
    """
    by_symbol = pd.Series(counts.columns, index=symbols.reindex(counts.columns).to_numpy())
    values = cpm(counts.to_numpy(dtype=float))
    out = pd.DataFrame(index=counts.index)
    sums = {}
    for ct, genes in markers.items():
        cols = [counts.columns.get_loc(by_symbol[g]) for g in genes if g in by_symbol.index]
        if not cols:  # keep the columns (a stable table), say so in the log
            log.warning("purity panel: no marker of %s found among the genes", ct)
            out[f"score_{ct}"] = np.nan
            out[f"n_markers_{ct}"] = 0
            sums[ct] = np.zeros(len(counts))
            continue
        sub = values[:, cols]
        out[f"score_{ct}"] = np.log2(sub + 1).mean(axis=1)
        out[f"n_markers_{ct}"] = len(cols)
        sums[ct] = sub.sum(axis=1)
    total = np.sum(list(sums.values()), axis=0)
    for ct, s in sums.items():
        out[f"share_{ct}"] = s / np.maximum(total, 1e-12)
    shares = out[[f"share_{ct}" for ct in sums]].fillna(0)
    out["dominant"] = shares.idxmax(axis=1).str.removeprefix("share_")
    return out


# --------------------------------------------------------------------------- bulk
def bulk_metrics(counts: pd.DataFrame, symbols: pd.Series) -> pd.DataFrame:
    """Library size, detected genes, mitochondrial and ribosomal fractions."""
    sym = symbols.reindex(counts.columns).astype(str)
    mito = sym.str.match(r"^(mt-|MT-)").to_numpy()
    ribo = sym.str.match(r"^(Rp[sl]\d|RP[SL]\d)").to_numpy()
    X = counts.to_numpy(dtype=float)
    lib = X.sum(axis=1)
    return pd.DataFrame({
        "library_size": lib.astype(np.int64),
        "detected_genes": (X > 0).sum(axis=1),
        "mito_fraction": X[:, mito].sum(axis=1) / np.maximum(lib, 1),
        "ribo_fraction": X[:, ribo].sum(axis=1) / np.maximum(lib, 1),
    }, index=counts.index)


def size_factors(counts: np.ndarray) -> np.ndarray:
    """DESeq2 median-of-ratios size factors (samples x genes)."""
    with np.errstate(divide="ignore"):
        logc = np.log(counts)
    finite = np.isfinite(logc).all(axis=0)
    if not finite.any():
        raise InputDataError("no gene is expressed in every sample: median-of-ratios size factors undefined")
    logmeans = logc[:, finite].mean(axis=0)
    return np.exp(np.median(logc[:, finite] - logmeans, axis=1))


def vst_blind(counts: pd.DataFrame, nsub: int = 1000, seed: int = 0) -> pd.DataFrame:
    """DESeq2's ``vst(blind = TRUE)``: parametric trend on ``nsub`` genes, closed-form transform.

    As DESeq2's ``vst``: the genes with mean normalised count > 5, ordered
    by mean, are sampled evenly; their dispersion trend (DESeq2's
    ``estimateDispersionsGeneEst`` and ``estimateDispersionsFit``, inmoose's
    port) transforms every gene. Falls back to all those genes when fewer
    than ``nsub`` exist. Returns genes x samples (index = gene ids).
    """
    from inmoose.deseq2 import DESeqDataSet, estimateDispersionsFit, estimateDispersionsGeneEst
    from inmoose.deseq2.vst import getVarianceStabilizedData

    from .deseq2 import quiet_inmoose

    X = counts.to_numpy(dtype=float)
    sf = size_factors(X)
    base_mean = (X / sf[:, None]).mean(axis=0)
    idx = np.flatnonzero(base_mean > 5)
    if len(idx) < 10:
        raise InputDataError("fewer than 10 genes with mean normalised count > 5: cannot fit the VST")
    order = idx[np.argsort(base_mean[idx], kind="stable")]
    pick = order[np.round(np.linspace(0, len(order) - 1, min(nsub, len(order)))).astype(int)]
    meta = pd.DataFrame(index=counts.index.astype(str))
    whole = pd.DataFrame(X.astype(np.int64), index=meta.index, columns=counts.columns.astype(str))
    with quiet_inmoose():
        full = DESeqDataSet(whole, meta, design="~ 1")
        full.sizeFactors = sf
        sub = DESeqDataSet(whole.iloc[:, pick], meta.copy(), design="~ 1")
        sub.sizeFactors = sf
        sub = estimateDispersionsGeneEst(sub, quiet=True)
        try:
            sub = estimateDispersionsFit(sub, fitType="parametric", quiet=True)
        except NotImplementedError:  # DESeq2 would switch to 'local', which the port lacks
            sub = estimateDispersionsFit(sub, fitType="mean", quiet=True)
        full.setDispFunction(sub.dispersionFunction, estimateVar=False)
        vst = np.asarray(getVarianceStabilizedData(full), dtype=float)
    if sub.dispersionFunction.fitType != "parametric":
        log.warning("VST: parametric dispersion trend did not converge; the %s dispersion used instead "
                    "(DESeq2 would use its 'local' fit, which the inmoose port lacks)", sub.dispersionFunction.fitType)
    return pd.DataFrame(vst.T, index=counts.columns, columns=counts.index)


def pca(vst: pd.DataFrame, ntop: int = 500, n_comps: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    """PCA of the ``ntop`` most variable genes (as DESeq2's plotPCA).

    Returns sample scores (``PC1``...) and the fraction of variance explained.
    """
    var = vst.var(axis=1).to_numpy()
    top = np.argsort(-var, kind="stable")[: min(ntop, len(var))]
    M = vst.to_numpy()[top].T
    M = M - M.mean(axis=0)
    U, S, _ = np.linalg.svd(M, full_matrices=False)
    k = min(n_comps, len(S))
    signs = np.sign(U[np.abs(U[:, :k]).argmax(axis=0), range(k)])  # deterministic sign
    scores = U[:, :k] * S[:k] * signs
    explained = (S ** 2 / np.sum(S ** 2))[:k]
    return pd.DataFrame(scores, index=vst.columns, columns=[f"PC{i + 1}" for i in range(k)]), explained


def robust_z(values: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 * MAD); 0 where the MAD is 0."""
    med = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - med))
    return np.zeros_like(values) if mad == 0 else (values - med) / mad


def outliers(corr: pd.DataFrame, scores: pd.DataFrame, explained: np.ndarray, threshold: float,
             n_pcs: int = 3) -> pd.DataFrame:
    """Robust outlier scores from correlation and PCA position.

    ``corr_z``: robust z of each sample's median correlation to the others
    (flagged when below ``-threshold``); ``pca_z``: robust z of the distance
    to the median position in the first ``n_pcs`` PCs, weighted by variance
    explained (flagged above ``threshold``).
    """
    C = corr.to_numpy().copy()
    np.fill_diagonal(C, np.nan)
    med_corr = np.nanmedian(C, axis=1)
    P = scores.iloc[:, :n_pcs].to_numpy()
    centre = np.median(P, axis=0)
    dist = np.sqrt((((P - centre) ** 2) * explained[:n_pcs]).sum(axis=1))
    out = pd.DataFrame({"median_correlation": med_corr, "corr_z": robust_z(med_corr), "pca_distance": dist,
                        "pca_z": robust_z(dist)}, index=corr.index)
    reasons = []
    for row in out.itertuples():
        r = []
        if row.corr_z < -threshold:
            r.append(f"median correlation {row.median_correlation:.3f} is {-row.corr_z:.1f} MADs below the others")
        if row.pca_z > threshold:
            r.append(f"PCA distance {row.pca_distance:.1f} is {row.pca_z:.1f} MADs above the others")
        reasons.append("; ".join(r))
    out["outlier"] = [bool(r) for r in reasons]
    out["outlier_reason"] = reasons
    return out


def deviant_genes(vst: pd.DataFrame, sample: str, symbols: pd.Series, n: int = 6) -> str:
    """The genes where ``sample`` departs most from the median of the others (VST, log2 units)."""
    diff = vst[sample] - vst.drop(columns=sample).median(axis=1)
    top = diff.abs().sort_values(ascending=False, kind="stable").index[:n]
    return ", ".join(f"{symbols.get(g, g)} ({diff[g]:+.1f})" for g in top)


def run_bulk_qc(counts_h5ad: str, params: dict, markers_path: str, outdir: str) -> dict:
    """Rule entry point: bulk QC tables and figures into ``outdir``.

    Writes ``samples.tsv`` (metrics, outlier scores, purity, exclusion and
    warnings per sample), ``correlation.tsv``, ``pca.tsv``, ``purity.tsv``,
    ``verdict.json`` and the figures (in ``figures.formats``).
    """
    import anndata as ad

    from . import plots, qc_plots
    from .ingest import write_text_atomic, write_tsv_atomic

    spec = params["spec"]
    opts = spec["qc"]
    adata = ad.read_h5ad(counts_h5ad)
    counts = pd.DataFrame(np.asarray(adata.X), index=adata.obs_names.astype(str), columns=adata.var_names)
    symbols = adata.var["symbol"].astype(str)
    out = Path(outdir)
    metrics = bulk_metrics(counts, symbols)
    expressed = counts.loc[:, (counts >= spec["de"]["min_count"]).sum(axis=0) >= spec["de"]["min_samples"]]
    vst = vst_blind(expressed, seed=params.get("seed", 0))
    corr = vst.corr(method="pearson")
    scores, explained = pca(vst, ntop=opts["pca_top_genes"])
    flags = outliers(corr, scores, explained, opts["outlier_threshold"])
    for s in flags.index[flags["outlier"]]:
        flags.at[s, "outlier_reason"] += "; most deviant genes: " + deviant_genes(vst, s, symbols)
    purity = purity_panel(counts, symbols, load_markers(markers_path))
    samples = pd.concat([adata.obs.astype(str), metrics, flags, purity], axis=1)
    samples["excluded"] = samples.index.isin(opts["exclude"])
    warnings = []
    for s in samples.index:
        w = []
        if opts["sample_type"] == "lsec" and f"share_{LSEC}" in purity:
            share = purity.at[s, f"share_{LSEC}"]
            dominant = purity.at[s, "dominant"]
            if dominant != LSEC or share < 1 - opts["max_contaminant_share"]:
                w.append(f"declared LSEC but LSEC markers are {share:.0%} of the panel's signal (dominant: "
                         f"{dominant}); likely contaminated")
        if samples.at[s, "outlier"]:
            w.append("outlier: " + samples.at[s, "outlier_reason"])
        warnings.append("; ".join(w))
    samples["warning"] = warnings
    for s, w in zip(samples.index, warnings):
        if w:
            log.warning("sample %s: %s", s, w)
    for s in opts["exclude"]:
        log.info("sample %s excluded from DE by qc.exclude", s)
    scores_out = scores.copy()
    scores_out.loc["variance_explained"] = explained
    write_tsv_atomic(samples.rename_axis("sample_id").reset_index(), out / "samples.tsv")
    write_tsv_atomic(corr.rename_axis("sample").reset_index(), out / "correlation.tsv")
    write_tsv_atomic(scores_out.rename_axis("sample").reset_index(), out / "pca.tsv")
    write_tsv_atomic(purity.rename_axis("sample").reset_index(), out / "purity.tsv")
    verdict = {
        "n_samples": int(len(samples)),
        "outliers": sorted(samples.index[samples["outlier"]]),
        "excluded": list(opts["exclude"]),
        "contamination_warnings": sorted(s for s, w in zip(samples.index, warnings) if "contaminated" in w),
        "dominant_signature": purity["dominant"].value_counts().to_dict(),
        "sample_type": opts["sample_type"],
    }
    write_text_atomic(json.dumps(verdict, indent=2, sort_keys=True) + "\n", out / "verdict.json")
    design_cols = [c for c in adata.obs.columns if c != "sample"]
    plots.configure(params["spec"].get("figures"))
    qc_plots.bulk_figures(samples, corr, scores, explained, purity, design_cols, out, params["name"])
    log.info("QC verdict: %s", verdict)
    return verdict


# --------------------------------------------------------------------------- single cell
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
        from .gpu import embed_and_cluster_gpu

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


def score_signatures(a, markers: dict[str, list[str]], seed: int = 0) -> pd.DataFrame:
    """scanpy ``score_genes`` per signature on log-normalised data (cells x types)."""
    import scanpy as sc

    symbol_to_var = pd.Series(a.var_names, index=a.var["symbol"].astype(str).to_numpy())
    scores = {}
    for ct, genes in markers.items():
        var_names = [symbol_to_var[g] for g in genes if g in symbol_to_var.index]
        if not var_names:
            continue
        sc.tl.score_genes(a, var_names, score_name="_score", random_state=seed, use_raw=False)
        scores[ct] = a.obs.pop("_score").to_numpy()
    return pd.DataFrame(scores, index=a.obs_names)


def call_cell_types(adata, markers_path, seed: int = 0) -> pd.Series:
    """Label each cell with its highest marker signature (raw counts in, labels out).

    Counts are normalised to 10,000 per cell and log1p-transformed on a copy;
    signatures are scored with scanpy ``score_genes`` (seeded).
    """
    import scanpy as sc

    a = adata.copy()
    a.X = a.X.astype(np.float32)
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    markers = load_markers(markers_path, set(a.var["symbol"].astype(str)))
    if not markers:
        raise InputDataError(f"{markers_path}: no marker gene is among the dataset's genes; cannot call cell types")
    scores = score_signatures(a, markers, seed)
    return scores.idxmax(axis=1)


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


def run_sc_qc(counts_h5ad: str, params: dict, markers_path: str, outdir: str, seed: int = 0,
              gpu="auto") -> dict:
    """Rule entry point: single-cell QC tables and figures into ``outdir``.

    Writes ``cells.tsv`` (metrics, doublets, pass/fail with reason, cluster,
    UMAP, signature scores and calls), ``clusters.tsv``, ``verdict.json`` and
    the figures. ``gpu`` is ``compute.gpu`` (see :mod:`lsecflow.gpu`).
    """
    import anndata as ad

    from . import plots, qc_plots
    from .gpu import use_gpu
    from .ingest import write_text_atomic, write_tsv_atomic

    spec = params["spec"]
    opts = spec["qc"]
    sc_spec = spec["single_cell"]
    adata = ad.read_h5ad(counts_h5ad)
    out = Path(outdir)
    cells = cell_qc(adata, opts, seed)
    thresholds = dict(cells.attrs["thresholds"])
    log.info("cell QC thresholds: %s; %d of %d cells pass", thresholds, int(cells["qc_pass"].sum()),
             len(cells))
    a = embed_and_cluster(adata, opts, seed, gpu=use_gpu(gpu, "single-cell QC embedding"))
    markers = load_markers(markers_path, set(a.var["symbol"].astype(str)))
    log.info("marker signatures found: %s", {k: len(v) for k, v in markers.items()})
    scores = score_signatures(a, markers, seed)
    clusters = a.obs["leiden"].astype(str)
    label_key = sc_spec["cell_type_key"]
    labels = adata.obs[label_key].astype(str) if label_key in adata.obs else None
    calls = cluster_calls(clusters, scores, labels, sc_spec["lsec_label"])
    cells["sample"] = adata.obs["sample"].astype(str)
    if labels is not None:
        cells["cell_type_label"] = labels
    cells["leiden"] = clusters
    cells["UMAP1"], cells["UMAP2"] = a.obsm["X_umap"][:, 0], a.obsm["X_umap"][:, 1]
    cells = cells.join(scores.add_prefix("score_"))
    cells["cell_call"] = scores.idxmax(axis=1)
    cells["cluster_call"] = clusters.map(calls["call"]).to_numpy()
    verdict = {"n_cells": int(len(cells)), "n_pass": int(cells["qc_pass"].sum()),
               "thresholds": thresholds, "n_clusters": int(len(calls)),
               "fail_reasons": cells.loc[~cells["qc_pass"], "qc_reason"].value_counts().to_dict()}
    if labels is not None:
        verdict.update(lsec_check(clusters, calls, labels, sc_spec["lsec_label"]))
    write_tsv_atomic(cells.rename_axis("cell").reset_index(), out / "cells.tsv")
    write_tsv_atomic(calls.rename_axis("cluster").reset_index(), out / "clusters.tsv")
    write_text_atomic(json.dumps(verdict, indent=2, sort_keys=True) + "\n", out / "verdict.json")
    plots.configure(params["spec"].get("figures"))
    qc_plots.sc_figures(cells, calls, list(scores.columns), thresholds, out, params["name"])
    log.info("QC verdict: %s", verdict)
    return verdict
