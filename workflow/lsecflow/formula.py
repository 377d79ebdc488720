"""Design formulas, checked as text before any formula parser sees them; the estimable columns of a design matrix
(:func:`estimable_columns`, as R's pivoted QR keeps them)."""
from __future__ import annotations

import re
from itertools import combinations

import numpy as np
import pandas as pd

from .errors import ConfigError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_TERM = re.compile(rf"^{_IDENT}(:{_IDENT})*$")


_CROSS = re.compile(rf"^{_IDENT}(\s*\*\s*{_IDENT})+$")


def expand_design(formula: str) -> str:
    """R's crossing shorthand written out: ``~ a * b`` -> ``~ a + b + a:b`` (three columns: every interaction of
    two and of three); other terms, and anything :func:`parse_design` will refuse, are left as written."""
    text = formula.strip()
    if not text.startswith("~") or "*" not in text:
        return formula
    terms: list[str] = []
    for raw in text[1:].split("+"):
        term = raw.strip()
        if not _CROSS.match(term):
            terms.append(term)
            continue
        names = [n.strip() for n in term.split("*")]
        terms += [":".join(c) for k in range(1, len(names) + 1) for c in combinations(names, k)]
    return "~ " + " + ".join(dict.fromkeys(terms))


def parse_design(formula: str, columns, source: str = "config", key: str = "design") -> list[str]:
    """Check a design formula and return the sample-sheet columns it uses.

    Only ``~ a + b + a:b`` forms made of sample-sheet column names are
    accepted (an intercept-only ``~ 1`` is allowed too). Nothing in the string
    is ever evaluated: anything else, such as a function call, is refused.

    Parameters
    ----------
    formula
        The design, e.g. ``"~ batch + condition"``.
    columns
        Column names of the sample sheet.
    source
        Where the formula came from, for the error message.
    key
        The config key holding it (``design``, ``de.reduced``).

    Returns
    -------
    list of str
        Columns in order of first use.
    """
    text = formula.strip()
    if not text.startswith("~"):
        raise ConfigError(f"{source}: key '{key}': {formula!r} must start with '~' (e.g. '~ condition')")
    body = text[1:].strip()
    if body in ("", "1"):
        return []
    used: list[str] = []
    for raw in body.split("+"):
        term = raw.strip()
        if term == "1":
            continue
        if not _TERM.match(term):
            raise ConfigError(
                f"{source}: key '{key}': term {term!r} of {formula!r} is not allowed; a design is "
                "'~ column + column + column:column' (or column * column) using sample-sheet column names only "
                "(no functions, operators or expressions)"
            )
        for name in term.split(":"):
            if name not in columns:
                raise ConfigError(
                    f"{source}: key '{key}': column {name!r} of {formula!r} is not in the sample "
                    f"sheet (columns: {', '.join(map(str, columns))})"
                )
            if name not in used:
                used.append(name)
    return used


def design_terms(formula: str) -> set[str]:
    """The terms of a checked design formula (``"~ a + b + a:b"`` -> ``{"a", "b", "a:b"}``; ``~ 1`` -> empty)."""
    return {t.strip() for t in formula.strip()[1:].split("+") if t.strip() not in ("", "1")}


def check_full_rank(formula: str, sheet, source: str = "config", sheet_path="the sample sheet",
                    numeric=()) -> None:
    """Refuse a design that cannot be fitted on the sheet's samples (parse time).

    The treatment-coded model matrix (as DESeq2 builds it) must have full
    column rank; otherwise a coefficient is inestimable and the fit fails
    inside the DE job (a singular matrix). The message names the first model
    column that is a combination of the ones before it, and the sheet columns
    involved. It must also leave residual degrees of freedom (more samples than
    coefficients). Values are taken as levels (text), as the DE does. (A
    pseudobulk cell type's samples are checked again by its DE job:
    :func:`lsecflow.de_inputs.check_fittable`.)

    Parameters
    ----------
    formula
        A design checked by :func:`parse_design`.
    sheet
        The sample sheet (one row per sample that is fitted), values as text.
    numeric
        Design columns declared numeric (``numeric:``): modelled as numbers, not levels.
    """
    import patsy  # only here: the parse-time rank check

    columns = parse_design(formula, list(sheet.columns), source)
    if not columns:
        return
    data = sheet[columns].astype(str).reset_index(drop=True)
    for col in set(numeric) & set(columns):
        data[col] = data[col].astype(float)

    def term(t: str) -> str:
        return ":".join(name if name in numeric else f"C({name})" for name in t.split(":"))

    body = " + ".join(term(t) for t in sorted(design_terms(formula)))
    matrix = patsy.dmatrix(body, data, return_type="dataframe")
    kept = estimable_columns(matrix.to_numpy())
    rank = len(kept)
    if rank < matrix.shape[1]:  # the first column that adds nothing to the ones before it
        name = matrix.columns[np.setdiff1d(np.arange(matrix.shape[1]), kept)[0]]
        raise ConfigError(
            f"{source}: key 'design': {formula!r} cannot be fitted on the {len(data)} samples of "
            f"{sheet_path}: model column {name!r} is a combination of the columns before it (rank {rank} of "
            f"{matrix.shape[1]}), so its effect cannot be told apart; columns {', '.join(columns)} are "
            "confounded or a level combination has no sample. Drop or merge a term, or add samples")
    if len(data) <= rank:
        raise ConfigError(
            f"{source}: key 'design': {formula!r} has {rank} coefficients for the {len(data)} samples of "
            f"{sheet_path}: no residual degrees of freedom, so no engine can estimate a dispersion or a "
            "variance (each sample would get a coefficient of its own). Drop a term or add samples")


