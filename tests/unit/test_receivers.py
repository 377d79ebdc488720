"""lsecflow.receivers: pair tables (complexes take their weakest member) and LSEC -> receiver scores on the
real Tabula Muris Senis cells, checked by hand and ranked by specificity."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import REPO, TMS_H5AD, tms_dataset
from lsecflow import receivers
from lsecflow.config import load_dataset


# ------------------------------------------------------------ single cell: LSEC -> receivers
@pytest.fixture(scope="module")
def tms_scores(tmp_path_factory):
    out = tmp_path_factory.mktemp("tms_paracrine")
    ds = load_dataset("tms_liver", tms_dataset(), "test", [REPO], {})
    scores = receivers.run_paracrine_receivers(str(TMS_H5AD), ds.params(), str(out / "receivers.tsv"),
                                        str(out / "expression.tsv.gz"), str(out / "receivers.png"), seed=0)
    return out, scores


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
