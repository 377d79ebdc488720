"""Checks on each paracrine candidate: single samples, contamination, and where the factor is made.

* :func:`leave_one_out` refits the flagged genes with each sample of the
  contrast's two groups left out, under the full fit's dispersion prior, and
  :func:`robustness_columns` says whether the call survives every refit and,
  if not, which sample drives it;
* :func:`follows_signature` finds the signature a candidate's across-sample
  profile follows (after the design's effects are removed): a contaminant
  tissue, or in whole tissue a constituent cell type (a hint of the source);
* :func:`source_from_expression` and :func:`source_from_tables` say where the
  factor is made: from the share of its expression per cell type when cell
  types are known, else from the shipped marker and source tables.

Method notes and measurements: ``docs/paracrine.md``.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .calls import benjamini_hochberg, is_significant
from .contrasts import cells, deseq2_contrast
from .deseq2 import as_in_r, quiet_inmoose, tx_length_factors
from .errors import InputDataError
from .formula import design_terms
from .markers import LSEC, load_markers
from .transcripts import TX_LENGTH_LAYER

log = logging.getLogger(__name__)

ROBUSTNESS_COLUMNS = ["survives", "driven_by", "loo_unflagged", "loo_min_abs_lfc", "loo_max_padj"]


# ---------------------------------------------------------------- leave one out
def left_out_samples(meta: pd.DataFrame, contrast: dict, min_left: int = 2) -> tuple[list[str], list[str]]:
    """Samples of the contrast's two groups that can be left out (their group keeps ``min_left``),
    and those that cannot."""
    usable, kept = [], []
    for mask in cells(meta, contrast).values():  # each group the contrast compares (four for an interaction)
        members = list(meta.index[mask])
        (usable if len(members) > min_left else kept).extend(members)
    return usable, kept


def refit_plan(meta: pd.DataFrame, contrasts: dict[str, dict], genes: dict[str, list[str]]) -> dict[str, list[str]]:
    """Left-out sample -> the contrasts (those with genes to refit) whose groups hold it; one refit
    without that sample serves them all (see :func:`left_out_samples`)."""
    plan: dict[str, list[str]] = {}
    for name, contrast in contrasts.items():
        if genes.get(name):
            for s in left_out_samples(meta, contrast)[0]:
                plan.setdefault(s, []).append(name)
    return plan


def leave_one_out(dds, design: str, contrasts: dict[str, dict], genes: dict[str, list[str]],
                  lfc_threshold: float = 0.0) -> pd.DataFrame:
    """Refit genes of a fitted model with each sample of a contrast's groups left out in turn.

    Each refit is DESeq2's on the remaining samples with two things held
    from the full fit: the dispersion trend and the prior variance of log
    dispersions (re-estimating them needs every gene). Size factors are
    re-estimated on all genes; gene-wise and MAP dispersions, the GLM and the
    Wald test are redone on the original counts. One refit per left-out
    sample serves every contrast whose groups hold it (the model is the
    design's, the contrasts are read from it). Outlier replacement and
    Cook's filtering are not redone.

    Parameters
    ----------
    dds
        A model fitted by :func:`lsecflow.de.fit_model`.
    design
        Its formula.
    contrasts
        ``{name: {variable, target, reference}}``.
    genes
        ``{name: gene ids}`` to refit for each contrast.
    lfc_threshold
        The full fit's ``de.lfc_threshold``: the refits' Wald tests are against it too.

    Returns
    -------
    pandas.DataFrame
        Long table: ``contrast``, ``gene_id``, ``left_out``, ``log2FoldChange``, ``pvalue``.
    """
    from inmoose.deseq2 import (
        DESeqDataSet,
        estimateDispersionsGeneEst,
        estimateDispersionsMAP,
        estimateSizeFactorsForMatrix,
        nbinomWaldTest,
    )

    meta = dds.obs[list(dict.fromkeys(col for t in sorted(design_terms(design)) for col in t.split(":")))]  # numbers too
    ids = pd.Index(dds.var_names.astype(str))
    genes = {name: [g for g in gs if g in ids] for name, gs in genes.items()}
    plan = refit_plan(meta, contrasts, genes)
    counts = pd.DataFrame(np.asarray(dds.counts(), dtype=np.int64), index=dds.obs_names.astype(str), columns=ids)
    sf_type = "ratio" if dds.uns["lsecflow_fit"]["size_factors"] == "ratio" else "poscounts"
    fn = dds.dispersionFunction
    rows = []
    for s, names in plan.items():
        keep = counts.index != s
        wanted = list(dict.fromkeys(g for name in names for g in genes[name]))
        try:
            sub = DESeqDataSet(counts.loc[keep, wanted], meta[keep].copy(), design=design)
            if TX_LENGTH_LAYER in dds.layers:  # normalisation factors from transcript lengths, re-made on these
                nf = tx_length_factors(counts.to_numpy()[keep], np.asarray(dds.layers[TX_LENGTH_LAYER])[keep],
                                       sf_type)
                sub.normalizationFactors = nf[:, ids.get_indexer(wanted)]
            else:
                sub.sizeFactors = np.asarray(estimateSizeFactorsForMatrix(counts.to_numpy()[keep], type_=sf_type),
                                             dtype=float).ravel()
            with quiet_inmoose(), as_in_r():
                sub = estimateDispersionsGeneEst(sub)
                sub.setDispFunction(fn, estimateVar=False)
                sub = estimateDispersionsMAP(sub, dispPriorVar=fn.dispPriorVar)
                sub = nbinomWaldTest(sub)
        except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. the design is not full rank without it
            log.warning("leave-one-out: no refit without %s (%s); the candidates are judged on the others", s, exc)
            continue
        with quiet_inmoose():
            for name in names:
                c = contrasts[name]
                res = pd.DataFrame(sub.results(contrast=deseq2_contrast(sub, c), lfcThreshold=float(lfc_threshold),
                                               independentFiltering=False, cooksCutoff=False)).loc[genes[name]]
                rows.append(pd.DataFrame({"contrast": name, "gene_id": genes[name], "left_out": s,
                                          "log2FoldChange": res["log2FoldChange"].to_numpy(dtype=float),
                                          "pvalue": res["pvalue"].to_numpy(dtype=float)}))
    columns = ["contrast", "gene_id", "left_out", "log2FoldChange", "pvalue"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def loo_padj(table: pd.DataFrame, loo: pd.DataFrame) -> pd.Series:
    """Benjamini-Hochberg padj of each refit.

    The refitted genes' p-values replace theirs among the full table's
    p-values (the genes that kept a padj there: independent filtering and
    Cook's filtering as in the full fit), and BH is redone; the other genes
    keep their full-fit p-values.
    """
    base = table.set_index("gene_id")
    tested = base["padj"].notna()
    p_full = base.loc[tested, "pvalue"].astype(float)
    out = pd.Series(np.nan, index=loo.index)
    for sample, grp in loo.groupby("left_out", sort=False):
        p = p_full.copy()
        mine = grp[grp["gene_id"].isin(p.index)]
        p.loc[mine["gene_id"]] = mine["pvalue"].fillna(1.0).to_numpy()
        q = pd.Series(benjamini_hochberg(p.to_numpy()), index=p.index)
        out.loc[mine.index] = q.loc[mine["gene_id"]].to_numpy()
    return out


def robustness_columns(cand: pd.DataFrame, loo: pd.DataFrame, alpha: float, lfc_threshold: float) -> pd.DataFrame:
    """Per flagged candidate (index ``gene_id``): does the call survive every leave-one-out refit?

    A refit keeps the call when its padj < ``alpha``, its |log2FC| >
    ``lfc_threshold`` and the fold change keeps its sign. Columns:
    ``survives``; ``driven_by``, the left-out sample whose refit moves the
    candidate furthest (highest padj) when that refit loses the call, else
    empty; ``loo_unflagged`` ("k of n" refits that lose it);
    ``loo_min_abs_lfc``; ``loo_max_padj``.
    """
    flagged = cand[cand["flagged"]].set_index("gene_id")
    t = loo[loo["gene_id"].isin(flagged.index)].copy()
    if t.empty:
        return pd.DataFrame(columns=ROBUSTNESS_COLUMNS)
    t["padj"] = t["padj"].fillna(1.0)
    sign = np.sign(t["gene_id"].map(flagged["log2FoldChange"]))
    t["lost"] = ~(is_significant(t, alpha, lfc_threshold) & (np.sign(t["log2FoldChange"]) == sign))
    t["abs_lfc"] = t["log2FoldChange"].abs()
    g = t.groupby("gene_id", sort=False)
    worst = t.loc[g["padj"].idxmax(), ["gene_id", "left_out"]].set_index("gene_id")["left_out"]
    out = pd.DataFrame({"lost": g["lost"].sum(), "n": g.size(), "loo_min_abs_lfc": g["abs_lfc"].min(),
                        "loo_max_padj": g["padj"].max()})
    out["survives"] = out["lost"] == 0
    out["driven_by"] = np.where(out["survives"], "", worst.reindex(out.index).astype(str))
    out["loo_unflagged"] = [f"{int(k)} of {int(n)}" for k, n in zip(out["lost"], out["n"])]
    return out[ROBUSTNESS_COLUMNS]


# ---------------------------------------------------------------- contamination
def load_signatures(paths, exclude=()) -> dict[str, list[str]]:
    """Signatures (``cell_type`` -> genes) from marker-style tables (``cell_type``, ``gene``), in order;
    a name met again adds its genes. ``exclude``: names left out (the LSEC's own signature)."""
    out: dict[str, list[str]] = {}
    for path in paths:
        for name, genes in load_markers(path).items():
            if name not in exclude:
                out.setdefault(name, [])
                out[name] += [g for g in genes if g not in out[name]]
    return out


def _zscores(vst: pd.DataFrame) -> pd.DataFrame:
    return vst.sub(vst.mean(axis=1), axis=0).div(vst.std(axis=1).replace(0, np.nan), axis=0)


def _members(z: pd.DataFrame, signatures: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each signature's genes that ``z`` has (finite everywhere); signatures without one are left out."""
    ok = set(z.index[z.notna().all(axis=1)])
    members = {name: [g for g in dict.fromkeys(genes) if g in ok] for name, genes in signatures.items()}
    return {name: genes for name, genes in members.items() if genes}


def signature_scores(vst: pd.DataFrame, signatures: dict[str, list[str]]) -> pd.DataFrame:
    """Per sample and signature: the mean z-score (over samples) of the signature's genes in ``vst``
    (genes as symbols x samples); signatures without a gene are left out."""
    z = _zscores(vst)
    return pd.DataFrame({name: z.loc[genes].mean(axis=0) for name, genes in _members(z, signatures).items()})


def follows_signature(symbols: list[str], vst: pd.DataFrame, signatures: dict[str, list[str]],
                      design: np.ndarray, min_r: float) -> pd.DataFrame:
    """Per symbol: the signature its profile follows, if any.

    Both the gene's VST profile and each signature's score (mean z-score of
    its genes, the gene itself left out) are residualised on the design
    matrix, so that an effect of the conditions (a whole group induced) does
    not count; a gene whose residual profile correlates with a signature's at
    Pearson r >= ``min_r`` follows that signature (the highest r if several).
    Needs >= 4 residual degrees of freedom, else nothing is assessed.

    Returns
    -------
    pandas.DataFrame
        Index symbol; ``signature`` (name or ""), ``r`` (the highest r over the signatures).
    """
    out = pd.DataFrame({"signature": "", "r": np.nan}, index=pd.Index(symbols, dtype=object))
    df = design.shape[0] - np.linalg.matrix_rank(design)
    z = _zscores(vst)
    members = _members(z, signatures)
    if df < 4 or not members:
        if df < 4:
            log.info("signature check skipped: %d residual degrees of freedom (needs >= 4)", df)
        return out
    names = list(members)
    sums = np.vstack([z.loc[members[n]].sum(axis=0).to_numpy() for n in names])  # signatures x samples
    sizes = np.array([len(members[n]) for n in names], dtype=float)
    genes = [g for g in dict.fromkeys(symbols) if g in z.index and z.loc[g].notna().all()]
    if not genes:
        return out
    zg = z.loc[genes].to_numpy(dtype=float)
    inside = np.array([[g in set(members[n]) for n in names] for g in genes])  # genes x signatures
    # each gene's own signature scores, itself left out (a signature of that gene alone: no score)
    left = sizes[None, :] - inside
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = (sums[None, :, :] - inside[:, :, None] * zg[:, None, :]) / left[:, :, None]
    scores[left == 0] = np.nan
    hat = design @ np.linalg.pinv(design)  # rows of a matrix less their least-squares fit: a - a @ hat.T
    rg = zg - zg @ hat.T
    flat = scores.reshape(-1, scores.shape[-1])
    rs = (flat - flat @ hat.T).reshape(scores.shape)
    rg_c = rg - rg.mean(axis=1, keepdims=True)
    rs_c = rs - rs.mean(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (rs_c * rg_c[:, None, :]).sum(axis=2) / np.sqrt((rs_c ** 2).sum(axis=2) * (rg_c ** 2).sum(axis=1)[:, None])
    for k, g in enumerate(genes):
        if np.all(np.isnan(r[k])):
            continue
        best = int(np.nanargmax(r[k]))
        out.at[g, "r"] = float(r[k, best])
        if r[k, best] >= min_r:
            out.at[g, "signature"] = names[best]
    return out


# ---------------------------------------------------------------- where the factor is made
def load_sources(paths, exclude=()) -> dict[str, list[str]]:
    """Gene symbol -> cell types that make it, from marker-style tables (``cell_type``, ``gene``)."""
    made: dict[str, list[str]] = {}
    for name, genes in load_signatures(paths, exclude).items():
        for g in genes:
            made.setdefault(g, []).append(name)
    return made


def source_from_tables(symbols, made: dict[str, list[str]], lsec: str = LSEC) -> pd.DataFrame:
    """``source`` (cell types the tables list for the gene, or "") and ``lsec_source``
    (yes: the LSEC is listed; no: only other cell types are; unknown: none is)."""
    rows = {}
    for sym in symbols:
        types = made.get(sym, [])
        rows[sym] = {"source": "; ".join(types), "lsec_share": np.nan,
                     "lsec_source": "yes" if lsec in types else ("no" if types else "unknown")}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["source", "lsec_share", "lsec_source"])


def source_from_expression(symbols, expression: pd.DataFrame, sender: str, min_share: float) -> pd.DataFrame:
    """Source of each factor from cell-type expression (long table ``gene``, ``cell_type``, ``mean``).

    A cell type's *share* is its mean log-normalised expression over the sum
    of all cell types' means. ``source`` lists the cell types with share >=
    ``min_share``, largest first ("type (share)"); ``lsec_share`` is the
    sender's; ``lsec_source`` is yes when the sender reaches ``min_share``,
    no when it does not, unknown when the gene is not measured.
    """
    mean = expression.pivot_table(index="gene", columns="cell_type", values="mean", aggfunc="first")
    total = mean.sum(axis=1)
    rows = {}
    for sym in symbols:
        if sym not in mean.index or not total.get(sym, 0) > 0:
            rows[sym] = {"source": "", "lsec_share": np.nan, "lsec_source": "unknown"}
            continue
        share = (mean.loc[sym] / total[sym]).sort_values(ascending=False, kind="stable")
        top = share[share >= min_share]
        lsec = float(share.get(sender, 0.0))
        rows[sym] = {"source": "; ".join(f"{ct} ({v:.0%})" for ct, v in top.items()),
                     "lsec_share": lsec, "lsec_source": "yes" if lsec >= min_share else "no"}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["source", "lsec_share", "lsec_source"])


def read_expression_reference(path, lsec_label: str) -> pd.DataFrame:
    """A per-cell-type expression table (``gene``, ``cell_type``, ``mean``) that names ``lsec_label``."""
    try:
        table = pd.read_csv(path, sep="\t")
    except (EOFError, OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(f"{path}: cannot be read as a tab-separated table ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in ("gene", "cell_type", "mean") if c not in table.columns]
    if missing:
        raise InputDataError(f"{path}: column(s) {', '.join(missing)} missing (columns: {', '.join(table.columns)})")
    if lsec_label not in set(table["cell_type"].astype(str)):
        raise InputDataError(f"{path}: no cell type {lsec_label!r} (cell types: "
                             f"{', '.join(sorted(set(table['cell_type'].astype(str))))})")
    mean = pd.to_numeric(table["mean"], errors="coerce")
    if mean.isna().any():
        raise InputDataError(f"{path}: column 'mean' is not a number for gene {table.loc[mean.isna(), 'gene'].iloc[0]!r}")
    return table.assign(mean=mean)
