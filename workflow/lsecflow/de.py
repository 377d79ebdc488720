"""Differential expression with pydeseq2: bulk, and pseudobulk per cell type.

Each contrast is fitted with its own reference level as the base level of
the design (``target`` over ``reference``), so LFC shrinkage is available for
every contrast, whatever order the levels have in the sample sheet. Wald
statistics, p-values and Cook's / independent filtering follow DESeq2's
defaults (see the output guide in README.md for the remaining differences).
"""
from __future__ import annotations

import logging
import time

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import false_discovery_control

from .deseq2_rules import quiet_pydeseq2
from .errors import InputDataError
from .ingest import write_tsv_atomic

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["gene_id", "symbol", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]


def _dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def filter_genes(X, min_count: int, min_samples: int) -> np.ndarray:
    """Genes with at least ``min_count`` counts in at least ``min_samples`` samples."""
    X = _dense(X)
    return (X >= min_count).sum(axis=0) >= min_samples


def design_metadata(obs: pd.DataFrame, columns: list[str], base: dict[str, str]) -> pd.DataFrame:
    """Design columns as categoricals; ``base[col]`` (if given) is the first level."""
    meta = pd.DataFrame(index=obs.index.astype(str))
    for col in columns:
        values = obs[col].astype(str)
        levels = sorted(values.unique())
        if col in base:
            levels = [base[col]] + [lv for lv in levels if lv != base[col]]
        meta[col] = pd.Categorical(values, categories=levels)
    return meta


def _coef_name(design_matrix: pd.DataFrame, variable: str, target: str) -> str:
    wanted = f"{variable}[T.{target}]"
    if wanted in design_matrix.columns:
        return wanted
    raise InputDataError(f"coefficient {wanted} not in the design matrix ({', '.join(design_matrix.columns)})")


def fit_model(adata: ad.AnnData, design: str, design_columns: list[str], base: dict[str, str], opts: dict,
              threads: int = 1):
    """Pre-filter genes and fit DESeq2's model with pydeseq2.

    Parameters
    ----------
    adata
        Samples x genes raw counts; ``obs`` holds the design columns and
        ``var`` ``gene_id`` and ``symbol``.
    design
        Formula already checked by :func:`lsecflow.formula.parse_design`.
    design_columns
        Columns the design uses.
    base
        ``{column: level}`` used as base (reference) level of the design.
    opts
        The dataset's ``de`` block (``min_count``, ``min_samples``).
    threads
        CPUs for pydeseq2.

    Returns
    -------
    pydeseq2.dds.DeseqDataSet
        Fitted (Cook's outliers replaced and refitted as in DESeq2);
        ``var['symbol']`` carries the gene symbols.
    """
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference

    keep = filter_genes(adata.X, opts["min_count"], opts["min_samples"])
    log.info("gene filter (>= %d counts in >= %d samples): %d of %d genes kept",
             opts["min_count"], opts["min_samples"], int(keep.sum()), adata.n_vars)
    if keep.sum() == 0:
        raise InputDataError("no gene passes the DE pre-filter (de.min_count, de.min_samples)")
    sub = adata[:, keep]
    counts = pd.DataFrame(_dense(sub.X).astype(np.int64), index=sub.obs_names.astype(str),
                          columns=sub.var_names.astype(str))
    meta = design_metadata(sub.obs, design_columns, base)
    for col in design_columns:
        if meta[col].nunique() < 2:
            raise InputDataError(f"design column {col!r} has a single level ({meta[col].iloc[0]!r}) "
                                 "among the samples tested; drop it from the design")
    t0 = time.time()
    with quiet_pydeseq2():
        dds = DeseqDataSet(counts=counts, metadata=meta, design=design, refit_cooks=True,
                           inference=DefaultInference(n_cpus=max(1, int(threads))), quiet=True)
        dds.deseq2()
    dds.var["symbol"] = sub.var["symbol"].astype(str).to_numpy()
    log.info("model %s fitted on %d samples x %d genes in %.1f s (base levels %s); %d genes refitted "
             "after Cook's outlier replacement", design, dds.n_obs, dds.n_vars, time.time() - t0, base,
             int(dds.var.get("refitted", pd.Series(False)).sum()))
    return dds


