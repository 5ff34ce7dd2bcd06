"""Overlap studies TA-Lib lacks (HMA), against a plain-Python reference written from the
definition; the TA-Lib ones are checked in test_against_talib.py."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from indicator_data import bundled
import tradecore.indicators as ta


def ref_wma(x: list[float], p: int) -> list[float]:
    out = []
    for i in range(len(x)):
        if i < p - 1 or any(math.isnan(v) for v in x[i - p + 1:i + 1]):
            out.append(math.nan)
        else:
            out.append(sum((k + 1) * x[i - p + 1 + k] for k in range(p)) / (p * (p + 1) / 2))
    return out


def ref_hma(x: list[float], p: int) -> list[float]:
    half, full = ref_wma(x, p // 2), ref_wma(x, p)
    return ref_wma([2 * a - b for a, b in zip(half, full)], int(math.sqrt(p)))


@settings(max_examples=60, deadline=None)
@given(p=st.integers(2, 30), seed=st.integers(0, 10_000))
def test_hma_equals_wma_of_twice_half_wma_minus_wma_when_computed_from_definition(p, seed):
    x = 100 + np.cumsum(np.random.default_rng(seed).normal(0, 1, 120))
    np.testing.assert_allclose(ta.hma(x, p), ref_hma(list(x), p), rtol=1e-10, atol=1e-9)


def test_hma_first_value_is_at_bar_period_plus_sqrt_period_minus_two_on_real_candles():
    close = bundled()["close"]
    out = ta.hma(close, 16)
    assert np.isnan(out[:16 + 4 - 2]).all() and not np.isnan(out[16 + 4 - 2:]).any()


def test_bbands_are_symmetric_around_the_sma_by_the_population_stddev_on_real_candles():
    close = bundled()["close"][:500]
    up, mid, lo = ta.bbands(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    i = 300
    w = close[i - 19:i + 1]
    assert mid[i] == np.float64(ta.sma(close, 20)[i])
    np.testing.assert_allclose([up[i], lo[i]], [w.mean() + 2 * w.std(), w.mean() - 2 * w.std()],
                               rtol=1e-12)
