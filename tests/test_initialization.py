"""Unit tests of rnnproof.initialization: the infinite-width kernel, its closed forms, the
finite-width helpers, the gain of x -> sigma(Wx) and the rate fit."""

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from rnnproof import back_operators, backend, embed, init_weights, null_sequence
from rnnproof import initialization as ini
from rnnproof.concept import random_true_inputs


def _relu_moment(c: float) -> float:
    """E[sigma(u) sigma(v)] for standard (u, v) with correlation c, by 1-D quadrature:
    v = c u + s z, E_z[sigma(c u + s z)] = c u Phi(c u / s) + s phi(c u / s)."""
    s = np.sqrt(1 - c * c)

    def f(u: float) -> float:
        inner = c * u * norm.cdf(c * u / s) + s * norm.pdf(c * u / s)
        return u * norm.pdf(u) * inner

    return integrate.quad(f, 0, np.inf, epsabs=1e-13, epsrel=1e-12)[0]


@pytest.mark.parametrize("c", [-0.9, -0.3, 0.0, 0.4, 0.95])
def test_arccos_map_is_the_relu_second_moment(c: float) -> None:
    # m E[sigma(g) sigma(g')] with covariance (2/m)[[n1^2, s], [s, n2^2]] = 2 n1 n2 E[...]
    n1, n2 = 1.3, 0.7
    want = 2 * n1 * n2 * _relu_moment(c)
    assert ini.arccos_map(c * n1 * n2, n1, n2) == pytest.approx(want, rel=1e-9)


def test_arccos_map_special_values_and_errors() -> None:
    assert ini.arccos_map(1.0, 1.0, 1.0) == pytest.approx(1.0)
    assert ini.arccos_map(0.0, 1.0, 1.0) == pytest.approx(1 / np.pi)
    assert ini.arccos_map(-1.0, 1.0, 1.0) == pytest.approx(0.0, abs=1e-15)
    assert ini.arccos_map(0.3, 0.0, 1.0) == 0.0
    assert ini.arccos_map(0.3, 2.0, 1.0, activation="linear") == 0.3
    with pytest.raises(ValueError, match="non-negative"):
        ini.arccos_map(0.1, -1.0, 1.0)
    with pytest.raises(ValueError, match="activation"):
        ini.arccos_map(0.1, 1.0, 1.0, activation="tanh")


def _inputs(L: int = 6, eps: float = 0.3, n: int = 2, seed: int = 0):
    return embed(random_true_inputs(n, L, 4, seed), eps)


def test_kernel_diagonal_is_the_norm_recursion_and_symmetric() -> None:
    x = _inputs()
    K = ini.kernel(x)
    N = ini.norm_squared_limit(x)
    L = x.shape[1] - 1
    np.testing.assert_allclose(N[:, 1:], np.broadcast_to(1 + 0.3 ** 2 * np.arange(L), (2, L)),
                               rtol=1e-12)
    np.testing.assert_allclose(np.einsum("aakk->ak", K), N, rtol=1e-12)
    np.testing.assert_allclose(K, K.transpose(1, 0, 3, 2), atol=1e-14)
    assert np.all(K[:, :, 0] == 0) and np.all(K[:, :, :, 0] == 0)
    # the linear (no-ReLU) kernel has the same norms but other correlations
    Kl = ini.kernel(x, activation="linear")
    np.testing.assert_allclose(np.einsum("aakk->ak", Kl), N, rtol=1e-12)
    assert np.abs(Kl - K).max() > 0.1


def test_kernel_first_positions_by_hand() -> None:
    x = _inputs(L=4, eps=0.5, n=1)
    K = ini.kernel(x)[0, 0]
    # h_1 is the same for every input: K(1,1) = 1; K(1,2) = kappa(<x_1, x_2>, 1, n_2) with
    # <x_1, x_2> = 0 for a real token, so K(1,2) = n_2 / pi
    assert K[1, 1] == pytest.approx(1.0)
    assert K[1, 2] == pytest.approx(np.sqrt(1 + 0.25) / np.pi)


