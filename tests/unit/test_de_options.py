"""lsecflow.de_options: the de: block checked at parse time (through load_datasets, as the Snakefile runs
it, and directly): DESeq2's test, reduced design, shrinkage and fold-change threshold against the design;
keys of the other assay's engine refused."""
from __future__ import annotations

import pandas as pd
import pytest
from helpers import DLPC_COUNTS, REPO, dlpc_dataset, load_datasets
from lsecflow.de_options import DESEQ2_ONLY_KEYS, LIMMA_ONLY_KEYS, check_de_keys_for_assay, keys_set
from lsecflow.errors import ConfigError


@pytest.mark.parametrize("de, error", [
    ({"test": "lrt"}, "key 'de.test' is 'lrt', which needs a reduced design: add de.reduced"),
    ({"test": "lrt", "reduced": "~ batch + Group"}, "'de.reduced': '~ batch \\+ Group' has every term"),
    ({"test": "lrt", "reduced": "~ Group + sex"}, "column 'sex' of '~ Group \\+ sex' is not in the sample sheet"),
    ({"test": "lrt", "reduced": "~ batch"}, None),
    ({"test": "lrt", "reduced": "~ batch", "lfc_threshold": 1}, "'de.lfc_threshold' is 1 with de.test 'lrt'.*Wald"),
    ({"reduced": "~ batch"}, "key 'de.reduced' is set but de.test is 'wald'"),
    ({"fit_type": "local"}, "'local' is not one of \\['parametric', 'mean'\\]"),
    ({"shrink": "ashr"}, "'ashr' is not one of"),
])
def test_de_test_and_options_checked_before_any_job(tmp_path, de, error):
    """de.test / de.reduced / de.fit_type / de.shrink are refused at parse time with the key and the fix."""
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t")
    sheet["batch"] = ["a", "b"] * 10
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DLPC_COUNTS, tmp_path / "s.tsv", design="~ batch + Group")
    spec["de"] = {**spec.get("de", {}), **de}
    if error is None:
        assert load_datasets({"d": spec}).datasets["d"].spec["de"]["reduced"] == "~ batch"
    else:
        with pytest.raises(ConfigError, match=error):
            load_datasets({"d": spec})


def test_only_keys_off_their_default_count():
    """A key written with its default value is harmless (nothing changes), so only changed ones are named."""
    assert keys_set({"test": "wald", "shrink": False, "min_count": 10}, DESEQ2_ONLY_KEYS) == []
    assert keys_set({"test": "lrt", "reduced": "~ 1", "min_count": 5}, DESEQ2_ONLY_KEYS) == \
        ["de.test", "de.reduced", "de.min_count"]
    assert keys_set({"lm_method": "ls", "trend": True}, LIMMA_ONLY_KEYS) == ["de.trend"]
    check_de_keys_for_assay({"assay": "bulk", "de": {"shrink": "normal"}}, "x")
    check_de_keys_for_assay({"assay": "proteomics", "de": {"robust": True}}, "x")
    with pytest.raises(ConfigError, match=r"x: key\(s\) de.fit_type are DESeq2's"):
        check_de_keys_for_assay({"assay": "proteomics", "de": {"fit_type": "mean"}}, "x")
    with pytest.raises(ConfigError, match=r"x: key\(s\) de.robust are limma's"):
        check_de_keys_for_assay({"assay": "single_cell", "de": {"robust": True}}, "x")
