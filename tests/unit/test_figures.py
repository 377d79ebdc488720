"""lsecflow.figures: a paper's panel (volcano labels and limits, heatmap genes, pathway dot plot sets) set by
the config alone, drawn from a real run's DE and GSEA tables."""
from __future__ import annotations

import copy

import pandas as pd
import yaml
from helpers import REPO
from lsecflow import figures, heatmaps, plots
from lsecflow.config import load_config
from lsecflow.figures import run_figures


def paper_params(work, panel: dict) -> dict:
    """Dataset params of the finished run with a paper's figures: block, resolved as the workflow does."""
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    spec = copy.deepcopy(cfg["datasets"]["dlpc_liver"])
    spec["figures"] = panel
    cfg["datasets"] = {"dlpc_liver": spec}
    return load_config(cfg, roots=[work, REPO]).datasets["dlpc_liver"].params()


def test_paper_panel_from_config_alone(finished_run, tmp_path, monkeypatch):
    """A user's figures: block gives exactly the requested heatmap rows, dot-plot sets, labels and formats."""
    work, _, _ = finished_run
    monkeypatch.chdir(work)
    res = work / "results/dlpc_liver"
    de = pd.read_csv(res / "de/disease_vs_chow.tsv", sep="\t")
    gsea = pd.read_csv(res / "enrichment/disease_vs_chow/hallmark.gsea.tsv", sep="\t")
    vst = pd.read_csv(res / "de/disease_vs_chow.vst.tsv.gz", sep="\t", index_col=0)
    tested = de.dropna(subset=["padj"])
    genes = tested["symbol"].iloc[[3, 0, 7]].tolist() + ["NotAGene"]
    sets = gsea["set"].iloc[[5, 1]].tolist() + ["HALLMARK_NOT_A_SET"]
    focus = tested[tested["log2FoldChange"].abs() < 1].iloc[-1]["symbol"]  # not significant, inside the limits
    panel = {"font_size": 10, "genes_of_interest": [focus],
             "volcano": {"label_top": 0, "y": "padj", "xlim": [-2, 2], "ylim": 5, "width": 4, "height": 4},
             "heatmap": {"genes": genes}, "pathway_dotplot": {"sets": sets, "width": 6}}
    params = paper_params(work, panel)
    figs = plots.configure(params["spec"]["figures"])
    assert plots.plt.rcParams["font.size"] == 10 and plots.FORMATS == ["png", "svg", "pdf"]

    heat = heatmaps.top_gene_heatmap(vst, de, pd.Series("g", index=vst.columns), genes=figs["heatmap"]["genes"])
    assert [t.get_text() for t in heat.axes[1].get_yticklabels()] == genes[:3]  # exactly these rows, in order
    assert "not in the matrix: NotAGene" in heat._suptitle.get_text()

    dot = plots.gsea_dotplot(gsea, sets=figs["pathway_dotplot"]["sets"], width=6)
    shown = [t.get_text() for t in dot.axes[0].get_yticklabels()]
    assert sorted(shown) == sorted(s if len(s) <= 55 else s[:52] + "..." for s in sets[:2])
    assert "not tested: HALLMARK_NOT_A_SET" in dot.axes[0].get_xlabel()
    assert dot.get_size_inches()[0] == 6

    vol = plots.volcano(de, 0.05, 0, figs["genes_of_interest"], n_top=figs["volcano"]["label_top"], y="padj",
                        xlim=[-2, 2], ylim=5, figsize=(4, 4))
    ax = vol.axes[0]
    assert [t.get_text() for t in ax.texts if t.get_text()] == [focus]  # label_top 0: only the gene of interest
    assert (tested["log2FoldChange"].abs() > 2).any()  # so the limits below really clip something
    for coll in ax.collections:
        offsets = coll.get_offsets()
        if len(offsets):
            assert offsets[:, 0].min() >= -2 and offsets[:, 0].max() <= 2 and offsets[:, 1].max() <= 5
    assert ax.get_ylabel() == "-log10 adjusted p-value"
    for f in (heat, dot, vol):
        plots.plt.close(f)

    # the rule entry point writes every configured format with that panel
    stem = tmp_path / "fig/disease_vs_chow"
    run_figures(str(res / "de/disease_vs_chow.tsv"), str(res / "de/disease_vs_chow.vst.tsv.gz"),
                str(res / "counts.h5ad"), {"hallmark": str(res / "enrichment/disease_vs_chow/hallmark.gsea.tsv")},
                params, "disease_vs_chow", {k: f"{stem}.{k}.png" for k in ("volcano", "ma", "heatmap", "genes")},
                {"hallmark": {k: f"{stem}.hallmark.{k}.png" for k in ("gsea_dotplot", "running_scores", "leading_edge")}})
    for kind in ("volcano", "ma", "heatmap", "genes", "hallmark.gsea_dotplot"):
        for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF-"), ("svg", b"<?xml")):
            assert (tmp_path / f"fig/disease_vs_chow.{kind}.{ext}").read_bytes()[:len(magic)] == magic
    svg = (tmp_path / "fig/disease_vs_chow.heatmap.svg").read_text()
    for gene in genes[:3]:
        assert f">{gene}<" in svg  # text stays text in SVG, and the rows are the panel's genes
    genes_svg = (tmp_path / "fig/disease_vs_chow.genes.svg").read_text()
    assert genes_svg.index(f">{focus}") < genes_svg.index(">log2FC")  # the gene of interest's panel first
    assert not list((tmp_path / "fig").glob(".*.tmp"))