def test_kernel_of_two_lengths_and_bad_input() -> None:
    a, b = _inputs(L=5), _inputs(L=7, seed=1)
    K = ini.kernel(a, b)
    assert K.shape == (2, 2, 6, 8)
    np.testing.assert_allclose(K[:, :, :, :6], ini.kernel(a, b[:, :6]), atol=1e-14)
    with pytest.raises(ValueError, match="token dimension"):
        ini.kernel(a, embed(random_true_inputs(1, 5, 5, 0), 0.3))
    bad = backend.to_numpy(a).copy()
    bad[:, 2] *= 2
    with pytest.raises(ValueError, match="normalized"):
        ini.kernel(bad)


def test_gram_matrix_and_cosines() -> None:
    x = _inputs(L=5)
    G = ini.gram_matrix_limit(x)
    K = ini.kernel(x)
    assert G.shape == (10, 10)
    assert G[0 * 5 + 2, 1 * 5 + 4] == pytest.approx(K[0, 1, 3, 5])
    C = ini.cosines(G)
    np.testing.assert_allclose(np.diagonal(C), 1.0)
    assert np.all(np.abs(C) <= 1 + 1e-12)
    assert ini.cosines(np.zeros((2, 2))).sum() == 0


def test_later_state_cosines_closed_form_and_asymptotics() -> None:
    c = ini.later_state_cosines(2000)
    assert c[0] == pytest.approx(1 / np.pi)
    assert c[1] == pytest.approx(ini.arccos_map(1 / np.pi, 1.0, 1.0))
    assert np.all(np.diff(c) > 0)
    # the angle behaves like 3 pi / i
    i = np.arange(1, 2001)
    r = i * np.arccos(c) / (3 * np.pi)
    assert 0.97 < r[-1] < 1.0 and np.all(np.diff(r[100:]) > 0)
    # the kernel of the null sequence at tiny eps: row i (j > i) equals c_i
    L = 12
    C = ini.cosines(ini.kernel(null_sequence(L, 4, 1e-7))[0, 0, 1:, 1:])
    iu = np.triu_indices(L, 1)
    np.testing.assert_allclose(C[iu], c[iu[0]], atol=1e-6)
    with pytest.raises(ValueError):
        ini.later_state_cosines(0)
    # the wrong theories of the negative controls
    assert np.all(ini.later_state_cosines(50, activation="linear") == 1 / np.pi)
    assert ini.later_state_cosines(3, c1=0.5)[0] == 0.5
    with pytest.raises(ValueError, match="cosine"):
        ini.later_state_cosines(3, c1=1.5)


def test_consecutive_angle_limit_matches_kernel() -> None:
    L, eps = 30, 0.05
    C = ini.cosines(ini.kernel(null_sequence(L, 4, eps))[0, 0, 1:, 1:])
    want = np.arccos(np.clip(np.diagonal(C, 1), -1, 1))
    np.testing.assert_allclose(ini.consecutive_angle_limit(L, eps), want, atol=1e-12)


def test_null_distance_limit() -> None:
    x0 = null_sequence(6, 4, 0.01)
    np.testing.assert_allclose(ini.null_distance_limit(x0, x0), 0.0, atol=1e-7)
    x = _inputs(L=6, eps=0.01, n=2)
    d = ini.null_distance_limit(x, x0)
    assert d.shape == (2, 7) and np.all(d[:, 2:] > 0) and np.all(d[:, :2] < 1e-7)
    # linear in eps for small eps
    d2 = ini.null_distance_limit(_inputs(L=6, eps=0.001, n=2), null_sequence(6, 4, 0.001))
    np.testing.assert_allclose(d2[:, 6] / 0.001, d[:, 6] / 0.01, rtol=0.05)
    with pytest.raises(ValueError, match="single sequence"):
        ini.null_distance_limit(x, x)


