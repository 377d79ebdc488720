"""Offline gene set collections: GMT reading, manifest (sha256) and species checks."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from .errors import InputDataError
from .files import open_text


def read_gmt(path) -> dict[str, list[str]]:
    """Read a GMT file (optionally gzipped): ``name<TAB>description<TAB>gene...``.

    Raises
    ------
    InputDataError
        Naming the file and line for an empty file, a line with fewer than
        three fields, an empty set name or a duplicated set name.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: gene set file does not exist")
    if path.is_dir():
        raise InputDataError(f"{path}: is a folder, not a GMT file")
    sets: dict[str, list[str]] = {}
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) < 3:
                    raise InputDataError(f"{path}, line {lineno}: a GMT line needs a name, a description and at "
                                         f"least one gene, tab-separated (found {len(fields)} field(s))")
                name = fields[0].strip()
                if not name:
                    raise InputDataError(f"{path}, line {lineno}: empty gene set name")
                if name in sets:
                    raise InputDataError(f"{path}, line {lineno}: gene set {name!r} defined twice")
                genes = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
                if not genes:
                    raise InputDataError(f"{path}, line {lineno}: gene set {name!r} has no genes")
                sets[name] = genes
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputDataError(f"{path}: cannot be read as a GMT file ({exc})") from exc
    if not sets:
        raise InputDataError(f"{path}: no gene sets in the file (empty GMT)")
    return sets


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(folder) -> pd.DataFrame:
    """``manifest.tsv`` of a gene set folder, one row per (collection, species)."""
    return pd.read_csv(Path(folder) / "manifest.tsv", sep="\t", dtype=str)


def shipped_collection(folder, collection: str, species: str, verify: bool = True) -> Path:
    """Path of a shipped collection for ``species``, its sha256 checked against the manifest."""
    manifest = load_manifest(folder)
    rows = manifest[manifest["collection"] == collection]
    if rows.empty:
        raise InputDataError(f"gene set collection {collection!r} is not shipped (shipped: "
                             f"{', '.join(sorted(manifest['collection'].unique()))}); add your own GMT under "
                             "enrichment.gmt")
    row = rows[rows["species"] == species]
    if row.empty:
        raise InputDataError(f"gene set collection {collection!r} is not shipped for {species} "
                             f"(species: {', '.join(sorted(rows['species']))})")
    path = Path(folder) / row.iloc[0]["file"]
    if verify and sha256(path) != row.iloc[0]["sha256"]:
        raise InputDataError(f"{path}: sha256 differs from {Path(folder) / 'manifest.tsv'}; the shipped file was "
                             "modified or corrupted")
    return path


def check_species(sets: dict[str, list[str]], species: str, source, universe=None) -> None:
    """Refuse a collection whose symbols are written for the other species.

    Mouse symbols are capitalised (``Mmp9``), human ones upper-case
    (``MMP9``). When most symbols of the collection look like the other
    species, or (with ``universe``) almost none are found among the dataset's
    genes while their case-swapped forms are, the run stops.
    """
    genes = [g for gs in sets.values() for g in gs if any(c.isalpha() for c in g)]
    if not genes:
        return
    upper = sum(g == g.upper() for g in genes) / len(genes)
    looks = "human" if upper > 0.8 else "mouse" if upper < 0.2 else None
    if looks is not None and looks != species:
        raise InputDataError(f"{source}: gene symbols look {looks} ({upper:.0%} upper-case, e.g. {genes[0]!r}) "
                             f"but the dataset is {species}; use {species} symbols (the {species} collection)")
    if universe is not None:
        uni = set(universe)
        hit = sum(g in uni for g in genes) / len(genes)
        swapped = sum((g.capitalize() if species == "mouse" else g.upper()) in uni for g in genes) / len(genes)
        if hit < 0.05 and swapped > 0.3:
            raise InputDataError(f"{source}: only {hit:.0%} of the symbols match the dataset's genes, {swapped:.0%} "
                                 f"would after changing case: the collection is not {species}")
