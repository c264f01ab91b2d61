"""The loss's constants (Section 3 assumes G(0, y*) in [-1, 1] and G 1-Lipschitz; footnote 4
says the time and sample complexity scale polynomially with the bound and the Lipschitz
constant). Two families, trained with the package's SGD (:func:`rnnproof.train.sgd`, one fresh
sample per step) and lambda, eta by the package's rules:

* **l2, bounded by b**: labels y* = b F*(x*) / S with S = sum over the target's terms of
  sup_{|z| <= sqrt(3)/2} |Phi(z)| (|<w*, x*>| <= sqrt(3)/2 for admissible tokens), so that
  |y*| <= b on the whole support: the labels need no clipping and G(0, y*) = ||y*||^2 / 2 <=
  (L-2) d b^2 / 2; G is 2b-Lipschitz in u on the label range. OPT = 0 (F* b / S is in the class).
* **logistic at temperature l**: labels y* = sign(F*(x*)) and G_l(u, y) = log(1 + exp(-l y u)),
  l-Lipschitz with G_l(0, y) = log 2. Since Obj reads G(lambda F, y), G_l at output scale lambda
  is the package's logistic loss at lambda' = l lambda (which must stay <= 1); eta follows the
  package's rule at lambda'. OPT = 0 (the labels are a deterministic function of x*).

The accuracy eps is absolute and the same for every constant: EPS_REL of the zero output's risk
of the reference family member (b = 1, l = 1). :func:`steps_to_target` returns the first step at
which the moving average of the online objective (fresh samples: an estimate of the population
risk) is <= OPT + eps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import train
from .concept import Target, random_true_inputs, scaled
from .indicator import SQRT3_2, target_values
from .rnn import init_weights
from .sequences import embed

__all__ = ["sup_bound", "LossRun", "steps_to_target", "reference_eps"]


def sup_bound(target: Target, grid: int = 2001) -> float:
    """S = sum over the terms of (3.1) of sup_{|z| <= sqrt(3)/2} |Phi(z)|, for each output
    (j, s) separately, maximized over the outputs: sup |F*_{j,s}| <= S on the support."""
    zz = np.linspace(-SQRT3_2, SQRT3_2, grid)
    per: dict[tuple[int, int], float] = {}
    for t in target.terms:
        per[(t.j, t.s)] = per.get((t.j, t.s), 0.0) + float(np.abs(target_values(t.phi, zz)).max())
    return max(per.values())


@dataclass(frozen=True)
class LossRun:
    """One SGD run of a loss family member: the constant (b or l), the steps to OPT + eps (None
    if not reached within the budget), and the loss's bound and Lipschitz constant."""

    family: str
    constant: float
    steps: int | None
    bound: float
    lipschitz: float
    lam: float
    eta: float


def reference_eps(target: Target, L: int, family: str) -> float:
    """eps = EPS_REL times the zero output's risk of the reference member (b = 1 or l = 1):
    E ||y*||^2 / 2 for l2 with labels F*/S (estimated on 4096 samples), (L-2) d log 2 for the
    logistic loss; OPT = 0 for both."""
    if family == "l2":
        y = target.labels(random_true_inputs(4096, L, target.d_x, 777)) / sup_bound(target)
        return float(train.EPS_REL * 0.5 * (y ** 2).sum(axis=(1, 2)).mean())
    if family == "logistic":
        return float(train.EPS_REL * (L - 2) * target.d * np.log(2.0))
    raise ValueError(f"family must be 'l2' or 'logistic', got {family!r}")


def steps_to_target(target: Target, family: Literal["l2", "logistic"], constant: float,
                    m: int, max_steps: int, seed: int, eps: float, eps_x: float = 0.5,
                    window: int = 100, eta_factor: float = 1.0) -> LossRun:
    """SGD with one fresh sample per step (the paper's SGD, online) until the moving average of
    the objective over ``window`` steps is <= OPT + eps = eps; returns a :class:`LossRun`.

    ``eta_factor`` multiplies the rule's eta (1 = the rule; other values are negative
    controls)."""
    if not (np.isfinite(constant) and constant > 0):
        raise ValueError(f"the loss constant must be positive, got {constant!r}")
    L, d = target.L, target.d
    w = init_weights(int(m), target.d_x, d, seed)
    xs = random_true_inputs(int(max_steps), L, target.d_x, 10_000 + seed)
    x = embed(xs, eps_x)
    lam0 = train.output_scale(L, d)
    S = sup_bound(target)
    if family == "l2":
        y = scaled(target, constant / S).labels(xs)
        lam = lam0
        loss = "l2"
        bound, lip = 0.5 * (L - 2) * d * constant ** 2, 2.0 * constant
    elif family == "logistic":
        f = target.labels(xs)
        y = np.where(f >= 0, 1.0, -1.0)
        lam = lam0 * constant
        if lam > 1:
            raise ValueError(f"temperature l = {constant} needs lambda' = l lambda = {lam:.3g}"
                             f" <= 1 (Section 4)")
        loss = "logistic"
        bound, lip = float(np.log(2.0)), float(constant)
    else:
        raise ValueError(f"family must be 'l2' or 'logistic', got {family!r}")
    eta, _ = train.step_size(w, x[:8], lam)
    res = train.sgd(w, x, y, lam, eta * eta_factor, int(max_steps), seed=seed, loss=loss,
                    sampling="once", stop_below=eps, stop_window=window)
    obj = res.objective
    hit = None
    if obj.size >= window and np.all(np.isfinite(obj)):
        c = np.cumsum(np.r_[0.0, obj])
        ma = (c[window:] - c[:-window]) / window
        idx = np.nonzero(ma <= eps)[0]
        hit = int(idx[0] + window) if idx.size else None
    return LossRun(family=family, constant=float(constant), steps=hit, bound=bound,
                   lipschitz=lip, lam=float(lam), eta=float(eta * eta_factor))


def family_runs(target: Target, family: Literal["l2", "logistic"], constants: Any, m: int,
                max_steps: int, seeds: Any, eps_x: float = 0.5,
                eta_factor: float = 1.0) -> list[LossRun]:
    """:func:`steps_to_target` for every constant and seed, at the reference eps."""
    eps = reference_eps(target, target.L, family)
    return [steps_to_target(target, family, float(c), m, max_steps, int(s), eps, eps_x,
                            eta_factor=eta_factor)
            for c in constants for s in seeds]
