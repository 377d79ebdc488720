"""lsecflow.de: differential expression against R DESeq2 1.38.3 on the real DLPC data (references made by
tests/data/deseq2_reference/make_reference.R): Wald, two-factor, LRT, shrinkage, invariance to things that
carry no information, and one fit writing every contrast (bulk and pseudobulk of the real Tabula Muris Senis)."""
from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO, assert_like_r, shipped_dataset
from lsecflow import de, de_files, enrichment
from lsecflow import pseudobulk as pb
from lsecflow.config import load_config
from lsecflow.errors import LsecflowError
from lsecflow.ingest import build_counts

REF = REPO / "tests/data/deseq2_reference"




def reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{name}.tsv.gz", sep="\t", index_col=0)


@pytest.fixture(scope="module")
def dlpc():
    """The shipped DLPC dataset and its counts (real data, 53,700 genes x 20 samples)."""
    ds = shipped_dataset("dlpc_liver")
    adata, _ = build_counts(ds.params())
    return ds, adata


@pytest.fixture(scope="module")
def dlpc_fit(dlpc):
    """One fit of '~ Group' serves all three contrasts."""
    ds, adata = dlpc
    return de.fit_model(adata, ds.spec["design"], ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)


CONTRASTS = {  # lsecflow contrast -> DESeq2 reference table
    "disease_vs_chow": "Disease_vs_Chow",
    "agonist_vs_chow": "DiseaseAgonist_vs_Chow",
    "agonist_vs_disease": "DiseaseAgonist_vs_Disease",
}


def assert_matches_deseq2(res: pd.DataFrame, ref: pd.DataFrame, label: str, lfc_r: float = 0.99999) -> None:
    """log2FC r >= lfc_r over all tested genes (a p-value in both), identical padj < 0.05 sets, the same
    p-value and padj NA pattern."""
    ref = ref.reindex(res.index)
    assert ref.index.equals(res.index) and ref["baseMean"].notna().all(), label
    both = res["pvalue"].notna() & ref["pvalue"].notna()
    r = np.corrcoef(res.loc[both, "log2FoldChange"], ref.loc[both, "log2FoldChange"])[0, 1]
    ours, theirs = set(res.index[res["padj"] < 0.05]), set(ref.index[ref["padj"] < 0.05])
    print(f"{label}: r={r:.8f} over {int(both.sum())} tested genes, {len(ours)} vs {len(theirs)} at padj < 0.05")
    assert r >= lfc_r, label
    assert ours == theirs, f"{label}: {sorted(ours ^ theirs)[:10]}"
    assert int((res["pvalue"].isna() != ref["pvalue"].isna()).sum()) == 0, label
    assert int((res["padj"].isna() != ref["padj"].isna()).sum()) == 0, label


@pytest.fixture(scope="module")
def dlpc_batch(dlpc):
    """DLPC with the SYNTHETIC balanced batch column of make_reference.R (no real batch effect)."""
    ds, adata = dlpc
    sheet = pd.read_csv(REF / "synthetic_batch_sheet.tsv.gz", sep="\t", dtype=str).set_index("sample")
    adata = adata.copy()
    adata.obs["batch"] = sheet["batch"].reindex(adata.obs_names.astype(str)).to_numpy()
    assert adata.obs["batch"].notna().all()
    return ds, adata


def _dlpc_variant(tmp_path, sheet: pd.DataFrame | None = None, counts_path: Path | None = None,
                  contrasts: dict | None = None):
    """The shipped DLPC dataset with its sheet, counts or contrasts replaced (files in tmp_path)."""
    from helpers import DLPC_COUNTS, DLPC_SHEET, dlpc_dataset

    sheet_path = DLPC_SHEET
    if sheet is not None:
        sheet_path = tmp_path / "sheet.tsv"
        sheet.to_csv(sheet_path, sep="\t", index=False)
    spec = dlpc_dataset(counts_path or DLPC_COUNTS, sheet_path)
    if contrasts is not None:
        spec["contrasts"] = contrasts
    ds = load_config({"datasets": {"d": spec}}, roots=[REPO]).datasets["d"]
    adata, _ = build_counts(ds.params())
    return ds, adata


def _tables(ds, adata) -> dict[str, pd.DataFrame]:
    dds = de.fit_model(adata, ds.spec["design"], ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)
    return {name: de.contrast_results(dds, c, ds.spec["de"]).set_index("gene_id").sort_index()
            for name, c in ds.contrasts.items()}


