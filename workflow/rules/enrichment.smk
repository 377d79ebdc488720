# Pathway enrichment of every DE unit: one job per unit runs every collection
# of the dataset (GSEA and ORA). The collections differ between datasets, so
# each dataset gets its own rule (enrichment_<dataset>), made in this loop.
for _name in DATASETS:

    rule:
        name:
            dataset_rule_name("enrichment", _name)
        input:
            table=out("de", DE_OUTPUT_SUFFIXES["table"]),
            gmt=list(collections(_name).values()),
        output:
            **enrichment_outputs(_name),
        log:
            "logs/enrichment/{dataset}/{unit}.log",
        benchmark:
            "benchmarks/enrichment/{dataset}/{unit}.tsv"
        wildcard_constraints:
            dataset=re.escape(_name),
        priority: 1
        conda:
            "../../envs/enrichment.yaml"
        threads: 1  # gseapy's multilevel GSEA runs on one core (threads change nothing, measured)
        resources:
            mem_mb=lambda wc, attempt: 3000 * attempt,
            runtime=lambda wc, attempt: 60 * attempt,
        params:
            content=content_of(list(collections(_name).values())),
            dataset=rule_params("enrichment"),
            collections=list(collections(_name)),
            seed=LSEC.config["compute"]["seed"],
        script:
            "../scripts/enrichment.py"
