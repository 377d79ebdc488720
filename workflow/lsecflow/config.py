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

from . import bulk_counts, cell_files, protein_tables, sample_files
from .assay_keys import check_keys_for_format
from .contrasts import check as check_contrast
from .contrasts import too_few
from .dataset_files import count_format, existing_file, marker_table, resolve_collections, resolve_counts, resolve_paracrine
from .de_options import ENGINE_LABELS, check_block, check_de_test, check_deqms, check_robust_fit, de_engine
from .errors import ConfigError, InputDataError
from .files import resolve_path
from .formula import check_full_rank, check_numeric, expand_design, parse_design
from .imputation import check_impute
from .markers import LSEC, load_markers
from .matrix_layout import check_bulk_layout
from .proteomics import check_filter
from .rule_params import RULE_SPEC_KEYS, scoped_spec
from .schema import validate
from .sheets import apply_rename, cell_sample_ids, check_design_values, check_ids_match, read_sample_sheet
from .strict_yaml import load_yaml

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def slugify(label: str) -> str:
    """Folder-name form of a cell-type label (``'B cell'`` -> ``'B_cell'``).

    Runs of anything but letters, digits, ``_`` and ``-`` become ``_``.
    """
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", str(label)).strip("_-")
    return slug or "unnamed"


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


@dataclass
class WorkflowConfig:
    results: str
    datasets: dict[str, Dataset]
    config: dict


def _read_yaml(path: Path, what: str) -> dict:
    if not path.exists():
        raise ConfigError(f"{what}: file {path} does not exist")
    data = load_yaml(path)  # duplicate keys refused
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, found {type(data).__name__}")
    return data


def _check_replicates(source, spec, sheet, obs, sheet_path) -> None:
    """Bulk and proteomics: every contrast has the samples its engine needs among ``obs``, the sheet's less
    ``qc.exclude``, as the DE job finds them after ingest and QC; pseudobulk samples are made from the cells."""
    if spec["assay"] == "single_cell":
        return
    for name, contrast in spec["contrasts"].items():
        problem = too_few(obs, contrast, ENGINE_LABELS[de_engine(spec)])
        if problem:
            excluded = " after qc.exclude" if len(obs) < len(sheet) else ""
            raise ConfigError(f"{source}: key 'contrasts.{name}': {problem} (sample sheet {sheet_path}{excluded})")


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
        given = [role for role in ("target", "reference") if role in c]
        if var in spec["numeric"]:
            if given:
                raise ConfigError(f"{key('.' + given[0])}: column {var!r} is numeric (numeric: [{var}]): its contrast "
                                  "is its slope, the log2 fold change per unit, with no target or reference: "
                                  f"remove {' and '.join(given)}")
            continue
        if len(given) < 2:
            raise ConfigError(f"{key()}: a contrast on the categorical column {var!r} needs target and reference "
                              f"(a number's slope needs neither: declare the column numeric: [{var}])")
        if c["target"] == c["reference"]:
            raise ConfigError(f"{key()}: target and reference are the same level {c['target']!r}")
        levels = sorted(sheet[var].unique())
        for role in ("target", "reference"):
            if c[role] not in levels:
                raise ConfigError(f"{key('.' + role)}: level {c[role]!r} is absent from column {var!r} of sample "
                                  f"sheet {sheet_path} (levels: {', '.join(levels)})")


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

    merged = validate(merge(base, override), "figures", source, prefix="figures")
    check_colours(merged["colors"], source)
    return merged


#: Fewest cells single-cell QC embeds and clusters (below 4 UMAP's spectral start fails; below 10 an embedding
#: says nothing).
MIN_CELLS = 10
HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def check_colours(colours: dict, source: str) -> None:
    """Refuse a ``figures.colors`` value matplotlib cannot draw (a figure job would stop on it, after DE). Hex
    needs no matplotlib; only a name ('firebrick', 'tab:red') loads ``matplotlib.colors`` to look it up."""
    named = {k: v for k, v in colours.items() if not HEX_COLOUR.fullmatch(v)}
    if not named:
        return
    from matplotlib.colors import is_color_like

    for key, value in named.items():
        if not is_color_like(value):
            raise ConfigError(f"{source}: key 'figures.colors.{key}': {value!r} is not a colour; give a name "
                              "matplotlib knows ('firebrick', 'tab:red') or hex ('#b2182b')")


