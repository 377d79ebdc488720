"""Figures of one DE unit: its volcano, MA plot, heatmap and gene panels, and each collection's enrichment figures.

One job per DE unit draws them all (rule ``figures_<dataset>``), so the DE
table, the VST and the sample groups are read once, and Python starts once
rather than once per figure group. The analyses never see the ``figures:``
section, so editing it redraws figures without refitting or re-testing.
"""
from __future__ import annotations

import logging

import pandas as pd

from . import gene_panels, heatmaps, plots
from .contrasts import group_columns, is_slope
from .de_options import LEVELS, VALUES, de_engine
from .enrichment import gsea_ranking, read_gsea_table
from .genesets import read_gmt
from .protein_tables import split_genes

log = logging.getLogger(__name__)


def draw_de_figures(res: pd.DataFrame, vst_df: pd.DataFrame, groups: pd.Series, params: dict, title: str,
                    files: dict[str, str], contrast: dict) -> None:
    """Volcano, MA plot, top-gene heatmap and per-gene panels of one contrast.

    Parameters
    ----------
    res
        The contrast's results table (empty: the unit was skipped; placeholders are drawn).
    vst_df, groups
        VST matrix and each sample's level (:func:`lsecflow.plots.load_vst_and_groups`).
    params
        Dataset params with the ``de`` and ``figures`` sections (after :func:`lsecflow.plots.configure`).
    title
        Figure title.
    files
        ``{kind: PNG path}`` for kinds volcano, ma, heatmap, genes (other formats beside it).
    contrast
        The unit's contrast: the fold-change axis (:func:`lsecflow.plots.fold_change_label`), the gene panels'
        groups.
    """
    stems = {kind: plots.stem_of(path) for kind, path in files.items()}
    if res.empty:
        plots.save_placeholders("No DE table: this unit was skipped (see its .summary.tsv).", title, stems.values())
        return
    figs, de_opts = params["spec"]["figures"], params["spec"]["de"]
    lfc_label = plots.fold_change_label(contrast)
    goi = figs["genes_of_interest"]
    vol, hm = figs["volcano"], figs["heatmap"]
    plots.save(plots.volcano(res, de_opts["alpha"], de_opts["lfc_threshold"], goi, n_top=vol["label_top"],
                             title=title, figsize=(vol["width"], vol["height"]), y=vol["y"], xlim=vol["xlim"],
                             ylim=vol["ylim"], lfc_label=lfc_label), stems["volcano"])
    plots.save(plots.ma_plot(res, de_opts["alpha"], de_opts["lfc_threshold"], goi, title=title,
                             figsize=(figs["ma"]["width"], figs["ma"]["height"]),
                             level=LEVELS[de_engine(params["spec"])], lfc_label=lfc_label), stems["ma"])
    plots.save(heatmaps.top_gene_heatmap(vst_df, res, groups, n_top=hm["n_top"], title=title, genes=hm["genes"],
                                         width=hm["width"], height=hm["height"], cluster_rows=hm["cluster_rows"],
                                         alpha=de_opts["alpha"], lfc_threshold=de_opts["lfc_threshold"]),
               stems["heatmap"])
    if "genes" in stems:
        plots.save(gene_panels.gene_panels(vst_df, res, groups, contrast, figs["genes"]["n"], goi, title,
                                           de_opts["alpha"], de_opts["lfc_threshold"],
                                           number=vst_df.attrs.get("number")), stems["genes"])


def draw_enrichment_figures(res: pd.DataFrame, ranking: pd.Series, symbol_to_id: dict[str, str],
                            vst_df: pd.DataFrame, groups: pd.Series, sets: dict[str, list[str]], figs: dict,
                            title: str, files: dict[str, str]) -> None:
    """Dot plot, running scores and leading-edge heatmap of one collection's GSEA table.

    Parameters
    ----------
    res
        The collection's GSEA table (:func:`lsecflow.enrichment.gsea`).
    ranking
        The DE unit's gene ranking, as GSEA ran on it (:func:`lsecflow.enrichment.gsea_ranking`).
    symbol_to_id
        Symbol -> gene id of the DE table (leading-edge genes to VST rows).
    sets
        The collection's gene sets.
    figs
        The dataset's resolved ``figures:`` section (after :func:`lsecflow.plots.configure`).
    vst_df, groups, title, files
        As for :func:`draw_de_figures`; ``files`` for kinds gsea_dotplot, running_scores, leading_edge.
    """
    stems = {kind: plots.stem_of(path) for kind, path in files.items()}
    if res.empty:
        msg = (f"No gene set of this collection has between its size limits of genes among the "
               f"{len(ranking)} ranked genes, so none was tested.")
        plots.save_placeholders(msg, title, stems.values())
        return
    dot = figs["pathway_dotplot"]
    plots.save(plots.gsea_dotplot(res, n=dot["n_top"], title=title, sets=dot["sets"], width=dot["width"],
                                  height=dot["height"]), stems["gsea_dotplot"])
    plots.save(plots.running_score_panels(ranking, sets, res, n=figs["running_scores"]["n_top"], title=title),
               stems["running_scores"])
    ids, labels, named = leading_edge_rows(res, symbol_to_id, vst_df.index)
    plots.save(heatmaps.expression_heatmap(vst_df, ids, labels, groups,
                                           title=f"{title}: leading edge of the top sets\n" + "\n".join(named),
                                           cluster_rows=figs["heatmap"]["cluster_rows"]), stems["leading_edge"])


