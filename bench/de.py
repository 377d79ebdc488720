"""DE benchmark on the real DLPC data: wall time and peak RSS.

Runs, each in a fresh child process (so peak memory is its own):
  reference  plain pydeseq2 defaults: DeseqDataSet(~Group).deseq2() and
             DeseqStats().summary() for the three contrasts
  lsecflow   lsecflow.de.fit_model + contrast_results (DESeq2 filtering
             rules) + normalised counts and VST, for the same contrasts

and prints each, and lsecflow / reference ratios (same machine, same
session; machines here are noisy, so compare ratios, not seconds).

    .venv/bin/python bench/de.py [--threads 2] [--repeats 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))

CONTRASTS = [("Disease", "Chow"), ("Disease/Agonist", "Chow"), ("Disease/Agonist", "Disease")]


def _load():
    import yaml

    from lsecflow.config import load_config
    from lsecflow.ingest import build_counts

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["datasets"] = {"dlpc_liver": cfg["datasets"]["dlpc_liver"]}
    ds = load_config(cfg, roots=[REPO]).datasets["dlpc_liver"]
    adata, _ = build_counts(ds.params())
    return ds, adata


def run_reference(threads: int) -> float:
    import numpy as np
    import pandas as pd
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    ds, adata = _load()
    t0 = time.perf_counter()
    X = np.asarray(adata.X)
    keep = (X >= 10).sum(axis=0) >= 3
    counts = pd.DataFrame(X[:, keep], index=adata.obs_names, columns=adata.var_names[keep])
    inference = DefaultInference(n_cpus=threads)
    dds = DeseqDataSet(counts=counts, metadata=adata.obs[["Group"]], design="~Group", inference=inference,
                       quiet=True)
    dds.deseq2()
    for target, ref in CONTRASTS:
        DeseqStats(dds, contrast=["Group", target, ref], inference=inference, quiet=True).summary()
    return time.perf_counter() - t0  # the fit only, not loading


def run_lsecflow(threads: int) -> float:
    from lsecflow import de

    ds, adata = _load()
    t0 = time.perf_counter()
    dds = de.fit_model(adata, ds.spec["design"], ds.design_columns, {"Group": "Chow"}, ds.spec["de"], threads)
    for name in ds.contrasts:
        de.contrast_results(dds, ds.design_columns, ds.contrasts[name], ds.spec["de"])
    de.normalized_and_vst(dds)
    return time.perf_counter() - t0  # the fit only, not loading


def main() -> None:
    from _child import measure

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for rep in range(args.repeats):
        for name, target in (("reference", run_reference), ("lsecflow", run_lsecflow)):
            _, rss, wall = measure(target, args.threads)
            rows.append((name, wall, rss))
            print(f"run {rep + 1} {name:9s}: wall {wall:6.1f} s, peak RSS {rss:7.0f} MiB", flush=True)
    ref = [r for r in rows if r[0] == "reference"]
    ours = [r for r in rows if r[0] == "lsecflow"]
    best = lambda rs, i: min(r[i] for r in rs)  # noqa: E731
    print(f"DLPC (20 samples x 15,974 genes, 3 contrasts, {args.threads} threads)")
    print(f"wall time ratio lsecflow/reference (best of {args.repeats}): {best(ours, 1) / best(ref, 1):.2f}")
    print(f"peak RSS ratio  lsecflow/reference: {best(ours, 2) / best(ref, 2):.2f}")


if __name__ == "__main__":
    main()
