"""Who hears the LSEC: receptor expression per receiver, ligand -> receptor tables, single-cell scores.

* receptor expression per receiver: per cell type for single-cell data
  (:func:`cell_type_expression`), per receiver table for bulk data
  (:func:`bulk_expression`);
* :func:`sc_receiver_scores` scores every sender -> receiver pair of a
  single-cell dataset (with liana's ranks: :func:`liana_ranks`);
* :func:`pair_table` lists the ligand -> receptor pairs of flagged candidates
  with the receptor's expression in each receiver.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import plots
from .errors import InputDataError
from .files import write_tsv_atomic
from .lrdb import load_factors, load_pairs
from .paracrine_plots import receiver_dotplot
from .pseudobulk import cells_passing_qc

log = logging.getLogger(__name__)


def _complex_stat(per_gene: pd.DataFrame, complex_names) -> pd.DataFrame:
    """Per-complex value = minimum over its subunits (a complex with a subunit missing is left out).

    A single gene is a one-subunit complex; a boolean column becomes "every
    subunit" (the minimum of 0/1).
    """
    rows = {}
    for name in complex_names:
        parts = name.split("_")
        if all(p in per_gene.index for p in parts):
            rows[name] = per_gene.loc[parts].min(axis=0)
    return pd.DataFrame(rows).T if rows else pd.DataFrame(columns=per_gene.columns)


def cell_type_expression(adata, cell_type_key: str, genes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fraction of cells expressing (count > 0) and mean log-normalised expression.

    Expression is ``log1p`` of counts scaled to 10,000 per cell. Returns two
    genes x cell types tables (fraction, mean) for the ``genes`` present.
    """
    import scipy.sparse as sp

    genes = [g for g in dict.fromkeys(genes) if g in adata.var_names]
    X = adata.X
    totals = np.asarray(X.sum(axis=1)).ravel().astype(float)
    totals[totals == 0] = 1.0
    sub = adata[:, genes].X
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub)
    sub = sub.astype(float)
    lognorm = np.log1p(sub / totals[:, None] * 1e4)
    labels = adata.obs[cell_type_key].astype(str).to_numpy()
    frac, mean = {}, {}
    for ct in sorted(set(labels)):
        m = labels == ct
        frac[ct] = (sub[m] > 0).mean(axis=0)
        mean[ct] = lognorm[m].mean(axis=0)
    return (pd.DataFrame(frac, index=genes), pd.DataFrame(mean, index=genes))


def sc_receiver_scores(adata, cell_type_key: str, sender: str, pairs: pd.DataFrame, factors: pd.DataFrame,
                       min_fraction: float = 0.1) -> pd.DataFrame:
    """Sender -> receiver scores for every pair and every other cell type.

    For a ligand (complex: minimum over subunits) in the ``sender`` cell type
    and a receptor (likewise) in each receiver cell type: fraction of cells
    expressing and mean log-normalised expression. ``lr_mean`` is the mean of
    the two means (CellPhoneDB's statistic), ``lr_product`` their product;
    ``expressed`` requires both fractions >= ``min_fraction``.
    ``specificity`` is NATMI's specificity weight: ``ligand_specificity`` (the
    sender's share of the ligand's mean over all cell types) times
    ``receptor_specificity`` (the receiver's share of the receptor's).

    Rows are ordered: expressed pairs first, then by specificity, then by
    ``lr_product`` -- what the sender says specifically before what every
    cell type says (B2m, App).
    """
    genes = {g for name in pd.concat([pairs["ligand"], pairs["receptor"]]) for g in name.split("_")}
    frac, mean = cell_type_expression(adata, cell_type_key, sorted(genes))
    if sender not in frac.columns:
        raise InputDataError(f"sender cell type {sender!r} has no cells (cell types: {', '.join(frac.columns)})")
    lig_frac, lig_mean = _complex_stat(frac, pairs["ligand"].unique()), _complex_stat(mean, pairs["ligand"].unique())
    rec_frac, rec_mean = (_complex_stat(frac, pairs["receptor"].unique()),
                          _complex_stat(mean, pairs["receptor"].unique()))
    usable = pairs[pairs["ligand"].isin(lig_frac.index) & pairs["receptor"].isin(rec_frac.index)]
    log.info("%d of %d pairs have every subunit in the matrix", len(usable), len(pairs))
    receivers = [c for c in frac.columns if c != sender]
    rows = []
    for r in usable.itertuples(index=False):
        lf, lm = lig_frac.at[r.ligand, sender], lig_mean.at[r.ligand, sender]
        for rc in receivers:
            rf, rm = rec_frac.at[r.receptor, rc], rec_mean.at[r.receptor, rc]
            rows.append((r.ligand, r.receptor, sender, rc, lf, lm, rf, rm, r.n_sources, r.sources))
    out = pd.DataFrame(rows, columns=["ligand", "receptor", "sender", "receiver", "ligand_fraction", "ligand_mean",
                                      "receptor_fraction", "receptor_mean", "n_sources", "sources"])
    out["lr_mean"] = (out["ligand_mean"] + out["receptor_mean"]) / 2
    out["lr_product"] = out["ligand_mean"] * out["receptor_mean"]
    out["expressed"] = (out["ligand_fraction"] >= min_fraction) & (out["receptor_fraction"] >= min_fraction)
    # specificity (NATMI's specificity weight): the sender's share of the ligand's mean expression over
    # all cell types, times the receiver's share of the receptor's
    rec_share = _shares(rec_mean)
    out["ligand_specificity"] = _shares(lig_mean)[sender].reindex(out["ligand"]).to_numpy()
    out["receptor_specificity"] = [rec_share.at[r, rc] for r, rc in zip(out["receptor"], out["receiver"])]
    out["specificity"] = out["ligand_specificity"] * out["receptor_specificity"]
    first = out["ligand"].str.split("_").str[0]
    out["ligand_class"] = first.map(factors["class"]).fillna("")
    return out.sort_values(["expressed", "specificity", "lr_product", "ligand", "receptor", "receiver"],
                           ascending=[False, False, False, True, True, True], ignore_index=True)


