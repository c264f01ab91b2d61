"""The CuPy path, on the CPU stand-in (tests/fakecupy): every public entry point accepts host
inputs and converts them to the device and to the weights' dtype, agrees with NumPy, and reads
the device on the host only where it says so (host syncs counted by the stand-in).

Each test activates the stand-in itself (the ``standin`` fixture), so these run in every
plain ``pytest`` as well as in ``pytest --standin``. Reference numbers come from the NumPy
backend in the same test (:func:`on_numpy`), compared on the host through ``to_numpy``.
"""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np
import pytest
import sympy as sp

import rnnproof as rp
from rnnproof import backend, coupling, rademacher, train
from rnnproof import initialization as ini
from rnnproof.concept import random_target, random_true_inputs, z
from rnnproof.construction import construct_w_star, random_lowrank_like
from rnnproof.rnn import rollout_from
from rnnproof.sequences import check_actual_input

H = backend.to_numpy

#: 200 vanilla SGD steps with no records may read the device this many times (issue 10)
SGD_SYNC_BUDGET = 10


@contextlib.contextmanager
def on_numpy():
    """The NumPy backend inside the block (the stand-in again after it)."""
    saved = os.environ.get("RNNPROOF_BACKEND")
    os.environ["RNNPROOF_BACKEND"] = "numpy"
    backend.reset()
    try:
        yield
    finally:
        os.environ["RNNPROOF_BACKEND"] = saved or "cupy"
        backend.reset()
        backend.name()  # select again now, so that no later count sees the selection


def host_problem(n=4, L=6, m=48, d_x=4, d=2, seed=0):
    """Host (NumPy) arrays: weights, inputs, labels, a shift and low-rank factors."""
    g = np.random.default_rng(seed)
    W = g.standard_normal((m, m)) * np.sqrt(2 / m)
    A = g.standard_normal((m, d_x + 1)) * np.sqrt(2 / m)
    B = g.standard_normal((d, m)) / np.sqrt(d)
    with on_numpy():
        x = rp.embed(random_true_inputs(n, L, d_x, seed), 0.4)
    y = g.standard_normal((n, L - 2, d)) * 0.3
    shift = 0.1 * g.standard_normal((m, m)) / m
    U, V = g.standard_normal((m, 3)), g.standard_normal((m, 3))
    return dict(W=W, A=A, B=B, x=x, y=y, shift=shift, U=U, V=V)


