"""A real lab's dataset that nobody here prepared goes through by config alone.

The airway study (Himes et al. 2014, PLoS One 9:e99625, GEO GSE52778: four human airway smooth muscle cell
lines, each untreated and treated with dexamethasone) as inmoose ships it (a port of Bioconductor's airway
package, LGPL), written the way a user gets it out of R: ``write.csv(assay(airway))`` and
``write.csv(colData(airway))``. Its conventions are its own: CSV with quoted names and an empty first header
cell, sample ids in the sheet's ``Run`` column (its first column is unnamed), nine annotation columns, levels
``trt`` / ``untrt``, human Ensembl ids without versions, and 425 ``LRG_`` records (Ensembl 75's GTF) among the
gene ids. Design ``~ cell + dex`` (two factors, paired by cell line)."""
from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import run_snakemake

CONFIG = """
results: results
datasets:
  airway:
    description: Himes et al. 2014 airway smooth muscle cells, dexamethasone (GEO GSE52778)
    assay: bulk
    species: human
    gene_ids: ensembl
    counts:
      path: airway_counts.csv
{drop}    samples:
      sheet: airway_coldata.csv
      id_column: Run
    design: "~ cell + dex"
    contrasts:
      dex_treated_vs_untreated:
        variable: dex
        target: trt
        reference: untrt
"""


def write_as_r_does(folder) -> None:
    from inmoose.data.airway import airway

    a = airway()
    counts = pd.DataFrame(np.asarray(a.X).T.astype(np.int64), index=a.var_names, columns=a.obs_names)
    counts.index.name = ""
    counts.to_csv(folder / "airway_counts.csv", quoting=csv.QUOTE_NONNUMERIC)
    coldata = a.obs.copy()
    coldata.index.name = ""
    coldata.to_csv(folder / "airway_coldata.csv", quoting=csv.QUOTE_NONNUMERIC)


@pytest.mark.slow
def test_airway_goes_through_by_config_alone(tmp_path):
    write_as_r_does(tmp_path)
    cfg = tmp_path / "config.yaml"
    # first as a user writes it: the LRG_ records are refused, and the message names the key that drops them
    cfg.write_text(CONFIG.format(drop=""))
    first = run_snakemake(tmp_path, cfg)
    assert first.returncode != 0
    assert "425 of 64102 gene ids do not match gene_ids: ensembl" in first.stderr, first.stderr[-3000:]
    assert "set counts.drop_ids: '^LRG_'" in first.stderr
    assert not (tmp_path / "results/airway/counts.h5ad").exists()
    cfg.write_text(CONFIG.format(drop="      drop_ids: '^LRG_'\n"))
    assert yaml.safe_load(cfg.read_text())["datasets"]["airway"]["counts"]["drop_ids"] == "^LRG_"
    proc = run_snakemake(tmp_path, cfg)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "425 gene ids match counts.drop_ids '^LRG_' and are left out" in (tmp_path / "logs/ingest/airway.log").read_text()
    de = pd.read_csv(tmp_path / "results/airway/de/dex_treated_vs_untreated.tsv", sep="\t").set_index("symbol")
    # glucocorticoid-induced genes of the paper (CRISPLD2, its title gene) and of the GR literature
    for gene in ("CRISPLD2", "FKBP5", "TSC22D3", "KLF15", "PER1", "DUSP1", "ZBTB16"):
        assert de.loc[gene, "padj"] < 0.05 and de.loc[gene, "log2FoldChange"] > 1, (gene, de.loc[gene].to_dict())
    assert (de["padj"] < 0.05).sum() > 1000
    assert (tmp_path / "results/report.html").exists()
    assert (tmp_path / "results/airway/paracrine/dex_treated_vs_untreated.candidates.tsv").exists()
