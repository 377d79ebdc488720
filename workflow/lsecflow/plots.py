"""Figures (matplotlib, no display) and the one style they share.

Every figure entry point calls :func:`configure` with the dataset's resolved
``figures:`` section (see ``workflow/schemas/figures.schema.yaml``) before
drawing: it sets fonts, colours, formats and PNG resolution, so all figures of
a run look alike and a paper's panel is set in the config alone.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .calls import call_direction
from .contrasts import is_slope, short
from .files import atomic_path
from .pdf_fonts import share_pdf_font_subsets

UP, DOWN, NS, FOCUS = "#b2182b", "#2166ac", "#bdbdbd", "#1b7837"
NOT_CALLED = "#8c8c8c"  # names (genes, gene sets) drawn among the top ones but not called
FORMATS: list[str] = ["png", "svg"]
DPI = 200
STYLE = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": "large",
    "axes.labelsize": "medium",
    "legend.fontsize": "small",
    "xtick.labelsize": "small",
    "ytick.labelsize": "small",
    "svg.fonttype": "none",  # text stays text in SVG (editable in Inkscape/Illustrator)
    "pdf.fonttype": 42,  # TrueType in PDF, as journals ask
    "svg.hashsalt": "lsecflow",  # stable SVG ids, so reruns give the same files
}


def configure(figures: dict | None) -> dict:
    """Apply a resolved ``figures:`` section to every figure drawn after it.

    Parameters
    ----------
    figures
        The dataset's ``spec["figures"]`` (defaults filled by the schema);
        None keeps matplotlib's defaults plus :data:`STYLE`.

    Returns
    -------
    dict
        The section, for the caller's own options (sizes, genes, sets).
    """
    global UP, DOWN, NS, FOCUS, FORMATS, DPI
    figures = figures or {}
    matplotlib.rcParams.update(STYLE)
    share_pdf_font_subsets()  # one font subset per job, not per PDF
    if "font_size" in figures:
        matplotlib.rcParams["font.size"] = figures["font_size"]
    if "font_family" in figures:
        matplotlib.rcParams["font.family"] = [figures["font_family"], "DejaVu Sans"]
    colours = figures.get("colors", {})
    UP, DOWN = colours.get("up", UP), colours.get("down", DOWN)
    NS, FOCUS = colours.get("ns", NS), colours.get("focus", FOCUS)
    FORMATS = list(figures.get("formats", FORMATS))
    DPI = figures.get("dpi", DPI)
    return figures


GROUP_SEP = " · "
"""How a sample's levels of several columns are joined into its group label (:func:`load_vst_and_groups`)."""

LFC_LABEL = "log2 fold change"
"""The fold-change axis of the volcano and MA plots (a slope's: :func:`fold_change_label`)."""


def fold_change_label(contrast: dict) -> str:
    """``log2 fold change``, or for a slope ``log2 fold change per unit of <column>``."""
    return f"{LFC_LABEL} per unit of {contrast['variable']}" if is_slope(contrast) else LFC_LABEL


def unit_title(params: dict, contrast_name: str, cell_type: str | None = None) -> str:
    """Figure title of a DE unit: ``<dataset> · [<cell type>: ]<target> vs <reference>``."""
    what = short(params["spec"]["contrasts"][contrast_name])
    if cell_type is not None:
        what = f"{params['cell_types'][cell_type]}: {what}"
    return f"{params['name']} · {what}"


def _labels(res: pd.DataFrame, n_top: int, genes_of_interest) -> pd.DataFrame:
    tested = res[res["pvalue"].notna()]
    top = tested.nsmallest(n_top, ["padj", "pvalue"]) if n_top else tested.iloc[:0]
    focus = tested[tested["symbol"].isin(list(genes_of_interest))]
    return pd.concat([top, focus]).drop_duplicates("gene_id")


