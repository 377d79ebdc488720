import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.paracrine import run_paracrine
from lsecflow.snake import run

run(snakemake, run_paracrine, snakemake.input.table, snakemake.input.normalized, snakemake.params.dataset,
    snakemake.params.contrast, snakemake.output.candidates, snakemake.output.pairs,
    expression=snakemake.input.get("expression"), cell_type=snakemake.params.cell_type)
