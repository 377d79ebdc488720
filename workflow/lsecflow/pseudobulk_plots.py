"""The composition figures of single-cell data: how many cells each pseudobulk (sample, cell type) sum holds,
which sums were dropped and why -- the first thing to look at when a cell type's DE calls little or was skipped
(:func:`composition_figure`) -- and each sample's cell-type proportions with the test of every contrast
(:func:`proportions_figure`, :mod:`lsecflow.composition`)."""
from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from .contrasts import cells as contrast_groups
from .contrasts import short
from .plots import plt
from .sheets import read_sample_sheet

log = logging.getLogger(__name__)

DROPPED = "#d9d9d9"


def composition_figure(table: pd.DataFrame, groups: pd.Series | None, min_cells: int, min_counts: int,
                       title: str = ""):
    """Samples (rows, grouped by ``groups``: each sample's level of the design's first column) x cell types
    (columns): each cell the number of cells summed, coloured on a log scale; a dropped sum (fewer than
    ``min_cells`` cells or ``min_counts`` counts: ``table``'s ``kept`` and ``reason``) grey and hatched.

    ``table`` is ``pseudobulk_samples.tsv`` (:func:`lsecflow.pseudobulk.pseudobulk`).
    """
    t = table.copy()
    t["sample"] = t["sample"].astype(str)
    samples = list(dict.fromkeys(t["sample"]))
    if groups is not None:
        groups = groups.reindex(samples).astype(str)
        samples = list(groups.sort_values(kind="stable").index)
    cell_types = list(dict.fromkeys(t["cell_type"]))
    cells = t.pivot(index="sample", columns="cell_type", values="n_cells").reindex(index=samples, columns=cell_types)
    kept = (t.pivot(index="sample", columns="cell_type", values="kept").reindex(index=samples, columns=cell_types)
            .fillna(False).astype(bool))
    n = cells.to_numpy(dtype=float)
    shown = np.where(kept.to_numpy() & (n > 0), np.log10(np.maximum(n, 1)), np.nan)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.0 * len(cell_types) + 3.5), max(3.0, 0.3 * len(samples) + 2.2)),
                           layout="constrained")
    cmap = plt.get_cmap("Blues").with_extremes(bad=DROPPED)
    im = ax.imshow(shown, aspect="auto", cmap=cmap, interpolation="nearest",
                   vmin=0, vmax=max(np.nanmax(shown) if np.isfinite(shown).any() else 1, 1))
    for (i, j), value in np.ndenumerate(n):
        if np.isnan(value):  # no cell of this type in this sample: white, not the grey of a dropped sum
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white", edgecolor="none"))
            ax.text(j, i, "–", ha="center", va="center", fontsize="x-small", color="#777777")
            continue
        dark = kept.iat[i, j] and shown[i, j] > 0.6 * im.norm.vmax
        ax.text(j, i, f"{int(value)}", ha="center", va="center", fontsize="x-small",
                color="white" if dark else ("#222222" if kept.iat[i, j] else "#777777"))
        if not kept.iat[i, j]:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#aaaaaa",
                                       linewidth=0))
    labels = [f"{s}  ({groups[s]})" if groups is not None else s for s in samples]
    ax.set_yticks(range(len(samples)), labels, fontsize="x-small")
    ax.set_xticks(range(len(cell_types)), cell_types, rotation=35, ha="right", fontsize="small")
    fig.colorbar(im, ax=ax, shrink=0.6, label="cells summed (log10)")
    n_dropped = int((~t["kept"].astype(bool)).sum())
    ax.set_xlabel(f"grey, hatched: dropped ({n_dropped} of {len(t)}: fewer than {min_cells} cells or {min_counts:,} "
                  "counts); –: no such cell", fontsize="small")
    ax.set_title(f"{title}\ncells per pseudobulk sample and cell type", fontsize="medium")
    return fig


def run_pseudobulk_figure(table_tsv: str, sheet: str, params: dict, png: str) -> None:
    """Rule entry point: the composition figure of a single-cell dataset's pseudobulk (``png`` and the other
    configured formats beside it)."""
    spec = params["spec"]
    plots.configure(spec.get("figures"))
    table = pd.read_csv(table_tsv, sep="\t", dtype={"sample": str})
    samples = read_sample_sheet(Path(sheet), spec["samples"]["id_column"])
    variable = next(iter(spec["contrasts"].values()))["variable"]  # rows grouped by the (first) contrast's variable
    groups = samples[variable] if variable in samples else None
    pb = spec["pseudobulk"]
    plots.save(composition_figure(table, groups, pb["min_cells"], pb["min_counts"], params["name"]),
               plots.stem_of(png))
    log.info("pseudobulk composition figure: %s (%d sums, %d dropped)", png, len(table),
             int((~table["kept"].astype(bool)).sum()))


