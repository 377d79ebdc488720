"""lsecflow.limma_block (``de.block``: limma's duplicateCorrelation and lmFit(block, correlation)) against R limma
3.54.1 / statmod 1.5.0 (tests/data/limma/make_block_reference.R): the real UPS1 spike-in blocked by its replicate
column (missing values), and DLPC counts through voom with a SYNTHETIC planted litter effect; the parse-time
checks of the key."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import DLPC_COUNTS, LIMMA_REF, REPO, dlpc_dataset, load_datasets, run_protein_de, ups1_dataset
from lsecflow import limma, limma_block
from lsecflow.de_files import BLOCK_COLUMNS, OUTPUT_KINDS
from lsecflow.de_voom import voom_tables
from lsecflow.errors import ConfigError
from lsecflow.formula import design_metadata
from test_de_voom import CONTRASTS
from test_limma import UPS1_CONTRAST, ups1_fit
from test_voom import dlpc_filtered

CONSENSUS = pd.read_csv(LIMMA_REF / "block_consensus.tsv", sep="\t", index_col=0)["consensus"]


def ups1_inputs():
    """The UPS1 median matrix of the limma references, its meta and the sheet's replicate column."""
    _, pre, _, _ = ups1_fit()
    sheet = pd.read_csv(REPO / "config/samples/ups1_spikein.tsv", sep="\t", dtype=str).set_index("sample")
    sheet = sheet.loc[pre.values.columns]
    return pre.values, design_metadata(sheet, ["group"], UPS1_CONTRAST), sheet["replicate"].rename("replicate")


def planted_litters() -> tuple[pd.DataFrame, pd.Series]:
    """The DLPC counts of the voom references with make_block_reference.R's SYNTHETIC litter effect: samples in id
    order in litters L1-L4 in turn, gene i's counts in litter k times 2^(0.5 sin(1.7 i + 2.3 k)), rounded."""
    counts, _ = dlpc_filtered()
    k = np.arange(counts.shape[1]) % 4 + 1
    i = np.arange(1, counts.shape[0] + 1)
    planted = np.round(counts.to_numpy() * 2 ** (0.5 * np.sin(1.7 * i[:, None] + 2.3 * k[None, :])))
    return (pd.DataFrame(planted.astype(np.int64), index=counts.index, columns=counts.columns),
            pd.Series([f"L{j}" for j in k], index=counts.columns, name="litter"))


def test_duplicate_correlation_matches_r_on_ups1():
    """Each protein's atanh correlation (REML per missing-value pattern) and the trimmed consensus as R's."""
    values, meta, replicate = ups1_inputs()
    ref = pd.read_csv(LIMMA_REF / "ups1.block_replicate.tsv.gz", sep="\t", index_col=0)
    X = np.asarray(limma.design_matrix(meta, "~ group"))
    dc = limma_block.duplicate_correlation(values.loc[ref.index].to_numpy(), X, replicate.to_numpy())
    assert np.array_equal(np.isnan(dc.atanh), ref["atanh_cor"].isna().to_numpy())
    assert int(np.isfinite(dc.atanh).sum()) == 1433 < len(ref)  # 37 proteins with too few values, as R
    np.testing.assert_allclose(dc.atanh, ref["atanh_cor"], rtol=1e-9, atol=1e-11)
    assert dc.consensus == pytest.approx(CONSENSUS["ups1_replicate"], rel=1e-10)


