"""lsecflow.receiver_tables: a bulk receiver table (paracrine.receivers) read, and each way a user's table goes
wrong named with the gene, the sample or the line."""
from __future__ import annotations

import re

import pytest
from lsecflow.errors import InputDataError
from lsecflow.receiver_tables import read_receiver_table

GOOD = "gene\tr1\tr2\nTnfrsf1a\t10\t12\nCxcr2\t3\t0\nIcam1\t100\t90.5\n"


def test_a_receiver_table_is_read_as_numbers_by_gene(tmp_path):
    path = tmp_path / "hepa16.tsv"
    path.write_text(GOOD)
    table = read_receiver_table(path, "hepa16")
    assert list(table.index) == ["Tnfrsf1a", "Cxcr2", "Icam1"] and list(table.columns) == ["r1", "r2"]
    assert table.at["Icam1", "r2"] == 90.5  # estimated counts (salmon) are fractional
    (tmp_path / "hepa16.csv").write_text(GOOD.replace("\t", ","))
    assert read_receiver_table(tmp_path / "hepa16.csv", "hepa16").equals(table)


@pytest.mark.parametrize("text, says", [
    (GOOD.replace("\t3\t", "\tn/a\t"), "column 'r1', gene 'Cxcr2': value 'n/a' is not a finite non-negative number"),
    (GOOD.replace("\t3\t", "\t-3\t"), "column 'r1', gene 'Cxcr2': value '-3' is not a finite non-negative number"),
    # before: accepted, an infinite count and so an infinite CPM
    (GOOD.replace("\t3\t", "\tinf\t"), "column 'r1', gene 'Cxcr2': value 'inf' is not a finite non-negative number"),
    # before: accepted, a gene named ''
    (GOOD + "\t1\t1\n", "line 5 has no gene in the first column"),
    (GOOD + "Cxcr2\t1\t1\n", "gene 'Cxcr2' appears twice"),
    (GOOD.replace("\t", ","), "needs a gene column and at least one sample column with rows (its lines hold commas: "
                              "is it comma-separated? name it .csv)"),
    ("", "cannot be read"),
])
def test_a_bad_receiver_table_is_named(tmp_path, text, says):
    path = tmp_path / "hepa16.tsv"
    path.write_text(text)
    with pytest.raises(InputDataError, match=re.escape(f"receiver table 'hepa16' ({path}): {says}")):
        read_receiver_table(path, "hepa16")
