"""The design's nuisance terms (batch, mouse, a covariate: what no contrast asks about) and limma's
``removeBatchEffect``, for the QC PCA drawn without them (as DESeq2's vignette advises for plotPCA); the tests
never see the corrected values: the model carries the terms.

Ported from limma 3.54.1 (``removeBatchEffect(x, batch, batch2, covariates, design)``), generalised to any
number of factors: each nuisance factor sum-coded (``contr.sum``), numeric ones as given, fitted by least squares
together with the design of the terms the contrasts use, and their fitted part subtracted. Checked against R by
``tests/data/nuisance/make_reference.R``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .contrasts import columns
from .formula import design_terms


def nuisance_terms(design: str, contrasts: dict) -> tuple[list[str], list[str]]:
    """``(nuisance, kept)``: the design's single-column terms whose column no contrast names and no other term
    holds (``batch`` in ``~ batch + Group``), and the terms kept. No nuisance when a candidate column also
    sits in an interaction: removing its main effect alone would not remove it."""
    named = {col for c in contrasts.values() for col in columns(c)}
    terms = sorted(design_terms(design))
    in_interactions = {col for t in terms if ":" in t for col in t.split(":")}
    nuisance = [t for t in terms if ":" not in t and t not in named and t not in in_interactions]
    return nuisance, [t for t in terms if t not in nuisance]


def nuisance_matrix(meta: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """limma's ``X.batch``: each factor sum-coded (its levels in ``meta``'s order of categories, the last level
    -1 in every column), each numeric column as it is (samples x columns)."""
    parts = []
    for col in columns:
        values = meta[col]
        if pd.api.types.is_numeric_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype):
            parts.append(values.to_numpy(dtype=float)[:, None])
            continue
        levels = list(values.cat.categories) if isinstance(values.dtype, pd.CategoricalDtype) else \
            sorted(values.astype(str).unique())
        v = values.astype(str).to_numpy()
        coded = np.column_stack([(v == lv).astype(float) for lv in levels[:-1]]) if len(levels) > 1 else \
            np.zeros((len(v), 0))
        coded[v == levels[-1]] = -1.0
        parts.append(coded)
    return np.column_stack(parts) if parts else np.zeros((len(meta), 0))


def remove_batch_effect(x: np.ndarray, nuisance: np.ndarray, design: np.ndarray) -> np.ndarray:
    """limma's ``removeBatchEffect``: ``x`` (genes x samples) less the nuisance columns' least-squares fit
    (``nuisance``: :func:`nuisance_matrix`), estimated together with ``design`` (samples x columns, the terms
    kept)."""
    x = np.asarray(x, dtype=float)
    full = np.column_stack([design, nuisance])
    beta = np.linalg.lstsq(full, x.T, rcond=None)[0][design.shape[1]:]
    return x - (nuisance @ beta).T
