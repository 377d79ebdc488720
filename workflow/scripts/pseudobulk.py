import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.pseudobulk import run_pseudobulk
from lsecflow.snake import run

run(snakemake, run_pseudobulk, snakemake.input.counts, snakemake.params.dataset, snakemake.output.h5ad,
    snakemake.output.table, cells_qc=snakemake.input.get("cells_qc"),
    chunk_size=snakemake.params.chunk, gpu=snakemake.params.gpu)
