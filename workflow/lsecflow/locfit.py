"""locfit's one-dimensional local regression, ported: DESeq2's ``fitType = "local"`` and edgeR's ``locfitByCol``.

DESeq2's ``localDispersionFit`` calls ``locfit(logDisps ~ logMeans, weights = means)`` with
locfit's defaults, and predicts with ``predict``. This module ports that one path of locfit 1.5-9
(``src/`` of the R package, Loader's C code) line by line:

- the fit: local quadratic least squares (``deg = 2``, family ``qgauss``, identity link) with
  prior weights times the tricube kernel, bandwidth the distance to the ``floor(n * alpha)``-th
  nearest point (``alpha = 0.7``), solved as locfit does (one Newton step from the weighted mean,
  the normal equations scaled to unit diagonal and inverted through their eigenvalues, those under
  ``1e-8`` of the largest dropped);
- the parametric component: a global weighted quadratic about the weighted mean of x, subtracted
  from the vertex fits before interpolation and added back after (``pcomp.c``);
- the evaluation structure ``ev = rbox(cut = 0.8)``: an adaptive tree over ``[min x, max x]``,
  cells halved (left first) while their width exceeds ``cut`` times the smaller bandwidth of their
  two vertices (``ev_atree.c``), at most ``5 / alpha / cut + 1`` vertex pairs;
- prediction: descend that tree, cubic Hermite interpolation of value and slope between the cell's
  vertices, linear beyond the ends (``ev_interp.c``).

edgeR's ``locfitByCol(y, x, span, degree = 0)`` (its dispersion trend, ``WLEB``) calls
``locfit(y ~ x, alpha = span, deg = 0)`` and takes ``fitted()``: the same tree, each vertex the
tricube-weighted mean (no slope: ``hasd`` is false for a local constant), linear interpolation within
the cell (``rectcell_interp`` with one coefficient), no parametric component needed (a constant,
which linear interpolation leaves as it is). ``degree = 0`` takes a matrix ``y`` (one fit per column,
the same tree and weights for all).

Only those paths are ported (one x, degree 2 at locfit's defaults, or degree 0 with any alpha);
anything else is refused, not approximated.
"""
from __future__ import annotations

import numpy as np

from .errors import InputDataError

ALPHA = 0.7
CUT = 0.8
E_TOL = 1e-8
E_MAXIT = 20


def _tricube(u: np.ndarray) -> np.ndarray:
    u = np.abs(u)
    return np.where(u > 1, 0.0, (1 - u**3) ** 3)


def _basis(dx: np.ndarray) -> np.ndarray:
    """locfit's ``fitfun`` for one variable, degree 2: ``1, dx, dx^2 / 2``."""
    return np.column_stack([np.ones_like(dx), dx, dx * dx / 2])


