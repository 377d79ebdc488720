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

import numpy as np
import pandas as pd

from . import limma
from .calls import group_sizes, sort_results
from .de_files import (
    BLOCK_COLUMNS,
    design_test_table,
    loo_factors,
    with_design_test,
    with_ids,
    write_block,
    write_loo,
    write_lrt,
    write_shared,
    write_tested,
)
from .de_inputs import count_unit, fit_start, skip_unfittable, write_untested
from .de_proteomics import leave_one_out
from .errors import UnfittableFit
from .files import write_tsv_atomic
from .limma_block import Block, BlockError, block_labels, estimate_block
from .limma_weights import log_sample_weights
from .voom import effective_library_sizes, normalized_cpm, tmm_factors, voom, voom_with_quality_weights

log = logging.getLogger(__name__)

COLUMNS = ["gene_id", "symbol", "AveExpr", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj", "B", "df_total",
           "s2_post"]
"""A voom DE table's columns (limma's topTable, named as DESeq2's tables where they mean the same)."""


class VoomMatrices(NamedTuple):
    """What :func:`voom_matrices` returns."""
    values: pd.DataFrame
    """voom's log2 CPM (genes x samples)."""
    weights: pd.DataFrame
    """Its precision weights (with ``de.sample_weights``, times each sample's)."""
    sample_weights: pd.Series | None
    """voomWithQualityWeights' sample weights, else None."""
    block: Block | None
    """``de.block``: the within-block correlation the fit uses, else None."""


def voom_matrices(counts: pd.DataFrame, meta: pd.DataFrame, design: str, quality: bool = False,
                  block: pd.Series | None = None) -> VoomMatrices:
    """voom's log2 CPM and weights (genes x samples) of raw ``counts`` (genes x samples, ``meta``'s order),
    library sizes the column sums times edgeR's TMM factors; with ``quality``, voomWithQualityWeights (the
    weights then include each sample's), and the sample weights (None without ``quality``).

    ``block`` (each sample's block, ``de.block``): limma's recipe for voom with a random block effect --
    voom, duplicateCorrelation, voom(block, correlation), duplicateCorrelation again (with ``quality``,
    voomWithQualityWeights in place of voom); the second correlation is the fit's
    (:func:`lsecflow.limma_block.estimate_block`)."""
    x = counts.to_numpy(dtype=float)
    lib = effective_library_sizes(x)
    X = np.asarray(limma.design_matrix(meta, design))

    def run(correlation=None):
        return (voom_with_quality_weights(x, X, lib, correlation=correlation) if quality
                else voom(x, X, lib, correlation=correlation))

    v, blocked = run(), None
    if block is not None:
        first = estimate_block(block.loc[counts.columns], v.E, X, v.weights)
        v = run(first.matrix())
        blocked = estimate_block(block.loc[counts.columns], v.E, X, v.weights, first.rounds)
    samples = None if v.sample_weights is None else pd.Series(v.sample_weights, index=counts.columns, name="weight")
    return VoomMatrices(pd.DataFrame(v.E, index=counts.index, columns=counts.columns),
                        pd.DataFrame(v.weights, index=counts.index, columns=counts.columns), samples, blocked)


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
    block: Block | None
    """``de.block``: the within-block correlation, else None."""


def voom_tables(counts: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict,
                symbols: pd.Series, block: pd.Series | None = None) -> VoomResult:
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
    block
        Each sample's block (``de.block``, :func:`lsecflow.limma_block.block_labels`), or None.
    """
    t0 = time.time()
    values, weights, samples, blocked = voom_matrices(counts, meta, design, opts.get("sample_weights", False), block)
    log.info("voom%s: %d genes x %d samples, TMM factors %s, weights %.3g-%.3g (median %.3g) in %.1f s",
             "WithQualityWeights" if samples is not None else "", *values.shape,
             ", ".join(f"{f:.3f}" for f in tmm_factors(counts.to_numpy(dtype=float))),
             float(weights.to_numpy().min()), float(weights.to_numpy().max()), float(np.median(weights.to_numpy())),
             time.time() - t0)
    if samples is not None:
        log_sample_weights(samples)
    if blocked is not None:
        log.info("voom with blocks: %s", blocked.describe())
    stats, _ = limma.contrast_tables(values, meta, design, contrasts, opts, weights=weights, block=blocked)
    tables = {name: sort_results(with_ids(t, symbols)[COLUMNS]) for name, t in stats.items()}
    ftable = None
    if opts.get("test") == "lrt":
        ftable = design_test_table(limma.design_test(values, meta, design, opts["reduced"], opts, weights, blocked),
                                   symbols)
        tables = {name: with_design_test(t, ftable) for name, t in tables.items()}
    return VoomResult(tables, values, samples, ftable, blocked)


def run_de_voom(counts_h5ad: str, params: dict, outputs: dict, *, lrt: dict | None = None,
                cell_type: str | None = None, sample_weights: str | None = None,
                block: str | None = None) -> dict[str, pd.DataFrame]:
    """Rule entry point of ``de.engine: voom``: fit the design once per base level and write every
    contrast's files (``outputs``: ``{contrast: {kind: path}}``, as :func:`lsecflow.de.run_de`), and with
    ``de.sample_weights`` each sample's weight to ``sample_weights`` (TSV: sample, weight; empty for a
    cell type whose contrasts were all skipped); with ``de.block`` the within-block correlation to ``block``
    (:func:`lsecflow.de_files.write_block`).

    ``lrt``: ``{"table": path, "summary": path}`` of the design test with ``de.test: lrt``."""
    spec = params["spec"]
    opts = spec["de"]
    adata, tested, results = fit_start(counts_h5ad, params, outputs, cell_type, "limma-voom")

    own = {sample_weights: ["sample", "weight"], block: BLOCK_COLUMNS}  # the fit's own files, empty when unfitted
    if not tested:
        write_untested(params, cell_type, lrt, own)
        return results
    try:
        counts, meta, contrasts, symbols, _ = count_unit(adata, params, tested)  # no lengths: refused at start-up
        sheet = adata.obs.set_index(adata.obs_names.astype(str)).loc[counts.columns]
        labels = block_labels(sheet, opts.get("block"))
        tables, log_cpm, samples, ftable, blocked = voom_tables(counts, meta, spec["design"], contrasts, opts,
                                                                symbols, labels)
    except (BlockError, UnfittableFit) as exc:
        skip_unfittable(exc, params, cell_type, outputs, tested, lrt, own)
        return results
    write_shared({"normalized": normalized_cpm(counts).rename_axis("gene_id").reset_index(),
                  "vst": log_cpm.rename_axis("gene_id").reset_index()}, outputs, tested)
    if sample_weights:
        write_tsv_atomic(samples.rename_axis("sample").reset_index(), sample_weights)
    if block:
        write_block(blocked, block)
    for name in tested:
        results[name] = tables[name]
        write_tested(outputs[name], name, tables[name], opts, group_sizes(meta, spec["contrasts"][name]))
    if lrt is not None:
        write_lrt(ftable, spec, lrt, "moderated F")
    def refit(keep):  # leave-one-out: voom (and the block correlation) redone on the kept samples
        m = voom_matrices(counts.loc[:, keep], meta.loc[keep], spec["design"], opts.get("sample_weights", False),
                          None if labels is None else labels[keep])
        return m.values, m.weights, m.block

    write_loo(leave_one_out(log_cpm, meta, spec["design"], contrasts, opts, tables, loo_factors(spec), prepare=refit),
              outputs)
    return results
