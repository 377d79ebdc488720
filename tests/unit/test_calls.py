"""lsecflow.calls: the one significance rule every stage uses, and Benjamini-Hochberg (NaN-aware) against scipy."""
from __future__ import annotations

import numpy as np
import pandas as pd
from lsecflow.calls import benjamini_hochberg, call_direction, is_significant


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
