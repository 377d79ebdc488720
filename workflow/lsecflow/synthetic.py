"""Synthetic data made from real counts: bootstrapped cells for scale tests, planted spikes for positive controls.

SYNTHETIC DATA (:func:`bootstrap_cells`): every cell is a copy of a real cell (drawn with replacement),
so expression profiles are real but the cell count, and the sample ids (each
real sample split into ``replicates`` synthetic ones), are not. The file
says so in ``uns["lsecflow_synthetic"]``. It is written block by block
straight into HDF5, so a matrix larger than memory can be made.

SYNTHETIC SPIKE (:func:`spike_counts`): real counts with chosen genes raised
in chosen samples, the planted truth of the paracrine positive control
(``tests/unit/test_synthetic.py``, ``tests/unit/test_paracrine.py``, ``bench/spike_in.py``).

SYNTHETIC DOUBLETS (:func:`plant_doublets`): real cells with some replaced by the sum of two cells of
different types, the planted truth of the doublet scores (``bench/scrublet_neighbours.py``; tested in
``tests/unit/test_synthetic.py``).
"""
from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .files import atomic_path

log = logging.getLogger(__name__)


def bootstrap_cells(source: ad.AnnData, n_cells: int, out: str | Path, seed: int = 0, replicates: int = 10,
                    chunk_size: int = 100_000, sample_key: str = "sample", thin: float | None = None) -> Path:
    """Write ``n_cells`` cells drawn with replacement from ``source`` to ``out`` (h5ad, CSR, uncompressed).

    Parameters
    ----------
    source
        Real cells x genes raw counts (in memory; small) with ``obs[sample_key]``.
    n_cells
        Cells to write.
    replicates
        Each synthetic cell's sample becomes ``<sample>_r<k>``, k drawn in
        0..replicates-1, so pseudobulk has ``replicates`` x as many samples.
    chunk_size
        Cells generated and written per block (bounds memory).
    thin
        If given, each drawn cell's counts are binomially thinned (each molecule kept with this
        probability), so that copies of one real cell are distinct cells rather than exact duplicates
        (exact duplicates tie at distance 0, which makes nearest neighbours a matter of tie-breaking).
    """
    from anndata.io import write_elem

    rng = np.random.default_rng(seed)
    X = sp.csr_matrix(source.X, dtype=np.float32)
    obs_src = source.obs.reset_index(drop=True)
    out = Path(out)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
        group = f.create_group("X")
        group.attrs["encoding-type"], group.attrs["encoding-version"] = "csr_matrix", "0.1.0"
        group.attrs["shape"] = (n_cells, source.n_vars)
        data = group.create_dataset("data", shape=(0,), maxshape=(None,), dtype="float32", chunks=(1 << 20,))
        indices = group.create_dataset("indices", shape=(0,), maxshape=(None,), dtype="int32", chunks=(1 << 20,))
        indptr = group.create_dataset("indptr", shape=(n_cells + 1,), dtype="int64")
        indptr[0] = 0
        obs_parts = []
        nnz = 0
        for start in range(0, n_cells, chunk_size):
            size = min(chunk_size, n_cells - start)
            pick = rng.integers(0, source.n_obs, size)
            block = X[pick]
            if thin is not None:
                block.data = rng.binomial(block.data.astype(np.int64), thin).astype(np.float32)
                block.eliminate_zeros()
            data.resize((nnz + block.nnz,))
            indices.resize((nnz + block.nnz,))
            data[nnz:] = block.data
            indices[nnz:] = block.indices
            indptr[start + 1:start + size + 1] = block.indptr[1:] + nnz
            nnz += block.nnz
            part = obs_src.iloc[pick].copy()
            part[sample_key] = part[sample_key].astype(str) + "_r" + rng.integers(0, replicates, size).astype(str)
            part["source_cell"] = source.obs_names[pick]
            obs_parts.append(part)
            log.info("synthetic cells written: %d of %d", start + size, n_cells)
        obs = pd.concat(obs_parts, ignore_index=True)
        obs.index = [f"synthetic_{i}" for i in range(n_cells)]
        for col in obs.columns:
            if obs[col].dtype == object:
                obs[col] = obs[col].astype("category")
        write_elem(f, "obs", obs)
        write_elem(f, "var", source.var)
        write_elem(f, "uns", {"lsecflow_synthetic": f"SYNTHETIC: {n_cells} cells bootstrapped (seed {seed}) from "
                                                    f"{source.n_obs} real cells; samples split into {replicates}"
                                                    + (f"; counts binomially thinned (p = {thin})" if thin else "")})
    return out


