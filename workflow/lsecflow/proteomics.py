"""Protein intensities to the matrix the moderated tests see: the preprocessing steps of
``assay: proteomics``, each one logged with its counts.

In order (each step set in the dataset's ``proteomics`` block):

1. ``zero_is_missing``: an intensity of 0 means "not quantified" (MaxQuant, FragPipe, DIA-NN) -> missing;
2. ``log2``: log2 of the intensities, no pseudo-count (false for a table already on a log scale);
3. proteins missing in every sample are dropped (counted);
4. the valid-value filter: at least ``min_valid`` values in ``each`` group (or in ``any`` group) of
   ``filter_by`` (default: the first contrast's variable, crossed with its ``within`` / ``interaction`` columns);
5. ``normalize``: ``median`` (each sample's median over the kept proteins subtracted, the mean of the
   medians added back), ``quantile`` (limma's ``normalizeQuantiles``, missing values allowed),
   ``cyclicloess`` (limma's ``normalizeCyclicLoess``, method "fast") or ``none``;
6. ``impute``: ``none`` (limma fits each protein on its observed samples), or one of
   :mod:`lsecflow.imputation`'s methods (``downshift``, ``mindet``, ``minprob``, ``qrilc``, ``knn``), the imputed
   cells flagged.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .contrasts import group_columns, is_slope
from .errors import ConfigError, InputDataError
from .imputation import impute
from .lowess import loess_fit

if TYPE_CHECKING:  # the config check at parse time imports this module: anndata and scipy.stats load when used
    import anndata as ad

log = logging.getLogger(__name__)


@dataclass
class Preprocessed:
    """The result of :func:`preprocess` (proteins x samples)."""

    values: pd.DataFrame
    """What the tests see: log2, filtered, normalised (and imputed)."""
    imputed: pd.DataFrame
    """True where a value was imputed."""
    before: pd.DataFrame
    """log2 intensities of the kept proteins before normalisation (for the QC figure)."""
    steps: list[dict] = field(default_factory=list)
    """One record per step: ``step``, ``proteins``, ``missing`` (cells), ``detail``."""


def protein_matrix(adata: ad.AnnData) -> pd.DataFrame:
    """Intensities of an ingested proteomics AnnData as proteins x samples, samples sorted by id."""
    adata = adata[np.argsort(adata.obs_names.astype(str).to_numpy(), kind="stable")]
    return pd.DataFrame(np.asarray(adata.X, dtype=float).T, index=adata.var_names.astype(str),
                        columns=adata.obs_names.astype(str))


def observed_mask(raw: pd.DataFrame, opts: dict) -> pd.DataFrame:
    """True where a protein was quantified in a sample (a value, and not 0 when 0 means missing)."""
    seen = raw.notna()
    return seen & (raw != 0) if opts.get("zero_is_missing", True) else seen


def filter_columns(opts: dict, contrasts: dict) -> list[str]:
    """The sheet columns whose level combinations are the groups of the valid-value filter:
    ``proteomics.filter_by`` (one column or a list), else the columns that tell the first between-levels
    contrast's groups apart (:func:`lsecflow.contrasts.group_columns`: its variable, with its ``within`` and
    ``interaction`` columns, so that each cell of a crossed design is held to ``min_valid``); none with only
    slopes."""
    by = opts.get("filter_by")
    if by:
        return [by] if isinstance(by, str) else list(by)
    first = next((c for c in contrasts.values() if not is_slope(c)), None)
    return [] if first is None else group_columns(first)


def filter_groups_text(cols: list[str]) -> str:
    """What the filter's groups (``cols``, at least one) are, in words: ``level of group``, ``combination of
    cell_type x group``."""
    return f"level of {cols[0]}" if len(cols) == 1 else f"combination of {' x '.join(cols)}"


def filter_groups(obs: pd.DataFrame, opts: dict, contrasts: dict) -> pd.Series:
    """Each sample's group for the valid-value filter (:func:`filter_columns`; their levels joined by " · "),
    all samples one group without columns."""
    cols = filter_columns(opts, contrasts)
    if not cols:
        return pd.Series("all", index=obs.index)
    for col in cols:
        if col not in obs.columns:
            raise InputDataError(f"proteomics.filter_by: {col!r} is not a sample-sheet column")
    return obs[cols].astype(str).agg(" · ".join, axis=1)


def check_filter(spec: dict, sheet: pd.DataFrame, where: str) -> None:
    """Parse-time check of the valid-value filter on the sheet (less ``qc.exclude``): its columns exist, and with
    ``min_valid_in: each`` every group has ``min_valid`` samples (else no protein could pass)."""
    opts = spec["proteomics"]
    cols = filter_columns(opts, spec["contrasts"])
    absent = [c for c in cols if c not in sheet.columns]
    if absent:
        raise ConfigError(f"{where}: key 'proteomics.filter_by': {absent[0]!r} is not a column of the sample sheet "
                          f"(columns: {', '.join(map(str, sheet.columns))})")
    if not cols or opts.get("min_valid_in", "each") != "each":
        return
    sizes = filter_groups(sheet[~sheet.index.isin(spec["qc"].get("exclude", []))], opts, spec["contrasts"]
                          ).value_counts()
    small = sizes[sizes < opts.get("min_valid", 2)].sort_index()
    if len(small):
        raise ConfigError(f"{where}: key 'proteomics.min_valid': {opts.get('min_valid', 2)} values in each "
                          f"{filter_groups_text(cols)}, "
                          f"but {small.index[0]!r} has {int(small.iloc[0])} sample(s), so no "
                          "protein could pass; lower min_valid, or set min_valid_in: any")


def valid_filter(log2: pd.DataFrame, groups: pd.Series, min_valid: int, within: str = "each") -> pd.Series:
    """True for proteins with at least ``min_valid`` observed values in each (``within='each'``) or in at
    least one (``'any'``) group."""
    counts = log2.notna().T.groupby(groups.reindex(log2.columns).to_numpy()).sum().T
    ok = counts >= min_valid
    return ok.all(axis=1) if within == "each" else ok.any(axis=1)


def median_centre(x: pd.DataFrame) -> pd.DataFrame:
    """Subtract each sample's median (missing values ignored), add back the mean of the medians."""
    med = x.median(axis=0, skipna=True)
    return x - med + med.mean()


