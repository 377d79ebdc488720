"""lsecflow.summary: the closing summary's composition lines say, per contrast, how many cell types change in
share, by how much, and which call rests on one sample."""
from __future__ import annotations

import pandas as pd
from lsecflow.summary import _composition_lines


def test_composition_lines(tmp_path):
    table = pd.DataFrame({"contrast": ["tumour", "tumour", "tumour", "~ group vs ~ 1"],
                          "cell_type": ["LSEC", "B cell", "hepatocyte", "LSEC"], "prop_ratio": [0.5, 1.1, 1.3, None],
                          "padj": [0.01, 0.5, 0.04, 0.02], "called": [True, False, True, True],
                          "driven_by": ["s01", None, "", None]})
    table.to_csv(tmp_path / "propeller.tsv", sep="\t", index=False)
    assert _composition_lines(tmp_path / "propeller.tsv") == [
        "    composition tumour: 2 of 3 cell types change in share (padj < de.alpha): LSEC 0.50x (rests on s01), "
        "hepatocyte 1.30x",
        "    composition ~ group vs ~ 1: 1 of 1 cell types change in share (padj < de.alpha): LSEC"]
    assert _composition_lines(tmp_path / "absent.tsv") == []  # bulk and proteomics: no such table
