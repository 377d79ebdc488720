"""Spectronaut's protein-group pivot report (``counts.format: spectronaut``): one row per protein group
(``PG.ProteinGroups``, gene names in ``PG.Genes``, ``PG.ProteinDescriptions``), and per run a block of columns
``[<n>] <run>.PG.<measure>``, read as :mod:`lsecflow.protein_tables` reads the other protein tables.

The intensities are the runs' ``PG.Quantity`` columns, as exported: Spectronaut's own q-value filter, cross-run
normalisation and imputation settings (in the export's ``.setup.txt``) apply to them, so export with imputation
off when lsecflow's ``proteomics.impute`` is to decide. A value Spectronaut filtered out is written ``Filtered``
(or ``NaN``, or left empty): each is a missing value; any other text is an error naming the column and the
protein. Each sample is the run named as its id, with or without the run's file extension (``a.raw`` is ``a``;
DIA-NN's rule, :func:`lsecflow.diann_report.run_name`), or the column a sheet column names
(``proteomics.column_key``). ``proteomics.count_column`` (DEqMS) may name a per-run column with ``{}`` standing for
``[<n>] <run>``, e.g. ``{}.PG.NrOfPrecursorsUsedForQuantification``.

Spectronaut's long ("normal") report (``counts.format: spectronaut_report``; one row per precursor and run, or per
fragment): its precursors filtered as ``readSpectronaut`` (Gordon Smyth and Mengbo Li's R reader, its code of 7 April
2025) filters them and summarised to protein groups (:mod:`lsecflow.peptides`, ``proteomics.summarise``). A precursor
is ``EG.PrecursorId`` in run ``R.FileName`` (a sample is the run named as its id, with or without extension, or the
run its sheet column names); its quantity ``EG.TotalQuantity (Settings)`` (``proteomics.quantity_column``: or
``FG.Quantity``, ``FG.MS1Quantity``, ``FG.MS2Quantity``); rows are kept where ``EG.Qvalue`` and ``PG.Qvalue``
(``proteomics.qvalue_columns``) are at most ``proteomics.qvalue`` (0.01), the quantity is above 0 (``Filtered``,
``NaN`` or empty: not quantified) and ``EG.IsImputed`` (where the report has it) is False; each step counted. A
fragment-level report repeats a precursor's quantity on each of its fragments' rows: one value per precursor and run,
else an error naming both. Where ``readSpectronaut`` differs: it takes its run from ``R.Raw File Name`` (the raw
file's whole path) and treats a quantity of at most 1 as missing; a q-value or flag that is not a number or
True/False is an error here, as is a precursor in two protein groups.
"""
from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .diann_report import blank_cells, check_engine_columns, match_runs, run_name
from .errors import InputDataError
from .files import compression, separator

log = logging.getLogger(__name__)

#: The id, gene-name and description columns.
ID, GENES, DESCRIPTION = "PG.ProteinGroups", "PG.Genes", "PG.ProteinDescriptions"
#: The measure read from each run.
QUANTITY = ".PG.Quantity"
#: What Spectronaut writes for a value its filters removed (besides ``NaN`` and an empty cell).
MISSING = ("Filtered",)
#: The long report's run, precursor and imputed-flag columns.
RUN, PRECURSOR, IMPUTED = "R.FileName", "EG.PrecursorId", "EG.IsImputed"
#: The precursor quantities a long report may be read from (``proteomics.quantity_column``; the first by default).
QUANTITIES = ("EG.TotalQuantity (Settings)", "FG.Quantity", "FG.MS1Quantity", "FG.MS2Quantity")
#: The q-values filtered on by default (``proteomics.qvalue_columns``; readSpectronaut's).
QVALUES = ("EG.Qvalue", "PG.Qvalue")
_RUN = re.compile(r"\[(\d+)\] (.+)" + re.escape(QUANTITY))


def is_pivot(header: list[str]) -> bool:
    """A protein-group pivot report: a ``PG.ProteinGroups`` column and a ``[<n>] <run>.PG.Quantity`` one."""
    return ID in header and any(_RUN.fullmatch(c) for c in header)


def runs(header: list[str]) -> dict[str, str]:
    """Each run's quantity column, by the run's name as Spectronaut writes it (``[1] a.raw.PG.Quantity`` ->
    ``a.raw``)."""
    return {m.group(2): c for c in header if (m := _RUN.fullmatch(c))}


