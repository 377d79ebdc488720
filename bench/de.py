"""DE benchmark: R DESeq2, pydeseq2 and lsecflow's DE in one run, on two datasets.

Datasets:
  dlpc       the real DLPC counts (20 samples, ~ Group, 15,974 genes after the
             filter, three contrasts)
  synthetic  SYNTHETIC negative-binomial counts, 30,000 genes x 48 samples,
             ~ batch + condition (2 x 4 levels, 6 samples per cell), three
             contrasts of condition (seeded; see make_synthetic())

Every engine reads the same input: the filtered counts and the sheet, written as TSV before any clock
starts. Engines, each in a fresh process (peak RSS is its own):
  R          DESeq() + results() per contrast, when `Rscript` with DESeq2 is
             installed (apt-get install r-base-core r-bioc-deseq2); wall time
             of the whole Rscript call (library loading included) and of the
             fit alone
  pydeseq2   DeseqDataSet.deseq2() + DeseqStats per contrast, when installed
             (pip install -e ".[bench]")
  lsecflow   lsecflow.de.fit_model once + contrast_results per contrast (the
             same work as R's and pydeseq2's timed part); the normalised
             counts and VST that the DE job also writes are timed apart

With --voom also limma-voom: R (edgeR's calcNormFactors, voom, lmFit + eBayes per contrast, when edgeR is
installed: apt-get install r-bioc-limma r-bioc-edger) against lsecflow's ``de.engine: voom``
(lsecflow.de_voom.voom_tables: the same steps, one fit per reference level).

Prints wall time, peak RSS and ratios against R, and a profile of the ten
costliest functions of lsecflow's DE (cProfile, cumulative time). With
--workflow it also times the workflow's whole DLPC DE stage: `snakemake`
started from the command line on a finished ingest, the DE job forced
(Snakemake's start-up included).

    .venv/bin/python bench/de.py [--datasets dlpc synthetic] [--workflow] [--voom]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))

R_READ = r"""
args <- commandArgs(trailingOnly = TRUE)
counts <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
sheet <- read.delim(args[2], colClasses = "character", row.names = 1)
counts <- counts[, rownames(sheet)]
for (col in colnames(sheet)) sheet[[col]] <- factor(sheet[[col]])
contrasts <- strsplit(strsplit(args[4], ";")[[1]], ",")
"""
"""What both R scripts read (not timed): the filtered counts, the sheet, the contrasts."""

R_SCRIPT = "suppressMessages(library(DESeq2))" + R_READ + r"""
t0 <- Sys.time()
dds <- DESeqDataSetFromMatrix(counts, sheet, design = as.formula(args[3]))
dds <- DESeq(dds, quiet = TRUE)
for (k in contrasts) res <- results(dds, contrast = k)
cat("FIT_SECONDS", as.numeric(Sys.time() - t0, units = "secs"), "\n")
"""

R_VOOM_SCRIPT = "suppressMessages({library(limma); library(edgeR)})" + R_READ + r"""
form <- as.formula(args[3])
t0 <- Sys.time()
v <- voom(calcNormFactors(DGEList(counts)), model.matrix(form, sheet))
for (k in contrasts) {
  s <- sheet
  s[[k[1]]] <- relevel(s[[k[1]]], ref = k[3])
  d <- model.matrix(form, s)
  res <- topTable(eBayes(lmFit(v, d)), coef = paste0(k[1], k[2]), number = Inf, sort.by = "none")
}
cat("FIT_SECONDS", as.numeric(Sys.time() - t0, units = "secs"), "\n")
"""


def make_synthetic(genes: int = 30_000, seed: int = 1):
    """SYNTHETIC counts (genes x samples) and sheet: ~ batch + condition, 2 x 4 levels, 6 samples per cell."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    batch = np.repeat(["b1", "b2"], 24)
    condition = np.tile(np.repeat(["c0", "c1", "c2", "c3"], 6), 2)
    samples = [f"s{i:02d}" for i in range(48)]
    base = np.exp(rng.uniform(np.log(1), np.log(5000), genes))
    disp = 0.03 + 1.5 / base
    effects = np.where(rng.random((genes, 4)) < 0.1, rng.normal(0, 1.5, (genes, 4)), 0.0)
    effects[:, 0] = 0
    level = np.searchsorted(["c0", "c1", "c2", "c3"], condition)
    mu = base[:, None] * np.exp(np.log(2) * (effects[:, level] + 0.3 * (batch == "b2")[None, :]))
    mu *= rng.uniform(0.6, 1.6, 48)[None, :]
    counts = rng.negative_binomial(1 / disp[:, None], 1 / (1 + disp[:, None] * mu))
    frame = pd.DataFrame(counts, index=[f"gene{i:05d}" for i in range(genes)], columns=samples)
    sheet = pd.DataFrame({"sample": samples, "batch": batch, "condition": condition})
    return frame, sheet


