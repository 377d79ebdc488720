"""Speed of ``de.block`` (limma's duplicateCorrelation + lmFit(block, correlation)) against R, in one session.

Two inputs, each timed in R (limma 3.54.1, statmod, edgeR; ``Rscript``, the steps alone, reading excluded) and in
lsecflow (a fresh child process, the same steps, reading excluded), alternating, ``--repeats`` times:

- ``voom``: the DLPC counts (15,974 genes after the pre-filter, 20 samples) with the SYNTHETIC planted litters of
  ``tests/data/limma/make_block_reference.R`` (4 litters); limma's recipe -- voom, duplicateCorrelation, voom with the
  correlation, duplicateCorrelation, lmFit(block, correlation), eBayes, one contrast;
- ``proteins``: the UPS1 median matrix (1,470 proteins, missing values), block = the sheet's replicate column:
  duplicateCorrelation, lmFit(block, correlation), eBayes.

Prints each run's seconds, the consensus correlations (they must agree), and the ratio R / lsecflow of the medians.

    .venv/bin/python bench/limma_block.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))

from _child import alternate_with_r  # noqa: E402

R_VOOM = r"""
suppressMessages({library(limma); library(edgeR)})
args <- commandArgs(TRUE)
counts <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
sheet <- read.delim(args[2], colClasses = "character")
group <- relevel(factor(sheet$Group), ref = "Chow")
design <- model.matrix(~ group)
t0 <- Sys.time()
dge <- calcNormFactors(DGEList(counts))
v <- voom(dge, design)
dc <- duplicateCorrelation(v, design, block = sheet$litter)
v <- voom(dge, design, block = sheet$litter, correlation = dc$consensus.correlation)
dc <- duplicateCorrelation(v, design, block = sheet$litter)
fit <- eBayes(lmFit(v, design, block = sheet$litter, correlation = dc$consensus.correlation))
tt <- topTable(fit, coef = "groupDisease/Agonist", number = Inf, sort.by = "none")
cat("SECONDS", as.numeric(Sys.time() - t0, units = "secs"), "CONSENSUS", dc$consensus.correlation, "\n")
"""

R_PROTEINS = r"""
suppressMessages(library(limma))
args <- commandArgs(TRUE)
x <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
sheet <- read.delim(args[2], colClasses = "character")
design <- model.matrix(~ factor(sheet$group, levels = c("fmol10", "fmol25")))
t0 <- Sys.time()
dc <- duplicateCorrelation(x, design, block = sheet$replicate)
fit <- eBayes(lmFit(x, design, block = sheet$replicate, correlation = dc$consensus.correlation))
tt <- topTable(fit, coef = 2, number = Inf, sort.by = "none")
cat("SECONDS", as.numeric(Sys.time() - t0, units = "secs"), "CONSENSUS", dc$consensus.correlation, "\n")
"""


def planted_inputs(folder: Path) -> None:
    """The planted-litter DLPC counts and their sheet (make_block_reference.R's SYNTHETIC litters)."""
    counts = pd.read_csv(REPO / "resources/data/dlpc_liver/counts.tsv.gz", sep="\t", index_col=0)
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t", dtype=str).set_index("sample").sort_index()
    counts = counts.rename(columns={"Sample724": "Sample725"})[sheet.index]
    counts = counts[(counts >= 10).sum(axis=1) >= 3].sort_index()
    k = np.arange(counts.shape[1]) % 4 + 1
    i = np.arange(1, counts.shape[0] + 1)
    planted = np.round(counts.to_numpy() * 2 ** (0.5 * np.sin(1.7 * i[:, None] + 2.3 * k[None, :])))
    pd.DataFrame(planted.astype(np.int64), index=counts.index, columns=counts.columns).to_csv(folder / "voom.tsv",
                                                                                             sep="\t")
    sheet.assign(litter=[f"L{j}" for j in k]).to_csv(folder / "voom_sheet.tsv", sep="\t")


def protein_inputs(folder: Path) -> None:
    """The UPS1 median matrix of the limma references and the sheet."""
    from lsecflow import protein_tables, proteomics

    sheet = pd.read_csv(REPO / "config/samples/ups1_spikein.tsv", sep="\t", dtype=str).set_index("sample", drop=False)
    values, _, _ = protein_tables.read_protein_table(REPO / "resources/data/ups1_spikein/proteinGroups_trimmed.tsv.gz",
                                                     "maxquant", sheet.index, {}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {"normalize": "median"})
    pre.values.to_csv(folder / "proteins.tsv", sep="\t")
    sheet.loc[pre.values.columns].to_csv(folder / "proteins_sheet.tsv", sep="\t", index=False)


def ours(kind: str, folder: str) -> tuple[float, float]:
    """lsecflow's steps on the inputs (read first, not timed): (seconds, consensus)."""
    from lsecflow import limma
    from lsecflow.de_voom import voom_matrices
    from lsecflow.formula import design_metadata

    folder = Path(folder)
    sheet = pd.read_csv(folder / f"{kind}_sheet.tsv", sep="\t", dtype=str, index_col=0)
    if kind == "voom":
        counts = pd.read_csv(folder / "voom.tsv", sep="\t", index_col=0)
        contrast = {"c": {"variable": "Group", "target": "Disease/Agonist", "reference": "Chow"}}
        meta = design_metadata(sheet, ["Group"], contrast)
        t0 = time.perf_counter()
        m = voom_matrices(counts, meta, "~ Group", block=sheet["litter"].rename("litter"))
        limma.contrast_tables(m.values, meta, "~ Group", contrast, {"lfc_threshold": 0.0}, weights=m.weights,
                              block=m.block)
        return time.perf_counter() - t0, m.block.correlation
    values = pd.read_csv(folder / "proteins.tsv", sep="\t", index_col=0)
    sheet = sheet.reset_index().set_index("sample")
    contrast = {"c": {"variable": "group", "target": "fmol25", "reference": "fmol10"}}
    meta = design_metadata(sheet, ["group"], contrast)
    t0 = time.perf_counter()
    block = limma.block_of(values, meta, "~ group", sheet["replicate"].rename("replicate"))
    limma.contrast_tables(values, meta, "~ group", contrast, {"lfc_threshold": 0.0}, block=block)
    return time.perf_counter() - t0, block.correlation


def r_run(kind: str, folder: Path) -> tuple[float, float]:
    script = folder / f"{kind}.R"
    script.write_text(R_VOOM if kind == "voom" else R_PROTEINS)
    out = subprocess.run(["Rscript", str(script), str(folder / f"{kind}.tsv"), str(folder / f"{kind}_sheet.tsv")],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[out.index("SECONDS") + 1]), float(out[out.index("CONSENSUS") + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        planted_inputs(folder)
        protein_inputs(folder)
        for kind in ("voom", "proteins"):
            alternate_with_r(kind, r_run, ours, (kind, folder), args.repeats,
                             lambda cons, r_cons: f"consensus {cons:.10f}, R's {r_cons:.10f}")

if __name__ == "__main__":
    main()