def sample_columns(header: list[str], samples) -> dict[str, str]:
    """Each sample's quantity column: the run named as the sample, as written or without its file extension(s).
    A name two runs would share (``a.raw`` and ``a.d``) is no run's; a sample without a run gets the column it
    would have (``[?] <sample>.PG.Quantity``), which the caller reports missing."""
    by_name: dict[str, set[str]] = {}
    for run, column in runs(header).items():
        for name in {run, run_name(run), run_name(run, every=True)}:
            by_name.setdefault(name, set()).add(column)
    found = {name: columns.pop() for name, columns in by_name.items() if len(columns) == 1}
    return {s: found.get(s, f"[?] {s}{QUANTITY}") for s in samples}


def run_label(column: str) -> str:
    """A run as its other columns name it (``[1] a.raw.PG.Quantity`` -> ``[1] a.raw``): ``{}`` in
    ``proteomics.count_column``."""
    return column.removesuffix(QUANTITY)


def is_report(header: list[str]) -> bool:
    """A long report: a row per precursor (or fragment) and run."""
    return {RUN, PRECURSOR, ID} <= set(header)


def quantity_column(opts: dict) -> str:
    """The precursor quantity read (``proteomics.quantity_column``; :data:`QUANTITIES`)."""
    return opts.get("quantity_column") or QUANTITIES[0]


def qvalue_columns(opts: dict) -> list[str]:
    """The q-value columns a precursor must pass (``proteomics.qvalue_columns``; :data:`QVALUES`)."""
    return list(opts.get("qvalue_columns") or QVALUES)


def read_columns(path, header: list[str], opts: dict) -> list[str]:
    """The columns :func:`read_report` reads; an option naming a column the report lacks (or a quantity that is
    not a precursor's, or a q-value column not Spectronaut's) is an error naming the option."""
    quantity, qvalues = quantity_column(opts), qvalue_columns(opts)
    check_engine_columns("Spectronaut", quantity, QUANTITIES, qvalues, "Qvalue", "EG.Qvalue, PG.Qvalue")
    for name, key in ((quantity, "quantity_column"), *((q, "qvalue_columns") for q in qvalues)):
        if name not in header:
            like = [c for c in header if c.endswith(("Quantity", "Quantity (Settings)", "Qvalue"))]
            raise InputDataError(f"{path}: no column {name!r}, which proteomics.{key} reads (columns of that kind "
                                 f"here: {', '.join(like[:8]) or 'none'})")
    return [RUN, PRECURSOR, ID, *([GENES] if GENES in header else []), quantity, *qvalues,
            *([IMPUTED] if IMPUTED in header else [])]


def text_options(path: Path) -> dict:
    """How a Spectronaut table is split: tab-separated text with no field quoted (a ``"`` in a protein description is
    that character), or a CSV (as R writes one, fields quoted where needed)."""
    sep = separator(path)
    return {"sep": sep} if sep == "," else {"sep": sep, "quoting": csv.QUOTE_NONE}


def _read_csv(path: Path, columns: list[str], dtype, na_values=None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, usecols=columns, dtype=dtype, keep_default_na=False, na_values=na_values,
                           compression=compression(path), **text_options(path))[columns]
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as exc:
        raise InputDataError(f"{path}: cannot be read as a Spectronaut report ({type(exc).__name__}: {exc})") from exc


def _read(path: Path, columns: list[str], numbers: tuple[str, ...] = ()) -> pd.DataFrame:
    """The report's ``columns``: text as categories (a report repeats each run, precursor and group on many rows),
    ``numbers`` as floats ('', 'NaN' and 'Filtered' NaN); when one of those does not parse, every column as the
    text written (for :func:`_number` to name the cell; bench/spectronaut_report_read.py measures both)."""
    kinds = {c: float if c in numbers else "category" for c in columns}
    try:
        return _read_csv(path, columns, kinds, {c: ["", "NaN", *MISSING] for c in numbers})
    except InputDataError:
        if not numbers:
            raise
    return _read_csv(path, columns, str)


def sample_runs(path, header: list[str], samples, opts: dict, sheet: pd.DataFrame | None = None) -> dict[str, str]:
    """Each sample's run, checked at parse time (the run column is read whole, once), and the options' columns."""
    read_columns(path, header, opts)
    runs = _read(Path(path), [RUN])[RUN]
    return match_runs(path, sorted(runs.unique()), samples, RUN, opts.get("column_key"), sheet)


