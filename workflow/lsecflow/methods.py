"""A methods paragraph per dataset, written from the settings and versions this run used (for a paper's
methods section; shown in the report under each dataset). Every number and option comes from the resolved
dataset spec or the provenance's versions table; the text says what lsecflow does with them.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .contrasts import describe, is_plain
from .de_options import de_engine, deqms_method, shrink_method
from .protein_tables import REPORT_FORMATS
from .proteomics import filter_columns, filter_groups_text

MATCHED = {"ignore_version": ", transcript versions ignored", "ignore_after_bar": ", transcript ids cut at the first bar"}
_LOCAL_FALLBACK = " (DESeq2's local regression trend wherever the parametric one fails to fit, as in R)"

#: how impute.MAR.MNAR fills the proteins missing at random (proteomics.impute_mar_method)
MAR_FILL = {"knn": "mean of the 15 nearest proteins, impute.knn's algorithm",
            "svd": "a rank-2 singular value decomposition, pcaMethods' svdImpute",
            "mle": "a draw from the samples' normal estimated by EM, norm's, seed 1234567"}


def _composition(spec: dict) -> str:
    """The single-cell paragraph's sentence on the test of cell-type proportions (:mod:`lsecflow.composition`)."""
    comp = spec.get("composition") or {}
    if not comp.get("enabled"):
        return ""
    transform = ("logit-transformed (0.5 added to each count)" if comp["transform"] == "logit" else
                 "arcsine square root-transformed")
    return (" Changes in cell-type proportions were tested as speckle's propeller (Phipson et al. 2022): each "
            f"sample's proportions of the cell types, {transform}, were fitted with limma under the same design "
            f"(eBayes, robust {'on' if comp['robust'] else 'off'}{', trend' if comp['trend'] else ''}"
            f"{_composition_block(spec['de'])}), Benjamini-Hochberg adjusted per contrast."
            + (f" The terms that the reduced design {spec['de']['reduced']} lacks were tested together by limma's "
               "moderated F test (propeller's ANOVA)." if spec["de"]["test"] == "lrt" else ""))


def _composition_block(de: dict) -> str:
    """``de.block`` in the proportions' sentence (empty without it)."""
    if not de.get("block"):
        return ""
    return (f"; the samples of each '{de['block']}' treated as correlated, as in the expression fit: limma's lmFit "
            "with block and the within-block correlation of the transformed proportions from duplicateCorrelation")


def package_versions(versions: pd.DataFrame) -> dict[str, str]:
    """``name -> version`` of the ``package`` and ``python`` rows of provenance's versions.tsv."""
    rows = versions[versions["kind"].isin(["package", "python"])]
    return dict(zip(rows["name"].astype(str), rows["version"].astype(str)))


def _v(versions: dict[str, str], name: str) -> str:
    v = versions.get(name, "")
    return f" {v}" if v and v != "not installed" else ""


TABLES = {"maxquant": "MaxQuant proteinGroups", "maxquant_peptides": "MaxQuant peptides",
          "fragpipe": "FragPipe combined_protein", "diann": "DIA-NN pg_matrix", "diann_report": "DIA-NN main report",
          "spectronaut_report": "Spectronaut long report",
          "spectronaut": "Spectronaut protein-group pivot", "protein_table": "protein", "peptide_table": "peptide"}


#: What proteomics.remove_flagged removed, per format that flags rows (the others have none to remove).
REMOVED = {"maxquant": "decoy, contaminant and site-only rows were removed",
           "maxquant_peptides": "decoy and contaminant peptides were removed",
           "fragpipe": "decoy (rev_) and contaminant (contam_) rows and those of other organisms were removed"}

