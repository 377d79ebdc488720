"""Differential abundance of proteins (``assay: proteomics``): the preprocessing of
:mod:`lsecflow.proteomics`, then limma's moderated tests (:mod:`lsecflow.limma`) for every contrast.

The files are those of the counts path (:data:`lsecflow.de_files.OUTPUT_KINDS`): the table, its summary,
``normalized`` and ``vst`` (both the matrix the tests saw: log2, filtered, normalised, imputed where
configured; missing cells empty), and ``loo`` -- limma refits of the significant annotated factors with
each sample left out (the whole fit redone on the other samples, BH among all proteins).
"""
from __future__ import annotations

import logging
import time

import anndata as ad
import numpy as np
import pandas as pd

from . import limma
from .calls import group_sizes, is_significant, sort_results
from .contrasts import group_masks, too_few
from .de_files import (
    LOO_COLUMNS,
    design_test_table,
    loo_factors,
    with_design_test,
    write_block,
    write_loo,
    write_lrt,
    write_shared,
    write_tested,
)
from .de_inputs import check_fittable, fit_samples
from .de_options import deqms_method
from .errors import InputDataError
from .files import write_tsv_atomic
from .formula import design_metadata
from .limma_block import Block, block_labels
from .limma_weights import array_weights, log_sample_weights
from .lrdb import factor_symbols
from .proteomics import preprocess_dataset
from .trust import refit_plan

log = logging.getLogger(__name__)


def protein_tables(values: pd.DataFrame, imputed: pd.DataFrame, var: pd.DataFrame, obs: pd.DataFrame,
                   stats: dict[str, pd.DataFrame], contrasts: dict) -> dict[str, pd.DataFrame]:
    """The limma statistics with each protein's names, its observed / imputed value counts and, where the
    table gives one (``proteomics.count_column``), its ``peptide_count``."""
    out = {}
    observed = values.notna() & ~imputed
    for name, t in stats.items():
        c = contrasts[name]
        target, reference = group_masks(obs.loc[values.columns], c)
        t = t.copy()
        t.insert(0, "description", var.loc[t.index, "description"].astype(str).to_numpy())
        t.insert(0, "symbol", var.loc[t.index, "symbol"].astype(str).to_numpy())
        t.insert(0, "gene_id", t.index.astype(str))
        t["n_valid_target"] = observed.loc[:, target].sum(axis=1).to_numpy()
        t["n_valid_reference"] = observed.loc[:, reference].sum(axis=1).to_numpy()
        t["n_imputed"] = imputed.loc[:, target | reference].sum(axis=1).to_numpy()
        extra = []
        if "count" in var.columns:
            t["peptide_count"], extra = var.loc[t.index, "count"].to_numpy(), ["peptide_count"]
        out[name] = sort_results(t[limma.RESULT_COLUMNS + extra].reset_index(drop=True))
    return out


def peptide_counts(var: pd.DataFrame, proteins: pd.Index, spec: dict) -> pd.Series | None:
    """The tested proteins' peptide / PSM counts for ``de.deqms`` (None when DEqMS is off); a tested protein
    without a count is an error naming it and the column (DEqMS stops on NA too)."""
    if not deqms_method(spec["de"]):
        return None
    count = var["count"].reindex(proteins).astype(float)
    if count.isna().any():
        raise InputDataError(f"proteomics.count_column {spec['proteomics']['count_column']!r} has no count for "
                             f"{int(count.isna().sum())} "
                             f"tested protein(s) (first: {count.index[count.isna()][0]!r}); DEqMS needs one for "
                             "every protein it tests")
    return count


def leave_one_out(values: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict,
                  tables: dict[str, pd.DataFrame], symbols: set | None,
                  count: pd.Series | None = None, prepare=None, refit=None) -> dict[str, pd.DataFrame]:
    """Per contrast, its significant annotated factors refitted with each sample of its groups left out
    (:func:`refit_without_each`)."""
    out = {name: pd.DataFrame(columns=LOO_COLUMNS) for name in tables}
    if symbols is None:
        return out
    genes = {}
    for name, t in tables.items():
        sig = is_significant(t, opts["alpha"], opts["lfc_threshold"])
        genes[name] = list(t.loc[sig & factor_symbols(t["symbol"], symbols).isin(symbols), "gene_id"])
    t0 = time.time()
    refits = refit_without_each(values, meta, design, contrasts, opts, genes, count, prepare, refit)
    log.info("leave-one-out (%s refits): %s significant annotated factors refitted in %.1f s",
             "limma" if refit is None else "edgeR", " + ".join(str(len(g)) for g in genes.values()), time.time() - t0)
    for name, part in refits.groupby("contrast", sort=False):
        part = part.assign(symbol=part["gene_id"].map(tables[name].set_index("gene_id")["symbol"]))
        out[name] = part[LOO_COLUMNS].reset_index(drop=True)
    return out


