"""Checks of Lemma 5.1 (indicator to function): parts (a) and (b)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from .. import complexity
from ..concept import z
from ..indicator import (
    SQRT3_2,
    WeightFunction,
    build_weight,
    expectation,
    expectation_general,
    monte_carlo,
    target_values,
)
from ..stats import fit_loglog
from .registry import Outcome, register

#: Targets used by the checks (names -> sympy expressions in concept.z).
PHIS: dict[str, sp.Expr] = {
    "z^2": z ** 2,
    "sin z": sp.sin(z),
    "e^z-1": sp.exp(z) - 1,
    "z^3-z": z ** 3 - z,
}
#: Glue-safe short names of the targets.
SLUG: dict[str, str] = {"z^2": "z2", "sin z": "sin", "e^z-1": "expm1", "z^3-z": "z3mz"}
MC_Z_MAX = 4.0  # |quadrature - Monte Carlo| / standard error allowed
QUAD_TOL = 1e-9  # agreement of the quadrature with itself at 4x the nodes


def literal_eps_e(phi: sp.Expr, sigma: float) -> float:
    """Half of 1/C_s(Phi, sigma): an eps_e that meets Lemma 5.1's hypothesis
    eps_e < 1/C_s(Phi, O(sigma)) with O(sigma) read as sigma (C* = 10^4)."""
    return 0.5 / float(complexity.c_s(phi, sigma))


@lru_cache(maxsize=32)
def _weight(name: str, sigma: float, eps_e: float, degree: int | None = None,
            cutoff: float | None = None) -> WeightFunction:
    return build_weight(PHIS[name], sigma, eps_e, degree=degree, cutoff=cutoff)


def _control(H: WeightFunction, control: str | None) -> WeightFunction:
    if control == "zero-H":
        return H.scaled(0.0)
    if control == "wrong-sign":
        return H.scaled(-1.0)
    if control == "no-bias":
        return H.without_bias()
    if control == "shifted-H":
        return H.shifted(1.0)
    return H


@register("lemma-5.1a", label="lemma-5.1",
          claim="Our explicit H(<a,w*>, a_dx), bounded by C' <= C_eps(Phi, sigma), fits "
                "Phi(<w*,x*>) on target to within eps_e for every admissible x* and sigma >= 0.1 "
                "(exact Gaussian quadrature, Monte Carlo cross-check).",
          quick=dict(phis=("z^2", "sin z", "e^z-1", "z^3-z"), sigmas=(0.1, 1.0, 3.0),
                     eps_e=1e-3, n_u=25, mc_samples=100_000, mc_u=(-0.6, 0.2, 0.85),
                     max_degree=11, eps_grid=(1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-8)),
          full=dict(phis=("z^2", "sin z", "e^z-1", "z^3-z"), sigmas=(0.1, 0.3, 1.0, 2.0, 3.0),
                    eps_e=1e-3, n_u=101, mc_samples=1_000_000, mc_u=(-0.85, -0.6, 0.0, 0.2, 0.85),
                    max_degree=15, eps_grid=(1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8, 1e-10)),
          controls=("zero-H", "wrong-sign", "no-bias"), depends=("definition-3.1",))
def _lemma_5_1a(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    u = np.linspace(-SQRT3_2, SQRT3_2, sz["n_u"])
    worst_ratio = 0.0
    per_phi: dict[str, dict[str, float]] = {}
    errors_u: dict[str, list[float]] = {}
    lit_met = True
    for name in sz["phis"]:
        phi = PHIS[name]
        tgt = target_values(phi, u)
        rec: dict[str, float] = {}
        for sigma in sz["sigmas"]:
            for tag, eps in (("practical", sz["eps_e"]), ("literal", literal_eps_e(phi, sigma))):
                H = _control(_weight(name, sigma, eps), control)
                err = np.abs(expectation(H, u, sigma) - tgt)
                worst_ratio = max(worst_ratio, float(err.max() / eps))
                rec[f"max_err_{tag}_sigma{sigma:g}"] = float(err.max())
                if tag == "practical" and sigma == 1.0:
                    errors_u[name] = err.tolist()
                if tag == "literal":
                    lit_met &= eps < 1.0 / float(complexity.c_s(phi, sigma))
        H1 = _weight(name, 1.0, sz["eps_e"])
        rec["C_prime_sigma1"] = H1.bound
        rec["degree_sigma1"] = H1.degree
        rec["cutoff_B_sigma1"] = H1.cutoff
        rec["log10_C_eps_sigma1"] = complexity.log_c_eps(phi, 1.0, sz["eps_e"]) / math.log(10)
        per_phi[SLUG[name]] = rec
    # C' against C_eps(Phi, sigma) for every Phi and sigma (logs: C_eps overflows floats)
    bound_ok = True
    worst_log_gap = math.inf
    for name in sz["phis"]:
        for sigma in sz["sigmas"]:
            H = _weight(name, sigma, sz["eps_e"])
            gap = complexity.log_c_eps(PHIS[name], sigma, sz["eps_e"]) - math.log(H.bound)
            worst_log_gap = min(worst_log_gap, gap / math.log(10))
            bound_ok &= gap >= 0
    # Monte Carlo in the full d_x-dimensional setting (mixed target: odd and even parts)
    mc_phi, mc_sigma = "e^z-1", 1.0
    Hmc = _control(_weight(mc_phi, mc_sigma, sz["eps_e"]), control)
    mc_z, mc_se = 0.0, 0.0
    for k, uu in enumerate(sz["mc_u"]):
        q = float(expectation(Hmc, uu, mc_sigma))
        mean, se = monte_carlo(Hmc, uu, mc_sigma, samples=sz["mc_samples"], seed=seed + 17 * k)
        zval = abs(q - mean) / se if se > 0 else (0.0 if abs(q - mean) < 1e-12 else math.inf)
        mc_z = max(mc_z, zval)
        mc_se = max(mc_se, se)
    # quadrature against itself with 4x the nodes
    Hq = _weight("e^z-1", 3.0, sz["eps_e"])
    uq = np.linspace(-SQRT3_2, SQRT3_2, 7)
    tq = np.sqrt(0.75 - uq ** 2 + 9.0)
    quad_dev = float(np.abs(expectation_general(Hq, uq, 0.5, tq, 0.0) -
                            expectation_general(Hq, uq, 0.5, tq, 0.0, nodes=96)).max())
    # the one-variable reading H(<a, w*>): the even target z^2 cannot be fitted
    Hnb = _weight("z^2", 1.0, sz["eps_e"]).without_bias()
    nobias_err = float(np.abs(expectation(Hnb, u, 1.0) - u ** 2).max())
    # truncation: |H| and error against the Taylor degree (B fixed by a tiny cut-off budget)
    degrees = list(range(1, sz["max_degree"] + 1))
    trunc: dict[str, dict[str, list[float]]] = {}
    for name in ("sin z", "e^z-1"):
        errs, bounds = [], []
        for N in degrees:
            H = build_weight(PHIS[name], 1.0, 1e-9, degree=N)
            errs.append(float(np.abs(expectation(H, u, 1.0) - target_values(PHIS[name], u)).max()))
            bounds.append(H.bound)
        trunc[name] = {"error": errs, "bound": bounds}
    # C' against eps_e
    eps_curve = {name: [build_weight(PHIS[name], 1.0, e).bound for e in sz["eps_grid"]]
                 for name in sz["phis"]}
    ceps_curve = {name: [complexity.log_c_eps(PHIS[name], 1.0, e) / math.log(10)
                         for e in sz["eps_grid"]] for name in sz["phis"]}
    Hfig = _weight("z^2", 1.0, sz["eps_e"])
    Hfig2 = _weight("e^z-1", 1.0, sz["eps_e"])
    al = np.linspace(-1.1 * Hfig2.cutoff, 1.1 * Hfig2.cutoff, 401)
    passed = (worst_ratio <= 1.0 and bound_ok and mc_z <= MC_Z_MAX and quad_dev <= QUAD_TOL)
    finding = (
        "Lemma 5.1 as printed gives the weight the signature H: R -> [-C', C'] but evaluates it "
        "as H(a) for a in R^{d_x}. Read as a function of the one number <a, w*> (the only scalar "
        "tied to the target), it cannot work: then E(u) + E(-u) = 2 E(0) for every x* "
        "(integrate out the bias coordinate: Phi_N(t) + Phi_N(-t) = 1), so the fitted function "
        "is a constant plus an odd function of u, and for Phi(z) = z^2 the on-target error is at "
        f"least u^2/2 = 3/8 at u = sqrt(3)/2. Measured: our H with its bias dependence removed "
        f"misses z^2 by {nobias_err:.3g} (eps_e = {sz['eps_e']:g}). Corrected statement: "
        "H: R^{d_x} -> [-C', C']; two coordinates suffice, alpha = <a, w*> and the bias "
        "coordinate a_{d_x}, odd Hermite terms in alpha alone and even ones multiplied by "
        f"sign(a_{{d_x}}): that H meets (a) with worst error/eps_e = {worst_ratio:.3g} over "
        f"{len(sz['phis'])} targets, sigma in {list(sz['sigmas'])} and the whole range "
        "|u| <= sqrt(3)/2.")
    measured = {
        "worst_error_over_eps_e": worst_ratio,
        "no_bias_error_z2": nobias_err,
        "mc_max_z": mc_z, "mc_max_stderr": mc_se, "quadrature_self_dev": quad_dev,
        "min_log10_C_eps_over_C_prime": worst_log_gap,
        **{f"{k}.{kk}": v for k, rec in per_phi.items() for kk, v in rec.items()},
    }
    return Outcome(
        passed=passed, measured=measured,
        bound={"error_over_eps_e": 1.0, "mc_z": MC_Z_MAX, "quadrature_self_dev": QUAD_TOL,
               "C_prime": "<= C_eps(Phi, sigma) (C* = 10^4)"},
        tolerance=f"on-target error <= eps_e everywhere; |quad - MC| <= {MC_Z_MAX:g} stderr; "
                  f"quadrature stable to {QUAD_TOL:g} at 4x nodes",
        regime={"eps_e": sz["eps_e"], "sigmas": list(sz["sigmas"]), "sigma_min": min(sz["sigmas"]),
                "sigma_max": max(sz["sigmas"]), "n_u": sz["n_u"],
                "mc_samples": sz["mc_samples"], "mc_target": f"{mc_phi}, sigma={mc_sigma:g}",
                "eps_e_literal": "0.5 / C_s(Phi, sigma) (also checked)",
                "literal_eps_hypothesis_met": bool(lit_met)},
        finding=finding,
        figure={"u": u.tolist(), "errors_u_sigma1": errors_u, "degrees": degrees,
                "truncation": trunc, "eps_grid": list(sz["eps_grid"]),
                "C_prime_vs_eps": eps_curve, "log10_C_eps_vs_eps": ceps_curve,
                "alpha": al.tolist(),
                "H_z2_plus": Hfig(al, 1.0).tolist(), "H_z2_minus": Hfig(al, -1.0).tolist(),
                "H_exp_plus": Hfig2(al, 1.0).tolist(), "H_exp_minus": Hfig2(al, -1.0).tolist(),
                "cutoff_z2": Hfig.cutoff, "cutoff_exp": Hfig2.cutoff})


def _decay_fit(t: np.ndarray, err: np.ndarray, t_min: float) -> Any:
    sel = t >= t_min
    return fit_loglog(t[sel], err[sel])


@register("lemma-5.1b", label="lemma-5.1",
          claim="Off target (noise gamma*n), the same H gives Phi(0) up to eps_e + "
                "O(C' log(gamma sigma)/(gamma sigma)); the error's fitted decay in gamma*sigma "
                "is at least as fast as that bound's.",
          quick=dict(phis=("z^2", "sin z", "e^z-1", "z^3-z"), sigmas=(0.1, 1.0), eps_e=1e-3,
                     n_u=13, t_grid=(0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
                     fit_from=10.0),
          full=dict(phis=("z^2", "sin z", "e^z-1", "z^3-z"), sigmas=(0.1, 0.3, 1.0, 3.0),
                    eps_e=1e-3, n_u=41,
                    t_grid=tuple(float(v) for v in np.round(np.logspace(-0.9, 4, 30), 6)),
                    fit_from=10.0),
          controls=("wrong-exponent", "shifted-H"), depends=("lemma-5.1",))
def _lemma_5_1b(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    u = np.linspace(-SQRT3_2, SQRT3_2, sz["n_u"])
    eps = sz["eps_e"]
    curves: dict[str, dict[str, list[float]]] = {}
    literal_viol, corrected_ok, slopes_ok = 0, True, True
    slopes: dict[str, float] = {}
    slope_hi: dict[str, float] = {}
    bound_slopes: dict[str, float] = {}
    worst_small_t = {"t": math.nan, "err": -math.inf, "bound": math.nan}
    n_pts = 0
    for name in sz["phis"]:
        phi = PHIS[name]
        phi0 = float(target_values(phi, 0.0))
        for sigma in sz["sigmas"]:
            H = _control(_weight(name, sigma, eps), control)
            Cp = _weight(name, sigma, eps).bound
            t = np.array([v for v in sz["t_grid"] if v > sigma * (1 + 1e-9)])  # gamma > 1
            err = np.array([np.abs(expectation(H, u, sigma, gamma=tv / sigma) - phi0).max()
                            for tv in t])
            lit = eps + Cp * np.log(t) / t
            corr = eps + Cp * np.maximum(1.0, np.log(t)) / t
            viol = err > lit
            literal_viol += int(viol.sum())
            n_pts += t.size
            if viol.any():
                k = int(np.argmax(np.where(viol, err - lit, -np.inf)))
                if err[k] > worst_small_t["err"]:
                    worst_small_t = {"t": float(t[k]), "err": float(err[k]),
                                     "bound": float(lit[k])}
            corrected_ok &= bool(np.all(err <= corr))
            fit = _decay_fit(t, np.maximum(err, 1e-300), sz["fit_from"])
            if control == "wrong-exponent":
                ref = np.asarray(t, float) ** -2.0  # hold against (gamma sigma)^-2
            else:
                ref = np.log(t) / t
            bfit = _decay_fit(t, ref, sz["fit_from"])
            key = f"{SLUG[name]}_sigma{sigma:g}"
            slopes[key] = fit.slope
            slope_hi[key] = fit.ci_high
            bound_slopes[key] = bfit.slope
            slopes_ok &= fit.slope <= bfit.slope + 0.05
            curves[key] = {"t": t.tolist(), "error": err.tolist(), "bound_literal": lit.tolist(),
                           "C_prime": [Cp]}
    passed = corrected_ok and slopes_ok
    worst_slope = max(slopes.values())
    t_viol_max = max((tv for c in curves.values() for tv, e, b in
                      zip(c["t"], c["error"], c["bound_literal"]) if e > b), default=math.nan)
    finding = None
    if literal_viol:
        finding = (
            "Lemma 5.1b bounds the off-target error by eps_e + O(C' log(gamma sigma)/(gamma "
            "sigma)) for every gamma > 1 and sigma >= 0.1. For gamma sigma <= 1 (allowed: e.g. "
            "gamma = 2, sigma = 0.1) the logarithm is <= 0 and the bound falls to eps_e or below, "
            "while the error there is of the order of Phi(u) - Phi(0): measured "
            f"{worst_small_t['err']:.3g} at gamma sigma = {worst_small_t['t']:g} against the "
            f"literal bound {worst_small_t['bound']:.3g} ({literal_viol} of {n_pts} grid points "
            f"violate it, the largest at gamma sigma = {t_viol_max:g}). Corrected statement: "
            "eps_e + O(C' max(1, "
            "log(gamma sigma))/(gamma sigma)); it holds at every grid point with O-constant 1 and "
            "C' = sup|H|, and the error decays like (gamma sigma)^s with fitted s up to "
            f"{worst_slope:.3f} (no logarithm needed for our H).")
    return Outcome(
        passed=passed,
        measured={"literal_violations": literal_viol, "grid_points": n_pts,
                  "worst_literal_violation_t": worst_small_t["t"],
                  "worst_literal_violation_error": worst_small_t["err"],
                  "largest_t_violating": t_viol_max,
                  "corrected_bound_holds": corrected_ok,
                  "fitted_decay_exponent_max": worst_slope,
                  "fitted_decay_exponent_min": min(slopes.values()),
                  "fitted_decay_ci_high_max": max(slope_hi.values()),
                  "decay_exponents": slopes},
        bound={"reference_exponent_max": max(bound_slopes.values()),
               "reference": ("(gamma sigma)^-2 [control]" if control == "wrong-exponent"
                             else "log(gamma sigma)/(gamma sigma)")},
        tolerance="error <= eps_e + C' max(1, log t)/t at every t = gamma*sigma (C' = sup|H|); "
                  f"fitted exponent over t >= {sz['fit_from']:g} <= the reference's + 0.05",
        regime={"eps_e": eps, "sigmas": list(sz["sigmas"]), "n_u": sz["n_u"],
                "t_min": min(sz["t_grid"]), "t_max": max(sz["t_grid"]),
                "fit_from": sz["fit_from"]},
        finding=finding, figure={"curves": curves})
