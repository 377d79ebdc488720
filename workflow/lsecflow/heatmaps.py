"""Expression heatmaps: the top DE genes of a contrast or a list of genes (a paper's panel, a gene set's
leading edge), row z-scores, samples grouped by the contrast's variable, rows clustered or as given."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import pdist

from .calls import is_significant
from .plots import NOT_CALLED, message_figure, plt


def cluster_order(z: np.ndarray) -> np.ndarray:
    """Row order of a z-scored genes x samples matrix: average-linkage clustering on correlation distance with
    optimal leaf ordering (scipy; pheatmap's and ComplexHeatmap's usual choice), so that genes that move
    together sit together (up and down blocks). Missing values count as the row mean (z = 0); rows that do
    not vary keep distance 1 to all. Fewer than three rows keep their order."""
    if len(z) < 3:
        return np.arange(len(z))
    filled = np.nan_to_num(z, nan=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.nan_to_num(pdist(filled, metric="correlation"), nan=1.0)
    tree = linkage(dist, method="average")
    return leaves_list(optimal_leaf_ordering(tree, dist))


def top_gene_heatmap(vst: pd.DataFrame, res: pd.DataFrame, groups: pd.Series, n_top: int = 40, title: str = "",
                     genes=(), width=None, height=None, cluster_rows: bool = True, alpha: float | None = None,
                     lfc_threshold: float = 0.0):
    """Row-scaled VST values of the top DE genes (by padj), samples ordered by group.

    Parameters
    ----------
    vst
        Genes x samples variance-stabilised matrix (index gene_id).
    res
        DE table (``gene_id``, ``symbol``, ``padj``, ``pvalue``).
    groups
        Group label per sample (the contrast's variable).
    n_top
        Rows when ``genes`` is empty: the ``n_top`` most significant genes.
    genes
        Exact symbols to show, in this order (a paper's panel); symbols that
        are not in the VST matrix are left out and named in the title.
    width, height
        Inches; None sizes the figure to the matrix.
    cluster_rows
        Order the top genes by clustering (:func:`cluster_order`) rather than by padj; ``genes`` keep their order.
    alpha, lfc_threshold
        ``de.alpha`` and ``de.lfc_threshold``: top genes not called by them (:func:`lsecflow.calls.is_significant`,
        as the DE summary counts; when fewer genes are called than shown) get grey names, and the title says how
        many are.
    """
    if len(genes):
        by_symbol = res.drop_duplicates("symbol").set_index("symbol")["gene_id"]
        found = [g for g in genes if g in by_symbol.index and by_symbol[g] in vst.index]
        missing = [g for g in genes if g not in found]
        if not found:
            return message_figure(f"None of the heatmap genes is in the matrix: {', '.join(missing)}", title)
        if missing:
            title = f"{title}\nnot in the matrix: {', '.join(missing)}" if title else \
                f"not in the matrix: {', '.join(missing)}"
        return expression_heatmap(vst, [by_symbol[g] for g in found], found, groups, title, width, height)
    tested = res[res["pvalue"].notna()]
    top = tested.nsmallest(n_top, ["padj", "pvalue"])
    called = is_significant(top, alpha, lfc_threshold) if alpha is not None else pd.Series(True, index=top.index)
    if not called.all():
        rule = f"padj < {alpha:g}" + (f", |log2FC| > {lfc_threshold:g}" if lfc_threshold else "")
        note = f"{len(top)} smallest padj, {int(called.sum())} called ({rule})\n(names of the others grey)"
        title = f"{title}\n{note}" if title else note
    fig = expression_heatmap(vst, top["gene_id"].tolist(), top["symbol"].tolist(), groups, title, width, height,
                             cluster_rows)
    uncalled = set(top.loc[~called, "symbol"])
    for tick in fig.axes[1].get_yticklabels():  # the heatmap's gene names, in the order drawn
        if tick.get_text() in uncalled:
            tick.set_color(NOT_CALLED)
    return fig


def expression_heatmap(vst: pd.DataFrame, gene_ids: list, labels: list, groups: pd.Series, title: str = "",
                       width=None, height=None, cluster_rows: bool = False):
    """Row-scaled (z-score) VST values of ``gene_ids``, samples grouped, group bar on top; with
    ``cluster_rows`` the rows in :func:`cluster_order`, else as given."""
    top = pd.DataFrame({"gene_id": gene_ids, "symbol": labels})
    order = groups.sort_values(kind="stable").index
    mat = vst.loc[top["gene_id"], order].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):  # a protein missing in a sample: an empty cell
        mat = (mat - np.nanmean(mat, axis=1, keepdims=True)) / np.maximum(np.nanstd(mat, axis=1, keepdims=True), 1e-12)
    if cluster_rows:
        rows = cluster_order(mat)
        mat, top = mat[rows], top.iloc[rows].reset_index(drop=True)
    height = height or max(3.5, 0.16 * len(top) + 2.0)
    width = width or max(5.0, 0.3 * len(order) + 3.0)
    fig = plt.figure(figsize=(width, height), layout="constrained")
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
        bar.text((cols[0] + cols[-1]) / 2, 0, level, ha="center", va="center", fontsize="small", color="white",
                 fontweight="bold")
    if title:
        fig.suptitle(title, fontsize="large")
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#9e9e9e")  # a missing value (proteomics): grey, not z = 0
    im = ax.imshow(mat, aspect="auto", cmap=cmap, vmin=-2.5, vmax=2.5, interpolation="nearest")
    ax.set_yticks(range(len(top)))
    ax.set_yticklabels(top["symbol"], fontsize="x-small")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, rotation=90, fontsize="x-small")
    fig.colorbar(im, cax=cax, label=f"row z-score ({vst.attrs.get('value', 'VST')})"
                 + ("; grey: not quantified" if np.isnan(mat).any() else ""))
    return fig
