"""Differential expression with DESeq2 (the ``inmoose.deseq2`` port): bulk, and pseudobulk per cell type.

One model is fitted per design (per dataset; per cell type for pseudobulk)
and every contrast's table is extracted from it, as DESeq2's
``results(dds, contrast = c(variable, target, reference))``. Cook's
filtering, independent filtering, outlier replacement, the likelihood
ratio test and ``lfcShrink(type = "normal")`` are DESeq2's own (ported
line by line in inmoose); the apeGLM-type prior is :mod:`lsecflow.shrink`.

Results must not depend on things that carry no information: samples are
put in a canonical order (samples and genes sorted by id) before fitting, and the levels of
each design factor are ordered by role (the first contrast's reference is
the base level) and then by first appearance among the sorted samples,
never by their names.
"""
from __future__ import annotations

import logging
import time

import anndata as ad
import numpy as np
import pandas as pd

from .calls import group_sizes, is_significant, sort_results
from .contrasts import describe, deseq2_contrast
from .de_files import (
    LOO_COLUMNS,
    loo_factors,
    write_loo,
    write_lrt,
    write_shared,
    write_tested,
)
from .de_inputs import fit_start, model_inputs, skip_unfittable, write_untested
from .de_options import shrink_method
from .deseq2 import as_in_r, quiet_inmoose, tx_length_factors
from .deseq2_kernels import kernels
from .deseq2_local import DISPERSION_COLUMNS, dispersion_table, residual_note, variance_stabilized
from .errors import InputDataError, UnfittableFit
from .files import write_tsv_atomic
from .shrink import shrink_contrast
from .transcripts import TX_LENGTH_LAYER
from .trust import leave_one_out, refit_plan

log = logging.getLogger(__name__)


