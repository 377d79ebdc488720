"""Exact neighbours of the GPU path (lsecflow.cell_knn), run here with numpy and with cupy where a GPU is
present: blocked distance products against brute force, float64 against float32 where neighbours are close
and far from the origin (PLANTED), the search by k-means lists against all against all, and the top-k
methods against argpartition on the real TMS cells."""
from __future__ import annotations

import logging

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


@pytest.fixture(scope="module")
def thinned_copies(tms_pcs):
    """SYNTHETIC: 8,000 draws of the real TMS cells' 20 PCs plus normal noise of sd 0.3 (copies of a real
    cell lie together, as bootstrapped cells do)."""
    rng = np.random.default_rng(5)
    return tms_pcs[rng.integers(0, len(tms_pcs), 8000)] + rng.normal(scale=0.3, size=(8000, tms_pcs.shape[1]))


def knn_lists_share(caplog) -> float:
    """The share of all-pairs distances that pruned_knn's last log line reports (%)."""
    line = [r.getMessage() for r in caplog.records if "k-means lists" in r.getMessage()][-1]
    return float(line.rsplit(": ", 1)[1].split(" %")[0])


@pytest.mark.parametrize("on_gpu", [False, pytest.param(True, marks=ON_GPU)], ids=["numpy", "cupy"])
def test_pruned_knn_is_all_against_all(tms_pcs, thinned_copies, on_gpu, caplog):
    """The search by k-means lists finds exact_knn's neighbours at the same distances, on the real TMS cells
    and their noisy copies, whatever the lists: few lists probed one at a time (the triangle inequality then
    brings in most of the search), blocks small enough that large lists go by row blocks and the second search
    by column blocks, exact duplicates (ties at distance 0, compared by distance); and on the copies it
    computes under a third of the all-pairs distances."""
    xp = cell_arrays.array_module(on_gpu)
    duplicated = np.repeat(tms_pcs[:100], 5, axis=0)
    cases = [(tms_pcs, {}), (tms_pcs, {"n_lists": 3, "probe": 1}), (tms_pcs, {"budget": 2000}),
             (tms_pcs[:20], {}), (duplicated, {}), (thinned_copies, {})]
    caplog.set_level(logging.INFO, logger="lsecflow.cell_knn")
    for points, kwargs in cases:
        ref_idx, ref_dist = cell_knn.exact_knn(points, 14, xp)
        idx, dist = cell_knn.pruned_knn(points, 14, xp, **kwargs)
        np.testing.assert_allclose(dist, ref_dist, rtol=0, atol=1e-6, err_msg=str((len(points), kwargs)))
        assert (idx != np.arange(len(points))[:, None]).all()
        if points is not duplicated:
            same = np.mean([len(np.intersect1d(a, b)) / 14 for a, b in zip(idx, ref_idx)])
            assert same >= 0.999, (len(points), kwargs, same)
    assert knn_lists_share(caplog) < 30.0


def test_pruned_knn_reaches_beyond_the_probed_lists(thinned_copies):
    """With one list probed, many cells' true neighbours lie in lists other than their own, so the first
    search alone would miss them: the triangle inequality's second search finds every one."""
    k, n_lists = 14, 40
    p = thinned_copies.astype(np.float64)
    _, order, starts, _ = cell_knn.inverted_lists(p, n_lists, np)
    own = np.repeat(np.arange(n_lists), np.diff(starts))[np.argsort(order)]  # each cell's list
    ref_idx, ref_dist = cell_knn.exact_knn(p, k, np)
    outside = (own[ref_idx] != own[:, None]).any(axis=1)
    assert outside.mean() > 0.05, outside.mean()
    idx, dist = cell_knn.pruned_knn(p, k, np, n_lists=n_lists, probe=1)
    np.testing.assert_allclose(dist[outside], ref_dist[outside], rtol=0, atol=1e-9)


def test_blocked_knn_searches_lists_from_prune_from(tms_pcs, caplog, monkeypatch):
    """BlockedKnn takes the lists from ``prune_from`` cells, with the same graph as all against all; the search
    says how far it is (here after every list)."""
    caplog.set_level(logging.INFO, logger="lsecflow.cell_knn")
    monkeypatch.setattr(cell_knn, "PROGRESS_EVERY", -1.0)
    by_lists = cell_knn.BlockedKnn(15, np, prune_from=len(tms_pcs))
    graph = by_lists.fit_transform(tms_pcs)
    assert "k-means lists" in caplog.text and by_lists.describe(len(tms_pcs)) == "exact, k-means lists on numpy"
    assert "exact neighbours: 20 of 21 lists searched" in caplog.text
    all_pairs = cell_knn.BlockedKnn(15, np).fit_transform(tms_pcs)
    assert cell_knn.BlockedKnn(15, np).describe(len(tms_pcs)) == "exact, all against all on numpy"
    assert abs(graph - all_pairs).max() < 1e-9  # the same neighbours at the same distances
