import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.qc_proteomics import run_qc_proteomics
from lsecflow.snake import run

out, par = snakemake.output, snakemake.params
run(snakemake, run_qc_proteomics, snakemake.input.counts, par.dataset,
    {k: out[k] for k in ("samples", "proteins", "preprocessing", "correlation", "pca", "verdict")},
    {k: out[f"{k}_png"] for k in par.figure_kinds}, seed=par.seed)
