"""The files a dataset names, resolved and read once at parse time: the counts (and their format), gene set
collections, the paracrine tables, marker and signature panels (:func:`lsecflow.config.load_dataset` calls these)."""
from __future__ import annotations

from pathlib import Path

from . import files, genesets, protein_tables, sample_files, transcripts
from .assay_keys import check_keys_for_assay
from .errors import ConfigError, InputDataError
from .files import resolve_path
from .lrdb import load_factors, load_pairs
from .markers import load_markers
from .receiver_tables import read_receiver_table
from .sheets import read_sample_sheet
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
            read_receiver_table(par["receivers"][name], name)
        except InputDataError as exc:
            raise ConfigError(f"{source}: key 'paracrine.receivers.{name}': {exc}") from exc
    if spec["assay"] == "single_cell":
        sc = spec["single_cell"]
        par.setdefault("sender", sc["lsec_label"])
        if par["sender"] not in cell_types.values():
            raise ConfigError(f"{source}: key 'paracrine.sender': {par['sender']!r} is not one of the cell types "
                              f"tested ({', '.join(cell_types.values())})")


def resolve_counts(spec: dict, source: str, roots: list[Path]) -> str:
    """Resolve the sample sheet and ``counts.path`` in place -- a file or folder, a mapping sample -> file, or
    the sheet's ``counts.files_column`` (each sample's file, relative to the sheet's folder, then as any path)
    made into that mapping; for bulk counts a folder of one subfolder per sample holding salmon's ``quant.sf``
    or kallisto's ``abundance.tsv`` (:func:`lsecflow.transcripts.quant_folder`) too -- and return the first
    counts file."""
    counts, samples = spec["counts"], spec["samples"]
    samples["sheet"] = str(resolve_path(samples["sheet"], roots))
    column = counts.get("files_column")
    if (counts.get("path") is None) == (column is None):
        raise ConfigError(f"{source}: key 'counts': give counts.path (a file, or a mapping sample -> file) or "
                          "counts.files_column (a sample sheet column naming each sample's file), one of the two")
    if column is not None:
        if spec["assay"] != "bulk":
            raise ConfigError(f"{source}: key 'counts.files_column' is for bulk counts made one file per sample")
        try:
            sheet = read_sample_sheet(Path(samples["sheet"]), samples["id_column"])
        except InputDataError as exc:
            raise ConfigError(f"{source}: {exc}") from exc
        if column not in sheet.columns:
            raise ConfigError(f"{source}: key 'counts.files_column': {column!r} is not a column of {samples['sheet']} "
                              f"(columns: {', '.join(sheet.columns)})")
        empty = sheet.index[sheet[column].astype(str).str.strip().isin(["", "nan"])]
        if len(empty):
            raise ConfigError(f"{source}: key 'counts.files_column': {samples['sheet']}, column {column!r} names no file "
                              f"for sample(s) {', '.join(empty)}")
        here = [Path(samples["sheet"]).parent, *roots]
        counts["path"] = {sample: str(resolve_path(str(p).strip(), here)) for sample, p in sheet[column].items()}
    elif isinstance(counts["path"], dict):
        if spec["assay"] == "proteomics":
            raise ConfigError(f"{source}: key 'counts.path': a mapping sample -> path is for single-cell 10x inputs "
                              "and bulk count files of one sample each, not for a protein table")
        counts["path"] = {k: str(resolve_path(v, roots)) for k, v in counts["path"].items()}
    else:
        counts["path"] = str(resolve_path(counts["path"], roots))
        if spec["assay"] == "bulk" and Path(counts["path"]).is_dir():  # salmon's / kallisto's output folder
            try:
                counts["path"] = transcripts.quant_folder(counts["path"])
            except InputDataError as exc:
                raise ConfigError(f"{source}: key 'counts.path': {exc}") from exc
    if counts.get("from_abundance") is False:  # YAML's reading of an unquoted `no`, tximport's name
        counts["from_abundance"] = "no"
    if counts.get("tx2gene"):
        counts["tx2gene"] = existing_file(counts["tx2gene"], roots, source, "counts.tx2gene")
    return next(iter(counts["path"].values())) if isinstance(counts["path"], dict) else counts["path"]


