"""Paracrine figures: ranked candidates, ligand -> receptor dot plots (bulk receivers and cell types)."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import plots
from .plots import message_figure

log = logging.getLogger(__name__)

# figure legend order and colours of the classes (lrdb.CLASSES holds the classes in the order they are decided)
CLASS_COLOURS = {"cytokine": "#d73027", "chemokine": "#fc8d59", "growth factor": "#4575b4",
                 "protease/ECM regulator": "#7b3294", "adhesion/contact": "#1a9850", "other secreted": "#878787"}

MARKED_COLOUR = "#c8c8c8"  # candidates marked by the checks (lsecflow.paracrine.check_candidates)


def draw_paracrine_figures(cand: pd.DataFrame, table: pd.DataFrame, params: dict, title: str,
                           files: dict[str, str]) -> None:
    """Top candidates by class, and the ligand -> receptor dot plot of one DE unit.

    Parameters
    ----------
    cand, table
        The unit's candidates and ligand -> receptor tables (:func:`lsecflow.paracrine.run_paracrine`).
    params
        Dataset params with the ``paracrine``, ``de.alpha`` and ``figures`` keys.
    title
        Figure title.
    files
        ``{kind: PNG path}`` for kinds paracrine_candidates, paracrine_pairs (other formats beside it).
    """
    plots.configure(params["spec"]["figures"])
    stems = {kind: plots.stem_of(path) for kind, path in files.items()}
    flagged = cand[cand["flagged"]]
    if flagged.empty:
        msg = (f"No annotated secreted factor or ligand is DE at padj < {params['spec']['de']['alpha']} "
               f"({int(cand['padj'].notna().sum())} tested).")
        plots.save_placeholders(msg, title, stems.values())
        return
    shown = flagged
    if params["spec"]["paracrine"]["hide_marked"] and "passes" in cand:
        shown = flagged[flagged["passes"].astype(bool)]
        log.info("paracrine.hide_marked: %d marked candidates left out of the figure (kept in the table)",
                 len(flagged) - len(shown))
    plots.save(candidate_plot(shown.head(params["spec"]["paracrine"]["top_n"]), title=title),
               stems["paracrine_candidates"])
    plots.save(pair_dotplot(table, title=title), stems["paracrine_pairs"])
    log.info("paracrine figures: %s", ", ".join(map(str, files.values())))


# ---------------------------------------------------------------- figures
def candidate_plot(flagged: pd.DataFrame, title: str = ""):
    """Horizontal bars: log2 fold change of the top candidates (by priority), coloured by class."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if flagged.empty:
        return message_figure("Every flagged candidate is marked by the checks (paracrine.hide_marked: true); "
                              "see the candidates table.", title)
    t = flagged.iloc[::-1]
    marked = t["marks"].fillna("").astype(str).ne("").to_numpy() if "marks" in t else np.zeros(len(t), bool)
    fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(t) + 2.4))
    colours = [MARKED_COLOUR if m else CLASS_COLOURS.get(c, "#444444") for c, m in zip(t["class"], marked)]
    y = np.arange(len(t))
    ax.barh(y, t["log2FoldChange"], color=colours, height=0.7, hatch=["///" if m else "" for m in marked],
            edgecolor=["#9a9a9a" if m else "none" for m in marked], linewidth=0)
    ax.axvline(0, color="#333333", lw=0.6)
    ax.set_yticks(y, [f"{r.symbol}{'' if r.secreted else ' †'}{' ×' if m else ''}  (#{int(r.rank)})"
                      for r, m in zip(t.itertuples(), marked)], fontsize="small")
    for label, m in zip(ax.get_yticklabels(), marked):
        if m:
            label.set_color(MARKED_COLOUR)
    for yi, (lfc, padj) in enumerate(zip(t["log2FoldChange"], t["padj"])):
        ax.annotate(f"{padj:.1e}", (lfc, yi), xytext=(3 if lfc >= 0 else -3, 0), textcoords="offset points",
                    ha="left" if lfc >= 0 else "right", va="center", fontsize="x-small", color="#555555")
    # room for the padj labels on the side each bar points to: a label left of a negative bar would otherwise
    # run into the gene names
    lfc = t["log2FoldChange"].to_numpy(dtype=float)
    lo, hi = min(0.0, float(np.nanmin(lfc))), max(0.0, float(np.nanmax(lfc)))
    span = (hi - lo) or 1.0
    ax.set_xlim(lo - (0.2 if lo < 0 else 0.03) * span, hi + (0.2 if hi > 0 else 0.03) * span)
    ax.set_xlabel("log2 fold change (label: padj)   † ligand, secretion not confirmed by CellChat/CellPhoneDB/NABA",
                  fontsize="small")
    present = [c for c in CLASS_COLOURS if c in set(t.loc[~marked, "class"] if len(t) else [])]
    handles = [Patch(color=CLASS_COLOURS[c], label=c) for c in present]
    if marked.any():
        handles.append(Patch(facecolor=MARKED_COLOUR, edgecolor="#9a9a9a", hatch="///", label="× marked (table: marks)"))
    # below the axis: over the bars it would hide the lowest ones
    ax.legend(handles=handles, fontsize="small", frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1),
              ncol=3)
    ax.set_title(f"{title}\nparacrine candidates: those passing the checks first, then by priority",
                 fontsize="medium")
    fig.tight_layout()
    return fig