def contrast_results(dds, design_columns: list[str], contrast: dict, opts: dict) -> pd.DataFrame:
    """DESeq2 ``results()`` for one contrast of a fitted model.

    Wald statistics come from pydeseq2; Cook's filtering and independent
    filtering follow DESeq2 1.38 exactly (:mod:`lsecflow.deseq2_rules`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESULT_COLUMNS` plus ``log2FoldChange_shrunk`` and
        ``lfcSE_shrunk`` when ``opts['shrink']``; sorted by padj, pvalue,
        gene_id.
    """
    from pydeseq2.ds import DeseqStats

    from .deseq2_rules import cooks_outliers, independent_filtering

    var, target, ref = contrast["variable"], contrast["target"], contrast["reference"]
    with quiet_pydeseq2():
        stats = DeseqStats(dds, contrast=[var, target, ref], alpha=opts["alpha"], cooks_filter=False,
                           independent_filter=False, inference=dds.inference, quiet=True)
        stats.summary()
    res = stats.results_df.copy()
    if opts["cooks_filter"]:
        outlier = cooks_outliers(dds, design_columns)
        res.loc[outlier, "pvalue"] = np.nan
        log.info("Cook's distance: %d genes flagged as outliers (p-value set to NA)", int(outlier.sum()))
    pvalue = res["pvalue"].to_numpy()
    if opts["independent_filter"]:
        padj, threshold = independent_filtering(pvalue, res["baseMean"].to_numpy(),
                                                opts["independent_filter_alpha"])
        log.info("independent filtering: baseMean threshold %.4g, %d genes filtered", threshold,
                 int((~np.isnan(pvalue) & np.isnan(padj)).sum()))
    else:
        padj = np.full(len(pvalue), np.nan)
        ok = ~np.isnan(pvalue)
        padj[ok] = false_discovery_control(pvalue[ok], method="bh")
    res["padj"] = padj
    if opts.get("shrink"):
        if dds.obs[var].cat.categories[0] != ref:
            raise InputDataError(f"LFC shrinkage needs {ref!r} as base level of {var!r}: fit with base={{{var!r}: {ref!r}}}")
        coef = _coef_name(stats.design_matrix, var, target)
        t0 = time.time()
        with quiet_pydeseq2():
            stats.lfc_shrink(coeff=coef)
        log.info("LFC shrinkage (apeGLM prior) on %s in %.1f s", coef, time.time() - t0)
        res["log2FoldChange_shrunk"] = stats.results_df["log2FoldChange"]
        res["lfcSE_shrunk"] = stats.results_df["lfcSE"]
    res.insert(0, "symbol", dds.var["symbol"].reindex(res.index).to_numpy())
    res.insert(0, "gene_id", res.index.astype(str))
    return sort_results(res.reset_index(drop=True))


def sort_results(res: pd.DataFrame) -> pd.DataFrame:
    """Stable order: padj, then pvalue, then gene id (missing values last)."""
    order = np.lexsort((res["gene_id"].to_numpy(), res["pvalue"].fillna(np.inf).to_numpy(),
                        res["padj"].fillna(np.inf).to_numpy()))
    return res.iloc[order].reset_index(drop=True)


def summarize(res: pd.DataFrame, alpha: float, lfc_threshold: float) -> pd.DataFrame:
    """Up/down counts at ``padj < alpha`` and ``|log2FC| > lfc_threshold``."""
    sig = (res["padj"] < alpha) & (res["log2FoldChange"].abs() > lfc_threshold)
    return pd.DataFrame({
        "tested": [int(res["pvalue"].notna().sum())],
        "up": [int((sig & (res["log2FoldChange"] > 0)).sum())],
        "down": [int((sig & (res["log2FoldChange"] < 0)).sum())],
        "cooks_outliers": [int(res["pvalue"].isna().sum())],
        "independent_filtered": [int((res["pvalue"].notna() & res["padj"].isna()).sum())],
        "alpha": [alpha],
        "lfc_threshold": [lfc_threshold],
    })


