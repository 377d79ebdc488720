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
    Python and libraries, ~13 kB per cell (the cell tables, the highly variable genes, neighbours, UMAP and
    Leiden; 12.45 GiB peak at 1,000,000 cells x 20,000 genes, thinned bootstrap, covariance PCA, with Leiden
    after the UMAP; 13.37 GiB for the job and a Leiden process beside the UMAP together), and
    scrublet, which densifies each block it scores with its simulated doublets (3 x block cells x genes x
    8 bytes, with working copies ~3.5 x; 11.4 GiB peak at 20,000 x 20,000)."""
    if shape is None:
        return 4000
    cells, genes = shape
    need = 2000 + 0.013 * cells
    if doublets:
        need = max(need, 1500 + 3.5 * min(chunk, cells) * genes * 8 / 2**20)
    return int(max(4000, need))


#: cells from which single-cell QC on a GPU clusters (Leiden) in a second process beside the UMAP layout and
#: asks for two cores (:mod:`lsecflow.cell_leiden`; below that Leiden takes seconds, and starting a Python
#: process with scanpy costs a few)
LEIDEN_BESIDE_CELLS = 200_000


def leiden_beside(cells: int, gpu: bool) -> bool:
    """Whether single-cell QC of ``cells`` cells clusters in a second process beside the UMAP layout: on a GPU
    from :data:`LEIDEN_BESIDE_CELLS` cells (the job then also needs a second core free)."""
    return gpu and cells >= LEIDEN_BESIDE_CELLS


def single_cell_qc_threads(shape: tuple[int, int] | None, gpu: bool) -> int:
    """Cores single-cell QC asks for: two on a GPU (``compute.gpu: true``) where Leiden runs beside the layout
    (:func:`leiden_beside`), else one (a dry run knows no shape)."""
    return 2 if shape is not None and leiden_beside(shape[0], gpu) else 1


#: seconds a cell of single-cell QC takes on a 2-core node without doublet scores (metrics, HVG, PCA,
#: neighbours, UMAP, Leiden, tables and figures: 1,482 s and 1,711 s at 1M cells in two runs) and scrublet's
#: seconds a cell in a block of 20,000 cells (2,366 s at 1M; its neighbour search grows with the block), from
#: bench/sc_scale.py (docs/benchmarks.md)
QC_SECONDS_PER_CELL = 1.7e-3
SCRUBLET_SECONDS_PER_CELL = 2.4e-3


def single_cell_qc_minutes(shape: tuple[int, int] | None, chunk: int, doublets: bool, margin: float = 2.0) -> int:
    """Run time (minutes) single-cell QC asks for: the measured seconds per cell (``QC_SECONDS_PER_CELL``,
    plus ``SCRUBLET_SECONDS_PER_CELL`` scaled by the block size when scrublet runs) times ``margin`` for
    slower or busier nodes, at least an hour (the shipped sample takes seconds; a dry run knows no shape).
    A job that runs out of time is retried with twice as much (the rule multiplies by the attempt)."""
    if shape is None:
        return 60
    cells = shape[0]
    per_cell = QC_SECONDS_PER_CELL + (SCRUBLET_SECONDS_PER_CELL * min(chunk, cells) / 20_000 if doublets else 0.0)
    return int(max(60, -(-margin * cells * per_cell // 60)))
