"""The exponential factor that the earlier generalization bounds pay (Section 1 of the paper,
references [9], [31], [14]), measured on SGD-trained networks beside the paper's own complexity
term (proof step 4).

The earlier bounds depend on the operator norm beta of the recurrent unit; for beta > 1 they grow
exponentially in L. In our formulation (the general form such a bound takes, not a formula of a
cited paper): a bound that controls the network through spectral norms pays the Lipschitz
constant of the output in W along the recurrence. For ReLU, ||sigma(u) - sigma(v)|| <= ||u - v||,
so two recurrent weights W_1, W_2 with ||W_i||_2 <= beta give, with Delta_l = ||h_l(W_1) -
h_l(W_2)|| (Delta_1 = 0: h_1 = sigma(A x_1) does not see W),

    Delta_l <= ||W_1 - W_2||_2 ||h_{l-1}|| + beta Delta_{l-1},

hence ||F_L(W_1) - F_L(W_2)|| <= Lip_L ||W_1 - W_2||_2 with

    Lip_L = ||B||_2 sum_{l=2}^{L} beta^{L-l} ||h_{l-1}||        (:func:`lipschitz_factor`),

which grows like beta^L. beta = ||W + W'||_2 is the per-step Lipschitz factor of the recurrence
(:func:`rnnproof.initialization.spectral_norm`); at the initialization of Definition 3.3 it is
about 2 sqrt 2 (the largest singular value of an m x m Gaussian matrix of variance 2/m).

The paper's bound carries instead the Rademacher complexity of the linear class of step 4,
2 lam sum_j R_N(F_{j,1}(tau)) at the radius tau = ||W'_T||_F of SGD's output
(:func:`rademacher_term`), which grows polynomially in L.

:func:`spectral_runs` measures all of it on networks trained by
:func:`rnnproof.train.experiment`, for a target family given as an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import backend, train
from . import rademacher as rad
from .concept import Target
from .initialization import spectral_norm
from .rnn import Weights, hidden_states

Array = Any

__all__ = ["lipschitz_factor", "rademacher_term", "SpectralRun", "spectral_run",
           "spectral_runs"]


def lipschitz_factor(beta: float, h_norms: Sequence[float], b_norm: float) -> float:
    """Lip_L = ||B||_2 sum_{l=2}^{L} beta^{L-l} ||h_{l-1}|| for ``h_norms`` = (||h_1||, ...,
    ||h_{L-1}||) (our formulation of the factor a spectral-norm bound pays, module docstring)."""
    h = np.asarray(h_norms, dtype=float).ravel()
    if not (np.isfinite(beta) and beta >= 0) or np.any(h < 0) or not b_norm >= 0:
        raise ValueError("lipschitz_factor needs beta >= 0, ||B|| >= 0 and norms >= 0")
    L = h.size + 1
    powers = float(beta) ** np.arange(L - 2, -1, -1)  # beta^{L-l}, l = 2..L
    return float(b_norm * (powers * h).sum())


def rademacher_term(weights: Weights, x: Array, lam: float, tau: float, draws: int = 200,
                    seed: int = 0) -> float:
    """2 lam sum_{j=3}^{L} sum_s R_N(F_{j,s}(tau)) on the sample x: the complexity term of the
    step-4 bound (Rademacher complexities of the linear class of radius tau, exact in W')."""
    fac = rad.output_gradient_factors(weights, x)
    total = 0.0
    for (j, s), (a, h) in fac.items():
        total += rad.rademacher_from_gram(rad.gram(a, h), tau, draws=draws,
                                          seed=seed + 31 * j + s).value
    return 2.0 * float(lam) * total


@dataclass(frozen=True)
class SpectralRun:
    """One trained network at length L: beta = ||W + W'||_2, beta0 = ||W||_2, the Lipschitz
    factor Lip_L, the Rademacher term, the generalization gap and the risks."""

    L: int
    beta: float
    beta0: float
    lipschitz: float
    rademacher: float
    gap: float
    train_risk: float
    test_risk: float
    null_risk: float
    opt: float
    tau: float


def spectral_run(target: Target, m: int, steps: int, seed: int, N: int, n_rad: int = 32,
                 draws: int = 200, w_scale: float = 1.0) -> SpectralRun:
    """Train by :func:`rnnproof.train.experiment` (N samples, uniform sampling) and measure.

    ``w_scale`` != 1 measures beta and Lip_L on the *untrained* network with W scaled by
    w_scale (a negative control: ||W||_2 < 1 for w_scale < 1 / (2 sqrt 2))."""
    exp = train.experiment(target, int(m), int(steps), seed, N=int(N), records=2)
    w = exp.weights
    L = target.L
    shift = exp.result.shift
    xt = exp.test.embed(train.EPS_X)
    if w_scale != 1.0:
        w = Weights(W=w.W * w.W.dtype.type(w_scale), A=w.A, B=w.B)
        shift = None
    Wc = w.W if shift is None else w.W + shift
    beta = spectral_norm(Wc)
    h = backend.to_numpy(hidden_states(w, xt, shift))  # (n, L+1, m)
    h_norms = np.sqrt((np.asarray(h, dtype=float) ** 2).sum(-1)).max(axis=0)[1:L]
    lip = lipschitz_factor(beta, h_norms, spectral_norm(w.B))
    tau = float(exp.result.frobenius[-1]) if shift is not None else 0.0
    x_rad = xt[:n_rad]
    radem = rademacher_term(exp.weights, x_rad, exp.hyper.lam, max(tau, 1e-12), draws=draws,
                            seed=seed)
    tr = float(exp.train_risk)
    return SpectralRun(L=L, beta=beta, beta0=spectral_norm(w.W), lipschitz=lip,
                       rademacher=radem, gap=exp.test_risk - tr, train_risk=tr,
                       test_risk=exp.test_risk, null_risk=exp.null_risk, opt=exp.opt, tau=tau)


def spectral_runs(target_for_L: Callable[[int], Target], Ls: Sequence[int], m: int,
                  steps: int, seeds: Sequence[int], N: int, n_rad: int = 32, draws: int = 200,
                  w_scale: float = 1.0) -> list[SpectralRun]:
    """:func:`spectral_run` for every length L in ``Ls`` and seed in ``seeds``; the target at
    length L is ``target_for_L(L)`` (point it at any target of the form (3.1))."""
    return [spectral_run(target_for_L(int(L)), m, steps, int(s), N, n_rad, draws, w_scale)
            for L in Ls for s in seeds]
