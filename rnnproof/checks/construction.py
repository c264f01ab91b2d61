"""Checks of Lemma 5.2, Definition 5.3, Lemma 5.4 and Claim G.1 (Section 5.2-5.3)."""

from __future__ import annotations

import dataclasses
import math
import tracemalloc
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from .. import backend, complexity
from ..concept import Target, random_target, random_true_inputs, z
from ..construction import (
    PositionWeight,
    active_probability,
    construct_w_star,
    decompose_response,
    mean_field_response,
    null_grams,
    null_limits,
    on_target_noise,
    paper_constants,
    position_weight,
    random_lowrank_like,
    single_function_expectations,
)
from ..indicator import target_values
from ..rnn import LowRank, Weights, back_operators, hidden_states, init_weights, linear_response
from ..sequences import embed, null_sequence
from ..stats import fit_loglog
from .registry import Outcome, register

#: The functions of the concept-class target (cycled over (i, j, r, s) by random_target).
PHI_LIST = (z ** 2, sp.sin(z), sp.exp(z) - 1)
BASE = dict(L=5, d_x=5, d=2, p=2, target_seed=3, eps_e=1e-2)
EXACT_F64 = 1e-9


def _exact() -> float:
    """Round-off allowance for exact identities: float64 (NumPy) or float32 (CuPy default)."""
    return EXACT_F64 if np.dtype(backend.default_dtype()).itemsize >= 8 else 2e-4


def _widths(sz: Mapping[str, Any]) -> tuple[int, ...]:
    """The widths of a run: the profile's, plus ``gpu_m`` when the backend is CuPy."""
    extra = tuple(sz.get("gpu_m", ())) if backend.name() == "cupy" else ()
    return tuple(sz["m"]) + extra


@lru_cache(maxsize=16)
def _target(L: int, d_x: int, d: int, p: int, seed: int) -> Target:
    return random_target(L, d_x, d, p, PHI_LIST, seed)


def _inputs(n: int, L: int, d_x: int, seed: int) -> np.ndarray:
    return random_true_inputs(n, L, d_x, 1000 + seed)


def _m_where(fit: Any, level: float) -> float:
    """The m at which the fitted power law reaches ``level`` (inf if it never does)."""
    if fit.slope >= 0:
        return math.inf
    try:
        return float(math.exp((math.log(level) - fit.intercept) / fit.slope))
    except OverflowError:
        return math.inf


def _rho(L: int, d: int, m: int) -> float:
    """rho = 100 L d log m (Definition 4.1's notation)."""
    return 100.0 * L * d * math.log(m)


def _eps_c(sz: Mapping[str, Any], eps_x: float, delta: Any, L: int | None = None) -> float:
    """eps_c for a window half-width delta = eps_c / (sqrt(2) eps_x) (in units of the
    normalized noise), or the paper's eps_c = eps_e eps_x / (4 C') for delta = 'paper'."""
    if delta == "paper":
        tgt = _target(L or sz["L"], sz["d_x"], sz["d"], sz["p"], sz["target_seed"])
        return paper_constants(tgt, eps_x, sz["eps_e"])["eps_c"]
    return float(delta) * math.sqrt(2.0) * eps_x


def _terms(tgt: Target) -> list[Any]:
    """One term per (i, j): r = 0, s = 0 (different Phi and w* for different (i, j))."""
    return [t for t in tgt.terms if t.r == 0 and t.s == 0]


def _threads(m: int) -> Any:
    """One BLAS thread for the small widths (skinny products gain nothing from threads and
    suffer from contention on a shared machine); the library default above 4096."""
    return backend.blas_threads(1 if m <= 4096 else None)


@lru_cache(maxsize=64)
def _grams(m: int, seed: int, L: int, d_x: int, d: int, eps_x: float, n: int) -> Any:
    with _threads(m):
        w = init_weights(m, d_x, d, seed)
        xs = _inputs(n, L, d_x, seed)
        return null_grams(w, embed(xs, eps_x), eps_x), xs


def _pw(t: Any, L: int, eps_x: float, eps_e: float, eps_c: float,
        control: str | None) -> PositionWeight:
    pw = position_weight(t.phi, t.w_star, t.i, L, eps_x, eps_e, eps_c)
    if control == "zero-H":
        pw = dataclasses.replace(pw, H=pw.H.scaled(0.0), H51=pw.H51.scaled(0.0))
    elif control == "shifted-H":
        pw = dataclasses.replace(pw, H=pw.H.shifted(1.0 / pw.p0), H51=pw.H51.shifted(1.0))
    return pw


def _on_target(sz: Mapping[str, Any], m: int | None, seed: int, eps_x: float, delta: Any,
               L: int, n: int, control: str | None) -> dict[str, Any]:
    """Lemma 5.2a errors |E - Phi(<w*, x*_i>)|: max over terms and inputs, and per position i.
    m = None: the infinite-width Gram values (the design)."""
    tgt = _target(L, sz["d_x"], sz["d"], sz["p"], sz["target_seed"])
    eps_c = _eps_c(sz, eps_x, delta, L)
    if m is None:
        grams, xs = None, _inputs(n, L, sz["d_x"], seed)
    else:
        grams, xs = _grams(m, seed, L, sz["d_x"], sz["d"], eps_x, n)
    worst, by_i = 0.0, {}
    for t in _terms(tgt):
        pw = _pw(t, L, eps_x, sz["eps_e"], eps_c, control)
        E = single_function_expectations(pw, grams, xs, t.i, L, window=control != "no-window")
        err = float(np.abs(E - target_values(t.phi, xs[:, t.i - 2] @ t.w_star)).max())
        worst = max(worst, err)
        by_i[t.i] = max(by_i.get(t.i, 0.0), err)
    return {"max": worst, "by_i": by_i, "eps_c": eps_c}


