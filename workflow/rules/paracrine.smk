# Paracrine factors: which secreted factors and ligands change, and who can
# hear them. Bulk: every contrast; single-cell: the sender's (LSEC) units,
# with every other cell type as receiver. See lsecflow.paracrine.


rule paracrine_receivers:
    """Single-cell: sender -> receiver scores for every ligand-receptor pair and cell type (+ liana ranks)."""
    input:
        unpack(paracrine_receiver_inputs),
    output:
        **figure_files(f"{RESULTS}/{{dataset}}/figures/", FIGURE_KINDS["receivers"], "Paracrine"),
        scores=f"{RESULTS}/{{dataset}}/paracrine/receivers.tsv",
        expression=f"{RESULTS}/{{dataset}}/paracrine/expression.tsv.gz",
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
        dataset=rule_params("paracrine_receivers"),
        seed=LSEC.config["compute"]["seed"],
        stem=lambda wc: f"{RESULTS}/{wc.dataset}/figures/paracrine_receivers",
    script:
        "../scripts/paracrine_receivers.py"


rule paracrine:
    """Ranked paracrine candidates of one DE unit and their ligand -> receptor table."""
    input:
        unpack(paracrine_inputs),
    output:
        candidates=f"{RESULTS}/{{dataset}}/paracrine/{{unit}}.candidates.tsv",
        pairs=f"{RESULTS}/{{dataset}}/paracrine/{{unit}}.pairs.tsv",
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
        dataset=rule_params("paracrine"),
        contrast=unit_contrast,
        cell_type=unit_cell_type,
    script:
        "../scripts/paracrine.py"


rule paracrine_figures:
    """Top candidates coloured by class; ligand -> receptor dot plot across receivers."""
    input:
        candidates=f"{RESULTS}/{{dataset}}/paracrine/{{unit}}.candidates.tsv",
        pairs=f"{RESULTS}/{{dataset}}/paracrine/{{unit}}.pairs.tsv",
    output:
        **figure_files(f"{RESULTS}/{{dataset}}/figures/{{unit}}.", FIGURE_KINDS["paracrine"], "Paracrine"),
    log:
        "logs/paracrine_figures/{dataset}/{unit}.log",
    benchmark:
        "benchmarks/paracrine_figures/{dataset}/{unit}.tsv"
    conda:
        "../../envs/paracrine.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        dataset=rule_params("paracrine_figures"),
        contrast=unit_contrast,
        cell_type=unit_cell_type,
        stem=lambda wc: f"{RESULTS}/{wc.dataset}/figures/{wc.unit}",
    script:
        "../scripts/paracrine_figures.py"
