"""Exact neighbours of the GPU path (lsecflow.cell_knn), run here with numpy and with cupy where a GPU is
present: blocked distance products against brute force, float64 against float32 where neighbours are close
and far from the origin (PLANTED), and the top-k methods against argpartition on the real TMS cells."""
from __future__ import annotations

import helpers
import numpy as np
import pytest
from lsecflow import cell_arrays, cell_knn, gpu

HAS_GPU, WHY = gpu.gpu_status()
ON_GPU = pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU here: {WHY}")


@pytest.fixture(scope="module")
def tms_pcs():
    """20 PCs of the real TMS cells, log-normalised as scanpy does (float64)."""
    return helpers.tms_pcs(20)[1].astype(np.float64)


def test_exact_knn_is_brute_force(tms_pcs):
    """Blocked distance products (blocks of 64 cells) give sklearn's brute-force neighbours."""
    from sklearn.neighbors import NearestNeighbors

    idx, dist = cell_knn.exact_knn(tms_pcs, 14, np, block=64)
    ref_dist, ref_idx = NearestNeighbors(n_neighbors=15, algorithm="brute").fit(tms_pcs).kneighbors(tms_pcs)
    np.testing.assert_allclose(dist, ref_dist[:, 1:], rtol=1e-6, atol=1e-6)
    same = np.mean([len(np.intersect1d(a, b)) / 14 for a, b in zip(idx, ref_idx[:, 1:])])
    assert same >= 0.999 and (idx != np.arange(len(tms_pcs))[:, None]).all()  # ties aside; never itself
    graph = cell_knn.BlockedKnn(15, np, block=64).fit_transform(tms_pcs)
    assert graph.shape == (len(tms_pcs), len(tms_pcs)) and (np.diff(graph.indptr) == 14).all()


@pytest.mark.parametrize("on_gpu", [False, pytest.param(True, marks=ON_GPU)], ids=["numpy", "cupy"])
def test_exact_knn_keeps_close_neighbours_far_from_the_origin(on_gpu):
    """PLANTED: 3,000 float32 points in 20 tight clumps (spread 0.005) about 22 from the origin, as
    bootstrapped copies of a cell lie in PCA space. The expansion |a|^2 - 2 a.b + |b|^2 cancels there: in
    float32 it keeps ~0.78 of the true neighbours (the first GPU run's 0.931 against scanpy came from
    this); the default float64 keeps all of them, on numpy and on cupy."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(20, 30))
    points = (centres[rng.integers(0, 20, 3000)] + rng.normal(scale=0.005, size=(3000, 30))).astype(np.float32)
    wide = points.astype(np.float64)  # distances by differences (no cancellation), 100 rows at a time
    truth = np.vstack([np.sqrt(((wide[i:i + 100, None, :] - wide[None, :, :]) ** 2).sum(axis=-1))
                       for i in range(0, len(wide), 100)])
    np.fill_diagonal(truth, np.inf)
    ref = np.argsort(truth, axis=1)[:, :14]
    xp = cell_arrays.array_module(on_gpu)
    kept = {}
    for dtype in (np.float64, np.float32):
        idx, dist = cell_knn.exact_knn(points, 14, xp, dtype=dtype)
        kept[dtype] = np.mean([len(np.intersect1d(a, b)) / 14 for a, b in zip(idx, ref)])
        if dtype is np.float64:
            np.testing.assert_allclose(dist, np.take_along_axis(truth, ref, axis=1), atol=1e-9)
    assert kept[np.float64] == 1.0 and kept[np.float32] < 0.9, kept


def squared_distances(pcs: np.ndarray, rows: int) -> np.ndarray:
    d2 = ((pcs[:rows, None, :] - pcs[None, :, :]) ** 2).sum(axis=2)
    d2[np.arange(rows), np.arange(rows)] = np.inf
    return d2


@pytest.mark.parametrize("method", ["threshold", "minima"])
def test_gpu_top_k_methods_are_argpartition(tms_pcs, method):
    """The GPU's top-k methods run with numpy give argpartition's neighbours and distances, nearest first,
    on the real TMS cells' squared PCA distances (468 columns: fewer than the 1,024 segments, so
    "threshold" takes each column as its own segment), and leave their input as it was."""
    d2 = squared_distances(tms_pcs, 100)
    before = d2.copy()
    by_sort = cell_knn.smallest_k(d2, 14, np, method="partition")
    ours = cell_knn.smallest_k(d2, 14, np, method=method)
    np.testing.assert_array_equal(ours[0], by_sort[0])
    np.testing.assert_array_equal(ours[1], by_sort[1])
    assert (np.diff(ours[1], axis=1) >= 0).all()
    np.testing.assert_array_equal(d2, before)


@pytest.mark.parametrize("columns", [1024 * 3, 1024 * 3 + 517])
def test_threshold_top_k_with_segments_and_ties(columns):
    """SYNTHETIC: segments of several columns (and columns left over beyond the last whole stride), and
    ties: 400 random points drawn ``columns`` times (about 8 exact copies of each), so that a row's k-th
    smallest distance is shared by several columns. The threshold method gives argpartition's values and
    breaks ties by column, as the k row minima in turn do (argpartition picks any of the tied columns)."""
    points = np.random.default_rng(3).normal(size=(400, 10))[np.random.default_rng(4).integers(0, 400, columns)]
    d2 = squared_distances(points, 64)
    for k in (1, 14, 30):
        by_sort = cell_knn.smallest_k(d2, k, np, method="partition")
        by_minima = cell_knn.smallest_k(d2, k, np, method="minima")
        ours = cell_knn.smallest_k(d2, k, np, method="threshold")
        np.testing.assert_array_equal(ours[1], by_sort[1])
        np.testing.assert_array_equal(by_minima[1], by_sort[1])
        np.testing.assert_array_equal(ours[0], by_minima[0])
        assert (d2[np.arange(64)[:, None], ours[0]] == ours[1]).all()
    assert (d2 == 0).sum(axis=1).max() >= 5  # the ties are there


def test_top_k_method_is_checked():
    with pytest.raises(ValueError, match="method 'sort' is none of partition, threshold, minima"):
        cell_knn.smallest_k(np.zeros((2, 3)), 1, np, method="sort")
