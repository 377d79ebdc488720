"""QC figures (bulk and single-cell); each saved as PNG and SVG."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .de_options import de_engine
from .deseq2_local import residual_note
from .plots import cell_points, configure, message_figure, plt, save, stem_of

PALETTE = plt.get_cmap("tab10")


def group_colours(values: pd.Series) -> tuple[list, dict]:
    levels = list(dict.fromkeys(sorted(values.astype(str))))
    cmap = plt.get_cmap("tab20" if len(levels) > 10 else "tab10")
    lut = {lv: cmap(i % cmap.N) for i, lv in enumerate(levels)}
    return [lut[v] for v in values.astype(str)], lut


def group_legend(fig, lut: dict, title: str | None = None) -> None:
    """The groups' colours (``lut``: level -> colour, :func:`group_colours`) as a legend below a constrained-layout
    figure's panels (never over the title or the data)."""
    fig.legend(handles=[plt.Line2D([], [], marker="s", ls="", color=c, label=lv) for lv, c in lut.items()],
               loc="outside lower center", ncol=min(len(lut), 6), fontsize="small", frameon=False, title=title,
               title_fontsize="small")


def metrics_figure(samples: pd.DataFrame, colours, lut: dict, group_name: str | None, name: str):
    """Library size, detected genes, mitochondrial and ribosomal fractions per sample, bars coloured by group
    (``colours``, ``lut``: :func:`group_colours`); a fraction not measured (empty: no gene of its kind) says so."""
    fig, axes = plt.subplots(2, 2, figsize=(max(6, 0.35 * len(samples) + 2), 6), sharex=True, layout="constrained")
    for ax, (col, label) in zip(axes.ravel(), [("library_size", "library size (reads)"),
                                               ("detected_genes", "detected genes"),
                                               ("mito_fraction", "mitochondrial fraction"),
                                               ("ribo_fraction", "ribosomal fraction")]):
        if samples[col].isna().all():  # no gene of the kind in the matrix: not measured, not 0
            ax.text(0.5, 0.5, f"not measured:\nno {label.split()[0]} genes in the matrix", ha="center",
                    va="center", transform=ax.transAxes, fontsize="small", color="#636363")
            ax.set_yticks([])
        else:
            ax.bar(range(len(samples)), samples[col], color=colours)
        ax.set_ylabel(label, fontsize="medium")
        ax.tick_params(labelsize="small")
    for ax in axes[1]:
        ax.set_xticks(range(len(samples)))
        ax.set_xticklabels(samples.index, rotation=90, fontsize="x-small")
    group_legend(fig, lut, group_name)
    fig.suptitle(f"{name} · sample metrics", fontsize="large")  # legend below the panels: never over the title
    return fig


def bulk_figures(samples: pd.DataFrame, corr: pd.DataFrame, scores: pd.DataFrame, explained: np.ndarray,
                 purity: pd.DataFrame, design_cols: list[str], files: dict[str, str], name: str,
                 corrected: tuple | None = None) -> None:
    """metrics, correlation (clustered), pca (one panel per sheet column; ``corrected``: see
    :func:`pca_figure`), purity (``files``: ``{kind: PNG path}``; the other formats beside it)."""
    group_name = design_cols[0] if design_cols else None
    colours, lut = group_colours(samples[group_name] if group_name else pd.Series("all", index=samples.index))
    save(metrics_figure(samples, colours, lut, group_name, name), stem_of(files["metrics"]))
    correlation_figure(corr, colours, f"{name} · sample correlation, average-linkage clustering", "Pearson r (VST)",
                       files["correlation"], lut, group_name)
    pca_figure(samples, scores, explained, design_cols, f"{name} · PCA of the most variable genes (VST)",
               files["pca"], corrected)
    save(purity_figure(purity, samples["warning"], name), stem_of(files["purity"]))


