"""lsecflow.deseq2_kernels: the faster dispersion and IRLS kernels give inmoose's own results.

Each kernel against inmoose's function on the same inputs (the real DLPC counts: 20 samples, ``~ Group``,
and a two-factor design with weights), then the whole DE fit of DLPC with and without the kernels. The
R agreement of the fit with the kernels in place is test_de.py's (every contrast, LRT, two factors)."""
from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
from helpers import shipped_dataset
from lsecflow import de, deseq2, deseq2_kernels
from lsecflow.ingest import build_counts

cpp = pytest.importorskip("inmoose.deseq2.deseq2_cpp")


@pytest.fixture(scope="module")
def dlpc_shipped():
    ds = shipped_dataset("dlpc_liver")
    return ds, build_counts(ds.params())[0]


@pytest.fixture(scope="module")
def inputs(dlpc_shipped):
    """DLPC counts (samples x 2,000 expressed genes), a ``~ Group`` design with a second (synthetic batch)
    factor, size factors, rough dispersions and means from a per-group fit, and weights below and above
    the Cox-Reid threshold."""
    _, adata = dlpc_shipped
    y = np.asarray(adata.X, dtype=float)
    y = y[:, (y >= 10).sum(axis=0) >= 3][:, :2000]
    group = pd.Categorical(adata.obs["Group"])
    x = np.column_stack([np.ones(len(group))] + [(group.codes == k).astype(float) for k in range(1, len(group.categories))]
                        + [(np.arange(len(group)) % 2).astype(float)])  # synthetic batch column
    sf = np.exp(np.log(y + 0.5).mean(axis=1) - np.log(y + 0.5).mean())
    nf = np.repeat(sf[:, None], y.shape[1], axis=1)
    means = np.array([y[group.codes == k].mean(axis=0) for k in range(len(group.categories))])
    mu = np.maximum(means[group.codes] * sf[:, None] / sf.mean(), 0.5)
    alpha = np.clip(((y - mu) ** 2 - mu).sum(axis=0) / (mu**2).sum(axis=0), 1e-4, 5.0)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.0, 1.0, y.shape)
    return {"y": y, "x": x, "nf": nf, "mu": mu, "alpha": alpha, "weights": weights}


@pytest.mark.parametrize("use_weights, use_cr, use_prior", [(False, True, True), (True, True, False),
                                                            (False, False, True)])
@pytest.mark.parametrize("name", ["log_posterior", "dlog_posterior"])
def test_posterior_kernels_equal_inmoose(inputs, name, use_weights, use_cr, use_prior):
    d = inputs
    log_alpha = np.log(d["alpha"]) + 0.3
    args = (log_alpha, d["y"], d["mu"], d["x"], np.log(d["alpha"]), 1.1, use_prior, d["weights"], use_weights, 0.2,
            use_cr)
    ours, theirs = getattr(deseq2_kernels, name)(*args), getattr(cpp, name)(*args)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-9)


def test_second_derivative_is_inmooses_gene_by_gene(inputs):
    """inmoose's d2log_posterior sums its likelihood part over every gene it is given; one gene at a time
    it is per gene, and then ours equals it."""
    d = inputs
    log_alpha = np.log(d["alpha"][:25])
    ours = deseq2_kernels.d2log_posterior(log_alpha, d["y"][:, :25], d["mu"][:, :25], d["x"], log_alpha - 0.2, 1.1,
                                          True, d["weights"][:, :25], True, 0.2, True)
    theirs = [cpp.d2log_posterior(log_alpha[j:j + 1], d["y"][:, j:j + 1], d["mu"][:, j:j + 1], d["x"],
                                  log_alpha[j:j + 1] - 0.2, 1.1, True, d["weights"][:, j:j + 1], True, 0.2, True)
              for j in range(25)]
    np.testing.assert_allclose(ours, np.concatenate(theirs).ravel(), rtol=1e-9)


@pytest.mark.parametrize("use_qr, use_weights", [(True, False), (False, False), (True, True)])
def test_fit_beta_equals_inmoose(inputs, use_qr, use_weights):
    d = inputs
    p = d["x"].shape[1]
    start = np.zeros((d["y"].shape[1], p))
    start[:, 0] = np.log(d["y"].mean(axis=0) + 0.1)
    kw = dict(y=d["y"], x=d["x"], nf=d["nf"], alpha_hat=d["alpha"], contrast=np.eye(p)[1], lambda_=np.full(p, 1e-6),
              weights=d["weights"], useWeights=use_weights, tol=1e-8, maxit=100, useQR=use_qr, minmu=0.5)
    ours = deseq2_kernels.fitBeta(beta_mat=start.copy(), **kw)
    theirs = cpp.fitBeta(beta_mat=start.copy(), **kw)
    np.testing.assert_array_equal(ours["iter"], theirs["iter"])
    assert ours["iter"].max() > 3  # real IRLS iterations, not a one-step fit
    for key in ("beta_mat", "beta_var_mat", "hat_diagonals", "contrast_num", "contrast_denom", "deviance"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-8, atol=1e-10, err_msg=key)


