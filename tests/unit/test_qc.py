"""lsecflow.qc: bulk QC on the real DLPC data (metrics, outliers explained, purity, the LSEC claim of a whole
liver refused, a planted outlier flagged, qc.exclude)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, named, shipped_dataset
from lsecflow import qc
from lsecflow.ingest import build_counts


def run_bulk(tmp_path, ds, adata):
    path = tmp_path / "counts.h5ad"
    adata.write_h5ad(path)
    tables = {k: f"{k}.tsv" for k in ("samples", "correlation", "pca", "purity")} | {"verdict": "verdict.json"}
    verdict = qc.run_qc_bulk(str(path), ds.params(), ds.spec["qc"]["markers"],
                             *named(tmp_path, tables, ("metrics", "correlation", "pca", "purity", "mean_variance")))
    return verdict, pd.read_csv(tmp_path / "samples.tsv", sep="\t", index_col="sample_id")


@pytest.fixture(scope="module")
def dlpc_declared_lsec(tmp_path_factory):
    """The real DLPC whole-liver samples, declared (wrongly) as isolated LSECs."""
    ds = shipped_dataset("dlpc_liver", sample_type="lsec")
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
    for name in ("metrics", "correlation", "pca", "purity", "mean_variance"):
        assert (out / f"{name}.png").stat().st_size > 10_000 and (out / f"{name}.svg").exists()
    purity = pd.read_csv(out / "purity.tsv", sep="\t", index_col="sample")
    shares = purity.filter(like="share_")
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)


def test_mean_variance_trend_is_vooms_on_the_design(dlpc_declared_lsec):
    """The QC figure's trend is voom's under the dataset's design on the pre-filtered genes: the same weights
    as R's voom (tests/data/voom, every 100th gene), read off the figure's line at each fitted value."""
    from test_voom import VOOM_REF

    _, _, _, adata = dlpc_declared_lsec
    ds = shipped_dataset("dlpc_liver")
    counts = pd.DataFrame(np.asarray(adata.X), index=adata.obs_names.astype(str), columns=adata.var_names)
    expressed = counts.loc[:, (counts >= 10).sum(axis=0) >= 3]
    v = qc.mean_variance(expressed, adata.obs, ds.params())
    ref = pd.read_csv(VOOM_REF / "voom_weights.tsv.gz", sep="\t")
    weights = pd.DataFrame(v.weights.T, index=expressed.index, columns=expressed.columns)
    ours = [weights.at[s, g] for g, s in zip(ref["gene_id"], ref["sample"])]
    np.testing.assert_allclose(ours, ref["weight"], rtol=1e-11)
    assert len(v.line[0]) == expressed.shape[1] == 15974


def test_tissue_declaration_raises_no_contamination_warning(dlpc_declared_lsec, tmp_path):
    _, _, _, adata = dlpc_declared_lsec
    ds = shipped_dataset("dlpc_liver")  # shipped config: sample_type tissue
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
    verdict, samples = run_bulk(tmp_path, shipped_dataset("dlpc_liver"), bad)
    assert "Sample745" in verdict["outliers"]
    assert samples.at["Sample745", "corr_z"] < -5
    assert set(verdict["outliers"]) - {"Sample745"} <= set(verdict0["outliers"])


def test_exclude_list_is_named_and_used_by_de(tmp_path):
    ds = shipped_dataset("dlpc_liver", exclude=["Sample756"])
    assert ds.spec["qc"]["exclude"] == ["Sample756"]
    with pytest.raises(Exception, match="qc.exclude.*'Sample999'"):
        shipped_dataset("dlpc_liver", exclude=["Sample999"])


def _reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REPO / "tests/data/deseq2_reference" / f"{name}.tsv.gz", sep="\t", index_col=0)


def test_blind_vst_matches_deseq2():
    """qc.vst_blind (the PCA's input) against R's vst(blind = TRUE), references by make_local_reference.R:
    the real DLPC counts (parametric trend on 1,000 genes sampled by mean; within 1e-4, the parametric GLM
    converging a little differently in inmoose) and SYNTHETIC counts whose dispersion rises with the mean
    (R's parametric trend fails and it switches to the local one; so does vst_blind, within 1e-8: 1.5e-13 with
    OpenBLAS's Haswell kernels, 1.3e-10 with its AVX-512 ones, OPENBLAS_CORETYPE=SkylakeX, on one machine)."""
    counts = pd.read_csv(REPO / "resources/data/dlpc_liver/counts.tsv.gz", sep="\t", index_col=0)
    counts = counts.rename(columns={"Sample724": "Sample725"}).sort_index(axis=1)
    counts = counts[(counts >= 10).sum(axis=1) >= 3]
    for samples_by_genes, name, tol in ((counts.T, "dlpc", 1e-4),
                                        (_reference("synthetic_rising_counts").T, "rising", 1e-8)):
        ref = _reference(f"deseq2_vst_blind_{name}")
        ours = qc.vst_blind(samples_by_genes).loc[ref.index, ref.columns]
        np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=0, atol=tol, err_msg=name)


def test_figures_colour_by_the_design_first_and_skip_identifier_columns():
    """An nf-core-style sheet (SYNTHETIC values): the design's variables come first (the first colours the
    metrics and correlation figures), a column naming each sample's file or fastq (every value different) and a
    column of one value get no PCA panel; other grouping columns do (the GEUVADIS salmon run drew a panel per
    quant.sf path)."""
    obs = pd.DataFrame({"sample": list("abcdef"), "fastq_1": [f"{s}_R1.fq.gz" for s in "abcdef"],
                        "strandedness": ["reverse"] * 6, "quant": [f"salmon/{s}/quant.sf" for s in "abcdef"],
                        "batch": list("xxyyzz"), "condition": list("ctctct"), "rin": list("787978")},
                       index=list("abcdef"))
    assert qc.figure_columns(obs, ["condition", "batch"]) == ["condition", "batch", "rin"]
    assert qc.figure_columns(obs, []) == ["batch", "condition", "rin"]
    assert qc.figure_columns(obs, ["fastq_1"]) == ["fastq_1", "batch", "condition", "rin"]  # a design column stays


def test_bulk_fractions_are_empty_not_zero_without_genes_of_their_kind(caplog):
    """A matrix without mitochondrial genes (the GEUVADIS RefSeq subset) gave mito_fraction 0 for every sample, a
    value never measured; it is now empty, the log says why, and the metrics panel says 'not measured'.
    SYNTHETIC counts."""
    counts = pd.DataFrame([[10, 5, 5, 80], [20, 0, 10, 70]], index=["s1", "s2"], columns=["g1", "g2", "g3", "g4"])
    with_mt = qc.bulk_metrics(counts, pd.Series(["mt-Co1", "Rpl3", "Alb", "Apoa1"], index=counts.columns))
    assert with_mt["mito_fraction"].tolist() == [0.1, 0.2] and with_mt["ribo_fraction"].tolist() == [0.05, 0.0]
    with caplog.at_level("WARNING"):
        none = qc.bulk_metrics(counts, pd.Series(["Co1", "Rpl3", "Alb", "Apoa1"], index=counts.columns))
    assert none["mito_fraction"].isna().all() and none["ribo_fraction"].tolist() == [0.05, 0.0]
    assert "no mitochondrial (mt-/MT-) gene among the 4 genes: mito_fraction not measured" in caplog.text
