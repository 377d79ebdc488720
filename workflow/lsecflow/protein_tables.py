"""Protein-level intensity tables: MaxQuant ``proteinGroups.txt``, FragPipe ``combined_protein.tsv``,
DIA-NN ``pg_matrix.tsv``, Spectronaut's protein-group pivot report (:mod:`lsecflow.spectronaut`) and a generic
table (also for antibody and cytokine arrays); and MaxQuant's ``peptides.txt``, DIA-NN's main report
(:mod:`lsecflow.diann_report`) and Spectronaut's long report, summarised to proteins (:mod:`lsecflow.peptides`).

Each reader returns the intensities exactly as in the file (proteins x samples, float; 0 stays 0, it
becomes "missing" in :mod:`lsecflow.proteomics`), after removing the rows the search engine marks as
decoys or contaminants, each removal counted. The sample -> column mapping is read from the header
alone, so the parse-time check can name a sheet's sample whose column is not in the table.
"""
from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import diann_report, spectronaut
from .diann_report import is_parquet, is_report, parquet_header
from .diann_report import run_name as diann_run
from .errors import InputDataError
from .files import compression, not_utf8, separator, workbook
from .peptides import to_proteins
from .proteomics import observed_mask
from .sheets import named_by_column

log = logging.getLogger(__name__)

PROTEOMICS_FORMATS = ("maxquant", "maxquant_peptides", "fragpipe", "diann", "diann_report", "spectronaut",
                      "spectronaut_report", "protein_table", "peptide_table")
#: Tables of peptides or precursors, summarised to proteins at ingest (``proteomics.summarise``).
PEPTIDE_FORMATS = ("maxquant_peptides", "diann_report", "spectronaut_report", "peptide_table")
#: Long reports (one row per precursor and run, the samples runs named in a column) and the module reading each: its
#: ``sample_runs`` (the parse-time check) and ``read_report``.
REPORT_FORMATS = {"diann_report": diann_report, "spectronaut_report": spectronaut}
#: Generic tables: their columns named by ``proteomics.id_column`` / ``gene_column`` (``protein_column``).
GENERIC_FORMATS = ("protein_table", "peptide_table")

#: Per format: id, gene-name and description columns, and each quantity's column pattern ({} = sample).
LAYOUTS = {
    "maxquant": {"id": "Protein IDs", "gene": "Gene names", "description": ("Protein names", "Fasta headers"),
                 "columns": {"lfq": "LFQ intensity {}", "intensity": "Intensity {}"}},
    "maxquant_peptides": {"id": "Sequence", "gene": "Gene names", "description": ("Protein names",),
                          "protein": "Leading razor protein",
                          "columns": {"lfq": "LFQ intensity {}", "intensity": "Intensity {}"}},
    "fragpipe": {"id": "Protein ID", "gene": "Gene", "description": ("Description",),
                 "columns": {"lfq": "{} MaxLFQ Intensity", "intensity": "{} Intensity"}},
    "diann": {"id": "Protein.Group", "gene": "Genes", "description": ("First.Protein.Description",),
              "columns": {}},
    "diann_report": {"id": "Precursor.Id", "gene": "Genes", "description": (), "protein": "Protein.Group",
                     "columns": {}},
    "spectronaut": {"id": spectronaut.ID, "gene": spectronaut.GENES, "description": (spectronaut.DESCRIPTION,),
                    "columns": {}},
    "spectronaut_report": {"id": spectronaut.PRECURSOR, "gene": spectronaut.GENES, "description": (),
                           "protein": spectronaut.ID, "columns": {}},
}
#: MaxQuant's "+" flags: rows removed with ``proteomics.remove_flagged``.
MAXQUANT_FLAGS = ("Reverse", "Potential contaminant", "Only identified by site")
#: DIA-NN annotation columns (every other column is a run).
DIANN_ANNOTATION = ("Protein.Group", "Protein.Ids", "Protein.Names", "Genes", "First.Protein.Description",
                    "N.Sequences", "N.Proteotypic.Sequences")
#: The species' name in FragPipe's ``Organism`` column.
ORGANISMS = {"human": "Homo sapiens", "mouse": "Mus musculus"}


