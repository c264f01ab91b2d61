"""The Theorem 1 target: a two-layer Example 3.5 net on the raw token coordinates with an even
Phi, whose non-linear part no linear model of the tokens can fit (concept.symmetric_two_layer,
concept.best_linear_fit, and the check's bar OPT + eps)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnproof import concept, train
from rnnproof.checks import theorem
from rnnproof.concept import z


def test_symmetric_two_layer_sees_only_raw_coordinates() -> None:
    net = concept.symmetric_two_layer(6, 5, 1, 2, z ** 2, 0)
    assert np.all(net.W_stars[:, :, 3:] == 0)
    norms = np.linalg.norm(net.W_stars, axis=-1)
    assert np.all((norms >= 0.5) & (norms <= 1.0))
    with pytest.raises(ValueError, match="d_x >= 3"):
        concept.symmetric_two_layer(6, 2, 1, 2, z ** 2, 0)


def test_best_linear_fit_separates_even_and_odd_phi() -> None:
    net = concept.symmetric_two_layer(6, 5, 1, 2, z ** 2, 0)
    even = concept.best_linear_fit(concept.normalized(net.to_target(6)), n=5000)
    odd = concept.best_linear_fit(concept.normalized(
        concept.symmetric_two_layer(6, 5, 1, 2, z, 0).to_target(6)), n=5000)
    assert even.nonlinear_share > 0.5  # z^2 of a symmetric projection: mostly non-linear
    assert odd.nonlinear_share < 1e-12  # phi = z is linear in the tokens
    assert even.per_position.shape == (4,)
    assert even.excess == pytest.approx(even.per_position.sum())
    with pytest.raises(ValueError, match="more samples than regressors"):
        concept.best_linear_fit(net.to_target(6), n=10)


@pytest.mark.parametrize("seed", range(5))
def test_no_linear_model_reaches_the_bar(seed: int) -> None:
    """OPT + eps sits halfway between OPT and the best linear model, and least squares on the
    tokens trained on noisy samples stays above it."""
    L, d_x, p = 6, 5, 2
    lin = theorem.linear_fit(L, d_x, p, seed)
    opt, eps, goal = theorem.theorem_goal(L, d_x, p, seed)
    assert lin.nonlinear_share >= 0.5
    assert eps == pytest.approx(train.EPS_LINEAR * lin.excess) and goal == opt + eps
    target = theorem.theorem_target(L, d_x, p, seed)
    tr = concept.sample_dataset(target, 4000, train.NOISE, seed)
    te = concept.sample_dataset(target, 4000, train.NOISE, seed + 50)
    ls = train.least_squares_baseline(tr.x_star, tr.y_star, te.x_star, te.y_star)
    assert ls["risk"] > goal + 0.5 * eps
