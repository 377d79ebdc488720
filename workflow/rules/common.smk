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


def de_units(name):
    """DE units of a dataset: <contrast> (bulk) or <cell_type>/<contrast>."""
    ds = DATASETS[name]
    if ds.assay == "bulk":
        return list(ds.contrasts)
    return [f"{ct}/{c}" for ct in ds.cell_types for c in ds.contrasts]


NEVER = "(?!x)x"  # a wildcard pattern that matches nothing
BULK_DATASETS = "|".join(re.escape(n) for n, d in DATASETS.items() if d.assay == "bulk") or NEVER
SC_DATASETS = "|".join(re.escape(n) for n, d in DATASETS.items() if d.assay != "bulk") or NEVER
ALL_UNITS = sorted({u for name in DATASETS for u in de_units(name)})


ALL_COLLECTIONS = sorted({c for d in DATASETS.values() for c in d.spec["enrichment"]["files"]})


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)),
    collection="|".join(map(re.escape, ALL_COLLECTIONS)) or NEVER,
    unit="|".join(map(re.escape, ALL_UNITS)),


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


def unit_contrast(wildcards):
    """Contrast name of a DE unit."""
    return wildcards.unit.rpartition("/")[2]


def unit_cell_type(wildcards):
    """Cell-type folder of a DE unit (None for bulk)."""
    return wildcards.unit.rpartition("/")[0] or None


def pseudobulk_inputs(wildcards):
    """Counts, plus the per-cell QC table when failing cells are left out."""
    inputs = {"counts": f"{RESULTS}/{wildcards.dataset}/counts.h5ad"}
    if DATASETS[wildcards.dataset].spec["qc"]["filter_cells"]:
        inputs["cells_qc"] = f"{RESULTS}/{wildcards.dataset}/qc/cells.tsv"
    return inputs


def de_counts(wildcards):
    """Counts a DE job reads: the dataset's counts, or its pseudobulk."""
    if DATASETS[wildcards.dataset].assay == "bulk":
        return f"{RESULTS}/{wildcards.dataset}/counts.h5ad"
    return f"{RESULTS}/{wildcards.dataset}/de/pseudobulk.h5ad"


def de_targets(name):
    """DE tables and figures of a dataset, one set per unit."""
    tables = expand(f"{RESULTS}/{name}/de/{{unit}}.tsv", unit=de_units(name))
    figures = expand(f"{RESULTS}/{name}/figures/{{unit}}.{{kind}}.png", unit=de_units(name),
                     kind=["volcano", "ma", "heatmap"])
    enrichment = expand(f"{RESULTS}/{name}/enrichment/{{unit}}/{{collection}}.gsea.tsv", unit=de_units(name),
                        collection=list(DATASETS[name].spec["enrichment"]["files"]))
    enrichment_figures = expand(f"{RESULTS}/{name}/figures/{{unit}}.{{collection}}.gsea_dotplot.png",
                                unit=de_units(name), collection=list(DATASETS[name].spec["enrichment"]["files"]))
    return tables + figures + enrichment + enrichment_figures


def paracrine_units(name):
    """DE units that get a paracrine table: every bulk contrast; the sender's units for single-cell data."""
    ds = DATASETS[name]
    if not ds.spec["paracrine"]["enabled"]:
        return []
    if ds.assay == "bulk":
        return de_units(name)
    sender = next(slug for slug, label in ds.cell_types.items() if label == ds.spec["paracrine"]["sender"])
    return [f"{sender}/{c}" for c in ds.contrasts]


def paracrine_receiver_inputs(wildcards):
    """The pseudobulk inputs (counts, per-cell QC when used) plus the annotation tables."""
    par = DATASETS[wildcards.dataset].spec["paracrine"]
    return {**pseudobulk_inputs(wildcards), "pairs": par["pairs"], "factors": par["factors"]}


def paracrine_inputs(wildcards):
    """DE table, normalised counts, annotation, and the receivers' expression (tables or cell types)."""
    ds = DATASETS[wildcards.dataset]
    par = ds.spec["paracrine"]
    base = f"{RESULTS}/{wildcards.dataset}/de/{wildcards.unit}"
    inputs = {"table": f"{base}.tsv", "normalized": f"{base}.normalized_counts.tsv.gz",
              "factors": par["factors"], "pairs": par["pairs"]}
    if ds.assay == "bulk":
        inputs["receivers"] = list(par["receivers"].values())
    else:
        inputs["expression"] = f"{RESULTS}/{wildcards.dataset}/paracrine/expression.tsv.gz"
    return inputs


def paracrine_targets(name):
    """Paracrine tables and figures of a dataset."""
    units = paracrine_units(name)
    targets = expand(f"{RESULTS}/{name}/paracrine/{{unit}}.candidates.tsv", unit=units)
    targets += expand(f"{RESULTS}/{name}/figures/{{unit}}.paracrine_{{kind}}.png", unit=units,
                      kind=["candidates", "pairs"])
    if units and DATASETS[name].assay != "bulk":
        targets.append(f"{RESULTS}/{name}/figures/paracrine_receivers.png")
    return targets


def qc_figures(kinds):
    """report()-wrapped PNG + SVG outputs of the QC figures of one dataset."""
    outs = {}
    for kind, caption in kinds.items():
        for ext in ("png", "svg"):
            outs[f"{kind}_{ext}"] = report(
                f"{RESULTS}/{{dataset}}/qc/{kind}.{ext}",
                caption=f"../report/{caption}.rst",
                category="QC",
                subcategory="{dataset}",
            )
    return outs


def all_targets():
    """Every output the config asks for (see the output contract in README.md)."""
    targets = []
    for name in DATASETS:
        targets.append(f"{RESULTS}/{name}/counts.h5ad")
        targets.append(f"{RESULTS}/{name}/qc/verdict.json")
        targets += de_targets(name)
        targets += paracrine_targets(name)
    return targets
