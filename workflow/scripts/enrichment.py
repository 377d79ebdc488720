import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.enrichment import run_enrichment
from lsecflow.snake import run

out = snakemake.output
outputs = {c: {"gsea": out[f"gsea_{i}"], "ora": out[f"ora_{i}"]} for i, c in enumerate(snakemake.params.collections)}
run(snakemake, run_enrichment, snakemake.input.table, snakemake.params.dataset, outputs, threads=snakemake.threads,
    seed=snakemake.params.seed)
