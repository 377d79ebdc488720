"""Peptide -> protein summaries (lsecflow.peptides) against R's on the same matrix, in one session: time of each,
the ratio, and the largest difference of the values.

The matrix is SYNTHETIC at scale: the real UPS1 peptides (resources/data/ups1_peptides; 5,538 with a value, 915
proteins, 6 runs) copied ``--copies`` times under renamed proteins, each copy's ``--samples`` columns drawn from
the 6 runs with N(0, 0.2) noise on the log2 scale (missing cells stay missing). R (needs Rscript): stats::medpolish
(na.rm) per protein, DEqMS's medianSweeping, iq 2.0.0's own R maxLFQ when ``--iq`` gives its R/iq.R (github
tvpham/iq @03bab81; iq's compiled fast_MaxLFQ is not measured), and with ``--diann`` the diann package's
diann_maxlfq (its C++ solve in an R loop that scans the whole long table once per protein: give it few copies).

    .venv/bin/python bench/peptide_summary.py [--copies 10] [--samples 24] [--iq /path/to/iq/R/iq.R] [--diann]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
from lsecflow.peptides import SUMMARIES, summarise  # noqa: E402

TABLE = REPO / "resources/data/ups1_peptides/peptides_trimmed.tsv.gz"
RUNS = ["10_R1", "10_R2", "10_R3", "100_R1", "100_R2", "100_R3"]
R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.delim(args[1], check.names = FALSE)
x <- as.matrix(d[, -1]); protein <- d$protein
rows <- split(seq_along(protein), protein)
timed <- function(name, f) {
  t <- system.time(m <- f())[["elapsed"]]
  cat(name, t, "\n")
  write.table(data.frame(protein = rownames(m), m, check.names = FALSE), file.path(args[2], paste0(name, ".tsv")),
              sep = "\t", quote = FALSE, row.names = FALSE)
}
timed("median_polish", function() t(sapply(rows, function(i) {
  m <- suppressWarnings(medpolish(x[i, , drop = FALSE], na.rm = TRUE, trace.iter = FALSE)); m$overall + m$col })))
if (requireNamespace("DEqMS", quietly = TRUE)) {
  timed("median_sweep", function() as.matrix(DEqMS::medianSweeping(data.frame(id = seq_along(protein),
                                                                             protein = protein, x), group_col = 2)))
}
if (length(args) > 2 && args[3] != "--diann") {
  iq <- new.env(); sys.source(args[3], envir = iq)
  timed("maxlfq", function() t(sapply(rows, function(i) iq$maxLFQ(x[i, , drop = FALSE])$estimate)))
}
if ("--diann" %in% args) {
  long <- data.frame(run = rep(colnames(x), each = nrow(x)), protein = rep(protein, ncol(x)),
                     peptide = rep(seq_len(nrow(x)), ncol(x)), q = as.vector(2^x))
  long <- long[!is.na(long$q), ]
  timed("diann_maxlfq", function() log2(diann::diann_maxlfq(long, sample.header = "run", group.header = "protein",
                                                            id.header = "peptide", quantity.header = "q"))[, colnames(x)])
}
"""


def synthetic(copies: int, samples: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """The SYNTHETIC scaled peptide matrix (module notes): log2 values, and each row's protein."""
    table = pd.read_csv(TABLE, sep="\t")
    x = np.log2(table[[f"Intensity {r}" for r in RUNS]].replace(0, np.nan)).to_numpy()
    keep = ~np.isnan(x).all(axis=1)
    x, protein = x[keep], table.loc[keep, "Leading razor protein"].to_numpy().astype(str)
    rng = np.random.default_rng(seed)
    blocks = [x[:, rng.integers(0, len(RUNS), samples)] + rng.normal(0, 0.2, (len(x), samples))
              for _ in range(copies)]
    proteins = np.concatenate([np.char.add(protein, f"#{k}") for k in range(copies)])
    values = np.vstack(blocks)
    kept = ~np.isnan(values).all(axis=1)  # a row whose values were all in runs not drawn: left out, as at ingest
    return (pd.DataFrame(values[kept], columns=[f"s{i:02d}" for i in range(samples)]),
            pd.Series(proteins[kept]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--samples", type=int, default=24)
    ap.add_argument("--iq", help="iq's R/iq.R, for R's maxLFQ")
    ap.add_argument("--diann", action="store_true", help="time the diann R package's diann_maxlfq too")
    args = ap.parse_args()
    values, proteins = synthetic(args.copies, args.samples)
    print(f"SYNTHETIC: {len(values):,} peptides x {args.samples} samples, {proteins.nunique():,} proteins "
          f"({args.copies} copies of the UPS1 peptides)")
    ours = {}
    for method in SUMMARIES:
        start = time.perf_counter()
        ours[method] = (summarise(values, proteins, method)[0], time.perf_counter() - start)
    if not shutil.which("Rscript"):
        for method, (_, seconds) in ours.items():
            print(f"{method:14s} lsecflow {seconds:7.2f} s  (no Rscript: no R reference)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "peptides.tsv"
        pd.concat([proteins.rename("protein"), values], axis=1).to_csv(data, sep="\t", index=False, na_rep="NA")
        (Path(tmp) / "run.R").write_text(R_SCRIPT)
        run = subprocess.run(["Rscript", str(Path(tmp) / "run.R"), str(data), tmp] + ([args.iq] if args.iq else [])
                             + (["--diann"] if args.diann else []),
                             capture_output=True, text=True)
        if run.returncode:
            sys.exit(f"R failed:\n{run.stderr[-2000:]}")
        r_seconds = {line.split()[0]: float(line.split()[1]) for line in run.stdout.splitlines() if line.strip()}
        for method, (got, seconds) in ours.items():
            if method not in r_seconds:
                print(f"{method:14s} lsecflow {seconds:7.2f} s  (no R reference run)")
                continue
            ref = pd.read_csv(Path(tmp) / f"{method}.tsv", sep="\t", index_col=0)
            diff = np.nanmax(np.abs(got.loc[ref.index].to_numpy() - ref.to_numpy()))
            print(f"{method:14s} lsecflow {seconds:7.2f} s  R {r_seconds[method]:7.2f} s  R / lsecflow "
                  f"{r_seconds[method] / seconds:6.1f}x  largest difference {diff:.1e}")


if __name__ == "__main__":
    main()
