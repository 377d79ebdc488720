"""DE figures: volcano, MA and top-gene heatmap (matplotlib, no display)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

UP, DOWN, NS, FOCUS = "#b2182b", "#2166ac", "#bdbdbd", "#1b7837"


def _significance(res: pd.DataFrame, alpha: float, lfc_threshold: float) -> pd.Series:
    sig = (res["padj"] < alpha) & (res["log2FoldChange"].abs() > lfc_threshold)
    return pd.Series(np.where(sig & (res["log2FoldChange"] > 0), "up",
                              np.where(sig & (res["log2FoldChange"] < 0), "down", "ns")), index=res.index)


def _labels(res: pd.DataFrame, n_top: int, genes_of_interest) -> pd.DataFrame:
    tested = res[res["pvalue"].notna()]
    top = tested.nsmallest(n_top, ["padj", "pvalue"]) if n_top else tested.iloc[:0]
    focus = tested[tested["symbol"].isin(list(genes_of_interest))]
    return pd.concat([top, focus]).drop_duplicates("gene_id")


def volcano(res: pd.DataFrame, alpha: float, lfc_threshold: float = 0.0, genes_of_interest=(), n_top: int = 10,
            title: str = "", figsize=(6, 5)):
    """Volcano plot: log2 fold change vs -log10 p-value, top genes labelled.

    Genes of interest are ringed in green and labelled even when not
    significant.
    """
    tested = res[res["pvalue"].notna()].copy()
    sig = _significance(tested, alpha, lfc_threshold)
    y = -np.log10(tested["pvalue"].clip(lower=1e-300))
    fig, ax = plt.subplots(figsize=figsize)
    for kind, colour in (("ns", NS), ("down", DOWN), ("up", UP)):
        m = sig == kind
        ax.scatter(tested.loc[m, "log2FoldChange"], y[m], s=6, c=colour, linewidths=0, rasterized=True,
                   label=f"{kind} ({int(m.sum())})")
    focus = tested["symbol"].isin(list(genes_of_interest))
    ax.scatter(tested.loc[focus, "log2FoldChange"], y[focus], s=40, facecolors="none", edgecolors=FOCUS,
               linewidths=1.2, label="genes of interest")
    for _, row in _labels(tested, n_top, genes_of_interest).iterrows():
        ax.annotate(row["symbol"], (row["log2FoldChange"], -np.log10(max(row["pvalue"], 1e-300))),
                    xytext=(3, 3), textcoords="offset points", fontsize=7)
    if lfc_threshold > 0:
        for x in (-lfc_threshold, lfc_threshold):
            ax.axvline(x, color="#888888", lw=0.6, ls="--")
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 p-value")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def ma_plot(res: pd.DataFrame, alpha: float, lfc_threshold: float = 0.0, genes_of_interest=(), title: str = "",
            figsize=(6, 4.5)):
    """MA plot: mean of normalised counts vs log2 fold change."""
    tested = res[res["pvalue"].notna()]
    sig = _significance(tested, alpha, lfc_threshold)
    fig, ax = plt.subplots(figsize=figsize)
    for kind, colour in (("ns", NS), ("down", DOWN), ("up", UP)):
        m = sig == kind
        ax.scatter(tested.loc[m, "baseMean"], tested.loc[m, "log2FoldChange"], s=5, c=colour, linewidths=0,
                   rasterized=True, label=f"{kind} ({int(m.sum())})")
    for _, row in tested[tested["symbol"].isin(list(genes_of_interest))].iterrows():
        ax.annotate(row["symbol"], (row["baseMean"], row["log2FoldChange"]), xytext=(3, 3),
                    textcoords="offset points", fontsize=7, color=FOCUS)
    ax.set_xscale("log")
    ax.axhline(0, color="#444444", lw=0.6)
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel("log2 fold change")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def top_gene_heatmap(vst: pd.DataFrame, res: pd.DataFrame, groups: pd.Series, n_top: int = 40, title: str = ""):
    """Row-scaled VST values of the top DE genes (by padj), samples ordered by group.

    Parameters
    ----------
    vst
        Genes x samples variance-stabilised matrix (index gene_id).
    res
        DE table (``gene_id``, ``symbol``, ``padj``, ``pvalue``).
    groups
        Group label per sample (the contrast's variable).
    """
    tested = res[res["pvalue"].notna()]
    top = tested.nsmallest(n_top, ["padj", "pvalue"])
    return expression_heatmap(vst, top["gene_id"].tolist(), top["symbol"].tolist(), groups, title)


def expression_heatmap(vst: pd.DataFrame, gene_ids: list, labels: list, groups: pd.Series, title: str = ""):
    """Row-scaled (z-score) VST values of ``gene_ids``, samples grouped, group bar on top."""
    top = pd.DataFrame({"gene_id": gene_ids, "symbol": labels})
    order = groups.sort_values(kind="stable").index
    mat = vst.loc[top["gene_id"], order].to_numpy(dtype=float)
    mat = (mat - mat.mean(axis=1, keepdims=True)) / np.maximum(mat.std(axis=1, keepdims=True), 1e-12)
    height = max(3.5, 0.16 * len(top) + 2.0)
    fig = plt.figure(figsize=(max(5.0, 0.3 * len(order) + 3.0), height), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[0.5, max(len(top), 1)], width_ratios=[1, 0.035])
    bar = fig.add_subplot(grid[0, 0])
    ax = fig.add_subplot(grid[1, 0], sharex=bar)
    cax = fig.add_subplot(grid[1, 1])
    levels = list(dict.fromkeys(groups[order]))
    cmap = plt.get_cmap("tab10")
    bar.imshow([[levels.index(g) for g in groups[order]]], aspect="auto", cmap=cmap, vmin=0, vmax=9,
               interpolation="nearest")
    bar.set_yticks([])
    bar.tick_params(axis="x", labelbottom=False, bottom=False)
    labels = list(groups[order])
    for level in levels:  # name each group on its segment of the bar
        cols = [i for i, g in enumerate(labels) if g == level]
        bar.text((cols[0] + cols[-1]) / 2, 0, level, ha="center", va="center", fontsize=7, color="white",
                 fontweight="bold")
    if title:
        fig.suptitle(title, fontsize=10)
    im = ax.imshow(mat, aspect="auto", cmap="RdBu_r", vmin=-2.5, vmax=2.5, interpolation="nearest")
    ax.set_yticks(range(len(top)))
    ax.set_yticklabels(top["symbol"], fontsize=6)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, rotation=90, fontsize=6)
    fig.colorbar(im, cax=cax, label="row z-score (VST)")
    return fig


def running_score(ranking: pd.Series, genes) -> np.ndarray:
    """Classical GSEA running enrichment score (weight 1) along ``ranking``."""
    hit = ranking.index.isin(list(genes))
    w = np.abs(ranking.to_numpy()) * hit
    n_miss = (~hit).sum()
    up = np.cumsum(w) / max(w.sum(), 1e-300)
    down = np.cumsum(~hit) / max(n_miss, 1)
    return up - down


def gsea_dotplot(gsea: pd.DataFrame, n: int = 10, title: str = ""):
    """Top ``n`` sets with positive and ``n`` with negative NES (by padj): NES, size, -log10 padj."""
    pos = gsea[gsea["NES"] > 0].nsmallest(n, ["padj", "pval"])
    neg = gsea[gsea["NES"] < 0].nsmallest(n, ["padj", "pval"])
    top = pd.concat([pos, neg]).sort_values("NES")
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.3 * len(top) + 1.5)))
    if len(top):
        sc = ax.scatter(top["NES"], range(len(top)), s=20 + 180 * top["size"] / top["size"].max(),
                        c=-np.log10(top["padj"].clip(lower=1e-300)), cmap="viridis", edgecolors="black",
                        linewidths=0.4)
        fig.colorbar(sc, ax=ax, fraction=0.04, label="-log10 padj")
        ax.set_yticks(range(len(top)))
        ax.set_yticklabels([s if len(s) <= 55 else s[:52] + "..." for s in top["set"]], fontsize=7)
    ax.axvline(0, color="#444444", lw=0.6)
    ax.set_xlabel("normalised enrichment score (NES)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def running_score_panels(ranking: pd.Series, sets: dict, gsea: pd.DataFrame, n: int = 4, title: str = ""):
    """Running-score curves of the ``n`` top sets (by padj) with their gene positions."""
    top = gsea.nsmallest(n, ["padj", "pval"])
    fig, axes = plt.subplots(len(top) or 1, 1, figsize=(7, 1.9 * max(len(top), 1) + 0.6), squeeze=False)
    x = np.arange(len(ranking))
    for ax, row in zip(axes[:, 0], top.itertuples()):
        curve = running_score(ranking, sets[row.set])
        ax.plot(x, curve, color=UP if row.NES > 0 else DOWN, lw=1.2)
        ax.axhline(0, color="#888888", lw=0.5)
        hits = np.flatnonzero(ranking.index.isin(sets[row.set]))
        ax.vlines(hits, curve.min() - 0.08, curve.min() - 0.02, color="black", lw=0.3)
        ax.set_title(f"{row.set[:70]}  NES {row.NES:.2f}, padj {row.padj:.2g}", fontsize=7)
        ax.set_ylabel("running ES", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[-1, 0].set_xlabel("genes ranked by Wald statistic (up in target -> down)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def message_figure(message: str, title: str = "", figsize=(6, 2.5)):
    """A figure that says why there is nothing to plot (an empty table, no set tested)."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=9, wrap=True)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return fig


def save(fig, stem: str | Path) -> list[Path]:
    """Save a figure as PNG (200 dpi) and SVG beside each other; close it."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext, kwargs in ((".png", {"dpi": 200}), (".svg", {"metadata": {"Date": None}})):
        path = stem.with_name(stem.name + ext)
        fig.savefig(path, **kwargs)
        paths.append(path)
    plt.close(fig)
    return paths
