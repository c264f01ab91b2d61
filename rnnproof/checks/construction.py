"""Checks of Lemma 5.2, Definition 5.3, Lemma 5.4 and Claim G.1 (Section 5.2-5.3).

The evidence of every scaling criterion is built by a small public function of this module
(``*_fit``, :func:`count_ratio`, :func:`gain_estimate`), which the synthetic-data tests call
too, so the tests calibrate exactly the fit that the checks grade.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
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
from ..stats import Estimate, SlopeFit, crossing, fit_loglog, fit_loglog_by_seed, mean_estimate
from ..verdicts import Below, Equivalence, Exact, Finding, Reach, Rule, exponent
from .registry import Outcome, register

#: The functions of the concept-class target (cycled over (i, j, r, s) by random_target).
PHI_LIST = (z ** 2, sp.sin(z), sp.exp(z) - 1)
BASE = dict(L=5, d_x=5, d=2, p=2, target_seed=3, eps_e=1e-2)
#: A bound more than two decades above the measured value (O-constant 1) cannot be brought to
#: fail by any feasible size: it is declared vacuous and confirms nothing (verdicts.Below).
VACUOUS_DECADES = 2.0
#: The factor of the wrong-constant control of Lemma 5.4: C_{i->j,s} multiplied by 1.3.
C_FACTOR = 1.3
_TINY = 1e-300


def _widths(sz: Mapping[str, Any], key: str = "m") -> tuple[int, ...]:
    """The widths of a run: the profile's, plus ``gpu_<key>`` when the backend is CuPy."""
    extra = tuple(sz.get(f"gpu_{key}", ())) if backend.name() == "cupy" else ()
    return tuple(sz[key]) + extra


@lru_cache(maxsize=16)
def _target(L: int, d_x: int, d: int, p: int, seed: int) -> Target:
    return random_target(L, d_x, d, p, PHI_LIST, seed)


def _tgt(sz: Mapping[str, Any], L: int | None = None) -> Target:
    return _target(L or sz["L"], sz["d_x"], sz["d"], sz["p"], sz["target_seed"])


def _inputs(n: int, L: int, d_x: int, seed: int) -> np.ndarray:
    return random_true_inputs(n, L, d_x, 1000 + seed)


def _rho(L: int, d: int, m: int) -> float:
    """rho = 100 L d log m (Definition 4.1's notation)."""
    return 100.0 * L * d * math.log(m)


def _eps_c(sz: Mapping[str, Any], eps_x: float, delta: Any, L: int | None = None) -> float:
    """eps_c for a window half-width delta = eps_c / (sqrt(2) eps_x) (in units of the
    normalized noise), or the paper's eps_c = eps_e eps_x / (4 C') for delta = 'paper'."""
    if delta == "paper":
        return paper_constants(_tgt(sz, L), eps_x, sz["eps_e"])["eps_c"]
    return float(delta) * math.sqrt(2.0) * eps_x


def _terms(tgt: Target) -> list[Any]:
    """One term per (i, j): r = 0, s = 0 (different Phi and w* for different (i, j))."""
    return [t for t in tgt.terms if t.r == 0 and t.s == 0]


def _threads(m: int) -> Any:
    """One BLAS thread for the small widths (skinny products gain nothing from threads and
    suffer from contention on a shared machine); the library default above 4096."""
    return backend.blas_threads(1 if m <= 4096 else None)


def _log_ratio_fit(x: Any, y: Any) -> SlopeFit:
    """log-log fit with zeros floored (a control that zeroes everything gives a flat line)."""
    return fit_loglog(np.asarray(x, float), np.maximum(np.asarray(y, float), _TINY))


# ============================================================================ Lemma 5.2
@lru_cache(maxsize=128)
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
    """Lemma 5.2a on target: the errors |E - Phi(<w*, x*_i>)| (max over terms and inputs, and
    per position i), and at finite m the RMS distance between E and its infinite-width value.
    m = None: the infinite-width Gram values (the design)."""
    tgt = _tgt(sz, L)
    eps_c = _eps_c(sz, eps_x, delta, L)
    if m is None:
        grams, xs = None, _inputs(n, L, sz["d_x"], seed)
    else:
        grams, xs = _grams(m, seed, L, sz["d_x"], sz["d"], eps_x, n)
    worst, by_i, dev = 0.0, {}, []
    window = control != "no-window"
    for t in _terms(tgt):
        pw = _pw(t, L, eps_x, sz["eps_e"], eps_c, control)
        E = single_function_expectations(pw, grams, xs, t.i, L, window=window)
        err = float(np.abs(E - target_values(t.phi, xs[:, t.i - 2] @ t.w_star)).max())
        worst = max(worst, err)
        by_i[t.i] = max(by_i.get(t.i, 0.0), err)
        if grams is not None:
            dev.append(E - single_function_expectations(pw, None, xs, t.i, L, window=window))
    rms_dev = float(np.sqrt(np.mean(np.square(dev)))) if dev else 0.0
    return {"max": worst, "by_i": by_i, "eps_c": eps_c, "deviation": rms_dev}


def deviation_fit(ms: Sequence[float], deviations: Sequence[float]) -> SlopeFit:
    """Lemma 5.2a's finite-width evidence: the fitted exponent in m of the RMS distance between
    the expectation at width m and its infinite-width value (one point per draw)."""
    return _log_ratio_fit(ms, deviations)


LEMMA_5_2A_RULE = Rule(
    (Below("sigma_shortfall", "0.1 minus the smallest on-target noise level sigma_i, with the "
           "printed eps_c", 0.0, "Lemma 5.1's range sigma >= 0.1, which the sketch of Lemma 5.2 "
           "invokes at every position"),
     Below("design_error_paper", "infinite-width on-target error, printed eps_c", "eps_e",
           "Lemma 5.2a: within eps_e")),
    corrected=(
        Below("design_error_paper", "infinite-width on-target error, printed eps_c", "eps_e",
              "Lemma 5.2a: within eps_e"),
        Below("design_error_delta0.5", "infinite-width on-target error, window delta = 0.5",
              "eps_e", "Lemma 5.2a: within eps_e"),
        Below("deviation_exponent", "fitted exponent in m of the RMS distance between the "
              "finite-width and the infinite-width expectation (delta = 0.5)", 0.0,
              "m^0: a finite-width expectation that does not approach the infinite-width one"),
    ))


@register("lemma-5.2a", label="lemma-5.2",
          claim="With H_{i->j,r,s} = (Lemma 5.1's H at the network's on-target noise level) / "
                "(window probability), the window-and-indicator weighted expectation over a fresh "
                "neuron fits Phi(<w*, x*_i>) within eps_e at infinite width, also where the "
                "noise is below Lemma 5.1's range sigma >= 0.1, and the finite-width expectation "
                "approaches the infinite-width one as m grows.",
          quick=dict(m=(128, 256, 512, 1024), seeds=12, n=4, eps_x=0.01, deltas=("paper", 0.5),
                     sweep_m=512, sweep_seeds=1, sweep_deltas=(0.1, 0.3, 1.0, 2.0),
                     sweep_eps_x=(1e-3, 1e-2, 0.1, 0.3), sweep_L=(4, 8), **BASE),
          full=dict(m=(256, 512, 1024, 2048, 4096, 8192, 16384), seeds=12, n=8, eps_x=0.01,
                    deltas=("paper", 0.5), sweep_m=4096, sweep_seeds=4,
                    sweep_deltas=(0.1, 0.3, 1.0, 2.0), sweep_eps_x=(1e-3, 1e-2, 0.1, 0.3),
                    sweep_L=(4, 6, 8, 10), **BASE),
          controls={"zero-H": "H set to 0: the weighted expectation is 0, so it misses the "
                              "on-target value Phi by far more than eps_e at infinite width",
                    "no-window": "Window dropped and Lemma 5.1's H left unscaled: the noise is "
                                 "then the whole w . h_(i-1), not the level H was built for, so "
                                 "E misses Phi"},
          rule=LEMMA_5_2A_RULE,
          depends=("lemma-5.1", "definition-3.3"))
