import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.receivers import run_paracrine_receivers
from lsecflow.snake import run

out = snakemake.output
run(snakemake, run_paracrine_receivers, snakemake.input.counts, snakemake.params.dataset, out.scores,
    out.expression, out.paracrine_receivers_png, cells_qc=snakemake.input.get("cells_qc"),
    seed=snakemake.params.seed)
