"""The report's gene lookup: type a gene symbol (or id) and see its log2 fold change and adjusted p-value in every
DE unit of every dataset -- "is my gene changed?" without opening a table.

Every tested gene's numbers are embedded in the page as JSON (log2 fold changes to 3 decimals, adjusted p-values
to 3 significant digits) and searched by a small script: an exact symbol or id first, then those starting with
what was typed (30 at most per dataset). ``#gene=Mmp9`` at the end of the report's address fills the box, so a
gene can be linked to. Nothing leaves the page (no network).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from .calls import is_significant
from .report_html import read_tsv

MAX_HITS = 30

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('lookup-data').textContent);
  Object.keys(data).forEach(function (name) {
    data[name].calledSets = data[name].called.map(function (idx) {
      var s = {};
      idx.forEach(function (i) { s[i] = true; });
      return s;
    });
  });
  var box = document.getElementById('lookup-box'), out = document.getElementById('lookup-results');
  function esc(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }
  function cell(d, u, i) {
    var lfc = d.lfc[u][i], padj = d.padj[u][i];
    if (lfc === null) { return '<td class="num">not tested</td>'; }
    var called = d.calledSets[u][i] === true;
    var cls = called ? (lfc > 0 ? ' up' : ' down') : '';
    return '<td class="num lookup' + cls + '">' + (called ? '<b>' : '') + lfc.toFixed(2) + (called ? '</b>' : '') +
      ' <span class="meta">padj ' + (padj === null ? 'NA' : padj.toPrecision(2)) + '</span></td>';
  }
  function render(query) {
    var q = query.trim().toLowerCase(), html = [];
    if (!q) { out.innerHTML = ''; return; }
    Object.keys(data).forEach(function (name) {
      var d = data[name], exact = [], prefix = [];
      for (var i = 0; i < d.ids.length; i++) {
        var s = (d.symbols[i] || '').toLowerCase(), id = d.ids[i].toLowerCase();
        if (s === q || id === q) { exact.push(i); }
        else if (s.indexOf(q) === 0 || id.indexOf(q) === 0) { prefix.push(i); }
      }
      var hits = exact.concat(prefix), shown = hits.slice(0, MAX_HITS);
      if (!shown.length) { return; }
      var rows = ['<tr><th>gene</th><th>id</th>'];
      d.units.forEach(function (u, k) { rows.push('<th><a href="#' + esc(d.anchors[k]) + '">' + esc(u) + '</a></th>'); });
      rows.push('</tr>');
      shown.forEach(function (i) {
        rows.push('<tr data-gene="' + esc(d.ids[i]) + '"><td>' + esc(d.symbols[i] || '') + '</td><td>' + esc(d.ids[i]) +
                  '</td>');
        d.units.forEach(function (u, k) { rows.push(cell(d, k, i)); });
        rows.push('</tr>');
      });
      var more = hits.length > shown.length ? ' (first ' + shown.length + ' of ' + hits.length + ')' : '';
      html.push('<h4>' + esc(name) + more + '</h4><table class="lookup">' + rows.join('') + '</table>');
    });
    out.innerHTML = html.join('') || '<p>No tested gene of any dataset matches "' + esc(query) + '".</p>';
  }
  box.addEventListener('input', function () { render(box.value); });
  var m = /[#&]gene=([^&]+)/.exec(window.location.hash);
  if (m) { box.value = decodeURIComponent(m[1]); render(box.value); }
})();
""".replace("MAX_HITS", str(MAX_HITS))


def _rounded(values: pd.Series, kind: str) -> list:
    """JSON-ready numbers: None for NA, log2 fold changes to 3 decimals, p-values to 3 significant digits."""
    out = []
    for v in values.to_numpy(dtype=float):
        if math.isnan(v):
            out.append(None)
        else:
            out.append(round(v, 3) if kind == "lfc" else float(f"{v:.3g}"))
    return out


def lookup_data(manifest: dict, resolved: dict) -> dict:
    """Per dataset, every gene tested in any of its DE units: ``ids``, ``symbols``, per unit ``lfc`` and ``padj``
    (None where the unit did not test it) and ``called`` (the positions of the genes it calls, as its DE table:
    :func:`lsecflow.calls.is_significant` on the unrounded numbers), and the units' ``units`` titles and
    ``anchors``. Skipped units and datasets without a tested gene are left out."""
    data = {}
    for name, ds in manifest.items():
        de = resolved["datasets"][name]["spec"]["de"]
        alpha, threshold = float(de["alpha"]), float(de.get("lfc_threshold", 0.0))
        units, anchors, tables = [], [], []
        for unit in ds["units"]:
            t = read_tsv(unit["de_table"])
            if t.empty or "pvalue" not in t:
                continue
            t = t[t["pvalue"].notna()].drop_duplicates("gene_id").set_index("gene_id")
            units.append(unit["title"])
            anchors.append(unit["anchor"])
            tables.append(t)
        if not tables:
            continue
        symbols = pd.concat([t["symbol"] for t in tables]).astype(str)
        symbols = symbols[~symbols.index.duplicated()].sort_index()
        order = symbols.str.lower().sort_values(kind="stable").index
        data[name] = {
            "units": units, "anchors": anchors,
            "ids": [str(i) for i in order], "symbols": symbols.loc[order].tolist(),
            "lfc": [_rounded(t["log2FoldChange"].reindex(order), "lfc") for t in tables],
            "padj": [_rounded(t["padj"].reindex(order), "padj") for t in tables],
            "called": [np.flatnonzero(is_significant(t.reindex(order), alpha, threshold).to_numpy()).tolist()
                       for t in tables],
        }
    return data


def lookup_section(data: dict) -> str:
    """The report's "Gene lookup" section: the box, where the results go, the embedded numbers and the script."""
    if not data:
        return ""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    n = sum(len(d["ids"]) for d in data.values())
    return ("<h2 id='gene-lookup'>Gene lookup</h2>"
            f"<p class='meta'>A gene symbol or id (any case; the start of one lists up to {MAX_HITS} genes a dataset): "
            "its log2 fold change and adjusted p-value in every DE unit, in bold and coloured where called (as the DE "
            f"tables: padj below de.alpha and |log2FC| above de.lfc_threshold). {n} tested genes in "
            f"{len(data)} dataset(s). Link to a gene with <code>report.html#gene=SYMBOL</code>.</p>"
            "<input id='lookup-box' type='search' placeholder='e.g. Mmp9' autocomplete='off' "
            "aria-label='gene symbol or id' style='font-size:15px;padding:5px 8px;width:320px'>"
            "<div id='lookup-results'></div>"
            f"<script type='application/json' id='lookup-data'>{payload}</script>"
            f"<script>{SCRIPT}</script>")

