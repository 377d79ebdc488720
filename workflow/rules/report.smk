rule provenance:
    """Package and gene-set versions, the resolved config, sha256 of every input file."""
    input:
        inputs=lambda wc: sorted({f[2] for n, d in DATASETS.items() for f in dataset_input_files(n, d)}),
        # after every dataset's ingest succeeded: a run stopped by bad input leaves no provenance behind
        ingested=expand(out("counts"), dataset=list(DATASETS)),
    output:
        **PROVENANCE,
    log:
        "logs/provenance/provenance.log",
    benchmark:
        "benchmarks/provenance/provenance.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        content=content_of(lambda wc: sorted({f[2] for n, d in DATASETS.items() for f in dataset_input_files(n, d)})),
        resolved=resolved_config(),
        manifest=str(REPO_ROOT / "resources/genesets/manifest.tsv"),
        envs=str(REPO_ROOT / "envs"),
    script:
        "../scripts/provenance.py"


rule report:
    """One self-contained HTML report: overview, every figure with its caption, tables, provenance."""
    input:
        **PROVENANCE,
        results=sorted(set(_paths(report_manifest()))),
    output:
        REPORT,
    log:
        "logs/report/report.log",
    benchmark:
        "benchmarks/report/report.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        manifest=report_manifest(),
        resolved=resolved_config(),
        captions=str(REPO_ROOT / "workflow/report"),
        # every job's log (the report runs last): their warnings gathered in one section
        logs="logs",
    script:
        "../scripts/report.py"