@pytest.fixture(scope="module")
def dlpc_tables(dlpc, dlpc_fit):
    ds, _ = dlpc
    return {name: de.contrast_results(dlpc_fit, c, ds.spec["de"]).set_index("gene_id").sort_index()
            for name, c in ds.contrasts.items()}


def _assert_same_calls(a: dict, b: dict, what: str) -> None:
    for name in a:
        x, y = a[name], b[name]
        assert x.index.equals(y.index), what
        assert set(x.index[x["padj"] < 0.05]) == set(y.index[y["padj"] < 0.05]), f"{what}: {name}"
        np.testing.assert_allclose(x["log2FoldChange"], y["log2FoldChange"], atol=1e-6, err_msg=f"{what}: {name}")
        assert np.array_equal(x["padj"].isna(), y["padj"].isna()), f"{what}: {name}"




def _outputs(tmp_path, contrasts=("old_vs_young",)) -> dict:
    return {c: {k: str(tmp_path / f"{c}.{k}.tsv{'.gz' if k in ('normalized', 'vst') else ''}")
                for k in de_files.OUTPUT_KINDS} for c in contrasts}


def test_size_factors_and_dispersions_match_deseq2(dlpc_fit):
    dds = dlpc_fit
    sf = reference("deseq2_size_factors")["size_factor"]
    np.testing.assert_allclose(np.asarray(dds.sizeFactors, dtype=float), sf.reindex(dds.obs_names).to_numpy(),
                               rtol=1e-10)
    disp = reference("deseq2_dispersions")["dispersion"]
    assert len(disp) == dds.n_vars == 15974  # same gene filter
    ours = pd.Series(dds.var["dispersion"].to_numpy(dtype=float), index=dds.var_names)
    np.testing.assert_allclose(ours.to_numpy(), disp.reindex(ours.index).to_numpy(), rtol=1e-4)


@pytest.mark.parametrize("contrast", list(CONTRASTS))
def test_contrast_matches_deseq2(dlpc, dlpc_fit, contrast):
    ds, _ = dlpc
    res = de.contrast_results(dlpc_fit, ds.contrasts[contrast], ds.spec["de"]).set_index("gene_id")
    assert_matches_deseq2(res, reference(f"deseq2_{CONTRASTS[contrast]}"), contrast)
    assert (res["symbol"].notna()).all() and res.index.is_unique
    assert (res["padj"].dropna() >= res["pvalue"][res["padj"].notna()] - 1e-15).all()


