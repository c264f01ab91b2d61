"""Lemma 5.2 (fit a single function), Definition 5.3 (the matrix W*), Lemma 5.4 (existence
through backward) and Claim G.1 (the Frobenius norm of W*).

Lemma 5.2 moves Lemma 5.1 into the network. For a fresh row (w~, a~) ~ N(0, 2I/m) the
pre-activation at position i' is <w~, h_{i'-1}> + <a~, x_{i'}>. After the rescaling
sqrt(m/2)/eps_x (which leaves the indicator unchanged) it reads

    Y' + <a, x*_{i'}>,   a = sqrt(m/2) a~ ~ N(0, I),   Y' = sqrt(m/2) <w~, h_{i'-1}> / eps_x,

so <a, x*_{i'}> is the "signal" of Lemma 5.1 and Y' its "noise". The window
1{|<w~, h^(0)_{i-1}>| <= eps_c/sqrt(m)} reads |X'| <= delta = eps_c / (sqrt(2) eps_x) for
X' = sqrt(m/2) <w~, h^(0)_{i-1}> / eps_x, and (X', Y') is a centred Gaussian pair with covariance
Gram(h^(0)_{i-1}, h_{i'-1}) / eps_x^2. Given the h's, every expectation of Lemma 5.2 is therefore
a one-dimensional integral over the window (Gauss-Legendre) of the closed-form inner expectation
of :func:`rnnproof.indicator.expectation_general`.

Our choice of H_{i->j,r,s} (the paper's proof, Appendix G.2, is not available): the Lemma 5.1
weight for Phi_{i->j,r,s} built at the noise level the infinite-width network predicts on target,

    sigma_i^2 = (N_{i-1} - K_{i-1}^2 / N_{i-1}) / eps_x^2 + kappa^2 delta^2 / 3,

(N_l = lim ||h^(0)_l||^2 = 1 + (l-1) eps_x^2, K_l = lim <h_l(x), h^(0)_l>, kappa = K/N; the
second term is the variance of the window, nearly uniform on [-delta, delta]), divided by the
design probability p0_i = P(|X'| <= delta) = 2 Phi_N(eps_c / sqrt(2 N_{i-1})) - 1. It depends on
Phi, w*, i, eps_x, eps_c, eps_e only, not on W, A or x* (K_l does not depend on x*: every true
token is a unit vector orthogonal to the null token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from . import backend
from .concept import Target
from .indicator import WeightFunction, _gl, build_weight, expectation_general
from .initialization import arccos_map
from .rnn import LowRank, Weights, back_operators, forward_trace, hidden_states
from .sequences import check_eps_x, null_sequence

Array = Any

__all__ = [
    "PositionWeight", "Construction", "NullGrams", "null_limits", "position_weight",
    "window_expectation", "null_grams", "on_target_noise", "single_function_expectations",
    "paper_constants",
    "construct_w_star", "paper_eps_c", "active_probability", "decompose_response",
    "mean_field_response", "random_lowrank_like",
]


# ----------------------------------------------------------------------------- Lemma 5.2
def null_limits(L: int, eps_x: float) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width N_l = ||h^(0)_l||^2 and K_l = <h_l(x), h^(0)_l> for l = 0..L (arrays of
    length L+1), the same for every admissible true input x* (our derivation from the arc-cosine
    recursion: <x_l, x^(0)_l> = 0 for 2 <= l <= L-1 and ||x_l|| = ||x^(0)_l|| = eps_x)."""
    N, K = _null_limits(int(L), float(eps_x))
    return N.copy(), K.copy()


@lru_cache(maxsize=256)
def _null_limits(L: int, eps_x: float) -> tuple[np.ndarray, np.ndarray]:
    eps_x = check_eps_x(eps_x)
    N = np.zeros(L + 1)
    K = np.zeros(L + 1)
    N[1] = K[1] = 1.0
    for l in range(2, L + 1):
        N[l] = N[l - 1] + eps_x ** 2
        inner = K[l - 1] + (eps_x ** 2 if l == L else 0.0)
        K[l] = float(arccos_map(inner, math.sqrt(N[l]), math.sqrt(N[l])))
    return N, K


