"""Peptide (or precursor) intensities summarised to proteins (``counts.format: maxquant_peptides`` or
``diann_report``, ``proteomics.summarise``).

Five summaries, each of a protein's peptides (rows) per sample (columns), on the log2 scale, missing values
(NaN) left out:

``median_polish``
    Tukey's median polish, R's ``stats::medpolish(x, na.rm = TRUE)`` step for step (eps 0.01, at most 10
    iterations; a row sweep, then a column sweep, each moving the medians of the effects into the overall
    term): the protein's value in a sample is ``overall + col``. MSstats summarises runs this way; DEqMS's
    ``medpolishSummary`` returns ``col`` alone, which differs by a constant per protein (the same fold changes
    and t statistics). A peptide's own level (its ionisation) is removed by the row effects, so a protein
    whose strong peptide is missing in one sample is not pulled down there.
``median_sweep``
    DEqMS's ``medianSweeping``: each peptide minus its median over the samples, then each protein's median
    per sample, then each sample minus its median over the proteins (``equalMedianNormalization``): relative
    log2 ratios centred at 0, as DEqMS's TMT workflow makes them.
``maxlfq``
    MaxLFQ (Cox et al. 2014, MCP 13:2513) as the iq package writes it (Pham et al. 2020, ``iq::maxLFQ``, v2.0.0):
    the samples a protein's peptides connect (two samples share a quantified peptide) are fitted together -- each
    pair's median log2 ratio over their shared peptides, the sample levels that best agree with every pair's
    ratio (least squares), their mean the mean of the component's values; a sample alone gets its peptides'
    median. Samples in separate components are not comparable (their levels have no common scale); the log
    counts the proteins where that happens.
``diann_maxlfq``
    DIA-NN's own MaxLFQ, as its R package's ``diann_maxlfq`` (github vdemichev/diann-rpackage, C++
    ``maxlfq_solve``): on the natural-log scale, values at or below -10 (a linear intensity of 4.5e-5) missing;
    over the samples where the protein has a value, each pair's median log ratio over their shared peptides, the
    levels that fit them by least squares with a ridge of 1e-4 (times the sample's number of pairs) pulling each
    sample towards its strongest peptide, so disconnected samples still get a level (no components, nothing
    flagged); one peptide or one sample: the strongest peptide per sample.
``sum``
    The sum of the peptides' linear intensities (MaxQuant's protein ``Intensity``), on the log2 scale.

Validated against R 4.2.2 (stats::medpolish; DEqMS 1.25.0's medianSweeping; iq 2.0.0's maxLFQ; the diann package's
diann_maxlfq) on the UPS1 peptides:
``tests/data/peptides/make_reference.R``.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from .errors import InputDataError
from .proteomics import observed_mask

log = logging.getLogger(__name__)

#: The summaries, in the order documented.
SUMMARIES = ("median_polish", "median_sweep", "maxlfq", "diann_maxlfq", "sum")
#: diann_maxlfq's natural-log floor and ridge (the diann R package's ``margin`` default and ``maxlfq_solve``'s 1e-4).
DIANN_MARGIN, DIANN_RIDGE = -10.0, 1e-4


#: What :func:`summarise` counts, per summary, in words (logged as a warning, and in the preprocessing table).
FLAGGED = {
    "median_polish": "median polish did not converge in 10 sweeps for {n} of {total} proteins (R's medpolish warns "
                     "the same; their values are the 10th sweep's)",
    "maxlfq": "{n} of {total} proteins have samples in separate MaxLFQ components (no peptide shared between "
              "them): their levels are not on one scale across those samples (iq marks them the same)",
}


def _median(x: np.ndarray, axis: int) -> np.ndarray:
    """Medians without NaN along ``axis``; NaN where all are NaN (R's ``median(na.rm = TRUE)``), silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(x, axis=axis)


def polish_stack(z: np.ndarray, eps: float = 0.01, maxiter: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                np.ndarray]:
    """R's ``medpolish(na.rm = TRUE)`` of each matrix of a stack (matrices x rows x columns; rows of NaN pad a
    shorter matrix and change nothing, as an all-NA row changes nothing in R): (overall, row effects, column
    effects, converged), one per matrix. Each matrix stops at its own convergence, as R's loop would."""
    z = np.array(z, dtype=float)
    m = z.shape[0]
    overall, r, c = np.zeros(m), np.zeros(z.shape[:2]), np.zeros((m, z.shape[2]))
    oldsum, converged = np.zeros(m), np.zeros(m, dtype=bool)
    active = np.arange(m)
    for _ in range(maxiter):
        za, ra, ca, ta = z[active], r[active], c[active], overall[active]
        rdelta = _median(za, 2)
        za -= rdelta[:, :, None]
        ra += rdelta
        delta = _median(ca, 1)
        ca -= delta[:, None]
        ta += delta
        cdelta = _median(za, 1)
        za -= cdelta[:, None, :]
        ca += cdelta
        delta = _median(ra, 1)
        ra -= delta[:, None]
        ta += delta
        z[active], r[active], c[active], overall[active] = za, ra, ca, ta
        newsum = np.nansum(np.abs(za), axis=(1, 2))
        done = (newsum == 0) | (np.abs(newsum - oldsum[active]) < eps * newsum)
        converged[active] = done
        oldsum[active] = newsum
        active = active[~done]
        if not len(active):
            break
    return overall, r, c, converged


def median_polish(z: np.ndarray, eps: float = 0.01, maxiter: int = 10) -> tuple[float, np.ndarray, np.ndarray,
                                                                                   bool]:
    """R's ``medpolish(z, eps, maxiter, na.rm = TRUE)`` of one matrix: (overall, row effects, column effects,
    converged); a column without any value keeps a NaN effect (its summary is missing), as in R."""
    overall, r, c, converged = polish_stack(np.asarray(z, dtype=float)[None], eps, maxiter)
    return float(overall[0]), r[0], c[0], bool(converged[0])


def _stacks(values: np.ndarray, codes: np.ndarray, n: int):
    """Each protein's rows of ``values`` (protein ``codes`` 0..n-1) as stacks of equal-height matrices: yields
    (the proteins, proteins x rows x columns with NaN rows padding), one stack per peptide count rounded up to a
    power of two (padding at most doubles the memory)."""
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.empty(len(codes), dtype=int)  # each row's place among its protein's rows
    position[order] = np.arange(len(codes)) - start[codes[order]]
    bucket = np.ceil(np.log2(np.maximum(sizes, 1))).astype(int)
    for b in np.unique(bucket[sizes > 0]):
        proteins = np.flatnonzero((bucket == b) & (sizes > 0))
        slot = np.full(n, -1)
        slot[proteins] = np.arange(len(proteins))
        rows = np.flatnonzero(slot[codes] >= 0)
        stack = np.full((len(proteins), 2 ** b, values.shape[1]), np.nan)
        stack[slot[codes[rows]], position[rows]] = values[rows]
        yield proteins, stack


def _components(seen: np.ndarray) -> np.ndarray:
    """Each sample's connected component (0, 1, ...; -1 for a sample without a value): two samples are connected
    when a row has a value in both (iq's ``spread``, numbered in the order of the first sample of each)."""
    label = np.full(seen.shape[1], -1)
    n = 0
    for start in range(seen.shape[1]):
        if label[start] >= 0 or not seen[:, start].any():
            continue
        label[start], stack = n, [start]
        while stack:
            rows = seen[:, stack.pop()]
            for k in np.flatnonzero(seen[rows].any(axis=0) & (label < 0)):
                label[k] = n
                stack.append(k)
        n += 1
    return label


def _pair_system(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MaxLFQ's normal equations over a protein's samples (columns of ``sub``, log values, NaN missing): for each
    pair sharing a peptide, the median of their differences ``r_ij`` (x_i - x_j); the matrix has each sample's
    number of such pairs on the diagonal and -1 for each pair, the vector each sample's sum of its ``r_ij``."""
    n = sub.shape[1]
    ratio = _median(sub[:, :, None] - sub[:, None, :], 0)  # [i, j]: median of x_i - x_j; NaN: no shared peptide
    np.fill_diagonal(ratio, np.nan)
    edge = ~np.isnan(ratio)
    a = np.where(edge, -1.0, 0.0)
    a[np.diag_indices(n)] = edge.sum(axis=1)
    return a, np.where(edge, ratio, 0.0).sum(axis=1)


def maxlfq(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """iq's ``maxLFQ`` of one protein's log2 values (peptides x samples, NaN missing): (each sample's level, NaN
    where it has no value; whether the quantified samples fall in more than one component)."""
    if x.shape[0] == 1:
        return x[0].astype(float), False
    seen = ~np.isnan(x)
    label = _components(seen)
    out = np.full(x.shape[1], np.nan)
    for c in range(label.max() + 1):
        cols = np.flatnonzero(label == c)
        sub = x[:, cols]
        if len(cols) == 1:
            out[cols[0]] = np.nanmedian(sub)
            continue
        n = len(cols)
        ata, atb = _pair_system(sub)
        system = np.zeros((n + 1, n + 1))
        system[:n, :n], system[:n, n], system[n, :n] = 2 * ata, 1.0, 1.0
        rhs = np.append(2 * atb, np.nanmean(sub) * n)
        out[cols] = np.linalg.lstsq(system, rhs, rcond=None)[0][:n]
    quantified = label[~np.isnan(out)]
    return out, bool(len(quantified)) and bool((quantified != quantified[0]).any())


def diann_maxlfq(x: np.ndarray) -> np.ndarray:
    """DIA-NN's MaxLFQ of one protein's log2 values (peptides x samples, NaN missing; module notes): each sample's
    level (log2), NaN where it has no value."""
    ln = x * np.log(2.0)
    ln[~(ln > DIANN_MARGIN)] = np.nan  # R: log(0) and values <= margin are NA
    out = np.full(x.shape[1], np.nan)
    cols = np.flatnonzero(~np.isnan(ln).all(axis=0))
    sub = ln[~np.isnan(ln).all(axis=1)][:, cols]
    if sub.size == 0:
        return out
    ref = np.nanmax(sub, axis=0)
    if sub.shape[0] == 1 or sub.shape[1] == 1:
        out[cols] = ref / np.log(2.0)
        return out
    n = sub.shape[1]
    a, b = _pair_system(sub)
    reg = DIANN_RIDGE * np.maximum(np.diag(a), 1.0)
    a[np.diag_indices(n)] += reg
    # the ridge leaves the system ill-conditioned (~1e4): R's levels and these differ by ~4e-11, each ~2e-11 from a
    # 40-digit solution
    level = np.linalg.solve(a, b + ref * reg)
    level[level <= DIANN_MARGIN] = np.nan
    out[cols] = level / np.log(2.0)
    return out


def _groups(proteins: pd.Series) -> tuple[pd.Index, np.ndarray]:
    """The proteins in order of first appearance and each row's protein's position."""
    codes, uniques = pd.factorize(proteins, sort=False)
    return pd.Index(uniques), codes


def summarise(log2: pd.DataFrame, proteins: pd.Series, method: str) -> tuple[pd.DataFrame, int]:
    """Protein values (log2; proteins in order of first appearance x samples) from peptide values (log2, NaN
    missing; rows aligned with ``proteins``), and how many proteins are flagged: median polish not converged, or
    MaxLFQ's samples in separate components.

    Parameters
    ----------
    log2
        Peptides x samples, log2 intensities; NaN = not quantified.
    proteins
        Each peptide's protein (same length and order as ``log2``'s rows).
    method
        One of :data:`SUMMARIES` (module notes).
    """
    if method not in SUMMARIES:
        raise ValueError(f"summary {method!r} is not one of {', '.join(SUMMARIES)}")
    index, codes = _groups(pd.Series(proteins).reset_index(drop=True))
    values = log2.to_numpy(dtype=float)
    out = np.full((len(index), values.shape[1]), np.nan)
    flagged = 0
    if method == "median_sweep":
        values = values - _median(values, 1)[:, None]
    if method in ("maxlfq", "diann_maxlfq"):
        order = np.argsort(codes, kind="stable")
        for rows in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1):
            if method == "maxlfq":
                out[codes[rows[0]]], split = maxlfq(values[rows])
                flagged += split
            else:
                out[codes[rows[0]]] = diann_maxlfq(values[rows])
        return pd.DataFrame(out, index=index, columns=log2.columns), flagged
    for members, stack in _stacks(values, codes, len(index)):
        if method == "median_polish":
            overall, _, col, converged = polish_stack(stack)
            out[members] = overall[:, None] + col
            flagged += int((~converged).sum())
        elif method == "median_sweep":
            out[members] = _median(stack, 1)
        else:
            seen = ~np.isnan(stack)
            total = np.where(seen, np.exp2(stack), 0.0).sum(axis=1)
            out[members] = np.where(seen.any(axis=1), np.log2(np.where(total > 0, total, 1.0)), np.nan)
    if method == "median_sweep":
        out = out - _median(out, 0)[None, :]
    return pd.DataFrame(out, index=index, columns=log2.columns), flagged


def _most_common(values: pd.Series, groups: np.ndarray, n: int) -> np.ndarray:
    """Per group (0..n-1), the most frequent non-empty string of ``values`` ('' when none; ties: first seen)."""
    frame = pd.DataFrame({"g": groups, "v": values.fillna("").astype(str).str.strip().to_numpy()})
    frame = frame[frame["v"] != ""]
    out = np.full(n, "", dtype=object)
    if len(frame):
        top = frame.groupby(["g", "v"], sort=False).size().reset_index(name="n")
        top = top.sort_values("n", ascending=False, kind="stable").drop_duplicates("g")
        out[top["g"].to_numpy()] = top["v"].to_numpy()
    return out


def to_proteins(values: pd.DataFrame, proteins: pd.Series, genes: pd.Series | None, descriptions: pd.Series | None,
                opts: dict, path, report: dict, unit: str = "peptides", maxquant: bool = False
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A peptide (or precursor) table's intensities summarised to its proteins (``proteomics.summarise``, module
    notes).

    Parameters
    ----------
    values
        Peptides x samples as in the table (linear, or log2 with ``proteomics.log2: false``); NaN or, with
        ``zero_is_missing``, 0 = not quantified.
    proteins, genes, descriptions
        Each peptide's protein (MaxQuant's leading razor protein), gene names and protein names (None when the
        table has no such column); aligned with ``values``.
    opts
        The dataset's ``proteomics`` block (``summarise``, ``log2``, ``zero_is_missing``).
    path, report
        The table (for messages) and the ingest report, which gets the peptide counts and the summary.
    unit
        What the rows are, in the log and the report: peptides, or precursors (DIA-NN).
    maxquant
        The table is MaxQuant's peptides.txt: a repeated or protein-less peptide's message says what MaxQuant writes.

    Returns
    -------
    (values, var)
        Proteins x samples on the table's scale (so the preprocessing's log2 step applies as to a protein table);
        per protein ``gene_id``, ``symbol`` (its peptides' most frequent gene names, else the id),
        ``description`` and ``count``, its number of quantified peptides or precursors (DEqMS's count).
    """
    repeated = values.index[values.index.duplicated()].unique()
    if len(repeated):
        why = ("MaxQuant's peptides.txt lists each sequence once (modificationSpecificPeptides.txt, one row per "
               "modified form, is not read here)" if maxquant else "each peptide (or precursor) is one row: make the "
               "id column tell modified forms or charges apart (proteomics.id_column)")
        raise InputDataError(f"{path}: peptide {repeated[0]!r} is on more than one row ({len(repeated)} sequences "
                             f"repeated): {why}")
    proteins = proteins.fillna("").astype(str).str.strip().reset_index(drop=True)
    blank = proteins.eq("")
    if blank.any():
        why = ("MaxQuant leaves the leading razor protein empty only for a decoy or an unassigned peptide: remove those "
               "rows" if maxquant else "every peptide needs its protein (proteomics.protein_column)")
        raise InputDataError(f"{path}: {int(blank.sum())} peptide(s) have no protein (first: "
                             f"{values.index[int(blank.to_numpy().nonzero()[0][0])]!r}); {why}")
    seen = observed_mask(values, opts).to_numpy()
    x = values.to_numpy(dtype=float)
    if opts.get("log2", True):
        bad = seen & (x <= 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputDataError(f"{path}: peptide {values.index[i]!r}, sample {values.columns[j]!r}: intensity "
                                 f"{x[i, j]!r} has no log2 (set proteomics.zero_is_missing: true)")
        x = np.log2(np.where(seen, x, 1.0))
    x[~seen] = np.nan
    kept = seen.any(axis=1)
    report["unit"] = unit
    report["peptides"] = int(len(values))
    report["peptides_without_a_value"] = int((~kept).sum())
    report["quantified_per_sample"] = {str(c): int(n) for c, n in zip(values.columns, seen.sum(axis=0))}
    method = opts.get("summarise", "median_polish")
    log2 = pd.DataFrame(x[kept], index=values.index[kept], columns=values.columns)
    summary, flagged = summarise(log2, proteins[kept], method)
    report["summarise"] = method
    report["summary_note"] = FLAGGED[method].format(n=flagged, total=len(summary)) if flagged else ""
    if flagged:
        log.warning("%s: %s", path, report["summary_note"])
    log.info("%s: %d %s with a value (%d without, left out) summarised to %d proteins by %s", path,
             int(kept.sum()), unit, int((~kept).sum()), len(summary), method)
    codes = pd.Index(summary.index).get_indexer(proteins[kept])
    var = pd.DataFrame({"gene_id": summary.index}, index=summary.index)
    for column, source in (("symbol", genes), ("description", descriptions)):
        picked = (_most_common(source.reset_index(drop=True)[kept], codes, len(summary)) if source is not None
                  else np.full(len(summary), "", dtype=object))
        var[column] = np.where((picked == "") & (column == "symbol"), summary.index.to_numpy(), picked)
    var["count"] = np.bincount(codes, minlength=len(summary)).astype(float)
    out = np.exp2(summary) if opts.get("log2", True) else summary
    return out, var
