"""Speed of ``de.engine: edger`` (edgeR's quasi-likelihood pipeline) against R edgeR 3.40.2, in one session.

The real DLPC counts (15,974 genes after the pre-filter, 20 samples), two designs, each timed in R (``Rscript``,
the steps alone, reading excluded) and in lsecflow (a fresh child process, the same steps, reading excluded),
alternating, ``--repeats`` times:

- ``oneway``: ``~ Group`` (edgeR's one-way fits): calcNormFactors, estimateDisp, glmQLFit, glmQLFTest of one
  coefficient;
- ``batch``: ``~ batch + Group`` (the SYNTHETIC balanced batch of tests/data/deseq2_reference: edgeR's Levenberg
  fits), the same steps.

Prints each run's seconds (loading excluded on both sides: R's ``library(edgeR)``, lsecflow's imports and its
compiled kernels, each printed apart), the largest relative difference of the p-values (they must agree), and the ratio
R / lsecflow of the medians.

    .venv/bin/python bench/edger.py [--repeats 3]
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

from _child import alternate_with_r, run_r_timed  # noqa: E402

R_STEPS = r"""
args <- commandArgs(TRUE)
counts <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
sheet <- read.delim(args[2], colClasses = "character")
sheet$Group <- relevel(factor(sheet$Group), ref = "Chow")
design <- if (args[3] == "batch") model.matrix(~ batch + Group, sheet) else model.matrix(~ Group, sheet)
t0 <- Sys.time()
y <- estimateDisp(calcNormFactors(DGEList(counts)), design)
fit <- glmQLFit(y, design)
res <- glmQLFTest(fit, coef = "GroupDisease")
sec <- as.numeric(Sys.time() - t0, units = "secs")
write.table(data.frame(p = res$table$PValue), args[4], row.names = FALSE, quote = FALSE)
cat("SECONDS", sec, "\n")
"""


def inputs(folder: Path) -> None:
    """The filtered DLPC counts and the sheet with its SYNTHETIC batch (as tests/data/edger/make_reference.R)."""
    counts = pd.read_csv(REPO / "resources/data/dlpc_liver/counts.tsv.gz", sep="\t", index_col=0)
    sheet = pd.read_csv(REPO / "tests/data/deseq2_reference/synthetic_batch_sheet.tsv.gz", sep="\t", dtype=str)
    sheet = sheet.set_index("sample").sort_index()
    counts = counts.rename(columns={"Sample724": "Sample725"})[sheet.index]
    counts[(counts >= 10).sum(axis=1) >= 3].sort_index().to_csv(folder / "counts.tsv", sep="\t")
    sheet.to_csv(folder / "sheet.tsv", sep="\t")


def ours(kind: str, folder) -> tuple[float, np.ndarray]:
    """lsecflow's steps on the inputs (read first, not timed): (seconds, p-values). The imports, and the loading
    of the compiled kernels from numba's cache, are timed apart, as R's ``library(edgeR)`` is."""
    t_load = time.perf_counter()
    from lsecflow.de_edger import contrast_tables
    from lsecflow.edger_glm import glm_fit
    from lsecflow.formula import design_metadata

    tiny = np.array([[1.0, 2.0, 3.0, 5.0]])
    glm_fit(tiny, np.eye(2)[[0, 0, 1, 1]], 0.1, np.zeros(4))  # one-way kernels
    glm_fit(tiny, np.column_stack([np.ones(4), [0, 1, 0, 1], [0, 0, 1, 1]]), 0.1, np.zeros(4))  # Levenberg
    print(f"  lsecflow imports + kernel load {time.perf_counter() - t_load:.2f} s", flush=True)

    folder = Path(folder)
    counts = pd.read_csv(folder / "counts.tsv", sep="\t", index_col=0)
    sheet = pd.read_csv(folder / "sheet.tsv", sep="\t", dtype=str, index_col=0)
    contrast = {"c": {"variable": "Group", "target": "Disease", "reference": "Chow"}}
    columns = ["batch", "Group"] if kind == "batch" else ["Group"]
    meta = design_metadata(sheet, columns, contrast)
    t0 = time.perf_counter()
    tables, _ = contrast_tables(counts, meta, "~ batch + Group" if kind == "batch" else "~ Group", contrast, {})
    return time.perf_counter() - t0, tables["c"]["pvalue"].to_numpy()


def r_run(kind: str, folder) -> tuple[float, np.ndarray]:
    sec = run_r_timed(folder, "edgeR", R_STEPS, folder / "counts.tsv", folder / "sheet.tsv", kind, folder / "p.tsv")
    return sec, pd.read_csv(folder / "p.tsv", sep="\t")["p"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs(folder)
        for kind in ("oneway", "batch"):
            alternate_with_r(kind, r_run, ours, (kind, folder), args.repeats, lambda p, r_p: (
                f"p-values within {np.max(np.abs(p - r_p) / np.maximum(r_p, 1e-300)):.1e} of R's"))

if __name__ == "__main__":
    main()
