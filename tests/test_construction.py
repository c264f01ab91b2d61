"""Unit tests of rnnproof.construction (Lemma 5.2, Definition 5.3, Lemma 5.4)."""

import dataclasses
import math

import numpy as np
import pytest
import sympy as sp

from rnnproof import (
    LowRank,
    back_operators,
    embed,
    hidden_states,
    init_weights,
    linear_response,
    null_sequence,
)
from rnnproof import construction as cons
from rnnproof import indicator as ind
from rnnproof.concept import random_target, random_true_inputs, z
from rnnproof.initialization import kernel

L, D_X, D, P = 5, 5, 2, 2


@pytest.fixture(scope="module")
def target():
    return random_target(L, D_X, D, P, [z ** 2, sp.sin(z), sp.exp(z) - 1], seed=3)


@pytest.fixture(scope="module")
def built(target):
    w = init_weights(256, D_X, D, 0)
    c = cons.construct_w_star(w, target, 0.1, 1e-2, 0.3, keep_terms=True)
    return w, c


def test_null_limits_match_kernel_and_do_not_depend_on_x_star():
    eps = 0.05
    N, K = cons.null_limits(L, eps)
    assert N[1] == K[1] == 1.0
    assert np.allclose(N[1:], 1 + np.arange(L) * eps ** 2)
    assert np.all(K[1:] <= N[1:] + 1e-15)
    for seed in (1, 2):
        x = embed(random_true_inputs(1, L, D_X, seed), eps)
        Kx = kernel(x, null_sequence(L, D_X, eps))[0, 0]
        assert np.allclose(np.diagonal(Kx), K, rtol=1e-12, atol=1e-14)


def test_active_probability_matches_simulation():
    rng = np.random.default_rng(0)
    m = 400
    h = np.abs(rng.standard_normal(m))
    h /= np.linalg.norm(h) / 1.3
    w = rng.standard_normal((20000, m)) * math.sqrt(2 / m)
    for eps_c in (0.1, 1.0):
        frac = np.mean(np.abs(w @ h) <= eps_c / math.sqrt(m))
        p = float(cons.active_probability(eps_c, h @ h))
        assert abs(frac - p) <= 4 * math.sqrt(p * (1 - p) / 20000)


def test_position_weight_design():
    w = np.array([0.6, 0.8, 0.0, 0.0, 0.0])
    pw = cons.position_weight(z ** 2, w, 4, L, 0.01, 1e-2, 0.02)
    N, K = cons.null_limits(L, 0.01)
    v = (N[3] - K[3] ** 2 / N[3]) / 0.01 ** 2
    assert pw.sigma == pytest.approx(math.sqrt(v + (K[3] / N[3]) ** 2 * pw.delta ** 2 / 3))
    assert pw.delta == pytest.approx(0.02 / (math.sqrt(2) * 0.01))
    assert pw.bound == pytest.approx(pw.H51.bound / pw.p0)
    a = np.random.default_rng(0).standard_normal((7, D_X + 1)) * math.sqrt(2 / 100)
    vals = pw(a, 100)
    aa = a * math.sqrt(50)
    assert np.allclose(vals, pw.H51(aa[:, :D_X] @ w, aa[:, D_X - 1]) / pw.p0)
    with pytest.raises(ValueError, match="2 <= i <= L-1"):
        cons.position_weight(z, w, 1, L, 0.01, 1e-2, 0.02)
    with pytest.raises(ValueError, match="unit vector"):
        cons.position_weight(z, 2 * w, 3, L, 0.01, 1e-2, 0.02)
    with pytest.raises(ValueError, match="eps_c"):
        cons.position_weight(z, w, 3, L, 0.01, 1e-2, 0.0)


def test_window_expectation_against_monte_carlo():
    """Quadrature against fresh (w~, a~) ~ N(0, 2I/m) drawn explicitly."""
    rng = np.random.default_rng(1)
    m, eps_x, eps_c = 60, 0.2, 0.25
    h0 = np.abs(rng.standard_normal(m))
    h0 /= np.linalg.norm(h0)
    hp = h0 + 0.3 * eps_x * rng.standard_normal(m) / math.sqrt(m)
    wstar = np.array([0.6, 0.0, 0.8, 0.0, 0.0])
    xs = np.array([0.3, 0.5, -0.2, 0.0, 0.5])
    xs[3] = math.sqrt(1 - (xs ** 2).sum())
    x_tok = np.concatenate([eps_x * xs, [0.0]])
    pw = cons.position_weight(z ** 2 + z, wstar, 3, L, eps_x, 1e-2, eps_c)
    q = float(cons.window_expectation(pw.H, h0 @ h0, h0 @ hp, hp @ hp, xs @ wstar, 0.5,
                                      eps_x, eps_c))
    S = 400_000
    wt = rng.standard_normal((S, m)) * math.sqrt(2 / m)
    at = rng.standard_normal((S, D_X + 1)) * math.sqrt(2 / m)
    win = np.abs(wt @ h0) <= eps_c / math.sqrt(m)
    ind_ = (wt @ hp + at @ x_tok) >= 0
    vals = win * ind_ * pw(at, m)
    mean, se = vals.mean(), vals.std(ddof=1) / math.sqrt(S)
    assert abs(q - mean) <= 4 * se


