"""A Cell Ranger matrix folder (``counts.format: 10x_mtx``): ``matrix.mtx``, ``barcodes.tsv`` and
``features.tsv`` (v3) or ``genes.tsv`` (v2), each gzipped or not, in any mix.

scanpy's ``read_10x_mtx`` reads the two layouts Cell Ranger writes (v3 all gzipped, v2 all plain) and raises
bare errors otherwise -- a folder gunzipped by hand, a file one line short, a truncated download. This reader
takes any mix, checks that the three files agree (the matrix's dimensions against the features' and barcodes'
lines) and names the file at fault; on Cell Ranger's own layouts it gives scanpy's matrix exactly
(``tests/unit/test_tenx.py``). Gene ids (the features' first column) name the genes, as
``read_10x_mtx(var_names="gene_ids")``; with a feature-type column only "Gene Expression" is kept (``gex_only``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

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
    """The (features, cells) that a Matrix Market file's size line declares, read without its entries."""
    try:
        with open_bytes(path) as fh:
            for raw in fh:
                line = raw.decode("ascii", "replace").strip()
                if line and not line.startswith("%"):
                    rows, cols = line.split()[:2]
                    return int(rows), int(cols)
    except (OSError, EOFError, ValueError) as exc:
        raise _matrix_error(path, exc) from exc
    raise _matrix_error(path, ValueError("no size line"))


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
    try:
        with open_bytes(matrix_path) as fh:
            X = sp.csr_matrix(scipy.io.mmread(fh).T)
    except (OSError, EOFError, ValueError, IndexError) as exc:
        raise _matrix_error(matrix_path, exc) from exc
    keep = np.ones(len(features), dtype=bool)
    if features.shape[1] >= 3:
        keep = (features[2] == "Gene Expression").to_numpy()
        if not keep.any():
            raise InputDataError(f"{feature_path}: no feature of type 'Gene Expression' (types: "
                                 f"{', '.join(sorted(features[2].unique())[:5])})")
    return X[:, np.flatnonzero(keep)], cells, features.loc[keep, 0].tolist()
