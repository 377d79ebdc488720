"""Sample sheets and sample ids: reading a sheet (values kept as text), matching it to the matrix."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import ConfigError, InputDataError
from .files import compression, not_utf8, open_bytes, workbook
from .schema import validate

#: Sample sheet delimiter by file extension.
SHEET_DELIMITERS = {".tsv": "\t", ".txt": "\t", ".tab": "\t", ".csv": ","}


def _delimiter_hint(path: Path, sep: str) -> str:
    """When the header holds no ``sep`` but another delimiter, a sentence saying so and what to do (else '')."""
    with open_bytes(path) as fh:
        first = fh.readline().decode("utf-8", errors="replace").strip()
    names = {",": "commas", ";": "semicolons", " ": "spaces", "\t": "tabs"}
    found = [d for d in names if d != sep and d in first]
    if sep in first or not found:
        return ""
    other = {"\t": ",", ",": "\t"}[sep]
    fix = (f"name the file {'.csv' if other == ',' else '.tsv'}, or save it {names[sep][:-1]}-separated"
           if found[0] == other else "save it tab-separated (.tsv) or comma-separated (.csv)")
    return f"; its header has {names[found[0]]} and no {names[sep]}: {fix}"


def read_sample_sheet(path: Path, id_column: str = "sample") -> pd.DataFrame:
    """Read a sample sheet; values stay strings, nothing is coerced.

    Parameters
    ----------
    path
        ``.tsv``/``.txt``/``.tab`` (tab-separated) or ``.csv``, gzipped or not (read from the bytes; ``.gz``
        after the extension allowed); UTF-8 with or without a byte-order mark; LF or CRLF line ends.
    id_column
        The column with the sample ids (``samples.id_column``); it is named
        ``sample`` in what is returned, and index the rows.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"sample sheet {path} does not exist")
    if hint := workbook(path):
        raise ConfigError(f"sample sheet {path}: {hint}")
    suffix = Path(path.name.lower().removesuffix(".gz")).suffix
    sep = SHEET_DELIMITERS.get(suffix)
    if sep is None:
        raise ConfigError(f"sample sheet {path}: unknown file type {suffix or '(no extension)'!r}; name it "
                          ".tsv (tab-separated) or .csv (comma-separated)")
    if path.stat().st_size == 0:
        raise ConfigError(f"sample sheet {path}: file is empty")
    try:
        sheet = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, comment=None, encoding="utf-8-sig",
                            compression=compression(path))
    except pd.errors.EmptyDataError as exc:
        raise ConfigError(f"sample sheet {path}: file is empty") from exc
    except UnicodeDecodeError as exc:
        hint = not_utf8(path) or f"is not text ({exc}): an Excel workbook? save it as CSV UTF-8 or tab-separated text"
        raise ConfigError(f"sample sheet {path}: {hint}") from exc
    except pd.errors.ParserError as exc:
        raise ConfigError(f"sample sheet {path}: cannot be read as a {'CSV' if sep == ',' else 'TSV'} file in "
                          f"UTF-8 ({exc}){_delimiter_hint(path, sep)}") from exc
    sheet.columns = [str(c).strip() for c in sheet.columns]
    if id_column not in sheet.columns:
        hint = _delimiter_hint(path, sep) or "; name it with samples.id_column"
        raise ConfigError(f"sample sheet {path}: the sample id column {id_column!r} is missing (columns: "
                          f"{', '.join(sheet.columns)}){hint}")
    if id_column != "sample":
        if "sample" in sheet.columns:
            raise ConfigError(f"sample sheet {path}: has both 'sample' and the id column {id_column!r}; rename "
                              "the 'sample' column")
        sheet = sheet.rename(columns={id_column: "sample"})
    if sheet.empty:
        raise ConfigError(f"sample sheet {path}: has a header but no samples")
    for i, row in enumerate(sheet.to_dict(orient="records")):
        validate(row, "samples", f"sample sheet {path}", prefix=f"row {i + 2}")
    dup = sorted(sheet["sample"][sheet["sample"].duplicated()].unique())
    if dup:
        raise ConfigError(f"sample sheet {path}: column {id_column!r}: duplicated sample ids: {', '.join(dup)}")
    return sheet.set_index("sample", drop=False).rename_axis(None)


#: Values a spreadsheet or R writes for "missing"; in a design column they would become a level of their own.
NA_LIKE = {"NA", "N/A", "#N/A", "NaN", "nan", "null", "NULL", "None", "none", "-", ""}


def check_design_values(sheet: pd.DataFrame, columns: list[str], sheet_path, role: str = "used in the design") -> None:
    """Refuse design values that would silently make wrong groups (parse time).

    A value with leading or trailing whitespace (``Chow `` is not ``Chow``), a
    missing-value marker (``NA``, ``NaN``, ``null``, empty...), and two levels
    equal up to case (``chow`` and ``Chow``) each become a group of their own
    and take samples from the intended one. Each is an error naming the
    column, the sample(s), the value and the fix. ``role`` says what the column is for (the design, or
    ``de.block``, whose blocks would split the same way).
    """
    for col in columns:
        values = sheet[col].astype(str)
        padded = values[values != values.str.strip()]
        if len(padded):
            s, v = padded.index[0], padded.iloc[0]
            raise ConfigError(f"sample sheet {sheet_path}: column {col!r} ({role}): sample {s!r} has "
                              f"{v!r}, with leading/trailing whitespace, which would be a level of its own; "
                              f"remove the spaces ({len(padded)} value(s) affected)")
        missing = values[values.isin(NA_LIKE)]
        if len(missing):
            raise ConfigError(f"sample sheet {sheet_path}: column {col!r} ({role}) is empty or "
                              f"missing ({', '.join(sorted(set(map(repr, missing))))}) for sample(s) "
                              f"{', '.join(missing.index)}; give each sample its level, or leave it out of the "
                              "sheet and the matrix")
        levels = sorted(set(values))
        by_case: dict[str, list[str]] = {}
        for level in levels:
            by_case.setdefault(level.casefold(), []).append(level)
        clash = [group for group in by_case.values() if len(group) > 1]
        if clash:
            raise ConfigError(f"sample sheet {sheet_path}: column {col!r} ({role}) has levels that "
                              f"differ only in case: {', '.join(map(repr, clash[0]))} (samples: "
                              f"{', '.join(values.index[values.isin(clash[0])])}); write them the same way")


