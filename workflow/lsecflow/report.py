"""One self-contained HTML report of a run: overview, every figure with its caption, tables, provenance.

The layout (which files belong to which dataset, unit and collection) comes
from ``report_manifest()`` in ``workflow/rules/common.smk``, the same place
the targets come from; this module only reads those files and renders them.
PNGs are embedded (base64), so the file can be mailed or archived alone; the
SVG/PDF versions and full tables are linked relative to the report.

The page's markup (style, script, tables, embedded figures) is
:mod:`lsecflow.report_html`.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import yaml

from . import job_warnings
from .calls import composition_calls, flagged_candidates, passing_candidates, sizes_note
from .de_options import level_column
from .enrichment import no_overlap_reason, ranking_from_de
from .files import write_text_atomic
from .genesets import read_gmt
from .methods import methods_text, package_versions
from .report_html import Renderer, breakable, esc, page_html, read_tsv, table_html
from .report_lookup import lookup_data, lookup_section

log = logging.getLogger(__name__)

def _qc_summary(ds: dict) -> tuple[str, str]:
    """(verdict text, purity text) of a dataset's QC for the overview."""
    verdict = json.loads(Path(ds["qc"]["verdict"]).read_text())
    if ds["assay"] == "bulk":
        warnings = verdict.get("contamination_warnings", [])
        outliers = verdict.get("outliers", [])
        state = "warn" if warnings or outliers else "ok"
        text = (f"{verdict['n_samples']} samples; outliers: {', '.join(outliers) or 'none'}; "
                f"excluded: {', '.join(verdict.get('excluded', [])) or 'none'}; "
                f"contamination warnings: {len(warnings)}")
        samples = read_tsv(ds["qc"]["table"])
        dom = ", ".join(f"{k} ({v})" for k, v in verdict.get("dominant_signature", {}).items())
        purity = f"dominant signature: {dom}"
        if "share_LSEC" in samples:
            purity += f"; LSEC share median {samples['share_LSEC'].median():.2f}"
        purity += f" ({verdict.get('sample_type', '')} samples)"
    elif ds["assay"] == "proteomics":
        outliers = verdict.get("outliers", [])
        state = "warn" if outliers else "ok"
        text = (f"{verdict['n_samples']} samples; {verdict['proteins_kept']} of {verdict['proteins_in_table']} "
                f"proteins pass the valid-value filter ({verdict['missing_fraction_kept']:.1%} of their values "
                f"missing, {verdict['imputed_values']} imputed); outliers: {', '.join(outliers) or 'none'}; "
                f"excluded: {', '.join(verdict.get('excluded', [])) or 'none'}")
        purity = "not assessed for protein intensities (no LSEC marker panel)"
    else:
        state = "ok" if verdict.get("labelled_lsec_in_lsec_clusters", 0) >= 0.8 else "warn"
        text = (f"{verdict['n_cells']} cells, {verdict['n_pass']} pass QC; {verdict['n_clusters']} clusters "
                f"(LSEC clusters: {', '.join(verdict.get('lsec_clusters', [])) or 'none'})")
        purity = (f"{verdict.get('labelled_lsec_in_lsec_clusters', float('nan')):.0%} of cells in LSEC clusters are "
                  f"labelled LSEC; {verdict.get('other_labels_in_lsec_clusters', float('nan')):.0%} carry other labels")
    return f'<span class="verdict-{state}">{"passed" if state == "ok" else "check"}</span> {esc(text)}', esc(purity)


def _de_counts(unit: dict) -> str:
    row = read_tsv(unit["de_summary"]).iloc[0]
    if row.get("status", "tested") != "tested":
        return esc(str(row["status"]))
    return f'<span style="color:var(--up)">{int(row["up"])} up</span>, ' \
           f'<span style="color:var(--down)">{int(row["down"])} down</span> (padj &lt; {row["alpha"]}{sizes_note(row)})'


def _top_pathways(unit: dict, n: int = 3) -> str:
    parts = []
    for enr in unit["enrichment"]:
        gsea = read_tsv(enr["gsea"])
        if gsea.empty:
            continue
        top = gsea[gsea["padj"] < 0.05].nsmallest(n, ["padj", "pval"])
        for _, r in top.iterrows():
            arrow = "&uarr;" if r["NES"] > 0 else "&darr;"
            parts.append(f"{arrow} {breakable(r['set'])} <span class='meta'>({enr['collection']}, NES {r['NES']:.2f}, "
                         f"padj {r['padj']:.2g})</span>")
    return "<br>".join(parts[:6]) or "<span class='meta'>none at padj &lt; 0.05</span>"


