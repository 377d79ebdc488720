"""lsecflow.limma_weights (limma's arrayWeights: gene by gene, REML, R's "auto" choice) and ``de.sample_weights``
for proteins, against R limma 3.54.1 on the real UPS1 spike-in (tests/data/limma/make_reference.R): the weights,
the weighted lmFit + eBayes, DEqMS and a block on the weighted fit, from the config through the DE entry point."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import LIMMA_REF, load_datasets, r_table, run_protein_de, ups1_dataset
from lsecflow import limma
from lsecflow.errors import ConfigError
from lsecflow.limma_weights import array_weights
from test_limma_block import ups1_inputs

WEIGHTS = pd.read_csv(LIMMA_REF / "ups1.array_weights.tsv", sep="\t", index_col=0)


def test_array_weights_match_r_gene_by_gene_and_reml():
    """method "auto" as R's: gene by gene on the matrix with missing values (rows with too few values skipped),
    REML on its complete rows; and the REML path drops incomplete rows itself, as R."""
    values, meta, _ = ups1_inputs()
    X = np.asarray(limma.design_matrix(meta, "~ group"))
    ref = WEIGHTS.loc[values.columns]
    E = values.to_numpy()
    np.testing.assert_allclose(array_weights(E, X), ref["genebygene"], rtol=1e-11)
    complete = E[~np.isnan(E).any(axis=1)]
    np.testing.assert_allclose(array_weights(complete, X), ref["reml"], rtol=1e-11)
    np.testing.assert_allclose(array_weights(E, X, method="reml"), ref["reml"], rtol=1e-11)
    assert not np.allclose(ref["genebygene"], ref["reml"], rtol=0.01)  # the two methods differ: both are checked


def run_ups1(tmp_path, **de) -> tuple[pd.DataFrame, dict]:
    """UPS1 with ``de`` options (and DEqMS's count column when asked) through the DE entry point, writing the
    sample weights (and the block file with a block): (the table, every file's path)."""
    spec = ups1_dataset(de=de)
    if de.get("deqms"):
        spec["proteomics"]["count_column"] = "Razor + unique peptides"
    files = {"sample_weights": str(tmp_path / "sample_weights.tsv")}
    if de.get("block"):
        files["block"] = str(tmp_path / "block.tsv")
    table, outputs = run_protein_de(tmp_path, spec, **files)
    return table, {**files, **outputs}


def test_sample_weights_from_the_config_match_r(tmp_path):
    """de.sample_weights for proteins: arrayWeights written, lmFit(weights) + eBayes as R's, the calls change
    (R: 95 against 84 unweighted), and the refits without each sample estimate the weights again."""
    ours, files = run_ups1(tmp_path, sample_weights=True)
    written = pd.read_csv(files["sample_weights"], sep="\t", index_col="sample")["weight"]
    np.testing.assert_allclose(written.loc[WEIGHTS.index], WEIGHTS["genebygene"], rtol=1e-9)  # as written
    ref = r_table("ups1.sample_weights.tsv.gz")
    ours = ours.loc[ref.index]
    for col, r_col in {"log2FoldChange": "logFC", "stat": "t", "s2_post": "s2_post"}.items():
        np.testing.assert_allclose(ours[col], ref[r_col], rtol=1e-8, err_msg=col)
    np.testing.assert_allclose(ours["pvalue"], ref["P.Value"], rtol=1e-8, atol=1e-14)
    assert ((ours["padj"] < 0.05) == (ref["adj.P.Val"] < 0.05)).all() and int((ours["padj"] < 0.05).sum()) == 95
    loo = pd.read_csv(files["loo"], sep="\t")
    assert loo["left_out"].nunique() == 6 and loo["padj"].notna().all()


@pytest.mark.parametrize("de, reference, calls", [
    ({"deqms": True}, "ups1.sample_weights_deqms.tsv.gz", 99),
    ({"block": "replicate"}, "ups1.sample_weights_block.tsv.gz", 99),
])
def test_sample_weights_with_deqms_or_a_block_match_r(tmp_path, de, reference, calls):
    """The weighted fit under DEqMS's prior, and with a block (duplicateCorrelation reading the weights, GLS with
    both), as R's."""
    ours, files = run_ups1(tmp_path, sample_weights=True, **de)
    ref = r_table(reference)
    ours = ours.loc[ref.index]
    t_col, p_col, adj_col = ("sca_t", "sca_P", "sca_adj") if "deqms" in de else ("t", "P.Value", "adj.P.Val")
    np.testing.assert_allclose(ours["stat"], ref[t_col], rtol=1e-8)
    np.testing.assert_allclose(ours["pvalue"], ref[p_col], rtol=1e-8, atol=1e-14)
    assert ((ours["padj"] < 0.05) == (ref[adj_col] < 0.05)).all() and int((ours["padj"] < 0.05).sum()) == calls
    if "block" in de:
        block = pd.read_csv(files["block"], sep="\t")
        assert block.loc[0, "correlation"] == pytest.approx(ref["consensus"].iloc[0], rel=1e-8)


def test_robust_fit_refuses_sample_weights():
    with pytest.raises(ConfigError, match=r"key 'de.sample_weights' does not go with de.lm_method: robust"):
        load_datasets({"d": ups1_dataset(de={"sample_weights": True, "lm_method": "robust"})})
