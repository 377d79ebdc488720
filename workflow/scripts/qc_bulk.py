import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.qc import run_qc_bulk
from lsecflow.snake import run

run(snakemake, run_qc_bulk, snakemake.input.counts, snakemake.params.dataset, snakemake.input.markers,
    snakemake.params.outdir)
