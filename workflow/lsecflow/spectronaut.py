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
"""
from __future__ import annotations

import re

from .diann_report import run_name

#: The id, gene-name and description columns.
ID, GENES, DESCRIPTION = "PG.ProteinGroups", "PG.Genes", "PG.ProteinDescriptions"
#: The measure read from each run.
QUANTITY = ".PG.Quantity"
#: What Spectronaut writes for a value its filters removed (besides ``NaN`` and an empty cell).
MISSING = ("Filtered",)
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
