"""Faster numerics for inmoose's port of DESeq2's C++ core (``inmoose.deseq2.deseq2_cpp``): the same
algorithms, step for step, with the per-gene small-matrix work done as whole-matrix products.

Where the time went (30,000 genes x 48 samples, ``~ batch + condition``; bench/de.py): inmoose forms each
gene's ``X' W X`` as a stacked ``(genes, P, N) @ (N, P)`` product, and each IRLS step of ``fitBeta``
stacks ``[sqrt(W) X; sqrt(ridge)]``, takes its full QR (``Q`` formed explicitly) and multiplies ``Q'`` by
the working response. Here:

* ``X' W X`` for every gene at once is one matrix product, ``W' (x_n x_n')`` (an ``N x P^2`` table of the
  design's row outer products), reshaped;
* the IRLS step takes the R factor of the same matrix with the weighted working response appended as a
  last column (``numpy.linalg.qr(mode="r")``): the Householder reflections of the first ``P`` columns are
  those of the plain QR, so the first ``P`` rows give ``R`` and ``Q' z`` without forming ``Q``;
* the hat-matrix diagonals are one product, ``W * ((x_n x_n') . (X'WX + ridge)^-1)``;
* a fit stops iterating once no gene is left active (inmoose runs all ``maxit`` passes on empty arrays).

The arithmetic differs from inmoose's only in summation order (results equal to rounding; a test runs
DESeq() with and without these kernels and compares every output). ``d2log_posterior`` is also per gene
here: inmoose 0.9.1 sums its likelihood part over all genes (``np.sum`` without an axis); its value
(``dispGeneEst``'s ``last_d2lp``) is not used by DESeq().

:func:`kernels` swaps them into ``inmoose.deseq2.deseq2_cpp`` for the duration of a block.
"""
from __future__ import annotations

import contextlib
import functools
import inspect

import numpy as np
from scipy.special import digamma, gammaln, xlog1py, xlogy
from scipy.special import loggamma as lgamma