def test_probe_inputs_and_rescaled_weights() -> None:
    x = backend.to_numpy(ini.probe_inputs(5, 0.2, 2, 4, 0))
    assert x.shape == (3, 6, 5)
    np.testing.assert_allclose(x[0], backend.to_numpy(null_sequence(5, 4, 0.2))[0])
    w = init_weights(256, 4, 3, 0)
    r = ini.rescaled(w, w_var=1.0)
    np.testing.assert_allclose(backend.to_numpy(r.W), backend.to_numpy(w.W) / np.sqrt(2))
    assert r.A is w.A and r.B is w.B
    c = ini.rescaled(w, b_correlation=0.5)
    B = backend.to_numpy(c.B)
    assert np.corrcoef(B)[0, 1] == pytest.approx(0.5, abs=0.15)
    assert np.corrcoef(backend.to_numpy(w.B))[0, 1] == pytest.approx(0.0, abs=0.15)
    with pytest.raises(ValueError):
        ini.rescaled(w, w_var=0.0)
    with pytest.raises(ValueError):
        ini.rescaled(w, b_correlation=1.0)


def test_empirical_gram_approaches_the_kernel() -> None:
    x = ini.probe_inputs(4, 0.5, 1, 4, 0)
    K = ini.gram_matrix_limit(x)
    errs = [ini.relative_frobenius_error(ini.empirical_gram(ini.scaled_weights(m, 4, 2, s), x), K)
            for m in (64, 2048) for s in range(3)]
    assert np.mean(errs[3:]) < 0.5 * np.mean(errs[:3]) and np.mean(errs[3:]) < 0.15
    with pytest.raises(ValueError):
        ini.relative_frobenius_error(K, np.zeros_like(K))


def test_null_distance_finite_width() -> None:
    w = init_weights(128, 4, 2, 0)
    x = ini.probe_inputs(5, 0.1, 1, 4, 0)
    d = ini.null_distance(w, x[1:], x[:1])
    assert d.shape == (1, 6) and d[0, 1] == 0.0 and np.all(d[0, 2:] > 0)


