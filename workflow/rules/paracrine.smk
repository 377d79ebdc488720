# Paracrine factors: which secreted factors and ligands change, and who can
# hear them. Bulk: every contrast; single-cell: the sender's (LSEC) units,
# with every other cell type as receiver. See lsecflow.paracrine.


rule paracrine_receivers:
    """Single-cell: sender -> receiver scores for every ligand-receptor pair and cell type (+ liana ranks)."""
    input:
        unpack(paracrine_receiver_inputs),
    output:
        **figure_files(out("dataset_figures"), FIGURE_KINDS["receivers"], "Paracrine"),
        scores=out("receivers", "receivers.tsv"),
        expression=out("receivers", "expression.tsv.gz"),
    log:
        "logs/paracrine_receivers/{dataset}.log",
    benchmark:
        "benchmarks/paracrine_receivers/{dataset}.tsv"
    wildcard_constraints:
        dataset=SC_DATASETS,
    conda:
        "../../envs/paracrine.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: max(3000, int(40 * input.size_mb)) * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        content=content_of(paracrine_receiver_inputs),
        dataset=rule_params("paracrine_receivers"),
        seed=LSEC.config["compute"]["seed"],
    script:
        "../scripts/paracrine_receivers.py"


rule paracrine:
    """Ranked paracrine candidates of one DE unit with their checks (leave-one-out refits, contamination,
    source), their ligand -> receptor table, and both as figures."""
    input:
        unpack(paracrine_inputs),
    output:
        **figure_files(out("unit_figures"), FIGURE_KINDS["paracrine"], "Paracrine"),
        candidates=out("paracrine", ".candidates.tsv"),
        pairs=out("paracrine", ".pairs.tsv"),
        robustness=out("paracrine", ".robustness.tsv"),
        contamination=out("paracrine", ".contamination.tsv"),
    log:
        "logs/paracrine/{dataset}/{unit}.log",
    benchmark:
        "benchmarks/paracrine/{dataset}/{unit}.tsv"
    conda:
        "../../envs/paracrine.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 15 * attempt,
    params:
        content=content_of(paracrine_inputs),
        dataset=rule_params("paracrine"),
        figure_kinds=FIGURE_KINDS["paracrine"],
        contrast=unit_contrast,
        cell_type=unit_cell_type,
    script:
        "../scripts/paracrine.py"