def purity_figure(purity: pd.DataFrame, warning: pd.Series, name: str):
    """The LSEC identity and purity panel: marker shares per sample (left bars) and signature scores (right
    heatmap), sample by sample on the same rows; ``warning`` (by sample) marks a sample's name with ⚠. A cell
    type none of whose markers is among the genes (``n_markers_<type>`` 0) has a heatmap column that says so,
    each column names how many markers were found, and the bars say among how many cell types the shares were
    taken."""
    share_cols = [c for c in purity.columns if c.startswith("share_")]
    score_cols = [c for c in purity.columns if c.startswith("score_")]
    types = [c.removeprefix("score_") for c in score_cols]
    found = {t: int(purity[f"n_markers_{t}"].max()) if f"n_markers_{t}" in purity else None for t in types}
    absent = [t for t, n in found.items() if n == 0]
    fig, (ax, hax) = plt.subplots(1, 2, figsize=(11, max(3.5, 0.25 * len(purity) + 2)),
                                  gridspec_kw={"width_ratios": [1.3, 1]})
    left = np.zeros(len(purity))
    for i, col in enumerate(share_cols):
        ax.barh(range(len(purity)), purity[col].fillna(0), left=left, color=PALETTE(i),
                label=col.removeprefix("share_"))
        left += purity[col].fillna(0).to_numpy()
    ax.set_yticks(range(len(purity)))
    labels = [f"{s}  ⚠" if warning.get(s, False) else s for s in purity.index]
    ax.set_yticklabels(labels, fontsize="small")
    ax.set_ylim(len(purity) - 0.5, -0.5)  # the heatmap's rows: sample i at the same height in both panels
    ax.set_xlim(0, 1)
    among = f"\nshares among the {len(types) - len(absent)} of {len(types)} cell types with markers in the data" \
        if absent else ""
    ax.set_xlabel(f"share of marker-panel signal (sum of marker CPM){among}", fontsize="medium")
    ax.legend(fontsize="small", frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    scores = purity[score_cols].to_numpy(dtype=float)
    im = hax.imshow(scores, aspect="auto", cmap="magma")
    for j, t in enumerate(types):
        if t in absent:
            hax.text(j, (len(purity) - 1) / 2, "no marker\nin the data", rotation=90, ha="center", va="center",
                     fontsize="x-small", color="#636363")
    hax.set_xticks(range(len(score_cols)))
    hax.set_xticklabels([t if found[t] is None else f"{t} ({found[t]})" for t in types], rotation=35, ha="right",
                        fontsize="small")
    hax.set_yticks([])
    hax.set_xlabel("cell type (markers found among the genes)" if any(n is not None for n in found.values()) else "",
                   fontsize="small")
    fig.colorbar(im, ax=hax, fraction=0.05, label="signature score:\nmean log2(CPM + 1) of its markers")
    fig.suptitle(f"{name} · LSEC identity and purity panel", fontsize="large")
    fig.tight_layout()
    return fig


def mean_variance_figure(v, engine: str, title: str, png: str) -> None:
    """voom's mean-variance plot (``voom(plot = TRUE)``): each gene's square-root residual standard deviation
    of log2 CPM under the design against its mean log2 count, with voom's lowess trend (``v``: a
    :class:`lsecflow.voom.Voom`); the subtitle says what the DE engine (``engine``) makes of it."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter(v.sx, v.sy, s=3, color="#636363", alpha=0.35, rasterized=True, linewidths=0)
    ax.plot(v.line[0], v.line[1], color="#b2182b", lw=1.6, label="voom's lowess trend")
    ax.set_xlabel("log2( count size + 0.5 )")
    ax.set_ylabel("sqrt( standard deviation )")
    use = ("de.engine voom: each count is weighted by this trend at its fitted value" if engine == "voom" else
           f"de.engine {engine}: a diagnostic (voom would weight counts by this trend)")
    ax.set_title(f"{title}\n{use}", fontsize="medium")
    ax.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    save(fig, stem_of(png))


def dispersion_figure(table: pd.DataFrame, title: str, png: str) -> None:
    """DESeq2's ``plotDispEsts`` from a fit's dispersion table (:func:`lsecflow.deseq2_local.dispersion_table`):
    each gene's dispersion against its mean normalised count (log-log) -- the gene-wise estimate (black), the
    fit's trend (red), the final estimate (blue; DESeq2's dispersion outliers, kept at their gene-wise value,
    circled) -- and the other trend (parametric or local, fitted to the same genes) dashed, for comparison."""
    if table.empty:
        save(message_figure("no contrast testable: no model fitted", title), stem_of(png))
        return
    mean = table["baseMean"].to_numpy(dtype=float)
    gene = table["dispGeneEst"].to_numpy(dtype=float)
    positive = gene[gene > 0]
    # as plotDispEsts: gene-wise estimates below ymin are drawn at ymin, as triangles
    floor = 10 ** np.floor(np.log10(positive.min()) - 0.1) if positive.size else 1e-8
    low = gene < floor
    outlier = table["dispOutlier"].astype(bool).to_numpy()
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    ax.scatter(mean[~low], gene[~low], s=3, color="black", alpha=0.45, linewidths=0, rasterized=True,
               label="gene-wise estimate")
    if low.any():
        ax.scatter(mean[low], np.full(int(low.sum()), floor), s=8, marker="v", color="black", alpha=0.45,
                   linewidths=0, rasterized=True, label=f"gene-wise below the axis ({int(low.sum())})")
    final = table["dispersion"].to_numpy(dtype=float)
    ax.scatter(mean[~outlier], final[~outlier], s=3, color="#2166ac", alpha=0.45, linewidths=0, rasterized=True,
               label="final (shrunk towards the trend)")
    if outlier.any():
        ax.scatter(mean[outlier], final[outlier], s=16, facecolors="none", edgecolors="#2166ac", linewidths=0.8,
                   label=f"dispersion outlier, not shrunk ({int(outlier.sum())})")
    order = np.argsort(mean)
    own = str(table["fit_type"].iloc[0])
    ax.plot(mean[order], table["dispFit"].to_numpy(dtype=float)[order], color="#d6604d", lw=1.8,
            label=f"fitted trend ({own})")
    for other in ("parametric", "local"):
        values = table[f"trend_{other}"].to_numpy(dtype=float)[order]
        if other != own and np.isfinite(values).all():
            ax.plot(mean[order], values, color="#d6604d", lw=1.2, ls="--", label=f"{other} trend, for comparison")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean of normalized counts")
    ax.set_ylabel("dispersion")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="x-small", frameon=False, markerscale=2)
    fig.tight_layout()
    save(fig, stem_of(png))


def ql_dispersion_figure(table: pd.DataFrame, title: str, png: str) -> None:
    """edgeR's ``plotBCV`` and ``plotQLDisp`` side by side from a fit's dispersion table
    (:data:`lsecflow.de_edger.DISPERSION_COLUMNS`): the trended and common BCV against the average log2 CPM; each
    gene's raw and squeezed quarter-root QL dispersion with the abundance trend."""
    if table.empty:
        save(message_figure("no contrast testable: no model fitted", title), stem_of(png))
        return
    x = table["logCPM"].to_numpy(dtype=float)
    order = np.argsort(x)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    left.plot(x[order], np.sqrt(table["trended"].to_numpy(dtype=float))[order], color="#d6604d", lw=1.8,
              label="trended BCV (the fit's)")
    common = float(table["common"].iloc[0])
    left.axhline(np.sqrt(common), color="#4d4d4d", lw=1.2, ls="--", label=f"common BCV {np.sqrt(common):.3f}")
    left.set_xlabel("average log2 CPM")
    left.set_ylabel("biological coefficient of variation")
    left.set_title("negative binomial dispersion (plotBCV)", fontsize="medium")
    left.legend(fontsize="small", frameon=False)
    raw = table["s2"].to_numpy(dtype=float) ** 0.25
    post = table["s2_post"].to_numpy(dtype=float) ** 0.25
    right.scatter(x, raw, s=3, color="black", alpha=0.4, linewidths=0, rasterized=True, label="raw (deviance / df)")
    right.scatter(x, post, s=3, color="#d6604d", alpha=0.4, linewidths=0, rasterized=True, label="squeezed")
    right.plot(x[order], table["s2_prior"].to_numpy(dtype=float)[order] ** 0.25, color="#2166ac", lw=1.8,
               label="abundance trend (prior)")
    df = table["df_prior"].to_numpy(dtype=float)
    prior = f"{df[0]:.3g}" if np.ptp(df) == 0 else f"{np.median(df):.3g} (median; robust)"
    right.set_xlabel("average log2 CPM")
    right.set_ylabel("quarter-root mean deviance")
    right.set_title(f"quasi-likelihood dispersion (plotQLDisp), prior df {prior}", fontsize="medium")
    right.legend(fontsize="small", frameon=False, markerscale=3)
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    save(fig, stem_of(png))


