"""The one rule that calls a gene differentially expressed, used by every stage (summaries, figures, ORA,
paracrine flags): ``padj < alpha`` and ``|log2FoldChange| > lfc_threshold`` (``de.alpha``, ``de.lfc_threshold``);
the summary counts and the stable order of a DE table; the flagged and passing rows of a candidates table."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .contrasts import cells, group_masks, is_slope


def is_significant(table: pd.DataFrame, alpha: float, lfc_threshold: float) -> pd.Series:
    """True where ``padj < alpha`` and ``|log2FoldChange| > lfc_threshold`` (a missing padj is never significant)."""
    lfc = table["log2FoldChange"].astype(float)
    return (table["padj"].astype(float) < alpha) & (lfc.abs() > lfc_threshold)


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (R's ``p.adjust(p, "BH")``): a missing p-value stays missing and is
    not counted. numpy only (scipy.stats costs ~0.7 s to import in a job that needs nothing else from it)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    n = int(ok.sum())
    if n:
        order = np.argsort(p[ok])[::-1]
        q = np.minimum.accumulate(p[ok][order] * n / np.arange(n, 0, -1))
        adjusted = np.empty(n)
        adjusted[order] = np.minimum(q, 1.0)
        out[ok] = adjusted
    return out


def call_direction(table: pd.DataFrame, alpha: float, lfc_threshold: float) -> pd.Series:
    """``up``, ``down`` or ``ns`` per row, by :func:`is_significant` and the sign of the fold change."""
    sig = is_significant(table, alpha, lfc_threshold)
    lfc = table["log2FoldChange"].astype(float)
    return pd.Series(np.where(sig & (lfc > 0), "up", np.where(sig & (lfc < 0), "down", "ns")), index=table.index)


def sort_results(res: pd.DataFrame) -> pd.DataFrame:
    """Stable order: padj, then pvalue, then gene id (missing values last)."""
    order = np.lexsort((res["gene_id"].to_numpy(), res["pvalue"].fillna(np.inf).to_numpy(),
                        res["padj"].fillna(np.inf).to_numpy()))
    return res.iloc[order].reset_index(drop=True)


def tested_counts(res: pd.DataFrame) -> dict[str, int]:
    """``tested`` (a p-value), ``cooks_outliers`` (no p-value) and ``independent_filtered`` (a p-value, no padj)."""
    tested = res["pvalue"].notna()
    return {"tested": int(tested.sum()), "cooks_outliers": int((~tested).sum()),
            "independent_filtered": int((tested & res["padj"].isna()).sum())}


def group_sizes(obs: pd.DataFrame, contrast: dict) -> dict:
    """How many of the fitted samples (``obs``) are at the contrast's target and at its reference level (within
    its strata: :func:`lsecflow.contrasts.group_masks`); for an interaction also ``n_by_level``, the samples of
    each compared cell (``3 vs 3 samples in genotype KO, 3 vs 2 in genotype WT``): the totals count a cell of
    each level on each side, which hides a level with one sample."""
    target, reference = group_masks(obs, contrast)
    sizes = {"n_target": int(target.sum()), "n_reference": int(reference.sum())}
    inter = contrast.get("interaction")
    if inter:
        n = [int(mask.sum()) for mask in cells(obs, contrast).values()]  # target then reference, at each level
        at = [f"{inter['variable']} {inter[role]}" for role in ("target", "reference")]
        sizes["n_by_level"] = (f"{n[0]} samples in {at[0]}, {n[1]} in {at[1]}" if is_slope(contrast) else
                               f"{n[0]} vs {n[2]} samples in {at[0]}, {n[1]} vs {n[3]} in {at[1]}")
    return sizes


def sizes_note(row) -> str:
    """``; 10 vs 2 samples`` from a DE summary row with :func:`group_sizes`'s columns (an interaction's:
    ``n_by_level``), else nothing."""
    if "n_target" not in row or pd.isna(row["n_target"]):
        return ""
    if "n_by_level" in row and isinstance(row["n_by_level"], str):
        return f"; {row['n_by_level']}"
    if int(row["n_reference"]) == 0:  # a slope: one set of samples along the number
        return f"; {int(row['n_target'])} samples"
    return f"; {int(row['n_target'])} vs {int(row['n_reference'])} samples"


def summarize(res: pd.DataFrame, alpha: float, lfc_threshold: float, sizes: dict | None = None) -> pd.DataFrame:
    """Up/down counts at ``padj < alpha`` and ``|log2FC| > lfc_threshold``, :func:`tested_counts`, and the
    samples of each side (:func:`group_sizes`) when given."""
    calls = call_direction(res, alpha, lfc_threshold)
    counts = tested_counts(res)
    return pd.DataFrame({
        "tested": [counts["tested"]],
        "up": [int((calls == "up").sum())],
        "down": [int((calls == "down").sum())],
        "cooks_outliers": [counts["cooks_outliers"]],
        "independent_filtered": [counts["independent_filtered"]],
        "alpha": [alpha],
        "lfc_threshold": [lfc_threshold],
        **{k: [v] for k, v in (sizes or {}).items()},
    })


def flagged_candidates(candidates: pd.DataFrame) -> pd.DataFrame:
    """The flagged rows of a paracrine candidates table (the column is read back as text or bool)."""
    return candidates[candidates["flagged"].astype(str).str.lower() == "true"]


def passing_candidates(flagged: pd.DataFrame) -> pd.DataFrame:
    """Flagged candidates that pass every check (all of them when the table has no checks)."""
    if "passes" not in flagged:
        return flagged
    return flagged[flagged["passes"].astype(str).str.lower() == "true"]


def composition_calls(table: pd.DataFrame) -> list[tuple[str, int, list[str]]]:
    """Per contrast of a ``composition/propeller.tsv`` (:mod:`lsecflow.composition`, its ``called`` column at the
    run's ``de.alpha``): ``(contrast, cell types tested, [each called one: "name 0.50x", with "(rests on
    <sample>)" when a single sample carries it])``, for the closing summary and the report's overview."""
    out = []
    for contrast, part in table.groupby("contrast", sort=False):
        said = []
        for r in part[part["called"].astype(bool)].itertuples():
            text = f"{r.cell_type} {r.prop_ratio:.2f}x" if pd.notna(r.prop_ratio) else str(r.cell_type)
            if isinstance(r.driven_by, str) and r.driven_by:
                text += f" (rests on {r.driven_by})"
            said.append(text)
        out.append((str(contrast), len(part), said))
    return out

