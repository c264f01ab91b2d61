"""The concept class of Section 3.2: targets of the form (3.1).

    F*_{j,s}(x*) = sum_{i=2}^{j-1} sum_{r in [p]} Phi_{i->j,r,s}(<w*_{i->j,r,s}, x*_i>),

for j = 3..L and s in [d], with smooth Phi_{i->j,r,s} (Phi(0) = 0) and unit vectors
w*_{i->j,r,s} in R^{d_x} whose last coordinate is 0 (so the bias coordinate 1/2 of x* is not
seen; Lemma 5.1 assumes w*_{d_x} = 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from .sequences import validate_true_input

z = sp.Symbol("z", real=True)


@lru_cache(maxsize=512)
def _lambdify(phi: sp.Expr) -> Callable[[np.ndarray], np.ndarray]:
    """A NumPy function of z for the sympy expression phi (cached: compilation is slow)."""
    return sp.lambdify(z, phi, "numpy")


def _scaled_fn(c: float, fn: Callable[[np.ndarray], np.ndarray],
               k: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """u -> c * fn(k * u)."""
    return lambda u: c * np.asarray(fn(k * u), dtype=np.float64)


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
        phi = sp.sympify(self.phi)
        if phi.free_symbols - {z}:
            raise ValueError(f"Phi must be an expression in rnnproof.concept.z, got {phi}")
        self._finish(phi, _lambdify(phi))

    def _finish(self, phi: sp.Expr, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        if not 2 <= self.i < self.j:
            raise ValueError(f"equation (3.1) needs 2 <= i < j, got i={self.i}, j={self.j}")
        w = np.asarray(self.w_star, dtype=np.float64)
        if w.ndim != 1 or abs(np.linalg.norm(w) - 1) > 1e-9:
            raise ValueError(f"w*_{{{self.i}->{self.j},{self.r},{self.s}}} must be a unit vector")
        if abs(w[-1]) > 1e-12:
            raise ValueError("w* must have last coordinate 0 (Lemma 5.1: w*_{d_x} = 0)")
        phi0 = float(np.asarray(fn(np.zeros(1)), dtype=np.float64).ravel()[0])
        if abs(phi0) > 1e-12:
            raise ValueError(f"equation (3.1) assumes Phi(0) = 0, got Phi(0) = {phi0:.6g}")
        object.__setattr__(self, "w_star", w)
        object.__setattr__(self, "phi", phi)
        object.__setattr__(self, "_fn", fn)

    @classmethod
    def _compiled(cls, i: int, j: int, r: int, s: int, phi: sp.Expr, w_star: np.ndarray,
                  fn: Callable[[np.ndarray], np.ndarray]) -> Term:
        """A Term whose numeric function ``fn`` (equal to ``phi``) is supplied, skipping the
        slow sympy compilation (validated like any Term)."""
        t = object.__new__(cls)
        for k, v in (("i", i), ("j", j), ("r", r), ("s", s)):
            object.__setattr__(t, k, v)
        object.__setattr__(t, "w_star", w_star)
        t._finish(phi, fn)
        return t

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


# --------------------------------------------------------------------------------------
# Scaling a target, and an independent reference evaluation of (3.1)
# --------------------------------------------------------------------------------------


def scaled(target: Target, c: float) -> Target:
    """The target c F*: every Phi_{i->j,r,s} multiplied by c (still of the form (3.1))."""
    if not np.isfinite(c):
        raise ValueError(f"the scale c must be finite, got {c!r}")
    c = float(c)
    return Target(L=target.L, d_x=target.d_x, d=target.d,
                  terms=tuple(Term._compiled(t.i, t.j, t.r, t.s, sp.Float(c) * t.phi, t.w_star,
                                             _scaled_fn(c, t._fn))
                              for t in target.terms))


def reference_value(target: Target, x_star: np.ndarray, j: int, s: int,
                    upto: int | None = None) -> np.ndarray:
    """F*_{j,s}(x*) evaluated literally from (3.1), one sample and one term at a time with
    sympy (an independent, slow reference for tests and the equation-3.1 check).

    ``upto`` replaces the upper limit j-1 of the sum over i (a deliberately wrong variant
    for the negative control); by default the sum runs over i = 2..j-1.
    """
    last = j - 1 if upto is None else upto
    out = np.zeros(x_star.shape[0])
    for t in target.terms:
        if t.j != j or t.s != s or not 2 <= t.i <= last:
            continue
        for n in range(x_star.shape[0]):
            u = sum(sp.Float(float(a)) * sp.Float(float(b))
                    for a, b in zip(t.w_star, x_star[n, t.i - 2]))
            out[n] += float(t.phi.subs(z, u).evalf(30))
    return out


# --------------------------------------------------------------------------------------
# Example 3.5: two-layer networks of earlier tokens, position (lag) dependent
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoLayerNet:
    """Example 3.5: F*_j(x*) = sum_{i=2}^{j-1} A*_{j-i} phi(W*_{j-i} x*_i).

    ``A_stars[k-1]`` is A*_k (d, p) and ``W_stars[k-1]`` is W*_k (p, d_x) for the lag
    k = j - i = 1..K (K >= L - 2); phi is a sympy expression in :data:`z` with phi(0) = 0 and
    every row of every W*_k has last coordinate 0 (it would otherwise act as a bias through the
    constant coordinate 1/2 of x*, see :func:`two_layer_offset`).
    """

    A_stars: np.ndarray
    W_stars: np.ndarray
    phi: sp.Expr

    def __post_init__(self) -> None:
        A = np.asarray(self.A_stars, dtype=np.float64)
        W = np.asarray(self.W_stars, dtype=np.float64)
        if A.ndim != 3 or W.ndim != 3 or A.shape[0] != W.shape[0] or A.shape[2] != W.shape[1]:
            raise ValueError(f"A_stars must be (K, d, p) and W_stars (K, p, d_x), got "
                             f"{A.shape} and {W.shape}")
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(W))):
            raise ValueError("A_stars and W_stars must be finite")
        phi = sp.sympify(self.phi)
        if phi.free_symbols - {z}:
            raise ValueError(f"phi must be an expression in rnnproof.concept.z, got {phi}")
        object.__setattr__(self, "A_stars", A)
        object.__setattr__(self, "W_stars", W)
        object.__setattr__(self, "phi", phi)

    @property
    def K(self) -> int:
        return int(self.A_stars.shape[0])

    @property
    def d(self) -> int:
        return int(self.A_stars.shape[1])

    @property
    def p(self) -> int:
        return int(self.A_stars.shape[2])

    @property
    def d_x(self) -> int:
        return int(self.W_stars.shape[2])

    def __call__(self, x_star: Any, lag_shift: int = 0) -> np.ndarray:
        """Direct evaluation of the two-layer formula: (n, L+1, d), zero at positions 0..2.

        ``lag_shift`` uses A*_{j-i+lag_shift}, W*_{j-i+lag_shift} (a deliberately wrong
        variant for the negative control; 0 is Example 3.5)."""
        xs = validate_true_input(x_star)
        n, t, d_x = xs.shape
        L = t + 2
        if d_x != self.d_x or L - 2 + lag_shift > self.K:
            raise ValueError(f"x_star (n, L-2, d_x) = {xs.shape} needs d_x = {self.d_x} and "
                             f"L - 2 <= K = {self.K}")
        fn = sp.lambdify(z, self.phi, "numpy")
        out = np.zeros((n, L + 1, self.d))
        for j in range(3, L + 1):
            for i in range(2, j):
                k = j - i + lag_shift
                pre = xs[:, i - 2] @ self.W_stars[k - 1].T  # (n, p)
                act = np.broadcast_to(np.asarray(fn(pre), dtype=np.float64), pre.shape)
                out[:, j] += act @ self.A_stars[k - 1].T
        return out

    def to_target(self, L: int) -> Target:
        """The same function written in the form (3.1).

        For each lag k = j - i and hidden unit r with row w = W*_k[r] != 0:
        Phi_{i->j,r,s}(z) = A*_k[s, r] phi(||w|| z) and w*_{i->j,r,s} = w / ||w||, because
        phi(<w, x*_i>) = phi(||w|| <w/||w||, x*_i>). Needs phi(0) = 0 (equation (3.1) assumes
        Phi(0) = 0) and rows with last coordinate 0.
        """
        if L - 2 > self.K:
            raise ValueError(f"L = {L} needs lags up to L - 2 = {L - 2} but K = {self.K}")
        if abs(float(self.phi.subs(z, 0))) > 1e-12:
            raise ValueError(f"Example 3.5 in the form (3.1) needs phi(0) = 0 (Phi(0) = 0), "
                             f"got phi(0) = {self.phi.subs(z, 0)}; see two_layer_offset")
        if np.any(np.abs(self.W_stars[:, :, -1]) > 1e-12):
            raise ValueError("rows of W*_k must have last coordinate 0: the constant "
                             "coordinate 1/2 of x* would act as a bias (see two_layer_offset)")
        base = _lambdify(self.phi)
        terms = []
        for j in range(3, L + 1):
            for i in range(2, j):
                k = j - i
                for r in range(self.p):
                    w = self.W_stars[k - 1, r]
                    nw = float(np.linalg.norm(w))
                    if nw == 0.0:
                        continue
                    for s in range(self.d):
                        a = float(self.A_stars[k - 1, s, r])
                        if a == 0.0:
                            continue
                        terms.append(Term._compiled(i, j, r, s, a * self.phi.subs(z, nw * z),
                                                    w / nw, _scaled_fn(a, base, nw)))
        return Target(L=L, d_x=self.d_x, d=self.d, terms=tuple(terms))


def two_layer_offset(net: TwoLayerNet, L: int) -> np.ndarray:
    """What a two-layer net with phi(0) != 0 or biased rows leaves outside (3.1) with Phi(0)=0.

    Writing <w, x*> = <w', x*> + w_{d_x}/2 (x*_{d_x} = 1/2, w' = w with its last coordinate
    zeroed), each term A phi(<w, x*>) = [A phi(<w', x*> + w_{d_x}/2) - A phi(w_{d_x}/2)]
    + A phi(w_{d_x}/2): the bracket is a Phi with Phi(0) = 0, the rest a constant. Returns
    the constants per position, (L+1, d): c_j = sum_{i=2}^{j-1} A*_{j-i} phi(b_{j-i}/2).
    """
    fn = sp.lambdify(z, net.phi, "numpy")
    out = np.zeros((L + 1, net.d))
    for j in range(3, L + 1):
        for i in range(2, j):
            k = j - i
            b = net.W_stars[k - 1, :, -1] / 2.0
            out[j] += net.A_stars[k - 1] @ np.broadcast_to(
                np.asarray(fn(b), dtype=np.float64), b.shape)
    return out


def random_two_layer(K: int, d_x: int, d: int, p: int, phi: sp.Expr, seed: int) -> TwoLayerNet:
    """A random Example 3.5 net: for each lag k = 1..K, A*_k with N(0, 1/p) entries and W*_k
    with rows of random direction (last coordinate 0) and norm uniform in [1/2, 1]."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((K, d, p)) / np.sqrt(p)
    dirs = random_unit_directions(K * p, d_x, rng).reshape(K, p, d_x)
    W = dirs * rng.uniform(0.5, 1.0, size=(K, p, 1))
    return TwoLayerNet(A_stars=A, W_stars=W, phi=phi)


# --------------------------------------------------------------------------------------
# Example 3.6 (counting) and footnote 6 (AAAB vs AABA): two-token alphabets
# --------------------------------------------------------------------------------------


def two_tokens(d_x: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Admissible tokens a, b in R^{d_x} (unit norm, last coordinate 1/2): a one-hot reading,
    a = (sqrt(3)/2) e_1 + e_{d_x}/2 and b = (sqrt(3)/2) e_2 + e_{d_x}/2."""
    if d_x < 3:
        raise ValueError(f"two distinct admissible tokens need d_x >= 3, got {d_x}")
    a = np.zeros(d_x)
    b = np.zeros(d_x)
    a[0] = b[1] = np.sqrt(3.0) / 2
    a[-1] = b[-1] = 0.5
    return a, b


def separating_direction(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """w* = (a - b) / ||a - b||: a unit vector with last coordinate 0 (a and b share the
    coordinate 1/2) that sees both tokens: <w*, a> = ||a-b||/2 = -<w*, b> > 0."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    nrm = float(np.linalg.norm(diff))
    if nrm < 1e-12:
        raise ValueError("tokens a and b must differ")
    return diff / nrm


def counting_phi(a: np.ndarray, b: np.ndarray, w_star: np.ndarray) -> sp.Expr:
    """The polynomial Phi(z) = c_1 z + c_2 z^2 (so Phi(0) = 0) with Phi(<w*, a>) = 1 and
    Phi(<w*, b>) = -1 (Example 3.6).

    With u = <w*, a>, v = <w*, b> this is the 2 x 2 system c_1 u + c_2 u^2 = 1,
    c_1 v + c_2 v^2 = -1, solvable iff u v (v - u) != 0. Raises ValueError otherwise: in
    particular the one-hot direction w* = e_1 gives v = 0, and Phi(0) = 0 then forces
    Phi(<w*, b>) = 0, not -1.
    """
    u = float(np.dot(w_star, a))
    v = float(np.dot(w_star, b))
    det = u * v * (v - u)
    if abs(det) < 1e-12:
        raise ValueError(f"no Phi with Phi(0) = 0 of degree <= 2 maps <w*,a> = {u:.6g} to 1 "
                         f"and <w*,b> = {v:.6g} to -1: need both nonzero and distinct")
    c1, c2 = np.linalg.solve(np.array([[u, u * u], [v, v * v]]), np.array([1.0, -1.0]))
    c1 = 0.0 if abs(c1) < 1e-14 else float(c1)
    c2 = 0.0 if abs(c2) < 1e-14 else float(c2)
    return sp.Float(c1) * z + sp.Float(c2) * z ** 2


def strings_to_tokens(strings: Sequence[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Strings over {'a', 'b'} (case-insensitive, all of the same length L-2) -> true inputs
    (n, L-2, d_x)."""
    if not strings:
        raise ValueError("need at least one string")
    k = len(strings[0])
    out = np.empty((len(strings), k, len(a)))
    for n, s in enumerate(strings):
        if len(s) != k:
            raise ValueError(f"all strings must have the same length L-2 = {k}, got {s!r}")
        for i, c in enumerate(s.lower()):
            if c not in "ab":
                raise ValueError(f"strings must use the letters a and b only, got {s!r}")
            out[n, i] = a if c == "a" else b
    return out


def weighted_count_target(L: int, a: np.ndarray, b: np.ndarray, weights: Sequence[float],
                          w_star: np.ndarray | None = None) -> Target:
    """F*_j = sum_{i=2}^{j-1} c_i Phi(<w*, x*_i>) with Phi = :func:`counting_phi` (so each
    token adds +c_i for a, -c_i for b). ``weights`` = (c_2, ..., c_{L-1}); all ones is the
    counting target of Example 3.6 (#a - #b of the prefix); position-dependent weights make
    the order of the tokens visible (footnote 6)."""
    c = [float(v) for v in weights]
    if len(c) != L - 2:
        raise ValueError(f"weights must give c_2..c_(L-1): {L - 2} values, got {len(c)}")
    w = separating_direction(a, b) if w_star is None else np.asarray(w_star, dtype=float)
    phi = counting_phi(a, b, w)
    terms = tuple(Term(i, j, 0, 0, sp.Float(c[i - 2]) * phi, w)
                  for j in range(3, L + 1) for i in range(2, j) if c[i - 2] != 0.0)
    return Target(L=L, d_x=len(a), d=1, terms=terms)


def counting_target(L: int, a: np.ndarray, b: np.ndarray,
                    w_star: np.ndarray | None = None) -> Target:
    """Example 3.6: F*_j = sum_{i=2}^{j-1} Phi(<w*, x*_i>) = #a - #b among x*_2..x*_{j-1}."""
    return weighted_count_target(L, a, b, [1.0] * (L - 2), w_star)


def random_strings(n: int, length: int, seed: int, balanced_share: float = 0.5) -> list[str]:
    """n strings of the given even length: a share a^k b^k, the others a^k' b^(length-k')
    with k' != length/2 or arbitrary strings, half and half (the counting task)."""
    if length < 2 or length % 2:
        raise ValueError(f"a^k b^k strings need an even length >= 2, got {length}")
    rng = np.random.default_rng(seed)
    half = length // 2
    out = []
    for _ in range(n):
        u = rng.uniform()
        if u < balanced_share:
            out.append("a" * half + "b" * half)
        elif u < balanced_share + (1 - balanced_share) / 2:
            k = int(rng.choice([k for k in range(length + 1) if k != half]))
            out.append("a" * k + "b" * (length - k))
        else:
            out.append("".join(rng.choice(["a", "b"], size=length)))
    return out


# --------------------------------------------------------------------------------------
# Data sets: N i.i.d. samples with label noise, OPT known
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """N samples (x*, y*) with y*_j = F*_j(x*) + xi_j, xi_j ~ N(0, noise^2 I_d) i.i.d.

    For the l2 loss G(u, v) = ||u - v||^2 / 2 the population risk of F* itself is
    (L - 2) d noise^2 / 2, and no function can do better (F* is the conditional mean), so
    OPT = (L - 2) d noise^2 / 2 exactly (``opt``).
    """

    x_star: np.ndarray
    y_star: np.ndarray
    clean: np.ndarray
    noise: float

    @property
    def N(self) -> int:
        return int(self.x_star.shape[0])

    @property
    def L(self) -> int:
        return int(self.x_star.shape[1]) + 2

    @property
    def opt(self) -> float:
        return 0.5 * self.y_star.shape[1] * self.y_star.shape[2] * self.noise ** 2

    def null_risk(self) -> float:
        """Empirical risk of the zero predictor, mean of sum_j ||y*_j||^2 / 2."""
        return float(0.5 * (self.y_star ** 2).sum(axis=(1, 2)).mean())

    def embed(self, eps_x: float) -> Any:
        """Actual inputs x of Definition 3.1."""
        from .sequences import embed  # noqa: PLC0415

        return embed(self.x_star, eps_x)


def make_dataset(target: Target, x_star: np.ndarray, noise: float, seed: int) -> Dataset:
    """Label given true inputs with y* = F*(x*) + N(0, noise^2) noise (seeded)."""
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    clean = target.labels(x_star)
    xi = np.random.default_rng(seed).standard_normal(clean.shape)
    return Dataset(x_star=np.asarray(x_star, dtype=float), y_star=clean + noise * xi,
                   clean=clean, noise=float(noise))


def sample_dataset(target: Target, N: int, noise: float, seed: int) -> Dataset:
    """N i.i.d. samples: x* from :func:`random_true_inputs`, labels with noise."""
    xs = random_true_inputs(N, target.L, target.d_x, seed)
    return make_dataset(target, xs, noise, seed + 1_000_003)


def normalized(target: Target, n: int = 4096, seed: int = 12345) -> Target:
    """c F* with c chosen so that the average over positions j = 3..L and coordinates s of
    E[F*_{j,s}(x*)^2] is 1 under :func:`random_true_inputs` (estimated on n samples)."""
    f = target.labels(random_true_inputs(n, target.L, target.d_x, seed))
    ms = float((f ** 2).mean())
    if ms <= 0:
        raise ValueError("the target is identically zero; cannot normalize")
    return scaled(target, 1.0 / np.sqrt(ms))


# --------------------------------------------------------------------------------------
# Targets with a large non-linear part, and the best linear model on the tokens
# --------------------------------------------------------------------------------------


def symmetric_two_layer(K: int, d_x: int, d: int, p: int, phi: sp.Expr,
                        seed: int) -> TwoLayerNet:
    """A random Example 3.5 net whose rows see only the raw coordinates of footnote 3.

    Like :func:`random_two_layer` (A*_k with N(0, 1/p) entries, rows of W*_k of norm uniform
    in [1/2, 1]), but every row of W*_k is zero on the two padding coordinates (the
    coordinate sqrt(1 - ||v||^2) of footnote 3 and the constant 1/2). Under
    :func:`random_true_inputs` each projection <w, x*_i> is then symmetric about 0, so for an
    even phi (z^2, 1 - cos z) no linear function of the tokens sees the sign of a projection:
    what a linear model can fit comes only through the padding coordinate, which carries
    ||v||^2 (measure it with :func:`best_linear_fit`).
    """
    if d_x < 3:
        raise ValueError(f"symmetric_two_layer needs d_x >= 3 (a raw coordinate and the two "
                         f"padding ones of footnote 3), got d_x = {d_x}")
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((K, d, p)) / np.sqrt(p)
    w = rng.standard_normal((K * p, d_x))
    w[:, d_x - 2:] = 0.0
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    W = w.reshape(K, p, d_x) * rng.uniform(0.5, 1.0, size=(K, p, 1))
    return TwoLayerNet(A_stars=A, W_stars=W, phi=phi)


@dataclass(frozen=True)
class LinearFit:
    """How much of a target the best linear model on the tokens explains (see
    :func:`best_linear_fit`). Risks are in the units of the l2 objective, summed over the
    output positions j = 3..L and coordinates s."""

    excess: float  #: 1/2 sum_j E||F*_j - (best linear model on x*_2..x*_{j-1})_j||^2
    centred: float  #: 1/2 sum_j E||F*_j - E F*_j||^2: what the position means leave
    per_position: np.ndarray  #: the excess at each position j = 3..L, shape (L-2,)

    @property
    def nonlinear_share(self) -> float:
        """excess / centred: the share of the variance left by the position means that no
        linear function of the earlier tokens explains."""
        return self.excess / self.centred


def best_linear_fit(target: Target, n: int = 20000, seed: int = 54321) -> LinearFit:
    """The best linear model on the tokens: for each output position j an ordinary
    least-squares fit of F*_j (noise-free) on all earlier tokens x*_2..x*_{j-1} (flattened)
    and an intercept, on ``n`` samples of :func:`random_true_inputs`.

    The in-sample residual slightly underestimates the population excess (by a factor about
    1 - (number of regressors)/n), so a bar set below it stays out of reach of every linear
    model."""
    xs = random_true_inputs(n, target.L, target.d_x, seed)
    f = target.labels(xs)  # (n, L-2, d)
    if n <= (target.L - 2) * target.d_x + 1:
        raise ValueError(f"best_linear_fit needs more samples than regressors, got n = {n}")
    per = np.empty(target.L - 2)
    centred = 0.0
    for j in range(3, target.L + 1):
        X = np.column_stack([np.ones(n), xs[:, :j - 2].reshape(n, -1)])
        y = f[:, j - 3]
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        per[j - 3] = 0.5 * float(((y - X @ coef) ** 2).sum()) / n
        centred += 0.5 * float(((y - y.mean(axis=0)) ** 2).sum()) / n
    if centred <= 0:
        raise ValueError("the target is constant at every position; it has no variance to fit")
    return LinearFit(excess=float(per.sum()), centred=centred, per_position=per)
