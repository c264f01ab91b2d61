"""Calibrated statistics for the checks: estimates with standard errors, log-log and nested
growth fits, equivalence tests (TOST), one-sided bounds, crossing sizes, dtype tolerances and the
suite-wide error budget.

Every quantitative verdict of the book is one of the decisions below, applied to an
:class:`Estimate` by a declared rule (:mod:`rnnproof.verdicts`):

* *equivalence* (two one-sided tests, TOST): the claim is confirmed when the ``1 - 2 alpha``
  interval lies inside ``prediction +/- margin``;
* *rejection* of an alternative: the ``1 - alpha`` two-sided interval excludes its value;
* *refutation* of the claim: the ``1 - FAMILY_ALPHA_PER_CHECK`` interval lies entirely outside
  the margin. The refutation level is Bonferroni over the whole suite (:data:`FAMILY_ALPHA`
  spread over at most :data:`MAX_CHECKS` checks), so at a random seed the probability that any
  true claim is reported ``refuted`` is at most 5%.

A criterion of the form "the 95% interval contains the prediction" is never used: it fails 5%
of the time when the claim is true and passes more easily when the data are noisier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

#: Family-wise error rate of spurious ``refuted`` verdicts over the whole suite, at one seed.
FAMILY_ALPHA = 0.05
#: The suite is budgeted for at most this many registered checks (a test enforces it).
MAX_CHECKS = 80
#: The level of every refutation test: Bonferroni, FAMILY_ALPHA / MAX_CHECKS.
REFUTE_ALPHA = FAMILY_ALPHA / MAX_CHECKS
#: The default level of equivalence tests and of the rejection of alternatives.
ALPHA = 0.05


# --------------------------------------------------------------------------------------
# Estimates
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error and degrees of freedom (Student-t intervals;
    ``df = inf`` is the normal approximation)."""

    value: float
    stderr: float
    df: float = math.inf

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or not (self.stderr >= 0) or not self.df > 0:
            raise ValueError(f"an Estimate needs a finite value, stderr >= 0 and df > 0, got "
                             f"value={self.value}, stderr={self.stderr}, df={self.df}")

    def quantile(self, alpha: float) -> float:
        """The upper ``alpha`` quantile of the reference distribution (t or normal)."""
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
        if math.isinf(self.df):
            return float(_st.norm.isf(alpha))
        return float(_st.t.isf(alpha, self.df))

    def interval(self, alpha: float = ALPHA) -> tuple[float, float]:
        """The two-sided ``1 - alpha`` confidence interval."""
        h = self.quantile(alpha / 2) * self.stderr
        return (self.value - h, self.value + h)

    def upper(self, alpha: float = ALPHA) -> float:
        """The one-sided ``1 - alpha`` upper confidence limit."""
        return self.value + self.quantile(alpha) * self.stderr

    def lower(self, alpha: float = ALPHA) -> float:
        """The one-sided ``1 - alpha`` lower confidence limit."""
        return self.value - self.quantile(alpha) * self.stderr

    def shifted(self, offset: float, scale: float = 1.0) -> Estimate:
        """The estimate of ``scale * value + offset`` (same relative precision)."""
        return Estimate(scale * self.value + offset, abs(scale) * self.stderr, self.df)

    def as_dict(self, alpha: float = ALPHA) -> dict[str, float]:
        lo, hi = self.interval(alpha)
        return {"value": self.value, "stderr": self.stderr, "df": self.df,
                "ci_low": lo, "ci_high": hi, "level": 1 - alpha}


def mean_estimate(samples: Any) -> Estimate:
    """The sample mean of independent replicates, with its standard error (df = n - 1)."""
    s = np.asarray(samples, dtype=float).ravel()
    if s.size < 2 or not np.all(np.isfinite(s)):
        raise ValueError(f"mean_estimate needs >= 2 finite replicates, got {s.size}")
    return Estimate(float(s.mean()), float(s.std(ddof=1) / np.sqrt(s.size)), float(s.size - 1))


