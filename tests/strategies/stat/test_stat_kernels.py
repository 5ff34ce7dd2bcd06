"""The Numba kernels against plain references: lstsq per window, Chan's Kalman filter in matrix
form, pandas rolling statistics, hand-built z series for every signal rule, and a plain-Python
spread backtest."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from tradecore.strategies.stat import kernels as K
from tradecore.strategies.stat.batch import backtest_pair, pair_signals
from tradecore.strategies.stat.params import PairParams

BTC, ETH = ("binance", "BTCUSDT"), ("binance", "ETHUSDT")


def logs(al, rows=slice(None)):
    return np.log(al.close(BTC))[rows].copy(), np.log(al.close(ETH))[rows].copy()


# -- rolling OLS -----------------------------------------------------------------------------
@pytest.mark.shared_data
@pytest.mark.parametrize("recompute_every", [1, 168, 10_000_000])
def test_rolling_ols_equals_lstsq_per_window_when_btc_eth_hourly(btc_eth_1h, recompute_every):
    x, y = logs(btc_eth_1h)
    w = 168
    alpha, beta = K.rolling_ols(x, y, w, recompute_every)
    assert np.isnan(beta[: w - 1]).all() and np.isnan(alpha[: w - 1]).all()
    for t in range(w - 1, x.size, 7):
        A = np.column_stack([np.ones(w), x[t - w + 1: t + 1]])
        (a, b), *_ = np.linalg.lstsq(A, y[t - w + 1: t + 1], rcond=None)
        # 10_000_000: never recomputed after the first bar; the drift stays small on 3 676 bars
        tol = 1e-9 if recompute_every <= 168 else 1e-7
        assert beta[t] == pytest.approx(b, abs=tol), t
        assert alpha[t] == pytest.approx(a, abs=tol * 20), t


def test_rolling_ols_is_nan_when_the_window_is_constant() -> None:
    x = np.r_[np.full(10, math.log(2.0)), np.log(np.arange(2.0, 12.0))]
    y = 2 * x + 1
    alpha, beta = K.rolling_ols(x, y, 5, 5)
    assert np.isnan(beta[4:10]).all()                   # windows of only the constant part
    assert beta[14:] == pytest.approx(2.0) and alpha[14:] == pytest.approx(1.0)


# -- Kalman ------------------------------------------------------------------------------------
def kalman_reference(x, y, delta, ve):
    """Chan's KF_beta_EWA_EWC.m in numpy matrices, with R = P + Vw on every bar."""
    vw = delta / (1 - delta) * np.eye(2)
    beta = np.zeros(2)
    P = np.zeros((2, 2))
    out = np.empty((x.size, 4))
    for t in range(x.size):
        R = P + vw
        H = np.array([x[t], 1.0])
        yhat = H @ beta
        Q = H @ R @ H + ve
        e = y[t] - yhat
        Kg = R @ H / Q
        beta = beta + Kg * e
        P = R - np.outer(Kg, H) @ R
        out[t] = (beta[1], beta[0], e, Q)
    return out


