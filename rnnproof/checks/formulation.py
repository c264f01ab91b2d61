"""Checks of Section 3 (Definitions 3.1-3.3, Remark 3.4, footnote 3), Definition 4.1 and
equation (5.1).

Identities are ``Exact`` criteria held to the tolerance of the run's dtype
(:data:`rnnproof.stats.TOLERANCES`), so a float32 run on a GPU is judged by float32 round-off.
Finite differences are taken in float64 whatever the run's dtype, with a step at which ReLU
kinks are rarely crossed, so what they test is the identity, not the precision.
"""

from __future__ import annotations

import math
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
from ..stats import TOLERANCES, Estimate
from ..verdicts import Equivalence, Exact, Finding, Rule
from .registry import Outcome, register

#: Float64 round-off, for computations that run in NumPy float64 whatever the backend.
F64 = TOLERANCES["identity"]["float64"]
FD_STEP = 1e-6  # central-difference step (float64)


def _inputs(sz: Mapping[str, Any], seed: int) -> np.ndarray:
    return random_true_inputs(sz["n"], sz["L"], sz["d_x"], seed)


def _f64(a: Any) -> np.ndarray:
    return np.asarray(backend.to_numpy(a), dtype=np.float64)


def _float64_weights(w: Weights) -> Weights:
    """The same draw in float64 on the active backend (for finite-difference references)."""
    xp = backend.xp()
    return Weights(*(xp.asarray(a, dtype=xp.float64) for a in (w.W, w.A, w.B)))


# --------------------------------------------------------------------------------------
# Definitions 3.1, 3.2 and footnote 3
# --------------------------------------------------------------------------------------


@register("definition-3.1", label="definition-3.1",
          claim="The actual input places eps_x x*_l at positions 2..L-1 (bias slot 0), "
                "x_1 = e_{d_x+1} and x_L = eps_x e_{d_x+1}; x* is recovered exactly.",
          quick=dict(n=16, L=8, d_x=6, eps=(0.01, 0.1, 0.5)),
          full=dict(n=256, L=32, d_x=16, eps=(1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9)),
          controls={"no-eps-scaling": "Tokens embedded with eps_x = 1 whatever eps_x is asked "
                                      "for: the middle tokens and x_L are not scaled, so the "
                                      "layout and x* = x_l / eps_x fail"},
          rule=Rule((Exact("layout_dev", "x_1 = e_{d_x+1}, x_l = (eps_x x*_l, 0), "
                                         "x_L = eps_x e_{d_x+1}, and x* = x_l / eps_x "
                                         "(largest relative deviation)"),)))