def label_boxes(fig) -> tuple[list, object]:
    """Window extents of the gene labels of a figure's first axes (adjustText's leader lines are empty texts),
    and the axes' own extent."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    return [t.get_window_extent(renderer) for t in ax.texts if t.get_text()], ax.get_window_extent(renderer)


def test_gene_labels_do_not_overlap(finished_run):
    """Volcano and MA labels of the real DLPC contrasts: none over another, none out of the axes (before
    adjustText, agonist_vs_disease alone had 9 overlapping pairs: Scd1/Tsc22d1, Per2/Per3 ...)."""
    work, _, _ = finished_run
    goi = ["Tnf", "Mmp9", "Icam1", "Cxcl1", "Cxcl2", "Il23a", "Timp1"]
    n_labels = 0
    for contrast in ("disease_vs_chow", "agonist_vs_chow", "agonist_vs_disease"):
        de = pd.read_csv(work / f"results/dlpc_liver/de/{contrast}.tsv", sep="\t")
        for fig in (plots.volcano(de, 0.05, 0, goi, n_top=10), plots.ma_plot(de, 0.05, 0, goi)):
            boxes, frame = label_boxes(fig)
            n_labels += len(boxes)
            pairs = [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
            assert pairs == [], (contrast, pairs)
            inside = frame.expanded(1 + 1 / frame.width, 1 + 1 / frame.height)  # a label may touch the frame
            assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 and b.y1 <= inside.y1
                       for b in boxes), contrast
            plots.plt.close(fig)
    assert n_labels >= 3 * (10 + 1)  # each volcano's top 10 and at least one gene of interest


def test_leading_edge_rows_name_their_sets():
    """The leading-edge heatmap names the three sets it draws and, on each gene, the sets whose leading edge
    holds it (it said 'the top sets' and nothing more); genes without a VST row are skipped before the cap of
    40, not after. SYNTHETIC table."""
    res = pd.DataFrame({"set": ["S_LOW", "S_TOP", "S_" + "X" * 70, "S_SECOND"], "padj": [0.9, 0.001, 0.02, 0.01],
                        "pval": [0.5, 1e-4, 2e-3, 1e-3],
                        "leading_edge": ["Z", "A,B,GONE", "C", "B,C"]})
    ids = {g: f"id{g}" for g in "ABCZ"} | {"GONE": "idGONE"}
    rows = pd.Index(["idA", "idB", "idC", "idZ"])
    got_ids, labels, named = figures.leading_edge_rows(res, ids, rows)
    assert got_ids == ["idA", "idB", "idC"] and labels == ["A  1", "B  1,2", "C  2,3"]
    assert named[:2] == ["1 S_TOP", "2 S_SECOND"] and named[2].endswith("...") and len(named[2]) == 50
    assert figures.leading_edge_rows(res, ids, rows, n_genes=2)[1] == ["A  1", "B  1,2"]


def test_pathway_dots_not_called_are_faded_and_named_grey():
    """The dot plot shows the top sets of each direction even when none is significant (GEUVADIS SYNTHETIC
    groups: 10 of 12 above padj 0.05, drawn like the 2 below); now those at padj >= 0.05 are faded, their names
    grey, and the axis label counts them. SYNTHETIC table."""
    gsea = pd.DataFrame({"set": [f"S{i}" for i in range(6)], "NES": [2.1, 1.8, 1.2, -1.1, -1.9, -2.2],
                         "padj": [0.001, 0.3, 0.6, 0.7, 0.2, 0.01], "pval": [1e-4, 0.1, 0.3, 0.4, 0.05, 1e-3],
                         "size": [20, 30, 40, 25, 35, 15]})
    fig = plots.gsea_dotplot(gsea, n=3)
    try:
        ax = fig.axes[0]
        grey = {t.get_text() for t in ax.get_yticklabels() if t.get_color() == "#8c8c8c"}
        assert grey == {"S1", "S2", "S3", "S4"}
        dots = ax.collections[0]
        faded = dict(zip([t.get_text() for t in ax.get_yticklabels()], dots.get_facecolors()[:, 3]))
        assert faded["S0"] == faded["S5"] == 1.0 and all(faded[s] < 0.5 for s in grey)
        assert "faded, grey names: padj >= 0.05 (4 of 6 sets shown)" in ax.get_xlabel()
    finally:
        plots.plt.close(fig)