def test_single_function_vectorized_and_limit(target):
    w = init_weights(128, D_X, D, 1)
    xs = random_true_inputs(3, L, D_X, 5)
    g = cons.null_grams(w, embed(xs, 0.05), 0.05)
    t = next(tt for tt in target.terms if tt.i == 3)
    pw = cons.position_weight(t.phi, t.w_star, 3, L, 0.05, 1e-2, 0.05)
    many = cons.single_function_expectations(pw, g, xs, [2, 3, 5], L)
    for k, ip in enumerate([2, 3, 5]):
        assert np.allclose(many[:, k], cons.single_function_expectations(pw, g, xs, ip, L))
    lim = cons.single_function_expectations(pw, None, xs, 3, L)
    u = xs[:, 1] @ t.w_star
    assert np.abs(lim - ind.target_values(t.phi, u)).max() <= 1e-2
    with pytest.raises(ValueError, match="only available on target"):
        cons.single_function_expectations(pw, None, xs, 2, L)
    with pytest.raises(ValueError, match="2..L"):
        cons.single_function_expectations(pw, g, xs, 1, L)


def test_w_star_is_low_rank_and_matches_formula(built, target):
    w, c = built
    m = w.m
    assert isinstance(c.W_star, LowRank) and c.W_star.U.shape == (m, L - 2)
    x0 = null_sequence(L, D_X, 0.1)
    h0 = hidden_states(w, x0)[0]
    back0 = back_operators(w, x0)[0]
    assert np.allclose(c.W_star.V, h0[1:L - 1].T)
    dense = np.zeros((m, m))
    for t in target.terms:
        Cijs = (back0[t.i, t.j, t.s] ** 2).sum() * (h0[t.i - 1] ** 2).sum() / m
        act = np.abs(w.W @ h0[t.i - 1]) <= c.eps_c / math.sqrt(m)
        pw = cons.position_weight(t.phi, t.w_star, t.i, L, 0.1, 1e-2, c.eps_c)
        Hk = np.where(act, pw(w.A, m), 0.0)
        dense += np.outer(back0[t.i, t.j, t.s] * Hk / (m * Cijs), h0[t.i - 1])
    assert np.allclose(c.W_star.dense(), dense, rtol=1e-10, atol=1e-13)
    assert np.array_equal(c.active_counts, [int(np.sum(np.abs(w.W @ h0[i - 1]) <= c.eps_c /
                                                      math.sqrt(m))) for i in range(2, L)])


def test_tiny_window_gives_zero(target):
    w = init_weights(128, D_X, D, 2)
    c = cons.construct_w_star(w, target, 0.01, 1e-2, 1e-12)
    assert c.active_counts.sum() == 0 and c.W_star.frobenius_norm() == 0.0


def test_decomposition_adds_up_to_f(built, target):
    w, c = built
    xs = random_true_inputs(3, L, D_X, 9)
    x = embed(xs, 0.1)
    dec = cons.decompose_response(w, x, c)
    f = linear_response(w, x, c.W_star)
    assert np.allclose(dec["total"], f, rtol=1e-10, atol=1e-12)
    assert np.all(dec["diagonal"][:, :3] == 0)


def test_mean_field_is_linear_in_H(built, target):
    w, c = built
    xs = random_true_inputs(2, L, D_X, 4)
    x = embed(xs, 0.1)
    mf = cons.mean_field_response(w, x, xs, c, target)
    c2 = dataclasses.replace(c, weights_by_term=[dataclasses.replace(pw, H=pw.H.scaled(-2.0))
                                                 for pw in c.weights_by_term])
    mf2 = cons.mean_field_response(w, x, xs, c2, target)
    assert np.allclose(mf2["total"], -2 * mf["total"])
    assert np.allclose(mf["total"], mf["diagonal"] + mf["cross_i"] + mf["cross_j"]
                       + mf["cross_s"])


def test_random_lowrank_like(built):
    _, c = built
    r = cons.random_lowrank_like(c, 0)
    assert r.U.shape == c.W_star.U.shape
    assert r.frobenius_norm() == pytest.approx(c.W_star.frobenius_norm(), rel=1e-10)


def test_paper_constants(target):
    k = cons.paper_constants(target, 0.01, 1e-2)
    assert k["eps_c"] == pytest.approx(1e-2 * 0.01 / (4 * k["C_prime"]))
    assert k["C"] == pytest.approx(4 * k["C_prime"] ** 2 / (1e-2 * 0.01))


def test_bad_inputs(built, target):
    w, c = built
    with pytest.raises(ValueError, match="keep_terms"):
        cons.decompose_response(w, embed(random_true_inputs(1, L, D_X, 0), 0.1),
                                dataclasses.replace(c, G=None))
    with pytest.raises(ValueError, match="d_x"):
        cons.construct_w_star(init_weights(32, D_X + 1, D, 0), target, 0.1, 1e-2, 0.1)
    with pytest.raises(ValueError, match="eps_x"):
        cons.null_limits(L, 1.5)


def test_expectations_for_several_directions_at_once(target):
    w = init_weights(128, D_X, D, 3)
    xs = random_true_inputs(3, L, D_X, 6)
    g = cons.null_grams(w, embed(xs, 0.05), 0.05)
    terms = [t for t in target.terms if t.i == 3][:3]
    pws = [cons.position_weight(t.phi, t.w_star, 3, L, 0.05, 1e-2, 0.05) for t in terms]
    dirs = np.stack([t.w_star for t in terms])
    many = cons.single_function_expectations(pws[0], g, xs, [2, 3, 5], L, directions=dirs)
    one = cons.single_function_expectations(pws[0], g, xs, 3, L, directions=dirs)
    assert many.shape == (3, len(terms), 3) and one.shape == (3, len(terms))
    for k, t in enumerate(terms):
        pw = dataclasses.replace(pws[0], w_star=t.w_star)
        assert np.allclose(many[:, k], cons.single_function_expectations(pw, g, xs, [2, 3, 5], L),
                           rtol=1e-12, atol=1e-14)
        assert np.allclose(one[:, k], many[:, k, 1], rtol=1e-12, atol=1e-14)
