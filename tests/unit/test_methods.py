"""lsecflow.methods: the methods paragraphs say what the run did, from its settings and versions, on the
shipped datasets (bulk DLPC, single-cell TMS, proteomics UPS1) and with settings changed one at a time."""
from __future__ import annotations

import copy

import pytest
import yaml
from helpers import REPO, shipped_dataset, ups1_dataset
from lsecflow import methods, peptides
from lsecflow.config import load_config
from lsecflow.methods import methods_text

VERSIONS = dict(lsecflow="0.1.0", snakemake="9.27.1", python="3.11.7", inmoose="0.9.1", gseapy="1.3.1",
                scanpy="1.11.5")  # keywords: the architecture test reads a quoted tool name as running it


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    from helpers import load_one

    ups1 = load_one(tmp_path_factory.mktemp("ups1"), ups1_dataset()).datasets["p"].spec
    return {"dlpc": shipped_dataset("dlpc_liver").spec, "tms": shipped_dataset("tms_liver").spec, "ups1": ups1}


def text(spec: dict, **changes) -> str:
    """The methods of ``spec`` with ``section.key=value`` changes (``de__test="lrt"``)."""
    spec = copy.deepcopy(spec)
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        spec[section][key] = value
    return "\n".join(methods_text(spec, VERSIONS, seed=7))


def test_bulk_defaults(specs):
    t = text(specs["dlpc"])
    for phrase in ("Mouse data were analysed with lsecflow 0.1.0 (Snakemake 9.27.1, Python 3.11.7)",
                   "at least 10 counts in at least 3 samples", "inmoose 0.9.1", "design ~ Group",
                   "Disease vs Chow (Group); Disease/Agonist vs Chow (Group)", "median-of-ratios size factors",
                   "a parametric dispersion trend (DESeq2's local regression trend wherever the parametric one "
                   "fails to fit, as in R) and Wald tests.", "independent filtering on the mean count (alpha 0.1)",
                   "Genes with an adjusted p-value below 0.05 were called.", "gseapy 1.3.1", "seed 7",
                   "1000 permutations", "lsec_tnf_axis: 3-500", "under the full fit's dispersion trend and prior"):
        assert phrase in t, phrase
    assert "shrunk" not in t and "above 0" not in t


