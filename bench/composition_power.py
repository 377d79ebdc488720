"""Cell-type proportions (``composition:``, speckle's propeller) against PLANTED truth: SYNTHETIC samples drawn
around the real Tabula Muris Senis cell-type mix (:func:`lsecflow.synthetic.composition_samples`: 400 cells per
sample, Dirichlet concentration 50), the LSEC share halved in the 'tumour' samples, or nothing changed. Per group
size: how often LSECs are called (padj < 0.05, down), how often the other types (whose shares rise by
renormalising), how many calls survive leaving each sample out, and the calls without a change. Prints the
numbers of docs/validation.md ("Cell-type proportions"). With ``--cells N``: the rule's cost at N cells instead
(``run_composition`` in a child process on a SYNTHETIC h5ad of N cells whose labels are drawn from the real TMS
cells, obs only -- the job never reads the matrix -- and a QC table failing 5 %): wall time and peak RSS.

    .venv/bin/python bench/composition_power.py [--seeds 100] [--cells 1000000]
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
from _child import measure  # noqa: E402
from helpers import shipped_dataset  # noqa: E402
from lsecflow.composition import cell_counts, propeller, run_composition, sample_table  # noqa: E402
from lsecflow.rule_params import guard_params  # noqa: E402
from lsecflow.synthetic import composition_samples  # noqa: E402

LSEC = "endothelial cell of hepatic sinusoid"
CONTRASTS = {"tumour": {"variable": "condition", "target": "tumour", "reference": "control"}}


def test(cells):
    counts = cell_counts(cells["sample"], cells["cell_type"])
    meta = sample_table(cells, ["condition"], CONTRASTS).loc[counts.index]
    return propeller(counts, meta, "~ condition", CONTRASTS)["tumour"].set_index("cell_type")


def _run_rule(folder: str) -> None:
    params = guard_params(shipped_dataset("tms_liver").params(rule="composition"))
    run_composition(f"{folder}/counts.h5ad", params, f"{folder}/propeller.tsv", f"{folder}/cells.tsv",
                    f"{folder}/proportions.png", cells_qc=f"{folder}/qc_cells.tsv")


def scale(n: int) -> None:
    """The composition rule's wall time and peak RSS at ``n`` SYNTHETIC cells."""
    rng = np.random.default_rng(0)
    obs = ad.read_h5ad(REPO / "resources/data/tms_liver/tms_liver_sample_counts.h5ad", backed="r").obs
    sheet = pd.read_csv(REPO / "config/samples/tms_liver.tsv", sep="\t", dtype=str).set_index("sample")
    plates = pd.Series(obs.index.str.split("_").str[1], index=obs.index)
    pick = rng.integers(0, len(obs), n)
    drawn = pd.DataFrame({"sample": plates.iloc[pick].to_numpy(), "cell_type": obs["cell_type"].astype(str).iloc[pick]
                          .to_numpy()}, index=[f"cell{i}" for i in range(n)])
    drawn["age_group"] = sheet.loc[drawn["sample"], "age_group"].to_numpy()
    with tempfile.TemporaryDirectory() as folder:
        ad.AnnData(sp.csr_matrix((n, 1), dtype=np.float32), obs=drawn.astype("category")).write_h5ad(
            f"{folder}/counts.h5ad")
        pd.DataFrame({"cell": drawn.index, "qc_pass": rng.random(n) > 0.05, "qc_reason": ""}).to_csv(
            f"{folder}/qc_cells.tsv", sep="\t", index=False)
        wall, rss, _ = measure(_run_rule, folder)
    print(f"composition rule at {n:,} SYNTHETIC cells: {wall:.1f} s, peak RSS {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--cells", type=int, help="the rule's cost at this many SYNTHETIC cells instead")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.cells:
        scale(args.cells)
        return
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
