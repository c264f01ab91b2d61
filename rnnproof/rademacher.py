"""Step 4 of the proof sketch: the Rademacher complexity of the linear class, computed exactly.

The class (our formulation; Section 8 of the full version is not available here): for a
position j, an output coordinate s and a radius tau,

    F_{j,s}(tau) = { x -> f_{j,s}(x; W') : ||W'||_F <= tau },

with f the linear function of equation (5.1) at the random initialization W, A, B. Because
f_{j,s}(x; W') = <W', G_{j,s}(x)>_F is linear in W', the supremum in the empirical Rademacher
complexity is attained in closed form (Cauchy-Schwarz):

    R_N = E_eps sup_{||W'||_F <= tau} (1/N) sum_n eps_n f_{j,s}(x_n; W')
        = (tau / N) E_eps || sum_n eps_n G_{j,s}(x_n) ||_F
        = (tau / N) E_eps sqrt(eps^T K eps),    K_{nn'} = <G_{j,s}(x_n), G_{j,s}(x_n')>_F.

The gradient is a sum of rank-one terms, G_{j,s}(x) = sum_{i=2}^{j} a_i h_{i-1}^T with
a_i = D_i Back_{i->j}^T e_s, so K never needs an m x m matrix:
K_{nn'} = sum_{i,i'} <a_i(x_n), a_i'(x_n')> <h_{i-1}(x_n), h_{i'-1}(x_n')>. Only the average over
the Rademacher signs eps remains: exact enumeration for small N, otherwise Monte Carlo over eps
(never over W'), with its standard error. By the Khintchine-Kahane inequality (optimal constant
1/sqrt(2), Latala-Oleszkiewicz) the exact value lies in [sqrt(tr K / 2), sqrt(tr K)] * tau / N.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import backend
from .rnn import Weights, _forward_pf, _prepare

Array = Any

__all__ = ["gradient_factors", "gram", "Rademacher", "rademacher_from_gram",
           "empirical_rademacher", "linear_class_gradient", "dyadic_radius", "logistic_losses",
           "GeneralizationBound", "generalization_bound", "AdversarialMember",
           "adversarial_member", "output_gradient_factors"]


def gradient_factors(weights: Weights, x: Array, j: int, s: int = 0) -> tuple[Array, Array]:
    """Factors of grad_{W'} f_{j,s}(x; W') = sum_{i=2}^{j} a_i h_{i-1}^T (equation 5.1).

    Returns ``(a, h)``, each (n, j-1, m): ``a[:, t] = D_i Back_{i->j}^T e_s`` and
    ``h[:, t] = h_{i-1}`` for i = t + 2. One backward sweep: Back_{j->j}^T e_s = B^T e_s and
    Back_{i->j}^T e_s = W^T D_{i+1} Back_{i+1->j}^T e_s.
    """
    xp = backend.xp()
    x_pf = _prepare(weights, x)
    Lp1, n, _ = x_pf.shape
    L = Lp1 - 1
    if not isinstance(j, (int, np.integer)) or not 2 <= j <= L:
        raise ValueError(f"position j must satisfy 2 <= j <= L = {L} (equation 5.1), got {j!r}")
    if not isinstance(s, (int, np.integer)) or not 0 <= s < weights.d:
        raise ValueError(f"output coordinate s must lie in [0, d) = [0, {weights.d}), got {s!r}")
    H, G = _forward_pf(weights.W, weights.A, x_pf[: j + 1], keep_g=True)
    m = weights.m
    a = xp.empty((j - 1, n, m), dtype=weights.W.dtype)
    b = xp.broadcast_to(weights.B[s], (n, m))  # Back_{j->j}^T e_s = B^T e_s
    for i in range(j, 1, -1):
        a[i - 2] = b * (G[i] >= 0)
        if i > 2:
            b = a[i - 2] @ weights.W  # (W^T a)^T = a^T W, row-wise
    hh = H[1:j]  # h_{i-1}, i = 2..j
    return a.transpose(1, 0, 2), hh.transpose(1, 0, 2)


def output_gradient_factors(weights: Weights,
                            x: Array) -> dict[tuple[int, int], tuple[Array, Array]]:
    """:func:`gradient_factors` of every output (j, s), j = 3..L, from one forward pass:
    ``{(j, s): (a, h)}`` with a, h of shape (n, j-1, m)."""
    xp = backend.xp()
    x_pf = _prepare(weights, x)
    Lp1, n, _ = x_pf.shape
    L = Lp1 - 1
    if L < 3:
        raise ValueError(f"the outputs j = 3..L need L >= 3, got L = {L}")
    H, G = _forward_pf(weights.W, weights.A, x_pf, keep_g=True)
    D = (G >= 0).astype(weights.W.dtype)
    m = weights.m
    hh = H[1:L].transpose(1, 0, 2)  # h_{i-1}, i = 2..L
    out: dict[tuple[int, int], tuple[Array, Array]] = {}
    for j in range(3, L + 1):
        for s in range(weights.d):
            a = xp.empty((j - 1, n, m), dtype=weights.W.dtype)
            b = xp.broadcast_to(weights.B[s], (n, m))
            for i in range(j, 1, -1):
                a[i - 2] = b * D[i]
                if i > 2:
                    b = a[i - 2] @ weights.W
            out[(j, s)] = (a.transpose(1, 0, 2), hh[:, :j - 1])
    return out


def linear_class_gradient(weights: Weights, x: Array, j: int, s: int = 0) -> Array:
    """grad_{W'} f_{j,s}(x_n; W') as dense (n, m, m) arrays (for tests at small m only)."""
    a, h = gradient_factors(weights, x, j, s)
    n, _, m = a.shape
    backend.guard_memory(n * m * m * a.dtype.itemsize, f"{n} dense {m}x{m} gradients")
    return backend.xp().einsum("nti,ntk->nik", a, h)


def gram(a: Array, h: Array) -> Array:
    """K_{nn'} = <G(x_n), G(x_n')>_F for G(x_n) = sum_t a[n, t] h[n, t]^T (arrays (n, T, m)).

    Computed as sum_{t,t'} (A_t A_t'^T) * (H_t H_t'^T): O(T^2 n^2 m) work, O(n^2) memory, on the
    active backend (inputs of either backend are converted; no host reads).
    """
    xp = backend.xp()
    a = backend.to_backend(a)
    h = backend.to_backend(h, a.dtype)
    if a.shape != h.shape or a.ndim != 3:
        raise ValueError(f"a and h must both be (n, T, m), got {tuple(a.shape)} and "
                         f"{tuple(h.shape)}")
    n, T, _ = a.shape
    backend.guard_memory(3 * n * n * a.dtype.itemsize, f"the {n}x{n} Gram matrix")
    K = xp.zeros((n, n), dtype=a.dtype)
    for t in range(T):
        for u in range(t, T):
            blk = (a[:, t] @ a[:, u].T) * (h[:, t] @ h[:, u].T)
            K += blk
            if u != t:
                K += blk.T
    return 0.5 * (K + K.T)  # exactly symmetric (a product's rounding need not be)


@dataclass(frozen=True)
class Rademacher:
    """An empirical Rademacher complexity of a Frobenius ball of linear functions.

    ``value`` = (tau / N) E_eps sqrt(eps^T K eps); ``stderr`` its Monte Carlo standard error
    (0 when ``exact``); ``lower``/``upper`` the Khintchine-Kahane bounds (tau/N) sqrt(tr K / 2)
    and (tau/N) sqrt(tr K); ``draws`` the number of sign vectors averaged.
    """

    value: float
    stderr: float
    lower: float
    upper: float
    exact: bool
    draws: int
    N: int
    tau: float


@functools.lru_cache(maxsize=16)
def _all_signs(N: int) -> np.ndarray:
    """The 2^{N-1} sign vectors in {-1, +1}^N with first entry +1 (read-only, cached)."""
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=N - 1)), dtype=float)
    eps = np.hstack([np.ones((signs.shape[0], 1)), signs.reshape(signs.shape[0], N - 1)])
    eps.setflags(write=False)
    return eps


def rademacher_from_gram(K: Array, tau: float, draws: int = 200, seed: int = 0,
                         exact_max_n: int = 12) -> Rademacher:
    """(tau / N) E_eps sqrt(eps^T K eps) over Rademacher signs eps in {-1, +1}^N.

    Exact (all 2^{N-1} sign patterns up to the symmetry eps -> -eps) when N <= exact_max_n,
    otherwise the mean over ``draws`` independent sign vectors with its standard error. The
    signs are drawn on the host (NumPy, so every backend averages the same signs); the sums run
    where K is kept, in float64, and four numbers come back to the host.
    """
    if not np.isfinite(tau) or tau < 0:
        raise ValueError(f"the radius tau must be a finite number >= 0, got {tau!r}")
    xp = backend.xp()
    Kd = backend.to_backend(K)
    rtol = max(1e-8, 100 * float(np.finfo(Kd.dtype).eps)) if Kd.dtype.kind == "f" else 1e-8
    Kd = Kd.astype(np.float64)
    if Kd.ndim != 2 or Kd.shape[0] != Kd.shape[1] or Kd.shape[0] < 1:
        raise ValueError(f"K must be a square (N, N) Gram matrix, got shape {tuple(Kd.shape)}")
    N = Kd.shape[0]
    exact = N <= exact_max_n
    if exact:
        eps_h = _all_signs(N)
    else:
        if draws < 2:
            raise ValueError(f"Monte Carlo over the signs needs draws >= 2, got {draws}")
        eps_h = np.random.default_rng(seed).choice((-1.0, 1.0), size=(draws, N))
    eps = backend.to_backend(eps_h)
    v = xp.sqrt(xp.maximum(((eps @ Kd) * eps).sum(axis=1), 0.0))
    atol = 1e-2 * rtol * xp.maximum(1.0, xp.abs(Kd).max())  # rounding of K's own dtype
    symmetric = xp.all(xp.abs(Kd - Kd.T) <= atol + rtol * xp.abs(Kd.T))
    spread = v.std(ddof=1) if v.shape[0] > 1 else 0.0 * v.sum()
    sym, tr, mean, sd = backend.to_numpy(xp.stack([  # the one host read
        q.astype(np.float64) for q in (symmetric, xp.trace(Kd), v.mean(), spread)]))
    if not sym:
        raise ValueError("K must be symmetric (a Gram matrix)")
    lower = tau / N * math.sqrt(max(tr, 0) / 2)
    upper = tau / N * math.sqrt(max(tr, 0))
    if exact:
        return Rademacher(tau / N * float(mean), 0.0, lower, upper, True, eps_h.shape[0], N,
                          float(tau))
    return Rademacher(tau / N * float(mean), tau / N * float(sd / math.sqrt(draws)), lower, upper,
                      False, draws, N, float(tau))


def empirical_rademacher(weights: Weights, x: Array, tau: float, j: int | None = None,
                         s: int = 0, draws: int = 200, seed: int = 0) -> Rademacher:
    """Empirical Rademacher complexity of {x -> f_{j,s}(x; W') : ||W'||_F <= tau} on the
    sample x (N, L+1, d_x+1); j defaults to L (the longest backward chains)."""
    L = int(x.shape[1]) - 1
    a, h = gradient_factors(weights, x, L if j is None else j, s)
    return rademacher_from_gram(gram(a, h), tau, draws=draws, seed=seed)


# ------------------------------------------------------------------------------------------
# The generalization bound assembled from the Rademacher complexity (Theorem 1, step 4)
# ------------------------------------------------------------------------------------------


def _sample_norms(a: Array, h: Array) -> Array:
    """||G(x_n)||_F for G(x_n) = sum_t a[n, t] h[n, t]^T: arrays (n, T, m) -> (n,)."""
    xp = backend.xp()
    ga = xp.einsum("ntk,nuk->ntu", a, a)
    gh = xp.einsum("ntk,nuk->ntu", h, h)
    return xp.sqrt(xp.clip((ga * gh).sum(axis=(1, 2)), 0, None))


def dyadic_radius(norm: float, m: int) -> tuple[float, int]:
    """The smallest tau_k = 2^k / sqrt(m) (k an integer) with tau_k >= ``norm``; returns
    (tau_k, k). The bound is applied on this grid with confidence delta_k = delta /
    (3 (|k| + 1)^2), which sum to at most delta over all k (a union bound, so that the radius may
    be chosen after seeing the SGD output)."""
    if not np.isfinite(norm) or norm < 0:
        raise ValueError(f"the norm of W' must be finite and >= 0, got {norm!r}")
    k = int(math.ceil(math.log2(max(norm * math.sqrt(m), 2.0 ** -30))))
    return 2.0 ** k / math.sqrt(m), k


def logistic_losses(weights: Weights, x: Array, y_star: Array, lam: float,
                    shift: Array) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample Obj of Section 4 with the logistic loss, for the network and for its
    first-order surrogate:

    true:   sum_{j=3}^L sum_s log(1 + exp(-y_{j,s} lam F_{j,s}(x; W + W'))),
    linear: sum_{j=3}^L sum_s log(1 + exp(-y_{j,s} lam (F_{j,s}(x; W) + f_{j,s}(x; W')))).
    Returns two NumPy arrays (n,)."""
    from .rnn import check_labels, linear_response, outputs  # noqa: PLC0415

    xp = backend.xp()
    n, Lp1 = int(x.shape[0]), int(x.shape[1])
    y = check_labels(y_star, n, Lp1 - 1, weights.d, "logistic").transpose(1, 0, 2)
    y = xp.asarray(y, dtype=weights.W.dtype)
    F0 = outputs(weights, x)[:, 3:]
    F1 = outputs(weights, x, shift)[:, 3:]
    f = linear_response(weights, x, shift)[:, 3:]

    def obj(u: Array) -> np.ndarray:
        return backend.to_numpy(xp.logaddexp(0, -y * lam * u).sum(axis=(1, 2)))

    return obj(F1), obj(F0 + f)


@dataclass(frozen=True)
class GeneralizationBound:
    """The bound of Theorem 1 in our formulation, assembled for one trained shift W'.

    ``rademacher`` (per (j, s)) are the empirical Rademacher complexities of
    F_{j,s}(tau) on the training sample; ``complexity_term`` = 2 lam sum_{j,s} R_{j,s}
    (Ledoux-Talagrand contraction: each log(1 + exp(-y u)) is 1-Lipschitz in u);
    ``confidence_term`` = 3 b sqrt(log(2 / delta_k) / (2N)) with b the range of the linearized
    loss over the class (estimated on the observed inputs); ``approx_train``/``approx_eval``
    the mean |true - linear| loss (step 1); ``bound_expectation`` = complexity_term +
    approx_train + approx_eval (E_Z of the gap, symmetrization) and ``bound_high_prob`` adds the
    confidence term (probability >= 1 - delta over Z).
    """

    tau: float
    k: int
    norm: float
    rademacher: dict[tuple[int, int], float]
    complexity_term: float
    confidence_term: float
    loss_range: float
    approx_train: float
    approx_eval: float
    bound_expectation: float
    bound_high_prob: float
    delta: float
    delta_k: float
    N: int
    risk_train: float = math.nan
    risk_eval: float = math.nan
    risk_eval_stderr: float = math.nan


def generalization_bound(weights: Weights, x: Array, y_star: Array, x_eval: Array,
                         y_eval: Array, lam: float, shift: Array, delta: float = 0.05,
                         tau: float | None = None, draws: int = 200, seed: int = 0,
                         factors: Mapping[tuple[int, int], tuple[Array, Array]] | None = None,
                         factors_eval: Mapping[tuple[int, int], tuple[Array, Array]] | None = None
                         ) -> GeneralizationBound:
    """Assemble the generalization bound for the logistic-loss objective at W + W' (our
    formulation of Theorem 1 via step 4; Sections 8-9 of the full version are not available).

    For every W' with ||W'||_F <= tau, with probability >= 1 - delta over the N training samples,

      E_D Obj(W') - E_Z Obj(W') <= 2 lam sum_{j=3}^L sum_s R_N(F_{j,s}(tau))
                                   + 3 b sqrt(log(2 / delta) / (2N)) + Delta_D + Delta_Z,

    where R_N is the empirical Rademacher complexity of the linear class (exact in W'), b the range
    of the linearized loss over the class, and Delta the mean first-order error |Obj - Obj_lin| on
    the population (estimated on the evaluation set) and on Z. ``tau`` defaults to the dyadic
    radius of ||W'||_F (:func:`dyadic_radius`, with the union-bound confidence delta_k).
    ``factors``/``factors_eval`` may pass :func:`output_gradient_factors` of x and x_eval
    (computed once and shared with :func:`adversarial_member`). Also returned: the true
    logistic risks on Z and on the evaluation set (with its standard error).
    """
    if not 0 < delta < 1:
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    xp = backend.xp()
    m = weights.m
    norm = float(np.sqrt(backend.to_numpy((xp.asarray(shift) ** 2).sum())))
    if tau is None:
        tau, k = dyadic_radius(norm, m)
        delta_k = delta / (3.0 * (abs(k) + 1) ** 2)
    else:
        k, delta_k = 0, delta
    N, Lp1 = int(x.shape[0]), int(x.shape[1])
    L = Lp1 - 1
    from .rnn import outputs  # noqa: PLC0415

    F0 = backend.to_numpy(outputs(weights, x))
    F0e = backend.to_numpy(outputs(weights, x_eval))
    R: dict[tuple[int, int], float] = {}
    b = 0.0
    fac = factors if factors is not None else output_gradient_factors(weights, x)
    fac_e = factors_eval if factors_eval is not None else output_gradient_factors(weights,
                                                                                 x_eval)
    for j in range(3, L + 1):
        for s in range(weights.d):
            a, h = fac[(j, s)]
            R[(j, s)] = rademacher_from_gram(gram(a, h), tau, draws=draws,
                                             seed=seed + 31 * j + s).value
            ae, he = fac_e[(j, s)]
            gn = np.concatenate([backend.to_numpy(_sample_norms(a, h)),
                                 backend.to_numpy(_sample_norms(ae, he))])
            f0 = np.abs(np.concatenate([F0[:, j, s], F0e[:, j, s]]))
            b += float(lam * (f0 + tau * gn).max())  # range of log(1+e^{-yu}) on |u| <= U is U
    complexity = 2.0 * lam * sum(R.values())
    confidence = 3.0 * b * math.sqrt(math.log(2.0 / delta_k) / (2.0 * N))
    tr_true, tr_lin = logistic_losses(weights, x, y_star, lam, shift)
    ev_true, ev_lin = logistic_losses(weights, x_eval, y_eval, lam, shift)
    a_tr = float(np.abs(tr_true - tr_lin).mean())
    a_ev = float(np.abs(ev_true - ev_lin).mean())
    return GeneralizationBound(
        tau=float(tau), k=k, norm=norm, rademacher=R, complexity_term=complexity,
        confidence_term=confidence, loss_range=b, approx_train=a_tr, approx_eval=a_ev,
        bound_expectation=complexity + a_tr + a_ev,
        bound_high_prob=complexity + confidence + a_tr + a_ev, delta=float(delta),
        delta_k=float(delta_k), N=N, risk_train=float(tr_true.mean()),
        risk_eval=float(ev_true.mean()),
        risk_eval_stderr=float(ev_true.std(ddof=1) / math.sqrt(ev_true.size)))


@dataclass(frozen=True)
class AdversarialMember:
    """A member of the linear class chosen to generalize badly (:func:`adversarial_member`).

    ``shift`` is V (m, m) with ||V||_F = tau; ``train`` the mean linearized logistic Obj on
    the training set Z; ``test`` its mean on a fresh test set, with ``test_stderr``;
    ``gap`` = test - train, an unbiased estimate (given V) of E_D Obj_lin(V) - E_Z Obj_lin(V)."""

    shift: Array
    tau: float
    train: float
    test: float
    test_stderr: float

    @property
    def gap(self) -> float:
        return self.test - self.train


def _linear_logistic(weights: Weights, x: Array, y_star: Array, lam: float,
                     shift: Array) -> np.ndarray:
    """Per-sample sum_{j=3}^L sum_s log(1 + exp(-y_{j,s} lam (F_{j,s}(x; W) + f_{j,s}(x; V))))."""
    from .rnn import check_labels, linear_response, outputs  # noqa: PLC0415

    xp = backend.xp()
    n, Lp1 = int(x.shape[0]), int(x.shape[1])
    y = check_labels(y_star, n, Lp1 - 1, weights.d, "logistic").transpose(1, 0, 2)
    y = xp.asarray(y, dtype=weights.W.dtype)
    u = (outputs(weights, x) + linear_response(weights, x, shift))[:, 3:]
    return backend.to_numpy(xp.logaddexp(0, -y * lam * u).sum(axis=(1, 2)))


def adversarial_member(weights: Weights, x: Array, y_star: Array, x_dir: Array,
                       y_dir: Array, x_test: Array, y_test: Array, lam: float, tau: float,
                       factors: Mapping[tuple[int, int], tuple[Array, Array]] | None = None,
                       factors_dir: Mapping[tuple[int, int], tuple[Array, Array]] | None = None
                       ) -> AdversarialMember:
    """The member V of {||V||_F <= tau} that maximizes the label-dependent part of the
    generalization gap of the linearized logistic loss (our construction).

    log(1 + e^{-y u}) = -y u / 2 + log(2 cosh(u / 2)): the first part is linear in V, so
    (E_D - E_Z) of it is largest for V = tau S / ||S||_F with
    S = sum_{j,s} (mean_Z[y_{j,s} G_{j,s}(x)] - mean_D[y_{j,s} G_{j,s}(x)]) (G the gradient of
    f_{j,s}, equation 5.1); mean_D is estimated on (x_dir, y_dir), a sample independent of Z,
    and the gap is then measured on a third, fresh sample (x_test, y_test), so that it is an
    unbiased estimate of the true gap of this V. By the bound of theorem-step-4-bound the gap of
    every member is at most the complexity term 2 lam sum_{j,s} R_N in expectation over Z; a
    member that comes close shows how much of the bound the class really uses.
    ``factors``/``factors_dir``: :func:`output_gradient_factors` of x and x_dir, if at hand."""
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"the radius tau must be finite and > 0, got {tau!r}")
    xp = backend.xp()
    L = int(x.shape[1]) - 1
    yZ = np.asarray(backend.to_numpy(y_star), dtype=np.float64)
    yD = np.asarray(backend.to_numpy(y_dir), dtype=np.float64)
    if yZ.shape[1:] != (L - 2, weights.d) or yD.shape[1:] != (L - 2, weights.d):
        raise ValueError(f"labels must have shape (n, L-2, d) = (n, {L - 2}, {weights.d})")
    S = xp.zeros((weights.m, weights.m), dtype=weights.W.dtype)
    fac = factors if factors is not None else output_gradient_factors(weights, x)
    fac_d = factors_dir if factors_dir is not None else output_gradient_factors(weights, x_dir)
    for j in range(3, L + 1):
        for s in range(weights.d):
            for ff, yy, sign in ((fac, yZ, 1.0), (fac_d, yD, -1.0)):
                a, h = ff[(j, s)]
                c = xp.asarray(sign * yy[:, j - 3, s] / yy.shape[0], dtype=weights.W.dtype)
                S += (a * c[:, None, None]).reshape(-1, weights.m).T @ h.reshape(-1, weights.m)
    nrm = float(np.sqrt(backend.to_numpy((S * S).sum())))
    if not nrm > 0:
        raise ValueError("the label-weighted mean gradients coincide; no direction to follow")
    V = (tau / nrm) * S
    tr = _linear_logistic(weights, x, y_star, lam, V)
    te = _linear_logistic(weights, x_test, y_test, lam, V)
    return AdversarialMember(shift=V, tau=float(tau), train=float(tr.mean()),
                             test=float(te.mean()),
                             test_stderr=float(te.std(ddof=1) / math.sqrt(te.size)))
