# QC per dataset: bulk samples or single cells, plus the LSEC purity panel.
# Each figure is registered for the report with a caption saying how to read it.


rule qc_bulk:
    """Bulk QC: metrics, VST correlation and PCA, outliers, purity panel."""
    input:
        counts=out("counts"),
        markers=lambda wc: DATASETS[wc.dataset].spec["qc"]["markers"],
    output:
        **figure_files(out("qc"), FIGURE_KINDS["qc_bulk"], "QC"),
        samples=out("qc", "samples.tsv"),
        correlation=out("qc", "correlation.tsv"),
        pca=out("qc", "pca.tsv"),
        purity=out("qc", "purity.tsv"),
        verdict=out("qc", "verdict.json"),
    log:
        "logs/qc_bulk/{dataset}.log",
    benchmark:
        "benchmarks/qc_bulk/{dataset}.tsv"
    wildcard_constraints:
        dataset=BULK_DATASETS,
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: max(3000, int(40 * input.size_mb)) * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        content=content_of(lambda wc: DATASETS[wc.dataset].spec["qc"]["markers"]),
        dataset=rule_params("qc_bulk"),
        figure_kinds=FIGURE_KINDS["qc_bulk"],
    script:
        "../scripts/qc_bulk.py"


rule qc_proteomics:
    """Proteomics QC: missing values, intensities before and after normalisation, correlation, PCA, outliers."""
    input:
        counts=out("counts"),
    output:
        **figure_files(out("qc"), FIGURE_KINDS["qc_proteomics"], "QC", caption_of=PROTEOMICS_QC_CAPTIONS),
        samples=out("qc", "samples.tsv"),
        proteins=out("qc", "proteins.tsv.gz"),
        preprocessing=out("qc", "preprocessing.tsv"),
        correlation=out("qc", "correlation.tsv"),
        pca=out("qc", "pca.tsv"),
        verdict=out("qc", "verdict.json"),
    log:
        "logs/qc_proteomics/{dataset}.log",
    benchmark:
        "benchmarks/qc_proteomics/{dataset}.tsv"
    wildcard_constraints:
        dataset=PROTEOMICS_DATASETS,
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: max(2000, int(40 * input.size_mb)) * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        dataset=rule_params("qc_proteomics"),
        figure_kinds=FIGURE_KINDS["qc_proteomics"],
        seed=LSEC.config["compute"]["seed"],
    script:
        "../scripts/qc_proteomics.py"


rule qc_single_cell:
    """Single-cell QC: per-cell metrics, doublets, clusters, LSEC identity."""
    input:
        counts=out("counts"),
        markers=lambda wc: DATASETS[wc.dataset].spec["qc"]["markers"],
    output:
        **figure_files(out("qc"), FIGURE_KINDS["qc_single_cell"], "QC", caption_of=SC_QC_CAPTIONS),
        cells=out("qc", "cells.tsv"),
        clusters=out("qc", "clusters.tsv"),
        verdict=out("qc", "verdict.json"),
    log:
        "logs/qc_single_cell/{dataset}.log",
    benchmark:
        "benchmarks/qc_single_cell/{dataset}.tsv"
    wildcard_constraints:
        dataset=SC_DATASETS,
    priority: 3  # heads the longest chain (single-cell QC -> pseudobulk -> DE per cell type)
    conda:
        SC_ENV
    # two cores on a GPU from 200,000 cells: Leiden in a second process beside the layout (lsecflow.cell_leiden)
    threads: lambda wc, input: single_cell_qc_threads(h5ad_shape(input.counts), GPU_SETTING is True)
    resources:
        # the matrix is read in blocks: memory and run time follow the cells and scrublet's block (job_resources)
        mem_mb=lambda wc, input, attempt: single_cell_qc_mb(
            h5ad_shape(input.counts),
            LSEC.config["compute"]["cell_chunk"],
            DATASETS[wc.dataset].spec["qc"]["doublets"] == "scrublet",
        )
        * attempt,
        runtime=lambda wc, input, attempt: single_cell_qc_minutes(
            h5ad_shape(input.counts),
            LSEC.config["compute"]["cell_chunk"],
            DATASETS[wc.dataset].spec["qc"]["doublets"] == "scrublet",
        )
        * attempt,
        gpu=GPU_REQUEST,
    params:
        content=content_of(lambda wc: DATASETS[wc.dataset].spec["qc"]["markers"]),
        dataset=rule_params("qc_single_cell"),
        figure_kinds=FIGURE_KINDS["qc_single_cell"],
        seed=LSEC.config["compute"]["seed"],
        gpu=GPU_SETTING,
        chunk=LSEC.config["compute"]["cell_chunk"],
    script:
        "../scripts/qc_single_cell.py"
