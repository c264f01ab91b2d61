"""Unit tests of rnnproof.rademacher (proof step 4: the exact supremum over the Frobenius ball)."""

import numpy as np
import pytest

import rnnproof as rp
from rnnproof import rademacher as rad
from rnnproof.concept import random_true_inputs

L, D_X, D, EPS = 5, 5, 2, 0.2


@pytest.fixture(scope="module")
def net():
    w = rp.init_weights(24, D_X, D, 1)
    x = rp.embed(random_true_inputs(7, L, D_X, 2), EPS)
    return w, x


def test_gradient_factors_reproduce_linear_response(net):
    """<W', sum_i a_i h_{i-1}^T> = f_{j,s}(x; W') of (5.1) for every j and s."""
    w, x = net
    Wp = np.random.default_rng(0).standard_normal((w.m, w.m))
    f = rp.linear_response(w, x, Wp)
    for j in range(2, L + 1):
        for s in range(D):
            G = rad.linear_class_gradient(w, x, j, s)
            assert np.allclose(np.einsum("nik,ik->n", G, Wp), f[:, j, s], atol=1e-12)


def test_gradient_matches_back_operators(net):
    w, x = net
    back = rp.back_operators(w, x)
    tr = rp.forward_trace(w, x)
    a, h = rad.gradient_factors(w, x, L, 1)
    for i in range(2, L + 1):
        assert np.allclose(a[:, i - 2], back[:, i, L, 1] * tr.D[:, i], atol=1e-13)
        assert np.allclose(h[:, i - 2], tr.h[:, i - 1])


def test_gram_equals_dense_inner_products(net):
    w, x = net
    a, h = rad.gradient_factors(w, x, 4, 0)
    G = rad.linear_class_gradient(w, x, 4, 0)
    assert np.allclose(rad.gram(a, h), np.einsum("nik,pik->np", G, G), rtol=1e-12)


def test_exact_small_cases():
    K1 = np.array([[4.0]])
    r = rad.rademacher_from_gram(K1, 0.5)
    assert r.exact and r.value == pytest.approx(0.5 * 2.0)
    K2 = np.array([[2.0, 0.5], [0.5, 1.0]])
    r = rad.rademacher_from_gram(K2, 1.0)
    expect = 0.5 * (np.sqrt(3 + 1.0) + np.sqrt(3 - 1.0)) / 2
    assert r.value == pytest.approx(expect, rel=1e-14)
    assert r.lower <= r.value <= r.upper


def test_monte_carlo_agrees_with_enumeration(net):
    w, x = net
    a, h = rad.gradient_factors(w, x, L, 0)
    K = rad.gram(a, h)
    ex = rad.rademacher_from_gram(K, 1.0)
    mc = rad.rademacher_from_gram(K, 1.0, draws=4000, seed=3, exact_max_n=0)
    assert ex.exact and not mc.exact and mc.stderr > 0
    assert abs(mc.value - ex.value) < 4 * mc.stderr
    assert ex.lower <= ex.value <= ex.upper


def test_supremum_is_attained_and_not_exceeded(net):
    """For fixed signs the maximizer is W' = tau S / ||S||_F, S = sum_n eps_n G(x_n); random
    W' on the sphere never do better (Cauchy-Schwarz)."""
    w, x = net
    G = rad.linear_class_gradient(w, x, L, 0)
    g_ = np.random.default_rng(1)
    eps = g_.choice((-1.0, 1.0), size=G.shape[0])
    S = np.einsum("n,nik->ik", eps, G)
    tau = 0.3
    best = tau * S / np.linalg.norm(S)
    val = np.mean(eps * rp.linear_response(w, x, best)[:, L, 0])
    assert val == pytest.approx(tau * np.linalg.norm(S) / G.shape[0], rel=1e-12)
    for _ in range(20):
        V = g_.standard_normal(S.shape)
        V *= tau / np.linalg.norm(V)
        assert np.mean(eps * rp.linear_response(w, x, V)[:, L, 0]) <= val + 1e-12


def test_empirical_rademacher_defaults_to_last_position(net):
    w, x = net
    r1 = rad.empirical_rademacher(w, x, 1.0)
    a, h = rad.gradient_factors(w, x, L, 0)
    r2 = rad.rademacher_from_gram(rad.gram(a, h), 1.0)
    assert r1.value == pytest.approx(r2.value)


def test_bad_inputs_are_clear_errors(net):
    w, x = net
    with pytest.raises(ValueError, match="position j"):
        rad.gradient_factors(w, x, L + 1)
    with pytest.raises(ValueError, match="output coordinate"):
        rad.gradient_factors(w, x, L, D)
    with pytest.raises(ValueError, match="symmetric"):
        rad.rademacher_from_gram(np.array([[1.0, 2.0], [0.0, 1.0]]), 1.0)
    with pytest.raises(ValueError, match="radius"):
        rad.rademacher_from_gram(np.eye(2), -1.0)
    with pytest.raises(ValueError, match="draws"):
        rad.rademacher_from_gram(np.eye(20), 1.0, draws=1)
    with pytest.raises(ValueError, match="both"):
        rad.gram(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))


