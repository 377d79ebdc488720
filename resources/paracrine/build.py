"""Rebuild the paracrine annotation shipped in this folder.

Run from the repository root (offline; reads only files in this repository)::

    python resources/paracrine/build.py

Reads the primary tables in ``sources/`` (provenance in ``README.md``), the
NABA matrisome GMTs in ``resources/genesets`` and the BioMart orthologs in
``resources/annotation``; writes ``{mouse,human}.pairs.tsv.gz`` and
``{mouse,human}.factors.tsv.gz``. The logic lives in ``lsecflow.lrdb``;
``tests/unit/test_lrdb.py`` checks that a rebuild is byte-identical.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from lsecflow.lrdb import build, write_gz  # noqa: E402


def main(out: Path = HERE) -> None:
    tables = build(HERE / "sources", ROOT / "resources" / "genesets",
                   ROOT / "resources" / "annotation" / "ensembl_biomart_mouse_to_human.csv.gz",
                   {s: ROOT / "resources" / "annotation" / f"{s}.gene_symbols.tsv.gz" for s in ("mouse", "human")})
    for species, kinds in tables.items():
        for kind, table in kinds.items():
            write_gz(table, out / f"{species}.{kind}.tsv.gz")
            extra = ""
            if kind == "factors":
                extra = " (" + ", ".join(f"{c}: {n}" for c, n in table["class"].value_counts().items()) + ")"
            print(f"{species}.{kind}.tsv.gz: {len(table)} rows{extra}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
