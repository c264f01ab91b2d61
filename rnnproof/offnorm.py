"""Inputs off the normalization of Definitions 3.1-3.2 (our formulation): eps_x up to 1, and
true tokens of norm c < 1 with and without footnote 3's padding.

Tokens. Start from admissible unit tokens u (Section 3: ||u|| = 1, last coordinate 1/2; drawn by
:func:`rnnproof.concept.random_true_inputs`) and a norm c in (0, 1]:

* *unpadded*: x* = c u, of norm c (Section 3 and Definition 3.2 fail for c < 1: ||x_l|| = c eps_x
  for 2 <= l <= L-1 but ||x_L|| = eps_x);
* *padded* (footnote 3, corrected as in :func:`rnnproof.sequences.pad_to_unit`):
  x* = (sqrt(3)/2 c u, sqrt(3)/2 sqrt(1 - c^2), 1/2), of norm 1 and dimension d_x + 2 (the input
  is normalized again).

The package's network functions refuse non-normalized inputs (Definition 3.2); the measurements
here that need them use the unchecked recurrence (:func:`hidden_states_any`) and the infinite-width
recursion of :func:`rnnproof.kernel.forward_kernel`, which holds for inputs of any norms.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from . import backend
from .concept import Target, random_true_inputs, scaled, z
from .construction import NullGrams, PositionWeight, position_weight, single_function_expectations
from .indicator import target_values
from .kernel import forward_kernel
from .rnn import Weights, _forward_pf
from .sequences import _embed_unchecked, check_eps_x, pad_to_unit

Array = Any

__all__ = ["Setting", "tokens", "actual_inputs", "null_input", "hidden_states_any",
           "null_distance", "null_distance_limit", "OnTarget", "on_target_errors",
           "normalized_as_assumed", "padded_target", "setting_target"]


@dataclass(frozen=True)
class Setting:
    """One input regime: eps_x, the token norm c and whether footnote 3's padding is applied."""

    eps_x: float
    c: float = 1.0
    padded: bool = False

    def __post_init__(self) -> None:
        if not (np.isfinite(self.eps_x) and 0 < self.eps_x <= 1):
            raise ValueError(f"eps_x must lie in (0, 1], got {self.eps_x!r}")
        if not (np.isfinite(self.c) and 0 < self.c <= 1):
            raise ValueError(f"the token norm c must lie in (0, 1], got {self.c!r}")

    @property
    def normalized(self) -> bool:
        """Whether the actual input meets Definition 3.2 (padded, or c = 1)."""
        return self.padded or self.c == 1.0

    @property
    def in_definition_3_1(self) -> bool:
        """Whether eps_x lies in Definition 3.1's open interval (0, 1)."""
        return self.eps_x < 1.0

    @property
    def name(self) -> str:
        pad = "padded" if self.padded else "unpadded"
        return f"eps_x={self.eps_x:g}, c={self.c:g}, {pad}"


