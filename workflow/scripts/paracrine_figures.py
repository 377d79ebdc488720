import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.paracrine_plots import run_paracrine_figures
from lsecflow.snake import run

run(snakemake, run_paracrine_figures, snakemake.input.candidates, snakemake.input.pairs, snakemake.params.dataset,
    snakemake.params.contrast, snakemake.params.stem, cell_type=snakemake.params.cell_type)