def test_ups1_blocked_by_replicate_from_the_config_matches_r(tmp_path):
    """de.block through load_config, ingest and the proteomics entry point: R's lmFit(block, correlation) +
    eBayes table (missing values: GLS on each protein's observed samples), the block file, refits without each
    sample re-estimating the correlation."""
    ours, outputs = run_protein_de(tmp_path, ups1_dataset(de={"block": "replicate"}),
                                   block=str(tmp_path / "block.tsv"))
    ref = pd.read_csv(LIMMA_REF / "ups1.block_replicate.tsv.gz", sep="\t", index_col=0)
    ours = ours.loc[ref.index]
    for col, r_col in {"log2FoldChange": "logFC", "stat": "t", "s2_post": "s2_post", "df_total": "df_total",
                       "AveExpr": "AveExpr"}.items():
        np.testing.assert_allclose(ours[col], ref[r_col], rtol=1e-8, err_msg=col)
    np.testing.assert_allclose(ours["pvalue"], ref["P.Value"], rtol=1e-8, atol=1e-14)
    assert ((ours["padj"] < 0.05) == (ref["adj.P.Val"] < 0.05)).all() and int((ours["padj"] < 0.05).sum()) == 84
    block = pd.read_csv(tmp_path / "block.tsv", sep="\t")
    assert list(block.columns) == BLOCK_COLUMNS
    assert block.loc[0, ["block", "blocks", "samples", "features"]].tolist() == ["replicate", 3, 6, 1433]
    assert block.loc[0, "correlation"] == pytest.approx(CONSENSUS["ups1_replicate"], rel=1e-8)  # as written
    loo = pd.read_csv(outputs["loo"], sep="\t")
    assert loo["left_out"].nunique() == 6 and loo["padj"].notna().all()


@pytest.fixture(scope="module")
def litters():
    counts, litter = planted_litters()
    meta = design_metadata(dlpc_filtered()[1], ["Group"], CONTRASTS)
    contrast = {"DiseaseAgonist_vs_Chow": CONTRASTS["DiseaseAgonist_vs_Chow"]}
    symbols = pd.Series("x", index=counts.index)
    blocked = voom_tables(counts, meta, "~ Group", contrast, {"lfc_threshold": 0.0}, symbols, litter)
    ignored = voom_tables(counts, meta, "~ Group", contrast, {"lfc_threshold": 0.0}, symbols)
    return counts, litter, meta, blocked, ignored


def test_voom_with_blocks_matches_r(litters):
    """limma's recipe (voom, duplicateCorrelation, voom(block, correlation), duplicateCorrelation, lmFit(block,
    correlation), eBayes) on the planted litters: both rounds' consensus, every statistic and the calls as R's."""
    _, _, _, blocked, _ = litters
    assert blocked.block.rounds == pytest.approx((CONSENSUS["voom_litter_round1"], CONSENSUS["voom_litter_round2"]),
                                                 rel=1e-10)
    assert blocked.block.correlation == blocked.block.rounds[-1] and blocked.block.genes == 15974
    ref = pd.read_csv(LIMMA_REF / "voom_block_litter.tsv.gz", sep="\t", index_col=0)
    ours = blocked.tables["DiseaseAgonist_vs_Chow"].set_index("gene_id").loc[ref.index]
    for col, r_col in {"log2FoldChange": "logFC", "AveExpr": "AveExpr", "stat": "t", "B": "B", "s2_post": "s2_post",
                       "df_total": "df_total"}.items():
        np.testing.assert_allclose(ours[col], ref[r_col], rtol=1e-8, err_msg=col)
    np.testing.assert_allclose(ours["pvalue"], ref["P.Value"], rtol=1e-8, atol=1e-14)
    assert ((ours["padj"] < 0.05) == (ref["adj.P.Val"] < 0.05)).all() and int((ours["padj"] < 0.05).sum()) == 624


def test_quality_weights_with_blocks_match_r(litters):
    """de.sample_weights with de.block: the recipe with voomWithQualityWeights (arrayWeights ignores blocks; both
    voom fits by GLS with the sample weights), as R's: rounds, sample weights, the table and the calls."""
    counts, litter, meta, _, _ = litters
    res = voom_tables(counts, meta, "~ Group", {"c": CONTRASTS["DiseaseAgonist_vs_Chow"]},
                      {"lfc_threshold": 0.0, "sample_weights": True}, pd.Series("x", index=counts.index), litter)
    assert res.block.rounds == pytest.approx((CONSENSUS["voomqw_litter_round1"], CONSENSUS["voomqw_litter_round2"]),
                                             rel=1e-10)
    weights = pd.read_csv(LIMMA_REF / "voomqw_block_litter_weights.tsv", sep="\t", index_col=0)["weight"]
    np.testing.assert_allclose(res.sample_weights.loc[weights.index], weights, rtol=1e-10)
    ref = pd.read_csv(LIMMA_REF / "voomqw_block_litter.tsv.gz", sep="\t", index_col=0)
    ours = res.tables["c"].set_index("gene_id").loc[ref.index]
    for col, r_col in {"log2FoldChange": "logFC", "stat": "t", "B": "B", "s2_post": "s2_post"}.items():
        np.testing.assert_allclose(ours[col], ref[r_col], rtol=1e-8, err_msg=col)
    np.testing.assert_allclose(ours["pvalue"], ref["P.Value"], rtol=1e-8, atol=1e-14)
    assert ((ours["padj"] < 0.05) == (ref["adj.P.Val"] < 0.05)).all() and int((ours["padj"] < 0.05).sum()) == 1568