def volcano(res: pd.DataFrame, alpha: float, lfc_threshold: float = 0.0, genes_of_interest=(), n_top: int = 10,
            title: str = "", figsize=(6, 5), y: str = "pvalue", xlim=None, ylim=None, lfc_label: str = LFC_LABEL):
    """Volcano plot: log2 fold change vs -log10 p-value, top genes labelled.

    Parameters
    ----------
    res
        DE table (``gene_id``, ``symbol``, ``log2FoldChange``, ``pvalue``, ``padj``).
    alpha, lfc_threshold
        What counts as up / down (colour).
    genes_of_interest
        Symbols ringed and labelled even when not significant.
    n_top
        Label the ``n_top`` most significant genes.
    y
        ``"pvalue"`` or ``"padj"``: the quantity on the y axis (-log10).
    xlim, ylim
        ``[min, max]`` of the fold change and the top of the y axis; points
        beyond are drawn on the edge (as triangles) so none disappears.
    """
    tested = res[res["pvalue"].notna()].copy()
    if y == "padj":
        tested = tested[tested["padj"].notna()]
    sig = call_direction(tested, alpha, lfc_threshold)
    x = tested["log2FoldChange"].astype(float)
    yv = -np.log10(tested[y].astype(float).clip(lower=1e-300))
    clipped = pd.Series(False, index=tested.index)
    if xlim is not None:
        clipped |= (x < xlim[0]) | (x > xlim[1])
        x = x.clip(xlim[0], xlim[1])
    if ylim is not None:
        clipped |= yv > ylim
        yv = yv.clip(upper=ylim)
    fig, ax = plt.subplots(figsize=figsize)
    for kind, colour in (("ns", NS), ("down", DOWN), ("up", UP)):
        m = sig == kind
        ax.scatter(x[m & ~clipped], yv[m & ~clipped], s=6, c=colour, linewidths=0, rasterized=True,
                   label=f"{kind} ({int(m.sum())})")
        if (m & clipped).any():
            ax.scatter(x[m & clipped], yv[m & clipped], s=14, c=colour, marker="^", linewidths=0)
    focus = tested["symbol"].isin(list(genes_of_interest))
    ax.scatter(x[focus], yv[focus], s=40, facecolors="none", edgecolors=FOCUS, linewidths=1.2, label="genes of interest")
    labelled = _labels(tested, n_top, genes_of_interest)
    texts = [ax.text(x[idx], yv[idx], row["symbol"], fontsize="small", color=FOCUS if focus[idx] else "black")
             for idx, row in labelled.iterrows()]
    for v in (-lfc_threshold, lfc_threshold) if lfc_threshold > 0 else ():
        ax.axvline(v, color="#888888", lw=0.6, ls="--")
    if xlim is not None:
        pad = 0.03 * (xlim[1] - xlim[0])
        ax.set_xlim(xlim[0] - pad, xlim[1] + pad)
    if ylim is not None:
        ax.set_ylim(0, ylim * 1.04)
    ax.set_xlabel(lfc_label)
    ax.set_ylabel("-log10 adjusted p-value" if y == "padj" else "-log10 p-value")
    ax.set_title(title, fontsize="large")
    # below the axes: over the plot it would hide the points and labels of its corner
    ax.legend(fontsize="small", frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4,
              handletextpad=0.2, columnspacing=1.0)
    fig.tight_layout()
    spread_labels(ax, texts, x[labelled.index].to_numpy(), yv[labelled.index].to_numpy())
    return fig


def spread_labels(ax, texts: list, x: np.ndarray, y: np.ndarray, line: str = "#777777") -> None:
    """Move gene labels (``texts`` at points ``x``, ``y``) apart, none over another or out of the axes, with a line
    of colour ``line`` back to its point (adjustText). Call once layout and limits are final (screen space)."""
    if texts:
        from adjustText import adjust_text

        adjust_text(texts, x=x, y=y, ax=ax, arrowprops=dict(arrowstyle="-", color=line, lw=0.6))