@pytest.mark.parametrize("changes, says, not_says", [
    ({"de__lfc_threshold": 1.0}, ["Wald tests against |log2 fold change| <= 1.0", "and |log2 fold change| above 1.0"],
     []),
    ({"de__test": "lrt", "de__reduced": "~ 1"}, ["a likelihood-ratio test of ~ Group against ~ 1"], ["Wald tests"]),
    ({"de__shrink": "normal"}, ["shrunk with a normal prior"], []),
    ({"de__fit_type": "mean", "de__size_factors": "poscounts"}, ["poscounts size factors, a mean dispersion"], []),
    ({"de__independent_filter": False, "de__cooks_filter": False}, ["Benjamini-Hochberg. Genes"],
     ["independent filtering"]),
    ({"enrichment__method": "permutation", "enrichment__permutations": 2000},
     ["p-values from 2000 gene-set permutations"], ["multilevel"]),
    ({"paracrine__robustness": False, "paracrine__direction": "up"}, ["below 0.05 up in the target"], ["refitted"]),
    ({"paracrine__enabled": False}, [], ["Paracrine"]),
    ({"qc__exclude": ["Sample725"]}, ["Samples left out of the analysis: Sample725."], []),
    ({"de__engine": "voom"}, ["tested with limma-voom", "edgeR's TMM", "moderated t-tests (eBayes)",
                              "GSEA (gseapy 1.3.1) on each contrast's moderated t", "(TMM, voom and limma refitted)",
                              "R limma 3.54.1 and edgeR 3.40.2"], ["DESeq2", "Wald", "dispersion"]),
    ({"de__engine": "voom", "de__trend": True, "de__robust": True, "de__lfc_threshold": 0.5},
     ["limma's treat against |log2 fold change| <= 0.5"], ["eBayes"]),
    ({"de__engine": "voom", "de__trend": True}, ["moderated t-tests (eBayes, trend = TRUE)"], ["quality weights"]),
    ({"de__engine": "voom", "de__sample_weights": True}, ["trend and by sample quality weights "
                                                          "(voomWithQualityWeights"], []),
    ({"de__engine": "voom", "de__block": "litter"},
     ["with the design ~ Group, with the samples of each 'litter' treated as correlated (a random block effect: "
      "limma's lmFit with block and the consensus within-block correlation from duplicateCorrelation on voom's "
      "output, voom again with that correlation and duplicateCorrelation again; written to de/design.block.tsv) and "
      "tested by moderated t-tests"], []),
    ({"de__engine": "edger"}, ["tested with edgeR's quasi-likelihood pipeline", "estimateDisp", "glmQLFTest",
                               "on each contrast's signed square root of the quasi-likelihood F",
                               "(TMM, dispersions and the quasi-likelihood fit redone)", "R edgeR 3.40.2"],
     ["DESeq2", "Wald", "robust prior", "moderated"]),
    ({"de__engine": "edger", "de__lfc_threshold": 1.0}, ["edgeR's glmTreat against |log2 fold change| <= 1.0"],
     ["glmQLFTest"]),
    ({"de__engine": "edger", "de__robust": True, "de__test": "lrt", "de__reduced": "~ 1"},
     ["(robust prior)", "quasi-likelihood F tests of ~ Group against ~ 1"], ["each contrast's coefficient"]),
    ({"de__engine": "voom", "de__test": "lrt", "de__reduced": "~ 1"},
     ["tested by limma's moderated F test of the coefficients of ~ Group that ~ 1 lacks (every contrast carries its "
      "p-values) (eBayes)"], ["moderated t-tests", "likelihood-ratio"]),
])
def test_bulk_settings_change_the_text(specs, changes, says, not_says):
    t = text(specs["dlpc"], **changes)
    assert all(p in t for p in says), (says, t)
    assert not any(p in t for p in not_says), not_says


def test_single_cell(specs):
    t = text(specs["tms"])
    assert "log counts no more than 5 MADs below the median" in t and "Scrublet (scanpy 1.11.5)" in t
    assert "summed per sample and cell type (pseudobulk)" in t and "within each cell type" in t
    t = text(specs["tms"], qc__min_counts=500, qc__max_mito_fraction=0.2, qc__doublets="none")
    assert "at least 500 counts" in t and "at most 0.2" in t and "Scrublet" not in t
    assert ("speckle's propeller (Phipson et al. 2022): each sample's proportions of the cell types, "
            "logit-transformed (0.5 added to each count), were fitted with limma under the same design (eBayes, "
            "robust on)") in text(specs["tms"])
    assert "arcsine square root-transformed" in text(specs["tms"], composition__transform="asin")
    assert "propeller" not in text(specs["tms"], composition__enabled=False)
    assert "propeller" not in text(specs["dlpc"])  # bulk: nothing to count
    assert ("The terms that the reduced design ~ 1 lacks were tested together by limma's moderated F test "
            "(propeller's ANOVA)") in text(specs["tms"], de__test="lrt", de__reduced="~ 1")
    blocked = text(specs["tms"], de__block="sex")
    assert ("robust on; the samples of each 'sex' treated as correlated, as in the expression fit: limma's lmFit with "
            "block and the within-block correlation of the transformed proportions from duplicateCorrelation), "
            "Benjamini-Hochberg") in blocked
    assert "treated as correlated, as in the expression fit" not in text(specs["tms"])


