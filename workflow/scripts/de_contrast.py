import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.de import run_contrast
from lsecflow.snake import run

out = snakemake.output
run(snakemake, run_contrast, snakemake.input.counts, snakemake.params.dataset, snakemake.params.contrast,
    out.table, out.summary, out.normalized, out.vst, threads=snakemake.threads,
    cell_type=snakemake.params.cell_type)