def on_target_noise(L: int, eps_x: float, delta: float) -> np.ndarray:
    """sigma_i of our H_{i->j,r,s} for i = 2..L-1 (array of length L-2): the infinite-width
    on-target noise level sqrt((N - K^2/N)/eps_x^2 + kappa^2 delta^2/3) at position i."""
    N, K = null_limits(L, eps_x)
    i = np.arange(2, L)
    n0, k0 = N[i - 1], K[i - 1]
    v = np.clip(n0 - k0 ** 2 / n0, 0.0, None) / eps_x ** 2
    return np.sqrt(v + (k0 / n0) ** 2 * delta ** 2 / 3.0)


def paper_eps_c(eps_e: float, eps_x: float, C_prime: float) -> float:
    """eps_c = eps_e eps_x / (4 C') of Lemma 5.2 / Definition 5.3."""
    return eps_e * eps_x / (4.0 * C_prime)


def active_probability(eps_c: float, norm_sq: Any) -> np.ndarray:
    """P(|<w, h>| <= eps_c / sqrt(m)) for w ~ N(0, 2I/m): 2 Phi_N(eps_c / sqrt(2 ||h||^2)) - 1
    (the expected fraction of neurons that pass the indicator of Definition 5.3)."""
    from scipy.special import erf  # noqa: PLC0415

    return erf(eps_c / (2.0 * np.sqrt(np.asarray(norm_sq, dtype=float))))


@dataclass(frozen=True)
class PositionWeight:
    """H_{i->j,r,s} of Lemma 5.2 (our construction): ``H51 / p0`` read at
    alpha = sqrt(m/2) <a~[:d_x], w*> and b = sqrt(m/2) a~[d_x - 1]."""

    i: int
    w_star: np.ndarray
    phi: Any
    H51: WeightFunction
    H: WeightFunction
    p0: float
    sigma: float
    delta: float
    eps_x: float
    eps_c: float

    def __call__(self, A_rows: Array, m: int) -> Array:
        """H(a~_k) for rows a~_k of A (shape (k, d_x+1)), width m (so a = sqrt(m/2) a~)."""
        a = backend.to_numpy(A_rows) * math.sqrt(m / 2.0)
        d_x = self.w_star.size
        if a.ndim != 2 or a.shape[1] != d_x + 1:
            raise ValueError(f"rows of A must have d_x+1 = {d_x + 1} columns, got {a.shape}")
        return self.H(a[:, :d_x] @ self.w_star, a[:, d_x - 1])

    @property
    def bound(self) -> float:
        """sup |H_{i->j,r,s}| (compare with 4 C'^2 / (eps_e eps_x) of Lemma 5.2)."""
        return self.H.bound


@lru_cache(maxsize=256)
def _h51(phi: Any, sigma: float, eps_e: float) -> WeightFunction:
    return build_weight(phi, sigma, eps_e)


def position_weight(phi: Any, w_star: Any, i: int, L: int, eps_x: float, eps_e: float,
                    eps_c: float) -> PositionWeight:
    """The weight H_{i->j,r,s} of Lemma 5.2 for target Phi(<w*, x*_i>) (our construction, see the
    module docstring): Lemma 5.1's H at sigma_i, divided by the window probability p0_i."""
    eps_x = check_eps_x(eps_x)
    if not 2 <= i <= L - 1:
        raise ValueError(f"Lemma 5.2 needs 2 <= i <= L-1, got i={i}, L={L}")
    if not (np.isfinite(eps_c) and eps_c > 0):
        raise ValueError(f"eps_c must be positive, got {eps_c!r}")
    w = np.asarray(w_star, dtype=float)
    if w.ndim != 1 or abs(np.linalg.norm(w) - 1) > 1e-9 or abs(w[-1]) > 1e-12:
        raise ValueError("w* must be a unit vector with last coordinate 0 (Lemma 5.1)")
    N, K = null_limits(L, eps_x)
    n0, k0 = N[i - 1], K[i - 1]
    kappa = k0 / n0
    delta = eps_c / (math.sqrt(2.0) * eps_x)
    v = max(n0 - k0 * k0 / n0, 0.0) / eps_x ** 2
    sigma = math.sqrt(v + kappa ** 2 * delta ** 2 / 3.0)
    sigma = float(np.round(sigma, 12))  # stable cache key
    H51 = _h51(phi, sigma, float(eps_e))
    p0 = float(active_probability(eps_c, n0))
    if p0 <= 0:
        raise ValueError(f"eps_c = {eps_c:g} gives a window probability that underflows")
    return PositionWeight(i=i, w_star=w, phi=phi, H51=H51, H=H51.scaled(1.0 / p0), p0=p0,
                          sigma=sigma, delta=delta, eps_x=eps_x, eps_c=float(eps_c))


