import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.enrichment import run_enrichment
from lsecflow.snake import run

run(snakemake, run_enrichment, snakemake.input.table, snakemake.params.dataset, snakemake.wildcards.collection,
    snakemake.output.gsea, snakemake.output.ora, threads=snakemake.threads, seed=snakemake.params.seed)
