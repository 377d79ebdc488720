# The table of contents of a run: validation at parse time, then the targets the
# config asks for, the units of work, and the inputs and output names of the rules.
#
# Parse-time validation and target derivation. Everything in the config, the
# dataset files, the sample sheets and the count-matrix headers is checked
# here, before any job runs; a problem stops the run with one message naming
# the file, key, sample or level at fault.
import re
import sys
from pathlib import Path

# the repository (this file is workflow/rules/common.smk): shipped resources and the lsecflow package are
# found here also when lsecflow is used as a Snakemake module from another folder (workflow.basedir is then
# the importing workflow's folder)
REPO_ROOT = Path(workflow.current_basedir).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "workflow"))

from lsecflow.config import load_config
from lsecflow.contrasts import short as contrast_title
from lsecflow.de_options import de_engine
from lsecflow.digests import DigestCache, content_digests
from lsecflow.rule_params import RULE_SPEC_KEYS
from lsecflow.errors import LsecflowError
from lsecflow.job_resources import h5ad_shape, single_cell_qc_mb, single_cell_qc_minutes, single_cell_qc_threads


def _config_source():
    # relative to the run folder when inside it: the name reaches ingest's parameters, and a copied run
    # must not plan anything (relocatable runs)
    cwd = Path.cwd().resolve()
    files = [
        str(Path(f).resolve().relative_to(cwd)) if Path(f).resolve().is_relative_to(cwd) else str(f)
        for f in getattr(workflow, "configfiles", [])
    ]
    return ", ".join(files) if files else "config"


try:
    LSEC = load_config(
        config,
        roots=[Path.cwd(), REPO_ROOT],
        source=_config_source(),
        files=getattr(workflow, "configfiles", []),
    )
except LsecflowError as exc:
    raise WorkflowError(f"lsecflow: {exc}") from None


RESULTS = LSEC.results

if "--unlock" in sys.argv:  # `make unlock`: also the results folder's lock of a killed run (lsecflow.lock)
    from lsecflow.lock import clear

    _holder = clear(RESULTS)
    if _holder:
        print(f"lsecflow: removed the lock of results folder {RESULTS} left by {_holder}", file=sys.stderr)

# compute.gpu: auto | true | false (lsecflow.gpu decides inside each job, on its node).
# Only `true` asks the scheduler for a GPU (gpu=1; the SLURM plugin submits it as --gpus=1)
# and uses envs/gpu.yaml; auto uses the core env and a GPU only if one is there.
GPU_SETTING = LSEC.config["compute"]["gpu"]
GPU_REQUEST = 1 if GPU_SETTING is True else 0
SC_ENV = "../../envs/gpu.yaml" if GPU_SETTING is True else "../../envs/core.yaml"
DATASETS = LSEC.datasets


# --- where every output goes: each pattern is written here once; rules, targets, input functions and the
# report layout all build their paths with out() (the output contract: docs/output.md)
PATHS = {
    "counts": "{dataset}/counts.h5ad",
    "qc": "{dataset}/qc/",  # + samples.tsv, cells.tsv, verdict.json, <figure>.<ext> ...
    "pseudobulk": "{dataset}/de/pseudobulk",  # + .h5ad, _samples.tsv
    "composition": "{dataset}/composition/",  # + propeller.tsv, cells.tsv, proportions.<ext>
    "de": "{dataset}/de/{unit}",  # + DE_OUTPUT_SUFFIXES; {unit} = <contrast> or <cell_type>/<contrast>
    "enrichment": "{dataset}/enrichment/{unit}/{collection}",  # + .gsea.tsv, .ora.tsv
    "unit_figures": "{dataset}/figures/{unit}.",  # + <kind>.<ext>, <collection>.<kind>.<ext>
    "dataset_figures": "{dataset}/figures/",  # + paracrine_receivers.<ext>
    "paracrine": "{dataset}/paracrine/{unit}",  # + .candidates.tsv, .pairs.tsv
    "receivers": "{dataset}/paracrine/",  # + receivers.tsv, expression.tsv.gz
    "provenance": "provenance/",
    "report": "report.html",
}
# the files of one DE unit (PATHS["de"] + suffix)
DE_OUTPUT_SUFFIXES = {
    "table": ".tsv",
    "summary": ".summary.tsv",
    "normalized": ".normalized_counts.tsv.gz",
    "vst": ".vst.tsv.gz",
    "loo": ".loo.tsv",  # leave-one-out refits of the significant paracrine factors
}


