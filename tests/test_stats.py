"""Unit tests of rnnproof.stats and rnnproof.verdicts: estimates, equivalence tests, fits, and
the calibration of the standard criteria on synthetic data made to a law (data made to the
claim are confirmed; data made to the competing law are not)."""

import math

import numpy as np
import pytest

from rnnproof import stats, verdicts
from rnnproof.stats import Estimate
from rnnproof.verdicts import (
    CONFIRMED,
    CORRECTED,
    EXACT,
    INCONCLUSIVE,
    OUT_OF_REACH,
    REFUTED,
    Below,
    Equivalence,
    Exact,
    Finding,
    Reach,
    Rule,
)

# ------------------------------------------------------------------------------ estimates


def test_estimate_intervals_and_errors() -> None:
    e = Estimate(1.0, 0.1)
    lo, hi = e.interval(0.05)
    assert lo == pytest.approx(1 - 1.959964 * 0.1) and hi == pytest.approx(1 + 1.959964 * 0.1)
    assert e.upper(0.05) == pytest.approx(1 + 1.644854 * 0.1)
    t = Estimate(1.0, 0.1, df=4)
    assert t.interval()[1] > hi  # Student t is wider
    with pytest.raises(ValueError, match="finite value"):
        Estimate(float("nan"), 0.1)
    with pytest.raises(ValueError, match="alpha"):
        e.interval(2.5)
    m = stats.mean_estimate([1.0, 2.0, 3.0])
    assert m.value == 2.0 and m.df == 2 and m.stderr == pytest.approx(1 / math.sqrt(3))
    d = stats.difference_estimate([3.0, 4.0, 5.0], [1.0, 2.0, 2.0])
    assert d.value == pytest.approx(7 / 3)
    w = stats.difference_estimate([3.0, 4.0, 5.0], [1.0, 2.0, 2.0, 1.0], paired=False)
    assert w.df < 5 and w.value == pytest.approx(4 - 1.5)


def test_decisions() -> None:
    e = Estimate(0.02, 0.01)
    assert stats.equivalent(e, -0.1, 0.1) and not stats.equivalent(e, -0.1, 0.03)
    assert stats.excludes(e, 0.1) and not stats.excludes(e, 0.03)
    assert stats.outside(Estimate(1.0, 0.01), -0.1, 0.1)
    assert not stats.outside(Estimate(0.2, 0.1), -0.1, 0.1)
    assert stats.holm([0.001, 0.04, 0.02], 0.05).tolist() == [True, True, True]
    assert stats.holm([0.001, 0.04, 0.03], 0.05).tolist() == [True, False, False]
    assert stats.REFUTE_ALPHA * stats.MAX_CHECKS == pytest.approx(stats.FAMILY_ALPHA)


def test_tolerances_by_dtype() -> None:
    assert stats.tolerance("identity", np.float64) < stats.tolerance("identity", "float32")
    with pytest.raises(ValueError, match="unknown tolerance kind"):
        stats.tolerance("nope", np.float64)
    with pytest.raises(ValueError, match="no 'identity' tolerance"):
        stats.tolerance("identity", np.int32)


# ------------------------------------------------------------------------------ fits


def test_fit_loglog_recovers_an_exponent_with_its_standard_error() -> None:
    x = np.repeat([64.0, 128.0, 256.0, 512.0], 3)
    y = 5 * x ** -0.5 * np.tile([0.97, 1.0, 1.03], 4)
    f = stats.fit_loglog(x, y)
    assert f.slope == pytest.approx(-0.5, abs=1e-2) and f.stderr > 0 and f.df == 10
    lo, hi = f.estimate.interval(0.05)
    assert lo == pytest.approx(f.ci_low) and hi == pytest.approx(f.ci_high)
    assert np.allclose(f.predict([64.0]), 5 / 8, rtol=0.05)
    with pytest.raises(ValueError, match="positive"):
        stats.fit_loglog([1, 2, 3], [1, 0, 3])
    with pytest.raises(ValueError, match="distinct"):
        stats.fit_loglog([2, 2, 2], [1, 2, 3])