SUMMARIES = {
    "median_polish": "summarised to their {to} by Tukey's median polish of the log2 intensities (overall plus sample "
                     "effect, as R's medpolish with na.rm)",
    "median_sweep": "summarised to their {to} by DEqMS's median sweeping (each {one} centred on its median, the "
                    "proteins' median per sample, each sample centred on its median)",
    "maxlfq": "summarised to their {to} by MaxLFQ (Cox et al. 2014) as the iq package implements it (least-squares "
              "levels fitting each pair of samples' median {one} log2 ratio)",
    "diann_maxlfq": "summarised to their {to} by DIA-NN's own MaxLFQ as its R package's diann_maxlfq implements it "
                    "(least-squares levels fitting each pair of samples' median {one} log ratio, with a 1e-4 ridge "
                    "towards each sample's strongest {one})",
    "sum": "summed to their {to}",
}


def _contrasts(spec: dict) -> str:
    return "; ".join(f"{c['target']} vs {c['reference']} ({c['variable']})" if is_plain(c) else describe(c)
                     for c in spec["contrasts"].values())


def _input_paragraph(spec: dict, versions: dict[str, str], seed: int, qc_verdict: dict | None,
                     fmt: str | None = None) -> str:
    de, qc = spec["de"], spec["qc"]
    head = (f"{spec['species'].capitalize()} data were analysed with lsecflow{_v(versions, 'lsecflow')} "
            f"(Snakemake{_v(versions, 'snakemake')}, Python{_v(versions, 'python')}).")
    excluded = f" Samples left out of the analysis: {', '.join(qc['exclude'])}." if qc.get("exclude") else ""
    if spec["assay"] == "proteomics":
        p = spec["proteomics"]
        fmt = fmt or spec["counts"]["format"]
        kind = ("LFQ " if p["intensity"] == "lfq" else "raw ") if fmt in ("maxquant", "maxquant_peptides",
                                                                           "fragpipe") else ""
        steps = [f"{kind}intensities were read from the {TABLES.get(fmt, 'protein')} table"]
        if fmt in REPORT_FORMATS:
            engine = REPORT_FORMATS[fmt]
            shared = "proteotypic " if p["proteotypic_only"] else ""
            imputed = " (not those Spectronaut imputed)" if fmt == "spectronaut_report" else ""
            steps = [f"{shared}precursor quantities ({engine.quantity_column(p)}) with "
                     f"{' and '.join(engine.qvalue_columns(p))} at most {p['qvalue']}{imputed} were read from the "
                     f"{TABLES[fmt]}",
                     "precursors with a value were " + SUMMARIES[p["summarise"]].format(to="protein groups",
                                                                                         one="precursor")]
        elif p["remove_flagged"] and fmt in REMOVED:
            steps.append(REMOVED[fmt])
        if fmt in ("maxquant_peptides", "peptide_table"):
            to = "leading razor proteins" if fmt == "maxquant_peptides" else "proteins"
            steps.append("peptides with a value were " + SUMMARIES[p["summarise"]].format(to=to, one="peptide"))
        if p["zero_is_missing"]:
            steps.append("zero intensities were treated as missing")
        if p["log2"]:
            steps.append("values were log2-transformed")
        cols = filter_columns(p, spec["contrasts"])
        where = (f" in {'each' if p['min_valid_in'] == 'each' else 'at least one'} {filter_groups_text(cols)}"
                 if cols else "")
        steps.append(f"proteins with at least {p['min_valid']} valid values{where} were kept")
        steps.append({"median": "samples were median-centred (each sample's median subtracted, the mean of the "
                                "medians added back)",
                      "quantile": "samples were quantile-normalised (limma's normalizeQuantiles)",
                      "cyclicloess": "samples were normalised by cyclic loess (limma's normalizeCyclicLoess, "
                                     "method \"fast\", span 0.7, 3 iterations)",
                      "none": "no normalisation was applied"}[p["normalize"]])
        steps.append({
            "none": "missing values were left missing (each protein fitted on its observed samples)",
            "downshift": f"missing values were imputed from a normal distribution down-shifted by {p['impute_shift']} "
                         f"SD with width {p['impute_width']} SD of each sample (seed {seed})",
            "mindet": f"missing values were set to each sample's {p['impute_quantile']} quantile (imputeLCMD's "
                      "MinDet)",
            "minprob": f"missing values were drawn from a normal centred on each sample's {p['impute_quantile']} "
                       f"quantile with {p['impute_tune_sigma']} x the median protein SD (imputeLCMD's MinProb; "
                       f"seed {seed})",
            "knn": f"missing values were imputed from the {p['impute_k']} nearest proteins (impute.knn's "
                   "algorithm)",
            "svd": f"missing values were imputed from a rank-{p['impute_pcs']} singular value decomposition "
                   "(pcaMethods' svdImpute, as imputeLCMD's impute.wrapper.SVD calls it)",
            "bpca": "missing values were imputed by Bayesian principal component analysis (pcaMethods' bpca with "
                    "one component fewer than samples, as MsCoreUtils' impute_bpca calls it)",
            "mle": "missing values were drawn from the samples' multivariate normal estimated by maximum likelihood "
                   "(EM; imputeLCMD's impute.wrapper.MLE with the norm package, seed 1234567)",
            "mar_mnar": "missing values were imputed by protein as imputeLCMD's impute.MAR.MNAR does: proteins whose "
                        "mean intensity lies above the censoring threshold of its model.Selector as missing at random "
                        f"({MAR_FILL[p.get('impute_mar_method', 'knn')]}), the others as left-censored (QRILC, "
                        f"tune.sigma 0.3; seed {seed})",
            "qrilc": "missing values were drawn from each sample's normal distribution estimated by quantile "
                     "regression, truncated at its detection limit (imputeLCMD's QRILC, tune.sigma "
                     f"{p['impute_tune_sigma']}; seed {seed})"}[p["impute"]])
        return f"{head} {'; '.join(steps)}.{excluded}"
    if spec["assay"] == "single_cell":
        used = (qc_verdict or {}).get("thresholds", {})  # what the run computed, where its verdict is at hand
        limits = []
        for key, what in (("min_counts", "counts"), ("min_genes", "detected genes")):
            limits.append(f"at least {qc[key]} {what}" if qc.get(key) is not None else
                          f"log {what} no more than {qc['nmads']} MADs below the median"
                          + (f" (at least {used[key]:.0f} {what})" if used.get(key) is not None else ""))
        if (qc_verdict or {}).get("mitochondrial_genes") == 0:
            mito = ("; no mitochondrial threshold applied, as the matrix holds no mitochondrial genes (symbols mt- "
                    "or MT-)")
        elif qc.get("max_mito_fraction") is not None:
            mito = f" and a mitochondrial fraction of at most {qc['max_mito_fraction']}"
        else:
            mito = (f" and a mitochondrial fraction no more than {qc['nmads']} MADs above the median"
                    + (f" (at most {used['max_mito_fraction']:.3g})" if used.get("max_mito_fraction") is not None
                       else ""))
        doublets = ("" if qc["doublets"] == "none" else
                    f" Doublets were scored with Scrublet (scanpy{_v(versions, 'scanpy')}) per block of cells"
                    + (" and predicted doublets removed." if qc["remove_doublets"] else " and kept in the data."))
        pb = spec["pseudobulk"]
        return (f"{head} Cells were kept with {', '.join(limits)}{mito}"
                f"{'' if qc['filter_cells'] else ' (cells failing QC were nevertheless summed)'}.{doublets} "
                f"Counts were summed per sample and cell type (pseudobulk); a sample's cell type needed at least "
                f"{pb['min_cells']} cells and {pb['min_counts']} counts. Genes with at least {de['min_count']} "
                f"counts in at least {de['min_samples']} pseudobulk samples were tested.{excluded}"
                f"{_composition(spec)}")
    counts = spec["counts"]
    if counts.get("tx2gene"):  # read only for salmon / kallisto files (refused for any other format)
        head += (" Transcript estimates (salmon or kallisto, one file per sample) were summarised to genes as tximport "
                 f"does (countsFromAbundance = \"{counts['from_abundance']}\"; transcripts mapped to genes by "
                 f"{Path(counts['tx2gene']).name}{MATCHED.get(counts['tx_id_match'], '')})"
                 f"{' and rounded to integers' if counts['round'] else ''}.")
    return (f"{head} From the gene-level counts, genes with at least {de['min_count']} counts in at least "
            f"{de['min_samples']} samples were tested.{excluded}")