def test_blocks_recover_the_calls_a_planted_litter_effect_hides(litters):
    """Planted truth: the litter effect (SYNTHETIC) added to the real counts costs calls when ignored; blocking
    gives most of them back. The reference is the calls on the unplanted counts."""
    counts, _, meta, blocked, ignored = litters
    clean = voom_tables(dlpc_filtered()[0], meta, "~ Group", {"c": CONTRASTS["DiseaseAgonist_vs_Chow"]},
                        {"lfc_threshold": 0.0}, pd.Series("x", index=counts.index)).tables["c"]
    truth = set(clean.loc[clean["padj"] < 0.05, "gene_id"])
    found = {name: set(t.loc[t["padj"] < 0.05, "gene_id"]) & truth
             for name, t in (("blocked", blocked.tables["DiseaseAgonist_vs_Chow"]),
                             ("ignored", ignored.tables["DiseaseAgonist_vs_Chow"]))}
    print(f"of {len(truth)} calls on the unplanted counts: {len(found['blocked'])} found with blocks, "
          f"{len(found['ignored'])} without")
    assert len(found["blocked"]) > 2 * len(found["ignored"])


def test_design_test_with_blocks_matches_r(litters):
    """de.test: lrt under blocks: the moderated F of both Group coefficients uses the blocked fit's
    cov.coefficients ((X' C^-1 X)^-1), as R's topTable(coef = <both>)."""
    counts, litter, meta, _, _ = litters
    res = voom_tables(counts, meta, "~ Group", {"c": CONTRASTS["DiseaseAgonist_vs_Chow"]},
                      {"lfc_threshold": 0.0, "test": "lrt", "reduced": "~ 1"}, pd.Series("x", index=counts.index),
                      litter)
    ref = pd.read_csv(LIMMA_REF / "voom_block_litter.tsv.gz", sep="\t", index_col=0)
    f = res.design_test.set_index("gene_id").loc[ref.index]
    np.testing.assert_allclose(f["stat"], ref["F"], rtol=1e-8)
    np.testing.assert_allclose(f["pvalue"], ref["F.P.Value"], rtol=1e-8, atol=1e-14)


def test_glmgam_batched_equals_one_at_a_time():
    """The vectorised Levenberg-damped gamma GLM iterates each problem as alone (REML problems of the litters)."""
    counts, litter = planted_litters()
    rng = np.random.default_rng(1)
    d = np.sort(rng.gamma(2.0, 2.0, size=(40, 12)), axis=1)
    X = np.stack([np.ones_like(d), d], axis=2)
    y = (0.5 + 0.3 * d) * rng.gamma(0.5, 2.0, size=d.shape)
    start = np.column_stack([y.mean(axis=1), np.zeros(40)])
    together = limma_block.glmgam_fit(X, y, start)
    alone = np.vstack([limma_block.glmgam_fit(X[i:i + 1], y[i:i + 1], start[i:i + 1]) for i in range(40)])
    np.testing.assert_array_equal(together, alone)
    assert np.isfinite(together).all()


def test_limmas_zero_correlation_cases_are_said():
    """Blocks of one sample each, or a block factor the design already holds: limma returns 0 (a warning); so does
    the port, with the reason in the note, never silently."""
    values = np.random.default_rng(0).normal(size=(50, 6))
    X = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1]])
    single = limma_block.duplicate_correlation(values, X, list("abcdef"))
    nested = limma_block.duplicate_correlation(values, X, list("aaabbb"))
    assert (single.consensus, nested.consensus) == (0.0, 0.0)
    assert "single sample" in single.note and "already in the design" in nested.note


