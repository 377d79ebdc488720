"""What a job asks the scheduler for, estimated from its input before it runs (no heavy imports: the
Snakefile calls these while planning)."""
from __future__ import annotations

from pathlib import Path


def h5ad_shape(path) -> tuple[int, int] | None:
    """(cells, genes) of an h5ad's X without reading it; None when the file is not there yet (a dry run)."""
    if not Path(path).exists():
        return None
    import h5py

    with h5py.File(path, "r") as f:
        x = f["X"]
        return tuple(int(n) for n in (x.attrs["shape"] if isinstance(x, h5py.Group) else x.shape))


def single_cell_qc_mb(shape: tuple[int, int] | None, chunk: int, doublets: bool) -> int:
    """Memory (MB) of single-cell QC, from bench/sc_scale.py on 2 cores (docs/benchmarks.md): ~2 GB of
    Python and libraries, ~12 kB per cell (the cell tables, the highly variable genes, neighbours, UMAP and
    Leiden; 12.45 GiB peak at 1,000,000 cells x 20,000 genes, thinned bootstrap, covariance PCA), and
    scrublet, which densifies each block it scores with its simulated doublets (3 x block cells x genes x
    8 bytes, with working copies ~3.5 x; 11.4 GiB peak at 20,000 x 20,000)."""
    if shape is None:
        return 4000
    cells, genes = shape
    need = 2000 + 0.012 * cells
    if doublets:
        need = max(need, 1500 + 3.5 * min(chunk, cells) * genes * 8 / 2**20)
    return int(max(4000, need))