def fit_model(adata: ad.AnnData, design: str, design_columns: list[str], opts: dict, *,
              contrasts: dict | None = None):
    """Pre-filter genes and fit DESeq2's model once for a design.

    Parameters
    ----------
    adata
        Samples x genes raw counts; ``obs`` holds the design columns and
        ``var`` ``gene_id`` and ``symbol``.
    design
        Formula already checked by :func:`lsecflow.formula.parse_design`.
    design_columns
        Columns the design uses.
    opts
        The dataset's ``de`` block: ``min_count``, ``min_samples``,
        ``fit_type``, ``size_factors``, ``test`` and ``reduced``.
    contrasts
        The dataset's contrasts (they choose each factor's base level).

    Returns
    -------
    inmoose.deseq2.DESeqDataSet
        Fitted as ``DESeq(dds, fitType, sfType, test, reduced)``, samples
        sorted by id; ``var['symbol']`` carries the gene symbols.
    """
    from inmoose.deseq2 import DESeq, DESeqDataSet

    sub, counts, meta = model_inputs(adata, design_columns, opts, contrasts, design)
    test, fit_type, sf_type = opts.get("test", "wald"), opts.get("fit_type", "parametric"), opts.get("size_factors", "ratio")
    if sf_type == "ratio" and (counts.to_numpy() == 0).any(axis=0).all():
        raise UnfittableFit(f"every one of the {counts.shape[1]} genes through the pre-filter has a zero count in at "
                            f"least one of the {counts.shape[0]} samples, so DESeq2's median-of-ratios size factors "
                            "(de.size_factors: ratio) cannot be computed; set de.size_factors: poscounts, DESeq2's "
                            "estimator for zero-heavy data such as the pseudobulk of a sparse cell type")
    t0 = time.time()
    how = dict(test="LRT", reduced=opts["reduced"]) if test == "lrt" else {}
    # inmoose 0.9.1 lacks nbinomLRT and the local trend, and runs its optim fallback differently from R:
    # as_in_r supplies all three
    dds = DESeqDataSet(counts, meta, design=design)
    if TX_LENGTH_LAYER in sub.layers:  # DESeqDataSetFromTximport: transcript lengths as normalisation factors
        lengths = np.asarray(sub.layers[TX_LENGTH_LAYER], dtype=float)
        dds.layers[TX_LENGTH_LAYER] = lengths
        dds.normalizationFactors = tx_length_factors(counts.to_numpy(), lengths, sf_type)
        log.info("normalisation factors from tximport's average transcript lengths (counts.from_abundance: no), "
                 "as DESeqDataSetFromTximport; size factors %s", sf_type)
    try:
        with quiet_inmoose(), as_in_r():
            dds = DESeq(dds, quiet=True, fitType=fit_type, sfType=sf_type, **how)
    except InputDataError as exc:  # the local dispersion trend (lsecflow.locfit) cannot be fitted on these genes
        raise UnfittableFit(f"DESeq2's dispersion trend cannot be fitted on these {counts.shape[1]} genes ({exc}); "
                            "de.fit_type: mean takes the mean dispersion instead") from exc
    except ValueError as exc:
        if "within 2 orders of magnitude" not in str(exc):
            raise
        raise UnfittableFit(f"every gene-wise dispersion of these {counts.shape[1]} genes through the pre-filter is "
                            "within 2 orders of magnitude of DESeq2's minimum (1e-8): their counts vary no more than "
                            "Poisson noise, so no dispersion trend, of any de.fit_type, can be fitted (R's DESeq2 "
                            "stops here too); lower de.min_count / de.min_samples to bring in more genes, or use "
                            "de.engine: edger") from exc
    fitted = dds.dispersionFunction.fitType
    if fitted != fit_type:  # DESeq2's own fallback, parametric -> local
        log.warning("the parametric dispersion trend (a/mean + b) did not fit these genes: DESeq2's local "
                    "regression trend substituted, as R does (set de.fit_type: local or mean to choose)")
        fit_type = fitted
    dds.var["symbol"] = sub.var["symbol"].astype(str).to_numpy()
    dds.uns["lsecflow_fit"] = {"fit_type": fit_type, "size_factors": sf_type}
    replaced = int(dds.var["replace"].fillna(False).astype(bool).sum()) if "replace" in dds.var else 0
    log.info("model %s (%s test%s, fitType %s, sfType %s) fitted on %d samples x %d genes in %.1f s; "
             "levels %s; %d genes refitted after Cook's outlier replacement", design, "LRT" if test == "lrt" else "Wald",
             f" against {opts['reduced']}" if test == "lrt" else "", fit_type, sf_type,
             dds.n_obs, dds.n_vars, time.time() - t0,
             {c: list(meta[c].cat.categories) if isinstance(meta[c].dtype, pd.CategoricalDtype) else "numeric"
              for c in design_columns}, replaced)
    return dds