def run_dispersion_plot(tables: list[str], params: dict, pngs: list[str], cell_types: list[str | None]) -> None:
    """Rule entry point (``dispersion_plot_<dataset>``): :func:`dispersion_figure` of each DESeq2 fit of a dataset
    (:func:`ql_dispersion_figure` of each edgeR fit) (``tables[i]`` to ``pngs[i]``; one fit, or one per cell type,
    ``cell_types[i]``), titled with the dataset, the cell type and the design, and for DESeq2 each trend's median
    |log residual| (:func:`lsecflow.deseq2_local.residual_note`) on a second line."""
    spec = params["spec"]
    configure(spec["figures"])
    for table, png, cell_type in zip(tables, pngs, cell_types, strict=True):
        df = pd.read_csv(table, sep="\t")
        where = params["name"] if cell_type is None else f"{params['name']} · {params['cell_types'][cell_type]}"
        title = f"{where} · dispersions of {spec['design']}"
        if de_engine(spec) == "edger":
            ql_dispersion_figure(df, title + ("" if df.empty else f" ({len(df)} genes)"), png)
            continue
        if not df.empty:
            title += f" ({len(df)} genes)\n{residual_note(df)}"
        dispersion_figure(df, title, png)


def correlation_figure(corr: pd.DataFrame, colours: list, title: str, label: str, png: str,
                       lut: dict | None = None, group: str | None = None) -> None:
    """Save :func:`correlation_heatmap` at ``png`` (and the other formats)."""
    save(correlation_heatmap(corr, colours, title, label, lut, group), stem_of(png))


