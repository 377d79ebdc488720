"""QC of a proteomics dataset: missing values per sample and protein, intensity distributions before
and after normalisation, sample correlation and PCA (as for bulk), outlier flags, and the residual
variances against intensity and peptide count (the diagnostics for ``de.trend`` and ``de.deqms``).

The preprocessing is the DE step's (:func:`lsecflow.proteomics.preprocess`) on every sample of the
sheet (``qc.exclude`` is shown, not applied), so the figures show what the tests see.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import limma, plots
from .de_options import deqms_method
from .deqms import trend as count_trend
from .deqms import with_pseudo_count
from .errors import InputDataError
from .files import write_json_atomic, write_tsv_atomic
from .formula import design_metadata
from .plots import plt, save, stem_of
from .proteomics import ingest_report, observed_mask, preprocess_dataset
from .qc import outliers, pca, with_corrected, without_nuisance, write_sample_tables
from .qc_plots import correlation_figure, group_colours, group_legend, pca_figure

log = logging.getLogger(__name__)


#: The per-sample count of a peptide or precursor table (:func:`sample_metrics`).
UNIT_COUNTS = ("peptides_quantified", "precursors_quantified")


def sample_metrics(raw: pd.DataFrame, pre, opts: dict, ingest: dict | None = None) -> pd.DataFrame:
    """Per sample: proteins quantified (of the table), missing share among the kept proteins, median log2
    intensity before and after normalisation, values imputed; for a peptide or precursor table (``ingest``, the
    ingest job's report) first the peptides (precursors) it quantified, ``peptides_quantified``
    (``precursors_quantified``)."""
    seen = observed_mask(raw, opts)
    out = pd.DataFrame({
        "quantified": seen.sum(axis=0),
        "missing_fraction_kept": pre.before.isna().mean(axis=0),
        "median_log2_before": pre.before.median(axis=0),
        "median_log2_normalised": pre.values.mask(pre.imputed).median(axis=0),
        "imputed": pre.imputed.sum(axis=0),
    })
    if ingest and "quantified_per_sample" in ingest:
        per_sample = pd.Series(ingest["quantified_per_sample"]).reindex(out.index)
        out.insert(0, f"{ingest['unit']}_quantified", per_sample.to_numpy())
    return out


def protein_metrics(raw: pd.DataFrame, pre, var: pd.DataFrame, opts: dict) -> pd.DataFrame:
    """Per protein of the table: values observed, missing share, mean log2 intensity, kept by the filter."""
    seen = observed_mask(raw, opts)
    log2 = np.log2(raw.where(seen)) if opts.get("log2", True) else raw.where(seen)
    return pd.DataFrame({
        "gene_id": raw.index, "symbol": var.loc[raw.index, "symbol"].to_numpy(),
        "n_valid": seen.sum(axis=1).to_numpy(), "missing_fraction": 1 - seen.mean(axis=1).to_numpy(),
        "mean_log2": log2.mean(axis=1).to_numpy(), "kept": raw.index.isin(pre.values.index),
    })


def missing_figure(samples: pd.DataFrame, proteins: pd.DataFrame, group: pd.Series, title: str, png: str) -> None:
    """Left: proteins quantified per sample; right: share of samples missing per protein against its mean
    intensity (missing values concentrated at low intensity are left-censored, not random)."""
    colours, lut = group_colours(group.loc[samples.index])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(max(9, 0.3 * len(samples) + 6), 4.2),
                                 gridspec_kw={"width_ratios": [max(1.0, len(samples) / 12), 1]})
    ax.bar(range(len(samples)), samples["quantified"], color=colours)
    ax.set_xticks(range(len(samples)))
    ax.set_xticklabels(samples.index, rotation=90, fontsize="x-small")
    ax.set_ylabel("proteins quantified (bars)")
    units = [c for c in UNIT_COUNTS if c in samples]  # a peptide or precursor table's own count
    if units:
        tx = ax.twinx()
        tx.plot(range(len(samples)), samples[units[0]], "D", color="black", ms=4)
        tx.set_ylim(0, 1.05 * max(1, samples[units[0]].max()))
        tx.set_ylabel(f"{units[0].replace('_', ' ')} (diamonds)")
    ax.legend(handles=[plt.Line2D([], [], marker="s", ls="", color=c, label=lv) for lv, c in lut.items()],
              fontsize="small", frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(lut), 6))
    seen = proteins[proteins["n_valid"] > 0]
    bx.scatter(seen["mean_log2"], seen["missing_fraction"], s=6, alpha=0.5, linewidths=0,
               c=np.where(seen["kept"], "#2166ac", "#bdbdbd"), rasterized=True)
    bins = pd.qcut(seen["mean_log2"], q=min(10, max(1, len(seen) // 20)), duplicates="drop")
    binned = seen.groupby(bins, observed=True).agg(x=("mean_log2", "median"), y=("missing_fraction", "mean"))
    bx.plot(binned["x"], binned["y"], color="black", lw=1.5, label="mean per intensity decile")
    bx.set_xlabel("mean log2 intensity (where quantified)")
    bx.set_ylabel("share of samples missing")
    bx.legend(handles=[plt.Line2D([], [], marker="o", ls="", color="#2166ac", label="kept by the filter"),
                       plt.Line2D([], [], marker="o", ls="", color="#bdbdbd", label="removed"),
                       plt.Line2D([], [], color="black", label="mean per intensity decile")],
              fontsize="small", frameon=False)
    fig.suptitle(title, fontsize="large")
    fig.tight_layout()
    save(fig, stem_of(png))


def intensities_figure(pre, group: pd.Series, method: str, title: str, png: str) -> None:
    """Box plots of each sample's log2 intensities before and after normalisation (imputed values apart)."""
    order = list(pre.values.columns)
    colours, lut = group_colours(group.loc[order])
    fig, axes = plt.subplots(1, 2, figsize=(max(9, 0.45 * len(order) + 4), 4.2), sharey=True, layout="constrained")
    panels = [(pre.before, "before normalisation"),
              (pre.values.mask(pre.imputed), f"after normalisation ({method})")]
    for ax, (mat, label) in zip(axes, panels):
        data = [mat[c].dropna().to_numpy() for c in order]
        box = ax.boxplot(data, patch_artist=True, showfliers=False, widths=0.6,
                         medianprops={"color": "black", "linewidth": 1.2})
        for patch, colour in zip(box["boxes"], colours):
            patch.set_facecolor(colour)
            patch.set_alpha(0.8)
        ax.set_xticks(range(1, len(order) + 1))
        ax.set_xticklabels(order, rotation=90, fontsize="x-small")
        ax.set_title(label, fontsize="medium")
    if pre.imputed.to_numpy().any():
        imp = [pre.values[c][pre.imputed[c]].to_numpy() for c in order]
        axes[1].scatter(np.concatenate([np.full(len(v), i + 1.25) for i, v in enumerate(imp)]),
                        np.concatenate(imp), s=3, color="#b2182b", alpha=0.4, label="imputed", rasterized=True)
        axes[1].legend(fontsize="small", frameon=False)
    axes[0].set_ylabel("log2 intensity (proteins kept by the filter)")
    group_legend(fig, lut)
    fig.suptitle(title, fontsize="large")
    save(fig, stem_of(png))


#: Peptide counts drawn one box each in the variance figure (DEqMS's VarianceBoxplot draws up to 20).
MAX_COUNT_BOX = 20


def variance_fits(values: pd.DataFrame, obs: pd.DataFrame, spec: dict, design_cols: list[str],
                  count: pd.Series | None) -> pd.DataFrame:
    """Per protein, what the variance figure draws: the average log2 intensity, the residual variance of the
    design's least-squares fit (NaN without residual df), eBayes's prior variance without and with
    ``trend`` and, given peptide counts, the count and DEqMS's trend of the log variance over it."""
    meta = design_metadata(obs.loc[values.columns], design_cols, spec["contrasts"])
    design = limma.design_matrix(meta, spec["design"])
    flat = limma.fit(values, design)
    df = np.asarray(flat.df_residual, dtype=float)
    sigma2 = np.where(df > 0, np.asarray(flat.sigma, dtype=float) ** 2, np.nan)
    out = pd.DataFrame({"amean": np.asarray(flat.Amean, dtype=float), "sigma2": sigma2,
                        "prior": np.broadcast_to(np.asarray(flat.s2_prior, dtype=float), sigma2.shape),
                        "prior_trend": np.nan}, index=values.index)
    try:  # a trend needs more proteins than a small array may have: the figure then goes without it
        out["prior_trend"] = np.broadcast_to(np.asarray(limma.fit(values, design, trend=True).s2_prior, dtype=float),
                                             sigma2.shape)
    except Exception as exc:  # a trend that cannot be fitted (e.g. a single protein) leaves the line out
        log.warning("variance figure: no eBayes trend for %d proteins (%s: %s)", len(values), type(exc).__name__, exc)
    if count is not None:
        out["count"] = count.reindex(values.index).to_numpy(dtype=float)
        known = out["count"].notna().to_numpy()
        out["count_trend"] = np.nan
        try:
            out.loc[known, "count_trend"] = count_trend(with_pseudo_count(out["count"].to_numpy()[known]),
                                                        sigma2[known], deqms_method(spec["de"]) or "loess") / np.log(2)
        except InputDataError as exc:
            log.warning("variance figure: no DEqMS trend (%s)", exc)
    return out


def variance_figure(fits: pd.DataFrame, spec: dict, title: str, png: str) -> None:
    """Left: log2 residual variance against average intensity, with eBayes's prior (flat) and its trend
    (``de.trend``); right: by peptide count, one box per count, with DEqMS's trend (``de.deqms``)."""
    de = spec["de"]
    in_use = (f"DEqMS ({deqms_method(de)})" if deqms_method(de) else
              "eBayes, trend" if de["trend"] else "eBayes")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    ok = fits["sigma2"].notna() & (fits["sigma2"] > 0)
    y = np.log2(fits.loc[ok, "sigma2"])
    ax = axes[0]
    ax.scatter(fits.loc[ok, "amean"], y, s=4, color="#636363", alpha=0.4, rasterized=True, linewidths=0)
    order = fits.loc[ok, "amean"].sort_values().index
    if fits["prior_trend"].notna().any():
        ax.plot(fits.loc[order, "amean"], np.log2(fits.loc[order, "prior_trend"]), color="#b2182b", lw=1.5,
                label="eBayes prior, trend = TRUE")
    ax.axhline(np.log2(fits["prior"].iloc[0]), color="#2166ac", lw=1.5, ls="--", label="eBayes prior")
    ax.set_xlabel("average log2 intensity")
    ax.set_ylabel("log2 residual variance")
    ax.set_title("by intensity (de.trend)", fontsize="medium")
    ax.legend(fontsize="small", frameon=False)
    ax = axes[1]
    if "count" in fits:
        shown = ok & (fits["count"] <= MAX_COUNT_BOX) & fits["count"].notna()
        counts = sorted(fits.loc[shown, "count"].unique())
        ax.boxplot([np.log2(fits.loc[shown & (fits["count"] == c), "sigma2"]) for c in counts], positions=counts,
                   widths=0.6, showfliers=False, medianprops={"color": "black"})
        curve = fits.loc[shown].groupby("count")["count_trend"].median().dropna()
        if len(curve):
            ax.plot(curve.index, curve.to_numpy(), color="#b2182b", lw=1.5,
                    label=f"DEqMS trend ({deqms_method(de) or 'loess'})")
            ax.legend(fontsize="small", frameon=False)
        ax.set_xticks(counts)
        ax.set_xticklabels([f"{c:g}" for c in counts], fontsize="x-small")
        ax.set_xlabel(f"peptide count ({spec['proteomics']['count_column']})")
        beyond = int((ok & (fits["count"] > MAX_COUNT_BOX)).sum())
        note = f"; {beyond} proteins above {MAX_COUNT_BOX} not drawn" if beyond else ""
        ax.set_title(f"by peptide count (de.deqms){note}", fontsize="medium")
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "no peptide counts: set proteomics.count_column\n(and de.deqms) to see the variance "
                "by peptide count", ha="center", va="center", fontsize="small", transform=ax.transAxes)
    fig.suptitle(f"{title} (in use: {in_use})", fontsize="large")
    fig.tight_layout()
    save(fig, stem_of(png))