def _shares(mean: pd.DataFrame) -> pd.DataFrame:
    """Each cell type's share of a gene's (complex's) summed mean expression (0 where nobody expresses it)."""
    total = mean.sum(axis=1)
    return mean.div(total.where(total > 0), axis=0).fillna(0.0)


def liana_ranks(adata, cell_type_key: str, sender: str, pairs: pd.DataFrame, min_fraction: float, seed: int,
                n_perms: int) -> pd.DataFrame:
    """liana ``rank_aggregate`` (consensus of CellPhoneDB, Connectome, log2FC, NATMI, SingleCellSignalR, CellChat
    style scores) on log-normalised data, with the shipped pairs as resource; rows with the sender as source."""
    import liana as li
    import scanpy as sc

    a = adata.copy()
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    resource = pairs[["ligand", "receptor"]].drop_duplicates()
    li.mt.rank_aggregate(a, groupby=cell_type_key, resource=resource, expr_prop=min_fraction, use_raw=False,
                         n_perms=n_perms, seed=seed, verbose=False, key_added="liana_res")
    res = a.uns["liana_res"]
    res = res[res["source"].astype(str) == sender]
    keep = ["ligand_complex", "receptor_complex", "target", "magnitude_rank", "specificity_rank"]
    return res[keep].rename(columns={"ligand_complex": "ligand", "receptor_complex": "receptor",
                                     "target": "receiver", "magnitude_rank": "liana_magnitude_rank",
                                     "specificity_rank": "liana_specificity_rank"})


def bulk_expression(counts: pd.DataFrame, min_cpm: float) -> pd.DataFrame:
    """Per gene of a genes x samples count table: ``fraction`` of samples with
    CPM >= ``min_cpm``, ``mean`` log2(CPM + 1), ``present`` (mean CPM >= ``min_cpm``)."""
    lib = counts.sum(axis=0).replace(0, 1)
    cpm = counts / lib * 1e6
    return pd.DataFrame({"fraction": (cpm >= min_cpm).mean(axis=1), "mean": np.log2(cpm + 1).mean(axis=1),
                         "present": cpm.mean(axis=1) >= min_cpm})


def sc_expression_tables(expression: pd.DataFrame, min_fraction: float, exclude: str | None = None) -> dict:
    """Long single-cell expression table (gene, cell_type, fraction, mean) -> receiver name -> per-gene table."""
    out = {}
    for ct, grp in expression.groupby("cell_type", sort=True):
        if ct == exclude:
            continue
        t = grp.set_index("gene")[["fraction", "mean"]].astype(float)
        t["present"] = t["fraction"] >= min_fraction
        out[ct] = t
    return out


