"""lsecflow.paracrine_plots: the candidate bars keep their padj labels inside the axes, clear of the gene names."""
from __future__ import annotations

import pandas as pd
import pytest
from lsecflow.paracrine_plots import candidate_plot
from lsecflow.plots import plt


def flagged(lfcs: list[float]) -> pd.DataFrame:
    """SYNTHETIC candidates table (the columns candidate_plot reads), ranked as given."""
    n = len(lfcs)
    return pd.DataFrame({"symbol": [f"Gene{i}" for i in range(n)], "secreted": [i % 2 == 0 for i in range(n)],
                         "rank": range(1, n + 1), "class": [("chemokine", "other secreted")[i % 2] for i in range(n)],
                         "log2FoldChange": lfcs, "padj": [1.5e-2] * n, "marks": [""] * (n - 1) + ["outlier"]})


@pytest.mark.parametrize("lfcs", [[5.6, 6.1, -0.99, 2.0, 0.4],  # DLPC's disease_vs_chow: one short negative bar
                                  [-4.0, -0.2, -1.5],  # all down
                                  [0.3, 7.5, 1.0]])  # all up
def test_padj_labels_stay_inside_the_axes(lfcs):
    fig = candidate_plot(flagged(lfcs), title="SYNTHETIC")
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        box = ax.get_window_extent(renderer)
        names_right = max(label.get_window_extent(renderer).x1 for label in ax.get_yticklabels())
        labels = [t for t in ax.texts if t.get_text() == "1.5e-02"]
        assert len(labels) == len(lfcs)
        for label in labels:
            extent = label.get_window_extent(renderer)
            assert box.x0 <= extent.x0 and extent.x1 <= box.x1, (label.xy, extent, box)
            assert extent.x0 > names_right
    finally:
        plt.close(fig)


def test_a_receptor_not_in_the_data_is_drawn_not_left_blank():
    """A pair whose receptor has no value (not in the data) gets a grey x in its cell, explained under the plot."""
    from lsecflow.paracrine_plots import pair_dotplot

    table = pd.DataFrame({"rank": [1, 1, 2], "ligand": ["Cxcl1", "Cxcl1", "Icam1"],
                          "receptor": ["Cxcr1", "Cxcr2", "Itgal"], "n_sources": [5, 5, 7],
                          "receiver": ["this dataset"] * 3, "receptor_fraction": [float("nan"), 0.4, 1.0],
                          "receptor_mean": [float("nan"), 0.46, 3.1], "present": [False, False, True]})  # SYNTHETIC
    fig = pair_dotplot(table, "SYNTHETIC")
    try:
        ax = fig.axes[0]
        crosses = ax.collections[1].get_offsets()
        assert crosses.tolist() == [[0.0, 0.0]]  # row 0 (Cxcl1 → Cxcr1), the only receiver
        assert [t.get_text() for t in ax.get_yticklabels()][0] == "Cxcl1 → Cxcr1"
        assert "grey ×: receptor not in the data" in ax.get_xlabel()
    finally:
        plt.close(fig)
