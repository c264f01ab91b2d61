"""The recurrent tangent kernel (rnnproof.kernel): finite width exactly, the infinite-width
recursion in closed form where one exists, kernel ridge regression, clear errors."""

import numpy as np
import pytest

from rnnproof import backend, init_weights
from rnnproof import initialization as ini
from rnnproof import kernel as kn


@pytest.fixture(scope="module")
def x():
    return ini.probe_inputs(5, 0.5, 2, 4, 0)


def test_factorized_kernel_equals_dense_gradients(x):
    for d in (1, 2):
        w = init_weights(16, 4, d, 3)
        T = kn.tangent_kernel(w, x)
        G = kn.tangent_kernel_from_gradients(w, x)
        assert T.shape == (3, 3, 3 * d, 3 * d)
        assert np.abs(T - G).max() <= 1e-12 * np.abs(G).max()


def test_kernel_at_a_shift_is_the_kernel_of_the_shifted_weights(x):
    from rnnproof.rnn import Weights

    w = init_weights(16, 4, 1, 4)
    shift = backend.rng(9).standard_normal((16, 16)) * 0.05
    T1 = kn.tangent_kernel(w, x, shift=shift)
    T2 = kn.tangent_kernel_from_gradients(Weights(W=w.W + shift, A=w.A, B=w.B), x)
    assert np.abs(T1 - T2).max() <= 1e-12 * np.abs(T2).max()


def test_summed_kernel_is_the_sum_over_outputs(x):
    w = init_weights(32, 4, 2, 5)
    T = kn.tangent_kernel(w, x)
    K = kn.summed_tangent_kernel(w, x)
    Kb = kn.summed_tangent_kernel(w, x, block=2)
    K2 = kn.summed_tangent_kernel(w, x, x[:2])
    assert np.allclose(K, T.sum(axis=(2, 3)), rtol=1e-12, atol=0)
    assert np.allclose(Kb, K, rtol=1e-12) and np.allclose(K2, K[:, :2], rtol=1e-12)


def test_forward_recursion_matches_the_initialization_chapter(x):
    assert np.array_equal(kn.forward_kernel(x).Sigma, ini.kernel(x))


def test_limit_diagonal_has_its_closed_form():
    """Same input, same position: kappa_0 = 1/2 cancels the factor 2 of every backward step
    and halves the top one, so T(j, j) = (1/2) sum_{i=2}^{j} Sigma(i-1, i-1)
    = (1/2) sum_{i=2}^{j} (1 + (i-2) eps^2): ||a_i||^2 -> m / (2d), as in step 4's heuristic."""
    L, eps, d = 6, 0.3, 2
    x = ini.probe_inputs(L, eps, 1, 4, 1)
    T = kn.kernel_limit(x, d=d)
    for j in range(3, L + 1):
        want = sum(1 + (i - 2) * eps ** 2 for i in range(2, j + 1)) / (2 * d)
        p = (j - 3) * d
        # arccos near cos = 1 turns a rounding error of 1e-16 into an angle of 1e-8
        assert T[1, 1, p, p] == pytest.approx(want, rel=1e-7)
        assert T[1, 1, p, p + 1] == 0.0  # different output coordinates: zero in the limit
    assert np.allclose(T, T.transpose(1, 0, 3, 2))
    G = kn.flatten_outputs(T)
    assert np.linalg.eigvalsh(G).min() > -1e-10


def test_finite_width_approaches_the_limit(x):
    Tinf = kn.kernel_limit(x, d=4)
    err = {m: np.mean([kn.relative_change(Tinf, kn.tangent_kernel(init_weights(m, 4, 4, s), x)
                                          / m) for s in range(6)]) for m in (64, 1024)}
    assert err[1024] < err[64] / 2.5  # m^-1/2 predicts a factor 4


def test_wrong_derivative_moments_differ(x):
    T = kn.kernel_limit(x)
    for v in ("linear", "independent"):
        assert kn.relative_change(T, kn.kernel_limit(x, derivative=v)) > 0.1
    with pytest.raises(ValueError, match="derivative variant"):
        kn.kernel_limit(x, derivative="tanh")


def test_summed_limit_is_the_sum_of_the_limit(x):
    assert np.allclose(kn.summed_kernel_limit(x), kn.kernel_limit(x, d=3).sum(axis=(2, 3)))


def test_kernel_ridge_interpolates_a_function_in_its_span():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    K = (X @ X.T)[:, :, None, None]  # a linear kernel, one output
    y = (X @ np.array([1.0, -2.0, 0.5]))[:, None]
    res = kn.kernel_ridge(K, y, K[:5], ridges=(1e-8,))
    assert np.allclose(res["prediction"], y[:5], atol=1e-5)
    with pytest.raises(ValueError, match="do not match"):
        kn.kernel_ridge(K, y[:10], K[:5])


def test_bad_inputs_are_clear_errors(x):
    bad = np.array(backend.to_numpy(x))
    bad[:, 0, 0] = 1.0
    with pytest.raises(ValueError, match="padding"):
        kn.forward_kernel(bad)
    with pytest.raises(ValueError, match="shape"):
        kn.forward_kernel(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="zero"):
        kn.relative_change(np.zeros((2, 2)), np.ones((2, 2)))
    w = init_weights(8, 4, 1, 0)
    with pytest.raises(ValueError, match="shift"):
        kn.tangent_kernel(w, x, shift=np.zeros((4, 4)))
