import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.qc import run_qc_bulk
from lsecflow.snake import run

out, par = snakemake.output, snakemake.params
run(snakemake, run_qc_bulk, snakemake.input.counts, par.dataset, snakemake.input.markers,
    {k: out[k] for k in ("samples", "correlation", "pca", "purity", "verdict")},
    {k: out[f"{k}_png"] for k in par.figure_kinds})
