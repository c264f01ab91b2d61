"""SGD on the RNN against its tangent kernel (our formulation; the paper does not make these
comparisons): the trained network, its first-order model of proof step 1, and kernel ridge
regression with the infinite-width tangent kernel of :mod:`rnnproof.kernel`, on the same data.

:func:`train_network` draws W, A, B at width m, chooses lambda and eta by the package's rules
(:func:`rnnproof.train.choose_hyperparameters`) and runs the paper's SGD
(:func:`rnnproof.train.sgd`, one sample per step, drawn uniformly from the N training samples);
:func:`lazy_run` then measures on fresh test inputs:

* the outputs lambda F(x; W + W'_T) of the trained network, lambda (F(x; W) + f(x; W'_T)) of its
  linearization at the same shift (equation 5.1, step 1), and lambda F(x; W) at initialization;
* the relative change of the empirical tangent kernel, ||Theta_m(W + W'_T) - Theta_m(W)||_F /
  ||Theta_m(W)||_F, on a few probe inputs (the kernel regime predicts m^{-1/2}).

Kernel ridge regression (:func:`kernel_baseline`) does not depend on the width: it fits the
training labels with Theta_inf (ridge chosen on a held-out quarter) and predicts the test inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import backend, kernel, train
from .concept import Dataset
from .rnn import Weights, init_weights, linear_response, outputs

Array = Any

__all__ = ["LazyRun", "Trained", "train_network", "lazy_run", "kernel_baseline",
           "token_least_squares", "rms_distance", "l2_risk", "target_rms", "scaled_shift"]


@dataclass(frozen=True)
class LazyRun:
    """What :func:`lazy_run` measured (NumPy arrays on the test inputs, (n_test, P))."""

    m: int
    trained: np.ndarray
    linearized: np.ndarray
    initial: np.ndarray
    kernel_change: float
    tau: float  # sqrt(m) ||W'_T||_F
    lam: float
    eta: float


def scaled_shift(shift: Array, factor: float) -> Array:
    """factor * W' (a negative control: a shift that does not shrink with the width)."""
    return shift * backend.xp().asarray(factor, dtype=shift.dtype)


def _scaled_outputs(weights: Weights, x: Array, lam: float, shift: Array | None) -> np.ndarray:
    F = backend.to_numpy(outputs(weights, x, shift))[:, 3:]
    return np.asarray(lam * F, dtype=float).reshape(F.shape[0], -1)


@dataclass(frozen=True)
class Trained:
    """A network trained by the paper's SGD: weights, final shift W'_T, lambda and eta."""

    weights: Weights
    shift: Array
    lam: float
    eta: float


def train_network(train_set: Dataset, eps_x: float, m: int, steps: int, seed: int) -> Trained:
    """Draw W, A, B at width m (seeded), choose lambda and eta by the package's rules and run
    ``steps`` iterations of the paper's SGD on ``train_set`` (uniform sampling)."""
    d_x = train_set.x_star.shape[2]
    d = train_set.y_star.shape[2]
    weights = init_weights(int(m), d_x, d, seed)
    x = train_set.embed(eps_x)
    hp = train.choose_hyperparameters(weights, x, eps_x)
    res = train.sgd(weights, x, train_set.y_star, hp.lam, hp.eta, int(steps), seed=seed)
    return Trained(weights=weights, shift=res.shift, lam=float(hp.lam), eta=float(hp.eta))


def lazy_run(net: Trained, test_set: Dataset, eps_x: float, probe: int = 8,
             shift_factor: float = 1.0) -> LazyRun:
    """Measure a trained network on ``test_set``: outputs of the network, of its linearization
    and at initialization, and the relative change of the tangent kernel on ``probe`` inputs.
    ``shift_factor`` multiplies W'_T before measuring (1 = SGD's own shift; other values are a
    negative control)."""
    weights, lam = net.weights, net.lam
    shift = net.shift if shift_factor == 1.0 else scaled_shift(net.shift, shift_factor)
    xt = test_set.embed(eps_x)
    F1 = _scaled_outputs(weights, xt, lam, shift)
    F0 = _scaled_outputs(weights, xt, lam, None)
    f = backend.to_numpy(linear_response(weights, xt, shift))[:, 3:]
    lin = F0 + lam * np.asarray(f, dtype=float).reshape(F0.shape)
    xp_ = xt[:probe]
    K0 = kernel.tangent_kernel(weights, xp_)
    K1 = kernel.tangent_kernel(weights, xp_, shift=shift)
    m = weights.m
    tau = float(np.sqrt(float(backend.to_numpy((shift * shift).sum()))) * np.sqrt(m))
    return LazyRun(m=int(m), trained=F1, linearized=lin, initial=F0,
                   kernel_change=kernel.relative_change(K0, K1), tau=tau, lam=float(lam),
                   eta=net.eta)


def kernel_baseline(train_set: Dataset, test_set: Dataset, eps_x: float,
                    shuffle_seed: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Kernel ridge regression of the training labels with Theta_inf (:func:`kernel.kernel_limit`),
    predicting the test inputs: ``prediction`` (n_test, P) and the chosen ``ridge``.

    ``shuffle_seed`` permutes the training inputs inside the kernel (the labels keep their order):
    a kernel that no longer belongs to the data (a negative control)."""
    x, xt = train_set.embed(eps_x), test_set.embed(eps_x)
    d = train_set.y_star.shape[2]
    if shuffle_seed is not None:
        perm = np.random.default_rng(shuffle_seed).permutation(train_set.N)
        x = backend.asarray(backend.to_numpy(x)[perm])
    K = kernel.kernel_limit(x, d=d)
    Kc = kernel.kernel_limit(xt, x, d=d)
    y = np.asarray(train_set.y_star, dtype=float).reshape(train_set.N, -1)
    return kernel.kernel_ridge(K, y, Kc, seed=seed)


def token_least_squares(train_set: Dataset, test_set: Dataset) -> np.ndarray:
    """The best linear model on the tokens: for every output position j a least-squares fit of
    y*_j on the true tokens x*_2..x*_{j-1} (with an intercept); predictions (n_test, P)."""
    def design(ds: Dataset, j: int) -> np.ndarray:
        xs = ds.x_star[:, : j - 2].reshape(ds.N, -1)
        return np.column_stack([np.ones(ds.N), xs])

    L, d = train_set.L, train_set.y_star.shape[2]
    out = np.zeros((test_set.N, (L - 2) * d))
    for j in range(3, L + 1):
        coef, *_ = np.linalg.lstsq(design(train_set, j), train_set.y_star[:, j - 3], rcond=None)
        out[:, (j - 3) * d:(j - 2) * d] = design(test_set, j) @ coef
    return out


def rms_distance(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> float:
    """RMS of a - b over inputs and outputs, divided by ``scale``."""
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)) / scale)


def l2_risk(prediction: np.ndarray, ds: Dataset) -> float:
    """Mean over samples of sum_j 0.5 ||prediction_j - y*_j||^2 (the l2 Obj of Section 4)."""
    y = np.asarray(ds.y_star, dtype=float).reshape(ds.N, -1)
    return float(0.5 * ((np.asarray(prediction, float) - y) ** 2).sum(axis=1).mean())


def target_rms(ds: Dataset) -> float:
    """RMS of the clean target F*(x*) on the data set."""
    return float(np.sqrt(np.mean(np.asarray(ds.clean, float) ** 2)))