def out(key, suffix="", **values):
    """The path of output ``key`` (PATHS) plus ``suffix``, under the results folder, with the wildcards
    given in ``values`` filled in and the others left as {wildcards} for Snakemake."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), f"{RESULTS}/{PATHS[key]}{suffix}")


PROVENANCE = {
    "versions": out("provenance", "versions.tsv"),
    "inputs": out("provenance", "inputs.sha256.tsv"),
    "config": out("provenance", "config.resolved.yaml"),
}
REPORT = out("report")


FIGURE_FORMATS = LSEC.config["figures"]["formats"]

# The figures each drawing rule writes, by group (rules, targets and the report all read these lists).
FIGURE_KINDS = {
    "qc_bulk": ["metrics", "correlation", "pca", "purity", "mean_variance"],
    "qc_proteomics": ["missing", "intensities", "correlation", "pca", "variance"],
    "qc_single_cell": ["cell_qc", "umap", "purity"],
    "pseudobulk": ["pseudobulk"],  # <dataset>/qc/pseudobulk.<ext>: cells per (sample, cell type) sum
    "composition": ["proportions"],  # <dataset>/composition/proportions.<ext>: cell-type proportions, propeller
    "de": ["volcano", "ma", "heatmap", "genes"],
    "de_fit": ["dispersion"],  # one per DESeq2 / edgeR fit: <dataset>/de/[<cell type>/]design.dispersion.<ext>
    "enrichment": ["gsea_dotplot", "running_scores", "leading_edge"],
    "receivers": ["paracrine_receivers"],
    "paracrine": ["paracrine_candidates", "paracrine_pairs"],
}
# single-cell QC's purity figure has its own caption; proteomics QC its PCA and correlation (intensities, not VST)
SC_QC_CAPTIONS = {"purity": "sc_purity"}
PROTEOMICS_QC_CAPTIONS = {"pca": "pca_proteomics", "correlation": "correlation_proteomics"}
# the engines whose fits get a dispersion file and plot (DESeq2's plotDispEsts; edgeR's plotBCV + plotQLDisp,
# captioned as such)
DISPERSION_ENGINES = ("deseq2", "edger")


def fit_captions(name):
    """caption_of for a dataset's fit figures: edgeR's dispersion plot has its own caption."""
    return {"dispersion": "ql_dispersion"} if de_engine(DATASETS[name].spec) == "edger" else None


# Figure kind -> caption file in workflow/report/ (used by Snakemake's --report and by lsecflow's own report).
CAPTIONS = {
    "metrics": "qc_metrics",
    "correlation": "qc_correlation",
    "pca": "qc_pca",
    "pca_proteomics": "qc_pca_proteomics",
    "correlation_proteomics": "qc_correlation_proteomics",
    "purity": "qc_purity",
    "cell_qc": "qc_cells",
    "missing": "qc_missing",
    "intensities": "qc_intensities",
    "variance": "qc_variance",
    "mean_variance": "qc_mean_variance",
    "umap": "qc_umap",
    "pseudobulk": "qc_pseudobulk",
    "proportions": "composition_proportions",
    "sc_purity": "qc_sc_purity",
    "volcano": "de_volcano",
    "ma": "de_ma",
    "heatmap": "de_heatmap",
    "genes": "de_genes",
    "dispersion": "de_dispersion",
    "ql_dispersion": "de_ql_dispersion",
    "gsea_dotplot": "enrichment_dotplot",
    "running_scores": "enrichment_running_scores",
    "leading_edge": "enrichment_leading_edge",
    "paracrine_candidates": "paracrine_candidates",
    "paracrine_pairs": "paracrine_pairs",
    "paracrine_receivers": "paracrine_receivers",
}


# --- targets: everything the config asks for (the output contract: docs/output.md) ----------------


def all_targets():
    """Every output the config asks for (the output contract: docs/output.md)."""
    targets = []
    for name in DATASETS:
        targets.append(out("counts", dataset=name))
        targets.append(out("qc", "verdict.json", dataset=name))
        if DATASETS[name].assay == "single_cell":
            targets += [out("qc", f"{kind}.png", dataset=name) for kind in FIGURE_KINDS["pseudobulk"]]
        if composition_on(name):
            targets += [out("composition", "propeller.tsv", dataset=name)]
            targets += [out("composition", f"{kind}.png", dataset=name) for kind in FIGURE_KINDS["composition"]]
        targets += de_targets(name)
        targets += paracrine_targets(name)
    if LSEC.config["report"]:
        targets.append(REPORT)
    return targets


def composition_on(name):
    """Whether a dataset's cell-type proportions are tested (single-cell, ``composition.enabled``)."""
    ds = DATASETS[name]
    return ds.assay == "single_cell" and ds.spec["composition"]["enabled"]


