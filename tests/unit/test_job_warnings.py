"""lsecflow.job_warnings: the jobs' WARNING lines gathered for the report and the end-of-run summary. The log
lines are written here in lsecflow.snake's format (SYNTHETIC messages; the shared finished run's real ones:
tests/workflow/test_report.py)."""
from __future__ import annotations

import re
from pathlib import Path

from lsecflow import job_warnings


def write(folder, rel: str, *lines: str) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))


def test_warnings_are_gathered_per_log_once_each_for_this_runs_jobs(tmp_path):
    logs = tmp_path / "logs"
    stamp = "2026-12-04 00:31:50,923"
    write(logs, "de/liver.log", f"{stamp} INFO lsecflow.de: model ~ Group",
          f"{stamp} WARNING lsecflow.de: the parametric dispersion trend did not fit",
          f"{stamp} WARNING lsecflow.de: the parametric dispersion trend did not fit",  # once
          f"{stamp} WARNING py.warnings: a <b>tag</b> & more")
    write(logs, "enrichment/liver/a_vs_b.log", f"{stamp} WARNING lsecflow.enrichment: olfactory: no set tested")
    write(logs, "enrichment/other/a_vs_b.log", f"{stamp} WARNING lsecflow.enrichment: another config's dataset")
    write(logs, "enrichment/liver/removed.log", f"{stamp} WARNING lsecflow.enrichment: a removed contrast's")
    write(logs, "de/cells/T_cell.log", f"{stamp} WARNING lsecflow.de: a pseudobulk fit's")
    write(logs, "figures/cells/T_cell/old_vs_young.log", f"{stamp} WARNING lsecflow.figures: a cell type's unit")
    write(logs, "figures/cells/B_cell/old_vs_young.log", f"{stamp} WARNING lsecflow.figures: a removed cell type")
    write(logs, "provenance/provenance.log", f"{stamp} WARNING lsecflow.provenance: a whole-run warning")
    write(logs, "report/report.log", f"{stamp} WARNING lsecflow.report: being written")
    write(logs, "qc_bulk/liver.log", f"{stamp} INFO lsecflow.qc: nothing to say", "WARNING not in the log format")
    units = {"liver": ["a_vs_b"], "cells": ["T_cell/old_vs_young"]}
    found = job_warnings.collect(logs, units, skip=("report/report.log",))
    assert list(found) == ["de/cells/T_cell.log", "de/liver.log", "enrichment/liver/a_vs_b.log",
                           "figures/cells/T_cell/old_vs_young.log", "provenance/provenance.log"]
    assert found["de/liver.log"] == ["the parametric dispersion trend did not fit", "a <b>tag</b> & more"]
    assert {"enrichment/other/a_vs_b.log", "enrichment/liver/removed.log"} <= set(job_warnings.collect(logs))
    found = {k: v for k, v in found.items() if "cells" not in k}
    assert job_warnings.collect(tmp_path / "none") == {}

    lines = job_warnings.summary_lines(found, n_logs=2, width=30)
    assert lines[0] == ("  warnings: 4 in 3 job log(s) (all of them: the report's Warnings section, or grep -r "
                        "WARNING logs/)")
    assert lines[1] == "    logs/de/liver.log: the parametric dispersion t... (+1 more)"  # 30 characters
    assert lines[2] == "    logs/enrichment/liver/a_vs_b.log: olfactory: no set tested"
    assert lines[3] == "    ... and 1 more job log(s)" and len(lines) == 4
    assert job_warnings.summary_lines({}) == ["  warnings: none in logs/"]
    for rel in ("liver/de/a_vs_b", "cells/de/T_cell/old_vs_young"):  # what a finished run wrote
        write(tmp_path / "results", f"{rel}.summary.tsv", "tested")
    assert job_warnings.units_in(tmp_path / "results", ["liver", "cells", "none"]) == {**units, "none": []}

    html = job_warnings.report_section(found)
    assert html.startswith("<h2 id='warnings'>Warnings (4)</h2>") and html.count("<tr>") == 1 + 4
    assert "a &lt;b&gt;tag&lt;/b&gt; &amp; more" in html and "<b>tag" not in html  # escaped
    assert "<td rowspan='2'><code>logs/de/liver.log</code></td>" in html
    assert "No job logged a warning" in job_warnings.report_section({})
    linked = job_warnings.report_section(found, lambda rel: f"<a href='../logs/{rel}'>{rel}</a>")
    assert "<td rowspan='2'><a href='../logs/de/liver.log'>de/liver.log</a></td>" in linked


def test_early_steps_come_first_and_every_rule_is_placed(tmp_path):
    """A QC outlier (qc_bulk) is listed before the per-contrast enrichment and figure warnings, whatever the
    alphabet says; every rule's log folder in workflow/rules has its place in STAGES."""
    stamp = "2026-12-04 00:31:50,923"
    for rel in ("figures/liver/a_vs_b.log", "enrichment/liver/a_vs_b.log", "de/liver.log", "qc_bulk/liver.log",
                "ingest/liver.log"):
        write(tmp_path, rel, f"{stamp} WARNING lsecflow.x: from {rel}")
    assert list(job_warnings.collect(tmp_path)) == ["ingest/liver.log", "qc_bulk/liver.log", "de/liver.log",
                                                    "enrichment/liver/a_vs_b.log", "figures/liver/a_vs_b.log"]
    rules = Path(__file__).resolve().parents[2] / "workflow/rules"
    folders = set(re.findall(r'"logs/([a-z_]+)', "".join(p.read_text() for p in rules.glob("*.smk"))))
    assert folders and folders <= set(job_warnings.STAGES), folders - set(job_warnings.STAGES)
