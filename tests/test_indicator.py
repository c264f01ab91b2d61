"""Unit tests of rnnproof.indicator (Lemma 5.1: the explicit weight H)."""

import math

import numpy as np
import pytest
import sympy as sp
from numpy.polynomial import hermite_e as he
from scipy import integrate, stats

from rnnproof import indicator as ind
from rnnproof.concept import z


def _phi(x):
    return np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("i", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("x,c", [(0.4, 0.3), (-0.7, -0.5), (0.9, 0.0)])
def test_hermite_identity(i, x, c):
    """E[He_i(alpha) 1{alpha x + beta sqrt(1-x^2) + c >= 0}] = x^i He_{i-1}(-c) phi(c)."""
    e = np.eye(i + 1)[i]
    s = math.sqrt(1 - x * x)

    def inner(a):  # integrate beta in closed form
        return he.hermeval(a, e) * _phi(a) * stats.norm.cdf((a * x + c) / s)

    lhs = integrate.quad(inner, -12, 12, epsabs=1e-12, limit=200)[0]
    rhs = x ** i * he.hermeval(-c, np.eye(i)[i - 1]) * _phi(c)
    assert lhs == pytest.approx(rhs, abs=1e-9)


@pytest.mark.parametrize("i", [1, 2, 3, 4, 7, 8])
@pytest.mark.parametrize("s", [math.sqrt(0.75), 1.3, 4.0])
def test_hermite_moment_matches_quadrature(i, s):
    e = np.eye(i)[i - 1]

    def f(b):
        psi = 1.0 if i % 2 == 1 else np.sign(b)
        return psi * he.hermeval(-b / (2 * s), e) * _phi(b / (2 * s)) * _phi(b)

    num = integrate.quad(f, -15, 0, epsabs=1e-13)[0] + integrate.quad(f, 0, 15, epsabs=1e-13)[0]
    assert ind.hermite_moment(i, s) == pytest.approx(num, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("i", [1, 2, 5])
@pytest.mark.parametrize("B", [0.5, 2.0, 4.0])
def test_cutoff_tail_matches_quadrature(i, B):
    e = np.eye(i + 1)[i]
    num = 2 * integrate.quad(lambda a: abs(he.hermeval(a, e)) * _phi(a), B, 40, limit=200)[0]
    assert ind.cutoff_tail(i, B) == pytest.approx(num, rel=1e-8)


def test_taylor_coefficients():
    c, exact = ind.taylor_coefficients(z ** 3 - 2 * z, 10)
    assert exact and np.allclose(c, [0, -2, 0, 1])
    c, exact = ind.taylor_coefficients(sp.sin(z), 7)
    assert not exact and np.allclose(c[:8], [0, 1, 0, -1 / 6, 0, 1 / 120, 0, -1 / 5040])
    c, exact = ind.taylor_coefficients([0.0, 1.0, 0.5], 3)
    assert exact and np.allclose(c, [0, 1, 0.5])
    with pytest.raises(ValueError):
        ind.taylor_coefficients([], 3)


@pytest.mark.parametrize("phi", [z, z ** 2, z ** 3 - z, 1 + z + z ** 2 / 2])
@pytest.mark.parametrize("sigma", [0.0, 0.1, 1.0, 2.5])
def test_on_target_polynomials(phi, sigma):
    eps = 1e-4
    H = ind.build_weight(phi, sigma, eps)
    u = np.linspace(-ind.SQRT3_2, ind.SQRT3_2, 15)
    err = np.abs(ind.expectation(H, u, sigma) - ind.target_values(phi, u))
    assert err.max() <= eps
    assert H.taylor_tail == 0.0 and H.cutoff_error <= eps / 2 + 1e-15


def test_untruncated_is_exact():
    """With a huge cut-off the expectation equals sum_i c_i u^i to round-off."""
    H = ind.build_weight([0.0, 0.3, -0.5, 0.2], 1.0, 1e-3, cutoff=30.0)
    u = np.linspace(-0.8, 0.8, 9)
    assert np.allclose(ind.expectation(H, u, 1.0), 0.3 * u - 0.5 * u ** 2 + 0.2 * u ** 3,
                       atol=1e-11)


def test_non_polynomial_degree_and_error():
    H = ind.build_weight(sp.exp(z) - 1, 1.0, 1e-4)
    u = np.linspace(-ind.SQRT3_2, ind.SQRT3_2, 21)
    err = np.abs(ind.expectation(H, u, 1.0) - (np.exp(u) - 1))
    assert err.max() <= 1e-4
    assert H.taylor_tail <= 5e-5 and H.degree >= 5
    # lower degree: larger error; bound grows with the degree
    Hs = [ind.build_weight(sp.exp(z) - 1, 1.0, 1e-9, degree=N) for N in (2, 4, 6)]
    errs = [np.abs(ind.expectation(h, u, 1.0) - (np.exp(u) - 1)).max() for h in Hs]
    assert errs[0] > errs[1] > errs[2]


def test_bound_is_sup():
    H = ind.build_weight(z ** 2 + z, 0.7, 1e-3)
    a = np.concatenate([np.linspace(-H.cutoff - 1, H.cutoff + 1, 20001), [-H.cutoff, H.cutoff]])
    vals = np.abs(np.concatenate([H(a, 1.0), H(a, -1.0)]))
    assert vals.max() <= H.bound * (1 + 1e-12)
    assert vals.max() >= H.bound * (1 - 1e-4)
    assert H(H.cutoff + 0.1, 1.0) == 0.0  # only 2 c_0 = 0 outside the cut-off


def test_structure_odd_even():
    H = ind.build_weight(z ** 2 + z, 1.0, 1e-3)
    a = np.linspace(-3, 3, 11)
    # odd Hermite part ignores the bias, even part flips with its sign
    odd = 0.5 * (H(a, 1.0) + H(a, -1.0))
    even = 0.5 * (H(a, 1.0) - H(a, -1.0))
    assert np.allclose(odd, -odd[::-1]) and np.allclose(even, even[::-1])
    assert H(np.zeros((2, 3)), np.ones((2, 3))).shape == (2, 3)


def test_constant_term_and_off_target_limit():
    H = ind.build_weight(1 + z, 0.5, 1e-4)
    assert float(ind.expectation(H, 0.3, 0.5)) == pytest.approx(1.3, abs=1e-4)
    assert float(ind.expectation(H, 0.3, 0.5, gamma=1e4)) == pytest.approx(1.0, abs=1e-3)


def test_expectation_general_against_brute_force():
    """Closed-form b and zeta integration against a plain 2-D tensor Gauss-Legendre rule."""
    H = ind.build_weight(z ** 2 - z, 0.5, 1e-3)
    p, q, tau, shift = 0.4, 0.5, 0.6, 0.2
    x, w = np.polynomial.legendre.leggauss(300)

    def rule(lo, hi):
        return 0.5 * (hi - lo) * x + 0.5 * (hi + lo), 0.5 * (hi - lo) * w

    tot = 0.0
    for alo, ahi in ((-H.cutoff, 0.0), (0.0, H.cutoff)):
        a, wa = rule(alo, ahi)
        for blo, bhi in ((-12.0, 0.0), (0.0, 12.0)):
            b, wb = rule(blo, bhi)
            A, Bm = np.meshgrid(a, b, indexing="ij")
            f = H(A, Bm) * _phi(A) * _phi(Bm) * stats.norm.cdf((p * A + q * Bm + shift) / tau)
            tot += wa @ f @ wb
    assert float(ind.expectation_general(H, p, q, tau, shift)) == pytest.approx(tot, abs=1e-9)


def test_degenerate_tau_zero():
    """tau = 0 (no remainder, no noise): still finite and equal to the small-tau limit."""
    H = ind.build_weight(z ** 2, 0.0, 1e-3)
    a = float(ind.expectation_general(H, 0.5, 0.5, 0.0, 0.1))
    b = float(ind.expectation_general(H, 0.5, 0.5, 1e-7, 0.1))
    assert a == pytest.approx(b, abs=1e-5)


def test_monte_carlo_agrees():
    H = ind.build_weight(sp.sin(z) + z ** 2, 0.5, 1e-3)
    q = float(ind.expectation(H, 0.4, 0.5, gamma=3.0))
    mean, se = ind.monte_carlo(H, 0.4, 0.5, gamma=3.0, samples=200_000, seed=1)
    assert abs(q - mean) <= 4 * se


def test_controls_change_the_answer():
    H = ind.build_weight(z ** 2, 1.0, 1e-3)
    u = 0.8
    assert float(ind.expectation(H.scaled(0.0), u, 1.0)) == 0.0
    assert float(ind.expectation(H.without_bias(), u, 1.0)) == pytest.approx(0.0, abs=1e-3)
    assert float(ind.expectation(H.scaled(-1.0), u, 1.0)) == pytest.approx(-0.64, abs=1e-3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="sigma"):
        ind.build_weight(z, -0.1, 1e-3)
    with pytest.raises(ValueError, match="eps_e"):
        ind.build_weight(z, 1.0, 0.0)
    with pytest.raises(ValueError, match="degree"):
        ind.build_weight(z, 1.0, 1e-3, degree=-1)
    H = ind.build_weight(z, 1.0, 1e-3)
    with pytest.raises(ValueError, match="sqrt\\(3\\)/2"):
        ind.expectation(H, 0.9, 1.0)
    with pytest.raises(ValueError, match="WeightFunction"):
        ind.expectation_general(lambda a, b: a, 0.1, 0.5, 1.0)
    with pytest.raises(ValueError, match="Phi must be"):
        ind.build_weight(sp.Symbol("y") * z, 1.0, 1e-3)
