"""Volatility measures TA-Lib lacks (Keltner, Donchian, historical volatility) against
references written from their definitions, on real candles."""
from __future__ import annotations

import math

import numpy as np
import pytest

from indicator_data import bundled
import tradecore.indicators as ta


@pytest.fixture(scope="module")
def d():
    return bundled()


def test_keltner_is_ema_plus_minus_multiplier_times_atr(d):
    up, mid, lo = ta.keltner(d["high"], d["low"], d["close"], 20, 1.5, 10)
    e = ta.ema(d["close"], 20)
    a = ta.atr(d["high"], d["low"], d["close"], 10)
    np.testing.assert_array_equal(mid, e)
    np.testing.assert_array_equal(up, e + 1.5 * a)
    np.testing.assert_array_equal(lo, e - 1.5 * a)


def test_donchian_is_the_highest_high_and_lowest_low_of_the_window(d):
    up, mid, lo = ta.donchian(d["high"], d["low"], 20)
    for i in (19, 500, len(up) - 1):
        assert up[i] == d["high"][i - 19:i + 1].max() and lo[i] == d["low"][i - 19:i + 1].min()
        assert mid[i] == (up[i] + lo[i]) / 2
    assert np.isnan(up[:19]).all()


def test_hv_close_is_the_sample_stdev_of_log_returns_scaled_by_periods_per_year(d):
    c = d["close"]
    got = ta.hv_close(c, 30, periods_per_year=365)
    r = np.diff(np.log(c))
    for i in (30, 1000, len(c) - 1):
        want = np.std(r[i - 30:i], ddof=1) * math.sqrt(365)
        assert got[i] == pytest.approx(want, rel=1e-9)
    assert np.isnan(got[:30]).all()


def test_parkinson_and_garman_klass_equal_their_formulas(d):
    o, h, lo, c = (d[k] for k in ("open", "high", "low", "close"))
    pk = ta.hv_parkinson(h, lo, 10)
    gk = ta.hv_garman_klass(o, h, lo, c, 10)
    for i in (9, 800, len(c) - 1):
        s = slice(i - 9, i + 1)
        u = np.log(h[s] / lo[s])
        v = np.log(c[s] / o[s])
        assert pk[i] == pytest.approx(math.sqrt(np.mean(u * u) / (4 * math.log(2))), rel=1e-9)
        g = np.mean(0.5 * u * u - (2 * math.log(2) - 1) * v * v)
        assert gk[i] == pytest.approx(math.sqrt(max(g, 0.0)), rel=1e-9)


def test_volatility_is_exactly_zero_when_the_market_is_flat_after_moving(d):
    c = np.r_[d["close"][:100], np.full(50, d["close"][99])]
    assert (ta.hv_close(c, 20)[-30:] == 0.0).all()
    assert (ta.hv_parkinson(c, c, 20)[-30:] == 0.0).all()
    assert (ta.stddev(c, 20)[-30:] == 0.0).all()