def level_order(values: pd.Series, base: str | None = None) -> list[str]:
    """Levels of one design column: ``base`` first, then by first appearance in ``values``.

    Never by name, so renaming a level cannot change the model's parametrisation.
    """
    seen = list(dict.fromkeys(values.astype(str)))
    if base is not None:
        seen = [base] + [lv for lv in seen if lv != base]
    return seen


def design_metadata(obs: pd.DataFrame, columns: list[str], contrasts: dict | None = None) -> pd.DataFrame:
    """Design columns as categoricals in canonical order (see :func:`level_order`); a column stored as
    float (declared ``numeric:``, converted at ingest) stays a number.

    The base level of a column is the reference of the first contrast on it.
    ``obs`` must already be in canonical sample order.
    """
    base: dict[str, str] = {}
    for contrast in (contrasts or {}).values():
        if "reference" in contrast:  # a slope has none
            base.setdefault(contrast["variable"], contrast["reference"])
    meta = pd.DataFrame(index=obs.index.astype(str))
    for col in columns:
        if pd.api.types.is_float_dtype(obs[col]):  # declared numeric (ingest stores those as float)
            meta[col] = obs[col].to_numpy(dtype=float)
            continue
        values = obs[col].astype(str)
        meta[col] = pd.Categorical(values, categories=level_order(values, base.get(col)))
    return meta


def check_numeric(spec: dict, sheet: pd.DataFrame, design_columns: list[str], sheet_path, source: str) -> None:
    """Numbers in the design are modelled as declared, never guessed (parse time).

    A column in ``numeric:`` must hold a number for every sample (a contrast on it is its slope);
    a design column whose values all look like numbers must be declared ``numeric:`` (one slope) or
    ``categorical:`` (each value a level).
    """
    numeric, categorical = list(spec.get("numeric", [])), list(spec.get("categorical", []))
    for key, names in (("numeric", numeric), ("categorical", categorical)):
        unknown = [n for n in names if n not in sheet.columns]
        if unknown:
            raise ConfigError(f"{source}: key '{key}': {', '.join(map(repr, unknown))} not a column of sample sheet "
                              f"{sheet_path} (columns: {', '.join(sheet.columns)})")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ConfigError(f"{source}: keys 'numeric' and 'categorical' both list {', '.join(map(repr, both))}")
    for col in design_columns:
        values = sheet[col].astype(str)
        parsed = pd.to_numeric(values.str.strip(), errors="coerce")
        if col in numeric:
            bad = values[parsed.isna() | ~np.isfinite(parsed)]
            if len(bad):
                raise ConfigError(f"sample sheet {sheet_path}: column {col!r} is declared numeric but sample "
                                  f"{bad.index[0]!r} has {bad.iloc[0]!r}, not a number ({len(bad)} value(s))")
        elif col not in categorical and parsed.notna().all():
            example = ", ".join(sorted(set(values), key=lambda v: float(v))[:4])
            raise ConfigError(
                f"{source}: design column {col!r} of sample sheet {sheet_path} holds numbers ({example}); say how "
                f"to model it: 'numeric: [{col}]' (one coefficient per unit, e.g. age) or 'categorical: [{col}]' "
                f"(each value a group of its own, e.g. batch 1, 2, 3)")


def estimable_columns(X: np.ndarray) -> np.ndarray:
    """Columns of ``X`` kept by R's pivoted QR: each, in order, unless it adds nothing to those before it."""
    kept: list[int] = []
    for j in range(X.shape[1]):
        if np.linalg.matrix_rank(X[:, kept + [j]]) > len(kept):
            kept.append(j)
    return np.array(kept, dtype=int)


def estimable(X: np.ndarray) -> np.ndarray:
    """True for each column of ``X`` whose coefficient the rows of ``X`` estimate: its unit vector lies in their
    row space (the diagonal of the projector ``pinv(X) @ X`` is 1 there). Where rows are missing (a protein's
    unobserved samples) R's ``lm.fit`` still reports every column its pivoted QR keeps
    (:func:`estimable_columns`), and a kept column's coefficient can then mean another comparison: in
    ``~ cell * group`` with cell B's treated samples all missing, ``group[T.treated]`` under base B is fitted
    from cell A's samples."""
    return np.isclose(np.diag(np.linalg.pinv(X) @ X), 1.0, atol=1e-8)


def design_matrix(meta: pd.DataFrame, design: str, bases: dict[str, str] | None = None):
    """The treatment-coded design matrix of ``design`` over ``meta`` (categoricals, canonical order), with
    ``bases`` (column -> level, e.g. a contrast's :func:`lsecflow.contrasts.bases`) as base levels."""
    import patsy

    meta = meta.copy()
    for variable, reference in (bases or {}).items():
        cats = list(meta[variable].cat.categories)
        meta[variable] = meta[variable].cat.reorder_categories([reference] + [c for c in cats if c != reference])
    return patsy.dmatrix(design, meta)