def expand_genes(source: ad.AnnData, n_genes: int, seed: int = 0, keep: tuple[float, float] = (0.05, 0.6)
                 ) -> ad.AnnData:
    """SYNTHETIC: ``source``'s real genes and binomially thinned copies of them, ``n_genes`` in all, so that
    a bootstrap of a small real sample has an atlas's number of genes.

    Copy ``k`` of a gene has a probability ``p`` drawn once (uniform in ``keep``): each cell's count is
    kept with probability ``p`` (else 0; a droplet atlas detects far fewer genes per cell than the
    Smart-seq2 source) and then binomially thinned with the same ``p``. The real genes keep their ids
    and symbols; a copy is ``<id>-syn<k>`` with symbol ``<symbol>-syn<k>``, so it is neither a marker nor
    mitochondrial. ``uns["lsecflow_synthetic"]`` says so.
    """
    rng = np.random.default_rng(seed)
    X = sp.csc_matrix(source.X).astype(np.int64)
    reps = int(np.ceil(n_genes / source.n_vars))
    blocks, var = [sp.csc_matrix(X)], [source.var]
    for k in range(1, reps):
        p = rng.uniform(*keep, source.n_vars)
        thinned = X.copy()
        per_entry = np.repeat(p, np.diff(thinned.indptr))
        thinned.data = rng.binomial(thinned.data, per_entry) * (rng.random(len(per_entry)) < per_entry)
        thinned.eliminate_zeros()
        blocks.append(thinned)
        copy = source.var.copy()
        copy.index = copy.index.astype(str) + f"-syn{k}"
        for col in ("gene_id", "symbol"):
            if col in copy:
                copy[col] = copy[col].astype(str) + f"-syn{k}"
        var.append(copy)
    out = ad.AnnData(sp.hstack(blocks, format="csr")[:, :n_genes].astype(np.int32), obs=source.obs.copy(),
                     var=pd.concat(var).iloc[:n_genes])
    out.uns["lsecflow_synthetic"] = (f"SYNTHETIC: {source.n_vars} real genes and binomially thinned copies of them "
                                     f"({n_genes} genes, seed {seed}, kept fraction {keep[0]}-{keep[1]})")
    return out


def plant_doublets(X: sp.spmatrix, labels: np.ndarray, fraction: float, seed: int = 0
                   ) -> tuple[sp.csr_matrix, np.ndarray]:
    """SYNTHETIC DOUBLETS: ``fraction`` of the cells of ``X`` replaced by the sum of the raw counts of two
    cells with different ``labels`` (heterotypic doublets, the kind scrublet finds), each at the replaced
    cell's position, so the cell count and order stay (``X`` itself is not changed).

    Parameters
    ----------
    X
        Cells x genes raw counts.
    labels
        Each cell's type; a doublet's two parents differ in it.
    fraction
        Share of the cells replaced (rounded down to whole cells).
    seed
        Seed of the choice of replaced cells and parents.

    Returns
    -------
    (scipy.sparse.csr_matrix, numpy.ndarray)
        The counts with the doublets and the boolean truth (True: a planted doublet).
    """
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise ValueError("plant_doublets: heterotypic doublets need at least two labels")
    rng = np.random.default_rng(seed)
    X = sp.csr_matrix(X)
    n = X.shape[0]
    replaced = np.sort(rng.choice(n, int(fraction * n), replace=False))
    first = rng.integers(n, size=len(replaced))
    second = np.empty_like(first)
    for i, a in enumerate(first):  # the second parent: any cell of another type
        second[i] = rng.choice(np.flatnonzero(labels != labels[a]))
    truth = np.zeros(n, dtype=bool)
    truth[replaced] = True
    keep = sp.diags((~truth).astype(X.dtype)) @ X
    pick = sp.csr_matrix((np.ones(2 * len(replaced), dtype=X.dtype), (np.r_[replaced, replaced], np.r_[first, second])),
                         shape=(n, n))
    return sp.csr_matrix(keep + pick @ X), truth


def spike_counts(counts: pd.DataFrame, genes: list[str], samples: list[str], fold: float,
                 seed: int) -> pd.DataFrame:
    """SYNTHETIC SPIKE-IN on real counts: raise ``genes`` ``fold``-fold in ``samples``.

    Each spiked count is redrawn as ``Binomial(library size, fold * count /
    library size)`` (binomial resampling): its expectation is the observed
    count times ``fold`` and its noise is that of sampling at the same depth;
    library sizes are those of the original columns. A zero stays zero.

    Parameters
    ----------
    counts
        Raw integer counts, genes (rows) x samples (columns).
    genes, samples
        Row and column labels to spike.
    fold
        Multiplier of the expected count (``fold * count`` may not exceed the
        library size).
    seed
        Seed of the binomial draws (same seed, same spike).

    Returns
    -------
    pandas.DataFrame
        A copy of ``counts`` with the spiked cells replaced.
    """
    missing = [g for g in genes if g not in counts.index] + [s for s in samples if s not in counts.columns]
    if missing:
        raise KeyError(f"spike_counts: not in the count matrix: {missing}")
    rng = np.random.default_rng(seed)
    out = counts.copy()
    lib = counts[samples].sum(axis=0)
    for gene in genes:
        for s in samples:
            p = fold * counts.at[gene, s] / lib[s]
            if p > 1:
                raise ValueError(f"spike_counts: {fold} x {counts.at[gene, s]} counts of {gene} in {s} exceeds "
                                 f"its library size {lib[s]}")
            out.at[gene, s] = rng.binomial(int(lib[s]), p)
    return out


def composition_samples(mix: pd.Series, seed: int, changed: str, factor: float, n: int = 6,
                        cells: int = 400, concentration: float = 50.0) -> pd.DataFrame:
    """SYNTHETIC cells of ``n`` control and ``n`` 'tumour' samples (``sample``, ``cell_type``, ``condition``):
    each sample's cell-type mix drawn around ``mix`` (proportions by cell type; Dirichlet with this
    ``concentration``), ``cells`` cells drawn from it; in the tumour samples the share of ``changed`` is
    multiplied by ``factor`` (PLANTED) before renormalising. Seeded: a seed reproduces."""
    rng = np.random.default_rng(seed)
    types = list(mix.index)
    rows = []
    for i in range(2 * n):
        p = rng.dirichlet(concentration * mix.to_numpy(dtype=float))
        if i >= n:
            p[types.index(changed)] *= factor
            p /= p.sum()
        rows.append(pd.DataFrame({"sample": f"s{i:02d}", "cell_type": rng.choice(types, size=cells, p=p),
                                  "condition": "tumour" if i >= n else "control"}))
    return pd.concat(rows, ignore_index=True)