def group_sums(X, codes: np.ndarray, n_groups: int, chunk_size: int = 100_000, gpu: bool = False) -> np.ndarray:
    """Sum the rows of ``X`` by group, reading ``chunk_size`` rows at a time.

    Parameters
    ----------
    X
        Cells x genes counts: a scipy sparse or numpy matrix, or a backed
        (on-disk) AnnData matrix, which is then read block by block so memory
        stays bounded by one block plus the ``n_groups x genes`` result.
    codes
        Group of each row (0 .. n_groups-1); -1 leaves a row out.
    gpu
        Sum on the GPU (cupy; see :mod:`lsecflow.gpu`); same sums.
    """
    out = np.zeros((n_groups, X.shape[1]), dtype=np.int64)
    for start in range(0, X.shape[0], chunk_size):
        c = codes[start:start + chunk_size]
        keep = np.flatnonzero(c >= 0)
        if not len(keep):
            continue
        block = sp.csr_matrix(X[start:start + len(c)])[keep]
        if gpu:
            from .gpu import group_sums_gpu

            out += np.rint(group_sums_gpu(block, c[keep], n_groups)).astype(np.int64)
            continue
        indicator = sp.csr_matrix((np.ones(len(keep)), (c[keep], np.arange(len(keep)))),
                                  shape=(n_groups, len(keep)))
        out += np.rint((indicator @ block).toarray()).astype(np.int64)  # counts: float sums are exact
    return out


