"""PairsTrading with a fake StrategyContext: its signal is the batch signal, its orders are the
legs sized by the hedge ratio on the lot grid, and every skip is counted with its reason."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tradecore.core.clock import SimClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import (DenyReason, Order, OrderStatus, OrderType, Side, TimeInForce,
                                   TradingState)
from tradecore.strategies.stat.batch import pair_signals
from tradecore.strategies.stat.kernels import R_ENTER, R_EXIT, R_SKIP_STOP, R_STOP, R_TIME
from tradecore.strategies.stat.params import PairParams
from tradecore.strategies.stat.strategy import PairsTrading

ETH, BTC = ("binance", "ETHUSDT"), ("binance", "BTCUSDT")
HOUR = 3_600_000_000_000


class FakeBook:
    def __init__(self, bid: float, ask: float, valid: bool = True) -> None:
        self.bid, self.ask, self.valid = bid, ask, valid

    def best_bid(self):
        return (self.bid, 1.0)

    def best_ask(self):
        return (self.ask, 1.0)

    def mid(self):
        return (self.bid + self.ask) / 2


class FakeContext:
    """The StrategyContext protocol: orders are recorded and, unless denied, filled at once."""

    def __init__(self) -> None:
        self.clock = SimClock(1_600_000_000 * 10**9)
        self.instruments = {
            ETH: Instrument("binance", "ETHUSDT", tick="0.01", lot="0.0001", min_qty="0.0001",
                            taker_fee=0.001),
            BTC: Instrument("binance", "BTCUSDT", tick="0.01", lot="0.00001", min_qty="0.00001",
                            taker_fee=0.001)}
        self.books: dict = {}
        self.orders: list[Order] = []
        self.positions = {ETH: 0, BTC: 0}
        self.state = TradingState.ACTIVE
        self.deny: dict = {}
        self.fill = True

    def instrument(self, venue, symbol):
        return self.instruments[(venue, symbol)]

    def book(self, venue, symbol):
        return self.books.get((venue, symbol))

    def submit(self, order: Order) -> Order:
        self.orders.append(order)
        key = (order.venue, order.symbol)
        if key in self.deny:
            order.status = OrderStatus.DENIED
            order.deny_reason = self.deny[key]
            return order
        order.status = OrderStatus.SUBMITTED
        if self.fill:
            self.positions[key] += order.signed_qty
            order.filled_qty = order.qty
            order.status = OrderStatus.FILLED
        return order

    def cancel(self, client_order_id):
        raise AssertionError("PairsTrading never cancels (its orders are IOC)")

    def position_lots(self, venue, symbol):
        return self.positions[(venue, symbol)]

    def position(self, venue, symbol):
        return None

    def open_orders(self, strategy_id):
        return [o for o in self.orders if o.is_open]

    def trading_state(self):
        return self.state

    def free_balance(self, venue, asset):
        return math.inf


CONFIG = {"leg_y": list(ETH), "leg_x": list(BTC), "notional": 10_000.0, "window": 168,
          "z_window": 72, "max_bars": 72, "slippage_ticks": 2}


def make(ctx: FakeContext | None = None, **over) -> tuple[PairsTrading, FakeContext]:
    s = PairsTrading("pairs1", {**CONFIG, **over})
    ctx = ctx or FakeContext()
    s.bind(ctx)
    return s, ctx


def feed(s: PairsTrading, al, upto: int | None = None, start: int = 0) -> None:
    ts = al.ts_ms * 1_000_000
    for t in range(start, upto if upto is not None else ts.size):
        cb = float(al.close(BTC)[t])
        ce = float(al.close(ETH)[t])
        s.ctx.clock.advance_to(int(ts[t]) + HOUR)
        s.on_bar(*BTC, int(ts[t]), cb, cb, cb, cb, 1.0)      # x first, then y: order is free
        s.on_bar(*ETH, int(ts[t]), ce, ce, ce, ce, 1.0)


def first(reasons: np.ndarray, code: int) -> int:
    return int(np.flatnonzero(reasons == code)[0])


@pytest.mark.shared_data
def test_strategy_trades_exactly_the_batch_signal_when_fed_real_hourly_bars(btc_eth_1h) -> None:
    s, ctx = make()
    feed(s, btc_eth_1h)
    sig = pair_signals(btc_eth_1h.close(ETH), btc_eth_1h.close(BTC), s.params)
    n = {c: int((sig.reason == c).sum()) for c in (R_ENTER, R_EXIT, R_STOP, R_TIME, R_SKIP_STOP)}
    c = s.counters
    assert c["bars"] == btc_eth_1h.ts_ms.size
    assert c["seen: entry"] == n[R_ENTER] + n[R_SKIP_STOP]
    assert c["taken: entry"] == n[R_ENTER] > 10
    assert c.get("skipped: |z| beyond stop_z", 0) == n[R_SKIP_STOP]
    assert c.get("taken: exit exit", 0) == n[R_EXIT]
    assert c.get("taken: exit stop", 0) == n[R_STOP]
    assert c.get("taken: exit time", 0) == n[R_TIME]
    exits = n[R_EXIT] + n[R_STOP] + n[R_TIME]
    assert len(ctx.orders) == 2 * (n[R_ENTER] + exits)
    # the first entry: both legs, sized by the batch hedge ratio at that bar, floored to lots
    t = first(sig.reason, R_ENTER)
    b, pe, pb = sig.beta[t], btc_eth_1h.close(ETH)[t], btc_eth_1h.close(BTC)[t]
    oy, ox = ctx.orders[0], ctx.orders[1]
    ny = 10_000 / (1 + abs(b))
    assert (oy.venue, oy.symbol) == ETH and (ox.venue, ox.symbol) == BTC
    assert oy.qty == math.floor(ny / pe / 0.0001)
    assert ox.qty == math.floor(abs(b) * ny / pb / 0.00001)
    side_y = Side.BUY if sig.pos[t] > 0 else Side.SELL
    assert oy.side == side_y and ox.side == (Side(-side_y) if b > 0 else side_y)
    assert all(o.type == OrderType.MARKET and o.tif == TimeInForce.IOC for o in ctx.orders)
    assert not any(o.reduce_only for o in ctx.orders[:2])
    # the exits close what was held: flat at the end unless the last trade is still open
    if sig.pos[-1] == 0:
        assert ctx.positions == {ETH: 0, BTC: 0}
    assert s.state["z"] == pytest.approx(sig.z[-1], abs=1e-9)


@pytest.mark.shared_data
def test_orders_are_ioc_limits_at_the_opposite_touch_when_books_exist(btc_eth_1h) -> None:
    s, ctx = make()
    ctx.books = {ETH: FakeBook(2000.00, 2000.05), BTC: FakeBook(30000.10, 30000.20)}
    sig = pair_signals(btc_eth_1h.close(ETH), btc_eth_1h.close(BTC), s.params)
    feed(s, btc_eth_1h, upto=first(sig.reason, R_ENTER) + 1)
    assert len(ctx.orders) == 2
    for o in ctx.orders:
        assert o.type == OrderType.LIMIT and o.tif == TimeInForce.IOC
        bk = ctx.books[(o.venue, o.symbol)]
        touch = bk.ask if o.side == Side.BUY else bk.bid
        assert o.price == round(touch / 0.01) + 2 * int(o.side)     # 2 ticks through the touch


@pytest.mark.shared_data
def test_entry_is_skipped_with_the_state_when_trading_is_reducing(btc_eth_1h) -> None:
    s, ctx = make()
    ctx.state = TradingState.REDUCING
    feed(s, btc_eth_1h)
    assert s.counters["skipped: trading state REDUCING"] == s.counters["seen: entry"] - \
        s.counters.get("skipped: |z| beyond stop_z", 0)
    assert ctx.orders == [] and "taken: entry" not in s.counters
    assert s.counters["skipped: exit signal while flat (its entry was not taken)"] > 0


@pytest.mark.shared_data
def test_entry_is_skipped_when_a_leg_rounds_below_one_lot(btc_eth_1h) -> None:
    s, ctx = make(notional=0.2)                          # 0.1 USDT of BTC < one 0.00001 lot
    feed(s, btc_eth_1h, upto=600)
    assert s.counters["skipped: size below one lot or the minimum quantity"] >= 1
    assert ctx.orders == []


@pytest.mark.shared_data
def test_entry_is_skipped_when_the_risk_gate_denies_leg_y(btc_eth_1h) -> None:
    s, ctx = make()
    ctx.deny[ETH] = DenyReason.MAX_POSITION
    sig = pair_signals(btc_eth_1h.close(ETH), btc_eth_1h.close(BTC), s.params)
    feed(s, btc_eth_1h, upto=first(sig.reason, R_ENTER) + 1)
    assert s.counters["skipped: leg y denied (MAX_POSITION)"] == 1
    assert [(o.symbol, o.status) for o in ctx.orders] == [("ETHUSDT", OrderStatus.DENIED)]


@pytest.mark.shared_data
def test_leg_y_is_flattened_at_the_next_bar_when_leg_x_is_denied(btc_eth_1h) -> None:
    s, ctx = make()
    ctx.deny[BTC] = DenyReason.MAX_GROSS_EXPOSURE
    sig = pair_signals(btc_eth_1h.close(ETH), btc_eth_1h.close(BTC), s.params)
    t = first(sig.reason, R_ENTER)
    feed(s, btc_eth_1h, upto=t + 1)
    assert s.side == 0 and ctx.positions[ETH] != 0 and ctx.positions[BTC] == 0
    assert any(k.startswith("leg risk: leg x denied (MAX_GROSS_EXPOSURE)") for k in s.counters)
    feed(s, btc_eth_1h, start=t + 1, upto=t + 2)
    last = ctx.orders[-1]
    assert last.symbol == "ETHUSDT" and last.reduce_only and last.tag == "pairs-flatten"
    assert ctx.positions[ETH] == 0 and s.counters["taken: flatten residual"] == 1


def test_bars_without_the_other_leg_and_stale_bars_are_counted_not_used() -> None:
    s, ctx = make(window=5, z_window=5)
    s.on_bar(*ETH, 1 * HOUR, 1, 1, 1, 2000.0, 1)
    s.on_bar(*ETH, 2 * HOUR, 1, 1, 1, 2001.0, 1)         # the 1h ETH bar never paired
    s.on_bar(*BTC, 2 * HOUR, 1, 1, 1, 30000.0, 1)
    assert s.model.bars == 1 and s.counters["skipped: bar without the other leg"] == 1
    s.on_bar(*BTC, 2 * HOUR, 1, 1, 1, 30000.0, 1)        # again: at the last paired bar
    assert s.counters["skipped: stale bar (at or before the last paired bar)"] == 1
    s.on_bar(*BTC, 4 * HOUR, 1, 1, 1, 30010.0, 1)
    s.on_bar(*ETH, 3 * HOUR, 1, 1, 1, 2002.0, 1)         # ETH 3h arrives after BTC 4h: late
    s.on_bar(*ETH, 4 * HOUR, 1, 1, 1, 2003.0, 1)
    assert s.model.bars == 2 and s.counters["skipped: bar without the other leg"] == 2
    s.on_bar(*ETH, 6 * HOUR, 1, 1, 1, 2004.0, 1)
    s.on_bar(*ETH, 5 * HOUR, 1, 1, 1, 2005.0, 1)         # out of order within the leg
    assert s.counters["skipped: stale bar (older than this leg's pending bar)"] == 1
    assert s._pending == {ETH: (6 * HOUR, 2004.0)}


def test_bad_bar_is_refused_with_a_clear_error_and_changes_nothing() -> None:
    s, ctx = make(window=5, z_window=5)
    with pytest.raises(ValueError, match=r"close nan of \('binance', 'ETHUSDT'\)"):
        s.on_bar(*ETH, HOUR, 1, 1, 1, math.nan, 1)
    with pytest.raises(ValueError, match=r"not a leg"):
        s.on_bar("binance", "SOLUSDT", HOUR, 1, 1, 1, 1.0, 1)
    assert s._pending == {} and s.model.bars == 0


def test_book_mids_become_bars_at_each_interval() -> None:
    s, ctx = make(window=5, z_window=5, bar_interval_s=60)
    books = {ETH: FakeBook(2000.0, 2000.2), BTC: FakeBook(30000.0, 30000.2)}
    t0 = (ctx.clock.time_ns() // 60_000_000_000 + 1) * 60_000_000_000
    for minute in range(4):
        for sec in (5, 30, 55):
            ctx.clock.advance_to(t0 + minute * 60_000_000_000 + sec * 1_000_000_000)
            for k, b in books.items():
                b.bid += 0.5
                b.ask += 0.5
                s.on_book(*k, b)
    # minutes 0, 1 and 2 were closed by the first update of the next minute; 3 is still open
    assert s.model.bars == 3 and s.counters["bars"] == 3
    assert s.state["ts_ns"] == t0 + 2 * 60_000_000_000


def test_config_errors_name_the_key_and_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"'notional' is missing"):
        PairsTrading("p", {"leg_y": list(ETH), "leg_x": list(BTC)})
    with pytest.raises(ValueError, match=r"leg_x: 'BTCUSDT', expected \[venue, symbol\]"):
        PairsTrading("p", {**CONFIG, "leg_x": "BTCUSDT"})
    with pytest.raises(ValueError, match=r"unknown keys \['windw'\]"):
        PairsTrading("p", {**CONFIG, "windw": 10})
    with pytest.raises(ValueError, match=r"hedge"):
        PairsTrading("p", {**CONFIG, "hedge": "tls"})


def test_params_come_from_the_config() -> None:
    s, _ = make(hedge="kalman", delta=1e-5, entry_z=1.5)
    assert s.params == PairParams(hedge="kalman", window=168, z_window=72, max_bars=72,
                                  delta=1e-5, entry_z=1.5)
    assert s.books == (ETH, BTC)


def test_live_path_imports_neither_numba_nor_statsmodels() -> None:
    import subprocess
    import sys
    code = ("import sys, tradecore.strategies.stat.strategy; "
            "print('numba' in sys.modules, 'statsmodels' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve()
                                                .parents[3] / "src")})
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.shared_data
def test_orders_price_off_a_real_l2book_and_go_market_when_it_is_invalid(btc_eth_1h) -> None:
    from tradecore._fast.book import L2Book
    s, ctx = make(slippage_ticks=1)
    eth = L2Book(tick_size=0.01, lot_size=0.0001)
    eth.load_snapshot([2000.00, 1999.99], [1.0, 2.0], [2000.03, 2000.04], [1.0, 2.0])
    btc = L2Book(tick_size=0.01, lot_size=0.00001)
    btc.load_snapshot([30000.10], [1.0], [30000.20], [1.0])
    btc.valid = False                                    # e.g. after a sequence gap
    ctx.books = {ETH: eth, BTC: btc}
    sig = pair_signals(btc_eth_1h.close(ETH), btc_eth_1h.close(BTC), s.params)
    feed(s, btc_eth_1h, upto=first(sig.reason, R_ENTER) + 1)
    oy, ox = ctx.orders
    assert oy.type == OrderType.LIMIT
    assert oy.price == (200004 if oy.side == Side.BUY else 199999)   # ask + 1 / bid - 1 tick
    assert ox.type == OrderType.MARKET and ox.tif == TimeInForce.IOC
