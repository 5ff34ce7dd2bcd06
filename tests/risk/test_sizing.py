"""Sizing: Kelly fractions (continuous and discrete), fractional and capped, then lots on the
instrument's grid. The edge estimate comes from real ETHUSDT hourly returns."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from _riskkit import BTC
from datafiles import shared_file
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore.risk.sizing import (fractional_kelly, kelly_continuous, kelly_discrete,
                                   kelly_lots, notional_to_lots)


def test_kelly_discrete_when_even_money_at_60pct_is_twenty_percent():
    assert kelly_discrete(0.6, 1.0) == pytest.approx(0.2)
    assert kelly_discrete(0.5, 2.0) == pytest.approx(0.25)


def test_kelly_discrete_when_edge_is_negative_fractional_kelly_bets_nothing():
    f = kelly_discrete(0.4, 1.0)
    assert f == pytest.approx(-0.2)
    assert fractional_kelly(f) == 0.0


def test_kelly_continuous_when_it_is_optimal_maximises_expected_log_growth():
    mu, s2 = 0.001, 0.0004                     # f* = 2.5
    f = kelly_continuous(mu, s2)
    assert f == pytest.approx(2.5)
    growth = lambda x: mu * x - s2 * x * x / 2  # noqa: E731  (second-order log growth)
    assert growth(f) > growth(f * 0.9) and growth(f) > growth(f * 1.1)


@settings(max_examples=200, deadline=None)
@given(p=st.floats(0.01, 0.99), b=st.floats(0.1, 10.0))
def test_kelly_discrete_when_compared_with_a_numeric_maximum_of_log_growth_agrees(p, b):
    f = kelly_discrete(p, b)
    xs = np.linspace(0.0, 0.999, 20001)
    g = p * np.log1p(b * xs) + (1 - p) * np.log1p(-xs)
    best = xs[int(np.argmax(g))]
    assert max(f, 0.0) == pytest.approx(best, abs=2e-3)


def test_fractional_kelly_when_over_the_cap_is_capped():
    assert fractional_kelly(5.0, 0.5, cap=1.0) == 1.0
    assert fractional_kelly(1.0, 0.25) == 0.25


def test_notional_to_lots_when_amount_is_off_grid_rounds_down_and_below_minimum_is_zero():
    # BTCUSDT: lot 0.00001, min notional 5
    assert notional_to_lots(BTC, 1_000.0, 61_837.0) == 1617     # 0.016171... BTC
    assert notional_to_lots(BTC, 4.99, 61_837.0) == 0
    assert notional_to_lots(BTC, 0.0, 61_837.0) == 0


def test_kelly_lots_when_edge_is_estimated_from_real_eth_returns_sizes_within_equity():
    p = shared_file("ohlcv/binance_ETHUSDT_1h_20210426_20210927.csv")
    with open(p) as f:
        close = np.array([float(r["close"]) for r in csv.DictReader(f)])
    r = np.diff(np.log(close))
    mu, s2 = float(r.mean()), float(r.var(ddof=1))
    full = kelly_continuous(mu, s2)
    assert math.isfinite(full)
    lots = kelly_lots(BTC, 10_000.0, 61_837.0, mu=mu, sigma2=s2, fraction=0.5, cap=1.0)
    expect = notional_to_lots(BTC, 10_000.0 * fractional_kelly(full, 0.5, 1.0), 61_837.0)
    assert lots == expect
    assert BTC.qty(lots) * 61_837.0 <= 10_000.0


@pytest.mark.parametrize("call, what", [
    (lambda: kelly_continuous(0.1, 0.0), "sigma2"),
    (lambda: kelly_discrete(1.2, 1.0), "p"),
    (lambda: kelly_discrete(0.5, -1.0), "b"),
    (lambda: fractional_kelly(0.5, fraction=0.0), "fraction"),
    (lambda: notional_to_lots(BTC, 100.0, 0.0), "price"),
    (lambda: kelly_lots(BTC, 1e4, 1.0, mu=0.1), "either"),
    (lambda: kelly_continuous(float("nan"), 1.0), "mu"),
])
def test_sizing_when_input_is_invalid_raises_naming_it(call, what):
    with pytest.raises(ValueError, match=what):
        call()