def correlation_heatmap(corr: pd.DataFrame, colours: list, title: str, label: str, lut: dict | None = None,
                        group: str | None = None):
    """Sample x sample correlation heatmap, average-linkage clustered: the dendrogram's leaves and the colour
    bar of the samples' groups (``colours`` per sample; ``lut`` level -> colour for the legend, titled ``group``)
    sit over their columns."""
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform

    dist = np.clip(1 - corr.to_numpy(), 0, None)
    np.fill_diagonal(dist, 0)
    Z = linkage(squareform(dist, checks=False), method="average")
    n = len(corr)
    fig = plt.figure(figsize=(7, 7.5), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[1.2, 0.25, 6], width_ratios=[1, 0.04])
    dax = fig.add_subplot(grid[0, 0])
    order = dendrogram(Z, ax=dax, no_labels=True, color_threshold=0, above_threshold_color="#555555")["leaves"]
    dax.set_xlim(0, 10 * n)  # scipy draws leaf i at x = 10 i + 5: leaf i over column i below
    dax.axis("off")
    bax = fig.add_subplot(grid[1, 0])
    bax.imshow([list(range(n))], aspect="auto", cmap=plt.matplotlib.colors.ListedColormap([colours[i] for i in order]))
    bax.axis("off")
    ax = fig.add_subplot(grid[2, 0])
    ordered = corr.iloc[order, order]
    im = ax.imshow(ordered.to_numpy(), cmap="viridis", interpolation="nearest", aspect="auto")
    ax.set_xticks(range(n))
    ax.set_xticklabels(ordered.columns, rotation=90, fontsize="x-small")
    ax.set_yticks(range(n))
    ax.set_yticklabels(ordered.index, fontsize="x-small")
    fig.colorbar(im, cax=fig.add_subplot(grid[2, 1]), label=label)
    if lut:
        group_legend(fig, lut, group)
    fig.suptitle(title, fontsize="large")
    return fig


