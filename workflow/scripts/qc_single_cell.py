import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.qc_cells import run_qc_single_cell
from lsecflow.snake import run

run(snakemake, run_qc_single_cell, snakemake.input.counts, snakemake.params.dataset, snakemake.input.markers,
    snakemake.params.outdir, seed=snakemake.params.seed,
    gpu=snakemake.params.gpu)
