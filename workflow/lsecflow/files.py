"""Files in and out: readers for count matrices (with the checks that they hold
raw counts) and receiver tables, and the atomic writers every stage uses.

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

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .count_checks import check_counts_sparse
from .errors import InputDataError

if TYPE_CHECKING:  # imported where a function reads or writes h5ad: the parse-time config check needs no anndata
    import anndata as ad

log = logging.getLogger(__name__)

FORMATS = ("tsv", "csv", "featurecounts", "h5ad", "10x_mtx", "10x_h5")
SINGLE_CELL_FORMATS = ("h5ad", "10x_mtx", "10x_h5")
FEATURECOUNTS_ANNOTATION = ["Geneid", "Chr", "Start", "End", "Strand", "Length"]  # (bulk_counts.py reads them)


def _strip_gz(name: str) -> str:
    return name[:-3] if name.endswith(".gz") else name


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


#: spreadsheet workbooks, known by their first bytes (:func:`workbook`): zip (.xlsx, .ods) and OLE2 (.xls)
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def workbook(path: str | os.PathLike) -> str:
    """A sentence for a spreadsheet workbook given where a text table is read, else ''. Known by its first bytes,
    whatever its name (tools that write tab-separated text named .xls are common: such a file is text)."""
    path = Path(path)
    if not path.is_file():
        return ""
    with open(path, "rb") as fh:
        head = fh.read(8)
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


# --------------------------------------------------------------------------- single cell
def _read_one_single_cell(path: Path, fmt: str, layer: str = "auto"):
    import anndata as ad
    import scanpy as sc

    if fmt == "h5ad":
        adata = ad.read_h5ad(path)
        if layer == "auto":
            layer = "counts" if "counts" in adata.layers else "X"
        from_raw = layer == "raw" and "raw" not in adata.layers  # a layer named raw is that layer, as before
        where = "X" if layer == "X" else ".raw" if from_raw else f"layers[{layer!r}]"
        if from_raw:  # scanpy's .raw, where many published files keep the counts (its genes may be more)
            if adata.raw is None:
                raise InputDataError(f"{path}: counts.layer 'raw' but the file has no .raw")
            adata = adata.raw.to_adata()
        elif layer != "X":
            if layer not in adata.layers:
                raise InputDataError(
                    f"{path}: counts.layer {layer!r} not found (layers: {', '.join(adata.layers) or 'none'})"
                )
            adata.X = adata.layers[layer]
        log.info("%s: counts taken from %s (%d genes)", path, where, adata.n_vars)
        adata.layers.clear()
        adata.var = pd.DataFrame(index=adata.var_names.astype(str))
        return adata
    if fmt == "10x_mtx":
        adata = sc.read_10x_mtx(path, var_names="gene_ids", gex_only=True)
    elif fmt == "10x_h5":
        adata = sc.read_10x_h5(path, gex_only=True)
        if "gene_ids" in adata.var:
            adata.var_names = adata.var["gene_ids"].astype(str)
    else:
        raise InputDataError(f"{path}: format {fmt!r} is not a single-cell format ({', '.join(SINGLE_CELL_FORMATS)})")
    symbols = adata.var_names.astype(str)
    adata.var = pd.DataFrame(index=symbols)
    return adata


def single_cell_paths(path_spec) -> dict[str | None, Path]:
    """Normalise ``counts.path``: one path, or a mapping sample -> path."""
    if isinstance(path_spec, dict):
        return {str(k): Path(v) for k, v in path_spec.items()}
    return {None: Path(path_spec)}


def read_single_cell(path_spec, fmt: str, layer: str = "auto"):
    """Read single-cell counts (cells x genes) from one or several inputs.

    With a mapping sample -> path, cells are concatenated, named
    ``<sample>:<barcode>`` and get ``obs['_input_sample']``.
    """
    import anndata as ad

    parts = []
    for sample, path in single_cell_paths(path_spec).items():
        adata = _read_one_single_cell(path, fmt, layer)
        if sample is not None:
            adata.obs_names = [f"{sample}:{b}" for b in adata.obs_names]
            adata.obs["_input_sample"] = sample
        check_counts_sparse(adata.X, adata.obs_names, adata.var_names, path)
        parts.append(adata)
    if len(parts) == 1:
        adata = parts[0]
    else:
        genes = [list(p.var_names) for p in parts]
        if any(g != genes[0] for g in genes[1:]):
            raise InputDataError("counts.path: the 10x inputs do not list the same genes in the same order")
        adata = ad.concat(parts, join="outer", merge="same")
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise InputDataError(f"{path_spec}: the matrix is empty ({adata.n_obs} cells x {adata.n_vars} genes)")
    dup = adata.var_names[adata.var_names.duplicated()].unique()
    if len(dup):
        raise InputDataError(f"{path_spec}: duplicated gene ids ({len(dup)}): {', '.join(dup[:10])}")
    dup = adata.obs_names[adata.obs_names.duplicated()].unique()
    if len(dup):
        raise InputDataError(f"{path_spec}: duplicated cell ids ({len(dup)}): {', '.join(dup[:10])}")
    X = sp.csr_matrix(adata.X)
    adata.X = X.astype(np.int32) if (X.data.size == 0 or X.data.max() < 2**31) else X.astype(np.int64)
    return adata


def peek_single_cell_obs(path_spec, fmt: str) -> pd.DataFrame:
    """Cell names and obs columns without loading the matrix (parse time)."""
    import anndata as ad
    import h5py

    frames = []
    for sample, path in single_cell_paths(path_spec).items():
        check_exists(path)
        if fmt == "h5ad":
            try:
                obs = ad.read_h5ad(path, backed="r").obs.copy()
            except Exception as exc:  # noqa: BLE001 - report any unreadable file the same way
                raise InputDataError(f"{path}: cannot be read as h5ad ({exc})") from exc
        elif fmt == "10x_h5":
            with h5py.File(path, "r") as fh:
                grp = fh["matrix"] if "matrix" in fh else fh[list(fh.keys())[0]]
                obs = pd.DataFrame(index=[b.decode() for b in grp["barcodes"][:]])
        elif fmt == "10x_mtx":
            candidates = [path / "barcodes.tsv.gz", path / "barcodes.tsv"]
            found = [c for c in candidates if c.exists()]
            if not found:
                raise InputDataError(f"{path}: no barcodes.tsv(.gz) in this 10x folder")
            obs = pd.DataFrame(index=pd.read_csv(found[0], sep="\t", header=None, dtype=str)[0].tolist())
        else:
            raise InputDataError(f"{path}: format {fmt!r} is not a single-cell format")
        if sample is not None:
            obs.index = [f"{sample}:{b}" for b in obs.index]
            obs["_input_sample"] = sample
        frames.append(obs)
    return pd.concat(frames) if len(frames) > 1 else frames[0]


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
