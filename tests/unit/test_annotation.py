"""lsecflow.annotation: gene ids to symbols (versions stripped, unmapped ids kept, duplicate symbols made
unique by total count)."""
from __future__ import annotations

import os

import pandas as pd
import pytest
from lsecflow.annotation import (
    annotate_genes,
    check_id_type,
    drop_ids,
    excel_dates,
    load_symbol_table,
    make_unique_symbols,
    strip_version,
)
from lsecflow.errors import InputDataError


def test_duplicate_symbols_resolved_by_total_count():
    symbols = pd.Series(["A", "B", "A", "A"], index=["g1", "g2", "g3", "g4"])
    totals = pd.Series([5, 1, 9, 9], index=symbols.index)
    unique, groups = make_unique_symbols(symbols, totals)
    # g3 and g4 tie on the largest total: the smaller id keeps the symbol
    assert unique.to_dict() == {"g1": "A_g1", "g2": "B", "g3": "A", "g4": "A_g4"}
    assert groups == {"A": ["g3", "g4", "g1"]}
    again, _ = make_unique_symbols(symbols.iloc[::-1], totals.iloc[::-1])
    assert again.sort_index().equals(unique.sort_index())  # order of input does not matter


def test_annotation_strips_versions_and_keeps_unmapped(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("gene_id\tsymbol\nENSMUSG00000000001\tGnai3\nENSMUSG00000000028\tCdc45\n")
    ids = ["ENSMUSG00000000001.5", "ENSMUSG00000000028.16", "ENSMUSG00000099999.1"]
    var, report = annotate_genes(ids, "ensembl_version", table, [10, 5, 1])
    assert var["symbol"].tolist() == ["Gnai3", "Cdc45", "ENSMUSG00000099999"]
    assert report["n_unmapped"] == 1
    assert list(strip_version(["ENSG00000182378.14_PAR_Y"])) == ["ENSG00000182378_PAR_Y"]


def test_a_table_read_again_is_its_current_content_and_each_caller_its_own(tmp_path):
    """The symbol table is parsed once per content in a process: the same bytes come from the cache, a file
    rewritten with the same size and time stamp is read again, and a caller's edit reaches no other caller."""
    table = tmp_path / "t.tsv"
    table.write_text("gene_id\tsymbol\nENSMUSG00000000001\tGnai3\n")
    first = load_symbol_table(table)
    first["ENSMUSG00000000001"] = "edited"
    assert load_symbol_table(table).to_dict() == {"ENSMUSG00000000001": "Gnai3"}
    stamp = table.stat()
    table.write_text("gene_id\tsymbol\nENSMUSG00000000001\tGnai4\n")  # same size
    os.utime(table, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert load_symbol_table(table).to_dict() == {"ENSMUSG00000000001": "Gnai4"}


def test_ids_of_another_kind_name_the_key_that_drops_them():
    """Ensembl GTFs before release 76 carry LRG_ records among the gene ids (the airway counts: 425 of
    64,102): refused, with the counts.drop_ids value that leaves them out; dropped when it is set."""
    ids = pd.Index(["ENSG00000000003", "ENSG00000000005", "LRG_1", "LRG_10"])
    with pytest.raises(InputDataError, match=r"2 of 4 gene ids do not match gene_ids: ensembl .*"
                                             r"set counts.drop_ids: '\^LRG_'"):
        check_id_type(ids, "ensembl", "m.csv")
    keep = drop_ids(ids, "^LRG_", "m.csv")
    assert keep.tolist() == [True, True, False, False]
    check_id_type(ids[keep], "ensembl", "m.csv")
    assert drop_ids(ids, None, "m.csv").all()
    with pytest.raises(InputDataError, match="matches every one of its 4 gene ids"):
        drop_ids(ids, "^(ENSG|LRG)", "m.csv")
    # ids with mixed prefixes (or none): no guess at a pattern
    with pytest.raises(InputDataError) as err:
        check_id_type(pd.Index(["ENSG00000000003", "LRG_1", "foo"]), "ensembl", "m.csv")
    assert "drop_ids" not in str(err.value)


def test_gene_names_a_spreadsheet_turned_into_dates_are_named(caplog):
    """What Excel makes of MARCH1, SEPT2, DEC1 (1-Mar, 2-Sep, Dec-01, a full date), alone or in a protein group,
    is found and logged; real symbols that only look close (March1 as written, Sept2, Mar-ka) are not."""
    names = ["Mmp9", "1-Mar", "SEPT7;2-Sep", "Dec-01", "2006/09/02", "March1", "Sept2", "Mar-ka", "Cxcl1", "1-Mar"]
    with caplog.at_level("WARNING", logger="lsecflow.annotation"):
        assert excel_dates(names, "t.tsv") == ["1-Mar", "2-Sep", "2006/09/02", "Dec-01"]
    assert "t.tsv: 4 gene name(s) look like dates a spreadsheet made of gene symbols (1-Mar, 2-Sep" in caplog.text
    assert excel_dates(["Mmp9", "Tnf"], "t.tsv") == []


@pytest.mark.parametrize("id_type", ["symbol", "ensembl"])
def test_gene_ids_with_whitespace_are_refused_for_every_id_type(id_type):
    """'Actr2 ' (a single-cell h5ad's var name) matches no gene set or ligand: refused for symbols too, as it was
    for Ensembl ids (found by bending the shipped TMS cells)."""
    ids = pd.Index(["Actr2 ", "Alb"]) if id_type == "symbol" else pd.Index(["ENSG00000000003 ", "ENSG00000000005"])
    with pytest.raises(InputDataError, match=rf"m.h5ad: gene id '{ids[0]}' has leading or trailing whitespace"):
        check_id_type(ids, id_type, "m.h5ad")
    check_id_type(ids.str.strip(), id_type, "m.h5ad")
