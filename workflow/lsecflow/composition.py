"""Do the cell-type proportions change between conditions? speckle's ``propeller`` (Phipson et al. 2022,
Bioinformatics 38:4720), under the dataset's design and contrasts.

Per sample, the cells of each type (passing QC, ``qc.exclude`` left out) are counted; the proportions are
transformed -- ``logit`` of ``(n + 0.5) / (N + 0.5 k)`` (k cell types) or ``asin`` (arcsine square root of
``n / N``) -- and limma is fitted to them with cell types as features (``lmFit``, ``eBayes(robust = TRUE)``;
robust is turned off below 3 cell types, as propeller does). Each contrast is one coefficient of the design
(:func:`lsecflow.limma.contrast_tables`): for ``~ group`` and a plain contrast this is ``propeller``'s t-test,
with covariates ``propeller.ttest`` on ``~ 0 + group + covariates``; ``within``, ``interaction`` and slope
contrasts come from the same fit. With ``de.block`` (limma engines) the samples of a block are correlated, as in the
dataset's DE: ``duplicateCorrelation`` of the transformed proportions, then ``lmFit(block, correlation)``
(propeller takes no block; this is limma's blocked fit of its transformed proportions). Beside the test,
propeller's descriptive columns: the proportion of every cell in the dataset (``baseline_prop``), the mean of the
samples' proportions at the target and at the reference and their ratio (``prop_ratio``; not defined for slopes
and interactions).

Validated against R (speckle 0.99.7, limma 3.54.1) on the real Tabula Muris Senis cells:
``tests/data/composition/make_reference.R``, ``tests/unit/test_composition.py``.
"""
from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd

from . import limma, plots
from .contrasts import describe, group_masks, is_plain, too_few
from .de_inputs import check_fittable
from .de_proteomics import refit_without_each
from .errors import UnfittableFit
from .files import write_tsv_atomic
from .formula import design_metadata
from .limma_block import BlockError, block_labels
from .pseudobulk import qc_pass_mask
from .pseudobulk_plots import proportions_figure
from .trust import robustness_columns

log = logging.getLogger(__name__)

TRANSFORMS = ("logit", "asin")
LOO_COLUMNS = ["survives", "driven_by", "loo_unflagged", "loo_max_padj"]
COLUMNS = ["contrast", "cell_type", "n_cells", "baseline_prop", "prop_target", "prop_reference", "prop_ratio",
           "effect", "stat", "pvalue", "padj", "called", "df_total", *LOO_COLUMNS]
"""``effect``: the coefficient on the transformed scale (logit: a natural-log odds ratio; asin: a difference of
arcsine square roots; a slope: per unit); ``called``: padj < ``alpha`` (``de.alpha``). For a called cell type, the
call refitted without each sample of the contrast's groups in turn, as the paracrine candidates' check
(:func:`lsecflow.trust.robustness_columns`): ``survives`` (every refit keeps padj < alpha and the sign),
``driven_by`` (the sample whose removal moves it furthest, when one loses it), ``loo_unflagged`` ("k of n"
refits lose it), ``loo_max_padj``; empty for the cell types not called."""


def cell_counts(samples: pd.Series, cell_types: pd.Series, order: list[str] | None = None) -> pd.DataFrame:
    """Samples (rows, sorted) x cell types (columns: ``order``, else sorted): the number of cells, as R's
    ``table(sample, clusters)``; a sample without cells is not a row."""
    table = pd.crosstab(samples.astype(str).to_numpy(), cell_types.astype(str).to_numpy())
    table.index.name, table.columns.name = "sample", "cell_type"
    columns = list(order) if order is not None else sorted(table.columns)
    return table.reindex(columns=columns, fill_value=0).sort_index()


def transformed_proportions(counts: pd.DataFrame, transform: str = "logit") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(proportions, transformed)`` (samples x cell types), as speckle's ``getTransformedProps``: ``logit`` of
    the proportions with 0.5 added to every count, or ``asin`` of their square root."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform {transform!r}: expected one of {', '.join(TRANSFORMS)}")
    n = counts.to_numpy(dtype=float)
    props = n / n.sum(axis=1, keepdims=True)
    if transform == "asin":
        trans = np.arcsin(np.sqrt(props))
    else:
        pseudo = (n + 0.5) / (n + 0.5).sum(axis=1, keepdims=True)
        trans = np.log(pseudo / (1 - pseudo))
    return (pd.DataFrame(props, index=counts.index, columns=counts.columns),
            pd.DataFrame(trans, index=counts.index, columns=counts.columns))


