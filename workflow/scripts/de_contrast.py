import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.de import run_contrast
from lsecflow.snake import run

run(snakemake, run_contrast, snakemake.input.counts, snakemake.params.dataset, snakemake.wildcards.contrast,
    snakemake.output.table, snakemake.output.summary, threads=snakemake.threads,
    cell_type=snakemake.wildcards.get("cell_type"))
