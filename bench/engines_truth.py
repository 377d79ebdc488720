"""DESeq2, limma-voom or edgeR? The count engines on a planted truth over real counts.

Background: the real DLPC counts (20 livers, 15,974 genes after the pre-filter), the samples of each real
group (Chow, Disease, Disease/Agonist) dealt at random into two mock groups (seeded; 10 and 10), and the
design ``~ Group + mock``: the real groups are modelled, so no gene differs between the mock groups but the
spiked ones.
SYNTHETIC SPIKE (``lsecflow.synthetic.spike_counts``, binomial resampling at the sample's depth): 400 genes
drawn at random among those with a mean count of at least 20 are raised ``fold``-fold in the second group,
half of them, and lowered by the same factor in the other half (spiked into the first group instead). The
spiked genes are the truth; every other call is false.

Each engine runs as the workflow runs it (``lsecflow.de.fit_model`` + ``contrast_results`` with DESeq2's
defaults, and with ``de.fit_type: local``; ``lsecflow.de_voom.voom_tables``, with and without
``de.sample_weights``; ``lsecflow.de_edger.edger_tables``, with and without ``de.robust``), and the bench prints,
per fold and seed, the calls at padj < 0.05, the true ones among them (power = true / 400) and the false
discovery proportion, then the mean over seeds.

    .venv/bin/python bench/engines_truth.py [--folds 1.5 2] [--seeds 1 2 3] [--engines deseq2 voom edger]

The planted truth depends only on the fold and the seed, so a run of some engines compares with an earlier run of
the others.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "tests"))


def dlpc_counts():
    """The real DLPC counts through the default pre-filter, genes x samples (ids sorted)."""
    import pandas as pd

    counts = pd.read_csv(REPO / "resources/data/dlpc_liver/counts.tsv.gz", sep="\t", index_col=0)
    counts = counts.rename(columns={"Sample724": "Sample725"})
    counts = counts[sorted(counts.columns)]
    return counts[(counts >= 10).sum(axis=1) >= 3].sort_index()


def planted(counts, fold: float, seed: int, n_genes: int = 400):
    """(spiked counts, sheet with Group and mock, truth): mock groups dealt within each real group,
    ``n_genes`` genes changed ``fold``-fold between them."""
    import numpy as np
    import pandas as pd
    from lsecflow.synthetic import spike_counts

    rng = np.random.default_rng(seed)
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t", dtype=str).set_index("sample")
    sheet = sheet.loc[counts.columns, ["Group"]]
    mock, extra = pd.Series("A", index=sheet.index), 0
    for _, members in sheet.groupby("Group").groups.items():  # half of each real group to B, odd ones alternating
        members = list(rng.permutation(list(members)))
        k = len(members) // 2 + (len(members) % 2) * extra
        extra ^= len(members) % 2
        mock[members[:k]] = "B"
    sheet["mock"] = mock
    group = sheet["mock"]
    eligible = counts.index[counts.mean(axis=1) >= 20]
    truth = list(rng.choice(eligible, n_genes, replace=False))
    up, down = truth[: n_genes // 2], truth[n_genes // 2:]
    spiked = spike_counts(counts, up, list(group.index[group == "B"]), fold, seed)
    spiked = spike_counts(spiked, down, list(group.index[group == "A"]), fold, seed + 1000)
    return spiked, sheet, set(truth)


def run_engines(counts, sheet, truth: set, engines=("deseq2", "voom", "edger")
                ) -> dict[str, tuple[int, int, float, float]]:
    """engine -> (calls, true calls, FDP, seconds) at padj < 0.05 for mock B vs A under ``~ Group + mock``."""
    import anndata as ad
    import pandas as pd
    from lsecflow import de, de_edger, de_voom
    from lsecflow.de_options import de_defaults
    from lsecflow.formula import design_metadata

    contrast = {"variable": "mock", "target": "B", "reference": "A"}
    obs = sheet[["Group", "mock"]]
    meta = design_metadata(obs, ["Group", "mock"], {"c": contrast})
    symbols = pd.Series(counts.index, index=counts.index)
    out = {}
    if "deseq2" in engines:
        opts = de_defaults()  # DESeq2's defaults, as a dataset that sets nothing
        adata = ad.AnnData(X=counts.T.to_numpy(), obs=obs,
                           var=pd.DataFrame({"gene_id": counts.index, "symbol": counts.index}, index=counts.index))
        for label, extra in (("DESeq2", {}), ("DESeq2, local trend", {"fit_type": "local"})):
            t0 = time.perf_counter()
            o = dict(opts, **extra)
            dds = de.fit_model(adata, "~ Group + mock", ["Group", "mock"], o, contrasts={"c": contrast})
            out[label] = _score(de.contrast_results(dds, contrast, o), truth, time.perf_counter() - t0)
    runs = []
    if "voom" in engines:
        runs += [("voom", de_voom.voom_tables, {}), ("voom + sample weights", de_voom.voom_tables,
                                                     {"sample_weights": True})]
    if "edger" in engines:
        runs += [("edgeR QL", de_edger.edger_tables, {}), ("edgeR QL, robust", de_edger.edger_tables,
                                                           {"robust": True})]
    for label, tables_of, extra in runs:
        t0 = time.perf_counter()
        tables = tables_of(counts, meta, "~ Group + mock", {"c": contrast}, {"lfc_threshold": 0.0, **extra},
                           symbols).tables
        out[label] = _score(tables["c"], truth, time.perf_counter() - t0)
    return out


def _score(table, truth: set, seconds: float) -> tuple[int, int, float, float]:
    called = set(table.loc[table["padj"] < 0.05, "gene_id"])
    hits = len(called & truth)
    return len(called), hits, (len(called) - hits) / len(called) if called else 0.0, seconds


def main() -> None:
    import logging

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", nargs="+", type=float, default=[1.5, 2.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--engines", nargs="+", choices=["deseq2", "voom", "edger"], default=["deseq2", "voom", "edger"])
    args = parser.parse_args()
    logging.disable(logging.INFO)
    counts = dlpc_counts()
    print(f"DLPC background: {counts.shape[0]} genes x {counts.shape[1]} samples, mock groups of 10 dealt within "
          "each real group, ~ Group + mock; 400 genes spiked (SYNTHETIC)", flush=True)
    for fold in args.folds:
        rows = {}
        for seed in args.seeds:
            spiked, sheet, truth = planted(counts, fold, seed)
            for engine, (n, hits, fdp, secs) in run_engines(spiked, sheet, truth, args.engines).items():
                rows.setdefault(engine, []).append((n, hits, fdp))
                print(f"fold {fold:4.2f} seed {seed}: {engine:22s} {n:5d} calls, {hits:3d} true (power "
                      f"{hits / 400:.3f}), FDP {fdp:.3f}, {secs:5.1f} s", flush=True)
        for engine, vals in rows.items():
            n, hits, fdp = (sum(v[i] for v in vals) / len(vals) for i in range(3))
            print(f"fold {fold:4.2f} mean over {len(vals)} seeds: {engine:22s} {n:7.1f} calls, power "
                  f"{hits / 400:.3f}, FDP {fdp:.3f}", flush=True)


if __name__ == "__main__":
    main()
