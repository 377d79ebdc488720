import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.de_engines import run_de_job
from lsecflow.de_files import OUTPUT_KINDS, lrt_files
from lsecflow.snake import run

out, par = snakemake.output, snakemake.params
outputs = {c: {k: out[f"{k}_{i}"] for k in OUTPUT_KINDS} for i, c in enumerate(par.contrasts)}
optional = {k: out[k] for k in ("sample_weights", "dispersions", "block") if k in out.keys()}
run(snakemake, run_de_job, snakemake.input.counts, par.dataset, outputs, lrt=lrt_files(out), cell_type=par.cell_type,
    seed=par.seed, **optional)
