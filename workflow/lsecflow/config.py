"""Load and validate an lsecflow config before any job runs.

``load_config`` is called by ``workflow/rules/common.smk`` at parse time. It
checks the config and every dataset file against the JSON schemas in
``workflow/schemas``, reads each sample sheet, checks the design formula and
the contrasts against it, and compares the sample ids of the count matrix
(read from its header or obs only) with the sheet. Every error names the
file, key, column, sample or level at fault.
"""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from . import io
from .errors import ConfigError, InputDataError
from .formula import parse_design
from .schema import validate

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def slugify(label: str) -> str:
    """Folder-name form of a cell-type label (``'B cell'`` -> ``'B_cell'``).

    Runs of anything but letters, digits, ``_`` and ``-`` become ``_``.
    """
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", str(label)).strip("_-")
    return slug or "unnamed"


def resolve_path(path: str, roots: list[Path]) -> Path:
    """Resolve a relative path against the working directory, then the workflow folder."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute():
        return p
    for root in roots:
        if (root / p).exists():
            return root / p
    return roots[0] / p


@dataclass
class Dataset:
    """A validated dataset: its spec (defaults filled, paths resolved) and sheet."""

    name: str
    source: str
    spec: dict
    sheet: pd.DataFrame
    format: str
    design_columns: list[str]
    annotation: str | None
    cell_types: dict[str, str] = field(default_factory=dict)  # slug -> label, LSEC first

    @property
    def assay(self) -> str:
        return self.spec["assay"]

    @property
    def contrasts(self) -> dict:
        return self.spec["contrasts"]

    def params(self, rule: str | None = None) -> dict:
        """JSON-serialisable parameters handed to the rules' scripts.

        With ``rule`` (a key of :data:`RULE_SPEC_KEYS`) the spec is cut to the
        keys that rule reads, so editing, say, ``enrichment.permutations``
        changes the parameters of the enrichment jobs only and Snakemake
        reruns those (and what depends on their outputs), not QC or DE.
        ``spec_keys`` then lists what was kept; :func:`lsecflow.snake.run`
        turns the spec into a :class:`ScopedSpec`, so a rule that reads a key
        it did not declare fails loudly instead of reading a default.
        Without ``rule`` (tests, benchmarks) the whole spec is given.
        """
        if rule is not None:
            keys = RULE_SPEC_KEYS[rule]
            spec = scoped_spec(self.spec, keys)
        else:
            spec = self.spec
        out = {
            "name": self.name,
            "spec": spec,
            "format": self.format,
            "annotation": self.annotation,
            "design_columns": self.design_columns,
            "cell_types": self.cell_types,
        }
        if rule is not None:
            out["rule"], out["spec_keys"] = rule, list(keys)
        if rule in (None, "ingest"):
            # Only ingest's messages name the config file; kept out of the other rules'
            # parameters so that they do not depend on the file's path.
            out["source"] = self.source
        return out


#: The dataset keys each rule's function reads: top-level sections, or
#: ``section.key`` for one key of a section. Everything else is withheld
#: from that rule's parameters (see :meth:`Dataset.params`).
RULE_SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "ingest": ("assay", "species", "gene_ids", "counts", "samples", "single_cell", "qc.markers"),
    "qc_bulk": ("assay", "species", "qc", "de.min_count", "de.min_samples", "figures"),
    "qc_single_cell": ("assay", "species", "qc", "single_cell", "figures"),
    "pseudobulk": ("assay", "species", "single_cell", "pseudobulk"),
    "de": ("assay", "species", "design", "contrasts", "de", "qc.exclude"),
    "de_figures": ("assay", "species", "contrasts", "de", "figures"),
    "enrichment": ("assay", "species", "enrichment", "de.alpha", "de.lfc_threshold"),
    "enrichment_figures": ("assay", "species", "contrasts", "enrichment", "figures"),
    "paracrine_receivers": ("assay", "species", "single_cell", "paracrine", "figures"),
    "paracrine": ("assay", "species", "paracrine", "de.alpha", "de.lfc_threshold"),
    "paracrine_figures": ("assay", "species", "contrasts", "paracrine", "de.alpha", "figures"),
}


def _split_keys(keys) -> dict[str, list[str] | None]:
    """``section`` / ``section.key`` entries as ``{section: None (whole) or [key, ...]}``, in declared order."""
    out: dict[str, list[str] | None] = {}
    for key in keys:
        section, _, sub = key.partition(".")
        if not sub:
            out[section] = None
        elif out.get(section, []) is not None:
            out.setdefault(section, []).append(sub)
    return out


def scoped_spec(spec: dict, keys) -> dict:
    """The part of ``spec`` named by ``keys`` (``section`` or ``section.key``), as plain dicts."""
    out: dict = {}
    for section, subs in _split_keys(keys).items():
        if section not in spec:
            continue
        if subs is None:
            out[section] = copy.deepcopy(spec[section])
        elif part := {k: copy.deepcopy(spec[section][k]) for k in subs if k in spec[section]}:
            out[section] = part
    return out


class UndeclaredKeyError(RuntimeError):
    """A rule read a dataset key that :data:`RULE_SPEC_KEYS` does not give it (a bug in lsecflow)."""


class ScopedSpec(dict):
    """A rule's cut of a dataset spec that refuses keys the rule did not declare.

    Reading (``[]``, ``get``, ``in``) an undeclared key raises
    :class:`UndeclaredKeyError` rather than a ``KeyError`` or a default, so a
    missing declaration cannot pass silently. Not a ``KeyError``: a caller's
    ``except KeyError`` must not swallow it.
    """

    def __init__(self, data: dict, keys, rule: str, path: str = ""):
        split = _split_keys(keys)
        self._allowed = set(split)
        self._rule, self._path = rule, path
        super().__init__({k: (ScopedSpec(v, split[k], rule, f"{path}{k}.") if split.get(k) else v)
                          for k, v in data.items()})

    def _check(self, key) -> None:
        if key not in self._allowed:
            raise UndeclaredKeyError(f"rule {self._rule!r} reads dataset key '{self._path}{key}', which "
                                     f"lsecflow.config.RULE_SPEC_KEYS[{self._rule!r}] does not declare")

    def __getitem__(self, key):
        self._check(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._check(key)
        return super().get(key, default)

    def __contains__(self, key) -> bool:
        self._check(key)
        return super().__contains__(key)


def guard_params(params):
    """``params`` with its spec wrapped in :class:`ScopedSpec` when it was cut for one rule; else as given."""
    if isinstance(params, dict) and "spec_keys" in params and not isinstance(params["spec"], ScopedSpec):
        params = dict(params, spec=ScopedSpec(params["spec"], params["spec_keys"], params["rule"]))
    return params


@dataclass
class WorkflowConfig:
    results: str
    datasets: dict[str, Dataset]
    config: dict


def _read_yaml(path: Path, what: str) -> dict:
    if not path.exists():
        raise ConfigError(f"{what}: file {path} does not exist")
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, found {type(data).__name__}")
    return data


def read_sample_sheet(path: Path) -> pd.DataFrame:
    """Read a TSV sample sheet; values stay strings, nothing is coerced."""
    if not path.exists():
        raise ConfigError(f"sample sheet {path} does not exist")
    if path.stat().st_size == 0:
        raise ConfigError(f"sample sheet {path}: file is empty")
    try:
        sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except pd.errors.EmptyDataError as exc:
        raise ConfigError(f"sample sheet {path}: file is empty") from exc
    sheet.columns = [str(c).strip() for c in sheet.columns]
    if "sample" not in sheet.columns:
        raise ConfigError(
            f"sample sheet {path}: required column 'sample' is missing (columns: {', '.join(sheet.columns)})"
        )
    if sheet.empty:
        raise ConfigError(f"sample sheet {path}: has a header but no samples")
    for i, row in enumerate(sheet.to_dict(orient="records")):
        validate(row, "samples", f"sample sheet {path}", prefix=f"row {i + 2}")
    dup = sorted(sheet["sample"][sheet["sample"].duplicated()].unique())
    if dup:
        raise ConfigError(f"sample sheet {path}: column 'sample': duplicated sample ids: {', '.join(dup)}")
    return sheet.set_index("sample", drop=False).rename_axis(None)


def _check_contrasts(ds_name, source, spec, sheet, sheet_path, design_columns) -> None:
    validate(spec["contrasts"], "contrasts", source, prefix="contrasts")
    for name, c in spec["contrasts"].items():
        def key(suffix: str = "", name=name) -> str:
            return f"{source}: key 'contrasts.{name}{suffix}'"

        var = c["variable"]
        if var not in sheet.columns:
            raise ConfigError(f"{key('.variable')}: column {var!r} is not in sample sheet {sheet_path} "
                              f"(columns: {', '.join(sheet.columns)})")
        if var not in design_columns:
            raise ConfigError(f"{key('.variable')}: column {var!r} is not in the design {spec['design']!r}")
        if c["target"] == c["reference"]:
            raise ConfigError(f"{key()}: target and reference are the same level {c['target']!r}")
        levels = sorted(sheet[var].unique())
        for role in ("target", "reference"):
            if c[role] not in levels:
                raise ConfigError(f"{key('.' + role)}: level {c[role]!r} is absent from column {var!r} of sample "
                                  f"sheet {sheet_path} (levels: {', '.join(levels)})")


def _design_terms(formula: str) -> set[str]:
    return {t.strip() for t in formula.strip()[1:].split("+") if t.strip() not in ("", "1")}


def _check_de_test(source, spec, columns) -> None:
    """``de.test: lrt`` needs ``de.reduced``: a design whose terms are a strict subset of the full design's.
    Shrinkage needs a design without interaction terms (as DESeq2's ``lfcShrink(type = "normal")``)."""
    de = spec["de"]
    interactions = sorted(t for t in _design_terms(spec["design"]) if ":" in t)
    if de["shrink"] and interactions:
        raise ConfigError(f"{source}: key 'de.shrink': LFC shrinkage is not available for a design with interaction "
                          f"terms ({', '.join(interactions)} in {spec['design']!r}); set 'shrink: false'")
    if de["test"] != "lrt":
        if "reduced" in de:
            raise ConfigError(f"{source}: key 'de.reduced' is set but de.test is {de['test']!r}; "
                              "set 'de.test: lrt' to use it, or remove de.reduced")
        return
    if "reduced" not in de:
        raise ConfigError(f"{source}: key 'de.test' is 'lrt', which needs a reduced design: add "
                          "de.reduced, e.g. 'reduced: \"~ 1\"' (or '~ batch' to test the other terms)")
    parse_design(de["reduced"], columns, source, key="de.reduced")
    full, reduced = _design_terms(spec["design"]), _design_terms(de["reduced"])
    extra = sorted(reduced - full)
    if extra:
        raise ConfigError(f"{source}: key 'de.reduced': term(s) {', '.join(extra)} of {de['reduced']!r} are not "
                          f"in the design {spec['design']!r}; the reduced design must drop terms, not add them")
    if reduced == full:
        raise ConfigError(f"{source}: key 'de.reduced': {de['reduced']!r} has every term of the design "
                          f"{spec['design']!r}; drop the term(s) to test")


def _mismatch(matrix_ids, sheet_ids, matrix_path, sheet_path, source) -> None:
    only_matrix = sorted(set(matrix_ids) - set(sheet_ids))
    only_sheet = sorted(set(sheet_ids) - set(matrix_ids))
    if only_matrix or only_sheet:
        msg = (f"{source}: the count matrix {matrix_path} and the sample sheet {sheet_path} disagree.\n"
               f"  in the matrix, not in the sheet: {', '.join(only_matrix) or '-'}\n"
               f"  in the sheet, not in the matrix: {', '.join(only_sheet) or '-'}")
        if only_matrix and only_sheet:
            msg += (f"\n  If a sample was renamed, map matrix id -> sheet id under samples.rename, e.g. "
                    f"'samples: {{rename: {{{only_matrix[0]}: {only_sheet[0]}}}}}'")
        raise ConfigError(msg)


def apply_rename(ids, rename: dict, source: str, what: str = "count matrix") -> list[str]:
    """Apply ``samples.rename`` (matrix id -> sheet id); unknown keys are errors."""
    ids = list(ids)
    unknown = sorted(set(rename) - set(ids))
    if unknown:
        raise ConfigError(f"{source}: key 'samples.rename': {', '.join(map(repr, unknown))} "
                          f"not a sample id of the {what}")
    out = [rename.get(i, i) for i in ids]
    dup = sorted({i for i in out if out.count(i) > 1})
    if dup:
        raise ConfigError(f"{source}: key 'samples.rename' makes sample ids collide: {', '.join(dup)}")
    return out


def cell_sample_ids(obs: pd.DataFrame, sc: dict, source: str) -> pd.Series:
    """Sample id of each cell, from an obs column, the cell name or the input path."""
    if "sample_key" in sc:
        key = sc["sample_key"]
        if key not in obs.columns:
            raise ConfigError(f"{source}: key 'single_cell.sample_key': obs column {key!r} not found "
                              f"(obs columns: {', '.join(map(str, obs.columns))})")
        return obs[key].astype(str)
    if "sample_from_cell_name" in sc:
        sep, fieldno = sc["sample_from_cell_name"]["sep"], sc["sample_from_cell_name"]["field"]
        parts = pd.Series(obs.index.astype(str), index=obs.index).str.split(sep, regex=False)
        short = parts.str.len() <= fieldno
        if short.any():
            raise ConfigError(f"{source}: key 'single_cell.sample_from_cell_name': cell {obs.index[short][0]!r} "
                              f"has no field {fieldno} when split on {sep!r}")
        return parts.str[fieldno]
    if "_input_sample" in obs.columns:
        return obs["_input_sample"].astype(str)
    raise ConfigError(f"{source}: single-cell data need 'single_cell.sample_key' (an obs column) or "
                      "'single_cell.sample_from_cell_name', or counts.path as a mapping sample -> path")


def merge_figures(base: dict, override: dict, source: str) -> dict:
    """The ``figures:`` section of a dataset: its own block merged over the config's, then validated.

    Mappings merge key by key, anything else (lists included) replaces.
    ``formats`` may only be set in the main config (it decides rule outputs).
    """
    if "formats" in override:
        raise ConfigError(f"{source}: key 'figures.formats' can only be set in the main config "
                          "(it decides which files every rule writes)")

    def merge(a, b):
        out = copy.deepcopy(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
        return out

    return validate(merge(base, override), "figures", source, prefix="figures")


def load_dataset(name: str, spec: dict, source: str, roots: list[Path], annotation: dict,
                 figures: dict | None = None) -> Dataset:
    """Validate one dataset spec and everything it points to.

    ``figures`` is the main config's ``figures:`` section as written; the
    dataset's own block is merged over it (:func:`merge_figures`).
    """
    if not SAFE_NAME.match(name):
        raise ConfigError(f"{source}: dataset name {name!r} is not a safe file name")
    spec = validate(copy.deepcopy(spec), "dataset", source)
    spec["figures"] = merge_figures(figures or {}, spec.get("figures", {}), source)
    # paths
    counts = spec["counts"]
    if isinstance(counts["path"], dict):
        if spec["assay"] != "single_cell":
            raise ConfigError(f"{source}: key 'counts.path': a mapping sample -> path is only for single-cell 10x")
        counts["path"] = {k: str(resolve_path(v, roots)) for k, v in counts["path"].items()}
        first = next(iter(counts["path"].values()))
    else:
        counts["path"] = str(resolve_path(counts["path"], roots))
        first = counts["path"]
    sheet_path = resolve_path(spec["samples"]["sheet"], roots)
    spec["samples"]["sheet"] = str(sheet_path)
    try:
        fmt = io.detect_format(first, counts["format"])
    except InputDataError as exc:
        raise ConfigError(f"{source}: key 'counts.path': {exc}") from exc
    if isinstance(counts["path"], dict) and fmt not in ("10x_mtx", "10x_h5"):
        raise ConfigError(f"{source}: key 'counts.path': a mapping sample -> path needs 10x inputs, not {fmt}")
    if (spec["assay"] == "single_cell") != (fmt in io.SINGLE_CELL_FORMATS):
        raise ConfigError(f"{source}: key 'assay' is {spec['assay']!r} but counts.format is {fmt!r}")

    sheet = read_sample_sheet(sheet_path)
    design_columns = parse_design(spec["design"], list(sheet.columns), source)
    for col in design_columns:
        empty = sheet.index[sheet[col].str.strip() == ""].tolist()
        if empty:
            raise ConfigError(f"sample sheet {sheet_path}: column {col!r} (used in the design) is empty for "
                              f"sample(s) {', '.join(empty)}")
    _check_contrasts(name, source, spec, sheet, sheet_path, design_columns)
    _check_de_test(source, spec, list(sheet.columns))

    rename = spec["samples"]["rename"]
    cell_types: dict[str, str] = {}
    sc_obs = None
    try:
        if spec["assay"] == "bulk":
            ids = apply_rename(io.bulk_header(first, fmt), rename, source)
            _mismatch(ids, sheet.index, first, sheet_path, source)
        else:
            obs = io.peek_single_cell_obs(counts["path"], fmt)
            ids = apply_rename(sorted(cell_sample_ids(obs, spec["single_cell"], source).unique()),
                               rename, source, "cells")
            _mismatch(ids, sheet.index, first, sheet_path, source)
            sc_obs = obs
    except InputDataError as exc:
        raise ConfigError(f"{source}: {exc}") from exc

    unknown = sorted(set(spec["qc"]["exclude"]) - set(sheet.index))
    if unknown:
        raise ConfigError(f"{source}: key 'qc.exclude': {', '.join(map(repr, unknown))} not in sample sheet {sheet_path}")
    markers = spec["qc"].get("markers") or f"resources/markers/{spec['species']}.tsv"
    spec["qc"]["markers"] = str(resolve_path(markers, roots))
    if not Path(spec["qc"]["markers"]).exists():
        raise ConfigError(f"{source}: key 'qc.markers': file {spec['qc']['markers']} does not exist")
    if sc_obs is not None:
        cell_types = _cell_types(spec, sc_obs, source)

    spec["enrichment"]["files"] = _collections(spec, source, roots)
    _paracrine(spec, source, roots, cell_types)

    ann = None
    if spec["gene_ids"] != "symbol":
        ann = str(resolve_path(annotation[spec["species"]], roots))
        if not Path(ann).exists():
            raise ConfigError(f"config: key 'annotation.{spec['species']}': file {ann} does not exist")
    return Dataset(name, source, spec, sheet, fmt, design_columns, ann, cell_types)


def _collections(spec: dict, source: str, roots: list[Path]) -> dict[str, str]:
    """Resolve, checksum and read every configured gene set collection (parse time)."""
    from . import genesets

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
        for name, path in files.items():
            genesets.check_species(genesets.read_gmt(path), spec["species"], path)
    except InputDataError as exc:
        raise ConfigError(f"{source}: key 'enrichment': {exc}") from exc
    for name, limits in enr["size_limits"].items():
        if limits[0] > limits[1]:
            raise ConfigError(f"{source}: key 'enrichment.size_limits.{name}': min {limits[0]} > max {limits[1]}")
    return files


def _paracrine(spec: dict, source: str, roots: list[Path], cell_types: dict[str, str]) -> None:
    """Resolve the paracrine tables and check receiver tables (parse time)."""
    from . import paracrine

    par = spec["paracrine"]
    for key in ("factors", "pairs"):
        path = par.get(key) or f"resources/paracrine/{spec['species']}.{key}.tsv.gz"
        par[key] = str(resolve_path(path, roots))
        if not Path(par[key]).exists():
            raise ConfigError(f"{source}: key 'paracrine.{key}': file {par[key]} does not exist")
    if par["receivers"] and spec["assay"] != "bulk":
        raise ConfigError(f"{source}: key 'paracrine.receivers' is for bulk data; single-cell receivers are the "
                          "other cell types of the dataset")
    for name, path in list(par["receivers"].items()):
        par["receivers"][name] = str(resolve_path(path, roots))
        try:
            paracrine.read_receiver_table(par["receivers"][name], name)
        except InputDataError as exc:
            raise ConfigError(f"{source}: key 'paracrine.receivers.{name}': {exc}") from exc
    if spec["assay"] != "bulk":
        sc = spec["single_cell"]
        par.setdefault("sender", sc["lsec_label"])
        if par["sender"] not in cell_types.values():
            raise ConfigError(f"{source}: key 'paracrine.sender': {par['sender']!r} is not one of the cell types "
                              f"tested ({', '.join(cell_types.values())})")


def _cell_types(spec: dict, obs: pd.DataFrame, source: str) -> dict[str, str]:
    sc = spec["single_cell"]
    key = sc["cell_type_key"]
    if sc["cell_types_from"] == "markers":
        from .qc import LSEC, load_markers

        if key in obs.columns:
            raise ConfigError(f"{source}: key 'single_cell.cell_types_from' is markers but obs column {key!r} "
                              "already exists; set cell_type_key to a new column name")
        sc["lsec_label"] = LSEC
        # cells are labelled at ingest; the possible labels are the signature names
        obs = pd.DataFrame({key: sorted(load_markers(spec["qc"]["markers"]))})
    elif key not in obs.columns:
        raise ConfigError(f"{source}: key 'single_cell.cell_type_key': obs column {key!r} not found "
                          f"(obs columns: {', '.join(map(str, obs.columns))}); without a cell-type column, set "
                          "single_cell.cell_types_from: markers to label cells by marker signatures")
    present = sorted(obs[key].dropna().astype(str).unique())
    if sc["lsec_label"] not in present:
        raise ConfigError(f"{source}: key 'single_cell.lsec_label': {sc['lsec_label']!r} is not a value of obs "
                          f"column {key!r} (values: {', '.join(present)})")
    wanted = spec["pseudobulk"].get("cell_types", present)
    missing = [c for c in wanted if c not in present]
    if missing:
        raise ConfigError(f"{source}: key 'pseudobulk.cell_types': {', '.join(map(repr, missing))} not in obs "
                          f"column {key!r} (values: {', '.join(present)})")
    ordered = sorted(wanted, key=lambda c: (c != sc["lsec_label"], c))
    slugs: dict[str, str] = {}
    for label in ordered:
        slug = slugify(label)
        if slug in slugs:
            raise ConfigError(f"{source}: cell types {slugs[slug]!r} and {label!r} both map to folder {slug!r}")
        slugs[slug] = label
    return slugs


def check_output_folder(path: str, root: Path, source: str) -> None:
    """Refuse a results folder that cannot be created or written (parse time)."""
    target = Path(path) if Path(path).is_absolute() else root / path
    for folder in (target, *target.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ConfigError(f"{source}: key 'results': {folder} exists and is not a folder, so {target} "
                                  "cannot be created")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ConfigError(f"{source}: key 'results': {folder} is not writable, so {target} cannot be "
                                  "created or written")
            return


def load_config(config: dict, roots: list[Path] | None = None, source: str = "config") -> WorkflowConfig:
    """Validate a whole config (as Snakemake parsed it).

    Parameters
    ----------
    config
        The parsed config; it is not modified.
    roots
        Folders that relative paths are resolved against, in order (default:
        the working directory).
    source
        Name of the config file, for messages.
    """
    roots = [Path(r) for r in (roots or [Path.cwd()])]
    cfg = validate(copy.deepcopy(config), "config", source)
    figures_raw = copy.deepcopy(cfg["figures"])
    cfg["figures"] = validate(cfg["figures"], "figures", source, prefix="figures")
    if "png" not in cfg["figures"]["formats"]:
        raise ConfigError(f"{source}: key 'figures.formats': must include png (the HTML report embeds PNG files); "
                          f"got {', '.join(cfg['figures']['formats'])}")
    check_output_folder(cfg["results"], roots[0], source)
    datasets = {}
    for name, entry in cfg["datasets"].items():
        if isinstance(entry, str):
            path = resolve_path(entry, roots)
            spec = _read_yaml(path, f"{source}: key 'datasets.{name}'")
            ds_source = str(entry)
        else:
            spec, ds_source = entry, f"{source} (datasets.{name})"
        datasets[name] = load_dataset(name, spec, ds_source, roots, cfg["annotation"], figures_raw)
    return WorkflowConfig(cfg["results"], datasets, cfg)
