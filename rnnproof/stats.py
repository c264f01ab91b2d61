"""Small statistics used by the checks: log-log slope fits with confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass

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
