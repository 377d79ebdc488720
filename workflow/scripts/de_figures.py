import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.de import run_de_figures
from lsecflow.snake import run

run(snakemake, run_de_figures, snakemake.input.table, snakemake.input.vst, snakemake.input.counts,
    snakemake.params.dataset, snakemake.params.contrast, snakemake.params.stem,
    cell_type=snakemake.params.cell_type)
