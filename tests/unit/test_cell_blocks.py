"""lsecflow.cell_blocks: single-cell QC read block by block from a backed h5ad, against scanpy on the whole
matrix in memory (the path it replaces), on the real Tabula Muris Senis cells (468 cells x 726 genes) and on
a labelled synthetic bootstrap of them (3,000 cells drawn with replacement, each draw's counts binomially
thinned to 80 % so that copies are distinct cells; 4,000 genes: the real ones and thinned copies;
lsecflow.synthetic). Without the thinning, exact duplicates tie at distance 0 and the reference is not
stable against itself: another seed gave kNN overlap 0.97 / Leiden ARI 0.72-0.75, a 1e-6 perturbation of
its PCs 0.86 / 0.45; with it, 1.00 / 1.00.

Bounds (issue 25): metrics exactly equal, PCA subspace within tolerance, kNN overlap >= 0.95, Leiden ARI
>= 0.7; the GPU code path (lsecflow.cell_arrays) runs here with numpy, and with cupy where a GPU is present
(skipped otherwise)."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from helpers import REPO, TMS_H5AD
from lsecflow import cell_arrays, cell_blocks, gpu, qc_cells
from lsecflow.markers import load_markers, score_signatures
from lsecflow.synthetic import bootstrap_cells, expand_genes
from sklearn.metrics import adjusted_rand_score

OPTS = {"n_hvg": 500, "n_pcs": 30, "leiden_resolution": 1.0}
HAS_GPU, WHY = gpu.gpu_status()


@pytest.fixture(scope="module")
def matrices(tmp_path_factory):
    """{name: (h5ad path, chunk)}: the real TMS cells (read 100 at a time: 5 blocks) and the synthetic
    bootstrap (read 1,000 at a time: 3 blocks)."""
    folder = tmp_path_factory.mktemp("cells")
    tms = ad.read_h5ad(TMS_H5AD)
    tms.obs["sample"] = [name.split("_")[1] for name in tms.obs_names]
    tms.var["symbol"] = tms.var_names.astype(str)
    tms.write_h5ad(folder / "tms.h5ad")
    bootstrap_cells(expand_genes(tms, 4000, seed=1), 3000, folder / "bootstrap.h5ad", seed=2, chunk_size=1500,
                    thin=0.8)
    return {"tms": (folder / "tms.h5ad", 100), "bootstrap": (folder / "bootstrap.h5ad", 1000)}


def in_memory(adata: ad.AnnData, seed: int = 0) -> ad.AnnData:
    """The whole-matrix scanpy path (lsecflow before the blocked reading): normalise, log1p, seurat HVG,
    PCA of the HVG, neighbours, Leiden."""
    a = adata.copy()
    a.X = a.X.astype(np.float32)
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    sc.pp.highly_variable_genes(a, n_top_genes=min(OPTS["n_hvg"], a.n_vars), flavor="seurat")
    sc.pp.pca(a, n_comps=OPTS["n_pcs"], mask_var="highly_variable", random_state=seed)
    sc.pp.neighbors(a, n_neighbors=15, random_state=seed)
    sc.tl.leiden(a, resolution=OPTS["leiden_resolution"], flavor="igraph", n_iterations=2, directed=False,
                 random_state=seed)
    return a


@pytest.fixture(scope="module", params=["tms", "bootstrap"])
def both_paths(request, matrices):
    path, chunk = matrices[request.param]
    full = ad.read_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    mito = qc_cells.mito_genes(backed.var)
    scan = cell_blocks.scan(backed.X, backed.obs_names, mito, chunk)
    return request.param, full, backed, scan, chunk, in_memory(full)


def test_metrics_equal_the_whole_matrix_exactly(both_paths):
    _, full, _, scan, _, _ = both_paths
    X = full.X.tocsr()
    mito = qc_cells.mito_genes(full.var)
    total = np.asarray(X.sum(axis=1)).ravel().astype(float)
    np.testing.assert_array_equal(scan.cells["total_counts"].to_numpy(), total)
    np.testing.assert_array_equal(scan.cells["n_genes"].to_numpy(), np.asarray((X > 0).sum(axis=1)).ravel())
    assert not mito.any()  # the shipped TMS genes hold no mt- gene: not measured, not zero
    assert scan.cells["mito_fraction"].isna().all()


def test_mitochondrial_fraction_block_by_block(tmp_path):
    """The mitochondrial fraction read block by block equals the whole matrix's, with mt- genes planted by
    relabelling the symbols of five real TMS genes (SYNTHETIC labels; the counts are the real cells')."""
    tms = ad.read_h5ad(TMS_H5AD)
    X = tms.X.tocsr().astype(float)
    top = np.argsort(-np.asarray(X.sum(axis=0)).ravel())[5:10]
    symbols = tms.var_names.astype(str).to_numpy().copy()
    symbols[top] = [f"mt-{s}" for s in symbols[top]]
    tms.var["symbol"] = symbols
    tms.write_h5ad(tmp_path / "mito.h5ad")
    backed = ad.read_h5ad(tmp_path / "mito.h5ad", backed="r")
    mito = qc_cells.mito_genes(backed.var)
    assert mito.sum() == 5
    scan = cell_blocks.scan(backed.X, backed.obs_names, mito, 100, doublets=False)
    total = np.asarray(X.sum(axis=1)).ravel()
    expected = np.asarray(X[:, top].sum(axis=1)).ravel() / np.maximum(total, 1)
    np.testing.assert_allclose(scan.cells["mito_fraction"].to_numpy(), expected, rtol=1e-12)
    assert (expected > 0).mean() > 0.5


def test_hvg_and_signature_scores_equal_scanpy(both_paths):
    name, full, backed, scan, chunk, ref = both_paths
    ours = cell_blocks.seurat_hvg(scan.genes, min(OPTS["n_hvg"], full.n_vars))
    np.testing.assert_array_equal(ours, ref.var["highly_variable"].to_numpy())
    markers = load_markers(str(REPO / "resources/markers/mouse.tsv"), set(full.var["symbol"].astype(str)))
    expected = score_signatures(ref, markers, seed=0)
    symbol_to_var = pd.Series(full.var_names, index=full.var["symbol"].astype(str).to_numpy())
    signatures = {ct: [symbol_to_var[g] for g in genes if g in symbol_to_var.index] for ct, genes in markers.items()}
    log_mean = pd.Series(scan.genes["log_mean"].to_numpy(), index=full.var_names)
    scored = cell_blocks.score_genes(log_mean, signatures)
    names = cell_blocks.score_columns(scored)
    values = cell_blocks.log_columns(backed.X, full.var_names.get_indexer(names), scan.cells["total_counts"].to_numpy(),
                                     chunk)
    got = cell_blocks.signature_scores(values, names, scored)
    assert list(got.columns) == list(expected.columns) and len(got.columns) >= 4, name
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)


