"""What the paracrine checks cost on DLPC (issue 22): the DE and paracrine jobs with and without them.

Runs, each in a fresh process (imports included, as in a Snakemake job),
alternating, ``--repeats`` times, on the real DLPC data and the shipped
config:
  DE job         lsecflow.de.run_de with paracrine.robustness false / true
                 (true adds the leave-one-out refits of the significant factors)
  paracrine job  lsecflow.paracrine.run_paracrine, one process per contrast
                 (as the workflow's three jobs), without the checks / with them
                 (refit padj and marks, contamination, source); summed

Prints the medians and the checks' cost as a share of the paracrine stage
without them: (DE_on - DE_off + paracrine_on - paracrine_off) / paracrine_off.

With --validate it also compares the leave-one-out refits (dispersion trend
and prior held from the full fit) with full DESeq2 refits on the remaining
samples (everything re-estimated, BH over every gene) for every flagged
factor of disease_vs_chow: fold-change agreement, p-values, and whether the
call is kept in each refit.

    .venv/bin/python bench/paracrine_checks.py [--repeats 3]   # the cost
    .venv/bin/python bench/paracrine_checks.py --validate      # against full refits
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))

CONTRASTS = ("disease_vs_chow", "agonist_vs_chow", "agonist_vs_disease")
KINDS = ("table", "summary", "normalized", "vst", "loo")


def _params(robustness: bool = True):
    import yaml
    from lsecflow.config import load_config

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["datasets"] = {"dlpc_liver": cfg["datasets"]["dlpc_liver"]}
    ds = load_config(cfg, roots=[REPO]).datasets["dlpc_liver"]
    ds.spec["paracrine"]["robustness"] = robustness
    return ds.params()


def de_job(work: str, robustness: bool) -> None:
    from lsecflow.de import run_de

    outputs = {c: {k: f"{work}/{c}.{k}.tsv" for k in KINDS} for c in CONTRASTS}
    run_de(f"{work}/counts.h5ad", _params(robustness), outputs)


def paracrine_job(work: str, checks: bool, c: str) -> None:
    from lsecflow.paracrine import run_paracrine

    files = {"counts": f"{work}/counts.h5ad", "loo": f"{work}/{c}.loo.tsv", "vst": f"{work}/{c}.vst.tsv",
             "robustness": f"{work}/{c}.robustness.tsv", "contamination": f"{work}/{c}.contamination.tsv"}
    figures = {k: f"{work}/{c}.{k}.png" for k in ("paracrine_candidates", "paracrine_pairs")}
    run_paracrine(f"{work}/{c}.table.tsv", f"{work}/{c}.normalized.tsv", _params(), c, f"{work}/{c}.cand.tsv",
                  f"{work}/{c}.pairs.tsv", figures, checks=files if checks else None)


def ingest(work: str) -> None:
    from lsecflow.ingest import run_ingest

    ds_params = _params()
    run_ingest(ds_params, f"{work}/counts.h5ad")


def validate() -> None:
    """Leave-one-out refits against full refits, disease_vs_chow, every flagged factor."""
    import numpy as np
    import pandas as pd
    from lsecflow import trust
    from lsecflow.calls import is_significant
    from lsecflow.de import contrast_results, fit_model
    from lsecflow.ingest import build_counts
    from lsecflow.lrdb import load_factors

    params = _params()
    spec = params["spec"]
    c = spec["contrasts"]["disease_vs_chow"]
    adata, _ = build_counts(params)
    args = (spec["design"], params["design_columns"], spec["de"])
    dds = fit_model(adata, *args, contrasts=spec["contrasts"])
    table = contrast_results(dds, c, spec["de"])
    factors = set(load_factors(spec["paracrine"]["factors"]).index)
    alpha, thr = spec["de"]["alpha"], spec["de"]["lfc_threshold"]
    genes = list(table.loc[is_significant(table, alpha, thr) & table["symbol"].isin(factors), "gene_id"])
    loo = trust.leave_one_out(dds, spec["design"], {"d": c}, {"d": genes})
    loo["padj"] = trust.loo_padj(table, loo)
    rows = []
    for sample, grp in loo.groupby("left_out"):
        full = fit_model(adata[adata.obs_names != sample].copy(), *args, contrasts=spec["contrasts"])
        res = contrast_results(full, c, spec["de"]).set_index("gene_id").reindex(grp["gene_id"])
        rows.append(grp.assign(lfc_full=res["log2FoldChange"].to_numpy(), p_full=res["pvalue"].to_numpy(),
                               padj_full=res["padj"].to_numpy()))
    both = pd.concat(rows, ignore_index=True)
    sign = np.sign(both["gene_id"].map(table.set_index("gene_id")["log2FoldChange"]))
    keep_loo = (both["padj"] < alpha) & (np.sign(both["log2FoldChange"]) == sign)
    keep_full = (both["padj_full"] < alpha) & (np.sign(both["lfc_full"]) == sign)
    ok = both["p_full"].notna()
    dp = np.abs(np.log10(both.loc[ok, "pvalue"]) - np.log10(both.loc[ok, "p_full"]))
    print(f"validation: {len(genes)} flagged factors x {both['left_out'].nunique()} left-out samples = {len(both)} refits")
    print(f"  log2FC Pearson r {np.corrcoef(both['log2FoldChange'], both['lfc_full'].fillna(0))[0, 1]:.4f}; "
          f"|dlog10 p| median {dp.median():.3f}, 95th pct {dp.quantile(0.95):.3f}; "
          f"{int((~ok).sum())} refits where the full refit set p to NA (Cook's)")
    agree = keep_loo == keep_full
    print(f"  call kept / lost agrees in {agree.mean():.1%} of refits ({int((~agree).sum())} differ; their full-refit "
          f"padj {both.loc[~agree, 'padj_full'].min():.3g}-{both.loc[~agree, 'padj_full'].max():.3g})")
    print(f"  kept here but lost in the full refit: {int((keep_loo & ~keep_full).sum())}; "
          f"lost here but kept there: {int((~keep_loo & keep_full).sum())}")
    per_gene = pd.DataFrame({"loo": keep_loo.groupby(both["gene_id"]).all(),
                             "full": keep_full.groupby(both["gene_id"]).all()})
    print(f"  'survives' agrees for {int((per_gene['loo'] == per_gene['full']).sum())} of {len(per_gene)} candidates "
          f"({int((per_gene['loo'] & ~per_gene['full']).sum())} survive here only, "
          f"{int((~per_gene['loo'] & per_gene['full']).sum())} there only)")


def main() -> None:
    from _child import measure

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--validate", action="store_true")
    args = ap.parse_args()
    if args.validate:
        measure(validate)
        return
    with tempfile.TemporaryDirectory() as work:
        measure(ingest, work)
        measure(de_job, work, True)  # the checks' inputs (and a warm file cache)
        times: dict[str, list[float]] = {"de_off": [], "de_on": [], "par_off": [], "par_on": []}
        for _ in range(args.repeats):
            for key, flag in (("de_off", False), ("de_on", True)):
                times[key].append(measure(de_job, work, flag)[0])
            measure(de_job, work, True)  # the paracrine jobs read the refits
            for key, flag in (("par_off", False), ("par_on", True)):
                times[key].append(sum(measure(paracrine_job, work, flag, c)[0] for c in CONTRASTS))
        med = {k: statistics.median(v) for k, v in times.items()}
        for k, v in times.items():
            print(f"{k:8s} median {med[k]:6.2f} s   runs {', '.join(f'{x:.2f}' for x in v)}")
        added = med["de_on"] - med["de_off"] + med["par_on"] - med["par_off"]
        print(f"DE job: +{med['de_on'] - med['de_off']:.2f} s for the leave-one-out refits")
        print(f"paracrine stage (3 contrasts): {med['par_off']:.2f} s without checks, {med['par_on']:.2f} s with")
        print(f"checks' cost: {added:.2f} s = {added / med['par_off']:.0%} of the paracrine stage without them")


if __name__ == "__main__":
    main()