def propeller(counts: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, transform: str = "logit",
              robust: bool = True, trend: bool = False, reduced: str | None = None, alpha: float = 0.05,
              block: pd.Series | None = None) -> dict[str, pd.DataFrame]:
    """Every contrast's test of the cell-type proportions (:data:`COLUMNS`, one row per cell type), and with
    ``reduced`` the moderated F test of the design's terms it lacks (``propeller.anova`` for ``~ group`` against
    ``~ 1``; :func:`lsecflow.limma.design_test`), under the key ``"<design> vs <reduced>"``: ``stat`` is F,
    ``effect`` and the group means are empty.

    Parameters
    ----------
    counts
        Samples x cell types, cells counted (:func:`cell_counts`); rows in ``meta``'s order.
    meta
        The samples' design columns as categoricals (:func:`lsecflow.formula.design_metadata`).
    design, contrasts
        The dataset's design formula and contrasts (name -> contrast).
    transform, robust, trend
        propeller's arguments (``composition.transform``, ``robust``, ``trend``).
    reduced
        ``de.reduced`` under ``de.test: lrt``, or None.
    alpha
        ``de.alpha``: the cell types called at it get the leave-one-out check (:data:`COLUMNS`).
    block
        ``de.block``: each sample's block (index: samples), or None. The consensus within-block correlation is
        estimated from the transformed proportions (and again for each leave-one-out refit) and logged.

    Returns
    -------
    dict
        Contrast name -> table, cell types in ``counts``' column order.
    """
    if counts.shape[1] < 2:
        raise UnfittableFit(f"{counts.shape[1]} cell type: proportions need at least 2")
    props, trans = transformed_proportions(counts, transform)
    if robust and counts.shape[1] <= 2:
        log.info("robust eBayes needs 3 or more cell types (%d here): robust off, as propeller", counts.shape[1])
        robust = False
    check_fittable(meta, design)
    opts = {"robust": robust, "trend": trend}
    blocked = limma.block_of(trans.T, meta, design, block)
    if blocked is not None:
        log.info("composition with blocks: %s", blocked.describe())
    stats, prior = limma.contrast_tables(trans.T, meta, design, contrasts, opts, block=blocked, features="cell types")
    baseline = counts.sum(axis=0) / counts.to_numpy().sum()
    out = {}
    for name, c in contrasts.items():
        t = stats[name]
        target, reference = group_masks(meta, c)
        two_groups = is_plain(c) or (bool(c.get("within")) and not c.get("interaction"))  # not a slope, no 2 x 2
        mean_t = props.loc[target].mean(axis=0) if two_groups else pd.Series(np.nan, index=props.columns)
        mean_r = props.loc[reference].mean(axis=0) if two_groups else pd.Series(np.nan, index=props.columns)
        out[name] = _table(name, counts, baseline, alpha, prop_target=mean_t.to_numpy(),
                           prop_reference=mean_r.to_numpy(), prop_ratio=(mean_t / mean_r).to_numpy(),
                           effect=t["log2FoldChange"].to_numpy(),
                           **{k: t[k].to_numpy() for k in ("stat", "pvalue", "padj", "df_total")})
    _leave_one_out(trans, meta, design, contrasts, opts, out, alpha, block)
    if reduced:
        f = limma.design_test(trans.T, meta, design, reduced, opts, block=blocked)
        name = f"{design} vs {reduced}"
        out[name] = _table(name, counts, baseline, alpha,
                           **{k: f[k].to_numpy() for k in ("stat", "pvalue", "padj", "df_total")})
    log.info("propeller (%s, eBayes robust %s, trend %s): %d cell types x %d samples; df.prior %.4g",
             transform, robust, trend, counts.shape[1], counts.shape[0], prior.get("df_prior", np.nan))
    return out


def _table(name: str, counts: pd.DataFrame, baseline: pd.Series, alpha: float, **columns) -> pd.DataFrame:
    """One test's :data:`COLUMNS` table: the cell types, their cells and baseline share, ``columns`` (the test's
    own), ``called`` at ``alpha``; the columns not given empty."""
    t = pd.DataFrame({"contrast": name, "cell_type": counts.columns, "n_cells": counts.sum(axis=0).to_numpy(),
                      "baseline_prop": baseline.to_numpy(), **columns}).reindex(columns=COLUMNS)
    t["called"] = t["padj"] < alpha
    return t


def _leave_one_out(trans: pd.DataFrame, meta: pd.DataFrame, design: str, contrasts: dict, opts: dict,
                   out: dict[str, pd.DataFrame], alpha: float, block: pd.Series | None = None) -> None:
    """Fill :data:`LOO_COLUMNS` of ``out``'s contrast tables (in place): the called cell types refitted without
    each sample that a contrast with a call can spare (its group keeps 2), by the limma engines' refits of the
    paracrine candidates (:func:`lsecflow.de_proteomics.refit_without_each`); with ``block``, each refit's
    within-block correlation estimated again from the samples it keeps."""
    called = {name: list(out[name].loc[out[name]["called"], "cell_type"]) for name in contrasts}
    values = trans.T

    def blocked_refit(keep):
        kept = values.loc[:, keep]
        return kept, None, limma.block_of(kept, meta.loc[keep], design, block)

    loo = refit_without_each(values, meta, design, contrasts, opts, called, what="cell types",
                             prepare=None if block is None else blocked_refit)
    for name in contrasts:
        t = out[name]
        cand = pd.DataFrame({"gene_id": t["cell_type"], "flagged": t["called"], "log2FoldChange": t["effect"]})
        rob = robustness_columns(cand, loo[loo["contrast"] == name], alpha, 0.0)
        for col in LOO_COLUMNS:
            t[col] = t["cell_type"].map(rob[col]).to_numpy() if len(rob) else np.nan
        if len(rob):
            log.info("composition %s: %d of %d calls survive leaving each sample out%s", name,
                     int(rob["survives"].sum()), len(rob),
                     "".join(f"; {ct} rests on {s}" for ct, s in rob["driven_by"].items() if s))