ON_GPU = pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU here: {WHY}")


@pytest.mark.parametrize("on_gpu, gpu_code", [(False, False), (False, True), pytest.param(True, True, marks=ON_GPU)],
                         ids=["cpu", "gpu-code-on-numpy", "gpu"])
def test_embedding_agrees_with_the_whole_matrix(both_paths, on_gpu, gpu_code):
    """The blocked path (second pass, covariance PCA in blocks of chunk cells, neighbours, UMAP, Leiden)
    against scanpy on the whole matrix. ``gpu-code-on-numpy`` runs the GPU's code path with numpy: exact
    neighbours by blocked distance products and lsecflow's UMAP layout; ``gpu`` the same with cupy (where a
    GPU is present)."""
    name, full, backed, scan, chunk, ref = both_paths
    hvg = cell_blocks.seurat_hvg(scan.genes, min(OPTS["n_hvg"], full.n_vars))
    xp = cell_arrays.array_module(on_gpu)
    values = cell_blocks.log_columns(backed.X, np.flatnonzero(hvg), scan.cells["total_counts"].to_numpy(), chunk, xp)
    ours = ad.AnnData(values, var=full.var.iloc[np.flatnonzero(hvg)].copy())
    qc_cells.embed_and_cluster(ours, OPTS, OPTS["n_pcs"], seed=0, gpu=on_gpu, chunk=chunk // 3, exact_knn=gpu_code,
                               array_umap=gpu_code)
    cos = cell_arrays.subspace_cosine(ours.varm["PCs"], ref.varm["PCs"][hvg])
    overlap = cell_arrays.knn_overlap(ours.obsp["distances"], ref.obsp["distances"])
    ari = adjusted_rand_score(ref.obs["leiden"], ours.obs["leiden"])
    print(f"{name} (gpu={on_gpu}, GPU code={gpu_code}): PCA subspace cosine {cos:.6f}, kNN overlap {overlap:.4f}, "
          f"Leiden ARI {ari:.3f}")
    assert cos >= 0.999 and overlap >= 0.95 and ari >= 0.7, (cos, overlap, ari)
    assert ours.obsm["X_umap"].shape == (full.n_obs, 2)
    assert ("layout" in ours.uns["umap"]["params"]) == gpu_code  # whose UMAP it is


def layout_purity(layout: np.ndarray, labels: np.ndarray, k: int = 15) -> float:
    """Mean share of each cell's k nearest cells in the layout that carry its label."""
    from sklearn.neighbors import NearestNeighbors

    near = NearestNeighbors(n_neighbors=k + 1).fit(layout).kneighbors(layout, return_distance=False)[:, 1:]
    return float(np.mean(labels[near] == labels[:, None]))


