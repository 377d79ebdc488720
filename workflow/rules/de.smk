# A DE "unit" is <contrast> for bulk data and <cell_type>/<contrast> for
# single-cell data (pseudobulk per cell type); see de_units() in common.smk.


rule pseudobulk:
    """Sum raw counts per (sample, cell type); report the groups dropped."""
    input:
        unpack(pseudobulk_inputs),
    output:
        h5ad=out("pseudobulk", ".h5ad"),
        table=out("pseudobulk", "_samples.tsv"),
    log:
        "logs/pseudobulk/{dataset}.log",
    benchmark:
        "benchmarks/pseudobulk/{dataset}.tsv"
    priority: 3  # heads the longest chain (single-cell QC -> pseudobulk -> DE per cell type)
    conda:
        SC_ENV
    threads: 1
    resources:
        # read in chunks of compute.cell_chunk cells: memory does not grow with the cell count
        # (1,000,000 cells: see bench/pseudobulk_scale.py and the README)
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, input, attempt: max(30, int(input.size_mb / 50)) * attempt,
        gpu=GPU_REQUEST,
    params:
        dataset=rule_params("pseudobulk"),
        gpu=GPU_SETTING,
        chunk=LSEC.config["compute"]["cell_chunk"],
    script:
        "../scripts/pseudobulk.py"


rule pseudobulk_figure:
    """Cells per pseudobulk sample and cell type, the sums dropped greyed (a figure of its own rule, so that
    editing figures: redraws it without summing again)."""
    input:
        table=out("pseudobulk", "_samples.tsv"),
        sheet=lambda wc: DATASETS[wc.dataset].spec["samples"]["sheet"],
    output:
        **figure_files(out("qc"), FIGURE_KINDS["pseudobulk"], "QC"),
    log:
        "logs/pseudobulk_figure/{dataset}.log",
    benchmark:
        "benchmarks/pseudobulk_figure/{dataset}.tsv"
    wildcard_constraints:
        dataset=SC_DATASETS,
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        dataset=rule_params("pseudobulk_figure"),
    script:
        "../scripts/pseudobulk_figure.py"


rule composition:
    """Cell-type proportions per sample and speckle's propeller test of every contrast (cheap: one job per dataset,
    figure included)."""
    input:
        unpack(pseudobulk_inputs),
    output:
        **figure_files(out("composition"), FIGURE_KINDS["composition"], "Composition"),
        table=out("composition", "propeller.tsv"),
        cells=out("composition", "cells.tsv"),
    log:
        "logs/composition/{dataset}.log",
    benchmark:
        "benchmarks/composition/{dataset}.tsv"
    wildcard_constraints:
        dataset=SC_DATASETS,
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        # the cells' obs only (the matrix stays on disk)
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        dataset=rule_params("composition"),
    script:
        "../scripts/composition.py"


# One DE job per design: per dataset (bulk) or per cell type (pseudobulk). It fits
# the model once and writes every contrast's table (de_fit_outputs() in common.smk).
# The contrasts differ between datasets, so each dataset gets its own rule
# (de_<dataset>), made in this loop.
for _name in DATASETS:

    rule:
        name:
            dataset_rule_name("de", _name)
        input:
            counts=de_counts,
            # the leave-one-out refits cover the significant genes that are paracrine factors
            factors=DATASETS[_name].spec["paracrine"]["factors"],
        output:
            **de_fit_outputs(_name),
        log:
            de_fit_log(_name),
        benchmark:
            de_fit_log(_name).replace("logs/", "benchmarks/", 1).replace(".log", ".tsv")
        wildcard_constraints:
            dataset=re.escape(_name),
        # start the long chains (DE -> enrichment -> figures) first; figures fill the cores at the end
        priority: 2
        conda:
            "../../envs/core.yaml"
        threads: 1  # the DESeq2 and limma ports are vectorised, single-threaded
        resources:
            mem_mb=lambda wc, input, attempt: max(4000, int(60 * input.size_mb)) * attempt,
            runtime=lambda wc, attempt: 60 * attempt,
        params:
            content=content_of(DATASETS[_name].spec["paracrine"]["factors"]),
            dataset=rule_params("de"),
            contrasts=list(DATASETS[_name].contrasts),
            cell_type=fit_cell_type,
            seed=LSEC.config["compute"]["seed"],  # proteomics imputation
        # one script for every engine (lsecflow.de_engines): a script: expression is evaluated when the job
        # runs, after this loop, so it must not depend on _name
        script:
            "../scripts/de_job.py"