def leading_edge_rows(res: pd.DataFrame, symbol_to_id: dict[str, str], rows, n_sets: int = 3,
                      n_genes: int = 40) -> tuple[list[str], list[str], list[str]]:
    """The leading-edge heatmap's rows: the leading-edge genes of the ``n_sets`` best sets (by padj), in their
    order, at most ``n_genes`` of those in ``rows`` (the VST's gene ids).

    Returns
    -------
    (list, list, list)
        Gene ids; labels -- the symbol and the numbers of the sets whose leading edge holds it (``TNF  1,2``);
        the sets as numbered (``1 HALLMARK_TNFA_SIGNALING_VIA_NFKB``, names over 48 characters cut).
    """
    top = res.nsmallest(n_sets, ["padj", "pval"])
    members: dict[str, list[str]] = {}
    for i, edge in enumerate(top["leading_edge"].fillna(""), start=1):
        for g in str(edge).split(","):
            if g and g in symbol_to_id and symbol_to_id[g] in rows:
                members.setdefault(g, []).append(str(i))
    genes = list(members)[:n_genes]
    named = [f"{i} {s if len(s) <= 48 else s[:45] + '...'}" for i, s in enumerate(top["set"], start=1)]
    return [symbol_to_id[g] for g in genes], [f"{g}  {','.join(members[g])}" for g in genes], named


def symbol_index(res: pd.DataFrame) -> dict[str, str]:
    """Gene id of each symbol of a DE table (the first one); a protein group's genes point at it too."""
    symbol_to_id: dict[str, str] = {}
    for symbol, gene_id in zip(res["symbol"].astype(str), res["gene_id"].astype(str)):
        for name in (symbol, *split_genes(symbol)):
            symbol_to_id.setdefault(name, gene_id)
    return symbol_to_id


def unit_matrix(res: pd.DataFrame, vst: str, counts_h5ad: str, contrast: dict, pseudobulk: bool,
                engine: str = "deseq2") -> tuple[pd.DataFrame, pd.Series]:
    """The unit's VST (voom: log2 CPM; proteomics: the log2 intensities the tests saw; what it holds in
    ``attrs['value']``) and each sample's group; empty for a skipped unit, whose GSEA tables are empty too."""
    if res.empty:
        return pd.DataFrame(), pd.Series(dtype=str)
    vst_df, groups = plots.load_vst_and_groups(vst, counts_h5ad, group_columns(contrast), pseudobulk,
                                               contrast["variable"] if is_slope(contrast) else None)
    vst_df.attrs["value"] = VALUES[engine]
    return vst_df, groups


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
        ``{kind: PNG path}`` of the DE figures (volcano, ma, heatmap, genes).
    enrichment_files
        ``{collection: {kind: PNG path}}`` (gsea_dotplot, running_scores, leading_edge).
    cell_type
        Folder name (slug) of the cell type, for pseudobulk units.
    """
    spec = params["spec"]
    figs = plots.configure(spec["figures"])
    title = plots.unit_title(params, contrast_name, cell_type)
    res = pd.read_csv(table, sep="\t")
    contrast = spec["contrasts"][contrast_name]
    vst_df, groups = unit_matrix(res, vst, counts_h5ad, contrast, cell_type is not None, de_engine(spec))
    draw_de_figures(res, vst_df, groups, params, title, de_files, contrast)
    log.info("DE figures: %s", ", ".join(map(str, de_files.values())))
    ranking = gsea_ranking(res, spec["de"])  # the ranking GSEA ran on
    symbol_to_id = symbol_index(res)
    for collection, files in enrichment_files.items():
        sets = read_gmt(spec["enrichment"]["files"][collection])
        draw_enrichment_figures(read_gsea_table(gsea[collection]), ranking, symbol_to_id, vst_df, groups, sets, figs,
                                f"{title} · {collection}", files)
        log.info("%s figures: %s", collection, ", ".join(map(str, files.values())))
    log.info("formats written beside each PNG: %s", ", ".join(plots.FORMATS))