def de_targets(name):
    """DE tables and figures of a dataset, one set per unit."""
    tables = expand(out("de", DE_OUTPUT_SUFFIXES["table"], dataset=name), unit=de_units(name))
    if DATASETS[name].spec["de"]["test"] == "lrt":
        tables += [out("de", ".lrt.tsv", dataset=name, unit=u) for u in design_units(name)]
    figures = expand(out("unit_figures", "{kind}.png", dataset=name), unit=de_units(name), kind=FIGURE_KINDS["de"])
    if de_engine(DATASETS[name].spec) in DISPERSION_ENGINES:
        figures += [out("de", ".dispersion.png", dataset=name, unit=u) for u in design_units(name)]
    enrichment = expand(
        out("enrichment", ".gsea.tsv", dataset=name),
        unit=de_units(name),
        collection=list(collections(name)),
    )
    enrichment_figures = expand(
        out("unit_figures", "{collection}.gsea_dotplot.png", dataset=name),
        unit=de_units(name),
        collection=list(collections(name)),
    )
    return tables + figures + enrichment + enrichment_figures


def paracrine_targets(name):
    """Paracrine tables and figures of a dataset."""
    units = paracrine_units(name)
    targets = expand(out("paracrine", ".candidates.tsv", dataset=name), unit=units)
    targets += expand(out("unit_figures", "{kind}.png", dataset=name), unit=units, kind=FIGURE_KINDS["paracrine"])
    if units and DATASETS[name].assay == "single_cell":
        targets += [out("dataset_figures", f"{kind}.png", dataset=name) for kind in FIGURE_KINDS["receivers"]]
    return targets


# --- units of work: DE fits and units, paracrine units --------------------------------------------


def de_units(name):
    """DE units of a dataset: <contrast> (bulk, proteomics) or <cell_type>/<contrast>."""
    ds = DATASETS[name]
    if ds.assay != "single_cell":
        return list(ds.contrasts)
    return [f"{ct}/{c}" for ct in ds.cell_types for c in ds.contrasts]


def fit_units(name):
    """DE fits of a dataset: one (bulk, proteomics) or one per cell type (pseudobulk)."""
    return [""] if DATASETS[name].assay != "single_cell" else list(DATASETS[name].cell_types)


def design_units(name):
    """The ``{unit}`` of each DE fit's own files (design.lrt.tsv, design.dispersions.tsv.gz, ...): ``design``
    or ``<cell type>/design``, in fit_units' order."""
    return [f"{f}/design" if f else "design" for f in fit_units(name)]


def paracrine_units(name):
    """DE units that get a paracrine table: every bulk or proteomics contrast; the sender's units for
    single-cell data."""
    ds = DATASETS[name]
    if not ds.spec["paracrine"]["enabled"]:
        return []
    if ds.assay != "single_cell":
        return de_units(name)
    sender = next(slug for slug, label in ds.cell_types.items() if label == ds.spec["paracrine"]["sender"])
    return [f"{sender}/{c}" for c in ds.contrasts]


def unit_contrast(wildcards):
    """Contrast name of a DE unit."""
    return wildcards.unit.rpartition("/")[2]


def unit_cell_type(wildcards):
    """Cell-type folder of a DE unit (None for bulk)."""
    return wildcards.unit.rpartition("/")[0] or None


def fit_cell_type(wildcards):
    """Cell-type folder of a DE fit (None for bulk)."""
    return getattr(wildcards, "cell_type", None)


NEVER = "(?!x)x"  # a wildcard pattern that matches nothing
BULK_DATASETS = "|".join(re.escape(n) for n, d in DATASETS.items() if d.assay == "bulk") or NEVER
SC_DATASETS = "|".join(re.escape(n) for n, d in DATASETS.items() if d.assay == "single_cell") or NEVER
PROTEOMICS_DATASETS = "|".join(re.escape(n) for n, d in DATASETS.items() if d.assay == "proteomics") or NEVER
ALL_UNITS = sorted({u for name in DATASETS for u in de_units(name)})


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)),
    unit="|".join(map(re.escape, ALL_UNITS)),
    cell_type="|".join(sorted({re.escape(c) for d in DATASETS.values() for c in d.cell_types})) or NEVER,


