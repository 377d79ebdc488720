"""The figures: section of the config: validation, merging, and that a paper's
panel (volcano labels and limits, heatmap genes, pathway dot plot sets) is set
by the config alone. Figures are drawn from a real run's DE and GSEA tables."""
from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from helpers import REPO
from lsecflow import plots
from lsecflow.config import load_config, merge_figures
from lsecflow.errors import ConfigError
from lsecflow.figures import run_figures


def shipped_config() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_dataset_figures_merge_over_the_main_section():
    merged = merge_figures({"font_size": 9, "volcano": {"width": 7, "label_top": 5}},
                           {"volcano": {"label_top": 0}, "genes_of_interest": ["Mmp9"]}, "ds.yaml")
    assert merged["font_size"] == 9 and merged["genes_of_interest"] == ["Mmp9"]
    assert merged["volcano"]["width"] == 7 and merged["volcano"]["label_top"] == 0  # merged key by key
    assert merged["volcano"]["height"] == 5 and merged["formats"] == ["png", "svg", "pdf"]  # defaults filled


@pytest.mark.parametrize("override, message", [
    ({"formats": ["png"]}, "key 'figures.formats' can only be set in the main config"),
    ({"volcano": {"lable_top": 3}}, "key 'figures.volcano': Additional properties are not allowed ('lable_top'"),
    ({"volcano": {"y": "qvalue"}}, "key 'figures.volcano.y': 'qvalue' is not one of ['pvalue', 'padj']"),
    ({"heatmap": {"genes": "Mmp9"}}, "key 'figures.heatmap.genes': 'Mmp9' is not of type 'array'"),
])
def test_bad_dataset_figures_name_the_file_and_key(override, message):
    with pytest.raises(ConfigError) as err:
        merge_figures({}, override, "config/datasets/x.yaml")
    assert "config/datasets/x.yaml" in str(err.value) and message in str(err.value)


def test_formats_must_include_png(tmp_path):
    cfg = shipped_config()
    cfg["figures"]["formats"] = ["svg", "pdf"]
    with pytest.raises(ConfigError, match=r"config: key 'figures.formats': must include png "
                                          r"\(the HTML report embeds PNG files\); got svg, pdf"):
        load_config(cfg, roots=[REPO])


def test_shipped_config_resolves_figures_per_dataset():
    lsec = load_config(shipped_config(), roots=[REPO])
    figs = lsec.datasets["dlpc_liver"].spec["figures"]
    assert "Il23a" in figs["genes_of_interest"] and figs["formats"] == ["png", "svg", "pdf"]
    # analyses do not see the figures section, so editing it reruns figure jobs only
    for analysis in ("de", "enrichment"):
        assert "figures" not in lsec.datasets["dlpc_liver"].params(rule=analysis)["spec"]
    assert "figures" in lsec.datasets["dlpc_liver"].params(rule="figures")["spec"]


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

    heat = plots.top_gene_heatmap(vst, de, pd.Series("g", index=vst.columns), genes=figs["heatmap"]["genes"])
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
    assert [t.get_text() for t in ax.texts] == [focus]  # label_top 0: only the gene of interest
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
                params, "disease_vs_chow", {k: f"{stem}.{k}.png" for k in ("volcano", "ma", "heatmap")},
                {"hallmark": {k: f"{stem}.hallmark.{k}.png" for k in ("gsea_dotplot", "running_scores", "leading_edge")}})
    for kind in ("volcano", "ma", "heatmap", "hallmark.gsea_dotplot"):
        for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF-"), ("svg", b"<?xml")):
            assert (tmp_path / f"fig/disease_vs_chow.{kind}.{ext}").read_bytes()[:len(magic)] == magic
    svg = (tmp_path / "fig/disease_vs_chow.heatmap.svg").read_text()
    for gene in genes[:3]:
        assert f">{gene}<" in svg  # text stays text in SVG, and the rows are the panel's genes
    assert not list((tmp_path / "fig").glob(".*.tmp"))


def test_pdf_figures_share_one_font_subset_and_keep_their_text(tmp_path):
    """PDFs reuse one TrueType subset per job (lsecflow.pdf_fonts): subsetting runs once for figures within
    the shared glyphs and again only for a glyph outside them; each PDF's text is intact (ghostscript reads
    it back where installed) and still TrueType (Type 42)."""
    import shutil
    import subprocess

    from matplotlib.backends import _backend_pdf_ps as pdf_ps

    plots.configure({"formats": ["pdf"]})  # installs the shared subsets on the pinned matplotlib
    shared = pdf_ps.get_glyphs_subset
    assert getattr(shared, "lsecflow_shared", False)
    # (text, a part ghostscript's text extraction reads back: it decodes non-Latin glyphs oddly, with or
    # without shared subsets; the rendering is right, checked by eye at 2026-12-01)
    texts = [("Mmp9 · Icam1 (padj < 0.05)", "Mmp9"), ("HALLMARK_TNFA_SIGNALING_VIA_NFKB −2.1", "HALLMARK_TNFA"),
             ("Ωmega: outside the shared set", "outside the shared set")]
    made = []
    for i, (text, probe) in enumerate(texts):
        plots.save(plots.message_figure(text, title=f"panel {i}"), tmp_path / f"f{i}")
        made.append(shared.made)
        pdf = (tmp_path / f"f{i}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and b"/FontFile2" in pdf and b"/CIDFontType2" in pdf  # TrueType, Type 42
        if shutil.which("gs"):
            out = subprocess.run(["gs", "-q", "-sDEVICE=txtwrite", "-o", "-", str(tmp_path / f"f{i}.pdf")],
                                 capture_output=True, text=True, timeout=60).stdout
            assert probe in out and f"panel {i}" in out, out
    assert made[1] == made[0] and made[2] == made[1] + 1  # the second PDF reused the subset; Ω needed a new one
