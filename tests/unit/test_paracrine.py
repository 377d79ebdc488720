"""lsecflow.paracrine: the priority score by hand, flags and direction, receiver tables, the spike-in
positive control on the real DLPC counts (labelled synthetic spike), protein groups matched on any gene."""
from __future__ import annotations

import copy

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import (
    DLPC_COUNTS,
    PARACRINE,
    REPO,
    TNF_AXIS_CLASSES,
    dlpc_dataset,
    tms_dataset,
)
from lsecflow import lrdb, paracrine
from lsecflow.config import load_config, load_dataset
from lsecflow.errors import ConfigError
from lsecflow.synthetic import spike_counts


@pytest.fixture(scope="module")
def mouse_factors():
    return lrdb.load_factors(PARACRINE / "mouse.factors.tsv.gz")




def _dlpc_de(counts: pd.DataFrame, contrast: str) -> pd.DataFrame:
    from lsecflow import annotation
    from lsecflow.de import contrast_results, fit_model

    spec = load_config({"datasets": {"dlpc_liver": dlpc_dataset(DLPC_COUNTS)}}, roots=[REPO]).datasets["dlpc_liver"].spec
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t", dtype=str).set_index("sample")
    c = spec["contrasts"][contrast]
    ids = pd.Series(counts.index.str.split(".").str[0], index=counts.index)
    symbols = annotation.load_symbol_table(REPO / "resources/annotation/mouse.gene_symbols.tsv.gz")
    adata = ad.AnnData(X=counts.T.to_numpy(), obs=sheet.loc[counts.columns, ["Group"]],
                       var=pd.DataFrame({"gene_id": counts.index, "symbol": ids.map(symbols).fillna(ids).to_numpy()},
                                        index=counts.index))
    opts = dict(spec["de"], independent_filter_alpha=0.1, cooks_filter=True, independent_filter=True, shrink=False)
    dds = fit_model(adata, "~ Group", ["Group"], dict(opts, test="wald"), contrasts={contrast: c})
    return contrast_results(dds, c, opts)


def test_priority_score_by_hand():
    # |lfc| * min(-log10 padj, cap) * min(n, s)/s
    got = paracrine.priority_score([2.0, -3.0, 1.0, 1.0], [1e-4, 1e-30, 0.01, np.nan], [3, 6, 1, 4],
                                   padj_cap=10, evidence_saturation=3)
    assert got == pytest.approx([2 * 4 * 1, 3 * 10 * 1, 1 * 2 / 3, 0.0])


def test_rank_candidates_flags_and_direction(mouse_factors):
    de = pd.DataFrame({
        "gene_id": ["g1", "g2", "g3", "g4", "g5"],
        "symbol": ["Tnf", "Cxcl1", "Icam1", "Actb", "Mmp9"],
        "baseMean": [50, 500, 900, 1e5, 40],
        "log2FoldChange": [2.0, -1.5, 0.2, 3.0, 1.0],
        "pvalue": [1e-6, 1e-5, 0.5, 1e-20, 0.03],
        "padj": [1e-4, 1e-3, 0.7, 1e-18, 0.08],
    })
    both = paracrine.rank_candidates(de, mouse_factors, alpha=0.05)
    assert "Actb" not in set(both["symbol"])  # not an annotated factor
    assert list(both["symbol"][both["flagged"]]) == ["Tnf", "Cxcl1"]  # 2*4 = 8 > 1.5*3*(3/3) = 4.5
    assert list(both["rank"][:2]) == [1, 2] and both["rank"][2:].isna().all()
    up = paracrine.rank_candidates(de, mouse_factors, alpha=0.05, direction="up")
    assert list(up["symbol"][up["flagged"]]) == ["Tnf"]
    only = paracrine.rank_candidates(de, mouse_factors, alpha=0.1, classes=["protease/ECM regulator"])
    assert list(only["symbol"]) == ["Mmp9"] and bool(only["flagged"].iloc[0])


def test_single_cell_receivers_rejected_in_config(tmp_path):
    spec = tms_dataset(paracrine={"receivers": {"x": str(tmp_path / "x.tsv")}})
    with pytest.raises(ConfigError, match="paracrine.receivers' is for bulk data"):
        load_dataset("tms_liver", spec, "test", [REPO], {})


