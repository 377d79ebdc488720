rule ingest:
    """Count matrix + sample sheet -> AnnData with raw integer counts."""
    input:
        unpack(ingest_inputs),
    output:
        out("counts"),
    log:
        "logs/ingest/{dataset}.log",
    benchmark:
        "benchmarks/ingest/{dataset}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: max(2000, int(20 * input.size_mb)) * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        content=content_of(ingest_inputs),
        dataset=rule_params("ingest"),
    script:
        "../scripts/ingest.py"
