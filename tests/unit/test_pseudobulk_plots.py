"""lsecflow.pseudobulk_plots: the composition figure of the real TMS pseudobulk shows every (sample, cell type)
sum with its cell count, the dropped ones marked, samples grouped by the contrast's variable."""
from __future__ import annotations

import pandas as pd
import pytest
from lsecflow.plots import plt
from lsecflow.pseudobulk_plots import composition_figure, run_pseudobulk_figure
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
