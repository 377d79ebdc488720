"""lsecflow.ingest: the counts.h5ad a dataset becomes (real DLPC counts, Tabula Muris Senis cells and their
sheet, proteomics intensities), and cell types called from markers."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import (
    DLPC_COUNTS,
    REPO,
    dlpc_dataset,
    load_datasets,
    load_one,
    tms_dataset,
    ups1_dataset,
)
from lsecflow.ingest import build_counts, run_ingest


def test_single_cell_sheet_disagreeing_with_obs(tmp_path):
    sheet = pd.read_csv(REPO / "config/samples/tms_liver.tsv", sep="\t")
    sheet.loc[sheet["sample"] == "B000767", "sex"] = "male"  # the cells say female
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    ds = load_datasets({"tms": tms_dataset(sheet=tmp_path / "s.tsv")}).datasets["tms"]
    with pytest.raises(Exception, match="obs column 'sex'.*'female'.*B000767"):
        build_counts(ds.params())


def test_ingest_dlpc_real():
    ds = load_datasets({"dlpc_liver": dlpc_dataset(DLPC_COUNTS)}).datasets["dlpc_liver"]
    adata, report = build_counts(ds.params())
    raw = pd.read_csv(DLPC_COUNTS, sep="\t", index_col=0)
    assert adata.shape == (20, 53700)
    assert adata.X.dtype == np.int64
    assert "Sample725" in adata.obs_names and "Sample724" not in adata.obs_names
    np.testing.assert_array_equal(adata["Sample725"].X.ravel(), raw["Sample724"].to_numpy())
    assert adata.obs.loc["Sample725", "Group"] == "Disease"
    assert list(adata.obs_names) == list(pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t")["sample"])
    assert adata.var.loc["ENSMUSG00000000001.5", "symbol"] == "Gnai3"
    assert adata.var["symbol"].is_unique
    assert report["n_duplicated_symbols"] > 0 and report["n_unmapped"] > 0


def test_cell_types_called_from_markers():
    """No cell-type column used: each cell gets its highest marker signature.
    On the real TMS sample the calls recover the annotated LSECs."""
    spec = tms_dataset()
    spec["single_cell"].update(cell_types_from="markers", cell_type_key="marker_call")
    ds = load_datasets({"tms": spec}).datasets["tms"]
    assert list(ds.cell_types)[0] == "LSEC" and ds.spec["single_cell"]["lsec_label"] == "LSEC"
    assert set(ds.cell_types.values()) == set(pd.read_csv(REPO / "resources/markers/mouse.tsv", sep="\t")["cell_type"])
    adata, report = build_counts(ds.params())
    calls = adata.obs["marker_call"].astype(str)
    annotated = adata.obs["cell_type"].astype(str) == "endothelial cell of hepatic sinusoid"
    assert (calls[annotated] == "LSEC").mean() >= 0.9
    assert (annotated[calls == "LSEC"]).mean() >= 0.9
    assert sum(report["cell_types_from_markers"].values()) == adata.n_obs


def test_counts_h5ad_holds_the_intensities(tmp_path):
    ds = load_one(tmp_path, ups1_dataset()).datasets["p"]
    out = tmp_path / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(out))
    a = ad.read_h5ad(out)
    assert a.shape == (6, 2350) and a.X.dtype == np.float64
    assert a.var.loc["P01375", "symbol"] == "TNF"