def _lemma_5_2a(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    L, eps_e, eps_x = sz["L"], sz["eps_e"], sz["eps_x"]
    design, design_i2 = {}, {}
    for delta in sz["deltas"]:
        key = "paper" if delta == "paper" else f"delta{delta:g}"
        d_err = _on_target(sz, None, seed, eps_x, delta, L, sz["n"], control)
        design[key], design_i2[key] = d_err["max"], d_err["by_i"][2]
    # finite widths at delta = 0.5 (the paper's eps_c gives the same Gram values, and the same
    # numbers to 3 digits, but a window no finite network passes)
    ms, errs, devs = [], [], []
    for m in sz["m"]:
        for s in range(sz["seeds"]):
            r = _on_target(sz, m, seed + s, eps_x, 0.5, L, sz["n"], control)
            ms.append(m)
            errs.append(r["max"])
            devs.append(r["deviation"])
    fit_dev = deviation_fit(ms, devs)
    fit_err = _log_ratio_fit(ms, errs)
    m_max = max(sz["m"])
    sig = on_target_noise(L, eps_x, _eps_c(sz, eps_x, "paper", L) / (math.sqrt(2.0) * eps_x))
    at_max = [e for mm, e in zip(ms, errs) if mm == m_max]
    measured: dict[str, Any] = {
        **{f"design_error_{k}": v for k, v in design.items()},
        "design_error_i2_paper": design_i2["paper"], "sigma_2_paper": float(sig[0]),
        "deviation_slope": fit_dev.slope, "deviation_slope_ci_low": fit_dev.ci_low,
        "deviation_slope_ci_high": fit_dev.ci_high,
        "error_slope": fit_err.slope, "error_at_m_max": float(np.mean(at_max)),
    }
    if fit_err.slope < 0:
        cross = crossing(fit_err, eps_e)
        lo, hi = cross.interval()
        measured.update(m_for_eps_e=math.exp(min(cross.value, 700)),
                        m_for_eps_e_ci_low=math.exp(min(lo, 700)),
                        m_for_eps_e_ci_high=math.exp(min(hi, 700)))
    figure: dict[str, Any] = {"vs_m": {"m": ms, "error": errs, "deviation": devs}}
    finding = None
    if control is None:  # sweeps for the chapter: eps_c, eps_x, L (not needed by the controls)
        sweep = {}
        for name, values, kw in (("delta", sz["sweep_deltas"], "delta"),
                                 ("eps_x", sz["sweep_eps_x"], "eps_x"),
                                 ("L", sz["sweep_L"], "L")):
            rows = []
            for v in values:
                args = dict(eps_x=eps_x, delta=0.5, L=L)
                args[kw] = v
                fin = [_on_target(sz, sz["sweep_m"], seed + s, args["eps_x"], args["delta"],
                                  args["L"], sz["n"], None) for s in range(sz["sweep_seeds"])]
                des = _on_target(sz, None, seed, args["eps_x"], args["delta"], args["L"],
                                 sz["n"], None)
                by_i = {i: float(np.median([f["by_i"][i] for f in fin])) for i in fin[0]["by_i"]}
                rows.append({"value": v, "finite_m": float(np.median([f["max"] for f in fin])),
                             "design": des["max"], "by_i": by_i})
            sweep[name] = rows
        figure["sweeps"] = sweep
        tgt = _tgt(sz)
        pc = paper_constants(tgt, eps_x, eps_e)
        measured["H_range_ratio_paper"] = max(
            _pw(t, L, eps_x, eps_e, pc["eps_c"], None).bound for t in tgt.terms) / (
            4 * pc["C_prime"] ** 2 / (eps_e * eps_x))
        measured["C_prime"] = pc["C_prime"]
        for r in sweep["delta"]:
            measured[f"design_error_delta{r['value']:g}"] = r["design"]
        finding = Finding(
            "erratum", "Lemma 5.2's sketch cites Lemma 5.1 below its noise range at i = 2",
            printed=r"The sketch of Lemma 5.2 obtains (a) from Lemma 5.1a, with the network's "
                    r"$\langle\tilde w,h_{i-1}\rangle$ (restricted to the window) as the noise, "
                    r"and Lemma 5.1 assumes $\sigma\ge0.1$.",
            observed=r"At $i=2$ that noise is only the window itself, because $h_1=h^{(0)}_1$ "
                     r"exactly ($x_1$ is the same for every input): its standard deviation is "
                     rf"$\sigma_2={sig[0]:.2g}$ with the printed $\varepsilon_c$ "
                     rf"($\varepsilon_x={eps_x:g}$), far below $0.1$.",
            holds=r"Lemma 5.1 is needed for every $\sigma\ge0$; our Hermite construction has no "
                  r"lower limit on $\sigma$. At that noise level our $H$ fits position 2 to "
                  rf"{design_i2['paper']:.2g} ($\varepsilon_e={eps_e:g}$) at infinite width, "
                  rf"and every position to {design['paper']:.2g}.")
    return Outcome(
        measured=measured,
        evidence={"sigma_shortfall": 0.1 - float(sig.min()), "eps_e": eps_e,
                  "design_error_paper": design["paper"],
                  "design_error_delta0.5": design["delta0.5"], "deviation_exponent": fit_dev},
        regime={"L": L, "d_x": sz["d_x"], "eps_x": eps_x, "eps_e": eps_e, "n_inputs": sz["n"],
                "seeds": sz["seeds"], "m_min": min(sz["m"]), "m_max": m_max,
                "finite_m_delta": 0.5, "terms": "one per (i, j)",
                "paper_eps_x_hypothesis_met": False, "paper_m_hypothesis_met": False,
                "sweep_m": sz["sweep_m"]},
        finding=finding, figure=figure)


def eps_x_fit(eps_x: Sequence[float], off_target: Sequence[float]) -> SlopeFit:
    """Lemma 5.2b's evidence: the fitted exponent in eps_x of the largest off-target |E|."""
    return _log_ratio_fit(eps_x, off_target)


@register("lemma-5.2b", label="lemma-5.2",
          claim="Off target (indicator at i' != i), the same weighted expectation vanishes "
                "linearly in eps_x (Lemma 5.1b with a noise of scale 1/eps_x); at the paper's "
                "eps_x = 1/(rho^4 C') it is within eps_e of 0 by a margin no size could close.",
          quick=dict(m=1024, seeds=3, n=4, eps_x_grid=(1e-4, 1e-3, 1e-2, 1e-1), delta=0.5,
                     **BASE),
          full=dict(m=4096, seeds=6, n=8, eps_x_grid=(1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1),
                    delta=0.5, **BASE),
          controls={"same-position": "The on-target position i' = i counted as off target: there "
                                     "E is about the on-target Phi, which does not vanish as "
                                     "eps_x falls",
                    "shifted-H": "H + 1/p0: the constant's weighted expectation stays near 1/2 "
                                 "off target, whatever eps_x"},
          rule=Rule((
              exponent("eps_x_exponent", "fitted exponent in eps_x of the largest off-target |E|",
                       1.0, {"eps_x^0": 0.0, "eps_x^(1/2)": 0.5, "eps_x^2": 2.0}),
              Below("off_target_at_literal_eps_x", "largest off-target |E| at the printed "
                    "eps_x = 1/(rho^4 C')", "eps_e", "Lemma 5.2b: within eps_e of 0",
                    vacuous_factor=10 ** VACUOUS_DECADES),
          )),
          depends=("lemma-5.1", "definition-3.3"))
def _lemma_5_2b(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    L, m, eps_e = sz["L"], sz["m"], sz["eps_e"]
    tgt = _tgt(sz)
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
                e = float(np.abs(single_function_expectations(pw, grams, xs, ip, L)).max())
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
    fit = eps_x_fit(xs_, ys_)
    # where the fitted line meets eps_e (the largest eps_x at which (b) holds)
    eps_x_for_eps_e = (math.exp((math.log(eps_e) - fit.intercept) / fit.slope)
                       if fit.slope > 0 else math.nan)
    finding = None
    if control is None:
        finding = Finding(
            "vacuous", "Lemma 5.2b at the printed eps_x cannot fail",
            printed=r"Off target the weighted expectation is within $\varepsilon_e$ of 0, with "
                    r"$\varepsilon_x<1/(\rho^4C')$.",
            observed=rf"At $m={m}$ that hypothesis means $\varepsilon_x={eps_x_lit:.2g}$ (our "
                     rf"$C'$, $\rho=100Ld\log m$); there the largest off-target value is "
                     rf"{max(lit):.2g}, ${eps_e / max(max(lit), _TINY):.1g}$ times below "
                     r"$\varepsilon_e$, a margin no size could close.",
            holds=r"The off-target expectation vanishes linearly in $\varepsilon_x$ (fitted "
                  rf"exponent {fit.slope:.3f}), as Lemma 5.1b with a noise of scale "
                  r"$1/\varepsilon_x$ predicts; it reaches $\varepsilon_e$ near "
                  rf"$\varepsilon_x\approx{eps_x_for_eps_e:.2g}$, so (b) holds for "
                  r"every $\varepsilon_x$ below that, far above the printed one.")
    return Outcome(
        measured={"max_off_target_at_literal_eps_x": max(lit),
                  "slope_vs_eps_x": fit.slope, "slope_ci_low": fit.ci_low,
                  "slope_ci_high": fit.ci_high, "eps_x_for_eps_e": eps_x_for_eps_e,
                  "max_off_target_at_eps_x_0.1": max(y for x, y in zip(xs_, ys_) if x == 0.1)
                  if 0.1 in sz["eps_x_grid"] else math.nan},
        evidence={"eps_x_exponent": fit, "off_target_at_literal_eps_x": max(lit),
                  "eps_e": eps_e},
        regime={"m": m, "L": L, "seeds": sz["seeds"], "n_inputs": sz["n"], "eps_e": eps_e,
                "literal_eps_x": eps_x_lit, "rho": _rho(L, sz["d"], m),
                "C_prime": consts["C_prime"], "delta": sz["delta"]},
        finding=finding,
        figure={"eps_x": xs_, "error": ys_,
                "by_gap": {str(g): {str(k): float(np.median(v)) for k, v in d.items()}
                           for g, d in by_gap_all.items()}})


def count_ratio(observed: Sequence[Sequence[float]],
                expected: Sequence[Sequence[float]]) -> Estimate:
    """Observed over expected window counts: one pooled ratio per draw (row), then their mean
    with its standard error across draws."""
    o = np.asarray(observed, float)
    e = np.asarray(expected, float)
    return mean_estimate(o.sum(axis=1) / e.sum(axis=1))


#: Ratio alternatives of the window count: weights of variance 1/m or 4/m instead of 2/m
#: multiply a small window's probability by sqrt 2 or 1/sqrt 2.
COUNT_ALTERNATIVES = {"weights N(0, 1/m)": math.sqrt(2.0), "weights N(0, 4/m)": 1 / math.sqrt(2)}


@register("lemma-5.2-active-neurons", label="lemma-5.2",
          claim="The number of neurons passing the window 1{|<w_k, h0_{i-1}>| <= eps_c/sqrt(m)} "
                "has mean m p with p = 2 Phi_N(eps_c/sqrt(2||h0||^2)) - 1; with the paper's "
                "eps_c = eps_e eps_x/(4C') it is zero at every feasible m.",
          quick=dict(m=(1024, 2048), seeds=4, eps_x=0.01, eps_c_grid=(1e-3, 1e-2, 0.1, 1.0),
                     **BASE),
          full=dict(m=(1024, 4096, 16384), seeds=4, eps_x=0.01,
                    eps_c_grid=(1e-4, 1e-3, 1e-2, 0.1, 1.0), **BASE),
          controls={"wrong-window": "Window of half-width eps_c instead of eps_c/sqrt(m): "
                                    "sqrt(m) times wider, so the counts are far above m p"},
          rule=Rule((
              Equivalence("count_ratio", "observed / expected window count (levels with m p >= "
                          "5, pooled over positions), mean over draws", 1.0,
                          (1 - 1 / math.sqrt(2)) / 2,
                          "half the distance to 1/sqrt 2, the ratio for weights of variance 4/m "
                          "(the nearest alternative; variance 1/m gives sqrt 2)",
                          COUNT_ALTERNATIVES),
              Below("paper_expected_active_at_2^16", "expected active neurons per position with "
                    "the printed eps_c at m = 2^16 (eps_x = 0.01, our C')", 1.0,
                    "one active neuron"),
          )),
          depends=("definition-3.3",))
def _active(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    L, eps_x, eps_e = sz["L"], sz["eps_x"], sz["eps_e"]
    tgt = _tgt(sz)
    consts = paper_constants(tgt, eps_x, eps_e)
    eps_list = [("paper", consts["eps_c"])] + [(f"{e:g}", e) for e in sz["eps_c_grid"]]
    rows, paper_obs, paper_exp = [], 0, 0.0
    obs_draws, exp_draws, zmax = [], [], 0.0
    for m in sz["m"]:
        for s in range(sz["seeds"]):
            with _threads(m):
                w = init_weights(m, sz["d_x"], sz["d"], seed + s)
                h0 = hidden_states(w, null_sequence(L, sz["d_x"], eps_x))[0]
                proj = np.abs(backend.to_numpy(h0[1:L - 1] @ w.W.T))
            nsq = backend.to_numpy((h0[1:L - 1] ** 2).sum(-1))
            o_d, e_d = [], []
            for name, ec in eps_list:
                thr = ec if control == "wrong-window" else ec / math.sqrt(m)
                obs = (proj <= thr).sum(axis=1)
                p = active_probability(ec, nsq)
                for o, e, pp, i in zip(obs, m * p, p, range(2, L)):
                    if name == "paper":
                        paper_obs += int(o)
                        paper_exp += float(e)
                    elif m * pp >= 5:
                        o_d.append(float(o))
                        e_d.append(float(e))
                        zmax = max(zmax, abs(o - e) / math.sqrt(e * (1 - pp)))
                    rows.append({"m": m, "seed": s, "eps_c": name, "i": i, "observed": int(o),
                                 "expected": float(e)})
            obs_draws.append(o_d)
            exp_draws.append(e_d)
    ratio = count_ratio(obs_draws, exp_draws)
    # what the paper's constants need: eps_x = 1/(rho^4 C') and eps_c = eps_e eps_x/(4C')
    m_ref = 2 ** 16
    p_paper = float(active_probability(consts["eps_c"], 1.0))
    ex_lit = 1.0 / (_rho(L, sz["d"], m_ref) ** 4 * consts["C_prime"])
    ec_lit = paper_constants(tgt, ex_lit, eps_e)["eps_c"]
    p_lit = float(active_probability(ec_lit, 1.0))
    log10_ceps = max(complexity.log_c_eps(t.phi, math.sqrt(L), eps_e) for t in _terms(tgt)
                     ) / math.log(10)
    log10_ec_ceps = math.log10(eps_e * eps_x / 4) - log10_ceps
    finding = None
    if control is None:
        finding = Finding(
            "regime", "With the printed eps_c no neuron passes the window: W* = 0",
            printed=r"Lemma 5.2 and Definition 5.3 take $\varepsilon_c=\varepsilon_e"
                    r"\varepsilon_x/(4C')$, with $\varepsilon_x<1/(\rho^4C')$ and "
                    r"$C'=\mathfrak C_{\varepsilon_e}(\Phi,\sqrt L)$.",
            observed=rf"Even at $\varepsilon_x={eps_x:g}$ (beyond the hypothesis) and with our "
                     rf"small $C'={consts['C_prime']:.4g}$, a neuron passes with probability "
                     rf"$p={p_paper:.2g}$: one active neuron per position needs "
                     rf"$m\approx{1 / p_paper:.2g}$ (observed {paper_obs} over the runs, "
                     rf"expected {paper_exp:.2g}). With the hypothesis met at $m=2^{{16}}$, "
                     rf"$p={p_lit:.2g}$; with the paper's $C'$, "
                     rf"$\log_{{10}}\varepsilon_c={log10_ec_ceps:.0f}$.",
            holds=r"At every feasible width the printed $W^*$ is the zero matrix. The book "
                  r"treats $\varepsilon_c$ as a free parameter, through the window half-width "
                  r"$\delta=\varepsilon_c/(\sqrt2\varepsilon_x)$, and states which hypotheses "
                  r"each run meets.")
    return Outcome(
        measured={"count_ratio": ratio.value, "count_ratio_stderr": ratio.stderr,
                  "max_abs_z": zmax, "paper_eps_c": consts["eps_c"],
                  "paper_active_observed": paper_obs, "paper_active_expected": paper_exp,
                  "paper_p_at_eps_x_0.01": p_paper,
                  "paper_m_for_one_active_at_eps_x_0.01": 1.0 / p_paper,
                  "literal_eps_x_at_m_65536": ex_lit, "literal_eps_c_at_m_65536": ec_lit,
                  "literal_active_fraction_at_m_65536": p_lit,
                  "log10_C_eps_sqrtL": log10_ceps, "log10_eps_c_with_C_eps": log10_ec_ceps},
        evidence={"count_ratio": ratio, "paper_expected_active_at_2^16": m_ref * p_paper},
        regime={"m": list(sz["m"]), "seeds": sz["seeds"], "eps_x": eps_x, "eps_e": eps_e,
                "C_prime": consts["C_prime"], "L": L},
        finding=finding, figure={"rows": rows})


# ============================================================================ Definition 5.3
@register("definition-5.3", label="definition-5.3",
          claim="construct_w_star returns W* of Definition 5.3 as rank-(L-2) factors U V^T "
                "(V = h0_{1..L-2}) whose rows equal the printed formula, without any m x m array.",
          quick=dict(m=1024, n_rows=24, eps_x=0.1, delta=1.0, **BASE),
          full=dict(m=4096, n_rows=64, eps_x=0.1, delta=1.0, **BASE),
          controls={"wrong-h": "V built from h0_i instead of h0_(i-1) (an index slip): the rows "
                               "of U V^T no longer match the printed formula"},
          rule=Rule((
              Exact("row_formula_rel_dev", "rows of U V^T against the printed formula, row by row "
                    "from independent ingredients", "identity"),
              Exact("rank_is_L_minus_2", "U and V have L - 2 columns"),
              Exact("no_dense_array", "traced peak memory below half of one dense m x m array"),
              Exact("rows_nonzero", "some checked row is nonzero (the comparison is not trivial)"),
          )),
          depends=("lemma-5.2", "definition-4.1"))
def _definition_5_3(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    L, m, d = sz["L"], sz["m"], sz["d"]
    tgt = _tgt(sz)
    w = init_weights(m, sz["d_x"], d, seed)
    eps_c = _eps_c(sz, sz["eps_x"], sz["delta"])
    itemsize = np.dtype(backend.default_dtype()).itemsize
    construct_w_star(w, tgt, sz["eps_x"], sz["eps_e"], eps_c)  # warm the H tables first
    with backend.peak_bytes() as mem:  # host (tracemalloc) on NumPy, the device pool on CuPy
        c = construct_w_star(w, tgt, sz["eps_x"], sz["eps_e"], eps_c)
    peak = mem.bytes
    Wst = c.W_star
    if control == "wrong-h":  # an index slip: h0_i instead of h0_{i-1}
        h0 = hidden_states(w, null_sequence(L, sz["d_x"], sz["eps_x"]))[0]
        Wst = LowRank(Wst.U, backend.xp().ascontiguousarray(h0[2:L].T))
    # the printed formula, row by row, from independent ingredients
    x0 = null_sequence(L, sz["d_x"], sz["eps_x"])
    h0 = backend.to_numpy(hidden_states(w, x0)[0]).astype(np.float64)
    back0 = backend.to_numpy(back_operators(w, x0)[0]).astype(np.float64)
    Wn = backend.to_numpy(w.W).astype(np.float64)
    An = backend.to_numpy(w.A).astype(np.float64)
    # half of the rows checked among those the formula makes nonzero (computed here, from h0
    # and W), the other half at random
    g = np.random.default_rng(seed)
    live = np.nonzero((np.abs(h0[1:L - 1] @ Wn.T) <= eps_c / math.sqrt(m)).any(axis=0))[0]
    k_live = min(sz["n_rows"] // 2, live.size)
    rows = np.unique(np.concatenate([g.choice(live, size=k_live, replace=False),
                                     g.choice(m, size=sz["n_rows"] - k_live, replace=False)]))
    U = backend.to_numpy(Wst.U).astype(np.float64)
    V = backend.to_numpy(Wst.V).astype(np.float64)
    worst, scale = 0.0, 0.0
    for k in rows:
        row = np.zeros(m)
        for t in tgt.terms:
            Cijs = (back0[t.i, t.j, t.s] ** 2).sum() * (h0[t.i - 1] ** 2).sum() / m
            if abs(Wn[k] @ h0[t.i - 1]) > eps_c / math.sqrt(m):
                continue
            pw = position_weight(t.phi, t.w_star, t.i, L, sz["eps_x"], sz["eps_e"], eps_c)
            Hk = float(pw(An[k:k + 1], m)[0])
            row += back0[t.i, t.j, t.s, k] * Hk / (m * Cijs) * h0[t.i - 1]
        worst = max(worst, float(np.abs(U[k] @ V.T - row).max()))
        scale = max(scale, float(np.abs(row).max()))
    rel = worst / scale if scale > 0 else worst
    N, _ = null_limits(L, sz["eps_x"])
    Cn = backend.to_numpy(c.C)
    ratio = np.array([Cn[i, j, s] * d / N[i - 1] for i in range(2, L) for j in range(i + 1, L + 1)
                      for s in range(d)])
    dense_bytes = m * m * itemsize
    rank = int(Wst.U.shape[1])
    return Outcome(
        measured={"row_formula_rel_dev": rel, "rank": rank, "rows_checked": len(rows),
                  "peak_bytes_during_construction": int(peak),
                  "peak_over_dense_bytes": peak / dense_bytes,
                  "C_times_d_over_N_mean": float(ratio.mean()),
                  "C_times_d_over_N_max_dev": float(np.abs(ratio - 1).max())},
        evidence={"row_formula_rel_dev": rel, "rank_is_L_minus_2": rank == L - 2,
                  "no_dense_array": peak < 0.5 * dense_bytes, "rows_nonzero": scale > 0},
        regime={"m": m, "L": L, "d": d, "p": sz["p"], "eps_x": sz["eps_x"], "eps_c": eps_c,
                "eps_e": sz["eps_e"], "peak_source": mem.source})


# ============================================================================ Lemma 5.4
def _rms(a: np.ndarray) -> float:
    return float(np.sqrt((a[:, 3:] ** 2).mean()))


@lru_cache(maxsize=256)
def _draw(m: int, *args: Any) -> dict[str, Any]:
    """:func:`_draw_once`, cached, with one BLAS thread at small widths."""
    with _threads(m):
        return _draw_once(m, *args)


def _draw_once(m: int, seed: int, L: int, d_x: int, d: int, p: int, target_seed: int,
               eps_e: float, eps_x: float, delta: Any, n: int, correlated_B: bool,
               level: int) -> dict[str, Any]:
    """One draw at width m: W* of Definition 5.3 and the mean-field response on n held-out
    inputs (every neuron's window-indicator-H factor replaced by its Lemma 5.2 expectation),
    split like (5.3). ``level`` >= 1: also f(W*) of (5.1) for this network; ``level`` >= 2: also
    its split (5.3) and f for a random low-rank matrix of equal Frobenius norm.
    ``correlated_B``: every row of B equal to the first (a control). Arrays are (n, L+1, d)
    float64."""
    sz = dict(L=L, d_x=d_x, d=d, p=p, target_seed=target_seed, eps_e=eps_e)
    tgt = _target(L, d_x, d, p, target_seed)
    eps_c = _eps_c(sz, eps_x, delta)
    w = init_weights(m, d_x, d, seed)
    if correlated_B:
        xp = backend.xp()
        w = Weights(W=w.W, A=w.A, B=xp.ascontiguousarray(xp.repeat(w.B[:1], d, axis=0)))
    c = construct_w_star(w, tgt, eps_x, eps_e, eps_c, keep_terms=True)
    xs = _inputs(n, L, d_x, seed)
    x = embed(xs, eps_x)
    back = backend.to_numpy(back_operators(w, x)).astype(np.float64)
    out = {"F": tgt(xs), "mf": mean_field_response(w, x, xs, c, tgt, back=back),
           "frob": c.W_star.frobenius_norm(),
           "active": backend.to_numpy(c.active_counts).tolist(), "eps_c": eps_c}
    if level >= 1:
        out["f"] = backend.to_numpy(linear_response(w, x, c.W_star)).astype(np.float64)
    if level >= 2:
        out["f_random"] = backend.to_numpy(
            linear_response(w, x, random_lowrank_like(c, seed + 7))).astype(np.float64)
        out["dec"] = decompose_response(w, x, c, back=back)
    return out


#: Controls of the Lemma 5.4 checks that multiply every H_{i->j,r,s} (or 1/C_{i->j,s}) by a
#: constant: f, its split and the mean field are linear in W*, so they reuse the base draw.
SCALE_CONTROLS = {"zero-H": 0.0, "wrong-sign": -1.0, "C-times-1.3": 1.0 / C_FACTOR}
PARTS = ("diagonal", "cross_i", "cross_j", "cross_s")


def _run(sz: Mapping[str, Any], m: int, seed: int, eps_x: float, level: int,
         variant: str | None = None) -> dict[str, Any]:
    """Summary numbers of one draw of :func:`_draw_once` at ``level`` (relative RMS values are
    divided by the RMS of F*)."""
    k = SCALE_CONTROLS.get(variant or "", 1.0)
    dr = _draw(m, seed, sz["L"], sz["d_x"], sz["d"], sz["p"], sz["target_seed"], sz["eps_e"],
               eps_x, sz["delta"], sz["n"], variant == "correlated-B", level)
    F = dr["F"]
    rF = _rms(F)
    mf = {kk: k * v for kk, v in dr["mf"].items()}
    Fs, mfs = F[:, 3:], mf["total"][:, 3:]
    out = {
        "gain_meanfield": float((mfs * Fs).sum() / (Fs * Fs).sum()),
        "rel_err_meanfield": _rms(mf["total"] - F) / rF,
        "per_js_meanfield": (np.sqrt(((mf["total"] - F)[:, 3:] ** 2).mean(axis=0)) / rF).tolist(),
        "parts_meanfield": {**{kk: (_rms(mf[kk] - F) if kk == "diagonal" else _rms(mf[kk]))
                               / rF for kk in PARTS},
                            "cross_js": _rms(mf["cross_j"] + mf["cross_s"]) / rF},
        "frob": abs(k) * dr["frob"], "active": dr["active"], "eps_c": dr["eps_c"], "rmsF": rF,
    }
    if variant == "random-same-norm":  # a random matrix's response has mean 0 over its draw
        mf = {kk: 0.0 * v for kk, v in mf.items()}
        out["gain_meanfield"] = 0.0
    if level >= 1:
        f = dr["f_random"] if variant == "random-same-norm" else k * dr["f"]
        out.update({
            "rel_err": _rms(f - F) / rF, "rel_fluct": _rms(f - mf["total"]) / rF,
            "per_js": (np.sqrt(((f - F)[:, 3:] ** 2).mean(axis=0)) / rF).tolist(),
            "max_abs_err": float(np.abs(f - F)[:, 3:].max()),
        })
    if level >= 2:
        dec = {kk: k * v for kk, v in dr["dec"].items()}
        out.update({
            "rel_err_random": _rms(dr["f_random"] - F) / rF,
            "identity_dev": float(np.abs(dec["total"] - k * dr["f"]).max()
                                  / max(np.abs(k * dr["f"]).max(), _TINY)),
            "parts": {kk: (_rms(dec[kk] - F) if kk == "diagonal" else _rms(dec[kk])) / rF
                      for kk in PARTS},
        })
    return out


def _runs(sz: Mapping[str, Any], seed: int, ms: Sequence[int], seeds: int, eps_x: float,
          level: int, variant: str | None = None) -> list[tuple[int, dict[str, Any]]]:
    return [(m, _run(sz, m, seed + s, eps_x, level, variant)) for m in ms for s in range(seeds)]


def _single_runs(sz: Mapping[str, Any], seed: int,
                 variant: str | None = None) -> list[tuple[int, dict[str, Any]]]:
    """The single-network draws of the Lemma 5.4 checks: f(W*) at every width, its split and
    the random matrix at the largest (at every width for the random-matrix control)."""
    ms = _widths(sz)
    return [(m, _run(sz, m, seed + s, sz["eps_x"], 2 if m == max(ms) or variant ==
                     "random-same-norm" else 1, variant))
            for m in ms for s in range(sz["seeds"])]


def gain_estimate(gains: Sequence[float]) -> Estimate:
    """The gain <fbar, F*> / <F*, F*> of the mean-field response: its mean over draws."""
    return mean_estimate(gains)


def meanfield_margin(eps_e: float, eps_x: float) -> float:
    """eps_e + eps_x^(1/3): the m-independent terms of Lemma 5.4's bound with p rho^11 and
    C_s(Phi, 1) set to 1 (the margin of the mean-field claims)."""
    return eps_e + eps_x ** (1.0 / 3.0)


def _printed_bound_log10(sz: Mapping[str, Any], m: int) -> float:
    """log10 of Lemma 5.4's printed bound p rho^11 (eps_e + C_s(Phi,1) eps_x^(1/3) + C m^-0.05),
    O-constant 1, our C."""
    tgt = _tgt(sz)
    cs1 = max(float(complexity.c_s(t.phi, 1.0)) for t in _terms(tgt))
    C = paper_constants(tgt, sz["eps_x"], sz["eps_e"])["C"]
    return (math.log10(sz["p"]) + 11 * math.log10(_rho(sz["L"], sz["d"], m)) + math.log10(
        sz["eps_e"] + cs1 * sz["eps_x"] ** (1 / 3) + C * m ** -0.05))


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


#: One size table for the three Lemma 5.4 checks, so that they share their draws (cached).
#: m/seeds/eps_x: the single-network draws; mf_*: the mean-field draws (small eps_x, where the
#: margin eps_e + eps_x^(1/3) can see a 30% error in C_{i->j,s}); cross_*: the eps_x sweep of
#: the i != i' part.
LEMMA_5_4_QUICK = dict(m=(256, 512, 1024, 2048), seeds=8, n=4, eps_x=0.1, delta=1.0,
                       mf_m=(512, 1024, 2048), mf_seeds=6, mf_eps_x=1e-3,
                       cross_m=1024, cross_seeds=4, cross_eps_x=(1e-3, 1e-2, 0.1),
                       sweep_m=512, sweep_seeds=1, sweep_deltas=(0.25, 0.5, 2.0),
                       sweep_eps_x=(0.01, 0.3), paper_m=1024, **BASE)
LEMMA_5_4_FULL = dict(m=(512, 1024, 2048, 4096, 8192, 16384), gpu_m=(32768,), seeds=8, n=8,
                      eps_x=0.1, delta=1.0, mf_m=(512, 1024, 2048, 4096, 8192), mf_seeds=6,
                      mf_eps_x=1e-3, cross_m=4096, cross_seeds=4,
                      cross_eps_x=(1e-3, 1e-2, 0.1), sweep_m=4096, sweep_seeds=2,
                      sweep_deltas=(0.25, 0.5, 2.0, 4.0), sweep_eps_x=(0.01, 0.03, 0.3),
                      paper_m=16384, **BASE)


def meanfield_error_fit(ms: Sequence[float], rel_errors: Sequence[float]) -> SlopeFit:
    """The fitted exponent in m of the mean-field response's relative RMS error."""
    return _log_ratio_fit(ms, rel_errors)


@register("lemma-5.4-mean-field", label="lemma-5.4",
          claim="In expectation over the neurons (every neuron's window-indicator-H factor "
                "replaced by its Lemma 5.2 expectation, the proof sketch's step), f(W*) of (5.1) "
                "has gain 1 on F* within eps_e + eps_x^(1/3), and its remaining error falls with "
                "m.",
          quick=LEMMA_5_4_QUICK, full=LEMMA_5_4_FULL,
          controls={"C-times-1.3": "Every C_(i->j,s) multiplied by 1.3 (W* divided by 1.3): the "
                                   "mean-field gain on F* is 1/1.3, a competing value the rule "
                                   "must reject",
                    "zero-H": "H set to 0, so W* = 0: the mean-field response is 0 and its gain "
                              "on F* is 0, not 1",
                    "wrong-sign": "H negated, so W* changes sign: the mean-field gain on F* is "
                                  "-1, not 1"},
          rule=Rule((
              Equivalence("gain", "gain <fbar, F*>/<F*, F*> of the mean-field response at the "
                          "largest width, mean over draws", 1.0, "margin",
                          "eps_e + eps_x^(1/3): the m-independent terms of Lemma 5.4's bound "
                          "with p rho^11 and C_s(Phi, 1) set to 1",
                          {f"C_(i->j,s) x {C_FACTOR:g}": 1 / C_FACTOR,
                           f"C_(i->j,s) / {C_FACTOR:g}": C_FACTOR}),
              Below("error_exponent", "fitted exponent in m of the mean-field relative RMS error",
                    0.0, "m^0: an error that does not fall with m"),
          )),
          depends=("definition-5.3", "equation-5.1", "lemma-5.2"))
def _lemma_5_4_mean_field(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    ms_all = _widths(sz, "mf_m")
    runs = _runs(sz, seed, ms_all, sz["mf_seeds"], sz["mf_eps_x"], 0, control)
    m_max = max(ms_all)
    at_max = [r for m, r in runs if m == m_max]
    gain = gain_estimate([r["gain_meanfield"] for r in at_max])
    ms = [m for m, _ in runs]
    errs = [r["rel_err_meanfield"] for _, r in runs]
    fit = meanfield_error_fit(ms, errs)
    margin = meanfield_margin(sz["eps_e"], sz["mf_eps_x"])
    per_js = np.mean(np.array([r["per_js_meanfield"] for r in at_max]), axis=0)
    measured = {
        "gain": gain.value, "gain_ci_low": gain.interval()[0], "gain_ci_high": gain.interval()[1],
        "margin": margin, "error_at_m_max": float(np.mean([r["rel_err_meanfield"]
                                                           for r in at_max])),
        "worst_js_error_at_m_max": float(per_js.max()),
        "error_slope": fit.slope, "error_slope_ci_low": fit.ci_low,
        "error_slope_ci_high": fit.ci_high,
        **{f"{k}_at_m_max": float(np.mean([r["parts_meanfield"][k] for r in at_max]))
           for k in PARTS},
    }
    return Outcome(
        measured=measured, evidence={"gain": gain, "margin": margin, "error_exponent": fit},
        regime={"L": sz["L"], "d": sz["d"], "p": sz["p"], "eps_x": sz["mf_eps_x"],
                "delta": sz["delta"], "eps_e": sz["eps_e"], "n_inputs": sz["n"],
                "seeds": sz["mf_seeds"], "m_min": min(ms_all), "m_max": m_max,
                "hypotheses": _hypotheses(sz, sz["mf_eps_x"], m_max, sz["delta"])},
        figure={"m": ms, "rel_err_meanfield": errs,
                "gain": [r["gain_meanfield"] for _, r in runs],
                "per_js_at_m_max": per_js.tolist()})


def fluctuation_fit(ms: Sequence[float], fluctuations: Sequence[float]) -> SlopeFit:
    """The single network's fluctuation |f(W*) - fbar| / RMS F* against m (one point a draw)."""
    return _log_ratio_fit(ms, fluctuations)


@register("lemma-5.4", label="lemma-5.4",
          claim="For one network, f(W*) of (5.1) approaches F*: it fluctuates around the "
                "mean-field response, whose gain on F* is 1 within eps_e + eps_x^(1/3), and the "
                "fluctuation falls with m; the width where it reaches eps_e is reported. The "
                "printed error bound p rho^11 O(...) holds by a margin no size could close.",
          quick=LEMMA_5_4_QUICK, full=LEMMA_5_4_FULL,
          controls={"random-same-norm": "f(W*) replaced by f of a random low-rank matrix of equal "
                                        "Frobenius norm: its mean-field gain on F* is 0, not 1",
                    "zero-H": "H set to 0, so W* = 0 and f(W*) = 0: the mean-field gain on F* is "
                              "0, not 1"},
          rule=Rule((
              Reach("fluctuation", "fluctuation_at_m_max", "relative RMS fluctuation "
                    "|f(W*) - fbar| / RMS F* of one network", "eps_e", "eps_e"),
              Equivalence("centre_gain", "gain on F* of the mean-field response the fluctuation "
                          "is centred on (this regime, largest width)", 1.0, "margin",
                          "eps_e + eps_x^(1/3): the m-independent terms of Lemma 5.4's bound "
                          "with p rho^11 and C_s(Phi, 1) set to 1"),
              Below("log10_error_over_printed_bound", "log10(max |f - F*| / printed bound "
                    "p rho^11 (eps_e + C_s(Phi,1) eps_x^(1/3) + C m^-0.05))", 0.0,
                    "Lemma 5.4 as printed, O-constant 1", vacuous_factor=VACUOUS_DECADES,
                    scale="difference"),
          )),
          depends=("definition-5.3", "equation-5.1", "lemma-5.2"))
def _lemma_5_4(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    ms_all = _widths(sz)
    runs = _single_runs(sz, seed, control)
    ms = np.array([m for m, _ in runs], float)
    m_max = max(ms_all)
    at_max = [r for m, r in runs if m == m_max]
    errs = np.array([r["rel_err"] for _, r in runs])
    fl = np.array([r["rel_fluct"] for _, r in runs])
    fit_fl = fluctuation_fit(ms, fl)
    fit_err = _log_ratio_fit(ms, errs)
    fl_max = mean_estimate([r["rel_fluct"] for r in at_max])
    centre = gain_estimate([r["gain_meanfield"] for r in at_max])
    margin = meanfield_margin(sz["eps_e"], sz["eps_x"])
    log10_bound = _printed_bound_log10(sz, m_max)
    max_abs = max(r["max_abs_err"] for _, r in runs)
    log10_over = math.log10(max(max_abs, _TINY)) - log10_bound
    measured: dict[str, Any] = {
        "rel_err_at_m_max": float(np.mean([r["rel_err"] for r in at_max])),
        "rel_err_random_at_m_max": float(np.mean([r["rel_err_random"] for r in at_max])),
        "fluct_at_m_max": fl_max.value, "fluct_slope": fit_fl.slope,
        "fluct_slope_ci_low": fit_fl.ci_low, "fluct_slope_ci_high": fit_fl.ci_high,
        "error_slope": fit_err.slope, "centre_gain": centre.value, "margin": margin,
        "meanfield_rel_err_at_m_max": float(np.mean([r["rel_err_meanfield"] for r in at_max])),
        "max_abs_err": max_abs, "log10_max_abs_err": math.log10(max(max_abs, _TINY)),
        "log10_printed_bound": log10_bound,
        "log10_error_over_printed_bound": log10_over,
        "worst_js_rel_err_at_m_max": float(np.max(np.mean([r["per_js"] for r in at_max], 0))),
        "active_per_position_at_m_max": float(np.mean([np.mean(r["active"]) for r in at_max])),
    }
    for name, fit, target in (("fluct", fit_fl, sz["eps_e"]), ("rel_err", fit_err, 1.0)):
        if fit.slope < 0:
            cr = crossing(fit, target)
            lo, hi = cr.interval()
            measured.update({f"m_for_{name}_{target:g}": math.exp(min(cr.value, 700)),
                             f"m_for_{name}_{target:g}_ci_low": math.exp(min(lo, 700)),
                             f"m_for_{name}_{target:g}_ci_high": math.exp(min(hi, 700))})
    figure: dict[str, Any] = {"m": ms.tolist(), "rel_err": errs.tolist(),
                              "rel_fluct": fl.tolist(),
                              "rel_err_meanfield": [r["rel_err_meanfield"] for _, r in runs],
                              "per_js_at_m_max": np.mean([r["per_js"] for r in at_max],
                                                         0).tolist()}
    finding = None
    if control is None:
        sweep = {}
        for name, vals, kw in (("delta", sz["sweep_deltas"] + (sz["delta"],), "delta"),
                               ("eps_x", sz["sweep_eps_x"] + (sz["eps_x"],), "eps_x")):
            rows = []
            for v in sorted(vals):
                ssz = dict(sz, **({"delta": v} if kw == "delta" else {}))
                ex = v if kw == "eps_x" else sz["eps_x"]
                rr = [r for _, r in _runs(ssz, seed, (sz["sweep_m"],), sz["sweep_seeds"], ex,
                                          1)]
                rows.append({"value": v,
                             "rel_err": float(np.median([r["rel_err"] for r in rr])),
                             "rel_err_meanfield": float(np.median([r["rel_err_meanfield"]
                                                                   for r in rr])),
                             "active_per_position": float(np.mean([np.mean(r["active"])
                                                                   for r in rr])),
                             "eps_c": rr[0]["eps_c"],
                             "hypotheses": _hypotheses(ssz, ex, sz["sweep_m"], ssz["delta"])})
            sweep[name] = rows
        pr = _run(dict(sz, delta="paper"), sz["paper_m"], seed, sz["eps_x"], 1)
        measured.update(paper_eps_c_active=int(sum(pr["active"])),
                        paper_eps_c_rel_err=pr["rel_err"], paper_eps_c=pr["eps_c"])
        figure["sweeps"] = sweep
        m_star = measured.get("m_for_fluct_0.01", math.inf)
        finding = Finding(
            "vacuous", f"Lemma 5.4's printed error allowance exceeds the error of f(W*) by "
                       f"{-log10_over:.0f} decades",
            printed=r"For one network, $f_{j',s'}(W^*)=F^*_{j',s'}(x^\star)\pm p\rho^{11}"
                    r"O\big(\varepsilon_e+\mathfrak C_{\mathfrak s}(\Phi,1)\varepsilon_x^{1/3}"
                    r"+Cm^{-0.05}\big)$.",
            observed=rf"With $O$-constant 1 and our $C$, the allowance is "
                     rf"$10^{{{log10_bound:.1f}}}$ at $m={m_max}$, while "
                     rf"$\max|f-F^*|=10^{{{math.log10(max_abs):.1f}}}$: "
                     r"any $f$, including $f=0$, meets it. The actual relative error is "
                     rf"{measured['rel_err_at_m_max']:.3g} times RMS $F^*$ at $m={m_max}$, "
                     r"almost all of it the fluctuation of one network around the mean field, "
                     rf"which falls like $m^{{{fit_fl.slope:.2f}}}$.",
            holds=r"In expectation over the neurons the construction has gain 1 on $F^*$ (check "
                  r"`lemma-5.4-mean-field`). For one network the fluctuation would reach "
                  rf"$\varepsilon_e$ only near $m\approx{m_star:.1g}$: beyond reach, so the "
                  r"single-network statement is out of reach, not confirmed.")
    return Outcome(
        measured=measured,
        evidence={"fluctuation": fit_fl, "fluctuation_at_m_max": fl_max, "eps_e": sz["eps_e"],
                  "centre_gain": centre, "margin": margin,
                  "log10_error_over_printed_bound": log10_over},
        regime={"L": sz["L"], "d": sz["d"], "p": sz["p"], "eps_x": sz["eps_x"],
                "delta": sz["delta"], "eps_c": at_max[0]["eps_c"], "eps_e": sz["eps_e"],
                "n_inputs": sz["n"], "seeds": sz["seeds"], "m_min": min(ms_all),
                "m_max": m_max, "sweep_m": sz["sweep_m"],
                "hypotheses": _hypotheses(sz, sz["eps_x"], m_max, sz["delta"])},
        finding=finding, figure=figure)


def part_fit(ms: Sequence[float], parts: Sequence[float]) -> SlopeFit:
    """The fitted exponent of one part of the split (5.3) (relative RMS) against m or eps_x."""
    return _log_ratio_fit(ms, parts)


@register("lemma-5.4-cross-terms", label="lemma-5.4",
          claim="In the expansion (5.3) of f_{j',s'}(W*), the four parts add up to f exactly; in "
                "expectation over the neurons the summands with i = i' but j != j' and with "
                "s != s' are below eps_e + eps_x^(1/3) of RMS F* and vanish as m grows "
                "(near-orthogonal backward rows), and those with i != i' vanish linearly in "
                "eps_x (the off-target leak of Lemma 5.2b).",
          quick=LEMMA_5_4_QUICK, full=LEMMA_5_4_FULL,
          controls={"correlated-B": "Every row of B equal to the first: the backward rows of s "
                                    "and s' coincide, so the s != s' part is as large as F* and "
                                    "does not vanish"},
          rule=Rule((
              Exact("identity_rel_dev", "the four parts of (5.3) add up to f(W*)", "chain"),
              *(Below(f"{part}_at_m_max", f"mean-field {what} part / RMS F* at the largest "
                      "width, mean over draws", "margin",
                      "eps_e + eps_x^(1/3): the m-independent terms of Lemma 5.4's bound with "
                      "p rho^11 and C_s(Phi, 1) set to 1")
                for part, what in (("cross_j", "i = i', j != j'"),
                                   ("cross_s", "i = i', j = j', s != s'"))),
              Below("cross_js_exponent", "fitted exponent in m of the mean-field i = i' parts "
                    "with (j, s) != (j', s') together", 0.0,
                    "m^0: a part that does not vanish as m grows"),
              exponent("cross_i_exponent", "fitted exponent in eps_x of the mean-field i != i' "
                       "part", 1.0, {"eps_x^0": 0.0, "eps_x^(1/3), the printed bound's": 1 / 3,
                                     "eps_x^2": 2.0}),
          )),
          depends=("lemma-5.2", "definition-5.3"))
def _cross_terms(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    variant = "correlated-B" if control == "correlated-B" else None
    single = [r for _, r in _runs(sz, seed, (max(_widths(sz)),), sz["seeds"], sz["eps_x"], 2,
                                  variant)]
    ms_mf = _widths(sz, "mf_m")
    mf = _runs(sz, seed, ms_mf, sz["mf_seeds"], sz["mf_eps_x"], 0, variant)
    x_mf = [m for m, _ in mf]
    fits_mf = {k: part_fit(x_mf, [r["parts_meanfield"][k] for _, r in mf]) for k in PARTS}
    fit_js = part_fit(x_mf, [r["parts_meanfield"]["cross_js"] for _, r in mf])
    ex, ci = [], []
    for e in sz["cross_eps_x"]:
        level = 1 if e == sz["eps_x"] and sz["cross_m"] in _widths(sz) else 0
        for _, r in _runs(sz, seed, (sz["cross_m"],), sz["cross_seeds"], e, level, variant):
            ex.append(e)
            ci.append(r["parts_meanfield"]["cross_i"])
    fit_i = part_fit(ex, ci)
    ident = max(r["identity_dev"] for r in single)
    m_max = max(ms_mf)
    mf_max = {k: float(np.mean([r["parts_meanfield"][k] for m, r in mf if m == m_max]))
              for k in PARTS}
    act_max = {k: float(np.mean([r["parts"][k] for r in single])) for k in PARTS}
    return Outcome(
        measured={"identity_rel_dev": ident,
                  **{f"meanfield_{k}_at_m_max": v for k, v in mf_max.items()},
                  **{f"actual_{k}_at_m_max": v for k, v in act_max.items()},
                  **{f"meanfield_slope_{k}": f.slope for k, f in fits_mf.items()},
                  **{f"meanfield_slope_ci_low_{k}": f.ci_low for k, f in fits_mf.items()},
                  **{f"meanfield_slope_ci_high_{k}": f.ci_high for k, f in fits_mf.items()},
                  "meanfield_slope_cross_js": fit_js.slope,
                  "meanfield_slope_ci_high_cross_js": fit_js.ci_high,
                  "cross_i_eps_x_slope": fit_i.slope, "cross_i_eps_x_slope_ci_low": fit_i.ci_low,
                  "cross_i_eps_x_slope_ci_high": fit_i.ci_high},
        evidence={"identity_rel_dev": ident, "cross_js_exponent": fit_js,
                  "cross_i_exponent": fit_i,
                  "margin": meanfield_margin(sz["eps_e"], sz["mf_eps_x"]),
                  **{f"{k}_at_m_max": mean_estimate([r["parts_meanfield"][k] for m, r in mf
                                                     if m == m_max])
                     for k in ("cross_j", "cross_s")}},
        regime={"L": sz["L"], "d": sz["d"], "p": sz["p"], "eps_x_meanfield": sz["mf_eps_x"],
                "eps_x_single": sz["eps_x"], "delta": sz["delta"], "n_inputs": sz["n"],
                "seeds_meanfield": sz["mf_seeds"], "m_max_meanfield": m_max,
                "m_single": max(_widths(sz)),
                "cross_m": sz["cross_m"], "cross_eps_x": list(sz["cross_eps_x"]),
                "B": "rows identical (control)" if variant else "random"},
        figure={"m": x_mf, "parts_meanfield": {k: [r["parts_meanfield"][k] for _, r in mf]
                                               for k in PARTS},
                "eps_x": ex, "cross_i": ci})


# ============================================================================ Claim G.1
@lru_cache(maxsize=256)
def _frob(m: int, seed: int, L: int, d_x: int, d: int, p: int, target_seed: int, eps_e: float,
          eps_x: float, delta: float) -> float:
    """||W*||_F of one draw (Definition 5.3 only, no inputs)."""
    with _threads(m):
        w = init_weights(m, d_x, d, seed)
        c = construct_w_star(w, _target(L, d_x, d, p, target_seed), eps_x, eps_e,
                             float(delta) * math.sqrt(2.0) * eps_x)
        return c.W_star.frobenius_norm()


def frob_fit(ms: Sequence[float], frob_by_seed: Any) -> SlopeFit:
    """Claim G.1's evidence: one log-log slope of ||W*||_F against m per seed (rows), then
    their mean with its standard error across seeds."""
    return fit_loglog_by_seed(ms, frob_by_seed)


@register("claim-G.1", label="claim-G.1",
          claim="||W*||_F falls like m^(-1/2) (per-seed fitted exponents, pooled) with eps_c "
                "fixed; the printed bound p rho^3 C / sqrt(m) holds by a margin no size could "
                "close.",
          quick=dict(m=(256, 512, 1024, 2048), seeds=16, eps_x=0.1, delta=4.0, **BASE),
          full=dict(m=(512, 1024, 2048, 4096, 8192), seeds=16, eps_x=0.1, delta=4.0, **BASE),
          controls={"wrong-exponent": "||W*||_F multiplied by sqrt(m), as if Definition 5.3's "
                                      "1/m were 1/sqrt(m): the fitted exponent is 0, not -1/2"},
          rule=Rule((
              exponent("frob_exponent", "fitted exponent of ||W*||_F in m", -0.5,
                       {"m^0": 0.0, "m^-1/4": -0.25, "m^-1": -1.0}),
              Below("log10_frob_over_bound", "log10(||W*||_F / (p rho^3 C / sqrt m)), largest "
                    "over the draws", 0.0, "Claim G.1, O-constant 1, our C",
                    vacuous_factor=VACUOUS_DECADES, scale="difference"),
          )),
          depends=("definition-5.3",))
def _claim_g1(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    ms = _widths(sz)
    fr = np.array([[_frob(m, seed + s, sz["L"], sz["d_x"], sz["d"], sz["p"], sz["target_seed"],
                          sz["eps_e"], sz["eps_x"], sz["delta"]) for m in ms]
                   for s in range(sz["seeds"])])
    if control == "wrong-exponent":  # the 1/m of Definition 5.3 replaced by 1/sqrt(m)
        fr = fr * np.sqrt(np.asarray(ms, float))[None, :]
    fit = frob_fit(ms, fr)
    tgt = _tgt(sz)
    C = paper_constants(tgt, sz["eps_x"], sz["eps_e"])["C"]
    log10_bound = np.array([math.log10(sz["p"] * C) + 3 * math.log10(_rho(sz["L"], sz["d"], m))
                            - 0.5 * math.log10(m) for m in ms])
    log10_ratio = float((np.log10(fr) - log10_bound[None, :]).max())
    finding = None
    if control is None:
        finding = Finding(
            "vacuous", f"Claim G.1's bound p rho^3 C / sqrt(m) holds by {-log10_ratio:.0f} "
                       "decades",
            printed=r"$\|W^*\|_F\le O\big(p\rho^3C/\sqrt m\big)$.",
            observed=rf"With $O$-constant 1 and our $C={C:.3g}$, the largest ratio "
                     rf"$\|W^*\|_F/(p\rho^3C/\sqrt m)$ over the draws is "
                     rf"$10^{{{log10_ratio:.1f}}}$: no size could make the bound fail.",
            holds=r"The content of the claim is the rate: with $\varepsilon_c$ fixed, "
                  rf"$\|W^*\|_F$ falls like $m^{{{fit.slope:.2f}}}$ (per-seed fits pooled), "
                  r"against $m^{-1/4}$, $m^0$ and $m^{-1}$, which is what the sample "
                  r"complexity of Theorem 1 needs.")
    return Outcome(
        measured={"slope": fit.slope, "slope_ci_low": fit.ci_low, "slope_ci_high": fit.ci_high,
                  "frob_at_m_min": float(np.median(fr[:, 0])),
                  "frob_at_m_max": float(np.median(fr[:, -1])),
                  "log10_frob_over_bound_max": log10_ratio, "C": C},
        evidence={"frob_exponent": fit, "log10_frob_over_bound": log10_ratio},
        regime={"eps_x": sz["eps_x"], "delta": sz["delta"], "seeds": sz["seeds"],
                "m": list(ms), "C": C},
        finding=finding, figure={"m": list(ms), "frob": fr.tolist()})
