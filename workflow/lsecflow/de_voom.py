"""Differential expression of counts with limma-voom (``de.engine: voom``), bulk and pseudobulk per cell type.

The genes that pass the pre-filter (as for DESeq2), edgeR's TMM factors on them, ``voom``'s log2-CPM and
precision weights (:mod:`lsecflow.voom`), then limma's weighted ``lmFit`` and ``eBayes`` (``de.trend``,
``de.robust``) or ``treat`` (``de.lfc_threshold``) for every contrast (:mod:`lsecflow.limma`): R's
``voom(calcNormFactors(DGEList(counts)), design)`` then ``lmFit`` / ``eBayes``, checked against R by
``tests/data/voom/make_reference.R``. Library sizes are the filtered genes' sums (edgeR's
``keep.lib.sizes = FALSE``). ``de.sample_weights``: ``voomWithQualityWeights`` instead of ``voom``.

The files are those of DESeq2's path (:data:`lsecflow.de_files.OUTPUT_KINDS`): the table (limma's columns,
``AveExpr`` the mean log2 CPM), its summary, ``normalized`` (TMM-normalised CPM), ``vst`` (voom's log2 CPM,
the matrix the tests saw) and ``loo`` (TMM, voom and limma redone without each sample).
"""
from __future__ import annotations

import logging
import time
from typing import NamedTuple

import anndata as ad
import numpy as np
import pandas as pd

from . import limma
from .calls import sort_results
from .de import cell_type_label, fit_samples, model_inputs, testable
from .de_files import (
    RESULT_COLUMNS,
    design_test_table,
    loo_factors,
    with_design_test,
    with_ids,
    write_loo,
    write_lrt,
    write_lrt_skipped,
    write_shared,
    write_tested,
)
from .de_proteomics import leave_one_out
from .files import write_tsv_atomic
from .voom import effective_library_sizes, tmm_factors, voom, voom_with_quality_weights

log = logging.getLogger(__name__)

COLUMNS = ["gene_id", "symbol", "AveExpr", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj", "B", "df_total",
           "s2_post"]
"""A voom DE table's columns (limma's topTable, named as DESeq2's tables where they mean the same)."""


def voom_matrices(counts: pd.DataFrame, meta: pd.DataFrame, design: str, quality: bool = False
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series | None]:
    """voom's log2 CPM and weights (genes x samples) of raw ``counts`` (genes x samples, ``meta``'s order),
    library sizes the column sums times edgeR's TMM factors; with ``quality``, voomWithQualityWeights (the
    weights then include each sample's), and the sample weights (None without ``quality``)."""
    x = counts.to_numpy(dtype=float)
    lib = effective_library_sizes(x)
    X = np.asarray(limma.design_matrix(meta, design))
    v = voom_with_quality_weights(x, X, lib) if quality else voom(x, X, lib)
    samples = None if v.sample_weights is None else pd.Series(v.sample_weights, index=counts.columns, name="weight")
    return (pd.DataFrame(v.E, index=counts.index, columns=counts.columns),
            pd.DataFrame(v.weights, index=counts.index, columns=counts.columns), samples)