def marked_summary(flagged: pd.DataFrame) -> str:
    """How many flagged candidates the checks marked, and why (plain text; "" when none or no checks)."""
    if "marks" not in flagged:
        return ""
    marks = flagged["marks"].fillna("").astype(str)
    marked = marks[marks != ""]
    if marked.empty:
        return ""
    driven, fragile = int(marked.str.contains("driven by").sum()), int(marked.str.contains("fragile").sum())
    cont = marked[marked.str.contains("signature")]
    sigs = sorted(set(cont.str.extract(r"follows the (.+?) signature")[0].dropna()))
    why = [f"{driven} driven by one sample"] if driven else []
    if fragile:
        why.append(f"{fragile} lost in several leave-one-out refits")
    if len(cont):
        why.append(f"{len(cont)} following a contaminant signature ({', '.join(sigs)})")
    return f"{len(marked)} of {len(flagged)} flagged marked: {'; '.join(why)}"


def _top_candidates(unit: dict, n: int = 5) -> str:
    if not unit.get("paracrine"):
        return "<span class='meta'>-</span>"
    flagged = flagged_candidates(read_tsv(unit["paracrine"]["candidates"]))
    top = passing_candidates(flagged).head(n)
    note = marked_summary(flagged)
    note = f"<br><span class='meta'>{esc(note)}</span>" if note else ""
    if top.empty:
        return f"<span class='meta'>{'none flagged' if flagged.empty else 'none passes the checks'}</span>{note}"
    return ", ".join(f"{esc(r['symbol'])} <span class='meta'>({esc(r['class'])}, "
                     f"log2FC {r['log2FoldChange']:.1f})</span>" for _, r in top.iterrows()) + note


def overview(manifest: dict) -> str:
    """The table at the top: per dataset QC verdict and purity; per unit DE counts, pathways, candidates."""
    out = ["<h2 id='overview'>Overview</h2>"]
    for name, ds in manifest.items():
        verdict, purity = _qc_summary(ds)
        out.append(f"<h3>{esc(name)} <span class='meta'>({ds['assay'].replace('_', '-')}, {ds['species']})</span></h3>")
        if ds.get("description"):
            out.append(f"<p class='meta'>{esc(ds['description'])}</p>")
        out.append(f"<p><b>QC:</b> {verdict}<br><b>Purity:</b> {purity}{_composition_overview(name, ds)}</p>")
        rows = "".join(f"<tr><td><a href='#{esc(u['anchor'])}'>{esc(u['title'])}</a></td><td>{_de_counts(u)}</td>"
                       f"<td>{_top_pathways(u)}</td><td>{_top_candidates(u)}</td></tr>" for u in ds["units"])
        out.append("<table><thead><tr><th>contrast</th><th>DE genes</th><th>top pathways (GSEA)</th>"
                   f"<th>top paracrine candidates (passing every check)</th></tr></thead><tbody>{rows}</tbody></table>")
    return "\n".join(out)


def _composition_overview(name: str, ds: dict) -> str:
    """Single-cell: the overview's line on the cell-type proportions (a link to their section)."""
    if not ds.get("composition"):
        return ""
    said = "; ".join(f"{esc(contrast)}: {', '.join(map(esc, calls)) if calls else 'none'} of {n}"
                     for contrast, n, calls in composition_calls(read_tsv(ds["composition"]["table"])))
    return (f"<br><b><a href='#{esc(name)}-composition'>Cell-type proportions</a> changed</b> (padj &lt; de.alpha): "
            f"{said or 'no contrast tested'}")


def _share_line(name: str, shares: pd.DataFrame, share: dict) -> str:
    """Single-cell: above a cell type's DE, its share of the cells in the same contrast (composition/propeller.tsv),
    so a change in expression is read beside a change in numbers."""
    row = shares[(shares["contrast"] == share["contrast"]) & (shares["cell_type"] == share["cell_type"])]
    link = f"<a href='#{esc(name)}-composition'>cell-type proportions</a>"
    if row.empty:
        return f"<p class='meta'>Share of the cells: not tested in this contrast ({link}).</p>"
    r = row.iloc[0]
    rests = f", rests on {esc(r['driven_by'])}" if isinstance(r.get("driven_by"), str) and r["driven_by"] else ""
    ratio = (f"{r['prop_target']:.3g} vs {r['prop_reference']:.3g} ({r['prop_ratio']:.2f}x), "
             if pd.notna(r["prop_ratio"]) else "")
    return (f"<p class='meta'>Share of the cells: {ratio}moderated t {r['stat']:.2f}, padj {r['padj']:.2g}"
            f"{' (changed' + rests + ')' if bool(r['called']) else ''} ({link}).</p>")