def _listed(ids: list[str], most: int = 20) -> str:
    return ", ".join(ids[:most]) + (f" ... and {len(ids) - most} more" if len(ids) > most else "") if ids else "-"


def transposed_hint(matrix_ids, sheet_ids) -> str:
    """A sentence when the matrix's header shares no id with the sheet and holds many more columns than the sheet
    has samples: a matrix with samples as rows (else '')."""
    matrix_ids, sheet_ids = list(matrix_ids), list(sheet_ids)
    if set(matrix_ids) & set(sheet_ids) or len(matrix_ids) < max(50, 2 * len(sheet_ids)):
        return ""
    return (f"\n  The header has {len(matrix_ids)} sample columns for {len(sheet_ids)} samples in the sheet and "
            "shares no id with it: is the matrix transposed (samples as rows)? It must have genes as rows and "
            "samples as columns.")


def check_ids_match(matrix_ids, sheet_ids, matrix_path, sheet_path, source) -> None:
    only_matrix = sorted(set(matrix_ids) - set(sheet_ids))
    only_sheet = sorted(set(sheet_ids) - set(matrix_ids))
    if only_matrix or only_sheet:
        msg = (f"{source}: the count matrix {matrix_path} and the sample sheet {sheet_path} disagree.\n"
               f"  in the matrix, not in the sheet: {_listed(only_matrix)}\n"
               f"  in the sheet, not in the matrix: {_listed(only_sheet)}")
        hint = transposed_hint(matrix_ids, sheet_ids)
        if hint:
            msg += hint
        elif only_matrix and only_sheet:
            msg += (f"\n  If a sample was renamed, map matrix id -> sheet id under samples.rename, e.g. "
                    f"'samples: {{rename: {{{only_matrix[0]}: {only_sheet[0]}}}}}'")
        raise ConfigError(msg)


def apply_rename(ids, rename: dict, source: str, what: str = "count matrix", sheet_ids=()) -> list[str]:
    """Apply ``samples.rename`` (matrix id -> sheet id); unknown keys are errors (with ``sheet_ids``, saying so
    when the matrix looks transposed: :func:`transposed_hint`)."""
    ids = list(ids)
    unknown = sorted(set(rename) - set(ids))
    if unknown:
        hint = transposed_hint(ids, sheet_ids) if len(sheet_ids) else ""
        raise ConfigError(f"{source}: key 'samples.rename': {', '.join(map(repr, unknown))} "
                          f"not a sample id of the {what}{hint}")
    out = [rename.get(i, i) for i in ids]
    dup = sorted({i for i in out if out.count(i) > 1})
    if dup:
        raise ConfigError(f"{source}: key 'samples.rename' makes sample ids collide: {', '.join(dup)}")
    return out


def cell_sample_ids(obs: pd.DataFrame, sc: dict, source: str) -> pd.Series:
    """Sample id of each cell, from an obs column, the cell name or the input path."""
    if "sample_key" in sc:
        key = sc["sample_key"]
        if key not in obs.columns:
            raise ConfigError(f"{source}: key 'single_cell.sample_key': obs column {key!r} not found "
                              f"(obs columns: {', '.join(map(str, obs.columns))})")
        return obs[key].astype(str)
    if "sample_from_cell_name" in sc:
        sep, fieldno = sc["sample_from_cell_name"]["sep"], sc["sample_from_cell_name"]["field"]
        parts = pd.Series(obs.index.astype(str), index=obs.index).str.split(sep, regex=False)
        short = parts.str.len() <= fieldno
        if short.any():
            raise ConfigError(f"{source}: key 'single_cell.sample_from_cell_name': cell {obs.index[short][0]!r} "
                              f"has no field {fieldno} when split on {sep!r}")
        return parts.str[fieldno]
    if "_input_sample" in obs.columns:
        return obs["_input_sample"].astype(str)
    raise ConfigError(f"{source}: single-cell data need 'single_cell.sample_key' (an obs column) or "
                      "'single_cell.sample_from_cell_name', or counts.path as a mapping sample -> path")


def named_by_column(sheet: pd.DataFrame | None, key: str, samples) -> dict[str, str]:
    """Each sample's value in the sheet's ``proteomics.column_key`` column ``key`` (its table column, or its run);
    a key that is not a column of the sheet is an error naming it."""
    if sheet is None or key not in sheet.columns:
        raise InputDataError(f"proteomics.column_key {key!r} is not a column of the sample sheet")
    return {s: str(sheet.at[s, key]) for s in samples}
