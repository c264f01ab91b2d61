"""Checks of Section 3 (Definitions 3.1-3.3, Remark 3.4, footnote 3), Definition 4.1 and
equation (5.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import backend
from ..concept import random_true_inputs
from ..rnn import (
    LowRank,
    Weights,
    _forward_pf,
    back_operators,
    forward_trace,
    init_weights,
    linear_response,
    outputs,
    rollout_from,
)
from ..sequences import _embed_unchecked, embed, pad_to_unit
from .registry import Outcome, register

EXACT = 1e-12  # float64 round-off allowance for identities that hold exactly


def _inputs(sz: Mapping[str, Any], seed: int) -> np.ndarray:
    return random_true_inputs(sz["n"], sz["L"], sz["d_x"], seed)


@register("definition-3.1", label="definition-3.1",
          claim="The actual input places eps_x x*_l at positions 2..L-1 (bias slot 0), "
                "x_1 = e_{d_x+1} and x_L = eps_x e_{d_x+1}; x* is recovered exactly.",
          quick=dict(n=16, L=8, d_x=6, eps=(0.01, 0.1, 0.5)),
          full=dict(n=256, L=32, d_x=16, eps=(1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9)),
          controls=("no-eps-scaling",))
def _definition_3_1(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    xs = _inputs(sz, seed)
    L, d_x = sz["L"], sz["d_x"]
    worst = {"first": 0.0, "middle": 0.0, "last": 0.0, "roundtrip": 0.0}
    for eps in sz["eps"]:
        x = (_embed_unchecked(xs, 1.0) if control == "no-eps-scaling"
             else backend.to_numpy(embed(xs, eps)))
        e = np.zeros(d_x + 1)
        e[-1] = 1.0
        worst["first"] = max(worst["first"], np.abs(x[:, 1] - e).max())
        worst["middle"] = max(worst["middle"], np.abs(x[:, 2:L, -1]).max())
        worst["last"] = max(worst["last"], np.abs(x[:, L] - eps * e).max())
        worst["roundtrip"] = max(worst["roundtrip"], np.abs(x[:, 2:L, :d_x] / eps - xs).max())
    passed = max(worst.values()) <= EXACT
    return Outcome(passed=passed, measured={f"max_dev_{k}": v for k, v in worst.items()},
                   bound={"max_dev": EXACT}, tolerance="float64 round-off (1e-12)",
                   regime=dict(sz))


@register("definition-3.2", label="definition-3.2",
          claim="Every embedded sequence is normalized: ||x_1|| = 1 and ||x_l|| = eps_x for "
                "2 <= l <= L; inputs that violate the unit-norm premise are rejected.",
          quick=dict(n=16, L=8, d_x=6, eps=(0.01, 0.1, 0.5)),
          full=dict(n=256, L=32, d_x=16, eps=(1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9)),
          controls=("non-unit-tokens",), depends=("definition-3.1",))
def _definition_3_2(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    xs = _inputs(sz, seed)
    if control == "non-unit-tokens":  # bypass the validation with tokens of norm 0.8
        xs = 0.8 * xs
    dev1 = devl = 0.0
    for eps in sz["eps"]:
        x = (_embed_unchecked(xs, eps) if control else backend.to_numpy(embed(xs, eps)))
        norms = np.linalg.norm(x[:, 1:], axis=-1)
        dev1 = max(dev1, np.abs(norms[:, 0] - 1).max())
        devl = max(devl, (np.abs(norms[:, 1:] - eps) / eps).max())
    rejected = 0
    bad_inputs = [0.9 * xs, xs + 0.01, np.concatenate([xs[..., :-1], 0 * xs[..., -1:]], -1)]
    for bad in bad_inputs:
        try:
            embed(bad, 0.1)
        except ValueError:
            rejected += 1
    passed = dev1 <= EXACT and devl <= EXACT and rejected == len(bad_inputs)
    return Outcome(passed=passed,
                   measured={"max_dev_first": dev1, "max_rel_dev_later": devl,
                             "invalid_inputs_rejected": rejected,
                             "invalid_inputs_tried": len(bad_inputs)},
                   bound={"max_dev": EXACT}, tolerance="float64 round-off (1e-12)",
                   regime=dict(sz))


@register("footnote-3", label="footnote-3",
          claim="Padding makes any raw token with ||v|| <= 1 admissible (unit norm, last "
                "coordinate 1/2) without losing it.",
          quick=dict(n=2000, k=5), full=dict(n=200000, k=30),
          controls=("literal",), depends=("definition-3.1",))
def _footnote_3(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((sz["n"], sz["k"]))
    v *= rng.uniform(0, 1, (sz["n"], 1)) / np.linalg.norm(v, axis=1, keepdims=True)
    v[0] = 0.0  # the extremes ||v|| = 0 and ||v|| = 1 are included
    v[1] /= np.linalg.norm(v[1])
    lit = pad_to_unit(v, literal=True)
    lit_norm = np.linalg.norm(lit, axis=1)
    fixed = pad_to_unit(v, literal=control == "literal")
    norm_dev = np.abs(np.linalg.norm(fixed, axis=1) - 1).max()
    last_dev = np.abs(fixed[:, -1] - 0.5).max()
    recovered = np.abs(fixed[:, : sz["k"]] / (np.sqrt(3) / 2) - v).max()
    passed = max(norm_dev, last_dev, recovered) <= EXACT
    finding = (
        "Footnote 3 pads sqrt(1 - ||v||^2) and then 1/2 to a raw token v with ||v|| <= 1. "
        f"Literally this gives ||x*|| = {lit_norm.min():.6f}..{lit_norm.max():.6f} "
        "(= sqrt(5)/2), never 1, so the padded token is not admissible. Corrected: scale v and "
        "the pad by sqrt(3)/2, x* = (sqrt(3)/2 v, sqrt(3)/2 sqrt(1-||v||^2), 1/2); then "
        f"||x*|| = 1 to {norm_dev:.1e} and v is recovered exactly (up to the known factor).")
    return Outcome(passed=passed,
                   measured={"literal_norm_min": lit_norm.min(), "literal_norm_max": lit_norm.max(),
                             "corrected_norm_max_dev": norm_dev, "last_coord_max_dev": last_dev,
                             "recovery_max_dev": recovered},
                   bound={"max_dev": EXACT}, tolerance="float64 round-off (1e-12)",
                   regime=dict(sz), finding=finding)


def _z_score(sample_var: float, true_var: float, count: int) -> float:
    """z-score of a Gaussian sample variance (its standard error is var * sqrt(2/count))."""
    return abs(sample_var - true_var) / (true_var * np.sqrt(2.0 / count))


@register("definition-3.3", label="definition-3.3",
          claim="At random initialization W, A have i.i.d. N(0, 2/m) entries and B has "
                "N(0, 1/d) entries (N names the variance), so E||sigma(W h)||^2 = ||h||^2.",
          quick=dict(m=512, d_x=6, d=4, probes=64), full=dict(m=8192, d_x=16, d=8, probes=512),
          controls=("variance-1/m", "std-reading"))
def _definition_3_3(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    m, d_x, d = sz["m"], sz["d_x"], sz["d"]
    w = init_weights(m, d_x, d, seed)
    reproducible = np.array_equal(backend.to_numpy(w.W),
                                  backend.to_numpy(init_weights(m, d_x, d, seed).W))
    if control == "variance-1/m":
        w = Weights(W=w.W / np.sqrt(2.0), A=w.A / np.sqrt(2.0), B=w.B)
    elif control == "std-reading":  # reading N(0, 2/m) as a standard deviation of 2/m
        s = np.sqrt(2.0 / m)
        w = Weights(W=w.W * s, A=w.A * s, B=w.B)
    W, A, B = (backend.to_numpy(a).astype(np.float64) for a in (w.W, w.A, w.B))
    z = {"W": _z_score(W.var(), 2 / m, W.size), "A": _z_score(A.var(), 2 / m, A.size),
         "B": _z_score(B.var(), 1 / d, B.size)}
    mean_z = {k: abs(a.mean()) / np.sqrt(v / a.size)
              for k, a, v in (("W", W, 2 / m), ("A", A, 2 / m), ("B", B, 1 / d))}
    rng = np.random.default_rng(seed + 1)
    h = rng.standard_normal((sz["probes"], m))
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    ratio = float((np.maximum(h @ W.T, 0) ** 2).sum(axis=1).mean())
    # sd of ||sigma(W h)||^2 for unit h is about sqrt(5/m) (chi-square-like with m/2 terms)
    ratio_z = abs(ratio - 1) / np.sqrt(5.0 / m / sz["probes"])
    passed = max(z.values()) < 5 and max(mean_z.values()) < 5 and ratio_z < 5 and reproducible
    return Outcome(passed=passed,
                   measured={"var_W_times_m": W.var() * m, "var_A_times_m": A.var() * m,
                             "var_B_times_d": B.var() * d, "z_var_W": z["W"], "z_var_A": z["A"],
                             "z_var_B": z["B"], "z_mean_max": max(mean_z.values()),
                             "relu_energy_ratio": ratio, "z_relu_energy": ratio_z,
                             "same_seed_same_weights": reproducible},
                   bound={"var_W_times_m": 2.0, "var_B_times_d": 1.0, "z_max": 5.0,
                          "relu_energy_ratio": 1.0},
                   tolerance="|z| < 5 for every sample statistic (standard errors from the "
                             "Gaussian model)",
                   regime=dict(sz))


@register("remark-3.4", label="remark-3.4",
          claim="Scaling the tokens by eps_x is the same as scaling the first d_x columns of A; "
                "the first token feeds a fixed random state h_1 = sigma(A e_{d_x+1}), the same "
                "for every input.",
          quick=dict(n=8, L=8, d_x=6, d=3, m=256, eps=0.1),
          full=dict(n=64, L=32, d_x=16, d=4, m=4096, eps=0.05),
          controls=("scale-all-of-A",), depends=("definition-3.1", "definition-3.3"))
def _remark_3_4(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    xp = backend.xp()
    w = init_weights(sz["m"], sz["d_x"], sz["d"], seed)
    xs = _inputs(sz, seed)
    eps = sz["eps"]
    x = embed(xs, eps)
    x_unscaled = _embed_unchecked(xs, 1.0)
    x_unscaled[:, sz["L"], -1] = eps  # x_L = (0, eps_x) is not a token: keep it
    col = np.ones(sz["d_x"] + 1)
    col[: sz["d_x"]] = eps
    if control == "scale-all-of-A":
        col[:] = eps
    A_scaled = w.A * xp.asarray(col, dtype=w.A.dtype)[None, :]

    def run(A: Any, xin: Any) -> np.ndarray:
        x_pf = xp.ascontiguousarray(xp.asarray(xin, dtype=w.W.dtype).transpose(1, 0, 2))
        return backend.to_numpy(_forward_pf(w.W, A, x_pf, keep_g=False)[0])

    h = run(w.A, x)
    h_alt = run(A_scaled, x_unscaled)
    scale_dev = float(np.abs(h - h_alt).max() / np.abs(h).max())
    h1 = h[1]
    seed_state = np.maximum(backend.to_numpy(w.A)[:, -1], 0)
    seed_dev = float(np.abs(h1 - seed_state[None, :]).max())
    h1_norm2 = float((seed_state ** 2).sum())
    passed = scale_dev <= 1e-12 and seed_dev <= EXACT
    return Outcome(passed=passed,
                   measured={"scaling_equivalence_rel_dev": scale_dev,
                             "h1_vs_seed_state_max_dev": seed_dev, "h1_norm_squared": h1_norm2},
                   bound={"max_rel_dev": 1e-12}, tolerance="float64 round-off",
                   regime=dict(sz))


def _setup(sz: Mapping[str, Any], seed: int) -> tuple[Weights, Any]:
    w = init_weights(sz["m"], sz["d_x"], sz["d"], seed)
    return w, embed(_inputs(sz, seed), sz["eps"])


@register("definition-4.1", label="definition-4.1",
          claim="h_l = D_l g_l with D_l = diag(1{g_l >= 0}); Back_{i->j} = B D_j W ... D_{i+1} W "
                "is the Jacobian of y_j in h_i (later inputs fixed), Back_{j->j} = B.",
          quick=dict(n=4, L=6, d_x=5, d=3, m=128, eps=0.2, directions=4, t=1e-6),
          full=dict(n=16, L=16, d_x=8, d=4, m=2048, eps=0.1, directions=8, t=1e-6),
          controls=("printed-identity", "stale-pattern"),
          depends=("definition-3.3",))
def _definition_4_1(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    w, x = _setup(sz, seed)
    tr = forward_trace(w, x)
    h, g, D = (backend.to_numpy(a) for a in (tr.h, tr.g, tr.D))
    W, A, B = (backend.to_numpy(a) for a in (w.W, w.A, w.B))
    xn = backend.to_numpy(x)
    L = sz["L"]
    scale = np.abs(h).max()
    mask_dev = np.abs(h - D * g).max() / scale
    printed = np.einsum("nlk,mk->nlm", h[:, :-1], W) * D[:, 1:]  # D_l W h_{l-1}
    printed_dev = np.abs(h[:, 1:] - printed).max() / scale
    corrected = (np.einsum("nlk,mk->nlm", h[:, :-1], W)
                 + np.einsum("nlk,mk->nlm", xn[:, 1:], A)) * D[:, 1:]
    corrected_dev = np.abs(h[:, 1:] - corrected).max() / scale
    back = backend.to_numpy(back_operators(w, x))
    if control == "stale-pattern":  # use D_{i} instead of D_{i+1}: an off-by-one pattern
        back = back.copy()
        for i in range(1, L):
            for j in range(i + 1, L + 1):
                back[:, i, j] = back[:, i + 1, j] * D[:, i][:, None, :] @ W
    diag_dev = max(np.abs(back[:, j, j] - B[None]).max() for j in range(1, L + 1))
    rng = np.random.default_rng(seed + 7)
    jac_err = 0.0
    t = sz["t"]
    for i in range(1, L + 1):
        for _ in range(sz["directions"]):
            u = rng.standard_normal(h[:, i].shape)
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            hi = backend.xp().asarray(h[:, i])
            up = backend.to_numpy(rollout_from(w, x, i, hi + t * backend.xp().asarray(u)))
            dn = backend.to_numpy(rollout_from(w, x, i, hi - t * backend.xp().asarray(u)))
            fd = (up - dn) / (2 * t)
            for j in range(i, L + 1):
                pred = np.einsum("ndm,nm->nd", back[:, i, j], u)
                err = np.abs(fd[:, j] - pred).max() / max(np.abs(pred).max(), 1e-12)
                jac_err = max(jac_err, err)
    jac_tol = 1e-6
    literal_dev = printed_dev if control == "printed-identity" else corrected_dev
    passed = mask_dev <= EXACT and literal_dev <= EXACT and diag_dev == 0 and jac_err <= jac_tol
    finding = (
        "Definition 4.1 writes h_l = D_l W h_{l-1}. That drops the input term: measured "
        f"max |h_l - D_l W h_{{l-1}}| / max|h| = {printed_dev:.3g}. What holds (to "
        f"{corrected_dev:.1e}) is h_l = D_l (W h_{{l-1}} + A x_l) = D_l g_l.")
    return Outcome(passed=passed,
                   measured={"mask_identity_rel_dev": mask_dev,
                             "printed_identity_rel_dev": printed_dev,
                             "corrected_identity_rel_dev": corrected_dev,
                             "back_jj_equals_B_max_dev": diag_dev,
                             "jacobian_max_rel_err": jac_err},
                   bound={"identity_dev": EXACT, "jacobian_rel_err": jac_tol},
                   tolerance="identities to float64 round-off; Jacobian by central differences "
                             f"with step {t}",
                   regime=dict(sz), finding=finding,
                   figure={"h_norm": np.linalg.norm(h[:, 1:], axis=-1),
                           "active_fraction": D[:, 1:].mean(axis=-1),
                           "pattern": D[0, 1:, :64].astype(np.int8)})


@register("equation-5.1", label="equation-5.1",
          claim="The linear function f(W*) of (5.1) is the first-order change of the outputs "
                "F_j(W + t W*) at t = 0, for dense W* and for W* kept as low-rank factors.",
          quick=dict(n=4, L=6, d_x=5, d=3, m=128, eps=0.2, rank=3, t=1e-6),
          full=dict(n=16, L=16, d_x=8, d=4, m=2048, eps=0.1, rank=8, t=1e-6),
          controls=("transposed-W*",), depends=("definition-4.1",))
def _equation_5_1(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    w, x = _setup(sz, seed)
    m, t = sz["m"], sz["t"]
    g = backend.rng(seed + 3)
    U = g.standard_normal((m, sz["rank"]), dtype=w.W.dtype) / np.sqrt(m)
    V = g.standard_normal((m, sz["rank"]), dtype=w.W.dtype)
    Ws = U @ V.T
    f_dense = backend.to_numpy(linear_response(w, x, Ws.T if control else Ws))
    f_low = backend.to_numpy(linear_response(w, x, LowRank(U, V)))
    fd = backend.to_numpy(outputs(w, x, shift=t * Ws) - outputs(w, x, shift=-t * Ws)) / (2 * t)
    scale = np.abs(fd).max()
    fd_err = float(np.abs(f_dense - fd).max() / scale)
    low_err = float(np.abs(f_low - f_dense).max() / scale)
    early = float(np.abs(f_dense[:, :2]).max())
    passed = fd_err <= 1e-6 and low_err <= 1e-10 and early == 0.0
    return Outcome(passed=passed,
                   measured={"finite_difference_rel_err": fd_err,
                             "lowrank_vs_dense_rel_dev": low_err,
                             "f_at_positions_0_1": early},
                   bound={"finite_difference_rel_err": 1e-6, "lowrank_vs_dense_rel_dev": 1e-10},
                   tolerance=f"central differences with step {t}; float64",
                   regime=dict(sz))
