"""Momentum rules that are ours rather than TA-Lib's arithmetic: MFI's tie rule for decimal
prices that round two ways, and the oscillators' treatment of a range that is only rounding
noise (both give TA-Lib's result on its own tests, see test_against_talib.py)."""
from __future__ import annotations

import numpy as np

import tradecore.indicators as ta


def ref_mfi(h, lo, c, v, p, tie_rtol=1e-12):
    tp = (h + lo + c) / 3.0
    out = np.full(len(c), np.nan)
    for i in range(p, len(c)):
        pos = neg = 0.0
        for j in range(i - p + 1, i + 1):
            d = tp[j] - tp[j - 1]
            if d > tie_rtol * abs(tp[j - 1]):
                pos += tp[j] * v[j]
            elif -d > tie_rtol * abs(tp[j - 1]):
                neg += tp[j] * v[j]
        out[i] = 100 * pos / (pos + neg) if pos + neg > 0 else 0.0
    return out


def test_mfi_counts_no_flow_when_typical_prices_are_the_same_decimal_rounded_two_ways():
    # Real Binance bars (2023-06-21 23h, 24h): h+l+c is 82956.21 for both, but summed in
    # floating point the second is 1 ulp lower; TA-Lib too counts no flow for it.
    h = np.array([27697.56, 27691.81] * 10)
    lo = np.array([27578.13, 27632.08] * 10)
    c = np.array([27680.52, 27632.32] * 10)
    assert (h[1] + lo[1] + c[1]) < (h[0] + lo[0] + c[0])
    v = np.ones(20)
    assert (ta.mfi(h, lo, c, v, 3)[3:] == 0.0).all()


def test_mfi_equals_window_sums_of_money_flow_on_random_candles():
    rng = np.random.default_rng(5)
    c = np.round(100 + np.cumsum(rng.normal(0, 1, 300)), 2)
    h, lo = c + 0.5, c - 0.5
    v = rng.exponential(3, 300)
    v[100:140] = 0.0
    np.testing.assert_allclose(ta.mfi(h, lo, c, v, 14), ref_mfi(h, lo, c, v, 14), rtol=1e-9, atol=1e-9)


def test_stochastic_of_a_flat_rsi_is_zero_when_the_range_is_only_rounding_noise():
    # On a flat market the RSI is mathematically constant but its float value wobbles by a
    # few ulps; dividing by that "range" would give anything in 0..100.
    c = np.r_[100 + np.cumsum(np.random.default_rng(2).normal(0, 1, 60)), np.full(60, 50.0)]
    k, d = ta.stochrsi(c, 14, 5, 3)
    assert (k[-40:] == 0.0).all() and (d[-40:] == 0.0).all()   # exact: sums are recomputed
    assert (ta.cci(c, c, c, 14)[-40:] == 0.0).all()
