"""Calibration of the scaling criteria of the foundations checks on synthetic data made to a
law, at each check's own design (the same widths, draws, grids) and at the noise level its real
data show (measured by a run of the check at the quick profile, seed 0).

Data made exactly to the claim must be confirmed at nearly every replication; data made to a
competing law must (nearly) never be. The evidence is built by the same function the check
uses (``rate_fit``, ``fit_across_draws``, ``angle_exponent_fit``, ``log_growth_fit``) and graded
by the criterion of the check's registered rule."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from rnnproof import checks
from rnnproof import initialization as ini
from rnnproof.checks import complexity as ccx
from rnnproof.checks import initialization as cin
from rnnproof.verdicts import CONFIRMED

REPS = 400


def _criterion(check_id: str, name: str, corrected: bool = False):
    rule = checks.REGISTRY[check_id].rule
    for c in (rule.corrected if corrected else rule.criteria):
        if c.name == name:
            return c
    raise KeyError(f"{check_id} has no criterion {name!r}")


@cache
def _real(check_id: str):
    return checks.run(check_id, profile="quick", seed=0)


def _share_confirmed(grade, make, seed: int) -> float:
    rng = np.random.default_rng(seed)
    return sum(grade(make(rng)).verdict == CONFIRMED for _ in range(REPS)) / REPS


# ------------------------------------------------------------------ rates in m (pooled fits)

RATE_CASES = [  # (check, criterion, measured key of the noise level)
    ("init-norms", "rate", "rel_err_log_residual_sd"),
    ("init-kernel", "rate", "rel_err_log_residual_sd"),
    ("init-kernel-long-memory", "rate", "sim_cos_rel_err_log_residual_sd"),
    ("init-null-distance", "rate", "m_log_residual_sd"),
    ("init-back-rows", "rate", "rms_rel_err_log_residual_sd"),
    ("init-back-decorrelation", "across_j", "across_j_log_residual_sd"),
    ("init-back-decorrelation", "with_B", "with_B_log_residual_sd"),
    ("init-back-decorrelation", "across_s", "across_s_log_residual_sd"),
]


@pytest.mark.parametrize("check_id,name,noise_key", RATE_CASES,
                         ids=[f"{c}:{n}" for c, n, _ in RATE_CASES])
def test_rate_in_m_on_synthetic_laws(check_id: str, name: str, noise_key: str) -> None:
    sz = checks.REGISTRY[check_id].sizes["quick"]
    widths, draws = sz["widths"], sz["draws"]
    sigma = float(_real(check_id).measured[noise_key])
    assert 0.01 < sigma < 2, f"implausible noise level {sigma} measured for {check_id}"
    crit = _criterion(check_id, name)
    m = np.asarray(widths, dtype=float)[:, None]

    def law(k):
        return lambda rng: 2.0 * m ** k * np.exp(sigma * rng.standard_normal((m.size, draws)))

    def grade(E):
        return crit.grade({name: cin.rate_fit(widths, E)}, "float64")

    assert _share_confirmed(grade, law(-0.5), 0) >= 0.95
    for k, seed in ((-0.25, 1), (0.0, 2), (-1.0, 3)):
        assert _share_confirmed(grade, law(k), seed) <= 0.05, k


def test_rate_fit_rejects_a_bad_shape() -> None:
    with pytest.raises(ValueError, match="len\\(widths\\), draws"):
        cin.rate_fit((32, 64), np.ones((3, 4)))


# ------------------------------------------------ exponents fitted per draw, then averaged

def _per_draw(x, draws, k, slope_sd, log_x=True):
    u = np.log(x) if log_x else np.asarray(x, float)

    def make(rng):
        ks = k + slope_sd * rng.standard_normal((draws, 1))
        return np.exp(1.0 + ks * u[None, :])
    return make


def test_eps_exponent_of_the_null_distance_on_synthetic_laws() -> None:
    sz = checks.REGISTRY["init-null-distance"].sizes["quick"]
    grid = np.asarray(sz["eps"], float)
    fit = _real("init-null-distance").measured["eps_exponent_fit"]
    slope_sd = fit["stderr"] * math.sqrt(sz["draws"])
    crit = _criterion("init-null-distance", "eps_exponent")

    def grade(Y):
        return crit.grade({"eps_exponent": ini.fit_across_draws(grid, Y)}, "float64")

    assert _share_confirmed(grade, _per_draw(grid, sz["draws"], 1.0, slope_sd), 0) >= 0.95
    for k, seed in ((0.5, 1), (2.0, 2)):
        assert _share_confirmed(grade, _per_draw(grid, sz["draws"], k, slope_sd), seed) <= 0.05


@pytest.mark.parametrize("name,claim,competitors",
                         [("back_rate_alt", cin.ALT_RATE, (0.0, 2 * cin.ALT_RATE)),
                          ("back_rate_paper", 0.0, (cin.ALT_RATE, -cin.ALT_RATE))])
def test_back_decay_rates_of_footnote_2_on_synthetic_laws(name, claim, competitors) -> None:
    sz = checks.REGISTRY["footnote-2"].sizes["quick"]
    steps = np.arange(sz["L"], dtype=float)
    fit = _real("footnote-2").measured[name]
    slope_sd = fit["stderr"] * math.sqrt(sz["back_seeds"])
    crit = _criterion("footnote-2", name, corrected=True)

    def grade(Y):
        return crit.grade({name: ini.fit_across_draws(steps, Y, log_x=False)}, "float64")

    make = _per_draw(steps, sz["back_seeds"], claim, slope_sd, log_x=False)
    assert _share_confirmed(grade, make, 0) >= 0.95
    for i, k in enumerate(competitors):
        make = _per_draw(steps, sz["back_seeds"], k, slope_sd, log_x=False)
        assert _share_confirmed(grade, make, i + 1) <= 0.05


# ------------------------------------------------ deterministic laws (no sampling noise)

def test_angle_law_criterion_tells_3pi_over_i_from_other_powers() -> None:
    sz = checks.REGISTRY["init-kernel-long-memory"].sizes["quick"]
    i = np.unique(np.geomspace(sz["fit_from"], sz["i_max"], 12).astype(int)).astype(float)
    crit = _criterion("init-kernel-long-memory", "angle_exponent")

    def verdict(theta):
        return crit.grade({"angle_exponent": cin.angle_exponent_fit(i, theta)}, "f").verdict

    assert verdict(3 * np.pi / (i + 1.5 * np.log(i))) == CONFIRMED  # the law with its correction
    assert verdict(1 / np.sqrt(i)) != CONFIRMED
    assert verdict(1 / i ** 2) != CONFIRMED
    full = np.arange(sz["fit_from"], sz["i_max"] + 1, dtype=float)
    r = cin.angle_constant_limit(full, 3 * np.pi / (full + 1.5 * np.log(full) + 2.0))
    assert abs(r - 1) < 1e-3
    assert abs(cin.angle_constant_limit(full, 2 * np.pi / full) - 1) > 0.3


def test_truncation_growth_criterion_tells_log_from_log_squared() -> None:
    sz = checks.REGISTRY["example-2.1-truncation"].sizes["quick"]
    L = np.log(10.0 ** np.asarray(sz["eps_exponents"], float))
    L = L[L >= math.log(1e4)]
    crit = _criterion("example-2.1-truncation", "degree_exponent", corrected=True)

    def verdict(D):
        return crit.grade({"degree_exponent": ccx.log_growth_fit(L, D)}, "f").verdict

    for a, b in ((0.3, 3.0), (2.2, -3.0), (0.7, 0.0)):  # linear laws, with integer steps
        assert verdict(np.ceil(a * L + b)) == CONFIRMED
    assert verdict(np.ceil(2 * np.sqrt(L))) == CONFIRMED  # slower than linear is fine
    for c in (0.1, 0.5):
        assert verdict(np.ceil(c * L ** 2)) != CONFIRMED  # log^2(1/eps) is not O(log 1/eps)