@pytest.mark.parametrize("on_gpu", [False, pytest.param(True, marks=ON_GPU)], ids=["numpy", "cupy"])
def test_umap_layout_keeps_what_scanpys_umap_keeps(both_paths, on_gpu):
    """lsecflow's UMAP layout (cell_arrays.umap_layout, PCA start) and scanpy's (umap-learn, spectral start)
    on the same fuzzy graph: each cell's 15 nearest neighbours in PCA space found among its 15 nearest in the
    layout (measured: TMS 0.575 vs scanpy 0.571, bootstrap 0.567 vs 0.563), and its 15 nearest in the layout
    in its own Leiden cluster (TMS 0.958 vs 0.961, bootstrap 0.691 vs 0.668); the same seed gives the same
    layout."""
    name, *_, ref = both_paths
    a = ref.copy()
    sc.tl.umap(a, random_state=0)
    theirs = a.obsm["X_umap"].copy()
    xp = cell_arrays.array_module(on_gpu)
    qc_cells.umap_from_pca(a, xp, seed=0)
    ours = a.obsm["X_umap"]
    kept = [cell_arrays.neighbour_preservation(a.obsm["X_pca"], y) for y in (ours, theirs)]
    labels = a.obs["leiden"].to_numpy()
    purity = [layout_purity(y, labels) for y in (ours, theirs)]
    print(f"{name}: neighbours kept {kept[0]:.3f} (scanpy {kept[1]:.3f}), Leiden purity {purity[0]:.3f} "
          f"(scanpy {purity[1]:.3f})")
    assert ours.shape == (a.n_obs, 2) and ours.dtype == np.float32 and np.isfinite(ours).all()
    assert kept[0] >= 0.95 * kept[1] and purity[0] >= purity[1] - 0.03, (kept, purity)
    qc_cells.umap_from_pca(a, xp, seed=0)
    np.testing.assert_array_equal(a.obsm["X_umap"], ours)


def test_umap_layout_separates_planted_groups_and_bounds_each_step():
    """SYNTHETIC planted truth: 20 well separated gaussian groups of 150 points in 10 dimensions. Started
    with almost every point on top of the others (four points at +-1, the rest within ~1e-3: after the
    rescaling to [0, 10] most cells sit closer than the repulsion's clip; what umap-learn's spectral start
    gave most of 100,000 bootstrapped cells), the layout separates the groups (each point's 15 nearest in
    its own group) and stays compact (farthest point / 90th percentile distance from the centre: 1.23);
    without the bound on each cell's summed move (``max_step=None``) the same start, all edges of an epoch
    at once, throws cells out (4.07), the failure the bound is there for."""
    from umap.umap_ import find_ab_params

    rng = np.random.default_rng(5)
    centres = rng.normal(scale=20.0, size=(20, 10))
    groups = np.repeat(np.arange(20), 150)
    points = (centres[groups] + rng.normal(size=(3000, 10))).astype(np.float32)
    a = ad.AnnData(points)
    sc.pp.neighbors(a, n_neighbors=15, use_rep="X", random_state=0)
    ab = dict(zip("ab", map(float, find_ab_params(1.0, 0.5))))
    start = rng.normal(scale=1e-3, size=(3000, 2)).astype(np.float32)
    start[:4] = [[1, 1], [-1, -1], [1, -1], [-1, 1]]

    def spread(y):
        r = np.linalg.norm(y - np.median(y, axis=0), axis=1)
        return r.max() / np.percentile(r, 90)

    bounded = cell_arrays.umap_layout(a.obsp["connectivities"], start, np, **ab, n_epochs=200, batches=1)
    unbounded = cell_arrays.umap_layout(a.obsp["connectivities"], start, np, **ab, n_epochs=200, batches=1,
                                        max_step=None)
    assert layout_purity(bounded, groups) >= 0.99
    assert spread(bounded) < 2.0 < spread(unbounded), (spread(bounded), spread(unbounded))


def test_doublet_scores_are_scrublets_on_the_whole_matrix_in_one_block(matrices):
    """One block (chunk >= cells): scrublet's scores on the whole matrix; smaller blocks score each block."""
    path, _ = matrices["tms"]
    full = ad.read_h5ad(path)
    ref = full.copy()
    sc.pp.scrublet(ref, random_state=0, verbose=False)
    one = cell_blocks.scan(full.X, full.obs_names, qc_cells.mito_genes(full.var), chunk=full.n_obs)
    np.testing.assert_allclose(one.cells["doublet_score"].to_numpy(), ref.obs["doublet_score"].to_numpy(), atol=1e-9)
    blocks = cell_blocks.scan(full.X, full.obs_names, qc_cells.mito_genes(full.var), chunk=234)
    assert blocks.cells["doublet_score"].notna().all()
    assert not np.allclose(blocks.cells["doublet_score"].to_numpy(), ref.obs["doublet_score"].to_numpy())


