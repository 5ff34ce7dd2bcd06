"""summarize() on a constructed run (breakdowns, exit reasons, denials, null rule, redaction),
the data model's input checks, and the summary of the real-data fixture run."""
from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from tradecore.backtest import metrics as m
from tradecore.backtest.results import (REDACTED, Denial, EquityCurve, FillRecord, Results,
                                        RoundTrip, RunMeta, dumps, json_safe, redact, summarize)
from tradecore.core.instrument import Instrument
from tradecore.core.orders import DenyReason, Fill, Order, OrderType, Side

DAY = m.NS_PER_DAY


def _rt(strategy, symbol, pnl, fees, reason, t0=0, t1=DAY):
    return RoundTrip(strategy, "binance", symbol, 1, 1.0, t0, 100.0, t1, 100.0 + pnl + fees,
                     pnl, fees, reason)


@pytest.fixture()
def small_run() -> Results:
    trades = [
        _rt("A", "BTCUSDT", 100.0, 10.0, "signal", 0, DAY),          # gross 110
        _rt("A", "ETHUSDT", -50.0, 5.0, "stop-loss", DAY // 2, 2 * DAY),
        _rt("B", "BTCUSDT", 30.0, 3.0, "signal", 3 * DAY, 4 * DAY),
    ]
    fills = [FillRecord(0, "A", "binance", "BTCUSDT", 1, 1.0, 100.0, 4.0),
             FillRecord(DAY, "A", "binance", "BTCUSDT", -1, 1.0, 210.0, 6.0),
             FillRecord(DAY // 2, "A", "binance", "ETHUSDT", 1, 1.0, 100.0, 2.5),
             FillRecord(2 * DAY, "A", "binance", "ETHUSDT", -1, 1.0, 55.0, 2.5),
             FillRecord(3 * DAY, "B", "binance", "BTCUSDT", 1, 1.0, 100.0, 1.5),
             FillRecord(4 * DAY, "B", "binance", "BTCUSDT", -1, 1.0, 133.0, 1.5)]
    denials = [Denial(DAY, "A", "binance", "BTCUSDT", "MAX_POSITION"),
               Denial(DAY, "A", "binance", "BTCUSDT", "MAX_POSITION"),
               Denial(2 * DAY, "B", "binance", "ETHUSDT", "ORDER_RATE")]
    ts = np.arange(6, dtype=np.int64) * DAY
    eq = np.array([1000.0, 1100.0, 1050.0, 1050.0, 1080.0, 1080.0])
    meta = RunMeta("r1", "backtest", config={"Venue": {"API_KEY": "k", "passphrase": ""},
                                             "fee": 0.001})
    return Results(meta, EquityCurve(ts, eq), trades, fills, denials,
                   {"tick -> order": np.array([1000, 2000, 3000, 4000]),
                    "never sampled": np.array([], dtype=np.int64)})


def test_summarize_when_two_strategies_trade_two_symbols(small_run):
    s = summarize(small_run)
    t = s["trades"]
    assert (t["trades"], t["wins"], t["losses"]) == (3, 2, 1)
    assert t["net_pnl"] == pytest.approx(80.0)
    assert t["gross_pnl"] == pytest.approx(98.0)
    assert t["fees_paid"] == pytest.approx(18.0)                  # from the fills
    assert t["profit_factor"] == pytest.approx(130 / 50)
    assert t["traded_notional"] == pytest.approx(100 + 210 + 100 + 55 + 100 + 133)
    assert t["turnover"] == pytest.approx(698 / np.mean([1000, 1100, 1050, 1050, 1080, 1080]))
    # in the market [0, 2d] and [3d, 4d] of a 5-day run
    assert t["exposure"] == pytest.approx(3 / 5)

    a, b = s["by_strategy"]["A"], s["by_strategy"]["B"]
    assert (a["trades"], a["net_pnl"], a["fees_paid"]) == (2, 50.0, 15.0)
    assert a["profit_factor"] == pytest.approx(2.0)
    assert (b["trades"], b["net_pnl"], b["fees_paid"]) == (1, 30.0, 3.0)
    assert b["profit_factor"] == math.inf                         # no losing trade
    btc, eth = s["by_symbol"]["binance:BTCUSDT"], s["by_symbol"]["binance:ETHUSDT"]
    assert (btc["trades"], btc["net_pnl"], eth["trades"], eth["net_pnl"]) == (2, 130.0, 1, -50.0)

    assert s["exit_reasons"] == {"signal": {"trades": 2, "net_pnl": 130.0, "win_rate": 1.0},
                                 "stop-loss": {"trades": 1, "net_pnl": -50.0, "win_rate": 0.0}}
    assert s["denials"] == {"total": 3, "by_reason": {"MAX_POSITION": 2, "ORDER_RATE": 1},
                            "by_strategy": {"A": {"MAX_POSITION": 2}, "B": {"ORDER_RATE": 1}}}
    assert s["latency_ns"]["tick -> order"]["p50"] == pytest.approx(2500.0)
    assert s["edge"]["survived_fees"] and not s["edge"]["eaten_by_fees"]


def test_summarize_returns_section_when_equity_is_daily(small_run):
    r = summarize(small_run)["returns"]
    eq = small_run.equity.equity
    daily = eq[1:] / eq[:-1] - 1
    # one return per UTC day spanned: the first day (its only sample is the open) returns 0
    rets = np.concatenate(([0.0], daily))
    assert summarize(small_run)["period"]["return_periods"] == 6
    assert r["total_return"] == pytest.approx(0.08)
    assert r["sharpe"] == pytest.approx(m.sharpe_ratio(rets, 365))
    assert r["max_drawdown"] == pytest.approx(1050 / 1100 - 1)
    assert r["max_drawdown_duration_days"] == pytest.approx(4.0)   # peak day 1, still below
    assert r["max_drawdown_recovered"] is False
    assert r["calmar"] == pytest.approx(r["annualized_return"] / abs(r["max_drawdown"]))


def test_dumps_writes_null_when_a_metric_is_undefined_or_infinite(small_run):
    doc = orjson.loads(dumps(summarize(small_run)))
    assert doc["by_strategy"]["B"]["profit_factor"] is None        # inf
    assert doc["by_strategy"]["B"]["average_loss"] is None         # nan: no loss
    assert doc["latency_ns"]["never sampled"] == {"count": 0, "p50": None, "p90": None,
                                                  "p99": None, "p99_9": None, "mean": None,
                                                  "max": None}
    assert doc["trades"]["profit_factor"] == pytest.approx(2.6)


def test_summarize_when_equity_is_flat_gives_null_ratios():
    ts = np.arange(5, dtype=np.int64) * DAY
    res = Results(RunMeta("flat", "paper"), EquityCurve(ts, np.full(5, 500.0)))
    doc = orjson.loads(dumps(summarize(res)))
    r = doc["returns"]
    assert (r["sharpe"], r["sortino"], r["calmar"]) == (None, None, None)
    assert (r["total_return"], r["max_drawdown"]) == (0.0, 0.0)
    assert doc["trades"]["trades"] == 0 and doc["trades"]["win_rate"] is None
    assert doc["trades"]["exposure"] == 0.0
    assert doc["denials"]["total"] == 0


def test_edge_is_eaten_by_fees_when_gross_is_positive_and_net_is_not():
    t = [_rt("S", "BTCUSDT", -2.0, 5.0, "signal"), _rt("S", "BTCUSDT", 1.0, 5.0, "signal")]
    ts = np.array([0, DAY], dtype=np.int64)
    e = summarize(Results(RunMeta("f", "backtest"), EquityCurve(ts, [100.0, 99.0]), t))["edge"]
    assert e["gross_pnl"] == pytest.approx(9.0) and e["net_pnl"] == pytest.approx(-1.0)
    assert e["eaten_by_fees"] and not e["survived_fees"]
    assert e["fees_over_gross"] == pytest.approx(10 / 9)


def test_json_safe_when_values_are_numpy_and_non_finite():
    out = json_safe({"a": np.float64("nan"), "b": [np.int64(3), -math.inf], 4: np.arange(2)})
    assert out == {"a": None, "b": [3, None], "4": [0, 1]}
    with pytest.raises(TypeError, match="cannot serialise object"):
        json_safe({"x": object()})


# --------------------------------------------------------------------------- redaction

def test_redact_when_secret_keys_are_nested_in_dicts_and_lists():
    cfg = {"venues": [{"name": "binance", "apiKey": "AK", "API_SECRET": "S",
                       "ws": {"listen_token": "T"}}],
           "db": {"Password": "pw", "user": "u"}, "okx": {"passphrase": "pp"},
           "keys_file": "/etc/k", "unset_secret": None, "empty_token": "", "fee": 0.001}
    out = redact(cfg)
    assert out == {"venues": [{"name": "binance", "apiKey": REDACTED, "API_SECRET": REDACTED,
                               "ws": {"listen_token": REDACTED}}],
                   "db": {"Password": REDACTED, "user": "u"}, "okx": {"passphrase": REDACTED},
                   "keys_file": REDACTED, "unset_secret": None, "empty_token": "", "fee": 0.001}
    assert cfg["venues"][0]["apiKey"] == "AK"                        # the input is untouched


def test_summarize_redacts_when_the_caller_forgot(small_run):
    blob = dumps(summarize(small_run))
    doc = orjson.loads(blob)
    assert doc["run"]["config"] == {"Venue": {"API_KEY": REDACTED, "passphrase": ""},
                                    "fee": 0.001}
    assert b'"k"' not in blob


# --------------------------------------------------------------------------- data model

def test_round_trip_raises_when_side_or_times_are_wrong():
    with pytest.raises(ValueError, match="side must be"):
        RoundTrip("s", "v", "X", 0, 1.0, 0, 1.0, 1, 1.0, 0.0, 0.0, "signal")
    with pytest.raises(ValueError, match="before entry_ts_ns"):
        RoundTrip("s", "v", "X", 1, 1.0, 5, 1.0, 1, 1.0, 0.0, 0.0, "signal")


def test_equity_curve_raises_when_equity_is_not_positive_or_misaligned():
    with pytest.raises(ValueError, match="finite and > 0.*index 1"):
        EquityCurve(np.array([0, 1], dtype=np.int64), [1.0, -1.0])
    with pytest.raises(ValueError, match="2 timestamps"):
        EquityCurve(np.array([0, 1], dtype=np.int64), [1.0])
    with pytest.raises(ValueError, match="int64 ns"):
        EquityCurve(np.array([0.0, 1.0]), [1.0, 1.0])


def test_fill_record_from_core_when_converting_ticks_and_lots():
    inst = Instrument("binance", "BTCUSDT", tick="0.01", lot="0.00001")
    f = Fill("c1", "binance", "BTCUSDT", Side.SELL, qty=150, price=6_000_012, fee=0.09,
             liquidity="maker", trade_id="t1", ts_ns=7)
    r = FillRecord.from_core(f, inst, "mm")
    assert (r.side, r.qty, r.price, r.fee, r.liquidity) == (-1, 0.0015, 60000.12, 0.09, "maker")
    assert r.notional == pytest.approx(0.0015 * 60000.12)
    with pytest.raises(ValueError, match="instrument is"):
        FillRecord.from_core(f, Instrument("okx", "BTC-USDT", tick="0.1", lot="1"), "mm")


def test_denial_from_order_when_the_risk_gate_refused_it():
    o = Order("c9", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 5, 100, strategy_id="s",
              deny_reason=DenyReason.MAX_POSITION, reason_text="limit 3", ts_created_ns=11)
    assert Denial.from_order(o) == Denial(11, "s", "binance", "BTCUSDT", "MAX_POSITION",
                                          "limit 3")
    o.deny_reason = DenyReason.NONE
    with pytest.raises(ValueError, match="no deny reason"):
        Denial.from_order(o)


# --------------------------------------------------------------------------- real data

@pytest.mark.parametrize("run", ["binance_run", "synthetic_run"])
def test_summarize_is_consistent_when_the_fixture_trades_candles(run, request):
    res = request.getfixturevalue(run)
    s = summarize(res)
    t = s["trades"]
    assert t["trades"] == len(res.trades) > 10
    assert t["fills"] == 2 * t["trades"]
    assert sum(g["trades"] for g in s["by_strategy"].values()) == t["trades"]
    assert sum(g["trades"] for g in s["by_symbol"].values()) == t["trades"]
    assert sum(g["net_pnl"] for g in s["by_symbol"].values()) == pytest.approx(t["net_pnl"])
    assert sum(g["fees_paid"] for g in s["by_strategy"].values()) == pytest.approx(t["fees_paid"])
    assert sum(v["trades"] for v in s["exit_reasons"].values()) == t["trades"]
    # net = gross - fees, and equity moved by exactly the net PnL of the closed round trips
    assert t["net_pnl"] == pytest.approx(t["gross_pnl"] - t["fees_paid"])
    eq = res.equity.equity
    assert eq[-1] - eq[0] == pytest.approx(t["net_pnl"], abs=1e-6)
    assert 0 < t["exposure"] < 1
    assert s["returns"]["max_drawdown"] < 0


@pytest.mark.shared_data
def test_summarize_when_the_fixture_trades_the_may_2021_candles(binance_run):
    s = summarize(binance_run)
    t = s["trades"]
    assert t["trades"] == len(binance_run.trades) > 10
    assert t["fills"] == 2 * t["trades"]
    assert set(s["by_symbol"]) == {"binance:BTCUSDT", "binance:ETHUSDT"}
    assert set(s["by_strategy"]) == {"sma_6_24", "sma_12_48"}
    assert s["exit_reasons"]["end of run"]["trades"] <= 4
    assert s["denials"]["by_reason"].keys() == {"MAX_POSITION"}
    assert s["period"]["return_periods"] == 31          # 2021-04-26 .. 2021-05-26, UTC days
    assert s["run"]["config"]["venue"] == {"api_key": REDACTED, "api_secret": REDACTED}