def _dots(ax, rows: list[str], cols: list[str], size: np.ndarray, colour: np.ndarray, edge: np.ndarray, cmap: str,
          colour_label: str, size_label: str, fig, absent_label: str = "no value"):
    xx, yy = np.meshgrid(np.arange(len(cols)), np.arange(len(rows)))
    sc = ax.scatter(xx.ravel(), yy.ravel(), s=20 + 180 * np.nan_to_num(size.ravel()), c=colour.ravel(), cmap=cmap,
                    edgecolors=np.where(edge.ravel(), "#000000", "none"), linewidths=0.8)
    absent = np.isnan(colour.ravel())  # no value to colour by: drawn as a grey x, not left blank
    ax.scatter(xx.ravel()[absent], yy.ravel()[absent], s=18, marker="x", c="#9a9a9a", linewidths=0.8)
    ax.set_xticks(range(len(cols)), cols, rotation=40, ha="right", fontsize="small")
    ax.set_yticks(range(len(rows)), rows, fontsize="small")
    ax.set_xlim(-0.6, len(cols) - 0.4)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    fig.colorbar(sc, ax=ax, label=colour_label, shrink=0.6)
    ax.set_xlabel(f"dot size: {size_label}; black ring: present\ngrey ×: {absent_label}", fontsize="small")


def pair_dotplot(table: pd.DataFrame, title: str = "", max_rows: int = 30):
    """Ligand -> receptor (rows) x receivers (columns): receptor fraction (size) and expression (colour)."""
    import matplotlib.pyplot as plt

    if table.empty:
        return message_figure("The flagged candidates have no listed receptor.", title)
    t = table.copy()
    t["pair"] = t["ligand"] + " → " + t["receptor"]
    best = (t.groupby("pair", sort=False).agg(rank=("rank", "first"), n=("n_sources", "first"),
                                              present=("present", "sum"))
            .sort_values(["rank", "present", "n"], ascending=[True, False, False]))
    rows = list(best.index[:max_rows])
    cols = list(dict.fromkeys(t["receiver"]))
    t = t[t["pair"].isin(rows)].drop_duplicates(["pair", "receiver"]).set_index(["pair", "receiver"])
    full = pd.MultiIndex.from_product([rows, cols])
    frac = t["receptor_fraction"].reindex(full).to_numpy(dtype=float).reshape(len(rows), len(cols))
    mean = t["receptor_mean"].reindex(full).to_numpy(dtype=float).reshape(len(rows), len(cols))
    present = t["present"].reindex(full).fillna(False).to_numpy(dtype=bool).reshape(len(rows), len(cols))
    fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 4.2, 0.26 * len(rows) + 2.2))
    _dots(ax, rows, cols, frac, mean, present, "viridis", "receptor mean expression", "fraction expressing", fig,
          "receptor not in the data")
    ax.set_title(f"{title}\nligand → receptor in each receiver", fontsize="medium")
    fig.tight_layout()
    return fig


def receiver_figure_pairs(scores: pd.DataFrame, max_rows: int = 30) -> list[str]:
    """The rows of the receivers figure: "ligand → receptor" of expressed pairs, best first.

    The scores come ordered (expressed, specificity, magnitude; see
    :func:`lsecflow.receivers.sc_receiver_scores`): a pair's first row is its best.
    """
    expressed = scores[scores["expressed"].astype(bool)]
    return list(dict.fromkeys(expressed["ligand"] + " → " + expressed["receptor"]))[:max_rows]


def receiver_dotplot(scores: pd.DataFrame, sender: str, title: str = "", max_rows: int = 30):
    """Top expressed sender -> receiver pairs in the scores' order (specificity first, see
    :func:`lsecflow.receivers.sc_receiver_scores`): receptor fraction (size), specificity (colour)."""
    import matplotlib.pyplot as plt

    rows = receiver_figure_pairs(scores, max_rows)
    if not rows:
        return message_figure(f"No pair is expressed by {sender} and any receiver at the set fractions.", title)
    cols = sorted(scores["receiver"].unique())
    allp = scores.assign(pair=scores["ligand"] + " → " + scores["receptor"])
    allp = allp[allp["pair"].isin(rows)].drop_duplicates(["pair", "receiver"]).set_index(["pair", "receiver"])
    full = pd.MultiIndex.from_product([rows, cols])
    shape = (len(rows), len(cols))
    frac = allp["receptor_fraction"].reindex(full).to_numpy(dtype=float).reshape(shape)
    spec = allp["specificity"].reindex(full).to_numpy(dtype=float).reshape(shape)
    expr = allp["expressed"].reindex(full).fillna(False).to_numpy(dtype=bool).reshape(shape)
    fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 4.2, 0.26 * len(rows) + 2.2))
    _dots(ax, rows, cols, frac, spec, expr, "magma_r", "specificity (sender's ligand share × receiver's receptor share)",
          "receptor fraction", fig, "no score (a gene of the pair not measured)")
    ax.set_title(f"{title}\ntop pairs by specificity (sender's share of the ligand × receiver's share of the "
                 "receptor), then ligand × receptor mean", fontsize="medium")
    fig.tight_layout()
    return fig