def test_fold_change_threshold_matches_deseq2(dlpc, dlpc_fit):
    """de.lfc_threshold 1 is DESeq2's results(lfcThreshold = 1): H0 |log2FC| <= 1, its stat, p-values,
    independent filtering and calls (not a cut on the fold changes of the test against 0)."""
    ds, _ = dlpc
    opts = dict(ds.spec["de"], lfc_threshold=1.0)
    res = de.contrast_results(dlpc_fit, ds.contrasts["disease_vs_chow"], opts).set_index("gene_id")
    ref = reference("deseq2_lfc1_Disease_vs_Chow").reindex(res.index)
    assert_matches_deseq2(res, ref, "lfcThreshold 1")
    both = res["pvalue"].notna() & ref["pvalue"].notna()
    # one gene's fit differs from R's by 3.5e-4 in log2FC (the port's optimiser, as in the Wald tables): 1.6e-4 in stat
    np.testing.assert_allclose(res.loc[both, "stat"], ref.loc[both, "stat"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(res.loc[both, "pvalue"], ref.loc[both, "pvalue"], rtol=1e-3, atol=1e-12)
    assert int((res.loc[both, "stat"] == 0).sum()) == int((ref.loc[both, "stat"] == 0).sum()) > 15000  # |LFC| <= 1
    plain = de.contrast_results(dlpc_fit, ds.contrasts["disease_vs_chow"], ds.spec["de"]).set_index("gene_id")
    cut = set(plain.index[(plain["padj"] < 0.05) & (plain["log2FoldChange"].abs() > 1)])
    tested = set(res.index[res["padj"] < 0.05])
    assert tested < cut  # the test is stricter than cutting the test against 0 at |log2FC| > 1


def test_two_factor_design_matches_deseq2(dlpc_batch):
    ds, adata = dlpc_batch
    dds = de.fit_model(adata, "~ batch + Group", ["batch", "Group"], ds.spec["de"], contrasts=ds.contrasts)
    for contrast, ref in CONTRASTS.items():
        res = de.contrast_results(dds, ds.contrasts[contrast], ds.spec["de"]).set_index("gene_id")
        assert_matches_deseq2(res, reference(f"deseq2_batch_{ref}"), f"~ batch + Group, {contrast}")


def test_lrt_matches_deseq2(dlpc_batch):
    ds, adata = dlpc_batch
    opts = dict(ds.spec["de"], test="lrt", reduced="~ batch")
    dds = de.fit_model(adata, "~ batch + Group", ["batch", "Group"], opts, contrasts=ds.contrasts)
    res = de.lrt_results(dds, opts).set_index("gene_id")
    ref = reference("deseq2_lrt_Group")
    # DESeq2's LRT takes Cook's distances from the dispersion step's means, not the full fit's (as the Wald
    # test does); before lsecflow.deseq2.nbinomLRT ported that, Anxa10 and ENSMUSG00000024972 sat on the
    # other side of the cutoff
    assert_matches_deseq2(res, ref, "LRT ~ batch + Group vs ~ batch")
    stat = ref["stat"].reindex(res.index)
    ok = res["pvalue"].notna() & ref["pvalue"].reindex(res.index).notna()
    assert np.corrcoef(res.loc[ok, "stat"], stat[ok])[0, 1] > 0.99999
    close = np.isclose(res.loc[ok, "stat"], stat[ok], rtol=1e-5, atol=1e-6)
    print(f"LRT statistic within rtol 1e-5: {int(close.sum())} of {int(ok.sum())}")
    assert close.mean() > 0.999, int((~close).sum())  # the rest: fits at the iteration limit
    # every contrast table of an LRT fit carries the LRT's p-values (DESeq2's results(contrast=) after an LRT)
    one = de.contrast_results(dds, ds.contrasts["agonist_vs_disease"], opts).set_index("gene_id")
    np.testing.assert_array_equal(one["pvalue"].reindex(res.index).to_numpy(), res["pvalue"].to_numpy())


def test_fit_type_mean_and_poscounts_match_deseq2(dlpc):
    """DESeq(fitType = "mean", sfType = "poscounts"): the config keys de.fit_type and de.size_factors."""
    ds, adata = dlpc
    opts = dict(ds.spec["de"], fit_type="mean", size_factors="poscounts")
    dds = de.fit_model(adata, ds.spec["design"], ds.design_columns, opts, contrasts=ds.contrasts)
    res = de.contrast_results(dds, ds.contrasts["disease_vs_chow"], opts).set_index("gene_id")
    assert_matches_deseq2(res, reference("deseq2_mean_poscounts_Disease_vs_Chow"), "fitType mean, sfType poscounts")


def test_normal_shrinkage_matches_lfcshrink(dlpc, dlpc_fit):
    ds, _ = dlpc
    opts = dict(ds.spec["de"], shrink="normal")
    for contrast, ref_name in CONTRASTS.items():
        res = de.contrast_results(dlpc_fit, ds.contrasts[contrast], opts).set_index("gene_id")
        plain = de.contrast_results(dlpc_fit, ds.contrasts[contrast], ds.spec["de"]).set_index("gene_id")
        pd.testing.assert_frame_equal(res[plain.columns], plain)  # MLE columns and p-values untouched
        ref = reference(f"deseq2_shrink_normal_{ref_name}").reindex(res.index)
        both = res["log2FoldChange_shrunk"].notna() & ref["log2FoldChange"].notna()
        assert both.sum() == ref["log2FoldChange"].notna().sum()
        r = np.corrcoef(res.loc[both, "log2FoldChange_shrunk"], ref.loc[both, "log2FoldChange"])[0, 1]
        print(f"lfcShrink normal {contrast}: r={r:.8f}")
        assert r >= 0.999
        np.testing.assert_allclose(res.loc[both, "log2FoldChange_shrunk"], ref.loc[both, "log2FoldChange"], atol=1e-4)
        np.testing.assert_allclose(res.loc[both, "lfcSE_shrunk"], ref.loc[both, "lfcSE"], atol=1e-4)


def test_normal_prior_variance_matches_deseq2(dlpc_fit):
    """R: priorInfo(lfcShrink(dds, contrast = c("Group", "Disease", "Chow"), type = "normal"))$betaPriorVar
    gives 0.1892616 for every Group level (printed by DESeq2 1.38.3 on this data)."""
    from lsecflow.shrink import normal_prior_variance

    assert normal_prior_variance(dlpc_fit) == pytest.approx({"Group": 0.1892616}, rel=1e-6)


def test_apeglm_prior_keeps_strong_effects(dlpc, dlpc_fit):
    """Scd1 in agonist_vs_disease: the apeGLM-type MAP, started at the MLE, keeps its sign and stays within 0.5."""
    ds, _ = dlpc
    opts = dict(ds.spec["de"], shrink="apeglm")
    res = de.contrast_results(dlpc_fit, ds.contrasts["agonist_vs_disease"], opts)
    scd1 = res[res["symbol"] == "Scd1"].iloc[0]
    print(f"Scd1: MLE {scd1['log2FoldChange']:.3f}, shrunk {scd1['log2FoldChange_shrunk']:.3f}")
    assert scd1["log2FoldChange"] < -2 and scd1["padj"] < 0.05
    assert np.sign(scd1["log2FoldChange_shrunk"]) == np.sign(scd1["log2FoldChange"])
    assert abs(scd1["log2FoldChange_shrunk"] - scd1["log2FoldChange"]) < 0.5
    for name, contrast in ds.contrasts.items():
        res = de.contrast_results(dlpc_fit, contrast, opts)
        ok = res["log2FoldChange"].notna()
        assert res.loc[ok, "log2FoldChange_shrunk"].notna().all(), name
        mle, post = res.loc[ok, "log2FoldChange"], res.loc[ok, "log2FoldChange_shrunk"]
        assert (post.abs() <= mle.abs() + 1e-6).mean() > 0.95, name
        sig = res.loc[ok, "padj"] < 0.05
        assert (np.sign(post[sig]) == np.sign(mle[sig])).all(), name  # never flips a call's direction


def test_apeglm_prior_lowers_error_on_planted_truth():
    """SYNTHETIC: 3,000 genes x 4 vs 4 samples, negative binomial counts with a DESeq2-like dispersion trend;
    90 % of genes have no effect, 10 % a log2 fold change drawn from N(0, 2). The shrunk estimates' mean
    squared error against the truth is below the MLE's."""
    rng = np.random.default_rng(11)
    genes, n = 3000, 8
    true = np.where(rng.random(genes) < 0.1, rng.normal(0, 2, genes), 0.0)
    base = np.exp(rng.uniform(np.log(5), np.log(2000), genes))
    disp = 0.05 + 2 / base
    group = np.array(["ctrl"] * 4 + ["case"] * 4)
    sf = rng.uniform(0.7, 1.4, n)
    mu = base[None, :] * sf[:, None] * np.where(group[:, None] == "case", 2.0 ** true[None, :], 1.0)
    counts = rng.negative_binomial(1 / disp[None, :], 1 / (1 + disp[None, :] * mu))
    ids = [f"g{i}" for i in range(genes)]
    adata = ad.AnnData(X=counts.astype(np.int64), obs=pd.DataFrame({"cond": group}, index=[f"s{i}" for i in range(n)]),
                       var=pd.DataFrame({"gene_id": ids, "symbol": ids}, index=ids))
    opts = {"min_count": 0, "min_samples": 1, "alpha": 0.05, "independent_filter_alpha": 0.1, "lfc_threshold": 0,
            "cooks_filter": True, "independent_filter": True, "shrink": "apeglm", "fit_type": "parametric",
            "size_factors": "ratio", "test": "wald"}
    contrast = {"variable": "cond", "target": "case", "reference": "ctrl"}
    dds = de.fit_model(adata, "~ cond", ["cond"], opts, contrasts={"c": contrast})
    res = de.contrast_results(dds, contrast, opts).set_index("gene_id")
    truth = pd.Series(true, index=ids).reindex(res.index)
    ok = res["log2FoldChange"].notna()
    mse_mle = float(((res.loc[ok, "log2FoldChange"] - truth[ok]) ** 2).mean())
    mse_shrunk = float(((res.loc[ok, "log2FoldChange_shrunk"] - truth[ok]) ** 2).mean())
    print(f"SYNTHETIC planted truth: MSE MLE {mse_mle:.4f}, apeglm-type {mse_shrunk:.4f}")
    assert mse_shrunk < 0.8 * mse_mle
    strong = ok & (truth.abs() > 3)
    assert strong.sum() > 20 and (np.sign(res.loc[strong, "log2FoldChange_shrunk"]) == np.sign(truth[strong])).all()


def test_invariant_to_sheet_row_order(tmp_path, dlpc_tables):
    from helpers import DLPC_SHEET

    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str)
    shuffled = sheet.sample(frac=1, random_state=3).iloc[::-1]
    assert not shuffled["sample"].equals(sheet["sample"])
    _assert_same_calls(dlpc_tables, _tables(*_dlpc_variant(tmp_path, sheet=shuffled)), "sheet rows shuffled")


def test_invariant_to_level_names(tmp_path, dlpc, dlpc_tables):
    """'Disease/Agonist' -> 'Agonist' (moved 2310057J18Rik under pydeseq2) and 'Chow' -> 'zz_chow' (the base
    level now sorts last by name)."""
    from helpers import DLPC_SHEET

    ds, _ = dlpc
    names = {"Disease/Agonist": "Agonist", "Chow": "zz_chow"}
    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str)
    sheet["Group"] = sheet["Group"].replace(names)
    contrasts = {n: {**c, "target": names.get(c["target"], c["target"]),
                     "reference": names.get(c["reference"], c["reference"])} for n, c in ds.contrasts.items()}
    _assert_same_calls(dlpc_tables, _tables(*_dlpc_variant(tmp_path, sheet=sheet, contrasts=contrasts)),
                       "levels renamed")


