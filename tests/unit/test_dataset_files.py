"""lsecflow.dataset_files: a user's own paracrine factor and pair tables are read and checked at parse time (they
were first read by the DE job, after ingest), the shipped tables edited as a user would (found by bending them)."""
from __future__ import annotations

import pandas as pd
import pytest
from helpers import DLPC_COUNTS, PARACRINE, dlpc_dataset, load_datasets
from lsecflow.errors import ConfigError


def _tables(tmp_path, edit_factors=None, edit_pairs=None) -> dict:
    out = {}
    for key, edit in (("factors", edit_factors), ("pairs", edit_pairs)):
        table = pd.read_csv(PARACRINE / f"mouse.{key}.tsv.gz", sep="\t", dtype=str, keep_default_na=False)
        if edit is not None:
            table = edit(table.copy())
        table.to_csv(tmp_path / f"{key}.tsv", sep="\t", index=False)
        out[key] = str(tmp_path / f"{key}.tsv")
    return out


def _upper(t, cols):
    for c in cols:
        t[c] = t[c].str.upper()
    return t


def _set(t, col, value):
    t.loc[t.index[0], col] = value
    return t


@pytest.mark.parametrize("edit_factors, edit_pairs, message", [
    (lambda t: _set(t, "secreted", "yes"), None, "column 'secreted': 'yes' for gene '1700013F07Rik' is not True or "
                                                 "False"),  # was read as False
    (lambda t: t.iloc[:0], None, "paracrine factors table .*: has a header but no rows"),  # flagged nothing
    (None, lambda t: _set(t, "receptor", ""), "line 2 has an empty ligand or receptor"),
    (None, lambda t: t.drop(columns=["receptor"]), "column\\(s\\) receptor missing"),
    # two databases merged by hand: every such pair was listed twice in the ligand -> receptor table
    (None, lambda t: pd.concat([t, t.iloc[[3]]]), "the pair .* -> .* appears twice \\(line 5450 repeats an earlier "
                                                  "line; 1 repeats\\); merge their sources into one line"),
    # a human table on mouse data: matched nothing, flagged nothing
    (lambda t: _upper(t, ["gene"]), None, "key 'paracrine.factors': .*factors.tsv: gene symbols look human .* but "
                                          "the dataset is mouse; use mouse symbols"),
    (None, lambda t: _upper(t, ["ligand", "receptor"]), "key 'paracrine.pairs': .*gene symbols look human"),
])
def test_own_paracrine_tables_are_checked_before_any_job(tmp_path, edit_factors, edit_pairs, message):
    spec = dlpc_dataset(DLPC_COUNTS, paracrine=_tables(tmp_path, edit_factors, edit_pairs))
    with pytest.raises(ConfigError, match=message):
        load_datasets({"d": spec})


def test_the_shipped_tables_given_as_own_pass(tmp_path):
    """The shipped mouse tables as a user's files pass (read, and their symbols look mouse)."""
    spec = dlpc_dataset(DLPC_COUNTS, paracrine=_tables(tmp_path))
    assert load_datasets({"d": spec}).datasets["d"].spec["paracrine"]["factors"].endswith("factors.tsv")
