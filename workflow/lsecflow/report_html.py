"""The report page's markup: its style and script, tables, embedded figures with captions, links.

A small script marks the page when it has loaded (``data-report-status``
on ``<body>``: ``ok``, or what failed: images that did not decode, JavaScript
errors), which the browser test reads.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import os
import re
from pathlib import Path

import pandas as pd

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
td.lookup.up { color:var(--up); } td.lookup.down { color:var(--down); }
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
    // tables that run past the page's column (a reader would scroll sideways): the first cell of each
    var main = document.querySelector('main'), wide = [];
    if (main) {
      var right = main.getBoundingClientRect().right, tables = main.querySelectorAll('table');
      for (var j = 0; j < tables.length; j++) {
        if (tables[j].getBoundingClientRect().right > right + 1) {
          wide.push(tables[j].querySelector('td, th').textContent.slice(0, 60));
        }
      }
    }
    document.body.setAttribute('data-wide-tables', JSON.stringify(wide));
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


# a Jinja placeholder of Snakemake's report in a caption
WILDCARD = re.compile(r"\{\{\s*snakemake\.wildcards\.(\w+)\s*\}\}")


def esc(x) -> str:
    return html.escape(str(x))


def breakable(x) -> str:
    """``esc`` with a line-break opportunity after each ``_ ; | /``: gene set names
    (REACTOME_REGULATION_OF_INSULIN_LIKE_...) and lists (Lrp2;Fcgr3;...) wrap inside a table cell instead of
    widening the table past the page; copied text is unchanged."""
    return "<wbr>".join(esc(part) for part in re.split(r"(?<=[_;|/])", str(x)))


def rst_to_html(text: str) -> str:
    """A caption (reStructuredText) as an HTML fragment."""
    from docutils.core import publish_parts

    return publish_parts(text, writer_name="html", settings_overrides={"report_level": 5})["fragment"]


def fmt(v) -> str:
    if v is None:
        return "NA"
    if isinstance(v, float):
        if pd.isna(v):
            return "NA"
        return f"{v:.3g}" if (abs(v) < 1e-3 or abs(v) >= 1e4) and v != 0 else f"{v:.3f}".rstrip("0").rstrip(".")
    return str(v)


def table_html(df: pd.DataFrame, columns: list[str] | None = None, max_chars: int = 90,
               row_class=None) -> str:
    """A small HTML table (numbers right-aligned and rounded, long text cut)."""
    df = df[[c for c in (columns or list(df.columns)) if c in df.columns]]
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    # right-aligned by column, not by value: an empty (NA) cell of a text column stays left
    numeric = {c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])}
    rows = []
    for _, row in df.iterrows():
        cells = []
        for c, v in row.items():
            cls = "num" if c in numeric else ""
            if c == "log2FoldChange":
                cls += " lfc"
            text = fmt(v)
            if len(text) > max_chars:
                text = text[: max_chars - 3] + "..."
            cells.append(f'<td class="{cls.strip()}">{breakable(text)}</td>')
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
        return f'<a href="{esc(rel)}">{esc(text or Path(path).name)}</a>'

    def caption(self, name: str, subject: str = "") -> str:
        """Caption ``name`` as HTML; its Snakemake-report placeholders (``{{ snakemake.wildcards.unit }}``,
        filled by ``snakemake --report``) name ``subject`` here, or read "this unit" without one."""
        if name not in self._caption_cache:
            self._caption_cache[name] = rst_to_html((self.captions / f"{name}.rst").read_text())
        return WILDCARD.sub(lambda m: esc(subject) if subject else f"this {m.group(1)}", self._caption_cache[name])

    def figure(self, fig: dict) -> str:
        """``fig``: {"path": PNG, "caption": caption name, "title": ...}; other formats linked."""
        png = Path(fig["path"])
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        self.n_figures += 1
        others = sorted(p for p in png.parent.glob(png.stem + ".*") if p.suffix in (".svg", ".pdf"))
        files = " · ".join(self.link(p, p.suffix[1:].upper()) for p in [png, *others])
        return (f'<figure><img alt="{esc(fig.get("title", png.name))}" src="data:image/png;base64,{data}">'
                f'<figcaption><b>{esc(fig.get("title", ""))}</b>{self.caption(fig["caption"], fig.get("subject", ""))}'
                f'<div class="files">files: {files}</div></figcaption></figure>')

    def figures(self, figs: list[dict]) -> str:
        return '<div class="grid">' + "".join(self.figure(f) for f in figs) + "</div>"


def read_tsv(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])


def page_html(nav: list[str], body: list[str], n_datasets: int, n_figures: int) -> str:
    """The whole self-contained page."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>lsecflow report</title><style>{CSS}</style><script>{ERROR_TRAP}</script></head><body>"
            f"<nav>{''.join(nav)}</nav><main><h1>lsecflow report</h1>"
            f"<p class='meta'>{n_datasets} dataset(s) · {n_figures} figures · rendered {stamp} · "
            f"figures are PNG here; SVG/PDF and full tables are linked beside each</p>"
            f"{''.join(body)}</main><script>{SCRIPT}</script></body></html>")