def proportions_figure(props: pd.DataFrame, meta: pd.DataFrame, contrasts: dict, tested: pd.DataFrame,
                       title: str = "", alpha: float = 0.05, n_cells: pd.Series | None = None):
    """Left: each sample's cell-type proportions as a stacked bar, samples grouped by the first contrast's
    groups; right: the test of each contrast (columns) and cell type (rows), a dot coloured by the moderated t,
    its area by -log10 padj, ringed where padj < ``alpha``, with the ratio of mean proportions (target /
    reference) written beside it.

    ``props``: samples x cell types; ``meta``: the samples' design columns; ``tested``:
    :data:`lsecflow.composition.COLUMNS` rows (may be empty); ``n_cells``: each sample's cells (in its label).
    """
    first = next(iter(contrasts.values()))
    groups = contrast_groups(meta, first)
    order, labels = [], []
    for label, mask in groups.items():
        members = [s for s in props.index[mask] if s not in order]
        order += members
        labels += [(label, len(members))] if members else []
    rest = [s for s in props.index if s not in order]
    if rest:
        order += rest
        labels.append(("other samples", len(rest)))
    p = props.loc[order]
    types = list(props.columns)
    colours = _palette(len(types))
    ncol = max(3, min(6, -(-len(types) // 5)))
    legend_rows = -(-len(types) // ncol)
    names = list(contrasts) + [c for c in dict.fromkeys(tested["contrast"]) if str(c).startswith("~")]
    left, right = max(3.0, 0.24 * len(p) + 1.0), 0.8 * len(names) + 2.8
    fig, (bars, dots) = plt.subplots(1, 2, figsize=(left + right + 1.0,
                                                    max(4.2, 0.32 * len(types) + 2.6) + 0.18 * legend_rows),
                                     width_ratios=[left, right], layout="constrained")
    bottom = np.zeros(len(p))
    for j, ct in enumerate(types):
        bars.bar(np.arange(len(p)), p[ct].to_numpy(), bottom=bottom, color=colours[j], width=0.85, label=ct,
                 linewidth=0)
        bottom += p[ct].to_numpy()
    start = 0
    for label, n in labels:
        if start:
            bars.axvline(start - 0.5, color="black", linewidth=1.2)
        bars.text(start + n / 2 - 0.5, 1.02, textwrap.fill(label, max(6, 3 * n)), ha="center", va="bottom",
                  fontsize="x-small")  # wrapped to the group's width
        start += n
    ticks = list(p.index) if n_cells is None else [f"{s} ({int(n_cells[s])})" for s in p.index]
    bars.set_xticks(range(len(p)), ticks, rotation=90, fontsize="xx-small")
    bars.set_xlim(-0.6, len(p) - 0.4)
    bars.set_ylim(0, 1.16)
    bars.set_ylabel("proportion of the sample's cells")
    bars.set_xlabel("sample" + ("" if n_cells is None else " (cells)"), fontsize="small")
    fig.legend(*bars.get_legend_handles_labels(), loc="outside lower left", ncol=ncol, fontsize="x-small",
               frameon=False)
    bars.set_title("cell-type proportions per sample", fontsize="medium")
    _test_dots(dots, types, names, contrasts, tested, alpha)
    fig.suptitle(title, fontsize="medium")
    return fig


def _palette(n: int) -> np.ndarray:
    """``n`` distinct colours: tab10 up to 10, tab20 up to 20, then tab20, tab20b and tab20c (60), cycling beyond."""
    if n <= 10:
        return plt.get_cmap("tab10")(np.arange(n))
    if n <= 20:
        return plt.get_cmap("tab20")(np.arange(n))
    pool = np.vstack([plt.get_cmap(name)(np.arange(20)) for name in ("tab20", "tab20b", "tab20c")])
    return pool[np.arange(n) % len(pool)]


def _test_dots(ax, types: list[str], names: list[str], contrasts: dict, tested: pd.DataFrame, alpha: float) -> None:
    """The right panel of :func:`proportions_figure`; a design test (``names`` starting with ``~``: an F, no
    direction) in grey."""
    t = tested.set_index(["contrast", "cell_type"]) if len(tested) else None
    signed = tested[~tested["contrast"].astype(str).str.startswith("~")]["stat"].to_numpy(dtype=float)
    limit = max(2.0, float(np.nanmax(np.abs(signed)))) if np.isfinite(signed).any() else 2.0
    norm = plt.Normalize(-limit, limit)
    cmap = plt.get_cmap("RdBu_r")
    for i, ct in enumerate(types):
        for j, name in enumerate(names):
            y = len(types) - 1 - i
            if t is None or (name, ct) not in t.index:
                ax.text(j, y, "not tested", ha="center", va="center", fontsize="xx-small", color="#777777")
                continue
            row = t.loc[(name, ct)]
            padj = float(row["padj"]) if np.isfinite(row["padj"]) else 1.0
            size = 40 + 90 * min(-np.log10(max(padj, 1e-10)), 6)
            f_test = name.startswith("~")
            ax.scatter(j, y, s=size, color="#9e9e9e" if f_test else cmap(norm(row["stat"])),
                       edgecolor="black" if padj < alpha else "none", linewidth=1.2, zorder=3)
            effect = (f"F {row['stat']:.3g}, " if f_test else
                      f"{row['prop_ratio']:.2f}x, " if np.isfinite(row["prop_ratio"]) else "")
            driven = row.get("driven_by")
            rests = f"\nrests on {driven}" if isinstance(driven, str) and driven else ""
            ax.text(j + 0.16, y - 0.32, f"{effect}padj {padj:.2g}{rests}", fontsize="xx-small",
                    color="#b2182b" if rests else "#333333", va="top" if rests else "baseline")
    ax.set_yticks(range(len(types)), types[::-1], fontsize="small")
    ax.set_xticks(range(len(names)), [short(contrasts[n]) if n in contrasts else f"F test: {n}" for n in names],
                  rotation=20, ha="right", fontsize="small")
    ax.set_xlim(-0.6, len(names) - 0.1)
    ax.set_ylim(-0.8, len(types) - 0.4)
    ax.grid(False)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    plt.colorbar(sm, ax=ax, shrink=0.6, label="moderated t (target vs reference)")
    ax.set_title(f"propeller test (ringed: padj < {alpha:g}; area: -log10 padj)", fontsize="medium")