def test_proteomics(specs):
    t = text(specs["ups1"])
    for phrase in ("LFQ intensities were read from the MaxQuant proteinGroups table",
                   "at least 2 valid values in each level of group were kept",
                   "median-centred", "least squares (limma's lmFit)", "(limma's eBayes) and moderated t-tests",
                   "Proteins with an adjusted p-value below 0.05", "on each contrast's moderated t", "(limma refitted)"):
        assert phrase in t, phrase
    assert "DESeq2" not in t and "inmoose" not in t
    assert "at least 2 valid values in each combination of group x replicate were kept" in text(
        specs["ups1"], proteomics__filter_by=["group", "replicate"])
    t = text(specs["ups1"], de__lm_method="robust", de__trend=True, de__robust=True, de__lfc_threshold=0.5,
             proteomics__impute="downshift", proteomics__normalize="quantile")
    for phrase in ("robust regression (M-estimation with Huber's psi", "eBayes, trend = TRUE, robust = TRUE",
                   "treat against |log2 fold change| <= 0.5", "quantile-normalised", "down-shifted by 1.8 SD",
                   "(seed 7)"):
        assert phrase in t, phrase
    assert ("each protein fitted by least squares (limma's lmFit), with the samples of each 'replicate' treated as "
            "correlated (a random block effect: limma's lmFit with block and the consensus within-block correlation "
            "from duplicateCorrelation; written to de/design.block.tsv), with empirical Bayes"
            in text(specs["ups1"], de__block="replicate"))
    assert ("least squares (limma's lmFit), weighted by sample quality weights (limma's arrayWeights), with"
            in text(specs["ups1"], de__sample_weights=True))
    assert ("missing values were drawn from each sample's normal distribution estimated by quantile regression, "
            "truncated at its detection limit (imputeLCMD's QRILC, tune.sigma 1" in text(specs["ups1"],
                                                                                   proteomics__impute="qrilc"))
    assert "as imputeLCMD's impute.MAR.MNAR does" in text(specs["ups1"], proteomics__impute="mar_mnar")
    assert "(a draw from the samples' normal estimated by EM, norm's, seed 1234567), the others as left-censored" in \
        text(specs["ups1"], proteomics__impute="mar_mnar", proteomics__impute_mar_method="mle")
    assert "normalised by cyclic loess (limma's normalizeCyclicLoess" in text(specs["ups1"],
                                                                               proteomics__normalize="cyclicloess")
    assert ("with empirical Bayes moderation (limma's eBayes) and limma's moderated F test of the coefficients of "
            "~ group that ~ 1 lacks" in text(specs["ups1"], de__test="lrt", de__reduced="~ 1"))
    for method, says in (("mindet", "set to each sample's 0.01 quantile (imputeLCMD's MinDet)"),
                         ("minprob", "centred on each sample's 0.01 quantile with 1 x the median protein SD"),
                         ("knn", "imputed from the 10 nearest proteins"),
                         ("svd", "imputed from a rank-2 singular value decomposition (pcaMethods' svdImpute")):
        assert says in text(specs["ups1"], proteomics__impute=method), method
    schema = yaml.safe_load((REPO / "workflow/schemas/dataset.schema.yaml").read_text())
    methods = schema["properties"]["proteomics"]["properties"]["impute"]["enum"]  # every method has its words
    assert len({text(specs["ups1"], proteomics__impute=m) for m in methods}) == len(methods) >= 8
    t = text(specs["ups1"], de__deqms="nls", proteomics__count_column="Razor + unique peptides")
    assert ("DEqMS's empirical Bayes moderation (spectraCounteBayes, fit.method = \"nls\"; a prior variance that "
            "follows each protein's count, the table's column 'Razor + unique peptides',") in t
    assert "limma's eBayes" not in t
    t = text(specs["ups1"], de__deqms=True, proteomics__count_column="Razor + unique peptides {}")
    assert "the smallest over the samples of the table's columns 'Razor + unique peptides <sample>'" in t


def test_every_shipped_dataset_gets_four_paragraphs():
    import yaml
    from helpers import REPO

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for name, ds in load_config(cfg, roots=[REPO]).datasets.items():
        paragraphs = methods_text(ds.spec, VERSIONS, 0)
        assert len(paragraphs) == 4 and all(p.endswith(".") for p in paragraphs), name