def pseudobulk(adata: ad.AnnData, sample_key: str, cell_type_key: str, min_cells: int,
               min_counts: int, mask: np.ndarray | None = None, chunk_size: int = 100_000, gpu: bool = False
               ) -> tuple[ad.AnnData, pd.DataFrame]:
    """Sum raw counts per (sample, cell type).

    Parameters
    ----------
    adata
        Cells x genes raw counts, in memory or backed (``read_h5ad(..., backed="r")``:
        the matrix is then read in blocks of ``chunk_size`` cells).
    mask
        Cells to use (default: all).

    Returns
    -------
    (anndata.AnnData, pandas.DataFrame)
        Pseudobulk samples x genes (``obs``: sample, cell type, n_cells,
        n_counts and the per-sample columns of ``adata.obs``) for the groups
        that pass ``min_cells`` and ``min_counts``; and a table of every
        group with ``kept`` and ``reason``.
    """
    mask = np.ones(adata.n_obs, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    obs = adata.obs[mask]
    groups = obs[[sample_key, cell_type_key]].astype(str)
    key = groups[sample_key] + "|" + groups[cell_type_key]
    selected, uniques = pd.factorize(key, sort=True)
    codes = np.full(adata.n_obs, -1, dtype=np.int64)
    codes[mask] = selected
    summed = group_sums(adata.X, codes, len(uniques), chunk_size, gpu)
    table = pd.DataFrame({"sample": [u.split("|", 1)[0] for u in uniques],
                          "cell_type": [u.split("|", 1)[1] for u in uniques],
                          "n_cells": np.bincount(selected, minlength=len(uniques)),
                          "n_counts": summed.sum(axis=1)}, index=uniques)
    reasons = np.where(table["n_cells"] < min_cells, f"fewer than {min_cells} cells",
                       np.where(table["n_counts"] < min_counts, f"fewer than {min_counts} counts", ""))
    table["kept"] = reasons == ""
    table["reason"] = reasons
    per_sample = [c for c in obs.columns if c not in (sample_key, cell_type_key)
                  and (obs.groupby(sample_key, observed=True)[c].nunique(dropna=False) <= 1).all()]
    sample_obs = obs.drop_duplicates(sample_key).set_index(sample_key)[per_sample]
    pb_obs = table.join(sample_obs, on="sample")
    pb = ad.AnnData(X=summed[table["kept"].to_numpy()], obs=pb_obs[table["kept"].to_numpy()].copy(),
                    var=adata.var.copy())
    pb.obs.index = pb.obs.index.astype(str)
    return pb, table.reset_index(drop=True)


def normalized_and_vst(dds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalised counts and VST (genes x samples, index ``gene_id``).

    The VST applies the fitted dispersion trend of the design in closed form
    (DESeq2's ``vst(blind = FALSE)``); no refit.
    """
    from .deseq2_rules import vst_from_dispersion_fit

    normed = np.asarray(dds.layers["normed_counts"], dtype=float)
    normalized = pd.DataFrame(normed.T, index=dds.var_names, columns=dds.obs_names)
    vst = pd.DataFrame(vst_from_dispersion_fit(normed, dds.uns).T, index=dds.var_names, columns=dds.obs_names)
    for df in (normalized, vst):
        df.index.name = "gene_id"
    return normalized, vst


def run_figures(table: str, vst: str, counts_h5ad: str, params: dict, contrast_name: str, stem: str,
                cell_type: str | None = None) -> None:
    """Rule entry point: volcano, MA and heatmap of one contrast (PNG + SVG)."""
    from . import plots

    spec = params["spec"]
    figs = plots.configure(spec["figures"])
    contrast = spec["contrasts"][contrast_name]
    res = pd.read_csv(table, sep="\t")
    if res.empty:
        for kind in ("volcano", "ma", "heatmap"):
            plots.save(plots.message_figure("No DE table: this unit was skipped (see its .summary.tsv).",
                                            f"{params['name']} · {contrast_name}"), f"{stem}.{kind}")
        return
    vst_df = pd.read_csv(vst, sep="\t", index_col=0)
    obs = ad.read_h5ad(counts_h5ad, backed="r").obs
    groups = obs.loc[vst_df.columns, contrast["variable"]].astype(str)
    if cell_type is not None:  # pseudobulk ids are "<sample>|<cell type>": label columns by sample
        vst_df.columns = obs.loc[vst_df.columns, "sample"].astype(str)
        groups.index = vst_df.columns
    title = plots.unit_title(params, contrast_name, cell_type)
    de_opts = spec["de"]
    goi = figs["genes_of_interest"]
    vol, hm = figs["volcano"], figs["heatmap"]
    plots.save(plots.volcano(res, de_opts["alpha"], de_opts["lfc_threshold"], goi, n_top=vol["label_top"],
                             title=title, figsize=(vol["width"], vol["height"]), y=vol["y"], xlim=vol["xlim"],
                             ylim=vol["ylim"]), f"{stem}.volcano")
    plots.save(plots.ma_plot(res, de_opts["alpha"], de_opts["lfc_threshold"], goi, title=title,
                             figsize=(figs["ma"]["width"], figs["ma"]["height"])), f"{stem}.ma")
    plots.save(plots.top_gene_heatmap(vst_df, res, groups, n_top=hm["n_top"], title=title, genes=hm["genes"],
                                      width=hm["width"], height=hm["height"]), f"{stem}.heatmap")
    log.info("figures written: %s.{volcano,ma,heatmap}.{png,svg}", stem)


def run_contrast(counts_h5ad: str, params: dict, contrast_name: str, table: str, summary: str,
                 normalized_out: str, vst_out: str, threads: int = 1, cell_type: str | None = None) -> pd.DataFrame:
    """Rule entry point: DE table and summary for one contrast.

    Parameters
    ----------
    counts_h5ad
        ``counts.h5ad`` (bulk) or ``pseudobulk.h5ad`` (single-cell).
    params
        ``Dataset.params()``.
    contrast_name
        Key in the dataset's ``contrasts``.
    table, summary, normalized_out, vst_out
        Output paths (TSV; ``.gz`` compresses, byte-stable).
    cell_type
        Folder name (slug) of the cell type, for pseudobulk data.
    """
    spec = params["spec"]
    contrast = spec["contrasts"][contrast_name]
    adata = ad.read_h5ad(counts_h5ad)
    if cell_type is not None:
        label = params["cell_types"][cell_type]
        adata = adata[adata.obs["cell_type"].astype(str) == label].copy()
        log.info("cell type %r: %d pseudobulk samples", label, adata.n_obs)
    excluded = sorted(set(spec["qc"]["exclude"]) & set(adata.obs["sample"].astype(str)))
    if excluded:
        log.info("samples left out by qc.exclude: %s", ", ".join(excluded))
        adata = adata[~adata.obs["sample"].astype(str).isin(excluded)].copy()
    levels = adata.obs[contrast["variable"]].astype(str).value_counts()
    for role in ("target", "reference"):
        n = int(levels.get(contrast[role], 0))
        if n < 2:
            where = f" for cell type {params['cell_types'][cell_type]!r}" if cell_type else ""
            msg = (f"contrast {contrast_name!r}: level {contrast[role]!r} of {contrast['variable']!r} has {n} "
                   f"sample(s){where}; DESeq2 needs at least 2 per level")
            if cell_type is None:
                raise InputDataError(msg)
            # one cell type without replicates must not stop the other cell types: say so, write empty tables
            log.warning("skipped: %s (lower pseudobulk.min_cells / min_counts, or leave the cell type out with "
                        "pseudobulk.cell_types)", msg)
            summ = summarize(pd.DataFrame(columns=RESULT_COLUMNS), spec["de"]["alpha"], spec["de"]["lfc_threshold"])
            summ.insert(0, "contrast", contrast_name)
            summ["status"] = f"skipped: {msg}"
            empty = pd.DataFrame(columns=["gene_id"])
            write_tsv_atomic(summ, summary)
            write_tsv_atomic(empty, normalized_out)
            write_tsv_atomic(empty, vst_out)
            write_tsv_atomic(pd.DataFrame(columns=RESULT_COLUMNS), table)
            return pd.DataFrame(columns=RESULT_COLUMNS)
    log.info("contrast %s: %s %s (n=%d) vs %s (n=%d)", contrast_name, contrast["variable"], contrast["target"],
             levels[contrast["target"]], contrast["reference"], levels[contrast["reference"]])
    dds = fit_model(adata, spec["design"], params["design_columns"], {contrast["variable"]: contrast["reference"]},
                    spec["de"], threads)
    res = contrast_results(dds, params["design_columns"], contrast, spec["de"])
    normalized, vst = normalized_and_vst(dds)
    summ = summarize(res, spec["de"]["alpha"], spec["de"]["lfc_threshold"])
    summ.insert(0, "contrast", contrast_name)
    summ["status"] = "tested"
    log.info("%s: %d up, %d down at padj < %g", contrast_name, summ.at[0, "up"], summ.at[0, "down"],
             spec["de"]["alpha"])
    write_tsv_atomic(summ, summary)
    write_tsv_atomic(normalized.reset_index(), normalized_out)
    write_tsv_atomic(vst.reset_index(), vst_out)
    write_tsv_atomic(res, table)
    return res


def qc_pass_mask(cell_names, cells_qc: str, what: str) -> np.ndarray:
    """Which cells pass QC in ``qc/cells.tsv``; logs how many are left out of ``what`` and why."""
    qc = pd.read_csv(cells_qc, sep="\t", index_col="cell", usecols=["cell", "qc_pass", "qc_reason"])
    passing = qc["qc_pass"].reindex(cell_names).fillna(False).to_numpy(dtype=bool)
    log.info("%d of %d cells fail QC and are left out of %s (%s)", int((~passing).sum()), len(passing), what,
             qc.loc[~qc["qc_pass"], "qc_reason"].value_counts().to_dict())
    return passing


def cells_passing_qc(adata: ad.AnnData, cells_qc: str, what: str) -> ad.AnnData:
    """The cells of ``adata`` that pass QC (:func:`qc_pass_mask`), as a new AnnData."""
    return adata[qc_pass_mask(adata.obs_names, cells_qc, what)].copy()


def run_pseudobulk(counts_h5ad: str, params: dict, out_h5ad: str, out_table: str, cells_qc: str | None = None,
                   chunk_size: int = 100_000, gpu="auto") -> None:
    """Rule entry point: pseudobulk a single-cell dataset (cell types in config).

    The counts are opened backed (on disk) and summed ``chunk_size`` cells at
    a time, so memory does not grow with the number of cells. With
    ``cells_qc`` (``qc/cells.tsv``), cells failing QC are left out. ``gpu``
    is ``compute.gpu`` (see :mod:`lsecflow.gpu`).
    """
    from .gpu import use_gpu
    from .ingest import write_h5ad_atomic

    spec = params["spec"]
    adata = ad.read_h5ad(counts_h5ad, backed="r")
    log.info("pseudobulk of %d cells x %d genes, read %d cells at a time", adata.n_obs, adata.n_vars, chunk_size)
    mask = np.ones(adata.n_obs, dtype=bool)
    if cells_qc is not None:
        mask &= qc_pass_mask(adata.obs_names, cells_qc, "the pseudobulk")
    key = spec["single_cell"]["cell_type_key"]
    labels = adata.obs[key].astype(str)
    mask &= labels.isin(list(params["cell_types"].values())).to_numpy()
    adata.obs["cell_type"] = labels
    pb, table = pseudobulk(adata, "sample", "cell_type", spec["pseudobulk"]["min_cells"],
                           spec["pseudobulk"]["min_counts"], mask=mask, chunk_size=chunk_size,
                           gpu=use_gpu(gpu, "pseudobulk aggregation", needs="cupy"))
    adata.file.close()
    for row in table[~table["kept"]].itertuples():
        log.info("pseudobulk %s / %s dropped: %s (%d cells, %d counts)", row.sample, row.cell_type, row.reason,
                 row.n_cells, row.n_counts)
    log.info("%d of %d pseudobulk samples kept", int(table["kept"].sum()), len(table))
    write_tsv_atomic(table, out_table)
    write_h5ad_atomic(pb, out_h5ad)
