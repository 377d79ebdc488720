"""lsecflow.enrichment: GSEA reproducing fgsea's published result, multilevel p-values against exact
enumeration, ORA against the hypergeometric by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import REPO
from lsecflow import enrichment, genesets
from scipy.stats import spearmanr

FGSEA = REPO / "tests/data/fgsea_gse14308"


@pytest.fixture(scope="module", params=["multilevel", "permutation"])
def fgsea_run(request):
    """fgsea's published example run through lsecflow with the shipped defaults (1,000 permutations)."""
    rnk = pd.read_csv(FGSEA / "naive.vs.th1.rnk.gz", sep="\t", dtype={"ID": str})
    ranking = pd.Series(rnk["t"].to_numpy(), index=rnk["ID"].to_numpy())
    ranking = ranking.sort_values(ascending=False, kind="stable")
    sets = genesets.read_gmt(FGSEA / "mouse.reactome.gmt.gz")
    ours = enrichment.gsea(ranking, sets, min_size=15, max_size=500, permutations=1000, seed=1, threads=2,
                           method=request.param)
    ours["pathway"] = ours["set"].str.split("_", n=1).str[0]
    ref = pd.read_csv(FGSEA / "fgsea_res.tsv.gz", sep="\t", dtype={"pathway": str})
    return request.param, ours.set_index("pathway"), ref.set_index("pathway")