# --- rule parameters and inputs -------------------------------------------------------------------


DIGESTS = DigestCache()


def content_of(*sources):
    """Params function for the jobs that read user or resource files -- their sha256 (lsecflow.digests), so an
    edited sheet, matrix or GMT reruns what depends on it even with an old mtime (cp -p, rsync -a).

    ``sources``: paths, lists or dicts of paths, or functions of the wildcards returning one (the rule's
    input functions). A function of the wildcards, not of ``input``: Snakemake ignores parameters
    derived from the input when it decides what to rerun.
    """

    def flatten(value):
        if isinstance(value, dict):
            return [p for v in value.values() for p in flatten(v)]
        if isinstance(value, (list, tuple)):
            return [p for v in value for p in flatten(v)]
        return [value]

    def params(wildcards):
        paths = [p for src in sources for p in flatten(src(wildcards) if callable(src) else src)]
        return content_digests(paths, RESULTS, DIGESTS)

    return params


def rule_params(rule_name):
    """Params function for ``rule_name``: the dataset's validated spec cut to the keys that rule reads.

    The keys are listed in lsecflow.rule_params.RULE_SPEC_KEYS, so a config edit
    changes (and reruns) only the jobs that read the edited key.
    """
    if rule_name not in RULE_SPEC_KEYS:
        raise WorkflowError(f"rule_params: no RULE_SPEC_KEYS entry for rule {rule_name!r}")
    return lambda wildcards: DATASETS[wildcards.dataset].params(rule=rule_name)


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
    if ds.spec["counts"].get("tx2gene"):
        inputs["tx2gene"] = ds.spec["counts"]["tx2gene"]
    return inputs


def pseudobulk_inputs(wildcards):
    """Counts, plus the per-cell QC table when failing cells are left out."""
    inputs = {"counts": out("counts", dataset=wildcards.dataset)}
    if DATASETS[wildcards.dataset].spec["qc"]["filter_cells"]:
        inputs["cells_qc"] = out("qc", "cells.tsv", dataset=wildcards.dataset)
    return inputs


def de_counts(wildcards):
    """Counts a DE job reads: the dataset's counts (intensities), or its pseudobulk."""
    if DATASETS[wildcards.dataset].assay != "single_cell":
        return out("counts", dataset=wildcards.dataset)
    return out("pseudobulk", ".h5ad", dataset=wildcards.dataset)


def paracrine_receiver_inputs(wildcards):
    """The pseudobulk inputs (counts, per-cell QC when used) plus the annotation tables."""
    par = DATASETS[wildcards.dataset].spec["paracrine"]
    return {**pseudobulk_inputs(wildcards), "pairs": par["pairs"], "factors": par["factors"]}


def paracrine_inputs(wildcards):
    """DE table, normalised counts, annotation, and the receivers' expression (tables or cell types)."""
    ds = DATASETS[wildcards.dataset]
    par = ds.spec["paracrine"]
    inputs = {
        "table": out("de", DE_OUTPUT_SUFFIXES["table"], dataset=wildcards.dataset, unit=wildcards.unit),
        "normalized": out("de", DE_OUTPUT_SUFFIXES["normalized"], dataset=wildcards.dataset, unit=wildcards.unit),
        "factors": par["factors"],
        "pairs": par["pairs"],
    }
    inputs["counts"] = de_counts(wildcards)
    for kind in ("vst", "loo"):
        inputs[kind] = out("de", DE_OUTPUT_SUFFIXES[kind], dataset=wildcards.dataset, unit=wildcards.unit)
    inputs["signatures"] = par["contamination"]["signatures"]
    inputs["sources"] = par["sources"]
    if par.get("source_reference"):
        inputs["source_reference"] = par["source_reference"]["expression"]
    if ds.assay != "single_cell":
        inputs["receivers"] = list(par["receivers"].values())
    else:
        inputs["expression"] = out("receivers", "expression.tsv.gz", dataset=wildcards.dataset)
    return inputs


# --- output names ---------------------------------------------------------------------------------