def window_expectation(H: WeightFunction, g00: Any, g01: Any, g11: Any, p: Any, q: Any,
                       eps_x: float, eps_c: float, nodes: int = 8,
                       window: bool = True) -> np.ndarray:
    """E over fresh (w~, a~) ~ N(0, 2I/m) of 1{|<w~, h0>| <= eps_c/sqrt(m)}
    1{<w~, h'> + <a~, x'> >= 0} H(a~), by quadrature (Lemma 5.2).

    ``g00 = ||h0||^2, g01 = <h0, h'>, g11 = ||h'||^2`` (h0 = h^(0)_{i-1}, h' = h_{i'-1}); the token
    x' = eps_x (x*, 0) enters through p = <w*, x*> and q = x*_{d_x} = 1/2 (p = q = 0 for the last
    token x_L, which H does not see). ``window=False`` drops the window indicator (a control).
    Arrays broadcast; returns the expectation for each element.
    """
    g00, g01, g11, p, q = np.broadcast_arrays(*(np.asarray(a, dtype=float)
                                                for a in (g00, g01, g11, p, q)))
    if np.any(g00 <= 0):
        raise ValueError("||h^(0)_{i-1}||^2 must be positive")
    r2 = np.clip(1.0 - p * p - q * q, 0.0, None)
    kappa = g01 / g00
    v = np.clip(g11 - g01 * g01 / g00, 0.0, None) / eps_x ** 2
    if not window:
        tau = np.sqrt(r2 + g11 / eps_x ** 2)
        return expectation_general(H, p, q, tau, 0.0)
    delta = eps_c / (math.sqrt(2.0) * eps_x)
    sd = np.sqrt(g00) / eps_x
    xg, wg = _gl(nodes)
    xv = delta * xg  # window nodes, last axis
    dens = np.exp(-0.5 * (xv / sd[..., None]) ** 2) / (sd[..., None] * math.sqrt(2 * math.pi))
    tau = np.sqrt(r2 + v)[..., None]
    inner = expectation_general(H, p[..., None], q[..., None], tau, kappa[..., None] * xv)
    return np.sum(delta * wg * dens * inner, axis=-1)


@dataclass(frozen=True)
class NullGrams:
    """Inner products of the hidden states of x and of the null sequence x^(0) (float64).

    ``g00[l] = ||h^(0)_l||^2``, ``g01[n, l', l] = <h_{l'}(x_n), h^(0)_l>``,
    ``g11[n, l'] = ||h_{l'}(x_n)||^2``, for positions 0..L.
    """

    g00: np.ndarray
    g01: np.ndarray
    g11: np.ndarray


def null_grams(weights: Weights, x: Array, eps_x: float) -> NullGrams:
    """The Gram quantities Lemma 5.2 needs, from ``hidden_states`` of x and of x^(0)."""
    L = int(x.shape[1]) - 1
    h = hidden_states(weights, x)
    h0 = hidden_states(weights, null_sequence(L, weights.d_x, eps_x))[0]
    hn = backend.to_numpy(h).astype(np.float64)
    h0n = backend.to_numpy(h0).astype(np.float64)
    return NullGrams(g00=(h0n ** 2).sum(-1), g01=np.einsum("npm,qm->npq", hn, h0n),
                     g11=(hn ** 2).sum(-1))