def _jacobi(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """locfit's ``eig_dec``: cyclic Jacobi rotations until every off-diagonal entry has
    ``X[i, j]^2 <= 1e-15 |X[i, i] X[j, j]|`` (at most 20 sweeps). Returns the rotated matrix (its
    diagonal the eigenvalues, its small off-diagonal left as is) and the rotation."""
    X = X.copy()
    d = X.shape[0]
    P = np.eye(d)
    for _ in range(E_MAXIT):
        moved = False
        for i in range(d):
            for j in range(i + 1, d):
                if X[i, j] ** 2 > 1.0e-15 * abs(X[i, i] * X[j, j]):
                    c = (X[j, j] - X[i, i]) / 2
                    s = -X[i, j]
                    r = np.sqrt(c * c + s * s)
                    c /= r
                    s = np.sqrt((1 - c) / 2) * (1.0 if s > 0 else -1.0)
                    c = np.sqrt((1 + c) / 2)
                    X[[i, j], :] = np.vstack([X[i] * c + X[j] * s, X[j] * c - X[i] * s])
                    X[:, [i, j]] = np.column_stack([X[:, i] * c + X[:, j] * s, X[:, j] * c - X[:, i] * s])
                    X[i, j] = X[j, i] = 0.0
                    P[:, [i, j]] = np.column_stack([P[:, i] * c + P[:, j] * s, P[:, j] * c - P[:, i] * s])
                    moved = True
        if not moved:
            break
    return X, P


def _newton_step(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Coefficients of the weighted quadratic as locfit's ``max_nr`` gets them for a Gaussian
    family: start at the weighted mean (``reginit``), take one Newton step solved by ``jacob_solve``
    (``JAC_EIGD``: unit diagonal, :func:`_jacobi`, eigenvalues under ``1e-8`` of the largest
    dropped), stop (``likereg`` breaks the iteration for the identity link)."""
    s0 = float(w.sum())
    if s0 == 0:
        raise InputDataError("locfit: no points with non-zero weight at a fitting point")
    coef = np.zeros(X.shape[1])
    coef[0] = float((w * y).sum()) / s0
    grad = X.T @ (w * (y - X @ coef))
    info = (X * w[:, None]).T @ X
    dg = np.array([0.0 if d <= 0 else 1 / np.sqrt(d) for d in np.diag(info)])
    D, P = _jacobi(info * np.outer(dg, dg))
    values = np.diag(D)
    keep = values > E_TOL * values.max()  # e_tol
    z = P.T @ (grad * dg)
    z = np.where(keep, z / np.where(keep, values, 1.0), 0.0)
    return coef + dg * (P @ z)


class LocalFit:
    """``locfit(y ~ x, weights = w, alpha, deg)``; :meth:`predict` is ``predict(fit, x)``.

    Parameters
    ----------
    x, y
        Predictor and response (finite); with ``degree = 0``, ``y`` may be a matrix (rows as ``x``),
        one fit per column.
    weights
        Prior weights (``weights =``); DESeq2 passes the genes' mean normalised counts.
    alpha
        Nearest-neighbour fraction of the bandwidth (locfit's default 0.7; edgeR's span).
    degree
        2 (locfit's default, with its parametric component) or 0 (a local constant).
    """

    def __init__(self, x, y, weights=None, alpha: float = ALPHA, degree: int = 2):
        if degree not in (0, 2):
            raise InputDataError(f"locfit: only degree 0 or 2 is ported (got {degree})")
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        self.degree = degree
        n = self.x.size
        self.w = np.ones(n) if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), (n,)).copy()
        if n == 0 or self.y.shape[0] != n or (self.y.ndim != 1 and (degree != 0 or self.y.ndim != 2)):
            raise InputDataError(f"locfit: x and y must be non-empty and of equal length (got {n}, {self.y.shape})")
        if not (np.isfinite(self.x).all() and np.isfinite(self.y).all() and np.isfinite(self.w).all()):
            raise InputDataError("locfit: x, y and weights must be finite")
        if self.x.min() == self.x.max():
            raise InputDataError(f"locfit: all {n} points have the same x, so no local trend can be fitted")
        self.k = int(n * alpha + 1e-12)  # locfit.c: (int)(lfd->n*nn(sp)+1e-12)
        if degree == 2:
            # parametric component: the same fit at the weighted mean of x, every kernel weight 1
            self.xbar = float((self.w * self.x).sum() / self.w.sum())
            self.pc = _newton_step(_basis(self.x - self.xbar), self.y, self.w)
        self.vx: list[float] = []
        self.value: list[float] = []
        self.slope: list[float] = []
        self.h: list[float] = []
        self.children: dict[tuple[int, int], int] = {}
        self.lo, self.hi = float(self.x.min()), float(self.x.max())
        # atree_guessnv: room for (5 / alpha / cut + 1) * 2 vertices (mk = 100; 1 / alpha at most 1)
        self.max_vertices = int((5 * (1 if alpha > 1 else 1 / alpha) / CUT + 1) * 2)
        self._vertex(self.lo)
        self._vertex(self.hi)
        self._grow(0, 1, self.lo, self.hi)

    def _bandwidth(self, d: np.ndarray) -> float:
        """``compbandwid``: the k-th smallest distance (``kordstat``), or the largest scaled by k / n."""
        n = d.size
        if self.k < 1:
            return 0.0
        if self.k < n:
            return float(np.partition(d, self.k - 1)[self.k - 1])
        return float(d.max() * self.k / n)

    def _vertex(self, x0: float) -> int:
        """Fit at ``x0`` (``procvraw``): store the value and slope less the parametric component."""
        if len(self.vx) >= self.max_vertices:
            raise InputDataError("locfit: newsplit: out of vertex space (the local fit needs more "
                                 f"than {self.max_vertices} fitting points)")
        d = np.abs(self.x - x0)
        h = self._bandwidth(d)
        kern = (d == 0).astype(float) if h == 0 else _tricube(d / h)
        use = kern > 0
        self.vx.append(x0)
        self.h.append(h)
        if self.degree == 0:  # the local constant: the kernel-weighted mean (reginit; the Newton step is 0)
            wk = self.w[use] * kern[use]
            if wk.sum() == 0:
                raise InputDataError("locfit: no points with non-zero weight at a fitting point")
            self.value.append(wk @ self.y[use] / wk.sum())
            self.slope.append(0.0)
            return len(self.vx) - 1
        dx = self.x[use] - x0
        cf = _newton_step(_basis(dx), self.y[use], self.w[use] * kern[use])
        u = x0 - self.xbar
        self.value.append(cf[0] - (self.pc[0] + self.pc[1] * u + self.pc[2] * u * u / 2))
        self.slope.append(cf[1] - (self.pc[1] + self.pc[2] * u))
        return len(self.vx) - 1

    def _splits(self, i0: int, i1: int, ll: float, ur: float) -> bool:
        """``atree_split`` in one dimension: split while width / (smaller positive bandwidth) > cut."""
        hs = [h for h in (self.h[i0], self.h[i1]) if h > 0]
        score = (ur - ll) / min(hs) if hs else 2 * (ur - ll) / (self.hi - self.lo)
        return CUT < score

    def _grow(self, i0: int, i1: int, ll: float, ur: float) -> None:
        if not self._splits(i0, i1, ll, ur):
            return
        mid = (ll + ur) / 2
        m = self._vertex(mid)
        self.children[(i0, i1)] = m
        self._grow(i0, m, ll, mid)
        self._grow(m, i1, mid, ur)

    def _cells(self, i0: int, i1: int, ll: float, ur: float) -> list[tuple[int, int]]:
        """Terminal cells left to right, as ``atree_int`` descends to them."""
        if not self._splits(i0, i1, ll, ur):
            return [(i0, i1)]
        m = self.children[(i0, i1)]
        return self._cells(i0, m, ll, self.vx[m]) + self._cells(m, i1, self.vx[m], ur)

    def predict(self, x) -> np.ndarray:
        """Fitted values at ``x``: the local fit interpolated in its cell (cubic Hermite of value
        and slope; linear from the nearer end outside ``[min x, max x]``) plus the parametric
        component."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        cells = self._cells(0, 1, self.lo, self.hi)
        i0 = np.array([c[0] for c in cells])
        i1 = np.array([c[1] for c in cells])
        vx, value, slope = (np.asarray(a) for a in (self.vx, self.value, self.slope))
        # the descent sends a point on a split to the upper half; below lo / above hi to the end cells
        cell = np.searchsorted(vx[i1[:-1]], x, side="right")
        a, b = i0[cell], i1[cell]
        ll, z = vx[a], vx[b] - vx[a]
        t = np.divide(x - ll, z, out=np.zeros_like(x), where=z != 0)
        if self.degree == 0:  # rectcell_interp with one coefficient: linear_interp
            va, vb = value[a], value[b]
            h, zz = x - ll, np.where(z == 0, 1.0, z)
            if va.ndim == 2:
                h, zz, z = h[:, None], zz[:, None], z[:, None]
            return np.where(z == 0, va, ((zz - h) * va + h * vb) / zz)
        tc = np.clip(t, 0, 1)
        p1 = tc * tc * (3 - 2 * tc)
        inside = (1 - p1) * value[a] + p1 * value[b] + (tc * (1 - tc) ** 2 * slope[a] + tc * tc * (tc - 1) * slope[b]) * z
        fit = np.where(t < 0, value[a] + slope[a] * t * z, np.where(t > 1, value[b] + slope[b] * (t - 1) * z, inside))
        u = x - self.xbar
        return fit + self.pc[0] + self.pc[1] * u + self.pc[2] * u * u / 2

    @property
    def vertices(self) -> np.ndarray:
        """The fitting points, in the order locfit creates them."""
        return np.asarray(self.vx)