def _ebayes_options(de: dict) -> str:
    """eBayes's options as in its call: ``, trend = TRUE, robust = TRUE`` (those set), or nothing."""
    return "".join(f", {o} = TRUE" for o in ("trend", "robust") if de[o])


def _limma_block(de: dict, voom: bool = False) -> str:
    """``de.block`` in words (empty without it): the random block effect and how its correlation was estimated."""
    if not de.get("block"):
        return ""
    how = ("duplicateCorrelation on voom's output, voom again with that correlation and duplicateCorrelation again"
           if voom else "duplicateCorrelation")
    return (f", with the samples of each '{de['block']}' treated as correlated (a random block effect: limma's "
            f"lmFit with block and the consensus within-block correlation from {how}; written to "
            "de/design.block.tsv)")


def _limma_test(spec: dict, ebayes: str = "") -> str:
    """limma's test in words, for proteins and voom: the design test (``de.test: lrt``), ``treat`` (a fold-change
    threshold) or moderated t-tests; ``ebayes`` follows the F and t tests."""
    de = spec["de"]
    if de["test"] == "lrt":
        return (f"limma's moderated F test of the coefficients of {spec['design']} that {de['reduced']} lacks "
                f"(every contrast carries its p-values){ebayes}")
    if de["lfc_threshold"]:
        return f"limma's treat against |log2 fold change| <= {de['lfc_threshold']}"
    return f"moderated t-tests{ebayes}"


