"""lsecflow.qc_proteomics: the QC job on the real UPS1 spike-in, and its variance figure's numbers (the
diagnostics for de.trend and de.deqms) against R."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import (
    LIMMA_REF,
    REPO,
    SECRETOME,
    load_one,
    pca_separation,
    r_table,
    secretome_dataset,
    ups1_dataset,
    ups1_preprocessed,
)
from lsecflow import limma
from lsecflow.formula import design_metadata
from lsecflow.ingest import run_ingest
from lsecflow.qc_proteomics import run_qc_proteomics, variance_figure, variance_fits
from lsecflow.rule_params import guard_params

CONTRAST = {"fmol25_vs_fmol10": {"variable": "group", "target": "fmol25", "reference": "fmol10"}}
QC_TABLES = ("samples", "proteins", "preprocessing", "correlation", "pca", "verdict")
QC_FIGURES = ("missing", "intensities", "correlation", "pca", "variance")


def test_variance_fits_are_limmas_and_deqms():
    """The figure's prior is eBayes's (as the DE step's), its trend over peptide count R DEqMS's loess, with
    DEqMS's pseudo-count where a count is 0."""
    pre, sheet, var = ups1_preprocessed()
    spec = {"design": "~ group", "contrasts": CONTRAST, "de": {"deqms": True}}
    fits = variance_fits(pre.values, sheet, spec, ["group"], var["count"])
    meta = design_metadata(sheet.loc[pre.values.columns], ["group"], CONTRAST)
    _, prior = limma.contrast_tables(pre.values, meta, "~ group", CONTRAST, {"lfc_threshold": 0.0})
    assert fits["prior"].iloc[0] == pytest.approx(prior["s2_prior"], rel=1e-12)
    ref = r_table("ups1.deqms.tsv.gz")
    np.testing.assert_allclose(fits.loc[ref.index, "count_trend"] * np.log(2), ref["trend"], rtol=1e-12)
    assert fits["prior_trend"].nunique() > 100  # one per intensity
    # five counts of 0: the figure's trend takes DEqMS's pseudo-count, as the DE step and R (ups1.deqms_zero)
    zeroed = var["count"].copy()
    zeroed.loc[ref.index[:5]] = 0
    fits = variance_fits(pre.values, sheet, spec, ["group"], zeroed)
    np.testing.assert_allclose(fits.loc[ref.index, "count_trend"] * np.log(2), r_table("ups1.deqms_zero.tsv.gz")["trend"],
                               rtol=1e-12)


def test_qc_job_draws_the_variance_figure(tmp_path):
    """The QC job on the ingested UPS1 table (with its peptide counts) writes its tables and five figures, with the
    rule's own keys only; with de.block the PCA gains a panel coloured by the block (two panels, group and
    replicate: twice as wide as high)."""
    spec = ups1_dataset(de={"deqms": True, "block": "replicate"})
    spec["proteomics"]["count_column"] = "Razor + unique peptides"
    ds = load_one(tmp_path, spec).datasets["p"]
    h5ad = tmp_path / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {k: str(tmp_path / f"{k}.{'json' if k == 'verdict' else 'tsv'}") for k in QC_TABLES}
    figures = {k: str(tmp_path / f"{k}.png") for k in QC_FIGURES}
    params = guard_params(ds.params(rule="qc_proteomics"))  # as lsecflow.snake.run hands it to the job
    verdict = run_qc_proteomics(str(h5ad), params, outputs, figures)
    assert verdict["proteins_kept"] == 1470 == json.loads((tmp_path / "verdict.json").read_text())["proteins_kept"]
    for kind in QC_FIGURES:
        assert (tmp_path / f"{kind}.png").stat().st_size > 10_000, kind
    header = (tmp_path / "pca.png").read_bytes()[16:24]
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")
    assert width / height > 1.8


@pytest.mark.parametrize("n_proteins", [3, 8])
def test_variance_figure_of_a_small_array(tmp_path, caplog, n_proteins):
    """A cytokine array of a few analytes: eBayes's trend is R's (its prior df is infinite, and for 3 proteins the
    spline has no interior knot: inmoose could take neither until lsecflow.limma_robust mended both); for 3
    proteins DEqMS's loess cannot be fitted, so the figure goes without that line (logged) instead of failing the
    QC job. Without counts the right panel says how to get them."""
    pre, sheet, var = ups1_preprocessed()
    small = pre.values.dropna().head(n_proteins)
    spec = {"design": "~ group", "contrasts": CONTRAST, "de": {"deqms": True, "trend": False},
            "proteomics": {"count_column": "Razor + unique peptides"}}
    with caplog.at_level(logging.WARNING, logger="lsecflow.qc_proteomics"):
        fits = variance_fits(small, sheet, spec, ["group"], var["count"])
        plain = variance_fits(small, sheet, spec, ["group"], None)
    if n_proteins == 3:
        assert fits["count_trend"].isna().all() and "no DEqMS trend (DEqMS: the loess" in caplog.text
    table = "ups1.infinite_prior.tsv" if n_proteins == 8 else f"ups1.infinite_prior_{n_proteins}.tsv"
    ref = pd.read_csv(LIMMA_REF / table, sep="\t", index_col="protein_ids")
    np.testing.assert_allclose(fits.loc[ref.index, "prior_trend"], ref["s2_prior"], rtol=1e-10)
    assert "no eBayes trend" not in caplog.text
    for name, table in (("counts", fits), ("plain", plain)):
        variance_figure(table, spec, "small", str(tmp_path / f"{name}.png"))
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


@pytest.mark.skipif(not (SECRETOME / "proteins_maxlfq.tsv.gz").exists(), reason="the secretome is staged in ../shared only")
def test_protein_pca_is_drawn_without_the_cell_type_too(tmp_path):
    """The real secretome of both cell types (22 samples) with design ~ cell_type + group: cell_type is a term no
    contrast names, so the QC PCA gains a row without it (limma's removeBatchEffect on the proteins without a
    missing value): the cell types, far apart in the plain PCA, are not in the corrected one."""
    spec = secretome_dataset(design="~ cell_type + group")
    spec["samples"]["sheet"] = str(SECRETOME / "samples_all.tsv")
    ds = load_one(tmp_path, spec).datasets["p"]
    h5ad = tmp_path / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {k: str(tmp_path / f"{k}.{'json' if k == 'verdict' else 'tsv'}") for k in QC_TABLES}
    run_qc_proteomics(str(h5ad), guard_params(ds.params(rule="qc_proteomics")), outputs,
                      {k: str(tmp_path / f"{k}.png") for k in QC_FIGURES})
    pca = pd.read_csv(tmp_path / "pca.tsv", sep="\t", index_col="sample").drop(index="variance_explained")
    obs = pd.read_csv(SECRETOME / "samples_all.tsv", sep="\t", index_col="sample")
    raw, corrected = ["PC1", "PC2"], ["corrected_PC1", "corrected_PC2"]
    assert pca_separation(pca, obs, raw, "cell_type") > 1.5  # measured 1.63 -> 0.17; group 2.16 -> 3.93
    assert pca_separation(pca, obs, corrected, "cell_type") < 0.2 * pca_separation(pca, obs, raw, "cell_type")
    assert pca_separation(pca, obs, corrected, "group") > pca_separation(pca, obs, raw, "group")
    header = (tmp_path / "pca.png").read_bytes()[16:24]  # two panels (cell_type, group) in two rows
    assert int.from_bytes(header[:4], "big") / int.from_bytes(header[4:], "big") < 1.2


def test_a_peptide_tables_qc_counts_its_peptides_per_sample(tmp_path):
    """The shipped UPS1 peptides (MaxQuant peptides.txt, summarised by median polish): qc/samples.tsv has each
    sample's peptides with a value before the summary (as counted from the table here) beside its proteins, and the
    missing-values figure draws them; a protein table has no such column."""
    spec = yaml.safe_load((REPO / "config/datasets/ups1_peptides.yaml").read_text())
    spec["samples"]["sheet"] = str(REPO / spec["samples"]["sheet"])
    spec["counts"]["path"] = str(REPO / spec["counts"]["path"])
    ds = load_one(tmp_path, spec).datasets["p"]
    h5ad = tmp_path / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {k: str(tmp_path / f"{k}.{'json' if k == 'verdict' else 'tsv'}") for k in QC_TABLES}
    figures = {k: str(tmp_path / f"{k}.png") for k in QC_FIGURES}
    run_qc_proteomics(str(h5ad), guard_params(ds.params(rule="qc_proteomics")), outputs, figures)
    samples = pd.read_csv(outputs["samples"], sep="\t", index_col=0)
    table = pd.read_csv(REPO / spec["counts"]["path"], sep="\t")
    expected = {s: int((table[f"Intensity {s}"] > 0).sum()) for s in samples.index}
    assert samples["peptides_quantified"].to_dict() == expected
    assert (samples["peptides_quantified"] > samples["quantified"]).all()
    assert (tmp_path / "missing.png").stat().st_size > 10_000
