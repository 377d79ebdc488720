"""Files in and out: how a user's file is opened (compression by its bytes, workbooks and non-UTF-8 text
named), which count-matrix format it is, and the atomic writers every stage uses (single-cell files:
:mod:`lsecflow.cell_files`; receiver tables: :mod:`lsecflow.receiver_tables`).

Every reader returns genes/cells with their ids exactly as in the file; the
checks refuse (never coerce) anything that is not a non-negative integer.
A writer puts its file in place only when it is complete (a temporary name
renamed on success), so a failed or killed job leaves nothing partial.
"""
from __future__ import annotations

import contextlib
import gzip
import logging
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .errors import InputDataError

if TYPE_CHECKING:  # imported where a function reads or writes h5ad: the parse-time config check needs no anndata
    import anndata as ad

log = logging.getLogger(__name__)

FORMATS = ("tsv", "csv", "featurecounts", "h5ad", "10x_mtx", "10x_h5")
SINGLE_CELL_FORMATS = ("h5ad", "10x_mtx", "10x_h5")
FEATURECOUNTS_ANNOTATION = ["Geneid", "Chr", "Start", "End", "Strand", "Length"]  # (bulk_counts.py reads them)


def _strip_gz(name: str) -> str:
    return name[:-3] if name.endswith(".gz") else name


def separator(path: str | os.PathLike) -> str:
    """A table's field separator by its name: ``,`` for ``.csv`` (gzipped or not, any case), else a tab."""
    return "," if Path(path).name.lower().removesuffix(".gz").endswith(".csv") else "\t"


GZIP_MAGIC = b"\x1f\x8b"
_MISNAMED: set[Path] = set()  # files whose name misstates their compression, already logged


def compression(path: str | os.PathLike) -> str | None:
    """``"gzip"`` when the file is gzip-compressed, by its first two bytes rather than its name, else None (the
    ``compression`` pandas takes). A name that says otherwise is logged: a browser that decompressed a download
    keeps its ``.gz``, and a tool may compress a ``.tsv`` in place."""
    path = Path(path)
    if not path.is_file():
        return None
    with open(path, "rb") as fh:
        gz = fh.read(2) == GZIP_MAGIC
    if gz != path.name.endswith(".gz") and path not in _MISNAMED:  # once per file, not per read
        _MISNAMED.add(path)
        log.warning("%s: %s; read as %s", path, "gzip-compressed though its name does not end in .gz" if gz else
                    "named .gz but not gzip-compressed", "gzip" if gz else "plain text")
    return "gzip" if gz else None


def open_text(path: Path, encoding: str | None = None):
    """A user's text file for reading, gzip-compressed or not (:func:`compression`)."""
    path = Path(path)
    if compression(path):
        return gzip.open(path, "rt", encoding=encoding)
    return open(path, encoding=encoding)


def open_bytes(path: Path):
    """A user's file for reading as bytes, decompressed if it is gzip (:func:`compression`)."""
    return gzip.open(path, "rb") if compression(path) else open(path, "rb")


def first_bytes(path: Path, n: int = 4) -> bytes:
    """The first ``n`` bytes of a file as stored (b'' when it is not a file)."""
    if not path.is_file():
        return b""
    with open(path, "rb") as fh:
        return fh.read(n)


#: spreadsheet workbooks, known by their first bytes (:func:`workbook`): zip (.xlsx, .ods) and OLE2 (.xls)
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def workbook(path: str | os.PathLike) -> str:
    """A sentence for a spreadsheet workbook given where a text table is read, else ''. Known by its first bytes,
    whatever its name (tools that write tab-separated text named .xls are common: such a file is text)."""
    path = Path(path)
    head = first_bytes(path, 8)
    zipped = head.startswith(WORKBOOK_MAGIC[0]) and not path.name.lower().endswith((".xlsx", ".xlsm", ".ods"))
    if not head.startswith(WORKBOOK_MAGIC):
        return ""
    return (f"is {'a zip archive (as an .xlsx workbook is)' if zipped else 'a spreadsheet workbook'}, not a text "
            "table: lsecflow reads tables as text so that nothing is converted on the way (a spreadsheet turns "
            "gene names such as MARCH1 into dates); save the sheet from the spreadsheet as 'CSV UTF-8 (.csv)' or "
            "'Text (Tab delimited) (.txt)' (or unzip the archive) and give that file")


