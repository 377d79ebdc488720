# The figures of every DE unit: volcano, MA plot and top-gene heatmap, and the
# dot plot, running scores and leading-edge heatmap of each collection, drawn
# in one job per unit (the DE table and VST read once). One rule per dataset
# (figures_<dataset>), as its collections differ. Only this rule, QC and the
# paracrine rules read the figures: section, so editing it redraws, not refits.
for _name in DATASETS:

    rule:
        name:
            dataset_rule_name("figures", _name)
        input:
            table=out("de", DE_OUTPUT_SUFFIXES["table"]),
            vst=out("de", DE_OUTPUT_SUFFIXES["vst"]),
            counts=de_counts,
            gsea=[enrichment_outputs(_name)[f"gsea_{i}"] for i in range(len(collections(_name)))],
        output:
            **unit_figure_outputs(_name),
        log:
            "logs/figures/{dataset}/{unit}.log",
        benchmark:
            "benchmarks/figures/{dataset}/{unit}.tsv"
        wildcard_constraints:
            dataset=re.escape(_name),
        conda:
            "../../envs/enrichment.yaml"
        threads: 1
        resources:
            mem_mb=lambda wc, attempt: 2000 * attempt,
            runtime=lambda wc, attempt: 30 * attempt,
        params:
            dataset=rule_params("figures"),
            collections=list(collections(_name)),
            de_kinds=FIGURE_KINDS["de"],
            enrichment_kinds=FIGURE_KINDS["enrichment"],
            contrast=unit_contrast,
            cell_type=unit_cell_type,
        script:
            "../scripts/figures.py"


# The dispersion plot of each DESeq2 fit (plotDispEsts) or edgeR fit (plotBCV + plotQLDisp), from the tables the
# DE jobs write; one job per dataset
# (all its fits: one per cell type for pseudobulk), a rule of its own so that editing figures: redraws
# without refitting.
for _name in DATASETS:
    if de_engine(DATASETS[_name].spec) not in DISPERSION_ENGINES:
        continue

    rule:
        name:
            dataset_rule_name("dispersion_plot", _name)
        input:
            tables=[out("de", ".dispersions.tsv.gz", unit=u) for u in design_units(_name)],
        output:
            **dispersion_plot_outputs(_name),
        log:
            "logs/dispersion_plot/{dataset}.log",
        benchmark:
            "benchmarks/dispersion_plot/{dataset}.tsv"
        wildcard_constraints:
            dataset=re.escape(_name),
        conda:
            "../../envs/core.yaml"
        threads: 1
        resources:
            mem_mb=lambda wc, attempt: 1000 * attempt,
            runtime=lambda wc, attempt: 10 * attempt,
        params:
            dataset=rule_params("dispersion_plot"),
            cell_types=[f or None for f in fit_units(_name)],
        script:
            "../scripts/dispersion_plot.py"
