"""lsecflow.pdf_fonts: PDF figures share one font subset and keep their text."""
from __future__ import annotations

from lsecflow import plots


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
