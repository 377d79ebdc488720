"""lsecflow.imputation: the proteomics imputations on the real UPS1 spike-in against R (impute::impute.knn,
imputeLCMD's MinDet and MinProb's spread, tests/data/limma/make_reference.R), the random draws judged by
their planted centre and spread, and the parse-time check of the method's keys."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import LIMMA_REF, loaded_or_refused, r_table, ups1_dataset, ups1_median, ups1_sheet
from lsecflow import imputation
from lsecflow.errors import ConfigError, InputDataError


def test_knn_through_the_preprocessing_is_r_impute_knn():
    """proteomics.impute: knn on the reference preprocessing gives R's impute.knn(k = 10) to 1e-12, and the
    193 imputed cells are flagged."""
    pre = ups1_median(impute="knn")
    missing = ups1_median().values.isna()
    ref = r_table("ups1.knn.tsv.gz", pre.values)
    np.testing.assert_allclose(pre.values.to_numpy(), ref.to_numpy(), rtol=1e-12)
    assert pre.imputed.equals(missing) and int(missing.to_numpy().sum()) == 193
    assert pre.steps[-1]["step"] == "impute" and "193 values imputed (mean of the 10 nearest" in pre.steps[-1]["detail"]


def test_knn_with_sparse_rows_is_r_impute_knn():
    """1,500 more cells removed (R's seeded mask, shipped): 15 proteins then miss over half their values and
    take the column means, as in R; every cell within 1e-12."""
    sparse = r_table("ups1.knn_sparse_input.tsv.gz")
    assert int((sparse.isna().sum(axis=1) > 3).sum()) == 15
    ours = imputation.knn(sparse, k=10)
    np.testing.assert_allclose(ours.to_numpy(), r_table("ups1.knn_sparse.tsv.gz").to_numpy(), rtol=1e-12)


def test_knn_refuses_a_sample_missing_most_proteins():
    x = ups1_median().values.copy()
    x.iloc[: int(0.85 * len(x)), 2] = np.nan
    with pytest.raises(InputDataError, match=f"sample {x.columns[2]!r} misses .*more than 80%"):
        imputation.knn(x)


def test_mindet_is_imputelcmd():
    pre = ups1_median(impute="mindet")
    np.testing.assert_allclose(pre.values.to_numpy(), r_table("ups1.mindet.tsv.gz", pre.values).to_numpy(),
                               rtol=1e-14)


def test_minprob_draws_around_the_low_quantile_with_imputelcmds_spread():
    """MinProb's SD is R's (median SD of proteins seen in over half the samples, x tune_sigma); its draws,
    planted around each sample's 1 % quantile, centre there and spread so; a seed repeats them."""
    x = ups1_median().values
    ref = pd.read_csv(LIMMA_REF / "ups1.minprob_sd.tsv", sep="\t")
    for _, row in ref.iterrows():
        assert imputation.min_prob_sd(x, row["tune_sigma"]) == pytest.approx(row["sd"], rel=1e-12)
    low = dict(zip(ups1_sheet().index, map(float, ref.at[0, "low"].split(","))))
    assert {c: float(np.quantile(x[c].dropna(), 0.01)) for c in x.columns} == pytest.approx(low, rel=1e-14)
    big = pd.concat([x] * 40, ignore_index=True)  # 40 copies: enough draws per sample to judge them
    low = {c: float(np.quantile(big[c].dropna(), 0.01)) for c in big.columns}  # the copies' own quantile
    out = imputation.min_prob(big, 0.01, 1.0, seed=3)
    draws = out.where(big.isna())
    sd = ref.at[0, "sd"]
    for col in big.columns:
        d = draws[col].dropna()
        assert abs(d.mean() - low[col]) < 4 * sd / np.sqrt(len(d)), col
        assert d.std() == pytest.approx(sd, rel=0.25), col
    assert out.equals(imputation.min_prob(big, 0.01, 1.0, seed=3))
    assert not out.equals(imputation.min_prob(big, 0.01, 1.0, seed=4))


def test_qrilc_estimates_as_imputelcmd_and_draws_as_r():
    """impute.QRILC: each sample's fraction missing, quantile-regression mean and SD and truncation point as R's
    (make_reference.R, its code line by line); the draws have the distribution of R's (20,000 from tmvtnorm's Gibbs
    sampler: two-sample KS), all below the truncation point, and draws with the SD read as a variance (what
    tmvtnorm's 'sigma' would mean with more dimensions) are told apart by the same test; through the
    preprocessing every missing cell is filled and nothing else moves."""
    from scipy.stats import ks_2samp

    x = ups1_median().values
    ref = pd.read_csv(LIMMA_REF / "ups1.qrilc.tsv", sep="\t", index_col=0)
    params = imputation.qrilc_parameters(x)
    np.testing.assert_allclose(params.loc[ref.index].to_numpy(), ref.to_numpy(), rtol=1e-12)
    r_draws = pd.read_csv(LIMMA_REF / "ups1.qrilc_draws.tsv.gz", sep="\t")["draw"].to_numpy()
    mean, sd, upper = ref.iloc[0][["mean", "sd", "upper"]]
    ours = imputation.qrilc_draws(mean, sd, upper, 20000, 1.0, np.random.default_rng(0))
    assert ours.max() <= upper and r_draws.max() <= upper
    assert ks_2samp(ours, r_draws).pvalue > 0.01
    wrong = imputation.qrilc_draws(mean, np.sqrt(sd), upper, 20000, 1.0, np.random.default_rng(0))  # sd as variance
    assert ks_2samp(wrong, r_draws).pvalue < 1e-6
    pre = ups1_median(impute="qrilc")
    filled = pre.values
    assert filled.notna().all().all() and np.allclose(filled.where(x.notna()).stack(), x.stack())
    assert (filled.where(x.isna()).stack() <= ref.loc[filled.columns, "upper"].max()).all()


def test_mar_mnar_selects_and_fills_as_imputelcmd():
    """impute.MAR.MNAR: model.Selector's censoring threshold and its missing-at-random proteins as R's code (UPS1:
    1,461 of 1,470), their kNN (k 15, rowmax / colmax 0.99) as R's impute.knn, and the left-censored rest filled by
    QRILC at tune_sigma 0.3 below each sample's detection limit; through the preprocessing, nothing else moves."""
    x = ups1_median().values
    ref = r_table("ups1.mar_mnar_knn.tsv.gz").loc[x.index]
    mar, threshold = imputation.model_selector(x)
    assert threshold == pytest.approx(22.849951235200265, rel=1e-12)  # R's, printed by make_reference.R
    np.testing.assert_array_equal(mar, (ref["mar"] == 1).to_numpy())
    assert mar.sum() == 1461 and (~mar & x.isna().any(axis=1).to_numpy()).sum() > 0  # both kinds occur
    out, n_mar, _ = imputation.mar_mnar(x, seed=2)
    np.testing.assert_allclose(out.loc[mar].to_numpy(), ref.loc[mar, x.columns].to_numpy(), rtol=1e-13)
    left = out.loc[~mar].where(x.loc[~mar].isna()).stack()
    limits = imputation.qrilc_parameters(ref[x.columns])["upper"]
    assert n_mar == 1461 and len(left) > 0
    assert all(value <= limits[col] for (_, col), value in left.items())
    pre = ups1_median(impute="mar_mnar")
    assert pre.values.notna().all().all() and np.allclose(pre.values.where(x.notna()).stack(), x.stack())


@pytest.mark.parametrize("mar_method, tol", [("svd", 1e-12), ("mle", 1e-6)])
def test_mar_mnar_with_imputelcmds_other_mar_methods(mar_method, tol):
    """impute_mar_method svd / mle: impute.MAR.MNAR(method.MAR = "SVD" / "MLE"), whose impute.MAR runs
    impute.wrapper.SVD(K = 2) / impute.wrapper.MLE on model.Selector's 1,461 proteins missing at random: R's
    values there (make_pca_reference.R, make_mle_reference.R; MLE's draws to norm's single precision), QRILC on
    the rest (whose per-sample estimates read the filled MAR proteins too, as in R), and the log names the method."""
    x = ups1_median().values
    mar, _ = imputation.model_selector(x)
    out, n_mar, _ = imputation.mar_mnar(x, seed=2, mar_method=mar_method)
    ref = r_table(f"ups1.mar_{mar_method}.tsv.gz")
    np.testing.assert_allclose(out.loc[ref.index, x.columns].to_numpy(), ref[x.columns].to_numpy(), rtol=tol)
    assert n_mar == 1461 and list(ref.index) == list(x.index[mar])
    knn_fill, _, _ = imputation.mar_mnar(x, seed=2)
    assert not np.allclose(out.loc[mar], knn_fill.loc[mar])  # another fill, not kNN's
    assert out.notna().all().all() and np.allclose(out.where(x.notna()).stack(), x.stack())  # QRILC fills the rest
    pre = ups1_median(impute="mar_mnar", impute_mar_method=mar_method)
    assert f"missing at random (mean above 22.85) by {'SVD' if mar_method == 'svd' else 'MLE'}" in pre.steps[-1]["detail"]


def test_downshift_is_centred_below_each_sample():
    x = ups1_median().values
    out = imputation.downshift(pd.concat([x] * 20, ignore_index=True), 1.8, 0.3, seed=1)
    big = pd.concat([x] * 20, ignore_index=True)
    for col in x.columns:
        obs = x[col].dropna()
        d = out[col][big[col].isna()]
        assert abs(d.mean() - (obs.mean() - 1.8 * obs.std())) < 4 * 0.3 * obs.std() / np.sqrt(len(d))


@pytest.mark.parametrize("proteomics_opts, error", [
    ({"impute": "knn", "impute_k": 5}, None),
    ({"impute": "minprob", "impute_quantile": 0.05, "impute_tune_sigma": 0.5}, None),
    ({"impute": "knn", "impute_shift": 2.0}, "proteomics.impute_shift are not read by proteomics.impute 'knn' "
                                             "\\(impute_shift is for downshift\\)"),
    ({"impute": "mindet", "impute_tune_sigma": 2, "impute_k": 3}, "impute_k, proteomics.impute_tune_sigma"),
    ({"impute_quantile": 0.05}, "not read by proteomics.impute 'none' \\(impute_quantile is for mindet / minprob\\)"),
    ({"impute": "knn", "impute_shift": 1.8}, None),  # written with its default: changes nothing
    ({"impute": "qrilc", "impute_tune_sigma": 0.5}, None),
    ({"impute": "qrilc", "impute_quantile": 0.05}, "not read by proteomics.impute 'qrilc' \\(impute_quantile is for "
                                                   "mindet / minprob\\)"),
    ({"impute": "svd", "impute_pcs": 5}, None),
    ({"impute": "svd", "impute_pcs": 6}, "key 'proteomics.impute_pcs': 6 components need more than 6 samples, and "
                                         "the sheet has 6 \\(after qc.exclude\\); lower impute_pcs"),
    ({"impute": "bpca", "impute_pcs": 3}, "impute_pcs are not read by proteomics.impute 'bpca' \\(impute_pcs is "
                                          "for svd\\)"),
    ({"impute": "mar_mnar", "impute_mar_method": "mle"}, None),
    ({"impute": "knn", "impute_mar_method": "svd"}, "impute_mar_method are not read by proteomics.impute 'knn'"),
])
def test_keys_of_another_method_are_refused_at_parse_time(proteomics_opts, error):
    spec = ups1_dataset()
    spec["proteomics"] = {**spec["proteomics"], **proteomics_opts}
    loaded = loaded_or_refused({"p": spec}, error, ConfigError)
    assert loaded is None or loaded.datasets["p"].spec["proteomics"]["impute"] == proteomics_opts["impute"]


def test_qrilc_refuses_a_sample_whose_values_have_no_spread():
    """SYNTHETIC: a sample whose observed values are all equal fits a normal of SD 0, which R's rtmvnorm refuses
    (its sigma must be positive definite) and scipy's truncnorm raised a bare ValueError on (bench/fuzz_engines.py
    preprocessing trial 309): the message names the sample and what to use instead."""
    x = pd.DataFrame({"a": [20.0, 21.0, np.nan, 22.5, 19.0], "b": [18.0, 18.0, 18.0, np.nan, 18.0]},
                     index=[f"p{i}" for i in range(5)])
    with pytest.raises(InputDataError, match="imputation qrilc: sample 'b': the normal fitted to its 4 observed "
                                             r"values has SD [-0-9.e]+, so there is no distribution to draw from"):
        imputation.impute(x, {"impute": "qrilc"})


@pytest.mark.parametrize("method", ["knn", "svd", "bpca", "mle", "mindet", "qrilc", "mar_mnar"])
def test_a_sample_without_any_value_left_is_refused_by_every_method(method):
    """SYNTHETIC: after a valid-value filter within any group a sample can be left with no value at all; every
    method learns from observed values, so each refuses it by name (bpca's SVD did not converge, mle divided by
    zero, found by bench/fuzz_engines.py preprocessing trial 520)."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(20, 1, (30, 4)), columns=["s1", "s2", "s3", "s4"], index=[f"p{i}" for i in range(30)])
    x.iloc[::3, 0] = np.nan
    x["s3"] = np.nan
    with pytest.raises(InputDataError, match=f"imputation {method}: sample.s. 's3' have no value among the 30 "
                                             "proteins through the valid-value filter"):
        imputation.impute(x, {"impute": method})
