"""Lemma 5.1 (indicator to function): an explicit, bounded weight function H.

Setting of Lemma 5.1. ``a ~ N(0, I_{d_x})``, a noise ``n ~ N(0, sigma^2)``, a unit target
direction ``w*`` with ``w*_{d_x} = 0`` and a unit input ``x*`` with ``x*_{d_x} = 1/2``. The
lemma asks for a bounded ``H`` with

    (a)  E[ 1{<a, x*> + n >= 0} H(a) ]        ~ Phi(<w*, x*>)     (error <= eps_e)
    (b)  E[ 1{<a, x*> + gamma n >= 0} H(a) ]  ~ Phi(0)            (error eps_e + O(C' log(gs)/gs))

Our construction (the companion paper [1] that proves the lemma is not available; this is our
own, derived in the chapter ``book/existence.md``). H reads ``a`` only through the two numbers
``alpha = <a, w*>`` and ``b = a_{d_x}`` (the coordinate that meets the constant 1/2 of x*):

    H(alpha, b) = 2 c_0 + 1{|alpha| <= B} * sum_{i=1}^{N} c_i k_i He_i(alpha) psi_i(b),
    psi_i(b) = 1 (i odd),  sign(b) (i even),   k_i = s^i / mu_i,   s = sqrt(3/4 + sigma^2),

with ``c_i`` the Taylor coefficients of Phi, ``He_i`` the probabilists' Hermite polynomials and
``mu_i = E_b[psi_i(b) He_{i-1}(-b/(2s)) phi_N(b/(2s))]`` (closed forms below). The Hermite
identity

    E[He_i(alpha) 1{alpha x + beta sqrt(1-x^2) + c >= 0}] = x^i He_{i-1}(-c) phi_N(c),  i >= 1,

applied with ``x = u/s`` and ``c = b/(2s)`` makes the untruncated expectation (a) equal
``sum_i c_i u^i`` exactly. Two truncations make H bounded: the Taylor degree N (error at most
``sum_{i>N} |c_i| (sqrt(3)/2)^i`` since ``|u| <= sqrt(3)/2``) and the cut-off ``|alpha| <= B``
(error at most ``sum_i |c_i| k_i E[|He_i(alpha)| 1{|alpha| > B}]``, computed exactly); each gets
half of ``eps_e``.

Every expectation reduces to a one-dimensional integral over alpha of Phi_N and Owen's T function
(the bias b and the Gaussian remainder are integrated in closed form), evaluated by panelled
Gauss-Legendre quadrature (:func:`expectation`, accurate to ~1e-12).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from numpy.polynomial import hermite_e as _he
from scipy.special import ndtr, owens_t

SQRT3_2 = math.sqrt(3.0) / 2.0  # largest |u| = |<w*, x*>| allowed by ||x*|| = 1, x*_{d_x} = 1/2
_TAIL_TERMS = 60  # extra Taylor terms used to bound the tail of a non-polynomial Phi
_GL_NODES = 24  # Gauss-Legendre nodes per panel

__all__ = ["WeightFunction", "build_weight", "expectation", "expectation_general",
           "taylor_coefficients", "hermite_moment", "cutoff_tail", "SQRT3_2"]


# ----------------------------------------------------------------------------- Taylor series
@lru_cache(maxsize=64)
def _series(phi: sp.Expr, n: int) -> tuple[tuple[float, ...], bool]:
    from . import complexity  # noqa: PLC0415
    from .concept import z  # noqa: PLC0415

    if phi.free_symbols - {z}:
        raise ValueError(f"Phi must be an expression in rnnproof.concept.z, got {phi}")
    if phi.is_polynomial(z):
        poly = sp.Poly(sp.expand(phi), z)
        c = [0.0] * (poly.degree() + 1)
        for (k,), v in poly.terms():
            c[k] = float(v)
        return tuple(c), True
    return tuple(float(v) for v in complexity.taylor_coefficients(phi, n)), False


def taylor_coefficients(phi: Any, n: int) -> tuple[np.ndarray, bool]:
    """Taylor coefficients c_0..c_n of Phi at 0 (Section 2: phi(z) = sum_i c_i z^i).

    ``phi`` is a sympy expression in ``rnnproof.concept.z`` or a sequence of coefficients.
    Returns ``(c, exact)``: ``exact`` is True when Phi is a polynomial (then ``c`` holds all its
    coefficients, possibly fewer than n + 1).
    """
    if isinstance(phi, sp.Basic):
        c, exact = _series(phi, int(n))
        return np.asarray(c, dtype=float), exact
    arr = np.asarray(phi, dtype=float)
    if arr.ndim != 1 or arr.size < 1 or not np.all(np.isfinite(arr)):
        raise ValueError("Taylor coefficients must be a non-empty 1-D sequence of finite numbers")
    return arr.copy(), True


# ----------------------------------------------------------------------------- Hermite pieces
def _he_coeffs(k: int) -> np.ndarray:
    """Power-basis coefficients of He_k."""
    e = np.zeros(k + 1)
    e[k] = 1.0
    return _he.herme2poly(e)


def hermite_moment(i: int, s: float) -> float:
    """mu_i = E_b[psi_i(b) He_{i-1}(-b/(2s)) phi_N(b/(2s))] for b ~ N(0, 1), i >= 1.

    psi_i = 1 for odd i, sign(b) for even i. With t = 1/(2s):
    odd i (k = i-1 = 2j): (-1)^j (2j-1)!! (1+t^2)^{-(j+1/2)} / sqrt(2 pi);
    even i (k odd): -(1/pi) int_0^inf He_k(t b) exp(-(1+t^2) b^2/2) db, summed exactly over the
    monomials of He_k with
    int_0^inf b^n e^{-beta b^2/2} db = 2^{(n-1)/2} Gamma((n+1)/2) beta^{-(n+1)/2}.
    """
    if i < 1:
        raise ValueError(f"hermite_moment needs i >= 1, got {i}")
    if not s > 0:
        raise ValueError(f"s = sqrt(3/4 + sigma^2) must be positive, got {s}")
    k = i - 1
    with mpmath.workdps(40):
        t = mpmath.mpf(1) / (2 * mpmath.mpf(s))
        beta = 1 + t * t
        if k % 2 == 0:
            j = k // 2
            val = (-1) ** j * mpmath.fac2(2 * j - 1) * beta ** (-(j + mpmath.mpf(1) / 2))
            return float(val / mpmath.sqrt(2 * mpmath.pi))
        coeffs = _he_coeffs(k)
        # exact integer coefficients of He_k (they are integers)
        tot = mpmath.mpf(0)
        for n_, cn in enumerate(coeffs):
            cn = int(round(cn))
            if cn == 0:
                continue
            tot += cn * t ** n_ * 2 ** (mpmath.mpf(n_ - 1) / 2) * mpmath.gamma(
                mpmath.mpf(n_ + 1) / 2) * beta ** (-mpmath.mpf(n_ + 1) / 2)
        return float(-tot / mpmath.pi)


@lru_cache(maxsize=256)
def _he_roots(i: int) -> tuple[float, ...]:
    return tuple(float(r) for r in np.sort(_he.hermeroots(np.eye(i + 1)[i])))


def cutoff_tail(i: int, B: float) -> float:
    """E[|He_i(alpha)| 1{|alpha| > B}] for alpha ~ N(0, 1), exactly.

    Uses int_c^d He_i phi = He_{i-1}(c) phi(c) - He_{i-1}(d) phi(d) between consecutive roots of
    He_i (where He_i keeps its sign); the two tails are equal by symmetry.
    """
    if i == 0:
        return float(math.erfc(B / math.sqrt(2)))
    roots = _he_roots(i)
    pts = [B] + [r for r in roots if r > B] + [np.inf]
    e_prev = np.zeros(i)
    e_prev[i - 1] = 1.0

    def F(x: float) -> float:  # antiderivative-type value He_{i-1}(x) phi(x)
        if np.isinf(x) or x > 40:
            return 0.0
        return float(_he.hermeval(x, e_prev) * math.exp(-x * x / 2) / math.sqrt(2 * math.pi))

    tot = 0.0
    for lo, hi in zip(pts[:-1], pts[1:]):
        tot += abs(F(lo) - F(hi))
    return 2.0 * tot


# ----------------------------------------------------------------------------- the weight
@dataclass(frozen=True)
class WeightFunction:
    """The weight function H of Lemma 5.1 (our construction), vectorized.

    ``H(alpha, a_last) = const + 1{|alpha| <= cutoff} (P_odd(alpha) + sign(a_last) P_even(alpha))``
    with ``P_odd = sum_{i odd} c_i k_i He_i`` and ``P_even = sum_{i even >= 2} c_i k_i He_i``
    (``sign(0) = +1``). ``bound`` is sup |H|; ``degree`` the Taylor degree N.
    """

    herm_odd: np.ndarray
    herm_even: np.ndarray
    const: float
    cutoff: float
    sigma: float
    degree: int
    coefficients: np.ndarray
    k: np.ndarray
    eps_e: float
    taylor_tail: float
    cutoff_error: float
    exact_polynomial: bool
    bound: float = field(default=float("nan"))

    def __call__(self, alpha: Any, a_last: Any) -> np.ndarray:
        al = np.asarray(alpha, dtype=float)
        bl = np.asarray(a_last, dtype=float)
        al, bl = np.broadcast_arrays(al, bl)
        inside = np.abs(al) <= self.cutoff
        sgn = np.where(bl >= 0, 1.0, -1.0)
        poly = _he.hermeval(al, self.herm_odd) + sgn * _he.hermeval(al, self.herm_even)
        return self.const + np.where(inside, poly, 0.0)

    def scaled(self, factor: float) -> WeightFunction:
        """factor * H (for Lemma 5.2's 1/p0 rescaling and for negative controls)."""
        return replace(self, herm_odd=factor * self.herm_odd, herm_even=factor * self.herm_even,
                       const=factor * self.const, bound=abs(factor) * self.bound)

    def without_bias(self) -> WeightFunction:
        """The same H with sign(a_last) replaced by 1: a weight that ignores the bias
        coordinate (a negative control; see the finding of ``lemma-5.1a``)."""
        return replace(self, herm_odd=_padd(self.herm_odd, self.herm_even),
                       herm_even=np.zeros_like(self.herm_even))

    def shifted(self, c: float) -> WeightFunction:
        """H + c (a negative control for the off-target property)."""
        return replace(self, const=self.const + c, bound=self.bound + abs(c))

    def pieces(self, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P_odd, P_even) evaluated at alpha (no cut-off applied)."""
        return _he.hermeval(alpha, self.herm_odd), _he.hermeval(alpha, self.herm_even)


def _padd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = max(a.size, b.size)
    return np.pad(a, (0, n - a.size)) + np.pad(b, (0, n - b.size))


def _sup_abs(wf: WeightFunction) -> float:
    """sup |H| over alpha in [-B, B] and both signs of a_last (and |const| outside)."""
    best = abs(wf.const)
    B = wf.cutoff
    for sgn in (1.0, -1.0):
        coef = _padd(wf.herm_odd, sgn * wf.herm_even)
        coef = coef.copy()
        coef[0] += wf.const
        pw = _he.herme2poly(coef) if coef.size else np.zeros(1)
        cands = [-B, B]
        if pw.size > 2:
            d = np.polynomial.polynomial.polyder(pw)
            r = np.polynomial.polynomial.polyroots(d)
            r = r[np.abs(r.imag) < 1e-9].real
            cands += list(r[np.abs(r) <= B])
        grid = np.concatenate([np.linspace(-B, B, 2001), np.asarray(cands)])
        vals = _he.hermeval(grid, coef)
        best = max(best, float(np.max(np.abs(vals))))
    return best


def _check_inputs(sigma: float, eps_e: float) -> None:
    if not np.isscalar(sigma) or not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0 (Lemma 5.1 asks sigma >= 0.1), "
                         f"got {sigma!r}")
    if not np.isscalar(eps_e) or not np.isfinite(eps_e) or not 0 < eps_e < 1:
        raise ValueError(f"eps_e must lie in (0, 1) (Lemma 5.1), got {eps_e!r}")


def build_weight(phi: Any, sigma: float, eps_e: float, degree: int | None = None,
                 cutoff: float | None = None) -> WeightFunction:
    """The weight H of Lemma 5.1 for the target Phi at noise level sigma and accuracy eps_e.

    ``phi``: a sympy expression in ``rnnproof.concept.z`` or a sequence of Taylor coefficients
    c_0, c_1, ... (exact for polynomials). ``degree`` (Taylor truncation N) and ``cutoff`` (B in
    ``|alpha| <= B``) default to the smallest values whose stated error bounds are at most
    eps_e/2 each. Returns a :class:`WeightFunction` ``H(alpha, a_last)`` with attributes
    ``bound`` (sup |H|) and ``degree``.
    """
    _check_inputs(sigma, eps_e)
    if degree is not None and (int(degree) != degree or degree < 0):
        raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
    if cutoff is not None and not (np.isfinite(cutoff) and cutoff > 0):
        raise ValueError(f"cutoff B must be a positive number, got {cutoff!r}")
    n_max = (degree if degree is not None else 40) + _TAIL_TERMS
    c_all, exact = taylor_coefficients(phi, n_max)
    absw = np.abs(c_all) * SQRT3_2 ** np.arange(c_all.size)
    if degree is None:
        if exact:
            N = int(np.max(np.nonzero(c_all)[0])) if np.any(c_all) else 0
        else:
            tails = np.cumsum(absw[::-1])[::-1]  # tails[n] = sum_{i >= n}
            ok = np.nonzero(tails <= eps_e / 2)[0]
            if ok.size == 0:
                raise ValueError("the Taylor series converges too slowly on |u| <= sqrt(3)/2 to "
                                 f"reach eps_e/2 = {eps_e / 2:g} within {n_max} terms")
            N = max(int(ok[0]) - 1, 0)
    else:
        N = int(degree)
    c = np.zeros(N + 1)
    m_ = min(N + 1, c_all.size)
    c[:m_] = c_all[:m_]
    tail = float(absw[N + 1:].sum()) if c_all.size > N + 1 else 0.0
    s = math.sqrt(0.75 + float(sigma) ** 2)
    k = np.zeros(N + 1)
    for i in range(1, N + 1):
        if c[i] != 0.0:
            k[i] = s ** i / hermite_moment(i, s)
    w = c * k  # HermiteE coefficients c_i k_i (index 0 unused)
    tails_i = [(abs(w[i]), i) for i in range(1, N + 1) if w[i] != 0.0]

    def T(B: float) -> float:
        return sum(a * cutoff_tail(i, B) for a, i in tails_i)

    if cutoff is None:
        if not tails_i:
            B = 1.0
        else:
            lo, hi = 0.5, 4.0
            while T(hi) > eps_e / 2:
                hi *= 1.5
                if hi > 200:
                    raise ValueError("no cut-off B reaches the requested eps_e")
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if T(mid) > eps_e / 2 else (lo, mid)
            B = hi
    else:
        B = float(cutoff)
    odd = np.where(np.arange(N + 1) % 2 == 1, w, 0.0)
    even = np.where((np.arange(N + 1) % 2 == 0) & (np.arange(N + 1) > 0), w, 0.0)
    wf = WeightFunction(herm_odd=odd, herm_even=even, const=2.0 * c[0], cutoff=B,
                        sigma=float(sigma), degree=N, coefficients=c, k=k, eps_e=float(eps_e),
                        taylor_tail=tail, cutoff_error=float(T(B)), exact_polynomial=exact)
    return replace(wf, bound=_sup_abs(wf))


# ----------------------------------------------------------------------------- quadrature
@lru_cache(maxsize=8)
def _gl(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def expectation_general(H: WeightFunction, p: Any, q: Any, tau: Any, shift: Any = 0.0,
                        nodes: int = _GL_NODES) -> np.ndarray:
    """E[H(alpha, b) 1{p alpha + q b + tau zeta + shift >= 0}] for alpha, b, zeta iid N(0, 1).

    The building block of Lemmas 5.1 and 5.2 (arrays broadcast). b and zeta are integrated in
    closed form: the constant part gives Phi_N(shift / sqrt(p^2+q^2+tau^2)); the odd part
    P_odd(alpha) Phi_N(c) and the even part 2 P_even(alpha) T(c, q/tau) with
    c = (p alpha + shift)/sqrt(q^2 + tau^2) and Owen's T; the last integral over alpha in
    [-B, B] is Gauss-Legendre on panels split where c = 0 (graded towards it when tau is small).
    """
    if not isinstance(H, WeightFunction):
        raise ValueError("expectation needs a WeightFunction from build_weight (it uses the "
                         "structure of H to integrate in closed form)")
    p, q, tau, shift = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in
                                             (p, q, tau, shift)))
    shape = p.shape
    p, q, tau, shift = (v.ravel() for v in (p, q, tau, shift))
    if np.any(tau < 0) or not np.all(np.isfinite(np.concatenate([p, q, tau, shift]))):
        raise ValueError("p, q, shift must be finite and tau >= 0")
    sz = np.sqrt(q * q + tau * tau)
    tot = np.sqrt(p * p + sz * sz)
    out = np.where(tot > 0, H.const * ndtr(np.divide(shift, tot, out=np.zeros_like(tot),
                                                      where=tot > 0)),
                   H.const * (shift >= 0))
    B = H.cutoff
    # panels in alpha: [-B, B] split at alpha0 = -shift/p, graded by the width sqrt(q^2+tau^2)/|p|
    x, wq = _gl(nodes)
    pnz = np.abs(p) > 0
    a0 = np.where(pnz, -shift / np.where(pnz, p, 1.0), 0.0)
    w1 = np.maximum(sz, 1e-9) / np.where(pnz, np.abs(p), 1.0)  # scale of Phi_N(c)
    qa = np.abs(q)
    w2 = w1 * np.where(qa > tau, tau / np.where(qa > 0, qa, 1.0), 1.0)  # scale of T(c, q/tau)
    mults = np.array([0.25, 1.0, 4.0, 16.0])
    offs = np.concatenate([[0.0], mults, -mults])
    inner = np.concatenate([a0[:, None] + offs * w2[:, None],
                            a0[:, None] + np.array([4.0, -4.0]) * w1[:, None]], axis=1)
    inner = np.where(pnz[:, None], inner, -B)
    base = np.broadcast_to(B * np.array([-2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3]), (p.size, 5))
    inner = np.concatenate([inner, base], axis=1)
    E = np.sort(np.concatenate([np.full((p.size, 1), -B), np.clip(inner, -B, B),
                                np.full((p.size, 1), B)], axis=1), axis=1)
    lo, hi = E[:, :-1], E[:, 1:]
    half = 0.5 * (hi - lo)
    al = (0.5 * (hi + lo))[..., None] + half[..., None] * x  # (sets, panels, nodes)
    wt = half[..., None] * wq * _phi(al)
    Podd, Peven = H.pieces(al)
    pp, ss, zz, qq, tt = (v[:, None, None] for v in (p, shift, sz, q, tau))
    with np.errstate(divide="ignore", invalid="ignore"):
        cval = np.where(zz > 0, (pp * al + ss) / np.where(zz > 0, zz, 1.0),
                        np.sign(pp * al + ss) * np.inf)
        a_rho = np.where(tt > 0, qq / np.where(tt > 0, tt, 1.0), np.inf)
    odd_part = Podd * ndtr(cval)
    if np.any(H.herm_even != 0):
        Tv = np.where(np.isfinite(cval), owens_t(np.where(np.isfinite(cval), cval, 0.0),
                                                   np.broadcast_to(a_rho, cval.shape)), 0.0)
        even_part = 2.0 * Peven * Tv
    else:
        even_part = 0.0
    out = out + np.sum(wt * (odd_part + even_part), axis=(1, 2))
    return out.reshape(shape)


def expectation(H: WeightFunction, u: Any, sigma: float, gamma: float = 1.0) -> np.ndarray:
    """E_{a ~ N(0, I), n ~ N(0, sigma^2)}[1{<a, x*> + gamma n >= 0} H(a)] for u = <w*, x*>.

    gamma = 1 is part (a) of Lemma 5.1 (to compare with Phi(u)), gamma > 1 part (b) (to compare
    with Phi(0)). With ||x*|| = 1, x*_{d_x} = 1/2 and w*_{d_x} = 0,
    <a, x*> = alpha u + b/2 + sqrt(3/4 - u^2) xi, so the expectation depends on x* only through
    u (|u| <= sqrt(3)/2).
    """
    u = np.asarray(u, dtype=float)
    if np.any(np.abs(u) > SQRT3_2 + 1e-12):
        raise ValueError("|u| = |<w*, x*>| must be <= sqrt(3)/2 for a unit x* with "
                         "x*_{d_x} = 1/2 and w*_{d_x} = 0")
    if not np.isfinite(sigma) or sigma < 0 or not np.isfinite(gamma) or gamma <= 0:
        raise ValueError("sigma must be >= 0 and gamma > 0")
    r2 = np.clip(0.75 - u * u, 0.0, None)
    tau = np.sqrt(r2 + (gamma * sigma) ** 2)
    return expectation_general(H, u, 0.5, tau, 0.0)


@lru_cache(maxsize=64)
def _lambdified(phi: sp.Expr) -> Any:
    from .concept import z  # noqa: PLC0415

    return sp.lambdify(z, phi, "numpy")


def target_values(phi: Any, u: Any) -> np.ndarray:
    """Phi(u) for a sympy expression or Taylor coefficients (vectorized)."""
    u = np.asarray(u, dtype=float)
    if isinstance(phi, sp.Basic):
        f = _lambdified(phi)
        return np.broadcast_to(np.asarray(f(u), dtype=float), u.shape).copy()
    c = np.asarray(phi, dtype=float)
    return np.polynomial.polynomial.polyval(u, c)


def monte_carlo(H: WeightFunction, u: float, sigma: float, gamma: float = 1.0,
                d_x: int = 6, samples: int = 200_000, seed: int = 0) -> tuple[float, float]:
    """Monte Carlo estimate (mean, standard error) of the expectation of Lemma 5.1 in the full
    d_x-dimensional setting: random unit w* (w*_{d_x} = 0) and a unit x* with x*_{d_x} = 1/2 and
    <w*, x*> = u; a ~ N(0, I_{d_x}), n ~ N(0, sigma^2). A cross-check of :func:`expectation`."""
    if d_x < 3:
        raise ValueError("the Monte Carlo cross-check needs d_x >= 3")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d_x)
    w[-1] = 0.0
    w /= np.linalg.norm(w)
    v = rng.standard_normal(d_x)
    v[-1] = 0.0
    v -= (v @ w) * w
    v /= np.linalg.norm(v)
    x = u * w + math.sqrt(max(0.75 - u * u, 0.0)) * v
    x[-1] = 0.5
    a = rng.standard_normal((samples, d_x))
    n = rng.standard_normal(samples) * sigma * gamma
    vals = (a @ x + n >= 0) * H(a @ w, a[:, -1])
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(samples))
