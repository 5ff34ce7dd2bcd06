"""Circuit breakers: each trips on its condition (and not before), sets its state on the gate or on
one strategy, publishes one BreakerTripped and stays latched; the kill switch halts, runs the
OMS's actions and holds HALTED until re-armed. Equity and PnL series are real: BTCUSDT hourly
closes (Binance, 2021-04-26 .. 2021-05-26, which holds the May 2021 crash)."""
from __future__ import annotations

import csv
import logging

import pytest
from _riskkit import T0, make_gate, order
from datafiles import shared_file

from tradecore.core.orders import DenyReason as D
from tradecore.core.orders import TradingState
from tradecore.risk.breakers import (BreakerTripped, ConsecutiveLossBreaker,
                                     ConsecutiveLossConfig, DrawdownBreaker, DrawdownConfig,
                                     KillSwitch, LossRateBreaker, LossRateConfig,
                                     RejectRateBreaker, RejectRateConfig, StaleDataBreaker,
                                     StaleDataConfig)

S = 1_000_000_000
H = 3600 * S


def btc_closes() -> list[tuple[int, float]]:
    p = shared_file("ohlcv/binance_BTCUSDT_1h_20210426_20210526.csv")
    with open(p) as f:
        return [(int(r["ts_ms"]) * 1_000_000, float(r["close"])) for r in csv.DictReader(f)]


def collect(b) -> list[BreakerTripped]:
    out: list[BreakerTripped] = []
    b.subscribe(out.append)
    return out


# -------------------------------------------------------------------------------------------------
# drawdown

def test_drawdown_breaker_when_real_btc_equity_falls_20pct_from_peak_halts_once(caplog):
    closes = btc_closes()
    g = make_gate()
    b = DrawdownBreaker(g, DrawdownConfig(max_drawdown=0.20))
    events = collect(b)
    peak, expect = 0.0, None
    for ts, px in closes:                     # equity of a 1-BTC holding
        peak = max(peak, px)
        if expect is None and (peak - px) / peak >= 0.20:
            expect = ts
        with caplog.at_level(logging.WARNING, "tradecore.risk"):
            b.on_equity(px, ts)
    assert expect is not None                  # May 2021: BTC fell > 20 % from its peak
    assert len(events) == 1 and events[0].ts_ns == expect
    ev = events[0]
    assert ev.breaker == "drawdown" and ev.state is TradingState.HALTED
    assert ev.value >= 0.20 and ev.threshold == 0.20
    assert g.state is TradingState.HALTED and g.check(order()) is D.HALTED
    assert sum("breaker drawdown tripped" in r.message for r in caplog.records) == 1


def test_drawdown_breaker_when_drawdown_stays_under_the_limit_does_not_trip():
    g = make_gate()
    b = DrawdownBreaker(g, DrawdownConfig(max_drawdown=0.5))
    for ts, px in btc_closes():
        assert b.on_equity(px, ts) is None
    assert g.state is TradingState.ACTIVE and b.tripped is None


def test_drawdown_breaker_when_per_strategy_trips_only_that_strategy():
    g = make_gate()
    b = DrawdownBreaker(g, DrawdownConfig(max_drawdown=0.1, state=TradingState.REDUCING),
                        strategy_id="mm")
    b.on_equity(10_000.0, T0)
    b.on_equity(12_000.0, T0 + 1)             # new peak
    assert b.on_equity(10_900.0, T0 + 2) is None    # 9.2 %
    ev = b.on_equity(10_700.0, T0 + 3)              # 10.8 %
    assert ev is not None and ev.strategy_id == "mm"
    assert g.state is TradingState.ACTIVE
    assert g.check(order(strategy_id="mm")) is D.REDUCING_ONLY
    assert g.check(order(strategy_id="arb")) is D.NONE


