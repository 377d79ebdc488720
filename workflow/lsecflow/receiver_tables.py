"""A bulk receiver table (``paracrine.receivers``): the raw counts of cells that may hear the dataset's factors
(a cancer cell line, a neighbouring cell type), read at parse time and by the paracrine job."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputDataError
from .files import compression, not_utf8


def read_receiver_table(path, name: str) -> pd.DataFrame:
    """A bulk receiver table: genes (first column, symbols) x samples, raw counts.

    Every value must be a finite non-negative number and every gene named; the first offending gene and sample
    (or line) are named.
    """
    path = Path(path)
    what = f"receiver table {name!r} ({path})"
    if not path.exists():
        raise InputDataError(f"{what}: file does not exist")
    sep = "," if ".csv" in path.name else "\t"
    try:
        t = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, index_col=0, compression=compression(path))
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{what}: {not_utf8(path) or exc}") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(f"{what}: cannot be read ({exc})") from exc
    if t.shape[1] == 0 or t.shape[0] == 0:
        raise InputDataError(f"{what}: needs a gene column and at least one sample column with rows"
                             + (" (its lines hold commas: is it comma-separated? name it .csv)"
                                if t.shape[1] == 0 and "," in str(t.index.name) else ""))
    blank = t.index.astype(str).str.strip() == ""
    if blank.any():
        raise InputDataError(f"{what}: line {int(blank.argmax()) + 2} has no gene in the first column")
    values = t.apply(pd.to_numeric, errors="coerce")
    bad = ~np.isfinite(values) | (values < 0)
    if bad.to_numpy().any():
        gene_pos, col_pos = np.argwhere(bad.to_numpy())[0]
        raise InputDataError(f"{what}: column {t.columns[col_pos]!r}, gene {t.index[gene_pos]!r}: value "
                             f"{t.iat[gene_pos, col_pos]!r} is not a finite non-negative number")
    dup = t.index[t.index.duplicated()]
    if len(dup):
        raise InputDataError(f"{what}: gene {dup[0]!r} appears twice")
    values.index = values.index.astype(str)
    return values
