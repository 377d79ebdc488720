"""lsecflow.heatmaps: the top genes' rows are ordered so that genes moving together sit together, and a
paper's list of genes keeps its order."""
from __future__ import annotations

import numpy as np
import pandas as pd
from lsecflow import heatmaps
from lsecflow.plots import plt


def planted(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """SYNTHETIC VST matrix: 12 samples in two groups; 15 genes up in B, 15 down in B, 10 flat; the DE table
    ranks them interleaved (up, down, flat, ...), as padj order mixes directions."""
    rng = np.random.default_rng(seed)
    groups = pd.Series(["A"] * 6 + ["B"] * 6, index=[f"s{i}" for i in range(12)])
    effect = np.r_[np.zeros(6), np.ones(6)]
    kinds = ["up"] * 15 + ["down"] * 15 + ["flat"] * 10
    rows = [8 + {"up": 2, "down": -2, "flat": 0}[k] * effect + rng.normal(0, 0.4, 12) for k in kinds]
    ids = [f"{k}{i}" for i, k in enumerate(kinds)]
    vst = pd.DataFrame(rows, index=ids, columns=groups.index)
    order = [ids[i] for i in np.argsort([i % 15 * 3 + {"up": 0, "down": 1, "flat": 2}[k] for i, k in enumerate(kinds)])]
    res = pd.DataFrame({"gene_id": order, "symbol": order, "pvalue": np.linspace(1e-9, 1e-2, 40)})
    res["padj"] = res["pvalue"]
    return vst, res, groups


def runs(labels: list[str]) -> int:
    """Number of runs of equal kinds along the rows (3 = each kind in one block)."""
    kinds = [s.rstrip("0123456789") for s in labels]
    return 1 + sum(a != b for a, b in zip(kinds, kinds[1:]))


def rows_of(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[1].get_yticklabels()]


def test_clustered_rows_form_blocks():
    vst, res, groups = planted()
    fig = heatmaps.top_gene_heatmap(vst, res, groups, n_top=40)
    clustered = rows_of(fig)
    plt.close(fig)
    fig = heatmaps.top_gene_heatmap(vst, res, groups, n_top=40, cluster_rows=False)
    by_padj = rows_of(fig)
    plt.close(fig)
    assert sorted(clustered) == sorted(by_padj) == sorted(vst.index)
    assert by_padj == res["symbol"].tolist() and runs(by_padj) == 40  # the interleaved padj order
    up = [i for i, s in enumerate(clustered) if s.startswith("up")]
    down = [i for i, s in enumerate(clustered) if s.startswith("down")]
    assert up == list(range(up[0], up[0] + 15)) and down == list(range(down[0], down[0] + 15))


def test_a_gene_list_keeps_its_order_and_few_rows_are_left_alone():
    vst, res, groups = planted()
    genes = ["down17", "up0", "flat31", "up7"]
    fig = heatmaps.top_gene_heatmap(vst, res, groups, genes=genes)
    assert rows_of(fig) == genes
    plt.close(fig)
    assert heatmaps.cluster_order(np.ones((2, 5))).tolist() == [0, 1]
    flat = np.zeros((4, 6))  # no row varies: no NaN distances, every row kept
    assert sorted(heatmaps.cluster_order(flat).tolist()) == [0, 1, 2, 3]


def test_top_genes_not_called_at_alpha_are_named_in_grey_and_counted():
    """When fewer genes are called than the heatmap shows (a GEUVADIS run: 1 gene called, 40 drawn), the title
    says how many are called and the others' names are grey; when all are called nothing changes."""
    vst, res, groups = planted()
    res["padj"] = np.r_[np.full(5, 0.001), np.full(35, 0.3)]  # SYNTHETIC: the 5 first called
    res["log2FoldChange"] = np.r_[np.full(3, 2.0), np.full(37, 0.5)]  # ... and the first 3 beyond |log2FC| 1
    fig = heatmaps.top_gene_heatmap(vst, res, groups, n_top=40, title="t", alpha=0.05)
    try:
        colours = {t.get_text(): t.get_color() for t in fig.axes[1].get_yticklabels()}
        called = set(res["symbol"][:5])
        assert {g for g, c in colours.items() if c != heatmaps.NOT_CALLED} == called
        assert "40 smallest padj, 5 called (padj < 0.05)" in fig._suptitle.get_text()
    finally:
        plt.close(fig)
    fig = heatmaps.top_gene_heatmap(vst, res, groups, n_top=40, title="t", alpha=0.05, lfc_threshold=1.0)
    try:  # de.lfc_threshold: called as the DE summary counts them (lsecflow.calls.is_significant)
        grey = {t.get_text() for t in fig.axes[1].get_yticklabels() if t.get_color() == heatmaps.NOT_CALLED}
        assert grey == set(res["symbol"][3:]) and "3 called (padj < 0.05, |log2FC| > 1)" in fig._suptitle.get_text()
    finally:
        plt.close(fig)
    res["padj"] = 0.001
    res["log2FoldChange"] = 2.0
    fig = heatmaps.top_gene_heatmap(vst, res, groups, n_top=40, title="t", alpha=0.05)
    try:
        assert fig._suptitle.get_text() == "t"
        assert all(t.get_color() != heatmaps.NOT_CALLED for t in fig.axes[1].get_yticklabels())
    finally:
        plt.close(fig)


def test_missing_values_are_grey_and_the_legend_says_so():
    """A protein not quantified in a sample (NaN, SYNTHETIC) is a grey cell, and the colour bar names grey;
    a complete matrix's bar does not."""
    vst, res, groups = planted()
    fig = heatmaps.top_gene_heatmap(vst, res, groups, n_top=10)
    assert "grey" not in fig.axes[2].get_ylabel()
    plt.close(fig)
    vst.iloc[:, 0] = np.nan
    fig = heatmaps.top_gene_heatmap(vst, res, groups, n_top=10)
    assert fig.axes[2].get_ylabel().endswith("grey: not quantified")
    assert np.isnan(fig.axes[1].images[0].get_array().filled(np.nan)).any()
    plt.close(fig)