def load(name: str):
    """(counts genes x samples, sheet, design, contrasts [(var, target, ref)], de options)."""
    import pandas as pd
    import yaml
    from lsecflow.config import load_config
    from lsecflow.de_options import de_defaults
    from lsecflow.ingest import build_counts

    if name == "dlpc":
        cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
        cfg["datasets"] = {"dlpc_liver": cfg["datasets"]["dlpc_liver"]}
        ds = load_config(cfg, roots=[REPO]).datasets["dlpc_liver"]
        adata, _ = build_counts(ds.params())
        counts = pd.DataFrame(adata.X.T, index=adata.var_names, columns=adata.obs_names)
        keep = (counts >= 10).sum(axis=1) >= 3
        sheet = adata.obs[["Group"]].rename_axis("sample").reset_index()
        contrasts = [(c["variable"], c["target"], c["reference"]) for c in ds.contrasts.values()]
        return counts[keep], sheet, "~ Group", contrasts, ds.spec["de"]
    counts, sheet = make_synthetic()
    keep = (counts >= 10).sum(axis=1) >= 3
    contrasts = [("condition", "c1", "c0"), ("condition", "c2", "c0"), ("condition", "c3", "c1")]
    return counts[keep], sheet, "~ batch + condition", contrasts, de_defaults()


def write_inputs(name: str, folder: str) -> None:
    """The dataset as every engine reads it (not timed): the filtered counts and the sheet as TSV, the
    design, contrasts and DE options as JSON."""
    import json

    counts, sheet, design, contrasts, opts = load(name)
    counts.to_csv(f"{folder}/counts.tsv", sep="\t")
    sheet.to_csv(f"{folder}/sheet.tsv", sep="\t", index=False)
    Path(f"{folder}/spec.json").write_text(json.dumps({"design": design, "contrasts": contrasts, "opts": opts}))


def read_inputs(folder: str):
    """What :func:`write_inputs` wrote: (counts genes x samples, sheet, design, contrasts, de options)."""
    import json

    import pandas as pd

    counts = pd.read_csv(f"{folder}/counts.tsv", sep="\t", index_col=0)
    sheet = pd.read_csv(f"{folder}/sheet.tsv", sep="\t", dtype=str)
    spec = json.loads(Path(f"{folder}/spec.json").read_text())
    return counts, sheet, spec["design"], [tuple(c) for c in spec["contrasts"]], spec["opts"]


def run_r(folder: str, script: str = R_SCRIPT) -> tuple[float, float, float]:
    """(whole Rscript wall, fit seconds reported by R, peak RSS MiB) of ``script`` (DESeq2's, or
    :data:`R_VOOM_SCRIPT`) or raises when R or its packages are missing."""
    _, _, design, contrasts, _ = read_inputs(folder)
    with tempfile.TemporaryDirectory() as tmp:
        Path(f"{tmp}/run.R").write_text(script)
        spec = ";".join(",".join(c) for c in contrasts)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        proc = subprocess.run(["Rscript", f"{tmp}/run.R", f"{folder}/counts.tsv", f"{folder}/sheet.tsv", design, spec],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    fit = float(proc.stdout.split("FIT_SECONDS")[1].split()[0])
    return wall, fit, rss if rss * 1024 > before else float("nan")


def engine_pydeseq2(folder: str) -> float:
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    counts, sheet, design, contrasts, _ = read_inputs(folder)
    t0 = time.perf_counter()
    inference = DefaultInference(n_cpus=1)
    dds = DeseqDataSet(counts=counts.T, metadata=sheet.set_index("sample").loc[counts.columns], design=design,
                       inference=inference, quiet=True)
    dds.deseq2()
    for var, target, ref in contrasts:
        DeseqStats(dds, contrast=[var, target, ref], inference=inference, quiet=True).summary()
    return time.perf_counter() - t0


def _lsecflow_de(folder: str, profile: bool = False):
    import anndata as ad
    import inmoose.deseq2  # noqa: F401  (imported before the clock starts, as R's library(DESeq2) is)
    import pandas as pd
    from lsecflow import de

    counts, sheet, design, contrasts, opts = read_inputs(folder)
    obs = sheet.set_index("sample").loc[counts.columns]
    adata = ad.AnnData(X=counts.T.to_numpy(), obs=obs,
                       var=pd.DataFrame({"gene_id": counts.index, "symbol": counts.index}, index=counts.index))
    named = {f"c{i}": {"variable": v, "target": t, "reference": r} for i, (v, t, r) in enumerate(contrasts)}
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    dds = de.fit_model(adata, design, list(obs.columns), opts, contrasts=named)
    for c in named.values():
        de.contrast_results(dds, c, opts)
    if prof:
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(10)
        return time.perf_counter() - t0, out.getvalue()
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    de.normalized_and_vst(dds)
    return seconds, time.perf_counter() - t1


def engine_lsecflow(folder: str) -> float:
    seconds, vst = _lsecflow_de(folder)
    print(f"lsecflow   : normalised counts + VST (written by the DE job too, not in R's timing) {vst:5.2f} s",
          flush=True)
    return seconds


def engine_voom(folder: str) -> float:
    """lsecflow's limma-voom (``de.engine: voom``): TMM, voom, one weighted fit per reference level, eBayes."""
    import pandas as pd
    from lsecflow import de_voom
    from lsecflow.formula import design_metadata

    counts, sheet, design, contrasts, opts = read_inputs(folder)
    named = {f"c{i}": {"variable": v, "target": t, "reference": r} for i, (v, t, r) in enumerate(contrasts)}
    obs = sheet.set_index("sample").loc[counts.columns]
    t0 = time.perf_counter()
    meta = design_metadata(obs, list(obs.columns), named)
    de_voom.voom_tables(counts, meta, design, named, {**opts, "trend": False, "robust": False},
                        pd.Series(counts.index, index=counts.index))
    return time.perf_counter() - t0


def workflow_stage(threads: int = 2) -> float:
    """Wall seconds of `snakemake --forcerun de_dlpc_liver` on a finished DLPC ingest (start-up included)."""
    import yaml

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["datasets"] = {"dlpc_liver": cfg["datasets"]["dlpc_liver"]}
    cfg["report"] = False
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(cfg))
        base = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--configfile", str(path),
                "--directory", tmp, "--cores", str(threads), "--quiet"]
        subprocess.run(base + ["--until", "ingest"], check=True, capture_output=True, cwd=REPO)
        t0 = time.perf_counter()
        subprocess.run(base + ["--until", "de_dlpc_liver", "--forcerun", "de_dlpc_liver"], check=True,
                       capture_output=True, cwd=REPO)
        return time.perf_counter() - t0


