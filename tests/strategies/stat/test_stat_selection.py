"""Pairs selection on real candles: alignment, and statistics equal to statsmodels' own."""
from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.regression.linear_model import OLS
from statsmodels.tools import add_constant
from statsmodels.tsa.stattools import adfuller, coint

from conftest import BTC_1H, ETH_1H, depeg_window
from datafiles import shared_file
from tradecore.strategies.stat.selection import (Aligned, align_closes, half_life, pair_stats,
                                                 read_closes, select_pairs)


def assert_matches_statsmodels(st, ly: np.ndarray, lx: np.ndarray, **kw) -> None:
    fit = OLS(ly, add_constant(lx)).fit()
    assert st.alpha == pytest.approx(fit.params[0], rel=1e-12)
    assert st.beta == pytest.approx(fit.params[1], rel=1e-12)
    eg = coint(ly, lx, trend="c", maxlag=kw.get("maxlag"), autolag=kw.get("autolag", "aic"))
    assert st.eg_stat == pytest.approx(eg[0], rel=1e-12)
    assert st.eg_pvalue == pytest.approx(eg[1], rel=1e-12, abs=1e-15)
    assert st.eg_crit == pytest.approx(tuple(eg[2]), rel=1e-12)
    resid = ly - (fit.params[0] + fit.params[1] * lx)
    al = kw.get("autolag", "aic")
    adf = adfuller(resid, maxlag=kw.get("maxlag"), autolag=al.upper() if al else None,
                   result_object=False)
    assert st.adf_stat == pytest.approx(adf[0], rel=1e-9)
    assert st.adf_pvalue == pytest.approx(adf[1], rel=1e-9, abs=1e-15)
    assert st.adf_lags == adf[2]
    ar = OLS(resid[1:], add_constant(resid[:-1])).fit()
    assert st.ar1_phi == pytest.approx(ar.params[1], rel=1e-12)
    assert st.half_life == pytest.approx(-math.log(2) / math.log(ar.params[1]), rel=1e-12)


@pytest.mark.shared_data
def test_align_keeps_only_common_hours_when_series_have_gaps(btc_eth_1h) -> None:
    bt, bc = read_closes(str(shared_file(BTC_1H)))
    et, ec = read_closes(str(shared_file(ETH_1H)))
    al = btc_eth_1h
    assert al.ts_ms.size == 3676 == np.intersect1d(bt, et).size
    assert al.dropped == {("binance", "BTCUSDT"): bt.size - 3676, ("binance", "ETHUSDT"): 0}
    assert np.all(np.diff(al.ts_ms) > 0)
    btc = dict(zip(bt.tolist(), bc.tolist()))
    eth = dict(zip(et.tolist(), ec.tolist()))
    assert [btc[t] for t in al.ts_ms.tolist()] == al.close(("binance", "BTCUSDT")).tolist()
    assert [eth[t] for t in al.ts_ms.tolist()] == al.close(("binance", "ETHUSDT")).tolist()


@pytest.mark.shared_data
def test_align_drops_the_missing_hours_when_binance_was_down_in_2018() -> None:
    bt, bc = read_closes(str(shared_file(BTC_1H)))
    hourly = np.arange(bt[0], bt[-1] + 1, 3_600_000, dtype=np.int64)
    al = align_closes({"btc": (bt, bc), "clock": (hourly, np.ones(hourly.size))})
    assert al.ts_ms.size == bt.size                      # the gaps are not filled
    assert al.dropped["clock"] == hourly.size - bt.size == 128


def test_align_rejects_unsorted_timestamps_with_the_index() -> None:
    with pytest.raises(ValueError, match=r"not strictly increasing at index 2"):
        align_closes({"a": (np.array([1, 2, 2]), np.ones(3)), "b": (np.arange(3), np.ones(3))})


def test_align_rejects_non_positive_close_with_the_index() -> None:
    with pytest.raises(ValueError, match=r"close 0.0 at index 1"):
        align_closes({"a": (np.arange(3), np.array([1.0, 0.0, 2.0])),
                      "b": (np.arange(3), np.ones(3))})


@pytest.mark.shared_data
def test_pair_stats_equal_statsmodels_when_btc_eth_hourly_2021(btc_eth_1h) -> None:
    al = btc_eth_1h
    ly = np.log(al.close(("binance", "ETHUSDT")))
    lx = np.log(al.close(("binance", "BTCUSDT")))
    st = pair_stats(("binance", "ETHUSDT"), ("binance", "BTCUSDT"), ly, lx, 0.0, 0.0)
    assert_matches_statsmodels(st, ly, lx)
    assert st.n == 3676


@pytest.mark.shared_data
def test_pair_stats_equal_statsmodels_when_usdc_depegs_in_march_2023(us_1m) -> None:
    rows = depeg_window(us_1m)
    ly = np.log(us_1m.close(("binanceus", "BTCUSDC"))[rows])
    lx = np.log(us_1m.close(("binanceus", "BTCUSD"))[rows])
    st = pair_stats(("binanceus", "BTCUSDC"), ("binanceus", "BTCUSD"), ly, lx, 0.0, 0.0,
                    maxlag=10)
    assert_matches_statsmodels(st, ly, lx, maxlag=10)
    assert st.n == 8640                                  # 6 days of minutes


@pytest.mark.shared_data
def test_select_ranks_coinbase_bitstamp_btc_as_cointegrated_when_daily(cb_bs_1d) -> None:
    res = select_pairs(cb_bs_1d)
    assert len(res.ranked) == 1 and res.rejected == []
    st = res.ranked[0]
    ly = np.log(cb_bs_1d.close(st.y))
    lx = np.log(cb_bs_1d.close(st.x))
    assert_matches_statsmodels(st, ly, lx)
    # the same asset on two venues: beta ~ 1, and the gap closes within days
    assert st.cointegrated and abs(st.beta - 1) < 0.02 and st.half_life < 5


@pytest.mark.shared_data
def test_select_keeps_the_order_with_the_lower_pvalue_and_gives_reasons(us_1m) -> None:
    rows = depeg_window(us_1m)
    sub = Aligned(us_1m.keys, us_1m.ts_ms[rows], us_1m.closes[rows], us_1m.dropped)
    res = select_pairs(sub, min_corr=0.5, maxlag=5)
    seen = {frozenset((s.y, s.x)) for s in res.tested} | {frozenset(r[:2]) for r in res.rejected}
    assert len(seen) == 3                                # every pair accounted for
    for s in res.tested:
        other = pair_stats(s.x, s.y, np.log(sub.close(s.x)), np.log(sub.close(s.y)), 0, 0,
                           maxlag=5)
        assert s.eg_pvalue <= other.eg_pvalue
    assert [s.eg_pvalue for s in res.ranked] == sorted(s.eg_pvalue for s in res.ranked)
    for a, b, why in res.rejected:
        assert why.startswith(("return correlation", "not cointegrated"))


def test_half_life_recovers_ar1_decay_when_phi_is_0_9() -> None:
    rng = np.random.default_rng(7)
    e = rng.standard_normal(50_000)
    r = np.empty_like(e)
    r[0] = 0.0
    for t in range(1, e.size):
        r[t] = 0.9 * r[t - 1] + e[t]
    hl, phi = half_life(r)
    assert phi == pytest.approx(0.9, abs=0.01)
    assert hl == pytest.approx(math.log(2) / -math.log(0.9), rel=0.1)


def test_half_life_is_infinite_when_the_series_is_explosive() -> None:
    r = 1.01 ** np.arange(200)
    assert half_life(r)[0] == math.inf
