"""limma's options against the UPS1 known truth: calls, UPS1 proteins recovered and the yeast false-discovery
proportion for each combination of ``de.lm_method``, ``de.trend`` and ``de.robust``, DEqMS (``de.deqms``,
on MaxQuant's 'Razor + unique peptides'), each ``proteomics.impute`` method and the other normalisations (then
limma's defaults), sample weights (``de.sample_weights``: arrayWeights) and a block (``de.block: replicate``).

The shipped UPS1 table (resources/data/ups1_spikein: 48 human UPS1 proteins spiked at 25 vs 10 fmol into
yeast, 3 runs each; truth.tsv.gz) through the reference preprocessing (1,470 proteins pass the filter, 42
of them UPS1), then ``lsecflow.limma.contrast_tables`` with each option set; a call is padj < 0.05. The last
column judges the ranking alone: how many of the top 42 proteins by p-value are UPS1.

    .venv/bin/python bench/limma_variants.py
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from lsecflow import limma, protein_tables, proteomics  # noqa: E402
from lsecflow.de_proteomics import protein_weights  # noqa: E402
from lsecflow.formula import design_metadata  # noqa: E402

VARIANTS = {
    "ls (default)": {},
    "ls, trend": {"trend": True},
    "ls, robust eBayes": {"robust": True},
    "ls, trend + robust eBayes": {"trend": True, "robust": True},
    "robust lmFit": {"lm_method": "robust"},
    "robust lmFit, trend + robust eBayes": {"lm_method": "robust", "trend": True, "robust": True},
    "DEqMS (loess)": {"deqms": "loess"},
    "DEqMS (nls)": {"deqms": "nls"},
    "DEqMS (spline)": {"deqms": "spline"},
    "robust lmFit, DEqMS (loess)": {"lm_method": "robust", "deqms": "loess"},
}
#: Imputations (``proteomics.impute``; seed 0), each followed by limma's defaults.
IMPUTATIONS = ("downshift", "mindet", "minprob", "qrilc", "knn", "svd", "bpca", "mle", "mar_mnar")


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    data = REPO / "resources/data/ups1_spikein"
    sheet = pd.read_csv(REPO / "config/samples/ups1_spikein.tsv", sep="\t", dtype=str).set_index("sample", drop=False)
    table = data / "proteinGroups_trimmed.tsv.gz"
    values, var, _ = protein_tables.read_protein_table(table, "maxquant", sheet.index,
                                                       {"count_column": "Razor + unique peptides"}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {})
    contrast = {"c": {"variable": "group", "target": "fmol25", "reference": "fmol10"}}
    meta = design_metadata(sheet.loc[pre.values.columns], ["group"], contrast)
    truth = pd.read_csv(data / "truth.tsv.gz", sep="\t", dtype={"id": str})
    truth = truth[truth["class"] != "decoy"]  # six decoys share a 'Protein IDs' value with their yeast protein
    ids = pd.read_csv(table, sep="\t", dtype=str, usecols=["id", "Protein IDs"]).set_index("id")["Protein IDs"]
    klass = truth.set_index(truth["id"].map(ids))["class"].reindex(pre.values.index)
    n_ups1 = int((klass == "UPS1_human").sum())
    print(f"| options | called | UPS1 called (of {n_ups1}) | yeast called | observed FDP | UPS1 in the top {n_ups1} by p "
          "|\n|---|---|---|---|---|---|")
    runs = [(name, pre.values, opts) for name, opts in VARIANTS.items()]
    runs += [(f"impute {m}", proteomics.preprocess(values, sheet["group"], {"impute": m}).values, {})
             for m in IMPUTATIONS]
    runs += [(f"normalize {m}", proteomics.preprocess(values, sheet["group"], {"normalize": m}).values, {})
             for m in ("quantile", "cyclicloess")]
    runs += [("sample weights (arrayWeights)", pre.values, {"sample_weights": True}),
             ("block: replicate", pre.values, {"block": "replicate"}),
             ("sample weights, DEqMS (loess)", pre.values, {"sample_weights": True, "deqms": "loess"})]
    for name, matrix, opts in runs:
        labels = sheet["replicate"].rename("replicate") if opts.get("block") else None
        weights, _, block = protein_weights(matrix, meta, "~ group", opts, labels)
        stats, _ = limma.contrast_tables(matrix, meta, "~ group", contrast, {"lfc_threshold": 0.0, **opts},
                                         var["count"], weights, block)
        called = stats["c"]["padj"] < 0.05
        ups1, yeast = int((called & (klass == "UPS1_human")).sum()), int((called & (klass == "yeast")).sum())
        top = stats["c"]["pvalue"].rank(method="first") <= n_ups1  # the ranking, whatever the calibration
        print(f"| {name} | {int(called.sum())} | {ups1} | {yeast} | {yeast / max(int(called.sum()), 1):.3f} | "
              f"{int((top & (klass == 'UPS1_human')).sum())} |")


if __name__ == "__main__":
    main()
