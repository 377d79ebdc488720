"""The HTML report and provenance of a real run (small config of real data),
opened in a real headless Chromium (Debian's package, installed by
tests/report/ensure_chromium.sh when missing)."""
from __future__ import annotations

import hashlib
import json
import subprocess
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO
from lsecflow.job_warnings import collect, units_in
from lsecflow.report import _block, _composition_overview, _design_test, _sample_weights, _share_line
from lsecflow.report_html import Renderer


def expected_figures(work: Path) -> list[Path]:
    return sorted((work / "results").rglob("*.png"))


FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chromium() -> str:
    proc = subprocess.run(["bash", str(REPO / "tests/report/ensure_chromium.sh")], capture_output=True, text=True,
                          timeout=600)
    if proc.returncode == 3:
        pytest.skip(f"chromium could not be installed here: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def body_attributes(page: str) -> dict:
    """Attributes of the page's <body> (entities decoded)."""
    found: dict = {}

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "body" and not found:
                found.update({k: v or "" for k, v in attrs}, seen=True)

    Parser().feed(page)
    assert found, "no <body> in the rendered page"
    return found


def open_in_browser(chromium: str, page: Path, screenshot: Path) -> dict:
    """Load ``page`` in headless Chromium: its status as the page's own script recorded it, and a screenshot."""
    url = page.resolve().as_uri()
    dom = subprocess.run([chromium, *FLAGS, "--window-size=1400,1800", "--virtual-time-budget=20000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=300)
    assert dom.returncode == 0, dom.stderr[-2000:]
    attrs = body_attributes(dom.stdout)
    shot = subprocess.run([chromium, *FLAGS, "--window-size=1400,1800", "--hide-scrollbars",
                           f"--screenshot={screenshot}", url], capture_output=True, text=True, timeout=300)
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    return {
        "status": attrs.get("data-report-status"),
        "images": int(attrs.get("data-images", -1)),
        "broken": json.loads(attrs.get("data-broken-images", "[]")),
        "js_errors": json.loads(attrs.get("data-js-errors", "[]")),
        "wide_tables": json.loads(attrs.get("data-wide-tables", "[]")),
        "console": [line for line in dom.stderr.splitlines() if "Uncaught" in line],
    }


def is_blank(png: Path) -> bool:
    """A screenshot with (almost) one colour only."""
    img = mpimg.imread(png)[..., :3]
    non_white = (img < 0.95).any(axis=2).mean()
    return non_white < 0.01 or img.std() < 0.02


def test_report_and_provenance_files(finished_run):
    work, _, proc = finished_run
    report = work / "results/report.html"
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and "lsecflow report" in html
    # every figure of the run is embedded once, with its caption
    pngs = expected_figures(work)
    assert len(pngs) > 40
    assert html.count("<img ") == len(pngs)
    assert html.count("data:image/png;base64,") == len(pngs)
    assert "Volcano plot: log2 fold change" in html and "Running enrichment scores" in html
    # tables carry captions too
    tested = [p for p in (work / "results").rglob("*.summary.tsv")
              if pd.read_csv(p, sep="\t").iloc[0]["status"] == "tested"]
    assert len(tested) >= 4 and html.count("DE table, one fit per design. DESeq2 (counts") == len(tested)
    assert "Flagged paracrine candidates" in html
    assert "Paracrine candidates of Disease vs Chow: the secreted factors" in html
    assert "{{" not in html and "snakemake.wildcards" not in html  # captions' Snakemake-report placeholders filled
    assert "Preranked GSEA (gseapy) on the contrast's Wald statistic" in html
    # each dataset's methods paragraphs, from this run's settings and versions
    for name in ("dlpc_liver", "tms_liver"):
        assert f"<h3 id='{name}-methods'>Methods</h3>" in html
    methods = html[html.index("<h3 id='dlpc_liver-methods'>"):html.index("<h2 id='tms_liver'>")]
    assert f"inmoose {metadata.version('inmoose')}" in methods and "design ~ Group" in methods
    sc_methods = html[html.index("<h3 id='tms_liver-methods'>"):]
    sc_methods = sc_methods[sc_methods.index("Cells were kept"):]  # the run's own thresholds; no mt- gene in TMS
    sc_methods = sc_methods[:sc_methods.index("</p>")]
    assert "MADs below the median (at least " in sc_methods and "no mitochondrial threshold applied" in sc_methods
    # the overview names the QC verdict, DE counts, pathways and paracrine candidates of each dataset
    overview = html[html.index("id='overview'"):html.index("<h2 id='dlpc_liver'>")]
    for text in ("dlpc_liver", "tms_liver", "Purity:", "up</span>", "top pathways (GSEA)", "top paracrine candidates"):
        assert text in overview
    summary = pd.read_csv(work / "results/dlpc_liver/de/agonist_vs_chow.summary.tsv", sep="\t").iloc[0]
    assert f"{summary['up']} up" in overview
    # the jobs' warnings in one section, the report's own log left out: the small config's olfactory GMT (none of
    # its genes in liver) and the DLPC subset's dispersion trend among them
    found = collect(work / "logs", units_in(work / "results", ["dlpc_liver", "tms_liver"]), skip=("report/report.log",))
    section = html[html.index("<h2 id='warnings'>"):html.index("<h2 id='gene-lookup'>")]
    assert f"Warnings ({sum(len(m) for m in found.values())})" in section and len(found) >= 3
    olfactory = [rel for rel, m in found.items() if any("olfactory (olfactory.gmt): no gene set can be tested" in x
                                                         for x in m)]
    assert olfactory and all(rel.startswith("enrichment/dlpc_liver/") for rel in olfactory)
    assert all(f'<a href="../logs/{rel}">logs/{rel}</a>' in section for rel in found)  # linked from results/
    assert "report/report.log" not in section
    assert "parametric dispersion trend" in section
    # every format of every figure is written and linked (default formats: png, svg, pdf)
    for png in pngs:
        assert png.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
        assert "<svg" in png.with_suffix(".svg").read_text()[:3000]

    prov = work / "results/provenance"
    versions = pd.read_csv(prov / "versions.tsv", sep="\t")
    row = versions[(versions["kind"] == "package") & (versions["name"] == "inmoose")].iloc[0]
    assert row["version"] == metadata.version("inmoose")
    assert {"hallmark", "lsec_tnf_axis"} <= set(versions.loc[versions["kind"] == "gene_set", "name"])
    assert (versions["kind"] == "conda_pin").sum() > 10
    inputs = pd.read_csv(prov / "inputs.sha256.tsv", sep="\t")
    counts = inputs[(inputs["dataset"] == "dlpc_liver") & (inputs["role"] == "counts")].iloc[0]
    assert counts["sha256"] == hashlib.sha256(Path(counts["path"]).read_bytes()).hexdigest()
    assert {"sample_sheet", "qc_markers", "paracrine_factors", "receiver:tms_myeloid"} <= set(inputs["role"])
    resolved = yaml.safe_load((prov / "config.resolved.yaml").read_text())
    spec = resolved["datasets"]["dlpc_liver"]["spec"]
    assert spec["de"]["alpha"] == 0.05 and spec["figures"]["volcano"]["label_top"] == 10
    assert "report written" in (work / "logs/report/report.log").read_text()


def test_report_in_headless_chromium(finished_run, chromium, tmp_path):
    work, _, _ = finished_run
    shot = tmp_path / "report.png"
    state = open_in_browser(chromium, work / "results/report.html", shot)
    assert state["js_errors"] == [] and state["console"] == [], state
    assert state["broken"] == [], f"figures that did not load: {state['broken']}"
    assert state["images"] == len(expected_figures(work))
    assert state["status"] == "ok"
    # on a 1400-pixel screen no table runs past the page (long gene set names break at their underscores)
    assert state["wide_tables"] == [], state["wide_tables"]
    assert not is_blank(shot), "the report rendered as a blank page"
    # keep the screenshot where a person can look at it
    out = REPO / "results" / "test-artifacts"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report_screenshot.png").write_bytes(shot.read_bytes())


def test_browser_check_catches_a_broken_figure_and_a_script_error(finished_run, chromium, tmp_path):
    """The same check on a damaged copy must fail: one image's data cut, one script that throws, and a blank page."""
    work, _, _ = finished_run
    html = (work / "results/report.html").read_text()
    start = html.index("data:image/png;base64,") + len("data:image/png;base64,")
    damaged = html[:start] + "AAAA" + html[start + 5000:]
    damaged = damaged.replace("</main>", "</main><script>undefinedFunctionOfTheReport();</script>", 1)
    page = tmp_path / "damaged.html"
    page.write_text(damaged)
    state = open_in_browser(chromium, page, tmp_path / "damaged.png")
    assert state["status"] == "problems"
    assert len(state["broken"]) == 1
    assert any("undefinedFunctionOfTheReport" in e for e in state["js_errors"])
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    state = open_in_browser(chromium, blank, tmp_path / "blank.png")
    assert state["status"] is None  # the report's script never ran
    assert is_blank(tmp_path / "blank.png")


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


def test_block_line_gives_the_correlation_and_limmas_zero(tmp_path):
    """de.block: the DE section gives the block column, the blocks and the correlation the fit used (the file
    write_block writes), says when limma set it to 0 and why, and adds nothing for a fit without a testable
    contrast (header only)."""
    from lsecflow.de_files import write_block
    from lsecflow.limma_block import Block

    path = tmp_path / "de" / "design.block.tsv"
    path.parent.mkdir()
    r = Renderer(tmp_path / "report.html", REPO / "workflow/report")
    labels = np.array(["L1", "L2", "L1", "L2", "L3", "L3"])
    write_block(Block("litter", labels, 0.5311, (0.5309, 0.5311), 15974), str(path))
    line = _block(r, str(path))
    assert "Blocks (litter: 3 blocks of 6 samples): within-block correlation 0.531" in line
    assert "duplicateCorrelation over 15974 features" in line and 'href="de/design.block.tsv"' in line
    write_block(Block("mouse", labels, 0.0, (0.0,), 0, "every block holds a single sample"), str(path))
    assert "set to 0, an ordinary fit: every block holds a single sample" in _block(r, str(path))
    write_block(None, str(path))
    assert _block(r, str(path)) == ""


def test_design_test_section_says_what_was_tested(tmp_path):
    """de.test: lrt: the fit's design test is shown with its first contrast -- the test, its calls, the most
    significant genes first and a link to the table; a skipped one says why. SYNTHETIC rows."""
    de = tmp_path / "de"
    de.mkdir()
    pd.DataFrame({"gene_id": ["g1", "g2", "g3"], "symbol": ["Scd1", "Vcl", "Mmp9"], "AveExpr": [12.0, 4.9, 3.0],
                  "stat": [28.9, 28.0, 0.4], "pvalue": [1e-6, 2e-6, 0.6], "padj": [0.008, 0.008, 0.9]}
                 ).to_csv(de / "design.lrt.tsv", sep="\t", index=False)
    pd.DataFrame({"test": ["moderated F ~ Group vs ~ 1"], "significant": [2], "tested": [3], "cooks_outliers": [0],
                  "independent_filtered": [0], "alpha": [0.05], "status": ["tested"]}
                 ).to_csv(de / "design.lrt.summary.tsv", sep="\t", index=False)
    files = {"table": str(de / "design.lrt.tsv"), "summary": str(de / "design.lrt.summary.tsv")}
    r = Renderer(tmp_path / "report.html", REPO / "workflow/report")
    html = _design_test(r, files, n_rows=2)
    assert "Design test (moderated F ~ Group vs ~ 1): 2 of 3 at padj &lt; 0.05" in html
    assert html.index("Scd1") < html.index("Vcl") and "Mmp9" not in html
    assert 'href="de/design.lrt.tsv"' in html
    pd.DataFrame({"test": ["LRT"], "status": ["skipped: no contrast testable for B_cell"]}
                 ).to_csv(de / "design.lrt.summary.tsv", sep="\t", index=False)
    assert "skipped: no contrast testable for B_cell" in _design_test(r, files, n_rows=2)


def test_gene_lookup_in_headless_chromium(finished_run, chromium):
    """The report's gene lookup, filled from the address (``#gene=`` and the top DLPC gene in lower case): its row
    gives the gene's log2 fold change and padj in each DLPC contrast as the DE tables do, called ones in bold."""
    import re

    work, _, _ = finished_run
    res = work / "results/dlpc_liver/de"
    tables = {c: pd.read_csv(res / f"{c}.tsv", sep="\t").set_index("gene_id")
              for c in ("disease_vs_chow", "agonist_vs_chow", "agonist_vs_disease")}
    gene_id = tables["disease_vs_chow"].index[0]
    symbol = tables["disease_vs_chow"].at[gene_id, "symbol"]
    url = (work / "results/report.html").resolve().as_uri() + f"#gene={symbol.lower()}"
    dom = subprocess.run([chromium, *FLAGS, "--virtual-time-budget=20000", "--dump-dom", url], capture_output=True,
                         text=True, timeout=300)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-report-status="ok"' in dom.stdout
    row = re.search(rf'<tr data-gene="{re.escape(gene_id)}">(.*?)</tr>', dom.stdout)
    assert row, "the gene's row is not in the lookup results"
    cells = re.findall(r'<td class="num lookup([^"]*)">(.*?)</td>', row.group(1))
    assert len(cells) == 3
    for (cls, text), (name, table) in zip(cells, tables.items()):
        lfc, padj = table.at[gene_id, "log2FoldChange"], table.at[gene_id, "padj"]
        shown = re.sub("<[^>]+>", "", text)
        assert shown.startswith(f"{lfc:.2f} padj "), (name, shown)
        called = padj < 0.05
        assert ("<b>" in text) == called and (cls.strip() == ("up" if lfc > 0 else "down") if called else cls == "")


def test_the_overview_says_which_cell_types_changed(tmp_path):
    """Single-cell: the overview names the cell types whose share changed, by how much and what rests on one
    sample, with a link to their section; nothing for a dataset without the table."""
    table = tmp_path / "propeller.tsv"
    pd.DataFrame({"contrast": ["tumour", "tumour", "sex"], "cell_type": ["LSEC", "B cell", "LSEC"],
                  "prop_ratio": [0.5, 1.1, 0.9], "padj": [0.01, 0.5, 0.6], "called": [True, False, False],
                  "driven_by": ["s01", None, None]}).to_csv(table, sep="\t", index=False)
    line = _composition_overview("tms", {"composition": {"table": str(table)}})
    assert "href='#tms-composition'" in line
    assert "tumour: LSEC 0.50x (rests on s01) of 2; sex: none of 1" in line
    assert _composition_overview("dlpc", {}) == ""  # bulk: no table


def test_a_cell_types_de_says_its_share():
    """Above a cell type's DE: its share in the same contrast, the call and the sample it rests on; a contrast
    the proportions could not test says so."""
    shares = pd.DataFrame({"contrast": ["tumour", "tumour"], "cell_type": ["LSEC", "B cell"],
                           "prop_target": [0.1, 0.2], "prop_reference": [0.2, 0.2], "prop_ratio": [0.5, 1.0],
                           "stat": [-4.2, 0.1], "padj": [0.003, 0.9], "called": [True, False],
                           "driven_by": ["s01", None]})
    line = _share_line("tms", shares, {"contrast": "tumour", "cell_type": "LSEC"})
    assert "0.1 vs 0.2 (0.50x), moderated t -4.20, padj 0.003 (changed, rests on s01)" in line
    assert "href='#tms-composition'" in line
    assert "(changed" not in _share_line("tms", shares, {"contrast": "tumour", "cell_type": "B cell"})
    assert "not tested in this contrast" in _share_line("tms", shares, {"contrast": "sex", "cell_type": "LSEC"})

