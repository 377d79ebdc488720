"""The warnings the jobs logged (``logs/<rule>/...``), gathered for the report and the end-of-run summary: a
warning one job among dozens wrote (a dispersion trend substituted, gene sets none of which could be tested, a
robust fit that calls far more than least squares, gene names a spreadsheet turned into dates) is seen without
opening every log."""
from __future__ import annotations

import re
from pathlib import Path

from .report_html import esc

#: a WARNING line of :func:`lsecflow.snake.run`'s log format (``<date> <time> WARNING <logger>: <message>``)
WARNING_LINE = re.compile(r"^\S+ \S+ WARNING (\S+): (.*)$")
#: the rules' log folders in the order the data flow through them: the warnings of the early steps (an ingest
#: problem, a QC outlier) come first, before the many per-contrast ones of enrichment and figures
STAGES = ("ingest", "qc_bulk", "qc_single_cell", "qc_proteomics", "pseudobulk", "pseudobulk_figure", "composition", "de",
          "dispersion_plot", "paracrine_receivers", "paracrine", "enrichment", "figures", "provenance", "report")


def _stage(rel: str) -> tuple[int, str]:
    """Sort key of a log path relative to ``logs/``: its rule's place in :data:`STAGES`, then the path."""
    rule = rel.split("/", 1)[0]
    return (STAGES.index(rule) if rule in STAGES else len(STAGES), rel)


def collect(logs: str | Path, units: dict[str, list[str]] | None = None, skip: tuple[str, ...] = ()
            ) -> dict[str, list[str]]:
    """Every WARNING line under ``logs`` (``*.log``, recursively), by log path relative to ``logs``.

    Parameters
    ----------
    logs
        The run's log folder (``logs/`` in the working directory).
    units
        ``{dataset: [DE unit, ...]}`` (a unit: ``<contrast>`` or ``<cell type>/<contrast>``): only the logs of
        this run's jobs are read -- the whole run's (``provenance/provenance.log``), each dataset's
        (``<rule>/<dataset>.log``), each unit's (``<rule>/<dataset>/<unit>.log``) and each fit's
        (``<rule>/<dataset>/<cell type>.log``) -- not those another config or a removed contrast left in the
        same working directory. None: every log.
    skip
        Relative paths to leave out (the report's own log, being written).

    Returns
    -------
    dict
        ``{"de/dlpc_liver.log": [message, ...]}``, logs in :data:`STAGES` order (then by path), each message once
        per log (a job that warns per gene set or per block repeats itself), in the order written, without time
        stamp or logger.
    """
    logs = Path(logs)
    known = None if units is None else {
        name: {"", *names, *(u.rsplit("/", 1)[0] for u in names if "/" in u)} for name, names in units.items()}
    found: dict[str, list[str]] = {}
    for rel in sorted((p.relative_to(logs).as_posix() for p in logs.rglob("*.log")), key=_stage):
        rule, _, rest = rel.removesuffix(".log").partition("/")
        dataset, _, unit = rest.partition("/")
        ours = known is None or rest == rule or unit in known.get(dataset, ())
        if rel in skip or not ours:
            continue
        messages: list[str] = []
        for line in (logs / rel).read_text(errors="replace").splitlines():
            m = WARNING_LINE.match(line)
            if m and m.group(2) not in messages:
                messages.append(m.group(2))
        if messages:
            found[rel] = messages
    return found


def units_in(results: str | Path, datasets) -> dict[str, list[str]]:
    """``{dataset: [DE unit, ...]}`` of the DE summaries under ``results`` (what a finished run wrote), for
    :func:`collect` where the workflow's manifest is not at hand (the end-of-run summary)."""
    results = Path(results)
    return {name: [p.relative_to(results / name / "de").as_posix().removesuffix(".summary.tsv")
                   for p in sorted((results / name / "de").glob("**/*.summary.tsv"))] for name in datasets}


def summary_lines(found: dict[str, list[str]], n_logs: int = 8, width: int = 150) -> list[str]:
    """Lines for the end-of-run summary: how many warnings in how many logs, then each log's first (cut to
    ``width`` characters) for the first ``n_logs`` logs."""
    if not found:
        return ["  warnings: none in logs/"]
    total = sum(len(m) for m in found.values())
    lines = [f"  warnings: {total} in {len(found)} job log(s) (all of them: the report's Warnings section, or "
             "grep -r WARNING logs/)"]
    for rel, messages in list(found.items())[:n_logs]:
        text = messages[0] if len(messages[0]) <= width else messages[0][:width - 3] + "..."
        more = f" (+{len(messages) - 1} more)" if len(messages) > 1 else ""
        lines.append(f"    logs/{rel}: {text}{more}")
    if len(found) > n_logs:
        lines.append(f"    ... and {len(found) - n_logs} more job log(s)")
    return lines


def report_section(found: dict[str, list[str]], link=None) -> str:
    """The report's Warnings section: each job log with its warnings (none: a line saying so); ``link(rel)``: the
    HTML of a link to the log (default: its path as code)."""
    total = sum(len(m) for m in found.values())
    out = [f"<h2 id='warnings'>Warnings ({total})</h2>"]
    if not found:
        return out[0] + "<p>No job logged a warning.</p>"
    out.append("<p class='meta'>What the jobs logged as a warning (each job's log under <code>logs/</code>, each "
               "message once per log). Most say where a default was replaced or a result is thin; read each before "
               "reporting the results it concerns.</p><table><tr><th>job log</th><th>warning</th></tr>")
    for rel, messages in found.items():
        for i, message in enumerate(messages):
            name = link(rel) if link else f"<code>logs/{esc(rel)}</code>"
            head = f"<td rowspan='{len(messages)}'>{name}</td>" if i == 0 else ""
            out.append(f"<tr>{head}<td>{esc(message)}</td></tr>")
    out.append("</table>")
    return "".join(out)
