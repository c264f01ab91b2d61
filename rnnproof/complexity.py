"""Section 2 of the paper: notation and the two complexity measures of a smooth function.

For phi(z) = sum_{i>=0} c_i z^i (its Taylor series at 0), R >= 0 and 0 < eps < 1, Section 2
(taken from [1], Allen-Zhu, Li, Liang 2019) defines

    C_eps(phi, R) = sum_i [ (C* R)^i + ( sqrt(log(1/eps)) / sqrt(i) * C* R )^i ] |c_i|
    C_s(phi, R)   = C* sum_i (i + 1)^1.75 R^i |c_i|

with a large constant C* (10^4 in the paper; every function here takes ``C_star``). ``log`` is
the natural logarithm.

The i = 0 term
--------------
The second bracket reads (sqrt(log(1/eps))/sqrt(0) * C* R)^0 at i = 0, which the formula leaves
undefined. We take the **limit reading** (default, ``i0="limit"``): for a > 0,
(a / sqrt(i))^i = exp(i log a - (i/2) log i) -> 1 as i -> 0+, which is also the usual convention
x^0 = 1; so the i = 0 term of C_eps is 2 |c_0|. The alternative **drop reading**
(``i0="drop"``) starts the second sum at i = 1, giving |c_0|. Only functions with c_0 != 0
feel the difference (the concept class of Section 3.2 has Phi(0) = 0, where both agree), and
the constant term is exactly where the printed chain C_s <= C_eps fails (see the chapter).
We also use 0^0 = 1 for the first bracket and for R^0 in C_s, so C_s(phi, 0) = C* |c_0|.

What is returned
----------------
- Polynomials: an exact sympy expression (R, eps and C_star may be numbers or symbols, so the
  closed forms of Example 2.1 come out symbolically).
- Infinite series: a float (an ``mpmath.mpf`` when the value exceeds the float range, never a
  spurious ``inf``), summed in log space to a relative precision of about 1e-12 (see
  :func:`c_s_details` / :func:`c_eps_details` for the number of terms and the tail estimate);
  ``math.inf`` when the series diverges: C_s is infinite for R >= rho and C_eps for
  C* R >= rho, rho the radius of convergence (at R = rho exactly we return ``inf``; that is
  right whenever |c_i| rho^i does not decay faster than i^(-2.75), e.g. for sigmoid and tanh).

Taylor coefficients come from sympy: exact rationals through sympy's ring series (fast),
falling back to ``sympy.series``; the general term c_k comes from ``sympy.fps`` where sympy
finds one, and is then used (via its hypergeometric ratio c_{k+s}/c_k) to evaluate as many
coefficients as the sum needs. The radius of convergence comes from the ratio limit of the
general term, else from ``sympy.singularities`` (checked against the coefficients), else from
a ratio estimate on the coefficients.

Also here: Gram-Schmidt orthonormalisation GS(v_1, ..., v_n) of Section 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import mpmath
import numpy as np
import sympy as sp
from sympy.series.formal import FormalPowerSeries

from .concept import z

__all__ = [
    "C_STAR", "Measure", "c_eps", "c_eps_details", "c_s", "c_s_details", "describe_series",
    "general_term",
    "general_term_pieces", "gram_schmidt", "k", "log_c_eps", "log_c_s",
    "radius_of_convergence", "smallest_degree", "taylor_coefficients", "truncate",
    "truncation_sup_error", "z",
]

#: The constant C* of Section 2 (the paper: "sufficiently large, e.g. 10^4").
C_STAR = 10**4
#: Index symbol of the general term c_k.
k = sp.Symbol("k", integer=True, nonnegative=True)
#: The exponent 1.75 of C_s, exactly.
_S_POWER = sp.Rational(7, 4)

_RTOL = 1e-15          # tail tolerance of the numeric sums (relative)
_CAP_GENERAL = 1 << 23  # most terms evaluated from a general term
_CAP_SERIES = 512       # most exact coefficients computed without a general term
_RTOL_CAP = 1e-6        # tail accepted (and reported) when the cap is reached

I0Reading = Literal["limit", "drop"]


# --------------------------------------------------------------------------------------------
# Taylor coefficients
# --------------------------------------------------------------------------------------------

def _as_phi(phi: Any) -> sp.Expr:
    e = sp.sympify(phi)
    if not isinstance(e, sp.Expr):
        raise ValueError(f"phi must be a sympy expression in z, got {phi!r}")
    extra = e.free_symbols - {z}
    if extra:
        raise ValueError(f"phi must be an expression in rnnproof.complexity.z only; "
                         f"it also has {sorted(map(str, extra))}")
    return e


_RS_FUNCS = {
    sp.exp: "rs_exp", sp.sin: "rs_sin", sp.cos: "rs_cos", sp.tan: "rs_tan",
    sp.tanh: "rs_tanh", sp.sinh: "rs_sinh", sp.cosh: "rs_cosh", sp.atan: "rs_atan",
    sp.atanh: "rs_atanh", sp.asin: "rs_asin", sp.asinh: "rs_asinh",
}


class _NoRing(Exception):
    pass


def _ring_series(e: sp.Expr, n: int) -> list[sp.Rational]:
    """Exact Taylor coefficients c_0..c_{n-1} of e (in z) through sympy's ring series over QQ.

    Raises _NoRing for expressions outside its reach (non-rational constants, a function of an
    argument with a non-zero constant term, ...)."""
    from sympy.polys import ring_series as rs  # noqa: PLC0415
    from sympy.polys.domains import QQ  # noqa: PLC0415
    from sympy.polys.rings import ring  # noqa: PLC0415

    R, x = ring("x", QQ)

    def const(p: Any) -> Any:
        return p.coeff(1) if p else QQ(0)

    def ps(a: sp.Expr) -> Any:
        if a == z:
            return x
        if a.is_Rational:
            return R(QQ(int(a.p), int(a.q)))
        if a.is_Add:
            out = R(0)
            for b in a.args:
                out += ps(b)
            return out
        if a.is_Mul:
            out = R(1)
            for b in a.args:
                out = rs.rs_mul(out, ps(b), x, n)
            return out
        if a.is_Pow:
            base, ex = a.args
            if base == sp.E:
                return ps(sp.exp(ex))
            if not ex.is_Rational:
                raise _NoRing
            pb = ps(base)
            if ex.is_Integer and ex >= 0:
                return rs.rs_pow(pb, int(ex), x, n)
            if ex.is_Integer:
                if const(pb) == 0:
                    raise _NoRing
                return rs.rs_series_inversion(rs.rs_pow(pb, int(-ex), x, n), x, n)
            c0 = const(pb)
            if c0 != 1:
                raise _NoRing
            return rs.rs_pow(pb, QQ(int(ex.p), int(ex.q)), x, n)
        if isinstance(a, sp.log):
            p = ps(a.args[0])
            if const(p) != 1:
                raise _NoRing
            return rs.rs_log(p, x, n)
        for f, name in _RS_FUNCS.items():
            if isinstance(a, f):
                p = ps(a.args[0])
                if const(p) != 0:
                    raise _NoRing
                return getattr(rs, name)(p, x, n)
        raise _NoRing

    try:
        p = ps(e)
    except (_NoRing, NotImplementedError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise _NoRing from exc
    out = [sp.Integer(0)] * n
    for (i,), c in p.items():
        if i < n:
            out[i] = sp.Rational(int(c.numerator), int(c.denominator))
    return out


def _exact_coefficients(phi: sp.Expr, n: int) -> list[sp.Expr]:
    """c_0..c_{n-1} exactly (ring series, else sympy.series)."""
    if phi.is_polynomial(z):
        cs = sp.Poly(phi, z).all_coeffs()[::-1]
        return list(cs[:n]) + [sp.Integer(0)] * max(0, n - len(cs))
    try:
        return _ring_series(phi, n)
    except _NoRing:
        pass
    zeta = sp.Symbol("zeta")  # complex: sqrt(z), 1/z, log z ... do not expand
    try:  # both one-sided expansions must agree (Abs(z) expands to +z and -z)
        ser, ser_left = (sp.expand(sp.series(phi.subs(z, zeta), zeta, 0, n, dir=d).removeO())
                         for d in ("+", "-"))
    except Exception as exc:  # noqa: BLE001 (sympy raises many kinds here)
        raise ValueError(f"phi = {phi} has no Taylor series at 0 that sympy can compute") from exc
    if (not ser.is_polynomial(zeta) or sp.expand(ser - ser_left) != 0
            or ser.has(sp.Abs, sp.sign, sp.re, sp.im, sp.conjugate)):
        raise ValueError(f"phi = {phi} is not analytic at 0 (its expansion there is {ser}, "
                         "not a power series); Section 2 needs phi(z) = sum c_i z^i")
    return [ser.coeff(zeta, i) if i > 0 else ser.subs(zeta, 0) for i in range(n)]


def taylor_coefficients(phi: sp.Expr, n: int) -> list[sp.Expr]:
    """The Taylor coefficients c_0, ..., c_n of phi at 0 (Section 2: phi(z) = sum c_i z^i),
    exact sympy numbers; a list of length n + 1 (through degree n)."""
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return list(_series(_as_phi(phi)).exact(int(n) + 1))


def truncate(phi: sp.Expr, degree: int) -> sp.Expr:
    """The Taylor polynomial of phi of degree ``degree``: sum_{i <= degree} c_i z^i."""
    cs = taylor_coefficients(phi, degree)
    return sp.Add(*[c * z**i for i, c in enumerate(cs)])


# --------------------------------------------------------------------------------------------
# The cached description of one phi: coefficients, general term, radius
# --------------------------------------------------------------------------------------------

@dataclass
class _Piece:
    """One hypergeometric piece of the general term: for k = s j + r (j >= j0), the term
    e_j = anchor * prod_{t=j0}^{j-1} q(t) (complex in general)."""

    s: int
    r: int
    j0: int
    anchor: float | complex  # the value e_{j0}
    q: Any  # numpy function of j (rational in j, possibly complex)
    real: bool  # anchor and q real


@dataclass
class _Series:
    phi: sp.Expr
    kind: str                       # "polynomial" | "general-term" | "series"
    radius: float
    radius_source: str
    general: sp.Expr | None = None  # c_k as an expression in k, or None
    general_pieces: list[tuple[int, int, sp.Expr]] = field(default_factory=list)
    pretty_done: bool = False
    pieces: list[_Piece] = field(default_factory=list)
    k0: int = 0                     # general term (pieces) used for k >= k0
    _exact: list[sp.Expr] = field(default_factory=list)
    _logabs: np.ndarray | None = None
    _degree: int | None = None

    def exact(self, n: int) -> list[sp.Expr]:
        if len(self._exact) < n:
            m = max(n, 2 * len(self._exact), 16)
            self._exact = _exact_coefficients(self.phi, m)
        return self._exact[:n]

    def degree(self) -> int | None:
        """The degree for polynomials (cached), None for series."""
        if self.kind != "polynomial":
            return None
        if self._degree is None:
            self._degree = max(0, int(sp.Poly(self.phi, z).degree()))
        return self._degree

    def cap(self) -> int:
        return {"polynomial": 1 << 30, "general-term": _CAP_GENERAL,
                "series": _CAP_SERIES}[self.kind]

    def logabs(self, n: int) -> np.ndarray:
        """log|c_i| for i < n (-inf where c_i = 0), float64."""
        if self._logabs is not None and len(self._logabs) >= n:
            return self._logabs[:n]
        if self.kind == "polynomial":
            deg = self.degree() or 0
            base = _logabs_exact(self.exact(deg + 1))
            out = np.full(max(n, deg + 1), -np.inf)
            out[:deg + 1] = base
        elif self.kind == "series":
            if n > _CAP_SERIES:
                raise ValueError(f"needs more than {_CAP_SERIES} Taylor coefficients of "
                                 f"{self.phi} (no general term found by sympy)")
            m = max(n, 2 * (0 if self._logabs is None else len(self._logabs)), 32)
            m = min(m, _CAP_SERIES)
            out = _logabs_exact(self.exact(m))
        else:
            m = max(n, 2 * (0 if self._logabs is None else len(self._logabs)), 64)
            out = self._logabs_general(m)
        self._logabs = out
        return out[:n]

    def _logabs_general(self, n: int) -> np.ndarray:
        """log|c_i| from the exact head (i < k0) and the pieces of the general term. Real
        pieces are accumulated as (log|.|, sign); if a piece is complex (e.g. (1+i)^k/k!), all
        are combined as complex numbers in log space."""
        head = _logabs_exact(self.exact(self.k0))
        real = all(p.real for p in self.pieces)
        dtype = np.float64 if real else np.complex128
        lc = np.full(n, -np.inf, dtype=dtype)   # log|sum| (real) or complex log (complex)
        sg = np.zeros(n)                         # sign of the sum (real case)
        for p in self.pieces:
            jmax = (n - 1 - p.r) // p.s
            if jmax < p.j0:
                continue
            j = np.arange(p.j0, jmax + 1, dtype=np.float64)
            q = np.broadcast_to(np.asarray(p.q(j[:-1]), dtype=dtype), (j.size - 1,))
            with np.errstate(divide="ignore"):
                lq = np.log(np.abs(q)) if real else np.log(q)
            la = np.log(abs(p.anchor)) if real else np.log(complex(p.anchor))
            lp = np.empty(j.size, dtype=dtype)
            lp[0] = la
            np.cumsum(lq, out=lp[1:])
            lp[1:] += la
            idx = (p.s * j + p.r).astype(np.int64)
            if real:
                spc = np.empty(j.size)
                spc[0] = math.copysign(1.0, p.anchor)
                np.cumprod(np.sign(q), out=spc[1:])
                spc[1:] *= spc[0]
                if not np.any(np.isfinite(lc[idx])):  # first piece on these indices
                    lc[idx], sg[idx] = lp, spc
                    continue
                l0, s0 = lc[idx], sg[idx]
                mx = np.maximum(l0, lp)
                fin = np.isfinite(mx)
                v = np.zeros(mx.shape)
                v[fin] = (s0[fin] * np.exp(l0[fin] - mx[fin])
                          + spc[fin] * np.exp(lp[fin] - mx[fin]))
                with np.errstate(divide="ignore"):
                    lc[idx] = np.where(fin, mx + np.log(np.abs(v)), -np.inf)
                sg[idx] = np.sign(v)
            else:
                l0 = lc[idx]
                mx = np.maximum(l0.real, lp.real)
                fin = np.isfinite(mx)
                v = np.zeros(mx.shape, dtype=np.complex128)
                v[fin] = np.exp(l0[fin] - mx[fin]) + np.exp(lp[fin] - mx[fin])
                with np.errstate(divide="ignore"):
                    lc[idx] = np.where(fin, mx + np.log(v), -np.inf)
        lv = np.array(lc.real, dtype=np.float64)
        lv[:self.k0] = head
        return lv


def _logabs_exact(cs: list[sp.Expr]) -> np.ndarray:
    out = np.empty(len(cs))
    for i, c in enumerate(cs):
        if c == 0:
            out[i] = -np.inf
        elif c.is_Rational:
            out[i] = math.log(abs(int(c.p))) - math.log(int(c.q))
        else:
            out[i] = float(mpmath.log(mpmath.mpf(sp.N(sp.Abs(c), 30))))
    return out


def _piece_list(formula: sp.Expr, kd: sp.Symbol) -> list[tuple[int, int, sp.Expr]] | None:
    """Split sympy.fps's coefficient formula into (s, r, expr) for k = r mod s."""
    out = []
    for arg in sp.Add.make_args(formula):
        if type(arg).__name__ == "Coeff":  # polynomial part: zero beyond its degree
            continue
        arg = sp.piecewise_fold(arg)
        if isinstance(arg, sp.Piecewise):
            (e, cond), *rest = arg.args
            if not rest or rest[0][0] != 0 or len(rest) > 1:
                return None
            if not (isinstance(cond, sp.Eq) and isinstance(cond.lhs, sp.Mod)
                    and cond.lhs.args[0] == kd and cond.lhs.args[1].is_Integer
                    and cond.rhs.is_Integer):
                return None
            out += [(int(cond.lhs.args[1]), int(cond.rhs), t)
                    for t in sp.Add.make_args(sp.expand(e))]
        else:
            out += [(1, 0, t) for t in sp.Add.make_args(sp.expand(arg))]
    return out