def test_drawdown_breaker_when_reset_rearms_from_a_new_peak():
    g = make_gate()
    b = DrawdownBreaker(g, DrawdownConfig(max_drawdown=0.1))
    b.on_equity(100.0, 1)
    assert b.on_equity(89.0, 2) is not None
    assert b.on_equity(50.0, 3) is None        # latched
    b.reset()
    g.set_state(TradingState.ACTIVE, "operator")
    assert b.on_equity(50.0, 4) is None        # 50 is the new peak
    assert b.on_equity(44.0, 5) is not None


def test_breaker_when_target_is_reducing_never_lowers_a_halted_gate():
    g = make_gate()
    g.set_state(TradingState.HALTED, "operator")
    b = DrawdownBreaker(g, DrawdownConfig(max_drawdown=0.1, state=TradingState.REDUCING))
    b.on_equity(100.0, 1)
    assert b.on_equity(80.0, 2) is not None
    assert g.state is TradingState.HALTED


# -------------------------------------------------------------------------------------------------
# loss rate, consecutive losses

def test_loss_rate_breaker_when_hourly_losses_of_real_btc_exceed_the_limit_within_a_day():
    closes = btc_closes()
    g = make_gate()
    b = LossRateBreaker(g, LossRateConfig(max_loss=5_000.0, window_ns=24 * H))
    events = collect(b)
    window: list[tuple[int, float]] = []
    expect = None
    for (t0, p0), (t1, p1) in zip(closes, closes[1:]):
        pnl = p1 - p0                          # 1 BTC held, PnL per hour
        window = [(t, x) for t, x in window if t > t1 - 24 * H] + [(t1, pnl)]
        if expect is None and -sum(x for _, x in window) >= 5_000.0:
            expect = t1
        b.on_pnl(pnl, t1)
    assert expect is not None and len(events) == 1 and events[0].ts_ns == expect
    assert g.state is TradingState.HALTED


def test_loss_rate_breaker_when_losses_fall_out_of_the_window_does_not_trip():
    g = make_gate()
    b = LossRateBreaker(g, LossRateConfig(max_loss=100.0, window_ns=10 * S))
    assert b.on_pnl(-60.0, T0) is None
    assert b.on_pnl(-60.0, T0 + 10 * S) is None      # the first is out of (t-10s, t]
    assert b.window_pnl == -60.0
    assert b.on_pnl(-40.0, T0 + 11 * S) is not None  # -100 within the window


def test_consecutive_loss_breaker_when_n_losses_in_a_row_trips_and_a_win_restarts_count():
    g = make_gate()
    b = ConsecutiveLossBreaker(g, ConsecutiveLossConfig(max_losses=3,
                                                        state=TradingState.REDUCING))
    for pnl in (-1.0, -2.0, 5.0, -1.0, 0.0, -1.0):
        assert b.on_trade_closed(pnl, T0) is None
    ev = b.on_trade_closed(-3.0, T0 + 1)
    assert ev is not None and ev.value == 3 and g.state is TradingState.REDUCING


# -------------------------------------------------------------------------------------------------
# rejects, stale data

def test_reject_rate_breaker_when_half_the_recent_orders_are_rejected_trips():
    g = make_gate()
    b = RejectRateBreaker(g, RejectRateConfig(max_ratio=0.5, window_ns=60 * S, min_orders=4))
    for i in range(4):
        b.on_order_sent(T0 + i)
    assert b.on_reject(T0 + 5) is None               # 1/4
    ev = None
    ev = b.on_reject(T0 + 6)                          # 2/4
    assert ev is not None and ev.value == 0.5 and g.state is TradingState.HALTED


def test_reject_rate_breaker_when_fed_order_events_counts_submitted_and_rejected():
    from tradecore.core.orders import OrderEvent, OrderStatus
    g = make_gate()
    b = RejectRateBreaker(g, RejectRateConfig(max_ratio=0.5, min_orders=2))
    o = order()
    for i in range(2):
        b.on_order_event(o, OrderEvent(o.client_order_id, OrderStatus.SUBMITTED, T0 + i))
    b.on_order_event(o, OrderEvent(o.client_order_id, OrderStatus.ACCEPTED, T0 + 2))
    assert b.on_order_event(o, OrderEvent(o.client_order_id, OrderStatus.REJECTED,
                                          T0 + 3)) is not None
    assert g.state is TradingState.HALTED