def _results(dds, opts: dict, **kwargs) -> pd.DataFrame:
    """DESeq2 ``results()`` with the dataset's filtering options, as a plain DataFrame; a Wald test with
    ``de.lfc_threshold`` > 0 tests ``|log2FC| > threshold`` (``lfcThreshold``, ``altHypothesis =
    "greaterAbs"``: ``stat`` and the p-values are the thresholded test's, as in DESeq2)."""
    if opts.get("test", "wald") == "wald" and opts.get("lfc_threshold", 0):
        kwargs["lfcThreshold"] = float(opts["lfc_threshold"])
    with quiet_inmoose(), kernels():
        res = dds.results(alpha=opts["independent_filter_alpha"], independentFiltering=opts["independent_filter"],
                          cooksCutoff=None if opts["cooks_filter"] else False, **kwargs)
    threshold = getattr(res, "filterThreshold", None)
    res = pd.DataFrame(res).rename(columns={"adj_pvalue": "padj"})
    res = res[["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]]
    if opts["cooks_filter"]:
        log.info("Cook's distance: %d genes flagged as outliers (p-value set to NA)",
                 int((res["pvalue"].isna() & res["baseMean"].gt(0)).sum()))
    if opts["independent_filter"] and threshold is not None:
        log.info("independent filtering: baseMean threshold %.4g, %d genes filtered", float(threshold),
                 int((res["pvalue"].notna() & res["padj"].isna()).sum()))
    return res


def _table(dds, res: pd.DataFrame) -> pd.DataFrame:
    res = res.copy()
    res.insert(0, "symbol", dds.var["symbol"].reindex(res.index).to_numpy())
    res.insert(0, "gene_id", res.index.astype(str))
    return sort_results(res.reset_index(drop=True))


def contrast_results(dds, contrast: dict, opts: dict) -> pd.DataFrame:
    """DESeq2 ``results(dds, contrast = c(variable, target, reference))`` for one contrast (``within`` or
    ``interaction``: the numeric contrast of :func:`lsecflow.contrasts.deseq2_contrast`).

    After ``test: lrt`` the statistic and p-values are the LRT's (as in
    DESeq2); the fold changes are the contrast's. With ``opts['shrink']``
    (``normal`` or ``apeglm``), ``log2FoldChange_shrunk`` and
    ``lfcSE_shrunk`` are added; the other columns stay the MLE's.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`lsecflow.de_files.RESULT_COLUMNS` (plus the shrunk ones); sorted by
        padj, pvalue, gene_id.
    """
    res = _results(dds, opts, contrast=deseq2_contrast(dds, contrast))
    method = shrink_method(opts)
    if method:
        t0 = time.time()
        lfc, se = shrink_contrast(dds, contrast, res, method)
        res["log2FoldChange_shrunk"], res["lfcSE_shrunk"] = lfc, se
        log.info("LFC shrinkage (%s) of %s in %.1f s", method, describe(contrast), time.time() - t0)
    return _table(dds, res)


def lrt_results(dds, opts: dict) -> pd.DataFrame:
    """DESeq2 ``results(dds)`` after ``DESeq(test = "LRT", reduced = ...)``.

    ``stat`` is the deviance difference of full and reduced model,
    ``pvalue`` its chi-squared p-value; ``log2FoldChange`` is DESeq2's
    default coefficient (last level of the last design column over its base).
    """
    return _table(dds, _results(dds, opts))


def normalized_and_vst(dds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalised counts and VST (genes x samples, index ``gene_id``).

    The VST applies the design's fitted dispersion trend (DESeq2's
    ``vst(blind = FALSE)``, via ``getVarianceStabilizedData``); no refit.
    """
    normalized = pd.DataFrame(np.asarray(dds.counts(normalized=True), dtype=float).T, index=dds.var_names,
                              columns=dds.obs_names)
    vst = pd.DataFrame(variance_stabilized(dds).T, index=dds.var_names,
                       columns=dds.obs_names)
    for df in (normalized, vst):
        df.index.name = "gene_id"
    return normalized, vst


def leave_one_out_tables(dds, adata: ad.AnnData, params: dict, tables: dict[str, pd.DataFrame],
                         symbols=None) -> dict[str, pd.DataFrame]:
    """Leave-one-out refits of each contrast's significant genes (padj < alpha, |log2FC| >
    lfc_threshold) whose symbol is in ``symbols`` (None: none), per contrast.

    ``paracrine.robustness_refit``: ``held_prior`` refits those genes under the full fit's dispersion
    prior (:func:`lsecflow.trust.leave_one_out`; padj is left to the paracrine step); ``full`` refits
    the whole model on the remaining samples (:func:`fit_model`, every gene, BH over all of them).
    """
    spec = params["spec"]
    opts, contrasts = spec["de"], {name: spec["contrasts"][name] for name in tables}
    out = {name: pd.DataFrame(columns=LOO_COLUMNS) for name in tables}
    if symbols is None:
        return out
    genes = {name: list(t.loc[is_significant(t, opts["alpha"], opts["lfc_threshold"])
                              & t["symbol"].astype(str).isin(symbols), "gene_id"]) for name, t in tables.items()}
    t0 = time.time()
    if spec["paracrine"]["robustness_refit"] == "held_prior":
        loo = leave_one_out(dds, spec["design"], contrasts, genes, opts.get("lfc_threshold", 0)).assign(padj=np.nan)
    else:
        parts = []
        for s, names in refit_plan(dds.obs[params["design_columns"]], contrasts, genes).items():
            sub = adata[adata.obs_names.astype(str) != s].copy()
            try:
                fit = fit_model(sub, spec["design"], params["design_columns"], opts, contrasts=spec["contrasts"])
            except (InputDataError, ValueError, np.linalg.LinAlgError) as exc:
                log.warning("leave-one-out: no refit without %s (%s); the candidates are judged on the others", s, exc)
                continue
            for name in names:
                res = contrast_results(fit, contrasts[name], opts).set_index("gene_id").reindex(genes[name])
                parts.append(pd.DataFrame({"contrast": name, "gene_id": genes[name], "left_out": s,
                                           "log2FoldChange": res["log2FoldChange"].to_numpy(dtype=float),
                                           "pvalue": res["pvalue"].to_numpy(dtype=float),
                                           "padj": res["padj"].to_numpy(dtype=float)}))
        loo = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["contrast", *LOO_COLUMNS])
    log.info("leave-one-out (%s refits): %s significant annotated factors refitted without each of %d samples "
             "in %.1f s", spec["paracrine"]["robustness_refit"], " + ".join(str(len(g)) for g in genes.values()),
             loo["left_out"].nunique(), time.time() - t0)
    for name, part in loo.groupby("contrast", sort=False):
        part = part.copy()
        part.insert(0, "symbol", part["gene_id"].map(tables[name].set_index("gene_id")["symbol"]))
        out[name] = part[LOO_COLUMNS].reset_index(drop=True)
    return out


def run_de(counts_h5ad: str, params: dict, outputs: dict, *, lrt: dict | None = None,
           cell_type: str | None = None, dispersions: str | None = None) -> dict[str, pd.DataFrame]:
    """Rule entry point: fit one design and write every contrast's table from it.

    Parameters
    ----------
    counts_h5ad
        ``counts.h5ad`` (bulk) or ``pseudobulk.h5ad`` (single-cell).
    params
        ``Dataset.params(rule="de")``.
    outputs
        ``{contrast: {kind: path}}`` for every contrast, kinds
        :data:`lsecflow.de_files.OUTPUT_KINDS` (TSV; ``.gz`` compresses, byte-stable). ``loo``:
        the leave-one-out refits of the significant genes that are paracrine
        factors (:func:`leave_one_out_tables`; empty with ``paracrine.enabled``
        or ``paracrine.robustness`` false), read by the paracrine step.
    lrt
        ``{"table": path, "summary": path}`` for ``de.test: lrt``.
    cell_type
        Folder name (slug) of the cell type, for pseudobulk data.
    dispersions
        The fit's dispersion table (:func:`lsecflow.deseq2_local.dispersion_table`,
        what the dispersion plot draws); empty when no contrast is testable.

    Returns
    -------
    dict
        ``{contrast: results table}`` (empty for skipped contrasts).
    """
    spec = params["spec"]
    opts = spec["de"]
    adata, tested, results = fit_start(counts_h5ad, params, outputs, cell_type, "DESeq2")
    if not tested:
        write_untested(params, cell_type, lrt, {dispersions: DISPERSION_COLUMNS})
        return results
    try:
        dds = fit_model(adata, spec["design"], params["design_columns"], opts, contrasts=spec["contrasts"])
    except UnfittableFit as exc:
        skip_unfittable(exc, params, cell_type, outputs, tested, lrt, {dispersions: DISPERSION_COLUMNS})
        return results
    if dispersions:
        table = dispersion_table(dds)
        log.info("dispersion trend %s (the smaller, the closer a trend follows the genes; de.fit_type "
                 "chooses)", residual_note(table))
        write_tsv_atomic(table, dispersions)
    normalized, vst = normalized_and_vst(dds)
    write_shared({"normalized": normalized.reset_index(), "vst": vst.reset_index()}, outputs, tested)
    for name in tested:
        contrast = spec["contrasts"][name]
        log.info("contrast %s: %s", name, describe(contrast))
        results[name] = contrast_results(dds, contrast, opts)
        write_tested(outputs[name], name, results[name], opts, group_sizes(adata.obs, contrast))
    write_loo(leave_one_out_tables(dds, adata, params, {n: results[n] for n in tested}, loo_factors(spec)), outputs)
    if lrt is not None:
        write_lrt(lrt_results(dds, opts), spec, lrt)
    return results

