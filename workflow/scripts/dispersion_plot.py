import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.qc_plots import run_dispersion_plot
from lsecflow.snake import run

cell_types = snakemake.params.cell_types
run(snakemake, run_dispersion_plot, list(snakemake.input.tables), snakemake.params.dataset,
    [snakemake.output[f"dispersion_png_{i}"] for i in range(len(cell_types))], cell_types)
