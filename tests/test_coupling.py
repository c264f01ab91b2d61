"""Unit tests of rnnproof.coupling (proof step 1: first-order approximation)."""

import numpy as np
import pytest

import rnnproof as rp
from rnnproof import backend, coupling
from rnnproof.concept import random_true_inputs

L, D_X, D, EPS = 5, 5, 2, 0.1


@pytest.fixture(scope="module")
def net():
    w = rp.init_weights(64, D_X, D, 3)
    x = rp.embed(random_true_inputs(6, L, D_X, 4), EPS)
    return w, x


def test_decomposition_is_exact(net):
    w, x = net
    shift = 0.05 * coupling.random_direction(w.m, 1)
    fo = coupling.first_order(w, x, shift)
    F0, F1 = rp.outputs(w, x), rp.outputs(w, x, shift)
    assert np.allclose(fo.delta_F, F1 - F0, atol=1e-13)
    assert np.allclose(fo.f, rp.linear_response(w, x, shift), atol=1e-13)
    assert np.allclose(fo.delta_F, fo.f + fo.remainder, atol=1e-13)


def test_zero_shift_has_no_remainder_and_no_flips(net):
    w, x = net
    fo = coupling.first_order(w, x, np.zeros((w.m, w.m)))
    assert np.abs(fo.remainder).max() == 0 and fo.flip_fraction == 0 and fo.flip_predicted == 0


def test_tiny_shift_is_first_order(net):
    """f is the directional derivative: the remainder vanishes faster than the shift."""
    w, x = net
    direction = coupling.aligned_direction(w, L, EPS)
    rel = []
    for c in (1e-3, 1e-5):
        fo = coupling.first_order(w, x, c * direction.dense())
        rel.append(np.abs(fo.remainder).max() / np.abs(fo.f).max())
    # second order: the relative remainder falls with the shift (100x smaller shift here)
    assert rel[1] < 0.05 * rel[0] and rel[1] < 1e-4


def test_aligned_direction_unit_norm_and_large_response(net):
    w, x = net
    a = coupling.aligned_direction(w, L, EPS)
    assert a.frobenius_norm() == pytest.approx(1.0, rel=1e-12)
    assert np.linalg.norm(a.dense()) == pytest.approx(1.0, rel=1e-12)
    r = coupling.random_direction(w.m, 0)
    fa = np.abs(rp.linear_response(w, x, a)[:, L, 0]).mean()
    fr = np.abs(rp.linear_response(w, x, r)[:, L, 0]).mean()
    assert fa > 3 * fr  # the W*-shaped direction moves the output at j = L much more


def test_random_direction_norms():
    M = coupling.random_direction(32, 5)
    assert np.linalg.norm(M) == pytest.approx(1.0)
    lr = coupling.random_direction(32, 5, rank=3)
    assert isinstance(lr, rp.LowRank) and lr.frobenius_norm() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="rank"):
        coupling.random_direction(32, 5, rank=0)
    with pytest.raises(ValueError, match="m must be"):
        coupling.random_direction(0, 5)


def test_predicted_flip_fraction_matches_monte_carlo():
    """For g ~ N(0, s^2) and a fixed small delta the flip rate is |delta| phi(0) / s."""
    g_ = np.random.default_rng(0)
    m, n = 400, 500
    h = np.full((n, 1, m), 1.0 / np.sqrt(m))  # ||h|| = 1
    x = np.zeros((n, 1, 3))
    s = np.sqrt(2.0 / m)
    g = g_.standard_normal((n, 1, m)) * s
    delta = np.full_like(g, 0.02 * s)
    pred = coupling.predicted_flip_fraction(g, delta, h, x)
    flips = np.mean(np.sign(g) != np.sign(g + delta))
    assert pred == pytest.approx(0.02 / np.sqrt(2 * np.pi), rel=1e-12)
    assert flips == pytest.approx(pred, rel=0.1)


def test_remainder_scan_shapes_and_control(net):
    w, x = net
    d = coupling.aligned_direction(w, L, EPS)
    taus = [0.1, 0.2, 0.4]
    sc = coupling.remainder_scan(w, x, d, taus)
    for k in ("remainder", "f", "delta_F", "relative", "flips", "flips_predicted", "tau"):
        assert sc[k].shape == (3,)
    assert np.allclose(sc["f"] / sc["tau"], sc["f"][0] / taus[0])  # f is linear in tau
    bad = coupling.remainder_scan(w, x, d, taus, linear_map=coupling.random_direction(w.m, 9))
    assert np.all(bad["relative"] > 5 * sc["relative"])


def test_bad_inputs_are_clear_errors(net):
    w, x = net
    d = coupling.aligned_direction(w, L, EPS)
    with pytest.raises(ValueError, match="taus"):
        coupling.remainder_scan(w, x, d, [0.1, -1.0])
    with pytest.raises(ValueError, match="shape"):
        coupling.first_order(w, x, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="output coordinate"):
        coupling.aligned_direction(w, L, EPS, s=D)


