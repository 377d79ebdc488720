"""The files a dataset names, resolved and read once at parse time: gene set collections, the
paracrine tables, marker and signature panels (:func:`lsecflow.config.load_dataset` calls these)."""
from __future__ import annotations

from pathlib import Path

from . import files, genesets
from .errors import ConfigError, InputDataError
from .files import resolve_path
from .lrdb import load_factors, load_pairs
from .markers import load_markers
from .trust import read_expression_reference


def resolve_collections(spec: dict, source: str, roots: list[Path]) -> dict[str, str]:
    """Resolve every configured gene set collection: shipped ones checksummed, the user's read (parse time)."""
    folder = resolve_path("resources/genesets", roots)
    files: dict[str, str] = {}
    enr = spec["enrichment"]
    try:
        for name in enr["collections"]:
            files[name] = str(genesets.shipped_collection(folder, name, spec["species"]))
        for name, path in enr["gmt"].items():
            if name in files:
                raise ConfigError(f"{source}: key 'enrichment.gmt.{name}': name already used by a shipped collection")
            files[name] = str(resolve_path(path, roots))
            # a user's GMT is read and its symbols checked against the species; a shipped one is
            # checked by its sha256 against the manifest, which records its species
            genesets.check_species(genesets.read_gmt(files[name]), spec["species"], files[name])
    except InputDataError as exc:
        raise ConfigError(f"{source}: key 'enrichment': {exc}") from exc
    for name, limits in enr["size_limits"].items():
        if limits[0] > limits[1]:
            raise ConfigError(f"{source}: key 'enrichment.size_limits.{name}': min {limits[0]} > max {limits[1]}")
    return files


def _own_table(path: str, key: str, source: str, species: str) -> None:
    """A user's factor or pair table, read at parse time (not first in the DE job), its symbols checked against
    the species as a GMT's are (:func:`lsecflow.genesets.check_species`): a table of another species would flag
    nothing."""
    try:
        table = load_factors(path) if key == "factors" else load_pairs(path)
        genes = sorted(set(table["gene"]) if key == "factors" else set(table["ligand"]) | set(table["receptor"]))
        genesets.check_species({key: genes}, species, path)
    except InputDataError as exc:
        raise ConfigError(f"{source}: key 'paracrine.{key}': {exc}") from exc


def resolve_paracrine(spec: dict, source: str, roots: list[Path], cell_types: dict[str, str]) -> None:
    """Resolve the paracrine tables and check receiver tables (parse time); a user's own factor or pair table is
    read and checked now."""
    par = spec["paracrine"]
    for key in ("factors", "pairs"):
        own = par.get(key)
        par[key] = existing_file(own or f"resources/paracrine/{spec['species']}.{key}.tsv.gz", roots,
                                 source, f"paracrine.{key}")
        if own:
            _own_table(par[key], key, source, spec["species"])
    tables = [f"resources/markers/{spec['species']}.contaminants.tsv", *par["contamination"]["signatures"]]
    par["contamination"]["signatures"] = [marker_table(t, roots, source, "paracrine.contamination.signatures")
                                          for t in tables]
    par["sources"] = marker_table(par.get("sources") or f"resources/paracrine/{spec['species']}.sources.tsv",
                                   roots, source, "paracrine.sources")
    ref = par.get("source_reference")
    if ref:
        if spec["assay"] == "single_cell":
            raise ConfigError(f"{source}: key 'paracrine.source_reference' is for bulk data; single-cell data take "
                              "the sources from their own cell types")
        ref["expression"] = str(resolve_path(ref["expression"], roots))
        try:
            read_expression_reference(ref["expression"], ref["lsec_label"])
        except InputDataError as exc:
            raise ConfigError(f"{source}: key 'paracrine.source_reference': {exc}") from exc
    if par["receivers"] and spec["assay"] == "single_cell":
        raise ConfigError(f"{source}: key 'paracrine.receivers' is for bulk data; single-cell receivers are the "
                          "other cell types of the dataset")
    for name, path in list(par["receivers"].items()):
        par["receivers"][name] = str(resolve_path(path, roots))
        try:
            files.read_receiver_table(par["receivers"][name], name)
        except InputDataError as exc:
            raise ConfigError(f"{source}: key 'paracrine.receivers.{name}': {exc}") from exc
    if spec["assay"] == "single_cell":
        sc = spec["single_cell"]
        par.setdefault("sender", sc["lsec_label"])
        if par["sender"] not in cell_types.values():
            raise ConfigError(f"{source}: key 'paracrine.sender': {par['sender']!r} is not one of the cell types "
                              f"tested ({', '.join(cell_types.values())})")


def existing_file(path: str, roots: list[Path], source: str, key: str) -> str:
    """``path`` resolved (:func:`lsecflow.files.resolve_path`); a file that does not exist, or a folder (an empty
    value or ``~`` resolves to one), is refused."""
    resolved = str(resolve_path(path, roots))
    if not Path(resolved).exists():
        raise ConfigError(f"{source}: key '{key}': file {resolved} does not exist")
    if not Path(resolved).is_file():
        raise ConfigError(f"{source}: key '{key}': {path!r} is the folder {resolved}, not a file")
    return resolved


def marker_table(path: str, roots: list[Path], source: str, key: str) -> str:
    """A marker-style table (cell_type, gene) resolved and read once at parse time."""
    resolved = existing_file(path, roots, source, key)
    try:
        load_markers(resolved)
    except InputDataError as exc:
        raise ConfigError(f"{source}: key '{key}': {exc}") from exc
    return resolved
