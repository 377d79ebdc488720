"""lsecflow.de_options: the de: block checked at parse time through load_datasets, as the Snakefile runs
it: DESeq2's test, reduced design, shrinkage and fold-change threshold against the design."""
from __future__ import annotations

import pandas as pd
import pytest
from helpers import DLPC_COUNTS, REPO, dlpc_dataset, load_datasets
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

