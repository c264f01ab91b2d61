import numpy as np
import pytest

import rnnproof as rp
from rnnproof.concept import random_true_inputs


def test_embed_layout():
    xs = random_true_inputs(2, 5, 4, 0)
    x = rp.embed(xs, 0.1)
    assert x.shape == (2, 6, 5)
    assert not x[:, 0].any()
    np.testing.assert_array_equal(x[:, 1], np.tile([0, 0, 0, 0, 1.0], (2, 1)))
    np.testing.assert_allclose(x[:, 2:5, :4], 0.1 * xs)
    np.testing.assert_array_equal(x[:, 5], np.tile([0, 0, 0, 0, 0.1], (2, 1)))


def test_null_sequence():
    x0 = rp.null_sequence(5, 3, 0.2)
    assert x0.shape == (1, 6, 4)
    assert x0[0, 1, -1] == 1 and np.all(x0[0, 2:, -1] == 0.2) and not x0[0, :, :-1].any()


def test_pad_to_unit_makes_admissible_tokens():
    v = np.array([[0.0, 0.0], [0.6, 0.8], [0.1, -0.2]])
    xs = rp.pad_to_unit(v)
    np.testing.assert_allclose(np.linalg.norm(xs, axis=1), 1.0)
    np.testing.assert_allclose(xs[:, -1], 0.5)
    lit = rp.pad_to_unit(v, literal=True)
    np.testing.assert_allclose(np.linalg.norm(lit, axis=1), np.sqrt(5) / 2)


@pytest.mark.parametrize("bad,match", [
    (lambda xs: xs[0], "shape \\(n, L-2, d_x\\)"),
    (lambda xs: 0.9 * xs, "unit norm"),
    (lambda xs: xs[..., ::-1], "last coordinate"),
    (lambda xs: np.full_like(xs, np.nan), "non-finite"),
    (lambda xs: xs[..., :1] / np.abs(xs[..., :1]), "d_x must be >= 2"),
    (lambda xs: np.array([["a"]]), "numeric"),
])
def test_embed_rejects_bad_tokens(bad, match):
    xs = random_true_inputs(2, 5, 4, 0)
    with pytest.raises(ValueError, match=match):
        rp.embed(bad(xs), 0.1)


@pytest.mark.parametrize("eps", [0, 1, -0.1, 1.5, float("nan")])
def test_eps_x_must_lie_in_open_unit_interval(eps):
    with pytest.raises(ValueError, match="eps_x must lie in \\(0, 1\\)"):
        rp.embed(random_true_inputs(1, 4, 3, 0), eps)
    with pytest.raises(ValueError, match="eps_x"):
        rp.null_sequence(4, 3, eps)


def test_null_sequence_rejects_bad_sizes():
    with pytest.raises(ValueError, match="L must"):
        rp.null_sequence(2, 3, 0.1)
    with pytest.raises(ValueError, match="d_x must"):
        rp.null_sequence(4, 1, 0.1)


def test_pad_to_unit_rejects_long_vectors():
    with pytest.raises(ValueError, match="\\|\\|v\\|\\| <= 1"):
        rp.pad_to_unit(np.array([[1.0, 1.0]]))
