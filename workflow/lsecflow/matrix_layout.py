"""Parse-time checks of a bulk matrix's layout, from its first rows: causes named, not their symptoms.

A matrix whose gene-id column is not the first, whose data rows end with a separator the header
lacks (a trailing tab), or whose annotation columns sit among the samples would otherwise fail
later with a misleading message ("duplicated gene ids", or a rename hint pairing a column name
with a sample). Reads the header and the first ``n_rows`` data rows only.
"""
from __future__ import annotations

from .errors import InputDataError
from .files import open_text, reading


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def check_bulk_layout(path, fmt: str, n_rows: int = 20, ident: str | None = None, skip=()) -> None:
    """Refuse a TSV/CSV matrix whose first rows show a layout problem, naming the line or column and the fix.

    ``ident``: the gene-id column (``counts.id_column``; default the first); ``skip``: the other columns that
    are not samples by config (``counts.name_column``, ``drop_columns``).
    """
    if fmt not in ("tsv", "csv"):
        return
    sep = "," if fmt == "csv" else "\t"
    lines: list[str] = []
    with reading(path, fmt), open_text(path) as fh:  # a cut-off gzip: a message, not EOFError
        for line in fh:
            if line.strip():
                lines.append(line.rstrip("\r\n"))
            if len(lines) > n_rows:
                break
    if len(lines) < 2:
        return
    header = lines[0].split(sep)
    rows = [line.split(sep) for line in lines[1:]]
    name, escaped = ("a tab", "\\t") if sep == "\t" else ("a comma", ",")
    for i, row in enumerate(rows):
        if len(row) > len(header):
            extra = row[len(header):]
            if all(not x.strip() for x in extra):
                raise InputDataError(
                    f"{path}: line {i + 2} has {len(row)} fields but the header has {len(header)}: the data rows "
                    f"end with {name} (an empty last field) that the header lacks. Remove the trailing separator "
                    f"from the data rows (e.g. sed 's/{escaped}$//')")
            raise InputDataError(f"{path}: line {i + 2} has {len(row)} values but the header names {len(header)} "
                                 "columns (the gene id and one column per sample); a header without a name for "
                                 "the gene-id column (R's write.table with row names) needs one added")
    cells = lambda j: [r[j].strip().strip('"') for r in rows if len(r) > j]  # noqa: E731
    names = [h.strip().strip('"') for h in header]
    id_at = names.index(ident) if ident in names else 0
    for j in range(len(header)):
        if j == id_at or names[j] in skip:
            continue
        values = [v for v in cells(j) if v]
        if values and not any(_is_number(v) for v in values):
            raise InputDataError(
                f"{path}: column {j + 1} ({header[j].strip()!r}) holds text, not counts (first values: "
                f"{', '.join(map(repr, values[:3]))}). The gene ids must be the first column (or the one named by "
                "counts.id_column) and every other column one sample: name annotation columns in "
                "counts.name_column or counts.drop_columns (featureCounts output: counts.format: featurecounts)")
    first = [v for v in cells(id_at) if v]
    if first and all(_is_number(v) for v in first):
        raise InputDataError(
            f"{path}: the gene-id column ({header[id_at].strip()!r}) holds numbers ({', '.join(map(repr, first[:3]))}), "
            "not gene ids: the gene ids must be the first column, or name their column in counts.id_column")
