"""lsecflow.proteomics: preprocessing of the real UPS1 intensities (limma's quantile and cyclic loess
normalisation, the valid value filter, downshift imputation), and all-missing proteins and samples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import (
    UPS1_TABLE,
    bad_table,
    loaded_or_refused,
    r_table,
    ups1_dataset,
    ups1_sheet,
)
from lsecflow import protein_tables, proteomics
from lsecflow.errors import ConfigError, InputDataError


# ------------------------------------------------------------------------------------------ preprocessing
@pytest.mark.parametrize("method, tolerance", [("quantile", 1e-9), ("cyclicloess", 1e-12)])
def test_normalisation_is_limmas(method, tolerance):
    """normalizeQuantiles and normalizeCyclicLoess (method "fast") of the filtered log2 UPS1 matrix, 193
    missing values kept missing, as R's."""
    sheet = ups1_sheet()
    values, _, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {"normalize": method})
    ref = r_table(f"ups1.{method}_matrix.tsv.gz")
    ours = pre.values.loc[ref.index, ref.columns]
    assert ours.isna().equals(ref.isna()) and int(ours.isna().to_numpy().sum()) == 193
    assert float(np.nanmax(np.abs(ours.to_numpy() - ref.to_numpy()))) < tolerance


def test_filter_and_imputation():
    sheet = ups1_sheet()
    values, _, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    each = proteomics.preprocess(values, sheet["group"], {})
    anyg = proteomics.preprocess(values, sheet["group"], {"min_valid_in": "any"})
    assert len(each.values) == 1470 < len(anyg.values)
    steps = {s["step"]: s for s in each.steps}
    assert steps["valid_filter"]["proteins"] == 1470 and steps["normalize"]["missing"] == 193
    imp = proteomics.preprocess(values, sheet["group"], {"min_valid_in": "any", "impute": "downshift"}, seed=7)
    again = proteomics.preprocess(values, sheet["group"], {"min_valid_in": "any", "impute": "downshift"}, seed=7)
    pd.testing.assert_frame_equal(imp.values, again.values)  # seeded
    assert int(imp.imputed.to_numpy().sum()) == int(anyg.values.isna().to_numpy().sum()) > 0
    assert not imp.values.isna().to_numpy().any()
    for s in imp.values.columns:  # left-censored: drawn below the sample's observed values
        drawn, seen = imp.values[s][imp.imputed[s]], imp.values[s][~imp.imputed[s]]
        assert drawn.mean() < seen.mean() - 1.0 * seen.std()


def test_all_missing_proteins_and_samples(tmp_path):
    """All-missing proteins are dropped and counted (first ones named); a sample without any value, and a
    table where no protein passes the filter, stop with the sample / the filter named."""
    sheet = ups1_sheet()
    values, _, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {})
    dropped = next(s for s in pre.steps if s["step"] == "drop_all_missing")
    empty = values.index[(values == 0).all(axis=1)]
    assert str(len(empty)) in dropped["detail"] and empty[0] in dropped["detail"]
    with pytest.raises(InputDataError, match="sample 'D_R1' has no quantified protein"):
        proteomics.preprocess(values.assign(D_R1=0.0), sheet["group"], {})

    def zero_run(df):
        df["LFQ intensity D_R1"] = "0"
    with pytest.raises(InputDataError, match=r"proteinGroups.txt.gz: column 'LFQ intensity D_R1' \(sample 'D_R1'\) "
                                             "has no quantified protein"):
        protein_tables.read_protein_table(bad_table(tmp_path, zero_run), "maxquant", sheet.index, {}, "human", sheet)
    with pytest.raises(InputDataError, match="no protein passes the valid-value filter"):
        proteomics.preprocess(values, sheet["group"], {"min_valid": 4})


def test_filter_groups_follow_the_contrast():
    """The valid-value filter's groups: the first contrast's variable, crossed with its within / interaction
    columns by default, or proteomics.filter_by (a column or a list); with only slopes, one group."""
    obs = pd.DataFrame({"cell": ["A", "A", "B", "B"], "group": ["ctl", "trt"] * 2, "dose": ["1", "2", "3", "4"]})
    plain = {"c": {"variable": "group", "target": "trt", "reference": "ctl"}}
    within = {"c": {**plain["c"], "within": {"cell": "B"}}}
    slope = {"c": {"variable": "dose"}}
    assert proteomics.filter_columns({}, plain) == ["group"]
    assert proteomics.filter_columns({}, within) == ["group", "cell"]
    assert proteomics.filter_columns({"filter_by": "cell"}, within) == ["cell"]
    assert proteomics.filter_columns({}, slope) == []
    assert list(proteomics.filter_groups(obs, {}, within)) == ["ctl · A", "trt · A", "ctl · B", "trt · B"]
    assert set(proteomics.filter_groups(obs, {}, slope)) == {"all"}


@pytest.mark.parametrize("proteomics_keys, error", [
    ({"filter_by": "plate"}, r"proteomics.filter_by': 'plate' is not a column of the sample sheet"),
    ({"filter_by": ["group", "plate"]}, "'plate' is not a column"),
    ({"min_valid": 4}, r"proteomics.min_valid': 4 values in each level of group, but 'fmol10' has 3 sample"),
    ({"min_valid": 4, "min_valid_in": "any"}, None),
])
def test_filter_is_checked_at_parse_time(proteomics_keys, error):
    spec = ups1_dataset()
    spec["proteomics"].update(proteomics_keys)
    loaded_or_refused({"ups1": spec}, error, ConfigError)


def test_a_diann_reports_dropped_rows_open_the_summary_step():
    """The rows read_report dropped before the pivot, as ingest stores them, head the preprocessing table's first
    step (decoys and shared precursors only where the report and the options have them); other tables: nothing."""
    ingest = {"rows_in_table": 3022, "rows_decoy": 30, "rows_not_proteotypic": 120, "rows_filtered": 82}
    assert proteomics._report_rows(ingest) == ("3022 report rows, dropped: 30 decoys, 120 of shared precursors, 82 "
                                               "above the q-values or without a quantity; ")
    assert proteomics._report_rows({"removed": {"Reverse": 3}}) == ""
