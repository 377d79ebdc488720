"""The pseudobulk composition figure: how many cells each (sample, cell type) sum holds, which sums were
dropped and why -- the first thing to look at when a cell type's DE calls little or was skipped."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
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