def single_function_expectations(pw: PositionWeight, grams: NullGrams | None, x_star: np.ndarray,
                                 i_prime: Any, L: int, window: bool = True,
                                 nodes: int = 6, directions: np.ndarray | None = None
                                 ) -> np.ndarray:
    """Lemma 5.2: E over fresh (w~, a~) of 1{|<w~, h^(0)_{i-1}>| <= eps_c/sqrt(m)}
    1{<w~, h_{i'-1}> + <a~, x_{i'}> >= 0} H_{i->j,r,s}(a~) for every input x_n.

    ``i_prime`` is one position (returns (n,)) or a sequence of positions (returns (n, k)).
    ``grams=None`` uses the infinite-width Gram values (only for i' = i): the lemma in the
    limit m -> infinity. ``window=False`` drops the window and uses Lemma 5.1's H unscaled
    (a negative control). ``x_star`` (n, L-2, d_x) gives the token of position i'.
    ``directions`` (k_w, d_x): evaluate the same weight for several unit directions w* at once
    (the terms of one Phi and one position differ only by w*); the result then has the axis
    k_w after the inputs, (n, k_w) or (n, k_w, k).
    """
    i = pw.i
    scalar = np.ndim(i_prime) == 0
    ips = np.atleast_1d(np.asarray(i_prime, dtype=int))
    if np.any(ips < 2) or np.any(ips > L):
        raise ValueError(f"i' must lie in 2..L, got {i_prime}")
    tok = np.clip(ips, 2, L - 1) - 2
    last = ips == L  # x_L = (0, eps_x): H does not see it
    if directions is None:
        p = np.where(last[None, :], 0.0, x_star[:, tok] @ pw.w_star)  # (n, k)
    else:  # (n, k_w, k)
        dirs = np.atleast_2d(np.asarray(directions, dtype=float))
        p = np.where(last[None, None, :], 0.0,
                     np.einsum("nkd,wd->nwk", x_star[:, tok], dirs))
    q = np.where(last, 0.0, 0.5) * np.ones(p.shape)
    if grams is None:
        if np.any(ips != i):
            raise ValueError("the infinite-width Gram values are only available on target")
        N, K = null_limits(L, pw.eps_x)
        g00 = np.full(p.shape, N[i - 1])
        g01 = np.full(p.shape, K[i - 1])
        g11 = np.full(p.shape, N[i - 1])
    else:
        g00 = np.full(p.shape, grams.g00[i - 1])
        g01 = grams.g01[:, ips - 1, i - 1]
        g11 = grams.g11[:, ips - 1]
        if directions is not None:
            g01, g11 = g01[:, None, :], g11[:, None, :]
    H = pw.H if window else pw.H51
    out = window_expectation(H, g00, g01, g11, p, q, pw.eps_x, pw.eps_c, nodes=nodes,
                             window=window)
    return out[..., 0] if scalar else out


def paper_constants(target: Target, eps_x: float, eps_e: float) -> dict[str, float]:
    """C' (our sup |H| of Lemma 5.1 over the target's terms, at the on-target noise levels),
    eps_c = eps_e eps_x / (4 C') and C = 4 C'^2 / (eps_e eps_x) of Lemma 5.2 / Definition 5.3."""
    L = target.L
    N, K = null_limits(L, eps_x)
    Cp = 0.0
    for t in target.terms:
        v = max(N[t.i - 1] - K[t.i - 1] ** 2 / N[t.i - 1], 0.0) / eps_x ** 2
        Cp = max(Cp, _h51(t.phi, float(np.round(math.sqrt(v), 12)), float(eps_e)).bound)
    return {"C_prime": Cp, "eps_c": paper_eps_c(eps_e, eps_x, Cp),
            "C": 4.0 * Cp ** 2 / (eps_e * eps_x)}


# ----------------------------------------------------------------------------- Definition 5.3
@dataclass
class Construction:
    """W* of Definition 5.3 as low-rank factors, with what went into it.

    ``W_star`` = LowRank(U, V): V[:, i-2] = h^(0)_{i-1}, U[:, i-2] = sum_{j, r, s}
    [e_s^T Back^(0)_{i->j}]_k 1{|<w_k, h^(0)_{i-1}>| <= eps_c/sqrt(m)} H_{i->j,r,s}(a_k) /
    (m C_{i->j,s}), for i = 2..L-1 (rank <= L-2).
    """

    W_star: LowRank
    eps_x: float
    eps_e: float
    eps_c: float
    active: Array  # (L-2, m) bool, on the backend: neuron k passes the window of i = index + 2
    C: np.ndarray  # (L+1, L+1, d): C_{i->j,s} (a small host table)
    weights_by_term: list[PositionWeight]
    # keep_terms only, float64 host copies for the host-side sums of Lemma 5.4:
    G: np.ndarray = field(repr=False, default=None)  # (L+1, L+1, d, m) per-(i,j,s) row factors
    back0: np.ndarray = field(repr=False, default=None)  # (L+1, L+1, d, m) Back^(0)

    @property
    def active_counts(self) -> np.ndarray:
        """Neurons passing the window at each i = 2..L-1 (a host array (L-2,): one small read)."""
        return backend.to_numpy(self.active.sum(axis=1))

    @property
    def H_bound(self) -> float:
        """max over terms of sup |H_{i->j,r,s}| (the C of Definition 5.3, ours)."""
        return max(pw.bound for pw in self.weights_by_term)

    @property
    def C_prime(self) -> float:
        """max over terms of sup |H of Lemma 5.1| (our C')."""
        return max(pw.H51.bound for pw in self.weights_by_term)


