"""Unit tests of rnnproof.stats: slope fits and the polynomial-or-exponential comparison."""

import numpy as np
import pytest

from rnnproof import stats


def test_fit_loglog_recovers_an_exponent_with_its_interval() -> None:
    x = np.repeat([64.0, 128.0, 256.0, 512.0], 3)
    y = 5 * x ** -0.5 * np.tile([0.97, 1.0, 1.03], 4)
    f = stats.fit_loglog(x, y)
    assert f.slope == pytest.approx(-0.5, abs=1e-2) and f.contains(-0.5) and not f.contains(-1)
    with pytest.raises(ValueError, match="positive"):
        stats.fit_loglog([1, 2, 3], [1, 0, 3])


def test_growth_models_recover_the_law() -> None:
    x = np.repeat([4.0, 6.0, 8.0, 12.0], 3)
    noise = np.tile([0.98, 1.0, 1.02], 4)
    g = stats.growth_models(x, 3 * x ** 2 * noise)
    assert g.poly_exponent == pytest.approx(2.0, abs=1e-2)
    assert g.poly_ci[0] < 2 < g.poly_ci[1]
    assert g.preferred == "polynomial" and g.poly_lack_of_fit_p > 0.05
    e = stats.growth_models(x, np.exp(0.7 * x) * noise)
    assert e.exp_rate == pytest.approx(0.7, abs=1e-2) and e.preferred == "exponential"
    assert e.poly_lack_of_fit_p < 0.05 < e.exp_lack_of_fit_p and e.discriminated
    assert set(g.as_dict()) >= {"poly_exponent", "exp_rate", "preferred"}
    with pytest.raises(ValueError):
        stats.growth_models([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError):
        stats.growth_models([1, 2, 3], [1, -2, 3])