def _de_section(r: Renderer, unit: dict, n_rows: int) -> str:
    table = read_tsv(unit["de_table"])
    out = [f"<h4>Differential expression: {_de_counts(unit)}</h4>"]
    if table.empty:
        out.append("<p>No DE table: this unit was skipped (see its summary).</p>")
    else:
        top = table[table["padj"].notna()].head(n_rows)
        out.append(f"<p class='meta'>{n_rows} most significant of {len(table)} genes; full table: "
                   f"{r.link(unit['de_table'])}</p>")
        level = level_column(table)
        out.append(table_html(top, ["symbol", "gene_id", level, "log2FoldChange", "lfcSE", "pvalue", "padj"],
                              row_class=lambda row: "up" if row["log2FoldChange"] > 0 else "down"))
        out.append(f"<div class='meta'>{r.caption('table_de')}</div>")
    if "sample_weights" in unit:
        out.append(_sample_weights(r, unit["sample_weights"]))
    if "block" in unit:
        out.append(_block(r, unit["block"]))
    if "design_test" in unit:
        out.append(_design_test(r, unit["design_test"], n_rows))
    out.append(r.figures(unit["figures"]))
    return "\n".join(out)


def _design_test(r: Renderer, files: dict, n_rows: int) -> str:
    """``de.test: lrt``: the fit's design test (DESeq2's LRT, limma's moderated F), shown with its first contrast:
    what was tested, how many genes it calls, its most significant genes and a link to the whole table."""
    summary = read_tsv(files["summary"]).iloc[0]
    if not str(summary["status"]).startswith("tested"):
        return f"<p class='meta'>Design test: {esc(str(summary['status']))}</p>"
    table = read_tsv(files["table"])
    level = level_column(table)
    top = table[table["padj"].notna()].head(n_rows)
    return (f"<h4>Design test ({esc(str(summary['test']))}): {int(summary['significant'])} of "
            f"{int(summary['tested'])} at padj &lt; {summary['alpha']:g}</h4>"
            f"<p class='meta'>One test per gene of the terms the reduced design drops, whichever contrast; every "
            f"contrast table carries its p-values. {n_rows} most significant; full table: {r.link(files['table'])}"
            f"</p>" + table_html(top, ["symbol", "gene_id", level, "stat", "pvalue", "padj"]))


def _sample_weights(r: Renderer, path: str, n: int = 3) -> str:
    """One line on limma's sample weights (``de.sample_weights``: voomWithQualityWeights, or arrayWeights for
    proteins): the lowest and highest."""
    weights = read_tsv(path)
    if weights.empty:
        return ""
    ordered = weights.sort_values("weight", kind="stable")
    low = ", ".join(f"{esc(str(s))} {w:.2f}" for s, w in ordered.head(n).itertuples(index=False))
    high = ", ".join(f"{esc(str(s))} {w:.2f}" for s, w in ordered.tail(n).iloc[::-1].itertuples(index=False))
    return (f"<p class='meta'>Sample weights (limma's arrayWeights; 1 is average, a noisier sample weighs "
            f"less): lowest {low}; highest {high}; all: {r.link(path)}</p>")


def _block(r: Renderer, path: str) -> str:
    """One line on ``de.block``: the block column, the blocks, the within-block correlation the fit used."""
    block = read_tsv(path)
    if block.empty:
        return ""
    b = block.iloc[0]
    note = b["note"] if isinstance(b["note"], str) and b["note"] else ""
    how = (f"set to 0, an ordinary fit: {esc(note)}" if note else
           f"limma's duplicateCorrelation over {int(b['features'])} features, a random effect in every fit")
    return (f"<p class='meta'>Blocks ({esc(str(b['block']))}: {int(b['blocks'])} blocks of {int(b['samples'])} "
            f"samples): within-block correlation {b['correlation']:.3f} ({how}); {r.link(path)}</p>")


