"""lsecflow.nuisance: which design terms the QC PCA is drawn without, limma's removeBatchEffect against R
(tests/data/nuisance/make_reference.R), and a batch effect planted in the real DLPC counts taken out of the
PCA while the groups stay apart."""
from __future__ import annotations

import numpy as np
import pandas as pd
from helpers import REPO, named, pca_separation, shipped_dataset
from lsecflow import nuisance, qc
from lsecflow.edger_glm import log_cpm
from lsecflow.formula import design_matrix, design_metadata
from lsecflow.ingest import build_counts
from lsecflow.voom import effective_library_sizes
from test_voom import dlpc_filtered

REF = REPO / "tests/data/nuisance"
GROUP = {"c": {"variable": "Group", "target": "Disease", "reference": "Chow"}}


def test_the_terms_no_contrast_names_are_the_nuisance():
    assert nuisance.nuisance_terms("~ batch + Group", GROUP) == (["batch"], ["Group"])
    assert nuisance.nuisance_terms("~ Group", GROUP) == ([], ["Group"])
    assert nuisance.nuisance_terms("~ mouse + weight + Group", GROUP) == (["mouse", "weight"], ["Group"])
    assert nuisance.nuisance_terms("~ batch + Group + batch:Group", GROUP) == ([], ["Group", "batch", "batch:Group"])
    within = {"c": {**GROUP["c"], "within": {"sex": "F"}}}  # a column a contrast names is never removed
    assert nuisance.nuisance_terms("~ batch + sex + Group + sex:Group", within) == (["batch"],
                                                                                    ["Group", "sex", "sex:Group"])
    assert nuisance.nuisance_terms("~ a + b + a:b + Group", GROUP) == ([], ["Group", "a", "a:b", "b"])
    slope = {"s": {"variable": "weight"}}  # a slope's number is what it asks about: never removed
    assert nuisance.nuisance_terms("~ weight + batch", slope) == (["batch"], ["weight"])


def test_remove_batch_effect_equals_limmas():
    """removeBatchEffect(cpm(y, log = TRUE), batch, [covariates = weight], design = ~ Group) in R, on the first
    1,000 DLPC genes (batch and weight SYNTHETIC)."""
    counts, sheet = dlpc_filtered()
    x = counts.to_numpy(dtype=float)
    values = log_cpm(x, effective_library_sizes(x))[:1000]
    meta = design_metadata(sheet, ["Group", "batch"], GROUP)
    weight = pd.read_csv(REPO / "tests/data/deseq2_reference/synthetic_numeric_sheet.tsv.gz", sep="\t",
                         index_col="sample")["weight"]
    meta["weight"] = weight.loc[meta.index].to_numpy(dtype=float)
    design = np.asarray(design_matrix(meta, "~ Group"))
    for columns, name in ((["batch"], "batch"), (["batch", "weight"], "batch_weight")):
        ours = nuisance.remove_batch_effect(values, nuisance.nuisance_matrix(meta, columns), design)
        ref = pd.read_csv(REF / f"{name}.tsv.gz", sep="\t", index_col=0).loc[counts.index[:1000], counts.columns]
        np.testing.assert_allclose(ours, ref.to_numpy(), rtol=0, atol=1e-9, err_msg=name)
        assert np.abs(ours - values).max() > 0.5  # the removal moved something


def test_a_planted_batch_leaves_the_qc_pca_drawn_without_it(tmp_path):
    """The real DLPC counts with a SYNTHETIC batch effect planted (b2 samples: 3,000 genes x16 or /16), design
    ~ batch + Group: the QC PCA separates the batches, the second row (pca.tsv's corrected_ columns) does not,
    and the groups stay apart there."""
    ds = shipped_dataset("dlpc_liver")
    adata, _ = build_counts(ds.params())
    batch = pd.read_csv(REPO / "tests/data/deseq2_reference/synthetic_batch_sheet.tsv.gz", sep="\t",
                        index_col="sample")["batch"]
    adata.obs["batch"] = batch.reindex(adata.obs_names.astype(str)).to_numpy()
    expressed = np.flatnonzero((np.asarray(adata.X) >= 10).sum(axis=0) >= 3)
    genes = np.random.default_rng(7).choice(expressed, 3000, replace=False)
    b2 = (adata.obs["batch"] == "b2").to_numpy()
    X = np.asarray(adata.X, dtype=float)
    X[np.ix_(b2, genes)] *= np.where(np.arange(3000) % 2, 16.0, 1 / 16)
    adata.X = np.round(X).astype(np.int64)
    spec = {**ds.spec, "design": "~ batch + Group"}
    params = {**ds.params(), "spec": spec, "design_columns": ["batch", "Group"]}
    path = tmp_path / "counts.h5ad"
    adata.write_h5ad(path)
    tables = {k: f"{k}.tsv" for k in ("samples", "correlation", "pca", "purity")} | {"verdict": "verdict.json"}
    qc.run_qc_bulk(str(path), params, spec["qc"]["markers"],
                   *named(tmp_path, tables, ("metrics", "correlation", "pca", "purity", "mean_variance")))
    pca = pd.read_csv(tmp_path / "pca.tsv", sep="\t", index_col="sample").drop(index="variance_explained")
    obs = adata.obs.set_index(adata.obs_names.astype(str)).loc[pca.index]

    def separation(cols: list[str], by: str) -> float:
        return pca_separation(pca, obs, cols, by)

    raw, corrected = ["PC1", "PC2"], ["corrected_PC1", "corrected_PC2"]
    assert separation(raw, "batch") > 2.5  # the planted batch dominates the plain PCA
    assert separation(corrected, "batch") < 0.3 * separation(raw, "batch")
    assert separation(corrected, "Group") > separation(raw, "Group")  # the groups come out
    assert (tmp_path / "pca.png").stat().st_size > 10_000
