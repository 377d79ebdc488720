"""Differential expression of counts with edgeR's quasi-likelihood F test (``de.engine: edger``), bulk and
pseudobulk per cell type.

The genes that pass the pre-filter (as for DESeq2), edgeR's TMM factors on them, then (:mod:`lsecflow.edger`)
``estimateDisp`` once per design (its dispersions do not depend on which level is the base), ``glmQLFit``
(``de.robust``) per base level a contrast needs and ``glmQLFTest`` of the contrast's coefficient (``glmTreat``
against ``de.lfc_threshold`` when that is set): R's
``glmQLFTest(glmQLFit(estimateDisp(calcNormFactors(DGEList(counts)), design), design), coef)``, checked
against R by ``tests/data/edger/make_reference.R``. Library sizes are the filtered genes' sums (edgeR's
``keep.lib.sizes = FALSE``). ``de.test: lrt``: the QL F test of the coefficients ``de.reduced`` drops.

The files are those of DESeq2's path (:data:`lsecflow.de_files.OUTPUT_KINDS`): the table (edgeR's columns,
``logCPM`` its average log2 CPM; ``stat`` the signed square root of F, a t-like statistic GSEA ranks by (with
``de.lfc_threshold``, glmTreat's p-value as a signed normal quantile);
``lfcSE`` ``|log2FoldChange| / sqrt(F)``, the standard error that statistic implies, as edgeR reports none),
its summary, ``normalized`` (TMM-normalised CPM), ``vst`` (edgeR's ``cpm(log = TRUE)``, prior count 2) and
``loo`` (the whole pipeline redone without each sample).

With ``counts.from_abundance: "no"`` the fits take tximport's average transcript lengths as offsets
(:func:`lsecflow.edger.tx_length_offsets`: TMM on the length-corrected counts), as tximport's vignette
does for edgeR, checked against R by ``tests/data/tximport/make_edger_reference.R``; ``normalized`` and
``vst`` are then edgeR's ``cpm`` of the DGEList with those offsets.
"""
from __future__ import annotations

import logging
import time
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import limma
from .calls import benjamini_hochberg, group_sizes, sort_results
from .contrasts import by_bases, coefficient
from .de_files import (
    design_test_table,
    loo_factors,
    with_design_test,
    with_ids,
    write_loo,
    write_lrt,
    write_shared,
    write_tested,
)
from .de_inputs import count_unit, fit_start, skip_unfittable, write_untested
from .de_proteomics import leave_one_out
from .edger import estimate_disp, ql_fit, ql_test, treat, tx_length_offsets
from .edger_glm import log_cpm
from .errors import InputDataError, UnfittableFit
from .files import write_tsv_atomic
from .voom import effective_library_sizes

log = logging.getLogger(__name__)

DISPERSION_COLUMNS = ["gene_id", "logCPM", "trended", "common", "s2", "s2_prior", "s2_post", "df_prior",
                      "df_residual"]
"""``de/[<cell type>/]design.dispersions.tsv.gz`` under edgeR (what edgeR's plotBCV and plotQLDisp draw): each gene's
average log2 CPM, NB dispersion (the trend) and the common one, raw QL dispersion (deviance / residual df), its
prior (the abundance trend) and posterior, the prior df (one, or per gene when robust) and the residual df."""

COLUMNS = ["gene_id", "symbol", "logCPM", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj", "F", "df_total",
           "s2_post"]
"""An edgeR DE table's columns (edgeR's topTags, named as DESeq2's tables where they mean the same)."""


class EdgerResult(NamedTuple):
    """What :func:`edger_tables` returns."""
    tables: dict[str, pd.DataFrame]
    """:data:`COLUMNS` per contrast, sorted by padj, pvalue, gene_id."""
    log_cpm: pd.DataFrame
    """edgeR's ``cpm(y, log = TRUE)`` (genes x samples)."""
    design_test: pd.DataFrame | None
    """With ``de.test: lrt``, the QL F test of the terms ``de.reduced`` drops (every contrast table then
    carries its p-values), else None."""
    dispersion: pd.DataFrame
    """:data:`DISPERSION_COLUMNS` (:func:`dispersion_table`)."""
    normalized: pd.DataFrame
    """edgeR's ``cpm(y)`` (genes x samples)."""


