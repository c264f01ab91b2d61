"""The concept class of Section 3.2: targets of the form (3.1).

    F*_{j,s}(x*) = sum_{i=2}^{j-1} sum_{r in [p]} Phi_{i->j,r,s}(<w*_{i->j,r,s}, x*_i>),

for j = 3..L and s in [d], with smooth Phi_{i->j,r,s} (Phi(0) = 0) and unit vectors
w*_{i->j,r,s} in R^{d_x} whose last coordinate is 0 (so the bias coordinate 1/2 of x* is not
seen; Lemma 5.1 assumes w*_{d_x} = 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from .sequences import validate_true_input

z = sp.Symbol("z", real=True)


@dataclass(frozen=True)
class Term:
    """One summand Phi_{i->j,r,s}(<w*_{i->j,r,s}, x*_i>) of equation (3.1)."""

    i: int
    j: int
    r: int
    s: int
    phi: sp.Expr
    w_star: np.ndarray
    _fn: Callable[[np.ndarray], np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 2 <= self.i < self.j:
            raise ValueError(f"equation (3.1) needs 2 <= i < j, got i={self.i}, j={self.j}")
        w = np.asarray(self.w_star, dtype=np.float64)
        if w.ndim != 1 or abs(np.linalg.norm(w) - 1) > 1e-9:
            raise ValueError(f"w*_{{{self.i}->{self.j},{self.r},{self.s}}} must be a unit vector")
        if abs(w[-1]) > 1e-12:
            raise ValueError("w* must have last coordinate 0 (Lemma 5.1: w*_{d_x} = 0)")
        phi = sp.sympify(self.phi)
        if phi.free_symbols - {z}:
            raise ValueError(f"Phi must be an expression in rnnproof.concept.z, got {phi}")
        if abs(float(phi.subs(z, 0))) > 1e-12:
            raise ValueError(f"equation (3.1) assumes Phi(0) = 0, got Phi(0) = {phi.subs(z, 0)}")
        object.__setattr__(self, "w_star", w)
        object.__setattr__(self, "phi", phi)
        object.__setattr__(self, "_fn", sp.lambdify(z, phi, "numpy"))

    def value(self, x_star: np.ndarray) -> np.ndarray:
        """Phi(<w*, x*_i>) for validated true inputs (n, L-2, d_x): array (n,)."""
        u = x_star[:, self.i - 2] @ self.w_star
        return np.broadcast_to(np.asarray(self._fn(u), dtype=np.float64), u.shape)


@dataclass(frozen=True)
class Target:
    """A target F* of the form (3.1): L, d_x, d and its terms (p = max terms per (i, j, s))."""

    L: int
    d_x: int
    d: int
    terms: tuple[Term, ...]

    def __post_init__(self) -> None:
        for t in self.terms:
            if t.j > self.L or not 0 <= t.s < self.d or t.w_star.shape != (self.d_x,):
                raise ValueError(f"term {t.i}->{t.j} (r={t.r}, s={t.s}) does not fit "
                                 f"L={self.L}, d={self.d}, d_x={self.d_x}")

    @property
    def p(self) -> int:
        counts: dict[tuple[int, int, int], int] = {}
        for t in self.terms:
            counts[(t.i, t.j, t.s)] = counts.get((t.i, t.j, t.s), 0) + 1
        return max(counts.values(), default=0)

    def __call__(self, x_star: Any) -> np.ndarray:
        """F*_j(x*) for all positions: array (n, L+1, d), zero at positions 0, 1, 2."""
        xs = validate_true_input(x_star)
        if xs.shape[1] != self.L - 2 or xs.shape[2] != self.d_x:
            raise ValueError(f"x_star must have shape (n, L-2, d_x) = (n, {self.L - 2}, "
                             f"{self.d_x}), got {xs.shape}")
        out = np.zeros((xs.shape[0], self.L + 1, self.d))
        for t in self.terms:
            out[:, t.j, t.s] += t.value(xs)
        return out

    def labels(self, x_star: Any) -> np.ndarray:
        """F*_3 .. F*_L in the label layout (n, L-2, d) of ``objective_and_grad``."""
        return self(x_star)[:, 3:]


def random_unit_directions(count: int, d_x: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random unit vectors in R^{d_x} with last coordinate 0: shape (count, d_x)."""
    w = rng.standard_normal((count, d_x))
    w[:, -1] = 0.0
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def random_target(L: int, d_x: int, d: int, p: int, phis: Sequence[sp.Expr],
                  seed: int) -> Target:
    """A target of the form (3.1) with every (i, j, r, s), 2 <= i < j <= L, its own random
    direction and Phi_{i->j,r,s} taken cyclically from ``phis`` (so different (i, j) get
    different functions)."""
    if not phis:
        raise ValueError("phis must name at least one function")
    rng = np.random.default_rng(seed)
    keys = [(i, j, r, s) for j in range(3, L + 1) for i in range(2, j)
            for r in range(p) for s in range(d)]
    ws = random_unit_directions(len(keys), d_x, rng)
    terms = tuple(Term(i, j, r, s, phis[k % len(phis)], ws[k])
                  for k, (i, j, r, s) in enumerate(keys))
    return Target(L=L, d_x=d_x, d=d, terms=terms)


def random_true_inputs(n: int, L: int, d_x: int, seed: int) -> np.ndarray:
    """n true input sequences (n, L-2, d_x): uniform directions padded per footnote 3
    (unit norm, last coordinate 1/2)."""
    from .sequences import pad_to_unit  # noqa: PLC0415

    if d_x < 3:
        raise ValueError(f"random_true_inputs needs d_x >= 3 (two padding coordinates), got {d_x}")
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, L - 2, d_x - 2))
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    return pad_to_unit(v * rng.uniform(0, 1, size=(n, L - 2, 1)) ** (1 / max(d_x - 2, 1)))
