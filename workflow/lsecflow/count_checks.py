"""Checks that a count matrix holds raw read counts: finite, non-negative, integer and exactly storable.

Each check refuses (never coerces) and names the first offending sample or cell, the gene and the value.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputDataError

#: The largest count accepted: every integer up to 2**53 is exact in float64 (the fits) and in int64
#: (counts.h5ad); a larger value would be stored wrapped or rounded, so it is refused.
MAX_COUNT = 2**53
TOO_LARGE = f"is larger than {MAX_COUNT:,}, the largest count stored exactly; it cannot be a read count"


def value_problems(values: np.ndarray, not_integer: str) -> list[tuple[np.ndarray, str]]:
    """(mask, what is wrong) of each refused kind of value: missing or infinite, negative, too large
    (> :data:`MAX_COUNT`), not an integer (``not_integer`` says why that matters for this input)."""
    return [
        (~np.isfinite(values), "is missing or not finite (NaN/Inf)"),
        (values < 0, "is negative"),
        (values > MAX_COUNT, TOO_LARGE),
        (np.isfinite(values) & (values != np.round(values)), not_integer),
    ]


def _shown(value) -> str:
    """A matrix value as the file has it: 12.5, nan, inf (numpy 2 would print np.float64(12.5))."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_counts_dense(df: pd.DataFrame, source) -> None:
    """Refuse NaN, infinite, negative, too large (> :data:`MAX_COUNT`) or non-integer values (genes x samples)."""
    values = df.to_numpy(dtype=float)
    checks = value_problems(values, "is not an integer; raw counts are required (estimated counts from salmon or "
                                    "RSEM, e.g. nf-core/rnaseq's merged gene matrices: set counts.round: true to "
                                    "round them)")
    for mask, what in checks:
        if mask.any():
            i, j = np.argwhere(mask)[0]
            n = int(mask.sum())
            raise InputDataError(
                f"{source}: sample {df.columns[j]!r}, gene {df.index[i]!r}: value {_shown(df.iat[i, j])} {what} "
                f"({n} such value{'s' if n > 1 else ''} in the matrix)"
            )


#: Why a single-cell matrix's non-integer value is refused, unless the reader knows better (:func:`check_counts_sparse`).
NOT_INTEGER_CELLS = ("is not an integer: this looks like normalised or log-transformed data, raw counts are required "
                     "(for h5ad, name where the counts are with counts.layer: a layer, or raw for scanpy's .raw)")


def check_counts_sparse(X, cell_names, gene_names, source, not_integer: str = NOT_INTEGER_CELLS) -> None:
    """Refuse a cells x genes matrix that does not hold raw counts.

    A matrix of normalised or log-transformed values (non-integer floats) is
    refused with the first offending cell and gene named (``not_integer``: why that matters, for this input).
    """
    X = sp.csr_matrix(X) if not sp.issparse(X) else X.tocsr()
    checks = value_problems(X.data, not_integer)
    for mask, what in checks:
        if mask.any():
            k = int(np.argmax(mask))
            row = int(np.searchsorted(X.indptr, k, side="right") - 1)
            col = int(X.indices[k])
            n = int(mask.sum())
            raise InputDataError(
                f"{source}: cell {cell_names[row]!r}, gene {gene_names[col]!r}: value {_shown(X.data[k])} {what} "
                f"({n} such value{'s' if n > 1 else ''})"
            )
