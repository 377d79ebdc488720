"""lsecflow.de_inputs: what every DE engine starts from -- the pre-filter, the testable contrasts, the fit's
files when nothing is fitted -- on the real DLPC counts and sheet. (model_inputs' invariance to the order and
dialect of the inputs: tests/unit/test_ingest_dialects.py; the engines' entry points: test_de*.py.)"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from helpers import DLPC_COUNTS, dlpc_dataset, load_datasets
from lsecflow import de_inputs
from lsecflow.de_files import OUTPUT_KINDS
from lsecflow.errors import InputDataError, UnfittableDesign, UnfittableFit
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
    assert unit.lengths is None  # gene counts, not tximport's: no transcript lengths
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


@pytest.mark.parametrize("batch, says", [
    (["x"] * 6, "design column 'batch' has a single level ('x') among the 6 samples tested"),
    (["x", "x", "x", "y", "y", "y"], "model column(s) 'batch[T.y]' are combinations of the columns before them among "
                                     "the 6 samples tested (rank 2 of 3): design columns group, batch are confounded"),
    (["x", "y", "z", "w", "x", "v"], "'~ group + batch' has 6 coefficients for 6 samples: no residual df"),
], ids=["single_level", "confounded", "no_residual_df"])
@pytest.mark.parametrize("engine", ["deseq2", "voom", "edger"])
def test_a_cell_type_the_design_cannot_fit_is_skipped_a_bulk_fit_stops(tmp_path, engine, batch, says):
    """SYNTHETIC pseudobulk (Poisson counts): one cell type of 6 samples (3 per group) under ~ group + batch,
    its batches such that the design cannot be fitted there. Every engine skips that cell type with the reason
    (its contrast's summary, its own files as headers: the other cell types go on); as a bulk fit the same
    samples stop with the reason. (Before: DESeq2 and voom stopped the job for a pseudobulk cell type, voom with
    a bare 'Singular matrix'; edgeR fitted the confounded design after dropping batch without a word.)"""
    obs = pd.DataFrame({"sample": [f"s{i}" for i in range(6)], "cell_type": "LSEC", "group": ["a"] * 3 + ["b"] * 3,
                        "batch": batch}, index=[f"s{i}|LSEC" for i in range(6)])
    assert_skipped_then_stops(tmp_path, engine, obs, np.random.default_rng(0).poisson(50, size=(6, 100)),
                              "~ group + batch", says, UnfittableDesign)


def assert_skipped_then_stops(tmp_path, engine: str, obs: pd.DataFrame, X: np.ndarray, design: str, says: str,
                              error=UnfittableFit):
    """One SYNTHETIC pseudobulk cell type (``obs``, counts ``X``) through ``engine``'s DE entry point: skipped with
    ``says`` as the reason (its contrast's summary and the design test's; its table and the engine's own file
    empty), and the same samples as a bulk fit stop with ``error``."""
    import anndata as ad
    from lsecflow.de import run_de
    from lsecflow.de_edger import run_de_edger
    from lsecflow.de_options import de_defaults
    from lsecflow.de_voom import run_de_voom

    run, own = {"deseq2": (run_de, "dispersions"), "voom": (run_de_voom, "sample_weights"),
                "edger": (run_de_edger, "dispersions")}[engine]
    genes = [f"g{i}" for i in range(X.shape[1])]
    ad.AnnData(X=np.asarray(X, dtype=float), obs=obs, var=pd.DataFrame({"symbol": genes}, index=genes)).write_h5ad(
        tmp_path / "pb.h5ad")
    columns = [c for c in ("group", "batch") if c in design]
    spec = {"contrasts": {"b_vs_a": {"variable": "group", "target": "b", "reference": "a"}}, "design": design,
            "de": {**de_defaults(), "engine": engine}, "qc": {"exclude": []},
            "paracrine": {"enabled": False, "robustness": False}}
    params = {"spec": spec, "cell_types": {"LSEC": "LSEC"}, "design_columns": columns, "name": "synthetic"}
    outputs = {"b_vs_a": {k: str(tmp_path / f"b_vs_a.{k}.tsv") for k in OUTPUT_KINDS}}
    lrt = {"table": str(tmp_path / "lrt.tsv"), "summary": str(tmp_path / "lrt.summary.tsv")}
    files = {own: str(tmp_path / f"{own}.tsv")}
    results = run(str(tmp_path / "pb.h5ad"), params, outputs, cell_type="LSEC", lrt=lrt, **files)
    assert results["b_vs_a"].empty
    status = pd.read_csv(outputs["b_vs_a"]["summary"], sep="\t").loc[0, "status"]
    assert status.startswith("skipped: ") and says in status and status.endswith("(for cell type 'LSEC')"), status
    assert pd.read_csv(outputs["b_vs_a"]["table"], sep="\t").empty
    assert pd.read_csv(files[own], sep="\t").empty
    assert says in pd.read_csv(lrt["summary"], sep="\t").loc[0, "status"]
    with pytest.raises(error, match=re.escape(says)):
        run(str(tmp_path / "pb.h5ad"), params, outputs, lrt=lrt, **files)


@pytest.mark.parametrize("engine, kept, says", [
    ("deseq2", 0, "no gene passes the DE pre-filter (>= 10 counts in >= 3 samples"),
    ("voom", 0, "no gene passes the DE pre-filter"),
    ("edger", 0, "no gene passes the DE pre-filter"),
    ("deseq2", 3, "every gene-wise dispersion of these 3 genes through the pre-filter is within 2 orders of "
                  "magnitude of DESeq2's minimum"),
    ("voom", 1, "voom needs at least two genes to fit its mean-variance trend, and 1 passes the pre-filter"),
    ("edger", 2, "edgeR's dispersion trend cannot be fitted on these 2 genes (locfit: no points with non-zero "
                 "weight"),
])
def test_a_cell_type_with_too_few_genes_is_skipped_a_bulk_fit_stops(tmp_path, engine, kept, says):
    """SYNTHETIC pseudobulk of a thin cell type: 100 genes of which ``kept`` (Poisson, mean 50) pass the
    pre-filter. With none, or too few for the engine's trend (DESeq2's gene-wise dispersions all at its floor, as
    R stops on these very counts; voom's one gene, as R; edgeR's locfit over two), the cell type is skipped with
    the reason and the others go on; a bulk fit stops. (Before: a bare ValueError or an InputDataError stopped
    the cell type's job, so the whole run, found by bench/fuzz_engines.py trial 356.)"""
    obs = pd.DataFrame({"sample": [f"s{i}" for i in range(6)], "cell_type": "LSEC", "group": ["a"] * 3 + ["b"] * 3},
                       index=[f"s{i}|LSEC" for i in range(6)])
    X = np.minimum(np.random.default_rng(0).poisson(2, size=(6, 100)), 5)
    X[:, :kept] = np.random.default_rng(1).poisson(50, size=(6, kept))
    assert_skipped_then_stops(tmp_path, engine, obs, X, "~ group", says)


def test_a_sample_left_without_counts_by_the_filter_is_named():
    """SYNTHETIC: sample s3's only counts are in a gene the pre-filter drops; no library size can be computed for
    it (edgeR's TMM and DESeq2's size factors fail on it), so the fit is refused naming it and the fix."""
    import anndata as ad

    X = np.array([[20, 30, 0], [25, 35, 0], [22, 31, 0], [0, 0, 5]], dtype=float)
    obs = pd.DataFrame({"group": ["a", "a", "b", "b"]}, index=[f"s{i}" for i in range(4)])
    adata = ad.AnnData(X, obs=obs, var=pd.DataFrame({"symbol": ["A", "B", "C"]}, index=["g1", "g2", "g3"]))
    with pytest.raises(UnfittableFit, match=r"sample\(s\) s3 have no count in any of the 2 genes through the pre-filter"):
        de_inputs.model_inputs(adata, ["group"], {"min_count": 10, "min_samples": 3})
