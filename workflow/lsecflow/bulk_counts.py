"""Bulk count matrices: genes x samples TSV/CSV (nf-core/rnaseq's salmon and RSEM merged gene matrices
included) and featureCounts output, read exactly, with the checks that they hold counts.

The columns are named by the dataset's ``counts`` block: ``id_column`` (default: the first column),
``name_column`` (gene symbols; nf-core/rnaseq's ``gene_name`` is recognised without it), and
``drop_columns`` (other annotation columns); every remaining column is a sample. Estimated counts
(salmon, RSEM: fractional) are refused unless ``counts.round: true``, which rounds them to the nearest
integer and says how many it rounded. nf-core/rnaseq's ``gene_name`` and ``transcript_id(s)`` columns are
recognised as such.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .count_checks import check_counts_dense
from .errors import InputDataError
from .files import FEATURECOUNTS_ANNOTATION, check_exists, compression, open_text, reading

log = logging.getLogger(__name__)

#: nf-core/rnaseq's gene-name column in its merged gene matrices (salmon), and its RSEM matrix's
#: transcript column: recognised without configuration.
NFCORE_NAME = "gene_name"
NFCORE_DROP = ("transcript_id(s)",)


def _featurecounts_sample(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-4] if base.endswith(".bam") else base


def _header(path: Path, fmt: str) -> list[str]:
    sep = "," if fmt == "csv" else "\t"
    with reading(path, fmt), open_text(path) as fh:
        for line in fh:
            if not line.strip() or (fmt == "featurecounts" and line.startswith("#")):
                continue
            return [h.strip().strip('"') for h in line.rstrip("\r\n").split(sep)]
    raise InputDataError(f"{path}: file is empty")


def columns(path, fmt: str, counts: dict | None = None) -> tuple[str, str | None, list[str], list[str]]:
    """(id column, name column or None, the other non-sample columns, the sample columns as in the header)."""
    path = Path(path)
    check_exists(path)
    return _columns(_header(path, fmt), path, fmt, counts or {})


def _columns(header: list[str], path, fmt: str, counts: dict) -> tuple[str, str | None, list[str], list[str]]:
    if fmt == "featurecounts":
        if header[:6] != FEATURECOUNTS_ANNOTATION:
            raise InputDataError(f"{path}: not featureCounts output: the first columns are {header[:6]}, "
                                 f"expected {FEATURECOUNTS_ANNOTATION}")
        return header[0], None, header[1:6], header[6:]
    ident = counts.get("id_column") or header[0]
    name = counts.get("name_column") or (NFCORE_NAME if NFCORE_NAME in header and ident != NFCORE_NAME else None)
    drop = list(counts.get("drop_columns") or []) + [c for c in NFCORE_DROP if c in header and c != ident]
    for key, col in (("id_column", ident), ("name_column", name), *(("drop_columns", c) for c in drop)):
        if col is not None and col not in header:
            raise InputDataError(f"{path}: counts.{key} {col!r} is not a column of the header "
                                 f"({', '.join(header[:8])}{' ...' if len(header) > 8 else ''})")
    samples = [h for h in header if h not in {ident, name, *drop}]
    return ident, name, drop, samples


def bulk_header(path: str | os.PathLike, fmt: str, counts: dict | None = None) -> list[str]:
    """Sample ids of a bulk matrix, read from its header line only.

    featureCounts columns are BAM paths: the sample id is the file name
    without folder and ``.bam``.
    """
    path = Path(path)
    check_exists(path)
    return _sample_ids(_header(path, fmt), path, fmt, counts or {})


def _sample_ids(header: list[str], path, fmt: str, counts: dict) -> list[str]:
    _, _, _, raw = _columns(header, path, fmt, counts)
    samples = [_featurecounts_sample(h) for h in raw] if fmt == "featurecounts" else raw
    if not samples:
        sep = "," if fmt == "csv" else "\t"
        other = "\t" if sep == "," else ","
        first = header[0]
        hint = (f"; the header has {'tabs' if other == chr(9) else 'commas'}: set counts.format: "
                f"{'tsv' if other == chr(9) else 'csv'}") if other in first else ""
        raise InputDataError(f"{path}: no sample columns in the header{hint}")
    empty = [i + 2 for i, s in enumerate(samples) if not s]
    if empty:
        raise InputDataError(f"{path}: sample column(s) {empty} have an empty name in the header")
    dup = sorted({s for s in samples if samples.count(s) > 1})
    if dup:
        raise InputDataError(f"{path}: duplicated sample ids in the header: {', '.join(dup)}")
    return samples


def read_bulk(path: str | os.PathLike, fmt: str, counts: dict | None = None) -> tuple[pd.DataFrame, pd.Series | None]:
    """Read a genes x samples bulk matrix and check it holds counts.

    Returns
    -------
    (pandas.DataFrame, pandas.Series or None)
        int64 counts (index = gene ids as in the file, columns = sample ids), and the gene names of the
        name column (None without one).
    """
    path = Path(path)
    counts = counts or {}
    check_exists(path)
    header = _header(path, fmt)  # read once: columns and sample ids come from it
    ident, name, drop, raw = _columns(header, path, fmt, counts)
    samples = _sample_ids(header, path, fmt, counts)
    sep = "," if fmt == "csv" else "\t"
    with reading(path, fmt):
        df = pd.read_csv(path, sep=sep, comment="#" if fmt == "featurecounts" else None,
                         dtype={header.index(ident): str}, low_memory=False, compression=compression(path))
    if len(df.columns) == len(header):
        df.columns = header  # the names as the header has them (an unnamed id column stays "", not "Unnamed: 0")
    df = df.set_index(ident)
    names = df[name].fillna("").astype(str) if name else None
    df = df[raw]
    df.columns = samples
    if names is not None:
        names.index = names.index.astype(str)
    return checked_counts(df, path, counts), names


def checked_counts(df: pd.DataFrame, path, counts: dict) -> pd.DataFrame:
    """A genes x samples frame as read from ``path``, checked to hold counts (gene ids present, unpadded and
    unique; every value a number and, after ``counts.round``, a count): int64, index named ``gene_id``."""
    df.index = df.index.astype(str)
    df.index.name = "gene_id"
    if df.shape[0] == 0:
        raise InputDataError(f"{path}: the matrix has a header but no gene rows")
    missing = df.index[df.index.isin(["", "nan"]) | pd.isna(df.index)]
    if len(missing):
        raise InputDataError(f"{path}: {len(missing)} row(s) have no gene id")
    padded = df.index[df.index != df.index.str.strip()]
    if len(padded):
        raise InputDataError(f"{path}: gene id {padded[0]!r} (line {df.index.get_loc(padded[0]) + 2}) has leading or "
                             f"trailing whitespace ({len(padded)} ids); remove it, or the id matches no annotation")
    dup = df.index[df.index.duplicated()].unique()
    if len(dup):
        raise InputDataError(f"{path}: duplicated gene ids ({len(dup)}): {', '.join(map(repr, dup[:10]))}"
                             + (" ..." if len(dup) > 10 else ""))
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            values = pd.to_numeric(df[col], errors="coerce")
            unparsed = values.isna() & df[col].notna()
            if unparsed.any():
                bad = df.index[unparsed][0]
                hint = (" (a gene-name or annotation column? name it in counts.name_column or counts.drop_columns)"
                        if unparsed.mean() > 0.5 else "")
                raise InputDataError(f"{path}: sample {col!r}, gene {bad!r}: value {df.at[bad, col]!r} is not a "
                                     f"number{hint}")
            df[col] = values.astype(float)  # numbers pandas kept as text (too long for int64): checked below
    if counts.get("round"):
        values = df.to_numpy(dtype=float)
        fractional = np.isfinite(values) & (values != np.round(values))
        if fractional.any():
            log.info("%s: %d non-integer values (estimated counts) rounded to the nearest integer (counts.round)",
                     path, int(fractional.sum()))
            df = pd.DataFrame(np.where(np.isfinite(values), np.round(values), values), index=df.index,
                              columns=df.columns)
    check_counts_dense(df, path)
    return df.astype(np.int64)
