"""Reading Spectronaut's long report (lsecflow.spectronaut, ``counts.format: spectronaut_report``), in one session,
each read in a fresh child process (its own peak RSS): the start-up sample check (the run column, read at every
Snakemake start) and the ingest read (filter, one value per precursor and run, pivot). The reference is the same
reader with the report read as text by pandas, one Python string per cell (the reader as first written, kept here in
``_text_read``); the matrices must be equal.

The report is SYNTHETIC (its shape is a fragment-level Spectronaut export's, its numbers random): ``--precursors``
precursors in groups of 5, ``--runs`` runs, ``--fragments`` rows per precursor and run repeating the precursor's
quantity, EG.Qvalue uniform on [0, 0.02] (about half the rows above 0.01), 13 columns.

    .venv/bin/python bench/spectronaut_report_read.py [--precursors 40000 --runs 24 --fragments 6]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))
from _child import measure  # noqa: E402

COLUMNS = ["R.Condition", "R.FileName", "PG.ProteinGroups", "PG.Genes", "PG.Qvalue", "PG.Quantity", "EG.PrecursorId",
           "EG.Qvalue", "EG.IsImputed", "EG.TotalQuantity (Settings)", "FG.Quantity", "F.FrgIon", "F.PeakArea"]


def runs(n: int) -> list[str]:
    return [f"20260101_run_{i:02d}" for i in range(n)]


def _make(path: str, precursors: int, n_runs: int, fragments: int) -> str:
    """In a child: write the synthetic report, one run at a time."""
    rng = np.random.default_rng(0)
    prec = np.array([f"_PEPTIDE{i}K_.{2 + i % 2}" for i in range(precursors)])
    groups = np.array([f"P{i // 5:05d}" for i in range(precursors)])
    with open(path, "w") as fh:
        fh.write("\t".join(COLUMNS) + "\n")
        for k, run in enumerate(runs(n_runs)):
            quantity = rng.lognormal(8, 2, precursors)
            table = pd.DataFrame({"R.Condition": "AB"[k % 2], "R.FileName": run, "PG.ProteinGroups": groups,
                                  "PG.Genes": np.char.replace(groups, "P", "G"), "PG.Qvalue": 0.001,
                                  "PG.Quantity": 1000.0, "EG.PrecursorId": prec,
                                  "EG.Qvalue": rng.uniform(0, 0.02, precursors), "EG.IsImputed": "False",
                                  "EG.TotalQuantity (Settings)": quantity, "FG.Quantity": quantity})
            table = table.loc[table.index.repeat(fragments)]
            table["F.FrgIon"] = np.tile([f"y{i + 3}" for i in range(fragments)], precursors)
            table["F.PeakArea"] = rng.uniform(0, 1000, len(table))
            table.to_csv(fh, sep="\t", header=False, index=False)
    return f"{precursors * n_runs * fragments:,} rows x {len(COLUMNS)} columns"


def _text_read(path, columns, numbers=()):
    """The reader as first written (the reference): every cell as text."""
    return pd.read_csv(path, sep="\t", usecols=columns, dtype=str, keep_default_na=False)[columns]


def _step(path: str, step: str, n_runs: int, text: bool):
    """In the child: the start-up scan or the ingest read of ``path``; ``text``: by the text reader."""
    from lsecflow import protein_tables, spectronaut

    if text:
        spectronaut._read = _text_read
    samples = runs(n_runs)
    if step == "scan":
        return protein_tables.sample_columns(path, "spectronaut_report", samples, {})
    wide = spectronaut.read_report(path, protein_tables.read_header(path), samples, {})[0]
    return pd.util.hash_pandas_object(wide.fillna(-1.0)).sum(), wide.shape


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precursors", type=int, default=40000)
    ap.add_argument("--runs", type=int, default=24)
    ap.add_argument("--fragments", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "report.tsv")
        shape = measure(_make, path, args.precursors, args.runs, args.fragments)[2]
        print(f"SYNTHETIC Spectronaut report: {shape}, {Path(path).stat().st_size / 2**20:.0f} MiB "
              f"({time.strftime('%Y-%m-%d')})")
        rows = {}
        for name, text in (("as text (reference)", True), ("typed (lsecflow)", False)):
            scan = measure(_step, path, "scan", args.runs, text)
            read = measure(_step, path, "read", args.runs, text)
            rows[name] = (scan[0], scan[1], read[0], read[1], read[2])
            print(f"{name:20s} start-up scan {scan[0]:6.2f} s {scan[1]:7.0f} MiB   ingest read {read[0]:6.2f} s "
                  f"{read[1]:7.0f} MiB   {read[2][1][0]:,} precursors x {read[2][1][1]} runs")
        ref, new = rows["as text (reference)"], rows["typed (lsecflow)"]
        print(f"typed / text: scan time {new[0] / ref[0]:.2f}, scan peak RSS {new[1] / ref[1]:.2f}, read time "
              f"{new[2] / ref[2]:.2f}, read peak RSS {new[3] / ref[3]:.2f}")
        if new[4] != ref[4]:
            sys.exit("the two reads did not give the same matrix")
        print("matrices equal: True")


if __name__ == "__main__":
    main()
