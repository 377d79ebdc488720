# lsecflow: LSEC omics from raw counts to paracrine factors.
# Run with `make run` (see README.md); config/config.yaml is the default.
import os

from snakemake.utils import min_version

min_version("9.0")


# config/config.yaml is the default. A config that lists datasets (--configfile, or a module's
# `config:`) replaces it instead of being merged into it, so only the datasets it lists run; a
# config without `datasets:` (e.g. --config report=false) still extends the default.
if "datasets" not in config:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/report_layout.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/de.smk"
include: "workflow/rules/enrichment.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/paracrine.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# One results folder, one run (lsecflow.lock): taken when the jobs start, released when the run ends;
# `make unlock` (snakemake --unlock) clears one left by a killed run (common.smk).
onstart:
    from lsecflow.lock import acquire

    try:
        acquire(RESULTS, Path.cwd())
    except LsecflowError as exc:
        raise WorkflowError(f"lsecflow: {exc}") from None


onerror:
    from lsecflow.lock import release

    release(RESULTS)


onsuccess:
    from lsecflow.lock import release

    release(RESULTS)
    # the summary of results, printed by the workflow itself (also for cluster runs and, chained below, when
    # lsecflow is a module); `make run` prints it after Snakemake instead, also when there was nothing to do
    if not os.environ.get("LSECFLOW_SUMMARY_BY_MAKE"):
        from lsecflow.summary import summarize_results

        print(summarize_results(config, Path.cwd()))


# As a module (`module lsecflow: ...` + `use rule * from lsecflow`), Snakemake would run none of the three
# handlers above: they are chained to the importer's here, so the lock and the summary work there too.
if not workflow.modifier.is_main_snakefile():
    from lsecflow.snake import chain_handlers

    chain_handlers(workflow, onstart=onstart.func, onsuccess=onsuccess.func, onerror=onerror.func)