def _radius_from_singularities(phi: sp.Expr) -> float | None:
    """min |zeta| over the complex singularities sympy reports for phi, or None."""
    zeta = sp.Symbol("zeta")
    try:
        sing = sp.singularities(phi.subs(z, zeta), zeta)
    except Exception:  # noqa: BLE001 (sympy raises many kinds here)
        return None
    pts: list[complex] = []

    def collect(s: Any) -> None:
        if isinstance(s, sp.Union):
            for a in s.args:
                collect(a)
        elif isinstance(s, sp.FiniteSet):
            pts.extend(complex(sp.N(a)) for a in s)
        elif isinstance(s, sp.ImageSet):
            lam = s.lamda
            for nn in range(-6, 7):
                pts.append(complex(sp.N(lam(nn))))
        elif s == sp.EmptySet:
            return
        else:
            raise ValueError

    try:
        collect(sing)
    except (ValueError, TypeError):
        return None
    if not pts:
        return math.inf
    return float(min(abs(p) for p in pts))


def _radius_estimate(la: np.ndarray) -> tuple[float, float]:
    """Cauchy-Hadamard estimate of the radius from log|c_i|, i < n: exp(-slope) of a
    least-squares line through the upper envelope (the largest log|c_k| in windows of 8) over
    the second half, and the change of that estimate from the third quarter to the fourth (an
    entire function shows as a growing estimate)."""
    n = la.size

    def est(lo: int, hi: int) -> float:
        ks, vs = [], []
        for a in range(lo, hi, 8):
            w = la[a:min(a + 8, hi)]
            if np.any(np.isfinite(w)):
                ks.append(a + int(np.argmax(w)))
                vs.append(float(np.max(w)))
        if len(ks) < 2:
            return math.inf
        slope = float(np.polyfit(ks, vs, 1)[0])
        return math.inf if slope >= 0 else math.exp(-slope)

    r1, r_early, r_late = est(n // 2, n), est(n // 2, 3 * n // 4), est(3 * n // 4, n)
    if not math.isfinite(r1):
        return math.inf, 0.0
    return r1, abs(r_late - r_early)


@lru_cache(maxsize=256)
def _series(phi: sp.Expr) -> _Series:
    if phi.is_polynomial(z):
        return _Series(phi, "polynomial", math.inf, "polynomial")
    ser = _Series(phi, "series", math.nan, "")
    try:
        f = sp.fps(phi, z)
    except Exception:  # noqa: BLE001
        f = None
    if isinstance(f, FormalPowerSeries):
        kd = f.ak.variables[0]
        formula = f.ak.formula
        pieces_sym = _piece_list(formula, kd)
        if pieces_sym:
            general = sp.Add(*[a for a in sp.Add.make_args(formula)
                               if type(a).__name__ != "Coeff"]).xreplace({kd: k})
            k0 = max(24, int(f.ak.start) + 2)
            try:
                gs = _build_series(phi, pieces_sym, kd, k0, general)
            except (ValueError, TypeError, ZeroDivisionError):
                gs = None
            if gs is not None:
                return gs
    # no usable general term: exact coefficients + radius from singularities / estimate
    la = _logabs_exact(ser.exact(96))
    est, spread = _radius_estimate(la)
    growing = spread > 0.05 * est  # estimates still growing: consistent with rho = inf
    rsing = _radius_from_singularities(phi)
    if (rsing is not None and math.isfinite(rsing)
            and abs(rsing - est) <= max(0.05 * rsing, 2 * spread)):
        ser.radius, ser.radius_source = rsing, "sympy singularities (agrees with coefficients)"
    elif rsing is not None and math.isinf(rsing) and (growing or est > 50):
        ser.radius, ser.radius_source = math.inf, "sympy singularities (entire)"
    else:
        ser.radius = est
        ser.radius_source = f"root-test estimate from 96 coefficients (+- {spread:.2g})"
    return ser


def _build_series(phi: sp.Expr, pieces_sym: list[tuple[int, int, sp.Expr]], kd: sp.Symbol,
                  k0: int, general: sp.Expr) -> _Series | None:
    j = sp.Symbol("j", integer=True, nonnegative=True)
    pieces: list[_Piece] = []
    pretty: list[tuple[int, int, sp.Expr]] = []
    radius = math.inf
    for s, r, e in pieces_sym:
        ej = sp.simplify(e.subs(kd, s * j + r))
        pretty.append((s, r, ej))
        q = sp.hypersimp(ej, j)
        if q is None or not q.is_rational_function(j):
            return None
        j0 = max(0, -(-(k0 - r) // s))
        av = complex(sp.N(ej.subs(j, j0), 30))
        if abs(av.imag) <= 1e-25 * abs(av.real):
            av = complex(av.real, 0.0)
        if av == 0:
            return None
        lim = sp.limit(sp.Abs(q), j, sp.oo)
        if lim.is_infinite:
            rad = 0.0
        else:
            lf = float(lim)
            rad = math.inf if lf == 0 else lf ** (-1.0 / s)
        radius = min(radius, rad)
        real = not q.has(sp.I) and av.imag == 0
        pieces.append(_Piece(s=s, r=r, j0=j0, anchor=av.real if real else av,
                             q=sp.lambdify(j, q, "numpy"), real=real))
    if radius == 0.0:
        return None
    ser = _Series(phi, "general-term", radius, "ratio limit of the general term (sympy)",
                  general=general, pieces=pieces, k0=k0, general_pieces=pretty)
    # validate the general term against exact coefficients beyond k0
    n = k0 + 24
    exact = _logabs_exact(ser.exact(n))
    fast = ser._logabs_general(n)
    scale = np.max(exact[k0:])
    zero = np.isinf(exact[k0:])
    with np.errstate(invalid="ignore"):
        ok = np.where(zero, fast[k0:] < scale - 25.0,
                      np.abs(exact[k0:] - fast[k0:]) <= 1e-9 * np.maximum(1.0,
                                                                        np.abs(exact[k0:])))
    if not np.all(ok):
        return None
    return ser


def _simplest(e: sp.Expr, j: sp.Symbol) -> sp.Expr:
    """A short equivalent form of a hypergeometric term (factorials instead of rising
    factorials where sympy manages), checked on j = 0..5."""
    cands = [e]
    try:
        g = sp.simplify(sp.gammasimp(e.rewrite(sp.gamma)))
        cands += [g, sp.gammasimp(g)]
    except Exception:  # noqa: BLE001
        pass
    cands += [c.rewrite(sp.factorial) for c in cands]

    def same(c: sp.Expr) -> bool:
        for t in range(1, 8):
            v = e.subs(j, t)
            if v.is_finite and sp.simplify(c.subs(j, t) - v) != 0:
                return False
        return True

    good = [c for c in cands if same(c)] or [e]
    return min(good, key=lambda c: (c.has(sp.gamma), sp.count_ops(c)))


def general_term_pieces(phi: sp.Expr) -> list[tuple[int, int, sp.Expr]]:
    """The general term split by residue class: a list of (s, r, t_j) meaning that the
    coefficient c_{s j + r} contains the summand t_j (an expression in the symbol ``j``,
    simplified where sympy manages); the pieces of one class add up. Empty when sympy finds
    no general term."""
    ser = _series(_as_phi(phi))
    if not ser.pretty_done:
        j = sp.Symbol("j", integer=True, nonnegative=True)
        ser.general_pieces = [(s, r, _simplest(e, j)) for s, r, e in ser.general_pieces]
        ser.pretty_done = True
    return list(ser.general_pieces)


def general_term(phi: sp.Expr) -> sp.Expr | None:
    """The general Taylor coefficient c_k of phi as a sympy expression in :data:`k` (valid for
    k beyond the first few, which may carry a polynomial part), or None when sympy's ``fps``
    finds none that we could validate against the exact coefficients."""
    return _series(_as_phi(phi)).general


def describe_series(phi: sp.Expr) -> dict[str, Any]:
    """How the coefficients of phi are obtained, for display: ``kind`` ("polynomial",
    "general-term" or "series"), ``general_term`` (LaTeX of c_{s j + r} = ..., one per residue
    class, or "" when none), ``radius`` (float) and ``radius_source``."""
    ser = _series(_as_phi(phi))
    by_class: dict[tuple[int, int], sp.Expr] = {}
    for s_, r, t in general_term_pieces(phi):
        by_class[(s_, r)] = by_class.get((s_, r), sp.Integer(0)) + t
    j_int, j_plain = sp.Symbol("j", integer=True, nonnegative=True), sp.Symbol("j")
    tex = ", ".join(f"c_{{{sp.latex(s_ * j_plain + r)}}}={sp.latex(t.subs(j_int, j_plain))}"
                    for (s_, r), t in by_class.items())
    return {"kind": ser.kind, "general_term": tex, "radius": ser.radius,
            "radius_source": ser.radius_source}


def radius_of_convergence(phi: sp.Expr) -> tuple[float, str]:
    """(rho, how it was obtained): the radius of convergence of phi's Taylor series at 0
    (``math.inf`` for polynomials and entire functions)."""
    s = _series(_as_phi(phi))
    return s.radius, s.radius_source


# --------------------------------------------------------------------------------------------
# The two measures
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    """A value of C_s or C_eps with how it was obtained.

    ``value``: sympy expression (``kind == "exact"``), float or mpmath.mpf (``"numeric"``) or
    ``math.inf`` (``"infinite"``); ``log_value``: its natural log as a float; ``terms``:
    number of Taylor terms summed; ``rel_precision``: bound on the relative error of a numeric
    value (rounding and tail); ``radius``: radius of convergence of phi."""

    value: Any
    kind: str
    log_value: float
    terms: int
    rel_precision: float
    radius: float
    note: str = ""


def _check_R(R: Any, name: str = "R") -> None:
    if isinstance(R, sp.Basic) and R.free_symbols:
        return
    try:
        v = float(R)
    except TypeError as exc:
        raise ValueError(f"{name} must be a non-negative number or a sympy symbol") from exc
    if not v >= 0 or not math.isfinite(v):
        raise ValueError(f"{name} must be finite and >= 0 (Section 2: non-negative R), got {R}")


def _check_eps(eps: Any) -> None:
    if isinstance(eps, sp.Basic):
        if eps.free_symbols:
            return
        ok = bool(eps.is_positive) and bool((1 - eps).is_positive)  # exact, no underflow
    else:
        ok = 0 < float(eps) < 1
    if not ok:
        raise ValueError(f"eps must satisfy 0 < eps < 1 (log(1/eps) > 0), got {eps}")


def _check_cstar(C_star: Any) -> None:
    if isinstance(C_star, sp.Basic) and C_star.free_symbols:
        return
    if not float(C_star) > 0:
        raise ValueError(f"C_star must be > 0, got {C_star}")


def _check_i0(i0: str) -> None:
    if i0 not in ("limit", "drop"):
        raise ValueError(f"i0 must be 'limit' or 'drop' (reading of the i = 0 term), got {i0!r}")


def _exact_c_s(cs: list[sp.Expr], R: Any, C_star: Any) -> sp.Expr:
    R, C_star = sp.sympify(R), sp.sympify(C_star)
    return C_star * sp.Add(*[(i + 1) ** _S_POWER * (R**i if i else 1) * sp.Abs(c)
                             for i, c in enumerate(cs) if c != 0])


def _exact_c_eps(cs: list[sp.Expr], R: Any, eps: Any, C_star: Any, i0: str) -> sp.Expr:
    R, eps, C_star = sp.sympify(R), sp.sympify(eps), sp.sympify(C_star)
    L = sp.log(1 / eps)
    terms = []
    for i, c in enumerate(cs):
        if c == 0:
            continue
        if i == 0:
            terms.append((2 if i0 == "limit" else 1) * sp.Abs(c))
        else:
            terms.append(((C_star * R) ** i + (sp.sqrt(L) / sp.sqrt(i) * C_star * R) ** i)
                         * sp.Abs(c))
    return sp.Add(*terms)


_IDX: dict[str, np.ndarray] = {"i": np.zeros(0), "log1p": np.zeros(0), "log": np.zeros(0)}


def _index_arrays(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """i, log(1 + i), log(i) (log 0 = -inf) for i < n, cached."""
    if _IDX["i"].size < n:
        m = max(n, 2 * _IDX["i"].size, 1024)
        i = np.arange(m, dtype=np.float64)
        with np.errstate(divide="ignore"):
            _IDX.update(i=i, log1p=np.log1p(i), log=np.log(i))
    return _IDX["i"][:n], _IDX["log1p"][:n], _IDX["log"][:n]


def _log_terms_s(la: np.ndarray, R: float, C_star: float, power: float = 1.75) -> np.ndarray:
    i, l1p, _ = _index_arrays(la.size)
    if R > 0:
        lr = i * math.log(R)
    else:
        lr = np.full(la.size, -np.inf)
        lr[:1] = 0.0
    return (math.log(C_star) + la) + (power * l1p + lr)


def _log_terms_eps(la: np.ndarray, R: float, eps_log: float, C_star: float,
                   i0: str) -> np.ndarray:
    """eps_log = log(1/eps) > 0."""
    out = np.full(la.size, -np.inf)
    if la.size == 0:
        return out
    out[0] = la[0] + (math.log(2.0) if i0 == "limit" else 0.0)
    if la.size > 1 and R > 0:
        i, _, li = _index_arrays(la.size)
        ii, lii = i[1:], li[1:]
        lcr = math.log(C_star * R)
        a = ii * lcr
        b = ii * (lcr + 0.5 * math.log(eps_log) - 0.5 * lii)
        out[1:] = np.logaddexp(a, b) + la[1:]
    return out


def _adaptive(ser: _Series, make: Any) -> tuple[float, int, float]:
    """log of sum_i exp(make(logabs)[i]), summing until the tail is below _RTOL.
    Returns (log_sum, terms, rel_tail)."""
    n = 64
    deg = ser.degree()
    if deg is not None:
        n = deg + 1
    while True:
        n = min(n, ser.cap())
        lt = make(ser.logabs(n))
        total = float(logsumexp(lt)) if np.any(np.isfinite(lt)) else -math.inf
        if deg is not None or not math.isfinite(total):
            return total, n, 0.0
        q1, q2, q3 = n // 2, (3 * n) // 4, n
        a = float(np.max(lt[q1:q2]))
        b = float(np.max(lt[q2:q3]))
        if b == -math.inf:
            return total, n, 0.0
        tail = math.inf
        if a > -math.inf and b < a:  # envelope decreasing: continue it geometrically
            ratio = math.exp(b - a)
            log_tail = b - total + math.log(n - q2) + (b - a) - math.log1p(-ratio)
            tail = math.exp(min(log_tail, 0.0))
            if tail <= _RTOL or (n >= ser.cap() and tail <= _RTOL_CAP):
                return total, n, tail
        if n >= ser.cap():
            raise ValueError(
                f"the series for {ser.phi} has not converged to relative {_RTOL:g} after {n} "
                f"terms (R too close to the radius of convergence {ser.radius:.6g}, or too "
                f"large to sum); relative tail estimate {tail:.3g}")
        n *= 2


def logsumexp(a: np.ndarray) -> float:
    """log(sum(exp(a))) for a 1-D float array (-inf entries allowed)."""
    m = float(np.max(a))
    if not math.isfinite(m):
        return m
    return m + math.log(float(np.sum(np.exp(a - m))))


def _precision(lv: float, tail: float) -> float:
    """Relative precision of exp(lv): the summation in log space loses about 2e-14 |lv|
    (measured against 40-digit mpmath sums), plus the tail estimate."""
    return tail + 5e-14 * max(1.0, abs(lv))


def _value_from_log(lv: float) -> Any:
    if lv == -math.inf:
        return 0.0
    if lv < 700:
        return math.exp(lv)
    return mpmath.exp(mpmath.mpf(lv))


def c_s_details(phi: sp.Expr, R: Any, C_star: Any = C_STAR) -> Measure:
    """C_s(phi, R) = C* sum_i (i+1)^1.75 R^i |c_i| (Section 2) with how it was computed."""
    phi = _as_phi(phi)
    _check_R(R)
    _check_cstar(C_star)
    ser = _series(phi)
    if ser.kind == "polynomial":
        cs = ser.exact((ser.degree() or 0) + 1)
        val = _settle(_exact_c_s(cs, R, C_star), R, C_star)
        lv = _safe_log(val)
        return Measure(val, "exact", lv, len(cs), 0.0, math.inf)
    Rf, Cf = float(R), float(C_star)
    if Rf >= ser.radius:
        return Measure(math.inf, "infinite", math.inf, 0, 0.0, ser.radius,
                       f"R = {Rf:g} >= radius of convergence {ser.radius:.6g}")
    lv, n, tail = _adaptive(ser, lambda la: _log_terms_s(la, Rf, Cf))
    return Measure(_value_from_log(lv), "numeric", lv, n, _precision(lv, tail), ser.radius)


def c_eps_details(phi: sp.Expr, R: Any, eps: Any, C_star: Any = C_STAR,
                  i0: I0Reading = "limit") -> Measure:
    """C_eps(phi, R) = sum_i [(C* R)^i + (sqrt(log(1/eps)/i) C* R)^i] |c_i| (Section 2) with
    how it was computed; ``i0`` is the reading of the undefined i = 0 term (module docstring)."""
    phi = _as_phi(phi)
    _check_R(R)
    _check_eps(eps)
    _check_cstar(C_star)
    _check_i0(i0)
    ser = _series(phi)
    if ser.kind == "polynomial":
        cs = ser.exact((ser.degree() or 0) + 1)
        val = _settle(_exact_c_eps(cs, R, eps, C_star, i0), R, eps, C_star)
        return Measure(val, "exact", _safe_log(val), len(cs), 0.0, math.inf)
    Rf, Cf = float(R), float(C_star)
    L = math.log(1.0 / float(eps))
    if Cf * Rf >= ser.radius:
        return Measure(math.inf, "infinite", math.inf, 0, 0.0, ser.radius,
                       f"C* R = {Cf * Rf:g} >= radius of convergence {ser.radius:.6g}")
    lv, n, tail = _adaptive(ser, lambda la: _log_terms_eps(la, Rf, L, Cf, i0))
    return Measure(_value_from_log(lv), "numeric", lv, n, _precision(lv, tail), ser.radius)


def _settle(val: sp.Expr, *inputs: Any) -> sp.Expr:
    """Exact inputs give an exact expression; if an input is a float (exactness already
    lost) and nothing is symbolic, return one sympy Float (30 digits) instead of a mixed
    expression such as 2.7e13 + 2.9e13*sqrt(3)."""
    if val.free_symbols:
        return val
    if any(isinstance(x, float) or (isinstance(x, sp.Basic) and x.has(sp.Float))
           for x in inputs):
        return sp.Float(val.evalf(30), 30)
    return val


def _safe_log(val: sp.Expr) -> float:
    if val.free_symbols:
        return math.nan
    v = sp.N(val, 30)
    if v == 0:
        return -math.inf
    return float(mpmath.log(mpmath.mpf(v)))


def c_s(phi: sp.Expr, R: Any, C_star: Any = C_STAR) -> Any:
    """C_s(phi, R) of Section 2: exact sympy value for polynomials (R, C_star may be symbols),
    else a float (mpmath.mpf beyond the float range) or ``math.inf`` when R >= rho."""
    return c_s_details(phi, R, C_star).value


def c_eps(phi: sp.Expr, R: Any, eps: Any, C_star: Any = C_STAR,
          i0: I0Reading = "limit") -> Any:
    """C_eps(phi, R) of Section 2 (the eps-complexity): exact sympy value for polynomials
    (R, eps, C_star may be symbols), else a float (mpmath.mpf beyond the float range) or
    ``math.inf`` when C* R >= rho. ``i0``: reading of the i = 0 term (module docstring)."""
    return c_eps_details(phi, R, eps, C_star, i0).value


def _truncated(ser: _Series, degree: int | None) -> _Series:
    """The series of the Taylor polynomial of degree ``degree`` (None: phi itself)."""
    if degree is None:
        return ser
    if int(degree) != degree or degree < 0:
        raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
    d = int(degree)
    poly = _Series(sp.Integer(0), "polynomial", math.inf, "truncation", _degree=d)
    poly._logabs = np.array(ser.logabs(d + 1), dtype=np.float64)
    return poly


def log_c_s(phi: sp.Expr, R: float, C_star: float = C_STAR, power: float = 1.75,
            degree: int | None = None) -> float:
    """Natural log of C_s(phi, R) as a float (fast numeric path for every kind of phi,
    polynomials included; ``inf`` for R >= rho). ``degree``: measure the Taylor polynomial of
    that degree instead of phi (Example 2.1's truncations). ``power`` (1.75 in the paper) is
    exposed for the negative controls of the checks."""
    phi = _as_phi(phi)
    _check_R(R)
    ser = _truncated(_series(phi), degree)
    if float(R) >= ser.radius:
        return math.inf
    return _adaptive(ser, lambda la: _log_terms_s(la, float(R), float(C_star), power))[0]


def log_c_eps(phi: sp.Expr, R: float, eps: float | None = None, C_star: float = C_STAR,
              i0: I0Reading = "limit", log_inv_eps: float | None = None,
              degree: int | None = None) -> float:
    """Natural log of C_eps(phi, R) as a float (fast numeric path for every kind of phi).
    ``log_inv_eps`` = log(1/eps) may be given instead of eps (for eps below the float range);
    ``degree``: measure the Taylor polynomial of that degree instead of phi."""
    phi = _as_phi(phi)
    _check_R(R)
    _check_i0(i0)
    if log_inv_eps is None:
        if eps is None:
            raise ValueError("give eps or log_inv_eps")
        _check_eps(eps)
        log_inv_eps = math.log(1.0 / float(eps))
    elif not log_inv_eps > 0:
        raise ValueError("log_inv_eps = log(1/eps) must be > 0")
    ser = _truncated(_series(phi), degree)
    if float(C_star) * float(R) >= ser.radius:
        return math.inf
    return _adaptive(ser, lambda la: _log_terms_eps(la, float(R), log_inv_eps,
                                                    float(C_star), i0))[0]


# --------------------------------------------------------------------------------------------
# Truncations (Example 2.1)
# --------------------------------------------------------------------------------------------

def truncation_sup_error(phi: sp.Expr, R: float, max_degree: int,
                         points: int = 4001) -> np.ndarray:
    """sup_{|x| <= R} |phi(x) - T_D(x)| for D = 0..max_degree, T_D the Taylor polynomial of
    degree D (Example 2.1), measured on ``points`` equispaced points of [-R, R] (endpoints
    included) in float64. Array of length max_degree + 1."""
    phi = _as_phi(phi)
    if not R > 0:
        raise ValueError(f"R must be > 0, got {R}")
    if max_degree < 0:
        raise ValueError("max_degree must be >= 0")
    xs = np.linspace(-R, R, points)
    f = np.broadcast_to(np.asarray(sp.lambdify(z, phi, "numpy")(xs), dtype=np.float64),
                        xs.shape)
    cs = [float(c) for c in taylor_coefficients(phi, max_degree)]
    out = np.empty(max_degree + 1)
    partial = np.zeros_like(xs)
    power = np.ones_like(xs)
    for d, c in enumerate(cs):
        if c != 0.0:
            partial = partial + c * power
        power = power * xs
        out[d] = float(np.max(np.abs(f - partial)))
    return out


def smallest_degree(errors: np.ndarray, eps: float) -> int | None:
    """The smallest D with errors[D'] <= eps for every D' >= D in the array (the degree from
    which the truncation stays an eps-approximation), or None."""
    e = np.asarray(errors)
    ok = e <= eps
    if not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    return int(bad[-1] + 1) if bad.size else 0


# --------------------------------------------------------------------------------------------
# Gram-Schmidt (Section 2)
# --------------------------------------------------------------------------------------------

def gram_schmidt(vectors: Any, tol: float = 1e-10,
                 return_replaced: bool = False) -> Any:
    """U = GS(v_1, ..., v_n) of Section 2: the m x n matrix whose i-th column is
    v^_i = P_i v_i / ||P_i v_i||, P_i = prod_{j<i} (I - v^_j v^_j^T).

    ``vectors``: array (n, m), row i is v_{i+1} (or a sequence of n vectors of length m).
    Zero residual (the paper: "an arbitrary unit vector orthogonal to v^_1..v^_{i-1}"): when
    ||P_i v_i|| <= tol * ||v_i|| (or v_i = 0) we take, deterministically, the standard basis
    vector e_k whose residual P_i e_k is longest (the smallest such k on ties; that residual has
    norm >= sqrt((m - i + 1) / m)), and normalise its residual. Residuals are projected twice
    (classical Gram-Schmidt with re-orthogonalisation), so U^T U = I to rounding.
    Needs n <= m (no n orthonormal vectors in R^m otherwise). With ``return_replaced``,
    also returns the boolean mask (n,) of the columns chosen by the zero-residual rule."""
    V = np.asarray(vectors, dtype=np.float64)
    if V.ndim != 2:
        raise ValueError(f"vectors must be an (n, m) array of n vectors in R^m, got shape "
                         f"{V.shape}")
    n, m = V.shape
    if n > m:
        raise ValueError(f"GS needs n <= m (n = {n} orthonormal vectors in R^{m} do not exist)")
    if not np.all(np.isfinite(V)):
        raise ValueError("vectors must be finite")
    if not tol >= 0:
        raise ValueError("tol must be >= 0")
    U = np.zeros((m, n))
    replaced = np.zeros(n, dtype=bool)
    for i in range(n):
        v = V[i]
        Ui = U[:, :i]
        r = v - Ui @ (Ui.T @ v)
        r = r - Ui @ (Ui.T @ r)
        nv = float(np.linalg.norm(v))
        nr = float(np.linalg.norm(r))
        if nv == 0.0 or nr <= tol * nv:
            lengths = 1.0 - np.sum(Ui * Ui, axis=1)
            e = np.zeros(m)
            e[int(np.argmax(lengths))] = 1.0
            r = e - Ui @ (Ui.T @ e)
            r = r - Ui @ (Ui.T @ r)
            nr = float(np.linalg.norm(r))
            replaced[i] = True
        U[:, i] = r / nr
    return (U, replaced) if return_replaced else U