def construct_w_star(weights: Weights, target: Target, eps_x: float, eps_e: float,
                     eps_c: float, keep_terms: bool = False) -> Construction:
    """W* of Definition 5.3 for the target F* (concept class (3.1)), as LowRank(U, V).

    Uses the null sequence x^(0) only: h^(0) from ``hidden_states`` and Back^(0) from
    ``back_operators``; never forms an m x m array. Everything of size m stays on the backend
    (h^(0), Back^(0), the window indicator, the weights H at every neuron, the factors U, V),
    computed in float64 and stored in the weights' dtype; only small tables come to the host:
    the constants C_{i->j,s} and the Hermite coefficients of each H (from the scalar Gaussian
    integrals of Lemma 5.1). ``keep_terms`` also returns the per-(i, j, s) row factors G and
    Back^(0) as float64 host arrays (for the host-side cross-term sums of Lemma 5.4).
    """
    eps_x = check_eps_x(eps_x)
    L, d_x, d = target.L, target.d_x, target.d
    if weights.d_x != d_x or weights.d != d:
        raise ValueError(f"weights have d_x={weights.d_x}, d={weights.d}; the target has "
                         f"d_x={d_x}, d={d}")
    xp = backend.xp()
    m = weights.m
    x0 = null_sequence(L, d_x, eps_x)
    h0 = hidden_states(weights, x0)[0]  # (L+1, m)
    back0 = back_operators(weights, x0)[0]  # (L+1, L+1, d, m)
    h0_64 = h0.astype(np.float64)
    norms_sq = (h0_64 ** 2).sum(-1)  # ||h^(0)_l||^2, l = 0..L
    back_sq = (back0 ** 2).sum(-1).astype(np.float64)  # (L+1, L+1, d)
    Cd = xp.zeros((L + 1, L + 1, d), dtype=np.float64)
    Cd[2:L] = back_sq[2:L] * norms_sq[1:L - 1, None, None] / m
    C = backend.to_numpy(Cd)  # the one host read of the construction: (L+1)^2 d numbers
    proj = (h0[1:L - 1] @ weights.W.T).astype(np.float64)  # <w_k, h0_{i-1}>, row i-2
    active = xp.abs(proj) <= eps_c / math.sqrt(m)  # (L-2, m)
    a = (weights.A * math.sqrt(m / 2.0)).astype(np.float64)  # a = sqrt(m/2) a~ for every row
    pws = []
    Hsum: dict[tuple[int, int, int], Array] = {}
    for t in target.terms:
        pw = position_weight(t.phi, t.w_star, t.i, L, eps_x, eps_e, eps_c)
        pws.append(pw)
        alpha = a[:, :d_x] @ backend.to_backend(pw.w_star, np.float64)
        vals = xp.where(active[t.i - 2], _weight_on_backend(pw.H, alpha, a[:, d_x - 1]), 0.0)
        key = (t.i, t.j, t.s)
        Hsum[key] = vals if key not in Hsum else Hsum[key] + vals
    U = xp.zeros((m, L - 2), dtype=np.float64)
    G = xp.zeros((L + 1, L + 1, d, m), dtype=np.float64) if keep_terms else None
    for (i, j, s), hv in Hsum.items():
        if C[i, j, s] <= 0:
            raise ValueError(f"C_{{{i}->{j},{s}}} vanished: e_s^T Back^(0) or h^(0) is zero")
        g = back0[i, j, s].astype(np.float64) * hv / (m * C[i, j, s])
        U[:, i - 2] += g
        if keep_terms:
            G[i, j, s] = g
    V = h0_64[1:L - 1].T  # (m, L-2): column i-2 is h^(0)_{i-1}
    dtype = weights.W.dtype
    W_star = LowRank(U.astype(dtype), xp.ascontiguousarray(V.astype(dtype)))
    return Construction(W_star=W_star, eps_x=eps_x, eps_e=float(eps_e), eps_c=float(eps_c),
                        active=active, C=C, weights_by_term=pws,
                        G=backend.to_numpy(G) if keep_terms else None,
                        back0=backend.to_numpy(back0).astype(np.float64) if keep_terms else None)


