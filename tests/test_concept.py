"""Unit tests of rnnproof.concept: targets of the form (3.1), Example 3.5, Example 3.6,
footnote 6 and the noisy data sets."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
import sympy as sp

from rnnproof import concept as C
from rnnproof.concept import z


def test_random_target_shapes_and_causality() -> None:
    t = C.random_target(6, 5, 2, 2, [z, sp.sin(z)], seed=0)
    xs = C.random_true_inputs(7, 6, 5, seed=1)
    F = t(xs)
    assert F.shape == (7, 7, 2)
    assert np.all(F[:, :3] == 0)
    assert t.labels(xs).shape == (7, 4, 2)
    assert t.p == 2
    other = C.random_true_inputs(7, 6, 5, seed=2)
    for j in range(3, 7):
        mixed = xs.copy()
        mixed[:, j - 2:] = other[:, j - 2:]
        np.testing.assert_array_equal(t(mixed)[:, j], F[:, j])


def test_reference_value_matches_and_off_by_one_differs() -> None:
    t = C.random_target(5, 4, 1, 1, [z ** 2, sp.exp(z) - 1], seed=3)
    xs = C.random_true_inputs(3, 5, 4, seed=4)
    F = t(xs)
    for j in range(3, 6):
        np.testing.assert_allclose(C.reference_value(t, xs, j, 0), F[:, j, 0], atol=1e-13)
    assert np.abs(C.reference_value(t, xs, 5, 0, upto=3) - F[:, 5, 0]).max() > 1e-6


def test_term_validation() -> None:
    w = np.array([1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="Phi\\(0\\) = 0"):
        C.Term(2, 3, 0, 0, sp.cos(z), w)
    with pytest.raises(ValueError, match="2 <= i < j"):
        C.Term(3, 3, 0, 0, z, w)
    with pytest.raises(ValueError, match="last coordinate 0"):
        C.Term(2, 3, 0, 0, z, np.array([0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="unit"):
        C.Term(2, 3, 0, 0, z, np.array([2.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="Phi\\(0\\) = 0"):
        C.Term._compiled(2, 3, 0, 0, sp.cos(z), w, lambda u: np.cos(u))


def test_scaled_and_normalized() -> None:
    t = C.random_target(5, 5, 1, 1, [sp.sin(2 * z)], seed=0)
    xs = C.random_true_inputs(9, 5, 5, seed=1)
    np.testing.assert_allclose(C.scaled(t, -2.5)(xs), -2.5 * t(xs), rtol=1e-14)
    n = C.normalized(t, n=4096, seed=7)
    f = n.labels(C.random_true_inputs(4096, 5, 5, 7))
    assert abs(float((f ** 2).mean()) - 1.0) < 1e-10


def test_two_layer_net_is_of_the_form_3_1() -> None:
    net = C.random_two_layer(6, 6, 2, 3, sp.tanh(z) + z ** 2, seed=0)
    xs = C.random_true_inputs(20, 7, 6, seed=1)
    tgt = net.to_target(7)
    np.testing.assert_allclose(tgt(xs), net(xs), atol=1e-13)
    assert tgt.p == 3
    assert len(tgt.terms) == 15 * 3 * 2
    assert np.abs(net(xs, lag_shift=1)[:, :6] - net(xs)[:, :6]).max() > 1e-6


def test_two_layer_net_outside_the_class() -> None:
    net = C.random_two_layer(4, 5, 1, 2, 1 / (1 + sp.exp(-z)), seed=0)
    with pytest.raises(ValueError, match="phi\\(0\\) = 0"):
        net.to_target(6)
    W = net.W_stars.copy()
    W[:, :, -1] = 0.3
    biased = C.TwoLayerNet(net.A_stars, W, sp.sin(z))
    with pytest.raises(ValueError, match="last coordinate 0"):
        biased.to_target(6)
    off = C.two_layer_offset(biased, 6)
    expected = sum(biased.A_stars[k - 1] @ np.sin(W[k - 1, :, -1] / 2) for k in range(1, 5))
    np.testing.assert_allclose(off[6], expected, rtol=1e-13)
    assert np.all(off[:3] == 0)


def test_two_layer_net_validation() -> None:
    with pytest.raises(ValueError, match="A_stars"):
        C.TwoLayerNet(np.zeros((2, 1, 3)), np.zeros((2, 2, 4)), z)
    net = C.random_two_layer(3, 4, 1, 1, z, seed=0)
    with pytest.raises(ValueError, match="K"):
        net.to_target(8)


def test_counting_construction() -> None:
    a, b = C.two_tokens(3)
    for tok in (a, b):
        assert abs(np.linalg.norm(tok) - 1) < 1e-15 and tok[-1] == 0.5
    w = C.separating_direction(a, b)
    assert abs(np.linalg.norm(w) - 1) < 1e-15 and w[-1] == 0
    phi = C.counting_phi(a, b, w)
    f = sp.lambdify(z, phi)
    assert abs(f(w @ a) - 1) < 1e-12 and abs(f(w @ b) + 1) < 1e-12
    assert phi.subs(z, 0) == 0
    with pytest.raises(ValueError, match="nonzero and distinct"):
        C.counting_phi(a, b, np.array([1.0, 0.0, 0.0]))
    # an asymmetric direction needs a genuine quadratic
    w2 = np.array([0.9, 0.1, 0.0])
    w2 /= np.linalg.norm(w2)
    phi2 = C.counting_phi(a, b, w2)
    f2 = sp.lambdify(z, phi2)
    assert abs(f2(w2 @ a) - 1) < 1e-12 and abs(f2(w2 @ b) + 1) < 1e-12
    assert abs(float(sp.Poly(phi2, z).coeff_monomial(z ** 2))) > 1e-3


def test_counting_target_counts_prefixes() -> None:
    a, b = C.two_tokens(4)
    t = C.counting_target(8, a, b)
    strings = ["".join(s) for s in product("ab", repeat=6)]
    F = t(C.strings_to_tokens(strings, a, b))[:, :, 0]
    for s, row in zip(strings, F):
        for j in range(3, 9):
            pre = s[: j - 2]
            assert abs(row[j] - (pre.count("a") - pre.count("b"))) < 1e-12


def test_weighted_count_tells_aaab_from_aaba() -> None:
    a, b = C.two_tokens(3)
    pair = C.strings_to_tokens(["aaab", "aaba"], a, b)
    pos = C.weighted_count_target(6, a, b, [1, -1, 1, -1])(pair)[:, 6, 0]
    cnt = C.counting_target(6, a, b)(pair)[:, 6, 0]
    assert abs(pos[0] - pos[1]) == pytest.approx(4.0)
    assert abs(cnt[0] - cnt[1]) < 1e-12
    with pytest.raises(ValueError, match="weights"):
        C.weighted_count_target(6, a, b, [1, 2])


def test_strings_validation_and_sampler() -> None:
    a, b = C.two_tokens(3)
    with pytest.raises(ValueError, match="letters"):
        C.strings_to_tokens(["abc"], a, b)
    with pytest.raises(ValueError, match="same length"):
        C.strings_to_tokens(["ab", "aab"], a, b)
    with pytest.raises(ValueError, match="even"):
        C.random_strings(4, 5, 0)
    s = C.random_strings(400, 6, 0)
    assert all(len(x) == 6 and set(x) <= {"a", "b"} for x in s)
    share = np.mean([x == "aaabbb" for x in s])
    assert 0.4 < share < 0.6
    with pytest.raises(ValueError, match="d_x >= 3"):
        C.two_tokens(2)


def test_dataset_opt_and_noise() -> None:
    t = C.random_target(5, 4, 2, 1, [z], seed=0)
    d = C.sample_dataset(t, 50000, 0.2, seed=3)
    assert d.opt == pytest.approx(0.5 * 3 * 2 * 0.04)
    emp = 0.5 * ((d.y_star - d.clean) ** 2).sum(axis=(1, 2)).mean()
    assert abs(emp - d.opt) < 5 * 0.5 * 0.04 * np.sqrt(2 * 6 / 50000) * 6
    clean = C.make_dataset(t, d.x_star[:10], 0.0, seed=1)
    np.testing.assert_array_equal(clean.y_star, clean.clean)
    assert clean.opt == 0.0 and clean.N == 10 and clean.L == 5
    assert d.embed(0.5).shape == (50000, 6, 5)
    with pytest.raises(ValueError, match="noise"):
        C.make_dataset(t, d.x_star[:2], -1.0, seed=0)