def _definition_3_1(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    xs = _inputs(sz, seed)
    L, d_x = sz["L"], sz["d_x"]
    worst = {"first": 0.0, "middle": 0.0, "last": 0.0, "roundtrip": 0.0}
    e = np.zeros(d_x + 1)
    e[-1] = 1.0
    for eps in sz["eps"]:
        x = _f64(_embed_unchecked(xs, 1.0) if control == "no-eps-scaling" else embed(xs, eps))
        worst["first"] = max(worst["first"], float(np.abs(x[:, 1] - e).max()))
        worst["middle"] = max(worst["middle"], float(np.abs(x[:, 2:L, -1]).max()))
        worst["last"] = max(worst["last"], float(np.abs(x[:, L] - eps * e).max() / eps))
        worst["roundtrip"] = max(worst["roundtrip"],
                                 float(np.abs(x[:, 2:L, :d_x] / eps - xs).max()))
    return Outcome(measured={f"max_dev_{k}": v for k, v in worst.items()},
                   evidence={"layout_dev": max(worst.values())}, regime=dict(sz))


@register("definition-3.2", label="definition-3.2",
          claim="Every embedded sequence is normalized: ||x_1|| = 1 and ||x_l|| = eps_x for "
                "2 <= l <= L; inputs that violate the unit-norm premise are rejected.",
          quick=dict(n=16, L=8, d_x=6, eps=(0.01, 0.1, 0.5)),
          full=dict(n=256, L=32, d_x=16, eps=(1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9)),
          controls={"non-unit-tokens": "Tokens of norm 0.8 embedded without validation: the "
                                       "middle positions have norm 0.8 eps_x, not eps_x"},
          rule=Rule((Exact("norm_dev", "||x_1|| = 1 and ||x_l|| = eps_x for 2 <= l <= L "
                                       "(largest relative deviation)"),
                     Exact("invalid_rejected", "embed raises ValueError on every kind of "
                                               "inadmissible token tried"))),
          depends=("definition-3.1",))
def _definition_3_2(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    xs = _inputs(sz, seed)
    if control == "non-unit-tokens":  # bypass the validation with tokens of norm 0.8
        xs = 0.8 * xs
    dev1 = devl = 0.0
    for eps in sz["eps"]:
        x = _f64(_embed_unchecked(xs, eps) if control else embed(xs, eps))
        norms = np.linalg.norm(x[:, 1:], axis=-1)
        dev1 = max(dev1, float(np.abs(norms[:, 0] - 1).max()))
        devl = max(devl, float((np.abs(norms[:, 1:] - eps) / eps).max()))
    rejected = 0
    bad_inputs = [0.9 * xs, xs + 0.01, np.concatenate([xs[..., :-1], 0 * xs[..., -1:]], -1)]
    for bad in bad_inputs:
        try:
            embed(bad, 0.1)
        except ValueError:
            rejected += 1
    return Outcome(measured={"max_dev_first": dev1, "max_rel_dev_later": devl,
                             "invalid_inputs_rejected": rejected,
                             "invalid_inputs_tried": len(bad_inputs)},
                   evidence={"norm_dev": max(dev1, devl),
                             "invalid_rejected": rejected == len(bad_inputs)},
                   regime=dict(sz))


@register("footnote-3", label="footnote-3",
          claim="Padding makes any raw token with ||v|| <= 1 admissible (unit norm, last "
                "coordinate 1/2) without losing it.",
          quick=dict(n=2000, k=5), full=dict(n=200000, k=30),
          controls={"literal": "The printed padding (v, sqrt(1 - ||v||^2), 1/2) used in place of "
                               "the corrected one: its norm is sqrt(5)/2, so the corrected "
                               "statement fails too"},
          rule=Rule((Exact("literal_norm_dev", "the printed padding (v, sqrt(1 - ||v||^2), "
                                               "1/2) has unit norm", F64),),
                    corrected=(Exact("corrected_dev", "the padding (sqrt3/2 v, sqrt3/2 "
                                     "sqrt(1 - ||v||^2), 1/2) has unit norm and last "
                                     "coordinate 1/2, and v = (2/sqrt3) x*_{1..k}", F64),)),
          depends=("definition-3.1",))
def _footnote_3(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((sz["n"], sz["k"]))
    v *= rng.uniform(0, 1, (sz["n"], 1)) / np.linalg.norm(v, axis=1, keepdims=True)
    v[0] = 0.0  # the extremes ||v|| = 0 and ||v|| = 1 are included
    v[1] /= np.linalg.norm(v[1])
    lit_norm = np.linalg.norm(pad_to_unit(v, literal=True), axis=1)
    fixed = pad_to_unit(v, literal=control == "literal")
    norm_dev = float(np.abs(np.linalg.norm(fixed, axis=1) - 1).max())
    last_dev = float(np.abs(fixed[:, -1] - 0.5).max())
    recovered = float(np.abs(fixed[:, : sz["k"]] / (math.sqrt(3) / 2) - v).max())
    finding = Finding(
        "erratum", "Footnote 3's padding gives norm sqrt(5)/2, not 1",
        printed="A raw token $v$ with $\\|v\\|\\le1$ becomes admissible by appending "
                "$\\sqrt{1-\\|v\\|^2}$ and then $\\tfrac12$.",
        observed="That token has $\\|x^\\star\\|^2=\\|v\\|^2+(1-\\|v\\|^2)+\\tfrac14=\\tfrac54$: "
                 f"on {sz['n']} raw tokens the norm is {lit_norm.min():.6f} to "
                 f"{lit_norm.max():.6f} ($=\\sqrt5/2$), never 1.",
        holds="Scale the first two parts by $\\tfrac{\\sqrt3}{2}$: "
              "$x^\\star=(\\tfrac{\\sqrt3}{2}v,\\tfrac{\\sqrt3}{2}\\sqrt{1-\\|v\\|^2},\\tfrac12)$ "
              f"has unit norm (to {norm_dev:.1e}) and last coordinate $\\tfrac12$, and $v$ is "
              "recovered as $\\tfrac{2}{\\sqrt3}$ times its first coordinates.") \
        if control is None else None
    return Outcome(measured={"literal_norm_min": float(lit_norm.min()),
                             "literal_norm_max": float(lit_norm.max()),
                             "corrected_norm_max_dev": norm_dev, "last_coord_max_dev": last_dev,
                             "recovery_max_dev": recovered},
                   evidence={"literal_norm_dev": float(np.abs(lit_norm - 1).max()),
                             "corrected_dev": max(norm_dev, last_dev, recovered)},
                   regime=dict(sz), finding=finding)


# --------------------------------------------------------------------------------------
# Definition 3.3
# --------------------------------------------------------------------------------------

#: Readings of "N(0, 2/m)" and "N(0, 1/d)" that compete with the variance reading, as the
#: values they give m Var(W_ij) (or d Var(B_ij)) and the ReLU energy E||sigma(W h)||^2.
W_READINGS = {"variance 1/m": 1.0, "variance sqrt(2)/m (footnote 2)": math.sqrt(2.0),
              "standard deviation 2/m": 0.0}
KURTOSIS_UNIFORM = 1.8  # E x^4 / (E x^2)^2 of a uniform distribution: the nearest competitor


def _variance_estimate(a: np.ndarray, scale: float) -> Estimate:
    """scale * Var(a) over i.i.d. entries with mean 0, and its standard error (from the
    entries' fourth moment)."""
    a = a.ravel()
    sq = a * a
    return Estimate(float(scale * sq.mean()), float(scale * sq.std(ddof=1) / math.sqrt(a.size)),
                    float(a.size - 1))


def _kurtosis_estimate(a: np.ndarray) -> Estimate:
    """E x^4 / (E x^2)^2 of i.i.d. centred entries (3 for a Gaussian), with the delta-method
    standard error."""
    a = a.ravel()
    m2, m4 = float((a ** 2).mean()), float((a ** 4).mean())
    k = m4 / m2 ** 2
    # influence function of m4/m2^2 at one entry: (x^4 - m4)/m2^2 - 2 m4 (x^2 - m2)/m2^3
    inf = (a ** 4 - m4) / m2 ** 2 - 2 * m4 * (a ** 2 - m2) / m2 ** 3
    return Estimate(k, float(inf.std(ddof=1) / math.sqrt(a.size)), float(a.size - 1))


def _reading_criterion(prediction: float, competitors: Mapping[str, float], name: str,
                       statement: str) -> Equivalence:
    """``evidence[name]`` equals ``prediction`` within half the distance to the nearest value a
    competing reading of the text gives, and every competing reading is rejected."""
    label, value = min(competitors.items(), key=lambda kv: abs(kv[1] - prediction))
    return Equivalence(name, statement, prediction, abs(value - prediction) / 2,
                       f"half the distance to the nearest competing reading, {label} "
                       f"({value:.4g})", dict(competitors))


@register("definition-3.3", label="definition-3.3",
          claim="At random initialization W, A have i.i.d. N(0, 2/m) entries and B has "
                "N(0, 1/d) entries (N names the variance), so E||sigma(W h)||^2 = ||h||^2.",
          quick=dict(m=512, d_x=6, d=4, probes=64), full=dict(m=8192, d_x=16, d=8, probes=512),
          controls={"variance-1/m": "W and A rescaled to variance 1/m: m Var(W_ij) and m "
                                    "Var(A_ij) are 1, not 2, and the ReLU energy is half of "
                                    "||h||^2",
                    "std-reading": "N(0, 2/m) read as a standard deviation of 2/m (W and A times "
                                   "sqrt(2/m)): m Var(W_ij) is 4/m, near 0, not 2",
                    "uniform-entries": "W replaced by uniform entries of the same variance 2/m: "
                                       "the kurtosis is 1.8, not the Gaussian 3"},
          rule=Rule((
              _reading_criterion(2.0, W_READINGS, "var_W", "m Var(W_ij)"),
              _reading_criterion(2.0, W_READINGS, "var_A", "m Var(A_ij)"),
              _reading_criterion(1.0, {"standard deviation 1/d (d >= 2: at most 1/2)": 0.5,
                                       "variance 1/m": 0.0}, "var_B", "d Var(B_ij)"),
              _reading_criterion(3.0, {"uniform entries": KURTOSIS_UNIFORM,
                                       "sign entries": 1.0},
                                 "kurtosis", "E x^4 / (E x^2)^2 of the entries of W (Gaussian: 3)"),
              _reading_criterion(1.0, {"variance 1/m": 0.5,
                                       "variance sqrt(2)/m": math.sqrt(2.0) / 2},
                                 "relu_energy", "||sigma(W h)||^2 for unit h"),
              Exact("same_seed_same_weights", "the same seed gives the same W"),
          )))
def _definition_3_3(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    m, d_x, d = sz["m"], sz["d_x"], sz["d"]
    w = init_weights(m, d_x, d, seed)
    reproducible = bool(np.array_equal(backend.to_numpy(w.W),
                                       backend.to_numpy(init_weights(m, d_x, d, seed).W)))
    W, A, B = (_f64(a) for a in (w.W, w.A, w.B))
    if control == "variance-1/m":
        W, A = W / math.sqrt(2.0), A / math.sqrt(2.0)
    elif control == "std-reading":  # reading N(0, 2/m) as a standard deviation of 2/m
        s = math.sqrt(2.0 / m)
        W, A = W * s, A * s
    elif control == "uniform-entries":  # uniform entries of the same variance
        rng = np.random.default_rng(seed + 11)
        W = rng.uniform(-1, 1, W.shape) * math.sqrt(3 * 2.0 / m)
    est = {"var_W": _variance_estimate(W, m), "var_A": _variance_estimate(A, m),
           "var_B": _variance_estimate(B, d), "kurtosis": _kurtosis_estimate(W)}
    rng = np.random.default_rng(seed + 1)
    h = rng.standard_normal((sz["probes"], m))
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    est["relu_energy"] = _sample_mean((np.maximum(h @ W.T, 0) ** 2).sum(axis=1))
    mean_z = max(abs(float(a.mean())) / math.sqrt(v / a.size)
                 for a, v in ((W, 2 / m), (A, 2 / m), (B, 1 / d)))
    return Outcome(measured={"var_W_times_m": est["var_W"].value,
                             "var_A_times_m": est["var_A"].value,
                             "var_B_times_d": est["var_B"].value,
                             "kurtosis_W": est["kurtosis"].value,
                             "relu_energy_ratio": est["relu_energy"].value,
                             "relu_energy_stderr": est["relu_energy"].stderr,
                             "mean_z_max": mean_z, "same_seed_same_weights": reproducible},
                   evidence={**est, "same_seed_same_weights": reproducible},
                   regime=dict(sz))


def _sample_mean(x: np.ndarray) -> Estimate:
    x = np.asarray(x, dtype=float).ravel()
    return Estimate(float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size)), float(x.size - 1))


# --------------------------------------------------------------------------------------
# Remark 3.4
# --------------------------------------------------------------------------------------


@register("remark-3.4", label="remark-3.4",
          claim="Scaling the tokens by eps_x is the same as scaling the first d_x columns of A; "
                "the first token feeds a fixed random state h_1 = sigma(A e_{d_x+1}), the same "
                "for every input.",
          quick=dict(n=8, L=8, d_x=6, d=3, m=256, eps=0.1),
          full=dict(n=64, L=32, d_x=16, d=4, m=4096, eps=0.05),
          controls={"scale-all-of-A": "Every column of A scaled by eps_x, the one that reads x_1 "
                                      "too: h_1 shrinks, so the rescaled-A recurrence no longer "
                                      "equals the scaled-token one"},
          rule=Rule((Exact("scaling_dev", "h from eps_x-scaled tokens = h from unscaled tokens "
                                          "with A's first d_x columns scaled (relative, over the "
                                          "recurrence)", "chain"),
                     Exact("seed_dev", "h_1 = sigma(A e_{d_x+1}) for every input (relative)"))),
          depends=("definition-3.1", "definition-3.3"))
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
        return _f64(_forward_pf(w.W, A, x_pf, keep_g=False)[0])

    h = run(w.A, x)
    h_alt = run(A_scaled, x_unscaled)
    scale_dev = float(np.abs(h - h_alt).max() / np.abs(h).max())
    seed_state = np.maximum(_f64(w.A)[:, -1], 0)
    seed_dev = float(np.abs(h[1] - seed_state[None, :]).max() / np.abs(seed_state).max())
    return Outcome(measured={"scaling_equivalence_rel_dev": scale_dev,
                             "h1_vs_seed_state_max_dev": seed_dev,
                             "h1_norm_squared": float((seed_state ** 2).sum())},
                   evidence={"scaling_dev": scale_dev, "seed_dev": seed_dev},
                   regime=dict(sz))


# --------------------------------------------------------------------------------------
# Definition 4.1 and equation (5.1)
# --------------------------------------------------------------------------------------


def _setup(sz: Mapping[str, Any], seed: int) -> tuple[Weights, Any]:
    w = init_weights(sz["m"], sz["d_x"], sz["d"], seed)
    return w, embed(_inputs(sz, seed), sz["eps"])


@register("definition-4.1", label="definition-4.1",
          claim="h_l = D_l g_l with D_l = diag(1{g_l >= 0}); Back_{i->j} = B D_j W ... D_{i+1} W "
                "is the Jacobian of y_j in h_i (later inputs fixed), Back_{j->j} = B.",
          quick=dict(n=4, L=6, d_x=5, d=3, m=128, eps=0.2, directions=4),
          full=dict(n=16, L=16, d_x=8, d=4, m=2048, eps=0.1, directions=8),
          controls={"printed-identity": "The corrected identity tested without its input term A "
                                        "x_l, i.e. as printed: it fails, so there is no corrected "
                                        "statement left to confirm",
                    "stale-pattern": "Back_{i->j} rebuilt with the pattern D_i in place of "
                                     "D_{i+1} (off by one): it no longer matches the "
                                     "finite-difference Jacobian"},
          rule=Rule((Exact("printed_identity_dev", "h_l = D_l W h_{l-1} (as printed; relative)",
                           "chain"),),
                    corrected=(
                        Exact("corrected_identity_dev", "h_l = D_l (W h_{l-1} + A x_l) "
                                                        "(relative)", "chain"),
                        Exact("mask_identity_dev", "h_l = D_l g_l (relative)"),
                        Exact("back_diagonal_dev", "Back_{j->j} = B"),
                        Exact("jacobian_dev", "Back_{i->j} u = d y_j / d h_i [u] by central "
                                              "differences in float64 (relative)",
                              "finite-difference"),
                    )),
          depends=("definition-3.3",))
def _definition_4_1(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    w, x = _setup(sz, seed)
    tr = forward_trace(w, x)
    h, g, D = (_f64(a) for a in (tr.h, tr.g, tr.D))
    W, A, B = (_f64(a) for a in (w.W, w.A, w.B))
    xn = _f64(x)
    L = sz["L"]
    scale = np.abs(h).max()
    mask_dev = float(np.abs(h - D * g).max() / scale)
    Wh = np.einsum("nlk,mk->nlm", h[:, :-1], W)
    printed_dev = float(np.abs(h[:, 1:] - Wh * D[:, 1:]).max() / scale)  # D_l W h_{l-1}
    with_input = Wh + (0.0 if control == "printed-identity"
                       else np.einsum("nlk,mk->nlm", xn[:, 1:], A))
    corrected_dev = float(np.abs(h[:, 1:] - with_input * D[:, 1:]).max() / scale)
    back = _f64(back_operators(w, x))
    if control == "stale-pattern":  # use D_{i} instead of D_{i+1}: an off-by-one pattern
        back = back.copy()
        for i in range(1, L):
            for j in range(i + 1, L + 1):
                back[:, i, j] = back[:, i + 1, j] * D[:, i][:, None, :] @ W
    diag_dev = max(float(np.abs(back[:, j, j] - B[None]).max()) for j in range(1, L + 1))
    # Jacobian by central differences, in float64 (the same draw), along random directions
    w64, x64 = _float64_weights(w), backend.xp().asarray(xn, dtype=np.float64)
    h64 = _f64(forward_trace(w64, x64).h)
    rng = np.random.default_rng(seed + 7)
    jac_err = 0.0
    t = FD_STEP
    for i in range(1, L + 1):
        for _ in range(sz["directions"]):
            u = rng.standard_normal(h64[:, i].shape)
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            hi = backend.xp().asarray(h64[:, i] + t * u)
            lo = backend.xp().asarray(h64[:, i] - t * u)
            fd = (_f64(rollout_from(w64, x64, i, hi)) - _f64(rollout_from(w64, x64, i, lo))) \
                / (2 * t)
            for j in range(i, L + 1):
                pred = np.einsum("ndm,nm->nd", back[:, i, j], u)
                err = np.abs(fd[:, j] - pred).max() / max(np.abs(pred).max(), 1e-12)
                jac_err = max(jac_err, float(err))
    finding = Finding(
        "erratum", "Definition 4.1's h_l = D_l W h_{l-1} drops the input term",
        printed="With $(D_\\ell)_{kk}=\\mathbb 1[(g_\\ell)_k\\ge0]$, "
                "$h_\\ell=D_\\ell W h_{\\ell-1}$.",
        observed=f"$\\max|h_\\ell-D_\\ell Wh_{{\\ell-1}}|/\\max|h|={printed_dev:.3g}$ on random "
                 "inputs at random initialization; the missing part is $D_\\ell A x_\\ell$.",
        holds="$h_\\ell=D_\\ell(Wh_{\\ell-1}+Ax_\\ell)=D_\\ell g_\\ell$ (to "
              f"{corrected_dev:.1e}); the backward operators are as printed and are the "
              f"Jacobians of $y_j$ in $h_i$ (central differences agree to {jac_err:.1e}).") \
        if control is None else None
    return Outcome(measured={"mask_identity_rel_dev": mask_dev,
                             "printed_identity_rel_dev": printed_dev,
                             "corrected_identity_rel_dev": corrected_dev,
                             "back_jj_equals_B_max_dev": diag_dev,
                             "jacobian_max_rel_err": jac_err},
                   evidence={"printed_identity_dev": printed_dev,
                             "corrected_identity_dev": corrected_dev,
                             "mask_identity_dev": mask_dev, "back_diagonal_dev": diag_dev,
                             "jacobian_dev": jac_err},
                   regime=dict(sz, fd_step=t, fd_dtype="float64"), finding=finding,
                   figure={"h_norm": np.linalg.norm(h[:, 1:], axis=-1),
                           "active_fraction": D[:, 1:].mean(axis=-1),
                           "pattern": D[0, 1:, :64].astype(np.int8)})


@register("equation-5.1", label="equation-5.1",
          claim="The linear function f(W*) of (5.1) is the first-order change of the outputs "
                "F_j(W + t W*) at t = 0, for dense W* and for W* kept as low-rank factors.",
          quick=dict(n=4, L=6, d_x=5, d=3, m=128, eps=0.2, rank=3),
          full=dict(n=16, L=16, d_x=8, d=4, m=2048, eps=0.1, rank=8),
          controls={"transposed-W*": "f computed for the transpose of W*: it no longer equals "
                                     "the finite-difference derivative along W*, nor f of the "
                                     "low-rank factors"},
          rule=Rule((Exact("finite_difference_dev", "f(W*) = d/dt F(W + t W*) at t = 0, by "
                                                    "central differences in float64 "
                                                    "(relative)", "finite-difference"),
                     Exact("lowrank_dev", "f of LowRank(U, V) = f of U V^T (relative)",
                           "chain"),
                     Exact("early_positions_zero", "f_0 = f_1 = 0 (h_0 = 0)"))),
          depends=("definition-4.1",))
def _equation_5_1(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    w, x = _setup(sz, seed)
    m = sz["m"]
    g = backend.rng(seed + 3)
    U = g.standard_normal((m, sz["rank"]), dtype=w.W.dtype) * (1 / math.sqrt(m))
    V = g.standard_normal((m, sz["rank"]), dtype=w.W.dtype)
    Ws = U @ V.T
    f_dense = _f64(linear_response(w, x, Ws.T if control else Ws))
    f_low = _f64(linear_response(w, x, LowRank(U, V)))
    xp = backend.xp()
    w64, x64, Ws64 = _float64_weights(w), xp.asarray(x, dtype=np.float64), \
        xp.asarray(Ws, dtype=np.float64)
    t = FD_STEP
    fd = (_f64(outputs(w64, x64, shift=t * Ws64)) - _f64(outputs(w64, x64, shift=-t * Ws64))) \
        / (2 * t)
    scale = np.abs(fd).max()
    fd_err = float(np.abs(f_dense - fd).max() / scale)
    low_err = float(np.abs(f_low - f_dense).max() / scale)
    early = float(np.abs(f_dense[:, :2]).max())
    return Outcome(measured={"finite_difference_rel_err": fd_err,
                             "lowrank_vs_dense_rel_dev": low_err,
                             "f_at_positions_0_1": early},
                   evidence={"finite_difference_dev": fd_err, "lowrank_dev": low_err,
                             "early_positions_zero": early == 0.0},
                   regime=dict(sz, fd_step=t, fd_dtype="float64"))