def api_results(p, dtype):
    """Every public entry point of the network on the problem ``p`` (host inputs), returned
    as host arrays; runs on whatever backend is active."""
    w = rp.Weights(p["W"].astype(dtype), p["A"], p["B"])
    x, y, shift = p["x"], p["y"], p["shift"]
    lr = rp.LowRank(p["U"], p["V"])
    tr = rp.forward_trace(w, x, shift)
    obj, grad = rp.objective_and_grad(w, x, y, 0.5, shift)
    out = {
        "h": rp.hidden_states(w, x), "y": rp.outputs(w, x, shift), "g": tr.g, "D": tr.D,
        "back": rp.back_operators(w, x), "f_dense": rp.linear_response(w, x, p["U"] @ p["V"].T),
        "f_lowrank": rp.linear_response(w, x, lr), "grad": grad, "obj": np.array(obj),
        "rollout": rollout_from(w, x, 2, H(rp.hidden_states(w, x))[:, 2]),
        "risk": np.array(train.risk(w, x, y, 0.5, shift)),
        "null": rp.null_sequence(6, 4, 0.4),
    }
    for k, v in out.items():
        if k not in ("obj", "risk", "null"):
            assert v.dtype in (np.dtype(dtype), np.bool_), (k, v.dtype)
            assert isinstance(v, backend.xp().ndarray), k
    return {k: H(v) for k, v in out.items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_public_api_converts_host_inputs_and_agrees_with_numpy(standin, dtype):
    p = host_problem()
    with on_numpy():
        ref = api_results(p, dtype)
    with standin.counting() as c:
        dev = api_results(p, dtype)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    for k in ref:
        a, b = ref[k].astype(float), dev[k].astype(float)
        assert a.shape == b.shape, k
        scale = max(1.0, float(np.abs(a).max()))
        assert np.abs(a - b).max() <= tol * scale, (k, float(np.abs(a - b).max()))
    assert c.counts.get("h2d", 0) > 0  # the host inputs were moved, not mixed


def test_inputs_take_the_weights_dtype(standin):
    p = host_problem()
    for wdt, xdt in ((np.float32, np.float64), (np.float64, np.float32)):
        w = rp.Weights(p["W"].astype(wdt), p["A"].astype(xdt), p["B"].astype(xdt))
        assert w.A.dtype == w.B.dtype == wdt
        x = backend.to_backend(p["x"], xdt)  # a device x of the other dtype
        assert rp.hidden_states(w, x).dtype == wdt
        assert rp.linear_response(w, x, rp.LowRank(p["U"].astype(xdt), p["V"])).dtype == wdt
        assert rp.objective_and_grad(w, x, p["y"].astype(xdt), 0.5)[1].dtype == wdt
        assert train.sgd(w, x, p["y"], 0.5, 0.01, 3).shift.dtype == wdt


def test_a_device_input_on_the_numpy_backend_is_converted(standin):
    p = host_problem()
    x_dev = standin.asarray(p["x"])  # a device array ...
    with on_numpy():  # ... given to the NumPy backend
        w = rp.Weights(standin.asarray(p["W"]), p["A"], standin.asarray(p["B"]))
        assert isinstance(w.W, np.ndarray)
        h = rp.hidden_states(w, x_dev)
        assert isinstance(h, np.ndarray)
        np.testing.assert_allclose(h, rp.hidden_states(w, p["x"]))


def test_validation_reads_a_summary_not_x(standin):
    p = host_problem(n=64, L=10)
    x = backend.to_backend(p["x"])
    with standin.counting() as c:
        check_actual_input(x, 4)
    assert c.syncs == 1 and c.counts["get"] == 1
    with pytest.raises(ValueError, match="normalized"):
        check_actual_input(x * 2, 4)
    with pytest.raises(ValueError, match="non-finite"):
        check_actual_input(backend.xp().where(x > 0, np.nan, x), 4)
    with pytest.raises(ValueError, match="-1, \\+1"):
        rp.objective_and_grad(rp.Weights(p["W"], p["A"], p["B"]), x, np.zeros((64, 8, 2)), 0.5,
                              loss="logistic")
    with pytest.raises(ValueError, match="unit norm"):
        rp.embed(backend.to_backend(random_true_inputs(3, 6, 4, 0)) * 1.1, 0.3)


def sgd_problem(N=256, L=8, m=64, d_x=4, d=2):
    w = rp.init_weights(m, d_x, d, seed=0)
    x = rp.embed(random_true_inputs(N, L, d_x, 0), 0.5)
    y = np.random.default_rng(0).standard_normal((N, L - 2, d)) * 0.1
    return w, x, y


def test_vanilla_sgd_stays_within_its_sync_budget(standin):
    w, x, y = sgd_problem()
    with standin.counting(trace=True) as c:
        res = train.sgd(w, x, y, 0.5, 0.01, 200)
    assert res.objective.shape == (200,) and np.all(np.isfinite(res.objective))
    assert c.syncs <= SGD_SYNC_BUDGET, c.sites
    # more steps read the objectives once per segment, not once per step
    with standin.counting() as c2:
        train.sgd(w, x, y, 0.5, 0.01, 1000)
    assert c2.syncs <= c.syncs + math.ceil(1000 / train.SEGMENT)


def test_sgd_on_the_device_matches_numpy(standin):
    kw = dict(lam=0.5, eta=0.05, steps=300, record_every=100, stop_below=0.0)
    w, x, y = sgd_problem()
    xe, ye = x[:32], y[:32]
    dev = train.sgd(w, x, y, eval_x=xe, eval_y=ye, **kw)
    with on_numpy():
        w2 = rp.Weights(H(w.W), H(w.A), H(w.B))
        ref = train.sgd(w2, H(x), y, eval_x=H(xe), eval_y=ye, **kw)
    np.testing.assert_allclose(dev.objective, ref.objective, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(dev.risks, ref.risks, rtol=2e-4)
    np.testing.assert_array_equal(dev.record_steps, ref.record_steps)
    np.testing.assert_allclose(H(dev.shift), ref.shift, atol=1e-5)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
def test_sgd_early_stop_and_divergence_on_the_device(standin):
    w, x, y = sgd_problem()
    full = train.sgd(w, x, y, 0.5, 0.05, 600)
    # a stop inside a segment is found on the host and the segment replayed up to it
    thr = float(np.mean(full.objective[300:400])) * 1.02
    stop = train.sgd(w, x, y, 0.5, 0.05, 600, stop_below=thr, stop_window=100,
                     record_every=1000)
    t = stop.objective.size
    c = np.cumsum(np.r_[0.0, full.objective])
    want = int(np.nonzero((c[100:] - c[:-100]) <= thr * 100)[0][0] + 100)
    assert abs(t - want) <= 1 and stop.record_steps[-1] == t  # (1: float32 running sums)
    again = train.sgd(w, x, y, 0.5, 0.05, t)  # the state at the stop is the state after t steps
    np.testing.assert_allclose(H(stop.shift), H(again.shift), rtol=1e-6, atol=1e-9)
    bad = train.sgd(w, x, y, 1.0, 1e4, 400, record_every=50)
    assert bad.objective.size == 400 and np.isinf(bad.objective[-1])
    assert bad.record_steps[-1] < 400  # recorded at the divergence


def test_w_star_is_built_on_the_device(standin):
    tgt = random_target(6, 5, 2, 2, [z ** 2, sp.sin(z)], seed=3)
    eps_x, eps_e = 0.3, 1e-2
    eps_c = math.sqrt(2.0) * eps_x

    def build():
        w = rp.init_weights(256, 5, 2, 0, dtype="float64")
        return w, construct_w_star(w, tgt, eps_x, eps_e, eps_c)

    with standin.counting(trace=True) as c:
        w, con = build()
    xp = backend.xp()
    assert isinstance(con.W_star.U, xp.ndarray) and isinstance(con.W_star.V, xp.ndarray)
    assert isinstance(con.active, xp.ndarray) and isinstance(con.active_counts, np.ndarray)
    assert c.syncs <= 4, c.sites  # validation of x^(0) twice and the table C
    with on_numpy():
        w0 = rp.Weights(H(w.W), H(w.A), H(w.B))
        ref = construct_w_star(w0, tgt, eps_x, eps_e, eps_c)
    np.testing.assert_allclose(H(con.W_star.U), ref.W_star.U, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(H(con.W_star.V), ref.W_star.V, rtol=1e-12)
    np.testing.assert_array_equal(con.active_counts, ref.active_counts)
    assert con.W_star.frobenius_norm() == pytest.approx(ref.W_star.frobenius_norm(), rel=1e-9)
    r = random_lowrank_like(con, 1)
    assert isinstance(r.U, xp.ndarray) and r.U.dtype == con.W_star.dtype
    assert r.frobenius_norm() == pytest.approx(con.W_star.frobenius_norm(), rel=1e-6)


def test_scans_read_the_device_once(standin):
    w, x, _ = sgd_problem(N=6, L=6, m=32)
    d = coupling.random_direction(32, 1)
    counts = []
    for taus in ([0.5, 1.0], [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]):
        with standin.counting() as c:
            out = coupling.remainder_scan(w, x, d, taus)
        counts.append(c.syncs)
        assert out["remainder"].shape == (len(taus),)
    assert counts[0] == counts[1]  # one read per scan, whatever the number of taus
    with on_numpy():
        w0 = rp.Weights(H(w.W), H(w.A), H(w.B))
        ref = coupling.remainder_scan(w0, H(x), H(d), [0.25, 0.5, 1.0, 2.0, 4.0, 8.0])
    for k in ("remainder", "f", "flips", "flips_predicted"):
        np.testing.assert_allclose(out[k], ref[k], rtol=1e-3, atol=1e-7)
    g = np.random.default_rng(0).standard_normal((2, 3, 32))
    assert coupling.predicted_flip_fraction(g, g, g, g[..., :5]) > 0  # host inputs converted


def test_footnote2_helpers_accept_host_matrices_and_read_little(standin):
    W = np.random.default_rng(2).standard_normal((128, 128)) * np.sqrt(2 / 128)
    with standin.counting() as c:
        sup, vals = ini.relu_gain_sup(W, starts=8, iters=60, check_every=10)
    assert c.syncs <= 60 // 10 + 2 and vals.shape == (10,)
    smax = ini.spectral_norm(W)
    assert smax == pytest.approx(np.linalg.norm(W, 2), rel=1e-10)
    assert smax / np.sqrt(2) - 1e-6 <= sup <= smax + 1e-6
    v = ini.top_right_singular_vector(W)
    assert isinstance(v, backend.xp().ndarray)
    assert float(np.linalg.norm(W @ H(v))) == pytest.approx(smax, rel=1e-3)


def test_rademacher_on_the_device(standin):
    w, x, _ = sgd_problem(N=20, L=6, m=32)
    a, h = rademacher.gradient_factors(w, x, 6)
    K = rademacher.gram(H(a), H(h))  # host factors are converted
    assert isinstance(K, backend.xp().ndarray)
    for n, exact in ((10, True), (20, False)):
        backend.name()  # (re)select the backend outside the count
        with standin.counting(trace=True) as c:
            r = rademacher.rademacher_from_gram(K[:n, :n], 1.0, draws=300, seed=1)
        assert c.syncs == 1 and r.exact == exact, c.sites
        with on_numpy():
            ref = rademacher.rademacher_from_gram(H(K)[:n, :n], 1.0, draws=300, seed=1)
        assert r.value == pytest.approx(ref.value, rel=1e-6)
        assert r.lower <= r.value <= r.upper
    with pytest.raises(ValueError, match="symmetric"):
        rademacher.rademacher_from_gram(np.array([[1.0, 2.0], [0.0, 1.0]]), 1.0)


def test_peak_memory_on_the_device_pool(standin):
    pool = standin.get_default_memory_pool()
    with backend.peak_bytes() as peak:
        tmp = backend.xp().zeros((512, 1024))  # 4 MiB
        del tmp
        small = backend.xp().zeros(16)
    assert "pool" in peak.source and 4 * 2 ** 20 <= peak.bytes < 5 * 2 ** 20
    free, total = standin.cuda.Device().mem_info
    assert backend.available_bytes() == free + pool.free_bytes()
    del small