def test_fit_by_seed_pools_per_seed_slopes() -> None:
    x = np.array([64.0, 128.0, 256.0, 512.0])
    g = np.random.default_rng(1)
    Y = 3 * x ** -0.5 * np.exp(0.05 * g.standard_normal((6, 4)))
    f = stats.fit_loglog_by_seed(x, Y)
    assert f.df == 5 and abs(f.slope + 0.5) < 0.1
    with pytest.raises(ValueError, match="seeds >= 2"):
        stats.fit_loglog_by_seed(x, Y[:1])


def test_crossing_width_and_its_coverage() -> None:
    m = np.repeat([64.0, 128.0, 256.0, 512.0], 4)
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(REPS):  # 2 m^-1/2 = 0.01 at m = 40000
        err = 2.0 * m ** -0.5 * np.exp(0.02 * rng.standard_normal(m.size))
        c = stats.crossing(stats.fit_loglog(m, err), 0.01)
        assert math.exp(c.value) == pytest.approx(40000, rel=0.5)
        lo, hi = c.interval()
        covered += lo < math.log(40000) < hi
    assert covered / REPS >= 0.9
    # a slope not clearly non-zero: Fieller's set is unbounded, never a falsely short interval
    flat = stats.fit_loglog(m, np.tile([0.5, 2.0, 0.5, 2.0], 4) * m ** -0.001)
    lo, hi = stats.crossing(flat, 1e-3).interval()
    assert math.isinf(lo) or math.isinf(hi)


def test_growth_fit_nested_model() -> None:
    L = np.repeat(np.arange(4.0, 17.0, 2.0), 3)
    noise = np.tile([0.98, 1.0, 1.02], 7)
    g = stats.growth_fit(L, 3 * L ** 2 * noise)
    assert abs(g.rate.value) < 0.02 and g.power.value == pytest.approx(2.0, abs=0.2)
    assert g.preferred == "polynomial"
    e = stats.growth_fit(L, np.exp(0.3 * L) * noise)
    assert e.rate.value == pytest.approx(0.3, abs=0.03) and e.preferred == "exponential"
    assert {"rate", "rate_ci_low", "power", "preferred"} <= set(g.as_dict())
    with pytest.raises(ValueError, match="3 distinct"):
        stats.growth_fit([1, 1, 2, 2], [1, 2, 3, 4])


# ------------------------------------------------------------------------------ criteria


def test_exact_criterion_uses_the_dtype_tolerance() -> None:
    c = Exact("dev", "identity")
    assert c.grade({"dev": 1e-14}, "float64").verdict == EXACT
    assert c.grade({"dev": 1e-7}, "float64").verdict == REFUTED
    assert c.grade({"dev": 1e-7}, "float32").verdict == EXACT
    assert c.grade({"dev": float("nan")}, "float64").verdict == REFUTED
    assert Exact("ok", "holds").grade({"ok": False}, "float64").verdict == REFUTED
    with pytest.raises(KeyError, match="did not report"):
        c.grade({}, "float64")


def test_equivalence_criterion() -> None:
    c = verdicts.exponent("k", "exponent", -0.5, {"m^-1/4": -0.25, "m^0": 0.0})
    assert c.margin == pytest.approx(0.125) and "m^-1/4" in c.margin_source
    assert c.grade({"k": Estimate(-0.49, 0.02)}, "float64").verdict == CONFIRMED
    assert c.grade({"k": Estimate(-0.4, 0.2)}, "float64").verdict == INCONCLUSIVE
    assert c.grade({"k": Estimate(0.0, 0.01)}, "float64").verdict == REFUTED
    with pytest.raises(TypeError, match="stats.Estimate"):
        c.grade({"k": 0.3}, "float64")
    derived = Equivalence("r", "ratio", 1.0, "tol", "derived from eps")
    assert derived.grade({"r": Estimate(1.01, 0.01), "tol": 0.1}, "f").verdict == CONFIRMED