def refit_without_each(values: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict,
                       features: dict[str, list[str]], count: pd.Series | None = None, prepare=None, refit=None,
                       what: str = "proteins") -> pd.DataFrame:
    """Each contrast's ``features`` (name -> ids of ``values``' rows) refitted with each sample of its groups left
    out (one limma fit per left-out sample serves every contrast whose groups hold it): rows ``contrast``,
    ``gene_id``, ``left_out``, ``log2FoldChange``, ``pvalue``, ``padj`` (the refit's own, over every row of
    ``values``).

    ``prepare(keep)`` (``keep``: a mask over ``values``' columns) gives the refit's ``(values, weights,
    block)`` when they depend on the samples (voom: :func:`lsecflow.de_voom.voom_matrices`; proteins:
    :func:`protein_weights`); by default the kept columns of ``values``, unweighted, without blocks. A sample
    without which the design cannot be fitted (:func:`lsecflow.de_inputs.check_fittable`: a batch left empty,
    columns confounded) gets no refit, with a warning, as in :func:`lsecflow.trust.leave_one_out`.
    ``refit(keep, names)`` replaces limma altogether (edgeR: :func:`lsecflow.de_edger.contrast_tables` on the
    kept samples' counts): it returns the named contrasts' tables (index: feature ids). ``what``: the rows, for
    limma's log (cell types for :mod:`lsecflow.composition`)."""
    parts = []
    for sample, names in refit_plan(meta, contrasts, features).items():
        keep = values.columns != sample
        try:
            check_fittable(meta.loc[keep], design)  # as the DESeq2 engine's refits: none on a design it cannot carry
            if refit is not None:
                stats = refit(keep, names)
            else:
                kept, weights, blocked = (values.loc[:, keep], None, None) if prepare is None else prepare(keep)
                stats, _ = limma.contrast_tables(kept, meta.loc[keep], design, {n: contrasts[n] for n in names},
                                                 opts, count, weights, blocked, features=what)
        except (ValueError, np.linalg.LinAlgError) as exc:
            log.warning("leave-one-out: no refit without %s (%s); the candidates are judged on the others", sample, exc)
            continue
        for name in names:
            res = stats[name].reindex(features[name])
            parts.append(pd.DataFrame({"contrast": name, "gene_id": features[name], "left_out": sample,
                                       "log2FoldChange": res["log2FoldChange"].to_numpy(),
                                       "pvalue": res["pvalue"].to_numpy(), "padj": res["padj"].to_numpy()}))
    columns = ["contrast", "gene_id", "left_out", "log2FoldChange", "pvalue", "padj"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def against_least_squares(values: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict,
                          stats: dict[str, pd.DataFrame], count: pd.Series | None = None,
                          weights: pd.DataFrame | None = None) -> None:
    """``de.lm_method: robust``: each contrast's calls (``stats``) against least squares on the same matrix, logged,
    as a warning where the robust fit calls over a quarter more (and 5 more): M-estimation on a few samples per
    group shrinks the residual variances (on UPS1's planted truth, 128 calls against 83, the 45 extra all yeast,
    i.e. false; on the secretome's ~ cell_type * group, 234 against 55; docs/proteomics.md)."""
    ls, _ = limma.contrast_tables(values, meta, design, contrasts, {**opts, "lm_method": "ls"}, count, weights)
    for name in contrasts:
        n = [int(is_significant(t[name], opts["alpha"], opts["lfc_threshold"]).sum()) for t in (stats, ls)]
        many = n[0] > 1.25 * n[1] + 5
        log.log(logging.WARNING if many else logging.INFO,
                "contrast %r: the robust lmFit calls %d proteins, least squares on the same matrix %d%s", name, *n,
                "; with few samples per group M-estimation shrinks the residual variances, and on planted truth "
                "(UPS1) its extra calls were all false (docs/proteomics.md): read them with care" if many else "")


def protein_weights(values: pd.DataFrame, meta: pd.DataFrame, design: str, opts: dict, labels: pd.Series | None
                    ) -> tuple[pd.DataFrame | None, pd.Series | None, Block | None]:
    """What the protein fit weighs and blocks by: with ``de.sample_weights`` limma's ``arrayWeights(E, design)``
    (:func:`lsecflow.limma_weights.array_weights`, method "auto"; as observation weights, each protein's row the
    samples' weights), with ``de.block`` the within-block correlation (estimated with those weights, as limma's
    duplicateCorrelation reads an EList's). Returns (observation weights or None, sample weights or None, block or
    None)."""
    samples = None
    weights = None
    if opts.get("sample_weights"):
        aw = array_weights(values.to_numpy(dtype=float), np.asarray(limma.design_matrix(meta, design)))
        samples = pd.Series(aw, index=values.columns, name="weight")
        weights = pd.DataFrame(np.broadcast_to(aw, values.shape), index=values.index, columns=values.columns)
    return weights, samples, limma.block_of(values, meta, design, labels, weights)


def run_de_proteomics(counts_h5ad: str, params: dict, outputs: dict, *, seed: int = 0, lrt: dict | None = None,
                      cell_type: str | None = None, block: str | None = None,
                      sample_weights: str | None = None) -> dict[str, pd.DataFrame]:
    """Rule entry point of a proteomics dataset: preprocess, fit once per base level, write every
    contrast's files (``outputs``: ``{contrast: {kind: path}}``, as :func:`lsecflow.de.run_de`).

    ``lrt``: ``{"table": path, "summary": path}`` of the design test with ``de.test: lrt`` (limma's moderated F,
    :func:`lsecflow.limma.design_test`). ``cell_type`` is not used by this assay. ``block``: where the within-block
    correlation of ``de.block`` is written (:func:`lsecflow.de_files.write_block`); ``sample_weights``: where
    ``de.sample_weights``' arrayWeights are (TSV: sample, weight)."""
    spec = params["spec"]
    opts = {**spec["de"]}
    adata = fit_samples(ad.read_h5ad(counts_h5ad), params, cell_type)
    for name, c in spec["contrasts"].items():
        problem = too_few(adata.obs, c, "limma")
        if problem:
            raise InputDataError(f"contrast {name!r}: {problem}")
    _, obs, pre = preprocess_dataset(adata, spec, seed)
    meta = design_metadata(obs, params["design_columns"], spec["contrasts"])
    var = adata.var.set_index(adata.var_names.astype(str))
    count = peptide_counts(var, pre.values.index, spec)
    labels = block_labels(obs, opts.get("block"))
    weights, samples, blocked = protein_weights(pre.values, meta, spec["design"], opts, labels)
    if samples is not None:
        log_sample_weights(samples)
    if blocked is not None:
        log.info("limma with blocks: %s", blocked.describe())
    stats, _ = limma.contrast_tables(pre.values, meta, spec["design"], spec["contrasts"], opts, count, weights,
                                     blocked)
    if opts.get("lm_method") == "robust":
        against_least_squares(pre.values, meta, spec["design"], spec["contrasts"], opts, stats, count, weights)
    tables = protein_tables(pre.values, pre.imputed, var, obs, stats, spec["contrasts"])
    if lrt is not None:  # de.test: lrt, limma's moderated F test of the terms de.reduced drops
        first = next(iter(tables.values()))
        symbols = pd.Series(first["symbol"].to_numpy(), index=first["gene_id"].astype(str))
        ftable = design_test_table(limma.design_test(pre.values, meta, spec["design"], opts["reduced"], opts,
                                                     weights, blocked), symbols)
        tables = {name: with_design_test(t, ftable) for name, t in tables.items()}
        write_lrt(ftable, spec, lrt, "moderated F")
    matrix = pre.values.rename_axis("gene_id").reset_index()
    write_shared({"normalized": matrix, "vst": matrix}, outputs, list(spec["contrasts"]))
    for name in spec["contrasts"]:
        write_tested(outputs[name], name, tables[name], opts, group_sizes(meta, spec["contrasts"][name]))
    if block:
        write_block(blocked, block)
    if sample_weights:
        write_tsv_atomic(samples.rename_axis("sample").reset_index(), sample_weights)

    def refit(keep):  # leave-one-out: the sample weights and the block correlation estimated again
        kept = pre.values.loc[:, keep]
        w, _, b = protein_weights(kept, meta.loc[keep], spec["design"], opts, labels)
        return kept, w, b

    write_loo(leave_one_out(pre.values, meta, spec["design"], spec["contrasts"], opts, tables, loo_factors(spec),
                            count, prepare=refit), outputs)
    return tables