def normalize_quantiles(x: pd.DataFrame) -> pd.DataFrame:
    """limma's ``normalizeQuantiles(A, ties = TRUE)``, missing values allowed (R's algorithm: each column's
    observed quantiles interpolated onto a common grid, averaged, and mapped back by rank)."""
    from scipy.stats import rankdata

    A = x.to_numpy(dtype=float).copy()
    n, m = A.shape
    if m == 1 or n < 2:
        return x.copy()
    grid = np.arange(n) / (n - 1)
    S = np.empty((n, m))
    nobs = np.empty(m, dtype=int)
    for j in range(m):
        obs = np.sort(A[~np.isnan(A[:, j]), j])
        nobs[j] = len(obs)
        if nobs[j] < 2:
            raise InputDataError(f"quantile normalisation: sample {x.columns[j]!r} has fewer than 2 values")
        S[:, j] = obs if nobs[j] == n else np.interp(grid, np.arange(nobs[j]) / (nobs[j] - 1), obs)
    mean = S.mean(axis=1)
    for j in range(m):
        ok = ~np.isnan(A[:, j])
        r = rankdata(A[ok, j], method="average")
        A[ok, j] = np.interp((r - 1) / (nobs[j] - 1), grid, mean)
    return pd.DataFrame(A, index=x.index, columns=x.columns)


def normalize_cyclic_loess(x: pd.DataFrame, span: float = 0.7, iterations: int = 3) -> pd.DataFrame:
    """limma's ``normalizeCyclicLoess(x, span = 0.7, iterations = 3, method = "fast")``: ``iterations``
    times, each sample's difference from the proteins' mean (``rowMeans(na.rm = TRUE)``) is smoothed
    against that mean by ``loessFit`` (R's ``lowess``) and subtracted; missing values stay missing."""
    A = x.to_numpy(dtype=float).copy()
    for _ in range(iterations):
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(A, axis=1)
        for i in range(A.shape[1]):
            fitted, _ = loess_fit(A[:, i] - mean, mean, span)
            A[:, i] = A[:, i] - fitted
    return pd.DataFrame(A, index=x.index, columns=x.columns)


def _record(steps: list, step: str, x: pd.DataFrame, detail: str) -> None:
    steps.append({"step": step, "proteins": int(x.shape[0]), "missing": int(x.isna().to_numpy().sum()),
                  "detail": detail})
    log.info("%s: %d proteins, %d missing values (%s)", step, x.shape[0], steps[-1]["missing"], detail)