def test_invariant_to_matrix_column_order(tmp_path, dlpc_counts, dlpc_tables):
    import gzip

    path = tmp_path / "counts.reordered.tsv.gz"
    with gzip.open(path, "wt") as fh:
        dlpc_counts[list(reversed(dlpc_counts.columns))].to_csv(fh, sep="\t")
    _assert_same_calls(dlpc_tables, _tables(*_dlpc_variant(tmp_path, counts_path=path)), "matrix columns reversed")


def test_pseudobulk_lsec_old_vs_young(tms_pseudobulk, tmp_path):
    ds, folder, _ = tms_pseudobulk
    slug = next(iter(ds.cell_types))  # LSECs come first
    assert ds.cell_types[slug] == ds.spec["single_cell"]["lsec_label"]
    out = _outputs(tmp_path)["old_vs_young"]
    res = de.run_de(str(folder / "pb.h5ad"), ds.params(rule="de"), _outputs(tmp_path), cell_type=slug)["old_vs_young"]
    table = pd.read_csv(folder / "pb.tsv", sep="\t")
    n_lsec = int(table[(table["cell_type"] == ds.cell_types[slug]) & table["kept"]].shape[0])
    written = pd.read_csv(out["table"], sep="\t")
    assert list(written.columns[:8]) == de_files.RESULT_COLUMNS
    tested = written["pvalue"].notna()
    assert tested.sum() > 50
    assert written.loc[tested, "log2FoldChange"].notna().all()
    assert (written["padj"].dropna() >= written.loc[written["padj"].notna(), "pvalue"] - 1e-15).all()
    summary = pd.read_csv(out["summary"], sep="\t")
    assert summary.loc[0, "tested"] == tested.sum()
    assert n_lsec >= 4 and len(res) == len(written)
    vst = pd.read_csv(out["vst"], sep="\t", index_col=0)
    norm = pd.read_csv(out["normalized"], sep="\t", index_col=0)
    assert vst.shape == norm.shape == (len(written), n_lsec)
    assert set(vst.index) == set(written["gene_id"]) and np.isfinite(vst.to_numpy()).all()