def test_backend_is_numpy_here():
    assert backend.name() == "numpy"


def test_linear_objective_at_zero_and_first_order(net):
    """Obj_lin(0) is the objective of the initial network; for a small shift it agrees with
    the network's objective to second order."""
    from rnnproof import train

    w, x = net
    y = np.random.default_rng(2).standard_normal((x.shape[0], L - 2, D))
    lam = 0.5
    assert coupling.linear_objective(w, x, y, lam, None) == pytest.approx(
        train.risk(w, x, y, lam), rel=1e-12)
    d = coupling.aligned_direction(w, L, EPS)
    gaps = []
    for c in (1e-2, 1e-3):
        sh = c * d.dense()
        lin = coupling.linear_objective(w, x, y, lam, sh)
        assert coupling.linear_objective(w, x, y, lam, rp.LowRank(c * d.U, d.V)) == \
            pytest.approx(lin, rel=1e-12)
        gaps.append(abs(lin - train.risk(w, x, y, lam, sh)))
    assert gaps[1] < 0.05 * gaps[0]
    with pytest.raises(ValueError, match="lambda"):
        coupling.linear_objective(w, x, y, 0.0, None)


# ------------------------------------------------------------------ step 3: best in the ball


@pytest.fixture(scope="module")
def small_problem():
    w = rp.init_weights(12, D_X, 1, 5)
    x = rp.embed(random_true_inputs(5, 4, D_X, 6), 0.5)
    y = np.random.default_rng(7).standard_normal((5, 2, 1))
    return w, x, y


def _projected_gradient(w, x, y, lam, radius, steps=20000):
    """Dense projected gradient descent on Obj_lin over the ball (the reference solution)."""
    from rnnproof import rademacher as rad

    G = np.concatenate([rad.linear_class_gradient(w, x, j, 0) for j in (3, 4)])  # (2n, m, m)
    F0 = rp.outputs(w, x)
    r0 = np.concatenate([lam * F0[:, j, 0] - y[:, j - 3, 0] for j in (3, 4)])
    n = x.shape[0]
    Phi = G.reshape(G.shape[0], -1)
    Lip = lam ** 2 * np.linalg.norm(Phi, 2) ** 2 / n
    V = np.zeros(Phi.shape[1])
    for _ in range(steps):
        V -= (lam / n) * Phi.T @ (r0 + lam * Phi @ V) / Lip
        nv = np.linalg.norm(V)
        if nv > radius:
            V *= radius / nv
    return 0.5 * float(((r0 + lam * Phi @ V) ** 2).sum()) / n


@pytest.mark.parametrize("radius", [0.05, 0.5, 50.0])
def test_best_in_ball_matches_projected_gradient(small_problem, radius):
    w, x, y = small_problem
    b = coupling.best_in_ball(w, x, y, 0.7, radius)
    ref = _projected_gradient(w, x, y, 0.7, radius)
    assert b.value <= ref + 1e-12  # the reference converges slowly where K is ill-conditioned
    assert b.value == pytest.approx(ref, rel=1e-6, abs=1e-5 * b.value_at_zero)
    assert b.norm <= radius * (1 + 1e-10) and b.multiplier >= 0
    assert b.optimality_deviation < 1e-9
    assert b.value == pytest.approx(coupling.linear_objective(w, x, y, 0.7, b.shift), abs=1e-10)
    assert b.value_at_zero == pytest.approx(coupling.linear_objective(w, x, y, 0.7, None))
    if radius == 0.05:  # the constraint binds: the optimum sits on the sphere
        assert b.multiplier > 0 and b.norm == pytest.approx(radius, rel=1e-9)
    if radius == 50.0:  # an interpolant fits inside: 2n = 10 labels, m^2 = 144 parameters
        assert b.multiplier == 0 and b.value < 1e-12


def test_best_in_ball_beats_random_members_and_rejects_bad_input(small_problem):
    w, x, y = small_problem
    b = coupling.best_in_ball(w, x, y, 0.7, 0.3)
    for k in range(5):
        V = 0.3 * coupling.random_direction(w.m, k)
        assert coupling.linear_objective(w, x, y, 0.7, V) >= b.value
    with pytest.raises(ValueError, match="radius"):
        coupling.best_in_ball(w, x, y, 0.7, 0.0)
    with pytest.raises(ValueError, match="lambda"):
        coupling.best_in_ball(w, x, y, 1.5, 0.3)


def test_output_features_gram_is_the_inner_product_of_gradients(small_problem):
    from rnnproof import rademacher as rad

    w, x, _ = small_problem
    feats = coupling.output_features(w, x)
    G = np.concatenate([rad.linear_class_gradient(w, x, j, 0) for j in (3, 4)])
    assert feats.pairs == ((3, 0), (4, 0))
    assert np.allclose(feats.gram, np.einsum("pik,qik->pq", G, G), rtol=1e-12, atol=1e-14)
