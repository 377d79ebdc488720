"""lsecflow.imputation_pca: proteomics.impute svd and bpca against pcaMethods 1.90.0 as imputeLCMD and
MsCoreUtils call it (tests/data/limma/make_pca_reference.R), on the real UPS1 matrix and its sparser copy."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import r_table, ups1_median
from lsecflow import imputation_pca
from lsecflow.errors import InputDataError


@pytest.mark.parametrize("pcs", [2, 3])
def test_svd_is_pcamethods_svdimpute_as_imputelcmd_calls_it(pcs):
    """proteomics.impute: svd (impute_pcs K) against imputeLCMD's impute.wrapper.SVD, i.e. pcaMethods 1.90.0's
    pca(method = "svdImpute", nPcs = K)@completeObs (tests/data/limma/make_pca_reference.R): through the
    preprocessing on UPS1's 193 missing cells, and on the sparser copy (1,656 missing) -- where a wrong step
    count or centring would show, since the iteration stops at a 1 % change."""
    pre = ups1_median(impute="svd", impute_pcs=pcs)
    ref = r_table(f"ups1.svd_k{pcs}.tsv.gz", pre.values)
    np.testing.assert_allclose(pre.values.to_numpy(), ref.to_numpy(), rtol=1e-12)
    assert int(pre.imputed.to_numpy().sum()) == 193 and f"rank-{pcs} reconstruction after" in pre.steps[-1]["detail"]
    sparse = r_table("ups1.knn_sparse_input.tsv.gz")
    ours, steps = imputation_pca.svd(sparse, pcs)
    np.testing.assert_allclose(ours.to_numpy(), r_table(f"ups1.svd_sparse_k{pcs}.tsv.gz").to_numpy(), rtol=1e-12)
    assert int(sparse.isna().to_numpy().sum()) == 1656 and steps >= 6
    with pytest.raises(InputDataError, match="impute_pcs 6 needs more than 6 samples"):
        imputation_pca.svd(sparse, 6)


def test_bpca_is_pcamethods_bpca_as_mscoreutils_calls_it():
    """proteomics.impute: bpca against MsCoreUtils' impute_bpca (DEP's "bpca"), i.e. pcaMethods 1.90.0's
    pca(method = "bpca", nPcs = samples - 1) completeObs (tests/data/limma/make_pca_reference.R): through the
    preprocessing on UPS1's 193 missing cells and on the sparser copy's 1,656, within 1e-12 relative after R's
    100 steps (the precision's change never falls under its 1e-4 here)."""
    pre = ups1_median(impute="bpca")
    ref = r_table("ups1.bpca.tsv.gz", pre.values)
    np.testing.assert_allclose(pre.values.to_numpy(), ref.to_numpy(), rtol=1e-12)
    assert int(pre.imputed.to_numpy().sum()) == 193 and "BPCA: 5 components, 100 steps" in pre.steps[-1]["detail"]
    sparse = r_table("ups1.knn_sparse_input.tsv.gz")
    ours, steps = imputation_pca.bpca(sparse)
    np.testing.assert_allclose(ours.to_numpy(), r_table("ups1.bpca_sparse.tsv.gz").to_numpy(), rtol=1e-12)
    assert steps == 100 and not np.allclose(ours, imputation_pca.svd(sparse, 2)[0])  # not another method's numbers