def test_dyadic_radius():
    tau, k = rad.dyadic_radius(3.0 / 8.0, 64)  # norm * sqrt(m) = 3 -> 4
    assert tau == pytest.approx(4 / 8) and k == 2
    tau, k = rad.dyadic_radius(1.0 / 8.0, 64)
    assert tau == pytest.approx(1 / 8) and k == 0
    assert sum(1 / (3 * (abs(k) + 1) ** 2) for k in range(-10_000, 10_001)) < 1
    with pytest.raises(ValueError, match="norm"):
        rad.dyadic_radius(-1.0, 64)


def test_logistic_losses_agree_with_train_risk(net):
    from rnnproof import train

    w, x = net
    y = np.where(np.random.default_rng(4).standard_normal((x.shape[0], L - 2, D)) > 0, 1.0, -1.0)
    sh = 0.01 * np.random.default_rng(5).standard_normal((w.m, w.m))
    true, lin = rad.logistic_losses(w, x, y, 0.5, sh)
    assert true.mean() == pytest.approx(train.risk(w, x, y, 0.5, sh, loss="logistic"), rel=1e-12)
    assert np.abs(true - lin).max() < 1e-2


def test_generalization_bound_terms(net):
    """Zero shift: the first-order error vanishes and the radius is the smallest grid point;
    the bound's pieces add up."""
    w, x = net
    g = np.random.default_rng(6)
    y = np.where(g.standard_normal((x.shape[0], L - 2, D)) > 0, 1.0, -1.0)
    xe = rp.embed(random_true_inputs(9, L, D_X, 7), EPS)
    ye = np.where(g.standard_normal((9, L - 2, D)) > 0, 1.0, -1.0)
    sh = 0.02 * g.standard_normal((w.m, w.m))
    b = rad.generalization_bound(w, x, y, xe, ye, 0.5, sh, delta=0.1)
    assert b.norm <= b.tau < 2 * b.norm + 1e-12
    assert len(b.rademacher) == (L - 2) * D
    assert b.complexity_term == pytest.approx(2 * 0.5 * sum(b.rademacher.values()))
    assert b.bound_high_prob == pytest.approx(b.bound_expectation + b.confidence_term)
    assert b.bound_expectation == pytest.approx(b.complexity_term + b.approx_train
                                                + b.approx_eval)
    assert b.delta_k == pytest.approx(0.1 / (3 * (abs(b.k) + 1) ** 2))
    b0 = rad.generalization_bound(w, x, y, xe, ye, 0.5, 0 * sh, tau=0.1)
    assert b0.approx_train == 0 and b0.approx_eval == 0 and b0.tau == 0.1
    with pytest.raises(ValueError, match="delta"):
        rad.generalization_bound(w, x, y, xe, ye, 0.5, sh, delta=1.5)


def test_output_gradient_factors_equal_the_per_position_ones(net):
    w, x = net
    fac = rad.output_gradient_factors(w, x)
    assert sorted(fac) == [(j, s) for j in range(3, L + 1) for s in range(D)]
    for (j, s), (a, h) in fac.items():
        a1, h1 = rad.gradient_factors(w, x, j, s)
        assert np.allclose(a, a1, atol=1e-14) and np.allclose(h, h1)


def test_adversarial_member_norm_and_gap(net):
    w, x = net
    g = np.random.default_rng(8)
    y = np.where(g.standard_normal((x.shape[0], L - 2, D)) > 0, 1.0, -1.0)
    xd = rp.embed(random_true_inputs(9, L, D_X, 9), EPS)
    yd = np.where(g.standard_normal((9, L - 2, D)) > 0, 1.0, -1.0)
    xt = rp.embed(random_true_inputs(11, L, D_X, 10), EPS)
    yt = np.where(g.standard_normal((11, L - 2, D)) > 0, 1.0, -1.0)
    adv = rad.adversarial_member(w, x, y, xd, yd, xt, yt, 0.5, 0.2)
    assert np.linalg.norm(adv.shift) == pytest.approx(0.2)
    _, lin = rad.logistic_losses(w, x, y, 0.5, adv.shift)
    assert adv.train == pytest.approx(lin.mean(), rel=1e-12)
    assert adv.gap == pytest.approx(adv.test - adv.train) and adv.test_stderr > 0
    # its label-dependent part beats a random member of the same norm on (Z, x_dir)
    V = np.random.default_rng(1).standard_normal((w.m, w.m))
    V *= 0.2 / np.linalg.norm(V)
    def part(xx, yy, M):
        f = rp.linear_response(w, xx, M)[:, 3:]
        return float((-yy * 0.5 * f / 2).sum(axis=(1, 2)).mean())
    assert part(xd, yd, adv.shift) - part(x, y, adv.shift) >= part(xd, yd, V) - part(x, y, V)
    with pytest.raises(ValueError, match="radius"):
        rad.adversarial_member(w, x, y, xd, yd, xt, yt, 0.5, -1.0)
