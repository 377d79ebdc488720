rule de_bulk:
    """DESeq2 (pydeseq2) for one contrast of a bulk dataset."""
    input:
        counts=f"{RESULTS}/{{dataset}}/counts.h5ad",
    output:
        table=f"{RESULTS}/{{dataset}}/de/{{contrast}}.tsv",
        summary=f"{RESULTS}/{{dataset}}/de/{{contrast}}.summary.tsv",
    params:
        dataset=dataset_params,
    log:
        "logs/de_bulk/{dataset}/{contrast}.log",
    threads: LSEC.config["compute"]["threads"]
    resources:
        mem_mb=lambda wc, input, attempt: max(4000, int(60 * input.size_mb)) * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/de_contrast.py"


rule pseudobulk:
    """Sum raw counts per (sample, cell type); report the groups dropped."""
    input:
        counts=f"{RESULTS}/{{dataset}}/counts.h5ad",
    output:
        h5ad=f"{RESULTS}/{{dataset}}/de/pseudobulk.h5ad",
        table=f"{RESULTS}/{{dataset}}/de/pseudobulk_samples.tsv",
    params:
        dataset=dataset_params,
    log:
        "logs/pseudobulk/{dataset}.log",
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: max(2000, int(30 * input.size_mb)) * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/pseudobulk.py"


rule de_pseudobulk:
    """DESeq2 (pydeseq2) on pseudobulk counts of one cell type, one contrast."""
    input:
        counts=f"{RESULTS}/{{dataset}}/de/pseudobulk.h5ad",
    output:
        table=f"{RESULTS}/{{dataset}}/de/{{cell_type}}/{{contrast}}.tsv",
        summary=f"{RESULTS}/{{dataset}}/de/{{cell_type}}/{{contrast}}.summary.tsv",
    params:
        dataset=dataset_params,
    log:
        "logs/de_pseudobulk/{dataset}/{cell_type}/{contrast}.log",
    threads: LSEC.config["compute"]["threads"]
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/de_contrast.py"