def test_kernels_go_in_and_come_out():
    from inmoose.deseq2 import results

    before = cpp.fitBeta, cpp.log_posterior, results.fitBeta
    with deseq2.as_in_r():
        assert cpp.fitBeta is results.fitBeta is deseq2_kernels.fitBeta
        assert cpp.log_posterior is deseq2_kernels.log_posterior
        with deseq2_kernels.kernels():  # nested: still ours inside, inmoose's own afterwards
            assert cpp.dlog_posterior is deseq2_kernels.dlog_posterior
    assert (cpp.fitBeta, cpp.log_posterior, results.fitBeta) == before
    assert deseq2_kernels._original("fitBeta") is before[0]


def test_dlpc_fit_is_the_same_without_the_kernels(dlpc_shipped, monkeypatch):
    """The whole DE fit (dispersions, Wald tests, three contrasts) with and without the kernels: identical
    padj < 0.05 calls and NA patterns; log2FC within 1e-6 (relative); dispersions within 1e-4 (the
    line search of a few genes stops one step apart where the log posterior's last digits differ)."""
    ds, adata = dlpc_shipped
    runs = {}
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(deseq2, "kernels", contextlib.nullcontext)
            monkeypatch.setattr(de, "kernels", contextlib.nullcontext)
        dds = de.fit_model(adata, ds.spec["design"], ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)
        tables = {name: de.contrast_results(dds, c, ds.spec["de"]) for name, c in ds.contrasts.items()}
        runs[fast] = dds, {k: v.set_index("gene_id") for k, v in tables.items()}
    (fast_dds, fast_tables), (slow_dds, slow_tables) = runs[True], runs[False]
    np.testing.assert_allclose(fast_dds.var["dispersion"], slow_dds.var["dispersion"], rtol=1e-4)
    for name, slow in slow_tables.items():
        fast = fast_tables[name].loc[slow.index]
        assert set(fast.index[fast["padj"] < 0.05]) == set(slow.index[slow["padj"] < 0.05]), name
        assert (fast["pvalue"].isna() == slow["pvalue"].isna()).all() and (fast["padj"].isna() == slow["padj"].isna()).all()
        np.testing.assert_allclose(fast["log2FoldChange"], slow["log2FoldChange"], rtol=1e-6, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(fast["pvalue"], slow["pvalue"], rtol=1e-3, err_msg=name)


def test_trigamma_equals_scipys():
    from scipy.special import polygamma

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(1e-4, 10, 20_000), np.exp(rng.uniform(0, 25, 20_000)),
                        rng.poisson(3, 20_000) + rng.uniform(0.01, 50, 20_000), [1.0, 9.999, 10.0, 10.001]])
    np.testing.assert_allclose(deseq2_kernels.trigamma(x), polygamma(1, x), rtol=1e-14)


def test_deviance_density_is_inmooses_to_the_bit(inputs):
    """fitBeta's deviance: the mean-free coefficient computed once, the rest per step, the same operations
    as inmoose's dnbinom_mu (so the convergence test sees the same numbers)."""
    from inmoose.utils import dnbinom_mu

    d = inputs
    size = 1.0 / d["alpha"]
    coeff = deseq2_kernels.nb_log_coefficient(d["y"], size)
    for scale in (1.0, 1e-3, 1e3):
        mu = d["mu"] * scale
        np.testing.assert_array_equal(deseq2_kernels.nb_log_density(coeff, d["y"], size, mu),
                                      dnbinom_mu(d["y"], size, mu, True))


def test_r_factor_is_numpys_qr():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(50, 7, 26)).transpose(0, 2, 1)  # a column-major stack, as fitBeta builds it
    expected = np.linalg.qr(a, mode="r")
    np.testing.assert_array_equal(deseq2_kernels.r_factor(a.copy()), expected)
    np.testing.assert_array_equal(deseq2_kernels.r_factor(np.ascontiguousarray(a)), expected)


def test_grid_shapes_go_to_inmooses_own(inputs):
    """fitDispGrid evaluates a grid of log-dispersions per gene ((20, 1) or (20, genes)): inmoose's code."""
    d = inputs
    grid = np.linspace(-5, 2, 20)[:, None]
    kw = dict(y=d["y"][:, :30], mu=d["mu"][:, :30], x=d["x"], log_alpha_prior_mean=np.zeros(30),
              log_alpha_prior_sigmasq=1.0, usePrior=False, weights=d["weights"][:, :30], useWeights=False,
              weightThreshold=0.2, useCR=True)
    np.testing.assert_array_equal(deseq2_kernels.log_posterior(grid, **kw), cpp.log_posterior(grid, **kw))
