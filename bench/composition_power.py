"""Cell-type proportions (``composition:``, speckle's propeller) against PLANTED truth: SYNTHETIC samples drawn
around the real Tabula Muris Senis cell-type mix (:func:`lsecflow.synthetic.composition_samples`: 400 cells per
sample, Dirichlet concentration 50), the LSEC share halved in the 'tumour' samples, or nothing changed. Per group
size: how often LSECs are called (padj < 0.05, down), how often the other types (whose shares rise by
renormalising), how many calls survive leaving each sample out, and the calls without a change. Prints the
numbers of docs/validation.md ("Cell-type proportions").

    .venv/bin/python bench/composition_power.py [--seeds 100]
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import anndata as ad

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
from lsecflow.composition import cell_counts, propeller, sample_table  # noqa: E402
from lsecflow.synthetic import composition_samples  # noqa: E402

LSEC = "endothelial cell of hepatic sinusoid"
CONTRASTS = {"tumour": {"variable": "condition", "target": "tumour", "reference": "control"}}


def test(cells):
    counts = cell_counts(cells["sample"], cells["cell_type"])
    meta = sample_table(cells, ["condition"], CONTRASTS).loc[counts.index]
    return propeller(counts, meta, "~ condition", CONTRASTS)["tumour"].set_index("cell_type")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    obs = ad.read_h5ad(REPO / "resources/data/tms_liver/tms_liver_sample_counts.h5ad", backed="r").obs
    mix = obs["cell_type"].astype(str).value_counts(normalize=True).sort_index()
    print("| per group | LSECs called | their calls surviving each left-out sample | other types called | "
          "calls without a change |\n|---|---|---|---|---|")
    for n in (3, 6):
        found = surviving = others = null = 0
        for seed in range(args.seeds):
            t = test(composition_samples(mix, seed, LSEC, 0.5, n))
            if t.loc[LSEC, "padj"] < 0.05 and t.loc[LSEC, "stat"] < 0:
                found += 1
                surviving += bool(t.loc[LSEC, "survives"])
            others += int((t.drop(LSEC)["padj"] < 0.05).sum())
            null += int((test(composition_samples(mix, 1000 + seed, LSEC, 1.0, n))["padj"] < 0.05).sum())
        k = len(mix) - 1
        print(f"| {n} | {found} of {args.seeds} | {surviving} of {found} | {others} of {k * args.seeds} tests | "
              f"{null} of {len(mix) * args.seeds} tests |")


if __name__ == "__main__":
    main()
