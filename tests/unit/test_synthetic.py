"""lsecflow.synthetic: the labelled synthetic data (planted spikes in real counts, bootstrapped cells) are
what they claim."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from lsecflow.synthetic import composition_samples, spike_counts


def test_bootstrapped_synthetic_cells_are_labelled_copies_of_real_cells(tms_pseudobulk, tmp_path):
    """lsecflow.synthetic (the 1M-cell benchmark's generator): written in blocks, every row a real cell."""
    from lsecflow.synthetic import bootstrap_cells

    _, _, cells = tms_pseudobulk
    out = bootstrap_cells(cells, 2_345, tmp_path / "syn.h5ad", seed=3, replicates=4, chunk_size=500)
    syn = ad.read_h5ad(out)
    assert syn.shape == (2_345, cells.n_vars) and syn.uns["lsecflow_synthetic"].startswith("SYNTHETIC:")
    src = cells[syn.obs["source_cell"].astype(str).to_numpy()]
    np.testing.assert_array_equal(syn.X.toarray(), src.X.toarray())
    assert (syn.obs["sample"].astype(str).str.rsplit("_r", n=1).str[0] == src.obs["sample"].astype(str).to_numpy()).all()
    assert syn.obs["sample"].nunique() == 4 * cells.obs["sample"].nunique()


# ------------------------------------------------------------ positive control (real counts + planted spike)
def test_spike_counts_planted_truth():
    """The spike multiplies the expected count by ``fold``; zeros stay zero; seeded; no silent clipping."""
    counts = pd.DataFrame({"s1": [50, 0, 1_000_000 - 50], "s2": [20, 3, 1_000_000 - 23], "s3": [7, 7, 999_986]},
                          index=["g", "zero_in_s1", "rest"])
    draws = np.array([spike_counts(counts, ["g", "zero_in_s1"], ["s1", "s2"], fold=4, seed=k).to_numpy()
                      for k in range(400)])
    mean = draws.mean(axis=0)
    assert mean[0, 0] == pytest.approx(200, rel=0.03) and mean[0, 1] == pytest.approx(80, rel=0.05)
    assert (draws[:, 1, 0] == 0).all() and mean[1, 1] == pytest.approx(12, rel=0.1)
    assert (draws[:, :, 2] == counts["s3"].to_numpy()).all() and (draws[:, 2, :2] == counts.iloc[2, :2].to_numpy()).all()
    one = spike_counts(counts, ["g"], ["s1"], fold=4, seed=7)
    assert one.equals(spike_counts(counts, ["g"], ["s1"], fold=4, seed=7))
    with pytest.raises(KeyError, match="Nope"):
        spike_counts(counts, ["Nope"], ["s1"], fold=4, seed=0)
    with pytest.raises(ValueError, match="exceeds its library size"):
        spike_counts(counts, ["rest"], ["s1"], fold=4, seed=0)


# ------------------------------------------------------------ planted doublets (real cells summed in pairs)
def test_planted_doublets_are_sums_of_two_cells_of_different_types(tms_pseudobulk):
    """bench/scrublet_neighbours.py's truth: the planted rows are each the sum of two real cells of different
    types, every other row is unchanged, and the same seed plants the same doublets."""
    from lsecflow.synthetic import plant_doublets

    _, _, cells = tms_pseudobulk
    X = cells.X.toarray()
    types = cells.obs["cell_type"].astype(str).to_numpy()
    out, truth = plant_doublets(cells.X, types, 0.1, seed=4)
    assert out.shape == X.shape and truth.sum() == int(0.1 * cells.n_obs)
    dense = out.toarray()
    np.testing.assert_array_equal(dense[~truth], X[~truth])
    for row in dense[truth][:10]:  # find the two parents: a pair of real cells whose sum is the row
        hits = [(i, j) for i in range(len(X)) if (X[i] <= row).all()
                for j in range(len(X)) if j != i and np.array_equal(X[i] + X[j], row)]
        assert hits and any(types[i] != types[j] for i, j in hits), "a planted row is not two cells of different types"
    again, same = plant_doublets(cells.X, types, 0.1, seed=4)
    assert (same == truth).all() and (again != out).nnz == 0
    with pytest.raises(ValueError, match="two labels"):
        plant_doublets(cells.X, np.full(cells.n_obs, "LSEC"), 0.1)


def test_composition_samples_plant_the_change_and_reproduce():
    """SYNTHETIC: the changed type's share is multiplied in the tumour samples only (0: none of its cells
    there); a seed reproduces."""
    mix = pd.Series({"a": 0.3, "b": 0.3, "c": 0.4})
    cells = composition_samples(mix, 3, "a", 0.0, n=4, cells=200)
    assert len(cells) == 8 * 200 and set(cells["condition"]) == {"control", "tumour"}
    a = cells[cells["cell_type"] == "a"]
    assert set(a["condition"]) == {"control"} and len(a) > 0.2 * 4 * 200
    assert cells.equals(composition_samples(mix, 3, "a", 0.0, n=4, cells=200))

