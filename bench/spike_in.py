"""How strong must a paracrine factor's change be to be flagged at this depth?

SYNTHETIC SPIKE on the real DLPC counts (``lsecflow.synthetic.spike_counts``):
the chosen genes are raised ``fold``-fold in one group's samples by binomial
resampling, for each fold and seed; the dataset's own DE settings
(``config/datasets/dlpc_liver.yaml``: pre-filter, Cook's and independent
filtering) and paracrine settings then give each spiked gene's baseMean,
log2FC, p, padj and candidate rank, exactly as the workflow would.

One what-if column, not what the workflow does: ``padj_family`` = BH over the
annotated secreted factors only (no independent filtering), i.e. treating the
paracrine question as its own hypothesis family; ``rank_family`` is the rank
the candidate would get with it. It answers "would restricting the multiple
testing to secreted factors rescue a low-count factor?".

    .venv/bin/python bench/spike_in.py [--folds 4 8 16] [--seeds 1 2 3]
        [--genes Mmp9 Tnf Icam1 Cxcl1] [--contrast disease_vs_chow]

Prints one row per fold x seed x gene, then per fold how often each gene made
the top 10 flagged candidates. Each fit takes about a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))


def _family_bh(de, factors):
    """BH adjusted p over the annotated factors with a p-value (the what-if column)."""
    import numpy as np
    from scipy.stats import false_discovery_control

    fam = de["symbol"].astype(str).isin(factors.index) & de["pvalue"].notna()
    out = np.full(len(de), np.nan)
    out[fam.to_numpy()] = false_discovery_control(de.loc[fam, "pvalue"].to_numpy(), method="bh")
    return out


def main() -> None:
    import pandas as pd
    import yaml
    from lsecflow import de, lrdb, paracrine
    from lsecflow.config import load_config
    from lsecflow.ingest import build_counts
    from lsecflow.synthetic import spike_counts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=float, nargs="+", default=[4, 8, 16])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--genes", nargs="+", default=["Mmp9", "Tnf", "Icam1", "Cxcl1"])
    parser.add_argument("--contrast", default="disease_vs_chow")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["datasets"] = {"dlpc_liver": cfg["datasets"]["dlpc_liver"]}
    ds = load_config(cfg, roots=[REPO]).datasets["dlpc_liver"]
    params = ds.params()
    adata, _ = build_counts(params)
    contrast = ds.contrasts[args.contrast]
    var = contrast["variable"]
    group = list(adata.obs_names[adata.obs[var].astype(str) == contrast["target"]])
    by_symbol = pd.Series(adata.var_names, index=adata.var["symbol"].astype(str))
    rows = [by_symbol[g] for g in args.genes]
    raw = pd.DataFrame(adata.X.T, index=adata.var_names, columns=adata.obs_names)
    par = ds.spec["paracrine"]
    factors = lrdb.load_factors(par["factors"])
    opts = ds.spec["de"]
    print(f"SYNTHETIC spike of {', '.join(args.genes)} in the {len(group)} '{contrast['target']}' samples; "
          f"contrast {args.contrast}; DE settings of config/datasets/dlpc_liver.yaml", flush=True)
    print("fold seed gene      raw_mean baseMean  log2FC   pvalue     padj  rank  padj_family rank_family")
    hits: dict[tuple[float, str], list[bool]] = {}
    for fold in args.folds:
        for seed in args.seeds:
            t0 = time.perf_counter()
            spiked = adata.copy()
            spiked.X = spike_counts(raw, rows, group, fold, seed).T.to_numpy()
            dds = de.fit_model(spiked, ds.spec["design"], ds.design_columns, opts, contrasts=ds.contrasts)
            res = de.contrast_results(dds, contrast, opts).reset_index(drop=True)
            kw = dict(alpha=opts["alpha"], lfc_threshold=opts["lfc_threshold"], direction=par["direction"],
                      padj_cap=par["padj_cap"], evidence_saturation=par["evidence_saturation"],
                      classes=par.get("classes"))
            cand = paracrine.rank_candidates(res, factors, **kw).set_index("symbol")
            fam = res.assign(padj=_family_bh(res, factors))
            cand_fam = paracrine.rank_candidates(fam, factors, **kw).set_index("symbol")
            for gene, row in zip(args.genes, rows):
                raw_mean = float(spiked[group, row].X.mean())
                if gene not in cand.index:  # removed by the pre-filter: not tested at all
                    print(f"{fold:4g} {seed:4d} {gene:8s} {raw_mean:9.1f}  not tested (pre-filter)")
                    hits.setdefault((fold, gene), []).append(False)
                    continue
                c, f = cand.loc[gene], cand_fam.loc[gene]
                rank = "-" if pd.isna(c["rank"]) else str(c["rank"])
                rank_f = "-" if pd.isna(f["rank"]) else str(f["rank"])
                print(f"{fold:4g} {seed:4d} {gene:8s} {raw_mean:9.1f} {c['baseMean']:8.1f} {c['log2FoldChange']:7.2f}"
                      f" {c['pvalue']:8.1e} {c['padj']:8.1e} {rank:>5s} {f['padj']:12.1e} {rank_f:>11s}", flush=True)
                hits.setdefault((fold, gene), []).append(not pd.isna(c["rank"]) and c["rank"] <= args.top)
            print(f"     (fit {time.perf_counter() - t0:.0f} s; {int(cand['flagged'].sum())} factors flagged)",
                  flush=True)
    print(f"\nin the top {args.top} flagged candidates (of {len(args.seeds)} seeds):")
    for fold in args.folds:
        print(f"  {fold:g}-fold: " + ", ".join(f"{g} {sum(hits[(fold, g)])}/{len(args.seeds)}" for g in args.genes))


if __name__ == "__main__":
    main()
