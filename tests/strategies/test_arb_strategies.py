"""The arbitrage strategies against a recording fake of the engine (StrategyContext)."""
from __future__ import annotations

import math

import pytest

from tradecore._fast.book import L2Book
from tradecore.core.clock import SimClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import (DenyReason, Fill, Order, OrderEvent, OrderStatus, OrderType,
                                   Side, TimeInForce, TradingState)
from tradecore.strategies.arb.cross import CrossExchangeArbitrage
from tradecore.strategies.arb.triangular import TriangularArbitrage


class FakeContext:
    """Records submitted orders; denies those whose venue is in `deny`."""

    def __init__(self, instruments: list[Instrument]) -> None:
        self.clock = SimClock(1_000_000_000)
        self.instruments = {i.key: i for i in instruments}
        self.orders: list[Order] = []
        self.deny: set[str] = set()
        self.state = TradingState.ACTIVE

    def instrument(self, venue, symbol):
        return self.instruments[(venue, symbol)]

    def book(self, venue, symbol):
        return None

    def submit(self, order: Order) -> Order:
        if order.venue in self.deny:
            order.status = OrderStatus.DENIED
            order.deny_reason = DenyReason.MAX_POSITION
        else:
            order.status = OrderStatus.SUBMITTED
        self.orders.append(order)
        return order

    def cancel(self, client_order_id):
        raise AssertionError("the arbitrage strategies never cancel IOC legs")

    def position_lots(self, venue, symbol):
        return 0

    def position(self, venue, symbol):
        return None

    def open_orders(self, strategy_id):
        return [o for o in self.orders if o.is_open]

    def trading_state(self):
        return self.state

    def free_balance(self, venue, asset):
        return math.inf


def book(bids, asks, tick="0.01", lot="0.001", ts=1_000_000_000) -> L2Book:
    b = L2Book(tick, lot)
    b.apply_sides(bids, asks)
    b.valid = True
    b.ts_ns = ts
    return b


def fill(order: Order, lots: int, ticks: int, status: OrderStatus, n: int = 1) -> OrderEvent:
    f = Fill(order.client_order_id, order.venue, order.symbol, order.side, lots, ticks, 0.0,
             "taker", f"t{order.client_order_id}-{n}", 0)
    return OrderEvent(order.client_order_id, status, 0, fill=f)


def cross_setup(fee=0.0):
    insts = [Instrument("a", "BTCUSDT", "0.01", "0.001", "BTC", "USDT", taker_fee=fee),
             Instrument("b", "BTCUSDT", "0.01", "0.001", "BTC", "USDT", taker_fee=fee)]
    ctx = FakeContext(insts)
    s = CrossExchangeArbitrage("x", {"venues": [["a", "BTCUSDT"], ["b", "BTCUSDT"]],
                                     "max_qty": 2.0, "min_edge_bps": 0.0})
    s.bind(ctx)
    s.on_start()
    return ctx, s


def test_on_book_sends_two_ioc_legs_when_venues_cross():
    ctx, s = cross_setup()
    s.on_book("a", "BTCUSDT", book([("99.90", "1")], [("100.00", "0.5"), ("100.01", "1")]))
    s.on_book("b", "BTCUSDT", book([("100.05", "1")], [("100.10", "1")]))
    assert s.counters["taken"] == 1
    buy, sell = ctx.orders
    assert (buy.venue, buy.side, buy.tif, buy.qty, buy.price) == ("a", Side.BUY, TimeInForce.IOC,
                                                                  1000, 10001)
    assert (sell.venue, sell.side, sell.qty, sell.price) == ("b", Side.SELL, 1000, 10005)


def test_on_book_when_a_resync_hands_over_a_new_book_trades_on_the_new_one():
    """The strategy knows its books by identity; a new book object for a venue (a resync)
    replaces the old one in the detector, and the old object is forgotten."""
    ctx, s = cross_setup()
    old_a = book([("99.90", "1")], [("100.20", "1")])
    s.on_book("a", "BTCUSDT", old_a)
    s.on_book("b", "BTCUSDT", book([("100.05", "1")], [("100.10", "1")]))
    assert s.counters.get("taken", 0) == 0                 # a asks 100.20: nothing crosses
    new_a = book([("99.90", "1")], [("100.00", "0.5")])
    s.on_book("a", "BTCUSDT", new_a)                       # the resynced book crosses
    assert s.counters["taken"] == 1 and ctx.orders[0].price == 10000
    assert s._slot_of == {new_a: 0, s._bound[1]: 1} and old_a not in s._slot_of


def test_complete_legs_count_realized_pnl():
    ctx, s = cross_setup()
    s.on_book("a", "BTCUSDT", book([("99.90", "1")], [("100.00", "1")]))
    s.on_book("b", "BTCUSDT", book([("100.05", "1")], [("100.10", "1")]))
    buy, sell = ctx.orders
    s.on_order_event(fill(buy, 1000, 10000, OrderStatus.FILLED))
    assert s.group is not None            # still waiting for the sell
    s.on_order_event(fill(sell, 1000, 10005, OrderStatus.FILLED))
    assert s.counters["complete"] == 1 and s.group is None
    assert s.realized == pytest.approx(0.05)