@register("lemma-5.2a", label="lemma-5.2",
          claim="With H_{i->j,r,s} = (Lemma 5.1's H at the network's on-target noise level) / "
                "(window probability), the window-and-indicator weighted expectation over a fresh "
                "neuron fits Phi(<w*, x*_i>): within eps_e at infinite width, and the finite-m "
                "error falls with m.",
          quick=dict(m=(128, 256, 512, 1024), seeds=5, n=4, eps_x=0.01, deltas=("paper", 0.5),
                     sweep_m=512, sweep_seeds=1, sweep_deltas=(0.1, 0.3, 1.0, 2.0),
                     sweep_eps_x=(1e-3, 1e-2, 0.1, 0.3), sweep_L=(4, 8), **BASE),
          full=dict(m=(256, 512, 1024, 2048, 4096, 8192, 16384), seeds=6, n=8, eps_x=0.01,
                    deltas=("paper", 0.5), sweep_m=4096, sweep_seeds=4,
                    sweep_deltas=(0.1, 0.3, 1.0, 2.0), sweep_eps_x=(1e-3, 1e-2, 0.1, 0.3),
                    sweep_L=(4, 6, 8, 10), **BASE),
          controls=("zero-H", "no-window"), depends=("lemma-5.1", "definition-3.3"))