def proteomics_verdict(samples: pd.DataFrame, raw: pd.DataFrame, pre, n_complete: int, opts: dict) -> dict:
    """The run-level QC summary (``verdict.json``)."""
    return {
        "n_samples": int(len(samples)),
        "outliers": sorted(samples.index[samples["outlier"]]),
        "excluded": list(opts["exclude"]),
        "proteins_in_table": int(len(raw)),
        "proteins_kept": int(len(pre.values)),
        "proteins_in_pca": int(n_complete),
        "missing_fraction_kept": round(float(pre.before.isna().to_numpy().mean()), 4),
        "imputed_values": int(pre.imputed.to_numpy().sum()),
    }


def proteomics_figures(samples: pd.DataFrame, proteins: pd.DataFrame, pre, corr: pd.DataFrame, scores, explained,
                       design_cols: list[str], n_complete: int, spec: dict, name: str, figures: dict[str, str],
                       fits: pd.DataFrame, corrected: tuple | None = None) -> None:
    """The five QC figures (``figures``: the PNG of each kind; the other formats beside it); ``corrected``: the
    PCA without the design's nuisance terms (:func:`lsecflow.qc.without_nuisance`), a second row of panels."""
    group = samples[design_cols[0]] if design_cols else pd.Series("all", index=samples.index)
    plots.configure(spec.get("figures"))
    missing_figure(samples, proteins, group, f"{name} · quantified proteins and missing values", figures["missing"])
    intensities_figure(pre, group, spec["proteomics"]["normalize"], f"{name} · log2 intensities per sample",
                       figures["intensities"])
    colours, lut = group_colours(group)
    correlation_figure(corr, colours, f"{name} · sample correlation (log2 intensities), average-linkage clustering",
                       "Pearson r (log2 intensity)", figures["correlation"], lut, design_cols[0] if design_cols else None)
    pca_figure(samples, scores, explained, design_cols, f"{name} · PCA of the most variable proteins "
               f"({n_complete} without a missing value)", figures["pca"], corrected)
    variance_figure(fits, spec, f"{name} · residual variances of the design's fit, all samples", figures["variance"])


