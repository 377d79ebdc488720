"""lsecflow.gene_panels: which genes get a panel, which groups a contrast compares, and what each panel draws
(SYNTHETIC matrices with planted group means, so the drawn means and lines can be checked exactly)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lsecflow import gene_panels
from lsecflow.plots import plt

PLAIN = {"variable": "group", "target": "trt", "reference": "ctl"}
INTERACTION = {**PLAIN, "interaction": {"variable": "cell", "target": "B", "reference": "A"}}


def table(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"gene_id": [f"g{i}" for i in range(n)], "symbol": [f"S{i}" for i in range(n)],
                         "log2FoldChange": np.linspace(2, -2, n), "pvalue": np.linspace(1e-6, 0.5, n),
                         "padj": np.linspace(1e-5, 0.9, n)})


def test_genes_of_interest_first_then_the_smallest_padj():
    res = table()
    res.loc[5, "pvalue"] = np.nan  # not tested: never drawn
    picked = gene_panels.pick_genes(res.iloc[::-1], 3, ["S4", "S5", "nope"])
    assert picked["symbol"].tolist() == ["S4", "S0", "S1"]
    assert gene_panels.pick_genes(res, 10)["symbol"].tolist() == ["S0", "S1", "S2", "S3", "S4"]


@pytest.mark.parametrize("contrast, labels, expected", [
    (PLAIN, ["ctl", "other", "trt"], [("", "ctl", "trt")]),
    ({**PLAIN, "within": {"cell": "B"}}, ["ctl · A", "ctl · B", "trt · A", "trt · B"], [("", "ctl · B", "trt · B")]),
    (INTERACTION, ["ctl · A", "ctl · B", "trt · A", "trt · B", "x · A"],
     [("cell A", "ctl · A", "trt · A"), ("cell B", "ctl · B", "trt · B")]),
    (PLAIN, ["ctl", "other"], [("", "ctl", None)]),
])
def test_the_groups_a_contrast_compares(contrast, labels, expected):
    assert gene_panels.strata(labels, contrast) == expected


def crossed(seed: int = 0):
    """SYNTHETIC 2 x 2 design, 3 samples a cell: gene g0's treatment effect is +2 in cell A and -1 in cell B."""
    rng = np.random.default_rng(seed)
    cells = [(c, g) for c in "AB" for g in ("ctl", "trt") for _ in range(3)]
    groups = pd.Series([f"{g} · {c}" for c, g in cells], index=[f"s{i}" for i in range(12)])
    effect = {("A", "ctl"): 0.0, ("A", "trt"): 2.0, ("B", "ctl"): 0.5, ("B", "trt"): -0.5}
    g0 = np.array([5 + effect[cg] for cg in cells])
    vst = pd.DataFrame([g0, 5 + rng.normal(0, 1, 12)], index=["g0", "g1"], columns=groups.index)
    res = table(2)
    return vst, res, groups


def test_an_interaction_draws_one_line_per_level_through_the_cell_means():
    vst, res, groups = crossed()
    fig = gene_panels.gene_panels(vst, res, groups, INTERACTION, n=2, title="t", alpha=0.05)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ctl · A", "trt · A", "ctl · B", "trt · B"]
    lines = {ln.get_label(): ln.get_ydata() for ln in ax.get_lines() if ln.get_label() in ("cell A", "cell B")}
    np.testing.assert_allclose(lines["cell A"], [5.0, 7.0])
    np.testing.assert_allclose(lines["cell B"], [5.5, 4.5])
    assert ax.get_title().startswith("S0\nlog2FC 2.00, padj 1e-05")
    assert fig.axes[1].title.get_color() == "#8c8c8c"  # padj 0.9: not called, a grey title
    assert "grey titles: not called" in fig._suptitle.get_text()
    plt.close(fig)


def test_missing_values_are_counted_and_a_slope_gets_its_line():
    vst, res, groups = crossed()
    vst.iloc[0, :2] = np.nan
    res.loc[0, "padj"] = np.nan  # filtered (DESeq2's independent filtering)
    fig = gene_panels.gene_panels(vst, res, groups, PLAIN, n=1, genes_of_interest=["S0"])
    assert fig.axes[0].get_title() == "S0\nlog2FC 2.00, padj NA, 10/12 quantified"
    plt.close(fig)
    number = pd.Series(np.arange(12, dtype=float), index=vst.columns)
    vst.loc["g1"] = 1.0 + 0.25 * number
    fig = gene_panels.gene_panels(vst, res, groups, {"variable": "age"}, n=1, number=number)
    ax = fig.axes[0]
    (x, y), = [(ln.get_xdata(), ln.get_ydata()) for ln in ax.get_lines()]
    np.testing.assert_allclose(np.diff(y) / np.diff(x), 0.25)
    assert ax.get_xlabel() == "age"
    plt.close(fig)
