"""A Cell Ranger matrix folder (``counts.format: 10x_mtx``): ``matrix.mtx``, ``barcodes.tsv`` and
``features.tsv`` (v3) or ``genes.tsv`` (v2), each gzipped or not, in any mix.

scanpy's ``read_10x_mtx`` reads the two layouts Cell Ranger writes (v3 all gzipped, v2 all plain) and raises
bare errors otherwise -- a folder gunzipped by hand, a file one line short, a truncated download. This reader
takes any mix, checks that the three files agree (the matrix's dimensions against the features' and barcodes'
lines) and names the file at fault; on Cell Ranger's own layouts it gives scanpy's matrix exactly
(``tests/unit/test_tenx.py``). Gene ids (the features' first column) name the genes, as
``read_10x_mtx(var_names="gene_ids")``; with a feature-type column only "Gene Expression" is kept (``gex_only``).

The entries are read as real numbers whatever the banner declares: scipy reads an ``integer`` file's 1250.5 as 1250
without a word; here it is refused, naming the cell and the gene. A banner that cannot declare counts (pattern,
complex, symmetric) is refused at start-up.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from .count_checks import check_counts_sparse
from .errors import InputDataError
from .files import compression, open_bytes

#: Each part's file names, in the order looked for.
PARTS = {"matrix": ("matrix.mtx.gz", "matrix.mtx"), "barcodes": ("barcodes.tsv.gz", "barcodes.tsv"),
         "features": ("features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv")}


def part(folder: Path, name: str) -> Path:
    """The folder's file of part ``name`` (matrix, barcodes, features); none is an error listing what is there."""
    for candidate in PARTS[name]:
        if (folder / candidate).is_file():
            return folder / candidate
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise InputDataError(f"{folder}: no {' or '.join(PARTS[name])} in this 10x folder (it holds: "
                         f"{', '.join(present[:10]) or 'nothing'}{' ...' if len(present) > 10 else ''})")


def _lines(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False,
                           compression=compression(path))
    except pd.errors.EmptyDataError:
        raise InputDataError(f"{path}: the {what} file is empty") from None
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputDataError(f"{path}: cannot be read as the folder's {what} ({type(exc).__name__}: {exc})") from exc


def _matrix_error(path: Path, exc: Exception) -> InputDataError:
    return InputDataError(f"{path}: cannot be read as a Matrix Market file ({type(exc).__name__}: {exc}); a download "
                          "cut short, or not a matrix.mtx")


def matrix_shape(path: Path) -> tuple[int, int]:
    """The (features, cells) that a Matrix Market file's size line declares, read without its
    entries. A matrix that cannot hold counts is refused here: a field other than integer or real (pattern has no
    values, complex no counts) or a symmetry other than general."""
    banner = ""
    try:
        with open_bytes(path) as fh:
            for raw in fh:
                line = raw.decode("ascii", "replace").strip()
                if not banner:
                    banner = line
                    if not line.lower().startswith("%%matrixmarket"):
                        raise ValueError(f"the first line is {line[:60]!r}, not a %%MatrixMarket banner")
                elif line and not line.startswith("%"):
                    rows, cols = line.split()[:2]
                    break
            else:
                raise ValueError("no size line")
    except (OSError, EOFError, ValueError) as exc:
        raise _matrix_error(path, exc) from exc
    words = banner.lower().split()
    if len(words) < 5 or words[3] not in ("integer", "real", "double") or words[4] != "general":
        raise InputDataError(f"{path}: the banner {banner!r} does not declare counts: a 10x matrix is 'coordinate "
                             "integer general' (or real); pattern, complex and symmetric matrices are not counts")
    return int(rows), int(cols)


class _IntegerAsReal(io.RawIOBase):
    """A Matrix Market stream whose banner says ``real`` where it said ``integer``: scipy reads an integer file's
    entry 2.5 as 2 without a word; read as real, a decimal reaches the count checks and is refused."""

    def __init__(self, fh, banner: bytes):
        self._head, self._fh = banner, fh

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._fh.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _read_matrix(path: Path) -> tuple[sp.csr_matrix, bool]:
    """The matrix (cells x features), its values read as real numbers whatever the banner declares, and whether
    the banner declared integers."""
    try:
        with open_bytes(path) as fh:
            banner = fh.readline()
            real, integer = re.subn(rb"(?i)\binteger\b", b"real", banner, count=1)
            stream = io.BufferedReader(_IntegerAsReal(fh, real), 1 << 20)
            return sp.csr_matrix(scipy.io.mmread(stream).T), bool(integer)
    except (OSError, EOFError, ValueError, IndexError) as exc:
        raise _matrix_error(path, exc) from exc


def checked_parts(folder: Path) -> tuple[list[str], pd.DataFrame, Path, Path]:
    """The folder's barcodes, its features (one row per line), its features file and its matrix file, after
    checking that the matrix's declared size is the features' and the barcodes' line counts -- cheap enough for
    parse time (the matrix's entries are not read)."""
    folder = Path(folder)
    barcode_path = part(folder, "barcodes")
    cells = _lines(barcode_path, "barcodes")[0].tolist()
    feature_path = part(folder, "features")
    features = _lines(feature_path, "features")
    matrix_path = part(folder, "matrix")
    n_features, n_cells = matrix_shape(matrix_path)
    if (n_features, n_cells) != (len(features), len(cells)):
        raise InputDataError(f"{folder}: the matrix is {n_features} features x {n_cells} cells ({matrix_path.name}'s "
                             f"header) but {feature_path.name} has {len(features)} lines and "
                             f"{barcode_path.name} {len(cells)}: the three files are not of one run, or one is cut "
                             "short")
    return cells, features, feature_path, matrix_path


def read_10x_folder(folder: Path) -> tuple[sp.csr_matrix, list[str], list[str]]:
    """The counts (cells x genes, CSR), the barcodes and the gene ids of a 10x folder (module notes)."""
    cells, features, feature_path, matrix_path = checked_parts(folder)
    X, integer = _read_matrix(matrix_path)
    if integer:
        X = _whole(X, matrix_path, cells, features[0].tolist())
    keep = np.ones(len(features), dtype=bool)
    if features.shape[1] >= 3:
        keep = (features[2] == "Gene Expression").to_numpy()
        if not keep.any():
            raise InputDataError(f"{feature_path}: no feature of type 'Gene Expression' (types: "
                                 f"{', '.join(sorted(features[2].unique())[:5])})")
    return X[:, np.flatnonzero(keep)], cells, features.loc[keep, 0].tolist()


def _whole(X: sp.csr_matrix, path: Path, cells: list[str], genes: list[str]) -> sp.csr_matrix:
    """An integer-declared matrix's values as int64, after the count checks (module notes)."""
    check_counts_sparse(X, cells, genes, path, "is not an integer though the banner declares integer values: raw "
                                               "counts are required (an edited or hand-written file?)")
    X.data = X.data.astype(np.int64)
    return X