def test_synthetic_genes_are_labelled_thinned_copies(matrices):
    tms = ad.read_h5ad(TMS_H5AD)
    wide = expand_genes(tms, 2000, seed=3)
    assert wide.shape == (tms.n_obs, 2000) and wide.var_names.is_unique
    assert "SYNTHETIC" in wide.uns["lsecflow_synthetic"]
    real = np.asarray(tms.X.todense() if hasattr(tms.X, "todense") else tms.X)
    np.testing.assert_array_equal(np.asarray(wide.X[:, :tms.n_vars].todense()), real)  # the real genes unchanged
    copy = np.asarray(wide.X[:, tms.n_vars:2 * tms.n_vars].todense())
    assert (copy <= real).all() and copy.sum() < real.sum()  # thinned, never raised
    assert wide.var_names[tms.n_vars].endswith("-syn1")


def test_installed_pynndescent_is_the_one_scanpy_can_read():
    """Beyond 8,192 cells scanpy's neighbours use pynndescent, and so does scrublet beyond ~2,700 cells (its
    simulated doublets triple them). pynndescent 0.7 returns a sparse *array* that scanpy 1.11.5 cannot read:
    neighbours failed and doublet scores were silently empty. The pin (0.5.13) must be what is installed.
    (Running pynndescent here would cost ~40 s of numba compilation; bench/sc_scale.py runs it at 100k and
    1M cells and stops if a doublet score is missing.)"""
    from importlib.metadata import version

    pins = dict(line.split("==") for line in (REPO / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert pins["pynndescent"] == "0.5.13" and version("pynndescent") == pins["pynndescent"]
    assert version("scanpy") == pins["scanpy"]


@pytest.fixture(scope="module")
def tms_log(matrices):
    """The real TMS cells: raw counts (CSR) and scanpy's normalize_total + log1p of them."""
    full = ad.read_h5ad(matrices["tms"][0])
    raw = full.X.tocsr().astype(np.float32)
    a = ad.AnnData(raw.copy())
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    return raw, a.X.tocsr()


def test_normalisation_is_scanpys_bit_for_bit(tms_log):
    raw, expected = tms_log
    data, _, rows = cell_arrays.csr_arrays(raw, np)
    got = cell_arrays.log_normalise_data(data, rows, np.asarray(raw.sum(axis=1, dtype=np.float64)).ravel(), np)
    np.testing.assert_array_equal(got, expected.data)
    some = np.array([3, 50, 400, 700])
    sub = cell_arrays.log_normalised_columns(raw, some, np.asarray(raw.sum(axis=1)).ravel(), np)
    np.testing.assert_array_equal(sub.toarray(), expected[:, some].toarray())


def test_covariance_pca_is_scanpys_pca(tms_log):
    """Blocks of 100 cells: the covariance eigenvectors span scanpy's ARPACK subspace, component by component
    (up to sign), with the same variance ratios and scores."""
    _, X = tms_log
    ref = ad.AnnData(X.copy())
    sc.pp.pca(ref, n_comps=20, svd_solver="arpack", random_state=0)
    ours = cell_arrays.covariance_pca(X, 20, np, chunk=100)
    signs = np.sign(np.sum(ours["loadings"] * ref.varm["PCs"], axis=0))
    np.testing.assert_allclose(ours["loadings"] * signs, ref.varm["PCs"], atol=2e-5)
    np.testing.assert_allclose(ours["variance_ratio"], ref.uns["pca"]["variance_ratio"], rtol=1e-5)
    # scores up to +-25: scanpy's ARPACK works in the data's float32, ours in float64
    np.testing.assert_allclose(ours["scores"] * signs, ref.obsm["X_pca"], atol=1e-3)
    assert (ours["loadings"][np.abs(ours["loadings"]).argmax(axis=0), np.arange(20)] > 0).all()  # sign rule


def test_repeat_index_by_search_is_numpys_repeat():
    """cupy's way to each CSR value's row (a search of the cumulative ends) run with numpy: numpy's repeat,
    empty rows included (the real TMS rows' counts of stored values, with two empty rows added)."""
    raw = ad.read_h5ad(TMS_H5AD).X.tocsr()
    counts = np.concatenate([[0], np.diff(raw.indptr), [0, 3]])
    np.testing.assert_array_equal(cell_arrays.repeat_index(counts, np, by_search=True),
                                  cell_arrays.repeat_index(counts, np, by_search=False))
    assert len(cell_arrays.repeat_index(np.zeros(3, dtype=int), np, by_search=True)) == 0
