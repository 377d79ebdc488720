"""lsecflow.de_options: the de: block checked at parse time through load_datasets, as the Snakefile runs
it: DESeq2's test, reduced design, shrinkage and fold-change threshold against the design; DEqMS's needs."""
from __future__ import annotations

import pandas as pd
import pytest
from helpers import DLPC_COUNTS, REPO, dlpc_dataset, load_datasets, loaded_or_refused, ups1_dataset
from lsecflow.de_options import deqms_method
from lsecflow.errors import ConfigError


@pytest.mark.parametrize("de, error", [
    ({"test": "lrt"}, "key 'de.test' is 'lrt', which needs a reduced design: add de.reduced"),
    ({"test": "lrt", "reduced": "~ batch + Group"}, "'de.reduced': '~ batch \\+ Group' has every term"),
    ({"test": "lrt", "reduced": "~ Group + sex"}, "column 'sex' of '~ Group \\+ sex' is not in the sample sheet"),
    ({"test": "lrt", "reduced": "~ batch"}, None),
    ({"test": "lrt", "reduced": "~ batch", "lfc_threshold": 1}, "'de.lfc_threshold' is 1 with de.test 'lrt'.*Wald"),
    ({"reduced": "~ batch"}, "key 'de.reduced' is set but de.test is 'wald'"),
    ({"fit_type": "glmGamPoi"}, "'glmGamPoi' is not one of \\['parametric', 'local', 'mean'\\]"),
    ({"shrink": "ashr"}, "'ashr' is not one of"),
])
def test_de_test_and_options_checked_before_any_job(tmp_path, de, error):
    """de.test / de.reduced / de.fit_type / de.shrink are refused at parse time with the key and the fix."""
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t")
    sheet["batch"] = ["a", "b"] * 10
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DLPC_COUNTS, tmp_path / "s.tsv", design="~ batch + Group")
    spec["de"] = {**spec.get("de", {}), **de}
    loaded = loaded_or_refused({"d": spec}, error, ConfigError)
    assert loaded is None or loaded.datasets["d"].spec["de"]["reduced"] == "~ batch"



@pytest.mark.parametrize("de, proteomics, error", [
    ({"deqms": True}, {"count_column": "Razor + unique peptides"}, None),
    ({"deqms": "nls", "lm_method": "robust"}, {"count_column": "Razor + unique peptides"}, None),
    ({"deqms": True}, {}, "key 'de.deqms' needs each protein's peptide or PSM count: set proteomics.count_column"),
    ({}, {"count_column": "Razor + unique peptides"}, "'proteomics.count_column' is set but only DEqMS reads it"),
    ({"deqms": True, "trend": True, "lfc_threshold": 1}, {"count_column": "Razor + unique peptides"},
     "'de.deqms' cannot go with de.trend, de.lfc_threshold: DEqMS replaces eBayes's prior"),
    ({"deqms": True, "robust": True}, {"count_column": "Razor + unique peptides"}, "cannot go with de.robust"),
    ({"deqms": True, "test": "lrt", "reduced": "~ 1"}, {"count_column": "Razor + unique peptides"},
     "cannot go with de.test: lrt: DEqMS .* nor an F test of several terms"),
    ({"deqms": True}, {"count_column": "Peptide count"},
     "proteomics.count_column 'Peptide count': no column 'Peptide count'. Count-like columns in the table: "
     "Peptides, Razor \\+ unique peptides, Unique peptides, MS/MS count"),
    ({"deqms": True}, {"count_column": "Razor + unique peptides {}"},
     "sample 'C_R1': no column 'Razor \\+ unique peptides C_R1'"),
    ({"deqms": "ebayes"}, {}, "'ebayes' is not one of"),
])
def test_deqms_options_checked_before_any_job(de, proteomics, error):
    """de.deqms and proteomics.count_column on the real UPS1 table: each needs the other, DEqMS refuses
    eBayes's and treat's options, and a count column not in the table is named with the table's count-like
    columns."""
    spec = ups1_dataset()
    spec["de"] = {**spec.get("de", {}), **de}
    spec["proteomics"] = {**spec["proteomics"], **proteomics}
    loaded = loaded_or_refused({"p": spec}, error)
    assert loaded is None or loaded.datasets["p"].spec["de"]["deqms"] == de["deqms"]


def test_deqms_is_refused_on_counts():
    spec = dlpc_dataset(DLPC_COUNTS)
    spec["de"] = {"deqms": True}
    with pytest.raises(ConfigError, match="de.deqms is limma's, for assay proteomics only"):
        load_datasets({"d": spec})


def test_deqms_method():
    assert [deqms_method({"deqms": v}) for v in (False, True, "loess", "nls")] == [None, "loess", "loess", "nls"]
    assert deqms_method({}) is None