def main() -> None:
    from _child import measure

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["dlpc", "synthetic"], choices=["dlpc", "synthetic"])
    parser.add_argument("--workflow", action="store_true", help="also time the workflow's DLPC DE stage")
    parser.add_argument("--voom", action="store_true", help="also R limma-voom and lsecflow's de.engine: voom")
    args = parser.parse_args()
    have_r = shutil.which("Rscript") is not None
    try:
        import pydeseq2  # noqa: F401
        have_py = True
    except ImportError:
        have_py = False
    for name in args.datasets:
        label = "DLPC (real)" if name == "dlpc" else "SYNTHETIC 30,000 genes x 48 samples, ~ batch + condition"
        print(f"== {label}", flush=True)
        r_wall = None
        folder = tempfile.mkdtemp(prefix=f"lsecflow_bench_de_{name}_")
        write_inputs(name, folder)
        if have_r:
            try:
                r_wall, r_fit, r_rss = run_r(folder)
                print(f"R DESeq2   : Rscript wall {r_wall:6.1f} s (fit + results {r_fit:6.1f} s), "
                      f"peak RSS {r_rss:6.0f} MiB", flush=True)
            except RuntimeError as exc:
                print(f"R DESeq2   : not run ({str(exc).strip().splitlines()[-1]})")
        else:
            print("R DESeq2   : not run (no Rscript; apt-get install r-base-core r-bioc-deseq2)")
        rows = {}
        if have_py:
            rows["pydeseq2"] = measure(engine_pydeseq2, folder)
        else:
            print("pydeseq2   : not run (pip install -e '.[bench]')")
        rows["lsecflow"] = measure(engine_lsecflow, folder)
        for engine, (wall, rss, fit) in rows.items():
            ratio = f", R/{engine} {r_wall / wall:5.2f}x (R wall incl. start-up; {r_fit / fit:5.2f}x fit only)" \
                if r_wall else ""
            print(f"{engine:10s} : wall {wall:6.1f} s (fit + results {fit:6.1f} s), peak RSS {rss:6.0f} MiB{ratio}",
                  flush=True)
        if args.voom:
            try:
                rv_wall, rv_fit, rv_rss = run_r(folder, R_VOOM_SCRIPT) if have_r else (None, None, None)
            except RuntimeError as exc:
                rv_wall = None
                print(f"R voom     : not run ({str(exc).strip().splitlines()[-1]})")
            if rv_wall:
                print(f"R voom     : Rscript wall {rv_wall:6.1f} s (TMM + voom + fits {rv_fit:6.2f} s), "
                      f"peak RSS {rv_rss:6.0f} MiB", flush=True)
            wall, rss, fit = measure(engine_voom, folder)
            ratio = f", R/lsecflow {rv_wall / wall:5.2f}x wall, {rv_fit / fit:5.2f}x fit" if rv_wall else ""
            print(f"voom       : wall {wall:6.1f} s (TMM + voom + fits {fit:6.2f} s), peak RSS {rss:6.0f} MiB{ratio}",
                  flush=True)
        _, profile = _lsecflow_de(folder, profile=True)
        print("lsecflow DE, ten costliest functions (cumulative):")
        print("\n".join(profile.splitlines()[:32]))
        shutil.rmtree(folder)
    if args.workflow:
        wall = workflow_stage()
        print(f"workflow DLPC DE stage (snakemake --forcerun de_dlpc_liver, start-up included): {wall:.1f} s")


if __name__ == "__main__":
    main()
