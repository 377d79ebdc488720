import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.ingest import ingest
from lsecflow.snake import run

run(snakemake, ingest, snakemake.params.dataset, snakemake.output[0])
