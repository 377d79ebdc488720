"""lsecflow.voom: edgeR's TMM factors and limma's voom weights against R (edgeR 3.40.2, limma 3.54.1) on the
real DLPC counts (tests/data/voom/make_reference.R), and voom's refusals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import REPO
from lsecflow import voom

VOOM_REF = REPO / "tests/data/voom"


def dlpc_filtered() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The DLPC counts as make_reference.R reads them (genes x samples, Sample724 renamed Sample725, >= 10
    counts in >= 3 samples, genes and samples sorted by id) and its sheet (Group, the SYNTHETIC batch)."""
    counts = pd.read_csv(REPO / "resources/data/dlpc_liver/counts.tsv.gz", sep="\t", index_col=0)
    sheet = pd.read_csv(REPO / "tests/data/deseq2_reference/synthetic_batch_sheet.tsv.gz", sep="\t", dtype=str)
    sheet = sheet.set_index("sample").sort_index()
    counts = counts.rename(columns={"Sample724": "Sample725"})[sheet.index]
    return counts[(counts >= 10).sum(axis=1) >= 3].sort_index(), sheet


def test_tmm_factors_match_edger():
    counts, _ = dlpc_filtered()
    ref = pd.read_csv(VOOM_REF / "norm_factors.tsv.gz", sep="\t", index_col=0).loc[counts.columns]
    assert (counts.sum(axis=0).to_numpy() == ref["lib_size"].to_numpy()).all()
    np.testing.assert_allclose(voom.tmm_factors(counts.to_numpy()), ref["norm_factor"], rtol=1e-12)
    assert ref["norm_factor"].max() / ref["norm_factor"].min() > 1.3  # factors that matter on these libraries


def test_voom_weights_and_log_cpm_match_r():
    counts, sheet = dlpc_filtered()
    x = counts.to_numpy(dtype=float)
    groups = sheet["Group"].to_numpy()
    design = np.column_stack([np.ones(len(groups))] + [groups == g for g in ("Disease", "Disease/Agonist")])
    v = voom.voom(x, design, x.sum(axis=0) * voom.tmm_factors(x))
    ref = pd.read_csv(VOOM_REF / "voom_weights.tsv.gz", sep="\t")
    rows, cols = counts.index.get_indexer(ref["gene_id"]), counts.columns.get_indexer(ref["sample"])
    assert len(ref) > 3000 and (rows >= 0).all() and (cols >= 0).all()
    np.testing.assert_allclose(v.weights[rows, cols], ref["weight"], rtol=1e-11)
    np.testing.assert_allclose(v.E[rows, cols], ref["E"], rtol=1e-12, atol=1e-12)
    # the trend is what weights are read from: sqrt(sd) falls with the count, as voom's plot shows
    assert v.line[1][0] > v.line[1][-1]


def test_tmm_of_identical_libraries_is_one_and_voom_needs_replicates():
    x = np.tile(np.arange(1, 51, dtype=float)[:, None], (1, 4))
    np.testing.assert_allclose(voom.tmm_factors(x), 1.0)
    with pytest.raises(ValueError, match="no residual degrees of freedom"):
        voom.voom(x, np.eye(4), x.sum(axis=0))
    with pytest.raises(ValueError, match="at least two genes"):
        voom.voom(x[:1], np.ones((4, 1)), x.sum(axis=0))


def test_tmm_of_samples_sharing_no_gene_is_r_s():
    """Samples a and b share no expressed gene (sparse pseudobulk): no log ratio, so edgeR's .calcFactorTMM returns 1
    (R's max() of nothing is -Inf) where numpy's max raised. R 4.2.2, edgeR 3.40.2:
    calcNormFactors(cbind(a = c(5,0,3,0,2), b = c(0,4,0,7,0), c = c(1,2,3,4,5))) = 1.1321357 1.1321357 0.7801947."""
    x = np.array([[5, 0, 1], [0, 4, 2], [3, 0, 3], [0, 7, 4], [2, 0, 5]], dtype=float)
    np.testing.assert_allclose(voom.tmm_factors(x), [1.1321357, 1.1321357, 0.7801947], rtol=1e-7)


def test_quality_weights_match_r():
    """voomWithQualityWeights (arrayWeights gene by gene, twice, around a weighted voom) against R: the sample
    weights, and the observation weights that are voom's times them. The QC outlier of DLPC (Sample756, gut
    transcripts) is among the down-weighted samples."""
    counts, sheet = dlpc_filtered()
    x = counts.to_numpy(dtype=float)
    groups = sheet["Group"].to_numpy()
    design = np.column_stack([np.ones(len(groups))] + [groups == g for g in ("Disease", "Disease/Agonist")])
    v = voom.voom_with_quality_weights(x, design.astype(float), x.sum(axis=0) * voom.tmm_factors(x))
    ref = pd.read_csv(VOOM_REF / "quality_weights.tsv.gz", sep="\t", index_col=0).loc[counts.columns, "weight"]
    np.testing.assert_allclose(v.sample_weights, ref, rtol=1e-12)
    weights = pd.Series(v.sample_weights, index=counts.columns)
    assert weights["Sample756"] < 0.5 and weights.idxmin() == "Sample725" and weights.max() > 2
    plain = voom.voom(x, design.astype(float), x.sum(axis=0) * voom.tmm_factors(x))
    assert not np.allclose(v.weights / v.sample_weights, plain.weights)  # voom itself was refitted with them
