"""lsecflow.calls: the one significance rule every stage uses, and Benjamini-Hochberg (NaN-aware) against scipy."""
from __future__ import annotations

import numpy as np
import pandas as pd
from lsecflow.calls import benjamini_hochberg, call_direction, group_sizes, is_significant, sizes_note, summarize


def test_significance_needs_padj_below_alpha_and_lfc_beyond_threshold():
    t = pd.DataFrame({"padj": [0.01, 0.01, 0.2, np.nan, 0.01, 0.049],
                      "log2FoldChange": [2.0, -0.5, 3.0, 5.0, -2.0, 1.0]})
    assert is_significant(t, 0.05, 1.0).tolist() == [True, False, False, False, True, False]
    assert call_direction(t, 0.05, 1.0).tolist() == ["up", "ns", "ns", "ns", "down", "ns"]
    # threshold 0: any non-zero change with padj < alpha; padj exactly alpha is not below it
    assert call_direction(t, 0.049, 0).tolist() == ["up", "down", "ns", "ns", "down", "ns"]


def test_benjamini_hochberg_matches_scipy():
    from scipy.stats import false_discovery_control

    p = np.random.default_rng(1).uniform(size=500) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), false_discovery_control(p))
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2])),
                               [0.04, 0.16 / 3, 0.16 / 3, 0.2])  # R: p.adjust(c(.01, .04, .03, .2), "BH")
    # a missing p-value stays missing and is not counted (R: p.adjust(c(.01, NA, .03), "BH") = .02 NA .03)
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.01, np.nan, 0.03])), [0.02, np.nan, 0.03])


def test_summary_counts_the_samples_on_each_side():
    """The DE summary says how many samples each side of the contrast had (the first thing to read when a
    pseudobulk cell type calls nothing); without sizes it keeps its old columns."""
    obs = pd.DataFrame({"age": ["OLD"] * 10 + ["YOUNG"] * 2 + ["MID"] * 3})  # SYNTHETIC sample sheet
    sizes = group_sizes(obs, {"variable": "age", "target": "OLD", "reference": "YOUNG"})
    assert sizes == {"n_target": 10, "n_reference": 2}
    res = pd.DataFrame({"padj": [0.01, 0.5], "pvalue": [0.001, 0.4], "log2FoldChange": [1.0, -1.0]})
    row = summarize(res, 0.05, 0, sizes).iloc[0]
    assert (row["up"], row["n_target"], row["n_reference"]) == (1, 10, 2)
    assert sizes_note(row) == "; 10 vs 2 samples"
    assert "n_target" not in summarize(res, 0.05, 0).columns and sizes_note(summarize(res, 0.05, 0).iloc[0]) == ""