def test_one_fit_writes_every_contrast_and_the_lrt(dlpc, tmp_path):
    """run_de fits once: three contrasts share the normalised counts and VST; test: lrt adds its table."""
    ds, adata = dlpc
    path = tmp_path / "counts.h5ad"
    adata.write_h5ad(path)
    params = ds.params(rule="de")
    params["spec"] = dict(params["spec"], de=dict(params["spec"]["de"], test="lrt", reduced="~ 1"))
    outs = _outputs(tmp_path, list(ds.contrasts))
    lrt = {"table": str(tmp_path / "design.lrt.tsv"), "summary": str(tmp_path / "design.lrt.summary.tsv")}
    de.run_de(str(path), params, outs, lrt=lrt)
    first, *rest = outs.values()
    for other in rest:
        for kind in ("normalized", "vst"):
            assert Path(first[kind]).read_bytes() == Path(other[kind]).read_bytes()
    table = pd.read_csv(lrt["table"], sep="\t")
    summary = pd.read_csv(lrt["summary"], sep="\t").iloc[0]
    assert summary["status"] == "tested" and summary["significant"] == int((table["padj"] < 0.05).sum()) > 100
    assert summary["test"] == "LRT ~ Group vs ~ 1"
    one = pd.read_csv(first["table"], sep="\t").set_index("gene_id")
    np.testing.assert_allclose(one["pvalue"].reindex(table["gene_id"]).to_numpy(), table["pvalue"].to_numpy(),
                               equal_nan=True)
    # GSEA of an LRT contrast: the table's stat is the unsigned deviance, the ranking the contrast's Wald z
    assert (one["stat"].dropna() >= 0).all()
    ranking = enrichment.gsea_ranking(one.reset_index(), {"test": "lrt"})
    assert (ranking > 0).sum() > 1000 and (ranking < 0).sum() > 1000
    by_symbol = one.dropna(subset=["stat"]).drop_duplicates("symbol", keep=False).set_index("symbol")
    shared = by_symbol.index.intersection(ranking.index)
    np.testing.assert_allclose(ranking[shared], by_symbol.loc[shared, "log2FoldChange"] / by_symbol.loc[shared, "lfcSE"])