def pca_figure(samples: pd.DataFrame, scores: pd.DataFrame, explained: np.ndarray, design_cols: list[str],
               title: str, png: str, corrected: tuple | None = None) -> None:
    """PC1 x PC2, one panel per sample-sheet column; outliers ringed, outliers and excluded samples named;
    ``corrected``: ``(scores, explained, what was removed)``, a second row of the same panels."""
    cols = design_cols or ["all"]
    rows = [(scores, explained, "")] + ([corrected] if corrected else [])
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(4.2 * len(cols), 4 * len(rows)), squeeze=False)
    for ax, (col, (pcs, share, removed)) in zip(axes.ravel(), [(c, r) for r in rows for c in cols]):
        values = samples[col] if col in samples else pd.Series("all", index=samples.index)
        c, lut_c = group_colours(values)
        ax.scatter(pcs["PC1"], pcs["PC2"], c=c, s=40, edgecolors="white", linewidths=0.5)
        out_mask = samples["outlier"].to_numpy(dtype=bool)
        ax.scatter(pcs["PC1"][out_mask], pcs["PC2"][out_mask], s=140, facecolors="none", edgecolors="red",
                   linewidths=1.5, label="outlier")
        for s in samples.index[out_mask | samples["excluded"].to_numpy(dtype=bool)]:
            ax.annotate(s, (pcs.at[s, "PC1"], pcs.at[s, "PC2"]), fontsize="small", xytext=(4, 4),
                        textcoords="offset points")
        ax.set_xlabel(f"PC1 ({share[0]:.0%} of variance)")
        ax.set_ylabel(f"PC2 ({share[1]:.0%} of variance)" if len(share) > 1 else "PC2")
        ax.set_title(f"{col} · without {removed}" if removed else col, fontsize="medium")
        ax.legend(handles=[plt.Line2D([], [], marker="o", ls="", color=v, label=k) for k, v in lut_c.items()],
                  fontsize="small", frameon=False)
    fig.suptitle(title, fontsize="large")
    fig.tight_layout()
    save(fig, stem_of(png))


