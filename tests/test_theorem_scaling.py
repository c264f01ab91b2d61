"""Calibration of the Theorem 1 scaling checks on synthetic data made to a law, at each check's
own design (its grid of L or m, its replicates) and at the noise level measured on its real
data: the fit that builds the evidence (theorem.growth_evidence, theorem.width_evidence) is
the check's own, and the verdict comes from the check's registered rule.

What the designs can and cannot show (asserted below):

* L growth, quick (L = 4..16, 8 replicates, log-noise 0.39): quadratic growth is confirmed
  "slower than sqrt(2)^L" at nearly every replication, but the equivalence test for
  "polynomial" has no power there (the 90% interval of the rate is wider than the margin), so
  its honest verdict is inconclusive; sqrt(2)^L and (1 + sqrt 2)^L are never confirmed slower.
* L growth, full (L = 4..32): the same quadratic law is confirmed polynomial, e^{0.15 L} is
  confirmed slower than sqrt(2)^L but never polynomial.
* m growth (the rule is one-sided: exponent below 1/8): at quick (m = 64..256) a T falling
  like the measured m^-0.3 is confirmed at nearly every replication, but exactly flat data are
  confirmed only about one time in five (no power); at the full profile's widths (m = 128..2048,
  at a scatter extrapolated from m <= 512) flat data are confirmed. m^0.25 growth is never
  confirmed at either.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnproof import checks
from rnnproof.checks import theorem
from rnnproof.verdicts import CONFIRMED, INCONCLUSIVE, REFUTED

REPS = 400
SLOWER, POLY = "theorem-1-scaling-L-slower", "theorem-1-scaling-L-polynomial"
#: Standard deviation of log T between the replicates at one L, measured on the real runs of
#: the quick profile (root mean square over L = 4..16 and seeds 0-19: 0.40, 0.32, 0.32, 0.40,
#: 0.48 at the five lengths; the check's ``residual_sd`` about the nested fit has median 0.37).
L_LOG_NOISE = 0.39
#: Standard deviation of log T between replicates at each width, measured on the real runs
#: (m = 64, 128, 256: root mean square over seeds 0-19 of the quick profile; m = 512: one seed,
#: 12 replicates). It falls with m, as the spread of kappa does. The values at 1024 and 2048
#: are extrapolated, not measured.
M_LOG_NOISE = {64: 0.41, 128: 0.26, 256: 0.21, 512: 0.20, 1024: 0.18, 2048: 0.16}
#: Mean exponent of T in m over seeds 0-19 of the quick profile (T falls with m there).
M_MEASURED_EXPONENT = -0.31


def _design(check_id: str, profile: str) -> tuple[np.ndarray, int]:
    sz = checks.REGISTRY[check_id].sizes[profile]
    return np.asarray(sz["Ls"], dtype=float), int(sz["seeds"])


def _L_shares(law, profile: str, seed: int) -> dict[str, dict[str, float]]:
    """Share of each verdict of the two L rules over REPS synthetic data sets."""
    Ls, seeds = _design(SLOWER, profile)
    x = np.repeat(Ls, seeds)
    rng = np.random.default_rng(seed)
    counts: dict[str, dict[str, int]] = {SLOWER: {}, POLY: {}}
    for _ in range(REPS):
        T = law(x) * np.exp(L_LOG_NOISE * rng.standard_normal(x.size))
        ev = theorem.growth_evidence(x, T)
        ev.pop("fit")
        ev["missed_runs"] = 0
        for cid in (SLOWER, POLY):
            v = checks.REGISTRY[cid].rule.grade(ev)[0]
            counts[cid][v] = counts[cid].get(v, 0) + 1
    return {cid: {k: n / REPS for k, n in c.items()} for cid, c in counts.items()}


def test_both_L_checks_share_one_design() -> None:
    assert checks.REGISTRY[SLOWER].sizes == checks.REGISTRY[POLY].sizes
    for profile, L_min in (("quick", 16), ("full", 32)):
        Ls, seeds = _design(SLOWER, profile)
        assert Ls.max() >= L_min and seeds >= 5


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_quadratic_growth(profile: str) -> None:
    s = _L_shares(lambda L: 3.0 * L ** 2, profile, 0)
    assert s[SLOWER].get(CONFIRMED, 0) >= 0.95
    assert s[POLY].get(REFUTED, 0) <= 0.01
    if profile == "quick":  # no power for the equivalence test: stably inconclusive
        assert s[POLY].get(INCONCLUSIVE, 0) >= 0.95
    else:
        assert s[POLY].get(CONFIRMED, 0) >= 0.9


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_slow_exponential_is_slower_than_sqrt2_but_not_polynomial(profile: str) -> None:
    s = _L_shares(lambda L: 50.0 * np.exp(0.15 * L), profile, 1)
    assert s[POLY].get(CONFIRMED, 0) <= 0.05
    # power to call e^{0.15 L} slower than sqrt(2)^L: about 3/4 at quick, all but sure at full
    assert s[SLOWER].get(CONFIRMED, 0) >= (0.6 if profile == "quick" else 0.95)


@pytest.mark.parametrize("profile", ["quick", "full"])
@pytest.mark.parametrize("beta", [math.sqrt(2), 1 + math.sqrt(2)])
def test_beta_power_growth_is_neither(profile: str, beta: float) -> None:
    s = _L_shares(lambda L: 10.0 * beta ** L, profile, 2)
    # at the boundary r = ln sqrt 2 the one-sided test confirms with probability alpha = 5%;
    # 0.08 allows three Monte Carlo standard errors over REPS replications
    assert s[SLOWER].get(CONFIRMED, 0) <= (0.08 if beta == math.sqrt(2) else 0.0)
    assert s[POLY].get(CONFIRMED, 0) == 0.0


def _m_shares(k: float, profile: str, seed: int) -> dict[str, float]:
    sz = checks.REGISTRY["theorem-1-scaling-m"].sizes[profile]
    ms = np.asarray(sz["ms"], dtype=float)
    sigma = np.array([M_LOG_NOISE[int(m)] for m in ms])
    rng = np.random.default_rng(seed)
    rule = checks.REGISTRY["theorem-1-scaling-m"].rule
    counts: dict[str, int] = {}
    for _ in range(REPS):
        T = 1500.0 * (ms / ms[0]) ** k * np.exp(sigma * rng.standard_normal((sz["seeds"],
                                                                              ms.size)))
        ev = {**theorem.width_evidence(ms, T), "missed_runs": 0}
        v = rule.grade(ev)[0]
        counts[v] = counts.get(v, 0) + 1
    return {v: n / REPS for v, n in counts.items()}


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_width_rule_against_quarter_power_growth(profile: str) -> None:
    flat = _m_shares(0.0, profile, 3)
    assert flat.get(REFUTED, 0) <= 0.01
    if profile == "quick":  # three widths over a factor 4: little power for exactly flat data
        assert flat.get(CONFIRMED, 0) <= 0.5
        assert _m_shares(M_MEASURED_EXPONENT, profile, 4).get(CONFIRMED, 0) >= 0.95
    else:
        assert flat.get(CONFIRMED, 0) >= 0.95
    assert _m_shares(0.25, profile, 5).get(CONFIRMED, 0) <= 0.05
