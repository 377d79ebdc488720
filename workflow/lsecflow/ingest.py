"""Ingest: count matrix + sample sheet -> ``results/<dataset>/counts.h5ad``."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from . import bulk_counts, cell_files, protein_tables, sample_files
from .annotation import (
    SUMMARY_ROWS,
    annotate_genes,
    check_id_type,
    drop_ids,
    excel_dates,
    load_symbol_table,
    make_unique_symbols,
)
from .errors import InputDataError
from .files import write_h5ad_atomic
from .markers import call_cell_types
from .sheets import apply_rename, cell_sample_ids, read_sample_sheet
from .transcripts import TX_LENGTH_LAYER

log = logging.getLogger(__name__)


def counts_source(spec: dict) -> str:
    """``counts.path`` for a message: the file, or for a mapping sample -> file its first file and how many."""
    path = spec["counts"]["path"]
    if isinstance(path, dict):
        return f"counts.path ({len(path)} files: {next(iter(path.values()))}, ...)"
    return str(path)


def _bulk(params: dict) -> ad.AnnData:
    spec = params["spec"]
    path = spec["counts"]["path"]
    if isinstance(path, dict):  # one file per sample (HTSeq, STAR, featureCounts, salmon, kallisto)
        df, names, lengths = sample_files.read_sample_files(path, params["format"], spec["counts"])
        path = counts_source(spec)
    else:
        df, names = bulk_counts.read_bulk(path, params["format"], spec["counts"])
        lengths = None
    summary = df.index[df.index.str.match(SUMMARY_ROWS)]
    if len(summary):
        log.info("%s: dropped %d HTSeq/STAR summary rows: %s", path, len(summary), ", ".join(summary))
        df = df.drop(index=summary)
    df.columns = apply_rename(df.columns, spec["samples"]["rename"], params["source"])
    if lengths is not None:
        lengths.columns = df.columns
    for old, new in spec["samples"]["rename"].items():
        log.info("sample %s renamed to %s (samples.rename)", old, new)
    sheet = read_sample_sheet(Path(spec["samples"]["sheet"]), spec["samples"]["id_column"])
    missing = sorted(set(sheet.index) ^ set(df.columns))
    if missing:  # the parse-time check makes this unreachable unless files changed since
        raise InputDataError(f"{path}: samples differ from sheet {spec['samples']['sheet']}: {', '.join(missing)}")
    df = df[sheet.index]
    zero = df.columns[df.sum(axis=0) == 0].tolist()
    if zero:
        raise InputDataError(f"{path}: sample(s) with zero counts in every gene: {', '.join(zero)}")
    var = pd.DataFrame(index=df.index)
    if names is not None:  # gene names from the matrix (counts.name_column, nf-core's gene_name) or tx2gene
        var["name_from_matrix"] = names.reindex(df.index).to_numpy()
    adata = ad.AnnData(X=df.T.to_numpy(dtype=np.int64), obs=typed_obs(sheet, spec), var=var)
    if lengths is not None:  # tximport's average transcript lengths: DESeq2's normalisation factors
        adata.layers[TX_LENGTH_LAYER] = lengths.loc[df.index, df.columns].T.to_numpy(dtype=float)
    return adata


def typed_obs(sheet: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """The sample sheet as ``obs``: text, except the columns declared ``numeric:`` (floats; checked at parse
    time), which the design then models as numbers (:func:`lsecflow.formula.design_metadata`)."""
    obs = sheet.copy()
    for col in spec["numeric"]:
        obs[col] = obs[col].astype(str).str.strip().astype(float)
    return obs


def _proteomics(params: dict) -> tuple[ad.AnnData, dict]:
    """A protein table -> AnnData: intensities as read (float, NaN = blank; zeros kept, the preprocessing
    decides what they mean), ``var`` gene_id / symbol / description, and how many gene names are the
    species' symbols."""
    spec = params["spec"]
    path = spec["counts"]["path"]
    sheet = read_sample_sheet(Path(spec["samples"]["sheet"]), spec["samples"]["id_column"])
    values, var, report = protein_tables.read_protein_table(path, params["format"], list(sheet.index),
                                                             spec["proteomics"], spec["species"], sheet)
    genes = [protein_tables.split_genes(s) for s in var["symbol"]]
    # two protein groups of one gene: the one with the larger summed intensity keeps the name
    var["symbol"], report["duplicated_symbols"] = make_unique_symbols(var["symbol"], values.sum(axis=1))
    adata = ad.AnnData(X=values.T.to_numpy(dtype=float), obs=typed_obs(sheet, spec), var=var)
    report["protein_groups_with_several_genes"] = int(sum(len(g) > 1 for g in genes))
    if params.get("annotation"):
        known = set(load_symbol_table(params["annotation"]).to_numpy())
        named = [g for g, i in zip(genes, var["gene_id"]) if g != [i]]
        mapped = sum(any(x in known for x in g) for g in named)
        report["gene_names_of_species"] = f"{mapped} of {len(named)}"
        log.info("%s: %d of %d protein groups with a gene name have a %s gene symbol (annotation %s)", path, mapped,
                 len(named), spec["species"], params["annotation"])
        if named and mapped < 0.1 * len(named):
            log.warning("%s: only %d of %d gene names are %s symbols -- is 'species' right?", path, mapped, len(named),
                        spec["species"])
    report["n_unmapped"] = 0
    return adata, report


