"""Step 1 of the proof sketch: the first-order approximation of the network in the shift W'.

The paper (end of Section 4, step 1; Section 6 of the full version, not available here) says
that moving the recurrent weight from W to W + W' changes the outputs, up to a small error, by
the linear function f(W') of equation (5.1). In our own formulation:

    F_j(x; W + W') - F_j(x; W) = f_j(x; W') + R_j(x; W'),

with F_j = B h_j the output of Definition 3.3 (:func:`rnnproof.rnn.outputs`), f_j the linear
response of equation (5.1) (:func:`rnnproof.rnn.linear_response`, which is exactly the
directional derivative of F_j at W in the direction W') and R_j the remainder.

What to expect for a ReLU network (our derivation). sigma is piecewise linear, so the
remainder has two sources:

* activation patterns that flip. A neuron k at position l flips when g_{l,k} and
  g_{l,k} + delta_{l,k} have opposite signs (delta_l = g_l(W + W') - g_l(W)); there
  sigma(g + delta) - sigma(g) - 1{g >= 0} delta = |g + delta| <= |delta_k|, and it is zero
  elsewhere (so the one-step remainder is non-negative: sigma is convex). With g_{l,k} roughly
  N(0, s_l^2), s_l^2 = (2/m)(||h_{l-1}||^2 + ||x_l||^2), a neuron flips with probability about
  |delta_{l,k}| phi(0) / s_l, linear in the size of W'; the flipped neurons each contribute
  O(|delta_k|), so the flip remainder has norm ~ tau^{3/2} (not tau^2);
* the smooth second-order term W' (h(W + W') - h(W)), which is quadratic in W'.

So the remainder exponent in the size tau of W' lies between 3/2 (flips dominate) and 2 (the
smooth term dominates). In the paper's regime ||W'||_F = tau / sqrt(m) with W' aligned with the
backward operators (the shape of W* in Definition 5.3), f = Theta(tau) while the flip fraction is
O(tau / sqrt(m)) and the remainder falls with m.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import backend
from .rnn import (
    LowRank,
    Weights,
    _forward_pf,
    _prepare,
    back_operators,
    forward_trace,
    hidden_states,
    linear_response,
    outputs,
)
from .sequences import null_sequence

Array = Any

__all__ = ["FirstOrder", "aligned_direction", "random_direction", "first_order", "linear_objective",
           "predicted_flip_fraction", "remainder_scan", "output_features", "BallOptimum",
           "best_in_ball"]


def _dense(weights: Weights, M: Array | LowRank) -> Array:
    xp = backend.xp()
    if isinstance(M, LowRank):
        return M.dense()
    M = xp.asarray(M, dtype=weights.W.dtype)
    if tuple(M.shape) != (weights.m, weights.m):
        raise ValueError(f"W' must have shape (m, m) = {(weights.m, weights.m)}, "
                         f"got {tuple(M.shape)}")
    return M


def aligned_direction(weights: Weights, L: int, eps_x: float, s: int = 0) -> LowRank:
    """A unit-Frobenius direction shaped like W* of Definition 5.3 (NOT Definition 5.3 itself).

    sum_{i=2}^{L} (Back^(0)_{i->L}^T e_s) (h^(0)_{i-1})^T, normalized to ||.||_F = 1, with
    Back^(0), h^(0) computed on the null sequence x^(0) of Section 5.2. Its rows follow the
    backward operators, so the linear response (5.1) along it is of order sqrt(m) ||W'||_F:
    a shift of Frobenius norm tau / sqrt(m) moves the outputs by Theta(tau), the paper's regime
    (||W*||_F = O(1 / sqrt(m)) while f(W*) = Theta(1)). Definition 5.3 adds the indicators
    and the weights H of Lemma 5.2; those live in :mod:`rnnproof.construction`.
    """
    if not 0 <= s < weights.d:
        raise ValueError(f"output coordinate s must lie in [0, d) = [0, {weights.d}), got {s}")
    x0 = null_sequence(L, weights.d_x, eps_x)
    back = back_operators(weights, x0)[0]  # (L+1, L+1, d, m)
    h0 = hidden_states(weights, x0)[0]  # (L+1, m)
    xp = backend.xp()
    U = xp.stack([back[i, L, s] for i in range(2, L + 1)], axis=1)
    V = xp.stack([h0[i - 1] for i in range(2, L + 1)], axis=1)
    nrm = LowRank(U, V).frobenius_norm()
    return LowRank(U / nrm, V)


def random_direction(m: int, seed: int, rank: int | None = None,
                     dtype: Any = None) -> Array | LowRank:
    """A Gaussian direction of unit Frobenius norm: dense (m, m), or LowRank of the given rank."""
    if not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m must be a positive integer, got {m!r}")
    dtype = np.dtype(dtype or backend.default_dtype())
    g = backend.rng(seed)
    if rank is None:
        backend.guard_memory(m * m * dtype.itemsize, f"a dense random {m}x{m} direction")
        M = g.standard_normal((m, m), dtype=dtype)
        return M / backend.xp().linalg.norm(M)
    if not 1 <= rank <= m:
        raise ValueError(f"rank must lie in [1, m], got {rank}")
    lr = LowRank(g.standard_normal((m, rank), dtype=dtype),
                 g.standard_normal((m, rank), dtype=dtype))
    return LowRank(lr.U / lr.frobenius_norm(), lr.V)


@dataclass(frozen=True)
class FirstOrder:
    """The decomposition F(W + W') - F(W) = f(W') + R (arrays (n, L+1, d)) and the flips.

    ``flipped`` (n, L+1, m) marks neurons whose activation pattern D_l differs between W and
    W + W'; ``flip_fraction`` is its mean over inputs, positions 2..L and neurons (position 1
    never flips: g_1 = A x_1 does not see W'); ``flip_predicted`` the first-order prediction of
    that fraction (:func:`predicted_flip_fraction`).
    """

    delta_F: Array
    f: Array
    remainder: Array
    flipped: Array
    flip_fraction: float
    flip_predicted: float


def predicted_flip_fraction(g: Array, delta: Array, h_prev: Array, x: Array) -> float:
    """First-order prediction of the fraction of flipped activation patterns.

    For a neuron with pre-activation g_k ~ N(0, s^2), s^2 = (2/m)(||h_{l-1}||^2 + ||x_l||^2)
    (the variance over the random row (w_k, a_k)), a shift delta_k flips the sign with
    probability about |delta_k| phi(0) / s, phi(0) = 1/sqrt(2 pi). Averaged over the given
    neurons, inputs and positions (all arrays (n, P, m) except x (n, P, d_x+1)); inputs of
    either backend are converted to the active one.
    """
    return float(_predicted_flip_fraction(*(backend.to_backend(a) for a in (g, delta, h_prev,
                                                                             x))))


def _predicted_flip_fraction(g: Array, delta: Array, h_prev: Array, x: Array) -> Array:
    """:func:`predicted_flip_fraction` as a 0-d backend array (no host read)."""
    xp = backend.xp()
    m = g.shape[-1]
    s = xp.sqrt((2.0 / m) * ((h_prev ** 2).sum(-1) + (x ** 2).sum(-1)))[..., None]
    return xp.mean(xp.abs(delta) / (np.sqrt(2 * np.pi) * s))


def first_order(weights: Weights, x: Array, shift: Array | LowRank) -> FirstOrder:
    """F(x; W + W') - F(x; W), the linear response f(x; W') of (5.1) and the remainder R."""
    xp = backend.xp()
    Wp = _dense(weights, shift)
    t0 = forward_trace(weights, x)
    t1 = forward_trace(weights, x, Wp)
    F0 = t0.h @ weights.B.T
    F1 = t1.h @ weights.B.T
    f = linear_response(weights, x, shift)
    flipped = t0.D != t1.D
    xa = xp.asarray(x, dtype=weights.W.dtype)
    pred = predicted_flip_fraction(t0.g[:, 2:], t1.g[:, 2:] - t0.g[:, 2:], t0.h[:, 1:-1], xa[:, 2:])
    return FirstOrder(delta_F=F1 - F0, f=f, remainder=F1 - F0 - f, flipped=flipped,
                      flip_fraction=float(backend.to_numpy(flipped[:, 2:].mean())),
                      flip_predicted=pred)


def _rms(a: Array) -> float:
    return float(_rms_dev(a))


def _rms_dev(a: Array) -> Array:
    xp = backend.xp()
    return xp.sqrt(xp.mean(a * a))


def remainder_scan(weights: Weights, x: Array, direction: Array | LowRank,
                   taus: Any, linear_map: Array | LowRank | None = None) -> dict[str, np.ndarray]:
    """Scan W' = (tau / sqrt(m)) * direction over ``taus`` (the paper's regime
    ||W'||_F = tau / sqrt(m) for a unit-Frobenius direction).

    Returns arrays over tau: ``remainder`` (RMS of R over inputs, positions and coordinates),
    ``f`` (RMS of f), ``delta_F`` (RMS of the actual change), ``relative`` (remainder / f),
    ``flips`` and ``flips_predicted``. ``linear_map`` replaces the linear function by
    f(. ; (tau / sqrt(m)) * linear_map) (a negative control: a wrong linear map). The numbers
    of every tau stay on the backend and are read on the host once, at the end.
    """
    taus = np.asarray(taus, dtype=float)
    if taus.ndim != 1 or taus.size < 1 or np.any(taus <= 0) or not np.all(np.isfinite(taus)):
        raise ValueError("taus must be a non-empty 1-D array of positive finite numbers")
    xp = backend.xp()
    m = weights.m
    D = _dense(weights, direction)
    Lmap = None if linear_map is None else _dense(weights, linear_map)
    f_unit = linear_response(weights, x, D if Lmap is None else Lmap)  # f is linear in W'
    f_pf = f_unit.transpose(1, 0, 2)
    x_pf = _prepare(weights, x)  # validated once; every tau reuses it
    H0, G0 = _forward_pf(weights.W, weights.A, x_pf, keep_g=True)  # position-first
    F0 = H0 @ weights.B.T
    D0 = G0[2:] >= 0
    backend.guard_memory(m * m * weights.W.dtype.itemsize, "W + W'")
    rows = []
    for tau in taus:
        c = tau / np.sqrt(m)
        H1, G1 = _forward_pf(weights.W + c * D, weights.A, x_pf, keep_g=True)
        dF = H1 @ weights.B.T - F0
        f = c * f_pf
        r, rf = _rms_dev(dF - f).astype(np.float64), _rms_dev(f).astype(np.float64)
        rows.append(xp.stack([v.astype(np.float64) for v in (
            r, rf, _rms_dev(dF), r / xp.maximum(rf, 1e-300),
            (D0 != (G1[2:] >= 0)).mean(),
            _predicted_flip_fraction(G0[2:], G1[2:] - G0[2:], H0[1:-1], x_pf[2:]))]))
    table = backend.to_numpy(xp.stack(rows))  # the scan's one host read
    keys = ("remainder", "f", "delta_F", "relative", "flips", "flips_predicted")
    return {k: table[:, i].copy() for i, k in enumerate(keys)} | {"tau": taus}


def linear_objective(weights: Weights, x: Array, y_star: Array, lam: float,
                     shift: Array | LowRank | None,
                     loss: str = "l2") -> float:
    """The objective of the first-order model (proof steps 1 and 3):

        Obj_lin(W') = mean over the samples of sum_{j=3}^{L} G(lam (F_j(x; W) + f_j(x; W')), y*_j),

    the training objective of Section 4 with F(W + W') replaced by F(W) + f(W') (f of
    equation 5.1). It is convex in W' for a convex G. ``shift`` may be dense, a LowRank, or None
    (W' = 0, where Obj_lin equals the objective of the initial network).
    """
    from .rnn import _loss, check_labels  # noqa: PLC0415

    xp = backend.xp()
    if not np.isscalar(lam) or not np.isfinite(lam) or not 0 < float(lam) <= 1:
        raise ValueError(f"the output scale lambda must lie in (0, 1] (Section 4), got {lam!r}")
    n, Lp1 = int(x.shape[0]), int(x.shape[1])
    v = check_labels(y_star, n, Lp1 - 1, weights.d, loss).astype(weights.W.dtype)  # (L-2, n, d)
    F = outputs(weights, x)
    if shift is not None:
        F = F + linear_response(weights, x, shift if isinstance(shift, LowRank)
                                else _dense(weights, shift))
    u = lam * xp.ascontiguousarray(F[:, 3:].transpose(1, 0, 2))
    val, _ = _loss(loss, u, v)
    return float(backend.to_numpy(val.sum())) / n


# ------------------------------------------------------------------------------------------
# Step 3: the best comparator in a Frobenius ball for the l2 linear objective (convex)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputFeatures:
    """The gradients G_p = grad_{W'} f_{j,s}(x_n; W') of every output p = (j, s, n),
    j = 3..L, as rank-one factors, and their Gram matrix.

    ``a[q]`` (n, j-1, m) holds D_i Back_{i->j}^T e_s for i = 2..j and the q-th pair (j, s) of
    ``pairs``; ``h`` (n, L-1, m) holds h_{i-1}, i = 2..L (shared by every j); ``gram``
    (P, P), P = len(pairs) * n, is K_{pp'} = <G_p, G_p'>_F on the host in float64, ordered
    (pair, sample)."""

    pairs: tuple[tuple[int, int], ...]
    a: tuple[Array, ...]
    h: Array
    gram: np.ndarray

    @property
    def n(self) -> int:
        return int(self.h.shape[0])


def output_features(weights: Weights, x: Array) -> OutputFeatures:
    """:class:`OutputFeatures` of the outputs j = 3..L (every coordinate s) on the inputs x.

    K_{(j,s,n),(j',s',n')} = sum_{i<=j, i'<=j'} <a^{js}_{n,i}, a^{j's'}_{n',i'}>
    <h_{i-1}(x_n), h_{i'-1}(x_n')>: never an m x m matrix, O(n^2 L^4 d^2 m) work."""
    from .rademacher import gradient_factors  # noqa: PLC0415

    xp = backend.xp()
    L = int(x.shape[1]) - 1
    if L < 3:
        raise ValueError(f"the objective of Section 4 needs L >= 3 (outputs j = 3..L), got {L}")
    pairs = tuple((j, s) for j in range(3, L + 1) for s in range(weights.d))
    fac = [gradient_factors(weights, x, j, s) for j, s in pairs]
    a = tuple(f[0] for f in fac)
    h = fac[-1][1]  # j = L carries h_1 .. h_{L-1}
    n = int(h.shape[0])
    HH = [[h[:, t] @ h[:, u].T for u in range(L - 1)] for t in range(L - 1)]
    P = len(pairs) * n
    backend.guard_memory(2 * P * P * 8, f"the {P}x{P} Gram matrix of the output gradients")
    K = np.zeros((P, P))
    for q, aq in enumerate(a):
        for r in range(q, len(pairs)):
            ar = a[r]
            blk = xp.zeros((n, n), dtype=h.dtype)
            for t in range(aq.shape[1]):
                for u in range(ar.shape[1]):
                    blk += (aq[:, t] @ ar[:, u].T) * HH[t][u]
            b = np.asarray(backend.to_numpy(blk), dtype=np.float64)
            K[q * n:(q + 1) * n, r * n:(r + 1) * n] = b
            K[r * n:(r + 1) * n, q * n:(q + 1) * n] = b.T
    return OutputFeatures(pairs=pairs, a=a, h=h, gram=0.5 * (K + K.T))


@dataclass(frozen=True)
class BallOptimum:
    """The minimizer of the l2 linear objective over the ball ||V||_F <= radius
    (:func:`best_in_ball`) and the certificates of its optimality.

    ``shift`` is V_opt as factors; ``value`` Obj_lin(V_opt) from the closed form;
    ``multiplier`` the Lagrange multiplier mu >= 0 of the constraint
    ||V||_F^2 / 2 <= radius^2 / 2; ``kkt_residual`` ||grad Obj_lin(V_opt) + mu V_opt||_F /
    ||grad Obj_lin(0)||_F with the gradient built from the linear response of
    :func:`rnnproof.rnn.linear_response` (not from the Gram matrix); ``value_deviation`` the
    difference between ``value`` and :func:`linear_objective` at V_opt, relative to Obj_lin(0)
    (the optimum may be 0: the ball can hold an interpolant); ``slackness`` the relative gap
    |1 - ||V_opt||_F / radius| when mu > 0 (complementary slackness);
    ``norm_excess`` max(0, ||V_opt||_F / radius - 1)."""

    shift: LowRank
    value: float
    radius: float
    norm: float
    multiplier: float
    kkt_residual: float
    value_deviation: float
    slackness: float
    norm_excess: float
    value_at_zero: float

    @property
    def optimality_deviation(self) -> float:
        """The largest of the certificates' deviations (0 for an exact optimum)."""
        return float(max(self.kkt_residual, self.value_deviation, self.slackness,
                         self.norm_excess))


def best_in_ball(weights: Weights, x: Array, y_star: Array, lam: float,
                 radius: float) -> BallOptimum:
    """Solve min_{||V||_F <= radius} Obj_lin(V) for the l2 loss (proof step 3; our
    formulation): Obj_lin(V) = (1/2N) sum_{n,j,s} (lam (F_{j,s}(x_n; W) + <V, G_p>) - y_p)^2
    with G_p the gradient of f_{j,s}(x_n; .) (equation 5.1).

    A convex quadratic over a ball (a trust-region problem with a positive semi-definite
    Hessian). The minimizer lies in the span of the G_p (components orthogonal to it change
    the norm but not the objective), so with V = sum_p alpha_p G_p and K = U diag(s) U^T the
    Gram matrix, z = diag(sqrt s) U^T alpha solves min ||c + lam sqrt(s) z||^2 over ||z|| <= radius,
    c = U^T (lam F - y): z_k = -lam sqrt(s_k) c_k / (lam^2 s_k + mu), with mu = 0 when the
    minimum-norm unconstrained minimizer lies in the ball and otherwise the root of
    ||z(mu)|| = radius. The result is verified through the network's own linear response
    (KKT residual, complementary slackness, the objective recomputed)."""
    from scipy.optimize import brentq  # noqa: PLC0415

    from .rnn import check_labels  # noqa: PLC0415

    if not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"the radius of the comparator ball must be finite and > 0, got "
                         f"{radius!r}")
    if not np.isscalar(lam) or not np.isfinite(lam) or not 0 < float(lam) <= 1:
        raise ValueError(f"the output scale lambda must lie in (0, 1] (Section 4), got {lam!r}")
    xp = backend.xp()
    lam = float(lam)
    n, Lp1 = int(x.shape[0]), int(x.shape[1])
    feats = output_features(weights, x)
    y = np.asarray(backend.to_numpy(check_labels(y_star, n, Lp1 - 1, weights.d, "l2")),
                   dtype=np.float64)  # (L-2, n, d)
    F0 = np.asarray(backend.to_numpy(outputs(weights, x)), dtype=np.float64)  # (n, L+1, d)
    r0 = np.concatenate([lam * F0[:, j, s] - y[j - 3, :, s] for j, s in feats.pairs])
    s_eig, U = np.linalg.eigh(feats.gram)
    tol = max(float(s_eig.max()), 0.0) * s_eig.size * float(np.finfo(weights.W.dtype).eps)
    keep = s_eig > tol
    sk, Uk = s_eig[keep], U[:, keep]
    c = Uk.T @ r0
    sig = lam * lam * sk
    outside = float(r0 @ r0 - c @ c)  # the part of the residual no V can reach

    def z_of(mu: float) -> np.ndarray:
        return -np.sqrt(sig) * c / (sig + mu)

    mu = 0.0
    if float(np.sum(c * c / sig)) > radius * radius:  # the constraint binds
        def g(t: float) -> float:
            return float(np.log(np.linalg.norm(z_of(np.exp(t)))) - np.log(radius))
        hi = np.log(max(np.sqrt(float(np.sum(sig * c * c))) / radius, 1e-300)) + 1.0
        lo = np.log(max(float(sig.min()), 1e-300)) - 60.0
        mu = float(np.exp(brentq(g, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps,
                                 maxiter=500)))
    z = z_of(mu)
    alpha = Uk @ (z / np.sqrt(sk))
    value = float(((c + np.sqrt(sig) * z) ** 2).sum() + max(outside, 0.0)) / (2 * n)
    value0 = float(r0 @ r0) / (2 * n)

    # V_opt = sum_p alpha_p G_p as factors: h_{i-1}(x_n) is shared by every (j, s), so one
    # column per (n, i): U[:, (n, i)] = sum_{j,s} alpha_{(j,s,n)} a^{js}_{n,i}.
    dt = weights.W.dtype
    T = int(feats.h.shape[1])
    coef = xp.asarray(alpha.reshape(len(feats.pairs), n), dtype=dt)
    Ucols = xp.zeros((n, T, weights.m), dtype=dt)
    for q, aq in enumerate(feats.a):
        Ucols[:, :aq.shape[1]] += coef[q][:, None, None] * aq
    V = LowRank(xp.ascontiguousarray(Ucols.reshape(n * T, -1).T),
                xp.ascontiguousarray(feats.h.reshape(n * T, -1).T))

    # certificates, through the linear response of (5.1) rather than the Gram matrix
    f = np.asarray(backend.to_numpy(linear_response(weights, x, V)), dtype=np.float64)
    resid = np.concatenate([lam * (F0[:, j, s] + f[:, j, s]) - y[j - 3, :, s]
                            for j, s in feats.pairs])
    # z solves min ||c + sqrt(s) lam z||^2 + mu ||z||^2, so the multiplier of the constraint
    # (1/2)||V||^2 <= radius^2 / 2 for Obj_lin = (1/2n)||.||^2 is mu / n
    gamma = (lam / n) * resid + (mu / n) * alpha  # grad Obj_lin(V) + (mu/n) V = sum gamma_p G_p
    gamma0 = (lam / n) * r0
    K = feats.gram
    kkt = float(np.sqrt(max(gamma @ K @ gamma, 0.0)) / max(np.sqrt(gamma0 @ K @ gamma0),
                                                           1e-300))
    norm = V.frobenius_norm()
    lin = linear_objective(weights, x, y_star, lam, V)
    return BallOptimum(shift=V, value=value, radius=float(radius), norm=norm,
                       multiplier=mu / n, kkt_residual=kkt,
                       value_deviation=abs(lin - value) / max(value0, 1e-300),
                       slackness=abs(norm / radius - 1.0) if mu > 0 else 0.0,
                       norm_excess=max(norm / radius - 1.0, 0.0), value_at_zero=value0)