def pair_table(candidates: pd.DataFrame, pairs: pd.DataFrame, receivers: dict[str, pd.DataFrame],
               top_n: int | None = None) -> pd.DataFrame:
    """Ligand -> receptor rows of the flagged candidates, with each receiver's receptor expression.

    ``receivers`` maps a receiver name to a per-gene table (``fraction``,
    ``mean``, ``present``); a complex takes the minimum over its subunits and
    is present when every subunit is. A receptor gene absent from a receiver
    counts as not present.
    """
    flagged = candidates[candidates["flagged"]]
    if top_n:
        flagged = flagged.head(top_n)
    per_candidate = [(cand, pairs[pairs["ligand"].str.split("_").apply(lambda parts, g=cand["symbol"]: g in parts)])
                     for cand in flagged.to_dict(orient="records")]
    receptors = sorted({r for _, mine in per_candidate for r in mine["receptor"]})
    complexes = {name: _complex_stat(expr[["fraction", "mean", "present"]].astype(float), receptors)
                 for name, expr in receivers.items()}
    rows = []
    for cand, mine in per_candidate:
        for p in mine.itertuples(index=False):
            for name, cx in complexes.items():
                if p.receptor in cx.index:
                    frac, mean, present = (float(cx.at[p.receptor, "fraction"]), float(cx.at[p.receptor, "mean"]),
                                           bool(cx.at[p.receptor, "present"]))
                else:
                    frac, mean, present = 0.0, np.nan, False
                rows.append((cand["rank"], cand["symbol"], cand["class"], cand["log2FoldChange"], p.ligand, p.receptor,
                             p.n_sources, name, frac, mean, present))
    cols = ["rank", "symbol", "class", "log2FoldChange", "ligand", "receptor", "n_sources", "receiver",
            "receptor_fraction", "receptor_mean", "present"]
    return pd.DataFrame(rows, columns=cols)


def receivers_summary(pairs_out: pd.DataFrame) -> pd.Series:
    """Per ligand symbol: 'receiver: receptor, receptor; ...' for the receptors present."""
    present = pairs_out.loc[pairs_out["present"].astype(bool)]
    out = {}
    for sym, grp in present.groupby("symbol", sort=False):
        parts = [f"{rc}: {', '.join(dict.fromkeys(g['receptor']))}" for rc, g in grp.groupby("receiver", sort=True)]
        out[sym] = "; ".join(parts)
    return pd.Series(out, dtype=str)


# ---------------------------------------------------------------- rule entry point
def with_liana_ranks(scores: pd.DataFrame, adata, key: str, pairs: pd.DataFrame, par: dict, seed: int
                     ) -> pd.DataFrame:
    """``scores`` with liana's rank_aggregate columns for the pairs it holds."""
    used = pairs[pairs["ligand"].isin(scores["ligand"]) & pairs["receptor"].isin(scores["receptor"])]
    ranks = liana_ranks(adata, key, par["sender"], used, par["min_fraction"], seed, par["liana_permutations"])
    scores = scores.merge(ranks, on=["ligand", "receptor", "receiver"], how="left")
    log.info("liana rank_aggregate: %d sender rows ranked", int(scores["liana_magnitude_rank"].notna().sum()))
    return scores


def expression_table(adata, key: str, pairs: pd.DataFrame) -> pd.DataFrame:
    """Long table (gene, cell_type, fraction, mean) of every gene of the pairs (complexes split)."""
    genes = sorted({g for name in pd.concat([pairs["ligand"], pairs["receptor"]]) for g in name.split("_")})
    frac, mean = cell_type_expression(adata, key, genes)
    return (frac.stack().rename("fraction").to_frame().join(mean.stack().rename("mean"))
            .rename_axis(["gene", "cell_type"]).reset_index())


def run_paracrine_receivers(counts_h5ad: str, params: dict, scores_out: str, expression_out: str, figure: str, *,
                            cells_qc: str | None = None, seed: int = 0) -> pd.DataFrame:
    """Rule entry point (single-cell): sender -> receiver scores for every pair and cell type.

    Writes the per-pair scores (with liana ranks when ``paracrine.liana``),
    the per-gene expression of every cell type, and a dot plot of the top
    expressed pairs (``figure``: its PNG path; the other formats beside it).
    """
    import anndata as ad

    spec = params["spec"]
    plots.configure(spec.get("figures"))
    par = spec["paracrine"]
    key = spec["single_cell"]["cell_type_key"]
    adata = ad.read_h5ad(counts_h5ad)
    if cells_qc is not None:
        adata = cells_passing_qc(adata, cells_qc, "the receiver scores")
    adata = adata[adata.obs[key].notna()].copy()
    factors = load_factors(par["factors"])
    pairs = load_pairs(par["pairs"], par["min_pair_sources"])
    log.info("%d pairs listed by >= %d databases; sender %r", len(pairs), par["min_pair_sources"], par["sender"])
    scores = sc_receiver_scores(adata, key, par["sender"], pairs, factors, par["min_fraction"])
    if par["liana"] and len(scores):
        scores = with_liana_ranks(scores, adata, key, pairs, par, seed)
    expression = expression_table(adata, key, pairs)
    n_expr = scores.groupby("receiver")["expressed"].sum()
    for rc, n in n_expr.items():
        log.info("%s -> %s: %d expressed pairs (both fractions >= %g)", par["sender"], rc, n, par["min_fraction"])
    write_tsv_atomic(expression, expression_out)
    write_tsv_atomic(scores, scores_out)
    plots.save(receiver_dotplot(scores, par["sender"], title=f"{params['name']} · {par['sender']} -> receivers"),
               plots.stem_of(figure))
    return scores
