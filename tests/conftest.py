"""Shared fixtures (a finished workflow run, real data slices, the TMS pseudobulk) for tests/unit,
tests/workflow and tests/project; plain helpers and paths live in helpers.py (imported, never conftest)."""
from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import DLPC_COUNTS, OFFLINE, run_snakemake, shipped_dataset, small_config, unshare_available  # noqa: E402,E501
from lsecflow import plots  # noqa: E402
from lsecflow import pseudobulk as pb  # noqa: E402
from lsecflow.ingest import build_counts  # noqa: E402

FIGURE_DEFAULTS = {name: getattr(plots, name) for name in ("FORMATS", "DPI", "UP", "DOWN", "NS", "FOCUS")}
"""lsecflow.plots' module-wide figure settings as imported, before any test configured them."""


@pytest.fixture(autouse=True)
def figure_settings_reset():
    """``plots.configure`` sets module-wide figure settings (formats, dpi, colours) for the rest of a process, as
    one job needs; after each test they go back to their defaults, so that no test's (or module fixture's)
    ``figures:`` block reaches the next tests of its worker (a ``formats: [png]`` left by test_trust's module
    fixture made test_qc_plots' SVGs go missing, CI runs 51-52)."""
    yield
    for name, value in FIGURE_DEFAULTS.items():
        setattr(plots, name, value)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: harmless where xdist is not installed
def pytest_xdist_make_scheduler(config, log):
    """Work split for pytest-xdist (``make test`` runs ``-n auto``): a test file goes to one worker whole, so
    its module fixtures are made once, and every file that uses the shared finished run goes to the same
    worker, so that run is made once. (xdist's own ``loadgroup`` marks do not take with pytest 9.2.)"""
    from xdist.scheduler import LoadScopeScheduling

    root = Path(config.rootpath)
    sources = {p.relative_to(root).as_posix(): p.read_text() for p in (root / "tests").rglob("test_*.py")}
    shared = {path for path, text in sources.items() if "finished_run" in text}
    # the longest units start first (the shared run, then files with tests marked slow): none is left alone at the end
    first = ["finished_run", *sorted(path for path, text in sources.items() if "mark.slow" in text and path not in shared)]

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "finished_run" if path in shared else path

        def _assign_work_unit(self, node) -> None:
            for scope in reversed(first):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return ByFile(config, log)


@pytest.fixture(scope="session")
def dlpc_counts() -> pd.DataFrame:
    """The real DLPC matrix, genes x samples (as published: Sample724)."""
    return pd.read_csv(DLPC_COUNTS, sep="\t", index_col=0)



@pytest.fixture(scope="session")
def dlpc_small(tmp_path_factory, dlpc_counts) -> Path:
    """A real subset of the DLPC matrix: the 1,500 most expressed genes plus
    500 low ones, all 20 samples, gzipped TSV (keeps integration tests fast)."""
    total = dlpc_counts.sum(axis=1)
    keep = total.sort_values(ascending=False).index[:1500].union(total[total > 0].sort_values().index[:500])
    path = tmp_path_factory.mktemp("dlpc") / "counts.small.tsv.gz"
    with gzip.open(path, "wt") as fh:
        dlpc_counts.loc[dlpc_counts.index.isin(keep)].to_csv(fh, sep="\t")
    return path



@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, dlpc_small):
    """One complete run of the workflow on the small config (shared by test modules), offline where `unshare -n`
    works (CI: root): the whole run in a network namespace with loopback only (test_robustness checks that)."""
    work = tmp_path_factory.mktemp("run")
    cfg = small_config(work, dlpc_small)
    proc = run_snakemake(work, cfg, wrapper=OFFLINE if unshare_available() else None)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return work, cfg, proc



@pytest.fixture
def copy_to(tmp_path):
    def _copy(src: Path, name: str | None = None) -> Path:
        dst = tmp_path / (name or src.name)
        shutil.copy(src, dst)
        return dst
    return _copy


@pytest.fixture(scope="module")
def tms_pseudobulk(tmp_path_factory):
    """The shipped TMS cells summed to pseudobulk (real data): (dataset, folder, cells)."""
    ds = shipped_dataset("tms_liver")
    folder = tmp_path_factory.mktemp("pb")
    adata, _ = build_counts(ds.params())
    adata.write_h5ad(folder / "counts.h5ad")
    pb.run_pseudobulk(str(folder / "counts.h5ad"), ds.params(), str(folder / "pb.h5ad"), str(folder / "pb.tsv"))
    return ds, folder, adata


@pytest.fixture(scope="module")
def tiny(dlpc_counts) -> pd.DataFrame:
    """300 most expressed real DLPC genes x 20 samples (header as published)."""
    return dlpc_counts.loc[dlpc_counts.sum(axis=1).sort_values(ascending=False).index[:300]].copy()
