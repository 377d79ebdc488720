import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.figures import run_figures
from lsecflow.snake import run

out, inp, par = snakemake.output, snakemake.input, snakemake.params
collections = par.collections
run(snakemake, run_figures, inp.table, inp.vst, inp.counts, dict(zip(collections, inp.gsea)), par.dataset,
    par.contrast, {k: out[f"{k}_png"] for k in par.de_kinds},
    {c: {k: out[f"{k}_png_{i}"] for k in par.enrichment_kinds} for i, c in enumerate(collections)},
    cell_type=par.cell_type)
