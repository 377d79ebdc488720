"""Each peptide summary (``proteomics.summarise``) against the known truth of the shipped UPS1 peptide dataset
(resources/data/ups1_peptides: UPS1 at 100 vs 10 fmol in yeast, 3 technical replicates each; true log2FC
log2(10) = 3.32 for UPS1, 0 for yeast), through the whole path: load_config, ingest, preprocessing (median
centring, >= 2 values in each group, no imputation) and DE with DEqMS (loess, on the peptide counts) or limma's
eBayes. Prints the table of docs/proteomics.md ("Peptide summaries against R and the truth").

    .venv/bin/python bench/peptide_truth.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
from lsecflow.config import load_config  # noqa: E402
from lsecflow.de_files import OUTPUT_KINDS  # noqa: E402
from lsecflow.de_proteomics import run_de_proteomics  # noqa: E402
from lsecflow.ingest import run_ingest  # noqa: E402
from lsecflow.peptides import SUMMARIES  # noqa: E402

TRUTH = REPO / "resources/data/ups1_peptides/truth.tsv.gz"
ENGINES = {"DEqMS loess": "loess", "limma eBayes": False}


def de_table(folder: Path, summary: str, deqms) -> pd.DataFrame:
    spec = yaml.safe_load((REPO / "config/datasets/ups1_peptides.yaml").read_text())
    spec["samples"]["sheet"] = str(REPO / spec["samples"]["sheet"])
    spec["counts"]["path"] = str(REPO / spec["counts"]["path"])
    spec["proteomics"]["summarise"] = summary
    spec.setdefault("de", {})["deqms"] = deqms
    ds = load_config({"results": str(folder / "results"), "datasets": {"pep": spec}}, roots=[REPO]).datasets["pep"]
    h5ad = folder / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {c: {k: str(folder / f"{c}.{k}.tsv") for k in OUTPUT_KINDS} for c in ds.contrasts}
    first = next(iter(ds.contrasts))
    return run_de_proteomics(str(h5ad), ds.params(rule="de"), outputs)[first].set_index("gene_id")


def main() -> None:
    truth = pd.read_csv(TRUTH, sep="\t", index_col=0)["class"]
    print("| summarise | DE | calls (padj < 0.05) | UPS1 called / tested | yeast called | FDP | median log2FC UPS1 "
          "(truth 3.32) | median log2FC yeast |")
    print("|---|---|---|---|---|---|---|---|")
    for summary in SUMMARIES:
        for label, deqms in ENGINES.items():
            with tempfile.TemporaryDirectory() as tmp:
                table = de_table(Path(tmp), summary, deqms)
            ups = truth.reindex(table.index).eq("UPS1_human").to_numpy()
            called = (table["padj"] < 0.05).to_numpy()
            lfc = table["log2FoldChange"].to_numpy()
            fdp = (called & ~ups).sum() / max(called.sum(), 1)
            print(f"| {summary} | {label} | {called.sum()} | {(called & ups).sum()} / {ups.sum()} | "
                  f"{(called & ~ups).sum()} | {fdp:.3f} | {np.median(lfc[ups]):.2f} | {np.median(lfc[~ups]):.2f} |")


if __name__ == "__main__":
    main()
