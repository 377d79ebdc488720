import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.paracrine import run_paracrine
from lsecflow.snake import run

out, par = snakemake.output, snakemake.params
run(snakemake, run_paracrine, snakemake.input.table, snakemake.input.normalized, par.dataset, par.contrast,
    out.candidates, out.pairs, {k: out[f"{k}_png"] for k in par.figure_kinds},
    checks={"counts": snakemake.input.counts, "loo": snakemake.input.loo, "vst": snakemake.input.vst,
            "robustness": out.robustness, "contamination": out.contamination},
    expression=snakemake.input.get("expression"), cell_type=par.cell_type)
