rule enrichment:
    """Preranked GSEA (Wald statistic) and ORA of up/down genes, one collection."""
    input:
        table=f"{RESULTS}/{{dataset}}/de/{{unit}}.tsv",
        gmt=lambda wc: DATASETS[wc.dataset].spec["enrichment"]["files"][wc.collection],
    output:
        gsea=f"{RESULTS}/{{dataset}}/enrichment/{{unit}}/{{collection}}.gsea.tsv",
        ora=f"{RESULTS}/{{dataset}}/enrichment/{{unit}}/{{collection}}.ora.tsv",
    log:
        "logs/enrichment/{dataset}/{unit}/{collection}.log",
    benchmark:
        "benchmarks/enrichment/{dataset}/{unit}/{collection}.tsv"
    conda:
        "../../envs/enrichment.yaml"
    threads: LSEC.config["compute"]["threads"]
    resources:
        mem_mb=lambda wc, attempt: 3000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        dataset=rule_params("enrichment"),
        seed=LSEC.config["compute"]["seed"],
    script:
        "../scripts/enrichment.py"


rule enrichment_figures:
    """Dot plot of the top sets, running scores, leading-edge heatmap."""
    input:
        gsea=f"{RESULTS}/{{dataset}}/enrichment/{{unit}}/{{collection}}.gsea.tsv",
        table=f"{RESULTS}/{{dataset}}/de/{{unit}}.tsv",
        vst=f"{RESULTS}/{{dataset}}/de/{{unit}}.vst.tsv.gz",
        counts=de_counts,
    output:
        **figure_files(f"{RESULTS}/{{dataset}}/figures/{{unit}}.{{collection}}.", FIGURE_KINDS["enrichment"], "Enrichment"),
    log:
        "logs/enrichment_figures/{dataset}/{unit}/{collection}.log",
    benchmark:
        "benchmarks/enrichment_figures/{dataset}/{unit}/{collection}.tsv"
    conda:
        "../../envs/enrichment.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        dataset=rule_params("enrichment_figures"),
        contrast=unit_contrast,
        cell_type=unit_cell_type,
        stem=lambda wc: f"{RESULTS}/{wc.dataset}/figures/{wc.unit}.{wc.collection}",
    script:
        "../scripts/enrichment_figures.py"
