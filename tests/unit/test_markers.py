"""lsecflow.markers: the shipped marker panels read as signatures, and a user's panel (qc.markers,
paracrine.sources, paracrine.contamination.signatures) refused at start-up with the file and the fault named."""
from __future__ import annotations

import re

import pytest
from helpers import DLPC_COUNTS, REPO, dlpc_dataset, load_datasets
from lsecflow.errors import ConfigError
from lsecflow.markers import LSEC, load_markers

PANEL = REPO / "resources/markers/mouse.tsv"


def test_shipped_panel_reads_as_signatures_and_filters_by_genes():
    markers = load_markers(PANEL)
    assert LSEC in markers and "Stab2" in markers[LSEC]
    only = load_markers(PANEL, {"Stab2", "Alb"})
    assert all(set(genes) <= {"Stab2", "Alb"} for genes in only.values()) and only[LSEC] == ["Stab2"]


@pytest.mark.parametrize("key", ["qc.markers", "paracrine.sources", "paracrine.contamination.signatures"])
@pytest.mark.parametrize("text, says", [
    ("", "cannot be read as a TSV table"),  # before: pandas' EmptyDataError at parse time
    ("cell_type\tgene\treference\n", "has a header but no rows"),  # before: accepted, an empty panel
    ("cell_type\tgene\nLSEC\tStab2\nLSEC\t\n", "line 3 has an empty cell_type or gene (1 such lines)"),
    ("cell_type,gene\nLSEC,Stab2\n", "column(s) cell_type, gene missing (columns: cell_type,gene)"),
])
def test_a_users_panel_is_refused_at_start_up_naming_the_file(tmp_path, key, text, says):
    path = tmp_path / "panel.tsv"
    path.write_text(text)
    spec = dlpc_dataset(DLPC_COUNTS)
    section, _, sub = key.partition(".")
    value = [str(path)] if key.endswith("signatures") else str(path)
    if sub == "contamination.signatures":
        spec.setdefault(section, {})["contamination"] = {"signatures": value}
    else:
        spec.setdefault(section, {})[sub] = value
    with pytest.raises(ConfigError, match=re.escape(f"key '{key}': marker table {path}: {says}")):
        load_datasets({"d": spec})
