import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.report import run_report
from lsecflow.snake import run

run(snakemake, run_report, snakemake.params.manifest, snakemake.params.resolved,
    {k: snakemake.input[k] for k in ("versions", "inputs", "config")}, snakemake.output[0],
    snakemake.params.captions, snakemake.params.logs)
