"""Single-cell matrices read block by block (a backed h5ad), so that QC memory does not grow with the
whole matrix: per-cell metrics and doublet scores, per-gene statistics (highly variable genes, the
reference bins of signature scores), and the log-normalised columns the embedding and the scores need.

Each quantity is the one scanpy computes on the whole matrix in memory:

* normalisation and log1p are row-wise, with scanpy's arithmetic (:mod:`lsecflow.cell_arrays`: each
  block gives the values of :func:`scanpy.pp.normalize_total` and :func:`scanpy.pp.log1p` on the whole
  matrix bit for bit on the CPU; numpy or cupy, as ``compute.gpu`` chooses);
* highly variable genes (``flavor="seurat"``): the gene means and variances of the normalised counts are
  summed over blocks (float64), then binned and ranked by scanpy's own code;
* signature scores (:func:`scanpy.tl.score_genes`): the control genes are drawn from the gene means of
  the log data as scanpy draws them (same bins, same random state), and each cell's score is the mean of
  its signature genes minus the mean of the controls;
* doublets: scrublet runs per block of cells (on the whole matrix when it fits in one block), with exact
  neighbours (:func:`scrublet_scores`).

Two passes over the file: :func:`scan` (metrics, doublets, gene statistics), then :func:`log_columns`
(the chosen genes' log-normalised values).
"""
from __future__ import annotations

import logging
import resource
import time
from contextlib import contextmanager
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .cell_arrays import block_stats, log_normalised_columns

log = logging.getLogger(__name__)


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


@contextmanager
def timed(step: str, what: str = "single-cell QC"):
    """Log the wall time of the ``with`` block and the process's peak memory so far."""
    t0 = time.perf_counter()
    yield
    log.info("%s · %s: %.1f s, peak memory %.2f GiB", what, step, time.perf_counter() - t0, peak_rss_gib())


def row_blocks(X, chunk: int):
    """``(start, stop, block)`` over the rows of ``X`` (in memory or backed), ``chunk`` rows at a time;
    each block a scipy CSR matrix of the stored type."""
    for start in range(0, X.shape[0], chunk):
        stop = min(start + chunk, X.shape[0])
        yield start, stop, sp.csr_matrix(X[start:stop])


@dataclass
class Scan:
    """What the first pass finds: per cell (``cells``: total_counts, n_genes, mito_fraction, doublet_score,
    predicted_doublet) and per gene (``genes``: mean and variance of the normalised counts, as scanpy's
    seurat HVG flavour computes them; ``log_mean``: mean of the log-normalised values)."""

    cells: pd.DataFrame
    genes: pd.DataFrame


def scan(X, obs_names, mito: np.ndarray, chunk: int, seed: int = 0, doublets: bool = True, xp=np) -> Scan:
    """First pass: per-cell metrics and doublet scores, per-gene sums (float64) of the normalised counts
    (scanpy's ``expm1`` of the log data), of their squares and of the log data
    (:func:`lsecflow.cell_arrays.block_stats`, on ``xp``'s device).

    Parameters
    ----------
    X
        Cells x genes raw counts, in memory or backed.
    mito
        Boolean mask of the mitochondrial genes.
    chunk
        Cells per block (also the unit scrublet runs on).
    doublets
        Run scrublet (else the doublet columns stay empty); on the CPU, whatever ``xp``.
    xp
        ``numpy`` or ``cupy`` (:func:`lsecflow.cell_arrays.array_module`).
    """
    n, g = X.shape
    total, n_genes, mito_counts = np.zeros(n), np.zeros(n), np.zeros(n)
    doublet, predicted = np.full(n, np.nan), np.zeros(n, dtype=bool)
    s1, s2, slog = np.zeros(g), np.zeros(g), np.zeros(g)
    for start, stop, block in row_blocks(X, chunk):
        stats = block_stats(block, mito, xp)
        total[start:stop], n_genes[start:stop], mito_counts[start:stop] = stats["total"], stats["n_genes"], stats["mito"]
        s1 += stats["s1"]
        s2 += stats["s2"]
        slog += stats["slog"]
        if doublets:
            doublet[start:stop], predicted[start:stop] = scrublet_scores(block, seed)
        log.info("scanned %d of %d cells (peak memory %.2f GiB)", stop, n, peak_rss_gib())
    mean = s1 / n
    var = (s2 - n * mean**2) / max(n - 1, 1)
    cells = pd.DataFrame({"total_counts": total, "n_genes": n_genes,
                          "mito_fraction": mito_counts / np.maximum(total, 1) if mito.any() else np.full(n, np.nan),
                          "doublet_score": doublet, "predicted_doublet": predicted}, index=obs_names)
    genes = pd.DataFrame({"mean": mean, "var": np.maximum(var, 0), "log_mean": slog / n})
    return Scan(cells, genes)


