import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.de import run_de
from lsecflow.de_files import OUTPUT_KINDS
from lsecflow.snake import run

out = snakemake.output
outputs = {c: {k: out[f"{k}_{i}"] for k in OUTPUT_KINDS} for i, c in enumerate(snakemake.params.contrasts)}
lrt = {"table": out.lrt_table, "summary": out.lrt_summary} if "lrt_table" in out.keys() else None
run(snakemake, run_de, snakemake.input.counts, snakemake.params.dataset, outputs, lrt=lrt,
    cell_type=snakemake.params.cell_type,
    dispersions=out.dispersions if "dispersions" in out.keys() else None)
