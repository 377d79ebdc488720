# Parse-time validation and target derivation. Everything in the config, the
# dataset files, the sample sheets and the count-matrix headers is checked
# here, before any job runs; a problem stops the run with one message naming
# the file, key, sample or level at fault.
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from lsecflow.config import load_config
from lsecflow.errors import LsecflowError


def _config_source():
    files = [str(f) for f in getattr(workflow, "configfiles", [])]
    return ", ".join(files) if files else "config"


try:
    LSEC = load_config(config, roots=[Path.cwd(), Path(workflow.basedir)], source=_config_source())
except LsecflowError as exc:
    raise WorkflowError(f"lsecflow: {exc}") from None

RESULTS = LSEC.results
DATASETS = LSEC.datasets


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)) if DATASETS else "^$",
    contrast=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    cell_type=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


def dataset_params(wildcards):
    """Validated spec of one dataset, handed to its scripts."""
    return DATASETS[wildcards.dataset].params()


def ingest_inputs(wildcards):
    """The files ingest reads: counts (file, folder or several), sheet, annotation."""
    ds = DATASETS[wildcards.dataset]
    paths = ds.spec["counts"]["path"]
    inputs = {
        "counts": list(paths.values()) if isinstance(paths, dict) else paths,
        "sheet": ds.spec["samples"]["sheet"],
    }
    if ds.annotation:
        inputs["annotation"] = ds.annotation
    return inputs


def de_targets(name):
    """DE tables of a dataset: per contrast (bulk) or per cell type and contrast."""
    ds = DATASETS[name]
    if ds.assay == "bulk":
        return expand(f"{RESULTS}/{name}/de/{{contrast}}.tsv", contrast=ds.contrasts)
    return expand(
        f"{RESULTS}/{name}/de/{{cell_type}}/{{contrast}}.tsv",
        cell_type=ds.cell_types,
        contrast=ds.contrasts,
    )


def all_targets():
    """Every output the config asks for (see the output contract in README.md)."""
    targets = []
    for name in DATASETS:
        targets.append(f"{RESULTS}/{name}/counts.h5ad")
        targets += de_targets(name)
    return targets
