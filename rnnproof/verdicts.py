"""Graded verdicts: the vocabulary, the declared rules, and how a rule turns data into a verdict.

A check (:mod:`rnnproof.checks`) declares a :class:`Rule` when it is registered: a tuple of
named *criteria* for the claim as printed, and, when the printed claim is known to fail, the
criteria of the corrected statement. Each criterion names the evidence it reads (an
:class:`~rnnproof.stats.Estimate` or a number the check measured), the prediction, the margin
and where the margin comes from, the alternatives it must reject, and its alpha. The check
function only measures; :meth:`Rule.grade` computes the verdict, so a verdict is never chosen.

Verdicts (strength of evidence, GRADE-style, not pass/fail):

=================  ====================================================================
``exact``          an identity or definition, checked to round-off (dtype tolerance)
``confirmed``      equivalence test passes and the named alternatives are rejected
``corrected``      the literal statement fails (a finding); the corrected one is confirmed
``inconclusive``   consistent with the claim, but the alternative is not rejected here
``out-of-reach``   asymptotic; the size where the measured trend meets the claim is reported
``refuted``        the claim fails, and no corrected statement holds
=================  ====================================================================

``passed`` means exact, confirmed or corrected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import stats
from .stats import Estimate

EXACT, CONFIRMED, CORRECTED = "exact", "confirmed", "corrected"
INCONCLUSIVE, OUT_OF_REACH, REFUTED = "inconclusive", "out-of-reach", "refuted"

#: Every verdict, strongest first, with its meaning.
VERDICTS: dict[str, str] = {
    EXACT: "an identity or definition, checked to round-off",
    CONFIRMED: "a quantitative claim the data support with power: the equivalence test "
               "passes and the named alternatives are rejected",
    CORRECTED: "the literal statement fails (a finding), and the corrected statement is "
               "confirmed",
    INCONCLUSIVE: "consistent with the claim, but the alternative is not rejected at this "
                  "profile",
    OUT_OF_REACH: "an asymptotic claim beyond feasible sizes; the size at which the measured "
                  "trend meets it is reported",
    REFUTED: "the claim fails, and no corrected statement holds",
}
PASSING = frozenset({EXACT, CONFIRMED, CORRECTED})

#: Colours of the verdicts: cards, badges and the status graph use the same ones.
COLOURS: dict[str, str] = {
    EXACT: "#1b6e3a", CONFIRMED: "#5cb85c", CORRECTED: "#3f7fbf",
    INCONCLUSIVE: "#f0ad4e", OUT_OF_REACH: "#9e9e9e", REFUTED: "#d1495b",
}
#: Text colour that reads on each verdict colour.
TEXT_COLOURS: dict[str, str] = {EXACT: "#ffffff", CONFIRMED: "#0b2e13", CORRECTED: "#ffffff",
                                INCONCLUSIVE: "#3d2600", OUT_OF_REACH: "#ffffff",
                                REFUTED: "#ffffff"}

# How verdicts combine (across the criteria of one claim, or the checks of one statement):
# the weakest wins.
_ORDER = (REFUTED, INCONCLUSIVE, OUT_OF_REACH, CORRECTED, CONFIRMED, EXACT)

#: Widths beyond this are out of reach of any machine the book runs on (2^16 is the full
#: profile's largest GPU width); a crossing size above it makes a claim out of reach.
REACHABLE_WIDTH = 2 ** 16


def weakest(verdicts: Sequence[str]) -> str:
    """The weakest of several verdicts (refuted < inconclusive < out-of-reach < corrected <
    confirmed < exact)."""
    if not verdicts:
        raise ValueError("weakest() of no verdicts")
    return min(verdicts, key=_ORDER.index)


@dataclass(frozen=True)
class Grade:
    """One criterion applied to the data: its verdict and the numbers behind it."""

    criterion: str
    verdict: str
    headline: str
    numbers: dict[str, Any] = field(default_factory=dict)
    vacuous: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "verdict": self.verdict,
                "headline": self.headline, "numbers": self.numbers, "vacuous": self.vacuous}


def _value(evidence: Mapping[str, Any], key: str | float | None) -> Any:
    if key is None or isinstance(key, (int, float)):
        return key
    if key not in evidence:
        raise KeyError(f"the rule reads evidence {key!r}, which the check did not report; it "
                       f"reported {sorted(evidence)}")
    return evidence[key]


def _estimate(evidence: Mapping[str, Any], key: str) -> Estimate:
    v = _value(evidence, key)
    if hasattr(v, "estimate"):
        v = v.estimate
    if not isinstance(v, Estimate):
        raise TypeError(f"evidence {key!r} must be a stats.Estimate (or a fit with .estimate), "
                        f"got {type(v).__name__}")
    return v


def _g(v: float) -> str:
    return f"{v:.3g}"


# --------------------------------------------------------------------------------------
# Criteria
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exact:
    """An identity checked to round-off: ``evidence[name]`` (a relative deviation, or a bool
    that must be True) is at most the ``tolerance`` of the run's dtype
    (:data:`rnnproof.stats.TOLERANCES`), or at most a number given explicitly."""

    name: str
    statement: str
    tolerance: str | float = "identity"

    def describe(self) -> dict[str, Any]:
        return {"type": "exact", "evidence": self.name, "statement": self.statement,
                "tolerance": self.tolerance}

    def grade(self, evidence: Mapping[str, Any], dtype: Any) -> Grade:
        v = _value(evidence, self.name)
        if isinstance(v, (bool, np.bool_)):
            ok = bool(v)
            return Grade(self.name, EXACT if ok else REFUTED,
                         f"{self.statement}: {'holds' if ok else 'fails'}", {"holds": ok})
        tol = (stats.tolerance(self.tolerance, dtype) if isinstance(self.tolerance, str)
               else float(self.tolerance))
        v = float(v)
        ok = math.isfinite(v) and v <= tol
        return Grade(self.name, EXACT if ok else REFUTED,
                     f"{self.statement}: deviation {v:.2g} (tolerance {tol:.0e})",
                     {"deviation": v, "tolerance": tol})


@dataclass(frozen=True)
class Equivalence:
    """A quantity (an exponent, a ratio) equals ``prediction`` up to ``margin``.

    ``confirmed``: TOST at ``alpha`` (the ``1 - 2 alpha`` interval inside prediction +/-
    margin) and every alternative excluded by the ``1 - alpha`` interval; ``refuted``: the
    ``1 - REFUTE_ALPHA`` interval lies outside the margin; otherwise ``inconclusive``.
    ``margin`` is a number or the name of a measured number (a margin derived from the run's
    constants); ``margin_source`` says where it comes from."""

    name: str
    statement: str
    prediction: float | str
    margin: float | str
    margin_source: str
    alternatives: Mapping[str, float] = field(default_factory=dict)
    alpha: float = stats.ALPHA

    def describe(self) -> dict[str, Any]:
        return {"type": "equivalence", "evidence": self.name, "statement": self.statement,
                "prediction": self.prediction, "margin": self.margin,
                "margin_source": self.margin_source,
                "alternatives": dict(self.alternatives), "alpha": self.alpha,
                "refute_alpha": stats.REFUTE_ALPHA}

    def grade(self, evidence: Mapping[str, Any], dtype: Any) -> Grade:
        est = _estimate(evidence, self.name)
        pred = float(_value(evidence, self.prediction))
        margin = float(_value(evidence, self.margin))
        if not margin > 0:
            raise ValueError(f"criterion {self.name!r}: the margin must be positive, got "
                             f"{margin}")
        lo, hi = pred - margin, pred + margin
        equiv = stats.equivalent(est, lo, hi, self.alpha)
        rejected = {k: stats.excludes(est, float(v), self.alpha)
                    for k, v in self.alternatives.items()}
        refuted = stats.outside(est, lo, hi)
        verdict = (REFUTED if refuted else
                   CONFIRMED if equiv and all(rejected.values()) else INCONCLUSIVE)
        ci = est.interval(self.alpha)
        alt = ""
        if self.alternatives:
            alt = "; alternatives " + ", ".join(
                f"{k} {'rejected' if r else 'not rejected'}" for k, r in rejected.items())
        head = (f"{self.statement}: {_g(est.value)} [{_g(ci[0])}, {_g(ci[1])}]; margin "
                f"+/-{_g(margin)} around {_g(pred)}{alt}")
        return Grade(self.name, verdict, head,
                     {"estimate": est.value, "stderr": est.stderr, "ci_low": ci[0],
                      "ci_high": ci[1], "prediction": pred, "margin": margin,
                      "equivalent": equiv, "alternatives_rejected": rejected})


@dataclass(frozen=True)
class Below:
    """A one-sided claim ``evidence[name] <= bound`` (``bound`` a number or a measured
    number's name).

    ``confirmed``: the one-sided ``1 - alpha`` upper limit is below the bound (for a plain
    number, the number itself); ``refuted``: the ``1 - REFUTE_ALPHA`` lower limit is above it;
    otherwise ``inconclusive``. If the bound exceeds the upper limit by more than a factor
    ``vacuous_factor`` (in the units of ``scale``: a ratio for ``"ratio"``, a difference for
    ``"difference"``), the bound cannot fail at any feasible size: the grade is marked vacuous
    and can never confirm a claim on its own (:meth:`Rule.grade`)."""

    name: str
    statement: str
    bound: float | str
    bound_source: str
    alpha: float = stats.ALPHA
    vacuous_factor: float | None = None
    scale: str = "ratio"

    def describe(self) -> dict[str, Any]:
        return {"type": "below", "evidence": self.name, "statement": self.statement,
                "bound": self.bound, "bound_source": self.bound_source, "alpha": self.alpha,
                "vacuous_factor": self.vacuous_factor, "refute_alpha": stats.REFUTE_ALPHA}

    def grade(self, evidence: Mapping[str, Any], dtype: Any) -> Grade:
        v = _value(evidence, self.name)
        bound = float(_value(evidence, self.bound))
        if isinstance(v, Estimate) or hasattr(v, "estimate"):
            est = _estimate(evidence, self.name)
            up, low_r, val = est.upper(self.alpha), est.lower(stats.REFUTE_ALPHA), est.value
        else:
            val = up = low_r = float(v)
        verdict = (CONFIRMED if up <= bound else REFUTED if low_r > bound else INCONCLUSIVE)
        if not math.isfinite(up):
            verdict = REFUTED if not math.isfinite(val) else INCONCLUSIVE
        vac = False
        slack = math.nan
        if self.vacuous_factor is not None and verdict == CONFIRMED:
            if self.scale == "ratio":
                slack = bound / up if up > 0 else math.inf
            else:
                slack = bound - up
            vac = slack > self.vacuous_factor
        head = f"{self.statement}: {_g(val)} (upper limit {_g(up)}) against {_g(bound)}"
        if vac:
            head += f"; vacuous (slack {_g(slack)})"
        return Grade(self.name, verdict, head,
                     {"value": val, "upper": up, "bound": bound, "slack": slack}, vacuous=vac)


@dataclass(frozen=True)
class Reach:
    """An asymptotic claim: a measured error falls with the width as the fitted power law
    ``evidence[name]`` (a :class:`~rnnproof.stats.SlopeFit` of error against m) and must reach
    ``target`` (a number or a measured number's name).

    ``confirmed``: the error at the largest width (``evidence[at_largest]``, an Estimate) is
    already below the target (one-sided upper limit); ``out-of-reach``: it is not, the trend
    falls (slope's upper limit below 0) and the crossing width's lower limit lies beyond
    :data:`REACHABLE_WIDTH`; ``inconclusive``: the crossing is within reach (run larger) or
    the trend is unclear; ``refuted``: the error grows with m (the slope's lower limit at the
    refutation level is above 0)."""

    name: str
    at_largest: str
    statement: str
    target: float | str
    target_source: str
    alpha: float = stats.ALPHA

    def describe(self) -> dict[str, Any]:
        return {"type": "reach", "evidence": self.name, "statement": self.statement,
                "target": self.target, "target_source": self.target_source,
                "alpha": self.alpha, "reachable_width": REACHABLE_WIDTH}

    def grade(self, evidence: Mapping[str, Any], dtype: Any) -> Grade:
        fit = _value(evidence, self.name)
        target = float(_value(evidence, self.target))
        last = _estimate(evidence, self.at_largest)
        slope = fit.estimate
        nums: dict[str, Any] = {"slope": slope.value, "slope_ci": slope.interval(self.alpha),
                                "at_largest": last.value, "target": target}
        if last.upper(self.alpha) <= target:
            return Grade(self.name, CONFIRMED,
                         f"{self.statement}: {_g(last.value)} at the largest width, below "
                         f"{_g(target)}", nums)
        if slope.lower(stats.REFUTE_ALPHA) > 0:
            return Grade(self.name, REFUTED, f"{self.statement}: the error grows with m "
                         f"(exponent {_g(slope.value)})", nums)
        if slope.upper(self.alpha) >= 0:
            return Grade(self.name, INCONCLUSIVE, f"{self.statement}: no clear decay in m "
                         f"(exponent {_g(slope.value)})", nums)
        cross = stats.crossing(fit, target)
        lo, hi = cross.interval(self.alpha)
        m_lo, m_star, m_hi = (math.exp(min(v, 700.0)) for v in (lo, cross.value, hi))
        nums.update(width_needed=m_star, width_needed_ci=(m_lo, m_hi))
        verdict = OUT_OF_REACH if m_lo > REACHABLE_WIDTH else INCONCLUSIVE
        return Grade(self.name, verdict,
                     f"{self.statement}: {_g(last.value)} at the largest width; the trend "
                     f"(exponent {_g(slope.value)}) meets {_g(target)} at m ~ {m_star:.2g} "
                     f"[{m_lo:.2g}, {m_hi:.2g}]", nums)


Criterion = Exact | Equivalence | Below | Reach


# --------------------------------------------------------------------------------------
# Standard criteria shared by the checks (one derivation of each margin)
# --------------------------------------------------------------------------------------

#: ln(sqrt 2): the slowest exponential rate in L of the earlier bounds, beta^L with
#: beta = sqrt 2, the operator norm of sigma(W .) at random initialization (footnote 2).
SQRT2_RATE = math.log(math.sqrt(2.0))
#: The margin around rate 0 within which growth counts as polynomial: a quarter of SQRT2_RATE.
#: Over L = 4..32 a rate this small multiplies a power law by at most e^{28 r} ~ 11, while the
#: earlier bounds' sqrt(2)^L grows by 2^14.
POLY_RATE_MARGIN = SQRT2_RATE / 4


def exponent(name: str, statement: str, prediction: float, competitors: Mapping[str, float],
             alpha: float = stats.ALPHA) -> Equivalence:
    """An exponent claim: the fitted exponent equals ``prediction`` within half the distance
    to the nearest competing exponent, and every competitor is rejected."""
    if not competitors:
        raise ValueError("an exponent claim needs at least one competing exponent")
    label, value = min(competitors.items(), key=lambda kv: abs(kv[1] - prediction))
    margin = abs(value - prediction) / 2
    if margin == 0:
        raise ValueError(f"competitor {label} equals the prediction {prediction}")
    return Equivalence(name, statement, prediction, margin,
                       f"half the distance to the nearest competing exponent, {label} "
                       f"({value:g})", dict(competitors), alpha)


def slower_than_sqrt2_power(name: str, statement: str) -> Below:
    """The nested growth model's rate r (log y = a + k log L + r L) is below ln sqrt 2: growth
    slower than the sqrt(2)^L factor of the earlier bounds (footnote 2)."""
    return Below(name, statement, SQRT2_RATE,
                 "ln sqrt 2, the slowest rate beta^L of the earlier bounds (footnote 2)")


def polynomial_growth(name: str, statement: str) -> Equivalence:
    """The nested growth model's rate r is 0 within :data:`POLY_RATE_MARGIN` (polynomial)."""
    return Equivalence(name, statement, 0.0, POLY_RATE_MARGIN,
                       "a quarter of ln sqrt 2, the slowest exponential rate of the earlier "
                       "bounds (footnote 2)")


# --------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A check's declared rule: the criteria of the claim as printed (``criteria``, all must
    hold) and, when the check records a finding, those of the corrected statement
    (``corrected``)."""

    criteria: tuple[Criterion, ...]
    corrected: tuple[Criterion, ...] = ()

    def __post_init__(self) -> None:
        if not self.criteria:
            raise ValueError("a rule needs at least one criterion")

    def describe(self) -> dict[str, Any]:
        return {"criteria": [c.describe() for c in self.criteria],
                "corrected": [c.describe() for c in self.corrected]}

    def text(self) -> str:
        """The rule in one line per criterion, for the book."""
        def one(c: Criterion) -> str:
            d = c.describe()
            if d["type"] == "exact":
                return f"{c.statement}: exactly (a yes/no fact, or to the {d['tolerance']} " \
                       f"round-off of the dtype)"
            if d["type"] == "equivalence":
                alts = (", rejecting " + ", ".join(f"{k} ({v:g})" for k, v in
                                                   d["alternatives"].items())
                        if d["alternatives"] else "")
                return (f"{c.statement}: within +/-{d['margin']} of {d['prediction']} "
                        f"({d['margin_source']}){alts}; TOST at alpha = {d['alpha']}")
            if d["type"] == "below":
                return f"{c.statement} <= {d['bound']} ({d['bound_source']})"
            return (f"{c.statement}: reaches {d['target']} ({d['target_source']}), or the "
                    f"width where the trend meets it")
        lines = [one(c) for c in self.criteria]
        if self.corrected:
            lines.append("corrected: " + "; ".join(one(c) for c in self.corrected))
        return "\n".join(lines)

    @staticmethod
    def _combine(grades: list[Grade]) -> str:
        counted = [g.verdict for g in grades if not g.vacuous]
        if not counted:  # only vacuous bounds: they confirm nothing
            return INCONCLUSIVE
        return weakest(counted)

    def grade(self, evidence: Mapping[str, Any], dtype: Any = "float64"
              ) -> tuple[str, list[Grade]]:
        """The verdict and every criterion's grade (those of the corrected statement follow,
        when the printed one is refuted)."""
        grades = [c.grade(evidence, dtype) for c in self.criteria]
        literal = self._combine(grades)
        if literal != REFUTED or not self.corrected:
            return literal, grades
        fixed = [c.grade(evidence, dtype) for c in self.corrected]
        verdict = self._combine(fixed)
        if verdict in (EXACT, CONFIRMED):
            verdict = CORRECTED
        return verdict, grades + [Grade("corrected: " + g.criterion, g.verdict, g.headline,
                                        g.numbers, g.vacuous) for g in fixed]


# --------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------

#: The kinds of finding, and what each means (the Findings page prints this vocabulary).
FINDING_KINDS: dict[str, str] = {
    "erratum": "the statement as printed fails; a corrected statement holds",
    "vacuous": "a bound that holds by a margin no feasible size could close, so it cannot "
               "fail and confirms nothing",
    "regime": "the statement needs sizes beyond reach; what holds at the sizes used is stated",
    "reading": "the printed text admits a reading that fails; the reading that holds is stated",
}


@dataclass(frozen=True)
class Finding:
    """Where the printed text and the numbers part.

    ``printed``, ``observed`` and ``holds`` are Markdown with LaTeX (``$...$``): the statement
    as printed (in our words), what the numbers show, and what holds instead. ``title`` is one
    plain line for the summary table; ``kind`` is a key of :data:`FINDING_KINDS`."""

    kind: str
    title: str
    printed: str
    observed: str
    holds: str

    def __post_init__(self) -> None:
        if self.kind not in FINDING_KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}; known: "
                             f"{sorted(FINDING_KINDS)}")
        for name in ("title", "printed", "observed", "holds"):
            if not getattr(self, name).strip():
                raise ValueError(f"a finding needs a non-empty {name!r}")

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "title": self.title, "printed": self.printed,
                "observed": self.observed, "holds": self.holds}

    def text(self) -> str:
        """The finding as one paragraph."""
        return f"{self.title}. As printed: {self.printed} Observed: {self.observed} " \
               f"What holds: {self.holds}"
