"""lsecflow.report_lookup: the numbers the report's gene lookup embeds (every tested gene of every DE unit,
rounded, NA as null) and the section's markup, which no gene name can break out of. The search itself runs in
headless Chromium on a real run (tests/workflow/test_report.py)."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
from lsecflow.report_lookup import lookup_data, lookup_section


def unit(tmp_path, name: str, rows: list[tuple]) -> dict:
    path = tmp_path / f"{name}.tsv"
    pd.DataFrame(rows, columns=["gene_id", "symbol", "log2FoldChange", "pvalue", "padj"]).to_csv(path, sep="\t",
                                                                                               index=False)
    return {"de_table": str(path), "title": name.replace("_", " "), "anchor": f"ds-{name}"}


def test_every_tested_gene_of_every_unit_rounded(tmp_path):
    a = unit(tmp_path, "a_vs_b", [("g1", "Mmp9", 1.23456, 1e-5, 3.14159e-4), ("g2", "Tnf", -0.5, 0.2, np.nan),
                                  ("g3", "Icam1", 0.1, np.nan, np.nan)])  # g3 not tested: left out
    b = unit(tmp_path, "c_vs_b", [("g2", "Tnf", 2.0, 1e-9, 1e-8), ("g4", "cxcl1", -1.0, 0.01, 0.049996)])
    skipped = {"de_table": str(tmp_path / "skipped.tsv"), "title": "skipped", "anchor": "ds-skipped"}
    (tmp_path / "skipped.tsv").write_text("gene_id\tsymbol\tlog2FoldChange\tpvalue\tpadj\n")
    resolved = {"datasets": {"ds": {"spec": {"de": {"alpha": 0.05, "lfc_threshold": 0.0}}}}}
    data = lookup_data({"ds": {"units": [a, skipped, b]}}, resolved)["ds"]
    assert data["units"] == ["a vs b", "c vs b"] and data["anchors"] == ["ds-a_vs_b", "ds-c_vs_b"]
    assert data["symbols"] == ["cxcl1", "Mmp9", "Tnf"] and data["ids"] == ["g4", "g1", "g2"]  # by symbol, any case
    assert data["lfc"] == [[None, 1.235, -0.5], [-1.0, None, 2.0]]
    assert data["padj"] == [[None, 0.000314, None], [0.05, None, 1e-8]]
    # called as the DE tables call them, on the unrounded padj: cxcl1's 0.049996 is shown as 0.05 and called
    assert data["called"] == [[1], [0, 2]]


def test_the_section_embeds_json_no_gene_name_can_close(tmp_path):
    a = unit(tmp_path, "a_vs_b", [("g1", "</script><b>x", 1.0, 0.01, 0.02)])
    resolved = {"datasets": {"ds": {"spec": {"de": {"alpha": 0.05}}}}}
    html = lookup_section(lookup_data({"ds": {"units": [a]}}, resolved))
    payload = re.search(r"id='lookup-data'>(.*?)</script>", html, re.S).group(1)
    assert json.loads(payload)["ds"]["symbols"] == ["</script><b>x"]
    assert "id='lookup-box'" in html and "1 tested genes in 1 dataset(s)" in html
    assert lookup_section({}) == ""
