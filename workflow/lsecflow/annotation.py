"""Offline gene id -> symbol mapping and deterministic duplicate handling."""
from __future__ import annotations

import hashlib
import logging
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputDataError
from .files import compression

log = logging.getLogger(__name__)

ID_PATTERNS = {
    "ensembl": re.compile(r"^ENS[A-Z]*G\d+$"),
    "ensembl_version": re.compile(r"^ENS[A-Z]*G\d+\.\d+(_PAR_Y)?$"),
}
#: rows that HTSeq and STAR append to gene counts; they are not genes
SUMMARY_ROWS = re.compile(r"^(__\w+|N_unmapped|N_multimapping|N_noFeature|N_ambiguous)$")


#: what Excel makes of MARCH1, SEPT2, DEC1 ... when a table passes through it: 1-Mar, 2-Sep, Dec-01, 2006/09/02
EXCEL_DATE = re.compile(r"(?i)^(?:\d{1,2}-(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)(?:-\d{2,4})?|"
                        r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)-\d{1,4}|\d{4}[/-]\d{2}[/-]\d{2})$")


def excel_dates(names, source) -> list[str]:
    """Gene names that look like dates a spreadsheet made of symbols (MARCH1 -> 1-Mar, SEPT2 -> 2-Sep; Ziemann et
    al. 2016): logged as a warning naming them, since which gene each was (MARCH1 or MARC1?) cannot be told
    back. Returns them."""
    found = sorted({p.strip() for n in names for p in str(n).split(";") if EXCEL_DATE.match(p.strip())})
    if found:
        log.warning("%s: %d gene name(s) look like dates a spreadsheet made of gene symbols (%s): they match no "
                    "gene set or ligand; fix the table where it was made (export it without the spreadsheet, or "
                    "import that column as text)", source, len(found), ", ".join(found[:8]))
    return found


def check_id_type(gene_ids, id_type: str, source) -> None:
    """Refuse gene ids with leading or trailing whitespace ('Actr2 ' matches no gene set, annotation or ligand)
    and ids that do not look like the declared ``gene_ids`` type."""
    ids = pd.Index(gene_ids).astype(str)
    padded = ids[ids.str.strip() != ids]
    if len(padded):
        raise InputDataError(f"{source}: gene id {padded[0]!r} has leading or trailing whitespace ({len(padded)} ids); "
                             "remove it")
    pattern = ID_PATTERNS.get(id_type)
    if pattern is None:
        return
    bad = ids[~ids.str.match(pattern)]
    if len(bad):
        hint = {"ensembl": "ids with a version suffix need gene_ids: ensembl_version",
                "ensembl_version": "ids without a version suffix need gene_ids: ensembl"}[id_type]
        prefixes = pd.Series(bad).str.extract(r"^([A-Za-z]+_)", expand=False)
        if len(bad) < len(ids) and prefixes.notna().all() and prefixes.nunique() == 1:
            # rows of another kind that share a prefix (LRG_ records of older Ensembl GTFs): name the key that drops them
            hint += f"; to leave these out, set counts.drop_ids: '^{prefixes.iloc[0]}'"
        raise InputDataError(
            f"{source}: {len(bad)} of {len(ids)} gene ids do not match gene_ids: {id_type} "
            f"(first: {', '.join(map(repr, bad[:5]))}); {hint}; symbols need gene_ids: symbol"
        )


def drop_ids(gene_ids, pattern: str | None, source) -> np.ndarray:
    """Which genes to keep under ``counts.drop_ids`` (a regular expression matched from the start of each id).

    Parameters
    ----------
    gene_ids
        The matrix's gene ids.
    pattern
        ``counts.drop_ids``, or None (keep all).
    source
        The matrix, for the log line.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the genes kept; the dropped ones are logged (count and first five).
    """
    ids = pd.Index(gene_ids).astype(str)
    if not pattern:
        return np.ones(len(ids), dtype=bool)
    hit = ids.str.match(pattern)
    if len(ids) and hit.all():
        raise InputDataError(f"{source}: counts.drop_ids {pattern!r} matches every one of its {len(ids)} gene ids "
                             f"(first: {', '.join(map(repr, ids[:3]))}); nothing would be left")
    log.info("%s: %d gene ids match counts.drop_ids %r and are left out%s", source, int(hit.sum()), pattern,
             f" (first: {', '.join(ids[hit][:5])})" if hit.any() else "")
    return ~hit


def strip_version(gene_ids) -> pd.Index:
    """``ENSMUSG00000000001.5`` -> ``ENSMUSG00000000001`` (``_PAR_Y`` kept)."""
    return pd.Index(gene_ids).astype(str).str.replace(r"\.\d+(?=(_PAR_Y)?$)", "", regex=True)


