"""Unit tests of rnnproof.complexity (Section 2: C_s, C_eps, Taylor coefficients, GS)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnproof import complexity as cx
from rnnproof import concept

z = cx.z
C = cx.C_STAR
SIGMOID = 1 / (1 + sp.exp(-z))


def test_z_is_the_concept_symbol() -> None:
    assert cx.z is concept.z


@pytest.mark.parametrize("phi", [sp.sin(z), sp.exp(z) - 1, sp.cos(z), sp.tanh(z), SIGMOID,
                                 sp.log(1 + z), sp.exp(z) * sp.sin(z), 3 * z**4 - z + 2])
def test_taylor_coefficients_match_sympy_series(phi: sp.Expr) -> None:
    cs = cx.taylor_coefficients(phi, 11)
    ref = sp.series(phi, z, 0, 12).removeO()
    assert len(cs) == 12
    for i, c in enumerate(cs):
        assert sp.simplify(c - (ref.coeff(z, i) if i else ref.subs(z, 0))) == 0


def test_general_term_and_pieces() -> None:
    j = sp.Symbol("j", integer=True, nonnegative=True)
    assert cx.general_term(sp.exp(z) - 1) is not None
    (s, r, t), = cx.general_term_pieces(sp.sin(z))
    assert (s, r) == (2, 1)
    assert all(sp.simplify(t.subs(j, n) - (-1) ** n / sp.factorial(2 * n + 1)) == 0
               for n in range(6))
    assert cx.general_term(sp.tanh(z)) is None  # Bernoulli numbers: sympy finds no formula
    assert cx.general_term_pieces(sp.tanh(z)) == []


def test_numeric_coefficients_far_out_match_exact() -> None:
    # coefficients from the general term (hypergeometric ratio), far beyond the exact head
    ser = cx._series(sp.sin(z) + sp.exp(z))
    la = ser.logabs(400)
    for i in (101, 250, 398):
        mult = 2 if i % 4 == 1 else 1
        assert la[i] == pytest.approx(math.log(mult) - math.lgamma(i + 1), rel=1e-12)
    assert la[399] == -math.inf or la[399] < la[398] - 10  # i = 399: 1/399! - 1/399! = 0


@pytest.mark.parametrize("phi,rho", [(sp.tanh(z), math.pi / 2), (SIGMOID, math.pi),
                                     (sp.log(1 + z), 1.0), (sp.atan(z), 1.0),
                                     (sp.sin(z), math.inf), (z**3 + 1, math.inf)])
def test_radius_of_convergence(phi: sp.Expr, rho: float) -> None:
    r, how = cx.radius_of_convergence(phi)
    assert r == pytest.approx(rho, rel=1e-12) if math.isfinite(rho) else r == math.inf
    assert how


def test_radius_without_general_term() -> None:
    # entire, no general term from sympy: the root-test estimate grows, sympy says entire
    assert cx.radius_of_convergence(sp.exp(z**2) * sp.cos(z))[0] == math.inf
    # poles at pi +- i acosh(2): sympy's singularities, confirmed by the coefficients
    rho, how = cx.radius_of_convergence(sp.exp(sp.sin(z)) / (2 + sp.cos(z)))
    assert rho == pytest.approx(abs(complex(math.pi, math.acosh(2))), rel=1e-12)
    assert "singularities" in how


@pytest.mark.parametrize("phi", [sp.Abs(z), sp.sqrt(z), 1 / z, sp.sign(z) * z**2, sp.log(z)])
def test_non_analytic_phi_is_rejected(phi: sp.Expr) -> None:
    with pytest.raises(ValueError, match="analytic"):
        cx.taylor_coefficients(phi, 3)


def test_closed_forms_for_monomials() -> None:
    R, eps, Cs = sp.symbols("R varepsilon C^*", positive=True)
    for d in range(1, 7):
        assert sp.simplify(cx.c_s(z**d, R) - C * (d + 1) ** sp.Rational(7, 4) * R**d) == 0
        ce = cx.c_eps(z**d, R, eps, C_star=Cs)
        expect = (Cs * R) ** d * (1 + (sp.log(1 / eps) / d) ** sp.Rational(d, 2))
        assert sp.simplify(sp.expand(ce - expect)) == 0


def test_float_inputs_give_one_number() -> None:
    v = cx.c_eps(z**3 - 2 * z, 3.0, 0.01)
    assert isinstance(v, sp.Float)
    exact = cx.c_eps(z**3 - 2 * z, 3, sp.Rational(1, 100))
    assert not isinstance(exact, sp.Float) and float(exact) == pytest.approx(float(v), rel=1e-14)


def test_i0_readings_differ_by_abs_c0() -> None:
    phi = sp.Rational(-3, 2) + z - z**2
    diff = cx.c_eps(phi, sp.Rational(1, 3), sp.Rational(1, 10)) - cx.c_eps(
        phi, sp.Rational(1, 3), sp.Rational(1, 10), i0="drop")
    assert sp.simplify(diff - sp.Rational(3, 2)) == 0
    # no constant term: both readings agree
    assert cx.c_eps(sp.sin(z), 1e-3, 0.1) == cx.c_eps(sp.sin(z), 1e-3, 0.1, i0="drop")
    assert cx.c_s(3 + z, 0) == 3 * C


def _mp_c_s(coef, R, n=200):
    with mpmath.workdps(40):
        return C * mpmath.fsum((i + 1) ** mpmath.mpf(1.75) * mpmath.mpf(R) ** i * abs(coef(i))
                               for i in range(n))


def test_numeric_measures_match_direct_sums() -> None:
    inv_fact = lambda i: mpmath.mpf(1) / mpmath.factorial(i)  # noqa: E731
    val = cx.c_s(sp.exp(z) - 1, 0.7)
    ref = _mp_c_s(lambda i: 0 if i == 0 else inv_fact(i), 0.7)
    assert abs(val / ref - 1) < 1e-13
    d = cx.c_eps_details(sp.sin(z), 2e-3, 1e-4)
    with mpmath.workdps(40):
        L = mpmath.log(10**4)
        ref = mpmath.fsum(((C * mpmath.mpf(2e-3)) ** i + (mpmath.sqrt(L / i) * C
                          * mpmath.mpf(2e-3)) ** i) * inv_fact(i) for i in range(1, 300, 2))
    assert d.kind == "numeric" and abs(d.value / ref - 1) < 1e-12
    assert d.rel_precision < 1e-10


def test_huge_values_are_mpf_not_inf() -> None:
    v = cx.c_eps(sp.sin(z), 1.0, 0.01)
    assert isinstance(v, mpmath.mpf)
    assert float(mpmath.log(v)) == pytest.approx(1e4 - 0.69, abs=0.05)  # ~ e^{C* R}/2
    assert cx.log_c_eps(sp.sin(z), 1.0, 0.01) == pytest.approx(float(mpmath.log(v)), rel=1e-12)


def test_infinite_beyond_radius() -> None:
    assert cx.c_s(sp.tanh(z), 2.0) == math.inf
    assert cx.c_s(sp.tanh(z), math.pi / 2) == math.inf
    assert math.isfinite(cx.c_s(sp.tanh(z), 1.0))
    assert cx.c_eps(sp.tanh(z), 1e-3, 0.1) == math.inf        # C* R = 10 > pi/2
    assert math.isfinite(cx.c_eps(sp.tanh(z), 1e-5, 0.1))     # C* R = 0.1 < pi/2
    assert cx.c_s_details(sp.log(1 + z), 1.0).kind == "infinite"


def test_log_measures_with_degree_equal_measures_of_truncation() -> None:
    for phi in (sp.sin(z), sp.tanh(z), SIGMOID):
        T = cx.truncate(phi, 7)
        assert cx.log_c_s(phi, 0.6, degree=7) == pytest.approx(
            math.log(float(cx.c_s(T, 0.6))), rel=1e-13)
        assert cx.log_c_eps(phi, 0.6, 1e-3, degree=7) == pytest.approx(
            math.log(float(cx.c_eps(T, 0.6, 1e-3))), rel=1e-13)
    # polynomials: exact path and fast numeric path agree
    phi = sp.Rational(1, 2) - z + z**3 / 3
    assert cx.log_c_eps(phi, 3.0, 1e-5) == pytest.approx(
        math.log(float(cx.c_eps(phi, 3.0, 1e-5))), rel=1e-13)
    assert cx.log_c_eps(phi, 3.0, log_inv_eps=1e4) == pytest.approx(
        math.log(float(cx.c_eps(phi, 3.0, sp.exp(-10**4)))), rel=1e-13)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="0 < eps < 1"):
        cx.c_eps(z, 1.0, 1.5)
    with pytest.raises(ValueError, match=">= 0"):
        cx.c_s(z, -1.0)
    with pytest.raises(ValueError, match="expression in"):
        cx.c_s(sp.Symbol("w") * z, 1.0)
    with pytest.raises(ValueError, match="i0"):
        cx.c_eps(z, 1.0, 0.1, i0="zero")
    with pytest.raises(ValueError, match="non-negative"):
        cx.taylor_coefficients(z, -1)
    with pytest.raises(ValueError, match="C_star"):
        cx.c_s(z, 1.0, C_star=0)


def test_truncation_error_and_smallest_degree() -> None:
    err = cx.truncation_sup_error(sp.sin(z), 1.0, 20)
    assert err[1] == pytest.approx(1 - math.sin(1), rel=1e-9)
    assert err[-1] < 1e-15
    assert cx.smallest_degree(np.array([1.0, 0.1, 0.5, 0.01, 0.001]), 0.2) == 3
    assert cx.smallest_degree(np.array([1.0, 0.5]), 0.1) is None
    beyond = cx.truncation_sup_error(sp.tanh(z), 2.0, 40)
    assert beyond[-1] > beyond[1] > 0.5  # diverges beyond pi/2


def test_gram_schmidt_basic_and_zero_rule() -> None:
    V = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    U, rep = cx.gram_schmidt(V, return_replaced=True)
    assert rep.tolist() == [False, True, True]
    np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(U[:, 0], [2**-0.5, 2**-0.5, 0])
    # deterministic rule: the basis vector with the longest residual (e_3, then e_1)
    np.testing.assert_allclose(U[:, 1], [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(U[:, 2], [2**-0.5, -(2**-0.5), 0], atol=1e-15)
    with pytest.raises(ValueError, match="n <= m"):
        cx.gram_schmidt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="shape"):
        cx.gram_schmidt(np.ones(3))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(0, 6), st.integers(0, 10**6))
def test_gram_schmidt_property(n: int, extra: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = n + extra
    V = rng.standard_normal((n, m))
    if n >= 3:
        V[2] = V[0] - V[1]  # a dependent vector
    U = cx.gram_schmidt(V)
    np.testing.assert_allclose(U.T @ U, np.eye(n), atol=1e-12)
    for i in range(n):  # v_i lies in the span of the first i+1 columns
        res = V[i] - U[:, : i + 1] @ (U[:, : i + 1].T @ V[i])
        assert np.linalg.norm(res) <= 1e-10 * max(1.0, np.linalg.norm(V[i]))
