import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.pseudobulk_plots import run_pseudobulk_figure
from lsecflow.snake import run

run(snakemake, run_pseudobulk_figure, snakemake.input.table, snakemake.input.sheet, snakemake.params.dataset,
    snakemake.output.pseudobulk_png)