def load_symbol_table(path) -> pd.Series:
    """Read a two-column table ``gene_id``, ``symbol`` (TSV or CSV, gzip ok).

    A table read before in this process, with the same bytes, is not parsed again (the ingest reads it for each
    matrix and the symbol check): the cache is keyed by the file's content digest, never by its time stamp, and
    each caller gets its own copy.
    """
    digest = hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()
    return _parse_symbol_table(str(path), digest).copy()


@lru_cache(maxsize=4)
def _parse_symbol_table(path: str, digest: str) -> pd.Series:
    """``digest`` only keys the cache (the content of ``path`` when it was read)."""
    sep = "," if path.removesuffix(".gz").endswith(".csv") else "\t"
    table = pd.read_csv(path, sep=sep, dtype=str, compression=compression(path))
    missing = {"gene_id", "symbol"} - set(table.columns)
    if missing:
        raise InputDataError(f"{path}: annotation table lacks column(s) {', '.join(sorted(missing))}")
    table = table.dropna().drop_duplicates("gene_id")
    return table.set_index("gene_id")["symbol"]


def make_unique_symbols(symbols: pd.Series, totals: pd.Series) -> tuple[pd.Series, dict]:
    """Make symbols unique, deterministically.

    Within a group of genes sharing a symbol, the gene with the largest total
    count keeps the plain symbol (ties: smallest gene id); the others become
    ``<symbol>_<gene id>``.

    Parameters
    ----------
    symbols
        Symbol per gene, indexed by gene id.
    totals
        Total count per gene, same index.

    Returns
    -------
    (pandas.Series, dict)
        Unique symbols (same index) and ``{symbol: [gene ids]}`` of the groups.
    """
    df = pd.DataFrame({"symbol": symbols.astype(str), "total": totals.reindex(symbols.index).to_numpy()},
                      index=symbols.index)
    df["gid"] = df.index.astype(str)
    dup_mask = df["symbol"].duplicated(keep=False)
    groups: dict[str, list[str]] = {}
    out = df["symbol"].copy()
    if dup_mask.any():
        sub = df[dup_mask].sort_values(["symbol", "total", "gid"], ascending=[True, False, True])
        for sym, grp in sub.groupby("symbol", sort=True):
            groups[sym] = grp["gid"].tolist()
            for gid in grp["gid"].iloc[1:]:
                out[gid] = f"{sym}_{gid}"
    # a renamed symbol could in principle collide with a real one: fail loudly, never overwrite
    if out.duplicated().any():
        raise InputDataError(f"symbols still duplicated after resolution: {out[out.duplicated()].tolist()[:5]}")
    return out, groups


def annotate_genes(gene_ids, id_type: str, table_path, totals, names=None) -> tuple[pd.DataFrame, dict]:
    """Build ``var`` with ``gene_id`` and a unique ``symbol`` column.

    Ensembl ids are mapped to symbols through ``table_path`` (version suffix
    stripped for the look-up); unmapped ids keep the id (without version) as
    symbol. Symbol ids are used as they are. ``names`` (the matrix's own gene
    names, ``counts.name_column``) win over the table where they are not empty.

    Returns
    -------
    (pandas.DataFrame, dict)
        ``var`` indexed by gene id, and a report of unmapped and duplicated.
    """
    ids = pd.Index(gene_ids).astype(str)
    totals = pd.Series(np.asarray(totals), index=ids)
    if id_type == "symbol":
        mapped = pd.Series(ids, index=ids)
        unmapped: list[str] = []
    else:
        table = load_symbol_table(table_path)
        stripped = strip_version(ids)
        mapped = pd.Series(table.reindex(stripped.str.replace("_PAR_Y", "", regex=False)).to_numpy(), index=ids)
        unmapped = ids[mapped.isna().to_numpy()].tolist()
        mapped = mapped.fillna(pd.Series(stripped, index=ids))
    if names is not None:
        given = pd.Series(np.asarray(names, dtype=object), index=ids).fillna("").astype(str).str.strip()
        mapped = mapped.where(given == "", given)
        unmapped = [i for i in unmapped if given[i] == ""]
    unique, groups = make_unique_symbols(mapped, totals)
    var = pd.DataFrame({"gene_id": ids, "symbol": unique.to_numpy(),
                        "symbol_duplicated": mapped.duplicated(keep=False).to_numpy()},
                       index=ids)
    var.index.name = None
    report = {"n_genes": len(ids), "n_unmapped": len(unmapped), "unmapped_examples": unmapped[:20],
              "n_duplicated_symbols": len(groups), "duplicated_symbols": groups}
    return var, report
