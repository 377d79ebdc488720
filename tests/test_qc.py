"""QC on the real data: bulk metrics/outliers/purity (DLPC) and single-cell
clusters and LSEC identity (Tabula Muris Senis)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO
from lsecflow import qc, qc_cells
from lsecflow.config import load_config
from lsecflow.ingest import build_counts


def shipped(name: str, **qc_overrides):
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    spec = yaml.safe_load((REPO / cfg["datasets"][name]).read_text())
    spec.setdefault("qc", {}).update(qc_overrides)
    return load_config({"datasets": {name: spec}}, roots=[REPO]).datasets[name]


def named(folder, tables: dict[str, str], figures) -> tuple[dict[str, str], dict[str, str]]:
    """The named outputs a QC rule passes: table name -> file in ``folder``, figure kind -> PNG."""
    return ({k: str(folder / f) for k, f in tables.items()}, {k: str(folder / f"{k}.png") for k in figures})


def run_bulk(tmp_path, ds, adata):
    path = tmp_path / "counts.h5ad"
    adata.write_h5ad(path)
    tables = {k: f"{k}.tsv" for k in ("samples", "correlation", "pca", "purity")} | {"verdict": "verdict.json"}
    verdict = qc.run_qc_bulk(str(path), ds.params(), ds.spec["qc"]["markers"],
                             *named(tmp_path, tables, ("metrics", "correlation", "pca", "purity")))
    return verdict, pd.read_csv(tmp_path / "samples.tsv", sep="\t", index_col="sample_id")


@pytest.fixture(scope="module")
def dlpc_declared_lsec(tmp_path_factory):
    """The real DLPC whole-liver samples, declared (wrongly) as isolated LSECs."""
    ds = shipped("dlpc_liver", sample_type="lsec")
    adata, _ = build_counts(ds.params())
    out = tmp_path_factory.mktemp("qc_dlpc")
    verdict, samples = run_bulk(out, ds, adata)
    return out, verdict, samples, adata


def test_whole_liver_is_hepatocyte_dominated_and_lsec_claim_is_refused(dlpc_declared_lsec):
    out, verdict, samples, _ = dlpc_declared_lsec
    assert (samples["dominant"] == "hepatocyte").all()
    assert (samples["share_hepatocyte"] > 0.9).all()
    assert verdict["contamination_warnings"] == sorted(samples.index)  # every sample warned
    assert samples["warning"].str.contains("declared LSEC but LSEC markers").all()
    for name in ("metrics", "correlation", "pca", "purity"):
        assert (out / f"{name}.png").stat().st_size > 10_000 and (out / f"{name}.svg").exists()
    purity = pd.read_csv(out / "purity.tsv", sep="\t", index_col="sample")
    shares = purity.filter(like="share_")
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)


def test_tissue_declaration_raises_no_contamination_warning(dlpc_declared_lsec, tmp_path):
    _, _, _, adata = dlpc_declared_lsec
    ds = shipped("dlpc_liver")  # shipped config: sample_type tissue
    verdict, samples = run_bulk(tmp_path, ds, adata)
    assert verdict["contamination_warnings"] == []
    assert not samples["warning"].str.contains("contaminated", na=False).any()


def test_unmodified_data_outliers_are_explained(dlpc_declared_lsec):
    """The real data flag one sample, Sample756, and the output says why: it
    carries gastric and intestinal transcripts (gut tissue in the sample)."""
    _, verdict, samples, _ = dlpc_declared_lsec
    assert verdict["outliers"] == ["Sample756"]
    reason = samples.at["Sample756", "outlier_reason"]
    assert "MADs" in reason and "most deviant genes" in reason
    assert any(g in reason for g in ("Muc6", "Tff2", "Gkn3"))
    assert not samples.at["Sample756", "excluded"]  # flagged, never dropped automatically


def test_planted_outlier_is_flagged(dlpc_declared_lsec, tmp_path):
    """Planted: Sample745's counts permuted across genes (seeded)."""
    _, verdict0, _, adata = dlpc_declared_lsec
    bad = adata.copy()
    i = list(bad.obs_names).index("Sample745")
    X = np.asarray(bad.X).copy()
    X[i] = np.random.default_rng(1).permutation(X[i])
    bad.X = X
    verdict, samples = run_bulk(tmp_path, shipped("dlpc_liver"), bad)
    assert "Sample745" in verdict["outliers"]
    assert samples.at["Sample745", "corr_z"] < -5
    assert set(verdict["outliers"]) - {"Sample745"} <= set(verdict0["outliers"])


def test_exclude_list_is_named_and_used_by_de(tmp_path):
    ds = shipped("dlpc_liver", exclude=["Sample756"])
    assert ds.spec["qc"]["exclude"] == ["Sample756"]
    with pytest.raises(Exception, match="qc.exclude.*'Sample999'"):
        shipped("dlpc_liver", exclude=["Sample999"])


@pytest.fixture(scope="module")
def tms_qc(tmp_path_factory):
    ds = shipped("tms_liver")
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
    ds = shipped("tms_liver", min_counts=200_000)
    adata, _ = build_counts(ds.params())
    cells = qc_cells.cell_qc(adata, ds.spec["qc"])
    total = np.asarray(adata.X.sum(axis=1)).ravel()
    assert (cells["qc_pass"].to_numpy() == (total >= 200_000)).all()
    assert (cells.loc[~cells["qc_pass"], "qc_reason"] == "low counts").all()
