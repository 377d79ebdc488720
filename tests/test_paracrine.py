"""Paracrine factors: the shipped annotation, the priority score, the spike-in
positive control on the real DLPC counts, and LSEC -> receiver scores on the
real Tabula Muris Senis cells checked by hand."""
from __future__ import annotations

import copy
import filecmp
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import DLPC_COUNTS, REPO, TMS_H5AD, dlpc_dataset, tms_dataset
from lsecflow import lrdb, paracrine, receivers
from lsecflow.config import load_config, load_dataset
from lsecflow.errors import ConfigError, InputDataError
from lsecflow.synthetic import spike_counts

PARACRINE = REPO / "resources/paracrine"
AXIS = {"Mmp9": "protease/ECM regulator", "Tnf": "cytokine", "Cxcl1": "chemokine", "Icam1": "adhesion/contact"}


@pytest.fixture(scope="module")
def mouse_factors():
    return lrdb.load_factors(PARACRINE / "mouse.factors.tsv.gz")


def test_rebuild_is_byte_identical(tmp_path):
    proc = subprocess.run([sys.executable, str(PARACRINE / "build.py"), str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for species in ("mouse", "human"):
        for kind in ("factors", "pairs"):
            name = f"{species}.{kind}.tsv.gz"
            assert filecmp.cmp(tmp_path / name, PARACRINE / name, shallow=False), f"{name} differs from a rebuild"


@pytest.mark.parametrize("species", ["mouse", "human"])
def test_tnf_axis_classes_and_receptors(species):
    factors = lrdb.load_factors(PARACRINE / f"{species}.factors.tsv.gz")
    name = (lambda g: g) if species == "mouse" else str.upper
    for gene, cls in AXIS.items():
        assert factors.at[name(gene), "class"] == cls, (gene, factors.loc[name(gene)].to_dict())
    assert name("Tnfrsf1a") in factors.at[name("Tnf"), "receptors"].split(";")
    assert name("Cxcr2") in factors.at[name("Cxcl1"), "receptors"].split(";")
    assert factors.at[name("Tnf"), "secreted"] and factors.at[name("Tnf"), "n_sources"] >= 5
    # every class is used, and every row has at least one source
    assert set(factors["class"]) == set(lrdb.CLASSES)
    assert (factors["n_sources"] >= 1).all()
    assert (factors["sources"].str.len() > 0).all()


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


def test_pair_table_complexes_take_the_minimum():
    cand = pd.DataFrame({"rank": [1], "symbol": ["Tgfb1"], "class": ["growth factor"], "flagged": [True],
                         "log2FoldChange": [1.0]})
    pairs = pd.DataFrame({"ligand": ["Tgfb1"], "receptor": ["Tgfbr1_Tgfbr2"], "sources": ["x;y"], "n_sources": [2]})
    expr = pd.DataFrame({"fraction": [0.8, 0.3], "mean": [2.0, 1.0], "present": [True, False]},
                        index=["Tgfbr1", "Tgfbr2"])
    both = expr.assign(present=True)
    t = receivers.pair_table(cand, pairs, {"cells": expr, "empty": expr.iloc[:0], "both": both}).set_index("receiver")
    row = t.loc["cells"]
    assert row["receptor_fraction"] == 0.3 and row["receptor_mean"] == 1.0 and not row["present"]
    assert not t.loc["empty", "present"] and t.loc["empty", "receptor_fraction"] == 0.0
    assert bool(t.loc["both", "present"])


def test_receiver_table_with_non_numeric_value_is_named(tmp_path):
    path = tmp_path / "hepa16.tsv"
    path.write_text("gene\tr1\tr2\nTnfrsf1a\t10\t12\nCxcr2\tn/a\t3\n")
    with pytest.raises(InputDataError, match=r"column 'r1', gene 'Cxcr2': value 'n/a' is not a non-negative"):
        paracrine.read_receiver_table(path, "hepa16")


def test_single_cell_receivers_rejected_in_config(tmp_path):
    spec = tms_dataset(paracrine={"receivers": {"x": str(tmp_path / "x.tsv")}})
    with pytest.raises(ConfigError, match="paracrine.receivers' is for bulk data"):
        load_dataset("tms_liver", spec, "test", [REPO], {})


# ------------------------------------------------------------ positive control (real counts + planted spike)
def test_spike_counts_planted_truth():
    """The spike multiplies the expected count by ``fold``; zeros stay zero; seeded; no silent clipping."""
    counts = pd.DataFrame({"s1": [50, 0, 1_000_000 - 50], "s2": [20, 3, 1_000_000 - 23], "s3": [7, 7, 999_986]},
                          index=["g", "zero_in_s1", "rest"])
    draws = np.array([spike_counts(counts, ["g", "zero_in_s1"], ["s1", "s2"], fold=4, seed=k).to_numpy()
                      for k in range(400)])
    mean = draws.mean(axis=0)
    assert mean[0, 0] == pytest.approx(200, rel=0.03) and mean[0, 1] == pytest.approx(80, rel=0.05)
    assert (draws[:, 1, 0] == 0).all() and mean[1, 1] == pytest.approx(12, rel=0.1)
    assert (draws[:, :, 2] == counts["s3"].to_numpy()).all() and (draws[:, 2, :2] == counts.iloc[2, :2].to_numpy()).all()
    one = spike_counts(counts, ["g"], ["s1"], fold=4, seed=7)
    assert one.equals(spike_counts(counts, ["g"], ["s1"], fold=4, seed=7))
    with pytest.raises(KeyError, match="Nope"):
        spike_counts(counts, ["Nope"], ["s1"], fold=4, seed=0)
    with pytest.raises(ValueError, match="exceeds its library size"):
        spike_counts(counts, ["rest"], ["s1"], fold=4, seed=0)


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
    already_de = {g for g in AXIS if g in neg.index and neg.at[g, "padj"] < 0.05}
    flagged_neg = {g for g in AXIS if g in neg.index and neg.at[g, "flagged"]}
    # which ones the unmodified data already make DE (padj < 0.05): Icam1 and Cxcl1 (inflamed liver); Mmp9
    # (padj ~0.07) and Tnf (too few counts, filtered) are not flagged without the spike
    assert already_de == {"Icam1", "Cxcl1"}, neg.loc[[g for g in AXIS if g in neg.index], ["padj"]]
    assert flagged_neg == already_de

    pos = paracrine.rank_candidates(_dlpc_de(spiked, "disease_vs_chow"), mouse_factors, 0.05, **kw)
    top10 = pos[pos["flagged"]].head(10).set_index("symbol")
    print(pos.head(15)[["rank", "symbol", "class", "priority", "log2FoldChange", "padj"]].to_string())
    for gene in ("Mmp9", "Icam1", "Cxcl1"):
        assert gene in top10.index, f"{gene} not in the top 10"
        assert top10.at[gene, "class"] == AXIS[gene]
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


# ------------------------------------------------------------ single cell: LSEC -> receivers
@pytest.fixture(scope="module")
def tms_scores(tmp_path_factory):
    out = tmp_path_factory.mktemp("tms_paracrine")
    ds = load_dataset("tms_liver", tms_dataset(), "test", [REPO], {})
    scores = receivers.run_paracrine_receivers(str(TMS_H5AD), ds.params(), str(out / "receivers.tsv"),
                                        str(out / "expression.tsv.gz"), str(out / "receivers.png"), seed=0)
    return out, scores


def test_tms_scores_for_every_other_cell_type(tms_scores):
    out, scores = tms_scores
    lsec = "endothelial cell of hepatic sinusoid"
    cells = ad.read_h5ad(TMS_H5AD).obs["cell_type"].astype(str)
    assert set(scores["receiver"]) == set(cells.unique()) - {lsec}
    assert (scores["sender"] == lsec).all()
    # every receiver has expressed pairs, and liana ranked the sender's rows
    assert scores.groupby("receiver")["expressed"].sum().min() > 50
    # liana filters pairs by the same expression fraction: it ranks the expressed rows
    ranked = scores["liana_magnitude_rank"].notna()
    assert ranked[scores["expressed"]].mean() > 0.95, ranked[scores["expressed"]].mean()
    assert (out / "receivers.png").stat().st_size > 10_000


def test_tms_hgf_met_by_hand(tms_scores):
    """LSEC Hgf -> hepatocyte Met (angiocrine HGF, Ding et al. Nature 2010), from the raw counts by hand."""
    _, scores = tms_scores
    a = ad.read_h5ad(TMS_H5AD)
    X = a.X.toarray() if hasattr(a.X, "toarray") else np.asarray(a.X)
    ct = a.obs["cell_type"].astype(str).to_numpy()
    lsec, hep = ct == "endothelial cell of hepatic sinusoid", ct == "hepatocyte"
    hgf, met = list(a.var_names).index("Hgf"), list(a.var_names).index("Met")
    lognorm = np.log1p(X / X.sum(axis=1, keepdims=True) * 1e4)
    row = scores[(scores["ligand"] == "Hgf") & (scores["receptor"] == "Met") & (scores["receiver"] == "hepatocyte")]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["ligand_fraction"] == pytest.approx((X[lsec, hgf] > 0).mean())
    assert row["receptor_fraction"] == pytest.approx((X[hep, met] > 0).mean())
    assert row["ligand_mean"] == pytest.approx(lognorm[lsec, hgf].mean())
    assert row["receptor_mean"] == pytest.approx(lognorm[hep, met].mean())
    assert row["lr_product"] == pytest.approx(lognorm[lsec, hgf].mean() * lognorm[hep, met].mean())
    assert row["expressed"] and row["ligand_fraction"] > 0.3 and row["receptor_fraction"] > 0.3
    # a complex receptor takes its least-expressed subunit
    wnt = scores[(scores["ligand"] == "Wnt2") & (scores["receptor"] == "Fzd7_Lrp6") & (scores["receiver"] == "hepatocyte")]
    fz, lrp = list(a.var_names).index("Fzd7"), list(a.var_names).index("Lrp6")
    assert wnt.iloc[0]["receptor_fraction"] == pytest.approx(min((X[hep, fz] > 0).mean(), (X[hep, lrp] > 0).mean()))


def test_tms_receivers_ranked_by_specificity(tms_scores):
    """The figure's top rows are what the LSEC says specifically, not what every cell says: no ligand among
    its top 10 rows is expressed (count > 0) in more than 80 % of the cells of every cell type (B2m, App
    ...), and LSEC Hgf -> hepatocyte Met (angiocrine HGF) is among the hepatocytes' top 20 pairs."""
    from lsecflow.paracrine_plots import receiver_figure_pairs

    out, scores = tms_scores
    expr = pd.read_csv(out / "expression.tsv.gz", sep="\t")
    frac = expr.pivot(index="gene", columns="cell_type", values="fraction")
    everywhere = set(frac.index[(frac > 0.8).all(axis=1)])
    assert {"B2m", "H2-K1"} <= everywhere  # what the old magnitude ranking put first
    top10 = receiver_figure_pairs(scores, 10)
    ligands = {part for pair in top10 for part in pair.split(" → ")[0].split("_")}
    assert not ligands & everywhere, top10
    hep = scores[scores["expressed"] & (scores["receiver"] == "hepatocyte")].reset_index(drop=True)
    where = hep.index[(hep["ligand"] == "Hgf") & (hep["receptor"] == "Met")]
    assert len(where) == 1 and where[0] < 20, hep.head(25)[["ligand", "receptor", "specificity"]]
    # the order is the documented one: expressed first, then specificity (NATMI's weight), then magnitude
    shown = scores[scores["expressed"]]
    assert shown["specificity"].is_monotonic_decreasing
    row = scores[(scores["ligand"] == "Hgf") & (scores["receptor"] == "Met") & (scores["receiver"] == "hepatocyte")]
    mean = expr.pivot(index="gene", columns="cell_type", values="mean")
    lsec = "endothelial cell of hepatic sinusoid"
    expected = mean.at["Hgf", lsec] / mean.loc["Hgf"].sum() * mean.at["Met", "hepatocyte"] / mean.loc["Met"].sum()
    assert row.iloc[0]["specificity"] == pytest.approx(expected)
