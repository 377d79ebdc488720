"""DIA-NN's main report (``report.tsv``, one row per precursor and run; ``counts.format: diann_report``): its
precursors filtered by q-value, pivoted to precursors x samples and summarised to protein groups
(:mod:`lsecflow.peptides`).

As the diann R package's ``diann_matrix`` (github vdemichev/diann-rpackage) makes the matrix: rows with a
quantity above 0, ``Q.Value`` and ``PG.Q.Value`` at most ``proteomics.qvalue`` (0.01); the quantity is
``Precursor.Normalised`` (DIA-NN's cross-run normalisation). Where the R package drops a row silently, a row DIA-NN
never writes is an error here: no precursor id, a q-value missing or not a number, a negative or infinite value, a
precursor twice in one run. Each sample is the run whose file name, without folder and extension (or all of its extensions:
``a.mzML.dia`` is ``a``), is its id, or the run a sheet column names (``proteomics.column_key``). A precursor
belongs to its ``Protein.Group``; gene names come from ``Genes``. ``report.parquet`` (DIA-NN 1.9 and later) is
not read: DIA-NN writes the TSV with ``--report-tsv`` or the matrices with ``--matrices`` (``counts.format:
diann``).
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputDataError
from .files import compression
from .sheets import named_by_column

log = logging.getLogger(__name__)

#: The report's columns read, besides the run column (``Run`` in recent versions, else ``File.Name``).
COLUMNS = ("Protein.Group", "Genes", "Precursor.Id", "Precursor.Normalised", "Q.Value", "PG.Q.Value")
QUANTITY = "Precursor.Normalised"


def is_report(header: list[str]) -> bool:
    """A DIA-NN main report: precursor rows with a protein group and a run column."""
    cols = set(header)
    return {"Precursor.Id", "Protein.Group"} <= cols and bool({"Run", "File.Name"} & cols)


def run_column(header: list[str]) -> str:
    return "Run" if "Run" in header else "File.Name"


def run_name(value: str, every: bool = False) -> str:
    """A run as a sample name: the file name without folder and extension (as a ``pg_matrix`` column); with
    ``every``, without each of its mass-spectrometry extensions (``a.mzML.dia`` -> ``a``)."""
    base = re.split(r"[\\/]", str(value))[-1]
    pattern = r"(\.(raw|mzml|d|wiff|dia))+$" if every else r"\.(raw|mzml|d|wiff|dia)$"
    return re.sub(pattern, "", base, flags=re.IGNORECASE)


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t", usecols=columns, dtype=str, keep_default_na=False,
                           compression=compression(path))
    except ValueError as exc:  # a column named here is not in the file
        raise InputDataError(f"{path}: not a DIA-NN main report ({exc}); its columns {', '.join(COLUMNS)} and Run "
                             "or File.Name are read") from exc
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputDataError(f"{path}: cannot be read as a DIA-NN report ({type(exc).__name__}: {exc})") from exc


def match_runs(path, runs: list[str], samples, column: str, key: str | None = None,
               sheet: pd.DataFrame | None = None) -> dict[str, str]:
    """Each sample's run among ``runs`` (the values of the report's run ``column``): by name (module notes) or by the sheet's
    ``key`` column; a sample without a run is an error naming it and the runs there are."""
    if key:
        wanted = named_by_column(sheet, key, samples)
    else:
        by_name = {**{run_name(r, every=True): r for r in runs}, **{run_name(r): r for r in runs}}
        wanted = {s: by_name.get(s, s) for s in samples}
    present = set(runs)
    missing = [s for s, r in wanted.items() if r not in present]
    if missing:
        raise InputDataError(f"{path}: {len(missing)} sample(s) have no run in the report's {column!r} column: "
                             f"{', '.join(map(repr, missing[:5]))}. Runs there (as sample names): "
                             f"{', '.join(run_name(r, every=True) for r in runs[:8])}{' ...' if len(runs) > 8 else ''}")
    return wanted


def sample_runs(path, header: list[str], samples, key: str | None = None,
                sheet: pd.DataFrame | None = None) -> dict[str, str]:
    """Each sample's run, checked at parse time (:func:`match_runs`; the run column is read whole, once)."""
    column = run_column(header)
    return match_runs(path, sorted(_read(Path(path), [column])[column].unique()), samples, column, key, sheet)


