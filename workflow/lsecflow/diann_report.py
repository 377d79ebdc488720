"""DIA-NN's main report (``report.tsv``, one row per precursor and run; ``counts.format: diann_report``): its
precursors filtered by q-value, pivoted to precursors x samples and summarised to protein groups
(:mod:`lsecflow.peptides`).

As the diann R package's ``diann_matrix`` (github vdemichev/diann-rpackage) makes the matrix: rows with a
quantity above 0, ``Q.Value`` and ``PG.Q.Value`` at most ``proteomics.qvalue`` (0.01; the columns are
``proteomics.qvalue_columns``: DIA-NN's own matrices with match-between-runs filter on ``Lib.Q.Value`` and
``Lib.PG.Q.Value`` too, limma's ``readDIANN`` on ``Global.Q.Value`` and ``Lib.Q.Value``); the quantity is
``Precursor.Normalised`` (DIA-NN's cross-run normalisation) or, with ``proteomics.quantity_column:
Precursor.Quantity``, the raw one (normalised then by ``proteomics.normalise``); ``proteomics.proteotypic_only``
keeps the precursors whose ``Proteotypic`` is 1 (``diann_matrix``'s ``quantity.header`` and ``proteotypic.only``).
Where the R package drops a row silently, a row DIA-NN never writes is an error here: no precursor id, a q-value
missing or not a number, a negative or infinite value, a precursor twice in one run. Each sample is the run whose
file name, without folder and extension (or all of its extensions: ``a.mzML.dia`` is ``a``), is its id, or the run a
sheet column names (``proteomics.column_key``). A precursor belongs to its ``Protein.Group``; gene names come from
``Genes``. ``report.parquet`` (the main report of DIA-NN 1.9 and later) is read as the TSV, its columns typed: text
columns must hold text, a null text is an empty one, a null quantity a missing one and a null q-value an error.
Decoy rows (a ``Decoy`` column of 1, DIA-NN 2's ``--report-decoys``) are dropped and counted; the R package has no
such column. DIA-NN quotes no field: a ``"`` in a report is read as the character it is (a protein description
opening with one stopped the read before), and a row of another number of fields is an error (the text reader
before kept it silently). A multiplexed report (SILAC, plexDIA: ``Channel.*`` columns, or a
``Channel`` column of several values) is refused: its channels are samples, and read as label-free they would be
summed into one value.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputDataError
from .files import compression, first_bytes
from .sheets import named_by_column

log = logging.getLogger(__name__)

#: The report's columns read, besides the run column (``Run`` in recent versions, else ``File.Name``) and the
#: quantity (``proteomics.quantity_column``).
COLUMNS = ("Protein.Group", "Genes", "Precursor.Id")
#: The q-values filtered on by default (``proteomics.qvalue_columns``; diann_matrix's).
QVALUES = ("Q.Value", "PG.Q.Value")
#: The quantities a report is read from: DIA-NN's cross-run normalised one (default) or the raw one.
QUANTITIES = ("Precursor.Normalised", "Precursor.Quantity")
#: What a message says is read.
READ = (f"its columns {', '.join(COLUMNS)}, the q-values (proteomics.qvalue_columns), the quantity "
        f"(proteomics.quantity_column: {' or '.join(QUANTITIES)}) and Run or File.Name are read")
#: Why a multiplexed report is refused.
MULTIPLEXED = ("each channel of a run is a sample of its own and a precursor's label is in its id, so read as "
               "label-free its channels would be summed into one protein value; lsecflow reads label-free reports only")
#: Columns holding numbers (in a parquet report typed so); ``Decoy`` is read where the report has it,
#: ``Proteotypic`` with ``proteomics.proteotypic_only``.
NUMBERS = (*QUANTITIES, "Decoy", "Proteotypic")


def is_number(name: str) -> bool:
    """A column holding numbers: :data:`NUMBERS` and every q-value (``...Q.Value``)."""
    return name in NUMBERS or name.endswith("Q.Value")


def is_report(header: list[str]) -> bool:
    """A DIA-NN main report: precursor rows with a protein group and a run column."""
    cols = set(header)
    return {"Precursor.Id", "Protein.Group"} <= cols and bool({"Run", "File.Name"} & cols)


def run_column(header: list[str]) -> str:
    return "Run" if "Run" in header else "File.Name"


def run_name(value: str, every: bool = False) -> str:
    """A run as a sample name: the file name without folder and extension (as a ``pg_matrix`` column); with
    ``every``, without each of its mass-spectrometry extensions (``a.mzML.dia`` -> ``a``)."""
    base = re.split(r"[\\/]", str(value))[-1]
    pattern = r"(\.(raw|mzml|d|wiff|dia))+$" if every else r"\.(raw|mzml|d|wiff|dia)$"
    return re.sub(pattern, "", base, flags=re.IGNORECASE)


def is_parquet(path: Path) -> bool:
    """A parquet file, by its name or its first bytes."""
    return path.name.lower().endswith(".parquet") or first_bytes(path) == b"PAR1"


def parquet_header(path: Path) -> list[str]:
    """The column names of a parquet file (its schema; no row is read)."""
    import pyarrow.parquet as pq  # only for a parquet report

    try:
        return list(pq.read_schema(path).names)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputDataError(f"{path}: cannot be read as a parquet file ({type(exc).__name__}: {exc})") from exc


def _frame(path: Path, table, columns: list[str]) -> pd.DataFrame:
    """An Arrow table's columns as :func:`read_report` takes them: text as str ('' for null; each distinct text one
    Python object, shared by its rows), numbers as float (NaN for null); a column of another type is an error."""
    import pyarrow as pa

    out = {}
    for name in columns:
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if name == "Channel" and (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            col = col.cast(pa.string())  # a channel named by a number (mTRAQ's 0, 4, 8) is a name
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            out[name] = col.to_pandas(deduplicate_objects=True).fillna("").astype(object)
        elif is_number(name) and (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            out[name] = col.to_pandas().astype(float)
        else:
            raise InputDataError(f"{path}: column {name!r} holds {col.type}, not "
                                 f"{'numbers' if is_number(name) else 'text'}")
    return pd.DataFrame(out)


def _release() -> None:
    """Hand the Arrow buffers freed back to the system (its allocator keeps them otherwise, and pandas' arrays then
    come on top: the peak was 1.4x the text reader's)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _read_parquet(path: Path, columns: list[str]) -> pd.DataFrame:
    """The columns of a parquet report (:func:`_frame`)."""
    import pyarrow.parquet as pq

    header = set(parquet_header(path))
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputDataError(f"{path}: not a DIA-NN main report (no column {', '.join(map(repr, missing))}); "
                             f"{READ}")
    try:
        table = pq.read_table(path, columns=columns)
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{path}: cannot be read as a parquet file ({type(exc).__name__}: {exc})") from exc
    frame = _frame(path, table, columns)
    del table
    _release()
    return frame


def _read_tsv(path: Path, columns: list[str], typed: bool) -> pd.DataFrame | None:
    """The columns of a TSV report, read by Arrow's CSV reader (nothing quoted, as DIA-NN writes it; text
    dictionary-encoded, :func:`_frame`). ``typed``: numbers parsed as read (an empty cell null; 0.74x the time of
    reading them as text at the same peak memory, bench/diann_report_read.py), None when one does not parse or is
    NaN; else every column as the text written, for :func:`read_report` to name the cell. A row of another number of
    fields, a column missing or an unreadable file is an error naming the file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    text = pa.dictionary(pa.int32(), pa.string())
    types = {c: (pa.float64() if typed else pa.string()) if is_number(c) else text for c in columns}
    options = pacsv.ConvertOptions(include_columns=columns, column_types=types, null_values=[""],
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    try:
        with pa.input_stream(str(path), compression=compression(path)) as stream:
            table = pacsv.read_csv(stream, parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
                                   convert_options=options)
    except KeyError as exc:  # ArrowKeyError: a column named here is not in the file
        raise InputDataError(f"{path}: not a DIA-NN main report ({exc}); {READ}") from exc
    except ValueError as exc:  # ArrowInvalid
        if typed and not str(exc).startswith("CSV parse error"):
            return None  # a cell that is not a number
        raise InputDataError(f"{path}: cannot be read as a DIA-NN report ({str(exc)[:300]})") from exc
    except OSError as exc:
        raise InputDataError(f"{path}: cannot be read as a DIA-NN report ({type(exc).__name__}: {exc})") from exc
    if typed and any(pc.any(pc.is_nan(table.column(c))).as_py() for c in columns if is_number(c)):
        return None  # "NaN" written in a cell
    frame = _frame(path, table, columns)
    del table
    _release()
    return frame


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    """The report's ``columns``: from parquet, or from the TSV with its numbers typed, or (a cell that is not a
    number) as the text written."""
    if is_parquet(path):
        return _read_parquet(path, columns)
    typed = _read_tsv(path, columns, typed=True)
    return typed if typed is not None else _read_tsv(path, columns, typed=False)


def match_runs(path, runs: list[str], samples, column: str, key: str | None = None,
               sheet: pd.DataFrame | None = None) -> dict[str, str]:
    """Each sample's run among ``runs`` (the values of the report's run ``column``): by name (module notes) or by the sheet's
    ``key`` column; a sample without a run is an error naming it and the runs there are."""
    if key:
        wanted = named_by_column(sheet, key, samples)
    else:
        by_name = {**{run_name(r, every=True): r for r in runs}, **{run_name(r): r for r in runs}}
        wanted = {s: by_name.get(s, s) for s in samples}
    present = set(runs)
    missing = [s for s, r in wanted.items() if r not in present]
    if missing:
        raise InputDataError(f"{path}: {len(missing)} sample(s) have no run in the report's {column!r} column: "
                             f"{', '.join(map(repr, missing[:5]))}. Runs there (as sample names): "
                             f"{', '.join(run_name(r, every=True) for r in runs[:8])}{' ...' if len(runs) > 8 else ''}")
    return wanted


def quantity_column(opts: dict) -> str:
    """The precursor quantity read (``proteomics.quantity_column``; :data:`QUANTITIES`)."""
    return opts.get("quantity_column") or QUANTITIES[0]


def qvalue_columns(opts: dict) -> list[str]:
    """The q-value columns a precursor must pass (``proteomics.qvalue_columns``; :data:`QVALUES`)."""
    return list(opts.get("qvalue_columns") or QVALUES)


def check_engine_columns(engine: str, quantity: str, quantities: tuple[str, ...], qvalues: list[str], suffix: str,
                         examples: str) -> None:
    """A report's quantity among ``quantities`` and each q-value column ending in ``suffix``: the schema takes either
    engine's names for ``proteomics.quantity_column`` and ``qvalue_columns``; the other engine's is an error."""
    if quantity not in quantities:
        raise InputDataError(f"proteomics.quantity_column {quantity!r}: a {engine} report's precursor quantity is "
                             f"one of {', '.join(quantities)}")
    odd = [q for q in qvalues if not q.endswith(suffix)]
    if odd:
        raise InputDataError(f"proteomics.qvalue_columns {', '.join(odd)}: {engine}'s q-value columns end in "
                             f"{suffix!r} ({examples})")


def read_columns(path, header: list[str], opts: dict) -> list[str]:
    """The columns :func:`read_report` reads, the run column first; one the report lacks is an error naming the
    option that reads it (at start-up, from the header), as is a multiplexed report."""
    channels = [c for c in header if c.startswith("Channel.")]
    if channels:
        raise InputDataError(f"{path}: a multiplexed report (columns {', '.join(channels[:4])}: DIA-NN's --channels, "
                             f"SILAC or plexDIA): {MULTIPLEXED}")
    quantity, qvalues = quantity_column(opts), qvalue_columns(opts)
    check_engine_columns("DIA-NN", quantity, QUANTITIES, qvalues, "Q.Value", "Q.Value, PG.Q.Value, Lib.Q.Value, ...")
    wanted = {quantity: f"proteomics.quantity_column: {quantity}",
              **{q: f"proteomics.qvalue_columns: {', '.join(qvalues)}" for q in qvalues}}
    if opts.get("proteotypic_only"):
        wanted["Proteotypic"] = "proteomics.proteotypic_only: true"
    for name in (*COLUMNS, *wanted):
        if name in header:
            continue
        if name in wanted:
            raise InputDataError(f"{path}: no column {name!r}, which {wanted[name]} reads")
        raise InputDataError(f"{path}: not a DIA-NN main report (no column {name!r}); {READ}")
    return [run_column(header), *COLUMNS, *qvalues, quantity, *(["Decoy"] if "Decoy" in header else []),
            *(["Proteotypic"] if opts.get("proteotypic_only") else []), *(["Channel"] if "Channel" in header else [])]


def sample_runs(path, header: list[str], samples, opts: dict, sheet: pd.DataFrame | None = None
                ) -> dict[str, str]:
    """Each sample's run, checked at parse time (:func:`match_runs`; the run column is read whole, once), and the
    columns the options read (:func:`read_columns`)."""
    read_columns(path, header, opts)
    column = run_column(header)
    return match_runs(path, sorted(_read(Path(path), [column])[column].unique()), samples, column,
                      opts.get("column_key"), sheet)


def _shown(value) -> str:
    """A cell for a message: text quoted as written, a number read as one as %g, an empty (null) one as ''."""
    if isinstance(value, str):
        return repr(value)
    return "''" if np.isnan(value) else f"{value:g}"


def blank_cells(text: pd.Series) -> pd.Series:
    """Cells of only whitespace, each distinct text (or category) stripped once (a report repeats each id in every
    run)."""
    values = text.cat.categories if text.dtype == "category" else text.unique()
    return text.isin([t for t in values if not str(t).strip()])


def _flag(path: Path, df: pd.DataFrame, name: str) -> np.ndarray:
    """A 0/1 column as booleans; a value other than 0 or 1 is an error naming the precursor."""
    value = pd.to_numeric(df[name], errors="coerce")
    odd = ~value.isin([0, 1])
    if odd.any():
        i = int(np.flatnonzero(odd.to_numpy())[0])
        raise InputDataError(f"{path}: column {name!r}, precursor {df['Precursor.Id'].iloc[i]!r}: value "
                             f"{_shown(df[name].iloc[i])} is not 0 or 1")
    return value.eq(1).to_numpy()


def _numbers(path: Path, df: pd.DataFrame, quantity: str, qvalues: list[str]) -> dict[str, pd.Series]:
    """The quantity and the q-values as numbers: an empty quantity is a missing one, a q-value is always written,
    no value is negative or infinite (else an error naming the column, the precursor and the value)."""
    numbers = {}
    for name in (quantity, *qvalues):
        numbers[name] = pd.to_numeric(df[name], errors="coerce")
        written = df[name].str.strip().ne("") if df[name].dtype == object else numbers[name].notna()
        bad = ((numbers[name].isna() & (written | (name != quantity)))
               | (numbers[name] < 0) | np.isinf(numbers[name]))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputDataError(f"{path}: column {name!r}, precursor {df['Precursor.Id'].iloc[i]!r}: value "
                                 f"{_shown(df[name].iloc[i])} is not a finite number >= 0")
    return numbers


def read_report(path, header: list[str], samples, opts: dict, sheet: pd.DataFrame | None = None
                ) -> tuple[pd.DataFrame, pd.Series, pd.Series, dict, dict[str, str]]:
    """The filtered precursors x samples (``proteomics.quantity_column``, NaN = not quantified), each precursor's
    protein group and gene names, counts of what was filtered (module notes) and each sample's run
    (:func:`match_runs`, on the report read once). With ``proteomics.proteotypic_only`` only precursors whose
    ``Proteotypic`` is 1 are kept (as ``diann_matrix(proteotypic.only = TRUE)``)."""
    path = Path(path)
    columns = read_columns(path, header, opts)
    column, quantity = columns[0], quantity_column(opts)
    df = _read(path, columns)
    samples = match_runs(path, sorted(df[column].unique()), samples, column, opts.get("column_key"), sheet)
    report: dict = {"rows_in_table": int(len(df))}
    df = df[df[column].isin(set(samples.values()))]
    if "Channel" in df and df["Channel"].nunique() > 1:
        raise InputDataError(f"{path}: column 'Channel' holds {df['Channel'].nunique()} channels "
                             f"({', '.join(map(repr, sorted(df['Channel'].unique())[:4]))}), a multiplexed report: "
                             f"{MULTIPLEXED}")
    if "Decoy" in df:
        decoy = _flag(path, df, "Decoy")
        report["rows_decoy"] = int(decoy.sum())
        log.info("%s: %d decoy row(s) of the samples' runs dropped (Decoy = 1)", path, report["rows_decoy"])
        df = df[~decoy]
    if opts.get("proteotypic_only"):
        proteotypic = _flag(path, df, "Proteotypic")
        report["rows_not_proteotypic"] = int((~proteotypic).sum())
        log.info("%s: %d row(s) of precursors shared between proteins dropped (Proteotypic = 0)", path,
                 report["rows_not_proteotypic"])
        df = df[proteotypic]
    blank = blank_cells(df["Precursor.Id"])
    if blank.any():
        first = int(df.index[blank.to_numpy()][0])
        where = f"row {first + 1}" if is_parquet(path) else f"line {first + 2}"
        raise InputDataError(f"{path}: {int(blank.sum())} row(s) of the samples' runs have no Precursor.Id (first "
                             f"at {where})")
    qvalues = qvalue_columns(opts)
    numbers = _numbers(path, df, quantity, qvalues)
    q = float(opts.get("qvalue", 0.01))
    keep = (numbers[quantity] > 0).to_numpy()
    for name in qvalues:
        keep &= (numbers[name] <= q).to_numpy()
    report["rows_filtered"] = int((~keep).sum())
    log.info("%s: %d of %d precursor rows of the samples' runs kept (%s <= %g, %s > 0)", path, int(keep.sum()),
             len(df), " and ".join(qvalues), q, quantity)
    df = df[keep].assign(quantity=numbers[quantity][keep].to_numpy())
    twice = df.duplicated([column, "Precursor.Id"])
    if twice.any():
        row = df[twice].iloc[0]
        raise InputDataError(f"{path}: precursor {row['Precursor.Id']!r} is on more than one row of run "
                             f"{row[column]!r}: one row per precursor and run is expected (reports merged twice?)")
    groups = df.drop_duplicates("Precursor.Id").set_index("Precursor.Id")
    blank = groups.index[groups["Protein.Group"].str.strip().eq("")]
    if len(blank):
        raise InputDataError(f"{path}: precursor {blank[0]!r} has no Protein.Group")
    several = df.groupby("Precursor.Id")["Protein.Group"].nunique()
    if (several > 1).any():
        raise InputDataError(f"{path}: precursor {several.index[several > 1][0]!r} is in different protein groups in "
                             "different runs: the runs were not analysed together (DIA-NN infers the groups across "
                             "all runs of one analysis)")
    sample_of = {run: sample for sample, run in samples.items()}
    wide = df.pivot(index="Precursor.Id", columns=column, values="quantity")
    wide = wide.reindex(columns=list(samples.values())).rename(columns=sample_of).rename_axis(columns=None)
    wide = wide.loc[groups.index]
    return wide, groups["Protein.Group"], groups["Genes"], report, samples