class Scaling(NamedTuple):
    """The library sizes and offsets of an edgeR fit (:func:`scaling`)."""
    lib_size: np.ndarray
    """Per sample: what ``aveLogCPM`` reads (``lib.size x norm.factors``)."""
    offset: np.ndarray | None
    """Genes x samples log offsets the GLMs take instead of ``log(lib_size)``, or None."""

    @property
    def cpm_sizes(self) -> np.ndarray:
        """The library sizes ``cpm`` divides by: per sample, or per gene and sample (``exp(offset)``)."""
        return self.lib_size if self.offset is None else np.exp(self.offset)


def scaling(x: np.ndarray, lengths: pd.DataFrame | None = None) -> Scaling:
    """TMM-effective library sizes (``calcNormFactors``), or with tximport's average transcript lengths
    (``lengths``, genes x samples) the plain column sums and :func:`lsecflow.edger.tx_length_offsets`."""
    if lengths is None:
        return Scaling(effective_library_sizes(x), None)
    return Scaling(x.sum(axis=0), tx_length_offsets(x, lengths.to_numpy(dtype=float)))


def _contrast_table(fit: dict, j: int, index: pd.Index, lfc_threshold: float = 0.0) -> pd.DataFrame:
    """Coefficient ``j``'s table: glmQLFTest's, or with ``lfc_threshold`` glmTreat's p-values (``stat`` then their
    signed normal quantile: edgeR's treat gives no statistic; ``F`` stays the QL F against 0)."""
    res = ql_test(fit, coef=[j])
    lfc = res["logFC"][:, 0]
    F = res["F"]
    stat = np.sign(lfc) * np.sqrt(np.maximum(F, 0))  # F a hair below 0 (as R's): the null fits as well, stat 0
    p = res["pvalue"]
    if lfc_threshold:
        from scipy.stats import norm

        p = treat(fit, j, lfc_threshold)["pvalue"]
        stat = np.sign(lfc) * norm.isf(p / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.abs(lfc) / np.sqrt(F)
    return pd.DataFrame({"logCPM": fit["ave_log_cpm"], "log2FoldChange": lfc, "lfcSE": se, "stat": stat,
                         "pvalue": p, "padj": benjamini_hochberg(p), "F": F, "df_total": res["df_total"],
                         "s2_post": fit["var_post"]}, index=index)


def design_test(counts: pd.DataFrame, meta: pd.DataFrame, design: str, reduced: str, opts: dict,
                disp: dict, lengths: pd.DataFrame | None = None) -> pd.DataFrame:
    """``de.test: lrt`` for edgeR: the QL F test (``glmQLFTest(fit, coef = <those reduced lacks>)``) on the fit of
    ``design`` (``lengths``: as :func:`scaling`). Columns: ``logCPM``, each tested coefficient
    (``log2FC_<name>``), ``stat`` (F), ``pvalue``, ``padj``, ``df_total``; index ``counts``'."""
    x = counts.to_numpy(dtype=float)
    full = limma.design_matrix(meta, design)
    names = list(full.design_info.column_names)
    kept = set(limma.design_matrix(meta, reduced).design_info.column_names)
    if not kept <= set(names):
        raise ValueError(f"de.reduced {reduced!r}: its columns {sorted(kept - set(names))} are not columns of the "
                         f"design {design!r}")
    tested = [i for i, n in enumerate(names) if n not in kept]
    scale = scaling(x, lengths)
    fit = ql_fit(x, np.asarray(full), disp["trended"], scale.lib_size, disp["ave_log_cpm"], opts.get("robust", False),
                 scale.offset)
    res = ql_test(fit, coef=tested)
    table = pd.DataFrame({"logCPM": fit["ave_log_cpm"]}, index=counts.index)
    for k, i in enumerate(tested):
        table[f"log2FC_{names[i]}"] = res["logFC"][:, k]
    table["stat"], table["pvalue"], table["padj"] = res["F"], res["pvalue"], benjamini_hochberg(res["pvalue"])
    table["df_total"] = res["df_total"]
    log.info("QL F test of %s (%d of %d coefficients) against %s: %d genes, %d at padj < 0.05", design,
             len(tested), len(names), reduced, len(table), int((table["padj"] < 0.05).sum()))
    return table


def dispersion_table(genes: pd.Index, disp: dict, fit: dict) -> pd.DataFrame:
    """:data:`DISPERSION_COLUMNS` of one fit: ``disp`` from :func:`lsecflow.edger.estimate_disp`, ``fit`` from
    :func:`lsecflow.edger.ql_fit` (its QL quantities do not depend on which level is the base)."""
    n = len(genes)
    return pd.DataFrame({"gene_id": genes.astype(str), "logCPM": disp["ave_log_cpm"], "trended": disp["trended"],
                         "common": disp["common"], "s2": fit["s2"],
                         "s2_prior": np.broadcast_to(fit["var_prior"], n), "s2_post": fit["var_post"],
                         "df_prior": np.broadcast_to(fit["df_prior"], n), "df_residual": fit["df_residual_zeros"]})


def contrast_tables(counts: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict,
                    disp: dict | None = None, level: int = logging.INFO, lengths: pd.DataFrame | None = None
                    ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Each contrast's QL F test (index: ``counts``' genes), one ``glmQLFit`` per base level, and the
    dispersion table of the fit (:func:`dispersion_table`; dispersions estimated here unless ``disp`` is given);
    the summary logged at ``level`` (refits: DEBUG); ``lengths``: as :func:`scaling`."""
    x = counts.to_numpy(dtype=float)
    scale = scaling(x, lengths)
    t0 = time.time()
    if disp is None:
        try:
            disp = estimate_disp(x, np.asarray(limma.design_matrix(meta, design)), scale.lib_size, offset=scale.offset)
        except InputDataError as exc:  # locfit's trend over too few genes
            raise UnfittableFit(f"edgeR's dispersion trend cannot be fitted on these {x.shape[0]} genes ({exc}); "
                                "lower de.min_count / de.min_samples to bring in more genes") from exc
    fits, tables = [], {}
    for levels, group in by_bases(contrasts):
        dm = limma.design_matrix(meta, design, levels)
        fit = ql_fit(x, np.asarray(dm), disp["trended"], scale.lib_size, disp["ave_log_cpm"], opts.get("robust", False),
                     scale.offset)
        fits.append(fit)
        names = list(dm.design_info.column_names)
        for name in group:
            wanted = coefficient(names, contrasts[name], name)
            tables[name] = _contrast_table(fit, names.index(wanted), counts.index, opts.get("lfc_threshold", 0.0))
    tables = {name: tables[name] for name in contrasts}
    first = fits[0]
    log.log(level, "edgeR QL: %d genes x %d samples, %d contrasts from %d fit(s) in %.1f s; common dispersion %.4g "
             "(BCV %.3f), trended %.4g-%.4g, QL prior df %s (robust %s)", *x.shape, len(contrasts), len(fits),
             time.time() - t0, disp["common"], np.sqrt(disp["common"]), disp["trended"].min(),
             disp["trended"].max(), _df_text(first["df_prior"]), opts.get("robust", False))
    return tables, dispersion_table(counts.index, disp, first)


def _df_text(df_prior) -> str:
    d = np.atleast_1d(np.asarray(df_prior, dtype=float))
    return f"{d[0]:.4g}" if d.size == 1 else f"{np.median(d):.4g} (median)"


def edger_tables(counts: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict,
                 symbols: pd.Series, lengths: pd.DataFrame | None = None) -> EdgerResult:
    """Every contrast's edgeR QL table, the log CPM and with ``de.test: lrt`` the design test.

    Parameters
    ----------
    counts
        Genes x samples raw counts, through the pre-filter, columns in ``meta``'s order.
    meta
        Design columns as categoricals (:func:`lsecflow.formula.design_metadata`).
    contrasts
        name -> ``{variable, target, reference}``.
    opts
        The dataset's ``de`` block (``robust``, ``test``, ``reduced``).
    symbols
        Gene symbol per gene id.
    lengths
        tximport's average transcript lengths, as ``counts`` (``counts.from_abundance: "no"``): offsets
        (:func:`scaling`).
    """
    x = counts.to_numpy(dtype=float)
    scale = scaling(x, lengths)
    if lengths is None:
        log.info("edgeR: TMM factors %s", ", ".join(f"{f:.3f}" for f in scale.lib_size / x.sum(axis=0)))
    else:
        log.info("edgeR: offsets from tximport's average transcript lengths (counts.from_abundance: no) and TMM "
                 "factors of the length-corrected counts, as tximport's recipe for edgeR")
    stats, dtable = contrast_tables(counts, meta, design, contrasts, opts, lengths=lengths)
    tables = {name: sort_results(with_ids(t, symbols)[COLUMNS]) for name, t in stats.items()}
    ftable = None
    if opts.get("test") == "lrt":
        disp = {"trended": dtable["trended"].to_numpy(), "ave_log_cpm": dtable["logCPM"].to_numpy()}
        ftable = design_test_table(design_test(counts, meta, design, opts["reduced"], opts, disp, lengths), symbols)
        tables = {name: with_design_test(t, ftable) for name, t in tables.items()}
    sizes = scale.cpm_sizes
    lc = pd.DataFrame(log_cpm(x, sizes), index=counts.index, columns=counts.columns)
    cpm = pd.DataFrame(x / np.atleast_2d(sizes) * 1e6, index=counts.index, columns=counts.columns)
    return EdgerResult(tables, lc, ftable, dtable, cpm)


def run_de_edger(counts_h5ad: str, params: dict, outputs: dict, *, lrt: dict | None = None,
                 cell_type: str | None = None, dispersions: str | None = None) -> dict[str, pd.DataFrame]:
    """Rule entry point of ``de.engine: edger``: fit and write every contrast's files (``outputs``:
    ``{contrast: {kind: path}}``, as :func:`lsecflow.de.run_de`); ``lrt``: ``{"table": path, "summary": path}``
    of the design test with ``de.test: lrt``; ``dispersions``: the fit's :data:`DISPERSION_COLUMNS` (header only
    when no contrast was testable)."""
    spec = params["spec"]
    opts = spec["de"]
    adata, tested, results = fit_start(counts_h5ad, params, outputs, cell_type, "edgeR")
    if not tested:
        write_untested(params, cell_type, lrt, {dispersions: DISPERSION_COLUMNS})
        return results
    try:
        counts, meta, contrasts, symbols, lengths = count_unit(adata, params, tested)
        tables, lc, ftable, dtable, normalized = edger_tables(counts, meta, spec["design"], contrasts, opts, symbols,
                                                              lengths)
    except UnfittableFit as exc:
        skip_unfittable(exc, params, cell_type, outputs, tested, lrt, {dispersions: DISPERSION_COLUMNS})
        return results
    if dispersions:
        write_tsv_atomic(dtable, dispersions)
    write_shared({"normalized": normalized.rename_axis("gene_id").reset_index(),
                  "vst": lc.rename_axis("gene_id").reset_index()}, outputs, tested)
    for name in tested:
        results[name] = tables[name]
        write_tested(outputs[name], name, tables[name], opts, group_sizes(meta, spec["contrasts"][name]))
    if lrt is not None:
        write_lrt(ftable, spec, lrt, "QL F")

    def refit(keep, names):  # leave-one-out: TMM (offsets), dispersions and the QL fits redone on the kept samples
        stats, _ = contrast_tables(counts.loc[:, keep], meta.loc[keep], spec["design"],
                                   {n: contrasts[n] for n in names}, opts, level=logging.DEBUG,
                                   lengths=None if lengths is None else lengths.loc[:, keep])
        return stats

    write_loo(leave_one_out(lc, meta, spec["design"], contrasts, opts, tables, loo_factors(spec), refit=refit),
              outputs)
    return results
