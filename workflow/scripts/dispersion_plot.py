import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.qc_plots import run_dispersion_plot
from lsecflow.snake import run

run(snakemake, run_dispersion_plot, snakemake.input.table, snakemake.params.dataset, snakemake.output.dispersion_png,
    cell_type=snakemake.params.cell_type)
