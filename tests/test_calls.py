"""lsecflow.calls: the single significance rule every stage uses."""
from __future__ import annotations

import numpy as np
import pandas as pd
from lsecflow.calls import call_direction, is_significant


def test_significance_needs_padj_below_alpha_and_lfc_beyond_threshold():
    t = pd.DataFrame({"padj": [0.01, 0.01, 0.2, np.nan, 0.01, 0.049],
                      "log2FoldChange": [2.0, -0.5, 3.0, 5.0, -2.0, 1.0]})
    assert is_significant(t, 0.05, 1.0).tolist() == [True, False, False, False, True, False]
    assert call_direction(t, 0.05, 1.0).tolist() == ["up", "ns", "ns", "ns", "down", "ns"]
    # threshold 0: any non-zero change with padj < alpha; padj exactly alpha is not below it
    assert call_direction(t, 0.049, 0).tolist() == ["up", "down", "ns", "ns", "down", "ns"]