def count_format(spec: dict, first: str, source: str) -> str:
    """The counts format, declared or detected, checked against the assay (and, for proteomics, the
    keys that only it reads)."""
    counts, assay = spec["counts"], spec["assay"]
    proteomic_format = counts["format"] in protein_tables.PROTEOMICS_FORMATS
    if (assay == "proteomics") != (spec["gene_ids"] == "protein"):
        raise ConfigError(f"{source}: key 'gene_ids': {spec['gene_ids']!r} with assay {assay!r}; a proteomics table "
                          "takes 'gene_ids: protein' (its ids are protein groups), counts take ensembl, "
                          "ensembl_version or symbol")
    check_keys_for_assay(spec, source)
    if assay == "proteomics":
        try:
            files.detect_format(first, "tsv")  # exists, not empty
            if counts["format"] == "auto":
                return protein_tables.detect_protein_format(protein_tables.read_header(first))
        except InputDataError as exc:
            raise ConfigError(f"{source}: key 'counts.path': {exc}") from exc
        if not proteomic_format:
            raise ConfigError(f"{source}: key 'counts.format' is {counts['format']!r} but assay is 'proteomics' "
                              f"(one of: auto, {', '.join(protein_tables.PROTEOMICS_FORMATS)})")
        return counts["format"]
    if proteomic_format:
        raise ConfigError(f"{source}: key 'counts.format' is {counts['format']!r}, a protein table; set "
                          "'assay: proteomics'")
    per_sample = isinstance(counts["path"], dict) and assay == "bulk"
    if counts["format"] in sample_files.ONE_SAMPLE_FORMATS and not per_sample:
        raise ConfigError(f"{source}: key 'counts.path': {counts['format']} files hold one sample each; give "
                          "counts.path as a mapping sample -> file")
    try:
        if per_sample:
            fmt = sample_files.detect(first) if counts["format"] == "auto" else counts["format"]
        else:
            fmt = _matrix_format(first, counts["format"])
    except InputDataError as exc:
        raise ConfigError(f"{source}: key 'counts.path': {exc}") from exc
    if per_sample and fmt not in sample_files.PER_SAMPLE_FORMATS:
        raise ConfigError(f"{source}: key 'counts.path': a mapping sample -> file takes count files of one sample "
                          f"each ({', '.join(sample_files.PER_SAMPLE_FORMATS)}), not {fmt}")
    if assay == "single_cell" and isinstance(counts["path"], dict) and fmt not in ("10x_mtx", "10x_h5"):
        raise ConfigError(f"{source}: key 'counts.path': a mapping sample -> path needs 10x inputs, not {fmt}")
    if (assay == "single_cell") != (fmt in files.SINGLE_CELL_FORMATS):
        folder = f" (counts.path {first} is a folder, which is read as a 10x mtx folder)" if Path(first).is_dir() else ""
        raise ConfigError(f"{source}: key 'assay' is {assay!r} but counts.format is {fmt!r}{folder}")
    return fmt


def _matrix_format(path: str, declared: str) -> str:
    """:func:`lsecflow.files.detect_format` of a single counts file, refusing one sample's salmon or kallisto
    file (a ``.sf`` name is otherwise 'unknown', a ``.tsv`` read as a matrix of samples Length, TPM ...)."""
    try:
        fmt = files.detect_format(path, declared)
    except InputDataError:
        _refuse_quant_file(path)
        raise
    if fmt == "tsv":
        _refuse_quant_file(path)
    return fmt


def _refuse_quant_file(path: str) -> None:
    """Refuse ``path`` if it is one sample's salmon or kallisto file (a binary or empty file is left to the
    matrix reader, which says what is wrong with it)."""
    try:
        quantifier = Path(path).is_file() and transcripts.detect(files.first_lines(Path(path), 1)[0])
    except InputDataError:
        return
    if quantifier:
        raise InputDataError(f"{path} is a {quantifier} file of one sample's transcripts: give counts.path as a "
                             "mapping sample -> file (or counts.files_column), with counts.tx2gene")


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
