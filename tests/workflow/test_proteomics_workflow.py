"""assay: proteomics through the real Snakemake CLI: the shipped UPS1 run against R limma, its peptide table
summarised to proteins (format detected, DEqMS on the peptide counts) into the report, and the endothelial
secretome (FragPipe; no licence, read from ../shared, skipped cleanly without it) with its report."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from helpers import (
    REPO,
    SECRETOME,
    agreement,
    assert_matches,
    r_table,
    run_snakemake,
    secretome_dataset,
    ups1_dataset,
    write_config,
)


# ------------------------------------------------------------------------------------------ workflow run
@pytest.fixture(scope="module")
def proteomics_run(tmp_path_factory):
    """One real workflow run: UPS1 (shipped) and, where staged, the secretome."""
    work = tmp_path_factory.mktemp("proteomics")
    fast = {"collections": ["hallmark", "matrisome"], "permutations": 200}
    datasets = {"ups1": ups1_dataset(enrichment={"collections": ["hallmark"], "permutations": 200})}
    peptides = yaml.safe_load((REPO / "config/datasets/ups1_peptides.yaml").read_text())
    peptides["counts"] = {"path": str(REPO / peptides["counts"]["path"])}  # format: auto, detected
    peptides["samples"]["sheet"] = str(REPO / peptides["samples"]["sheet"])
    peptides["enrichment"] = {"collections": ["hallmark"], "permutations": 200}
    datasets["peptides"] = peptides
    if (SECRETOME / "proteins_maxlfq.tsv.gz").exists():
        datasets["secretome"] = secretome_dataset(enrichment=fast)
    cfg = write_config(work, datasets)
    proc = run_snakemake(work, cfg)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return work / "results"


needs_secretome = pytest.mark.skipif(not (SECRETOME / "proteins_maxlfq.tsv.gz").exists(),
                                     reason="the secretome is not shipped (no licence); staged in ../shared only")


@pytest.mark.slow
def test_workflow_ups1(proteomics_run):
    res = proteomics_run / "ups1"
    table = pd.read_csv(res / "de/fmol25_vs_fmol10.tsv", sep="\t", index_col="gene_id")
    assert_matches(agreement(table, r_table("ups1.median.tsv.gz")))
    steps = pd.read_csv(res / "qc/preprocessing.tsv", sep="\t").set_index("step")
    assert steps.loc["valid_filter", "proteins"] == 1470
    assert json.loads((res / "qc/verdict.json").read_text())["proteins_kept"] == 1470
    for kind in ("missing", "intensities", "correlation", "pca", "variance"):
        assert (res / f"qc/{kind}.png").stat().st_size > 10_000
    cand = pd.read_csv(res / "paracrine/fmol25_vs_fmol10.candidates.tsv", sep="\t")
    flagged = cand[cand["flagged"]]
    assert {"EGF", "CXCL8", "TNF"} <= set(flagged["symbol"])  # human UPS1 factors, up 2.5-fold
    loo = pd.read_csv(res / "paracrine/fmol25_vs_fmol10.robustness.tsv", sep="\t")
    assert loo["left_out"].nunique() == 6 and loo["padj"].notna().all()


@pytest.mark.slow
def test_workflow_ups1_peptides_into_the_report(proteomics_run):
    """The shipped peptide dataset with counts.format auto: the summary is the preprocessing's first step, the DE
    table carries each protein's peptide count (DEqMS's), the spiked proteins are up, and the report's methods
    name the peptide table and its summary (written from the detected format, not the config's 'auto')."""
    res = proteomics_run / "peptides"
    steps = pd.read_csv(res / "qc/preprocessing.tsv", sep="\t")
    assert steps["step"].iloc[0] == "summarise" and steps["detail"].iloc[0].startswith(
        "5633 peptides (95 without a value, left out) summarised to 915 proteins by median_polish")
    table = pd.read_csv(res / "de/fmol100_vs_fmol10.tsv", sep="\t", index_col="gene_id")
    assert table["peptide_count"].min() >= 1 and len(table) == 878
    assert table.loc["P01375ups|TNFA_HUMAN_UPS", "log2FoldChange"] > 2 and table.loc[
        "P01375ups|TNFA_HUMAN_UPS", "padj"] < 0.05
    html = (proteomics_run / "report.html").read_text()
    for needle in ("peptides/qc/intensities.png", "read from the MaxQuant peptides table",
                   "summarised to their leading razor proteins by Tukey&#x27;s median polish",
                   "its number of quantified peptides"):
        assert needle in html, needle


@needs_secretome
@pytest.mark.slow
def test_workflow_secretome_report(proteomics_run):
    res = proteomics_run / "secretome"
    table = pd.read_csv(res / "de/CPPP_vs_PBS.tsv", sep="\t", index_col="gene_id")
    ref = pd.read_csv(SECRETOME / "limma_reference_CPPP_vs_PBS.tsv", sep="\t", index_col="protein_id")
    assert_matches(agreement(table, ref))
    cand = pd.read_csv(res / "paracrine/CPPP_vs_PBS.candidates.tsv", sep="\t")
    flagged = cand[cand["flagged"]]
    top = flagged.head(30)
    assert {"protease/ECM regulator", "growth factor"} <= set(top["class"]), top[["symbol", "class"]]
    # the paper's title: soluble CD59 up, basement-membrane proteins down
    direction = flagged.set_index("symbol")["direction"]
    assert direction["CD59"] == "up" and {direction[g] for g in ("HSPG2", "NID1", "NID2")} == {"down"}
    assert list(flagged["rank"]) == list(range(1, len(flagged) + 1))
    html = (proteomics_run / "report.html").read_text()
    for needle in ("secretome/qc/missing.png", "secretome/qc/intensities.png", "CPPP_vs_PBS.volcano.png",
                   "CPPP_vs_PBS.matrisome.gsea_dotplot.png", "Preprocessing", "proteomics, human",
                   "PCA of the most variable proteins (", "on the normalised log2 "
                   "intensities (each pair over the proteins both quantified)"):
        assert needle in html, needle
    assert "blind VST" not in html and "variance-stabilised matrix" not in html  # the counts' captions
    gsea = pd.read_csv(res / "enrichment/CPPP_vs_PBS/matrisome.gsea.tsv", sep="\t")
    assert len(gsea) > 0