def test_design_with_a_covariate(tms_pseudobulk, tmp_path):
    """'~ sex + age_group' on LSEC pseudobulk: the covariate enters the model."""
    ds, folder, _ = tms_pseudobulk
    params = ds.params()
    params["spec"] = dict(params["spec"], design="~ sex + age_group")
    params["design_columns"] = ["sex", "age_group"]
    slug = next(iter(ds.cell_types))
    with_sex = de.run_de(str(folder / "pb.h5ad"), params, _outputs(tmp_path), cell_type=slug)["old_vs_young"]
    without = de.run_de(str(folder / "pb.h5ad"), ds.params(), _outputs(tmp_path), cell_type=slug)["old_vs_young"]
    merged = with_sex.set_index("gene_id").join(without.set_index("gene_id"), rsuffix="_1")
    assert not np.allclose(merged["log2FoldChange"], merged["log2FoldChange_1"])
    assert np.corrcoef(merged["log2FoldChange"], merged["log2FoldChange_1"])[0, 1] > 0.5


def test_cell_type_without_replicates_is_skipped_not_fatal(tms_pseudobulk, tmp_path):
    """min_cells 40: only plate 11 keeps LSECs (45 cells), so OLD has no LSEC
    pseudobulk sample; the unit is skipped with its reason, nothing raises."""
    ds, folder, _ = tms_pseudobulk
    params = ds.params()
    params["spec"] = dict(params["spec"], pseudobulk=dict(params["spec"]["pseudobulk"], min_cells=40))
    pb.run_pseudobulk(str(folder / "counts.h5ad"), params, str(tmp_path / "pb.h5ad"), str(tmp_path / "pb.tsv"))
    slug = next(iter(ds.cell_types))
    outs = _outputs(tmp_path)
    res = de.run_de(str(tmp_path / "pb.h5ad"), params, outs, cell_type=slug)["old_vs_young"]
    assert res.empty
    summary = pd.read_csv(outs["old_vs_young"]["summary"], sep="\t").iloc[0]
    assert summary["status"].startswith("skipped: contrast 'old_vs_young': level 'OLD'")
    assert "endothelial cell of hepatic sinusoid" in summary["status"] and summary["tested"] == 0
    assert list(pd.read_csv(outs["old_vs_young"]["table"], sep="\t").columns) == de_files.RESULT_COLUMNS


