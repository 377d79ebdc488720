"""Per-gene panels of one DE unit (figure kind ``genes``): each sample's value of a few genes, by group -- the
look a biologist takes after a volcano (DESeq2's ``plotCounts``, one panel per gene).

The genes: ``figures.genes_of_interest`` that the table tested, then the smallest adjusted p-values, up to
``figures.genes.n``. The values are the heatmap's (DESeq2: the VST; voom and edgeR: log2 CPM; proteomics: the
log2 intensities the tests saw, a missing value left out and counted). Samples are grouped as in the heatmap
(the contrast's columns: :func:`lsecflow.contrasts.group_columns`); the contrast's reference and target groups
come first, their means joined by a line -- for an ``interaction`` one line per level of its column, so that
lines that are not parallel are the interaction -- and the other groups follow in grey. A slope's samples are
placed along the number, with the least-squares line of the values drawn.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import plots
from .calls import is_significant
from .contrasts import cells, group_columns, is_slope


def pick_genes(res: pd.DataFrame, n: int, genes_of_interest=()) -> pd.DataFrame:
    """The rows of ``res`` to draw: tested genes of interest (in their order), then the smallest padj (pvalue
    breaking ties), ``n`` in all; one row per gene id."""
    tested = res[res["pvalue"].notna()]
    focus = tested.set_index("symbol", drop=False).reindex([g for g in genes_of_interest
                                                            if g in set(tested["symbol"])])
    top = tested.nsmallest(n, ["padj", "pvalue"])
    rows = pd.concat([focus, top]) if len(focus) else top
    return rows.drop_duplicates("gene_id").head(n).reset_index(drop=True)


def strata(labels: list[str], contrast: dict) -> list[tuple[str, str | None, str | None]]:
    """The contrast's compared groups among the group ``labels`` (:func:`lsecflow.contrasts.cells` on the levels
    each label joins): per stratum (one; an ``interaction``: one per level of its column, its reference first)
    ``(stratum name, reference label, target label)``, a label None where no sample has it."""
    cols = group_columns(contrast)  # the labels join these columns' levels (parts beyond them ignored)
    obs = pd.DataFrame([label.split(plots.GROUP_SEP)[:len(cols)] for label in labels], index=labels, columns=cols)
    masks = list(cells(obs, contrast).values())  # the target groups, then the reference ones
    half = len(masks) // 2
    inter = contrast.get("interaction")
    names = [f"{inter['variable']} {inter[r]}" for r in ("target", "reference")] if inter else [""]

    def label(mask: np.ndarray) -> str | None:
        return obs.index[mask][0] if mask.any() else None

    return [(name, label(ref), label(tgt)) for name, tgt, ref in zip(names, masks[:half], masks[half:])][::-1]


def _gene_axis(ax, values: pd.Series, groups: pd.Series, order: list[str], compared: list[tuple], colours) -> None:
    """One gene's panel: the samples' values by group (``order``), each group's mean a bar, the compared groups'
    means joined per stratum."""
    rng = np.random.default_rng(0)
    means = {}
    for i, label in enumerate(order):
        v = values[groups.index[groups == label]].dropna()
        in_contrast = any(label in (ref, tgt) for _, ref, tgt in compared)
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(v)), v, s=14, color="black" if in_contrast else plots.NS,
                   zorder=3, linewidths=0)
        if len(v):
            means[label] = float(v.mean())
            ax.plot([i - 0.25, i + 0.25], [means[label]] * 2, color="black" if in_contrast else plots.NS, lw=1.2)
    for (name, ref, tgt), colour in zip(compared, colours):
        if ref in means and tgt in means:
            ax.plot([order.index(ref), order.index(tgt)], [means[ref], means[tgt]], color=colour, lw=1.5,
                    label=name or None, zorder=2)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, rotation=35, ha="right", fontsize="x-small")
    ax.set_xlim(-0.6, len(order) - 0.4)


def _slope_axis(ax, values: pd.Series, x: pd.Series) -> None:
    """One gene's panel for a slope: value against the number, with the least-squares line."""
    ok = values.notna() & x.notna()
    ax.scatter(x[ok], values[ok], s=14, color="black", linewidths=0, zorder=3)
    if ok.sum() >= 2 and x[ok].nunique() >= 2:
        b, a = np.polyfit(x[ok].to_numpy(float), values[ok].to_numpy(float), 1)
        grid = np.linspace(x[ok].min(), x[ok].max(), 20)
        ax.plot(grid, a + b * grid, color=plots.FOCUS, lw=1.5)


