"""lsecflow.qc_plots: the single-cell cluster x signature heatmap stays readable at atlas scale."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lsecflow import qc_plots
from lsecflow.plots import plt

SIGNATURES = ["LSEC", "Kupffer/macrophage", "hepatocyte"]


def planted_calls(n: int, seed: int = 0) -> pd.DataFrame:
    """SYNTHETIC clusters.tsv-like table: ``n`` clusters, random sizes and scores, each called by its top score."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, len(SIGNATURES)))
    calls = pd.DataFrame(scores, columns=[f"mean_score_{s}" for s in SIGNATURES], index=[str(i) for i in range(n)])
    calls.insert(0, "n_cells", rng.integers(5, 5000, n))
    calls["call"] = np.array(SIGNATURES)[scores.argmax(axis=1)]
    return calls


def test_few_clusters_get_a_labelled_row_each():
    calls = planted_calls(12)
    fig = qc_plots.cluster_signature_heatmap(calls, SIGNATURES, "tms")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"cluster {c} (n={k}) → {call}" for c, k, call in zip(calls.index, calls["n_cells"], calls["call"])]
    np.testing.assert_array_equal(ax.images[0].get_array(), calls.filter(like="mean_score_").to_numpy())
    assert fig.get_size_inches()[1] == pytest.approx(0.35 * 12 + 1.8)
    plt.close(fig)


def test_an_atlas_of_clusters_is_grouped_by_call():
    """473 clusters (what Leiden gave on 100,000 bootstrapped cells) made a 167-inch figure with 473 labels:
    now 12 inches, rows grouped by call in signature order, largest cluster first, one label a group."""
    calls = planted_calls(473)
    fig = qc_plots.cluster_signature_heatmap(calls, SIGNATURES, "atlas")
    ax = fig.axes[0]
    assert fig.get_size_inches()[1] == 12
    groups = calls.groupby("call")["n_cells"].agg(["size", "sum"])
    expected = [f"{s}: {groups.at[s, 'size']} clusters, {groups.at[s, 'sum']:,} cells" for s in SIGNATURES]
    assert [t.get_text() for t in ax.get_yticklabels()] == expected
    shown = np.asarray(ax.images[0].get_array())
    assert shown.shape == (473, len(SIGNATURES))
    by_scores = {tuple(r): (c, k) for r, c, k in zip(calls.filter(like="mean_score_").to_numpy(), calls["call"],
                                                     calls["n_cells"])}
    drawn = [by_scores[tuple(r)] for r in shown]  # each row is one cluster, each cluster drawn once
    assert len(set(map(tuple, shown))) == 473
    assert [c for c, _ in drawn] == sorted((c for c, _ in drawn), key=SIGNATURES.index)
    for s in SIGNATURES:
        sizes = [k for c, k in drawn if c == s]
        assert sizes == sorted(sizes, reverse=True)
    assert "473 clusters, grouped by call" in ax.get_title()
    plt.close(fig)


def test_dispersion_figure_draws_each_estimate(tmp_path):
    """DESeq2's plotDispEsts from a dispersion table: gene-wise, the fit's trend, the other trend dashed, final,
    outliers circled and counted in the legend; written in every configured format; an empty table (no fit)
    gets a figure saying so. SYNTHETIC estimates."""
    rng = np.random.default_rng(0)
    mean = np.exp(rng.uniform(0, 10, 300))
    trend = 0.05 + 2 / mean
    table = pd.DataFrame({"gene_id": [f"g{i}" for i in range(300)], "baseMean": mean,
                          "dispGeneEst": trend * np.exp(rng.normal(0, 0.5, 300)), "dispFit": trend,
                          "dispOutlier": np.arange(300) < 3, "used_for_trend": True, "trend_parametric": trend,
                          "trend_local": 0.9 * trend, "fit_type": "parametric"})
    table["dispersion"] = np.sqrt(table["dispGeneEst"] * trend)
    png = tmp_path / "design.dispersion.png"
    qc_plots.dispersion_figure(table, "SYNTHETIC", str(png))
    svg = png.with_suffix(".svg").read_text()
    assert png.stat().st_size > 10_000
    for label in ("gene-wise estimate", "fitted trend (parametric)", "local trend, for comparison",
                  "dispersion outlier, not shrunk (3)"):
        assert label in svg, label
    table["trend_local"] = np.nan  # a trend that could not be fitted is not drawn
    qc_plots.dispersion_figure(table, "SYNTHETIC", str(png))
    assert "for comparison" not in png.with_suffix(".svg").read_text()
    qc_plots.dispersion_figure(table.iloc[:0], "SYNTHETIC", str(png))
    assert "no model fitted" in png.with_suffix(".svg").read_text()