def test_reject_rate_breaker_when_too_few_orders_were_sent_does_not_trip():
    g = make_gate()
    b = RejectRateBreaker(g, RejectRateConfig(max_ratio=0.5, min_orders=10))
    b.on_order_sent(T0)
    assert b.on_reject(T0 + 1) is None


def test_stale_data_breaker_when_one_watched_symbol_goes_quiet_sets_reducing():
    g = make_gate()
    b = StaleDataBreaker(g, StaleDataConfig(max_age_ns=5 * S),
                         [("binance", "BTCUSDT"), ("binance", "ETHUSDT")], start_ns=T0)
    for k in range(1, 9):
        b.on_market_data("binance", "BTCUSDT", T0 + k * S)
        if k <= 5:
            assert b.check(T0 + k * S) is None
    ev = b.check(T0 + 8 * S)                         # ETHUSDT silent for 8 s
    assert ev is not None and "ETHUSDT" in ev.reason and g.state is TradingState.REDUCING


# -------------------------------------------------------------------------------------------------
# kill switch

def test_kill_switch_when_tripped_halts_before_actions_and_stays_halted_until_rearmed():
    g = make_gate()
    ks = KillSwitch(g, g.clock)
    seen = []
    ks.on_kill(lambda flatten: seen.append((flatten, g.state, g.check(order()))))
    events = collect(ks)
    ev = ks.trip(flatten=True, reason="operator")
    assert seen == [(True, TradingState.HALTED, D.HALTED)]
    assert ev.state is TradingState.HALTED and events == [ev] and not ks.armed
    with pytest.raises(RuntimeError):
        g.set_state(TradingState.ACTIVE, "someone")
    b = DrawdownBreaker(g, DrawdownConfig(max_drawdown=0.1, state=TradingState.REDUCING))
    b.on_equity(1.0, 1)
    b.on_equity(0.5, 2)                              # trips, but cannot lower HALTED
    assert g.state is TradingState.HALTED
    assert g.check_cancel(order()) is D.NONE
    rearmed = []
    ks.on_rearm(lambda: rearmed.append(g.state))
    ks.rearm("checked")
    assert rearmed == [TradingState.ACTIVE] and ks.armed and g.check(order()) is D.NONE


def test_kill_switch_when_tripped_runs_cancel_all_then_flatten_actions_in_order():
    g = make_gate()
    ks = KillSwitch(g, g.clock)
    calls = []
    ks.on_cancel_all(lambda: calls.append("cancel"))
    ks.on_flatten(lambda: calls.append("flatten"))
    ks.on_kill(lambda flatten: calls.append(("kill", flatten)))
    ks.trip(flatten=False)
    assert calls == ["cancel", ("kill", False)]
    calls.clear()
    ks.trip(flatten=True)
    assert calls == ["cancel", "flatten", ("kill", True)]


# -------------------------------------------------------------------------------------------------
# config validation

@pytest.mark.parametrize("make, field", [
    (lambda: DrawdownConfig(max_drawdown=0.0), "max_drawdown"),
    (lambda: DrawdownConfig(max_drawdown=1.5), "max_drawdown"),
    (lambda: LossRateConfig(window_ns=0), "window_ns"),
    (lambda: LossRateConfig(max_loss=float("nan")), "max_loss"),
    (lambda: ConsecutiveLossConfig(max_losses=2.5), "max_losses"),
    (lambda: RejectRateConfig(min_orders=0), "min_orders"),
    (lambda: StaleDataConfig(max_age_ns=-1), "max_age_ns"),
    (lambda: DrawdownConfig(state=TradingState.ACTIVE), "state"),
])
def test_breaker_config_when_a_value_is_wrong_raises_naming_field_and_value(make, field):
    with pytest.raises(ValueError, match=rf"\.{field} = .*expected"):
        make()