def de_fit_outputs(name):
    """Named outputs of one DE fit: table, summary, normalised counts and VST of every contrast
    (``<kind>_<i>``, i = the contrast's position in the config), the LRT's table and summary, voom's
    sample weights (``de.sample_weights``), limma's block correlation (``de.block``) and DESeq2's dispersion
    table (``dispersions``)."""
    cell = "" if DATASETS[name].assay != "single_cell" else "{cell_type}/"
    outs = {
        f"{kind}_{i}": out("de", suffix, unit=f"{cell}{contrast}")
        for i, contrast in enumerate(DATASETS[name].contrasts)
        for kind, suffix in DE_OUTPUT_SUFFIXES.items()
    }
    if DATASETS[name].spec["de"]["test"] == "lrt":
        outs["lrt_table"] = out("de", ".lrt.tsv", unit=f"{cell}design")
        outs["lrt_summary"] = out("de", ".lrt.summary.tsv", unit=f"{cell}design")
    if DATASETS[name].spec["de"].get("sample_weights"):
        outs["sample_weights"] = out("de", ".sample_weights.tsv", unit=f"{cell}design")
    if DATASETS[name].spec["de"].get("block"):  # limma's within-block correlation
        outs["block"] = out("de", ".block.tsv", unit=f"{cell}design")
    if (
        de_engine(DATASETS[name].spec) in DISPERSION_ENGINES
    ):  # what the fit's dispersion plot draws (dispersion_plot_<dataset>)
        outs["dispersions"] = out("de", ".dispersions.tsv.gz", unit=f"{cell}design")
    return outs


def dispersion_plot_outputs(name):
    """Named outputs of a dataset's dispersion plots: ``dispersion_<ext>_<i>`` for its i-th fit (fit_units)."""
    outs = {}
    for i, unit in enumerate(design_units(name)):
        files = figure_files(out("de", ".", unit=unit), FIGURE_KINDS["de_fit"], "DE", fit_captions(name))
        outs.update({f"{key}_{i}": path for key, path in files.items()})
    return outs


def de_fit_log(name):
    """Log of one DE fit: logs/de/<dataset>.log, or logs/de/<dataset>/<cell_type>.log."""
    return "logs/de/{dataset}.log" if DATASETS[name].assay != "single_cell" else "logs/de/{dataset}/{cell_type}.log"


def dataset_rule_name(step, name):
    """Name of the rule a loop makes for one dataset, <step>_<dataset>; characters other than letters,
    digits and _ as _ (de_dlpc_liver, enrichment_dlpc_liver, figures_dlpc_liver)."""
    return f"{step}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"


def collections(name):
    """A dataset's gene-set collections, name -> GMT file, in the order they run."""
    return DATASETS[name].spec["enrichment"]["files"]


def enrichment_outputs(name):
    """Named outputs of one enrichment job (a DE unit): ``gsea_<i>`` and ``ora_<i>`` of every collection
    (i = the collection's position in collections())."""
    outs = {}
    for i, c in enumerate(collections(name)):
        outs[f"gsea_{i}"] = out("enrichment", ".gsea.tsv", collection=c)
        outs[f"ora_{i}"] = out("enrichment", ".ora.tsv", collection=c)
    return outs


def unit_figure_outputs(name):
    """Named outputs of one DE unit's figure job: ``<kind>_<ext>`` of the DE figures and
    ``<kind>_<ext>_<i>`` of collection i's enrichment figures."""
    prefix = out("unit_figures")
    outs = figure_files(prefix, FIGURE_KINDS["de"], "DE")
    for i, c in enumerate(collections(name)):
        enrichment = figure_files(f"{prefix}{c}.", FIGURE_KINDS["enrichment"], "Enrichment")
        outs.update({f"{key}_{i}": path for key, path in enrichment.items()})
    return outs


def figure_files(prefix, kinds, category, caption_of=None):
    """Named outputs ``<prefix><kind>.<ext>``: one per figure kind and configured format (figures.formats).

    The PNG is registered for Snakemake's report with the kind's caption.
    ``caption_of`` maps a kind to its CAPTIONS key when the two differ.
    """
    outs = {}
    for kind in kinds:
        for ext in FIGURE_FORMATS:
            path = f"{prefix}{kind}.{ext}"
            key = (caption_of or {}).get(kind, kind)
            if ext == "png":
                path = report(path, caption=f"../report/{CAPTIONS[key]}.rst", category=category, subcategory="{dataset}")
            outs[f"{kind}_{ext}"] = path
    return outs
