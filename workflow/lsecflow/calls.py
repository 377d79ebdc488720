"""The one rule that calls a gene differentially expressed, used by every stage (summaries, figures, ORA,
paracrine flags): ``padj < alpha`` and ``|log2FoldChange| > lfc_threshold`` (``de.alpha``, ``de.lfc_threshold``)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def is_significant(table: pd.DataFrame, alpha: float, lfc_threshold: float) -> pd.Series:
    """True where ``padj < alpha`` and ``|log2FoldChange| > lfc_threshold`` (a missing padj is never significant)."""
    lfc = table["log2FoldChange"].astype(float)
    return (table["padj"].astype(float) < alpha) & (lfc.abs() > lfc_threshold)


def call_direction(table: pd.DataFrame, alpha: float, lfc_threshold: float) -> pd.Series:
    """``up``, ``down`` or ``ns`` per row, by :func:`is_significant` and the sign of the fold change."""
    sig = is_significant(table, alpha, lfc_threshold)
    lfc = table["log2FoldChange"].astype(float)
    return pd.Series(np.where(sig & (lfc > 0), "up", np.where(sig & (lfc < 0), "down", "ns")), index=table.index)
