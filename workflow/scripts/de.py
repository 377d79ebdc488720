import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.de import run_de
from lsecflow.de_files import OUTPUT_KINDS, lrt_files
from lsecflow.snake import run

out = snakemake.output
outputs = {c: {k: out[f"{k}_{i}"] for k in OUTPUT_KINDS} for i, c in enumerate(snakemake.params.contrasts)}
run(snakemake, run_de, snakemake.input.counts, snakemake.params.dataset, outputs, lrt=lrt_files(out),
    cell_type=snakemake.params.cell_type,
    dispersions=out.dispersions if "dispersions" in out.keys() else None)
