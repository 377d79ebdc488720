"""lsecflow.pseudobulk_plots: the composition figure of the real TMS pseudobulk shows every (sample, cell type)
sum with its cell count, the dropped ones marked, samples grouped by the contrast's variable."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lsecflow.composition import COLUMNS, transformed_proportions
from lsecflow.plots import plt
from lsecflow.pseudobulk_plots import composition_figure, proportions_figure, run_pseudobulk_figure
from lsecflow.rule_params import guard_params


@pytest.fixture(scope="module")
def tms_table(tms_pseudobulk):
    """The shipped TMS pseudobulk (conftest's ``tms_pseudobulk``) and its table of sums."""
    ds, folder, _ = tms_pseudobulk
    return ds, folder, pd.read_csv(folder / "pb.tsv", sep="\t", dtype={"sample": str})


def test_every_sum_is_shown_with_its_cells_and_the_dropped_are_marked(tms_table):
    ds, _, table = tms_table
    groups = ds.sheet["age_group"]
    pb = ds.spec["pseudobulk"]
    fig = composition_figure(table, groups, pb["min_cells"], pb["min_counts"], "tms")
    try:
        ax = fig.axes[0]
        rows = [t.get_text().split()[0] for t in ax.get_yticklabels()]
        cols = [t.get_text() for t in ax.get_xticklabels()]
        assert sorted(rows) == sorted(table["sample"].unique()) and sorted(cols) == sorted(table["cell_type"].unique())
        levels = [groups[s] for s in rows]
        assert levels == sorted(levels)  # OLD samples, then YOUNG
        shown = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
        for r in table.itertuples():
            assert shown[(rows.index(r.sample), cols.index(r.cell_type))] == str(r.n_cells)
        hatched = [p for p in ax.patches if p.get_hatch()]
        assert len(hatched) == (~table["kept"]).sum() > 0
        absent = len(rows) * len(cols) - len(table)
        assert sum(t.get_text() == "–" for t in ax.texts) == absent > 0
        assert f"dropped ({(~table['kept']).sum()} of {len(table)}" in ax.get_xlabel()
    finally:
        plt.close(fig)


def test_the_rule_entry_point_writes_every_format(tms_table):
    ds, folder, _ = tms_table
    png = folder / "qc" / "pseudobulk.png"
    png.parent.mkdir()
    run_pseudobulk_figure(str(folder / "pb.tsv"), ds.spec["samples"]["sheet"],
                          guard_params(ds.params(rule="pseudobulk_figure")), str(png))
    for ext, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF-")):
        assert png.with_suffix(f".{ext}").read_bytes()[:len(magic)] == magic


def test_the_proportions_figure_shows_each_sample_and_each_test(tms_table):
    """Every sample a bar summing to 1 with its cell count in its label, grouped by the contrast; every (contrast,
    cell type) a dot ringed when called, or 'not tested'."""
    ds, _, table = tms_table
    counts = table.pivot(index="sample", columns="cell_type", values="n_cells").fillna(0)
    props, _ = transformed_proportions(counts)
    meta = ds.sheet.loc[props.index]
    contrasts = {"a": {"variable": "age_group", "target": "OLD", "reference": "YOUNG"},
                 "b": {"variable": "sex", "target": "female", "reference": "male"}}
    tested = pd.DataFrame([["a", ct, 1, 0.2, 0.3, 0.1, 1.5, 0.1, 2.5, 0.01 if i == 0 else 0.5, 0.01 if i == 0 else 0.5,
                            i == 0, 14.0] + ([False, "B000767", "1 of 16", 0.2] if i == 0 else [np.nan] * 4)
                           for i, ct in enumerate(props.columns)], columns=COLUMNS)
    fig = proportions_figure(props, meta, contrasts, tested, "tms", 0.05, counts.sum(axis=1))
    try:
        bars, dots = fig.axes[:2]
        labels = [t.get_text() for t in bars.get_xticklabels()]
        assert sorted(labels) == sorted(f"{s} ({int(n)})" for s, n in counts.sum(axis=1).items())
        levels = [meta.loc[lab.split(" (")[0], "age_group"] for lab in labels]
        assert levels == sorted(levels)  # OLD, then YOUNG
        heights = np.zeros(len(labels))
        for patch in bars.patches:
            heights[round(patch.get_x() + patch.get_width() / 2)] += patch.get_height()
        np.testing.assert_allclose(heights, 1.0)
        rings = [c for c in dots.collections if len(c.get_edgecolor()) and c.get_edgecolor()[0][3] > 0]
        assert len(dots.collections) == props.shape[1] and len(rings) == 1
        assert sum(t.get_text() == "not tested" for t in dots.texts) == props.shape[1]  # contrast b
        assert sum("rests on B000767" in t.get_text() for t in dots.texts) == 1  # the call without B000767 is lost
    finally:
        plt.close(fig)
