"""Checks of Lemma 5.1 (indicator to function): part (a), the signature of H, and part (b)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
from ..stats import Estimate, SlopeFit, fit_loglog
from ..verdicts import Below, Equivalence, Exact, Finding, Rule
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
#: The two inputs u = <w*, x*> of the Monte Carlo cross-check (where the even part of e^z - 1,
#: which only the bias coordinate of a can produce, is largest on each side).
MC_U = (-0.6, 0.85)
#: A bound that exceeds the measured value by more than two decades (O-constant 1) cannot be
#: brought to fail by any feasible size: it is declared vacuous (it confirms nothing).
VACUOUS_DECADES = 2.0
#: A polynomial with every kind of Taylor term (constant, odd, even), for the exact identities.
POLY = (0.2, 0.3, -0.5, 0.2, 0.4)


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


def hermite_identity_deviation(H: WeightFunction, coefficients: Sequence[float], u: Any,
                               sigma: float) -> float:
    """max_u |E[1{<a,x*> + n >= 0} H(a)] - sum_i c_i u^i| / max_u |sum_i c_i u^i| for a weight
    built without truncation: the Hermite identity behind our H, checked by quadrature."""
    poly = np.polynomial.polynomial.polyval(u, np.asarray(coefficients, float))
    return float(np.abs(expectation(H, u, sigma) - poly).max() / np.abs(poly).max())


def symmetry_deviation(H: WeightFunction, u: Any, sigma: float) -> float:
    """max_u |E(u) + E(-u) - 2 E(0)| / max_u |E(u)| for a weight H: zero for every weight that
    reads a only through <a, w*> (integrating out the bias coordinate: Phi_N(t) + Phi_N(-t) = 1),
    so such a weight fits a constant plus an odd function of u only."""
    u = np.asarray(u, float)
    e, e_m, e0 = expectation(H, u, sigma), expectation(H, -u, sigma), expectation(H, 0.0, sigma)
    return float(np.abs(e + e_m - 2 * e0).max() / max(np.abs(e).max(), 1e-300))


# ----------------------------------------------------------------------------- Lemma 5.1a
@register("lemma-5.1a", label="lemma-5.1",
          claim="Our explicit two-coordinate weight H(<a, w*>, a_dx) fits Phi(<w*, x*>) on target "
                "to within eps_e for every admissible x* and sigma (exact quadrature, the Hermite "
                "identity to quadrature accuracy, a Monte Carlo cross-check); its sup |H| = C' is "
                "below C_eps(Phi, sigma), by a margin no size could close.",
          quick=dict(phis=("z^2", "sin z", "e^z-1", "z^3-z"), sigmas=(0.1, 1.0, 3.0),
                     eps_e=1e-3, n_u=25, mc_samples=400_000, max_degree=11,
                     eps_grid=(1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-8)),
          full=dict(phis=("z^2", "sin z", "e^z-1", "z^3-z"), sigmas=(0.1, 0.3, 1.0, 2.0, 3.0),
                    eps_e=1e-3, n_u=101, mc_samples=4_000_000, max_degree=15,
                    eps_grid=(1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8, 1e-10)),
          controls={"zero-H": "H set to 0: the weighted expectation is 0 instead of Phi, an error "
                              "of order |Phi|, far above eps_e",
                    "wrong-sign": "H negated: the weighted expectation fits -Phi instead of Phi",
                    "no-bias": "H without its bias coordinate (sign(a_dx) replaced by 1): the "
                               "even part of the target is lost, so z^2 and e^z - 1 miss by far "
                               "more than eps_e"},
          rule=Rule((
              Exact("hermite_identity_dev", "the untruncated weight reproduces sum_i c_i u^i "
                    "(Hermite identity)", "quadrature"),
              Exact("quadrature_self_dev", "the quadrature is unchanged at 4x the nodes",
                    "quadrature"),
              Below("worst_error_over_eps_e", "on-target error / eps_e, worst over targets, "
                    "sigma (practical and literal eps_e) and all admissible u", 1.0,
                    "Lemma 5.1a: error <= eps_e"),
              *(Equivalence(f"mc_minus_quadrature_u{k}",
                            f"Monte Carlo (d_x = 6) minus quadrature at u = {u:g}", 0.0,
                            f"mc_margin_u{k}",
                            "half the difference, at the same u, between our H and the same H "
                            "without its bias coordinate (the alternative reading of Lemma 5.1, "
                            "by quadrature)") for k, u in enumerate(MC_U)),
              Below("log10_C_prime_over_C_eps", "log10(C' / C_eps(Phi, sigma)), worst over "
                    "targets and sigma", 0.0, "Lemma 5.1: |H| <= C' = C_eps(Phi, sigma), C* = 10^4",
                    vacuous_factor=VACUOUS_DECADES, scale="difference"),
          )),
          depends=("definition-3.1", "definition-complexity"))
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
    worst_log_gap = math.inf
    for name in sz["phis"]:
        for sigma in sz["sigmas"]:
            H = _weight(name, sigma, sz["eps_e"])
            gap = complexity.log_c_eps(PHIS[name], sigma, sz["eps_e"]) - math.log(H.bound)
            worst_log_gap = min(worst_log_gap, gap / math.log(10))
    # the Hermite identity: without truncation (huge cut-off, polynomial target) H is exact
    Hid = _control(build_weight(POLY, 1.0, sz["eps_e"], cutoff=30.0), control)
    id_dev = hermite_identity_deviation(Hid, POLY, np.linspace(-SQRT3_2, SQRT3_2, 9), 1.0)
    # Monte Carlo in the full d_x-dimensional setting (mixed target: odd and even parts); the
    # margin is half the distance to the alternative reading (H without its bias coordinate)
    mc_phi, mc_sigma = "e^z-1", 1.0
    H_true = _weight(mc_phi, mc_sigma, sz["eps_e"])
    Hmc = _control(H_true, control)
    evidence: dict[str, Any] = {}
    mc_se = 0.0
    for k, uu in enumerate(MC_U):
        q = float(expectation(Hmc, uu, mc_sigma))
        mean, se = monte_carlo(Hmc, uu, mc_sigma, samples=sz["mc_samples"], seed=seed + 17 * k)
        alt = abs(float(expectation(H_true, uu, mc_sigma)) -
                  float(expectation(H_true.without_bias(), uu, mc_sigma)))
        evidence[f"mc_minus_quadrature_u{k}"] = Estimate(mean - q, se)
        evidence[f"mc_margin_u{k}"] = alt / 2
        mc_se = max(mc_se, se)
    # quadrature against itself with 4x the nodes
    Hq = _weight("e^z-1", 3.0, sz["eps_e"])
    uq = np.linspace(-SQRT3_2, SQRT3_2, 7)
    tq = np.sqrt(0.75 - uq ** 2 + 9.0)
    quad_dev = float(np.abs(expectation_general(Hq, uq, 0.5, tq, 0.0) -
                            expectation_general(Hq, uq, 0.5, tq, 0.0, nodes=96)).max())
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
    eps_curve = {name: [build_weight(PHIS[name], 1.0, e).bound for e in sz["eps_grid"]]
                 for name in sz["phis"]}
    Hfig = _weight("z^2", 1.0, sz["eps_e"])
    Hfig2 = _weight("e^z-1", 1.0, sz["eps_e"])
    al = np.linspace(-1.1 * Hfig2.cutoff, 1.1 * Hfig2.cutoff, 401)
    evidence.update(hermite_identity_dev=id_dev, quadrature_self_dev=quad_dev,
                    worst_error_over_eps_e=worst_ratio,
                    log10_C_prime_over_C_eps=-worst_log_gap)
    finding = None
    if control is None:
        finding = Finding(
            "vacuous", "Lemma 5.1's range C' = C_eps(Phi, sigma) holds by orders of magnitude",
            printed=r"The weight of Lemma 5.1 is bounded by $C'=\mathfrak C_{\varepsilon_e}"
                    r"(\Phi,\sigma)$, with $C^*=10^4$ in $\mathfrak C_\varepsilon$.",
            observed=rf"Our explicit weight has $\sup|H|=C'$ at least "
                     rf"$10^{{{worst_log_gap:.1f}}}$ times smaller than "
                     r"$\mathfrak C_{\varepsilon_e}(\Phi,\sigma)$ for every target and "
                     rf"$\sigma\in{list(sz['sigmas'])}$ at $\varepsilon_e={sz['eps_e']:g}$ "
                     r"(for $\sin z$ and $e^z-1$, $\log_{10}\mathfrak C_\varepsilon\approx4343$). "
                     "No size enters this comparison, so no run could make it fail.",
            holds=r"The range is reported, not used to confirm the lemma: part (a) is confirmed "
                  r"by the on-target error against $\varepsilon_e$. Our $C'$ grows like a power "
                  r"of $\log(1/\varepsilon_e)$, through the cut-off $B\approx\sqrt{2\log"
                  r"(1/\varepsilon_e)}$.")
    measured = {
        "worst_error_over_eps_e": worst_ratio, "hermite_identity_dev": id_dev,
        "mc_max_stderr": mc_se, "quadrature_self_dev": quad_dev,
        "min_log10_C_eps_over_C_prime": worst_log_gap,
        **{f"mc_minus_quadrature_u{k}": evidence[f"mc_minus_quadrature_u{k}"].value
           for k in range(len(MC_U))},
        **{f"mc_margin_u{k}": evidence[f"mc_margin_u{k}"] for k in range(len(MC_U))},
        **{f"{k}.{kk}": v for k, rec in per_phi.items() for kk, v in rec.items()},
    }
    return Outcome(
        measured=measured, evidence=evidence,
        regime={"eps_e": sz["eps_e"], "sigmas": list(sz["sigmas"]), "sigma_min": min(sz["sigmas"]),
                "sigma_max": max(sz["sigmas"]), "n_u": sz["n_u"],
                "mc_samples": sz["mc_samples"], "mc_target": f"{mc_phi}, sigma={mc_sigma:g}",
                "mc_u": list(MC_U), "eps_e_literal": "0.5 / C_s(Phi, sigma) (also checked)",
                "literal_eps_hypothesis_met": bool(lit_met)},
        finding=finding,
        figure={"u": u.tolist(), "errors_u_sigma1": errors_u, "degrees": degrees,
                "truncation": trunc, "eps_grid": list(sz["eps_grid"]),
                "C_prime_vs_eps": eps_curve, "alpha": al.tolist(),
                "H_z2_plus": Hfig(al, 1.0).tolist(), "H_z2_minus": Hfig(al, -1.0).tolist(),
                "H_exp_plus": Hfig2(al, 1.0).tolist(), "H_exp_minus": Hfig2(al, -1.0).tolist(),
                "cutoff_z2": Hfig.cutoff, "cutoff_exp": Hfig2.cutoff})


# ----------------------------------------------------------------------------- signature of H
@register("lemma-5.1-signature", label="lemma-5.1",
          claim="Lemma 5.1 types the weight as H: R -> [-C', C'] but evaluates it at a in R^{d_x}. "
                "Read as a weight of the one number <a, w*>, no H fits an even target "
                "(E(u) + E(-u) = 2 E(0) for every such H); read on R^{d_x}, two coordinates "
                "(<a, w*> and the bias coordinate a_dx) suffice.",
          quick=dict(eps_e=1e-3, sigma=1.0, n_u=25), full=dict(eps_e=1e-3, sigma=1.0, n_u=101),
          controls={"no-bias": "The two-coordinate weight also read without its bias coordinate: "
                               "like every weight of one number it cannot fit the even z^2",
                    "zero-H": "The two-coordinate weight set to 0: it misses z^2 by up to 3/4, "
                              "so neither reading fits"},
          rule=Rule(
              (Below("one_number_error_over_eps_e", "on-target error / eps_e on Phi = z^2 of our "
                     "weight read through <a, w*> alone", 1.0,
                     "Lemma 5.1a with H: R -> [-C', C'] read as a function of <a, w*>"),),
              corrected=(
                  Exact("symmetry_dev", "E(u) + E(-u) = 2 E(0) for a weight of <a, w*> alone "
                        "(so it misses z^2 by >= 3/8)", "quadrature"),
                  Below("two_coordinate_error_over_eps_e", "on-target error / eps_e on z^2 of "
                        "the weight reading <a, w*> and a_dx", 1.0,
                        "Lemma 5.1a with H: R^{d_x} -> [-C', C']"),
              )),
          depends=("definition-3.1",))
def _lemma_5_1_signature(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    u = np.linspace(-SQRT3_2, SQRT3_2, sz["n_u"])
    eps, sigma = sz["eps_e"], sz["sigma"]
    H = _weight("z^2", sigma, eps)
    one = float(np.abs(expectation(H.without_bias(), u, sigma) - u ** 2).max())
    two = float(np.abs(expectation(_control(H, control), u, sigma) - u ** 2).max())
    # a weight of <a, w*> alone with constant, odd and even Hermite terms
    Hgen = build_weight(POLY, sigma, eps).without_bias()
    sym = symmetry_deviation(Hgen, u[u > 0], sigma)
    finding = None
    if control is None:
        finding = Finding(
            "reading", "Lemma 5.1's weight must read a in R^{d_x}, not one number",
            printed=r"Lemma 5.1 gives the weight the signature $H:\mathbb R\to[-C',C']$ but "
                    r"evaluates it as $H(a)$ for $a\in\mathbb R^{d_x}$.",
            observed=r"Read as a function of the one number $\langle a,w^*\rangle$ (the only "
                     r"scalar tied to the target), it cannot work: integrating out the bias "
                     r"coordinate ($\Phi_{\mathcal N}(t)+\Phi_{\mathcal N}(-t)=1$) gives "
                     r"$E(u)+E(-u)=2E(0)$ for every such $H$ (checked to "
                     rf"{sym:.1g}), so the fitted function is a constant plus an odd function of "
                     r"$u$ and, for $\Phi(z)=z^2$, the on-target error is at least $3/8$. Our "
                     rf"$H$ read that way misses $z^2$ by {one:.3g} "
                     rf"($\varepsilon_e={eps:g}$).",
            holds=r"With $H:\mathbb R^{d_x}\to[-C',C']$ two coordinates suffice: "
                  r"$\alpha=\langle a,w^*\rangle$ and the bias coordinate $a_{d_x}$, odd Hermite "
                  r"terms in $\alpha$ alone and even ones multiplied by $\mathrm{sign}(a_{d_x})$. "
                  rf"That weight fits $z^2$ to {two:.2g} $\le\varepsilon_e$, and every target "
                  r"of the check `lemma-5.1a`.")
    measured = {"one_number_error_z2": one, "two_coordinate_error_z2": two,
                "symmetry_dev": sym, "one_number_error_lower_bound": 0.375}
    return Outcome(measured=measured,
                   evidence={"one_number_error_over_eps_e": one / eps,
                             "two_coordinate_error_over_eps_e": two / eps, "symmetry_dev": sym},
                   regime={"eps_e": eps, "sigma": sigma, "n_u": sz["n_u"], "target": "z^2"},
                   finding=finding)


# ----------------------------------------------------------------------------- Lemma 5.1b
def decay_fit(t: Any, err: Any, t_min: float) -> SlopeFit:
    """The fitted exponent of an off-target error against gamma sigma = t, over t >= t_min."""
    t = np.asarray(t, float)
    err = np.asarray(err, float)
    sel = t >= t_min
    return fit_loglog(t[sel], np.maximum(err[sel], 1e-300))


@register("lemma-5.1b", label="lemma-5.1",
          claim="Off target (noise gamma*n), the same H gives Phi(0) up to eps_e + "
                "O(C' log(gamma sigma)/(gamma sigma)) as printed for every gamma > 1; the "
                "corrected bound with max(1, log(gamma sigma)) holds everywhere, and the error "
                "decays at least as fast as log(gamma sigma)/(gamma sigma).",
          quick=dict(phis=("z^2", "sin z", "e^z-1", "z^3-z"), sigmas=(0.1, 1.0), eps_e=1e-3,
                     n_u=13, t_grid=(0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
                     fit_from=10.0),
          full=dict(phis=("z^2", "sin z", "e^z-1", "z^3-z"), sigmas=(0.1, 0.3, 1.0, 3.0),
                    eps_e=1e-3, n_u=41,
                    t_grid=tuple(float(v) for v in np.round(np.logspace(-0.9, 4, 30), 6)),
                    fit_from=10.0),
          controls={"wrong-exponent": "The error held to the decay of (gamma sigma)^-2 instead of "
                                      "log(gs)/(gs): it decays only like 1/(gamma sigma), too "
                                      "slowly",
                    "shifted-H": "H + 1: off target the constant adds about 1/2 (the indicator "
                                 "is on half the time), an error that does not decay with gamma "
                                 "sigma"},
          rule=Rule(
              (Below("literal_violations", "grid points where the error exceeds the printed "
                     "bound eps_e + C' log(gs)/(gs)", 0, "Lemma 5.1b as printed, O-constant 1, "
                     "C' = sup|H|: none"),),
              corrected=(
                  Below("corrected_ratio", "largest error / (eps_e + C' max(1, log gs)/(gs)) "
                        "over the grid", 1.0, "Lemma 5.1b with max(1, log), O-constant 1",
                        vacuous_factor=10 ** VACUOUS_DECADES),
                  Below("decay_exponent", "fitted exponent of the error in gamma sigma "
                        "(slowest target and sigma)", "reference_exponent",
                        "the exponent of the bound's log(gs)/(gs) over the same range"),
              )),
          depends=("lemma-5.1",))
def _lemma_5_1b(sz: Mapping[str, Any], seed: int, control: str | None) -> Outcome:
    u = np.linspace(-SQRT3_2, SQRT3_2, sz["n_u"])
    eps = sz["eps_e"]
    curves: dict[str, dict[str, list[float]]] = {}
    literal_viol, n_pts = 0, 0
    corr_ratio = 0.0
    fits: dict[str, SlopeFit] = {}
    ref_slopes: dict[str, float] = {}
    worst = {"t": math.nan, "err": -math.inf, "bound": math.nan}
    for name in sz["phis"]:
        phi0 = float(target_values(PHIS[name], 0.0))
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
            corr_ratio = max(corr_ratio, float((err / corr).max()))
            if viol.any():
                k = int(np.argmax(np.where(viol, err - lit, -np.inf)))
                if err[k] > worst["err"]:
                    worst = {"t": float(t[k]), "err": float(err[k]), "bound": float(lit[k])}
            key = f"{SLUG[name]}_sigma{sigma:g}"
            fits[key] = decay_fit(t, err, sz["fit_from"])
            # the reference exponent: the bound's own (the control holds against (gs)^-2)
            ref = t ** -2.0 if control == "wrong-exponent" else np.log(t) / t
            ref_slopes[key] = decay_fit(t, ref, sz["fit_from"]).slope
            curves[key] = {"t": t.tolist(), "error": err.tolist(), "bound_literal": lit.tolist(),
                           "C_prime": [Cp]}
    slowest = max(fits, key=lambda k: fits[k].slope)
    t_viol_max = max((tv for c in curves.values() for tv, e, b in
                      zip(c["t"], c["error"], c["bound_literal"]) if e > b), default=math.nan)
    finding = None
    if literal_viol and control is None:
        finding = Finding(
            "erratum", "Lemma 5.1b's bound fails for gamma sigma <= 1",
            printed=r"Off target the error is at most $\varepsilon_e+O\big(C'\log(\gamma\sigma)/"
                    r"(\gamma\sigma)\big)$ for every $\gamma>1$ and $\sigma\ge0.1$.",
            observed=r"For $\gamma\sigma\le1$ (allowed: $\gamma=2$, $\sigma=0.1$) the logarithm "
                     r"is $\le0$ and the bound falls to $\varepsilon_e$ or below, while the error "
                     r"there is of the order of $\Phi(u)-\Phi(0)$: "
                     rf"{worst['err']:.3g} at $\gamma\sigma={worst['t']:g}$ against the printed "
                     rf"{worst['bound']:.3g} ({literal_viol} of {n_pts} grid points violate it, "
                     rf"the largest at $\gamma\sigma={t_viol_max:g}$).",
            holds=r"$\varepsilon_e+O\big(C'\max(1,\log(\gamma\sigma))/(\gamma\sigma)\big)$ holds "
                  r"at every grid point with $O$-constant 1 and $C'=\sup|H|$ (largest ratio "
                  rf"{corr_ratio:.2g}), and the error of our $H$ decays like "
                  rf"$(\gamma\sigma)^{{{fits[slowest].slope:.2f}}}$ or faster: no logarithm "
                  r"needed.")
    slopes = {k: f.slope for k, f in fits.items()}
    return Outcome(
        measured={"literal_violations": literal_viol, "grid_points": n_pts,
                  "worst_literal_violation_t": worst["t"],
                  "worst_literal_violation_error": worst["err"],
                  "largest_t_violating": t_viol_max,
                  "corrected_ratio": corr_ratio,
                  "fitted_decay_exponent_max": max(slopes.values()),
                  "fitted_decay_exponent_min": min(slopes.values()),
                  "reference_exponent": ref_slopes[slowest], "decay_exponents": slopes},
        evidence={"literal_violations": literal_viol, "corrected_ratio": corr_ratio,
                  "decay_exponent": fits[slowest], "reference_exponent": ref_slopes[slowest]},
        regime={"eps_e": eps, "sigmas": list(sz["sigmas"]), "n_u": sz["n_u"],
                "t_min": min(sz["t_grid"]), "t_max": max(sz["t_grid"]),
                "fit_from": sz["fit_from"],
                "reference": ("(gamma sigma)^-2 [control]" if control == "wrong-exponent"
                              else "log(gamma sigma)/(gamma sigma)")},
        finding=finding, figure={"curves": curves})