def _sheet_with(tmp_path, **columns) -> str:
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t", dtype=str)
    for name, values in columns.items():
        sheet[name] = values
    path = tmp_path / "sheet.tsv"
    sheet.to_csv(path, sep="\t", index=False)
    return str(path)


@pytest.mark.parametrize("de, columns, error", [
    ({"block": "litter"}, {"litter": [f"L{i % 4}" for i in range(20)]}, None),
    ({"block": "mouse"}, {}, r"key 'de.block': column 'mouse' is not in sample sheet .*sheet.tsv \(columns: sample, "
                             r"Group\)"),
    ({"block": "Group"}, {}, r"column 'Group' is in the design '~ Group' \(a fixed effect\)"),
    ({"block": "litter"}, {"litter": [""] + [f"L{i % 4}" for i in range(19)]},
     r"sample\(s\) Sample720 have no value in column 'litter'"),
    ({"block": "litter"}, {"litter": ["L1 "] + [f"L{i % 4}" for i in range(19)]},
     r"column 'litter' \(de.block\): sample 'Sample720' has 'L1 ', with leading/trailing whitespace"),
    ({"block": "litter"}, {"litter": ["l1"] + [f"L{i % 4}" for i in range(19)]},
     r"column 'litter' \(de.block\) has levels that differ only in case: 'L1', 'l1'"),
    ({"block": "litter"}, {"litter": [f"m{i}" for i in range(20)]}, r"every value of column 'litter' .* is a "
                                                                     r"different block"),
    ({"block": "litter"}, {"litter": [f"m{max(i, 1)}" for i in range(20)]}, r"makes 19 blocks of 20 samples"),
    ({"block": "litter"}, {"litter": None}, r"already told apart by the design"),  # litter = Group's levels
    ({"block": "litter", "sample_weights": True}, {"litter": [f"L{i % 4}" for i in range(20)]}, None),
])
def test_block_is_checked_at_parse_time(tmp_path, de, columns, error):
    """de.block (voom here): the column, its values and the design checked before any job, each refusal naming
    the key, the column, the file or the sample."""
    if columns.get("litter", 0) is None:
        sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t", dtype=str)
        columns = {"litter": ("x" + sheet["Group"]).tolist()}
    spec = dlpc_dataset(DLPC_COUNTS, _sheet_with(tmp_path, **columns), de={"engine": "voom", **de})
    if error is None:
        assert load_datasets({"d": spec}).datasets["d"].spec["de"]["block"] == "litter"
    else:
        with pytest.raises(ConfigError, match=error):
            load_datasets({"d": spec})


def test_proteomics_robust_lmfit_refuses_a_block():
    """Proteins: R's robust lmFit ignores a block, so the pair is refused at parse time."""
    with pytest.raises(ConfigError, match=r"does not go with de.lm_method: robust \(limma's robust lmFit ignores a "
                                          r"block\)"):
        load_datasets({"d": ups1_dataset(de={"block": "replicate", "lm_method": "robust"})})


def test_deqms_on_a_blocked_fit_matches_r(tmp_path):
    """de.deqms with de.block: DEqMS's prior on the GLS fit's residual variances (spectraCounteBayes of
    lmFit(block, correlation)), as R's."""
    spec = ups1_dataset(de={"block": "replicate", "deqms": True})
    spec["proteomics"]["count_column"] = "Razor + unique peptides"
    ours, _ = run_protein_de(tmp_path, spec)
    ref = pd.read_csv(LIMMA_REF / "ups1.block_replicate_deqms.tsv.gz", sep="\t", index_col=0)
    ours = ours.loc[ref.index]
    np.testing.assert_allclose(ours["stat"], ref["sca_t"], rtol=1e-8)
    np.testing.assert_allclose(ours["pvalue"], ref["sca_P"], rtol=1e-8, atol=1e-14)
    assert ((ours["padj"] < 0.05) == (ref["sca_adj"] < 0.05)).all() and int((ours["padj"] < 0.05).sum()) == 94