def test_back_row_stats_by_hand() -> None:
    m, d, L = 64, 3, 4
    w = init_weights(m, 4, d, 1)
    x = ini.probe_inputs(L, 0.3, 1, 4, 0)[1:]
    st = ini.back_row_stats(w, x)
    B = backend.to_numpy(w.B)
    for i in range(L):  # Back_{i->i} = B
        np.testing.assert_allclose(st.norm_ratio[i, i], (B * B).sum(1) * d / m, rtol=1e-12)
    assert np.isnan(st.norm_ratio[2, 1]).all()
    back = backend.to_numpy(back_operators(w, x))[0]
    r1, r2 = back[1, 2, 0], back[1, 4, 0]  # e_0^T Back_{1->2}, e_0^T Back_{1->4}
    want = r1 @ r2 / np.linalg.norm(r1) / np.linalg.norm(r2)
    assert np.any(np.isclose(st.corr_j, want, rtol=1e-12))
    # counts: pairs j < j' for each i, times d; with-B pairs; pairs s < s'
    assert st.corr_j.size == d * sum((L - i) * (L - i - 1) // 2 for i in range(L))
    assert st.corr_b.size == d * sum(L - i - 1 for i in range(L))
    assert st.corr_s.size == (L * (L + 1) // 2) * d * (d - 1) // 2
    with pytest.raises(ValueError, match="single input"):
        ini.back_row_stats(w, ini.probe_inputs(L, 0.3, 1, 4, 0))


def test_relu_gain_sup_on_known_matrices() -> None:
    xp = backend.xp()
    # W = diag(1, 2): the supremum is 2 (at x = e_2)
    W = xp.asarray(np.diag([1.0, 2.0]))
    sup, vals = ini.relu_gain_sup(W, starts=8, iters=50)
    assert sup == pytest.approx(2.0, rel=1e-9) and vals.shape == (10,)
    # rank one W = u v^T: sigma(W x) = sigma(u <v, x>), sup = max(||u_+||, ||u_-||) ||v||
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(20), rng.standard_normal(7)
    W = xp.asarray(np.outer(u, v))
    want = max(np.linalg.norm(np.maximum(u, 0)), np.linalg.norm(np.maximum(-u, 0))) * \
        np.linalg.norm(v)
    assert ini.relu_gain_sup(W, starts=4)[0] == pytest.approx(want, rel=1e-9)
    with pytest.raises(ValueError):
        ini.relu_gain_sup(W, starts=0)


def test_relu_gains_of_a_random_matrix() -> None:
    W = init_weights(256, 4, 2, 3).W
    smax = ini.spectral_norm(W)
    assert smax == pytest.approx(np.linalg.norm(backend.to_numpy(W), 2), rel=1e-10)
    sup, _ = ini.relu_gain_sup(W, starts=8, iters=40)
    assert smax / np.sqrt(2) - 1e-9 <= sup <= smax + 1e-9
    assert sup > 2.0 and abs(ini.relu_gain_typical(W) - 1) < 0.05


def test_fit_across_draws() -> None:
    t = np.arange(10.0)
    rng = np.random.default_rng(0)
    Y = 3 * np.exp(-0.2 * t)[None] * np.exp(0.3 * rng.standard_normal((6, 1)))  # own intercepts
    f = ini.fit_across_draws(t, Y, log_x=False)
    assert f.slope == pytest.approx(-0.2) and f.ci_high - f.ci_low < 1e-9
    # per-draw slopes that differ: the interval is the t-interval of their mean
    Y2 = np.exp(np.outer([-0.1, -0.2, -0.3], t))
    g = ini.fit_across_draws(t, Y2, log_x=False)
    half = 4.302652729911275 * 0.1 / np.sqrt(3)  # t_{0.975, 2} * sd / sqrt(3)
    assert g.slope == pytest.approx(-0.2) and g.ci_high == pytest.approx(-0.2 + half)
    # the fit carries its estimate (standard error of the mean slope, draws - 1 df)
    e = g.estimate
    assert e.df == 2 and e.stderr == pytest.approx(0.1 / np.sqrt(3))
    assert e.interval(0.05)[1] == pytest.approx(g.ci_high)
    # power laws on log-log axes
    x = np.array([1e-3, 1e-2, 1e-1])
    assert ini.fit_across_draws(x, np.vstack([2 * x, 5 * x])).slope == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ini.fit_across_draws(t, -Y, log_x=False)
    with pytest.raises(ValueError):
        ini.fit_across_draws(t, Y[:1], log_x=False)


def test_plot_loglog_fit() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    m = np.repeat([64.0, 256.0, 1024.0], 3)
    f = ini.plot_loglog_fit(ax, m, 2 * m ** -0.5 * (1 + 0.01 * np.arange(9)), -0.5)
    assert abs(f.slope + 0.5) < 0.05 and len(ax.lines) == 3
    plt.close(fig)


def test_plot_loglog_fit_with_a_given_fit() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    given = {"slope": 1.0, "ci_low": 0.99, "ci_high": 1.01}
    assert ini.plot_loglog_fit(ax, [1e-3, 1e-2], [2e-3, 2e-2], 1.0, fit=given) is given
    assert "1.00 [0.99, 1.01]" in ax.get_legend().get_texts()[0].get_text()
    plt.close(fig)


def test_draw_seeds_are_distinct_and_validated() -> None:
    from rnnproof.checks.initialization import draw_seed

    seeds = {draw_seed(s, m, k) for s in range(20) for m in (32, 64, 8192) for k in range(1024)}
    assert len(seeds) == 20 * 3 * 1024
    with pytest.raises(ValueError, match="0 <= k < 1024"):
        draw_seed(0, 64, 1024)
