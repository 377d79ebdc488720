"""lsecflow.report, piece by piece without a workflow run (the whole report: tests/workflow/test_report.py)."""
from __future__ import annotations

import pandas as pd
from helpers import REPO
from lsecflow.report import _sample_weights
from lsecflow.report_html import Renderer


def test_sample_weights_line_names_the_lowest_and_highest(tmp_path):
    """de.sample_weights: the DE section says which samples voomWithQualityWeights trusts least and most
    (the weights R gives DLPC), and links the file; a fit whose contrasts were all skipped (empty file) adds
    nothing."""
    weights = pd.read_csv(REPO / "tests/data/voom/quality_weights.tsv.gz", sep="\t")
    path = tmp_path / "de" / "design.sample_weights.tsv"
    path.parent.mkdir()
    weights.to_csv(path, sep="\t", index=False)
    r = Renderer(tmp_path / "report.html", REPO / "workflow/report")
    line = _sample_weights(r, str(path))
    assert "lowest Sample725 0.35, Sample756 0.43, Sample742 0.64; highest Sample726 2.14" in line
    assert 'href="de/design.sample_weights.tsv"' in line
    path.write_text("sample\tweight\n")
    assert _sample_weights(r, str(path)) == ""
