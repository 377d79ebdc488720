import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.ingest import run_ingest
from lsecflow.snake import run

run(snakemake, run_ingest, snakemake.params.dataset, snakemake.output[0])
