"""Small statistics used by the checks: log-log slope fits with confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares fit of log(y) = intercept + slope * log(x), with a confidence interval."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    level: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the confidence interval of the slope."""
        return self.ci_low <= value <= self.ci_high

    def as_dict(self) -> dict[str, float]:
        return {"slope": self.slope, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "level": self.level}


def fit_loglog(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> SlopeFit:
    """Fit the exponent of y ~ x^slope over repeated measurements (all points pooled).

    ``x`` and ``y`` are 1-D arrays of the same length (repeat x for several seeds); the interval
    is the Student-t interval of the ordinary least-squares slope.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape or x.size < 3:
        raise ValueError(f"fit_loglog needs >= 3 paired points, got {x.size} and {y.size}")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("fit_loglog needs positive x and y")
    res = _st.linregress(np.log(x), np.log(y))
    t = _st.t.ppf(0.5 + level / 2, x.size - 2)
    half = t * res.stderr
    return SlopeFit(float(res.slope), float(res.intercept), float(res.slope - half),
                    float(res.slope + half), level)


def mean_and_stderr(samples: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and its standard error along ``axis``."""
    s = np.asarray(samples, dtype=float)
    n = s.shape[axis]
    return s.mean(axis=axis), s.std(axis=axis, ddof=1) / np.sqrt(n)


# --------------------------------------------------------------------------------------
# Polynomial or exponential growth?
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrowthFit:
    """Least-squares fits of log y against log x (polynomial, y ~ x^k) and against x
    (exponential, y ~ e^{r x}), each with its 95% interval, residual sum of squares and a
    lack-of-fit F-test against the replicate scatter (p-value; nan without replicates)."""

    poly_exponent: float
    poly_ci: tuple[float, float]
    poly_sse: float
    poly_lack_of_fit_p: float
    exp_rate: float
    exp_ci: tuple[float, float]
    exp_sse: float
    exp_lack_of_fit_p: float
    poly_intercept: float = 0.0
    exp_intercept: float = 0.0

    def predict_poly(self, x: Any) -> np.ndarray:
        """The fitted power law e^a x^k."""
        return np.exp(self.poly_intercept) * np.asarray(x, dtype=float) ** self.poly_exponent

    def predict_exp(self, x: Any) -> np.ndarray:
        """The fitted exponential e^{b + r x}."""
        return np.exp(self.exp_intercept + self.exp_rate * np.asarray(x, dtype=float))

    @property
    def preferred(self) -> str:
        """'polynomial' or 'exponential' (smaller residual sum of squares; same #params)."""
        return "polynomial" if self.poly_sse <= self.exp_sse else "exponential"

    @property
    def discriminated(self) -> bool:
        """Whether the lack-of-fit tests reject exactly one of the two models (at 5%)."""
        return (self.poly_lack_of_fit_p < 0.05) != (self.exp_lack_of_fit_p < 0.05)

    def as_dict(self) -> dict[str, Any]:
        return {"poly_exponent": self.poly_exponent, "poly_ci_low": self.poly_ci[0],
                "poly_ci_high": self.poly_ci[1], "poly_sse": self.poly_sse,
                "poly_lack_of_fit_p": self.poly_lack_of_fit_p, "exp_rate": self.exp_rate,
                "exp_ci_low": self.exp_ci[0], "exp_ci_high": self.exp_ci[1],
                "exp_sse": self.exp_sse, "exp_lack_of_fit_p": self.exp_lack_of_fit_p,
                "preferred": self.preferred, "discriminated": self.discriminated}


def _line_fit(u: np.ndarray, v: np.ndarray,
              level: float = 0.95) -> tuple[float, tuple[float, float], float, float, float]:
    """OLS v = a + b u: slope, its t-interval, SSE, the lack-of-fit p-value, intercept."""
    res = _st.linregress(u, v)
    n = u.size
    half = _st.t.ppf(0.5 + level / 2, n - 2) * res.stderr
    fit = res.intercept + res.slope * u
    sse = float(((v - fit) ** 2).sum())
    levels = np.unique(u)
    k = levels.size
    pure = float(sum(((v[u == q] - v[u == q].mean()) ** 2).sum() for q in levels))
    df_pure, df_lof = n - k, k - 2
    if df_pure <= 0 or df_lof <= 0 or pure <= 0:
        p = float("nan")
    else:
        F = ((sse - pure) / df_lof) / (pure / df_pure)
        p = float(_st.f.sf(F, df_lof, df_pure))
    return (float(res.slope), (float(res.slope - half), float(res.slope + half)), sse, p,
            float(res.intercept))


def growth_models(x: Any, y: Any) -> GrowthFit:
    """Fit y ~ x^k and y ~ e^{r x} (both linear in log y) to repeated measurements (repeat x
    for several seeds); see :class:`GrowthFit`."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape or x.size < 3 or np.unique(x).size < 2:
        raise ValueError("growth_models needs >= 3 paired points at >= 2 distinct x")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("growth_models needs positive x and y")
    ly = np.log(y)
    k, kci, ksse, kp, ka = _line_fit(np.log(x), ly)
    r, rci, rsse, rp, ra = _line_fit(x, ly)
    return GrowthFit(k, kci, ksse, kp, r, rci, rsse, rp, ka, ra)
