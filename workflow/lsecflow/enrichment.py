"""Pathway enrichment: preranked GSEA (gseapy) and over-representation (ORA).

GSEA ranks genes by the contrast's DE statistic (:func:`gsea_ranking`: DESeq2's Wald statistic, limma's
moderated t; after ``de.test: lrt`` or with ``de.lfc_threshold`` > 0, whose ``stat`` is then the unsigned
LRT deviance or the thresholded test, the same statistic as ``log2FoldChange / lfcSE``) and runs gseapy's
``prerank``.
Two ways to its p-values (``enrichment.method``):

* ``multilevel`` (default): fgsea's adaptive multilevel splitting
  (Korotkevich et al. 2021, as ported in gseapy >= 1.3.1). ``permutations``
  random gene sets give NES and the p-values of weak sets; strong sets get
  p-values far below ``1 / permutations`` (down to ``eps``), each with
  ``log2err``, fgsea's expected error of log2(p).
* ``permutation``: classic gene-set permutations; p-values cannot go below
  ``1 / (permutations + 1)``.

``padj`` is Benjamini-Hochberg over the sets tested in one collection (as
fgsea reports); gseapy's own FDR is kept as ``fdr_gseapy``.
ORA tests the up- and down-regulated genes against all tested genes with a
hypergeometric test.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .calls import benjamini_hochberg, call_direction
from .errors import InputDataError
from .files import write_tsv_atomic
from .genesets import read_gmt

log = logging.getLogger(__name__)

GSEA_COLUMNS = ["set", "size", "set_size", "ES", "NES", "pval", "padj", "log2err", "fdr_gseapy",
                "leading_edge_size", "leading_edge"]
METHODS = ("multilevel", "permutation")


def ranking_from_de(table: pd.DataFrame, column: str = "stat") -> pd.Series:
    """Symbol -> score from a DE table, one value per symbol.

    Genes without a statistic are dropped; a protein group of several genes (``A;B``) gives each gene
    its statistic. Duplicate symbols keep the entry
    with the largest absolute score (ties: smallest gene id). The result is
    sorted decreasingly (ties by symbol), so it is the same on every run.
    """
    df = table[["gene_id", "symbol", column]].dropna()
    # a protein group of several genes (proteomics, "A;B") ranks each of its genes
    df = df.assign(symbol=df["symbol"].astype(str).str.split(";")).explode("symbol")
    df = df[df["symbol"].str.strip() != ""].assign(symbol=lambda d: d["symbol"].str.strip())
    df = df.assign(_abs=df[column].abs()).sort_values(["symbol", "_abs", "gene_id"], ascending=[True, False, True])
    df = df.drop_duplicates("symbol")
    ranking = pd.Series(df[column].to_numpy(dtype=float), index=df["symbol"].astype(str).to_numpy())
    order = np.lexsort((ranking.index.to_numpy(), -ranking.to_numpy()))
    return ranking.iloc[order]


def stat_is_not_the_wald(de: dict) -> str | None:
    """Why a contrast table's ``stat`` is not its signed Wald statistic / moderated t under these ``de``
    options (``test``, ``lfc_threshold``), or None when it is: after ``test: lrt`` it is the LRT's deviance
    of the whole design (>= 0, no direction); with ``lfc_threshold`` > 0 it is the test against the threshold
    (DESeq2's lfcThreshold, limma's treat: 0 for every gene below it)."""
    if de.get("test", "wald") == "lrt":
        return "the LRT's, unsigned"
    if de.get("lfc_threshold", 0):
        return f"the test against |log2FC| <= {de['lfc_threshold']}"
    return None


def gsea_ranking(table: pd.DataFrame, de: dict) -> pd.Series:
    """The GSEA ranking of a contrast's DE table (:func:`ranking_from_de`), signed and unthresholded:
    ``stat`` (DESeq2's Wald statistic, limma's moderated t) where it is that, else
    (:func:`stat_is_not_the_wald`, from the dataset's ``de`` options) the contrast's ``log2FoldChange /
    lfcSE``, the same Wald statistic or moderated t."""
    if stat_is_not_the_wald(de) is None:
        return ranking_from_de(table)
    z = table["log2FoldChange"] / table["lfcSE"]
    return ranking_from_de(table.assign(wald_stat=z.where(np.isfinite(z))), "wald_stat")


def filter_sets(sets: dict[str, list[str]], universe, min_size: int, max_size: int) -> dict[str, list[str]]:
    """Sets restricted to ``universe``, kept when ``min_size <= size <= max_size`` and smaller than the universe
    (a set holding every ranked gene has none outside to be enriched against: gseapy stopped with a LookupError
    on it, e.g. a small cytokine panel whose every analyte is in one set)."""
    uni = set(universe)
    out = {}
    for name, genes in sets.items():
        found = list(dict.fromkeys(g for g in genes if g in uni))
        if min_size <= len(found) <= max_size and len(found) < len(uni):
            out[name] = found
    return out


def gsea(ranking: pd.Series, sets: dict[str, list[str]], min_size: int = 15, max_size: int = 500,
         permutations: int = 1000, seed: int = 0, threads: int = 1, method: str = "multilevel",
         sample_size: int = 101, eps: float = 1e-50) -> pd.DataFrame:
    """Preranked GSEA with gseapy (weight 1).

    Parameters
    ----------
    ranking
        Gene -> score, sorted decreasingly (:func:`ranking_from_de`).
    sets
        Set name -> genes; sets with ``min_size`` to ``max_size`` genes in the
        ranking are tested.
    permutations
        Random gene sets for NES (and for p-values when ``method`` is
        ``permutation``, or when they are the more precise estimate).
    method
        ``multilevel`` (fgsea's adaptive multilevel splitting; p-values down to
        ``eps``) or ``permutation`` (p-values down to 1 / (permutations + 1)).
    sample_size
        Multilevel: random sets per level (odd; larger is more precise, slower).
    eps
        Multilevel: p-values below it are reported as ``eps`` (0: no floor).

    Returns
    -------
    pandas.DataFrame
        :data:`GSEA_COLUMNS`: ``size`` = genes of the set found in the
        ranking, ``set_size`` = genes in the set, ``log2err`` = fgsea's
        expected standard deviation of log2(pval) (multilevel only; NaN with
        ``permutation`` and where gseapy/fgsea could not estimate it); sorted
        by padj, pval, -abs(NES), set.
    """
    import gseapy as gp

    if method not in METHODS:
        raise ValueError(f"GSEA method must be one of {', '.join(METHODS)}, not {method!r}")
    kept = filter_sets(sets, ranking.index, min_size, max_size)
    if not kept:
        return pd.DataFrame(columns=GSEA_COLUMNS)
    values = ranking.to_numpy(dtype=float)
    finite = np.isfinite(values)
    with np.errstate(over="ignore"):
        overflow = not np.isfinite((values[finite] ** 2).sum())  # fgsea squares and sums them
    if overflow or not finite.all():
        odd = ranking.index[~finite] if not finite.all() else ranking.abs().nlargest(3).index
        raise InputDataError(f"GSEA ranking: scores that are not finite or whose squares overflow (genes "
                             f"{', '.join(map(str, odd[:5]))}{' ...' if len(odd) > 5 else ''}); fgsea refuses them "
                             "too (\"Not all stats values are finite numbers\"); check the DE table's statistic")
    if not values.any():  # fgsea's running sum divides by the scores' total: 0 / 0
        raise InputDataError(f"GSEA ranking: every one of the {len(values)} genes scores 0, so there is nothing to "
                             "rank; check the DE table's statistic")
    rnk = pd.Series(values, index=ranking.index.astype(str))
    extra = {"sample_size": int(sample_size), "eps": float(eps)} if method == "multilevel" else {}
    try:
        res = gp.prerank(rnk=rnk, gene_sets=kept, min_size=min_size, max_size=max_size, permutation_num=permutations,
                         weight=1.0, seed=seed, threads=max(1, int(threads)), outdir=None, no_plot=True,
                         verbose=False, method=method, **extra)
    except BaseException as exc:  # gseapy's Rust core panics (pyo3's PanicException is no Exception)
        if type(exc).__name__ != "PanicException":
            raise
        raise InputDataError(f"gseapy {method} GSEA stopped inside its Rust core ({exc}): seen with heavily tied "
                             "scores and a set at the very top or bottom of the ranking"
                             + ("; enrichment.method: permutation computes these p-values"
                                if method == "multilevel" else "")) from None
    r = res.res2d
    out = pd.DataFrame({
        "set": r["Term"].astype(str).to_numpy(),
        "ES": r["ES"].astype(float).to_numpy(),
        "NES": r["NES"].astype(float).to_numpy(),
        "pval": r["NOM p-val"].astype(float).to_numpy(),
        "fdr_gseapy": r["FDR q-val"].astype(float).to_numpy(),
        "leading_edge": r["Lead_genes"].astype(str).str.replace(";", ",").to_numpy(),
    })
    if method == "permutation":
        # gseapy reports p = 0 when no permutation is as extreme: give the permutation bound instead
        out["pval"] = out["pval"].clip(lower=1.0 / (permutations + 1))
        out["log2err"] = np.nan
    else:
        out["log2err"] = r["log2err"].astype(float).to_numpy()
        floored = int((out["pval"] <= eps).sum()) if eps > 0 else 0
        if floored:
            log.info("%d sets have p-values at the floor eps = %g (the true p-value is smaller; eps: 0 removes "
                     "the floor)", floored, eps)
    out["size"] = out["set"].map(lambda s: len(kept[s]))
    out["set_size"] = out["set"].map(lambda s: len(sets[s]))
    out["leading_edge_size"] = out["leading_edge"].map(lambda s: len([g for g in s.split(",") if g]))
    missing = out.loc[out["pval"].isna(), "set"]
    if len(missing):
        log.warning("%d set(s) without a p-value (gseapy/fgsea: too few null enrichment scores of the set's sign; "
                    "more permutations may help): %s; their padj is NA and they do not count in the BH "
                    "adjustment of the others, as R's p.adjust", len(missing), ", ".join(missing[:5]))
    out["padj"] = benjamini_hochberg(out["pval"].to_numpy())
    order = np.lexsort((out["set"].to_numpy(), -out["NES"].abs().to_numpy(), out["pval"].to_numpy(),
                        out["padj"].to_numpy()))
    return out.iloc[order][GSEA_COLUMNS].reset_index(drop=True)


def ora(genes, universe, sets: dict[str, list[str]], min_size: int = 15, max_size: int = 500) -> pd.DataFrame:
    """Hypergeometric over-representation of ``genes`` among ``universe``.

    Returns one row per set with ``overlap``, ``size`` (set genes in the
    universe), ``expected``, ``fold_enrichment``, ``pval``, ``padj`` (BH)
    and the overlapping ``genes``.
    """
    from scipy.stats import hypergeom  # heavy (0.5 s): not for jobs that only read enrichment tables

    uni = set(universe)
    hits = set(genes) & uni
    kept = filter_sets(sets, uni, min_size, max_size)
    rows = []
    N, n = len(uni), len(hits)
    for name, members in kept.items():
        overlap = sorted(hits.intersection(members))
        k, K = len(overlap), len(members)
        expected = n * K / N if N else 0.0
        rows.append((name, k, K, expected, k / expected if expected else np.nan,
                     float(hypergeom.sf(k - 1, N, K, n)) if k else 1.0, ",".join(overlap)))
    out = pd.DataFrame(rows, columns=["set", "overlap", "size", "expected", "fold_enrichment", "pval", "genes"])
    out["padj"] = benjamini_hochberg(out["pval"].to_numpy())
    out = out.sort_values(["padj", "pval", "set"], kind="stable").reset_index(drop=True)
    return out[["set", "overlap", "size", "expected", "fold_enrichment", "pval", "padj", "genes"]]


def run_enrichment(table: str, params: dict, outputs: dict[str, dict[str, str]], *, threads: int = 1,
                   seed: int = 0) -> None:
    """Rule entry point: GSEA and ORA of one DE table against every collection of the dataset.

    Parameters
    ----------
    table
        The DE unit's results table.
    params
        ``Dataset.params(rule="enrichment")``.
    outputs
        ``{collection: {"gsea": path, "ora": path}}``, in the order the collections are run.
    threads, seed
        For gseapy's prerank.
    """
    spec = params["spec"]
    enr = spec["enrichment"]
    de_table = pd.read_csv(table, sep="\t")
    ranking = gsea_ranking(de_table, spec["de"])
    tested = de_table[de_table["pvalue"].notna()]
    calls = call_direction(tested, spec["de"]["alpha"], spec["de"]["lfc_threshold"])
    stat_is = stat_is_not_the_wald(spec["de"])
    ranked_by = ("the DE statistic (DESeq2: Wald; limma, voom or proteins: moderated t; edgeR: signed sqrt(QL F))"
                 if stat_is is None else
                 f"log2FoldChange / lfcSE (the contrast's Wald statistic or moderated t; the table's stat is {stat_is})")
    log.info("%d genes ranked by %s; ORA: %d up, %d down of %d tested; GSEA method %s: "
             "%d permutations%s, seed %d, %d threads", len(ranking), ranked_by, int((calls == "up").sum()),
             int((calls == "down").sum()), len(tested), enr["method"], enr["permutations"],
             f", multilevel sample size {enr['sample_size']}, eps {enr['eps']:g}" if enr["method"] == "multilevel"
             else "", seed, threads)
    for collection, files in outputs.items():
        lo, hi = enr["size_limits"].get(collection, [enr["min_size"], enr["max_size"]])
        sets = read_gmt(enr["files"][collection])
        warn_no_overlap(collection, enr["files"][collection], sets, ranking, lo, hi, spec["species"])
        res = gsea(ranking, sets, lo, hi, enr["permutations"], seed, threads, enr["method"], enr["sample_size"],
                   enr["eps"])
        ora_res = ora_both(tested, calls, sets, lo, hi)
        log.info("%s: %d sets, %d with %d-%d genes in the ranking; GSEA %d at padj < 0.05 (smallest p %.3g); "
                 "ORA up %d, down %d at padj < 0.05", collection, len(sets), len(res), lo, hi,
                 int((res["padj"] < 0.05).sum()), res["pval"].min() if len(res) else np.nan,
                 *(int(((ora_res["direction"] == d) & (ora_res["padj"] < 0.05)).sum()) for d in ("up", "down")))
        write_tsv_atomic(res, files["gsea"])
        write_tsv_atomic(ora_res, files["ora"])


def ora_both(tested: pd.DataFrame, calls: pd.Series, sets: dict[str, list[str]], lo: int, hi: int) -> pd.DataFrame:
    """:func:`ora` of the up and of the down genes (``calls``) against every tested gene, one table
    with a ``direction`` column."""
    universe = tested["symbol"].astype(str)
    parts = []
    for direction in ("up", "down"):
        part = ora(tested.loc[calls == direction, "symbol"].astype(str), universe, sets, lo, hi)
        part.insert(0, "direction", direction)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def no_overlap_reason(sets: dict[str, list[str]], genes, lo: int, hi: int, species: str) -> str:
    """Why no set of a collection can be tested on ``genes`` ("" when some can): no gene in common (an id
    type or species mismatch), or no set within the size limits."""
    genes = set(map(str, genes))
    in_gmt = {g for members in sets.values() for g in members}
    common = in_gmt & genes
    if not common:
        return (f"none of its {len(in_gmt)} genes is in the data (GMT e.g. {', '.join(sorted(in_gmt)[:3])}; data e.g. "
                f"{', '.join(sorted(genes)[:3])}): a GMT of another species or id type? The dataset is {species}; "
                "GMT files must hold its gene symbols")
    if not any(lo <= len(set(m) & genes) <= hi for m in sets.values()):
        return (f"{len(common)} of its genes are in the data, but no set has {lo}-{hi} of them "
                "(enrichment.min_size / max_size / size_limits)")
    return ""


def warn_no_overlap(collection: str, path: str, sets: dict, ranking: pd.Series, lo: int, hi: int, species: str
                    ) -> None:
    """A warning in the job's log when a collection cannot be tested (the report says it too)."""
    reason = no_overlap_reason(sets, ranking.index, lo, hi, species)
    if reason:
        log.warning("%s (%s): no gene set can be tested: %s", collection, path, reason)


def read_gsea_table(path: str) -> pd.DataFrame:
    """A GSEA table as written by :func:`run_enrichment` (an empty leading edge stays an empty string)."""
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])
