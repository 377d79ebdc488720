import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.composition import run_composition
from lsecflow.snake import run

run(snakemake, run_composition, snakemake.input.counts, snakemake.params.dataset, snakemake.output.table,
    snakemake.output.cells, snakemake.output.proportions_png, cells_qc=snakemake.input.get("cells_qc"))
