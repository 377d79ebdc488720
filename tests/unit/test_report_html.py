"""lsecflow.report_html: long names in the report's tables may wrap, and their text is unchanged."""
from __future__ import annotations

import html

import pandas as pd
from lsecflow.report_html import breakable, table_html


def test_breakable_wraps_at_separators_and_keeps_the_text():
    name = "REACTOME_REGULATION_OF_INSULIN_LIKE_GROWTH_FACTOR_IGF_TRANSPORT_AND_UPTAKE_BY_INSULIN_LIKE_GROWTH"
    out = breakable(name)
    assert out.count("<wbr>") == name.count("_") and out.replace("<wbr>", "") == name
    assert breakable("Lrp2;Fcgr3|B001242/x") == "Lrp2;<wbr>Fcgr3|<wbr>B001242/<wbr>x"
    risky = "a<b>&c;_d"  # still escaped: no markup gets through, and the entity's ';' is not split
    assert html.unescape(breakable(risky).replace("<wbr>", "")) == risky and "<b>" not in breakable(risky)


def test_table_cells_are_breakable():
    table = table_html(pd.DataFrame({"set": ["HALLMARK_TNFA_SIGNALING_VIA_NFKB"], "NES": [2.1]}))
    assert "HALLMARK_<wbr>TNFA_<wbr>SIGNALING_<wbr>VIA_<wbr>NFKB" in table


def test_captions_name_their_subject_not_a_template(tmp_path):
    """The shipped captions serve Snakemake's own report too (Jinja placeholders); lsecflow's report fills them
    with the figure's subject, and every shipped caption comes out without a placeholder."""
    from helpers import REPO
    from lsecflow.report_html import Renderer

    r = Renderer(tmp_path / "report.html", REPO / "workflow/report")
    text = r.caption("paracrine_candidates", "Disease <b> vs Chow")
    assert "Paracrine candidates of Disease &lt;b&gt; vs Chow:" in text and "{{" not in text
    assert "Ligand → receptor pairs of the flagged paracrine candidates in this unit." in r.caption("paracrine_pairs")
    for rst in sorted((REPO / "workflow/report").glob("*.rst")):
        assert "{{" not in r.caption(rst.stem, "X") and "{%" not in r.caption(rst.stem, "X"), rst.name


def test_numbers_align_by_column():
    """An empty cell of a text column (a candidate without receptors) is not right-aligned like a number."""
    table = table_html(pd.DataFrame({"symbol": ["Lcn2", "Itih4"], "receptors": ["Lrp2;Fcgr3", None],
                                     "padj": [1e-5, float("nan")]}))
    assert '<td class="">NA</td>' in table and '<td class="num">NA</td>' in table