def test_deseq2_refuses_a_block(tmp_path):
    spec = dlpc_dataset(DLPC_COUNTS, _sheet_with(tmp_path, litter=[f"L{i % 4}" for i in range(20)]),
                        de={"block": "litter"})
    with pytest.raises(ConfigError, match=r"de.block is limma's random block effect \(DESeq2 has none: put the "
                                          r"column in the design\)"):
        load_datasets({"d": spec})


def test_a_cell_type_whose_blocks_cannot_be_estimated_is_skipped_not_fatal(tms_pseudobulk, tmp_path):
    """Pseudobulk (real TMS LSECs, voom): a block column that leaves fewer blocks than samples less one gives limma
    no correlation to estimate; that cell type is skipped with the reason (as for too few samples), its block file
    header only, while a bulk fit with the same problem stops with the same message."""
    import anndata as ad
    from lsecflow.de_voom import run_de_voom
    from lsecflow.errors import InputDataError

    ds, folder, _ = tms_pseudobulk
    slug = next(iter(ds.cell_types))  # LSECs
    pb = ad.read_h5ad(folder / "pb.h5ad")
    lsec = pb.obs["cell_type"].astype(str) == ds.cell_types[slug]
    samples = list(pb.obs.loc[lsec, "sample"].astype(str))
    pb.obs["litter"] = pb.obs["sample"].astype(str).replace({samples[1]: samples[0]})  # one pair, the rest single
    pb.write_h5ad(tmp_path / "pb.h5ad")
    params = ds.params()
    params["spec"] = dict(params["spec"], de=dict(params["spec"]["de"], engine="voom", block="litter"))
    outs = {"old_vs_young": {k: str(tmp_path / f"o.{k}.tsv") for k in OUTPUT_KINDS}}
    res = run_de_voom(str(tmp_path / "pb.h5ad"), params, outs, cell_type=slug, block=str(tmp_path / "block.tsv"))
    assert res["old_vs_young"].empty
    status = pd.read_csv(outs["old_vs_young"]["summary"], sep="\t").iloc[0]["status"]
    assert status.startswith("skipped: de.block 'litter': no feature has enough observed samples in enough blocks")
    assert ds.cell_types[slug] in status
    assert pd.read_csv(tmp_path / "block.tsv", sep="\t").empty
    pb[lsec.to_numpy()].copy().write_h5ad(tmp_path / "lsec.h5ad")  # the same samples as one bulk dataset
    with pytest.raises(InputDataError, match="de.block 'litter': no feature has enough"):
        run_de_voom(str(tmp_path / "lsec.h5ad"), params, outs, cell_type=None)


def test_a_cell_type_in_a_single_block_is_skipped_with_the_reason(tms_pseudobulk, tmp_path):
    """Real TMS LSEC pseudobulk, voom, every sample in one litter (SYNTHETIC block column): R's
    duplicateCorrelation stops on a one-level factor; the cell type is skipped saying so (the numpy path raised a
    bare 'zero-size array' ValueError)."""
    import anndata as ad
    from lsecflow.de_voom import run_de_voom

    ds, folder, _ = tms_pseudobulk
    slug = next(iter(ds.cell_types))
    pb = ad.read_h5ad(folder / "pb.h5ad")
    pb.obs["litter"] = "L1"
    pb.write_h5ad(tmp_path / "pb.h5ad")
    params = ds.params()
    params["spec"] = dict(params["spec"], de=dict(params["spec"]["de"], engine="voom", block="litter"))
    outs = {"old_vs_young": {k: str(tmp_path / f"o.{k}.tsv") for k in OUTPUT_KINDS}}
    assert run_de_voom(str(tmp_path / "pb.h5ad"), params, outs, cell_type=slug,
                       block=str(tmp_path / "block.tsv"))["old_vs_young"].empty
    status = pd.read_csv(outs["old_vs_young"]["summary"], sep="\t").iloc[0]["status"]
    assert "de.block 'litter': all" in status and "samples are in one block ('L1')" in status, status