def test_ql_dispersion_figure_draws_edgers_two_panels(tmp_path):
    """edgeR's plotBCV and plotQLDisp from an edgeR fit's dispersion table (lsecflow.de_edger's columns): the
    trended and common BCV, raw and squeezed QL dispersions and their trend, the prior df in the title (per gene
    under robust: its median); an empty table gets a figure saying so. SYNTHETIC estimates."""
    rng = np.random.default_rng(1)
    x = rng.uniform(2, 14, 400)
    prior = 0.8 + 0.02 * x
    s2 = prior * rng.chisquare(8, 400) / 8
    table = pd.DataFrame({"gene_id": [f"g{i}" for i in range(400)], "logCPM": x, "trended": 0.05 + 0.5 / x,
                          "common": 0.09, "s2": s2, "s2_prior": prior, "s2_post": (8 * s2 + 5 * prior) / 13,
                          "df_prior": 5.0, "df_residual": 17})
    png = tmp_path / "design.dispersion.png"
    qc_plots.ql_dispersion_figure(table, "SYNTHETIC", str(png))
    svg = png.with_suffix(".svg").read_text()
    for label in ("trended BCV (the fit", "common BCV 0.300", "raw (deviance / df)", "squeezed",
                  "abundance trend (prior)", "prior df 5"):
        assert label in svg, label
    table["df_prior"] = np.linspace(2, 6, 400)
    qc_plots.ql_dispersion_figure(table, "SYNTHETIC", str(png))
    assert "prior df 4 (median; robust)" in png.with_suffix(".svg").read_text()
    qc_plots.ql_dispersion_figure(table.iloc[:0], "SYNTHETIC", str(png))
    assert "no model fitted" in png.with_suffix(".svg").read_text()