def preprocess(raw: pd.DataFrame, groups: pd.Series, opts: dict, seed: int = 0) -> Preprocessed:
    """Run the preprocessing steps on raw intensities (proteins x samples, as read).

    Parameters
    ----------
    raw
        Intensities on the linear scale (or on a log scale with ``log2: false``).
    groups
        Each sample's group for the valid-value filter (:func:`filter_groups`).
    opts
        The dataset's ``proteomics`` block.
    seed
        Seed of the imputation.
    """
    steps: list[dict] = []
    x = raw.astype(float).copy()
    _record(steps, "input", x, f"{x.shape[1]} samples")
    if opts.get("zero_is_missing", True):
        zeros = int((x == 0).to_numpy().sum())
        x = x.mask(x == 0)
        _record(steps, "zero_is_missing", x, f"{zeros} zero intensities set to missing")
    if opts.get("log2", True):
        x = np.log2(x)
        _record(steps, "log2", x, "log2 of the intensities")
    empty = x.index[x.isna().all(axis=1)]
    x = x.drop(index=empty)
    _record(steps, "drop_all_missing", x, f"{len(empty)} proteins without a value in any sample dropped"
            + (f" (first: {', '.join(map(str, empty[:3]))})" if len(empty) else ""))
    for col in x.columns:
        if x[col].isna().all():
            raise InputDataError(f"sample {col!r} has no quantified protein (every intensity missing or 0)")
    keep = valid_filter(x, groups, opts.get("min_valid", 2), opts.get("min_valid_in", "each"))
    x = x[keep]
    _record(steps, "valid_filter", x, f">= {opts.get('min_valid', 2)} values in {opts.get('min_valid_in', 'each')} "
            f"group of {sorted(groups.unique())}: {int((~keep).sum())} proteins removed")
    if x.empty:
        raise InputDataError(f"no protein passes the valid-value filter (proteomics.min_valid "
                             f"{opts.get('min_valid', 2)} in {opts.get('min_valid_in', 'each')} group); lower it")
    before = x.copy()
    method = opts.get("normalize", "median")
    if method == "median":
        x = median_centre(x)
    elif method == "quantile":
        x = normalize_quantiles(x)
    elif method == "cyclicloess":
        x = normalize_cyclic_loess(x)
    _record(steps, "normalize", x, method)
    x, imputed, detail = impute(x, opts, seed)
    if opts.get("impute", "none") != "none":
        _record(steps, "impute", x, detail)
    return Preprocessed(values=x, imputed=imputed, before=before, steps=steps)


def ingest_report(adata: ad.AnnData) -> dict:
    """What the ingest job counted (rows removed, a peptide table's summary, ...), as it stored it in ``uns``."""
    return json.loads(adata.uns.get("lsecflow", {}).get("ingest", "{}"))


def _report_rows(ingest: dict) -> str:
    """A DIA-NN report's rows and those dropped before the pivot, for the preprocessing table ('' for other
    tables)."""
    if "rows_filtered" not in ingest:
        return ""
    dropped = [f"{ingest[key]} {what}" for key, what in (("rows_decoy", "decoys"),
                                                         ("rows_not_proteotypic", "of shared precursors"))
               if key in ingest]
    dropped.append(f"{ingest['rows_filtered']} above the q-values or without a quantity")
    return f"{ingest['rows_in_table']} report rows, dropped: {', '.join(dropped)}; "


def preprocess_dataset(adata: ad.AnnData, spec: dict, seed: int = 0
                       ) -> tuple[pd.DataFrame, pd.DataFrame, Preprocessed]:
    """:func:`preprocess` on an ingested dataset, as QC and DE both run it.

    Returns
    -------
    tuple
        ``(raw, obs, pre)``: the intensities (proteins x samples, sorted by id), the sample
        sheet in the same order (index as text), and the preprocessed matrix.
    """
    raw = protein_matrix(adata)
    obs = adata.obs.copy()
    obs.index = obs.index.astype(str)
    obs = obs.loc[raw.columns]
    opts = spec["proteomics"]
    pre = preprocess(raw, filter_groups(obs, opts, spec["contrasts"]), opts, seed)
    ingest = ingest_report(adata)
    if "summarise" in ingest:  # a peptide table: how its proteins were made comes first
        detail = (f"{_report_rows(ingest)}{ingest['peptides']} {ingest['unit']} ({ingest['peptides_without_a_value']} "
                  f"without a value, left out) summarised to {raw.shape[0]} proteins by {ingest['summarise']}")
        note = ingest["summary_note"]
        pre.steps.insert(0, {"step": "summarise", "proteins": int(raw.shape[0]),
                             "missing": int(raw.isna().to_numpy().sum()), "detail": detail + (f"; {note}" if note else "")})
    return raw, obs, pre
