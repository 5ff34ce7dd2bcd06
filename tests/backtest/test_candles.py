"""Candle-based backtests: the conservative fill rule, and no look-ahead."""
from __future__ import annotations

import pytest

from datafiles import shared_file
from tradecore.backtest.candles import LookAheadError, load_candles
from tradecore.config import load
from tradecore.core.orders import OrderStatus, OrderType, Side, TimeInForce
from tradecore.engine import TradingNode
from tradecore.strategies.base import Strategy

H = 3_600_000


def write_csv(path, bars):
    lines = ["ts_ms,datetime_utc,open,high,low,close,volume"]
    for i, (o, h, lo, c) in enumerate(bars):
        lines.append(f"{(i + 1) * H},x,{o},{h},{lo},{c},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def config(tmp_path, bars, strategy_kind=None):
    f = write_csv(tmp_path / "bars.csv", bars)
    return {
        "run": {"mode": "backtest", "quote": "USD", "report_dir": str(tmp_path / "r")},
        "feeds": [{"venue": "v", "exchange": "binance", "symbols": ["X"], "candles": str(f)}],
        "instruments": {"v:X": {"tick": "0.01", "lot": "0.001", "base": "X", "quote": "USD",
                                "maker_fee": 0.0, "taker_fee": 0.001}},
        "paper": {"balances": {"v:USD": 1_000_000, "v:X": 100}},
        "risk": {"symbols": {"v:X": {"price_band": 0.5, "max_mid_age_ns": 0}}},
        "strategies": [],
    }


class Scripted(Strategy):
    """Sends the orders of `plan` (bar number -> order kwargs) when that bar closes."""
    books = (("v", "X"),)

    def __init__(self, plan):
        super().__init__("scripted")
        self.plan = plan
        self.bars = 0
        self.events = []

    def on_bar(self, venue, symbol, ts_ns, o, h, lo, c, v):
        self.bars += 1
        for kw in self.plan.get(self.bars, []):
            self.sent = self.submit(self.order("v", "X", **kw))

    def on_order_event(self, ev):
        self.events.append(ev)


def run(tmp_path, bars, plan):
    node = TradingNode(load(None, config(tmp_path, bars)))
    s = Scripted(plan)
    node.add_strategy(s)
    node.run_candles()
    return node, s


def fills(s):
    return [(e.fill.qty, e.fill.price, e.fill.liquidity) for e in s.events if e.fill]


def test_market_order_fills_at_the_next_open_moved_against_it(tmp_path):
    bars = [(100, 101, 99, 100), (102, 103, 101, 102), (102, 102, 102, 102)]
    node, s = run(tmp_path, bars, {1: [dict(side=Side.BUY, qty=1000, type=OrderType.MARKET,
                                            tif=TimeInForce.IOC)]})
    # decided at bar 1's close, filled at bar 2's open 102 + 1 bp slippage, rounded up
    assert fills(s) == [(1000, 10202, "taker")]
    assert node.exec.portfolio.lots("v", "X") == 1000


def test_resting_limit_fills_only_when_the_bar_trades_through_it(tmp_path):
    bars = [(100, 101, 99, 100), (100, 100.5, 99.0, 100), (100, 100.5, 98.9, 99)]
    node, s = run(tmp_path, bars, {1: [dict(side=Side.BUY, qty=1000, price=9900)]})
    # bar 2 only touches 99.00: no fill; bar 3 trades through: filled at the limit, as maker
    assert fills(s) == [(1000, 9900, "maker")]


def test_stop_fills_at_the_gap_open_when_the_bar_opens_through_the_trigger(tmp_path):
    bars = [(100, 101, 99, 100), (95, 96, 94, 95)]
    node, s = run(tmp_path, bars, {1: [dict(side=Side.SELL, qty=1000,
                                            type=OrderType.STOP_MARKET, trigger_price=9800)]})
    (q, px, liq), = fills(s)
    assert q == 1000 and px <= 9500                  # the open (worse than the trigger)


class Peeker(Strategy):
    """Asks for the bar after the one that just closed."""
    books = (("v", "X"),)

    def on_bar(self, venue, symbol, ts_ns, o, h, lo, c, v):
        self.ctx.bar(venue, symbol, ts_ns)             # the closed bar: allowed
        nxt = self.ctx.bar(venue, symbol, ts_ns + H * 1_000_000)   # not closed yet
        self.submit(self.order("v", "X", Side.BUY if nxt[4] > c else Side.SELL, 1000,
                               type=OrderType.MARKET, tif=TimeInForce.IOC))


def test_a_strategy_that_peeks_at_an_unclosed_bar_is_caught(tmp_path):
    bars = [(100 + i, 101 + i, 99 + i, 100 + i) for i in range(5)]
    node = TradingNode(load(None, config(tmp_path, bars)))
    node.add_strategy(Peeker("peeker"))
    node.run_candles()
    assert node.stats.problems["lookahead:peeker"] == 5     # on every bar
    assert node.stats.orders == 0
    with pytest.raises(LookAheadError):
        node.bar("v", "X", 5 * H * 1_000_000 + H * 1_000_000)


def test_load_candles_refuses_unsorted_timestamps_naming_the_line(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("ts_ms,datetime_utc,open,high,low,close,volume\n2000,x,1,1,1,1,1\n"
                 "1000,x,1,1,1,1,1\n")
    with pytest.raises(ValueError, match="line 3"):
        load_candles(p)


def test_pairs_backtest_over_five_years_of_daily_candles_is_candle_based(tmp_path):
    cb = shared_file("ohlcv/coinbase_BTCUSD_1d_20141201_20191017.csv")
    bs = shared_file("ohlcv/bitstamp_BTCUSD_1d_20141128_20200117.csv")
    inst = {"tick": "0.01", "lot": "0.00000001", "base": "BTC", "quote": "USD",
            "maker_fee": 0.001, "taker_fee": 0.001}
    cfg = load(None, {
        "run": {"mode": "backtest", "quote": "USD"},
        "feeds": [{"venue": "coinbase", "exchange": "coinbase", "symbols": ["BTC-USD"],
                   "candles": str(cb)},
                  {"venue": "bitstamp", "exchange": "coinbase", "symbols": ["BTCUSD"],
                   "candles": str(bs)}],
        "instruments": {"coinbase:BTC-USD": inst, "bitstamp:BTCUSD": inst},
        "paper": {"balances": {"coinbase:USD": 100000, "bitstamp:USD": 100000,
                               "coinbase:BTC": 5}},
        "risk": {"symbols": {"coinbase:BTC-USD": {"price_band": 0.5, "max_mid_age_ns": 0},
                             "bitstamp:BTCUSD": {"price_band": 0.5, "max_mid_age_ns": 0,
                                                 "spot": False}}},
        "strategies": [{"id": "cb_bs", "kind": "pairs", "settings": {
            "leg_y": ["coinbase", "BTC-USD"], "leg_x": ["bitstamp", "BTCUSD"],
            "notional": 20000, "window": 30, "z_window": 30, "max_bars": 30}}],
    })
    from tradecore.backtest.run_recorder import RunRecorder
    node = TradingNode(cfg)
    rec = RunRecorder(node)
    node.run_candles(on_record=rec.on_record)
    s = node.summary()
    assert s["messages"] > 3000 and s["orders"] > 50 and s["fills"] > 50
    res = rec.results("t", "backtest", cfg.raw, ())
    assert res.meta.candle_based and res.trades
