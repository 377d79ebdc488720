"""Leiden beside the GPU's UMAP layout (lsecflow.cell_leiden): a second process gives the labels one process gives, on the
real TMS cells' neighbour graph; its failure is raised with its message; leaving early stops it and leaves
no temporary files."""
from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import anndata as ad
import pytest
import scanpy as sc
from helpers import tms_pcs
from lsecflow import cell_leiden, job_resources


@pytest.fixture(scope="module")
def graph():
    """The real TMS cells' neighbour graph (20 PCs of the log-normalised counts, scanpy's neighbours)."""
    log, scores = tms_pcs(20)
    a = ad.AnnData(log)
    a.obsm["X_pca"] = scores
    sc.pp.neighbors(a, n_neighbors=15, use_rep="X_pca", random_state=0)
    return a


def leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("lsecflow-leiden-*")}


def test_second_process_gives_the_same_labels(graph, caplog):
    before = leftovers()
    here, there = graph.copy(), graph.copy()
    with cell_leiden.clustering(here, 1.0, 0, beside=False) as finish:
        finish()
    with caplog.at_level(logging.INFO, logger="lsecflow.cell_leiden"):
        with cell_leiden.clustering(there, 1.0, 0, beside=True) as finish:
            finish()
    assert "second process (pid" in caplog.text
    peak = float(re.search(r"its peak memory ([0-9.]+) GiB", caplog.text).group(1))
    assert 0.05 < peak < 2  # its own program's peak, not this process's (ru_maxrss carries over a fork)
    assert here.obs["leiden"].nunique() > 3  # a real clustering, not one group
    assert (here.obs["leiden"] == there.obs["leiden"]).all()
    assert list(here.obs["leiden"].cat.categories) == list(there.obs["leiden"].cat.categories)
    assert here.uns["leiden"] == there.uns["leiden"]
    assert leftovers() == before


def test_automatic_choice(graph, caplog, monkeypatch):
    """On the GPU path from LEIDEN_BESIDE_CELLS cells with a second core, Leiden runs beside; else here (the CPU
    path always: on 2 cores side by side was no faster)."""
    for cells, cores, gpu, beside in ((len(graph) + 1, 2, True, False), (len(graph), 1, True, False),
                                      (len(graph), 2, True, True), (len(graph), 2, False, False)):
        monkeypatch.setattr(job_resources, "LEIDEN_BESIDE_CELLS", cells)
        monkeypatch.setattr(cell_leiden, "free_cores", lambda cores=cores: cores)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="lsecflow.cell_leiden"):
            with cell_leiden.clustering(graph.copy(), 1.0, 0, gpu=gpu):
                pass  # the choice is logged at the start; a second process is stopped on leaving
        assert ("second process" in caplog.text) is beside


def test_failure_is_raised_and_leaving_early_stops_it(graph, caplog):
    before = leftovers()
    with pytest.raises(RuntimeError, match=r"(?s)Leiden in a second process failed \(exit code 1\).*could not convert"):
        with cell_leiden.clustering(graph.copy(), "one", 0, beside=True) as finish:  # the process cannot read it
            finish()
    with caplog.at_level(logging.INFO, logger="lsecflow.cell_leiden"):
        with pytest.raises(KeyboardInterrupt):
            with cell_leiden.clustering(graph.copy(), 1.0, 0, beside=True):
                raise KeyboardInterrupt  # the UMAP stopped: the second process must not run on
    pid = int(re.search(r"pid (\d+)", caplog.text).group(1))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert leftovers() == before
