"""Speed of per-sample salmon files summarised to genes (``lsecflow.transcripts.summarise``) against R tximport
1.26.1, in one session.

Input, SYNTHETIC in size, real in content: the shipped GEUVADIS salmon subset (tests/data/tximport: 6 samples,
6,049 transcripts of 3,168 genes) tiled ``--copies`` times under renamed transcript and gene ids (``_c<k>``;
40 copies: 241,960 transcripts, 126,720 genes, about a GENCODE transcriptome), its 6 samples repeated
``--sample-copies`` times (4: 24 files), written as plain ``quant.sf`` with a matching tx2gene. Both sides read
the files and summarise them (``countsFromAbundance = "lengthScaledTPM"``), reading included, loading excluded
(R's ``library(tximport)`` and lsecflow's imports, printed apart); alternating, ``--repeats`` times. Prints each
run, the largest relative difference of the counts (they must agree) and the ratio R / lsecflow of the medians.

    .venv/bin/python bench/tximport.py [--repeats 3] [--copies 40] [--sample-copies 4]
"""
from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests/data/tximport"
RUNS = ["ERR188021", "ERR188088", "ERR188288", "ERR188297", "ERR188329", "ERR188356"]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))

from _child import alternate_with_r, run_r_timed  # noqa: E402

R_STEPS = r"""
args <- commandArgs(TRUE)
files <- readLines(args[1])
names(files) <- basename(dirname(files))
t0 <- Sys.time()
tx2gene <- read.delim(args[2], header = FALSE)
txi <- suppressMessages(tximport(files, type = "salmon", tx2gene = tx2gene, countsFromAbundance = "lengthScaledTPM"))
sec <- as.numeric(Sys.time() - t0, units = "secs")
write.table(data.frame(gene = rownames(txi$counts), txi$counts, check.names = FALSE), args[3], sep = "\t",
            quote = FALSE, row.names = FALSE)
cat("SECONDS", sec, "\n")
"""


def inputs(folder: Path, copies: int, sample_copies: int) -> list[Path]:
    """The tiled quant.sf files (one folder per sample, as salmon writes them) and tx2gene.tsv (no header)."""
    tx2gene = pd.read_csv(DATA / "tx2gene.csv.gz")
    pd.concat([tx2gene.assign(TXNAME=tx2gene["TXNAME"] + f"_c{k}", GENEID=tx2gene["GENEID"] + f"_c{k}")
               for k in range(copies)]).to_csv(folder / "tx2gene.tsv", sep="\t", header=False, index=False)
    paths = []
    for run in RUNS:
        lines = gzip.open(DATA / "salmon" / f"{run}.quant.sf.gz", "rt").read().splitlines()
        body = [line.split("\t", 1) for line in lines[1:]]
        text = "\n".join([lines[0]] + [f"{tx}_c{k}\t{rest}" for k in range(copies) for tx, rest in body]) + "\n"
        for j in range(sample_copies):
            path = folder / f"{run}_{j}" / "quant.sf"
            path.parent.mkdir()
            path.write_text(text)
            paths.append(path)
    (folder / "files.txt").write_text("\n".join(map(str, paths)) + "\n")
    return paths


def ours(folder) -> tuple[float, pd.DataFrame]:
    """lsecflow's summarise on the files, reading included (imports timed apart)."""
    t_load = time.perf_counter()
    from lsecflow.transcripts import summarise

    print(f"  lsecflow imports {time.perf_counter() - t_load:.2f} s", flush=True)
    folder = Path(folder)
    files = (folder / "files.txt").read_text().split()
    paths = {Path(f).parent.name: f for f in files}
    t0 = time.perf_counter()
    counts, _, _ = summarise(paths, "salmon", folder / "tx2gene.tsv", "lengthScaledTPM")
    return time.perf_counter() - t0, counts


def r_run(folder) -> tuple[float, pd.DataFrame]:
    folder = Path(folder)
    sec = run_r_timed(folder, "tximport", R_STEPS, folder / "files.txt", folder / "tx2gene.tsv",
                      folder / "r_counts.tsv")
    return sec, pd.read_csv(folder / "r_counts.tsv", sep="\t", index_col=0)


def agreement(counts: pd.DataFrame, r_counts: pd.DataFrame) -> str:
    ref = r_counts.loc[counts.index, counts.columns].to_numpy()
    return f"counts within {np.max(np.abs(counts.to_numpy() - ref) / np.maximum(np.abs(ref), 1e-300)):.1e} of R's"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--sample-copies", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = inputs(folder, args.copies, args.sample_copies)
        n_tx = sum(1 for _ in open(paths[0])) - 1
        print(f"SYNTHETIC tiling of the real GEUVADIS subset: {len(paths)} files x {n_tx:,} transcripts", flush=True)
        alternate_with_r("tximport", r_run, ours, (folder,), args.repeats, agreement)


if __name__ == "__main__":
    main()
