"""Quality control of bulk samples, and the LSEC purity panel (single cells: :mod:`lsecflow.qc_cells`).

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

import logging

import numpy as np
import pandas as pd

from . import plots, qc_plots
from .de_options import de_engine
from .deseq2 import quiet_inmoose, tx_length_factors
from .deseq2_local import estimateDispersionsFit, variance_stabilized
from .errors import InputDataError
from .files import write_json_atomic, write_tsv_atomic
from .formula import design_metadata
from .limma import design_matrix
from .markers import LSEC, load_markers
from .nuisance import nuisance_matrix, nuisance_terms, remove_batch_effect
from .transcripts import TX_LENGTH_LAYER
from .voom import effective_library_sizes, voom

log = logging.getLogger(__name__)

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
    """Library size, detected genes, mitochondrial and ribosomal fractions; a fraction is empty (NaN: not
    measured, not 0) when the matrix holds no gene of its kind (mt-/MT-; Rps/Rpl, RPS/RPL), and the log says so."""
    sym = symbols.reindex(counts.columns).astype(str)
    X = counts.to_numpy(dtype=float)
    lib = X.sum(axis=1)
    out = {"library_size": lib.astype(np.int64), "detected_genes": (X > 0).sum(axis=1)}
    for col, pattern, what in (("mito_fraction", r"^(mt-|MT-)", "mitochondrial (mt-/MT-)"),
                               ("ribo_fraction", r"^(Rp[sl]\d|RP[SL]\d)", "ribosomal protein (Rps/Rpl, RPS/RPL)")):
        genes = sym.str.match(pattern).to_numpy()
        if not genes.any():
            log.warning("no %s gene among the %d genes: %s not measured (empty, not 0)", what, len(sym), col)
        out[col] = X[:, genes].sum(axis=1) / np.maximum(lib, 1) if genes.any() else np.full(len(lib), np.nan)
    return pd.DataFrame(out, index=counts.index)


def size_factors(counts: np.ndarray) -> np.ndarray:
    """DESeq2 median-of-ratios size factors (samples x genes)."""
    with np.errstate(divide="ignore"):
        logc = np.log(counts)
    finite = np.isfinite(logc).all(axis=0)
    if not finite.any():
        raise InputDataError("no gene is expressed in every sample: median-of-ratios size factors undefined")
    logmeans = logc[:, finite].mean(axis=0)
    return np.exp(np.median(logc[:, finite] - logmeans, axis=1))


def vst_blind(counts: pd.DataFrame, nsub: int = 1000, seed: int = 0, lengths: np.ndarray | None = None
              ) -> pd.DataFrame:
    """DESeq2's ``vst(blind = TRUE)``: parametric trend on ``nsub`` genes, closed-form transform.

    As DESeq2's ``vst``: the genes with mean normalised count > 5, ordered
    by mean, are sampled evenly; their dispersion trend (DESeq2's
    ``estimateDispersionsGeneEst`` and ``estimateDispersionsFit``, inmoose's
    port; where the parametric trend fails, DESeq2's local one and its
    numerical transform, :mod:`lsecflow.deseq2_local`) transforms every gene.
    Falls back to all those genes when fewer than ``nsub`` exist. ``lengths``
    (samples x genes, tximport's average transcript lengths): normalisation
    factors instead of size factors, as ``vst`` on a ``DESeqDataSetFromTximport``
    (:func:`lsecflow.deseq2.tx_length_factors`). Returns genes x samples
    (index = gene ids).
    """
    from inmoose.deseq2 import DESeqDataSet, estimateDispersionsGeneEst

    X = counts.to_numpy(dtype=float)
    if lengths is not None:
        nf = tx_length_factors(X, lengths)  # samples x genes
    else:
        nf = size_factors(X)[:, None]  # samples x 1: a size factor per sample
    base_mean = (X / nf).mean(axis=0)
    idx = np.flatnonzero(base_mean > 5)
    if len(idx) < 10:
        raise InputDataError("fewer than 10 genes with mean normalised count > 5: cannot fit the VST")
    order = idx[np.argsort(base_mean[idx], kind="stable")]
    pick = order[np.round(np.linspace(0, len(order) - 1, min(nsub, len(order)))).astype(int)]
    meta = pd.DataFrame(index=counts.index.astype(str))
    whole = pd.DataFrame(X.astype(np.int64), index=meta.index, columns=counts.columns.astype(str))
    with quiet_inmoose():
        full = DESeqDataSet(whole, meta, design="~ 1")
        sub = DESeqDataSet(whole.iloc[:, pick], meta.copy(), design="~ 1")
        if lengths is not None:
            full.normalizationFactors, sub.normalizationFactors = nf, nf[:, pick]
        else:
            full.sizeFactors = sub.sizeFactors = nf[:, 0]
        sub = estimateDispersionsGeneEst(sub, quiet=True)
        sub = estimateDispersionsFit(sub, fitType="parametric", quiet=True)  # falls back to 'local' as R
        full.setDispFunction(sub.dispersionFunction, estimateVar=False)
        vst = variance_stabilized(full)
    if sub.dispersionFunction.fitType != "parametric":
        log.warning("VST: the parametric dispersion trend (a/mean + b) did not fit; DESeq2's local regression "
                    "trend used instead, as R does")
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


def write_sample_tables(samples: pd.DataFrame, corr: pd.DataFrame, scores: pd.DataFrame, explained: np.ndarray,
                        outputs: dict[str, str]) -> None:
    """The per-sample QC tables every assay writes: ``samples``, ``correlation`` and ``pca`` (the
    scores with a last row ``variance_explained``); each sample's warning is logged."""
    for s, w in samples["warning"].items():
        if w:
            log.warning("sample %s: %s", s, w)
    scores_out = scores.copy()
    scores_out.loc["variance_explained"] = explained
    write_tsv_atomic(samples.rename_axis("sample_id").reset_index(), outputs["samples"])
    write_tsv_atomic(corr.rename_axis("sample").reset_index(), outputs["correlation"])
    write_tsv_atomic(scores_out.rename_axis("sample").reset_index(), outputs["pca"])


def sample_structure(vst: pd.DataFrame, symbols: pd.Series, opts: dict):
    """Correlation, PCA and outlier flags of the samples (VST); an outlier's reason names its most
    deviant genes. Returns ``(corr, scores, explained, flags)``."""
    corr = vst.corr(method="pearson")
    scores, explained = pca(vst, ntop=opts["pca_top_genes"])
    flags = outliers(corr, scores, explained, opts["outlier_threshold"])
    for s in flags.index[flags["outlier"]]:
        flags.at[s, "outlier_reason"] += "; most deviant genes: " + deviant_genes(vst, s, symbols)
    return corr, scores, explained, flags


def without_nuisance(vst: pd.DataFrame, obs: pd.DataFrame, params: dict) -> tuple | None:
    """The PCA of ``vst`` less the design's nuisance terms (:func:`lsecflow.nuisance.nuisance_terms`: batch,
    mouse, what no contrast names), limma's ``removeBatchEffect`` keeping the other terms: ``(scores,
    explained, "batch + ...")``, or None when the design has none."""
    spec = params["spec"]
    removed, kept = nuisance_terms(spec["design"], spec["contrasts"])
    if not removed:
        return None
    meta = design_metadata(obs.loc[vst.columns], params.get("design_columns", []), spec["contrasts"])
    x = remove_batch_effect(vst.to_numpy(), nuisance_matrix(meta, removed),
                            np.asarray(design_matrix(meta, "~ " + (" + ".join(kept) or "1"))))
    scores, explained = pca(pd.DataFrame(x, index=vst.index, columns=vst.columns), ntop=spec["qc"]["pca_top_genes"])
    log.info("PCA without %s (limma's removeBatchEffect, keeping %s): PC1 %.0f%%, PC2 %.0f%% of variance",
             " + ".join(removed), " + ".join(kept) or "the mean", 100 * explained[0], 100 * explained[1])
    return scores, explained, " + ".join(removed)


def with_corrected(scores: pd.DataFrame, explained: np.ndarray, corrected: tuple | None
                   ) -> tuple[pd.DataFrame, np.ndarray]:
    """The PCA as ``pca.tsv`` holds it: the scores, and those of :func:`without_nuisance` beside them
    (``corrected_PC*``), with every component's share of variance."""
    if not corrected:
        return scores, explained
    return scores.join(corrected[0].add_prefix("corrected_")), np.concatenate([explained, corrected[1]])


def figure_columns(obs: pd.DataFrame, design_columns) -> list[str]:
    """Sheet columns the bulk QC figures colour samples by (a PCA panel each): the design's variables first --
    the first colours the metrics and correlation figures -- then the sheet's other columns that group samples:
    not one whose every value differs (count file paths, fastq names, library ids), nor one value for all."""
    first = [c for c in design_columns if c in obs.columns]
    others = [c for c in obs.columns if c != "sample" and c not in first
              and (len(obs) < 3 or 1 < obs[c].astype(str).nunique() < len(obs))]
    return first + others


def sample_warnings(samples: pd.DataFrame, purity: pd.DataFrame, opts: dict) -> list[str]:
    """Each sample's warning: an LSEC isolation whose marker signal is not LSEC-dominated, an outlier."""
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
    return warnings


def bulk_verdict(samples: pd.DataFrame, purity: pd.DataFrame, opts: dict) -> dict:
    """The run-level QC summary (``verdict.json``)."""
    return {
        "n_samples": int(len(samples)),
        "outliers": sorted(samples.index[samples["outlier"]]),
        "excluded": list(opts["exclude"]),
        "contamination_warnings": sorted(samples.index[samples["warning"].str.contains("contaminated")]),
        "dominant_signature": purity["dominant"].value_counts().to_dict(),
        "sample_type": opts["sample_type"],
    }


def mean_variance(expressed: pd.DataFrame, obs: pd.DataFrame, params: dict):
    """voom's mean-variance trend (:func:`lsecflow.voom.voom`, TMM library sizes) of the pre-filtered counts
    (samples x genes) under the dataset's design, every sample of the sheet."""
    spec = params["spec"]
    x = expressed.to_numpy(dtype=float).T
    meta = design_metadata(obs.loc[expressed.index], params["design_columns"], spec["contrasts"])
    return voom(x, np.asarray(design_matrix(meta, spec["design"])), effective_library_sizes(x))


def run_qc_bulk(counts_h5ad: str, params: dict, markers_path: str, outputs: dict[str, str],
                figures: dict[str, str]) -> dict:
    """Rule entry point: bulk QC tables and figures.

    ``outputs`` names the files: ``samples`` (metrics, outlier scores,
    purity, exclusion and warnings per sample), ``correlation``, ``pca``,
    ``purity``, ``verdict`` (JSON); ``figures`` the PNG of each figure kind
    (metrics, correlation, pca, purity, mean_variance; the other ``figures.formats`` beside it).
    """
    import anndata as ad

    spec = params["spec"]
    opts = spec["qc"]
    adata = ad.read_h5ad(counts_h5ad)
    counts = pd.DataFrame(np.asarray(adata.X), index=adata.obs_names.astype(str), columns=adata.var_names)
    symbols = adata.var["symbol"].astype(str)
    kept = ((counts >= spec["de"]["min_count"]).sum(axis=0) >= spec["de"]["min_samples"]).to_numpy()
    expressed = counts.loc[:, kept]
    lengths = np.asarray(adata.layers[TX_LENGTH_LAYER])[:, kept] if TX_LENGTH_LAYER in adata.layers else None
    vst = vst_blind(expressed, seed=params.get("seed", 0), lengths=lengths)
    corr, scores, explained, flags = sample_structure(vst, symbols, opts)
    corrected = without_nuisance(vst, adata.obs.set_index(adata.obs_names.astype(str)), params)
    purity = purity_panel(counts, symbols, load_markers(markers_path))
    samples = pd.concat([adata.obs.astype(str), bulk_metrics(counts, symbols), flags, purity], axis=1)
    samples["excluded"] = samples.index.isin(opts["exclude"])
    samples["warning"] = sample_warnings(samples, purity, opts)
    for s in opts["exclude"]:
        log.info("sample %s excluded from DE by qc.exclude", s)
    write_sample_tables(samples, corr, *with_corrected(scores, explained, corrected), outputs)
    write_tsv_atomic(purity.rename_axis("sample").reset_index(), outputs["purity"])
    verdict = bulk_verdict(samples, purity, opts)
    write_json_atomic(verdict, outputs["verdict"])
    design_cols = figure_columns(adata.obs, params.get("design_columns", []))
    plots.configure(spec.get("figures"))
    qc_plots.bulk_figures(samples, corr, scores, explained, purity, design_cols, figures, params["name"], corrected)
    trend = mean_variance(expressed, adata.obs, params)
    qc_plots.mean_variance_figure(trend, de_engine(spec), f"{params['name']} · voom mean-variance trend "
                                  f"({spec['design']}, {trend.E.shape[0]} genes)", figures["mean_variance"])
    log.info("QC verdict: %s", verdict)
    return verdict