def _number(path: Path, df: pd.DataFrame, name: str, missing: bool) -> pd.Series:
    """A column as numbers; with ``missing``, 'Filtered', 'NaN' and '' are NaN; any other text, a negative or an
    infinite value is an error naming the column, the precursor and the value (a column read as numbers: its NaN
    were one of those three)."""
    if df[name].dtype == float:
        values = df[name]
        gone = values.isna() if missing else pd.Series(False, index=df.index)
    else:
        text = df[name].str.strip()
        gone = text.isin(["", "NaN", *MISSING]) if missing else pd.Series(False, index=df.index)
        values = pd.to_numeric(text.where(~gone), errors="coerce")
    bad = (values.isna() & ~gone) | (values < 0) | np.isinf(values)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        shown = repr(df[name].iloc[i]) if df[name].dtype != float else "empty, NaN or Filtered" if np.isnan(
            values.iloc[i]) else f"{values.iloc[i]:g}"
        raise InputDataError(f"{path}: column {name!r}, precursor {df[PRECURSOR].iloc[i]!r} (run "
                             f"{df[RUN].iloc[i]!r}): value {shown} is not a finite number >= 0")
    return values


def read_report(path, header: list[str], samples, opts: dict, sheet: pd.DataFrame | None = None
                ) -> tuple[pd.DataFrame, pd.Series, pd.Series | None, dict, dict[str, str]]:
    """The filtered precursors x samples (NaN = not quantified), each precursor's protein group and gene names,
    counts of what was filtered (module notes) and each sample's run."""
    path = Path(path)
    columns = read_columns(path, header, opts)
    quantity, qvalues = quantity_column(opts), qvalue_columns(opts)
    df = _read(path, columns, (quantity, *qvalues))
    samples = match_runs(path, sorted(map(str, df[RUN].unique())), samples, RUN, opts.get("column_key"), sheet)
    report: dict = {"rows_in_table": int(len(df))}
    df = df[df[RUN].isin(set(samples.values()))]
    blank = blank_cells(df[PRECURSOR]) | blank_cells(df[ID])
    if blank.any():
        raise InputDataError(f"{path}: {int(blank.sum())} row(s) of the samples' runs have no {PRECURSOR} or {ID} "
                             f"(first at line {int(df.index[blank.to_numpy()][0]) + 2})")
    if IMPUTED in df:
        flag = df[IMPUTED].astype("category")
        flag = flag.cat.rename_categories([str(c).strip().lower() for c in flag.cat.categories])
        odd = ~flag.isin(["true", "false"])
        if odd.any():
            i = int(np.flatnonzero(odd.to_numpy())[0])
            raise InputDataError(f"{path}: column {IMPUTED!r}, precursor {df[PRECURSOR].iloc[i]!r}: value "
                                 f"{df[IMPUTED].iloc[i]!r} is not True or False")
        report["rows_imputed"] = int(flag.eq("true").sum())
        log.info("%s: %d row(s) Spectronaut imputed dropped (%s True)", path, report["rows_imputed"], IMPUTED)
        df = df[flag.eq("false").to_numpy()]
    value = _number(path, df, quantity, missing=True)
    q = float(opts.get("qvalue", 0.01))
    keep = (value > 0).to_numpy()
    for name in qvalues:
        keep &= (_number(path, df, name, missing=False) <= q).to_numpy()
    report["rows_filtered"] = int((~keep).sum())
    log.info("%s: %d of %d rows of the samples' runs kept (%s <= %g, %s > 0)", path, int(keep.sum()), len(df),
             " and ".join(qvalues), q, quantity)
    df = df[keep].assign(quantity=value[keep].to_numpy())
    per_run = df.groupby([RUN, PRECURSOR], observed=True)["quantity"]
    several = per_run.nunique()
    if (several > 1).any():
        run, precursor = several.index[several.to_numpy() > 1][0]
        raise InputDataError(f"{path}: precursor {precursor!r} has different {quantity} values in run {run!r}: one "
                             "value per precursor and run is expected (fragment rows repeat it; reports merged?)")
    text = {c: str for c in (PRECURSOR, ID, GENES) if c in df}
    groups = df.drop_duplicates(PRECURSOR).astype(text).set_index(PRECURSOR)
    split = df.groupby(PRECURSOR, observed=True)[ID].nunique()
    if (split > 1).any():
        raise InputDataError(f"{path}: precursor {split.index[split.to_numpy() > 1][0]!r} is in different protein "
                             "groups in different runs: the runs were not analysed together")
    sample_of = {run: sample for sample, run in samples.items()}
    wide = per_run.first().unstack(RUN)
    wide.index, wide.columns = wide.index.astype(str), wide.columns.astype(str)
    wide = wide.reindex(columns=list(samples.values())).rename(columns=sample_of)
    wide = wide.rename_axis(index=None, columns=None).loc[groups.index]
    return wide, groups[ID], groups[GENES] if GENES in groups else None, report, samples
