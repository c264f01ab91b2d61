"""Random initialization (Definition 3.3): infinite-width limits and finite-width simulation.

What the proofs use about the network at random initialization (the full paper's Appendix B is
not available; every statement here is our own formulation, derived from first principles):

* norms: one step gives E ||h_l||^2 = ||h_{l-1}||^2 + ||x_l||^2 (ReLU halves the second
  moment of a N(0, 2/m) row), so ||h_l||^2 -> sum_{k<=l} ||x_k||^2 = 1 + (l-1) eps_x^2. The
  one-step computation treats W as fresh at each position; at finite width W is reused, so
  this (and the recursions below) hold in the infinite-width limit, which the checks approach;
* correlations: <h_l(x), h_l'(x')> -> K(l, l'), the arc-cosine recursion of :func:`kernel`
  (Cho & Saul's degree-1 arc-cosine kernel applied position by position);
* backward rows: ||e_s^T Back_{i->j}||^2 -> m/d for every i <= j (one step u -> W^T D u keeps
  ||u||^2 on average: D keeps half of it, W^T doubles it);
* footnote 2: the gain of x -> sigma(Wx) (:func:`relu_gain_sup`) and the exponential decay of
  Back_{1->L} when the variance of W is sqrt(2)/m instead of 2/m.

The infinite-width quantities are deterministic and small, so they are computed with NumPy in
float64 whatever the backend; simulations run on the active backend (:mod:`rnnproof.backend`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats as _st

from . import backend
from .concept import random_true_inputs
from .rnn import Weights, back_operators, hidden_states, init_weights
from .sequences import check_actual_input, embed, null_sequence
from .stats import SlopeFit

Array = Any
Activation = Literal["relu", "linear"]


# --------------------------------------------------------------------------- infinite width

def arccos_map(s: np.ndarray, n1: np.ndarray, n2: np.ndarray,
               activation: Activation = "relu") -> np.ndarray:
    """One step of the kernel recursion: m E[sigma(u) sigma(v)] for (u, v) centred Gaussian with
    covariance (2/m) [[n1^2, s], [s, n2^2]] (a row of [W A] ~ N(0, 2I/m) applied to two
    vectors (h, x) and (h', x') with <., .> = s and norms n1, n2).

    ReLU (Cho & Saul's arc-cosine kernel of degree 1): with cos t = s / (n1 n2),
    kappa = n1 n2 (sin t + (pi - t) cos t) / pi.
    ``activation="linear"`` returns s itself: the kernel *without* the ReLU factor (what an
    isometric linear map would give; the same norms, wrong correlations), used as a wrong
    theory curve in the negative controls.
    """
    s, n1, n2 = np.broadcast_arrays(np.asarray(s, float), np.asarray(n1, float),
                                    np.asarray(n2, float))
    if np.any(n1 < 0) or np.any(n2 < 0):
        raise ValueError("arccos_map needs non-negative norms n1, n2")
    if activation == "linear":
        return s.copy()
    if activation != "relu":
        raise ValueError(f"activation must be 'relu' or 'linear', got {activation!r}")
    nn = n1 * n2
    safe = np.where(nn > 0, nn, 1.0)
    c = np.clip(np.where(nn > 0, s / safe, 0.0), -1.0, 1.0)
    t = np.arccos(c)
    return nn * (np.sqrt(1.0 - c * c) + (np.pi - t) * c) / np.pi


def _as_input(x: Any) -> np.ndarray:
    """Validate an actual input (Definition 3.2) and return it as float64 NumPy."""
    return np.asarray(backend.to_numpy(check_actual_input(x)), dtype=np.float64)


def norm_squared_limit(x: Any) -> np.ndarray:
    """Infinite-width ||h_l||^2 for actual inputs x (n, L+1, d_x+1): array (n, L+1) with
    value sum_{k=1}^{l} ||x_k||^2 (= 1 + (l-1) eps_x^2 for a normalized input, l >= 1)."""
    xn = _as_input(x)
    return np.cumsum((xn * xn).sum(-1), axis=1)


def kernel(x: Any, x2: Any | None = None, activation: Activation = "relu") -> np.ndarray:
    """The infinite-width limit K of <h_l(x_a), h_l'(x'_b)> for every pair of sequences and
    every pair of positions: array (n, n2, L+1, L2+1), index 0 is h_0 = 0.

    Recursion (our derivation; h_0 = 0 so K(0, .) = K(., 0) = 0):
    K(l, l') = kappa(K(l-1, l'-1) + <x_l, x'_l'>, n_l, n'_l'), n_l^2 = K(l-1, l-1) + ||x_l||^2,
    with kappa of :func:`arccos_map`. One loop over l; each step updates all sequence pairs and
    all positions l' at once. ``x2`` defaults to ``x``; the two may have different lengths.
    """
    xa = _as_input(x)
    xb = xa if x2 is None else _as_input(x2)
    if xa.shape[2] != xb.shape[2]:
        raise ValueError(f"x and x2 must have the same token dimension, got {xa.shape[2]} and "
                         f"{xb.shape[2]}")
    G = np.einsum("ald,bkd->ablk", xa, xb)  # <x_l, x'_l'>
    na = np.sqrt(np.cumsum((xa * xa).sum(-1), axis=1))  # n_l (the self-kernel is exact)
    nb = np.sqrt(np.cumsum((xb * xb).sum(-1), axis=1))
    n, Lp1 = xa.shape[:2]
    n2, L2p1 = xb.shape[:2]
    K = np.zeros((n, n2, Lp1, L2p1))
    for l in range(1, Lp1):
        K[:, :, l, 1:] = arccos_map(K[:, :, l - 1, :-1] + G[:, :, l, 1:],
                                    na[:, l][:, None, None], nb[:, 1:][None, :, :], activation)
    return K


def gram_matrix_limit(x: Any, activation: Activation = "relu") -> np.ndarray:
    """K of :func:`kernel` flattened to a Gram matrix over (sequence, position 1..L):
    array (n L, n L), row a L + (l - 1) <-> h_l(x_a)."""
    K = kernel(x, activation=activation)[:, :, 1:, 1:]
    n, _, L, _ = K.shape
    return K.transpose(0, 2, 1, 3).reshape(n * L, n * L)


def cosines(gram: np.ndarray) -> np.ndarray:
    """cos of the angle between the vectors of a Gram matrix (zero vectors give 0)."""
    g = np.asarray(gram, float)
    d = np.sqrt(np.clip(np.diagonal(g, axis1=-2, axis2=-1), 0, None))
    dd = d[..., :, None] * d[..., None, :]
    return np.where(dd > 0, g / np.where(dd > 0, dd, 1.0), 0.0)


def consecutive_angle_limit(L: int, eps_x: float, d_x: int = 4) -> np.ndarray:
    """Infinite-width angle (radians) between h_l and h_{l+1} along the null sequence x^(0)
    of length L, for l = 1..L-1: array (L-1,).

    Only the first off-diagonal of :func:`kernel` is needed, K(l, l+1) =
    kappa(K(l-1, l) + <x_l, x_{l+1}>, n_l, n_{l+1}), so this is an O(L) recursion (the same
    numbers as ``kernel`` gives). As eps_x -> 0 the angle behaves like 3 pi / l (our
    derivation: kappa maps cos t to cos t' with t' = t - t^2 / (3 pi) + O(t^3)).
    """
    x = _as_input(null_sequence(L, d_x, eps_x))[0]
    N = np.cumsum((x * x).sum(-1))  # K(l, l) = n_l^2
    ip = (x[1:-1] * x[2:]).sum(-1)  # <x_l, x_{l+1}>, l = 1..L-1
    k = 0.0  # K(0, 1) = 0
    cos = np.empty(L - 1)
    for l in range(1, L):
        k = float(arccos_map(k + ip[l - 1], np.sqrt(N[l]), np.sqrt(N[l + 1])))
        cos[l - 1] = k / np.sqrt(N[l] * N[l + 1])
    return np.arccos(np.clip(cos, -1.0, 1.0))


def later_state_cosines(count: int, activation: Activation = "relu",
                        c1: float = 1.0 / np.pi) -> np.ndarray:
    """The eps_x -> 0 limit of cos angle(h_i, h_j) along the null sequence, for i < j:
    c_1 = 1/pi and c_{i+1} = f(c_i) with f(c) = kappa(c, 1, 1) of :func:`arccos_map`; it does
    not depend on j (our derivation: with the inputs switched off, K(i, j) = kappa(K(i-1, j-1)),
    K(0, .) = 0, and every norm is 1). Returns c_1..c_count, array (count,).

    ``activation`` and ``c1`` change the map and the start (wrong theories for the negative
    controls: ``"linear"`` keeps every c_i at c_1)."""
    if int(count) != count or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    if not -1.0 <= c1 <= 1.0:
        raise ValueError(f"c1 is a cosine and must lie in [-1, 1], got {c1!r}")
    c = np.empty(int(count))
    c[0] = c1
    for i in range(1, int(count)):
        c[i] = arccos_map(c[i - 1], 1.0, 1.0, activation)
    return c


# --------------------------------------------------------------------------- finite width

def rescaled(weights: Weights, w_var: float = 2.0, b_correlation: float = 0.0) -> Weights:
    """The same draw with W's entries rescaled to variance ``w_var / m`` (2/m is Definition
    3.3's; sqrt(2)/m is footnote 2's alternative; 1/m a wrong variance).

    ``b_correlation`` = rho > 0 replaces B by *correlated copies* of its rows: B <- M B with
    M M^T = (1 - rho) I + rho 1 1^T (Cholesky factor), so every row still has N(0, 1/d) entries
    but two rows have correlation rho (a broken input for the decorrelation checks).
    """
    if not np.isfinite(w_var) or w_var <= 0:
        raise ValueError(f"w_var must be positive, got {w_var!r}")
    if not 0.0 <= b_correlation < 1.0:
        raise ValueError(f"b_correlation must lie in [0, 1), got {b_correlation!r}")
    W = weights.W if w_var == 2.0 else weights.W * float(np.sqrt(w_var / 2.0))
    B = weights.B
    if b_correlation > 0:
        d = weights.d
        M = np.linalg.cholesky((1 - b_correlation) * np.eye(d) + b_correlation * np.ones((d, d)))
        B = backend.xp().asarray(M, dtype=B.dtype) @ B
    return Weights(W=W, A=weights.A, B=B)


def scaled_weights(m: int, d_x: int, d: int, seed: int, w_var: float = 2.0,
                   b_correlation: float = 0.0) -> Weights:
    """:func:`rnnproof.init_weights` followed by :func:`rescaled`."""
    return rescaled(init_weights(m, d_x, d, seed), w_var, b_correlation)


def probe_inputs(L: int, eps_x: float, n_real: int = 2, d_x: int = 4, seed: int = 0) -> Array:
    """The null sequence x^(0) followed by ``n_real`` embedded random true inputs (Definition
    3.1, same eps_x): array (1 + n_real, L+1, d_x+1) on the backend."""
    x0 = backend.to_numpy(null_sequence(L, d_x, eps_x))
    if n_real == 0:
        return backend.asarray(x0)
    xs = random_true_inputs(n_real, L, d_x, seed)
    xr = backend.to_numpy(embed(xs, eps_x))
    return backend.asarray(np.concatenate([x0, xr], axis=0))


def empirical_gram(weights: Weights, x: Any) -> np.ndarray:
    """Finite-width Gram matrix of {h_l(x_a)}: array (n L, n L) in float64 (same ordering as
    :func:`gram_matrix_limit`)."""
    h = hidden_states(weights, x)[:, 1:]
    n, L, m = h.shape
    H = h.reshape(n * L, m)
    return np.asarray(backend.to_numpy(H @ H.T), dtype=np.float64)


def relative_frobenius_error(est: np.ndarray, ref: np.ndarray) -> float:
    """||est - ref||_F / ||ref||_F."""
    ref = np.asarray(ref, float)
    den = float(np.linalg.norm(ref))
    if den == 0:
        raise ValueError("the reference matrix is zero")
    return float(np.linalg.norm(np.asarray(est, float) - ref) / den)


def null_distance(weights: Weights, x: Any, x0: Any) -> np.ndarray:
    """||h_l(x) - h_l(x^(0))|| for every sequence of x and position: array (n, L+1)."""
    xp = backend.xp()
    h = hidden_states(weights, x)
    h0 = hidden_states(weights, x0)
    return backend.to_numpy(xp.sqrt(((h - h0) ** 2).sum(-1))).astype(np.float64)


def null_distance_limit(x: Any, x0: Any) -> np.ndarray:
    """Infinite-width ||h_l(x) - h_l(x^(0))||, from the kernel: array (n, L+1)."""
    if np.shape(backend.to_numpy(x0))[0] != 1:
        raise ValueError("x0 must hold a single sequence (the null sequence), shape (1, L+1, .)")
    Kxx = np.einsum("aakk->ak", kernel(x))  # ||h_l(x_a)||^2
    K00 = np.einsum("kk->k", kernel(x0)[0, 0])  # ||h_l(x^(0))||^2
    Kx0 = np.einsum("akk->ak", kernel(x, x0)[:, 0])  # <h_l(x_a), h_l(x^(0))>
    return np.sqrt(np.clip(Kxx + K00[None] - 2 * Kx0, 0, None))


@dataclass(frozen=True)
class BackRowStats:
    """Row statistics of all Back_{i->j} (Definition 4.1) for one input and one draw.

    ``norm_ratio`` (L, L, d): ||e_s^T Back_{i->j}||^2 d / m at [i-1, j-1, s] (NaN for i > j);
    ``corr_j`` : normalized correlations <e_s^T Back_{i->j}, e_s^T Back_{i->j'}> / (norms),
    1 <= i <= j < j' <= L (j = i gives the correlation with a row of B);
    ``corr_b`` : those with j = i only (correlation of Back_{i->j'} with B);
    ``corr_s`` : correlations between rows s != s' of the same Back_{i->j}.
    """

    norm_ratio: np.ndarray
    corr_j: np.ndarray
    corr_b: np.ndarray
    corr_s: np.ndarray


def back_row_stats(weights: Weights, x: Any) -> BackRowStats:
    """Row norms and normalized correlations of Back_{i->j} for a single input x (1, L+1, .)."""
    back = backend.to_numpy(back_operators(weights, x))
    if back.shape[0] != 1:
        raise ValueError(f"back_row_stats takes a single input sequence, got n={back.shape[0]}")
    bk = np.asarray(back[0, 1:, 1:], dtype=np.float64)  # (L, L, d, m), [i-1, j-1]
    L, _, d, m = bk.shape
    sq = (bk * bk).sum(-1)  # (L, L, d)
    iu = np.triu_indices(L)  # i <= j
    ratio = np.full((L, L, d), np.nan)
    ratio[iu] = sq[iu] * d / m
    nrm = np.sqrt(sq)
    cj, cb = [], []
    for i in range(L):
        rows = bk[i, i:]  # (L-i, d, m): j = i..L-1 (0-based)
        if rows.shape[0] < 2:
            continue
        g = np.einsum("asm,bsm->sab", rows, rows)
        nn = nrm[i, i:].T  # (d, L-i)
        c = g / (nn[:, :, None] * nn[:, None, :])
        a, b = np.triu_indices(rows.shape[0], 1)
        cj.append(c[:, a, b].ravel())
        cb.append(c[:, 0, 1:].ravel())
    cs = []
    if d > 1:
        g = np.einsum("ijsm,ijtm->ijst", bk, bk)[iu]  # (#pairs, d, d)
        nn = nrm[iu]
        c = g / (nn[:, :, None] * nn[:, None, :])
        a, b = np.triu_indices(d, 1)
        cs.append(c[:, a, b].ravel())
    def cat(v: list) -> np.ndarray:
        return np.concatenate(v) if v else np.zeros(0)

    return BackRowStats(norm_ratio=ratio, corr_j=cat(cj), corr_b=cat(cb), corr_s=cat(cs))


def relu_gain_sup(W: Array, starts: int = 32, iters: int = 60, seed: int = 0,
                  tol: float = 1e-10, check_every: int = 10) -> tuple[float, np.ndarray]:
    """Estimate the operator norm sup_x ||sigma(W x)|| / ||x|| of x -> sigma(W x) (footnote 2).

    ||sigma(W x)||^2 is convex in x, so on the unit sphere the fixed-point ascent
    x <- W^T sigma(W x) / ||W^T sigma(W x)|| never decreases it (for convex f,
    f(y) >= f(x) + <grad f(x), y - x> and the step maximizes the linear term). It runs from
    ``starts`` random directions plus +-(the top right singular vector of W) at once (one
    matrix product per iteration), and stops once no start moved by more than ``tol`` in an
    iteration (looked at on the host every ``check_every`` iterations, so a device is read at
    most iters / check_every times). Returns (the best value found, the per-start values).
    The result is a lower bound of the supremum; sigma_max(W) / sqrt(2) <= sup <= sigma_max(W)
    always holds, and the +-v_top starts guarantee the lower end. W may be on either backend.
    """
    xp = backend.xp()
    if starts < 1 or iters < 1 or check_every < 1:
        raise ValueError("relu_gain_sup needs starts >= 1, iters >= 1 and check_every >= 1")
    W = backend.to_backend(W)
    m = W.shape[1]
    g = backend.rng(seed)
    X = g.standard_normal((m, starts), dtype=W.dtype)
    v = top_right_singular_vector(W)
    X = xp.concatenate([X, v[:, None], -v[:, None]], axis=1)
    X /= xp.linalg.norm(X, axis=0, keepdims=True)
    prev = None
    for it in range(iters):
        Y = xp.maximum(W @ X, 0)
        val = xp.linalg.norm(Y, axis=0)
        if prev is not None and (it % check_every == 0 or it == iters - 1) \
                and float(xp.max(xp.abs(val - prev))) < tol:
            break
        prev = val
        X = W.T @ Y
        nx = xp.linalg.norm(X, axis=0, keepdims=True)
        X /= xp.where(nx > 0, nx, 1)
    vals = backend.to_numpy(xp.linalg.norm(xp.maximum(W @ X, 0), axis=0)).astype(float)
    return float(vals.max()), vals


def top_right_singular_vector(W: Array, iters: int = 200, seed: int = 1) -> Array:
    """Top right singular vector of W by power iteration on W^T W (unit norm), on the active
    backend (no host reads inside the iteration)."""
    xp = backend.xp()
    W = backend.to_backend(W)
    v = backend.rng(seed).standard_normal(W.shape[1], dtype=W.dtype)
    v /= xp.linalg.norm(v)
    for _ in range(iters):
        v = W.T @ (W @ v)
        v /= xp.linalg.norm(v)
    return v


def spectral_norm(W: Array) -> float:
    """sigma_max(W), the largest singular value (LAPACK / cuSOLVER, no singular vectors)."""
    return float(backend.xp().linalg.svd(backend.to_backend(W), compute_uv=False)[0])


def relu_gain_typical(W: Array, samples: int = 64, seed: int = 2) -> float:
    """Mean of ||sigma(W x)|| / ||x|| over random directions x (the typical gain, -> 1 under
    N(0, 2/m))."""
    xp = backend.xp()
    X = backend.rng(seed).standard_normal((W.shape[1], samples), dtype=W.dtype)
    X /= xp.linalg.norm(X, axis=0, keepdims=True)
    return float(xp.linalg.norm(xp.maximum(W @ X, 0), axis=0).mean())


def fit_across_draws(x: np.ndarray, Y: np.ndarray, log_x: bool = True,
                     level: float = 0.95) -> SlopeFit:
    """Slope of log Y against log x (``log_x``) or x, fitted *per draw* and then averaged.

    ``Y`` is (draws, len(x)): one curve per independent draw of the weights. Points of one
    curve share the draw, so their residuals are correlated and a pooled least-squares interval
    would be too narrow (a random walk along the positions) or too wide (a shared intercept);
    here each draw gives one slope, and the interval is the Student-t interval of their mean
    (draws - 1 degrees of freedom). The intercept is the mean intercept.
    """
    x = np.asarray(x, float).ravel()
    Y = np.atleast_2d(np.asarray(Y, float))
    if Y.shape[1] != x.size or x.size < 2 or Y.shape[0] < 2:
        raise ValueError(f"fit_across_draws needs Y of shape (draws >= 2, {x.size}) and >= 2 "
                         f"points per draw, got {Y.shape}")
    if np.any(Y <= 0) or (log_x and np.any(x <= 0)):
        raise ValueError("fit_across_draws needs positive values to take logarithms")
    u = np.log(x) if log_x else x
    uc = u - u.mean()
    ly = np.log(Y)
    slopes = (ly - ly.mean(1, keepdims=True)) @ uc / (uc @ uc)
    intercepts = ly.mean(1) - slopes * u.mean()
    k = slopes.size
    se = float(slopes.std(ddof=1) / np.sqrt(k))
    half = float(_st.t.ppf(0.5 + level / 2, k - 1)) * se
    b = float(slopes.mean())
    ise = float(intercepts.std(ddof=1) / np.sqrt(k))
    cov = float(np.cov(intercepts, slopes, ddof=1)[0, 1] / k)
    return SlopeFit(b, float(intercepts.mean()), b - half, b + half, level, se, float(k - 1),
                    ise, cov, float(x.max()))


# --------------------------------------------------------------------------- figures

def plot_loglog_fit(ax: Any, x: Any, y: Any, exponent: float, label: str = "",
                    color: str = "C0", xlabel: str = "width m",
                    fit: SlopeFit | dict | None = None) -> SlopeFit | dict:
    """Draw pooled points (x, y) on log-log axes, the fitted power law (slope and 95% CI in the
    legend) and a dashed reference line of slope ``exponent``, both through the points'
    geometric mean. The fit is :func:`rnnproof.stats.fit_loglog` of the points unless ``fit``
    (a SlopeFit or a dict with slope, ci_low, ci_high, as a check reports it) is given."""
    from .stats import fit_loglog  # noqa: PLC0415

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    f = fit_loglog(x, y) if fit is None else fit
    get = (lambda k: f[k]) if isinstance(f, dict) else (lambda k: getattr(f, k))
    xs = np.unique(x)
    gx, gy = np.exp(np.log(x).mean()), np.exp(np.log(y).mean())
    ax.loglog(x, y, "o", color=color, alpha=0.35, ms=4)
    ax.loglog(xs, gy * (xs / gx) ** get("slope"), "-", color=color,
              label=f"{label} slope {get('slope'):.2f} [{get('ci_low'):.2f}, "
                    f"{get('ci_high'):.2f}]".strip())
    ax.loglog(xs, gy * (xs / gx) ** exponent, "--", color="grey", lw=1,
              label=f"reference slope {exponent:g}")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=7)
    return f
