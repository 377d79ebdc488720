import sys, pathlib; sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))  # noqa: E401,E702
from lsecflow.provenance import run_provenance
from lsecflow.snake import run

run(snakemake, run_provenance, snakemake.params.resolved, snakemake.output.versions, snakemake.output.config,
    snakemake.output.inputs, snakemake.params.manifest,
    env_dir=snakemake.params.envs)