def test_below_criterion_and_vacuity() -> None:
    c = Below("q", "gap", 1.0, "the bound", vacuous_factor=1e3)
    assert c.grade({"q": Estimate(0.5, 0.1)}, "f").verdict == CONFIRMED
    assert c.grade({"q": Estimate(1.5, 0.001)}, "f").verdict == REFUTED
    assert c.grade({"q": Estimate(0.95, 0.1)}, "f").verdict == INCONCLUSIVE
    g = c.grade({"q": Estimate(1e-6, 1e-8)}, "f")
    assert g.verdict == CONFIRMED and g.vacuous
    # a vacuous bound never confirms a claim on its own
    assert Rule((c,)).grade({"q": Estimate(1e-6, 1e-8)})[0] == INCONCLUSIVE
    assert Rule((c, Exact("d", "id"))).grade({"q": Estimate(1e-6, 1e-8), "d": 0.0})[0] == EXACT


def test_reach_criterion() -> None:
    m = np.repeat([256.0, 512.0, 1024.0, 2048.0], 4)
    rng = np.random.default_rng(2)
    err = 10.0 * m ** -0.5 * np.exp(0.03 * rng.standard_normal(m.size))
    fit = stats.fit_loglog(m, err)
    last = stats.mean_estimate(err[-4:])
    c = Reach("fit", "last", "error reaches eps_e", 1e-3, "eps_e")
    g = c.grade({"fit": fit, "last": last}, "f")
    assert g.verdict == OUT_OF_REACH and g.numbers["width_needed"] > 1e7
    near = Reach("fit", "last", "error", 0.15, "eps_e").grade({"fit": fit, "last": last}, "f")
    assert near.verdict == INCONCLUSIVE  # met at m ~ 4400: within reach, run larger
    met = Reach("fit", "last", "error", 1.0, "eps_e").grade({"fit": fit, "last": last}, "f")
    assert met.verdict == CONFIRMED
    grow = stats.fit_loglog(m, m ** 0.5 * np.exp(0.03 * rng.standard_normal(m.size)))
    assert c.grade({"fit": grow, "last": Estimate(40.0, 1.0)}, "f").verdict == REFUTED


def test_rule_corrected_path() -> None:
    rule = Rule((Exact("printed", "as printed"),), corrected=(Exact("fixed", "corrected"),))
    assert rule.grade({"printed": 0.5, "fixed": 0.0})[0] == CORRECTED
    assert rule.grade({"printed": 0.0, "fixed": 0.0})[0] == EXACT
    assert rule.grade({"printed": 0.5, "fixed": 0.5})[0] == REFUTED
    with pytest.raises(ValueError, match="at least one"):
        Rule(())
    assert "corrected" in rule.text()


def test_finding_vocabulary() -> None:
    f = Finding("erratum", "t", "$a$", "$b$", "$c$")
    assert f.as_dict()["kind"] == "erratum"
    with pytest.raises(ValueError, match="unknown finding kind"):
        Finding("typo", "t", "a", "b", "c")
    with pytest.raises(ValueError, match="non-empty"):
        Finding("erratum", "t", " ", "b", "c")


# --------------------------------------------------- synthetic data made to a law: calibration
#
# Each law is simulated many times with multiplicative log-normal noise, at the design of the
# checks that use the criterion; data made to the claim must be confirmed at nearly every
# replication, data made to a competing law must (nearly) never be.

REPS = 400