def difference_estimate(a: Any, b: Any, paired: bool = True) -> Estimate:
    """The mean of ``a - b`` over replicates (paired: same seeds), or Welch's difference of
    means for independent samples."""
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired differences need equal lengths, got {a.size}, {b.size}")
        return mean_estimate(a - b)
    ea, eb = mean_estimate(a), mean_estimate(b)
    va, vb = ea.stderr ** 2, eb.stderr ** 2
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / ea.df + vb ** 2 / eb.df) if va + vb > 0 else math.inf
    return Estimate(ea.value - eb.value, se, df)


def mean_and_stderr(samples: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and its standard error along ``axis``."""
    s = np.asarray(samples, dtype=float)
    n = s.shape[axis]
    return s.mean(axis=axis), s.std(axis=axis, ddof=1) / np.sqrt(n)


# --------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------


def equivalent(est: Estimate, low: float, high: float, alpha: float = ALPHA) -> bool:
    """TOST: both one-sided tests reject at ``alpha``, i.e. the ``1 - 2 alpha`` interval lies
    inside ``[low, high]``."""
    lo, hi = est.interval(2 * alpha)
    return bool(low <= lo and hi <= high)


def excludes(est: Estimate, value: float, alpha: float = ALPHA) -> bool:
    """The two-sided ``1 - alpha`` interval excludes ``value`` (``value`` is rejected)."""
    lo, hi = est.interval(alpha)
    return bool(value < lo or value > hi)


def outside(est: Estimate, low: float, high: float, alpha: float = REFUTE_ALPHA) -> bool:
    """The ``1 - alpha`` interval lies entirely outside ``[low, high]``: every value inside is
    rejected (the claim is refuted at level ``alpha``)."""
    lo, hi = est.interval(alpha)
    return bool(hi < low or lo > high)


def holm(pvalues: Any, alpha: float = FAMILY_ALPHA) -> np.ndarray:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise level
    ``alpha`` (boolean array in the input order)."""
    p = np.asarray(pvalues, dtype=float).ravel()
    order = np.argsort(p)
    reject = np.zeros(p.size, dtype=bool)
    for rank, k in enumerate(order):
        if p[k] > alpha / (p.size - rank):
            break
        reject[k] = True
    return reject


# --------------------------------------------------------------------------------------
# Tolerances for exact identities, keyed by dtype
# --------------------------------------------------------------------------------------

#: Relative tolerances for identities checked "to round-off": kind -> dtype name -> tolerance.
TOLERANCES: dict[str, dict[str, float]] = {
    # a few dozen rounding errors of a reduction of moderate length
    "identity": {"float64": 1e-12, "float32": 2e-5},
    # a long chain of products (Back over L positions, the recurrence, BPTT)
    "chain": {"float64": 1e-10, "float32": 1e-4},
    # central differences with step t: truncation t^2 plus round-off eps / t
    "finite-difference": {"float64": 1e-6, "float32": 5e-2},
    # numerical quadrature (Gauss-Hermite / adaptive) against closed forms
    "quadrature": {"float64": 1e-9, "float32": 1e-9},
}


def tolerance(kind: str, dtype: Any) -> float:
    """The tolerance of ``kind`` (a key of :data:`TOLERANCES`) for ``dtype``."""
    if kind not in TOLERANCES:
        raise ValueError(f"unknown tolerance kind {kind!r}; known: {sorted(TOLERANCES)}")
    name = np.dtype(dtype).name
    table = TOLERANCES[kind]
    if name not in table:
        raise ValueError(f"no {kind!r} tolerance for dtype {name}; known: {sorted(table)}")
    return table[name]


# --------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares fit of log(y) = intercept + slope * log(x): the slope as an
    :class:`Estimate` (``estimate``), with the 95% interval kept for display."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    level: float
    stderr: float = 0.0
    df: float = math.inf
    intercept_stderr: float = 0.0
    covariance: float = 0.0  # cov(intercept, slope)
    x_max: float = math.nan

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.slope, self.stderr, self.df)

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the displayed 95% interval (for display, never a rule)."""
        return self.ci_low <= value <= self.ci_high

    def predict(self, x: Any) -> np.ndarray:
        """The fitted power law e^intercept x^slope."""
        return np.exp(self.intercept) * np.asarray(x, dtype=float) ** self.slope

    def as_dict(self) -> dict[str, float]:
        return {"slope": self.slope, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "stderr": self.stderr, "level": self.level}


def _ols(X: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int]:
    """OLS v = X beta: coefficients, their covariance, SSE, residual df."""
    n, p = X.shape
    if n <= p:
        raise ValueError(f"a fit of {p} coefficients needs more than {p} points, got {n}")
    beta, *_ = np.linalg.lstsq(X, v, rcond=None)
    resid = v - X @ beta
    sse = float(resid @ resid)
    df = n - p
    cov = (sse / df) * np.linalg.pinv(X.T @ X)
    return beta, cov, sse, df


def _positive_pairs(x: Any, y: Any, what: str, n_min: int = 3) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape or x.size < n_min:
        raise ValueError(f"{what} needs >= {n_min} paired points, got {x.size} and {y.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"{what} needs finite x and y")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError(f"{what} needs positive x and y")
    if np.unique(x).size < 2:
        raise ValueError(f"{what} needs >= 2 distinct x")
    return x, y


def fit_loglog(x: Any, y: Any, level: float = 0.95) -> SlopeFit:
    """Fit the exponent of y ~ x^slope over repeated measurements (all points pooled, repeat x
    for several seeds); Student-t interval of the ordinary least-squares slope."""
    x, y = _positive_pairs(x, y, "fit_loglog")
    X = np.column_stack([np.ones(x.size), np.log(x)])
    beta, cov, _, df = _ols(X, np.log(y))
    se = float(np.sqrt(max(cov[1, 1], 0.0)))
    half = float(_st.t.isf((1 - level) / 2, df)) * se
    return SlopeFit(float(beta[1]), float(beta[0]), float(beta[1] - half),
                    float(beta[1] + half), level, se, float(df),
                    float(np.sqrt(max(cov[0, 0], 0.0))), float(cov[0, 1]), float(x.max()))


def fit_loglog_by_seed(x: Any, Y: Any, level: float = 0.95) -> SlopeFit:
    """Seeds pooled the robust way: one log-log slope per seed (row of ``Y``, columns at
    ``x``), then the mean slope with its standard error across seeds (df = seeds - 1).

    Use it when the widths of one seed share a draw (the same inputs or the same network
    grown), so that the points of a seed are not independent."""
    x = np.asarray(x, dtype=float).ravel()
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    if Y.shape[1] != x.size or Y.shape[0] < 2:
        raise ValueError(f"fit_loglog_by_seed needs Y of shape (seeds >= 2, {x.size}), got "
                         f"{Y.shape}")
    fits = [fit_loglog(x, row) for row in Y]
    slopes = np.array([f.slope for f in fits])
    inter = np.array([f.intercept for f in fits])
    est = mean_estimate(slopes)
    lo, hi = est.interval(1 - level)
    ie = mean_estimate(inter)
    return SlopeFit(est.value, ie.value, lo, hi, level, est.stderr, est.df, ie.stderr,
                    float(np.cov(inter, slopes, ddof=1)[0, 1] / slopes.size), float(x.max()))


@dataclass(frozen=True)
class Crossing:
    """Where a fitted power law e^a x^k meets a target: ``value`` is log(x*) =
    (log target - a) / k; :meth:`interval` is Fieller's confidence set for it (exact for the
    ratio of the two normal estimates, possibly unbounded when k is not clearly non-zero)."""

    value: float
    intercept: float
    slope: float
    var_intercept: float
    var_slope: float
    cov: float
    log_target: float
    df: float

    def interval(self, alpha: float = ALPHA) -> tuple[float, float]:
        """The ``1 - alpha`` Fieller interval for log(x*); an end is +-inf when the set is
        unbounded on that side."""
        q = float(_st.t.isf(alpha / 2, self.df)) if math.isfinite(self.df) else \
            float(_st.norm.isf(alpha / 2))
        d = self.intercept - self.log_target
        # {x : (d + k x)^2 <= q^2 (va + 2 x cov + x^2 vk)}  <=>  A x^2 + B x + C <= 0
        A = self.slope ** 2 - q * q * self.var_slope
        B = 2 * (self.slope * d - q * q * self.cov)
        C = d * d - q * q * self.var_intercept
        disc = B * B - 4 * A * C
        if A > 0 and disc >= 0:
            r = math.sqrt(disc)
            return ((-B - r) / (2 * A), (-B + r) / (2 * A))
        if A < 0 and disc > 0:  # two rays: keep the one that holds the estimate
            r = math.sqrt(disc)
            lo, hi = sorted(((-B - r) / (2 * A), (-B + r) / (2 * A)))
            return (-math.inf, lo) if self.value <= lo else (hi, math.inf)
        return (-math.inf, math.inf)


def crossing(fit: SlopeFit, target: float) -> Crossing:
    """Where the fitted power law e^a x^k of ``fit`` meets ``target`` (needs k != 0); see
    :class:`Crossing`."""
    if not target > 0:
        raise ValueError(f"crossing needs a positive target, got {target}")
    if fit.slope == 0:
        raise ValueError("crossing needs a non-zero slope")
    c = math.log(target)
    return Crossing((c - fit.intercept) / fit.slope, fit.intercept, fit.slope,
                    fit.intercept_stderr ** 2, fit.stderr ** 2, fit.covariance, c, fit.df)


@dataclass(frozen=True)
class GrowthFit:
    """Growth of y in x, three fits of log y (repeat x for several seeds):

    * the nested model log y = a + k log x + r x: ``rate`` (r) and ``power`` (k) as
      :class:`Estimate` s; r = 0 is a pure power law, r > 0 an exponential factor e^{r x};
    * the power law alone (log y on log x) and the exponential alone (log y on x), for the
      figures, with their residual sums of squares.
    """

    rate: Estimate
    power: Estimate
    intercept: float
    poly_exponent: float
    poly_intercept: float
    poly_sse: float
    exp_rate: float
    exp_intercept: float
    exp_sse: float

    def predict_nested(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return np.exp(self.intercept + self.power.value * np.log(x) + self.rate.value * x)

    def predict_poly(self, x: Any) -> np.ndarray:
        """The fitted power law e^a x^k."""
        return np.exp(self.poly_intercept) * np.asarray(x, dtype=float) ** self.poly_exponent

    def predict_exp(self, x: Any) -> np.ndarray:
        """The fitted exponential e^{b + r x}."""
        return np.exp(self.exp_intercept + self.exp_rate * np.asarray(x, dtype=float))

    @property
    def preferred(self) -> str:
        """'polynomial' or 'exponential' (smaller residual sum of squares; for display)."""
        return "polynomial" if self.poly_sse <= self.exp_sse else "exponential"

    def as_dict(self) -> dict[str, Any]:
        r_lo, r_hi = self.rate.interval()
        k_lo, k_hi = self.power.interval()
        return {"rate": self.rate.value, "rate_stderr": self.rate.stderr,
                "rate_ci_low": r_lo, "rate_ci_high": r_hi, "power": self.power.value,
                "power_ci_low": k_lo, "power_ci_high": k_hi,
                "poly_exponent": self.poly_exponent, "poly_sse": self.poly_sse,
                "exp_rate": self.exp_rate, "exp_sse": self.exp_sse,
                "preferred": self.preferred}


def growth_fit(x: Any, y: Any) -> GrowthFit:
    """Fit the nested growth model log y = a + k log x + r x (and the two pure models) to
    repeated measurements; see :class:`GrowthFit`. Needs >= 3 distinct x."""
    x, y = _positive_pairs(x, y, "growth_fit", n_min=4)
    if np.unique(x).size < 3:
        raise ValueError("growth_fit needs >= 3 distinct x to separate log x from x")
    ly = np.log(y)
    one = np.ones(x.size)
    beta, cov, _, df = _ols(np.column_stack([one, np.log(x), x]), ly)
    rate = Estimate(float(beta[2]), float(np.sqrt(max(cov[2, 2], 0.0))), float(df))
    power = Estimate(float(beta[1]), float(np.sqrt(max(cov[1, 1], 0.0))), float(df))
    bp, _, sp_, _ = _ols(np.column_stack([one, np.log(x)]), ly)
    be, _, se_, _ = _ols(np.column_stack([one, x]), ly)
    return GrowthFit(rate, power, float(beta[0]), float(bp[1]), float(bp[0]), sp_,
                     float(be[1]), float(be[0]), se_)