def _de_paragraph(spec: dict, versions: dict[str, str], fmt: str | None = None) -> str:
    de = spec["de"]
    threshold = de["lfc_threshold"]
    called = (f"{'Proteins' if spec['assay'] == 'proteomics' else 'Genes'} with an adjusted p-value below "
              f"{de['alpha']}"
              + (f" and |log2 fold change| above {threshold}" if threshold else "") + " were called.")
    if spec["assay"] == "proteomics":
        fit = ("robust regression (M-estimation with Huber's psi, as limma's lmFit(method = \"robust\"))"
               if de["lm_method"] == "robust" else "least squares (limma's lmFit)")
        ebayes = f"empirical Bayes moderation (limma's eBayes{_ebayes_options(de)})"
        if deqms_method(de):
            column = spec["proteomics"]["count_column"]
            where = ("its number of quantified " + ("precursors" if fmt in REPORT_FORMATS else "peptides")
                     if not column else
                     f"the smallest over the samples of the table's columns '{column.replace('{}', '<sample>')}'"
                     if "{}" in column else f"the table's column '{column}'")
            ebayes = (f"DEqMS's empirical Bayes moderation (spectraCounteBayes, fit.method = \"{deqms_method(de)}\"; "
                      f"a prior variance that follows each protein's count, {where}, as implemented in lsecflow's "
                      "port, checked against R DEqMS 1.25)")
        test = _limma_test(spec)
        weighted = (", weighted by sample quality weights (limma's arrayWeights)" if de.get("sample_weights")
                    else "")
        return (f"Differential abundance ({_contrasts(spec)}) was tested with the design {spec['design']}: each "
                f"protein fitted by {fit}{weighted}{_limma_block(de)}, with {ebayes} and {test}, as implemented in "
                "lsecflow's "
                "port of limma "
                f"(checked against R limma 3.54.1). P-values were adjusted by Benjamini-Hochberg. {called}")
    unit = " within each cell type" if spec["assay"] == "single_cell" else ""
    if de_engine(spec) == "voom":
        test = _limma_test(spec, f" (eBayes{_ebayes_options(de)})")
        return (f"Differential expression{unit} ({_contrasts(spec)}) was tested with limma-voom: genes with at least "
                f"{de['min_count']} counts in at least {de['min_samples']} samples were kept, library sizes "
                "normalised by edgeR's TMM, log2 counts per million weighted by voom's mean-variance trend"
                + (" and by sample quality weights (voomWithQualityWeights, limma's arrayWeights gene by gene)"
                   if de.get("sample_weights") else "") + ", fitted "
                f"by weighted least squares with the design {spec['design']}{_limma_block(de, voom=True)} and tested "
                f"by {test}, as implemented "
                "in lsecflow's ports (checked against R limma 3.54.1 and edgeR 3.40.2). P-values were adjusted by "
                f"Benjamini-Hochberg. {called}")
    tx_lengths = bool(spec["counts"].get("tx2gene")) and spec["counts"].get("from_abundance") == "no"
    if de_engine(spec) == "edger":
        scaling = ("offsets made from tximport's average transcript lengths and the TMM factors of the "
                   "length-corrected counts (tximport's recipe for edgeR, scaleOffset)" if tx_lengths else
                   "library sizes normalised by TMM")
        test = (f"quasi-likelihood F tests of {spec['design']} against {de['reduced']} (glmQLFTest of the coefficients "
                "the reduced design drops; every contrast carries its p-values)" if de["test"] == "lrt" else
                f"edgeR's glmTreat against |log2 fold change| <= {threshold}" if threshold else
                "quasi-likelihood F tests of each contrast's coefficient (glmQLFTest)")
        return (f"Differential expression{unit} ({_contrasts(spec)}) was tested with edgeR's quasi-likelihood "
                f"pipeline: genes with at least {de['min_count']} counts in at least {de['min_samples']} samples were "
                f"kept, {scaling}, negative binomial dispersions estimated by estimateDisp "
                f"(abundance trend) under the design {spec['design']}, genes fitted by glmQLFit at the trended "
                "dispersions with quasi-likelihood dispersions squeezed towards their abundance trend"
                + (" (robust prior)" if de.get("robust") else "") + f", and tested by {test}, with edgeR's Poisson "
                "bound, as implemented in lsecflow's port (checked against R edgeR 3.40.2). Log2 fold changes are "
                "edgeR's, with a prior count of 0.125. P-values were adjusted by Benjamini-Hochberg. " + called)
    how = (f"a likelihood-ratio test of {spec['design']} against {de['reduced']} (every contrast carries its "
           "p-values)" if de["test"] == "lrt" else
           f"Wald tests against |log2 fold change| <= {threshold}" if threshold else "Wald tests")
    filters = []
    if de["independent_filter"]:
        filters.append(f"independent filtering on the mean count (alpha {de['independent_filter_alpha']})")
    if de["cooks_filter"]:
        filters.append("Cook's distance outlier handling")
    shrink = {"normal": " Log2 fold changes were also shrunk with a normal prior (DESeq2's lfcShrink type "
                        "\"normal\") for display; tests use the unshrunk estimates.",
              "apeglm": " Log2 fold changes were also shrunk with an apeGLM-type Cauchy prior for display; tests "
                        "use the unshrunk estimates.", None: ""}[shrink_method(de)]
    lengths = (" combined with tximport's average transcript lengths into normalisation factors (as "
               "DESeqDataSetFromTximport)" if tx_lengths else "")
    return (f"Differential expression{unit} ({_contrasts(spec)}) was tested with DESeq2's negative binomial model "
            f"as implemented in inmoose{_v(versions, 'inmoose')} (a Python port of DESeq2, with lsecflow's ports of "
            f"the steps it lacks; checked against R DESeq2 1.38.3): design {spec['design']}, "
            f"{'median-of-ratios' if de['size_factors'] == 'ratio' else 'poscounts'} size factors{lengths}, a "
            f"{de['fit_type']} dispersion trend{_LOCAL_FALLBACK if de['fit_type'] == 'parametric' else ''} "
            f"and {how}. P-values were adjusted by Benjamini-Hochberg"
            f"{' after ' + ' and '.join(filters) if filters else ''}. {called}{shrink}")