def _growth_verdicts(law, Ls, seeds: int, sigma: float, seed: int = 0) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    slower = verdicts.slower_than_sqrt2_power("rate", "rate below ln sqrt 2")
    poly = verdicts.polynomial_growth("rate", "rate within the polynomial margin")
    x = np.repeat(np.asarray(Ls, dtype=float), seeds)
    out: dict[str, dict] = {"slower": {}, "poly": {}}
    for _ in range(REPS):
        y = law(x) * np.exp(sigma * rng.standard_normal(x.size))
        ev = {"rate": stats.growth_fit(x, y).rate}
        for key, c in (("slower", slower), ("poly", poly)):
            v = c.grade(ev, "float64").verdict
            out[key][v] = out[key].get(v, 0) + 1
    return out


GROWTH_DESIGNS = [  # (L values, seeds, log-noise) with power; each check tests its own design
    (tuple(range(4, 17, 2)), 8, 0.1),
    (tuple(range(4, 33, 4)), 5, 0.2),
]


@pytest.mark.parametrize("Ls,seeds,sigma", GROWTH_DESIGNS)
def test_growth_criteria_on_synthetic_laws(Ls, seeds, sigma) -> None:
    share = lambda d, v: d.get(v, 0) / REPS  # noqa: E731
    quad = _growth_verdicts(lambda L: 3 * L ** 2, Ls, seeds, sigma)
    assert share(quad["slower"], CONFIRMED) >= 0.95
    assert share(quad["poly"], CONFIRMED) >= 0.9 and share(quad["poly"], REFUTED) <= 0.01
    slow_exp = _growth_verdicts(lambda L: np.exp(0.15 * L), Ls, seeds, sigma, 1)
    assert share(slow_exp["slower"], CONFIRMED) >= 0.9   # slower than sqrt(2)^L ...
    assert share(slow_exp["poly"], CONFIRMED) <= 0.05    # ... but not polynomial
    for beta, seed in ((math.sqrt(2), 2), (1 + math.sqrt(2), 3)):
        v = _growth_verdicts(lambda L, b=beta: b ** L, Ls, seeds, sigma, seed)
        assert share(v["slower"], CONFIRMED) <= 0.05      # sqrt(2)^L is not slower than itself
        assert share(v["poly"], CONFIRMED) == 0.0


def _exponent_shares(claim, law_exponent: float, ms, seeds: int, sigma: float,
                     seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    x = np.repeat(np.asarray(ms, dtype=float), seeds)
    counts: dict[str, int] = {}
    for _ in range(REPS):
        y = 2.0 * x ** law_exponent * np.exp(sigma * rng.standard_normal(x.size))
        v = claim.grade({"k": stats.fit_loglog(x, y)}, "float64").verdict
        counts[v] = counts.get(v, 0) + 1
    return {k: c / REPS for k, c in counts.items()}


def test_rate_in_m_criterion_on_synthetic_laws() -> None:
    ms, seeds, sigma = (128, 256, 512, 1024, 2048), 6, 0.1
    claim = verdicts.exponent("k", "rate in m", -0.5,
                              {"m^-1/4": -0.25, "m^0": 0.0, "m^-1": -1.0})
    assert _exponent_shares(claim, -0.5, ms, seeds, sigma, 0).get(CONFIRMED, 0) >= 0.95
    for k, seed in ((-0.25, 1), (0.0, 2), (-1.0, 3)):
        shares = _exponent_shares(claim, k, ms, seeds, sigma, seed)
        assert shares.get(CONFIRMED, 0) <= 0.05, (k, shares)


def test_m_independence_criterion_detects_quarter_power_growth() -> None:
    ms, seeds, sigma = (64, 128, 256, 512, 1024), 8, 0.15
    claim = verdicts.exponent("k", "no growth in m", 0.0, {"m^0.25": 0.25, "m^0.5": 0.5})
    assert _exponent_shares(claim, 0.0, ms, seeds, sigma, 0).get(CONFIRMED, 0) >= 0.9
    assert _exponent_shares(claim, 0.25, ms, seeds, sigma, 1).get(CONFIRMED, 0) <= 0.05