def test_a_cell_type_where_every_gene_has_a_zero_needs_poscounts(tms_pseudobulk, tmp_path):
    """The real LSEC pseudobulk with one count per gene set to 0 (SYNTHETIC dropouts, seeded, a sample drawn per
    gene): DESeq2's median-of-ratios size factors cannot be computed (R stops: "every gene contains at least one
    zero"). The cell type is skipped with the fix in its status (de.size_factors: poscounts), and with poscounts
    it is fitted."""
    ds, folder, _ = tms_pseudobulk
    slug = next(iter(ds.cell_types))
    pbulk = ad.read_h5ad(folder / "pb.h5ad")
    rows = np.flatnonzero(pbulk.obs["cell_type"].astype(str) == ds.cell_types[slug])
    X = np.asarray(pbulk.X.toarray() if hasattr(pbulk.X, "toarray") else pbulk.X, dtype=float)
    X[np.random.default_rng(0).choice(rows, X.shape[1]), np.arange(X.shape[1])] = 0
    pbulk.X = X
    pbulk.write_h5ad(tmp_path / "pb.h5ad")
    outs = _outputs(tmp_path)
    assert de.run_de(str(tmp_path / "pb.h5ad"), ds.params(), outs, cell_type=slug)["old_vs_young"].empty
    status = pd.read_csv(outs["old_vs_young"]["summary"], sep="\t").loc[0, "status"]
    assert status.startswith("skipped: every one of the") and "set de.size_factors: poscounts" in status, status
    params = ds.params()
    params["spec"] = dict(params["spec"], de=dict(params["spec"]["de"], size_factors="poscounts"))
    res = de.run_de(str(tmp_path / "pb.h5ad"), params, outs, cell_type=slug)["old_vs_young"]
    assert len(res) > 300 and res["pvalue"].notna().mean() > 0.5


def test_a_local_trend_over_one_mean_is_refused_with_the_way_out():
    """SYNTHETIC: two genes with the same counts are the only ones above DESeq2's dispersion floor (the rest
    constant), so the local trend has one x to fit (R's locfit cannot either); the fit stops as an UnfittableFit
    (a pseudobulk cell type is skipped) naming de.fit_type: mean, where the numpy path divided by zero."""
    from lsecflow.de_options import de_defaults
    from lsecflow.errors import UnfittableFit

    X = np.full((6, 10), 100.0)
    X[:, 0] = X[:, 1] = [10, 200, 50, 400, 5, 300]
    obs = pd.DataFrame({"group": ["a"] * 3 + ["b"] * 3}, index=[f"s{i}" for i in range(6)])
    adata = ad.AnnData(X, obs=obs, var=pd.DataFrame({"symbol": [f"G{i}" for i in range(10)]},
                                                    index=[f"g{i}" for i in range(10)]))
    with pytest.raises(UnfittableFit, match="all 2 points have the same x.*de.fit_type: mean"):
        de.fit_model(adata, "~ group", ["group"], {**de_defaults(), "fit_type": "local"},
                     contrasts={"c": {"variable": "group", "target": "b", "reference": "a"}})


def test_numeric_covariate_matches_deseq2(tmp_path):
    """A design column declared numeric (``numeric: [weight]``) is one slope, as in R; the SYNTHETIC weight of
    make_reference.R (no real effect) on the real DLPC counts, through the config, ingest and one fit."""
    sheet = pd.read_csv(REF / "synthetic_numeric_sheet.tsv.gz", sep="\t", dtype=str)
    path = tmp_path / "sheet.tsv"
    sheet.to_csv(path, sep="\t", index=False)
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    spec = yaml.safe_load((REPO / "config/datasets/dlpc_liver.yaml").read_text())
    spec.update(design="~ weight + Group", numeric=["weight"])
    spec["samples"]["sheet"] = str(path)
    cfg["datasets"] = {"dlpc_liver": spec}
    ds = load_config(cfg, roots=[REPO]).datasets["dlpc_liver"]
    adata, _ = build_counts(ds.params())
    assert adata.obs["weight"].dtype == float
    dds = de.fit_model(adata, ds.spec["design"], ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)
    assert dds.obsm["design"].shape[1] == 4  # intercept, one slope, two Group levels
    res = de.contrast_results(dds, ds.contrasts["disease_vs_chow"], ds.spec["de"]).set_index("gene_id")
    assert_matches_deseq2(res, reference("deseq2_numeric_Disease_vs_Chow"), "~ weight + Group (numeric weight)")
    # the same fit's slope, R's results(name = "weight"); a few genes' fits end at the optimiser (close: 0.99)
    slope = de.contrast_results(dds, {"variable": "weight"}, ds.spec["de"])
    assert_like_r(slope, pd.read_csv(REPO / "tests/data/slope/deseq2_weight.tsv.gz", sep="\t", index_col=0),
                  "DESeq2 slope", r=0.99999, close=0.99)
    spec["numeric"] = []  # undeclared: refused, never silently 5 levels
    with pytest.raises(LsecflowError, match=r"holds numbers \(20, 21.5, 23, 24.5\).*'numeric: \[weight\]'.*"
                                            r"'categorical: \[weight\]'"):
        load_config(cfg, roots=[REPO])
