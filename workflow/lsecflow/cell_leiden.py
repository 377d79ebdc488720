"""Leiden clustering of the cells' neighbour graph, beside the GPU's UMAP layout on large data.

Leiden (igraph) and the UMAP layout both start from the neighbours' fuzzy graph and do not need each other.
On the GPU path the layout runs on the device and Leiden on one host core, so from
:data:`lsecflow.job_resources.LEIDEN_BESIDE_CELLS` cells (the QC rule then asks for two cores), where a
second core is free, Leiden runs in a second Python process (``python -m lsecflow.cell_leiden``: the graph
goes through a temporary file) while this one lays out the UMAP (igraph holds Python's lock while it
clusters: a thread beside it would stall). It is scanpy's ``tl.leiden`` with
the same arguments on the same graph, so the labels are the same as in one process
(tests/unit/test_cell_leiden.py). The CPU path keeps Leiden after scanpy's UMAP: on 2 cores the two side by
side were no faster (300,000 cells, embedding 227.4 and 213.5 s beside against 220.4 s after; the UMAP
slowed by up to 14 % sharing the machine; docs/benchmarks.md).
"""
from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .job_resources import leiden_beside

log = logging.getLogger(__name__)


def free_cores() -> int:
    """Cores this process may run on (its CPU affinity: what a SLURM job or a container gives it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def leiden(adata, adjacency: sp.csr_matrix | None, resolution: float, seed: int) -> None:
    """scanpy's Leiden as lsecflow runs it (igraph, 2 iterations, undirected, seeded): ``obs["leiden"]``
    and ``uns["leiden"]``; ``adjacency`` None takes the neighbours' connectivities."""
    import scanpy as sc

    sc.tl.leiden(adata, resolution=resolution, flavor="igraph", n_iterations=2, directed=False,
                 random_state=seed, adjacency=adjacency)


@contextmanager
def clustering(hvg, resolution: float, seed: int, beside: bool | None = None, gpu: bool = False):
    """Start Leiden of ``hvg``'s neighbour graph and yield ``finish``, which stores ``obs["leiden"]`` and
    ``uns["leiden"]`` in ``hvg`` (waiting for the second process, or clustering here).

    Parameters
    ----------
    hvg
        AnnData with ``obsp["connectivities"]``.
    resolution, seed
        Leiden's resolution and random seed.
    beside
        Run in a second process while the ``with`` block lays out the UMAP; None: on the GPU path
        (``gpu``) from :data:`~lsecflow.job_resources.LEIDEN_BESIDE_CELLS` cells when a second core is
        free. A failure of that process is raised by ``finish``; leaving the block early stops it.
        Nothing is left in the temporary folder.
    gpu
        Whether the UMAP layout runs on the GPU.
    """
    if beside is None:
        beside = leiden_beside(hvg.n_obs, gpu) and free_cores() >= 2
    if not beside:
        yield lambda: leiden(hvg, None, resolution, seed)
        return
    with tempfile.TemporaryDirectory(prefix="lsecflow-leiden-") as tmp:
        graph = sp.csr_matrix(hvg.obsp["connectivities"])
        np.savez(Path(tmp) / "graph.npz", data=graph.data, indices=graph.indices, indptr=graph.indptr,
                 shape=np.array(graph.shape))
        del graph
        package = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package, os.environ.get("PYTHONPATH")) if p)}
        with open(Path(tmp) / "stderr.txt", "w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "lsecflow.cell_leiden", tmp, str(resolution), str(seed)],
                                    env=env, stdout=subprocess.DEVNULL, stderr=err)
        log.info("Leiden runs in a second process (pid %d) beside the UMAP: %d cells, %d cores free",
                 proc.pid, hvg.n_obs, free_cores())

        def finish() -> None:
            if proc.wait() != 0:
                tail = (Path(tmp) / "stderr.txt").read_text()[-3000:]
                raise RuntimeError(f"Leiden in a second process failed (exit code {proc.returncode}):\n{tail}")
            done = json.loads((Path(tmp) / "leiden.json").read_text())
            labels = np.load(Path(tmp) / "labels.npy", allow_pickle=False)
            hvg.obs["leiden"] = pd.Categorical(labels.astype(str), categories=done["categories"])
            hvg.uns["leiden"] = done["uns"]
            log.info("Leiden in the second process: %.1f s, its peak memory %.2f GiB", done["seconds"],
                     done["peak_gib"])

        try:
            yield finish
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main(folder: str, resolution: str, seed: str) -> None:
    """The second process: Leiden of ``folder/graph.npz``; writes ``labels.npy`` and ``leiden.json``."""
    import anndata as ad

    t0 = time.perf_counter()
    path = Path(folder)
    g = np.load(path / "graph.npz")
    graph = sp.csr_matrix((g["data"], g["indices"], g["indptr"]), shape=tuple(g["shape"]))
    adata = ad.AnnData(obs=pd.DataFrame(index=pd.RangeIndex(graph.shape[0]).astype(str)))
    leiden(adata, graph, float(resolution), int(seed))
    labels = adata.obs["leiden"]
    np.save(path / "labels.npy", labels.astype(str).to_numpy().astype("U"))
    done = {"categories": [str(c) for c in labels.cat.categories], "uns": _plain(adata.uns["leiden"]),
            "seconds": time.perf_counter() - t0,
            "peak_gib": own_peak_gib()}
    (path / "leiden.json").write_text(json.dumps(done))


def own_peak_gib() -> float:
    """This process's peak resident memory since it started its program: ``VmHWM`` of /proc/self/status.
    (``ru_maxrss`` is no use here: Linux keeps it across fork and exec, so a process started from a job of
    9 GiB reports 9 GiB; where /proc is missing, that is the fallback.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _plain(value):
    """``uns["leiden"]`` as JSON can carry it (numpy scalars to Python numbers)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value.item() if isinstance(value, np.generic) else value


if __name__ == "__main__":
    main(*sys.argv[1:])