def gene_panels(vst: pd.DataFrame, res: pd.DataFrame, groups: pd.Series, contrast: dict, n: int = 12,
                genes_of_interest=(), title: str = "", alpha: float = 0.1, lfc_threshold: float = 0.0,
                columns: int = 4, number: pd.Series | None = None):
    """The per-gene panels of one contrast (module docstring).

    Parameters
    ----------
    vst
        Genes x samples values (index gene_id; ``attrs['value']`` names them, as the heatmap's).
    res
        The contrast's DE table (``gene_id``, ``symbol``, ``log2FoldChange``, ``pvalue``, ``padj``).
    groups
        Each sample's group label (:func:`lsecflow.plots.load_vst_and_groups`).
    contrast
        The contrast (its groups and strata; a slope's samples go along ``number``).
    n, genes_of_interest
        How many genes, and which first (:func:`pick_genes`).
    alpha, lfc_threshold
        What counts as called (:func:`lsecflow.calls.is_significant`): a panel of a gene not called has a grey
        title.
    columns
        Panels per row.
    number
        Each sample's value of a slope's column.
    """
    rows = pick_genes(res[res["gene_id"].isin(vst.index)], n, genes_of_interest)
    if rows.empty:
        return plots.message_figure("No tested gene to draw", title)
    called = is_significant(rows, alpha, lfc_threshold)
    ncol = min(columns, len(rows))
    nrow = -(-len(rows) // ncol)
    labels = list(dict.fromkeys(groups.sort_values(kind="stable")))
    slope = is_slope(contrast) and number is not None
    compared = [] if slope else strata(labels, contrast)
    first = [label for _, ref, tgt in compared for label in (ref, tgt) if label]
    order = list(dict.fromkeys(first + [label for label in labels if label not in first]))
    fig, axes = plots.plt.subplots(nrow, ncol, figsize=(2.7 * ncol, 2.5 * nrow + 0.6), squeeze=False)
    colours = [plots.FOCUS, "#762a83"]
    for ax, (_, row), ok in zip(axes.ravel(), rows.iterrows(), called):
        values = vst.loc[row["gene_id"], groups.index].astype(float)
        if slope:
            _slope_axis(ax, values, number.reindex(groups.index).astype(float))
            ax.set_xlabel(contrast["variable"], fontsize="small")
        else:
            _gene_axis(ax, values, groups, order, compared, colours)
        seen = f", {int(values.notna().sum())}/{len(values)} quantified" if values.isna().any() else ""
        padj = "NA" if pd.isna(row["padj"]) else f"{row['padj']:.2g}"  # DESeq2's independent filtering
        ax.set_title(f"{row['symbol']}\nlog2FC {row['log2FoldChange']:.2f}, padj {padj}{seen}",
                     fontsize="small", color="black" if ok else plots.NOT_CALLED)
    for ax in axes.ravel()[len(rows):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(vst.attrs.get("value", "VST"), fontsize="small")
    handles, names = axes[0, 0].get_legend_handles_labels()
    if names:
        fig.legend(handles, names, loc="upper right", fontsize="small", frameon=False)
    note = f"{len(rows)} genes" + (" (grey titles: not called)" if not called.all() else "")
    fig.suptitle(f"{title}\n{note}" if title else note, fontsize="medium")
    fig.tight_layout()
    return fig
