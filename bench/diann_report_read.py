"""Reading DIA-NN's main report (lsecflow.diann_report) as report.tsv and as report.parquet, in one session, each
read in a fresh child process (its own peak RSS): the start-up sample check (the run column, read at every
Snakemake start) and the ingest read (filter, pivot). The reference is the TSV read as text by pandas, one Python
string per cell: the reader of the session before (kept here, in ``_pandas_read``, as the reference; lsecflow now
reads a report with a broken cell as text by Arrow); the matrices must be equal.

The report is SYNTHETIC at scale: the real DIA-NN report of tests/data/diann_report (2,992 rows, 3 runs, PXD010529)
copied ``--copies`` times with each copy's precursors and protein groups renamed (so no precursor repeats in a
run), numbers as parsed from the text (float64), written once as TSV (plain, as DIA-NN writes it) and once as
parquet (pyarrow's defaults: snappy, dictionary-encoded text).

    .venv/bin/python bench/diann_report_read.py [--copies 600]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))
from _child import measure  # noqa: E402

REPORT = REPO / "tests/data/diann_report/report_trimmed.tsv.gz"
SAMPLES = ["KL_Try_001_a", "KL_Try_001_b", "KL_Try_001_c"]


def synthetic(copies: int) -> pd.DataFrame:
    real = pd.read_csv(REPORT, sep="\t", dtype=str, keep_default_na=False)
    parts = [real.assign(**{"Precursor.Id": real["Precursor.Id"] + f"_{k}",
                            "Protein.Group": real["Protein.Group"] + f"_{k}"}) for k in range(copies)]
    table = pd.concat(parts, ignore_index=True)
    for name in table.columns:
        if name.endswith(("Value", "Quantity", "Normalised", "MaxLFQ")):
            table[name] = pd.to_numeric(table[name].replace("", np.nan))
    return table


def _make(tmp: str, copies: int) -> str:
    """In a child (the parent's peak RSS is inherited by the children it starts): write both files."""
    table = synthetic(copies)
    table.to_csv(Path(tmp) / "report.tsv", sep="\t", index=False)
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), Path(tmp) / "report.parquet")
    return f"{len(table):,} rows x {table.shape[1]} columns"


def _pandas_read(path, columns):
    """The report reader before Arrow's (the reference): pandas, every cell as text."""
    return pd.read_csv(path, sep="\t", usecols=columns, dtype=str, keep_default_na=False)


def _step(path: str, step: str, text: bool):
    """In the child: the start-up scan or the ingest read of ``path``; ``text``: by the pandas reader."""
    from lsecflow import diann_report, protein_tables

    if text:
        diann_report._read = _pandas_read
    if step == "scan":
        return protein_tables.sample_columns(path, "diann_report", SAMPLES, {})
    wide = diann_report.read_report(path, protein_tables.read_header(path), SAMPLES, {})[0]
    return pd.util.hash_pandas_object(wide.fillna(-1.0)).sum(), wide.shape


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=600)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tsv, parquet = Path(tmp) / "report.tsv", Path(tmp) / "report.parquet"
        shape = measure(_make, tmp, args.copies)[2]
        print(f"SYNTHETIC report: {shape}; TSV {tsv.stat().st_size / 2**20:.0f} MiB, parquet "
              f"{parquet.stat().st_size / 2**20:.0f} MiB ({time.strftime('%Y-%m-%d')})")
        rows = {}
        for name, path, text in (("tsv as text (reference)", tsv, True), ("tsv (Arrow CSV)", tsv, False),
                                 ("parquet", parquet, False)):
            scan = measure(_step, str(path), "scan", text)
            read = measure(_step, str(path), "read", text)
            rows[name] = (scan[0], scan[1], read[0], read[1], read[2])
            print(f"{name:24s} start-up scan {scan[0]:6.2f} s {scan[1]:7.0f} MiB   ingest read {read[0]:6.2f} s "
                  f"{read[1]:7.0f} MiB   {read[2][1][0]:,} precursors")
        ref = rows["tsv as text (reference)"]
        for name, r in rows.items():
            print(f"{name:24s} / reference: scan time {r[0] / ref[0]:.2f}, read time {r[2] / ref[2]:.2f}, read peak "
                  f"RSS {r[3] / ref[3]:.2f}")
        if len({r[4] for r in rows.values()}) != 1:
            sys.exit("the three reads did not give the same matrix")
        print("matrices equal: True")


if __name__ == "__main__":
    main()