def read_report(path, header: list[str], samples, opts: dict, sheet: pd.DataFrame | None = None
                ) -> tuple[pd.DataFrame, pd.Series, pd.Series, dict, dict[str, str]]:
    """The filtered precursors x samples (Precursor.Normalised, NaN = not quantified), each precursor's protein
    group and gene names, counts of what was filtered (module notes) and each sample's run (:func:`match_runs`,
    on the report read once)."""
    path = Path(path)
    column = run_column(header)
    df = _read(path, [column, *COLUMNS])
    samples = match_runs(path, sorted(df[column].unique()), samples, column, opts.get("column_key"), sheet)
    report: dict = {"rows_in_table": int(len(df))}
    df = df[df[column].isin(set(samples.values()))]
    blank = df["Precursor.Id"].str.strip().eq("")
    if blank.any():
        raise InputDataError(f"{path}: {int(blank.sum())} row(s) of the samples' runs have no Precursor.Id (first "
                             f"at line {int(df.index[blank.to_numpy()][0]) + 2})")
    numbers = {}
    for name in (QUANTITY, "Q.Value", "PG.Q.Value"):
        numbers[name] = pd.to_numeric(df[name], errors="coerce")
        # an empty quantity is a missing one; a q-value is always written; no value is negative or infinite
        bad = ((numbers[name].isna() & (df[name].str.strip().ne("") | (name != QUANTITY)))
               | (numbers[name] < 0) | np.isinf(numbers[name]))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputDataError(f"{path}: column {name!r}, precursor {df['Precursor.Id'].iloc[i]!r}: value "
                                 f"{df[name].iloc[i]!r} is not a finite number >= 0")
    q = float(opts.get("qvalue", 0.01))
    keep = ((numbers[QUANTITY] > 0) & (numbers["Q.Value"] <= q) & (numbers["PG.Q.Value"] <= q)).to_numpy()
    report["rows_filtered"] = int((~keep).sum())
    log.info("%s: %d of %d precursor rows of the samples' runs kept (Q.Value and PG.Q.Value <= %g, %s > 0)", path,
             int(keep.sum()), len(df), q, QUANTITY)
    df = df[keep].assign(quantity=numbers[QUANTITY][keep].to_numpy())
    twice = df.duplicated([column, "Precursor.Id"])
    if twice.any():
        row = df[twice].iloc[0]
        raise InputDataError(f"{path}: precursor {row['Precursor.Id']!r} is on more than one row of run "
                             f"{row[column]!r}: one row per precursor and run is expected (reports merged twice?)")
    groups = df.drop_duplicates("Precursor.Id").set_index("Precursor.Id")
    blank = groups.index[groups["Protein.Group"].str.strip().eq("")]
    if len(blank):
        raise InputDataError(f"{path}: precursor {blank[0]!r} has no Protein.Group")
    several = df.groupby("Precursor.Id")["Protein.Group"].nunique()
    if (several > 1).any():
        raise InputDataError(f"{path}: precursor {several.index[several > 1][0]!r} is in different protein groups in "
                             "different runs: the runs were not analysed together (DIA-NN infers the groups across "
                             "all runs of one analysis)")
    sample_of = {run: sample for sample, run in samples.items()}
    wide = df.pivot(index="Precursor.Id", columns=column, values="quantity")
    wide = wide.reindex(columns=list(samples.values())).rename(columns=sample_of)
    wide = wide.loc[groups.index]
    return wide, groups["Protein.Group"], groups["Genes"], report, samples
