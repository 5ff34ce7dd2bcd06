"""Each metric against hand-computed values on small series, against empyrical/quantstats-style
formulas (re-implemented here with pandas: no empyrical dependency), and against brute-force
references (hypothesis) where the library code is vectorised."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datafiles import shared_file
from tradecore.backtest import metrics as m

DAY = m.NS_PER_DAY
HOUR = DAY // 24
EQ = np.array([100.0, 110.0, 99.0, 108.9])          # returns +10 %, -10 %, +10 %
TS = np.arange(4, dtype=np.int64) * DAY


# --------------------------------------------------------------------------- hand-computed

def test_simple_returns_when_equity_moves_ten_percent_each_way():
    assert m.simple_returns(EQ) == pytest.approx([0.1, -0.1, 0.1])


def test_total_return_when_three_moves_compound():
    assert m.total_return(EQ) == pytest.approx(0.089)         # 1.1 * 0.9 * 1.1 - 1


def test_cagr_when_equity_grows_21_percent_in_two_years():
    ts = np.array([0, 2 * m.NS_PER_YEAR], dtype=np.int64)
    assert m.cagr(ts, [100.0, 121.0]) == pytest.approx(0.10)


def test_annualized_return_when_periods_per_year_doubles_the_horizon():
    r = [0.1, -0.1, 0.1]
    assert m.annualized_return(r, 3) == pytest.approx(0.089)
    assert m.annualized_return(r, 6) == pytest.approx(1.089 ** 2 - 1)


def test_annualized_volatility_when_sample_std_is_used():
    # deviations from the mean 1/30: 2/30, -4/30, 2/30 -> var = (24/900) / 2
    sd = math.sqrt(24 / 900 / 2)
    assert m.annualized_volatility([0.1, -0.1, 0.1], 4) == pytest.approx(sd * 2)


def test_sharpe_when_hand_computed_on_three_returns():
    # mean 1/30, sample std sqrt(24/900/2) = 0.11547 -> sqrt(3)/6 per period
    assert m.sharpe_ratio([0.1, -0.1, 0.1], 1) == pytest.approx(math.sqrt(3) / 6)
    assert m.sharpe_ratio([0.1, -0.1, 0.1], 4) == pytest.approx(math.sqrt(3) / 3)


def test_sharpe_when_annual_risk_free_is_compounded_per_period():
    r = np.array([0.1, -0.1, 0.1])
    rf_p = 1.05 ** (1 / 12) - 1
    x = r - rf_p
    assert m.sharpe_ratio(r, 12, 0.05) == pytest.approx(x.mean() / x.std(ddof=1) * math.sqrt(12))


def test_sharpe_is_nan_when_returns_are_constant_or_too_few():
    assert math.isnan(m.sharpe_ratio([0.01, 0.01, 0.01], 365))
    assert math.isnan(m.sharpe_ratio([0.01], 365))


def test_downside_deviation_when_only_one_period_is_below_target():
    # min(r, 0) = [0, -0.1, 0] -> sqrt(0.01 / 3) over ALL periods
    assert m.downside_deviation([0.1, -0.1, 0.1]) == pytest.approx(math.sqrt(0.01 / 3))


def test_sortino_when_hand_computed_on_three_returns():
    assert m.sortino_ratio([0.1, -0.1, 0.1], 1) == pytest.approx((1 / 30) / math.sqrt(0.01 / 3))


def test_sortino_is_infinite_when_no_period_loses():
    assert m.sortino_ratio([0.01, 0.02], 365) == math.inf


def test_drawdown_series_when_equity_falls_from_110_to_99():
    assert m.drawdown_series(EQ) == pytest.approx([0, 0, -0.1, -0.01])
    assert m.max_drawdown(EQ) == pytest.approx(-0.1)


def test_max_drawdown_is_zero_when_equity_never_falls():
    assert m.max_drawdown([1.0, 2.0, 2.0, 3.0]) == 0.0
    assert m.max_drawdown_duration(np.arange(4, dtype=np.int64), [1.0, 2.0, 2.0, 3.0]) == (0, True)


def test_max_drawdown_duration_when_not_recovered_by_the_end():
    # peak 110 on day 1, still below on day 3 (last sample): 2 days so far
    assert m.max_drawdown_duration(TS, EQ) == (2 * DAY, False)


def test_max_drawdown_duration_when_recovered_counts_wall_clock_to_the_recovery():
    ts = np.array([0, 1, 2, 3, 5, 6], dtype=np.int64) * DAY
    eq = [100.0, 110.0, 99.0, 108.9, 115.0, 114.0]
    # spell 1: peak day 1 -> back above on day 5 = 4 days; spell 2: day 5 -> day 6 (open) = 1 day
    assert m.max_drawdown_duration(ts, eq) == (4 * DAY, True)


def test_calmar_when_annual_return_is_twice_the_drawdown():
    assert m.calmar_ratio(0.2, -0.1) == pytest.approx(2.0)
    assert math.isnan(m.calmar_ratio(0.2, 0.0))


PNL = [10.0, -5.0, 0.0, 20.0, -15.0]


def test_profit_factor_when_wins_30_and_losses_20():
    assert m.profit_factor(PNL) == pytest.approx(1.5)
    assert m.profit_factor([1.0, 2.0]) == math.inf
    assert math.isnan(m.profit_factor([]))


def test_trade_statistics_when_hand_computed():
    assert m.expectancy(PNL) == pytest.approx(2.0)
    assert m.win_rate(PNL) == pytest.approx(0.4)        # the 0.0 trade is not a win
    assert m.average_win(PNL) == pytest.approx(15.0)
    assert m.average_loss(PNL) == pytest.approx(-10.0)
    assert m.trade_count(PNL) == 5
    assert math.isnan(m.average_loss([1.0]))


def test_turnover_when_notional_is_twice_mean_equity():
    assert m.turnover([1000.0, -1000.0, 500.0], [1000.0, 1500.0]) == pytest.approx(2.0)


def test_exposure_when_intervals_overlap_and_stick_out_of_the_run():
    iv = [(0, 10), (5, 15), (20, 30), (-5, 2), (38, 50)]
    # union inside [0, 40]: [0, 15] + [20, 30] + [38, 40] = 27
    assert m.exposure(iv, 0, 40) == pytest.approx(27 / 40)
    assert m.exposure([], 0, 40) == 0.0


def test_total_fees_when_a_rebate_is_negative():
    assert m.total_fees([1.5, 2.5, -0.5]) == pytest.approx(3.5)


def test_latency_percentiles_when_samples_are_1_to_100():
    q = m.latency_percentiles(np.arange(1, 101))
    assert (q["p50"], q["p90"], q["p99"], q["p99_9"]) == pytest.approx((50.5, 90.1, 99.01, 99.901))
    assert (q["count"], q["mean"], q["max"]) == (100, 50.5, 100.0)
    assert math.isnan(m.latency_percentiles([])["p99"])


def test_period_returns_when_a_day_has_no_sample_carries_the_close():
    ts = np.array([1 * HOUR, 23 * HOUR, 2 * DAY + 12 * HOUR, 3 * DAY], dtype=np.int64)
    eq = [100.0, 102.0, 99.0, 105.0]
    starts, closes = m.period_closes(ts, eq)
    assert starts.tolist() == [0, DAY, 2 * DAY, 3 * DAY]
    assert closes.tolist() == [102.0, 102.0, 99.0, 105.0]
    _, r = m.daily_returns(ts, eq)
    assert r == pytest.approx([0.02, 0.0, 99 / 102 - 1, 105 / 99 - 1])
    assert np.prod(1 + r) == pytest.approx(1.05)


def test_monthly_returns_when_february_has_no_sample():
    t = lambda s: int(np.datetime64(s, "ns").astype(np.int64))  # noqa: E731
    ts = np.array([t("2024-01-20"), t("2024-01-31T23:00"), t("2024-03-05")], dtype=np.int64)
    years, months, r = m.monthly_returns(ts, [100.0, 110.0, 121.0])
    assert years.tolist() == [2024, 2024, 2024]
    assert months.tolist() == [1, 2, 3]
    assert r == pytest.approx([0.1, 0.0, 0.1])


# --------------------------------------------------------------------------- bad input

def test_period_returns_raises_when_timestamps_go_backwards():
    with pytest.raises(ValueError, match="must not decrease.*index 2"):
        m.period_returns(np.array([0, 5, 3], dtype=np.int64), [1.0, 1.0, 1.0])


def test_metrics_raise_when_equity_is_not_positive():
    with pytest.raises(ValueError, match="equity must be > 0.*index 1"):
        m.simple_returns([100.0, 0.0])
    with pytest.raises(ValueError, match="int64 ns"):
        m.cagr(np.array([0.0, 1.0]), [1.0, 2.0])
    with pytest.raises(ValueError, match="periods_per_year"):
        m.sharpe_ratio([0.1, 0.2], 0)
    with pytest.raises(ValueError, match="closes .* before it opens"):
        m.exposure([(5, 1)], 0, 10)


# --------------------------------------------------------------------------- empyrical-style

def _empyrical_sharpe(r: pd.Series, ppy: float, rf: float = 0.0) -> float:
    adj = r - rf
    return adj.mean() / adj.std(ddof=1) * math.sqrt(ppy)


def _empyrical_sortino(r: pd.Series, ppy: float, required: float = 0.0) -> float:
    adj = r - required
    downside_risk = math.sqrt((adj.clip(upper=0) ** 2).mean()) * math.sqrt(ppy)
    return adj.mean() * ppy / downside_risk


def _quantstats_sortino(r: pd.Series, ppy: float) -> float:
    downside = math.sqrt((r[r < 0] ** 2).sum() / len(r))
    return r.mean() / downside * math.sqrt(ppy)


def _empyrical_annual_return(r: pd.Series, ppy: float) -> float:
    return (1 + r).prod() ** (1 / (len(r) / ppy)) - 1


def _empyrical_max_drawdown(r: pd.Series) -> float:
    cum = 100 * (1 + r).cumprod()
    peak = np.fmax.accumulate(cum)
    return ((cum - peak) / peak).min()


@pytest.fixture(scope="module")
def btc_closes():
    df = pd.read_csv(shared_file("ohlcv/binance_BTCUSDT_1h_20210426_20210526.csv"))
    return df["ts_ms"].to_numpy(np.int64) * 1_000_000, df["close"].to_numpy(float)


@pytest.mark.shared_data
def test_daily_returns_match_pandas_resample_when_equity_is_hourly_btc(btc_closes):
    ts, eq = btc_closes
    s = pd.Series(eq, index=pd.to_datetime(ts, unit="ns"))
    daily_close = s.resample("1D").last().ffill()
    expected = daily_close.pct_change()
    expected.iloc[0] = daily_close.iloc[0] / eq[0] - 1
    starts, r = m.daily_returns(ts, eq)
    assert pd.to_datetime(starts, unit="ns").equals(pd.DatetimeIndex(daily_close.index))
    np.testing.assert_allclose(r, expected.to_numpy(), rtol=1e-12)


@pytest.mark.shared_data
def test_return_ratios_match_empyrical_formulas_when_returns_are_btc_daily(btc_closes):
    ts, eq = btc_closes
    _, r = m.daily_returns(ts, eq)
    s = pd.Series(r)
    assert m.sharpe_ratio(r, 365) == pytest.approx(_empyrical_sharpe(s, 365), rel=1e-12)
    rf_p = 1.04 ** (1 / 365) - 1
    assert m.sharpe_ratio(r, 365, 0.04) == pytest.approx(_empyrical_sharpe(s, 365, rf_p), rel=1e-12)
    assert m.sortino_ratio(r, 365) == pytest.approx(_empyrical_sortino(s, 365), rel=1e-12)
    assert m.sortino_ratio(r, 365) == pytest.approx(_quantstats_sortino(s, 365), rel=1e-12)
    assert m.sortino_ratio(r, 365, 0.04) == pytest.approx(_empyrical_sortino(s, 365, rf_p),
                                                          rel=1e-12)
    assert m.annualized_return(r, 365) == pytest.approx(_empyrical_annual_return(s, 365),
                                                        rel=1e-12)
    assert m.annualized_volatility(r, 365) == pytest.approx(s.std() * math.sqrt(365), rel=1e-12)


def test_return_ratios_match_empyrical_formulas_when_returns_are_seeded_noise():
    # the same comparison where ../shared/data is absent
    r = np.random.default_rng(3).normal(0.001, 0.02, 250)
    s = pd.Series(r)
    assert m.sharpe_ratio(r, 252) == pytest.approx(_empyrical_sharpe(s, 252), rel=1e-12)
    assert m.sortino_ratio(r, 252) == pytest.approx(_empyrical_sortino(s, 252), rel=1e-12)
    assert m.sortino_ratio(r, 252) == pytest.approx(_quantstats_sortino(s, 252), rel=1e-12)
    assert m.annualized_return(r, 252) == pytest.approx(_empyrical_annual_return(s, 252),
                                                        rel=1e-12)
    eq = 100 * np.cumprod(1 + np.concatenate(([0.01], r)))
    assert m.max_drawdown(eq) == pytest.approx(
        _empyrical_max_drawdown(pd.Series(m.simple_returns(eq))), rel=1e-12)


@pytest.mark.shared_data
def test_max_drawdown_matches_empyrical_when_the_first_return_is_a_gain(btc_closes):
    # empyrical builds wealth from returns, so its running peak starts after the first return;
    # ours starts at the opening equity. Starting at a gain makes the two definitions coincide.
    ts, eq = btc_closes
    i = int(np.flatnonzero(np.diff(eq) > 0)[0])
    eq = eq[i:]
    r = pd.Series(m.simple_returns(eq))
    assert m.max_drawdown(eq) == pytest.approx(_empyrical_max_drawdown(r), rel=1e-12)
    # the May 2021 crash: BTC fell roughly half from its high inside this month
    assert -0.55 < m.max_drawdown(eq) < -0.35


# --------------------------------------------------------------------------- brute force

def _brute_dd_duration(ts, eq):
    best, rec = 0, True
    for i in range(len(eq)):
        if i and eq[i] >= max(eq[:i]) or i == 0:       # a (new or equal) peak at i
            j = i + 1
            while j < len(eq) and eq[j] < eq[i]:
                j += 1
            if j == i + 1:
                continue                                # not followed by a fall
            recovered = j < len(eq)
            d = (ts[j] if recovered else ts[-1]) - ts[i]
            if d > best:
                best, rec = d, recovered
    return best, rec


equity_lists = st.lists(st.floats(1.0, 100.0, allow_nan=False), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(equity_lists, st.data())
def test_max_drawdown_duration_matches_brute_force_when_sampling_is_irregular(eq, data):
    gaps = data.draw(st.lists(st.integers(0, 1000), min_size=len(eq), max_size=len(eq)))
    ts = np.cumsum(gaps).astype(np.int64)
    got = m.max_drawdown_duration(ts, eq)
    want = _brute_dd_duration(ts.tolist(), eq)
    assert got[0] == want[0]
    if want[0]:
        assert got[1] == want[1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-20, 120), st.integers(0, 60)), max_size=12))
def test_exposure_matches_a_unit_grid_when_intervals_are_random(rows):
    iv = [(a, a + w) for a, w in rows]
    covered = np.zeros(100, bool)
    for a, b in iv:
        covered[max(a, 0):max(min(b, 100), 0)] = True
    assert m.exposure(iv, 0, 100) == pytest.approx(covered.sum() / 100)


@settings(max_examples=200, deadline=None)
@given(equity_lists, st.data())
def test_period_returns_compound_to_total_return_when_sampling_is_irregular(eq, data):
    gaps = data.draw(st.lists(st.integers(0, 3 * DAY), min_size=len(eq), max_size=len(eq)))
    ts = np.cumsum(gaps).astype(np.int64)
    _, r = m.daily_returns(ts, eq)
    assert np.prod(1 + r) == pytest.approx(eq[-1] / eq[0], rel=1e-9)
    assert r.size == (ts[-1] // DAY) - (ts[0] // DAY) + 1
