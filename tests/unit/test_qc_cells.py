"""lsecflow.qc_cells: single-cell QC on the real Tabula Muris Senis cells (thresholds from config, LSEC
clusters recover the annotated LSECs)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import named, shipped_dataset
from lsecflow import qc_cells
from lsecflow.ingest import build_counts


@pytest.fixture(scope="module")
def tms_qc(tmp_path_factory):
    ds = shipped_dataset("tms_liver")
    adata, _ = build_counts(ds.params())
    out = tmp_path_factory.mktemp("qc_tms")
    adata.write_h5ad(out / "counts.h5ad")
    tables = {"cells": "cells.tsv", "clusters": "clusters.tsv", "verdict": "verdict.json"}
    verdict = qc_cells.run_qc_single_cell(str(out / "counts.h5ad"), ds.params(), ds.spec["qc"]["markers"],
                                          *named(out, tables, ("cell_qc", "umap", "purity")))
    return out, verdict


def test_lsec_clusters_recover_annotated_lsecs(tms_qc):
    out, verdict = tms_qc
    assert verdict["lsec_clusters"], "no cluster called LSEC"
    assert verdict["labelled_lsec_in_lsec_clusters"] >= 0.90
    assert verdict["other_labels_in_lsec_clusters"] <= 0.10
    cells = pd.read_csv(out / "cells.tsv", sep="\t", index_col="cell")
    lsec = cells["cell_type_label"] == "endothelial cell of hepatic sinusoid"
    in_lsec_clusters = cells["leiden"].astype(str).isin(verdict["lsec_clusters"])
    assert abs(in_lsec_clusters[lsec].mean() - verdict["labelled_lsec_in_lsec_clusters"]) < 1e-12
    clusters = pd.read_csv(out / "clusters.tsv", sep="\t")
    assert clusters["n_cells"].sum() == len(cells) == 468
    assert {"score_LSEC", "doublet_score", "UMAP1", "qc_pass"} <= set(cells.columns)
    assert cells["doublet_score"].notna().all()
    assert json.loads((out / "verdict.json").read_text()) == verdict


def test_cell_thresholds_from_config(tmp_path):
    ds = shipped_dataset("tms_liver", min_counts=200_000)
    adata, _ = build_counts(ds.params())
    cells = qc_cells.cell_qc(adata, ds.spec["qc"])
    total = np.asarray(adata.X.sum(axis=1)).ravel()
    assert (cells["qc_pass"].to_numpy() == (total >= 200_000)).all()
    assert (cells.loc[~cells["qc_pass"], "qc_reason"] == "low counts").all()


def test_no_mitochondrial_genes_no_mitochondrial_threshold(tms_qc, caplog):
    """The shipped TMS genes hold no mt- gene: the fraction is not measured (empty, not 0), no threshold is
    computed or applied, the verdict says so, and a configured threshold is reported as having nothing to act on."""
    out, verdict = tms_qc
    assert verdict["mitochondrial_genes"] == 0 and verdict["thresholds"]["max_mito_fraction"] is None
    cells = pd.read_csv(out / "cells.tsv", sep="\t", index_col="cell")
    assert cells["mito_fraction"].isna().all()
    planted = pd.DataFrame({"total_counts": [1000.0, 1200.0, 900.0], "n_genes": [300.0, 320.0, 280.0],
                            "mito_fraction": [0.01, 0.02, 0.9], "doublet_score": np.nan,
                            "predicted_doublet": False})  # SYNTHETIC cells, one with a mitochondrial fraction of 0.9
    opts = {"nmads": 5, "remove_doublets": False, "max_mito_fraction": 0.2}
    with caplog.at_level("WARNING", logger="lsecflow.qc_cells"):
        table = qc_cells.qc_calls(planted, opts, has_mito=False)
    assert table["qc_pass"].all() and table.attrs["thresholds"]["max_mito_fraction"] is None
    assert "qc.max_mito_fraction 0.2 has nothing to act on" in caplog.text
    table = qc_cells.qc_calls(planted, opts, has_mito=True)
    assert table["qc_reason"].tolist() == ["", "", "high mitochondrial fraction"]


def test_a_matrix_without_any_marker_gene_is_a_clear_error(tmp_path):
    """The real TMS cells with symbols the marker panel does not know (as a human panel against mouse genes, or
    ids where symbols were expected): before, the cluster calls crashed on an empty score table (pandas
    idxmax); now the QC job names the panel, its genes and the matrix's."""
    from lsecflow.errors import InputDataError

    ds = shipped_dataset("tms_liver")
    adata, _ = build_counts(ds.params())
    adata.var["symbol"] = "x" + adata.var["symbol"].astype(str)
    adata.write_h5ad(tmp_path / "counts.h5ad")
    tables = {"cells": "cells.tsv", "clusters": "clusters.tsv", "verdict": "verdict.json"}
    with pytest.raises(InputDataError, match=r"none of the \d+ genes of the marker panel .*mouse.tsv .* is among the "
                                             r"726 genes of the matrix \(symbols such as x.*qc.markers"):
        qc_cells.run_qc_single_cell(str(tmp_path / "counts.h5ad"), ds.params(), ds.spec["qc"]["markers"],
                                    *named(tmp_path, tables, ("cell_qc", "umap", "purity")), seed=0)
    assert not (tmp_path / "cells.tsv").exists()