def read_header(path: str | os.PathLike) -> list[str]:
    """Column names of a protein table (first line only; a parquet report's schema)."""
    path = Path(path)
    if hint := workbook(path):
        raise InputDataError(f"{path}: {hint}")
    if is_parquet(path):  # read only as DIA-NN's main report
        header = parquet_header(path)
        if not is_report(header):
            raise InputDataError(f"{path}: a parquet file is read as DIA-NN's main report (report.parquet) only; "
                                 "this one has no Precursor.Id, Protein.Group and Run columns (give other tables "
                                 "as tab-separated text)")
        return header
    try:
        try:
            header = pd.read_csv(path, sep=separator(path), nrows=0, compression=compression(path)).columns
        except pd.errors.ParserError:  # a lone '"' below the header of tab-separated text that quotes nothing
            if separator(path) != "\t":
                raise
            header = pd.read_csv(path, sep="\t", nrows=0, quoting=csv.QUOTE_NONE, compression=compression(path)).columns
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{path}: {not_utf8(path) or exc}") from exc
    except (OSError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(f"{path}: cannot be read as a protein table ({type(exc).__name__}: {exc})") from exc
    return [str(c) for c in header]


def detect_protein_format(header: list[str]) -> str:
    """``maxquant``, ``maxquant_peptides``, ``fragpipe``, ``diann``, ``diann_report``, ``spectronaut`` or
    ``spectronaut_report`` when the header is one of theirs, else ``protein_table`` (``peptide_table`` is never
    detected: it is declared)."""
    cols = set(header)
    if is_report(header):
        return "diann_report"
    if {"Sequence", "Leading razor protein"} <= cols and any(c.startswith(("LFQ intensity ", "Intensity "))
                                                            for c in header):
        return "maxquant_peptides"
    if "Protein IDs" in cols and any(c.startswith(("LFQ intensity ", "Intensity ")) for c in header):
        return "maxquant"
    if "Protein ID" in cols and any(c.endswith((" MaxLFQ Intensity", " Intensity")) for c in header):
        return "fragpipe"
    if "Protein.Group" in cols:
        return "diann"
    if spectronaut.is_report(header):
        return "spectronaut_report"
    if spectronaut.is_pivot(header):
        return "spectronaut"
    return "protein_table"


def annotation_columns(fmt: str, opts: dict, header: list[str]) -> tuple[str, str | None, str | None]:
    """The (id, gene name, description) columns of a table; gene and description None when absent."""
    if fmt in GENERIC_FORMATS:
        ident = opts.get("id_column") or header[0]
        gene = opts.get("gene_column")
        if fmt == "peptide_table" and not opts.get("protein_column"):
            raise InputDataError("counts.format peptide_table needs proteomics.protein_column, the column naming "
                                 "each peptide's protein")
        for key, col in (("id_column", ident), ("gene_column", gene), ("protein_column", opts.get("protein_column"))):
            if col is not None and col not in header:
                raise InputDataError(f"proteomics.{key} {col!r} is not a column of the table "
                                     f"(columns: {', '.join(header[:12])}{' ...' if len(header) > 12 else ''})")
        return ident, gene, None
    layout = LAYOUTS[fmt]
    for column in (layout["id"], layout.get("protein")):
        if column is not None and column not in header:
            raise InputDataError(f"no {column!r} column: not a {fmt} table (set counts.format)")
    desc = next((c for c in layout["description"] if c in header), None)
    return layout["id"], layout["gene"] if layout["gene"] in header else None, desc


def sample_columns(path, fmt: str, samples, opts: dict, sheet: pd.DataFrame | None = None) -> dict[str, str]:
    """Each sample's intensity column in the table at ``path``.

    ``proteomics.column_key`` names a sample-sheet column holding each sample's table column; without
    it the column is found from the sample id by the format's pattern (MaxQuant ``LFQ intensity <s>``
    or ``Intensity <s>``; FragPipe ``<s> MaxLFQ Intensity`` or ``<s> Intensity``; DIA-NN the run whose
    file name, without folder and extension, is the sample id; Spectronaut the run named so, with or without its
    extension; a generic table the column named so).
    A sample whose column is missing is an error naming the sample, the column and the file.
    """
    header = read_header(path)
    ident, gene, desc = annotation_columns(fmt, opts, header)
    key = opts.get("column_key")
    if fmt in REPORT_FORMATS:  # samples are runs named in a column, not columns
        return REPORT_FORMATS[fmt].sample_runs(path, header, samples, opts, sheet)
    if key:
        wanted = named_by_column(sheet, key, samples)
    elif fmt in ("maxquant", "maxquant_peptides", "fragpipe"):
        pattern = LAYOUTS[fmt]["columns"][opts.get("intensity", "lfq")]
        wanted = {s: pattern.format(s) for s in samples}
    elif fmt == "diann":
        runs = {diann_run(c): c for c in header if c not in DIANN_ANNOTATION}
        wanted = {s: runs.get(s, s) for s in samples}
    elif fmt == "spectronaut":
        wanted = spectronaut.sample_columns(header, samples)
    else:
        wanted = {s: s for s in samples}
    present = set(header)
    missing = [(s, c) for s, c in wanted.items() if c not in present]
    if missing:
        values = (list(spectronaut.runs(header).values()) if fmt == "spectronaut"
                  else [c for c in header if c not in {ident, gene, desc}])
        what = (f"the sheet's column {key!r} names" if key else "the expected column is")
        raise InputDataError(
            f"{path}: {len(missing)} sample(s) have no intensity column in the table: "
            + "; ".join(f"sample {s!r}: {what} {c!r}" for s, c in missing[:5])
            + f". Intensity-like columns in the table: {', '.join(values[:8]) or 'none'}"
            + ("" if key else "; name each sample's column in a sample-sheet column and set proteomics.column_key"))
    used = pd.Series(list(wanted.values()))
    dup = used[used.duplicated()].unique()
    if len(dup):
        raise InputDataError(f"{path}: column {dup[0]!r} is given to more than one sample")
    count_columns(path, header, wanted, fmt, opts)
    return wanted


def run_name(column: str, fmt: str, opts: dict, sample: str) -> str:
    """A sample's name in the table, read off its intensity column: MaxQuant and FragPipe's column without the
    format's prefix / suffix (``LFQ intensity C_R1`` -> ``C_R1``), DIA-NN's run file name, a generic table's
    column itself, Spectronaut's ``[<n>] <run>``; the sample id where the column does not follow the pattern."""
    if fmt == "diann":
        return diann_run(column)
    if fmt == "spectronaut":
        return spectronaut.run_label(column)
    if fmt not in LAYOUTS:
        return column
    prefix, suffix = LAYOUTS[fmt]["columns"][opts.get("intensity", "lfq")].split("{}")
    if column.startswith(prefix) and column.endswith(suffix) and len(column) > len(prefix) + len(suffix):
        return column[len(prefix):len(column) - len(suffix)]
    return sample


def count_columns(path, header: list[str], columns: dict[str, str], fmt: str, opts: dict) -> list[str]:
    """The column(s) of ``proteomics.count_column`` (each protein's peptide / PSM count, for DEqMS): the
    column itself, or with ``{}`` one per sample, ``{}`` being the sample's name in the table
    (:func:`run_name` of its intensity column, ``columns``: sample -> column); [] when not set. A column
    not in the table is an error naming it (and the sample)."""
    pattern = opts.get("count_column")
    if not pattern:
        return []
    wanted = ({s: pattern.format(run_name(c, fmt, opts, s)) for s, c in columns.items()} if "{}" in pattern
              else {None: pattern})
    missing = [(s, c) for s, c in wanted.items() if c not in set(header)]
    if missing:
        like = [c for c in header if re.search(r"peptide|spectral|psm|count|precursor", c, flags=re.IGNORECASE)]
        raise InputDataError(
            f"{path}: proteomics.count_column {pattern!r}: "
            + "; ".join(f"{'sample ' + repr(s) + ': ' if s is not None else ''}no column {c!r}" for s, c in missing[:5])
            + f". Count-like columns in the table: {', '.join(like[:8]) or 'none'}")
    return list(wanted.values())


def _flagged(df: pd.DataFrame, fmt: str, opts: dict, species: str, path) -> pd.Series:
    """Rows to remove, by reason: MaxQuant "+" flags (another mark is an error naming ``path``); FragPipe
    decoys/contaminants (``rev_``/``contam_``) and rows of another organism; DIA-NN and generic tables: none."""
    reasons = pd.Series("", index=df.index)
    if not opts.get("remove_flagged", True):
        return reasons
    if fmt in ("maxquant", "maxquant_peptides"):
        for flag in MAXQUANT_FLAGS:
            if flag in df.columns:
                marks = df[flag].fillna("").astype(str).str.strip()
                other = marks[~marks.isin(["", "+"])]
                if len(other):
                    raise InputDataError(f"{path}: column {flag!r} holds {other.iloc[0]!r} (line {other.index[0] + 2}; "
                                         f"{len(other)} such rows): MaxQuant marks a flagged row with '+' and leaves "
                                         "the others empty, so which rows are flagged is unclear; write '+' or "
                                         "nothing, or set proteomics.remove_flagged: false")
                hit = (marks == "+") & reasons.eq("")
                reasons[hit] = flag
    elif fmt == "fragpipe":
        prot = df["Protein"].astype(str) if "Protein" in df.columns else pd.Series("", index=df.index)
        reasons[prot.str.startswith("rev_")] = "decoy (rev_)"
        reasons[prot.str.startswith("contam_") & reasons.eq("")] = "contaminant (contam_)"
        organism = opts.get("organism") or ORGANISMS[species]
        if "Organism" in df.columns:
            reasons[(df["Organism"].astype(str) != organism) & reasons.eq("")] = f"organism not {organism}"
    return reasons


def _not_a_number_hint(value: str) -> str:
    """What a cell that is not a number probably is, and the fix."""
    if re.fullmatch(r"-?[\d.]*\d,\d+(?:[eE][-+]?\d+)?", value.strip()):
        return " (a decimal comma? write numbers with a decimal point)"
    if value.strip().startswith("#"):
        return " (an Excel error value; leave the cell empty for a missing value)"
    return " (leave the cell empty, or write NA or NaN, for a missing value)"


def _numeric(df: pd.DataFrame, path, ids: pd.Series, what: str = "intensity", row: str = "protein") -> pd.DataFrame:
    """Intensities (or counts) as float; a value that is not a number, or is negative, is an error naming it and
    its ``row`` (protein, or peptide)."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        raw = df[col]
        values = pd.to_numeric(raw, errors="coerce")
        bad = (values.isna() & raw.notna() & raw.astype(str).str.strip().ne("")) | np.isinf(values)
        if bad.any():
            i = bad.to_numpy().nonzero()[0][0]
            raise InputDataError(f"{path}: column {col!r}, {row} {ids.iloc[i]!r}: value {raw.iloc[i]!r} "
                                 f"is not a finite number{_not_a_number_hint(str(raw.iloc[i]))}")
        neg = values < 0
        if neg.any():
            i = neg.to_numpy().nonzero()[0][0]
            raise InputDataError(f"{path}: column {col!r}, {row} {ids.iloc[i]!r}: {what} {raw.iloc[i]!r} "
                                 "is negative" + (" (intensities are on the linear scale, >= 0; for a table already "
                                                  "on the log scale set proteomics.log2: false)"
                                                  if what == "intensity" else ""))
        out[col] = values.astype(float)
    return out


def read_protein_table(path, fmt: str, samples, opts: dict, species: str,
                       sheet: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read a protein table.

    Parameters
    ----------
    path
        The table (TSV, or CSV for the generic format; gzip ok).
    fmt
        One of :data:`PROTEOMICS_FORMATS`.
    samples
        Sample ids (sheet order); ``sheet`` the sample sheet (for ``proteomics.column_key``).
    opts
        The dataset's ``proteomics`` block.
    species
        ``human`` or ``mouse`` (FragPipe's organism filter).

    Returns
    -------
    (values, var, report)
        Intensities (protein ids x samples, float; missing cells NaN, zeros kept); per protein
        ``gene_id`` (the table's id), ``symbol`` (gene names, ``;``-joined for groups of several; the
        id when there is none), ``description`` and, with ``proteomics.count_column``, ``count`` (its
        peptide / PSM count); and counts of what was removed and why.
    """
    path = Path(path)
    if fmt in REPORT_FORMATS:  # its runs are matched on the report read once
        values, proteins, genes, report, columns = REPORT_FORMATS[fmt].read_report(path, read_header(path),
                                                                                   list(samples), opts, sheet)
        _check_quantified(values, columns, path, "precursor passing the q-values")
        values, var = to_proteins(values, proteins, genes, None, opts, path, report, unit="precursors")
        report["proteins"] = int(len(values))
        return values, var, report
    columns = sample_columns(path, fmt, list(samples), opts, sheet)
    header = read_header(path)
    ident, gene, desc = annotation_columns(fmt, opts, header)
    try:
        missing = ["", "NA", "NaN", *(spectronaut.MISSING if fmt == "spectronaut" else ())]
        split = spectronaut.text_options(path) if fmt == "spectronaut" else {"sep": separator(path)}
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=missing, low_memory=False,
                         compression=compression(path), **split)
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{path}: {not_utf8(path) or exc}") from exc
    except (OSError, EOFError, pd.errors.ParserError) as exc:
        raise InputDataError(f"{path}: cannot be read as a protein table ({type(exc).__name__}: {exc})") from exc
    report: dict = {"rows_in_table": int(len(df))}
    row = "peptide" if fmt in PEPTIDE_FORMATS else "protein"
    if df.empty:
        raise InputDataError(f"{path}: the table has a header but no {row} rows")
    ids = df[ident].astype(str).str.strip()
    blank = df[ident].isna() | ids.eq("")
    if blank.any():
        raise InputDataError(f"{path}: {int(blank.sum())} row(s) have no {row} id in column {ident!r} "
                             f"(first at line {int(blank.to_numpy().nonzero()[0][0]) + 2})")
    reasons = _flagged(df, fmt, opts, species, path)
    report["removed"] = {k: int(v) for k, v in reasons[reasons != ""].value_counts().sort_index().items()}
    for reason, n in report["removed"].items():
        log.info("%s: %d rows removed: %s", path, n, reason)
    keep = reasons.eq("").to_numpy()
    df, ids = df[keep], ids[keep]
    values = _numeric(df[list(columns.values())], path, ids, row=row)
    values.columns = list(columns)
    values.index = ids.to_numpy()
    quantified = _check_quantified(values, columns, path, row)
    if fmt in PEPTIDE_FORMATS:
        protein = opts["protein_column"] if fmt == "peptide_table" else LAYOUTS[fmt]["protein"]
        values, var = to_proteins(values, df[protein], df[gene] if gene else None, df[desc] if desc else None, opts,
                                  path, report, maxquant=fmt == "maxquant_peptides")
        report["proteins"] = int(len(values))
        return values, var, report
    empty = values.index[~quantified.any(axis=1).to_numpy()]
    report["proteins_without_a_value"] = int(len(empty))
    if len(empty):
        log.info("%s: %d proteins have no value in any sample (kept here, dropped and counted by the preprocessing; "
                 "first: %s)", path, len(empty), ", ".join(map(str, empty[:3])))
    symbols = (df[gene].fillna("").astype(str).str.strip() if gene else pd.Series("", index=df.index)).to_numpy()
    var = pd.DataFrame({"gene_id": ids.to_numpy(), "symbol": np.where(symbols == "", ids.to_numpy(), symbols),
                        "description": df[desc].fillna("").astype(str).to_numpy() if desc else ""},
                       index=ids.to_numpy())
    counted = count_columns(path, header, columns, fmt, opts)
    if counted:  # several (one per sample): the smallest, as DEqMS's vignette
        var["count"] = _numeric(df[counted], path, ids, "count").min(axis=1).to_numpy()
    values, var = _duplicates(values, var, path, opts.get("duplicate_ids", "error"), report)
    report["proteins"] = int(len(values))
    return values, var, report