def scrublet_scores(block: sp.csr_matrix, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scanpy's scrublet on one block of raw counts: (doublet score, predicted doublet); NaN / False with a
    warning where scrublet cannot run (tiny or degenerate blocks).

    Neighbours are exact (``use_approx_neighbors=False``: scikit-learn's brute force, what scanpy's default
    uses until the block and its simulated doublets pass 8,192 cells, i.e. blocks of up to ~2,700 cells),
    not pynndescent: scrublet asks for ~3 x 0.5 sqrt(cells) neighbours (213 in a 20,000-cell block), and
    approximate search for that many is slow.
    On 20,000 synthetic cells with 10 % planted doublets: 60.5 s against 212.2 s (3.5x), scores correlated
    0.999996, the same AUC against the planted truth (0.764), 99.98 % of cells called the same
    (``bench/scrublet_neighbours.py``, docs/benchmarks.md).
    """
    import scanpy as sc

    a = ad.AnnData(block.copy())
    try:
        sc.pp.scrublet(a, random_state=seed, verbose=False, use_approx_neighbors=False)
    except Exception as exc:  # noqa: BLE001 - scrublet fails on tiny or degenerate data; say so, go on
        log.warning("scrublet could not run on %d cells (%s): doublet scores left empty", block.shape[0], exc)
        return np.full(block.shape[0], np.nan), np.zeros(block.shape[0], dtype=bool)
    return a.obs["doublet_score"].to_numpy(), a.obs["predicted_doublet"].astype(bool).to_numpy()


def seurat_hvg(genes: pd.DataFrame, n_top: int) -> np.ndarray:
    """Highly variable genes (scanpy ``flavor="seurat"``, ``n_top_genes``) from the per-gene mean and
    variance of the normalised counts: the dispersion, binned by mean (20 bins), normalised within its
    bin, the ``n_top`` highest. The binning and selection are scanpy's own functions (pinned version;
    a test compares with :func:`scanpy.pp.highly_variable_genes`)."""
    from scanpy.preprocessing._highly_variable_genes import _get_disp_stats, _get_mean_bins, _nth_highest

    mean, var = genes["mean"].to_numpy().copy(), genes["var"].to_numpy()
    mean[mean == 0] = 1e-12
    dispersion = var / mean
    dispersion[dispersion == 0] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        df = pd.DataFrame({"means": np.log1p(mean), "dispersions": np.log(dispersion)})
    df["mean_bin"] = _get_mean_bins(df["means"], "seurat", 20)
    stats = _get_disp_stats(df, "seurat")
    norm = ((df["dispersions"] - stats["avg"]) / stats["dev"]).to_numpy()
    cutoff = _nth_highest(norm.copy(), min(n_top, len(norm)))
    return np.nan_to_num(norm, nan=-np.inf) >= cutoff


def control_genes(log_mean: pd.Series, gene_list: list[str], ctrl_size: int = 50, n_bins: int = 25) -> pd.Index:
    """The reference genes of :func:`scanpy.tl.score_genes` (``ctrl_as_ref=True``): per expression bin of
    the signature's genes, ``ctrl_size`` genes drawn from that bin (numpy's global random state, which
    the caller seeds as scanpy does), less the signature's own genes."""
    avg = log_mean[np.isfinite(log_mean)]
    n_items = int(np.round(len(avg) / (n_bins - 1)))
    cut = avg.rank(method="min") // n_items
    control = pd.Index([], dtype="string")
    for c in np.unique(cut.loc[gene_list]):
        r_genes = cut[cut == c].index
        if ctrl_size < len(r_genes):
            r_genes = r_genes.to_series().sample(ctrl_size).index
        control = control.union(r_genes.difference(gene_list))
    return control


def log_columns(X, columns: np.ndarray, totals: np.ndarray, chunk: int, xp=np) -> sp.csr_matrix:
    """Second pass: the log-normalised values of ``columns`` (gene positions) for every cell, CSR float32,
    each cell normalised by its total count (``totals``: :attr:`Scan.cells` ``total_counts``)."""
    parts = []
    for start, stop, block in row_blocks(X, chunk):
        parts.append(log_normalised_columns(block, columns, totals[start:stop], xp))
        log.info("read the %d chosen genes of %d of %d cells", len(columns), stop, X.shape[0])
    return sp.vstack(parts, format="csr")


def score_genes(log_mean: pd.Series, signatures: dict[str, list[str]], seed: int = 0
                ) -> dict[str, tuple[list[str], pd.Index]]:
    """Each signature's genes and its control genes, drawn as :func:`scanpy.tl.score_genes` draws them
    (numpy's global random state seeded with ``seed`` before each signature)."""
    out = {}
    for ct, genes in signatures.items():
        np.random.seed(seed)
        out[ct] = (genes, control_genes(log_mean, genes))
    return out


def score_columns(scored: dict[str, tuple[list[str], pd.Index]]) -> pd.Index:
    """Every gene the signature scores read (:func:`score_genes`): the signatures' genes and controls."""
    names = pd.Index([], dtype="string")
    for genes, control in scored.values():
        names = names.union(pd.Index(genes)).union(control)
    return names


def signature_scores(values: sp.csr_matrix, names: pd.Index, scored: dict[str, tuple[list[str], pd.Index]]
                     ) -> pd.DataFrame:
    """:func:`scanpy.tl.score_genes` of every signature, as scanpy computes it on the whole log-normalised
    matrix: the mean of its genes minus the mean of its controls (``scored``, :func:`score_genes`), from
    ``values`` (cells x ``names``, :func:`score_columns`)."""
    col = pd.Series(np.arange(len(names)), index=names)
    out = {}
    for ct, (genes, control) in scored.items():
        mean_of = [np.asarray(values[:, col[list(g)].to_numpy()].sum(axis=1, dtype=np.float64)).ravel() / len(g)
                   for g in (genes, control)]
        out[ct] = mean_of[0] - mean_of[1]
    return pd.DataFrame(out)