def _enrichment_section(r: Renderer, unit: dict, n_rows: int, species: str = "") -> str:
    out = []
    for enr in unit["enrichment"]:
        gsea = read_tsv(enr["gsea"])
        n_sig = int((gsea["padj"] < 0.05).sum()) if not gsea.empty else 0
        why = ""
        if gsea.empty and enr.get("gmt") and Path(enr["gmt"]).exists():  # say why nothing was tested
            table = read_tsv(unit["de_table"])
            genes = ranking_from_de(table).index if len(table) else []
            why = no_overlap_reason(read_gmt(enr["gmt"]), genes, *enr["size_limits"], species)
        warn = f" <span class='verdict-warn'>no set could be tested: {esc(why)}</span>" if why else ""
        out.append(f"<details{' open' if why else ''}><summary>Enrichment · {esc(enr['collection'])}: {len(gsea)} "
                   f"sets tested, {n_sig} at padj &lt; 0.05{warn}</summary>")
        if not gsea.empty:
            out.append(f"<p class='meta'>top {n_rows} sets by padj; full tables: {r.link(enr['gsea'])}, "
                       f"{r.link(enr['ora'])}</p>")
            out.append(table_html(gsea.nsmallest(n_rows, ["padj", "pval"]),
                                  ["set", "size", "NES", "pval", "padj", "log2err", "leading_edge"]))
            out.append(f"<div class='meta'>{r.caption('table_gsea')}</div>")
        out.append(r.figures(enr["figures"]))
        out.append("</details>")
    return "\n".join(out)


def _paracrine_section(r: Renderer, unit: dict, n_rows: int) -> str:
    par = unit.get("paracrine")
    if not par:
        return ""
    cand = read_tsv(par["candidates"])
    flagged = flagged_candidates(cand)
    checks = [c for c in ("source", "marks") if c in flagged]
    note = marked_summary(flagged)
    out = [f"<h4>Paracrine candidates: {len(flagged)} flagged</h4>",
           f"<p>{esc(note)}</p>" if note else "",
           f"<p class='meta'>full tables: {r.link(par['candidates'])}, {r.link(par['pairs'])}</p>",
           table_html(flagged.head(n_rows), ["rank", "symbol", "class", "priority", "log2FoldChange", "padj",
                                             "n_sources", *checks, "receptors"],
                      row_class=lambda row: "up" if row["log2FoldChange"] > 0 else "down"),
           f"<div class='meta'>{r.caption('table_paracrine')}</div>",
           r.figures(par["figures"])]
    return "\n".join(out)


def run_report(manifest: dict, resolved: dict, provenance: dict, out: str, captions: str, logs: str | None = None,
               n_rows: int = 15) -> Path:
    """Rule entry point: write the self-contained HTML report.

    Parameters
    ----------
    manifest
        ``report_manifest()`` of common.smk: per dataset its assay, species,
        QC files and figures, and per DE unit its tables and figures.
    resolved
        The resolved config (shown under "Parameters").
    provenance
        Paths of ``versions``, ``inputs`` (sha256) and ``config`` from the provenance rule.
    out
        The HTML file to write (atomically).
    captions
        Folder of the ``.rst`` captions (workflow/report).
    logs
        The run's log folder: its warnings, gathered (:mod:`lsecflow.job_warnings`; the report's own log left
        out); None, no Warnings section.
    n_rows
        Rows of each table shown (full tables are linked).
    """
    r = Renderer(Path(out), Path(captions))
    nav = ["<a href='#overview'><b>Overview</b></a>", "<a href='#gene-lookup'><b>Gene lookup</b></a>"]
    body = [overview(manifest), lookup_section(lookup_data(manifest, resolved))]
    if logs is not None:
        units = {name: [u["unit"] for u in ds["units"]] for name, ds in manifest.items()}
        found = job_warnings.collect(logs, units, skip=("report/report.log",))
        nav.insert(1, f"<a href='#warnings'><b>Warnings</b> ({sum(len(m) for m in found.values())})</a>")
        body.insert(1, job_warnings.report_section(found, lambda rel: r.link(Path(logs) / rel, f"logs/{rel}")))
    versions_table = read_tsv(provenance["versions"])
    versions = package_versions(versions_table)
    seed = resolved.get("config", {}).get("compute", {}).get("seed", 0)
    for name, ds in manifest.items():
        dataset_section(r, name, ds, n_rows, nav, body)
        nav.append(f"<a class='sub' href='#{esc(name)}-methods'>methods</a>")
        qc_verdict = json.loads(Path(ds["qc"]["verdict"]).read_text())
        resolved_ds = resolved["datasets"][name]
        body.append(methods_section(name, methods_text(resolved_ds["spec"], versions, seed, qc_verdict,
                                                       resolved_ds.get("format"))))
        log.info("report: dataset %s rendered (%d figures so far)", name, r.n_figures)
    nav.append("<a class='ds' href='#provenance'>Provenance</a>")
    body.append(provenance_section(r, provenance, resolved, versions_table))
    page = page_html(nav, body, len(manifest), r.n_figures)
    write_text_atomic(page, out)
    log.info("report written: %s (%d figures, %.1f MB)", out, r.n_figures, len(page) / 1e6)
    return Path(out)


