"""lsecflow.pseudobulk: sums per sample and cell type of the real Tabula Muris Senis cells, dropped units
reported, chunked reading equal to in-memory."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from lsecflow import pseudobulk as pb


def test_pseudobulk_sums_and_reports_dropped(tms_pseudobulk):
    ds, folder, cells = tms_pseudobulk

    pb = ad.read_h5ad(folder / "pb.h5ad")
    table = pd.read_csv(folder / "pb.tsv", sep="\t")
    lsec = ds.spec["single_cell"]["lsec_label"]
    # one row per (plate, cell type) present; sums equal the cells' counts
    assert len(table) == cells.obs.groupby(["sample", "cell_type"], observed=True).ngroups
    row = pb.obs.index[(pb.obs["sample"] == "B000767") & (pb.obs["cell_type"] == lsec)][0]
    mask = (cells.obs["sample"] == "B000767").to_numpy() & (cells.obs["cell_type"] == lsec).to_numpy()
    np.testing.assert_array_equal(pb[row].X.ravel(), np.asarray(cells.X[mask].sum(axis=0)).ravel())
    kept = table[table["kept"]]
    assert (kept["n_cells"] >= ds.spec["pseudobulk"]["min_cells"]).all()
    assert (kept["n_counts"] >= ds.spec["pseudobulk"]["min_counts"]).all()
    dropped = table[~table["kept"]]
    assert len(dropped) > 0 and dropped["reason"].str.len().gt(0).all()
    assert pb.n_obs == len(kept)
    assert set(pb.obs["age_group"]) == {"OLD", "YOUNG"}  # per-sample columns carried over


def test_pseudobulk_read_in_chunks_equals_in_memory(tms_pseudobulk, tmp_path):
    """Backed (on-disk) input summed 37 cells at a time gives the in-memory sums exactly, QC mask included."""

    ds, folder, cells = tms_pseudobulk
    cells = cells.copy()
    cells.obs["cell_type"] = cells.obs[ds.spec["single_cell"]["cell_type_key"]].astype(str)
    mask = np.arange(cells.n_obs) % 5 != 0  # leave every fifth cell out
    whole, whole_table = pb.pseudobulk(cells, "sample", "cell_type", 1, 0, mask=mask, chunk_size=10**9)
    backed = ad.read_h5ad(folder / "counts.h5ad", backed="r")
    backed.obs["cell_type"] = backed.obs[ds.spec["single_cell"]["cell_type_key"]].astype(str)
    chunked, chunked_table = pb.pseudobulk(backed, "sample", "cell_type", 1, 0, mask=mask, chunk_size=37)
    np.testing.assert_array_equal(np.asarray(chunked.X), np.asarray(whole.X))
    pd.testing.assert_frame_equal(chunked_table, whole_table)
    # and by hand: one group's sum over its unmasked cells
    sel = (cells.obs["sample"] == "B000767").to_numpy() & (cells.obs["cell_type"] == "hepatocyte").to_numpy() & mask
    row = chunked.obs.index.get_loc("B000767|hepatocyte")
    np.testing.assert_array_equal(np.asarray(chunked.X[row]).ravel(),
                                  np.asarray(cells.X[sel].sum(axis=0)).ravel().astype(np.int64))
    assert chunked_table.set_index(["sample", "cell_type"]).loc[("B000767", "hepatocyte"), "n_cells"] == sel.sum()


def test_cells_without_a_cell_type_are_left_out_and_counted(tms_pseudobulk, tmp_path, caplog):
    """Five real LSECs with an empty cell type (NaN in obs, as an annotation with gaps leaves them): left out of the
    pseudobulk, and the log says how many."""
    ds, folder, cells = tms_pseudobulk
    key, lsec = ds.spec["single_cell"]["cell_type_key"], ds.spec["single_cell"]["lsec_label"]
    gaps = cells.copy()
    blank = np.flatnonzero((gaps.obs[key] == lsec).to_numpy())[:5]
    labels = gaps.obs[key].astype(object)
    labels.iloc[blank] = np.nan
    gaps.obs[key] = pd.Categorical(labels)
    gaps.write_h5ad(tmp_path / "counts.h5ad")
    with caplog.at_level("WARNING", logger="lsecflow.pseudobulk"):
        pb.run_pseudobulk(str(tmp_path / "counts.h5ad"), ds.params(), str(tmp_path / "pb.h5ad"), str(tmp_path / "pb.tsv"))
    assert f"5 of {cells.n_obs} cells have no {key} (empty in obs): left out of the pseudobulk" in caplog.text
    before = pd.read_csv(folder / "pb.tsv", sep="\t").set_index(["sample", "cell_type"])["n_cells"]
    after = pd.read_csv(tmp_path / "pb.tsv", sep="\t").set_index(["sample", "cell_type"])["n_cells"]
    assert before.xs(lsec, level="cell_type").sum() - after.xs(lsec, level="cell_type").sum() == 5
    assert "nan" not in set(after.index.get_level_values("cell_type"))