def sc_figures(cells: pd.DataFrame, calls: pd.DataFrame, signatures: list[str], thresholds: dict,
               files: dict[str, str], name: str) -> None:
    """cell_qc (distributions and thresholds), umap (4 panels), purity (clusters x signatures)
    (``files``: ``{kind: PNG path}``; the other formats beside it)."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, (col, thr, log) in zip(axes, [("total_counts", thresholds["min_counts"], True),
                                          ("n_genes", thresholds["min_genes"], True),
                                          ("mito_fraction", thresholds["max_mito_fraction"], False)]):
        values = np.log10(cells[col].clip(lower=1)) if log else cells[col]
        ax.set_xlabel(f"log10 {col}" if log else col)
        if values.isna().all():  # mito_fraction of a matrix without mitochondrial genes
            ax.text(0.5, 0.5, "not measured: no mitochondrial genes\n(symbols mt- / MT-) in the matrix",
                    ha="center", va="center", transform=ax.transAxes, fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ax.hist(values.dropna(), bins=40, color="#777777")
        if thr is not None and np.isfinite(thr):
            ax.axvline(np.log10(max(thr, 1)) if log else thr, color="red", lw=1, label="threshold")
            ax.legend(fontsize="small", frameon=False)
    fig.suptitle(f"{name} · per-cell QC ({int(cells['qc_pass'].sum())} of {len(cells)} cells pass)", fontsize="large")
    fig.tight_layout()
    save(fig, stem_of(files["cell_qc"]))
    panels = [("leiden", "Leiden cluster"), ("cluster_call", "marker call of cluster")]
    if "cell_type_label" in cells:
        panels.append(("cell_type_label", "annotated cell type"))
    panels.append(("doublet_score", "scrublet doublet score"))
    fig, axes = plt.subplots(2, 2, figsize=(10, 9))
    # dots shrink as cells grow (an atlas is a density, not dots); drawn as an image in SVG / PDF, so a
    # million cells do not become a million vector paths
    dot = dict(s=float(np.clip(30_000 / max(len(cells), 1), 0.2, 6)), rasterized=True, linewidths=0)
    for ax, (col, title) in zip(axes.ravel(), panels):
        if cells[col].dtype.kind in "fi" and col != "leiden" and cells[col].isna().all():
            ax.text(0.5, 0.5, "not computed (qc.doublets: none)", ha="center", va="center", transform=ax.transAxes)
        elif cells[col].dtype.kind in "fi" and col != "leiden":
            sc_ = cell_points(ax, cells["UMAP1"], cells["UMAP2"], cells[col], "viridis", **dot)
            plt.colorbar(sc_, ax=ax, fraction=0.04)
        else:
            c, lut = group_colours(cells[col])
            cell_points(ax, cells["UMAP1"], cells["UMAP2"], c, **dot)
            if len(lut) <= 20:
                ax.legend(handles=[plt.Line2D([], [], marker="o", ls="", color=v, label=k) for k, v in lut.items()],
                          fontsize="x-small", frameon=False, loc="best", markerscale=0.8)
            else:  # too many for a legend: each level's name at its median position
                centres = cells.groupby(cells[col].astype(str), observed=True)[["UMAP1", "UMAP2"]].median()
                for level, (x, y) in centres.iterrows():
                    ax.text(x, y, level, fontsize=4, ha="center", va="center")
        ax.set_title(title, fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{name} · UMAP", fontsize="large")
    fig.tight_layout()
    save(fig, stem_of(files["umap"]))
    save(cluster_signature_heatmap(calls, signatures, name), stem_of(files["purity"]))


#: Clusters drawn one labelled row each; above this the rows are grouped by call (an atlas has hundreds)
LABELLED_CLUSTERS = 60


def cluster_signature_heatmap(calls: pd.DataFrame, signatures: list[str], name: str,
                              max_labelled: int = LABELLED_CLUSTERS):
    """Mean signature score per Leiden cluster (rows) and signature (columns).

    Up to ``max_labelled`` clusters, one labelled row each ("cluster 3 (n=120) → LSEC"), in cluster order.
    Above that, a row a cluster makes the figure metres tall and its labels unreadable (473 clusters of
    100,000 bootstrapped cells: 167 inches, 1700 x 33,470 pixels, 13.7 s to save as PNG, SVG and PDF,
    against 0.5 s now): the rows are then grouped by call (in ``signatures`` order), largest cluster first
    within a call, the figure is 12 inches tall, and each group is labelled once with its clusters and
    cells. ``clusters.tsv`` holds every cluster's values either way.
    """
    n = len(calls)
    grouped = n > max_labelled
    if grouped:
        rank = {s: i for i, s in enumerate(signatures)}
        calls = calls.iloc[np.lexsort((-calls["n_cells"].to_numpy(),
                                       calls["call"].map(rank).fillna(len(rank)).to_numpy()))]
    M = calls[[f"mean_score_{s}" for s in signatures]].to_numpy()
    fig, ax = plt.subplots(figsize=(1.1 * len(signatures) + 3, 12 if grouped else 0.35 * n + 1.8))
    im = ax.imshow(M, cmap="magma", aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(signatures)))
    ax.set_xticklabels(signatures, rotation=30, ha="right", fontsize="medium")
    if grouped:
        call = calls["call"].to_numpy()
        starts = np.flatnonzero(np.r_[True, call[1:] != call[:-1]])
        ends = np.r_[starts[1:], n]
        ax.set_yticks((starts + ends - 1) / 2)
        ax.set_yticklabels([f"{call[a]}: {b - a} clusters, {int(calls['n_cells'].iloc[a:b].sum()):,} cells"
                            for a, b in zip(starts, ends)], fontsize="small")
        for a in starts[1:]:
            ax.axhline(a - 0.5, color="white", lw=1)
        title = f"{name} · marker signatures per cluster\n{n} clusters, grouped by call (each one in clusters.tsv)"
    else:
        ax.set_yticks(range(n))
        ax.set_yticklabels([f"cluster {c} (n={k}) → {call}" for c, k, call in
                            zip(calls.index, calls["n_cells"], calls["call"])], fontsize="small")
        title = f"{name} · marker signatures per cluster"
    plt.colorbar(im, ax=ax, fraction=0.04, label="mean signature score")
    ax.set_title(title, fontsize="large")
    fig.tight_layout()
    return fig