def _per_sample(obs: pd.DataFrame) -> pd.DataFrame:
    """The first cell's row of each sample of the cells' ``obs`` (the sample sheet's columns are joined onto every
    cell, so any cell of a sample carries them), indexed by sample, sorted."""
    return obs.assign(sample=obs["sample"].astype(str)).drop_duplicates("sample").set_index("sample").sort_index()


def sample_table(obs: pd.DataFrame, design_columns: list[str], contrasts: dict) -> pd.DataFrame:
    """One row per sample of the cells' ``obs`` (``sample`` and the design columns the sample sheet joined onto
    each cell), sorted, as the design columns of :func:`lsecflow.formula.design_metadata`."""
    return design_metadata(_per_sample(obs), design_columns, contrasts)


def sample_blocks(obs: pd.DataFrame, column: str | None) -> pd.Series | None:
    """``de.block``'s label of each sample (index: samples, sorted) from the cells' ``obs``
    (:func:`lsecflow.limma_block.block_labels`); None without ``de.block``."""
    return block_labels(_per_sample(obs), column) if column else None


def run_composition(counts_h5ad: str, params: dict, table: str, cells: str, png: str,
                    cells_qc: str | None = None) -> None:
    """Rule entry point: count each sample's cells per cell type (passing QC with ``cells_qc``, less
    ``qc.exclude``), test every contrast (:func:`propeller`) and write ``table`` (:data:`COLUMNS`), ``cells``
    (per sample and cell type: cells, proportion, transformed proportion) and the figure ``png`` (and the other
    configured formats). A contrast the samples cannot test is left out of ``table`` with a warning saying why."""
    spec = params["spec"]
    opts = spec["composition"]
    backed = ad.read_h5ad(counts_h5ad, backed="r")  # obs only: the matrix stays on disk
    obs = backed.obs
    backed.file.close()
    keep = np.ones(len(obs), dtype=bool)
    if cells_qc is not None:
        keep &= qc_pass_mask(obs.index, cells_qc, "the cell-type proportions")
    key = spec["single_cell"]["cell_type_key"]
    keep &= obs[key].notna().to_numpy()
    excluded = obs["sample"].astype(str).isin(spec["qc"]["exclude"]).to_numpy()
    if excluded.any():
        log.info("samples left out by qc.exclude: %s", ", ".join(sorted(set(obs["sample"].astype(str)[excluded]))))
    obs = obs[keep & ~excluded]
    labels = obs[key].astype(str)
    order = sorted(labels.unique(), key=lambda c: (c != spec["single_cell"]["lsec_label"], c))
    counts = cell_counts(obs["sample"], labels, order)
    meta = sample_table(obs, params["design_columns"], spec["contrasts"]).loc[counts.index]
    block = sample_blocks(obs, spec["de"].get("block"))
    log.info("%d cells of %d cell types in %d samples", int(counts.to_numpy().sum()), counts.shape[1], len(counts))
    testable = {}
    for name, c in spec["contrasts"].items():
        why = too_few(meta, c, "propeller")
        if why:
            log.warning("composition: contrast %s (%s) not tested: %s", name, describe(c), why)
        else:
            testable[name] = c
    results = {}
    reduced = spec["de"].get("reduced") if spec["de"]["test"] == "lrt" else None
    if testable or reduced:
        try:
            results = propeller(counts, meta, spec["design"], testable, opts["transform"], opts["robust"],
                                opts["trend"], reduced, spec["de"]["alpha"], block)
        except (UnfittableFit, BlockError) as exc:
            log.warning("composition: no test (%s)", exc)
    props, trans = transformed_proportions(counts, opts["transform"])
    long = pd.DataFrame({"sample": np.repeat(counts.index, counts.shape[1]),
                         "cell_type": np.tile(counts.columns, len(counts)),
                         "n_cells": counts.to_numpy().ravel(), "proportion": props.to_numpy().ravel(),
                         "transformed": trans.to_numpy().ravel()})
    tested = pd.concat(results.values(), ignore_index=True) if results else pd.DataFrame(columns=COLUMNS)
    for row in tested.itertuples():
        if row.contrast.startswith("~"):  # the design test
            log.info("%s / %s: F %.3g, padj %.3g", row.contrast, row.cell_type, row.stat, row.padj)
        else:
            log.info("%s / %s: proportion %.3g vs %.3g, t %.3g, padj %.3g", row.contrast, row.cell_type,
                     row.prop_target, row.prop_reference, row.stat, row.padj)
    plots.configure(spec.get("figures"))
    figure = proportions_figure(props, meta, spec["contrasts"], tested, params["name"], spec["de"]["alpha"],
                                counts.sum(axis=1))
    plots.save(figure, plots.stem_of(png))
    write_tsv_atomic(long, cells)
    write_tsv_atomic(tested, table)
