"""Enrichment: reproduction of fgsea's published result, ORA, gene set checks."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from scipy.stats import spearmanr

from lsecflow import enrichment, genesets
from lsecflow.errors import InputDataError

FGSEA = Path(__file__).parent / "data/fgsea_gse14308"


@pytest.fixture(scope="module")
def fgsea_run():
    rnk = pd.read_csv(FGSEA / "naive.vs.th1.rnk.gz", sep="\t", dtype={"ID": str})
    ranking = pd.Series(rnk["t"].to_numpy(), index=rnk["ID"].to_numpy())
    ranking = ranking.sort_values(ascending=False, kind="stable")
    sets = genesets.read_gmt(FGSEA / "mouse.reactome.gmt.gz")
    ours = enrichment.gsea(ranking, sets, min_size=15, max_size=500, permutations=2000, seed=1, threads=2)
    ours["pathway"] = ours["set"].str.split("_", n=1).str[0]
    ref = pd.read_csv(FGSEA / "fgsea_res.tsv.gz", sep="\t", dtype={"pathway": str})
    return ours.set_index("pathway"), ref.set_index("pathway")


@pytest.mark.slow
def test_reproduces_published_fgsea(fgsea_run):
    ours, ref = fgsea_run
    both = ours.index.intersection(ref.index)
    assert len(both) == len(ref) == len(ours)  # same size filter, same sets tested
    rho = spearmanr(ours.loc[both, "NES"], ref.loc[both, "NES"]).statistic
    top_ref = ref.assign(a=-ref["NES"].abs()).sort_values(["padj", "a"]).index[:10]
    top_ours = ours.assign(a=-ours["NES"].abs()).sort_values(["padj", "a"]).index[:20]
    sig_ours, sig_ref = set(ours.index[ours["padj"] < 0.05]), set(ref.index[ref["padj"] < 0.05])
    jaccard = len(sig_ours & sig_ref) / len(sig_ours | sig_ref)
    print(f"Spearman NES {rho:.4f}; top-10 in top-20: {len(set(top_ref) & set(top_ours))}/10; "
          f"Jaccard padj<0.05 {jaccard:.3f} ({len(sig_ours)} vs {len(sig_ref)})")
    assert rho >= 0.99
    assert set(top_ref) <= set(top_ours)
    assert jaccard >= 0.9
    assert (ours["size"] == ref.loc[ours.index, "size"]).all()


def test_ranking_collapses_duplicates_deterministically():
    table = pd.DataFrame({"gene_id": ["g3", "g1", "g2", "g4", "g5"], "symbol": ["A", "A", "B", "C", "A"],
                          "stat": [2.0, -5.0, 1.0, np.nan, 5.0]})
    r = enrichment.ranking_from_de(table)
    assert list(r.index) == ["B", "A"] and r["A"] == -5.0  # |5| tie: smallest gene id (g1) wins; sorted by score
    assert r.equals(enrichment.ranking_from_de(table.iloc[::-1]))


def test_ora_matches_hypergeometric_by_hand():
    universe = [f"g{i}" for i in range(100)]
    sets = {"S": [f"g{i}" for i in range(20)], "T": [f"g{i}" for i in range(50, 80)]}
    res = enrichment.ora([f"g{i}" for i in range(10)] + ["g50"], universe, sets, min_size=5).set_index("set")
    from scipy.stats import hypergeom

    assert res.at["S", "overlap"] == 10 and res.at["T", "overlap"] == 1
    assert res.at["S", "pval"] == pytest.approx(hypergeom.sf(9, 100, 20, 11))
    assert res.at["S", "expected"] == pytest.approx(11 * 20 / 100)


def write_gmt(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, match", [
    ("", "empty GMT"),
    ("SET_A\tdesc\n", "line 1: a GMT line needs"),
    ("SET_A\tdesc\tMmp9\nSET_A\tdesc\tTnf\n", "line 2: gene set 'SET_A' defined twice"),
    ("\tdesc\tMmp9\n", "line 1: empty gene set name"),
])
def test_malformed_gmt(tmp_path, text, match):
    with pytest.raises(InputDataError, match=match):
        genesets.read_gmt(write_gmt(tmp_path / "bad.gmt", text))


def test_species_mismatch_is_refused():
    human = genesets.read_gmt(REPO / "resources/genesets/human_h.all.v7.1.symbols.gmt.gz")
    with pytest.raises(InputDataError, match="look human.*dataset is mouse"):
        genesets.check_species(human, "mouse", "human_h.all")
    genesets.check_species(genesets.read_gmt(REPO / "resources/genesets/mouse_h.all.v7.1.symbols.gmt.gz"),
                           "mouse", "mouse_h.all")


def test_shipped_collections_match_manifest(tmp_path):
    folder = REPO / "resources/genesets"
    manifest = genesets.load_manifest(folder)
    assert set(manifest["collection"]) == {"hallmark", "reactome_pid_naba", "go_bp", "matrisome", "lsec_tnf_axis"}
    for row in manifest.itertuples():
        path = genesets.shipped_collection(folder, row.collection, row.species)
        assert len(genesets.read_gmt(path)) > 0
    # a modified file is caught
    (tmp_path / "manifest.tsv").write_text((folder / "manifest.tsv").read_text())
    for f in folder.glob("*.gmt.gz"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    with gzip.open(tmp_path / "mouse_h.all.v7.1.symbols.gmt.gz", "at") as fh:
        fh.write("EXTRA\tx\tMmp9\n")
    with pytest.raises(InputDataError, match="sha256 differs"):
        genesets.shipped_collection(tmp_path, "hallmark", "mouse")
    curated = genesets.read_gmt(genesets.shipped_collection(folder, "lsec_tnf_axis", "mouse"))
    assert curated["LSEC_TNF_IGAP_AXIS_HOANG2022"] == ["Il23a", "Tnf", "Mmp9", "Icam1", "Cxcl1", "Cxcl2"]