def _hermeval_on_backend(x: Array, c: np.ndarray) -> Array:
    """sum_k c_k He_k(x) for a backend array x and host coefficients c, by the same Clenshaw
    recursion as ``numpy.polynomial.hermite_e.hermeval`` (so NumPy gives identical numbers)."""
    c = [float(v) for v in np.asarray(c, dtype=np.float64).ravel()]  # host scalars
    if len(c) == 0:
        return 0.0 * x
    if len(c) == 1:
        return c[0] + 0.0 * x
    if len(c) == 2:
        return c[0] + c[1] * x
    nd = len(c)
    c0: Any = c[-2]
    c1: Any = c[-1]
    for i in range(3, len(c) + 1):
        tmp = c0
        nd -= 1
        c0 = c[-i] - c1 * (nd - 1)
        c1 = tmp + c1 * x
    return c0 + c1 * x


def _weight_on_backend(H: WeightFunction, alpha: Array, a_last: Array) -> Array:
    """H(alpha, a_last) of :class:`~rnnproof.indicator.WeightFunction` evaluated on the backend
    (the same formula as ``WeightFunction.__call__``, which works on host arrays)."""
    xp = backend.xp()
    sgn = xp.where(a_last >= 0, 1.0, -1.0)
    poly = _hermeval_on_backend(alpha, H.herm_odd) + sgn * _hermeval_on_backend(alpha,
                                                                               H.herm_even)
    return H.const + xp.where(xp.abs(alpha) <= H.cutoff, poly, 0.0)


def random_lowrank_like(c: Construction, seed: int) -> LowRank:
    """A random LowRank matrix with the same shape, rank and Frobenius norm as c.W_star (the
    negative control of Lemma 5.4)."""
    m, r = c.W_star.U.shape
    g = np.random.default_rng(seed)
    dtype = c.W_star.dtype
    lr = LowRank(backend.to_backend(g.standard_normal((m, r)), dtype),
                 backend.to_backend(g.standard_normal((m, r)), dtype))
    scale = c.W_star.frobenius_norm() / lr.frobenius_norm()
    return LowRank(lr.U * dtype.type(scale), lr.V)