def _lemma_5_2a(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    L, eps_e, eps_x = sz["L"], sz["eps_e"], sz["eps_x"]
    design, design_i2, fits, curves, extrap = {}, {}, {}, {}, {}
    ok = True
    for delta in sz["deltas"]:
        key = "paper" if delta == "paper" else f"delta{delta:g}"
        d_err = _on_target(sz, None, seed, eps_x, delta, L, sz["n"], control)
        design[key] = d_err["max"]
        design_i2[key] = d_err["by_i"][2]
        ok &= d_err["max"] <= eps_e
        ms, errs = [], []
        for m in sz["m"]:
            for s in range(sz["seeds"]):
                ms.append(m)
                errs.append(_on_target(sz, m, seed + s, eps_x, delta, L, sz["n"], control)["max"])
        fit = fit_loglog(np.array(ms), np.maximum(np.array(errs), 1e-300))
        fits[key] = fit
        ok &= fit.ci_high < 0
        curves[key] = {"m": ms, "error": errs}
        extrap[key] = _m_where(fit, eps_e)
    figure: dict[str, Any] = {"vs_m": curves}
    measured: dict[str, Any] = {
        **{f"design_error_{k}": v for k, v in design.items()},
        **{f"slope_{k}": f.slope for k, f in fits.items()},
        **{f"slope_ci_low_{k}": f.ci_low for k, f in fits.items()},
        **{f"slope_ci_high_{k}": f.ci_high for k, f in fits.items()},
        **{f"m_for_eps_e_{k}": v for k, v in extrap.items()},
        **{f"error_at_m_max_{k}": float(np.median(
            [e for mm, e in zip(curves[k]["m"], curves[k]["error"]) if mm == max(sz["m"])]))
           for k in curves},
    }
    if control is None:  # sweeps for the chapter: eps_c, eps_x, L (not needed by the controls)
        ms = sz["sweep_m"]
        sweep = {}
        for name, values, kw in (("delta", sz["sweep_deltas"], "delta"),
                                 ("eps_x", sz["sweep_eps_x"], "eps_x"),
                                 ("L", sz["sweep_L"], "L")):
            rows = []
            for v in values:
                args = dict(eps_x=eps_x, delta=0.5, L=L)
                args[kw] = v
                fin = [_on_target(sz, ms, seed + s, args["eps_x"], args["delta"], args["L"],
                                  sz["n"], None) for s in range(sz["sweep_seeds"])]
                des = _on_target(sz, None, seed, args["eps_x"], args["delta"], args["L"],
                                 sz["n"], None)
                by_i = {i: float(np.median([f["by_i"][i] for f in fin])) for i in fin[0]["by_i"]}
                rows.append({"value": v, "finite_m": float(np.median([f["max"] for f in fin])),
                             "design": des["max"], "by_i": by_i})
            sweep[name] = rows
        figure["sweeps"] = sweep
        tgt = _target(L, sz["d_x"], sz["d"], sz["p"], sz["target_seed"])
        pc = paper_constants(tgt, eps_x, eps_e)
        ratio = max(_pw(t, L, eps_x, eps_e, pc["eps_c"], None).bound for t in tgt.terms) / (
            4 * pc["C_prime"] ** 2 / (eps_e * eps_x))
        measured["H_range_ratio_paper"] = ratio
        measured["C_prime"] = pc["C_prime"]
        for r in sweep["delta"]:
            measured[f"design_error_delta{r['value']:g}"] = r["design"]
    k0 = "delta0.5" if "delta0.5" in fits else next(iter(fits))
    finding = None
    if "paper" in design:
        sig2 = float(on_target_noise(L, eps_x, _eps_c(sz, eps_x, "paper", L) /
                                     (math.sqrt(2.0) * eps_x))[0])
        measured["sigma_2_paper"] = sig2
        measured["design_error_i2_paper"] = design_i2["paper"]
        finding = (
            "The sketch of Lemma 5.2 obtains (a) from Lemma 5.1a, with the network's "
            "<w~, h_{i-1}> (restricted to the window) as the noise n. At i = 2 that noise is only "
            "the window itself, because h_1 = h^(0)_1 exactly (x_1 is the same for every input): "
            f"its standard deviation is delta/sqrt(3) = {sig2:.3g} with the paper's eps_c "
            f"(eps_x = {eps_x:g}), far below the sigma >= 0.1 that Lemma 5.1 assumes, so the "
            "sketch cites Lemma 5.1 outside its stated range. The conclusion survives: our H "
            f"built at that noise level fits position 2 to {design_i2['paper']:.3g} "
            f"(eps_e = {eps_e:g}) at infinite width. Corrected statement: Lemma 5.1 is needed "
            "for every sigma >= 0 (our Hermite construction gives it; it has no lower limit on "
            "sigma).")
    return Outcome(
        passed=bool(ok), measured=measured,
        bound={"eps_e": eps_e, "slope_ci_high": "< 0"},
        tolerance="infinite-width (design) error <= eps_e; the fitted exponent of the finite-m "
                  "error (max over inputs and terms, per draw) has a 95% interval below 0",
        regime={"L": L, "d_x": sz["d_x"], "eps_x": eps_x, "eps_e": eps_e, "n_inputs": sz["n"],
                "seeds": sz["seeds"], "m_max": max(sz["m"]), "terms": "one per (i, j)",
                "paper_eps_x_hypothesis_met": False, "paper_m_hypothesis_met": False,
                "fit_for_text": k0, "sweep_m": sz["sweep_m"]},
        finding=finding, figure=figure)


@register("lemma-5.2b", label="lemma-5.2",
          claim="Off target (indicator at i' != i), the same weighted expectation is within "
                "eps_e of 0 at the paper's eps_x = 1/(rho^4 C'), and it vanishes linearly in "
                "eps_x (Lemma 5.1b with noise scale ~ 1/eps_x).",
          quick=dict(m=1024, seeds=3, n=4, eps_x_grid=(1e-4, 1e-3, 1e-2, 1e-1), delta=0.5,
                     **BASE),
          full=dict(m=4096, seeds=6, n=8, eps_x_grid=(1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 0.3),
                    delta=0.5, **BASE),
          controls=("same-position", "shifted-H"), depends=("lemma-5.1", "definition-3.3"))
def _lemma_5_2b(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    L, m, eps_e = sz["L"], sz["m"], sz["eps_e"]
    tgt = _target(L, sz["d_x"], sz["d"], sz["p"], sz["target_seed"])
    consts = paper_constants(tgt, 0.01, eps_e)
    eps_x_lit = 1.0 / (_rho(L, sz["d"], m) ** 4 * consts["C_prime"])

    def off_errors(eps_x: float, eps_c: float, s: int) -> tuple[float, dict[int, float]]:
        grams, xs = _grams(m, s, L, sz["d_x"], sz["d"], eps_x, sz["n"])
        worst, by_gap = 0.0, {}
        for t in _terms(tgt):
            pw = _pw(t, L, eps_x, eps_e, eps_c, control)
            for ip in range(2, L + 1):
                if ip == t.i and control != "same-position":
                    continue
                E = single_function_expectations(pw, grams, xs, ip, L)
                e = float(np.abs(E).max())
                worst = max(worst, e)
                by_gap[ip - t.i] = max(by_gap.get(ip - t.i, 0.0), e)
        return worst, by_gap

    lit = [off_errors(eps_x_lit, paper_constants(tgt, eps_x_lit, eps_e)["eps_c"], seed + s)[0]
           for s in range(sz["seeds"])]
    xs_, ys_, by_gap_all = [], [], {}
    for ex in sz["eps_x_grid"]:
        for s in range(sz["seeds"]):
            e, bg = off_errors(ex, _eps_c(sz, ex, sz["delta"]), seed + s)
            xs_.append(ex)
            ys_.append(e)
            for g, v in bg.items():
                by_gap_all.setdefault(g, {}).setdefault(ex, []).append(v)
    fit = fit_loglog(np.array(xs_), np.maximum(np.array(ys_), 1e-300))
    passed = max(lit) <= eps_e and fit.slope >= 0.8
    return Outcome(
        passed=bool(passed),
        measured={"max_off_target_at_literal_eps_x": max(lit),
                  "slope_vs_eps_x": fit.slope, "slope_ci_low": fit.ci_low,
                  "slope_ci_high": fit.ci_high,
                  "max_off_target_at_eps_x_0.1": max(y for x, y in zip(xs_, ys_) if x == 0.1)
                  if 0.1 in sz["eps_x_grid"] else math.nan},
        bound={"eps_e": eps_e, "slope_min": 0.8},
        tolerance="off-target <= eps_e at eps_x = 1/(rho^4 C'); fitted exponent in eps_x >= 0.8",
        regime={"m": m, "L": L, "seeds": sz["seeds"], "n_inputs": sz["n"],
                "literal_eps_x": eps_x_lit, "rho": _rho(L, sz["d"], m),
                "C_prime": consts["C_prime"], "delta_grid_runs": sz["delta"]},
        figure={"eps_x": xs_, "error": ys_,
                "by_gap": {str(g): {str(k): float(np.median(v)) for k, v in d.items()}
                           for g, d in by_gap_all.items()}})


@register("lemma-5.2-active-neurons", label="lemma-5.2",
          claim="The number of neurons passing the window 1{|<w_k, h0_{i-1}>| <= eps_c/sqrt(m)} "
                "is binomial with p = 2 Phi_N(eps_c/sqrt(2||h0||^2)) - 1; with the paper's "
                "eps_c = eps_e eps_x/(4C') it is zero at every feasible m.",
          quick=dict(m=(1024, 2048), seeds=2, eps_x=0.01, eps_c_grid=(1e-3, 1e-2, 0.1, 1.0),
                     **BASE),
          full=dict(m=(1024, 4096, 16384), seeds=3, eps_x=0.01,
                    eps_c_grid=(1e-4, 1e-3, 1e-2, 0.1, 1.0), **BASE),
          controls=("wrong-window",), depends=("definition-3.3",))
def _active(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    L, eps_x, eps_e = sz["L"], sz["eps_x"], sz["eps_e"]
    tgt = _target(L, sz["d_x"], sz["d"], sz["p"], sz["target_seed"])
    consts = paper_constants(tgt, eps_x, eps_e)
    eps_list = [("paper", consts["eps_c"])] + [(f"{e:g}", e) for e in sz["eps_c_grid"]]
    rows, zmax, paper_obs, paper_exp = [], 0.0, 0, 0.0
    for m in sz["m"]:
        for s in range(sz["seeds"]):
            w = init_weights(m, sz["d_x"], sz["d"], seed + s)
            h0 = hidden_states(w, null_sequence(L, sz["d_x"], eps_x))[0]
            proj = np.abs(backend.to_numpy(h0[1:L - 1] @ w.W.T))
            nsq = backend.to_numpy((h0[1:L - 1] ** 2).sum(-1))
            for name, ec in eps_list:
                thr = ec if control == "wrong-window" else ec / math.sqrt(m)
                obs = (proj <= thr).sum(axis=1)
                p = active_probability(ec, nsq)
                exp_ = m * p
                sd = np.sqrt(m * p * (1 - p))
                for o, e, sdd, i in zip(obs, exp_, sd, range(2, L)):
                    if name == "paper":
                        paper_obs += int(o)
                        paper_exp += float(e)
                    elif e >= 5:
                        zmax = max(zmax, abs(o - e) / sdd)
                    rows.append({"m": m, "seed": s, "eps_c": name, "i": i, "observed": int(o),
                                 "expected": float(e)})
    # what the paper's constants need: eps_x = 1/(rho^4 C') and eps_c = eps_e eps_x/(4C')
    m_ref = 2 ** 16
    ex_lit = 1.0 / (_rho(L, sz["d"], m_ref) ** 4 * consts["C_prime"])
    ec_lit = paper_constants(tgt, ex_lit, eps_e)["eps_c"]
    p_lit = float(active_probability(ec_lit, 1.0))
    log10_ceps = max(complexity.log_c_eps(t.phi, math.sqrt(L), eps_e) for t in _terms(tgt)
                     ) / math.log(10)
    passed = zmax <= 4.0 and paper_obs <= max(3, 10 * paper_exp)
    return Outcome(
        passed=bool(passed),
        measured={"max_abs_z": zmax, "paper_eps_c": consts["eps_c"],
                  "paper_active_observed": paper_obs, "paper_active_expected": paper_exp,
                  "paper_p_at_eps_x_0.01": float(active_probability(consts["eps_c"], 1.0)),
                  "paper_m_for_one_active_at_eps_x_0.01": 1.0 / float(
                      active_probability(consts["eps_c"], 1.0)),
                  "literal_eps_x_at_m_65536": ex_lit, "literal_eps_c_at_m_65536": ec_lit,
                  "literal_active_fraction_at_m_65536": p_lit,
                  "log10_C_eps_sqrtL": log10_ceps,
                  "log10_eps_c_with_C_eps": math.log10(eps_e * eps_x / 4) - log10_ceps},
        bound={"max_abs_z": 4.0},
        tolerance="|observed - m p| <= 4 binomial sd wherever m p >= 5; paper-eps_c counts "
                  "consistent with their (tiny) expectation",
        regime={"m": list(sz["m"]), "seeds": sz["seeds"], "eps_x": eps_x, "eps_e": eps_e,
                "C_prime": consts["C_prime"], "L": L},
        figure={"rows": rows})


# ----------------------------------------------------------------------------- Def. 5.3 / 5.4
@register("definition-5.3", label="definition-5.3",
          claim="construct_w_star returns W* of Definition 5.3 as rank-(L-2) factors U V^T "
                "(V = h0_{1..L-2}) whose rows equal the printed formula, without any m x m array.",
          quick=dict(m=1024, n_rows=24, eps_x=0.1, delta=1.0, **BASE),
          full=dict(m=4096, n_rows=64, eps_x=0.1, delta=1.0, **BASE),
          controls=("wrong-h",), depends=("lemma-5.2", "definition-4.1"))
def _definition_5_3(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    L, m, d = sz["L"], sz["m"], sz["d"]
    tgt = _target(L, sz["d_x"], d, sz["p"], sz["target_seed"])
    w = init_weights(m, sz["d_x"], d, seed)
    eps_c = _eps_c(sz, sz["eps_x"], sz["delta"])
    itemsize = np.dtype(backend.default_dtype()).itemsize
    tracemalloc.start()
    c = construct_w_star(w, tgt, sz["eps_x"], sz["eps_e"], eps_c)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    Wst = c.W_star
    if control == "wrong-h":  # an index slip: h0_i instead of h0_{i-1}
        h0 = hidden_states(w, null_sequence(L, sz["d_x"], sz["eps_x"]))[0]
        Wst = LowRank(Wst.U, h0[2:L].T.copy())
    # the printed formula, row by row, from independent ingredients
    x0 = null_sequence(L, sz["d_x"], sz["eps_x"])
    h0 = backend.to_numpy(hidden_states(w, x0)[0]).astype(np.float64)
    back0 = backend.to_numpy(back_operators(w, x0)[0]).astype(np.float64)
    Wn = backend.to_numpy(w.W).astype(np.float64)
    An = backend.to_numpy(w.A).astype(np.float64)
    rows = np.random.default_rng(seed).choice(m, size=min(sz["n_rows"], m), replace=False)
    U = backend.to_numpy(Wst.U).astype(np.float64)
    V = backend.to_numpy(Wst.V).astype(np.float64)
    worst, scale = 0.0, 0.0
    for k in rows:
        row = np.zeros(m)
        for t in tgt.terms:
            Cijs = (back0[t.i, t.j, t.s] ** 2).sum() * (h0[t.i - 1] ** 2).sum() / m
            ind = abs(Wn[k] @ h0[t.i - 1]) <= eps_c / math.sqrt(m)
            if not ind:
                continue
            pw = position_weight(t.phi, t.w_star, t.i, L, sz["eps_x"], sz["eps_e"], eps_c)
            Hk = float(pw(An[k:k + 1], m)[0])
            row += back0[t.i, t.j, t.s, k] * Hk / (m * Cijs) * h0[t.i - 1]
        ours = U[k] @ V.T
        worst = max(worst, float(np.abs(ours - row).max()))
        scale = max(scale, float(np.abs(row).max()))
    rel = worst / scale if scale > 0 else worst
    N, _ = null_limits(L, sz["eps_x"])
    ratio = np.array([c.C[i, j, s] * d / N[i - 1] for i in range(2, L) for j in range(i + 1, L + 1)
                      for s in range(d)])
    dense_bytes = m * m * itemsize
    passed = (rel <= _exact() and Wst.U.shape[1] == L - 2 and peak < 0.5 * dense_bytes
              and scale > 0)
    return Outcome(
        passed=bool(passed),
        measured={"row_formula_rel_dev": rel, "rank": int(Wst.U.shape[1]),
                  "rows_checked": len(rows), "active_in_checked_rows": int(scale > 0),
                  "peak_bytes_during_construction": int(peak),
                  "peak_over_dense_bytes": peak / dense_bytes,
                  "C_times_d_over_N_mean": float(ratio.mean()),
                  "C_times_d_over_N_max_dev": float(np.abs(ratio - 1).max())},
        bound={"row_formula_rel_dev": _exact(), "rank": L - 2, "peak_over_dense_bytes": 0.5},
        tolerance="rows agree with the printed formula to float64 round-off; rank L-2; traced "
                  "peak memory below half of one dense m x m array",
        regime={"m": m, "L": L, "d": d, "p": sz["p"], "eps_x": sz["eps_x"], "eps_c": eps_c,
                "eps_e": sz["eps_e"]})


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt((a[:, 3:] ** 2).mean()))


@lru_cache(maxsize=128)
def _draw(m: int, *args: Any) -> dict[str, Any]:
    """:func:`_draw_once`, cached, with one BLAS thread at small widths."""
    with _threads(m):
        return _draw_once(m, *args)


def _draw_once(m: int, seed: int, L: int, d_x: int, d: int, p: int, target_seed: int, eps_e: float,
          eps_x: float, delta: Any, n: int, correlated_B: bool) -> dict[str, Any]:
    """One draw at width m: W* of Definition 5.3; f(W*) of (5.1) on n held-out inputs; its split
    (5.3) into the diagonal and the three cross parts; the same split of the mean-field response
    (every neuron's window-indicator-H factor replaced by its Lemma 5.2 expectation); f for a
    random low-rank matrix of equal Frobenius norm. ``correlated_B``: every row of B equal to
    the first (a control). Arrays are (n, L+1, d) float64."""
    sz = dict(L=L, d_x=d_x, d=d, p=p, target_seed=target_seed, eps_e=eps_e)
    tgt = _target(L, d_x, d, p, target_seed)
    eps_c = _eps_c(sz, eps_x, delta)
    w = init_weights(m, d_x, d, seed)
    if correlated_B:
        w = Weights(W=w.W, A=w.A, B=backend.xp().ascontiguousarray(
            backend.xp().repeat(w.B[:1], d, axis=0)))
    c = construct_w_star(w, tgt, eps_x, eps_e, eps_c, keep_terms=True)
    xs = _inputs(n, L, d_x, seed)
    x = embed(xs, eps_x)
    f = backend.to_numpy(linear_response(w, x, c.W_star)).astype(np.float64)
    fr = backend.to_numpy(linear_response(w, x, random_lowrank_like(c, seed + 7))
                          ).astype(np.float64)
    back = backend.to_numpy(back_operators(w, x)).astype(np.float64)
    return {"F": tgt(xs), "f": f, "f_random": fr,
            "dec": decompose_response(w, x, c, back=back),
            "mf": mean_field_response(w, x, xs, c, tgt, back=back),
            "frob": c.W_star.frobenius_norm(), "active": c.active_counts.tolist(),
            "eps_c": eps_c, "C_prime": c.C_prime, "H_bound": c.H_bound}


def _run(m: int, seed: int, L: int, d_x: int, d: int, p: int, target_seed: int, eps_e: float,
         eps_x: float, delta: Any, n: int, variant: str) -> dict[str, Any]:
    """Summary numbers of one draw (relative RMS errors are divided by the RMS of F*).

    ``variant``: "base", "correlated-B", or "zero-H" / "wrong-sign" (H multiplied by 0 or -1
    in every H_{i->j,r,s}; f, its split and its mean-field version are linear in H, so they are
    the base draw's arrays times that factor)."""
    k = {"zero-H": 0.0, "wrong-sign": -1.0}.get(variant, 1.0)
    dr = _draw(m, seed, L, d_x, d, p, target_seed, eps_e, eps_x, delta, n,
               variant == "correlated-B")
    F = dr["F"]
    f, mf = k * dr["f"], {kk: k * v for kk, v in dr["mf"].items()}
    dec = {kk: k * v for kk, v in dr["dec"].items()}
    rF = _rms(F)
    parts = ("diagonal", "cross_i", "cross_j", "cross_s")
    return {
        "rel_err": _rms(f - F) / rF, "rel_err_random": _rms(dr["f_random"] - F) / rF,
        "rel_err_meanfield": _rms(mf["total"] - F) / rF,
        "rel_fluct": _rms(f - mf["total"]) / rF,
        "per_js": (np.sqrt(((f - F)[:, 3:] ** 2).mean(axis=0)) / rF).tolist(),
        "per_js_meanfield": (np.sqrt(((mf["total"] - F)[:, 3:] ** 2).mean(axis=0)) / rF).tolist(),
        "max_abs_err": float(np.abs(f - F)[:, 3:].max()),
        "frob": abs(k) * dr["frob"], "active": dr["active"], "eps_c": dr["eps_c"],
        "C_prime": dr["C_prime"], "H_bound": dr["H_bound"], "rmsF": rF,
        "identity_dev": float(np.abs(dec["total"] - f).max() / max(np.abs(f).max(), 1e-300)),
        "parts": {kk: (_rms(dec[kk] - F) if kk == "diagonal" else _rms(dec[kk])) / rF
                  for kk in parts},
        "parts_meanfield": {kk: (_rms(mf[kk] - F) if kk == "diagonal" else _rms(mf[kk])) / rF
                            for kk in parts},
    }


def _runs(sz: Mapping[str, Any], seed: int, ms: Any, seeds: int, eps_x: float, delta: Any,
          variant: str = "base") -> list[tuple[int, dict[str, Any]]]:
    return [(m, _run(m, seed + s, sz["L"], sz["d_x"], sz["d"], sz["p"], sz["target_seed"],
                     sz["eps_e"], eps_x, delta, sz["n"], variant))
            for m in ms for s in range(seeds)]


def _hypotheses(sz: Mapping[str, Any], eps_x: float, m: int, delta: Any) -> dict[str, bool]:
    """Which hypotheses of Lemmas 5.2 and 5.4 a run meets (C* = 10^4, our C')."""
    return dict(_hyp(sz["L"], sz["d_x"], sz["d"], sz["p"], sz["target_seed"], sz["eps_e"],
                     float(eps_x), int(m), delta == "paper"))


@lru_cache(maxsize=64)
def _hyp(L: int, d_x: int, d: int, p: int, target_seed: int, eps_e: float, eps_x: float, m: int,
         paper: bool) -> tuple[tuple[str, bool], ...]:
    tgt = _target(L, d_x, d, p, target_seed)
    cs = max(float(complexity.c_s(t.phi, math.sqrt(L))) for t in _terms(tgt))
    Cp = paper_constants(tgt, eps_x, eps_e)["C_prime"]
    return (("eps_e_below_1_over_C_s", eps_e < 1.0 / cs),
            ("eps_x_below_1_over_rho4_Cprime", eps_x < 1.0 / (_rho(L, d, m) ** 4 * Cp)),
            ("eps_c_as_printed", paper), ("m_at_least_poly_rho", False))


def budget(sz: Mapping[str, Any], eps_x: float | None = None) -> float:
    """The relative error budget eps_e + eps_x^(1/3): the m-independent terms of Lemma 5.4's
    printed bound with p rho^11 and C_s(Phi, 1) set to 1."""
    return sz["eps_e"] + (sz["eps_x"] if eps_x is None else eps_x) ** (1.0 / 3.0)


LEMMA_5_4_QUICK = dict(m=(256, 512, 1024, 2048), seeds=3, n=4, eps_x=0.1, delta=1.0,
                       sweep_m=512, sweep_seeds=1, sweep_deltas=(0.25, 0.5, 2.0),
                       sweep_eps_x=(0.01, 0.3), paper_m=1024, **BASE)
LEMMA_5_4_FULL = dict(m=(512, 1024, 2048, 4096, 8192, 16384), gpu_m=(32768, 65536), seeds=4,
                      n=8, eps_x=0.1,
                      delta=1.0, sweep_m=4096, sweep_seeds=2, sweep_deltas=(0.25, 0.5, 2.0, 4.0),
                      sweep_eps_x=(0.01, 0.03, 0.3), paper_m=16384, **BASE)


@register("lemma-5.4", label="lemma-5.4",
          claim="f_{j',s'}(W*) of (5.1) for W* of Definition 5.3 approaches F*_{j',s'}(x*) on "
                "held-out inputs: in expectation over the neurons it matches F* (mean-field "
                "error small), the fluctuation around it falls like m^(-1/2) (fitted), and the "
                "printed error bound holds.",
          quick=LEMMA_5_4_QUICK, full=LEMMA_5_4_FULL,
          controls=("zero-H", "wrong-sign"), depends=("definition-5.3", "equation-5.1",
                                                      "lemma-5.2"))
def _lemma_5_4(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    variant = control or "base"
    runs = _runs(sz, seed, _widths(sz), sz["seeds"], sz["eps_x"], sz["delta"], variant)
    ms = np.array([m for m, _ in runs], float)
    m_max = max(_widths(sz))
    at_max = [r for m, r in runs if m == m_max]
    errs = np.array([r["rel_err"] for _, r in runs])
    fl = np.array([r["rel_fluct"] for _, r in runs])
    mfe = np.array([r["rel_err_meanfield"] for _, r in runs])
    fit = fit_loglog(ms, errs)
    fit_fl = fit_loglog(ms, np.maximum(fl, 1e-300))
    fit_mf = fit_loglog(ms, np.maximum(mfe, 1e-300))
    mf_at_max = float(np.median([r["rel_err_meanfield"] for r in at_max]))
    # the printed bound p rho^11 (eps_e + C_s(Phi,1) eps_x^(1/3) + C m^-0.05), O-constant 1
    tgt = _target(sz["L"], sz["d_x"], sz["d"], sz["p"], sz["target_seed"])
    cs1 = max(float(complexity.c_s(t.phi, 1.0)) for t in _terms(tgt))
    C = paper_constants(tgt, sz["eps_x"], sz["eps_e"])["C"]
    rho = _rho(sz["L"], sz["d"], m_max)
    log10_bound = math.log10(sz["p"]) + 11 * math.log10(rho) + math.log10(
        sz["eps_e"] + cs1 * sz["eps_x"] ** (1 / 3) + C * m_max ** -0.05)
    max_abs = max(r["max_abs_err"] for _, r in runs)
    literal = math.log10(max(max_abs, 1e-300)) <= log10_bound
    tol = budget(sz)
    passed = (literal and mf_at_max <= tol and fit_fl.ci_high < -0.05
              and fit_fl.contains(-0.5))
    per_js = np.median(np.array([r["per_js"] for r in at_max]), axis=0)  # (L-2, d)
    per_js_mf = np.median(np.array([r["per_js_meanfield"] for r in at_max]), axis=0)
    measured = {
        "meanfield_rel_err_at_m_max": mf_at_max,
        "meanfield_slope": fit_mf.slope,
        "fluct_slope": fit_fl.slope, "fluct_slope_ci_low": fit_fl.ci_low,
        "fluct_slope_ci_high": fit_fl.ci_high,
        "slope": fit.slope, "slope_ci_low": fit.ci_low, "slope_ci_high": fit.ci_high,
        "rel_err_median_at_m_max": float(np.median([r["rel_err"] for r in at_max])),
        "rel_err_random_median_at_m_max": float(np.median([r["rel_err_random"] for r in at_max])),
        "m_for_rel_err_1": _m_where(fit, 1.0), "m_for_rel_err_0.1": _m_where(fit, 0.1),
        "max_abs_err": max_abs, "log10_max_abs_err": math.log10(max(max_abs, 1e-300)),
        "log10_printed_bound": log10_bound, "printed_bound_holds": literal,
        "worst_js_rel_err_at_m_max": float(per_js.max()),
        "worst_js_meanfield_rel_err_at_m_max": float(per_js_mf.max()),
        "active_per_position_at_m_max": float(np.mean([np.mean(r["active"]) for r in at_max])),
    }
    figure: dict[str, Any] = {"m": ms.tolist(), "rel_err": errs.tolist(),
                              "rel_fluct": fl.tolist(), "rel_err_meanfield": mfe.tolist(),
                              "rel_err_random": [r["rel_err_random"] for _, r in runs],
                              "per_js_at_m_max": per_js.tolist(),
                              "per_js_meanfield_at_m_max": per_js_mf.tolist()}
    regime = {"L": sz["L"], "d": sz["d"], "p": sz["p"], "eps_x": sz["eps_x"],
              "delta": sz["delta"], "eps_c": at_max[0]["eps_c"], "eps_e": sz["eps_e"],
              "n_inputs": sz["n"], "seeds": sz["seeds"], "m_max": m_max,
              "sweep_m": sz["sweep_m"],
              "hypotheses": _hypotheses(sz, sz["eps_x"], m_max, sz["delta"])}
    if control is None:
        sweep = {}
        for name, vals, kw in (("delta", sz["sweep_deltas"] + (sz["delta"],), "delta"),
                               ("eps_x", sz["sweep_eps_x"] + (sz["eps_x"],), "eps_x")):
            rows = []
            for v in sorted(vals):
                args = {"eps_x": sz["eps_x"], "delta": sz["delta"], kw: v}
                rr = [r for _, r in _runs(sz, seed, (sz["sweep_m"],), sz["sweep_seeds"],
                                          args["eps_x"], args["delta"])]
                rows.append({"value": v,
                             "rel_err": float(np.median([r["rel_err"] for r in rr])),
                             "rel_err_meanfield": float(np.median([r["rel_err_meanfield"]
                                                                   for r in rr])),
                             "parts_meanfield": {k: float(np.median([r["parts_meanfield"][k]
                                                                     for r in rr]))
                                                 for k in rr[0]["parts_meanfield"]},
                             "active_per_position": float(np.mean([np.mean(r["active"])
                                                                   for r in rr])),
                             "eps_c": rr[0]["eps_c"],
                             "hypotheses": _hypotheses(sz, args["eps_x"], sz["sweep_m"],
                                                       args["delta"])})
            sweep[name] = rows
        pr = _runs(sz, seed, (sz["paper_m"],), 1, sz["eps_x"], "paper")[0][1]
        measured["paper_eps_c_active"] = int(sum(pr["active"]))
        measured["paper_eps_c_rel_err"] = pr["rel_err"]
        measured["paper_eps_c"] = pr["eps_c"]
        figure["sweeps"] = sweep
    return Outcome(
        passed=bool(passed), measured=measured,
        bound={"log10_printed_bound": log10_bound, "meanfield_rel_err": tol,
               "fluct_slope": -0.5},
        tolerance="mean-field relative RMS error <= eps_e + eps_x^(1/3) at the largest width; the "
                  "fluctuation's fitted exponent has a 95% interval containing -1/2 and below "
                  "-0.05 (the bound's own rate m^-0.05); max |f - F*| below the printed bound "
                  "(O-constant 1)",
        regime=regime, figure=figure)




@register("lemma-5.4-cross-terms", label="lemma-5.4",
          claim="In the expansion (5.3) of f_{j',s'}(W*), the summands with i != i', with i = i' "
                "but j != j', and with s != s' are negligible in expectation over the neurons "
                "(their fluctuations shrink with m like the diagonal's), and the four parts add "
                "up to f exactly.",
          quick=LEMMA_5_4_QUICK, full=LEMMA_5_4_FULL,
          controls=("correlated-B",), depends=("lemma-5.2", "definition-5.3"))
def _cross_terms(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    variant = "correlated-B" if control == "correlated-B" else "base"
    runs = _runs(sz, seed, _widths(sz), sz["seeds"], sz["eps_x"], sz["delta"], variant)
    ms = np.array([m for m, _ in runs], float)
    parts = ("diagonal", "cross_i", "cross_j", "cross_s")
    fits, fits_mf, curves, curves_mf, dominant, dominant_mf = {}, {}, {}, {}, {}, {}
    for k in parts:
        vals = np.array([r["parts"][k] for _, r in runs])
        vmf = np.array([r["parts_meanfield"][k] for _, r in runs])
        fits[k] = fit_loglog(ms, np.maximum(vals, 1e-300))
        fits_mf[k] = fit_loglog(ms, np.maximum(vmf, 1e-300))
        curves[k], curves_mf[k] = vals.tolist(), vmf.tolist()
    for m in _widths(sz):
        med = {k: float(np.median([r["parts"][k] for mm, r in runs if mm == m])) for k in parts}
        mdf = {k: float(np.median([r["parts_meanfield"][k] for mm, r in runs if mm == m]))
               for k in parts}
        dominant[str(m)] = max(med, key=med.get)
        dominant_mf[str(m)] = max(mdf, key=mdf.get)
    m_max = max(_widths(sz))
    mf_max = {k: float(np.median([r["parts_meanfield"][k] for mm, r in runs if mm == m_max]))
              for k in parts}
    act_max = {k: float(np.median([r["parts"][k] for mm, r in runs if mm == m_max]))
               for k in parts}
    ident = max(r["identity_dev"] for _, r in runs)
    tol = budget(sz)
    passed = (ident <= _exact() and all(mf_max[k] <= tol for k in parts[1:])
              and all(fits_mf[k].ci_high < 0 for k in ("cross_j", "cross_s")))
    return Outcome(
        passed=bool(passed),
        measured={"identity_rel_dev": ident,
                  **{f"meanfield_{k}_at_m_max": v for k, v in mf_max.items()},
                  **{f"actual_{k}_at_m_max": v for k, v in act_max.items()},
                  **{f"slope_{k}": f.slope for k, f in fits.items()},
                  **{f"slope_ci_high_{k}": f.ci_high for k, f in fits.items()},
                  **{f"meanfield_slope_{k}": f.slope for k, f in fits_mf.items()},
                  **{f"meanfield_slope_ci_high_{k}": f.ci_high for k, f in fits_mf.items()},
                  "dominant_at_m_max": dominant[str(m_max)],
                  "dominant_at_m_min": dominant[str(min(_widths(sz)))],
                  "meanfield_dominant_at_m_max": dominant_mf[str(m_max)]},
        bound={"identity_rel_dev": _exact(), "meanfield_cross_rel": tol},
        tolerance="the split reproduces f to round-off; each cross part of the mean-field "
                  "response <= (eps_e + eps_x^(1/3)) RMS(F*) at the largest width; the mean-field "
                  "j != j' and s != s' parts fall with m (95% interval of the exponent below 0)",
        regime={"L": sz["L"], "d": sz["d"], "p": sz["p"], "eps_x": sz["eps_x"],
                "delta": sz["delta"], "n_inputs": sz["n"], "seeds": sz["seeds"],
                "B": "rows identical (control)" if variant == "correlated-B" else "random"},
        figure={"m": ms.tolist(), "parts": curves, "parts_meanfield": curves_mf,
                "dominant": dominant, "dominant_meanfield": dominant_mf})


@register("claim-G.1", label="claim-G.1",
          claim="||W*||_F falls like m^(-1/2) (fitted exponent with 95% CI) and stays below "
                "p rho^3 C / sqrt(m).",
          quick=LEMMA_5_4_QUICK, full=LEMMA_5_4_FULL,
          controls=("wrong-exponent",), depends=("definition-5.3",))
def _claim_g1(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    runs = _runs(sz, seed, _widths(sz), sz["seeds"], sz["eps_x"], sz["delta"])
    ms = np.array([m for m, _ in runs], float)
    fr = np.array([r["frob"] for _, r in runs])
    fit = fit_loglog(ms, fr)
    claimed = 0.0 if control == "wrong-exponent" else -0.5
    tgt = _target(sz["L"], sz["d_x"], sz["d"], sz["p"], sz["target_seed"])
    C = paper_constants(tgt, sz["eps_x"], sz["eps_e"])["C"]
    log10_ratio = max(math.log10(f) - (math.log10(sz["p"] * C) + 3 * math.log10(
        _rho(sz["L"], sz["d"], int(m))) - 0.5 * math.log10(m)) for m, f in zip(ms, fr))
    passed = fit.contains(claimed) and log10_ratio <= 0
    return Outcome(
        passed=bool(passed),
        measured={"slope": fit.slope, "slope_ci_low": fit.ci_low, "slope_ci_high": fit.ci_high,
                  "frob_at_m_min": float(np.median(fr[ms == ms.min()])),
                  "frob_at_m_max": float(np.median(fr[ms == ms.max()])),
                  "log10_frob_over_bound_max": log10_ratio},
        bound={"exponent": claimed, "log10_frob_over_bound": 0.0},
        tolerance="the 95% interval of the fitted exponent contains the claimed one; "
                  "||W*||_F <= p rho^3 C / sqrt(m) with O-constant 1",
        regime={"eps_x": sz["eps_x"], "delta": sz["delta"], "seeds": sz["seeds"],
                "m": list(_widths(sz)), "C": C},
        figure={"m": ms.tolist(), "frob": fr.tolist()})
