"""Paracrine factors: rank DE secreted factors and ligands, find who hears them.

The annotation (``resources/paracrine/<species>.{factors,pairs}.tsv.gz``) is
built offline by :mod:`lsecflow.lrdb`. Here:

* :func:`rank_candidates` joins a DE table to the factor annotation and gives
  each factor a priority score (see :func:`priority_score`);
* :func:`check_candidates` adds the checks of :mod:`lsecflow.trust` (single
  samples, contamination, where the factor is made) and orders the table by
  them (:func:`order_candidates`);
* who hears them: :mod:`lsecflow.receivers`;
* :func:`run_paracrine` is the rule's entry point (figures: :mod:`lsecflow.paracrine_plots`).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import plots, trust
from .calls import is_significant
from .de_options import level_column
from .files import write_tsv_atomic
from .formula import design_metadata
from .lrdb import factor_symbols, load_factors, load_pairs
from .paracrine_plots import draw_paracrine_figures
from .receiver_tables import read_receiver_table
from .receivers import bulk_expression, pair_table, receivers_summary, sc_expression_tables

log = logging.getLogger(__name__)

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
    t = de.assign(symbol=factor_symbols(de["symbol"], factors.index), _exact=de["symbol"].astype(str))
    t = t[t["symbol"].isin(factors.index)]
    # a factor named by a protein group of several genes and also on its own: the group that is only it wins
    t = t.assign(_exact=t["_exact"] == t["symbol"]).sort_values("_exact", ascending=False, kind="stable")
    t = t.drop_duplicates("symbol").drop(columns="_exact").sort_index().copy()
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
    level = level_column(t)
    cols = ["symbol", "gene_id", "flagged", "direction", "class", "priority", "log2FoldChange", "padj",
            "pvalue", level, "n_sources", "sources", "secreted", "class_rule", "receptors"]
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


# ---------------------------------------------------------------- rule entry point
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
    receivers = receiver_tables(de, normalized, expr_table, params)
    table = pair_table(cand, pairs, receivers)
    cand["receivers"] = cand["symbol"].map(receivers_summary(table)).fillna("")
    log_flagged(cand, contrast_name, de_opts["alpha"], par["direction"])
    write_tsv_atomic(cand, candidates_out)
    write_tsv_atomic(table, pairs_out)
    draw_paracrine_figures(cand, table, params, plots.unit_title(params, contrast_name, cell_type), figures)
    return cand


def receiver_tables(de: pd.DataFrame, normalized: str, expression: pd.DataFrame | None, params: dict
                    ) -> dict[str, pd.DataFrame]:
    """Who hears the factors: ``{receiver: expression table}``. Single-cell data: every cell type of
    ``expression`` but the sender. Bulk: this dataset itself (whole tissue: is the receptor expressed
    at all?; not for a secretome, whose proteins say nothing of receptor expression) and every
    ``paracrine.receivers`` table."""
    spec = params["spec"]
    par = spec["paracrine"]
    if expression is not None:
        return sc_expression_tables(expression, par["min_fraction"], par["sender"])
    receivers = {}
    norm = pd.read_csv(normalized, sep="\t", index_col=0)
    if len(norm) and spec["assay"] == "bulk":
        symbols = de.set_index("gene_id")["symbol"].astype(str)
        norm.index = norm.index.map(symbols)
        norm = norm[norm.index.notna()].groupby(level=0).sum()
        receivers[f"{params['name']} (this dataset)"] = bulk_expression(norm, par["receiver_min_cpm"])
    for name, path in par["receivers"].items():
        receivers[name] = bulk_expression(read_receiver_table(path, name), par["receiver_min_cpm"])
    return receivers


def log_flagged(cand: pd.DataFrame, contrast_name: str, alpha: float, direction: str) -> None:
    """One log line: factors tested, flagged, and the top five flagged."""
    n = int(cand["flagged"].sum())
    log.info("%s: %d annotated factors tested, %d flagged (padj < %g, direction %s); top: %s", contrast_name,
             int(cand["padj"].notna().sum()), n, alpha, direction,
             ", ".join(f"{sym} ({cls})" for sym, cls in zip(cand["symbol"][:min(n, 5)], cand["class"][:min(n, 5)]))
             or "-")


def check_candidates(cand: pd.DataFrame, de: pd.DataFrame, params: dict, files: dict[str, str], contrast_name: str,
                     cell_type: str | None, expression: pd.DataFrame | None) -> pd.DataFrame:
    """Add the checks' columns to a candidates table and order it by them (:func:`order_candidates`).

    * single samples (``paracrine.robustness``): the DE step's leave-one-out refits
      (:func:`lsecflow.trust.leave_one_out`) get their padj (:func:`lsecflow.trust.loo_padj`) and go to
      ``files['robustness']``; :func:`lsecflow.trust.robustness_columns` judges each flagged candidate;
    * contamination: every sample's signature scores go to ``files['contamination']``; each flagged
      candidate is checked with :func:`lsecflow.trust.follows_signature` against the contaminant
      tissues (and, in LSEC isolations and single-cell LSEC units, the purity panel's other cell types);
    * source: from the cell types' expression (single-cell) or the marker and source tables, and in
      whole tissue the panel cell type whose signature the candidate follows.

    ``marks`` says in words why a flagged candidate is marked; ``passes`` is flagged and unmarked.
    """
    spec = params["spec"]
    sender = spec["paracrine"].get("sender", trust.LSEC) if spec["assay"] == "single_cell" else trust.LSEC
    n_flagged = int(cand["flagged"].sum())
    cand = robustness_check(cand, de, files, params)
    cand, constituent = contamination_check(cand, de, files, params, sender)
    cand = cand.join(source_check(cand, expression, constituent, params, sender), on="symbol")
    cand["marks"] = [_marks(r) for r in cand.itertuples(index=False)]
    cand["passes"] = cand["flagged"] & cand["marks"].eq("")
    marked = cand[cand["flagged"] & ~cand["passes"]]
    log.info("checks: %d of %d flagged candidates marked%s", len(marked), n_flagged,
             "".join(f"; {r.symbol}: {r.marks}" for r in marked.head(10).itertuples()))
    return order_candidates(cand)


def robustness_check(cand: pd.DataFrame, de: pd.DataFrame, files: dict[str, str], params: dict) -> pd.DataFrame:
    """Single samples: the DE step's leave-one-out refits (``files['loo']``) get their padj and go to
    ``files['robustness']``; each flagged candidate is judged on them (``survives``, ``driven_by``, ...)."""
    par, de_opts = params["spec"]["paracrine"], params["spec"]["de"]
    loo = pd.read_csv(files["loo"], sep="\t", dtype={"gene_id": str, "left_out": str})
    if len(loo) and loo["padj"].isna().all():  # held-prior refits: BH among the full fit's p-values
        loo["padj"] = trust.loo_padj(de, loo)
    write_tsv_atomic(loo, files["robustness"])
    if par["robustness"] and cand["flagged"].any() and loo.empty:
        log.info("leave-one-out: no refit (no sample of the contrast's groups can be left out with >= 2 kept)")
    cand = cand.join(trust.robustness_columns(cand, loo, de_opts["alpha"], de_opts["lfc_threshold"]), on="gene_id")
    cand["driven_by"] = cand["driven_by"].fillna("")
    return cand


def contamination_check(cand: pd.DataFrame, de: pd.DataFrame, files: dict[str, str], params: dict, sender: str
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contamination: every sample scored on every signature (``files['contamination']``); each flagged
    candidate's VST profile checked against the contaminant signatures (``contamination``,
    ``contamination_r``). In LSEC isolations and LSEC pseudobulk the panel's other liver cell types are
    contaminants; in whole tissue they are constituents, and the second table returned names the one a
    candidate follows (a source hint)."""
    import anndata as ad
    import patsy

    spec = params["spec"]
    par = spec["paracrine"]
    foreign = trust.load_signatures(par["contamination"]["signatures"], exclude={trust.LSEC, sender})
    panel = trust.load_signatures([spec["qc"]["markers"]], exclude={trust.LSEC, sender})
    panel_contaminates = spec["assay"] == "single_cell" or spec["qc"]["sample_type"] == "lsec"
    contaminants = {**panel, **foreign} if panel_contaminates else foreign
    vst = pd.read_csv(files["vst"], sep="\t", index_col=0)
    scores = pd.DataFrame(index=vst.columns)
    empty = pd.DataFrame({"signature": "", "r": np.nan}, index=pd.Index([], dtype=object))
    cont, constituent = empty, empty
    if len(vst):
        vst.index = vst.index.map(factor_symbols(de.set_index("gene_id")["symbol"], cand["symbol"]))
        # proteomics without imputation: proteins with a missing value are not assessed
        vst = vst[vst.index.notna()].dropna().groupby(level=0).mean()
        scores = trust.signature_scores(vst, {**panel, **foreign})
        obs = ad.read_h5ad(files["counts"], backed="r").obs
        design = np.asarray(patsy.dmatrix(spec["design"], data=_design_frame(obs, vst.columns, params)))
        symbols, min_r = list(cand.loc[cand["flagged"], "symbol"]), par["contamination"]["min_r"]
        cont = trust.follows_signature(symbols, vst, contaminants, design, min_r)
        if not panel_contaminates:
            constituent = trust.follows_signature(symbols, vst, panel, design, min_r)
    write_tsv_atomic(scores.rename_axis("sample").reset_index(), files["contamination"])
    cand = cand.join(cont.rename(columns={"signature": "contamination", "r": "contamination_r"}), on="symbol")
    cand["contamination"] = cand["contamination"].fillna("")
    return cand, constituent


def source_check(cand: pd.DataFrame, expression: pd.DataFrame | None, constituent: pd.DataFrame, params: dict,
                 sender: str) -> pd.DataFrame:
    """Where each factor is made (``source``, ``lsec_share``, ``lsec_source``, by symbol): the cell types'
    expression (single-cell), else the marker and source tables, a configured single-cell reference for
    the factors it measures, and in whole tissue the constituent cell type whose signature it follows."""
    spec = params["spec"]
    par = spec["paracrine"]
    if expression is not None:
        return trust.source_from_expression(cand["symbol"], expression, sender, par["source_min_share"])
    made = trust.load_sources([spec["qc"]["markers"], *par["contamination"]["signatures"], par["sources"]])
    src = trust.source_from_tables(cand["symbol"], made)
    if par.get("source_reference"):  # a single-cell reference decides for the factors it measures
        ref = par["source_reference"]
        table = trust.read_expression_reference(ref["expression"], ref["lsec_label"])
        by_ref = trust.source_from_expression(cand["symbol"], table, ref["lsec_label"], par["source_min_share"])
        measured = by_ref["lsec_source"] != "unknown"
        src.loc[measured] = by_ref.loc[measured]
    for sym, row in constituent[constituent["signature"] != ""].iterrows():
        if src.at[sym, "source"] == "":
            src.at[sym, "source"] = f"{row['signature']} (follows its signature, r = {row['r']:.2f})"
    return src


def _design_frame(obs: pd.DataFrame, samples, params) -> pd.DataFrame:
    """The design columns of ``samples`` (VST column order) as categoricals, for patsy."""
    obs = obs.copy()
    obs.index = obs.index.astype(str)
    return design_metadata(obs.loc[list(samples)], params["design_columns"], params["spec"]["contrasts"])


def _marks(row) -> str:
    """Why a flagged candidate is marked, in words ("" when it is not)."""
    if not row.flagged:
        return ""
    out = []
    if pd.notna(row.survives) and not row.survives:  # NaN: not assessed
        lost = int(str(row.loo_unflagged).split()[0])
        out.append(f"driven by {row.driven_by} (the only one of {row.loo_unflagged.split()[-1]} leave-one-out "
                   "refits that loses the call)" if lost == 1 else
                   f"fragile: {row.loo_unflagged} leave-one-out refits lose the call (most: without {row.driven_by})")
    if row.contamination:
        out.append(f"follows the {row.contamination} signature (r = {row.contamination_r:.2f})")
    return "; ".join(out)
