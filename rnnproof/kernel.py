"""The recurrent tangent kernel of the Elman RNN (Definition 3.3) in W: finite width and its
infinite-width limit (our formulation; the paper does not state it).

Only W is trained, A and B stay at their initialization. For outputs p = (j, s), j = 3..L (the
positions the objective of Section 4 reads) and s in [d], the tangent kernel is

    Theta_m(x, x')_{p p'} = < grad_W F_{j,s}(x), grad_W F_{j',s'}(x') >_F.

The gradient is a sum of rank-one terms (equation 5.1 is its directional derivative):
grad_W F_{j,s}(x) = sum_{i=2}^{j} a_i^{(j,s)} h_{i-1}^T with a_i^{(j,s)} = D_i Back_{i->j}^T e_s,
so, without any m x m array,

    Theta_m(x, x')_{p p'} = sum_{i, i'} <a_i^{(j,s)}(x), a_{i'}^{(j',s')}(x')>
                                        * <h_{i-1}(x), h_{i'-1}(x')>.

The *summed* kernel K_m(x, x') = sum_{p, p'} Theta_m(x, x')_{p p'} is the tangent kernel of the
summed output sum_{j,s} F_{j,s}: its gradient needs one backward vector per position
(c_i = D_i (W^T c_{i+1} + B^T 1 [i >= 3]), one sweep), which is what makes N = 512 sequences at
m = 4096 affordable (:func:`summed_tangent_kernel`).

Infinite width (our derivation, in the chapter *Beyond the paper*). Write Sigma(l, l') for the
limit of <h_l(x), h_l'(x')> (the arc-cosine recursion of :mod:`rnnproof.initialization`) and
Q(l, l') = Sigma(l-1, l'-1) + <x_l, x'_l'> (m/2 times the covariance of the pre-activations g_l,
g'_l'). With kappa_0 = P(g >= 0, g' >= 0) = (pi - theta) / (2 pi), cos theta = Q(l,l') /
sqrt(Q(l,l) Q'(l',l')), the backward vectors obey, treating W^T in the backward pass as
independent of W in the forward pass (the gradient-independence heuristic, which Yang's tensor
programs justify for a readout B that the recurrence does not reuse):

    <a_i^{(j,s)}, a_{i'}^{(j',s')}> / m
        -> delta_{ss'} (1/d) kappa_0(j, j') prod_{r=1}^{k} 2 kappa_0(j-r, j'-r)
    if j - i = j' - i' = k, and -> 0 otherwise.

Summed over the aligned pairs, Theta_m / m -> Theta_inf with Theta_inf(x, x')_{p p'} =
delta_{ss'} T(j, j') / d and the recursion

    T(l, l') = kappa_0(l, l') [ Sigma(l-1, l'-1) + 2 T(l-1, l'-1) ],   T(0, .) = T(., 0) = 0.

The factor 2 is the variance 2/m of W (Definition 3.3) that the ReLU's derivative moment
kappa_0(l, l) = 1/2 cancels on the diagonal. Deterministic quantities are NumPy float64 whatever
the backend; finite-width kernels are computed on the backend and returned as NumPy float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import backend
from .initialization import arccos_map
from .rnn import Weights, back_operators, forward_trace, objective_and_grad, outputs

Array = Any
#: Variants of the derivative moment kappa_0 (the last two are wrong on purpose, for controls):
#: ``relu`` (pi - theta) / (2 pi); ``linear`` 1 (the derivative of a linear unit: the ReLU's
#: constant 1/2 replaced by 1); ``independent`` 1/4 off the diagonal (activation patterns of
#: different inputs or positions treated as independent).
Derivative = Literal["relu", "linear", "independent"]

__all__ = ["ForwardKernel", "forward_kernel", "derivative_moment", "kernel_limit",
           "summed_kernel_limit", "TangentFactors", "tangent_factors", "tangent_kernel",
           "summed_tangent_kernel", "tangent_kernel_from_gradients", "relative_change",
           "kernel_ridge", "flatten_outputs"]


# --------------------------------------------------------------------------- infinite width

def _as_input(x: Any, what: str = "x") -> np.ndarray:
    """An actual input (n, L+1, d_x+1) as float64 NumPy: finite, L >= 3, index 0 zero. The
    normalization of Definition 3.2 is *not* required (the recursion holds for any norms)."""
    a = np.asarray(backend.to_numpy(x), dtype=np.float64)
    if a.ndim != 3 or a.shape[1] < 4 or a.shape[2] < 2:
        raise ValueError(f"{what} must have shape (n, L+1, d_x+1) with L >= 3, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains non-finite values")
    if np.any(a[:, 0] != 0):
        raise ValueError(f"{what}[:, 0] must be zero: index 0 is padding for h_0 = 0")
    return a


@dataclass(frozen=True)
class ForwardKernel:
    """Infinite-width forward quantities for two sets of inputs, every pair of positions.

    ``Sigma[a, b, l, l']`` = lim <h_l(x_a), h_l'(x'_b)>; ``Q[a, b, l, l']`` = Sigma(l-1, l'-1) +
    <x_l, x'_l'> (zero at l = 0 or l' = 0); ``qa[a, l]``, ``qb[b, l']`` the diagonal Q of each
    input with itself (the squared norms ||h_{l-1}||^2 + ||x_l||^2)."""

    Sigma: np.ndarray
    Q: np.ndarray
    qa: np.ndarray
    qb: np.ndarray


def forward_kernel(x: Any, x2: Any | None = None) -> ForwardKernel:
    """The arc-cosine recursion Sigma(l, l') = kappa_1(Q(l, l'), sqrt Q(l,l), sqrt Q'(l',l'))
    (:func:`rnnproof.initialization.arccos_map`) for inputs of *any* norms; on normalized inputs
    Sigma equals :func:`rnnproof.initialization.kernel`."""
    xa = _as_input(x)
    xb = xa if x2 is None else _as_input(x2, "x2")
    if xa.shape[2] != xb.shape[2]:
        raise ValueError(f"x and x2 must have the same token dimension, got {xa.shape[2]} and "
                         f"{xb.shape[2]}")
    G = np.einsum("ald,bkd->ablk", xa, xb)
    qa = np.cumsum((xa * xa).sum(-1), axis=1)  # Sigma(l, l) = sum_{k <= l} ||x_k||^2 (exact)
    qb = np.cumsum((xb * xb).sum(-1), axis=1)
    n, Lp1 = xa.shape[:2]
    n2, L2p1 = xb.shape[:2]
    S = np.zeros((n, n2, Lp1, L2p1))
    Q = np.zeros((n, n2, Lp1, L2p1))
    for l in range(1, Lp1):
        Q[:, :, l, 1:] = S[:, :, l - 1, :-1] + G[:, :, l, 1:]
        S[:, :, l, 1:] = arccos_map(Q[:, :, l, 1:], np.sqrt(qa[:, l])[:, None, None],
                                    np.sqrt(qb[:, 1:])[None, :, :])
    return ForwardKernel(Sigma=S, Q=Q, qa=qa, qb=qb)


def derivative_moment(fk: ForwardKernel, variant: Derivative = "relu",
                      same: bool = False) -> np.ndarray:
    """kappa_0(l, l') = P(g_l >= 0, g'_l' >= 0) for the centred Gaussian pre-activations of
    :class:`ForwardKernel` (Cho and Saul's arc-cosine kernel of degree 0): (pi - theta) / (2 pi)
    with cos theta = Q / sqrt(qa qb). Array like ``fk.Q`` (zero where a norm vanishes).

    ``variant`` ``linear`` or ``independent`` give the wrong moments of the negative controls
    (see :data:`Derivative`); ``same`` says that both inputs are the same set (so that the
    diagonal a = b, l = l' keeps its 1/2 under ``independent``)."""
    na = np.sqrt(fk.qa)[:, None, :, None]
    nb = np.sqrt(fk.qb)[None, :, None, :]
    nn = na * nb
    pos = nn > 0
    c = np.clip(np.where(pos, fk.Q / np.where(pos, nn, 1.0), 0.0), -1.0, 1.0)
    k0 = np.where(pos, (np.pi - np.arccos(c)) / (2 * np.pi), 0.0)
    if variant == "relu":
        return k0
    if variant == "linear":
        return np.where(pos, 1.0, 0.0)
    if variant == "independent":
        out = np.where(pos, 0.25, 0.0)
        if same:
            n, _, Lp1, _ = out.shape
            a, l = np.meshgrid(np.arange(n), np.arange(Lp1), indexing="ij")
            out[a, a, l, l] = np.where(pos[a, a, l, l], 0.5, 0.0)
        return out
    raise ValueError(f"derivative variant must be 'relu', 'linear' or 'independent', got "
                     f"{variant!r}")


def _t_recursion(fk: ForwardKernel, k0: np.ndarray) -> np.ndarray:
    """T(l, l') = kappa_0(l, l') [Sigma(l-1, l'-1) + 2 T(l-1, l'-1)], T(0, .) = T(., 0) = 0."""
    T = np.zeros_like(fk.Sigma)
    Lp1 = T.shape[2]
    for l in range(1, Lp1):
        T[:, :, l, 1:] = k0[:, :, l, 1:] * (fk.Sigma[:, :, l - 1, :-1]
                                            + 2.0 * T[:, :, l - 1, :-1])
    return T


def kernel_limit(x: Any, x2: Any | None = None, d: int = 1,
                 derivative: Derivative = "relu") -> np.ndarray:
    """Theta_inf(x, x') = lim Theta_m / m for outputs p = (j, s), j = 3..L, s in [d]: array
    (n, n2, P, P2), P = (L-2) d, p = (j - 3) d + s; Theta_inf_{pp'} = delta_{ss'} T(j, j') / d
    with T of the recursion in the module docstring. ``derivative`` picks kappa_0 (the default
    is the ReLU's; the others are negative controls)."""
    if int(d) != d or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    fk = forward_kernel(x, x2)
    T = _t_recursion(fk, derivative_moment(fk, derivative, same=x2 is None))
    Tj = T[:, :, 3:, 3:]  # (n, n2, L-2, L2-2)
    n, n2, J, J2 = Tj.shape
    eye = np.eye(d) / d
    out = np.einsum("abjk,st->abjskt", Tj, eye).reshape(n, n2, J * d, J2 * d)
    return out


def summed_kernel_limit(x: Any, x2: Any | None = None,
                        derivative: Derivative = "relu") -> np.ndarray:
    """K_inf(x, x') = lim K_m / m = sum_{j, j' >= 3} T(j, j') (the d output coordinates give
    d * (1/d)): array (n, n2)."""
    fk = forward_kernel(x, x2)
    T = _t_recursion(fk, derivative_moment(fk, derivative, same=x2 is None))
    return T[:, :, 3:, 3:].sum(axis=(2, 3))


# --------------------------------------------------------------------------- finite width

@dataclass(frozen=True)
class TangentFactors:
    """The rank-one factors of grad_W F_{j,s}(x) for every output p = (j, s), j = 3..L.

    ``a`` (n, I, P, m): a[:, i - 2, p] = D_i Back_{i->j}^T e_s for i = 2..L (zero for i > j);
    ``h`` (n, I, m): h[:, i - 2] = h_{i-1}; I = L - 1, P = (L-2) d, p = (j - 3) d + s."""

    a: Array
    h: Array

    @property
    def n(self) -> int:
        return int(self.h.shape[0])


def _shift_weights(weights: Weights, shift: Array | None) -> Weights:
    if shift is None:
        return weights
    xp = backend.xp()
    if tuple(shift.shape) != (weights.m, weights.m):
        raise ValueError(f"shift W' must have shape (m, m) = {(weights.m, weights.m)}, got "
                         f"{tuple(shift.shape)}")
    return Weights(W=weights.W + xp.asarray(shift, dtype=weights.W.dtype), A=weights.A,
                   B=weights.B)


def tangent_factors(weights: Weights, x: Array, shift: Array | None = None) -> TangentFactors:
    """The factors a_i^{(j,s)} and h_{i-1} of :class:`TangentFactors` at W + W', from
    :func:`rnnproof.rnn.back_operators` and :func:`rnnproof.rnn.forward_trace`."""
    xp = backend.xp()
    w = _shift_weights(weights, shift)
    back = back_operators(w, x)  # (n, L+1, L+1, d, m)
    tr = forward_trace(w, x)
    n, Lp1, _, d, m = back.shape
    L = Lp1 - 1
    if L < 3:
        raise ValueError(f"outputs j = 3..L need L >= 3, got L = {L}")
    Dm = tr.D.astype(back.dtype)  # (n, L+1, m)
    # back[:, i, j, s] for i = 2..L, j = 3..L; zero where i > j
    blk = back[:, 2:, 3:]  # (n, I, J, d, m)
    a = blk * Dm[:, 2:, None, None, :]
    a = xp.ascontiguousarray(a.reshape(n, L - 1, (L - 2) * d, m))
    return TangentFactors(a=a, h=xp.ascontiguousarray(tr.h[:, 1:L]))


def _factor_kernel(fa: TangentFactors, fb: TangentFactors) -> np.ndarray:
    n, I, P, m = fa.a.shape
    n2, I2, P2, _ = fb.a.shape
    backend.guard_memory(n * I * P * n2 * I2 * P2 * fa.a.dtype.itemsize,
                         f"the ({n * I * P} x {n2 * I2 * P2}) backward Gram of Theta_m")
    Ga = fa.a.reshape(n * I * P, m) @ fb.a.reshape(n2 * I2 * P2, m).T
    Gh = fa.h.reshape(n * I, m) @ fb.h.reshape(n2 * I2, m).T
    Ga = backend.to_numpy(Ga).astype(np.float64).reshape(n, I, P, n2, I2, P2)
    Gh = backend.to_numpy(Gh).astype(np.float64).reshape(n, I, n2, I2)
    return np.einsum("aipbkq,aibk->abpq", Ga, Gh)


def tangent_kernel(weights: Weights, x: Array, x2: Array | None = None,
                   shift: Array | None = None) -> np.ndarray:
    """Theta_m(x, x') at W + W' (not divided by m): array (n, n2, P, P2) in float64, P = (L-2) d,
    from the factors of :func:`tangent_factors` (no m x m array)."""
    fa = tangent_factors(weights, x, shift)
    fb = fa if x2 is None else tangent_factors(weights, x2, shift)
    return _factor_kernel(fa, fb)


def _summed_vectors(weights: Weights, x: Array) -> tuple[Array, Array]:
    """c_i (n, L-1, m) for i = 2..L, c_i = D_i (W^T c_{i+1} + B^T 1 [i >= 3]): the backward
    vectors of grad_W sum_{j>=3,s} F_{j,s} = sum_i c_i h_{i-1}^T; and h_{i-1} (n, L-1, m)."""
    xp = backend.xp()
    tr = forward_trace(weights, x)
    n, Lp1, m = tr.h.shape
    L = Lp1 - 1
    if L < 3:
        raise ValueError(f"outputs j = 3..L need L >= 3, got L = {L}")
    b1 = weights.B.sum(axis=0)  # B^T 1, (m,)
    c = xp.empty((n, L - 1, m), dtype=weights.W.dtype)
    delta = xp.zeros((n, m), dtype=weights.W.dtype)
    for i in range(L, 1, -1):
        if i >= 3:
            delta = delta + b1
        delta = delta * tr.D[:, i]
        c[:, i - 2] = delta
        if i > 2:
            delta = delta @ weights.W  # (W^T delta)^T, row-wise
    return c, tr.h[:, 1:L]


def summed_tangent_kernel(weights: Weights, x: Array, x2: Array | None = None,
                          block: int = 0) -> np.ndarray:
    """K_m(x, x') = < grad_W sum_{j>=3,s} F_{j,s}(x), grad_W sum_{j'>=3,s'} F_{j',s'}(x') >_F
    (= the sum over outputs of :func:`tangent_kernel`): array (n, n2) in float64.

    One forward and one backward sweep per input set, then two Gram matrices of the stacked
    (input, position) vectors and their blockwise Hadamard product. ``block`` > 0 processes
    that many positions i at a time (less memory for the Gram matrices)."""
    xp = backend.xp()
    ca, ha = _summed_vectors(weights, x)
    cb, hb = (ca, ha) if x2 is None else _summed_vectors(weights, x2)
    n, I, m = ca.shape
    n2 = cb.shape[0]
    if cb.shape[1] != I:
        raise ValueError("x and x2 must have the same length L")
    step = I if block <= 0 else int(block)
    K = xp.zeros((n, n2), dtype=ca.dtype)
    Cb = cb.reshape(n2 * I, m)
    Hb = hb.reshape(n2 * I, m)
    backend.guard_memory(2 * n * step * n2 * I * ca.dtype.itemsize,
                         f"two ({n * step} x {n2 * I}) Gram blocks of K_m")
    for s in range(0, I, step):
        e = min(I, s + step)
        Ca = ca[:, s:e].reshape(n * (e - s), m)
        Ha = ha[:, s:e].reshape(n * (e - s), m)
        if x2 is None and step == I:
            Gc, Gh = Ca @ Ca.T, Ha @ Ha.T  # same operand: BLAS syrk
        else:
            Gc, Gh = Ca @ Cb.T, Ha @ Hb.T
        Gc *= Gh
        K += Gc.reshape(n, e - s, n2, I).sum(axis=(1, 3))
    return np.asarray(backend.to_numpy(K), dtype=np.float64)


def tangent_kernel_from_gradients(weights: Weights, x: Array) -> np.ndarray:
    """Theta_m from dense gradients grad_W F_{j,s}(x_a), each computed by the hand-written
    backpropagation of :func:`rnnproof.rnn.objective_and_grad` (l2 loss, lambda = 1, labels
    F(x) - e_p, so that the gradient of the objective is exactly grad_W F_p): an independent
    reference for tests at small m (guarded). Array (n, n, P, P)."""
    xp = backend.xp()
    n, Lp1 = int(x.shape[0]), int(x.shape[1])
    L, d, m = Lp1 - 1, weights.d, weights.m
    P = (L - 2) * d
    backend.guard_memory(n * P * m * m * weights.W.dtype.itemsize,
                         f"{n * P} dense {m}x{m} gradients")
    F = backend.to_numpy(outputs(weights, x))[:, 3:]  # (n, L-2, d)
    grads = []
    for a in range(n):
        for p in range(P):
            y = F[a:a + 1].copy()
            y[0, p // d, p % d] -= 1.0
            _, g = objective_and_grad(weights, x[a:a + 1], y, 1.0)
            grads.append(g)
    G = xp.stack(grads).reshape(n * P, m * m)
    K = backend.to_numpy(G @ G.T).astype(np.float64).reshape(n, P, n, P)
    return K.transpose(0, 2, 1, 3)


def relative_change(before: np.ndarray, after: np.ndarray) -> float:
    """||after - before||_F / ||before||_F (the relative change of a kernel)."""
    b = np.asarray(before, dtype=float)
    den = float(np.linalg.norm(b))
    if not den > 0:
        raise ValueError("the reference kernel is zero")
    return float(np.linalg.norm(np.asarray(after, dtype=float) - b) / den)


# --------------------------------------------------------------------------- regression

def flatten_outputs(K: np.ndarray) -> np.ndarray:
    """A kernel (n, n2, P, P2) as a Gram matrix (n P, n2 P2) over (input, output) pairs."""
    n, n2, P, P2 = K.shape
    return np.asarray(K, dtype=float).transpose(0, 2, 1, 3).reshape(n * P, n2 * P2)


def kernel_ridge(K_train: np.ndarray, y_train: np.ndarray, K_cross: np.ndarray,
                 ridges: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0),
                 holdout: float = 0.25, seed: int = 0) -> dict[str, Any]:
    """Kernel ridge regression with a matrix-valued kernel over (input, output) pairs.

    ``K_train`` (N, N, P, P), ``y_train`` (N, P) labels, ``K_cross`` (n, N, P, P) between the
    prediction inputs and the training inputs. The ridge (in units of the mean diagonal of the
    Gram matrix) is chosen from ``ridges`` on a held-out ``holdout`` share of the training
    inputs, then the fit is redone on all of them. Returns ``prediction`` (n, P), ``ridge``
    and the held-out errors."""
    y = np.asarray(y_train, dtype=float)
    N, P = y.shape
    if K_train.shape != (N, N, P, P) or K_cross.shape[1:] != (N, P, P):
        raise ValueError(f"kernel shapes {K_train.shape}, {K_cross.shape} do not match "
                         f"labels {y.shape}")
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must lie in (0, 1), got {holdout}")
    G = flatten_outputs(K_train)
    scale = float(np.mean(np.diag(G)))
    if not scale > 0:
        raise ValueError("the training Gram matrix has no positive diagonal")
    perm = np.random.default_rng(seed).permutation(N)
    n_val = max(1, int(round(holdout * N)))
    val, tr = perm[:n_val], perm[n_val:]

    def rows(idx: np.ndarray) -> np.ndarray:
        return (idx[:, None] * P + np.arange(P)[None, :]).ravel()

    rt, rv = rows(tr), rows(val)
    Gtt, Gvt = G[np.ix_(rt, rt)], G[np.ix_(rv, rt)]
    lam_, Q = np.linalg.eigh(Gtt)
    qy = Q.T @ y[tr].ravel()
    errs = []
    for r in ridges:
        alpha = Q @ (qy / (np.maximum(lam_, 0.0) + r * scale))
        errs.append(float(((Gvt @ alpha - y[val].ravel()) ** 2).mean()))
    best = ridges[int(np.argmin(errs))]
    alpha = np.linalg.solve(G + best * scale * np.eye(N * P), y.ravel())
    pred = flatten_outputs(K_cross) @ alpha
    return {"prediction": pred.reshape(-1, P), "ridge": float(best), "holdout_errors": errs}
