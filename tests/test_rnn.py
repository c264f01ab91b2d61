"""The network's objects against their definitions: Back as a Jacobian, (5.1) as a
directional derivative, the gradient against finite differences, shapes by hypothesis.

Backend-agnostic (part of the device subset): results are compared on the host through
``backend.to_numpy``, and host arrays are passed in where the API must convert them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnproof as rp
from rnnproof import backend
from rnnproof.concept import random_true_inputs
from rnnproof.rnn import rollout_from

H = backend.to_numpy


def setup(n=3, L=5, m=24, d_x=4, d=3, seed=0, eps=0.3):
    w = rp.init_weights(m, d_x, d, seed=seed)
    x = rp.embed(random_true_inputs(n, L, d_x, seed), eps)
    return w, x


def fd_jacobian_check(w, x, t=1e-6):
    h = H(rp.hidden_states(w, x))
    back = H(rp.back_operators(w, x))
    n, Lp1, m = h.shape
    worst = 0.0
    for i in range(1, Lp1):
        J = np.zeros((n, Lp1, w.d, m))
        for k in range(m):
            e = np.zeros(m)
            e[k] = t
            up, dn = rollout_from(w, x, i, h[:, i] + e), rollout_from(w, x, i, h[:, i] - e)
            J[..., k] = (H(up) - H(dn)) / (2 * t)
        for j in range(i, Lp1):
            worst = max(worst, np.abs(J[:, j] - back[:, i, j]).max())
    return worst


def test_back_is_the_jacobian():
    w, x = setup()
    assert fd_jacobian_check(w, x) < 1e-7


def test_back_zero_outside_triangle_and_diagonal_is_B():
    w, x = setup(L=6)
    back = H(rp.back_operators(w, x))
    assert back.shape == (3, 7, 7, 3, 24)
    for i in range(7):
        for j in range(7):
            if i == 0 or j == 0 or i > j:
                assert not back[:, i, j].any()
            elif i == j:
                assert np.array_equal(back[:, i, j], np.broadcast_to(H(w.B), back[:, i, j].shape))


@pytest.mark.parametrize("loss", ["l2", "logistic"])
def test_gradient_matches_finite_differences(loss):
    w, x = setup()
    rng = np.random.default_rng(1)
    y = rng.standard_normal((3, 3, 3)) if loss == "l2" else np.sign(rng.standard_normal((3, 3, 3)))
    shift = 0.05 * rng.standard_normal((24, 24)) / np.sqrt(24)
    obj, grad = rp.objective_and_grad(w, x, y, 0.7, shift, loss=loss)
    for _ in range(3):
        P = rng.standard_normal((24, 24))
        t = 1e-6
        op, _ = rp.objective_and_grad(w, x, y, 0.7, shift + t * P, loss=loss)
        om, _ = rp.objective_and_grad(w, x, y, 0.7, shift - t * P, loss=loss)
        fd = (op - om) / (2 * t)
        assert abs(fd - (H(grad) * P).sum()) <= 1e-7 * max(1.0, abs(fd))


def test_objective_value_l2():
    w, x = setup()
    y = np.zeros((3, 3, 3))
    obj, _ = rp.objective_and_grad(w, x, y, 0.5)
    out = H(rp.outputs(w, x))
    assert isinstance(obj, float) and np.isclose(obj, 0.5 * ((0.5 * out[:, 3:]) ** 2).sum() / 3)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 3), L=st.integers(3, 6), m=st.integers(2, 20), d_x=st.integers(3, 5),
       d=st.integers(1, 3), seed=st.integers(0, 1000))
def test_linear_response_is_directional_derivative(n, L, m, d_x, d, seed):
    w, x = setup(n=n, L=L, m=m, d_x=d_x, d=d, seed=seed)
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((m, 2)), rng.standard_normal((m, 2))
    Ws = U @ V.T
    f = H(rp.linear_response(w, x, Ws))
    assert f.shape == (n, L + 1, d)
    np.testing.assert_allclose(H(rp.linear_response(w, x, rp.LowRank(U, V))), f, atol=1e-10)
    t = 1e-6
    fd = (H(rp.outputs(w, x, shift=t * Ws)) - H(rp.outputs(w, x, shift=-t * Ws))) / (2 * t)
    assert np.abs(fd - f).max() <= 1e-6 * max(1.0, np.abs(f).max())
    # and (5.1) term by term from the Back operators
    back, D, h = (H(rp.back_operators(w, x)), H(rp.forward_trace(w, x).D),
                  H(rp.hidden_states(w, x)))
    f2 = np.zeros_like(f)
    for j in range(2, L + 1):
        for i in range(2, j + 1):
            f2[:, j] += np.einsum("ndm,nm->nd", back[:, i, j], D[:, i] * (h[:, i - 1] @ Ws.T))
    np.testing.assert_allclose(f2, f, atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 3), L=st.integers(3, 5), m=st.integers(2, 12), d=st.integers(1, 3),
       seed=st.integers(0, 1000))
def test_back_jacobian_over_shapes(n, L, m, d, seed):
    w, x = setup(n=n, L=L, m=m, d_x=3, d=d, seed=seed)
    assert fd_jacobian_check(w, x) < 1e-7


def test_shapes_and_h0():
    w, x = setup(n=2, L=4, m=8, d_x=3, d=2)
    tr = rp.forward_trace(w, x)
    assert tr.h.shape == tr.g.shape == tr.D.shape == (2, 5, 8)
    h, g, D = H(tr.h), H(tr.g), H(tr.D)
    assert not h[:, 0].any() and not D[:, 0].any() and not g[:, 0].any()
    np.testing.assert_array_equal(h, np.maximum(g, 0))
    np.testing.assert_array_equal(D, (g >= 0) & (np.arange(5) > 0)[None, :, None])
    assert rp.outputs(w, x).shape == (2, 5, 2)
    np.testing.assert_array_equal(H(rp.hidden_states(w, x)), h)


def test_lowrank_frobenius_and_dense():
    rng = np.random.default_rng(0)
    U, V = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    lr = rp.LowRank(U, V)
    assert np.isclose(lr.frobenius_norm(), np.linalg.norm(U @ V.T))
    np.testing.assert_allclose(H(lr.dense()), U @ V.T)


def test_same_seed_same_numbers():
    a, b = rp.init_weights(16, 3, 2, seed=5), rp.init_weights(16, 3, 2, seed=5)
    assert all(np.array_equal(H(p), H(q)) for p, q in ((a.W, b.W), (a.A, b.A), (a.B, b.B)))


@pytest.mark.parametrize("call,match", [
    (lambda w, x: rp.outputs(w, x[:, :, :-1]), "d_x\\+1"),
    (lambda w, x: rp.outputs(w, x[0]), "shape \\(n, L\\+1, d_x\\+1\\)"),
    (lambda w, x: rp.outputs(w, x * 2), "normalized"),
    (lambda w, x: rp.outputs(w, np.where(np.isfinite(x), np.nan, x)), "non-finite"),
    (lambda w, x: rp.outputs(w, x, shift=np.zeros((3, 3))), "shift W' must have shape"),
    (lambda w, x: rp.linear_response(w, x, np.zeros((3, 3))), "W\\* must have shape"),
    (lambda w, x: rp.objective_and_grad(w, x, np.zeros((3, 2, 3)), 0.5), "y_star must have shape"),
    (lambda w, x: rp.objective_and_grad(w, x, np.zeros((3, 3, 3)), 2.0), "lambda"),
    (lambda w, x: rp.objective_and_grad(w, x, np.zeros((3, 3, 3)), 0.5, loss="hinge"), "loss"),
    (lambda w, x: rp.objective_and_grad(w, x, np.zeros((3, 3, 3)), 0.5, loss="logistic"),
     "-1, \\+1"),
])
def test_bad_input_is_a_clear_error(call, match):
    w, x = setup()
    with pytest.raises(ValueError, match=match):
        call(w, x)


@pytest.mark.parametrize("args,match", [((0, 3, 2), "m must"), ((4, 1, 2), "d_x must"),
                                        ((4, 3, 0), "d must"), ((4.5, 3, 2), "m must")])
def test_init_weights_rejects_bad_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        rp.init_weights(*args, seed=0)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_large_batch_forward_matches_the_per_position_recurrence(dtype, tol):
    # n >= 32 and m >= 256 take the augmented product on NumPy (the input projection inside
    # the recurrent product); it must give the h of the plain recurrence of forward_trace
    w = rp.init_weights(256, 4, 2, seed=3, dtype=dtype)
    x = rp.embed(random_true_inputs(40, 7, 4, 3), 0.3)
    h = H(rp.hidden_states(w, x))
    tr = rp.forward_trace(w, x)
    assert h.dtype == dtype and np.all(np.isfinite(h)) and not h[:, 0].any()
    np.testing.assert_allclose(h, H(tr.h), rtol=0, atol=tol * np.abs(H(tr.h)).max())
    np.testing.assert_allclose(H(rp.outputs(w, x)), H(tr.h) @ H(w.B).T, rtol=0,
                               atol=10 * tol * max(1.0, np.abs(H(tr.h)).max()))