def test_single_cell_states_the_thresholds_the_run_used(specs):
    """With the run's verdict at hand, MAD thresholds come with their values, and a matrix without
    mitochondrial genes (the shipped TMS genes) is not said to have been filtered by mitochondrial fraction."""
    verdict = {"thresholds": {"min_counts": 186.6, "min_genes": 12.6, "max_mito_fraction": None},
               "mitochondrial_genes": 0}
    t = "\n".join(methods_text(specs["tms"], VERSIONS, 7, verdict))
    assert "log counts no more than 5 MADs below the median (at least 187 counts)" in t
    assert "no mitochondrial threshold applied, as the matrix holds no mitochondrial genes" in t
    assert "MADs above the median" not in t
    verdict = {"thresholds": {"min_counts": 900.0, "min_genes": 300.0, "max_mito_fraction": 0.0812},
               "mitochondrial_genes": 13}
    t = "\n".join(methods_text(specs["tms"], VERSIONS, 7, verdict))
    assert "a mitochondrial fraction no more than 5 MADs above the median (at most 0.0812)" in t


def test_a_peptide_table_says_how_its_peptides_became_proteins(specs):
    """The format as detected (counts.format auto) is what the paragraph names: a MaxQuant peptides table and its
    summary; a proteinGroups table says neither."""
    spec = copy.deepcopy(specs["ups1"])
    spec["proteomics"]["summarise"] = "median_polish"
    spec["de"]["deqms"] = "loess"
    t = "\n".join(methods_text(spec, VERSIONS, 7, fmt="maxquant_peptides"))
    assert "a prior variance that follows each protein's count, its number of quantified peptides," in t
    assert ("LFQ intensities were read from the MaxQuant peptides table; decoy and contaminant peptides were removed; "
            "peptides with a value were summarised to their leading razor proteins by Tukey's median polish"
            in t)
    assert "peptides" not in "\n".join(methods_text(specs["ups1"], VERSIONS, 7, fmt="maxquant"))


def test_a_diann_report_says_its_q_values_and_its_precursors(specs):
    spec = copy.deepcopy(specs["ups1"])
    spec["proteomics"]["summarise"] = "maxlfq"
    spec["de"]["deqms"] = "loess"
    t = "\n".join(methods_text(spec, VERSIONS, 7, fmt="diann_report"))
    assert ("precursor quantities (Precursor.Normalised) with Q.Value and PG.Q.Value at most 0.01 were read from the "
            "DIA-NN main report; precursors with a value were summarised to their protein groups by MaxLFQ" in t)
    assert "each protein's count, its number of quantified precursors," in t and "decoy" not in t
    spec["proteomics"].update(quantity_column="Precursor.Quantity", proteotypic_only=True)
    t = "\n".join(methods_text(spec, VERSIONS, 7, fmt="diann_report"))
    assert "proteotypic precursor quantities (Precursor.Quantity) with Q.Value and PG.Q.Value at most 0.01" in t
    spec["proteomics"]["summarise"] = "diann_maxlfq"
    t = "\n".join(methods_text(spec, VERSIONS, 7, fmt="diann_report"))
    assert "summarised to their protein groups by DIA-NN's own MaxLFQ" in t
    assert set(methods.SUMMARIES) == set(peptides.SUMMARIES)  # every summary has its sentence


def test_only_formats_that_flag_rows_say_rows_were_removed(specs):
    """remove_flagged (default true) removes MaxQuant's and FragPipe's flagged rows; a DIA-NN matrix or a generic
    table has none, and the methods said 'decoy, contaminant and site-only rows were removed' of them too."""
    spec = copy.deepcopy(specs["ups1"])
    said = {fmt: "\n".join(methods_text(spec, VERSIONS, 7, fmt=fmt))
            for fmt in ("maxquant", "fragpipe", "diann", "protein_table", "peptide_table")}
    assert "decoy, contaminant and site-only rows were removed" in said["maxquant"]
    assert "decoy (rev_) and contaminant (contam_) rows and those of other organisms were removed" in said["fragpipe"]
    assert not any("were removed" in said[f] for f in ("diann", "protein_table", "peptide_table"))
    assert "peptides with a value were summarised to their proteins by Tukey's median polish" in said["peptide_table"]
