"""One self-contained HTML report of a run: overview, every figure with its caption, tables, provenance.

The layout (which files belong to which dataset, unit and collection) comes
from ``report_manifest()`` in ``workflow/rules/common.smk``, the same place
the targets come from; this module only reads those files and renders them.
PNGs are embedded (base64), so the file can be mailed or archived alone; the
SVG/PDF versions and full tables are linked relative to the report.

A small script marks the page when it has loaded (``data-report-status``
on ``<body>``: ``ok``, or what failed: images that did not decode, JavaScript
errors), which the browser test reads.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import os
from pathlib import Path

import pandas as pd
import yaml

from .calls import flagged_candidates, passing_candidates
from .enrichment import no_overlap_reason, ranking_from_de
from .files import write_text_atomic
from .genesets import read_gmt

log = logging.getLogger(__name__)

CSS = """
:root { --up:#b2182b; --down:#2166ac; --muted:#666; --line:#ddd; --bg:#fafafa; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color:#222; }
nav { position:fixed; top:0; left:0; bottom:0; width:250px; overflow:auto; background:#f3f4f6;
      border-right:1px solid var(--line); padding:14px 12px; font-size:13px; }
nav a { color:#234; text-decoration:none; display:block; padding:2px 0; }
nav a:hover { text-decoration:underline; }
nav .ds { font-weight:bold; margin-top:10px; }
nav .sub { padding-left:12px; }
main { margin-left:250px; padding:18px 32px 60px; max-width:1400px; }
h1 { font-size:22px; margin:0 0 4px; } h2 { border-bottom:2px solid #234; padding-bottom:3px; margin-top:36px; }
h3 { margin-top:26px; } h4 { margin:18px 0 6px; }
.meta { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; margin:6px 0 12px; font-size:12px; }
th, td { border:1px solid var(--line); padding:3px 7px; text-align:left; vertical-align:top; }
th { background:#eef1f5; } td.num { text-align:right; font-variant-numeric:tabular-nums; }
tr.up td.lfc { color:var(--up); } tr.down td.lfc { color:var(--down); }
.verdict-ok { color:#1b7837; font-weight:bold; } .verdict-warn { color:#b35806; font-weight:bold; }
figure { margin:10px 0 22px; background:var(--bg); border:1px solid var(--line); padding:10px; }
figure img { max-width:100%; height:auto; display:block; }
figcaption { font-size:12.5px; color:#333; margin-top:6px; }
figcaption p { margin:4px 0; }
.files { font-size:12px; color:var(--muted); }
details { margin:8px 0; border:1px solid var(--line); border-radius:4px; padding:4px 10px; }
details > summary { cursor:pointer; font-weight:bold; padding:4px 0; }
pre { background:#f6f8fa; border:1px solid var(--line); padding:10px; overflow:auto; font-size:12px; max-height:480px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(520px, 1fr)); gap:14px; }
"""

# in <head>: collects errors from every later script of the page
ERROR_TRAP = """window.__lsecflowErrors = [];
window.addEventListener('error', function (e) { window.__lsecflowErrors.push(String(e.message || e)); });"""

SCRIPT = """
(function () {
  function check() {
    var errors = window.__lsecflowErrors || ['the error trap in <head> did not run'];
    var imgs = document.querySelectorAll('img'), broken = [];
    for (var i = 0; i < imgs.length; i++) {
      if (!imgs[i].complete || imgs[i].naturalWidth === 0) { broken.push(imgs[i].getAttribute('alt')); }
    }
    var status = (broken.length === 0 && errors.length === 0) ? 'ok' : 'problems';
    document.body.setAttribute('data-report-status', status);
    document.body.setAttribute('data-images', String(imgs.length));
    document.body.setAttribute('data-broken-images', JSON.stringify(broken));
    document.body.setAttribute('data-js-errors', JSON.stringify(errors));
  }
  // on load every embedded image has been decoded or has failed (decode() promises
  // of images inside closed <details> never settle in headless Chromium, so no decode())
  window.addEventListener('load', check);
})();
"""


def _esc(x) -> str:
    return html.escape(str(x))


def rst_to_html(text: str) -> str:
    """A caption (reStructuredText) as an HTML fragment."""
    from docutils.core import publish_parts

    return publish_parts(text, writer_name="html", settings_overrides={"report_level": 5})["fragment"]


def _fmt(v) -> str:
    if isinstance(v, float):
        if pd.isna(v):
            return "NA"
        return f"{v:.3g}" if (abs(v) < 1e-3 or abs(v) >= 1e4) and v != 0 else f"{v:.3f}".rstrip("0").rstrip(".")
    return str(v)


def table_html(df: pd.DataFrame, columns: list[str] | None = None, max_chars: int = 90,
               row_class=None) -> str:
    """A small HTML table (numbers right-aligned and rounded, long text cut)."""
    df = df[[c for c in (columns or list(df.columns)) if c in df.columns]]
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    rows = []
    for _, row in df.iterrows():
        cells = []
        for c, v in row.items():
            cls = "num" if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            if c == "log2FoldChange":
                cls += " lfc"
            text = _fmt(v)
            if len(text) > max_chars:
                text = text[: max_chars - 3] + "..."
            cells.append(f'<td class="{cls.strip()}">{_esc(text)}</td>')
        klass = f' class="{row_class(row)}"' if row_class else ""
        rows.append(f"<tr{klass}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


class Renderer:
    """Renders figures and links; files are read as given and linked relative to the report file."""

    def __init__(self, out: Path, captions: Path):
        self.out = Path(out)
        self.captions = Path(captions)
        self.n_figures = 0
        self._caption_cache: dict[str, str] = {}

    def link(self, path: str | Path, text: str | None = None) -> str:
        rel = os.path.relpath(Path(path).resolve(), self.out.resolve().parent)
        return f'<a href="{_esc(rel)}">{_esc(text or Path(path).name)}</a>'

    def caption(self, name: str) -> str:
        if name not in self._caption_cache:
            self._caption_cache[name] = rst_to_html((self.captions / f"{name}.rst").read_text())
        return self._caption_cache[name]

    def figure(self, fig: dict) -> str:
        """``fig``: {"path": PNG, "caption": caption name, "title": ...}; other formats linked."""
        png = Path(fig["path"])
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        self.n_figures += 1
        others = sorted(p for p in png.parent.glob(png.stem + ".*") if p.suffix in (".svg", ".pdf"))
        files = " · ".join(self.link(p, p.suffix[1:].upper()) for p in [png, *others])
        return (f'<figure><img alt="{_esc(fig.get("title", png.name))}" src="data:image/png;base64,{data}">'
                f'<figcaption><b>{_esc(fig.get("title", ""))}</b>{self.caption(fig["caption"])}'
                f'<div class="files">files: {files}</div></figcaption></figure>')

    def figures(self, figs: list[dict]) -> str:
        return '<div class="grid">' + "".join(self.figure(f) for f in figs) + "</div>"


def _read_tsv(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])


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
        samples = _read_tsv(ds["qc"]["table"])
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
    return f'<span class="verdict-{state}">{"passed" if state == "ok" else "check"}</span> {_esc(text)}', _esc(purity)


def _de_counts(unit: dict) -> str:
    row = _read_tsv(unit["de_summary"]).iloc[0]
    if row.get("status", "tested") != "tested":
        return _esc(str(row["status"]))
    return f'<span style="color:var(--up)">{int(row["up"])} up</span>, ' \
           f'<span style="color:var(--down)">{int(row["down"])} down</span> (padj &lt; {row["alpha"]})'


def _top_pathways(unit: dict, n: int = 3) -> str:
    parts = []
    for enr in unit["enrichment"]:
        gsea = _read_tsv(enr["gsea"])
        if gsea.empty:
            continue
        top = gsea[gsea["padj"] < 0.05].nsmallest(n, ["padj", "pval"])
        for _, r in top.iterrows():
            arrow = "&uarr;" if r["NES"] > 0 else "&darr;"
            parts.append(f"{arrow} {_esc(r['set'])} <span class='meta'>({enr['collection']}, NES {r['NES']:.2f}, "
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
    flagged = flagged_candidates(_read_tsv(unit["paracrine"]["candidates"]))
    top = passing_candidates(flagged).head(n)
    note = marked_summary(flagged)
    note = f"<br><span class='meta'>{_esc(note)}</span>" if note else ""
    if top.empty:
        return f"<span class='meta'>{'none flagged' if flagged.empty else 'none passes the checks'}</span>{note}"
    return ", ".join(f"{_esc(r['symbol'])} <span class='meta'>({_esc(r['class'])}, "
                     f"log2FC {r['log2FoldChange']:.1f})</span>" for _, r in top.iterrows()) + note


def overview(manifest: dict) -> str:
    """The table at the top: per dataset QC verdict and purity; per unit DE counts, pathways, candidates."""
    out = ["<h2 id='overview'>Overview</h2>"]
    for name, ds in manifest.items():
        verdict, purity = _qc_summary(ds)
        out.append(f"<h3>{_esc(name)} <span class='meta'>({ds['assay'].replace('_', '-')}, {ds['species']})</span></h3>")
        if ds.get("description"):
            out.append(f"<p class='meta'>{_esc(ds['description'])}</p>")
        out.append(f"<p><b>QC:</b> {verdict}<br><b>Purity:</b> {purity}</p>")
        rows = "".join(f"<tr><td><a href='#{_esc(u['anchor'])}'>{_esc(u['title'])}</a></td><td>{_de_counts(u)}</td>"
                       f"<td>{_top_pathways(u)}</td><td>{_top_candidates(u)}</td></tr>" for u in ds["units"])
        out.append("<table><thead><tr><th>contrast</th><th>DE genes</th><th>top pathways (GSEA)</th>"
                   f"<th>top paracrine candidates (passing every check)</th></tr></thead><tbody>{rows}</tbody></table>")
    return "\n".join(out)


def _de_section(r: Renderer, unit: dict, n_rows: int) -> str:
    table = _read_tsv(unit["de_table"])
    out = [f"<h4>Differential expression: {_de_counts(unit)}</h4>"]
    if table.empty:
        out.append("<p>No DE table: this unit was skipped (see its summary).</p>")
    else:
        top = table[table["padj"].notna()].head(n_rows)
        out.append(f"<p class='meta'>{n_rows} most significant of {len(table)} genes; full table: "
                   f"{r.link(unit['de_table'])}</p>")
        level = "AveExpr" if "AveExpr" in table else "baseMean"  # proteomics: mean log2 intensity
        out.append(table_html(top, ["symbol", "gene_id", level, "log2FoldChange", "lfcSE", "pvalue", "padj"],
                              row_class=lambda row: "up" if row["log2FoldChange"] > 0 else "down"))
        out.append(f"<div class='meta'>{r.caption('table_de')}</div>")
    out.append(r.figures(unit["figures"]))
    return "\n".join(out)


def _enrichment_section(r: Renderer, unit: dict, n_rows: int, species: str = "") -> str:
    out = []
    for enr in unit["enrichment"]:
        gsea = _read_tsv(enr["gsea"])
        n_sig = int((gsea["padj"] < 0.05).sum()) if not gsea.empty else 0
        why = ""
        if gsea.empty and enr.get("gmt") and Path(enr["gmt"]).exists():  # say why nothing was tested
            table = _read_tsv(unit["de_table"])
            genes = ranking_from_de(table).index if len(table) else []
            why = no_overlap_reason(read_gmt(enr["gmt"]), genes, *enr["size_limits"], species)
        warn = f" <span class='verdict-warn'>no set could be tested: {_esc(why)}</span>" if why else ""
        out.append(f"<details{' open' if why else ''}><summary>Enrichment · {_esc(enr['collection'])}: {len(gsea)} "
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
    cand = _read_tsv(par["candidates"])
    flagged = flagged_candidates(cand)
    checks = [c for c in ("source", "marks") if c in flagged]
    note = marked_summary(flagged)
    out = [f"<h4>Paracrine candidates: {len(flagged)} flagged</h4>",
           f"<p>{_esc(note)}</p>" if note else "",
           f"<p class='meta'>full tables: {r.link(par['candidates'])}, {r.link(par['pairs'])}</p>",
           table_html(flagged.head(n_rows), ["rank", "symbol", "class", "priority", "log2FoldChange", "padj",
                                             "n_sources", *checks, "receptors"],
                      row_class=lambda row: "up" if row["log2FoldChange"] > 0 else "down"),
           f"<div class='meta'>{r.caption('table_paracrine')}</div>",
           r.figures(par["figures"])]
    return "\n".join(out)


def run_report(manifest: dict, resolved: dict, provenance: dict, out: str, captions: str,
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
    n_rows
        Rows of each table shown (full tables are linked).
    """
    r = Renderer(Path(out), Path(captions))
    nav = ["<a href='#overview'><b>Overview</b></a>"]
    body = [overview(manifest)]
    for name, ds in manifest.items():
        nav.append(f"<a class='ds' href='#{_esc(name)}'>{_esc(name)}</a>")
        nav.append(f"<a class='sub' href='#{_esc(name)}-qc'>QC</a>")
        body.append(f"<h2 id='{_esc(name)}'>{_esc(name)}</h2>")
        body.append(f"<h3 id='{_esc(name)}-qc'>Quality control</h3>")
        body.append(f"<p class='meta'>tables: {r.link(ds['qc']['table'])}, {r.link(ds['qc']['verdict'])}</p>")
        if ds["qc"].get("preprocessing"):  # proteomics: each preprocessing step with its counts
            body.append("<h4>Preprocessing</h4>" + table_html(_read_tsv(ds["qc"]["preprocessing"])))
        body.append(r.figures(ds["qc"]["figures"]))
        if ds.get("receivers"):
            body.append(f"<h3 id='{_esc(name)}-receivers'>Paracrine receivers</h3>")
            nav.append(f"<a class='sub' href='#{_esc(name)}-receivers'>receivers</a>")
            rec = ds["receivers"]
            body.append(f"<p class='meta'>table: {r.link(rec['table'])}</p>")
            body.append(r.figures(rec["figures"]))
        for unit in ds["units"]:
            nav.append(f"<a class='sub' href='#{_esc(unit['anchor'])}'>{_esc(unit['title'])}</a>")
            body.append(f"<h3 id='{_esc(unit['anchor'])}'>{_esc(unit['title'])}</h3>")
            body.append(_de_section(r, unit, n_rows))
            body.append(_paracrine_section(r, unit, n_rows))
            body.append(_enrichment_section(r, unit, n_rows, ds["species"]))
        log.info("report: dataset %s rendered (%d figures so far)", name, r.n_figures)

    nav.append("<a class='ds' href='#provenance'>Provenance</a>")
    versions = _read_tsv(provenance["versions"])
    inputs = _read_tsv(provenance["inputs"])
    body.append("<h2 id='provenance'>Provenance</h2>")
    body.append(f"<p class='meta'>files: {r.link(provenance['versions'])}, {r.link(provenance['inputs'])}, "
                f"{r.link(provenance['config'])}</p>")
    body.append("<h3>Tool and gene-set versions</h3>" + table_html(versions, max_chars=140))
    body.append("<h3>Inputs (sha256)</h3>" + table_html(inputs, ["dataset", "role", "path", "bytes", "sha256"],
                                                        max_chars=200))
    body.append("<h3>Parameters (resolved config)</h3><pre>"
                + _esc(yaml.safe_dump(resolved, sort_keys=False, default_flow_style=False)) + "</pre>")

    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>lsecflow report</title><style>{CSS}</style><script>{ERROR_TRAP}</script></head><body>"
            f"<nav>{''.join(nav)}</nav><main><h1>lsecflow report</h1>"
            f"<p class='meta'>{len(manifest)} dataset(s) · {r.n_figures} figures · rendered {stamp} · "
            f"figures are PNG here; SVG/PDF and full tables are linked beside each</p>"
            f"{''.join(body)}</main><script>{SCRIPT}</script></body></html>")
    write_text_atomic(page, out)
    log.info("report written: %s (%d figures, %.1f MB)", out, r.n_figures, len(page) / 1e6)
    return Path(out)