def load_dataset(name: str, spec: dict, source: str, roots: list[Path], annotation: dict,
                 figures: dict | None = None) -> Dataset:
    """Validate one dataset spec and everything it points to.

    ``figures`` is the main config's ``figures:`` section as written; the
    dataset's own block is merged over it (:func:`merge_figures`).
    """
    if not SAFE_NAME.match(name):
        raise ConfigError(f"{source}: dataset name {name!r} is not a safe file name")
    spec = validate(copy.deepcopy(spec), "dataset", source)
    spec["design"] = expand_design(spec["design"])  # ~ a * b as ~ a + b + a:b, everywhere after this
    if spec["de"].get("reduced"):
        spec["de"]["reduced"] = expand_design(spec["de"]["reduced"])
    spec["figures"] = merge_figures(figures or {}, spec.get("figures", {}), source)
    # paths
    counts = spec["counts"]
    first = resolve_counts(spec, source, roots)
    sheet_path = Path(spec["samples"]["sheet"])
    fmt = count_format(spec, first, source)
    if spec["assay"] == "proteomics":
        check_keys_for_format(spec, fmt, source)

    if counts.get("drop_ids"):
        try:
            re.compile(counts["drop_ids"])
        except re.error as exc:
            raise ConfigError(f"{source}: key 'counts.drop_ids': {counts['drop_ids']!r} is not a regular expression "
                              f"({exc})") from exc
    sheet = read_sample_sheet(sheet_path, spec["samples"]["id_column"])
    design_columns = parse_design(spec["design"], list(sheet.columns), source)
    check_design_values(sheet, design_columns, sheet_path)
    _check_contrasts(name, source, spec, sheet, sheet_path, design_columns)
    check_numeric(spec, sheet, design_columns, sheet_path, source)
    analysed = sheet[~sheet.index.isin(spec["qc"].get("exclude", []))]  # the samples DE fits
    check_full_rank(spec["design"], analysed, source, sheet_path, numeric=spec["numeric"])
    for contrast_name, contrast in spec["contrasts"].items():  # within / interaction, once the design fits
        check_contrast(contrast_name, contrast, spec["design"], sheet, spec["numeric"], source)
    check_de_test(source, spec, list(sheet.columns))
    _check_replicates(source, spec, sheet, analysed, sheet_path)
    check_deqms(source, spec, fmt in protein_tables.PEPTIDE_FORMATS)
    check_robust_fit(source, spec)
    check_block(source, spec, sheet, sheet_path, design_columns)
    check_impute(source, spec, len(analysed))
    if spec["assay"] == "proteomics":
        check_filter(spec, sheet, source)

    rename = spec["samples"]["rename"]
    cell_types: dict[str, str] = {}
    sc_obs = None
    try:
        sample_files.check_format_keys(fmt, counts)  # strand for STAR, tx2gene ... for salmon/kallisto only
        if spec["assay"] == "proteomics":
            protein_tables.sample_columns(first, fmt, list(sheet.index), spec["proteomics"], sheet)
        elif spec["assay"] == "bulk" and isinstance(counts["path"], dict):  # one file per sample
            sample_files.check_sample_files(counts["path"], fmt, counts, de_engine(spec))
            ids = apply_rename(list(counts["path"]), rename, source, sheet_ids=sheet.index)
            check_ids_match(ids, sheet.index, "counts.path", sheet_path, source)
        elif spec["assay"] == "bulk":
            id_col, name_col, drop_cols, _ = bulk_counts.columns(first, fmt, counts)
            check_bulk_layout(first, fmt, ident=id_col, skip={name_col, *drop_cols})
            ids = apply_rename(bulk_counts.bulk_header(first, fmt, counts), rename, source, sheet_ids=sheet.index)
            check_ids_match(ids, sheet.index, first, sheet_path, source)
        else:
            obs = cell_files.peek_single_cell_obs(counts["path"], fmt)
            if len(obs) < MIN_CELLS:
                raise InputDataError(f"{first}: {len(obs)} cells; single-cell QC needs at least {MIN_CELLS} to embed "
                                     "and cluster them. Counts already pooled per sample are assay: bulk")
            ids = apply_rename(sorted(cell_sample_ids(obs, spec["single_cell"], source).unique()),
                               rename, source, "cells")
            check_ids_match(ids, sheet.index, first, sheet_path, source)
            sc_obs = obs
    except InputDataError as exc:
        raise ConfigError(f"{source}: {exc}") from exc

    if spec["qc"]["remove_doublets"] and spec["qc"]["doublets"] == "none":
        raise ConfigError(f"{source}: key 'qc.remove_doublets' is true but qc.doublets is none: no doublet is "
                          "called. Set qc.doublets: scrublet, or remove_doublets: false")
    unknown = sorted(set(spec["qc"]["exclude"]) - set(sheet.index))
    if unknown:
        raise ConfigError(f"{source}: key 'qc.exclude': {', '.join(map(repr, unknown))} not in sample sheet {sheet_path}")
    spec["qc"]["markers"] = marker_table(spec["qc"].get("markers") or f"resources/markers/{spec['species']}.tsv",
                                         roots, source, "qc.markers")
    if sc_obs is not None:
        cell_types = _cell_types(spec, sc_obs, source)

    spec["enrichment"]["files"] = resolve_collections(spec, source, roots)
    resolve_paracrine(spec, source, roots, cell_types)

    ann = None
    if spec["gene_ids"] != "symbol":
        ann = existing_file(annotation[spec["species"]], roots, "config", f"annotation.{spec['species']}")
    return Dataset(name, source, spec, sheet, fmt, design_columns, ann, cell_types)


def _cell_types(spec: dict, obs: pd.DataFrame, source: str) -> dict[str, str]:
    sc = spec["single_cell"]
    key = sc["cell_type_key"]
    if sc["cell_types_from"] == "markers":
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


def load_config(config: dict, roots: list[Path] | None = None, source: str = "config",
                files=()) -> WorkflowConfig:
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
    files
        The config files Snakemake parsed: read again to refuse duplicate keys (Snakemake keeps the last).
    """
    for path in files:
        load_yaml(path)
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
