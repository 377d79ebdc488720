import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.de_files import OUTPUT_KINDS, lrt_files
from lsecflow.de_voom import run_de_voom
from lsecflow.snake import run

out = snakemake.output
outputs = {c: {k: out[f"{k}_{i}"] for k in OUTPUT_KINDS} for i, c in enumerate(snakemake.params.contrasts)}
weights = out.sample_weights if "sample_weights" in out.keys() else None
run(snakemake, run_de_voom, snakemake.input.counts, snakemake.params.dataset, outputs, lrt=lrt_files(out),
    cell_type=snakemake.params.cell_type, sample_weights=weights)
