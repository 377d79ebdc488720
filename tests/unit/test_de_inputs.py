"""lsecflow.de_inputs: what every DE engine starts from -- the pre-filter, the testable contrasts, the fit's
files when nothing is fitted -- on the real DLPC counts and sheet. (model_inputs' invariance to the order and
dialect of the inputs: tests/unit/test_ingest_dialects.py; the engines' entry points: test_de*.py.)"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import DLPC_COUNTS, dlpc_dataset, load_datasets
from lsecflow import de_inputs
from lsecflow.de_files import OUTPUT_KINDS
from lsecflow.errors import InputDataError
from lsecflow.ingest import run_ingest


@pytest.fixture(scope="module")
def dlpc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dlpc")
    ds = load_datasets({"dlpc_liver": dlpc_dataset(DLPC_COUNTS)}).datasets["dlpc_liver"]
    run_ingest(ds.params(rule="ingest"), str(folder / "counts.h5ad"))
    return folder, ds


def test_pre_filter_counts_samples_at_the_threshold():
    """samples x genes: a gene is kept with >= min_count in >= min_samples samples (10 counts: at the threshold)."""
    X = np.array([[10, 0, 3], [10, 9, 30], [0, 10, 10], [12, 10, 9]])
    np.testing.assert_array_equal(de_inputs.filter_genes(X, 10, 3), [True, False, False])
    np.testing.assert_array_equal(de_inputs.filter_genes(X, 9, 3), [True, True, True])


def test_fit_start_and_count_unit(dlpc, tmp_path):
    """Every contrast of DLPC is testable; the counts come out genes x samples, sorted, through the pre-filter
    (15,974 genes), with the symbols; qc.exclude takes its sample out first."""
    folder, ds = dlpc
    params = ds.params(rule="de")
    outputs = {c: {k: str(tmp_path / f"{c}.{k}") for k in OUTPUT_KINDS} for c in ds.contrasts}
    start = de_inputs.fit_start(str(folder / "counts.h5ad"), params, outputs, None, "edgeR")
    assert start.tested == list(ds.contrasts) and all(t.empty for t in start.results.values())
    unit = de_inputs.count_unit(start.adata, params, start.tested)
    assert unit.counts.shape == (15974, 20) and list(unit.counts.columns) == sorted(unit.counts.columns)
    assert (unit.symbols.index == unit.counts.index).all() and list(unit.meta.columns) == ["Group"]
    params["spec"]["qc"]["exclude"] = ["Sample756"]
    assert "Sample756" not in set(de_inputs.fit_samples(start.adata, params).obs["sample"])


def test_an_untestable_contrast_stops_bulk_and_untested_files_say_why(dlpc, tmp_path):
    """A contrast whose level has one sample stops a bulk fit, naming it; a fit with nothing testable writes its
    own files as headers and the design test's summary with the reason."""
    folder, ds = dlpc
    params = ds.params(rule="de")
    import anndata as ad

    adata = ad.read_h5ad(folder / "counts.h5ad")
    chow = adata.obs_names[adata.obs["Group"].astype(str) == "Chow"]
    thin = adata[~adata.obs_names.isin(chow[1:])].copy()
    outputs = {c: {k: str(tmp_path / f"{c}.{k}") for k in OUTPUT_KINDS} for c in ds.contrasts}
    with pytest.raises(InputDataError, match=r"contrast 'disease_vs_chow': level 'Chow' of 'Group' has 1 sample"):
        de_inputs.testable(thin, params, outputs, None, "edgeR")
    lrt = {"table": str(tmp_path / "lrt.tsv"), "summary": str(tmp_path / "lrt.summary.tsv")}
    de_inputs.write_untested(params, None, lrt, {str(tmp_path / "disp.tsv"): ["gene_id", "x"], None: ["y"]})
    assert list(pd.read_csv(tmp_path / "disp.tsv", sep="\t").columns) == ["gene_id", "x"]
    summary = pd.read_csv(lrt["summary"], sep="\t")
    assert summary.loc[0, "status"] == "skipped: no contrast testable"
