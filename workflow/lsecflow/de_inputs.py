"""What a DE fit starts from, for every engine: its samples (the cell type's pseudobulk samples, less
``qc.exclude``), the contrasts they can test (an untestable one stops a bulk dataset, skips with a reason for a
pseudobulk cell type), the counts through the pre-filter in a canonical order with the design columns, and the
fit's own files when it fits nothing. The engines: :mod:`lsecflow.de` (DESeq2), :mod:`lsecflow.de_voom`,
:mod:`lsecflow.de_edger`, :mod:`lsecflow.de_proteomics`."""
from __future__ import annotations

import logging
from typing import NamedTuple

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .contrasts import too_few
from .de_files import RESULT_COLUMNS, write_lrt_skipped, write_skipped
from .errors import InputDataError, UnfittableDesign, UnfittableFit
from .files import write_tsv_atomic
from .formula import design_matrix, design_metadata, estimable_columns
from .transcripts import TX_LENGTH_LAYER

log = logging.getLogger("lsecflow.de")


def _dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def filter_genes(X, min_count: int, min_samples: int) -> np.ndarray:
    """Genes with at least ``min_count`` counts in at least ``min_samples`` samples."""
    X = _dense(X)
    return (X >= min_count).sum(axis=0) >= min_samples


def model_inputs(adata: ad.AnnData, design_columns: list[str], opts: dict, contrasts: dict | None = None,
                 design: str | None = None):
    """What the model is fitted on: samples and genes sorted by id, genes through the pre-filter; a sample left
    without counts raises :class:`~lsecflow.errors.UnfittableFit`, a design column left with a single level,
    and with ``design`` a design these samples cannot carry (:func:`check_fittable`),
    :class:`~lsecflow.errors.UnfittableDesign`.

    Returns
    -------
    tuple
        ``(adata, counts, meta)``: the sorted, filtered AnnData; its counts
        (samples x genes, int64 DataFrame); the design columns as
        categoricals (:func:`design_metadata`).
    """
    adata = adata[np.argsort(adata.obs_names.astype(str).to_numpy(), kind="stable")]
    adata = adata[:, np.argsort(adata.var_names.astype(str).to_numpy(), kind="stable")]  # row order carries nothing
    keep = filter_genes(adata.X, opts["min_count"], opts["min_samples"])
    log.info("gene filter (>= %d counts in >= %d samples): %d of %d genes kept",
             opts["min_count"], opts["min_samples"], int(keep.sum()), adata.n_vars)
    if keep.sum() == 0:
        raise UnfittableFit(f"no gene passes the DE pre-filter (>= {opts['min_count']} counts in >= "
                            f"{opts['min_samples']} samples: de.min_count, de.min_samples) among the {adata.n_vars} "
                            f"genes of these {adata.n_obs} samples")
    sub = adata[:, keep]
    counts = pd.DataFrame(_dense(sub.X).astype(np.int64), index=sub.obs_names.astype(str),
                          columns=sub.var_names.astype(str))
    empty = counts.index[counts.to_numpy().sum(axis=1) == 0]
    if len(empty):
        raise UnfittableFit(f"sample(s) {', '.join(map(str, empty))} have no count in any of the {counts.shape[1]} "
                            "genes through the pre-filter (de.min_count, de.min_samples), so no library size or "
                            "normalisation can be computed for them; leave them out (qc.exclude) or lower the filter")
    meta = design_metadata(sub.obs, design_columns, contrasts)
    for col in design_columns:
        if meta[col].nunique() < 2:
            raise UnfittableDesign(f"design column {col!r} has a single level ({meta[col].iloc[0]!r}) "
                                   f"among the {len(meta)} samples tested; drop it from the design")
    if design is not None:
        check_fittable(meta, design)
    return sub, counts, meta


def check_fittable(meta: pd.DataFrame, design: str) -> None:
    """Refuse a design that the samples of one fit cannot carry, as R's DESeq2 and edgeR do (limma would drop
    the column silently): a model column that is a combination of the columns before it (design columns
    confounded among these samples, or a level combination without a sample), or as many coefficients as
    samples (no residual df: no dispersion or variance to estimate). Raises
    :class:`~lsecflow.errors.UnfittableDesign` naming the columns and the counts. (The whole sample sheet passes
    the same checks at parse time: :func:`lsecflow.formula.check_full_rank`; a pseudobulk cell type holds a
    subset of its samples.)"""
    X = design_matrix(meta, design)
    names = X.design_info.column_names
    X = np.asarray(X)
    n, p = X.shape
    kept = set(estimable_columns(X).tolist())
    if len(kept) < p:
        lost = ", ".join(repr(names[j]) for j in range(p) if j not in kept)
        raise UnfittableDesign(f"design {design!r}: model column(s) {lost} are combinations of the columns before "
                               f"them among the {n} samples tested (rank {len(kept)} of {p}): design columns "
                               f"{', '.join(meta.columns)} are confounded there or a level combination has no sample")
    if n <= p:
        raise UnfittableDesign(f"design {design!r} has {p} coefficients for {n} samples: no residual df, so no "
                               "dispersion or variance can be estimated")