@pytest.mark.parametrize("n_samples", [3, 20, 60])
def test_purity_panel_rows_line_up(n_samples):
    """Sample i's bar (left) and its row of signature scores (right heatmap) sit at the same height, so a
    contaminated sample reads straight across (the bars used to carry matplotlib's margins, the heatmap not)."""
    rng = np.random.default_rng(n_samples)
    names = [f"S{i}" for i in range(n_samples)]
    shares = rng.dirichlet(np.ones(len(SIGNATURES)), n_samples)  # SYNTHETIC shares and scores
    purity = pd.DataFrame(shares, index=names, columns=[f"share_{s}" for s in SIGNATURES])
    for s in SIGNATURES:
        purity[f"score_{s}"] = rng.normal(5, 2, n_samples)
    fig = qc_plots.purity_figure(purity, pd.Series(False, index=names), "SYNTHETIC")
    try:
        fig.canvas.draw()
        bars, heat = fig.axes[0], fig.axes[1]
        for i in (0, n_samples // 2, n_samples - 1):
            y_bar = bars.transData.transform((0.5, i))[1]
            y_heat = heat.transData.transform((0, i))[1]
            assert y_bar == pytest.approx(y_heat, abs=0.5), (i, y_bar, y_heat)
        assert bars.get_window_extent().y0 == pytest.approx(heat.get_window_extent().y0, abs=0.5)
    finally:
        plt.close(fig)


def test_correlation_dendrogram_and_group_bar_sit_over_their_columns():
    """Each dendrogram leaf and each cell of the group bar lie over the heatmap column of their sample (the
    heatmap kept square cells and came out narrower than the dendrogram and bar above it)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 12)) + np.repeat(rng.normal(size=(200, 3)), 4, axis=1)  # SYNTHETIC: 3 groups of 4
    names = [f"S{i}" for i in range(12)]
    corr = pd.DataFrame(np.corrcoef(x.T), index=names, columns=names)
    groups = pd.Series(np.repeat(["a", "b", "c"], 4), index=names)
    colours, lut = qc_plots.group_colours(groups)
    fig = qc_plots.correlation_heatmap(corr, colours, "SYNTHETIC", "r", lut, "group")
    try:
        fig.canvas.draw()
        dax, bax, ax = fig.axes[:3]
        for i in range(12):
            column = ax.transData.transform((i, 0))[0]
            assert dax.transData.transform((10 * i + 5, 0))[0] == pytest.approx(column, abs=0.5)
            assert bax.transData.transform((i, 0))[0] == pytest.approx(column, abs=0.5)
        leaves_x = sorted({round(v, 6) for line in dax.collections[0].get_segments() for v in line[:, 0]
                           if round(v) % 10 == 5 and v == int(v)})
        assert leaves_x[0] == 5 and leaves_x[-1] == 115  # scipy's leaf positions, as the test above assumes
        assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b", "c"]
    finally:
        plt.close(fig)


def test_purity_panel_says_which_cell_types_have_no_marker_in_the_data():
    """A cell type none of whose markers is among the genes (a targeted panel, a subset) is said to be so: its
    heatmap column is labelled, every column names how many markers were found, and the bars say among how many
    cell types the shares are taken (GEUVADIS-subset run: '100 % cholangiocyte' from 1 marker, said plainly)."""
    names = ["S0", "S1", "S2"]
    purity = pd.DataFrame(index=names)  # SYNTHETIC: two of the cell types found, one marker each
    for s in SIGNATURES:
        hit = s in SIGNATURES[:2]
        purity[f"score_{s}"] = [1.0, 2.0, 3.0] if hit else np.nan
        purity[f"n_markers_{s}"] = int(hit)
        purity[f"share_{s}"] = 0.5 if hit else 0.0
    fig = qc_plots.purity_figure(purity, pd.Series(False, index=names), "SYNTHETIC")
    try:
        bars, heat = fig.axes[0], fig.axes[1]
        notes = [t.get_text() for t in heat.texts]
        assert notes == ["no marker\nin the data"] * (len(SIGNATURES) - 2)
        assert [t.get_text() for t in heat.get_xticklabels()] == [f"{s} ({int(s in SIGNATURES[:2])})"
                                                                  for s in SIGNATURES]
        assert f"shares among the 2 of {len(SIGNATURES)} cell types with markers" in bars.get_xlabel()
    finally:
        plt.close(fig)
    full = purity.assign(**{f"n_markers_{s}": 3 for s in SIGNATURES})
    fig = qc_plots.purity_figure(full, pd.Series(False, index=names), "SYNTHETIC")
    try:
        assert not fig.axes[1].texts and "shares among" not in fig.axes[0].get_xlabel()
    finally:
        plt.close(fig)


def test_metrics_panel_of_a_fraction_not_measured_says_so():
    """Bulk metrics: a fraction that is empty (no mitochondrial gene in the matrix) gets a 'not measured' panel,
    not empty axes around 0; the others keep their bars. SYNTHETIC metrics."""
    samples = pd.DataFrame({"library_size": [1e6, 2e6, 3e6], "detected_genes": [900, 950, 1000],
                            "mito_fraction": np.nan, "ribo_fraction": [0.1, 0.2, 0.1]}, index=["a", "b", "c"])
    colours, lut = qc_plots.group_colours(pd.Series(["x", "x", "y"], index=samples.index))
    fig = qc_plots.metrics_figure(samples, colours, lut, "group", "SYNTHETIC")
    try:
        panels = [ax for ax in fig.axes if ax.get_ylabel()]
        texts = {ax.get_ylabel(): [t.get_text() for t in ax.texts] for ax in panels}
        bars = {ax.get_ylabel(): len(ax.patches) for ax in panels}
        assert texts["mitochondrial fraction"] == ["not measured:\nno mitochondrial genes in the matrix"]
        assert bars["mitochondrial fraction"] == 0 and bars["ribosomal fraction"] == 3
        assert not texts["ribosomal fraction"] and not texts["library size (reads)"]
    finally:
        plt.close(fig)