# ----------------------------------------------------------------------------- Lemma 5.4
def decompose_response(weights: Weights, x: Array, c: Construction,
                       back: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The sum (5.3) split by category, for every input, j' and s': arrays (n, L+1, d).

    f_{j',s'} = sum over (i', i, j, s) of
      sum_k [e_s'^T Back_{i'->j'}]_k [D_{i'}]_k G_{i,j,s,k} <h_{i'-1}, h^(0)_{i-1}>
    with G the row factors of Definition 5.3 (summed over r). Returned: ``diagonal``
    (i = i', j = j', s = s'), ``cross_i`` (i != i'), ``cross_j`` (i = i', j != j'), ``cross_s``
    (i = i', j = j', s != s'), and ``total`` (their sum, equal to f of (5.1)). ``back`` may pass
    the already computed ``back_operators(weights, x)`` (as float64 NumPy).
    """
    if c.G is None:
        raise ValueError("decompose_response needs a Construction built with keep_terms=True")
    L = c.G.shape[0] - 1
    if back is None:  # (n, L+1, L+1, d, m)
        back = backend.to_numpy(back_operators(weights, x)).astype(np.float64)
    tr = forward_trace(weights, x)
    D = backend.to_numpy(tr.D).astype(np.float64)  # (n, L+1, m)
    h = backend.to_numpy(tr.h).astype(np.float64)
    V = backend.to_numpy(c.W_star.V).astype(np.float64)  # (m, L-2): h0_{i-1}
    n, d = back.shape[0], back.shape[3]
    inner = np.einsum("nlm,mk->nlk", h, V)  # <h_l, h0_{i-1}> at [n, l, i-2]
    out = {k: np.zeros((n, L + 1, d)) for k in ("diagonal", "cross_i", "cross_j", "cross_s")}
    G = backend.to_numpy(c.G).astype(np.float64)
    for jp in range(2, L + 1):
        for ip in range(2, jp + 1):
            # v[n, s', k] = Back_{i'->j'}[s', k] D_{i'}[k]
            v = back[:, ip, jp] * D[:, ip][:, None, :]
            for i in range(2, L):
                # T[n, s', j, s] = sum_k v[n,s',k] G[i,j,s,k] * <h_{i'-1}, h0_{i-1}>
                Tm = np.einsum("nak,jbk->najb", v, G[i]) * inner[:, ip - 1, i - 2][:, None, None,
                                                                                     None]
                for j in range(i + 1, L + 1):
                    for s in range(d):
                        _categorize(out, jp, ip, i, j, s, Tm[:, :, j, s], d)
    out["total"] = out["diagonal"] + out["cross_i"] + out["cross_j"] + out["cross_s"]
    return out


def _categorize(out: dict[str, np.ndarray], jp: int, ip: int, i: int, j: int, s: int,
                contrib: np.ndarray, d: int) -> None:
    """Add contrib (n, s') to the category of (i', j', s') x (i, j, s) in (5.3)."""
    if i != ip:
        out["cross_i"][:, jp] += contrib
    elif j != jp:
        out["cross_j"][:, jp] += contrib
    else:
        mask = np.arange(d) == s
        out["diagonal"][:, jp] += contrib * mask
        out["cross_s"][:, jp] += contrib * ~mask


def mean_field_response(weights: Weights, x: Array, x_star: np.ndarray, c: Construction,
                        target: Target, back: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The sum (5.3) with every neuron's window-indicator-H factor replaced by its expectation
    over a fresh neuron (Lemma 5.2), all else kept: the "in expectation" step of the proof
    sketch of Lemma 5.4, as arrays (n, L+1, d) split by category like
    :func:`decompose_response`:

      fbar_{j',s'} = sum_{i' <= j'} sum_{i,j,s} <e_s'^T Back_{i'->j'}, e_s^T Back^(0)_{i->j}>
                     / (m C_{i->j,s}) * <h_{i'-1}, h^(0)_{i-1}> * sum_r E_{5.2}[H_{i->j,r,s}; i'].

    Needs a Construction built with keep_terms=True (for Back^(0)); ``back`` may pass the
    already computed ``back_operators(weights, x)`` (as float64 NumPy)."""
    if c.back0 is None:
        raise ValueError("mean_field_response needs a Construction built with keep_terms=True")
    L, d, m = target.L, target.d, weights.m
    if back is None:  # (n, L+1, L+1, d, m)
        back = backend.to_numpy(back_operators(weights, x)).astype(np.float64)
    grams = null_grams(weights, x, c.eps_x)
    n = back.shape[0]
    xs = np.asarray(x_star, dtype=np.float64)
    # sum_r E_5.2 for every (i, j, s) and i'; the terms that share a weight (same Phi and
    # position, so the same H) differ only by w* and are evaluated together
    groups: dict[tuple[int, int, float], list[tuple[Any, PositionWeight]]] = {}
    for t, pw in zip(target.terms, c.weights_by_term):
        groups.setdefault((t.i, id(pw.H51), pw.p0), []).append((t, pw))
    Esum: dict[tuple[int, int, int], np.ndarray] = {}
    ips = list(range(2, L + 1))
    for members in groups.values():
        E = single_function_expectations(members[0][1], grams, xs, ips, L, directions=np.stack(
            [pw.w_star for _, pw in members]))  # (n, term, i')
        for k, (t, _) in enumerate(members):
            key = (t.i, t.j, t.s)
            Esum[key] = Esum.get(key, 0.0) + E[:, k]
    out = {k: np.zeros((n, L + 1, d)) for k in ("diagonal", "cross_i", "cross_j", "cross_s")}
    back0 = backend.to_numpy(c.back0).astype(np.float64)
    C = backend.to_numpy(c.C).astype(np.float64)
    for jp in range(2, L + 1):
        for ip in range(2, jp + 1):
            bp = back[:, ip, jp]  # (n, d, m)
            for (i, j, s), E in Esum.items():
                P = bp @ back0[i, j, s]  # (n, d): <Back_{i'->j'}[s'], Back0_{i->j}[s]>
                coef = grams.g01[:, ip - 1, i - 1] * E[:, ip - 2] / (m * C[i, j, s])
                _categorize(out, jp, ip, i, j, s, P * coef[:, None], d)
    out["total"] = out["diagonal"] + out["cross_i"] + out["cross_j"] + out["cross_s"]
    return out