def fit_samples(adata: ad.AnnData, params: dict, cell_type: str | None = None) -> ad.AnnData:
    """The samples one DE fit uses: the cell type's pseudobulk samples (``cell_type``: its folder
    name), less ``qc.exclude``."""
    spec = params["spec"]
    if cell_type is not None:
        label = params["cell_types"][cell_type]
        adata = adata[adata.obs["cell_type"].astype(str) == label].copy()
        log.info("cell type %r: %d pseudobulk samples", label, adata.n_obs)
    excluded = sorted(set(spec["qc"]["exclude"]) & set(adata.obs["sample"].astype(str)))
    if excluded:
        log.info("samples left out by qc.exclude: %s", ", ".join(excluded))
        adata = adata[~adata.obs["sample"].astype(str).isin(excluded)].copy()
    return adata


class FitStart(NamedTuple):
    """What every DE entry point starts from (:func:`fit_start`)."""
    adata: ad.AnnData
    """The fit's samples (:func:`fit_samples`)."""
    tested: list[str]
    """The contrasts they can test (:func:`testable`)."""
    results: dict[str, pd.DataFrame]
    """An empty table per contrast, filled in as the contrasts are tested."""


def fit_start(counts_h5ad: str, params: dict, outputs: dict, cell_type: str | None, method: str) -> FitStart:
    """Read the counts, keep the fit's samples and find the testable contrasts (``method`` names the engine in
    the messages of those that are not)."""
    adata = fit_samples(ad.read_h5ad(counts_h5ad), params, cell_type)
    tested = testable(adata, params, outputs, cell_type, method)
    return FitStart(adata, tested, {name: pd.DataFrame(columns=RESULT_COLUMNS) for name in params["spec"]["contrasts"]})


def write_untested(params: dict, cell_type: str | None, lrt: dict | None, empty: dict, why: str | None = None) -> None:
    """A fit's own files when it fits nothing: the design test's saying why (by default: no contrast testable),
    the others (``empty``: path or None -> columns) as headers."""
    if lrt is not None:
        write_lrt_skipped(lrt, why or f"no contrast testable{cell_type_label(params, cell_type)}")
    for path, columns in empty.items():
        if path:
            write_tsv_atomic(pd.DataFrame(columns=columns), path)


def skip_unfittable(exc: Exception, params: dict, cell_type: str | None, outputs: dict, tested: list[str],
                    lrt: dict | None, empty: dict) -> None:
    """A fit the data cannot make (``exc``: :class:`~lsecflow.errors.UnfittableFit`, blocks without a
    correlation): a bulk fit stops with it (re-raised); for a pseudobulk cell type it is logged, each tested
    contrast's files say why and the fit's own files are written empty (:func:`write_untested`), so that the
    other cell types go on."""
    if cell_type is None:
        raise exc
    msg = f"{exc} ({cell_type_label(params, cell_type).strip()})"
    log.warning("skipped: %s", msg)
    for name in tested:
        write_skipped(outputs[name], name, msg, params["spec"]["de"])
    write_untested(params, cell_type, lrt, empty, msg)


class CountUnit(NamedTuple):
    """What a count engine's fit reads (:func:`count_unit`)."""
    counts: pd.DataFrame
    """Genes x samples raw counts through the pre-filter, columns in ``meta``'s order."""
    meta: pd.DataFrame
    """Design columns as categoricals."""
    contrasts: dict
    """The testable contrasts' specs."""
    symbols: pd.Series
    """Gene symbol per gene id."""
    lengths: pd.DataFrame | None = None
    """tximport's average transcript lengths, as ``counts`` (``counts.from_abundance: "no"``), else None."""


def count_unit(adata: ad.AnnData, params: dict, tested: list[str]) -> CountUnit:
    """The fit's inputs for the limma-voom and edgeR engines: :func:`model_inputs` of ``adata`` with genes as
    rows, the ``tested`` contrasts, the symbols and the transcript lengths when ``adata`` has them."""
    spec = params["spec"]
    sub, counts, meta = model_inputs(adata, params["design_columns"], spec["de"], spec["contrasts"], spec["design"])
    counts = counts.T
    lengths = None
    if TX_LENGTH_LAYER in sub.layers:
        lengths = pd.DataFrame(np.asarray(sub.layers[TX_LENGTH_LAYER], dtype=float).T, index=counts.index,
                               columns=counts.columns)
    return CountUnit(counts, meta, {name: spec["contrasts"][name] for name in tested},
                     pd.Series(sub.var["symbol"].astype(str).to_numpy(), index=counts.index), lengths)


def cell_type_label(params: dict, cell_type: str | None) -> str:
    """`` for cell type '<name>'`` for a pseudobulk fit, else nothing (messages of skipped fits)."""
    return "" if cell_type is None else f" for cell type {params['cell_types'][cell_type]!r}"


def testable(adata: ad.AnnData, params: dict, outputs: dict, cell_type: str | None = None,
             method: str = "DESeq2") -> list[str]:
    """The contrasts the samples can test. An untestable contrast stops a bulk dataset; for one
    cell type of pseudobulk data it is logged and gets empty files saying why (the other cell
    types must not stop)."""
    spec = params["spec"]
    where = cell_type_label(params, cell_type)
    tested = []
    for name, contrast in spec["contrasts"].items():
        problem = too_few(adata.obs, contrast, method)
        if problem is None:
            tested.append(name)
            continue
        msg = f"contrast {name!r}: {problem}{where}"
        if cell_type is None:
            raise InputDataError(msg)
        log.warning("skipped: %s (lower pseudobulk.min_cells / min_counts, or leave the cell type out with "
                    "pseudobulk.cell_types)", msg)
        write_skipped(outputs[name], name, msg, spec["de"])
    return tested
