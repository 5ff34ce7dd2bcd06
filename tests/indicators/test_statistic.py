"""Rolling statistics against numpy references: z-score (not in TA-Lib), correlation and
regression on real candles, and exactness on flat windows."""
from __future__ import annotations

import numpy as np
import pytest

from indicator_data import bundled
import tradecore.indicators as ta


@pytest.fixture(scope="module")
def c():
    return bundled()["close"]


def test_zscore_is_distance_from_the_mean_in_population_stddevs(c):
    z = ta.zscore(c, 20)
    for i in (19, 400, len(c) - 1):
        w = c[i - 19:i + 1]
        assert z[i] == pytest.approx((c[i] - w.mean()) / w.std(), rel=1e-9)


def test_correl_equals_numpy_corrcoef_of_the_window():
    d = bundled()
    got = ta.correl(d["high"], d["low"], 30)
    for i in (29, 900, len(got) - 1):
        w1, w2 = d["high"][i - 29:i + 1], d["low"][i - 29:i + 1]
        assert got[i] == pytest.approx(np.corrcoef(w1, w2)[0, 1], rel=1e-9)


def test_linearreg_family_is_one_least_squares_line(c):
    p = 14
    slope, icpt = ta.linearreg_slope(c, p), ta.linearreg_intercept(c, p)
    for i in (13, 700, len(c) - 1):
        m, b = np.polyfit(np.arange(p), c[i - p + 1:i + 1], 1)
        assert slope[i] == pytest.approx(m, rel=1e-9, abs=1e-9 * c[i])
        assert icpt[i] == pytest.approx(b, rel=1e-9)
        assert ta.linearreg(c, p)[i] == pytest.approx(b + m * (p - 1), rel=1e-9)
        assert ta.tsf(c, p)[i] == pytest.approx(b + m * p, rel=1e-9)
        assert ta.linearreg_angle(c, p)[i] == pytest.approx(np.degrees(np.arctan(m)), rel=1e-9, abs=1e-9)


def test_zscore_and_correl_are_zero_when_a_window_is_flat(c):
    x = np.r_[c[:50], np.full(40, c[49])]
    assert (ta.zscore(x, 20)[-20:] == 0.0).all()
    assert (ta.correl(x, c[:90], 20)[-20:] == 0.0).all()
