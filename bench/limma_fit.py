"""limma's lmFit + eBayes on the shipped UPS1 proteins: inmoose.limma as it is against lsecflow.limma.fit
(the same least squares, batched per missing-value pattern), in one process, alternating.

The UPS1 table (resources/data/ups1_spikein) through the reference preprocessing: 1,470 proteins x 6 runs,
193 missing values, so inmoose fits every protein on its own. Prints each pair's times and the ratio,
the median ratio, and the largest difference between the two fits' t statistics.

    .venv/bin/python bench/limma_fit.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from lsecflow import limma, protein_tables, proteomics  # noqa: E402
from lsecflow.formula import design_metadata  # noqa: E402


def main() -> None:
    from inmoose.limma import eBayes, lmFit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sheet = pd.read_csv(REPO / "config/samples/ups1_spikein.tsv", sep="\t", dtype=str).set_index("sample", drop=False)
    table = REPO / "resources/data/ups1_spikein/proteinGroups_trimmed.tsv.gz"
    values, _, _ = protein_tables.read_protein_table(table, "maxquant", sheet.index, {}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {})
    contrast = {"c": {"variable": "group", "target": "fmol25", "reference": "fmol10"}}
    design = limma.design_matrix(design_metadata(sheet.loc[pre.values.columns], ["group"], contrast), "~ group",
                                 {"group": "fmol10"})
    print(f"{pre.values.shape[0]} proteins x {pre.values.shape[1]} runs, "
          f"{int(pre.values.isna().to_numpy().sum())} missing values")
    ratios = []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        ref = eBayes(lmFit(pre.values.to_numpy(), design))
        t1 = time.perf_counter()
        ours = limma.fit(pre.values, design)
        t2 = time.perf_counter()
        ratios.append((t1 - t0) / (t2 - t1))
        print(f"repeat {i + 1}: inmoose {t1 - t0:.3f} s, lsecflow {t2 - t1:.4f} s, ratio {ratios[-1]:.0f}x")
    diff = float(np.nanmax(np.abs(np.asarray(ref.t, dtype=float) - np.asarray(ours.t, dtype=float))))
    print(f"median ratio {statistics.median(ratios):.0f}x; largest |t| difference {diff:.1e}")


if __name__ == "__main__":
    main()