def _check_quantified(values: pd.DataFrame, columns: dict[str, str], path, row: str) -> pd.DataFrame:
    """Where a value was quantified (not 0, not empty); a sample without any is an error naming its column."""
    quantified = observed_mask(values, {"zero_is_missing": True})
    for sample in values.columns[~quantified.any(axis=0).to_numpy()]:
        raise InputDataError(f"{path}: column {columns[sample]!r} (sample {sample!r}) has no quantified {row}: "
                             "every value is 0 or empty; is it the right column, or a failed run to leave out?")
    return quantified


def _duplicates(values, var, path, how: str, report: dict):
    """Rows sharing an id: an error, or (``proteomics.duplicate_ids: mean``, e.g. an array's replicate
    spots) averaged, missing values ignored."""
    dup = values.index[values.index.duplicated()].unique()
    if not len(dup):
        return values, var
    if how != "mean":
        raise InputDataError(f"{path}: {len(dup)} protein id(s) appear on more than one row (first: {dup[0]!r}); "
                             "for replicate spots of an array set proteomics.duplicate_ids: mean")
    report["replicate_rows_averaged"] = int(values.index.duplicated().sum())
    log.info("%s: %d ids on several rows (replicate spots): averaged", path, len(dup))
    values = values.groupby(level=0, sort=False).mean()
    return values, var[~var.index.duplicated()].loc[values.index]


def split_genes(symbol: str) -> list[str]:
    """The gene names of a protein group (``;``-separated, as MaxQuant, FragPipe and DIA-NN write them)."""
    return [g.strip() for g in str(symbol).split(";") if g.strip()]