def run_qc_proteomics(counts_h5ad: str, params: dict, outputs: dict[str, str], figures: dict[str, str], *,
                      seed: int = 0) -> dict:
    """Rule entry point: proteomics QC tables and figures.

    ``outputs``: ``samples`` (metrics, outlier scores, exclusion, warnings), ``proteins`` (per protein of
    the table), ``preprocessing`` (each step with its protein and missing-value counts),
    ``correlation``, ``pca``, ``verdict`` (JSON). ``figures``: the PNG of each kind (missing,
    intensities, correlation, pca, variance).
    """
    import anndata as ad

    spec = params["spec"]
    opts, prot = spec["qc"], spec["proteomics"]
    adata = ad.read_h5ad(counts_h5ad)
    raw, obs, pre = preprocess_dataset(adata, spec, seed)
    proteins = protein_metrics(raw, pre, adata.var.set_index(adata.var_names.astype(str)), prot)
    corr = pre.values.corr(method="pearson")  # pairwise-complete
    complete = pre.values.dropna()
    scores, explained = pca(complete, ntop=opts["pca_top_genes"])
    corrected = without_nuisance(complete, obs, params)  # the same proteins less batch, mouse, ...
    flags = outliers(corr, scores, explained, opts["outlier_threshold"])
    samples = pd.concat([obs.astype(str), sample_metrics(raw, pre, prot, ingest_report(adata)), flags], axis=1)
    samples["excluded"] = samples.index.isin(opts["exclude"])
    samples["warning"] = ["outlier: " + r if o else "" for o, r in zip(samples["outlier"], samples["outlier_reason"])]
    write_sample_tables(samples, corr, *with_corrected(scores, explained, corrected), outputs)
    write_tsv_atomic(proteins, outputs["proteins"])
    write_tsv_atomic(pd.DataFrame(pre.steps), outputs["preprocessing"])
    verdict = proteomics_verdict(samples, raw, pre, len(complete), opts)
    write_json_atomic(verdict, outputs["verdict"])
    design_cols = list(params["design_columns"]) or [c for c in obs.columns if c != "sample"][:1]
    if spec["de"].get("block") and spec["de"]["block"] not in design_cols:  # a PCA panel by block too
        design_cols.append(spec["de"]["block"])
    var = adata.var.set_index(adata.var_names.astype(str))
    fits = variance_fits(pre.values, obs, spec, list(params["design_columns"]),
                         var["count"] if "count" in var else None)
    proteomics_figures(samples, proteins, pre, corr, scores, explained, design_cols, len(complete), spec,
                       params["name"], figures, fits, corrected)
    log.info("QC verdict: %s", verdict)
    return verdict
