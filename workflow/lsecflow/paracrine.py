"""Paracrine factors: rank DE secreted factors and ligands, find who hears them.

The annotation (``resources/paracrine/<species>.{factors,pairs}.tsv.gz``) is
built offline by :mod:`lsecflow.lrdb`. Here:

* :func:`rank_candidates` joins a DE table to the factor annotation and gives
  each factor a priority score (see :func:`priority_score`);
* :func:`receiver_expression` summarises receptor expression per receiver:
  per cell type for single-cell data (:func:`cell_type_expression`), per
  receiver table for bulk data (:func:`bulk_expression`);
* :func:`pair_table` lists ligand -> receptor pairs of the candidates with the
  receptor's expression in each receiver;
* ``run_*`` functions are the rules' entry points (figures: :mod:`lsecflow.paracrine_plots`).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import plots
from .calls import is_significant
from .errors import InputDataError
from .files import read_receiver_table, write_tsv_atomic
from .lrdb import CLASSES
from .paracrine_plots import draw_paracrine_figures, receiver_dotplot
from .pseudobulk import cells_passing_qc

log = logging.getLogger(__name__)

FACTOR_COLUMNS = ["gene", "class", "class_rule", "secreted", "ligand", "n_sources", "sources", "receptors"]
PAIR_COLUMNS = ["ligand", "receptor", "sources", "n_sources"]


def _read_checked(path, columns: list[str], what: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{what} {path}: cannot be read as a TSV table ({exc})") from exc
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputDataError(f"{what} {path}: column(s) {', '.join(missing)} missing "
                             f"(columns: {', '.join(table.columns)})")
    return table


def load_factors(path) -> pd.DataFrame:
    """Factor annotation indexed by gene symbol (see :mod:`lsecflow.lrdb`)."""
    t = _read_checked(path, FACTOR_COLUMNS, "paracrine factors table")
    bad = sorted(set(t["class"]) - set(CLASSES))
    if bad:
        raise InputDataError(f"paracrine factors table {path}: column 'class': unknown class(es) "
                             f"{', '.join(map(repr, bad))} (allowed: {', '.join(CLASSES)})")
    n = pd.to_numeric(t["n_sources"], errors="coerce")
    if n.isna().any():
        raise InputDataError(f"paracrine factors table {path}: column 'n_sources' is not a number for gene "
                             f"{t.loc[n.isna(), 'gene'].iloc[0]!r}")
    t["n_sources"] = n.astype(int)
    for col in ("secreted", "ligand"):
        t[col] = t[col].str.lower() == "true"
    dup = t["gene"][t["gene"].duplicated()]
    if len(dup):
        raise InputDataError(f"paracrine factors table {path}: column 'gene': {dup.iloc[0]!r} appears twice")
    return t.set_index("gene", drop=False).rename_axis(None)


def load_pairs(path, min_sources: int = 1) -> pd.DataFrame:
    """Ligand -> receptor pairs listed by at least ``min_sources`` databases."""
    t = _read_checked(path, PAIR_COLUMNS, "ligand-receptor pairs table")
    n = pd.to_numeric(t["n_sources"], errors="coerce")
    if n.isna().any():
        raise InputDataError(f"ligand-receptor pairs table {path}: column 'n_sources' is not a number for pair "
                             f"{t.loc[n.isna(), 'ligand'].iloc[0]} -> {t.loc[n.isna(), 'receptor'].iloc[0]}")
    t["n_sources"] = n.astype(int)
    return t[t["n_sources"] >= min_sources].reset_index(drop=True)


def priority_score(lfc, padj, n_sources, padj_cap: float = 10.0, evidence_saturation: int = 3) -> np.ndarray:
    """Priority of a candidate factor.

    ``score = |log2FC| * min(-log10 padj, padj_cap) * min(n_sources, s) / s``
    with ``s = evidence_saturation``: the size of the change, times the
    confidence in it (capped, so that a very deep p-value from a highly
    expressed gene does not swamp a large change), times the share of
    annotation support (saturating at ``s`` independent databases). A gene
    without a p-value scores 0.
    """
    lfc = np.abs(np.asarray(lfc, dtype=float))
    padj = np.asarray(padj, dtype=float)
    conf = np.minimum(-np.log10(np.clip(padj, 1e-300, 1.0)), padj_cap)
    evidence = np.minimum(np.asarray(n_sources, dtype=float), evidence_saturation) / evidence_saturation
    score = lfc * conf * evidence
    return np.where(np.isnan(score), 0.0, score)


def rank_candidates(de: pd.DataFrame, factors: pd.DataFrame, alpha: float, lfc_threshold: float = 0.0,
                    direction: str = "both", padj_cap: float = 10.0, evidence_saturation: int = 3,
                    classes=None) -> pd.DataFrame:
    """Annotated factors of one DE table, flagged and ranked.

    Parameters
    ----------
    de
        A DE table (``symbol``, ``gene_id``, ``baseMean``, ``log2FoldChange``,
        ``pvalue``, ``padj``).
    factors
        :func:`load_factors`.
    alpha, lfc_threshold
        A factor is *flagged* when ``padj < alpha`` and
        ``|log2FC| > lfc_threshold`` in the wanted ``direction``
        (``up``, ``down`` or ``both``).
    classes
        Classes to keep (default all).

    Returns
    -------
    pandas.DataFrame
        One row per annotated gene in the DE table: flagged ones first by
        priority (``rank`` 1, 2, ...), then the others by priority (no rank).
    """
    t = de[de["symbol"].astype(str).isin(factors.index)].copy()
    t["symbol"] = t["symbol"].astype(str)
    f = factors.loc[t["symbol"]]
    for col in ("class", "secreted", "n_sources", "sources", "receptors", "class_rule"):
        t[col] = f[col].to_numpy()
    if classes:
        t = t[t["class"].isin(classes)]
    lfc = t["log2FoldChange"].astype(float)
    sig = is_significant(t, alpha, lfc_threshold)
    if direction == "up":
        sig &= lfc > 0
    elif direction == "down":
        sig &= lfc < 0
    t["direction"] = np.where(lfc > 0, "up", np.where(lfc < 0, "down", ""))
    t["flagged"] = sig.to_numpy()
    t["priority"] = priority_score(lfc, t["padj"], t["n_sources"], padj_cap, evidence_saturation)
    cols = ["symbol", "gene_id", "flagged", "direction", "class", "priority", "log2FoldChange", "padj",
            "pvalue", "baseMean", "n_sources", "sources", "secreted", "class_rule", "receptors"]
    return order_candidates(t[cols + [c for c in t.columns if c not in cols and c == "log2FoldChange_shrunk"]])


def order_candidates(t: pd.DataFrame) -> pd.DataFrame:
    """Flagged candidates first, then (with the checks' columns) those that survive every
    leave-one-out refit, then those following no contaminant signature, then by priority;
    ``rank`` 1, 2, ... for the flagged ones. Unflagged genes follow by priority, without rank."""
    t = t.drop(columns="rank", errors="ignore")
    survives = (t["survives"].astype("boolean").fillna(True).astype(bool) if "survives" in t
                else pd.Series(True, index=t.index))
    clean = t["contamination"].fillna("").eq("") if "contamination" in t else pd.Series(True, index=t.index)
    order = np.lexsort((t["symbol"].to_numpy(), -t["priority"].to_numpy(), ~clean.to_numpy(),
                        ~survives.to_numpy(), ~t["flagged"].to_numpy(dtype=bool)))
    t = t.iloc[order].reset_index(drop=True)
    t.insert(0, "rank", pd.array([i + 1 if f else pd.NA for i, f in enumerate(t["flagged"])], dtype="Int64"))
    return t


# ---------------------------------------------------------------- receivers
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


# ---------------------------------------------------------------- rule entry points
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
        used = pairs[pairs["ligand"].isin(scores["ligand"]) & pairs["receptor"].isin(scores["receptor"])]
        ranks = liana_ranks(adata, key, par["sender"], used, par["min_fraction"], seed, par["liana_permutations"])
        scores = scores.merge(ranks, on=["ligand", "receptor", "receiver"], how="left")
        log.info("liana rank_aggregate: %d sender rows ranked", int(scores["liana_magnitude_rank"].notna().sum()))
    genes = sorted({g for name in pd.concat([pairs["ligand"], pairs["receptor"]]) for g in name.split("_")})
    frac, mean = cell_type_expression(adata, key, genes)
    expression = (frac.stack().rename("fraction").to_frame().join(mean.stack().rename("mean"))
                  .rename_axis(["gene", "cell_type"]).reset_index())
    n_expr = scores.groupby("receiver")["expressed"].sum()
    for rc, n in n_expr.items():
        log.info("%s -> %s: %d expressed pairs (both fractions >= %g)", par["sender"], rc, n, par["min_fraction"])
    write_tsv_atomic(expression, expression_out)
    write_tsv_atomic(scores, scores_out)
    plots.save(receiver_dotplot(scores, par["sender"], title=f"{params['name']} · {par['sender']} -> receivers"),
               plots.stem_of(figure))
    return scores


def run_paracrine(de_table: str, normalized: str, params: dict, contrast_name: str, candidates_out: str,
                  pairs_out: str, figures: dict[str, str], *, checks: dict[str, str] | None = None,
                  expression: str | None = None, cell_type: str | None = None) -> pd.DataFrame:
    """Rule entry point: ranked paracrine candidates and their ligand -> receptor table for one DE unit,
    the checks on each candidate, and the figures (``figures``: ``{kind: PNG path}``, see
    :func:`draw_paracrine_figures`).

    Receivers: for bulk data this dataset itself (whole tissue: is the
    receptor expressed at all?) and every ``paracrine.receivers`` table; for
    single-cell data every cell type but the sender (``expression`` table of
    :func:`run_paracrine_receivers`).

    ``checks`` (see :func:`check_candidates`): inputs ``counts`` (for the
    samples' design columns), ``loo`` (the DE step's leave-one-out refits),
    ``vst``, and outputs ``robustness`` (the refits with their padj) and
    ``contamination`` (every sample's signature scores).
    """
    spec = params["spec"]
    par, de_opts = spec["paracrine"], spec["de"]
    de = pd.read_csv(de_table, sep="\t")
    factors = load_factors(par["factors"])
    pairs = load_pairs(par["pairs"], par["min_pair_sources"])
    cand = rank_candidates(de, factors, de_opts["alpha"], de_opts["lfc_threshold"], par["direction"],
                           par["padj_cap"], par["evidence_saturation"], par.get("classes"))
    expr_table = None if expression is None else pd.read_csv(expression, sep="\t")
    if checks is not None:
        cand = check_candidates(cand, de, params, checks, contrast_name, cell_type, expr_table)
    receivers: dict[str, pd.DataFrame] = {}
    if expr_table is not None:
        receivers = sc_expression_tables(expr_table, par["min_fraction"], par["sender"])
    else:
        norm = pd.read_csv(normalized, sep="\t", index_col=0)
        if len(norm):
            symbols = de.set_index("gene_id")["symbol"].astype(str)
            norm.index = norm.index.map(symbols)
            norm = norm[norm.index.notna()].groupby(level=0).sum()
            receivers[f"{params['name']} (this dataset)"] = bulk_expression(norm, par["receiver_min_cpm"])
        for name, path in par["receivers"].items():
            receivers[name] = bulk_expression(read_receiver_table(path, name), par["receiver_min_cpm"])
    table = pair_table(cand, pairs, receivers)
    cand["receivers"] = cand["symbol"].map(receivers_summary(table)).fillna("")
    n = int(cand["flagged"].sum())
    log.info("%s: %d annotated factors tested, %d flagged (padj < %g, direction %s); top: %s", contrast_name,
             int(cand["padj"].notna().sum()), n, de_opts["alpha"], par["direction"],
             ", ".join(f"{sym} ({cls})" for sym, cls in zip(cand["symbol"][:min(n, 5)], cand["class"][:min(n, 5)]))
             or "-")
    write_tsv_atomic(cand, candidates_out)
    write_tsv_atomic(table, pairs_out)
    draw_paracrine_figures(cand, table, params, plots.unit_title(params, contrast_name, cell_type), figures)
    return cand


def check_candidates(cand: pd.DataFrame, de: pd.DataFrame, params: dict, files: dict[str, str], contrast_name: str,
                     cell_type: str | None, expression: pd.DataFrame | None) -> pd.DataFrame:
    """Add the checks' columns to a candidates table and order it by them (:func:`order_candidates`).

    * single samples (``paracrine.robustness``): the DE step's leave-one-out refits
      (:func:`lsecflow.trust.leave_one_out`) get their padj (:func:`lsecflow.trust.loo_padj`) and go to
      ``files['robustness']``; :func:`lsecflow.trust.robustness_columns` judges each flagged candidate;
    * contamination: every sample's signature scores go to ``files['contamination']``, each flagged
      candidate is checked with :func:`lsecflow.trust.contamination_columns`;
    * source: from the cell types' expression (single-cell) or the marker and source tables.

    ``marks`` says in words why a flagged candidate is marked; ``passes`` is flagged and unmarked.
    """
    import anndata as ad
    import patsy

    from . import trust

    spec = params["spec"]
    par, de_opts = spec["paracrine"], spec["de"]
    flagged = cand[cand["flagged"]]
    loo = pd.read_csv(files["loo"], sep="\t", dtype={"gene_id": str, "left_out": str})
    loo["padj"] = trust.loo_padj(de, loo) if len(loo) else pd.Series(dtype=float)
    write_tsv_atomic(loo, files["robustness"])
    if par["robustness"] and len(flagged) and loo.empty:
        log.info("leave-one-out: no refit (no sample of the contrast's groups can be left out with >= 2 kept)")
    cand = cand.join(trust.robustness_columns(cand, loo, de_opts["alpha"], de_opts["lfc_threshold"]), on="gene_id")
    cand["driven_by"] = cand["driven_by"].fillna("")
    # contamination: signature scores of every sample, then the flagged candidates' profiles
    sender = par.get("sender", trust.LSEC) if spec["assay"] != "bulk" else trust.LSEC
    signatures = trust.load_signatures(par["contamination"]["signatures"], exclude={trust.LSEC, sender})
    vst = pd.read_csv(files["vst"], sep="\t", index_col=0)
    scores = pd.DataFrame(index=vst.columns)
    cont = pd.DataFrame({"contamination": "", "contamination_r": np.nan}, index=pd.Index([], dtype=object))
    if len(vst):
        vst.index = vst.index.map(de.set_index("gene_id")["symbol"].astype(str))
        vst = vst[vst.index.notna()].groupby(level=0).mean()
        scores = trust.signature_scores(vst, signatures)
        obs = ad.read_h5ad(files["counts"], backed="r").obs
        design = np.asarray(patsy.dmatrix(spec["design"], data=_design_frame(obs, vst.columns, params)))
        cont = trust.contamination_columns(list(flagged["symbol"]), vst, signatures, design,
                                           par["contamination"]["min_r"])
    write_tsv_atomic(scores.rename_axis("sample").reset_index(), files["contamination"])
    cand = cand.join(cont, on="symbol")
    cand["contamination"] = cand["contamination"].fillna("")
    # where the factor is made
    if expression is not None:
        src = trust.source_from_expression(cand["symbol"], expression, sender, par["source_min_share"])
    else:
        made = trust.load_sources([*par["contamination"]["signatures"], par["sources"]])
        src = trust.source_from_tables(cand["symbol"], made)
    cand = cand.join(src, on="symbol")
    cand["marks"] = [_marks(r) for r in cand.itertuples(index=False)]
    cand["passes"] = cand["flagged"] & cand["marks"].eq("")
    marked = cand[cand["flagged"] & ~cand["passes"]]
    log.info("checks: %d of %d flagged candidates marked%s", len(marked), len(flagged),
             "".join(f"; {r.symbol}: {r.marks}" for r in marked.head(10).itertuples()))
    return order_candidates(cand)


def _design_frame(obs: pd.DataFrame, samples, params) -> pd.DataFrame:
    """The design columns of ``samples`` (VST column order) as categoricals, for patsy."""
    from .de import design_metadata

    obs = obs.copy()
    obs.index = obs.index.astype(str)
    return design_metadata(obs.loc[list(samples)], params["design_columns"], params["spec"]["contrasts"])


def _marks(row) -> str:
    """Why a flagged candidate is marked, in words ("" when it is not)."""
    if not row.flagged:
        return ""
    out = []
    if pd.notna(row.survives) and not row.survives:  # NaN: not assessed
        out.append(f"driven by {row.driven_by} (leave-one-out: {row.loo_unflagged} refits lose the call)")
    if row.contamination:
        out.append(f"follows the {row.contamination} signature (r = {row.contamination_r:.2f})")
    return "; ".join(out)