def normalized_cpm(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts per million of the TMM-effective library sizes (genes x samples), edgeR's ``cpm(y)``."""
    x = counts.to_numpy(dtype=float)
    return pd.DataFrame(x / effective_library_sizes(x) * 1e6, index=counts.index, columns=counts.columns)


class VoomResult(NamedTuple):
    """What :func:`voom_tables` returns."""
    tables: dict[str, pd.DataFrame]
    """:data:`COLUMNS` per contrast, sorted by padj, pvalue, gene_id."""
    log_cpm: pd.DataFrame
    """voom's ``E`` (genes x samples)."""
    sample_weights: pd.Series | None
    """Each sample's weight with ``de.sample_weights``, else None."""
    design_test: pd.DataFrame | None
    """With ``de.test: lrt``, the moderated F test of the terms ``de.reduced`` drops
    (:func:`lsecflow.limma.design_test`; every contrast table then carries its p-values), else None."""


def voom_tables(counts: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict,
                symbols: pd.Series) -> VoomResult:
    """Every contrast's limma-voom table, voom's log2 CPM, and with ``de.test: lrt`` the design test.

    Parameters
    ----------
    counts
        Genes x samples raw counts, through the pre-filter, columns in ``meta``'s order.
    meta
        Design columns as categoricals (:func:`lsecflow.formula.design_metadata`).
    contrasts
        name -> ``{variable, target, reference}``.
    opts
        The dataset's ``de`` block (``trend``, ``robust``, ``lfc_threshold``, ``sample_weights``, ``test``,
        ``reduced``).
    symbols
        Gene symbol per gene id.
    """
    t0 = time.time()
    values, weights, samples = voom_matrices(counts, meta, design, opts.get("sample_weights", False))
    log.info("voom%s: %d genes x %d samples, TMM factors %s, weights %.3g-%.3g (median %.3g) in %.1f s",
             "WithQualityWeights" if samples is not None else "", *values.shape,
             ", ".join(f"{f:.3f}" for f in tmm_factors(counts.to_numpy(dtype=float))),
             float(weights.to_numpy().min()), float(weights.to_numpy().max()), float(np.median(weights.to_numpy())),
             time.time() - t0)
    if samples is not None:
        log.info("sample weights (arrayWeights), lowest first: %s",
                 ", ".join(f"{s} {w:.3f}" for s, w in samples.sort_values().items()))
    stats, _ = limma.contrast_tables(values, meta, design, contrasts, opts, weights=weights)
    tables = {name: sort_results(with_ids(t, symbols)[COLUMNS]) for name, t in stats.items()}
    ftable = None
    if opts.get("test") == "lrt":
        ftable = design_test_table(limma.design_test(values, meta, design, opts["reduced"], opts, weights), symbols)
        tables = {name: with_design_test(t, ftable) for name, t in tables.items()}
    return VoomResult(tables, values, samples, ftable)


def run_de_voom(counts_h5ad: str, params: dict, outputs: dict, *, lrt: dict | None = None,
                cell_type: str | None = None, sample_weights: str | None = None) -> dict[str, pd.DataFrame]:
    """Rule entry point of ``de.engine: voom``: fit the design once per base level and write every
    contrast's files (``outputs``: ``{contrast: {kind: path}}``, as :func:`lsecflow.de.run_de`), and with
    ``de.sample_weights`` each sample's weight to ``sample_weights`` (TSV: sample, weight; empty for a
    cell type whose contrasts were all skipped).

    ``lrt``: ``{"table": path, "summary": path}`` of the design test with ``de.test: lrt``."""
    spec = params["spec"]
    opts = spec["de"]
    adata = fit_samples(ad.read_h5ad(counts_h5ad), params, cell_type)
    tested = testable(adata, params, outputs, cell_type, "limma-voom")
    results = {name: pd.DataFrame(columns=RESULT_COLUMNS) for name in spec["contrasts"]}
    if not tested:
        if sample_weights:
            write_tsv_atomic(pd.DataFrame(columns=["sample", "weight"]), sample_weights)
        if lrt is not None:
            write_lrt_skipped(lrt, f"no contrast testable{cell_type_label(params, cell_type)}")
        return results
    sub, counts, meta = model_inputs(adata, params["design_columns"], opts, spec["contrasts"])
    counts = counts.T  # genes x samples
    contrasts = {name: spec["contrasts"][name] for name in tested}
    symbols = pd.Series(sub.var["symbol"].astype(str).to_numpy(), index=counts.index)
    tables, log_cpm, samples, ftable = voom_tables(counts, meta, spec["design"], contrasts, opts, symbols)
    write_shared({"normalized": normalized_cpm(counts).rename_axis("gene_id").reset_index(),
                  "vst": log_cpm.rename_axis("gene_id").reset_index()}, outputs, tested)
    if sample_weights:
        write_tsv_atomic(samples.rename_axis("sample").reset_index(), sample_weights)
    for name in tested:
        results[name] = tables[name]
        write_tested(outputs[name], name, tables[name], opts)
    if lrt is not None:
        write_lrt(ftable, spec, lrt, "moderated F")
    write_loo(leave_one_out(log_cpm, meta, spec["design"], contrasts, opts, tables, loo_factors(spec),
                            prepare=lambda keep: voom_matrices(counts.loc[:, keep], meta.loc[keep], spec["design"],
                                                               opts.get("sample_weights", False))[:2]),
              outputs)
    return results
