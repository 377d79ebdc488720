import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.qc_cells import run_qc_single_cell
from lsecflow.snake import run

out, par = snakemake.output, snakemake.params
run(snakemake, run_qc_single_cell, snakemake.input.counts, par.dataset, snakemake.input.markers,
    {k: out[k] for k in ("cells", "clusters", "verdict")}, {k: out[f"{k}_png"] for k in par.figure_kinds},
    seed=par.seed, gpu=par.gpu, chunk=par.chunk)