def test_partial_leg_is_unwound_on_the_overfilled_venue_then_cools_down():
    ctx, s = cross_setup()
    s.on_book("a", "BTCUSDT", book([("99.90", "1")], [("100.00", "1")]))
    b = book([("100.05", "1")], [("100.10", "1")])
    s.on_book("b", "BTCUSDT", b)
    buy, sell = ctx.orders
    s.on_order_event(fill(buy, 1000, 10000, OrderStatus.FILLED))
    s.on_order_event(fill(sell, 400, 10005, OrderStatus.EXPIRED))
    unwind = ctx.orders[2]
    assert (unwind.venue, unwind.side, unwind.type, unwind.qty) == ("a", Side.SELL,
                                                                    OrderType.MARKET, 600)
    assert s.counters["failed_leg"] == 1 and s.counters["leg_imbalance"] == 1
    s.on_book("b", "BTCUSDT", b)           # the opportunity is still there: cooling down
    assert s.counters["skip_cooldown"] == 1 and len(ctx.orders) == 3
    ctx.clock.advance_to(ctx.clock.time_ns() + 5_000_000_001)
    b.ts_ns = ctx.clock.time_ns()
    s.on_book("b", "BTCUSDT", b)
    assert s.counters["skip_stale_book"] == 1   # venue a's book is now 5 s old


def test_denied_first_leg_is_counted_with_its_reason_and_nothing_else_is_sent():
    ctx, s = cross_setup()
    ctx.deny.add("a")
    s.on_book("a", "BTCUSDT", book([("99.90", "1")], [("100.00", "1")]))
    s.on_book("b", "BTCUSDT", book([("100.05", "1")], [("100.10", "1")]))
    assert s.counters["skip_risk_denied:MAX_POSITION"] == 1
    assert len(ctx.orders) == 1 and s.group is None


def test_no_order_when_fees_eat_the_edge_or_the_gate_is_halted():
    ctx, s = cross_setup(fee=0.001)
    s.on_book("a", "BTCUSDT", book([("99.90", "1")], [("100.00", "1")]))
    s.on_book("b", "BTCUSDT", book([("100.05", "1")], [("100.10", "1")]))
    assert ctx.orders == [] and "seen" not in s.counters
    ctx2, s2 = cross_setup()
    ctx2.state = TradingState.HALTED
    s2.on_book("a", "BTCUSDT", book([("99.90", "1")], [("100.00", "1")]))
    s2.on_book("b", "BTCUSDT", book([("100.05", "1")], [("100.10", "1")]))
    assert s2.counters["skip_risk_state"] == 1 and ctx2.orders == []


def test_config_errors_name_the_setting():
    with pytest.raises(ValueError, match="unknown setting"):
        CrossExchangeArbitrage("x", {"venues": [["a", "X"], ["b", "X"]], "maxqty": 1})
    with pytest.raises(ValueError, match="venues"):
        CrossExchangeArbitrage("x", {"venues": [["a", "X"]]})
    with pytest.raises(ValueError, match="min_edge"):
        CrossExchangeArbitrage("x", {"venues": [["a", "X"], ["b", "X"]], "min_edge": -1})


def tri_setup():
    insts = [Instrument("v", "BTCUSDT", "0.01", "0.00001", "BTC", "USDT"),
             Instrument("v", "ETHUSDT", "0.01", "0.0001", "ETH", "USDT"),
             Instrument("v", "ETHBTC", "0.00001", "0.0001", "ETH", "BTC")]
    ctx = FakeContext(insts)
    s = TriangularArbitrage("t", {"venue": "v", "symbols": ["BTCUSDT", "ETHUSDT", "ETHBTC"],
                                  "max_start": 10_000.0})
    s.bind(ctx)
    s.on_start()
    return ctx, s


def test_triangle_sends_three_legs_when_the_cross_is_mispriced():
    ctx, s = tri_setup()
    assert s.state["cycles"] == 2
    s.on_book("v", "BTCUSDT", book([("60000.00", "10")], [("60001.00", "10")], lot="0.00001"))
    s.on_book("v", "ETHUSDT", book([("2999.90", "10")], [("3000.00", "10")], lot="0.0001"))
    s.on_book("v", "ETHBTC", book([("0.05020", "1")], [("0.05030", "1")], "0.00001", "0.0001"))
    assert s.counters["taken"] == 1
    l1, l2, l3 = ctx.orders
    assert (l1.symbol, l1.side, l1.qty, l1.price) == ("ETHUSDT", Side.BUY, 10000, 300000)
    assert (l2.symbol, l2.side, l2.qty, l2.price) == ("ETHBTC", Side.SELL, 10000, 5020)
    assert (l3.symbol, l3.side, l3.qty, l3.price) == ("BTCUSDT", Side.SELL, 5020, 6000000)


def test_triangle_unwinds_leftovers_into_the_start_currency_after_a_partial_leg():
    ctx, s = tri_setup()
    s.on_book("v", "BTCUSDT", book([("60000.00", "10")], [("60001.00", "10")], lot="0.00001"))
    s.on_book("v", "ETHUSDT", book([("2999.90", "10")], [("3000.00", "10")], lot="0.0001"))
    s.on_book("v", "ETHBTC", book([("0.05020", "1")], [("0.05030", "1")], "0.00001", "0.0001"))
    l1, l2, l3 = ctx.orders
    s.on_order_event(fill(l1, 10000, 300000, OrderStatus.FILLED))     # +1 ETH
    s.on_order_event(fill(l2, 5000, 5020, OrderStatus.EXPIRED))       # -0.5 ETH, +0.0251 BTC
    s.on_order_event(fill(l3, 5020, 6000000, OrderStatus.FILLED))     # -0.0502 BTC
    assert s.counters["failed_leg"] == 1
    unwinds = {o.symbol: o for o in ctx.orders[3:]}
    assert unwinds["ETHUSDT"].side == Side.SELL and unwinds["ETHUSDT"].qty == 5000
    assert unwinds["BTCUSDT"].side == Side.BUY and unwinds["BTCUSDT"].qty == 2510
