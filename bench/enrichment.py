"""Enrichment benchmark: GSEA + ORA wall time per collection on real data.

Uses the DE table of the default run (results/dlpc_liver/de/disease_vs_chow.tsv;
`make run` first). For each configured collection it times lsecflow's GSEA
(gseapy prerank inside) and ORA, and, as the in-session reference, a direct
``gseapy.prerank`` call on the same ranking and sets; it prints both and the
ratio lsecflow / direct (the wrapper's overhead). Machines here are noisy:
compare the ratios, not the seconds.

    .venv/bin/python bench/enrichment.py [--method multilevel|permutation] [--permutations 1000] [--threads 2]
        [--collections hallmark ...]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))


def main() -> None:
    import gseapy as gp
    import pandas as pd
    import yaml
    from lsecflow import enrichment, genesets
    from lsecflow.config import load_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default=str(REPO / "results/dlpc_liver/de/disease_vs_chow.tsv"))
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--method", choices=enrichment.METHODS, default="multilevel")
    parser.add_argument("--collections", nargs="*")
    args = parser.parse_args()
    if not Path(args.table).exists():
        sys.exit(f"{args.table} not found: run `make run` first (or pass --table)")
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    ds = load_config(cfg, roots=[REPO]).datasets["dlpc_liver"]
    files = ds.spec["enrichment"]["files"]
    table = pd.read_csv(args.table, sep="\t")
    ranking = enrichment.ranking_from_de(table)
    tested = table[table["pvalue"].notna()]
    up = tested.loc[(tested["padj"] < 0.05) & (tested["log2FoldChange"] > 0), "symbol"]
    print(f"{Path(args.table).name}: {len(ranking)} ranked genes, GSEA method {args.method}, "
          f"{args.permutations} permutations, {args.threads} threads")
    for name in args.collections or list(files):
        sets = genesets.read_gmt(files[name])
        lo, hi = ds.spec["enrichment"]["size_limits"].get(name, [15, 500])
        kept = enrichment.filter_sets(sets, ranking.index, lo, hi)
        t0 = time.perf_counter()
        gp.prerank(rnk=ranking, gene_sets=kept, min_size=lo, max_size=hi, permutation_num=args.permutations,
                   weight=1.0, seed=0, threads=args.threads, outdir=None, no_plot=True, verbose=False,
                   method=args.method)
        direct = time.perf_counter() - t0
        t0 = time.perf_counter()
        enrichment.gsea(ranking, sets, lo, hi, args.permutations, 0, args.threads, args.method)
        enrichment.ora(up, tested["symbol"], sets, lo, hi)
        ours = time.perf_counter() - t0
        print(f"  {name:18s} {len(kept):5d} sets  lsecflow {ours:7.1f} s  direct gseapy {direct:7.1f} s  "
              f"ratio {ours / max(direct, 1e-9):.2f}", flush=True)


if __name__ == "__main__":
    main()
