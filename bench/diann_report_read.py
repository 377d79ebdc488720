"""Reading DIA-NN's main report as report.tsv and as report.parquet (lsecflow.diann_report), in one session: the
start-up sample check (the run column, read at every Snakemake start) and the ingest read (filter, pivot), time
of each and the parquet / TSV ratio; the two matrices must be equal.

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
from lsecflow import protein_tables  # noqa: E402
from lsecflow.diann_report import read_report  # noqa: E402

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


def timed(f, repeats: int = 3):
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=600)
    args = ap.parse_args()
    table = synthetic(args.copies)
    with tempfile.TemporaryDirectory() as tmp:
        tsv, parquet = Path(tmp) / "report.tsv", Path(tmp) / "report.parquet"
        table.to_csv(tsv, sep="\t", index=False)
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), parquet)
        print(f"SYNTHETIC report: {len(table):,} rows x {table.shape[1]} columns; TSV {tsv.stat().st_size / 2**20:.0f}"
              f" MiB, parquet {parquet.stat().st_size / 2**20:.0f} MiB")
        results = {}
        for name, path in (("tsv", tsv), ("parquet", parquet)):
            header = protein_tables.read_header(path)
            scan, _ = timed(lambda p=path: protein_tables.sample_columns(p, "diann_report", SAMPLES, {}))
            read, out = timed(lambda p=path, h=header: read_report(p, h, SAMPLES, {}), repeats=1)
            results[name] = (scan, read, out[0])
            print(f"{name:8s} start-up run scan {scan:6.2f} s   ingest read {read:6.2f} s   "
                  f"{out[0].shape[0]:,} precursors")
        same = results["tsv"][2].equals(results["parquet"][2])
        print(f"parquet / tsv: start-up scan {results['parquet'][0] / results['tsv'][0]:.3f}, ingest read "
              f"{results['parquet'][1] / results['tsv'][1]:.3f}; matrices equal: {same}")
        if not same:
            sys.exit("the parquet report was not read to the TSV's matrix")


if __name__ == "__main__":
    main()
