"""PDF figures: one TrueType font subset per job instead of one per PDF (see :func:`share_pdf_font_subsets`)."""
from __future__ import annotations

from contextlib import contextmanager
from io import BytesIO

#: Characters whose glyphs every shared PDF font subset holds (see :func:`share_pdf_font_subsets`).
COMMON_CHARACTERS = "".join(chr(c) for c in range(0x20, 0x7F)) + "·−→≤≥±×µ†"


def share_pdf_font_subsets() -> bool:
    """Let matplotlib's PDF backend subset each TrueType font once per process, not once per PDF.

    matplotlib makes a new fontTools subset of DejaVu Sans for every PDF it
    writes: ~0.25 s a file, more than half the time of writing a PDF here.
    With this, the first PDF subsets the font to :data:`COMMON_CHARACTERS`
    plus what it uses, and later PDFs reuse that subset (a new, larger one is
    made when a figure uses a glyph outside it). The PDFs embed the shared
    subset (~20 kB more a file); text stays TrueType (``pdf.fonttype: 42``) and
    editable. Installed only on the matplotlib API it was written for
    (``get_glyphs_subset(fontfile, glyphs)`` returning a context manager of
    ``SubsetResults``, matplotlib 3.10-3.11); elsewhere matplotlib's own
    subsetting runs unchanged.

    Returns
    -------
    bool
        Whether the shared subsets are in use.
    """
    try:
        from fontTools.ttLib import TTFont
        from matplotlib import font_manager
        from matplotlib.backends import _backend_pdf_ps as pdf_ps
    except ImportError:
        return False
    original = getattr(pdf_ps, "get_glyphs_subset", None)
    if getattr(original, "lsecflow_shared", False):
        return True
    if original is None or not hasattr(pdf_ps, "SubsetResults") or not hasattr(pdf_ps, "font_as_file"):
        return False
    cache: dict = {}

    def get_glyphs_subset(fontfile, glyphs):
        key = (str(fontfile), getattr(fontfile, "face_index", 0))
        wanted = set(glyphs)
        entry = cache.get(key)
        if entry is None or not wanted <= entry[0]:
            font = font_manager.get_font(fontfile)
            common = {font.get_char_index(ord(c)) for c in COMMON_CHARACTERS} - {0}
            base = common | wanted | (entry[0] if entry else set())
            get_glyphs_subset.made += 1
            with original(fontfile, base) as subset:
                entry = cache[key] = (frozenset(base), pdf_ps.font_as_file(subset.font).getvalue(),
                                      dict(subset.glyph_index_map))

        @contextmanager
        def shared():
            font = TTFont(BytesIO(entry[1]))
            try:
                yield pdf_ps.SubsetResults(font, entry[2])
            finally:
                font.close()

        return shared()

    get_glyphs_subset.lsecflow_shared = True
    get_glyphs_subset.made = 0  # fontTools subsets made so far (tests read it)
    pdf_ps.get_glyphs_subset = get_glyphs_subset
    return True