def _symmetric_ranking(n):
    """Synthetic (planted-truth) ranking: n genes, scores symmetric around 0, so P(ES > 0) = 1/2 exactly."""
    half = np.linspace(2, 0.05, n // 2)
    return pd.Series(np.r_[half, -half[::-1]], index=[f"g{i:04d}" for i in range(n)])


def _all_es(weights, positions):
    """Exact ES (weight 1) of every set given as a row of sorted positions."""
    n, k = len(weights), positions.shape[1]
    w = weights[positions]
    cw = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    misses = (positions - np.arange(k)) / (n - k)
    top, bottom = (cw - misses).max(axis=1), (cw - w / w.sum(axis=1, keepdims=True) - misses).min(axis=1)
    return np.where(top > -bottom, top, bottom)


@pytest.mark.slow
def test_reproduces_published_fgsea(fgsea_run):
    method, ours, ref = fgsea_run
    both = ours.index.intersection(ref.index)
    assert len(both) == len(ref) == len(ours)  # same size filter, same sets tested
    rho = spearmanr(ours.loc[both, "NES"], ref.loc[both, "NES"]).statistic
    top_ref = ref.assign(a=-ref["NES"].abs()).sort_values(["padj", "a"]).index[:10]
    top_ours = ours.assign(a=-ours["NES"].abs()).sort_values(["padj", "a"]).index[:20]
    sig_ours, sig_ref = set(ours.index[ours["padj"] < 0.05]), set(ref.index[ref["padj"] < 0.05])
    jaccard = len(sig_ours & sig_ref) / len(sig_ours | sig_ref)
    print(f"{method}: Spearman NES {rho:.4f}; top-10 in top-20: {len(set(top_ref) & set(top_ours))}/10; "
          f"Jaccard padj<0.05 {jaccard:.3f} ({len(sig_ours)} vs {len(sig_ref)})")
    assert rho >= 0.99
    assert set(top_ref) <= set(top_ours)
    assert jaccard >= 0.9
    assert (ours["size"] == ref.loc[ours.index, "size"]).all()


@pytest.mark.slow
def test_pvalues_resolve_below_the_permutation_bound(fgsea_run):
    """Multilevel (the default) goes below 1/(permutations+1) and agrees with fgsea where fgsea's p is precise."""
    method, ours, ref = fgsea_run
    bound = 1 / 1001
    if method == "permutation":
        assert ours["pval"].min() == pytest.approx(bound) and ours["log2err"].isna().all()
        return
    assert (ours["pval"] < bound).sum() >= 50, ours["pval"].nsmallest(5)
    assert ours["log2err"].notna().all() and (ours["log2err"] > 0).all()
    # fgsea saw no permutation as extreme for these: ~1/pval null sets, none as extreme, so the true p lies
    # below 3 x its pval (95 % upper bound of a zero count); most of them lie far below
    unresolved = ref.index[ref["nMoreExtreme"] == 0]
    ratio = ours.loc[unresolved, "pval"] / ref.loc[unresolved, "pval"]
    print(f"{len(unresolved)} sets fgsea left at its bound: ours / fgsea median {ratio.median():.2g}, max {ratio.max():.2g}")
    assert (ratio < 3).all() and ratio.median() < 0.1
    # where fgsea's p rests on >= 20 extreme permutations, the two estimates agree
    precise = ref.index[ref["nMoreExtreme"] >= 20]
    lr = np.log2(ours.loc[precise, "pval"] / ref.loc[precise, "pval"])
    print(f"log2(p ours / p fgsea) over {len(precise)} sets: median {lr.median():.3f}, sd {lr.std():.3f}")
    assert abs(lr.median()) < 0.15
    assert (lr.abs() > 1).mean() < 0.05


def test_multilevel_pvalues_match_exact_enumeration():
    """Planted truth: 40 genes, sets of 5 -> all 658,008 sets enumerated, exact p-values down to ~3e-6."""
    from itertools import combinations
    ranking = _symmetric_ranking(40)
    genes = ranking.index.to_numpy()
    positions = np.array(list(combinations(range(40), 5)))
    es = _all_es(np.abs(ranking.to_numpy()), positions)
    pos_es, neg_es = np.sort(es[es > 0]), np.sort(es[es < 0])
    order = np.argsort(-es, kind="stable")
    picks = {f"rank{r}": order[r] for r in (0, 1, 10, 100, 1000, 10000, 50000)}
    picks.update({f"bottom{r}": order[-1 - r] for r in (0, 50, 5000)})
    sets = {name: list(genes[positions[i]]) for name, i in picks.items()}
    res = enrichment.gsea(ranking, sets, min_size=5, max_size=5, permutations=1000, seed=0, eps=0).set_index("set")

    def exact(e):  # fgsea's p: P(ES >= e | ES > 0), or the negative mirror
        if e > 0:
            return (len(pos_es) - np.searchsorted(pos_es, e - 1e-12)) / len(pos_es)
        return np.searchsorted(neg_es, e + 1e-12, side="right") / len(neg_es)

    res["exact"] = [exact(es[picks[s]]) for s in res.index]
    assert np.allclose(res["ES"], [es[picks[s]] for s in res.index])
    lr = np.log2(res["pval"] / res["exact"])
    print(res.assign(log2_ratio=lr)[["ES", "pval", "exact", "log2err", "log2_ratio"]].to_string())
    assert res.loc["rank0", "exact"] < 1 / 1001 and res.loc["rank0", "pval"] < 1 / 1001
    assert (lr.abs() <= 2.5 * res["log2err"]).all()


@pytest.mark.parametrize("n,k", [(200, 6), (1000, 8)])
def test_multilevel_deep_tail_matches_exact(n, k):
    """Planted truth: the set of the k top (bottom) genes is the only one with ES = 1 (-1): p = 2 / C(n, k)."""
    from math import comb
    ranking = _symmetric_ranking(n)
    sets = {"top": list(ranking.index[:k]), "bottom": list(ranking.index[-k:])}
    res = enrichment.gsea(ranking, sets, min_size=k, max_size=k, permutations=1000, seed=0, eps=0)
    exact = 2 / comb(n, k)
    lr = np.log2(res["pval"] / exact)
    print(f"exact {exact:.3g}; ours {res['pval'].tolist()}; log2err {res['log2err'].tolist()}")
    assert (lr.abs() <= 2.5 * res["log2err"]).all()
    floored = enrichment.gsea(ranking, sets, min_size=k, max_size=k, permutations=1000, seed=0, eps=1e-6)
    assert (floored["pval"] == 1e-6).all()  # the eps floor, reported as such
    perm = enrichment.gsea(ranking, sets, min_size=k, max_size=k, permutations=1000, seed=0, method="permutation")
    assert np.allclose(perm["pval"], 1 / 1001)  # permutations alone cannot go below their bound


def test_unknown_gsea_method_is_refused():
    with pytest.raises(ValueError, match="multilevel, permutation"):
        enrichment.gsea(_symmetric_ranking(100), {"a": ["g0001"] * 20}, method="fast")


@pytest.mark.parametrize("scores, says", [
    (lambda n: np.zeros(n), "every one of the 1000 genes scores 0"),
    (lambda n: np.where(np.arange(n) < 10, np.inf, 1.0), "not finite or whose squares overflow (genes g0000"),
    (lambda n: np.full(n, 1e200), "not finite or whose squares overflow"),
])
def test_rankings_fgsea_cannot_take_are_refused(scores, says):
    """SYNTHETIC rankings gseapy cannot score: all zero (0 / 0), infinite or overflowing scores. gseapy's Rust core
    panicked on them (a PanicException, which is not an Exception: it went through every handler); R's fgsea
    refuses non-finite stats."""
    from lsecflow.errors import InputDataError

    ranking = pd.Series(scores(1000), index=[f"g{i:04d}" for i in range(1000)])
    with pytest.raises(InputDataError, match=says.replace("(", r"\(")):
        enrichment.gsea(ranking, {"a": list(ranking.index[::7])}, min_size=5)


def test_a_multilevel_panic_is_a_clear_error():
    """SYNTHETIC integer scores (heavy ties) with a set of the 20 top genes: gseapy 1.3.1's multilevel p-value
    panics in its Rust core (every seed tried); the job stops with what to change instead of a Rust backtrace,
    and the permutation method scores the set."""
    from lsecflow.errors import InputDataError

    rng = np.random.default_rng(0)
    ranking = pd.Series(np.round(rng.normal(0, 2, 1000)), index=[f"g{i:04d}" for i in range(1000)])
    ranking = ranking.sort_values(ascending=False)
    sets = {"top": list(ranking.index[:20])}
    with pytest.raises(InputDataError, match="enrichment.method: permutation"):
        enrichment.gsea(ranking, sets, min_size=5)
    perm = enrichment.gsea(ranking, sets, min_size=5, method="permutation")
    assert perm.loc[0, "ES"] == pytest.approx(1.0) and perm.loc[0, "pval"] == pytest.approx(1 / 1001)


def test_a_set_of_every_ranked_gene_is_not_tested():
    """A 20-analyte panel (SYNTHETIC scores) and a set holding all of them plus a duplicate: nothing lies outside
    it, so it is left out like a set outside the size bounds (gseapy stopped with a LookupError); the set of
    half of them is tested, its size counted once per gene."""
    ranking = _symmetric_ranking(20)
    genes = list(ranking.index)
    out = enrichment.gsea(ranking, {"all": genes + genes[:1], "half": genes[::2] + genes[:1]}, min_size=5)
    assert list(out["set"]) == ["half"] and out.loc[0, "size"] == 10


def test_ranking_collapses_duplicates_deterministically():
    table = pd.DataFrame({"gene_id": ["g3", "g1", "g2", "g4", "g5"], "symbol": ["A", "A", "B", "C", "A"],
                          "stat": [2.0, -5.0, 1.0, np.nan, 5.0]})
    r = enrichment.ranking_from_de(table)
    assert list(r.index) == ["B", "A"] and r["A"] == -5.0  # |5| tie: smallest gene id (g1) wins; sorted by score
    assert r.equals(enrichment.ranking_from_de(table.iloc[::-1]))


def test_lrt_and_threshold_tables_rank_by_the_contrasts_wald_statistic():
    """SYNTHETIC (hand-made table): after de.test lrt, ``stat`` is the LRT deviance (>= 0), so GSEA would
    see no direction, and with a fold-change threshold it is 0 below it; the ranking is then the contrast's
    log2FoldChange / lfcSE, signed. Plain Wald tables keep stat."""
    table = pd.DataFrame({"gene_id": ["g1", "g2", "g3", "g4"], "symbol": ["A", "B", "C", "D"],
                          "stat": [9.0, 4.0, 1.0, np.nan], "log2FoldChange": [-3.0, 1.0, 0.5, 1.0],
                          "lfcSE": [1.0, 0.5, 0.5, np.nan]})
    lrt = enrichment.gsea_ranking(table, {"test": "lrt"})
    assert lrt.to_dict() == {"B": 2.0, "C": 1.0, "A": -3.0}  # D: no standard error, not ranked
    assert enrichment.gsea_ranking(table, {"test": "wald"}).equals(enrichment.ranking_from_de(table))
    # a test against |log2FC| <= 1 (lfcThreshold, treat): stat is 0 below it; the ranking is not
    thresholded = table.assign(stat=[2.0, 0.0, 0.0, np.nan])
    assert enrichment.gsea_ranking(thresholded, {"test": "wald", "lfc_threshold": 1.0}).equals(lrt)


def test_ora_matches_hypergeometric_by_hand():
    universe = [f"g{i}" for i in range(100)]
    sets = {"S": [f"g{i}" for i in range(20)], "T": [f"g{i}" for i in range(50, 80)]}
    res = enrichment.ora([f"g{i}" for i in range(10)] + ["g50"], universe, sets, min_size=5).set_index("set")
    from scipy.stats import hypergeom

    assert res.at["S", "overlap"] == 10 and res.at["T", "overlap"] == 1
    assert res.at["S", "pval"] == pytest.approx(hypergeom.sf(9, 100, 20, 11))
    assert res.at["S", "expected"] == pytest.approx(11 * 20 / 100)


def test_sets_without_a_p_value_get_no_padj_and_do_not_stop_the_rest(caplog):
    """gseapy leaves a set's p NaN when too few null scores share its sign (on the published example's first 200
    sets with 30 permutations, 6 of the 123 tested; in a real run, the myeloid pseudobulk of TMS under de.engine
    voom with 1,000): scipy's BH raised on the NaN and stopped the enrichment job. Now such sets keep padj NA,
    and the others are adjusted over the sets that have a p-value, as R's p.adjust."""
    rnk = pd.read_csv(FGSEA / "naive.vs.th1.rnk.gz", sep="\t", dtype={"ID": str})
    ranking = pd.Series(rnk["t"].to_numpy(), index=rnk["ID"].to_numpy()).sort_values(ascending=False, kind="stable")
    sets = dict(list(genesets.read_gmt(FGSEA / "mouse.reactome.gmt.gz").items())[:200])  # 3 s instead of 7
    with caplog.at_level("WARNING", logger="lsecflow.enrichment"):
        res = enrichment.gsea(ranking, sets, min_size=15, max_size=500, permutations=30, seed=0)
    nan = res["pval"].isna()
    assert 0 < nan.sum() < len(res) and res.loc[nan, "padj"].isna().all() and res.loc[~nan, "padj"].notna().all()
    p = np.sort(res.loc[~nan, "pval"].to_numpy())  # BH by hand over the sets with a p-value
    bh = np.minimum.accumulate((p * len(p) / np.arange(1, len(p) + 1))[::-1])[::-1]
    np.testing.assert_allclose(np.sort(res.loc[~nan, "padj"].to_numpy()), np.minimum(bh, 1.0))
    assert "without a p-value" in caplog.text