def not_utf8(path: str | os.PathLike) -> str:
    """Where a text file stops being UTF-8, for a message: ``line N ('...')`` and how to convert it; '' when every
    line decodes or the file is binary (a NUL byte in its first 8 KiB: an h5ad, an Excel workbook), which the
    caller's own message covers."""
    try:
        with open_bytes(path) as fh:
            if b"\x00" in fh.read(8192):
                return ""
            fh.seek(0)
            for lineno, raw in enumerate(fh, 1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    near = raw[max(exc.start - 20, 0):exc.start + 10].decode("utf-8", errors="replace").strip()
                    return (f"line {lineno} is not UTF-8 (near {near!r}; byte 0x{raw[exc.start]:02x}, Latin-1 or "
                            "Windows-1252?): save the file as UTF-8 (Excel: 'CSV UTF-8'; or iconv -f latin1 -t utf-8)")
    except (OSError, EOFError, zlib.error):
        return ""
    return ""


@contextlib.contextmanager
def reading(path: Path, fmt: str):
    """Turn a reader's failure (truncated gzip, binary data, malformed rows) into a message naming the file."""
    try:
        yield
    except (EOFError, OSError, UnicodeDecodeError, zlib.error, pd.errors.ParserError) as exc:
        hint = not_utf8(path) if isinstance(exc, UnicodeDecodeError) else ""
        if hint:
            raise InputDataError(f"{path}: {hint}") from exc
        what = {"csv": "comma-separated", "featurecounts": "featureCounts"}.get(fmt, "tab-separated")
        raise InputDataError(f"{path}: cannot be read as a {what} count matrix ({type(exc).__name__}: {exc}); "
                             "is the file complete (a cut-off download or copy), and is counts.format right?"
                             ) from exc


def is_featurecounts(first_line: str) -> bool:
    """A file whose first line is featureCounts' command comment or its table header."""
    return first_line.startswith("# Program:featureCounts") or first_line.split("\t")[:6] == FEATURECOUNTS_ANNOTATION


def first_lines(path: Path, n: int = 1) -> list[str]:
    """The first ``n`` non-empty lines of a text file (gzip read from its bytes), line ends stripped; a file
    that is empty, not text or cut off is refused naming it."""
    lines: list[str] = []
    try:
        with open_text(path) as fh:
            for line in fh:
                if line.strip():
                    lines.append(line.rstrip("\r\n"))
                    if len(lines) == n:
                        break
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        hint = not_utf8(path) if isinstance(exc, UnicodeDecodeError) else ""
        raise InputDataError(f"{path}: {hint or f'cannot be read as text ({exc})'}") from exc
    if not lines:
        raise InputDataError(f"{path}: file is empty")
    return lines


def check_exists(path: Path) -> None:
    """A missing or empty input, or a spreadsheet workbook (:func:`workbook`), is refused naming it."""
    if not path.exists():
        raise InputDataError(f"{path}: no such file or folder")
    if path.is_file() and path.stat().st_size == 0:
        raise InputDataError(f"{path}: file is empty")
    if hint := workbook(path):
        raise InputDataError(f"{path}: {hint}")


def detect_format(path: str | os.PathLike, declared: str = "auto") -> str:
    """Return the count-matrix format of ``path``.

    ``declared`` wins when it is not ``"auto"``. Otherwise: a folder is a 10x
    mtx folder, ``.h5ad`` is AnnData, ``.h5`` a 10x HDF5 file, ``.csv[.gz]``
    comma-separated, ``.tsv/.txt/.tab[.gz]`` tab-separated (featureCounts
    output is recognised by its header). Anything else is refused.
    """
    path = Path(path)
    check_exists(path)
    if declared != "auto":
        if declared not in FORMATS:
            raise InputDataError(f"{path}: unknown format {declared!r} (known: {', '.join(FORMATS)})")
        return declared
    if path.is_dir():
        return "10x_mtx"
    name = _strip_gz(path.name.lower())
    suffix = Path(name).suffix
    if suffix == ".h5ad":
        return "h5ad"
    if suffix == ".h5":
        return "10x_h5"
    if suffix == ".csv":
        return "csv"
    if suffix in (".tsv", ".txt", ".tab"):
        first = first_lines(path)[0]
        if is_featurecounts(first):
            return "featurecounts"
        return "tsv"
    raise InputDataError(
        f"{path}: unknown count-matrix format (extension {suffix or 'none'!r}); name the format in "
        f"counts.format, one of: {', '.join(FORMATS)}"
    )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it into place on success.

    A failure (or a kill) leaves no partial file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_tsv_atomic(df: pd.DataFrame, path, **kwargs) -> None:
    """Write a TSV atomically (see :func:`atomic_path`); ``.gz`` paths are gzipped without a time stamp."""
    compression = {"method": "gzip", "mtime": 0} if str(path).endswith(".gz") else None
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, float_format="%.10g", compression=compression, **kwargs)


def write_text_atomic(text: str, path) -> None:
    """Write a text file atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_json_atomic(data, path) -> None:
    """Write JSON (indented, keys sorted, newline at the end) atomically."""
    import json

    write_text_atomic(json.dumps(data, indent=2, sort_keys=True) + "\n", path)


def write_h5ad_atomic(adata: ad.AnnData, path: str | os.PathLike) -> None:
    """Write an AnnData atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp, compression="gzip")


def resolve_path(path: str, roots: list[Path]) -> Path:
    """Resolve a relative path against the working directory, then the workflow folder.

    A path found under the working directory stays relative to it, so rule inputs and parameters do not
    hold the run folder's absolute location: a finished run copied elsewhere plans nothing.
    """
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute():
        return p
    for root in roots:
        if (root / p).exists():
            return p if Path(root).resolve() == Path.cwd().resolve() else root / p
    return roots[0] / p