def _single_cell(params: dict) -> ad.AnnData:
    spec = params["spec"]
    sc = spec["single_cell"]
    adata = cell_files.read_single_cell(spec["counts"]["path"], params["format"], spec["counts"]["layer"])
    raw = cell_sample_ids(adata.obs, sc, params["source"])
    rename = spec["samples"]["rename"]
    apply_rename(sorted(raw.unique()), rename, params["source"], "cells")
    samples = raw.map(lambda s: rename.get(s, s))
    sheet = read_sample_sheet(Path(spec["samples"]["sheet"]), spec["samples"]["id_column"])
    missing = sorted(set(sheet.index) ^ set(samples.unique()))
    if missing:
        raise InputDataError(f"{spec['counts']['path']}: samples differ from sheet: {', '.join(missing)}")
    obs = adata.obs.drop(columns=["_input_sample"], errors="ignore").copy()
    for col in sheet.columns:
        values = sheet.loc[samples.to_numpy(), col].to_numpy()
        if col in obs.columns and col != "sample":
            have = obs[col].astype(str).to_numpy()
            bad = np.flatnonzero(have != values)
            if len(bad):
                i = bad[0]
                raise InputDataError(
                    f"obs column {col!r} of {spec['counts']['path']} says {str(have[i])!r} for cell "
                    f"{obs.index[i]!r} but sample sheet {spec['samples']['sheet']} says {str(values[i])!r} for "
                    f"its sample {samples.iloc[i]!r} ({len(bad)} cells disagree)"
                )
        obs[col] = values.astype(float) if col in spec["numeric"] else pd.Categorical(values)
    adata.obs = obs
    return adata


def build_counts(params: dict) -> tuple[ad.AnnData, dict]:
    """Read, check and annotate a dataset's counts.

    Parameters
    ----------
    params
        ``Dataset.params()`` of a validated dataset (see ``lsecflow.config``).

    Returns
    -------
    (anndata.AnnData, dict)
        Raw integer counts (samples or cells x genes) with ``obs`` from the
        sample sheet and ``var`` with ``gene_id`` and ``symbol``; and the
        ingest report (also stored in ``uns['lsecflow']``).
    """
    spec = params["spec"]
    if spec["assay"] == "proteomics":
        adata, report = _proteomics(params)
    else:
        adata = _bulk(params) if spec["assay"] == "bulk" else _single_cell(params)
        keep = drop_ids(adata.var_names, spec["counts"].get("drop_ids"), counts_source(spec))
        if not keep.all():
            adata = adata[:, keep].copy()
        check_id_type(adata.var_names, spec["gene_ids"], counts_source(spec))
        totals = np.asarray(adata.X.sum(axis=0)).ravel()
        names = adata.var["name_from_matrix"] if "name_from_matrix" in adata.var else None
        var, report = annotate_genes(adata.var_names, spec["gene_ids"], params["annotation"], totals, names)
        adata.var = var
    report["date_like_gene_names"] = excel_dates(adata.var["symbol"], counts_source(spec))
    sc_spec = spec.get("single_cell", {})
    if spec["assay"] == "single_cell" and sc_spec.get("cell_types_from") == "markers":

        calls = call_cell_types(adata, spec["qc"]["markers"], params.get("seed", 0))
        adata.obs[sc_spec["cell_type_key"]] = pd.Categorical(calls.to_numpy())
        report["cell_types_from_markers"] = calls.value_counts().sort_index().to_dict()
        log.info("cell types called from marker signatures: %s", report["cell_types_from_markers"])
    report.update({"dataset": params["name"], "assay": spec["assay"], "species": spec["species"],
                   "gene_ids": spec["gene_ids"], "format": params["format"], "n_obs": int(adata.n_obs),
                   "renamed_samples": spec["samples"]["rename"]})
    log.info("%s: %d %s x %d %s", params["name"], adata.n_obs, "cells" if spec["assay"] == "single_cell" else "samples",
             adata.n_vars, "proteins" if spec["assay"] == "proteomics" else "genes")
    if spec["assay"] != "proteomics":
        log.info("%d gene ids without a symbol in the annotation (kept, id used as symbol)", report["n_unmapped"])
    for sym, ids in report["duplicated_symbols"].items():
        log.info("duplicated symbol %s: %s keeps it (largest total count), others get <symbol>_<id>",
                 sym, ids[0] if len(ids) else "")
        log.debug("  %s", ", ".join(ids))
    adata.uns["lsecflow"] = {"ingest": json.dumps(report, sort_keys=True)}
    return adata, report


def run_ingest(params: dict, output: str) -> dict:
    """Rule entry point: build the counts AnnData and write it to ``output``."""
    adata, report = build_counts(params)
    write_h5ad_atomic(adata, output)
    return report