def _enrichment_paragraph(spec: dict, versions: dict[str, str], seed: int) -> str:
    enr = spec["enrichment"]
    stat = {"deseq2": "Wald statistic (log2 fold change / its standard error)",
            "edger": "signed square root of the quasi-likelihood F (a t-like statistic)"}.get(de_engine(spec),
                                                                                           "moderated t")
    method = (f"p-values by fgsea's adaptive multilevel method ({enr['permutations']} permutations, sample size "
              f"{enr['sample_size']}, floor {enr['eps']:g})" if enr["method"] == "multilevel" else
              f"p-values from {enr['permutations']} gene-set permutations")
    collections = list(enr["collections"]) + list(enr.get("gmt", {}))
    limits = "; ".join(f"{c}: {lo}-{hi}" for c, (lo, hi) in enr["size_limits"].items() if c in collections)
    return (f"Gene sets ({', '.join(collections)}; versions in the provenance) were tested by preranked GSEA "
            f"(gseapy{_v(versions, 'gseapy')}) on each contrast's {stat}, {method}, seed {seed}, "
            f"for sets of {enr['min_size']}-{enr['max_size']} genes in the ranking"
            f"{f' ({limits})' if limits else ''}, and by over-representation of the up- and down-regulated genes "
            "among all tested genes (hypergeometric test). P-values were adjusted by Benjamini-Hochberg within "
            "each collection.")


