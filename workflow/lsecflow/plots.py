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
    """Row-scaled VST values of the top DE genes, samples ordered by group.

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