@pytest.mark.shared_data
def test_kalman_equals_the_matrix_reference_when_btc_eth_hourly(btc_eth_1h) -> None:
    x, y = logs(btc_eth_1h)
    alpha, beta, e, q = K.kalman_hedge(x, y, 1e-4, 1e-3, 0)
    ref = kalman_reference(x, y, 1e-4, 1e-3)
    np.testing.assert_allclose(alpha, ref[:, 0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(beta, ref[:, 1], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(e, ref[:, 2], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(q, ref[:, 3], rtol=1e-9, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(hs.integers(0, 2**32 - 1), hs.sampled_from([1e-5, 1e-4, 1e-2]))
def test_kalman_equals_the_matrix_reference_on_random_walks(seed, delta) -> None:
    rng = np.random.default_rng(seed)
    x = 8 + np.cumsum(rng.normal(0, 0.01, 300))
    y = 0.7 * x + 0.3 + rng.normal(0, 0.01, 300)
    a, b, e, q = K.kalman_hedge(x, y, delta, 1e-3, 0)
    ref = kalman_reference(x, y, delta, 1e-3)
    np.testing.assert_allclose(np.c_[a, b, e, q], ref, rtol=1e-9, atol=1e-9)


def test_kalman_hides_the_warmup_bars() -> None:
    x = np.log(np.linspace(100, 120, 50))
    a, b, _, _ = K.kalman_hedge(x, x, 1e-4, 1e-3, 10)
    assert np.isnan(b[:10]).all() and np.isfinite(b[10:]).all()


# -- z-score -----------------------------------------------------------------------------------
@pytest.mark.shared_data
def test_zscore_equals_pandas_rolling_when_spread_of_btc_eth(btc_eth_1h) -> None:
    x, y = logs(btc_eth_1h)
    _, beta = K.rolling_ols(x, y, 168, 168)
    s = K.spread(x, y, beta)
    z = K.rolling_zscore(s, 72, 72)
    ser = pd.Series(s)
    r = ser.rolling(72)
    ref = ((ser - r.mean()) / r.std(ddof=0)).to_numpy().copy()
    ref[: 168 - 1 + 72 - 1] = np.nan                    # pandas starts at the first full window
    np.testing.assert_allclose(z, ref, rtol=1e-8, atol=1e-8, equal_nan=True)


def test_zscore_restarts_its_window_after_a_nan() -> None:
    rng = np.random.default_rng(1)
    s = rng.normal(size=40)
    s[15] = np.nan
    z = K.rolling_zscore(s, 5, 5)
    assert np.isnan(z[15:20]).all() and np.isfinite(z[20])
    w = s[16:21]
    assert z[20] == pytest.approx((s[20] - w.mean()) / w.std(), rel=1e-12)
    assert np.isfinite(z[4:15]).all()


# -- signals -----------------------------------------------------------------------------------
def run(z, entry=2.0, exit_=0.5, stop=4.0, max_bars=0):
    pos, why = K.signals(np.asarray(z, dtype=np.float64), entry, exit_, stop, max_bars)
    return pos.tolist(), [K.REASONS[r] for r in why]


def test_signals_short_the_spread_when_z_reaches_entry_and_exit_inside_the_band() -> None:
    pos, why = run([0.0, 1.9, 2.0, 1.0, 0.6, 0.5, 0.0])
    assert pos == [0, 0, -1, -1, -1, 0, 0]
    assert why == ["none", "none", "enter", "none", "none", "exit", "none"]


def test_signals_long_the_spread_when_z_falls_to_minus_entry() -> None:
    pos, why = run([-2.5, -1.0, -0.4])
    assert pos == [1, 1, 0] and why == ["enter", "none", "exit"]


def test_signals_exit_when_z_jumps_through_the_band_to_the_other_side() -> None:
    pos, why = run([2.2, -3.0])
    assert pos == [-1, 0] and why == ["enter", "exit"]


def test_signals_stop_when_z_diverges_past_stop() -> None:
    pos, why = run([2.1, 3.9, 4.0, 4.5, 3.0])
    # stopped at 4.0; flat at 4.5 is beyond the stop (skipped); 3.0 enters again
    assert pos == [-1, -1, 0, 0, -1]
    assert why == ["enter", "none", "stop", "skip_beyond_stop", "enter"]


def test_signals_time_stop_after_max_bars_in_the_trade() -> None:
    pos, why = run([-2.0, -1.5, -1.5, -1.5, -1.5], max_bars=3)
    assert pos == [1, 1, 1, 0, 0] and why == ["enter", "none", "none", "time", "none"]


def test_signals_skip_entry_when_flat_and_z_already_beyond_stop() -> None:
    pos, why = run([5.0, -4.0])
    assert pos == [0, 0] and why == ["skip_beyond_stop", "skip_beyond_stop"]


def test_signals_hold_through_nan_and_time_stop_still_acts() -> None:
    nan = math.nan
    pos, why = run([2.5, nan, nan, nan], max_bars=3)
    assert pos == [-1, -1, -1, 0] and why == ["enter", "none", "none", "time"]
    pos, why = run([nan, nan])
    assert pos == [0, 0] and why == ["none", "none"]


def test_signals_do_not_reenter_on_the_bar_of_an_exit() -> None:
    pos, why = run([2.5, 0.0, 2.5], exit_=0.5)
    assert pos == [-1, 0, -1] and why == ["enter", "exit", "enter"]
    pos, why = run([2.5, -2.5])                          # exit through the band, flat that bar
    assert pos == [-1, 0] and why == ["enter", "exit"]


# -- backtest ----------------------------------------------------------------------------------
def backtest_reference(py, px, pos, why, beta, notional, fy, fx, lag):
    """Plain Python: trades as (entry, exit, net) and the equity curve."""
    trades, equity, cash = [], [], 0.0
    held = None
    for t in range(len(py)):
        s = t - lag
        if s >= 0:
            want = int(pos[s])
            if held and want != held["side"]:
                fee = fy * abs(held["qy"]) * py[t] + fx * abs(held["qx"]) * px[t]
                gross = held["qy"] * (py[t] - held["py"]) + held["qx"] * (px[t] - held["px"])
                cash += gross - fee
                trades.append((held["t"], t, gross - fee - held["fee"]))
                held = None
            if held is None and want != 0 and why[s] == K.R_ENTER:
                b = beta[s]
                ny = notional / (1 + abs(b))
                h = {"side": want, "t": t, "py": py[t], "px": px[t],
                     "qy": want * ny / py[t], "qx": -want * b * ny / px[t]}
                h["fee"] = fy * abs(h["qy"]) * py[t] + fx * abs(h["qx"]) * px[t]
                cash -= h["fee"]
                held = h
        mtm = 0.0 if held is None else (held["qy"] * (py[t] - held["py"])
                                        + held["qx"] * (px[t] - held["px"]))
        equity.append(cash + mtm)
    if held:
        t = len(py) - 1
        fee = fy * abs(held["qy"]) * py[t] + fx * abs(held["qx"]) * px[t]
        gross = held["qy"] * (py[t] - held["py"]) + held["qx"] * (px[t] - held["px"])
        cash += gross - fee
        trades.append((held["t"], t, gross - fee - held["fee"]))
        equity[-1] = cash
    return trades, np.array(equity)


@pytest.mark.shared_data
@pytest.mark.parametrize("hedge,lag", [("ols", 1), ("kalman", 0), ("kalman", 2)])
def test_backtest_equals_plain_python_when_btc_eth_hourly(btc_eth_1h, hedge, lag) -> None:
    py, px = btc_eth_1h.close(ETH), btc_eth_1h.close(BTC)
    p = PairParams(hedge=hedge, window=100, z_window=50, max_bars=48)
    sig, bt = backtest_pair(py, px, p, notional=10_000, fee_y=0.001, fee_x=0.00075, lag=lag)
    trades, eq = backtest_reference(py, px, sig.pos, sig.reason, sig.beta, 10_000, 0.001,
                                    0.00075, lag)
    assert bt.n_trades == len(trades) > 10
    assert bt.trades[:, 0].tolist() == [t[0] for t in trades]
    assert bt.trades[:, 1].tolist() == [t[1] for t in trades]
    np.testing.assert_allclose(bt.trades[:, 12], [t[2] for t in trades], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(bt.equity, eq, rtol=1e-12, atol=1e-9)
    assert bt.net_pnl == pytest.approx(bt.gross_pnl - bt.fees, abs=1e-6)


def test_backtest_pnl_and_fees_by_hand_when_one_short_spread_trade() -> None:
    # y: 100 -> 90, x: 50 -> 50, beta 1: short spread = sell $500 of y, buy $500 of x
    py = np.array([100.0, 100.0, 90.0])
    px = np.array([50.0, 50.0, 50.0])
    pos = np.array([-1, -1, 0], np.int8)
    why = np.array([K.R_ENTER, 0, K.R_EXIT], np.int8)
    eq, tr = K.backtest(py, px, pos, why, np.ones(3), 1000.0, 0.001, 0.001, 0)
    # qty_y = -5, qty_x = +10; gross = -5 * (90 - 100) = 50; fees: 1.0 entry, 0.95 exit
    assert tr.shape == (1, len(K.TRADE_COLS))
    assert tr[0, 4] == -5 and tr[0, 5] == 10
    assert tr[0, 10] == pytest.approx(50.0) and tr[0, 11] == pytest.approx(1.95)
    assert eq.tolist() == pytest.approx([-1.0, -1.0, 48.05])
    assert K.REASONS[int(tr[0, 13])] == "exit"


def test_pair_signals_reject_a_non_positive_price_with_its_index() -> None:
    with pytest.raises(ValueError, match=r"leg x: price -1.0 at index 2"):
        pair_signals(np.ones(5), np.array([1.0, 1.0, -1.0, 1.0, 1.0]), PairParams())


def test_params_reject_an_exit_band_wider_than_entry() -> None:
    with pytest.raises(ValueError, match=r"exit_z < entry_z < stop_z"):
        PairParams(entry_z=1.0, exit_z=1.5)
