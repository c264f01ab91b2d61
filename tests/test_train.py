"""Unit tests of rnnproof.train: the SGD of Section 4 against the reference gradient, the
records, early stopping, the rules for lambda and eta, baselines and growth fits."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from rnnproof import backend, concept, embed, init_weights, objective_and_grad, outputs, train
from rnnproof.concept import z


def _setup(n: int = 12, m: int = 24, L: int = 5, d_x: int = 4, d: int = 2, seed: int = 0):
    w = init_weights(m, d_x, d, seed)
    x = embed(concept.random_true_inputs(n, L, d_x, seed + 1), 0.5)
    y = np.random.default_rng(seed + 2).standard_normal((n, L - 2, d))
    return w, x, y


def _draws(seed: int, steps: int, batch: int, N: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, N, size=(steps, batch))


@pytest.mark.parametrize("loss", ["l2", "logistic"])
def test_sgd_matches_reference_updates(loss: str) -> None:
    w, x, y = _setup()
    if loss == "logistic":
        y = np.sign(y)
    lam, eta, steps = 0.4, 0.05, 4
    res = train.sgd(w, x, y, lam, eta, steps, seed=5, loss=loss)
    shift = np.zeros((w.m, w.m))
    for t, (k,) in enumerate(_draws(5, steps, 1, 12)):
        obj, g = objective_and_grad(w, x[k:k + 1], y[k:k + 1], lam, shift=shift, loss=loss)
        assert res.objective[t] == pytest.approx(obj, rel=1e-12)
        shift = shift - eta * backend.to_numpy(g)
    np.testing.assert_allclose(backend.to_numpy(res.shift), shift, atol=1e-13)


def test_minibatch_variant_is_the_mean_gradient() -> None:
    w, x, y = _setup()
    res = train.sgd(w, x, y, 0.3, 0.1, 2, seed=1, batch=4)
    shift = np.zeros((w.m, w.m))
    for t, idx in enumerate(_draws(1, 2, 4, 12)):
        obj, g = objective_and_grad(w, x[idx], y[idx], 0.3, shift=shift)
        assert res.objective[t] == pytest.approx(obj, rel=1e-12)
        shift = shift - 0.1 * backend.to_numpy(g)
    np.testing.assert_allclose(backend.to_numpy(res.shift), shift, atol=1e-13)
    assert res.batch == 4


def test_trained_network_is_evaluated_with_outputs() -> None:
    w, x, y = _setup()
    res = train.sgd(w, x, y, 0.5, 0.05, 20, seed=0)
    a = backend.to_numpy(outputs(w, x, shift=res.shift))
    b = backend.to_numpy(outputs(init_weights(w.m, w.d_x, w.d, 0), x, shift=res.shift))
    np.testing.assert_array_equal(a, b)
    r = train.risk(w, x, y, 0.5, res.shift)
    obj, _ = objective_and_grad(w, x, y, 0.5, shift=res.shift)
    assert r == pytest.approx(obj, rel=1e-12)
    scaled = backend.to_numpy(train.outputs_scaled(w, x, 0.5, res.shift))
    np.testing.assert_allclose(scaled, 0.5 * a, rtol=1e-14)


def test_frozen_W_and_records() -> None:
    w, x, y = _setup()
    seen: list[tuple[int, float]] = []
    res = train.sgd(w, x, y, 0.5, 0.0, 10, record_every=4,
                    callback=lambda t, s: seen.append((t, float(np.abs(s).max()))))
    assert np.all(backend.to_numpy(res.shift) == 0)
    assert list(res.record_steps) == [0, 4, 8, 10]
    assert [t for t, _ in seen] == [0, 4, 8, 10] and all(v == 0 for _, v in seen)
    res = train.sgd(w, x, y, 0.5, 0.05, 10, record_every=5, eval_x=x, eval_y=y)
    norm = float(np.linalg.norm(backend.to_numpy(res.shift)))
    assert res.frobenius[-1] == pytest.approx(norm, rel=1e-12)
    assert res.frobenius[0] == 0
    assert res.risks[-1] == pytest.approx(train.risk(w, x, y, 0.5, res.shift), rel=1e-12)
    assert res.final_risk() == res.risks[-1]
    assert np.isfinite(res.averaged_risk())
    res = train.sgd(w, x, y, 0.5, 0.05, 10, record_at=[1, 3])
    assert list(res.record_steps) == [0, 1, 3, 10]
    with pytest.raises(ValueError, match="evaluation set"):
        res.averaged_risk()


def test_sampling_once_uses_each_sample_once() -> None:
    w, x, y = _setup(n=12)
    res = train.sgd(w, x, y, 0.5, 0.0, 12, sampling="once", seed=3)
    per = [objective_and_grad(w, x[k:k + 1], y[k:k + 1], 0.5)[0] for k in range(12)]
    np.testing.assert_allclose(np.sort(res.objective), np.sort(per), rtol=1e-12)
    with pytest.raises(ValueError, match="at most once"):
        train.sgd(w, x, y, 0.5, 0.0, 13, sampling="once")


def test_early_stop() -> None:
    w, x, y = _setup()
    res = train.sgd(w, x, y, 0.5, 0.0, 50, stop_below=1e6, stop_window=5)
    assert res.steps == 5
    res = train.sgd(w, x, y, 0.5, 0.0, 50, stop_below=-1.0, stop_window=5)
    assert res.steps == 50


@pytest.mark.parametrize("kw, match", [
    (dict(lam=0.0), "lambda"), (dict(lam=1.5), "lambda"), (dict(eta=-1.0), "eta"),
    (dict(steps=-1), "steps"), (dict(batch=0), "batch"), (dict(sampling="x"), "sampling"),
    (dict(record_every=0), "record_every"), (dict(loss="hinge"), "loss"),
])
def test_validation(kw: dict, match: str) -> None:
    w, x, y = _setup()
    args = dict(lam=0.5, eta=0.1, steps=2)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        train.sgd(w, x, y, **args)


def test_validation_of_data() -> None:
    w, x, y = _setup()
    with pytest.raises(ValueError, match="y_star"):
        train.sgd(w, x, y[:, :2], 0.5, 0.1, 2)
    with pytest.raises(ValueError, match="normalized"):
        train.sgd(w, 2 * x, y, 0.5, 0.1, 2)
    with pytest.raises(ValueError, match="both"):
        train.sgd(w, x, y, 0.5, 0.1, 2, eval_x=x)
    with pytest.raises(ValueError, match="record_every or record_at"):
        train.sgd(w, x, y, 0.5, 0.1, 2, record_every=1, record_at=[1])


def test_gradient_trace_against_reference_gradients() -> None:
    w, x, y = _setup(n=3, m=16, L=5, d=2)
    F = backend.to_numpy(outputs(w, x))[:, 3:]
    total = 0.0
    for n in range(3):
        for j in range(3):
            for s in range(2):
                lab = F[n:n + 1].copy()
                lab[0, j, s] -= 1.0  # residual e_{j,s}: the gradient is grad F_{j,s}
                _, g = objective_and_grad(w, x[n:n + 1], lab, 1.0)
                total += float((backend.to_numpy(g) ** 2).sum())
    assert train.gradient_trace(w, x) == pytest.approx(total / 3, rel=1e-10)


def test_hyperparameter_rules() -> None:
    assert train.output_scale(6, 1) == pytest.approx(0.5)
    assert train.output_scale(3, 1) == 1.0
    with pytest.raises(ValueError):
        train.output_scale(2, 1)
    w, x, _ = _setup()
    eta, kappa = train.step_size(w, x, 0.5)
    assert eta == pytest.approx(1 / kappa)
    assert kappa == pytest.approx(0.25 * train.gradient_trace(w, x))
    h = train.choose_hyperparameters(w, x, 0.5)
    assert h.lam == train.output_scale(5, 2) and h.eta == pytest.approx(1 / h.kappa)


def test_readout_baseline_fits_a_linear_function_of_h() -> None:
    from rnnproof import hidden_states  # noqa: PLC0415

    w, x, _ = _setup(n=200, m=16, L=5, d=1)
    h = backend.to_numpy(hidden_states(w, x))
    V = np.random.default_rng(0).standard_normal(16)
    y = np.stack([h[:, j] @ V for j in range(3, 6)], axis=1)[:, :, None]
    out = train.readout_baseline(w, x[:150], y[:150], x[150:], y[150:])
    assert out["risk"] < 1e-6


def test_experiment_protocol() -> None:
    tgt = concept.normalized(concept.random_two_layer(4, 5, 1, 1, sp.sin(z), 0).to_target(5))
    e = train.experiment(tgt, 32, 300, 0, n_test=100, records=4, baselines=True)
    assert e.opt == pytest.approx(0.5 * 3 * train.NOISE ** 2)
    assert e.eps == pytest.approx(train.EPS_REL * (e.null_risk - e.opt))
    assert e.result.steps == 300 and e.train_risk is None
    assert set(e.baselines) == {"untrained", "readout", "least_squares"}
    assert e.running_average().shape == (300,)
    assert e.online_average == pytest.approx(float(e.result.objective.mean()))
    s = train.experiment(tgt, 32, 300, 0, n_test=100, records=4, stop_at_target=True)
    t = s.steps_to_target()
    assert t is None or t == s.result.steps
    u = train.experiment(tgt, 32, 40, 0, N=20, n_test=50, records=2, shuffle_labels=True)
    assert u.train_risk is not None


@pytest.mark.parametrize("batch", [1, 3])
def test_frozen_path_equals_the_loop(batch: int) -> None:
    w, x, y = _setup()
    frozen = train.sgd(w, x, y, 0.5, 0.0, 7, seed=4, batch=batch, record_every=3,
                       eval_x=x, eval_y=y)
    for t, idx in enumerate(_draws(4, 7, batch, 12)):
        obj, _ = objective_and_grad(w, x[idx], y[idx], 0.5)
        assert frozen.objective[t] == pytest.approx(obj, rel=1e-12)
    assert list(frozen.record_steps) == [0, 3, 6, 7]
    assert np.allclose(frozen.risks, train.risk(w, x, y, 0.5))


# ------------------------------------------------------------ per-sample losses and baselines


def test_per_sample_losses_sum_to_the_risk() -> None:
    w, x, y = _setup()
    shift = 0.01 * np.random.default_rng(3).standard_normal((w.m, w.m))
    per = train.per_sample_losses(w, x, y, 0.4, shift, chunk=5)
    assert per.shape == (12, 3)
    assert per.sum(axis=1).mean() == pytest.approx(train.risk(w, x, y, 0.4, shift), rel=1e-12)
    with pytest.raises(ValueError, match="y_star must have shape"):
        train.per_sample_losses(w, x, y[:, :2], 0.4)


def test_least_squares_baseline_is_exact_on_linear_labels() -> None:
    xs = concept.random_true_inputs(300, 5, 4, 0)
    coef = np.random.default_rng(1).standard_normal((3, 4))
    # label at position j = k + 3 is linear in the tokens 2..j-1 (here: the latest one)
    y = np.stack([xs[:, k] @ coef[k] + 0.3 for k in range(3)], axis=1)[:, :, None]
    out = train.least_squares_baseline(xs[:200], y[:200], xs[200:], y[200:])
    assert out["risk"] < 1e-20 and out["per_sample"].shape == (100,)
    noisy = y + 0.1 * np.random.default_rng(2).standard_normal(y.shape)
    out = train.least_squares_baseline(xs[:200], noisy[:200], xs[200:], noisy[200:])
    assert out["risk"] == pytest.approx(0.5 * 3 * 0.01, rel=0.3)
    with pytest.raises(ValueError, match="matching the tokens"):
        train.least_squares_baseline(xs, y[:10], xs, y)


def test_readout_baseline_reports_per_sample_losses() -> None:
    w, x, y = _setup(n=60, m=16, L=5, d=1)
    out = train.readout_baseline(w, x[:40], y[:40, :, :1], x[40:], y[40:, :, :1])
    assert out["per_sample"].shape == (20,)
    assert out["risk"] == pytest.approx(out["per_sample"].mean())


def test_paper_hyperparameters_scale_as_printed() -> None:
    ref = train.Hyper(lam=0.5, eta=0.01, kappa=1.0, eps_x=0.5, rule="ref")
    same = train.paper_hyperparameters(ref, 4, 64, 4, 64)
    assert same.lam == ref.lam and same.eta == ref.eta
    h = train.paper_hyperparameters(ref, 4, 64, 8, 128)
    assert h.lam == pytest.approx(0.5 / 4) and h.eta == pytest.approx(0.01 / 4 / 2)
    with pytest.raises(ValueError, match="L0, L >= 3"):
        train.paper_hyperparameters(ref, 2, 64, 8, 128)


def test_first_crossing() -> None:
    obj = np.r_[np.full(10, 2.0), np.full(10, 0.5)]
    assert train.first_crossing(obj, 1.0, window=4) == 13  # mean of obj[9:13] = 0.875
    assert train.first_crossing(obj, 0.1, window=4) is None
    assert train.first_crossing(obj[:3], 5.0, window=4) is None


def test_experiment_per_sample_losses_and_given_hyperparameters() -> None:
    tgt = concept.normalized(concept.random_two_layer(4, 5, 1, 1, sp.sin(z), 0).to_target(5))
    e = train.experiment(tgt, 32, 200, 0, n_test=50, records=6, per_sample=True,
                         baselines=True, eps=0.3)
    assert e.test_losses.shape == (e.result.record_steps.size, 50, 3)
    assert e.eps == 0.3 and e.target_risk == pytest.approx(e.opt + 0.3)
    assert e.result.risks[-1] == pytest.approx(e.last_losses().mean())
    assert e.averaged_losses().mean() == pytest.approx(
        np.trapezoid(e.result.risks, e.result.record_steps) / e.result.record_steps[-1])
    assert e.baseline_losses["untrained"].mean() == pytest.approx(e.baselines["untrained"])
    fixed = train.Hyper(lam=0.5, eta=1e-3, kappa=float("nan"), eps_x=0.5, rule="fixed")
    f = train.experiment(tgt, 32, 50, 0, n_test=20, records=2, hyper=fixed)
    assert f.hyper is fixed and f.result.eta == 1e-3
    with pytest.raises(ValueError, match="per_sample=True"):
        f.averaged_losses()


def test_steps_to_goal_continues_across_chunks() -> None:
    tgt = concept.normalized(concept.random_two_layer(4, 5, 1, 1, sp.sin(z), 0).to_target(5))
    easy = train.steps_to_goal(tgt, 32, 0, goal=10.0, max_steps=500, first=50)
    # met at the first full window, which spans two chunks (50 + 100 steps were taken)
    assert easy.steps == 100 and easy.objective.size == 150
    hard = train.steps_to_goal(tgt, 32, 0, goal=0.0, max_steps=700, first=100, growth=2.0)
    assert hard.steps is None and hard.objective.size == 700  # chunks 100, 200, 400 (cut)
    assert hard.shift_frobenius > 0
    frozen = train.steps_to_goal(tgt, 32, 0, goal=0.0, max_steps=300, eta_factor=0.0)
    assert frozen.steps is None and frozen.shift_frobenius == 0.0
    # two widths can share one data stream
    a = train.steps_to_goal(tgt, 16, 1, goal=0.0, max_steps=120, data_seed=7, eta_factor=0.0)
    b = train.steps_to_goal(tgt, 16, 2, goal=0.0, max_steps=120, data_seed=7, eta_factor=0.0)
    c = train.steps_to_goal(tgt, 16, 1, goal=0.0, max_steps=120, data_seed=8, eta_factor=0.0)
    assert not np.array_equal(a.objective, b.objective)  # different initializations
    assert not np.array_equal(a.objective, c.objective)  # different samples
    with pytest.raises(ValueError, match="max_steps >= window"):
        train.steps_to_goal(tgt, 16, 0, goal=1.0, max_steps=10)