@pytest.mark.slow
def test_spike_in_positive_and_negative_control(mouse_factors):
    """Real DLPC counts, contrast disease_vs_chow. Spike: Mmp9, Tnf, Icam1, Cxcl1 raised four-fold in the
    Disease samples (synthetic, see lsecflow.synthetic.spike_counts). Negative control: the same contrast unmodified."""
    raw = pd.read_csv(DLPC_COUNTS, sep="\t", index_col=0).rename(columns={"Sample724": "Sample725"})
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t", dtype=str).set_index("sample")
    ids = {"Mmp9": "ENSMUSG00000017737", "Tnf": "ENSMUSG00000024401", "Icam1": "ENSMUSG00000037405",
           "Cxcl1": "ENSMUSG00000029380"}
    rows = {g: raw.index[raw.index.str.startswith(i + ".")][0] for g, i in ids.items()}
    disease = list(sheet.index[sheet["Group"] == "Disease"])
    spiked = spike_counts(raw, list(rows.values()), disease, fold=4, seed=1)
    par = copy.deepcopy(dlpc_dataset(DLPC_COUNTS).get("paracrine", {}))
    kw = dict(padj_cap=par.get("padj_cap", 10), evidence_saturation=par.get("evidence_saturation", 3))

    neg = paracrine.rank_candidates(_dlpc_de(raw, "disease_vs_chow"), mouse_factors, 0.05, **kw).set_index("symbol")
    already_de = {g for g in TNF_AXIS_CLASSES if g in neg.index and neg.at[g, "padj"] < 0.05}
    flagged_neg = {g for g in TNF_AXIS_CLASSES if g in neg.index and neg.at[g, "flagged"]}
    # which ones the unmodified data already make DE (padj < 0.05): Icam1 and Cxcl1 (inflamed liver); Mmp9
    # (padj ~0.07) and Tnf (too few counts, filtered) are not flagged without the spike
    assert already_de == {"Icam1", "Cxcl1"}, neg.loc[[g for g in TNF_AXIS_CLASSES if g in neg.index], ["padj"]]
    assert flagged_neg == already_de

    pos = paracrine.rank_candidates(_dlpc_de(spiked, "disease_vs_chow"), mouse_factors, 0.05, **kw)
    top10 = pos[pos["flagged"]].head(10).set_index("symbol")
    print(pos.head(15)[["rank", "symbol", "class", "priority", "log2FoldChange", "padj"]].to_string())
    for gene in ("Mmp9", "Icam1", "Cxcl1"):
        assert gene in top10.index, f"{gene} not in the top 10"
        assert top10.at[gene, "class"] == TNF_AXIS_CLASSES[gene]
        assert top10.at[gene, "log2FoldChange"] > 1.5
    # Tnf: 0-8 counts per whole-liver sample (mean ~2.4 at ~35 M reads). Four-fold gives a nominal p < 0.05
    # but DESeq2's independent filtering removes it (baseMean ~5), so it is NOT flagged: a limit of depth,
    # reported here rather than hidden. It stays in the table with its class and no rank.
    tnf = pos.set_index("symbol").loc["Tnf"]
    assert tnf["class"] == "cytokine" and tnf["log2FoldChange"] > 1 and tnf["pvalue"] < 0.05
    assert np.isnan(tnf["padj"]) and not tnf["flagged"]
    # The limit is depth, not the method: at 16-fold (baseMean ~14) Tnf passes independent filtering and is
    # flagged among the top 10 with its class (measured 2026-11-22: rank 7, padj 4e-4; at 8-fold, baseMean ~8.5,
    # p 3e-5, it is still filtered).
    strong = paracrine.rank_candidates(_dlpc_de(spike_counts(raw, list(rows.values()), disease, fold=16, seed=1),
                                                "disease_vs_chow"), mouse_factors, 0.05, **kw)
    tnf16 = strong[strong["flagged"]].head(10).set_index("symbol")
    assert "Tnf" in tnf16.index and tnf16.at["Tnf", "class"] == "cytokine", strong.head(12)


def test_protein_groups_match_factors_on_any_gene():
    """A protein group of several genes is a candidate when any of its genes is an annotated factor; a factor
    that also has a group of its own keeps that one (real annotation table, a SYNTHETIC 4-row DE table)."""
    from lsecflow.lrdb import load_factors
    from lsecflow.paracrine import rank_candidates

    factors = load_factors(REPO / "resources/paracrine/human.factors.tsv.gz")
    de = pd.DataFrame({"gene_id": ["P1", "P2", "P3", "P4"], "symbol": ["YBR1;EGF", "TNF", "YCR2", "CXCL8;XX1"],
                       "AveExpr": 20.0, "log2FoldChange": [1.5, 1.2, 0.1, -1.0], "pvalue": [1e-6, 1e-5, 0.5, 1e-4],
                       "padj": [1e-5, 1e-4, 0.6, 1e-3]})
    cand = rank_candidates(de, factors, 0.05)
    assert set(cand["symbol"]) == {"EGF", "TNF", "CXCL8"} and cand.set_index("symbol").at["EGF", "gene_id"] == "P1"
    both = pd.concat([de, de.iloc[[0]].assign(gene_id="P5", symbol="EGF")], ignore_index=True)
    cand = rank_candidates(both, factors, 0.05)
    assert (cand["symbol"] == "EGF").sum() == 1 and cand.set_index("symbol").at["EGF", "gene_id"] == "P5"