def tokens(n: int, L: int, d_x: int, setting: Setting, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x*, u): the true tokens of the setting (n, L-2, d_x or d_x + 2) and the unit tokens u
    (n, L-2, d_x) they are made from (module docstring)."""
    u = random_true_inputs(n, L, d_x, seed)
    r = setting.c * u
    return (pad_to_unit(r) if setting.padded else r), u


def actual_inputs(x_star: np.ndarray, eps_x: float) -> Any:
    """The layout of Definition 3.1 for tokens of any norm (no validation of Section 3):
    x_1 = (0, 1), x_l = (eps_x x*_l, 0), x_L = (0, eps_x); array (n, L+1, d_x+1) on the backend.
    eps_x = 1 (outside Definition 3.1's (0, 1)) is allowed here."""
    if not (np.isfinite(eps_x) and 0 < eps_x <= 1):
        raise ValueError(f"eps_x must lie in (0, 1], got {eps_x!r}")
    xs = np.asarray(x_star, dtype=float)
    if xs.ndim != 3 or not np.all(np.isfinite(xs)):
        raise ValueError(f"x_star must be a finite array (n, L-2, d_x), got shape {xs.shape}")
    return backend.asarray(_embed_unchecked(xs, float(eps_x)))


def null_input(L: int, d_x: int, eps_x: float) -> Any:
    """The null sequence x^(0) of Section 5.2 (eps_x in (0, 1]): (1, L+1, d_x+1)."""
    x = np.zeros((1, L + 1, d_x + 1))
    x[0, 1, d_x] = 1.0
    x[0, 2:, d_x] = eps_x
    return backend.asarray(x)


def hidden_states_any(weights: Weights, x: Array) -> Array:
    """h_l of Definition 3.3 for actual inputs of any norms (the recurrence of
    :mod:`rnnproof.rnn` without the normalization check): array (n, L+1, m)."""
    xp = backend.xp()
    a = xp.asarray(x, dtype=weights.W.dtype)
    if a.ndim != 3 or a.shape[2] != weights.d_x + 1:
        raise ValueError(f"x must have shape (n, L+1, d_x+1) = (n, L+1, {weights.d_x + 1}), "
                         f"got {tuple(a.shape)}")
    H, _ = _forward_pf(weights.W, weights.A, xp.ascontiguousarray(a.transpose(1, 0, 2)), False)
    return H.transpose(1, 0, 2)


def null_distance(weights: Weights, x: Array, x0: Array) -> np.ndarray:
    """||h_l(x) - h_l(x^(0))|| at finite width: array (n, L+1) in float64."""
    h = np.asarray(backend.to_numpy(hidden_states_any(weights, x)), dtype=float)
    h0 = np.asarray(backend.to_numpy(hidden_states_any(weights, x0)), dtype=float)
    return np.sqrt(((h - h0) ** 2).sum(-1))


def normalized_as_assumed(x: Array, eps_x: float) -> np.ndarray:
    """The input with every token x_l, 2 <= l <= L, rescaled to norm eps_x (direction kept): what
    Definition 3.2 assumes (used as a wrong theory in a negative control)."""
    a = np.array(backend.to_numpy(x), dtype=float)
    nrm = np.linalg.norm(a[:, 2:], axis=-1, keepdims=True)
    a[:, 2:] = a[:, 2:] * np.where(nrm > 0, eps_x / np.where(nrm > 0, nrm, 1.0), 0.0)
    return a


def null_distance_limit(x: Array, x0: Array) -> np.ndarray:
    """Infinite-width ||h_l(x) - h_l(x^(0))|| from :func:`rnnproof.kernel.forward_kernel`
    (valid for inputs of any norms): array (n, L+1)."""
    kxx = forward_kernel(x).qa  # Sigma(l, l) = sum_{k<=l} ||x_k||^2
    k00 = forward_kernel(x0).qa[0]
    kx0 = np.einsum("akk->ak", forward_kernel(x, x0).Sigma[:, 0])
    return np.sqrt(np.clip(kxx + k00[None] - 2 * kx0, 0.0, None))


# --------------------------------------------------------------------------- Lemma 5.2a


@dataclass(frozen=True)
class OnTarget:
    """Lemma 5.2a on one setting: the weighted expectation E at infinite width and at finite
    width (per draw), and the target values Phi(<w*, x*_i>); arrays (n,) and (draws, n)."""

    setting: Setting
    target: np.ndarray
    limit: np.ndarray
    finite: np.ndarray

    @property
    def design_error(self) -> float:
        """max |E_inf - Phi| over the inputs."""
        return float(np.abs(self.limit - self.target).max())

    @property
    def finite_error(self) -> np.ndarray:
        """max |E_m - Phi| over the inputs, per draw."""
        return np.abs(self.finite - self.target[None]).max(axis=1)


def _grams(h: np.ndarray, h0: np.ndarray) -> NullGrams:
    return NullGrams(g00=(h0 ** 2).sum(-1), g01=np.einsum("npm,qm->npq", h, h0),
                     g11=(h ** 2).sum(-1))


def _limit_grams(x: Array, x0: Array) -> NullGrams:
    fx0 = forward_kernel(x, x0).Sigma[:, 0]  # (n, L+1, L+1): <h_l'(x), h_l(x0)>
    return NullGrams(g00=forward_kernel(x0).qa[0], g01=fx0, g11=forward_kernel(x).qa)


def _rescaled(grams: NullGrams, c: float) -> NullGrams:
    """Grams for an unpadded token of norm c: 1{Y' + c <a, u> >= 0} = 1{Y'/c + <a, u> >= 0}, so
    the token's noise is the hidden state's divided by c (g01 / c, g11 / c^2)."""
    return NullGrams(g00=grams.g00, g01=grams.g01 / c, g11=grams.g11 / c ** 2)


def on_target_errors(terms: Sequence[tuple[Any, np.ndarray]], i: int, L: int,
                     setting: Setting, eps_e: float, delta: float,
                     weights_list: Sequence[Weights], n: int, seed: int,
                     noise_factor: float = 1.0) -> list[OnTarget]:
    """Lemma 5.2a off the normalization, for each term (Phi, w*) at position i: the weighted
    on-target expectation of :func:`rnnproof.construction.single_function_expectations` with our
    H_{i->j,r,s}, built for the setting's eps_x (window half-width ``delta`` in units of the
    noise), against Phi(<w*, x*_i>) for the setting's tokens x*, at infinite width and for every
    network of ``weights_list`` (of token dimension d_x, or d_x + 2 when padded).

    Each w* is a unit vector of the unit tokens' space (last coordinate 0); padded tokens see
    (w*, 0, 0). The Gram quantities are computed once per network and shared by the terms.
    ``noise_factor`` != 1 builds H at a wrong noise level (a negative control)."""
    eps_x = check_eps_x(setting.eps_x)
    d_x = int(np.asarray(terms[0][1]).size)
    xs, u = tokens(n, L, d_x, setting, seed)
    # H sees the token through p = <w*, x*> and its bias coordinate 1/2; an unpadded token c u is
    # the unit token u seen through a noise divided by c
    x_read = xs if setting.padded else u
    x = actual_inputs(xs, eps_x)
    dx_net = xs.shape[2]
    x0 = null_input(L, dx_net, eps_x)
    grams = [_limit_grams(x, x0)]
    for wts in weights_list:
        if wts.d_x != dx_net:
            raise ValueError(f"a network of d_x = {wts.d_x} cannot read tokens of dimension "
                             f"{dx_net}")
        h = np.asarray(backend.to_numpy(hidden_states_any(wts, x)), dtype=float)
        h0 = np.asarray(backend.to_numpy(hidden_states_any(wts, x0)), dtype=float)[0]
        grams.append(_grams(h, h0))
    if not setting.padded:
        grams = [_rescaled(g, setting.c) for g in grams]
    eps_c = delta * math.sqrt(2.0) * eps_x
    out = []
    for phi, w_star in terms:
        w = np.asarray(w_star, dtype=float)
        w_eff = np.concatenate([w, [0.0, 0.0]]) if setting.padded else w
        pw: PositionWeight = position_weight(phi, w_eff, i, L, eps_x, eps_e, eps_c)
        if noise_factor != 1.0:
            from .construction import _h51  # noqa: PLC0415

            H51 = _h51(phi, float(np.round(pw.sigma * noise_factor, 12)), float(eps_e))
            pw = dataclasses.replace(pw, H51=H51, H=H51.scaled(1.0 / pw.p0))
        vals = [single_function_expectations(pw, g, x_read, i, L) for g in grams]
        out.append(OnTarget(setting=setting,
                            target=np.asarray(target_values(phi, xs[:, i - 2] @ w_eff), float),
                            limit=np.asarray(vals[0], float),
                            finite=np.asarray(vals[1:], float)))
    return out


# --------------------------------------------------------------------------- Theorem 1 runs


def padded_target(target: Target) -> Target:
    """The same function of the raw tokens r = c u written for padded tokens pad_to_unit(r):
    each term Phi(<w*, r>) becomes Phi~(<(w*, 0, 0), x*>) with Phi~(z) = Phi(2 z / sqrt 3),
    because <(w*, 0, 0), pad_to_unit(r)> = (sqrt 3 / 2) <w*, r>. Still of the form (3.1)."""
    from .concept import Term  # noqa: PLC0415

    k = 2 / sp.sqrt(3)
    terms = tuple(Term(t.i, t.j, t.r, t.s, t.phi.subs(z, k * z), np.r_[t.w_star, 0.0, 0.0])
                  for t in target.terms)
    return Target(L=target.L, d_x=target.d_x + 2, d=target.d, terms=terms)


def setting_target(target: Target, setting: Setting, n: int = 4096,
                   seed: int = 12345) -> tuple[Target, Callable[[int, int], np.ndarray]]:
    """The target of the setting and a sampler of its tokens: unpadded settings read the tokens
    c u with ``target`` itself, padded ones read pad_to_unit(c u) with :func:`padded_target`;
    either is rescaled to unit mean square of F* under its own token distribution (as
    :func:`rnnproof.concept.normalized` does for unit tokens)."""
    L, d_x = target.L, target.d_x
    tgt = padded_target(target) if setting.padded else target

    def sampler(k: int, s: int) -> np.ndarray:
        return tokens(k, L, d_x, setting, s)[0]

    f = tgt.labels(sampler(n, seed))
    ms = float((f ** 2).mean())
    if not ms > 0:
        raise ValueError("the target vanishes on the setting's tokens")
    return scaled(tgt, 1.0 / math.sqrt(ms)), sampler