def ma_plot(res: pd.DataFrame, alpha: float, lfc_threshold: float = 0.0, genes_of_interest=(), title: str = "",
            figsize=(6, 4.5), level: tuple[str, str] = ("baseMean", "mean of normalised counts"),
            lfc_label: str = LFC_LABEL):
    """MA plot: the mean level (``level``: its column and axis label, :data:`lsecflow.de_options.LEVELS`; DESeq2's
    ``baseMean`` on a log axis, limma's ``AveExpr``, log2 CPM or intensity) vs log2 fold change."""
    tested = res[res["pvalue"].notna()]
    x, label = level
    sig = call_direction(tested, alpha, lfc_threshold)
    fig, ax = plt.subplots(figsize=figsize)
    for kind, colour in (("ns", NS), ("down", DOWN), ("up", UP)):
        m = sig == kind
        ax.scatter(tested.loc[m, x], tested.loc[m, "log2FoldChange"], s=5, c=colour, linewidths=0,
                   rasterized=True, label=f"{kind} ({int(m.sum())})")
    focus = tested[tested["symbol"].isin(list(genes_of_interest))]
    ax.scatter(focus[x], focus["log2FoldChange"], s=40, facecolors="none", edgecolors=FOCUS, linewidths=1.2,
               label="genes of interest" if len(focus) else None)
    texts = [ax.text(row[x], row["log2FoldChange"], row["symbol"], fontsize="small", color=FOCUS)
             for _, row in focus.iterrows()]
    if x == "baseMean":
        ax.set_xscale("log")
    ax.axhline(0, color="#444444", lw=0.6)
    ax.set_xlabel(label)
    ax.set_ylabel(lfc_label)
    ax.set_title(title, fontsize="large")
    ax.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    spread_labels(ax, texts, focus[x].to_numpy(dtype=float), focus["log2FoldChange"].to_numpy(dtype=float),
                  line=FOCUS)
    return fig


def running_score(ranking: pd.Series, genes) -> np.ndarray:
    """Classical GSEA running enrichment score (weight 1) along ``ranking``."""
    hit = ranking.index.isin(list(genes))
    w = np.abs(ranking.to_numpy()) * hit
    n_miss = (~hit).sum()
    up = np.cumsum(w) / max(w.sum(), 1e-300)
    down = np.cumsum(~hit) / max(n_miss, 1)
    return up - down


def gsea_dotplot(gsea: pd.DataFrame, n: int = 10, title: str = "", sets=(), width: float = 8, height=None,
                 alpha: float = 0.05):
    """Pathway dot plot: NES, set size and -log10 padj of the top sets; sets at padj >= ``alpha`` drawn faded,
    with grey names (the top sets of a contrast with no effect are shown, but not as findings).

    Parameters
    ----------
    gsea
        Preranked GSEA table (``set``, ``NES``, ``padj``, ``pval``, ``size``).
    n
        Sets per direction when ``sets`` is empty: the ``n`` best (by padj)
        with NES > 0 and the ``n`` best with NES < 0.
    sets
        Exact set names to show instead (a paper's panel); names that were
        not tested are listed under the plot.
    width, height
        Inches; ``height=None`` sizes it to the number of sets.
    """
    missing: list[str] = []
    if len(sets):
        top = gsea[gsea["set"].isin(list(sets))]
        missing = [s for s in sets if s not in set(top["set"])]
        top = top.sort_values("NES")
    else:
        pos = gsea[gsea["NES"] > 0].nsmallest(n, ["padj", "pval"])
        neg = gsea[gsea["NES"] < 0].nsmallest(n, ["padj", "pval"])
        top = pd.concat([pos, neg]).sort_values("NES")
    fig, ax = plt.subplots(figsize=(width, height or max(2.5, 0.3 * len(top) + 1.5)))
    if len(top):
        called = (top["padj"] < alpha).to_numpy()
        sc = ax.scatter(top["NES"], range(len(top)), s=20 + 180 * top["size"] / top["size"].max(),
                        c=-np.log10(top["padj"].clip(lower=1e-300)), cmap="viridis", edgecolors="black",
                        linewidths=0.4, alpha=np.where(called, 1.0, 0.35))
        fig.colorbar(sc, ax=ax, fraction=0.04, label="-log10 padj")
        # dot size = genes of the set in the ranking: a legend with up to four sizes that occur
        smax, vals = float(top["size"].max()), np.unique(top["size"].astype(int))
        if len(vals) > 4:
            vals = np.unique(np.round(np.linspace(vals.min(), vals.max(), 4)).astype(int))
        handles = [ax.scatter([], [], s=20 + 180 * v / smax, color="#bbbbbb", edgecolors="black", linewidths=0.4)
                   for v in vals]
        ax.legend(handles, [str(v) for v in vals], title="genes in set", loc="best", fontsize="x-small",
                  title_fontsize="x-small", framealpha=0.8)
        ax.set_yticks(range(len(top)))
        ax.set_yticklabels([s if len(s) <= 55 else s[:52] + "..." for s in top["set"]], fontsize="small")
        for tick, ok in zip(ax.get_yticklabels(), called):
            if not ok:
                tick.set_color(NOT_CALLED)
    ax.axvline(0, color="#444444", lw=0.6)
    xlabel = "normalised enrichment score (NES)"
    if len(top) and not called.all():
        xlabel += f"\nfaded, grey names: padj >= {alpha:g} ({int((~called).sum())} of {len(top)} sets shown)"
    if missing:
        xlabel += f"\nnot tested: {', '.join(missing)}"
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize="large")
    fig.tight_layout()
    return fig