def dataset_section(r: Renderer, name: str, ds: dict, n_rows: int, nav: list[str], body: list[str]) -> None:
    """One dataset's QC, receivers and DE units, appended to the page's ``nav`` links and ``body``."""
    nav.append(f"<a class='ds' href='#{esc(name)}'>{esc(name)}</a>")
    nav.append(f"<a class='sub' href='#{esc(name)}-qc'>QC</a>")
    body.append(f"<h2 id='{esc(name)}'>{esc(name)}</h2>")
    body.append(f"<h3 id='{esc(name)}-qc'>Quality control</h3>")
    body.append(f"<p class='meta'>tables: {r.link(ds['qc']['table'])}, {r.link(ds['qc']['verdict'])}</p>")
    if ds["qc"].get("preprocessing"):  # proteomics: each preprocessing step with its counts
        body.append("<h4>Preprocessing</h4>" + table_html(read_tsv(ds["qc"]["preprocessing"])))
    body.append(r.figures(ds["qc"]["figures"]))
    shares = read_tsv(ds["composition"]["table"]) if ds.get("composition") else None
    if shares is not None:
        body.append(_composition_section(r, name, ds["composition"], shares, nav))
    if ds.get("receivers"):
        body.append(f"<h3 id='{esc(name)}-receivers'>Paracrine receivers</h3>")
        nav.append(f"<a class='sub' href='#{esc(name)}-receivers'>receivers</a>")
        rec = ds["receivers"]
        body.append(f"<p class='meta'>table: {r.link(rec['table'])}</p>")
        body.append(r.figures(rec["figures"]))
    for unit in ds["units"]:
        nav.append(f"<a class='sub' href='#{esc(unit['anchor'])}'>{esc(unit['title'])}</a>")
        body.append(f"<h3 id='{esc(unit['anchor'])}'>{esc(unit['title'])}</h3>")
        if shares is not None and "share" in unit:
            body.append(_share_line(name, shares, unit["share"]))
        body.append(_de_section(r, unit, n_rows))
        body.append(_paracrine_section(r, unit, n_rows))
        body.append(_enrichment_section(r, unit, n_rows, ds["species"]))


def _composition_section(r: Renderer, name: str, comp: dict, table: pd.DataFrame, nav: list[str]) -> str:
    """Single-cell: the cell-type proportions and their test (``table``: composition/propeller.tsv,
    :mod:`lsecflow.composition`), every row shown."""
    nav.append(f"<a class='sub' href='#{esc(name)}-composition'>cell-type proportions</a>")
    return "\n".join([f"<h3 id='{esc(name)}-composition'>Cell-type proportions</h3>",
                       f"<p class='meta'>tables: {r.link(comp['table'])}, {r.link(comp['cells'])}</p>",
                       table_html(table, ["contrast", "cell_type", "n_cells", "prop_target", "prop_reference",
                                          "prop_ratio", "stat", "padj", "survives", "driven_by"]) if len(table) else
                       "<p>No contrast could be tested (the log says why).</p>",
                       r.figures(comp["figures"])])


def methods_section(name: str, paragraphs: list[str]) -> str:
    """A dataset's methods paragraphs (:func:`lsecflow.methods.methods_text`) under their heading."""
    return (f"<h3 id='{esc(name)}-methods'>Methods</h3><p class='meta'>Written from this run's settings and versions "
            "(lsecflow.methods), for a paper's methods section: check it against what you report before use.</p>"
            + "".join(f"<p class='methods'>{esc(p)}</p>" for p in paragraphs))


def provenance_section(r: Renderer, provenance: dict, resolved: dict, versions: pd.DataFrame) -> str:
    """Tool and gene-set versions (``versions``: versions.tsv, read once by :func:`run_report`), the inputs' sha256
    and the resolved config."""
    inputs = read_tsv(provenance["inputs"])
    return ("<h2 id='provenance'>Provenance</h2>"
            f"<p class='meta'>files: {r.link(provenance['versions'])}, {r.link(provenance['inputs'])}, "
            f"{r.link(provenance['config'])}</p>"
            "<h3>Tool and gene-set versions</h3>" + table_html(versions, max_chars=140)
            + "<h3>Inputs (sha256)</h3>" + table_html(inputs, ["dataset", "role", "path", "bytes", "sha256"],
                                                       max_chars=200)
            + "<h3>Parameters (resolved config)</h3><pre>"
            + esc(yaml.safe_dump(resolved, sort_keys=False, default_flow_style=False)) + "</pre>")
