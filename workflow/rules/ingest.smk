rule ingest:
    """Count matrix + sample sheet -> AnnData with raw integer counts."""
    input:
        unpack(ingest_inputs),
    output:
        f"{RESULTS}/{{dataset}}/counts.h5ad",
    params:
        dataset=rule_params("ingest"),
    log:
        "logs/ingest/{dataset}.log",
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: max(2000, int(20 * input.size_mb)) * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/ingest.py"