def running_score_panels(ranking: pd.Series, sets: dict, gsea: pd.DataFrame, n: int = 4, title: str = ""):
    """Running-score curves of the ``n`` top sets (by padj) with their gene positions."""
    top = gsea.nsmallest(n, ["padj", "pval"])
    fig, axes = plt.subplots(len(top) or 1, 1, figsize=(7, 1.9 * max(len(top), 1) + 0.6), squeeze=False)
    x = np.arange(len(ranking))
    for ax, row in zip(axes[:, 0], top.itertuples()):
        curve = running_score(ranking, sets[row.set])
        ax.plot(x, curve, color=UP if row.NES > 0 else DOWN, lw=1.2)
        ax.axhline(0, color="#888888", lw=0.5)
        hits = np.flatnonzero(ranking.index.isin(sets[row.set]))
        ax.vlines(hits, curve.min() - 0.08, curve.min() - 0.02, color="black", lw=0.3)
        ax.set_title(f"{row.set[:70]}  NES {row.NES:.2f}, padj {row.padj:.2g}", fontsize="small")
        ax.set_ylabel("running ES", fontsize="small")
        ax.tick_params(labelsize="x-small")
    axes[-1, 0].set_xlabel("genes ranked by Wald statistic (up in target -> down)")
    fig.suptitle(title, fontsize="large")
    fig.tight_layout()
    return fig