def outer_rows(x: np.ndarray) -> np.ndarray:
    """``N x P^2`` table of each design row's outer product ``x_n x_n'`` (flattened row-major)."""
    return (x[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1)


def xtwx(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``X' diag(w_g) X`` for every gene ``g`` (``w``: samples x genes): ``genes x P x P``."""
    p = x.shape[1]
    return (w.T @ outer_rows(x)).reshape(w.shape[1], p, p)


def _cr_weights(mu, alpha, weights, useWeights, weightThreshold, powers=(-1,)):
    """``(1/mu + alpha) ** k`` for each ``k`` of ``powers`` (samples x genes; the Cox-Reid weights and their
    derivatives' factors), zero where an observation weight is at or below the threshold."""
    s = 1.0 / mu + alpha[None, :]
    out = [np.power(s, k) if k != -1 else 1.0 / s for k in powers]
    if useWeights:
        drop = weights <= weightThreshold
        out = [np.where(drop, 0.0, o) for o in out]
    return out


def _plain_or_inmoose(kernel):
    """Run ``kernel`` on the shapes it handles (one log-dispersion per gene, 2-D counts, means and
    weights); other calls (the dispersion grid's) go to inmoose's function of the same name."""

    signature = inspect.signature(kernel)

    @functools.wraps(kernel)
    def dispatch(*args, **kwargs):
        a = signature.bind(*args, **kwargs).arguments
        log_alpha, y, mu, weights = a["log_alpha"], a["y"], a["mu"], a["weights"]
        if (isinstance(log_alpha, np.ndarray) and log_alpha.ndim == 1 and y.ndim == 2 and mu.ndim == 2
                and weights.ndim == 2 and y.shape[1] == log_alpha.shape[0]):
            return kernel(*args, **kwargs)
        return _original(kernel.__name__)(*args, **kwargs)

    return dispatch


@_plain_or_inmoose
def log_posterior(log_alpha, y, mu, x, log_alpha_prior_mean, log_alpha_prior_sigmasq, usePrior, weights,
                  useWeights, weightThreshold, useCR):
    """inmoose's ``log_posterior`` (DESeq2.cpp ``log_posterior``), the Cox-Reid determinant from
    :func:`xtwx`; other shapes (the dispersion grid) go to inmoose's own."""
    alpha = np.exp(log_alpha)
    if useCR:
        (w,) = _cr_weights(mu, alpha, weights, useWeights, weightThreshold)
        cr_term = -0.5 * np.linalg.slogdet(xtwx(x, w))[1]
    else:
        cr_term = 0.0
    a = alpha[None, :]
    a1 = 1.0 / a
    terms = lgamma(y + a1) - lgamma(a1) - xlogy(y, mu + a1) - xlog1py(a1, a * mu)
    ll_part = np.sum(weights * terms if useWeights else terms, axis=-2)
    prior_part = -0.5 * (log_alpha - log_alpha_prior_mean) ** 2 / log_alpha_prior_sigmasq if usePrior else 0.0
    return ll_part + prior_part + cr_term


def _dll_terms(y, mu, alpha):
    a = alpha[None, :]
    a1 = 1.0 / a
    amu = a * mu
    return digamma(a1) + np.log(1 + amu) - amu / (1.0 + amu) - digamma(y + a1) + y / (mu + a1)


@_plain_or_inmoose
def dlog_posterior(log_alpha, y, mu, x, log_alpha_prior_mean, log_alpha_prior_sigmasq, usePrior, weights,
                   useWeights, weightThreshold, useCR):
    """inmoose's ``dlog_posterior`` (derivative in log alpha), the Cox-Reid trace from :func:`xtwx`."""
    alpha = np.exp(log_alpha)
    if useCR:
        w, s2 = _cr_weights(mu, alpha, weights, useWeights, weightThreshold, (-1, -2))
        b_inv = np.linalg.inv(xtwx(x, w))
        cr_term = -0.5 * np.einsum("gij,gji->g", b_inv, xtwx(x, -s2))
    else:
        cr_term = 0.0
    terms = _dll_terms(y, mu, alpha)
    ll_part = np.power(alpha, -2) * np.sum(weights * terms if useWeights else terms, axis=0)
    prior_part = -1.0 * (log_alpha - log_alpha_prior_mean) / log_alpha_prior_sigmasq if usePrior else 0.0
    return (ll_part + cr_term) * alpha + prior_part


def trigamma(x) -> np.ndarray:
    """The trigamma function (``scipy.special.polygamma(1, x)``) for ``x > 0``, about 8x faster: the
    recurrence ``psi1(x) = psi1(x + 1) + 1/x^2`` up to ``x >= 10``, then the asymptotic series to the
    ``B_14`` term (relative error below 1e-14; a test compares with scipy)."""
    x = np.array(x, dtype=float, copy=True)
    acc = np.zeros_like(x)
    small = x < 10
    if small.any():
        xs, a = x[small], np.zeros(int(small.sum()))
        for _ in range(10):
            step = xs < 10
            if not step.any():
                break
            a += np.where(step, 1.0 / (xs * xs), 0.0)
            xs = np.where(step, xs + 1.0, xs)
        acc[small], x[small] = a, xs
    z = 1.0 / (x * x)
    series = z * (1 / 6 - z * (1 / 30 - z * (1 / 42 - z * (1 / 30 - z * (5 / 66 - z * (691 / 2730 - z * 7 / 6))))))
    return acc + 1.0 / x + 0.5 * z + series / x


@_plain_or_inmoose
def d2log_posterior(log_alpha, y, mu, x, log_alpha_prior_mean, log_alpha_prior_sigmasq, usePrior, weights,
                    useWeights, weightThreshold, useCR):
    """inmoose's ``d2log_posterior`` (second derivative in log alpha), each gene's own sums (see the module
    note); the first-derivative part from the same terms rather than a second :func:`dlog_posterior` call."""
    alpha = np.exp(log_alpha)
    if useCR:
        (w,) = _cr_weights(mu, alpha, weights, useWeights, weightThreshold)
        b_i = np.linalg.inv(xtwx(x, w))
        db, d2b = xtwx(x, -(w * w)), xtwx(x, 2.0 * (w * w * w))
        bdb = b_i @ db
        ddetb = np.trace(bdb, axis1=-2, axis2=-1)
        d2detb = ddetb**2 - np.einsum("gij,gji->g", bdb, bdb) + np.einsum("gij,gji->g", b_i, d2b)
        cr_term = 0.5 * ddetb**2 - 0.5 * d2detb
        cr_first = -0.5 * ddetb
    else:
        cr_term = cr_first = 0.0
    a = alpha[None, :]
    a1, a2 = 1.0 / a, np.power(a, -2)
    amu = a * mu
    first = _dll_terms(y, mu, alpha)
    second = (-1 * a2 * trigamma(a1) + np.power(mu, 2) * a * np.power(1 + amu, -2)
              + a2 * trigamma(y + a1) + a2 * y * np.power(mu + a1, -2))
    if useWeights:
        first, second = weights * first, weights * second
    first = first.sum(axis=0)
    ll_part = -2 * np.power(alpha, -3) * first + np.power(alpha, -2) * second.sum(axis=0)
    dlog = (np.power(alpha, -2) * first + cr_first) * alpha  # dlog_posterior without its prior
    prior_part = -1.0 / log_alpha_prior_sigmasq if usePrior else 0.0
    return (ll_part + cr_term) * np.power(alpha, 2) + dlog + prior_part


def r_factor(a: np.ndarray) -> np.ndarray:
    """``numpy.linalg.qr(a, mode="r")`` of a stack of float64 matrices, overwriting ``a``.

    numpy's ``qr`` first copies its input into C order; the stack built here is already in LAPACK's
    column-major order (a transposed view), so that copy is a full transposition (it took longer than the
    factorisation itself). This calls the same LAPACK kernel (numpy's ``qr_r_raw`` gufunc, ``dgeqrf``) on
    the array as it is, and falls back to ``numpy.linalg.qr`` where that private gufunc is missing."""
    try:
        from numpy.linalg import _umath_linalg

        _umath_linalg.qr_r_raw(a, signature="d->d")
    except (ImportError, AttributeError, TypeError):
        return np.linalg.qr(a, mode="r")
    k = min(a.shape[-2:])
    return np.triu(a[..., :k, :])


def nb_log_coefficient(k, size):
    """The part of the negative binomial log density without the mean (inmoose's ``nbinom_logpmf``:
    ``lgamma(size + k) - lgamma(k + 1) - lgamma(size)``), computed once per IRLS fit."""
    return gammaln(size + k) - gammaln(k + 1) - gammaln(size)


def nb_log_density(coeff, k, size, mu):
    """inmoose's ``dnbinom_mu(k, size, mu, log=True)`` (``nbinom_logpmf(k, size, size / (size + mu))``)
    from its coefficient (:func:`nb_log_coefficient`): the same operations in the same order."""
    with np.errstate(divide="ignore"):
        p = size / (size + mu)
        return coeff + xlogy(size, p) + xlog1py(k, -p)


def fitBeta(y, x, nf, alpha_hat, contrast, beta_mat, lambda_, weights, useWeights, tol, maxit, useQR, minmu):
    """inmoose's ``fitBeta`` (DESeq2.cpp ``fitBeta``: IRLS of the negative binomial GLM per gene, with a
    ridge ``lambda_``), the same steps with whole-matrix products (module note). Same arguments and
    return value; ``beta_mat`` is updated in place as inmoose's is.

    Parameters
    ----------
    y, nf, weights
        Samples x genes counts, normalisation factors, observation weights.
    x
        Samples x P design matrix.
    alpha_hat
        Dispersion of each gene.
    beta_mat
        Genes x P starting coefficients (natural log scale).
    """
    n, g = y.shape
    p = x.shape[1]
    assert alpha_hat.shape == (g,) and beta_mat.shape == (g, p) and nf.shape == y.shape == weights.shape
    large = 30.0
    iter_ = np.zeros(g)
    ridge = np.diag(lambda_)
    sqrt_ridge = np.sqrt(ridge)
    mu_hat = np.maximum(nf * np.exp(x @ beta_mat.T), minmu)
    dev, dev_old = np.zeros(g), np.zeros(g)
    coeff = nb_log_coefficient(y, 1.0 / alpha_hat)
    idx = np.repeat(True, g)
    for t in range(maxit):
        if not idx.any():
            break
        idx_n = int(idx.sum())
        iter_[idx] += 1
        mu_i = mu_hat[:, idx]
        w_vec = mu_i / (1.0 + alpha_hat[idx] * mu_i)
        if useWeights:
            w_vec = weights[:, idx] * w_vec
        z = np.log(mu_i / nf[:, idx]) + (y[:, idx] - mu_i) / mu_i
        if useQR:
            # [sqrt(W) X, sqrt(W) z; sqrt(ridge), 0] per gene, built transposed (genes x (P+1) x (N+P),
            # contiguous rows) and handed to LAPACK as its transpose (column-major: no copy of the layout)
            sw = np.ascontiguousarray(np.sqrt(w_vec).T)
            aug_t = np.empty((idx_n, p + 1, n + p))
            np.multiply(x.T[None, :, :], sw[:, None, :], out=aug_t[:, :p, :n])
            np.multiply(np.ascontiguousarray(z.T), sw, out=aug_t[:, p, :n])
            aug_t[:, :p, n:] = sqrt_ridge
            aug_t[:, p, n:] = 0.0
            r = r_factor(aug_t.transpose(0, 2, 1))
            beta_hat = np.linalg.solve(r[:, :p, :p], r[:, :p, p:]).squeeze(-1)
        else:
            beta_hat = np.linalg.solve(xtwx(x, w_vec) + ridge, ((z * w_vec).T @ x)[:, :, None]).squeeze(-1)
        beta_mat[idx, :] = beta_hat
        subidx = ~(np.sum(np.abs(beta_hat) > large, axis=1) > 0)
        newidx = idx.copy()
        newidx[idx] = subidx
        iter_[idx & ~newidx] = maxit
        idx = newidx
        mu_hat[:, idx] = np.maximum(nf[:, idx] * np.exp(x @ beta_hat[subidx, :].T), minmu)
        dev[idx] = 0.0
        dens = nb_log_density(coeff[:, idx], y[:, idx], 1.0 / alpha_hat[idx], mu_hat[:, idx])
        dev[idx] -= 2.0 * np.sum(weights[:, idx] * dens if useWeights else dens, axis=0)
        conv_test = np.abs(dev - dev_old) / (np.abs(dev) + 0.1)
        nanidx = np.isnan(conv_test)
        iter_[idx & nanidx] = maxit
        idx &= ~nanidx
        if t > 0:
            idx &= ~(conv_test < tol)
        dev_old = dev.copy()
    w_vec = mu_hat / (1.0 + alpha_hat * mu_hat)
    if useWeights:
        w_vec = weights * w_vec
    info = xtwx(x, w_vec)
    xtwxr_inv = np.linalg.inv(info + ridge)
    hat_diagonals = w_vec * (outer_rows(x) @ xtwxr_inv.reshape(g, p * p).T)
    sigma = xtwxr_inv @ info @ xtwxr_inv
    return {
        "beta_mat": beta_mat,
        "beta_var_mat": np.diagonal(sigma, axis1=-2, axis2=-1),
        "iter": iter_,
        "hat_diagonals": hat_diagonals,
        "contrast_num": contrast @ beta_mat.T,
        "contrast_denom": np.sqrt(np.einsum("i,gij,j->g", contrast, sigma, contrast)),
        "deviance": dev,
    }


_NAMES = ("log_posterior", "dlog_posterior", "d2log_posterior", "fitBeta")
_ORIGINAL: dict = {}


def _original(name: str):
    """inmoose's own function ``name`` (also while :func:`kernels` has replaced it)."""
    if name not in _ORIGINAL:
        from inmoose.deseq2 import deseq2_cpp

        _ORIGINAL[name] = getattr(deseq2_cpp, name)
    return _ORIGINAL[name]


@contextlib.contextmanager
def kernels():
    """Within the block, ``inmoose.deseq2.deseq2_cpp`` (and ``results``, which imports ``fitBeta`` by
    name) use this module's functions; restored on exit."""
    from inmoose.deseq2 import deseq2_cpp, results

    saved = {name: getattr(deseq2_cpp, name) for name in _NAMES}
    saved_results = results.fitBeta
    here = globals()
    for name, fn in saved.items():
        if fn is not here[name]:
            _ORIGINAL.setdefault(name, fn)
    for name in _NAMES:
        setattr(deseq2_cpp, name, here[name])
    results.fitBeta = fitBeta
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(deseq2_cpp, name, fn)
        results.fitBeta = saved_results
