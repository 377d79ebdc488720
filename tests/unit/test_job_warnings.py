"""lsecflow.job_warnings: the jobs' WARNING lines gathered for the report and the end-of-run summary. The log
lines are written here in lsecflow.snake's format (SYNTHETIC messages; the shared finished run's real ones:
tests/workflow/test_report.py)."""
from __future__ import annotations

from lsecflow import job_warnings


def write(folder, rel: str, *lines: str) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))


def test_warnings_are_gathered_per_log_once_each_for_the_configs_datasets(tmp_path):
    logs = tmp_path / "logs"
    stamp = "2026-12-04 00:31:50,923"
    write(logs, "de/liver.log", f"{stamp} INFO lsecflow.de: model ~ Group",
          f"{stamp} WARNING lsecflow.de: the parametric dispersion trend did not fit",
          f"{stamp} WARNING lsecflow.de: the parametric dispersion trend did not fit",  # once
          f"{stamp} WARNING py.warnings: a <b>tag</b> & more")
    write(logs, "enrichment/liver/a_vs_b.log", f"{stamp} WARNING lsecflow.enrichment: olfactory: no set tested")
    write(logs, "enrichment/other/a_vs_b.log", f"{stamp} WARNING lsecflow.enrichment: another config's dataset")
    write(logs, "provenance/provenance.log", f"{stamp} WARNING lsecflow.provenance: a whole-run warning")
    write(logs, "report/report.log", f"{stamp} WARNING lsecflow.report: being written")
    write(logs, "qc_bulk/liver.log", f"{stamp} INFO lsecflow.qc: nothing to say", "WARNING not in the log format")
    found = job_warnings.collect(logs, datasets=["liver"], skip=("report/report.log",))
    assert found == {"de/liver.log": ["the parametric dispersion trend did not fit", "a <b>tag</b> & more"],
                     "enrichment/liver/a_vs_b.log": ["olfactory: no set tested"],
                     "provenance/provenance.log": ["a whole-run warning"]}
    assert "enrichment/other/a_vs_b.log" in job_warnings.collect(logs)  # no datasets given: every log
    assert job_warnings.collect(tmp_path / "none") == {}

    lines = job_warnings.summary_lines(found, n_logs=2, width=30)
    assert lines[0] == ("  warnings: 4 in 3 job log(s) (all of them: the report's Warnings section, or grep -r "
                        "WARNING logs/)")
    assert lines[1] == "    logs/de/liver.log: the parametric dispersion t... (+1 more)"  # 30 characters
    assert lines[2] == "    logs/enrichment/liver/a_vs_b.log: olfactory: no set tested"
    assert lines[3] == "    ... and 1 more job log(s)" and len(lines) == 4
    assert job_warnings.summary_lines({}) == ["  warnings: none in logs/"]

    html = job_warnings.report_section(found)
    assert html.startswith("<h2 id='warnings'>Warnings (4)</h2>") and html.count("<tr>") == 1 + 4
    assert "a &lt;b&gt;tag&lt;/b&gt; &amp; more" in html and "<b>tag" not in html  # escaped
    assert "<td rowspan='2'><code>logs/de/liver.log</code></td>" in html
    assert "No job logged a warning" in job_warnings.report_section({})