def message_figure(message: str, title: str = "", figsize=(6, 2.5)):
    """A figure that says why there is nothing to plot (an empty table, no set tested)."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize="medium", wrap=True)
    ax.axis("off")
    ax.set_title(title, fontsize="large")
    return fig


#: points from which :func:`cell_points` draws one image instead of markers
IMAGE_FROM = 100_000


def cell_points(ax, x, y, c, cmap: str | None = None, **dot):
    """``ax.scatter(x, y, c=c, cmap=cmap, **dot)``; from :data:`IMAGE_FROM` points the same colours as one image
    of the axes' size at :data:`DPI`: a square of the marker's width (2 pixels at least) for each point, centred
    on it, the later point on top where two share a pixel, as markers are drawn. Four UMAP panels of a million
    rasterized markers took 82 s to save as PNG, SVG and PDF, as images 1.5 s (docs/benchmarks.md). ``c``:
    colours (RGBA rows), or values coloured by ``cmap`` (NaN left blank). Returns what a colorbar takes for
    values, else None (the image) or the markers."""
    if len(x) < IMAGE_FROM:
        return ax.scatter(x, y, c=c, cmap=cmap, **dot)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    mappable = None
    if cmap is None:
        rgba = matplotlib.colors.to_rgba_array(c)
    else:
        values = np.asarray(c, dtype=float)
        norm = matplotlib.colors.Normalize(np.nanmin(values), np.nanmax(values))
        mappable = matplotlib.cm.ScalarMappable(norm, plt.get_cmap(cmap))
        rgba = mappable.to_rgba(values)  # NaN: the colour map's 'bad' colour, transparent
    box = ax.get_position()
    width = max(1, round(box.width * ax.figure.get_figwidth() * DPI))
    height = max(1, round(box.height * ax.figure.get_figheight() * DPI))
    # the margins markers get (axes.xmargin, axes.ymargin)
    pad_x = plt.rcParams["axes.xmargin"] * (np.ptp(x) or 1.0)
    pad_y = plt.rcParams["axes.ymargin"] * (np.ptp(y) or 1.0)
    x0, x1, y0, y1 = x.min() - pad_x, x.max() + pad_x, y.min() - pad_y, y.max() + pad_y
    # each point a square of the marker's width, at least 2 pixels: the layout (a colorbar, tight_layout) shrinks
    # the axes after drawing, and the image's nearest-pixel resampling must not lose a point of one pixel
    side = max(2, round(np.sqrt(dot.get("s", plt.rcParams["lines.markersize"] ** 2)) / 72 * DPI))
    col = ((x - x0) / (x1 - x0) * width).astype(int)[:, None] + np.tile(np.arange(side) - side // 2, side)[None, :]
    row = ((y1 - y) / (y1 - y0) * height).astype(int)[:, None] + np.repeat(np.arange(side) - side // 2, side)[None, :]
    pixel = (np.clip(row, 0, height - 1) * width + np.clip(col, 0, width - 1)).ravel()  # point after point
    last = len(pixel) - 1 - np.unique(pixel[::-1], return_index=True)[1]  # the last point drawn on each pixel
    image = np.zeros((height * width, 4))
    image[pixel[last]] = np.repeat(rgba, side * side, axis=0)[last]
    ax.imshow(image.reshape(height, width, 4), extent=(x0, x1, y0, y1), origin="upper", interpolation="none",
              aspect="auto")
    return mappable


def save_placeholders(message: str, title: str, stems) -> None:
    """Write a :func:`message_figure` at every stem a rule owes (nothing to draw)."""
    for stem in stems:
        save(message_figure(message, title), stem)


def stem_of(png: str | Path) -> Path:
    """The stem of a figure's PNG output: ``a/b.volcano.png`` -> ``a/b.volcano`` (:func:`save` adds each format)."""
    png = Path(png)
    if png.suffix != ".png":
        raise ValueError(f"not a PNG figure path: {png}")
    return png.with_suffix("")


def load_vst_and_groups(vst: str, counts_h5ad: str, columns: list[str], pseudobulk: bool = False,
                        order_by: str | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """VST matrix (genes x samples) of a DE unit and each sample's group: its level of each of ``columns``
    (a contrast's :func:`lsecflow.contrasts.group_columns`), joined by `` · ``; ``order_by``: a numeric column
    (a slope's) the samples are sorted by, its values kept in ``attrs['number']``.

    Pseudobulk columns are ``<sample>|<cell type>``; they are relabelled by sample.
    """
    import anndata as ad

    vst_df = pd.read_csv(vst, sep="\t", index_col=0)
    obs = ad.read_h5ad(counts_h5ad, backed="r").obs
    number = None
    if order_by:
        number = obs.loc[vst_df.columns, order_by].astype(float).sort_values(kind="stable")
        vst_df = vst_df[number.index]
    groups = (obs.loc[vst_df.columns, list(columns)].astype(str).agg(GROUP_SEP.join, axis=1) if columns else
              pd.Series(f"samples by increasing {order_by}" if order_by else "all samples", index=vst_df.columns))
    if pseudobulk:
        vst_df.columns = obs.loc[vst_df.columns, "sample"].astype(str)
        groups.index = vst_df.columns
    if number is not None:  # a slope's number per sample, for the gene panels
        vst_df.attrs["number"] = pd.Series(number.to_numpy(), index=vst_df.columns)
    return vst_df, groups


def save(fig, stem: str | Path) -> list[Path]:
    """Save a figure in every configured format (:data:`FORMATS`) beside each other; close it.

    Files are written under a temporary name and renamed, so a failed job
    leaves no half-written figure.
    """
    stem = Path(stem)
    paths = []
    for ext in FORMATS:
        kwargs = {"dpi": DPI} if ext == "png" else {"metadata": {"Date": None} if ext == "svg" else
                                                    {"CreationDate": None, "ModDate": None}}
        path = stem.with_name(f"{stem.name}.{ext}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, **kwargs)
        paths.append(path)
    plt.close(fig)
    return paths
