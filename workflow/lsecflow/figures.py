"""Figures of one DE unit: its volcano, MA plot and heatmap, and each collection's enrichment figures.

One job per DE unit draws them all (rule ``figures_<dataset>``), so the DE
table, the VST and the sample groups are read once, and Python starts once
rather than once per figure group. The analyses never see the ``figures:``
section, so editing it redraws figures without refitting or re-testing.
"""
from __future__ import annotations

import logging

import pandas as pd

from . import plots
from .de import draw_de_figures
from .enrichment import draw_enrichment_figures, read_gsea_table
from .genesets import read_gmt

log = logging.getLogger(__name__)


def run_figures(table: str, vst: str, counts_h5ad: str, gsea: dict[str, str], params: dict, contrast_name: str,
                de_files: dict[str, str], enrichment_files: dict[str, dict[str, str]], *,
                cell_type: str | None = None) -> None:
    """Rule entry point: every figure of one DE unit (each in every configured format).

    Parameters
    ----------
    table, vst
        The unit's DE table and VST matrix.
    counts_h5ad
        The counts the DE job read (sample groups).
    gsea
        ``{collection: GSEA table}``.
    params
        ``Dataset.params(rule="figures")``.
    contrast_name
        The unit's contrast.
    de_files
        ``{kind: PNG path}`` of the DE figures (volcano, ma, heatmap).
    enrichment_files
        ``{collection: {kind: PNG path}}`` (gsea_dotplot, running_scores, leading_edge).
    cell_type
        Folder name (slug) of the cell type, for pseudobulk units.
    """
    spec = params["spec"]
    figs = plots.configure(spec["figures"])
    title = plots.unit_title(params, contrast_name, cell_type)
    res = pd.read_csv(table, sep="\t")
    if res.empty:  # a skipped unit: no VST, and every GSEA table is empty too
        vst_df, groups = pd.DataFrame(), pd.Series(dtype=str)
    else:
        variable = spec["contrasts"][contrast_name]["variable"]
        vst_df, groups = plots.load_vst_and_groups(vst, counts_h5ad, variable, cell_type is not None)
    draw_de_figures(res, vst_df, groups, params, title, de_files)
    log.info("DE figures: %s", ", ".join(map(str, de_files.values())))
    for collection, files in enrichment_files.items():
        sets = read_gmt(spec["enrichment"]["files"][collection])
        draw_enrichment_figures(read_gsea_table(gsea[collection]), res, vst_df, groups, sets, figs,
                                f"{title} · {collection}", files)
        log.info("%s figures: %s", collection, ", ".join(map(str, files.values())))
    log.info("formats written beside each PNG: %s", ", ".join(plots.FORMATS))
