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


def barcodes(folder: Path) -> list[str]:
    """The cell barcodes, one per line (parse time reads these alone)."""
    return _lines(part(folder, "barcodes"), "barcodes")[0].tolist()


def read_10x_folder(folder: Path) -> tuple[sp.csr_matrix, list[str], list[str]]:
    """The counts (cells x genes, CSR), the barcodes and the gene ids of a 10x folder (module notes)."""
    folder = Path(folder)
    cells = barcodes(folder)
    feature_path = part(folder, "features")
    features = _lines(feature_path, "features")
    matrix_path = part(folder, "matrix")
    try:
        with open_bytes(matrix_path) as fh:
            X = scipy.io.mmread(fh)
    except (OSError, EOFError, ValueError, IndexError) as exc:
        raise InputDataError(f"{matrix_path}: cannot be read as a Matrix Market file ({type(exc).__name__}: {exc}); "
                             "a download cut short, or not a matrix.mtx") from exc
    X = sp.csr_matrix(X.T)
    if X.shape != (len(cells), len(features)):
        raise InputDataError(f"{folder}: the matrix is {X.shape[1]} features x {X.shape[0]} cells ({matrix_path.name}'s "
                             f"header) but {feature_path.name} has {len(features)} lines and "
                             f"{part(folder, 'barcodes').name} {len(cells)}: the three files are not of one run, or one "
                             "is cut short")
    keep = np.ones(len(features), dtype=bool)
    if features.shape[1] >= 3:
        keep = (features[2] == "Gene Expression").to_numpy()
        if not keep.any():
            raise InputDataError(f"{feature_path}: no feature of type 'Gene Expression' (types: "
                                 f"{', '.join(sorted(features[2].unique())[:5])})")
    return X[:, np.flatnonzero(keep)], cells, features.loc[keep, 0].tolist()