def _paracrine_paragraph(spec: dict) -> str:
    par, de = spec["paracrine"], spec["de"]
    if not par["enabled"]:
        return ""
    direction = {"both": "in either direction", "up": "up in the target", "down": "down in the target"}
    checks = []
    if par["robustness"]:
        how = ("limma refitted" if spec["assay"] == "proteomics" else
               "TMM, voom and limma refitted" if de_engine(spec) == "voom" else
               "TMM, dispersions and the quasi-likelihood fit redone" if de_engine(spec) == "edger" else
               "under the full fit's dispersion trend and prior" if par["robustness_refit"] == "held_prior"
               else "the whole model refitted")
        checks.append(f"refitted with each sample of the contrast's two groups left out in turn ({how})")
    checks.append(f"compared with contaminant-tissue signatures after removing the design's effects (Pearson r >= "
                  f"{par['contamination']['min_r']} marks it)")
    checks.append("assigned the cell types that make it")
    return (f"Paracrine candidates were the annotated secreted factors and ligands (lsecflow's offline annotation; "
            f"ligand-receptor pairs listed by at least {par['min_pair_sources']} resources) with an adjusted p-value "
            f"below {de['alpha']} {direction[par['direction']]}"
            + (f" and |log2 fold change| above {de['lfc_threshold']}" if de["lfc_threshold"] else "")
            + f", ranked by |log2 fold change| x min(-log10 padj, {par['padj_cap']}) x min(supporting resources, "
            f"{par['evidence_saturation']}) / {par['evidence_saturation']}. Each candidate was "
            + "; ".join(checks) + ".")


def methods_text(spec: dict, versions: dict[str, str], seed: int = 0, qc_verdict: dict | None = None,
                 fmt: str | None = None) -> list[str]:
    """The methods paragraphs of one dataset: input and QC, differential testing, enrichment, paracrine.

    Parameters
    ----------
    spec
        The dataset's resolved spec (defaults filled), as the run used it.
    versions
        :func:`package_versions` of the run's provenance.
    seed
        ``compute.seed`` (random steps: GSEA, imputation, single-cell embedding).
    qc_verdict
        The dataset's ``qc/verdict.json``: single-cell thresholds computed by the run (MADs) are stated with
        their values, and a matrix without mitochondrial genes is said to have had no mitochondrial threshold.
    fmt
        The counts format as read (detected when ``counts.format`` is auto); None = ``counts.format``.
    """
    paragraphs = [_input_paragraph(spec, versions, seed, qc_verdict, fmt), _de_paragraph(spec, versions, fmt),
                  _enrichment_paragraph(spec, versions, seed), _paracrine_paragraph(spec)]
    return [p for p in paragraphs if p]
