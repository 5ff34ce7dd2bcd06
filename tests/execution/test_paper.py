"""The paper venue on constructed books: every order type and time in force, partial fills,
taker walks and consumed liquidity, queue position, latency ordering on a SimClock, fees,
the cancel/fill race, rejects, reconciliation and determinism.

Recorded-data scenarios are in test_paper_recorded.py; queue models in test_paper_queue.py.
"""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings, strategies as st

from tradecore.book import L2Book
from tradecore.core.clock import SimClock
from tradecore.core.events import BUY, SELL, Trade
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderStatus, OrderType, Side, TimeInForce
from tradecore.execution.fill_model import LatencyModel
from tradecore.execution.paper import TRIGGER_ON_MID, PaperVenue

SYM = "BTCUSDT"
INST = Instrument("paper", SYM, "0.01", "0.001", min_qty="0.002", min_notional="0.5",
                  maker_fee=-0.0001, taker_fee=0.001)
T0 = 1_000_000


class Recorder:
    """A VenueListener that records every answer with the clock time it arrived."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.events: list[tuple] = []

    def _rec(self, *e) -> None:
        self.events.append((self.clock.time_ns(),) + e)

    def on_order_accepted(self, cid, voi, ts):
        self._rec("accepted", cid, ts)

    def on_order_rejected(self, cid, reason, ts):
        self._rec("rejected", cid, reason, ts)

    def on_order_canceled(self, cid, reason, ts):
        self._rec("canceled", cid, ts)

    def on_order_expired(self, cid, ts):
        self._rec("expired", cid, ts)

    def on_order_triggered(self, cid, ts):
        self._rec("triggered", cid, ts)

    def on_cancel_rejected(self, cid, reason, ts):
        self._rec("cancel_rejected", cid, reason, ts)

    def on_fill(self, fill):
        self._rec("fill", fill.client_order_id, fill)

    def kinds(self, cid: str) -> list[str]:
        return [e[1] for e in self.events if e[2] == cid]

    def fills(self, cid: str | None = None) -> list:
        return [e[3] for e in self.events if e[1] == "fill" and (cid is None or e[2] == cid)]


def make_book(bids, asks, tick="0.01", lot="0.001") -> L2Book:
    b = L2Book(tick, lot)
    b.apply_levels(0, bids)
    b.apply_levels(1, asks)
    b.valid = True
    return b


BIDS = [["100.00", "1.000"], ["99.99", "2.000"], ["99.98", "5.000"]]
ASKS = [["100.01", "0.500"], ["100.02", "1.500"], ["100.05", "4.000"]]


def setup(latency=LatencyModel(order_ns=100, ack_ns=50), **kw):
    clock = SimClock(T0)
    venue = PaperVenue("paper", clock, {SYM: INST}, latency, **kw)
    rec = Recorder(clock)
    venue.set_listener(rec)
    book = make_book(BIDS, ASKS)
    venue.on_book(SYM, book)
    return clock, venue, rec, book


def order(cid, side, typ=OrderType.LIMIT, qty=1000, price=0, **kw) -> Order:
    return Order(cid, "paper", SYM, Side(side), typ, qty, price=price, **kw)


def trade(price: str, size: str, aggressor: int) -> Trade:
    return Trade("paper", SYM, price, size, aggressor, "x", 0, 0)


def run(clock: SimClock, dt: int = 10_000) -> None:
    clock.advance_to(clock.time_ns() + dt)


# -- market orders --------------------------------------------------------------------------

def test_market_buy_walks_the_asks_when_larger_than_the_touch():
    clock, venue, rec, _ = setup()
    venue.submit(order("m", BUY, OrderType.MARKET, qty=1200))
    run(clock)
    fills = rec.fills("m")
    assert [(f.price, f.qty) for f in fills] == [(10001, 500), (10002, 700)]
    assert all(f.liquidity == "taker" for f in fills)
    assert fills[0].fee == pytest.approx(100.01 * 0.5 * 0.001)
    assert fills[1].fee == pytest.approx(100.02 * 0.7 * 0.001)
    assert rec.kinds("m") == ["accepted", "fill", "fill"]


def test_market_sell_expires_remainder_when_book_exhausted():
    clock, venue, rec, _ = setup()
    venue.submit(order("m", SELL, OrderType.MARKET, qty=9000))
    run(clock)
    assert sum(f.qty for f in rec.fills("m")) == 8000
    assert [f.price for f in rec.fills("m")] == [10000, 9999, 9998]
    assert rec.kinds("m")[-1] == "expired"


def test_second_market_order_takes_next_levels_when_book_unchanged():
    clock, venue, rec, book = setup()
    venue.submit(order("a", BUY, OrderType.MARKET, qty=400))
    venue.submit(order("b", BUY, OrderType.MARKET, qty=400))
    run(clock)
    assert [(f.price, f.qty) for f in rec.fills("b")] == [(10001, 100), (10002, 300)]
    # a new book state gives the displayed liquidity back
    venue.on_book(SYM, book)
    venue.submit(order("c", BUY, OrderType.MARKET, qty=400))
    run(clock)
    assert [(f.price, f.qty) for f in rec.fills("c")] == [(10001, 400)]


def test_market_order_rejected_when_no_book():
    clock = SimClock(T0)
    venue = PaperVenue("paper", clock, {SYM: INST})
    rec = Recorder(clock)
    venue.set_listener(rec)
    venue.submit(order("m", BUY, OrderType.MARKET, qty=10))
    run(clock)
    assert rec.kinds("m") == ["rejected"]
    assert "no valid book" in rec.events[0][3]


def test_market_fok_expires_without_fills_when_depth_short():
    clock, venue, rec, _ = setup()
    venue.submit(order("f", BUY, OrderType.MARKET, qty=7000, tif=TimeInForce.FOK))
    venue.submit(order("g", BUY, OrderType.MARKET, qty=6000, tif=TimeInForce.FOK))
    run(clock)
    assert rec.kinds("f") == ["accepted", "expired"]
    assert sum(f.qty for f in rec.fills("g")) == 6000


# -- limit orders ---------------------------------------------------------------------------

def test_limit_ioc_fills_up_to_its_price_then_expires():
    clock, venue, rec, _ = setup()
    venue.submit(order("i", BUY, qty=3000, price=10002, tif=TimeInForce.IOC))
    run(clock)
    assert [(f.price, f.qty) for f in rec.fills("i")] == [(10001, 500), (10002, 1500)]
    assert rec.kinds("i")[-1] == "expired"


def test_limit_fok_fills_all_or_nothing_within_its_price():
    clock, venue, rec, _ = setup()
    venue.submit(order("no", BUY, qty=2001, price=10002, tif=TimeInForce.FOK))
    venue.submit(order("yes", BUY, qty=2000, price=10002, tif=TimeInForce.FOK))
    run(clock)
    assert rec.kinds("no") == ["accepted", "expired"]
    assert sum(f.qty for f in rec.fills("yes")) == 2000


def test_crossing_gtc_limit_takes_then_rests_with_nobody_ahead():
    clock, venue, rec, _ = setup()
    venue.submit(order("c", BUY, qty=1000, price=10001))
    run(clock)
    assert [(f.price, f.qty, f.liquidity) for f in rec.fills("c")] == [(10001, 500, "taker")]
    [state] = asyncio.run(venue.open_orders())
    assert (state.client_order_id, state.filled_qty, state.status) == \
        ("c", 500, OrderStatus.PARTIALLY_FILLED)
    # resting at 100.01 above the 100.00 bid: the first seller to hit 100.01 fills it
    venue.on_trade(SYM, trade("100.01", "0.2", SELL))
    run(clock)
    f = rec.fills("c")[-1]
    assert (f.price, f.qty, f.liquidity) == (10001, 200, "maker")
    assert f.fee == pytest.approx(-100.01 * 0.2 * 0.0001)


def test_post_only_rejected_without_acceptance_when_it_would_cross():
    clock, venue, rec, _ = setup()
    venue.submit(order("p", BUY, qty=1000, price=10001, post_only=True))
    venue.submit(order("q", BUY, qty=1000, price=10000, post_only=True))
    run(clock)
    assert rec.kinds("p") == ["rejected"]
    assert rec.kinds("q") == ["accepted"]
    assert rec.fills() == []


# -- queue position -------------------------------------------------------------------------

def test_resting_buy_fills_when_trades_exhaust_the_queue_ahead():
    clock, venue, rec, _ = setup()
    venue.submit(order("q", BUY, qty=1000, price=10000))      # 1.000 displayed ahead
    run(clock)
    venue.on_trade(SYM, trade("100.00", "0.6", SELL))
    run(clock)
    assert rec.fills("q") == []
    venue.on_trade(SYM, trade("100.00", "0.7", SELL))          # 0.4 ahead, 0.3 for us
    run(clock)
    assert [(f.qty, f.liquidity) for f in rec.fills("q")] == [(300, "maker")]
    venue.on_trade(SYM, trade("100.00", "5", SELL))
    run(clock)
    assert sum(f.qty for f in rec.fills("q")) == 1000
    assert asyncio.run(venue.open_orders()) == []


def test_buyer_initiated_trades_at_our_bid_do_not_move_the_queue():
    clock, venue, rec, _ = setup()
    venue.submit(order("q", BUY, qty=1000, price=10000))
    run(clock)
    venue.on_trade(SYM, trade("100.00", "3", BUY))
    run(clock)
    assert rec.fills("q") == []
    venue.on_trade(SYM, trade("100.00", "1.1", SELL))          # 0.1 beyond the 1.0 ahead
    run(clock)
    assert [f.qty for f in rec.fills("q")] == [100]


def test_level_decrease_moves_queue_forward_when_risk_averse():
    clock, venue, rec, book = setup()
    venue.submit(order("q", BUY, qty=1000, price=10000))
    run(clock)
    book.apply(0, 100.00, 0.2)                                 # 0.8 cancelled at our level
    venue.on_book(SYM, book)
    book.apply(0, 100.00, 3.0)                                 # joins go behind us
    venue.on_book(SYM, book)
    venue.on_trade(SYM, trade("100.00", "0.5", SELL))
    run(clock)
    assert [f.qty for f in rec.fills("q")] == [300]


def test_order_behind_the_touch_is_sampled_when_it_reaches_the_touch():
    clock, venue, rec, book = setup()
    venue.submit(order("d", BUY, qty=1000, price=9999))        # 2.000 ahead at 99.99
    run(clock)
    book.apply(0, 99.99, 0.5)                                  # deep: not looked at
    venue.on_book(SYM, book)
    st = venue._syms[SYM]
    assert st.buys[0].ahead == pytest.approx(2000)
    book.apply(0, 100.00, 0.0)                                 # now 99.99 is the touch
    venue.on_book(SYM, book)
    assert st.buys[0].ahead == pytest.approx(500)


def test_trade_through_fills_resting_sell_up_to_trade_size():
    clock, venue, rec, _ = setup()
    venue.submit(order("s", SELL, qty=2000, price=10002))
    run(clock)
    venue.on_trade(SYM, trade("100.03", "0.8", BUY))
    run(clock)
    assert [(f.price, f.qty) for f in rec.fills("s")] == [(10002, 800)]


def test_resting_buy_fills_whole_when_asks_reach_its_price():
    clock, venue, rec, book = setup()
    venue.submit(order("b", BUY, qty=2000, price=9999))
    run(clock)
    book.apply(1, 99.99, 0.1)                                  # ask at our bid
    book.apply(0, 100.00, 0.0)
    book.apply(0, 99.99, 0.0)
    venue.on_book(SYM, book)
    run(clock)
    [f] = rec.fills("b")
    assert (f.price, f.qty, f.liquidity) == (9999, 2000, "maker")
    assert f.fee == pytest.approx(-99.99 * 2 * 0.0001)


def test_our_orders_never_match_each_other():
    clock, venue, rec, _ = setup()
    venue.submit(order("b", BUY, qty=1000, price=10000))
    venue.submit(order("s", SELL, qty=1000, price=10001, post_only=True))
    venue.submit(order("s2", SELL, qty=1000, price=10000, tif=TimeInForce.IOC))
    run(clock)
    assert rec.fills("b") == []
    assert [f.price for f in rec.fills("s2")] == [10000]       # took the real bid, not ours


# -- stops ----------------------------------------------------------------------------------

def test_stop_market_sell_triggers_on_trade_at_or_below_trigger():
    clock, venue, rec, _ = setup()
    venue.submit(order("sl", SELL, OrderType.STOP_MARKET, qty=1500, trigger_price=9999))
    run(clock)
    venue.on_trade(SYM, trade("100.00", "0.1", SELL))
    run(clock)
    assert rec.kinds("sl") == ["accepted"]
    venue.on_trade(SYM, trade("99.99", "0.1", SELL))
    run(clock)
    assert rec.kinds("sl") == ["accepted", "triggered", "fill", "fill"]
    assert [(f.price, f.qty) for f in rec.fills("sl")] == [(10000, 1000), (9999, 500)]


def test_stop_fires_on_arrival_when_last_trade_already_passed_its_trigger():
    clock, venue, rec, _ = setup()
    venue.on_trade(SYM, trade("99.90", "0.1", SELL))           # before any order: remembered
    venue.submit(order("sl", SELL, OrderType.STOP_MARKET, qty=500, trigger_price=9995))
    run(clock)
    assert rec.kinds("sl") == ["accepted", "triggered", "fill"]


def test_stop_limit_buy_rests_at_its_limit_after_trigger():
    clock, venue, rec, _ = setup()
    venue.submit(order("st", BUY, OrderType.STOP_LIMIT, qty=1000, price=10001,
                       trigger_price=10001))
    run(clock)
    venue.on_trade(SYM, trade("100.01", "0.1", BUY))
    run(clock)
    assert rec.kinds("st") == ["accepted", "triggered", "fill"]
    [state] = asyncio.run(venue.open_orders())
    assert state.type == OrderType.STOP_LIMIT and state.filled_qty == 500


def test_take_profit_sell_triggers_when_price_rises_to_it():
    clock, venue, rec, _ = setup()
    venue.submit(order("tp", SELL, OrderType.TAKE_PROFIT, qty=500, trigger_price=10010))
    run(clock)
    venue.on_trade(SYM, trade("100.09", "1", BUY))
    run(clock)
    assert rec.kinds("tp") == ["accepted"]
    venue.on_trade(SYM, trade("100.10", "1", BUY))
    run(clock)
    assert rec.kinds("tp") == ["accepted", "triggered", "fill"]


def test_trailing_stop_sell_follows_the_high_then_triggers():
    clock, venue, rec, _ = setup()
    venue.submit(order("tr", SELL, OrderType.TRAILING_STOP, qty=500, trail_ticks=5))
    run(clock)
    for px in ("100.00", "100.04", "100.10", "100.06"):         # high 100.10, stop 100.05
        venue.on_trade(SYM, trade(px, "0.1", BUY))
    run(clock)
    assert rec.kinds("tr") == ["accepted"]
    venue.on_trade(SYM, trade("100.05", "0.1", SELL))
    run(clock)
    assert rec.kinds("tr")[:2] == ["accepted", "triggered"]


def test_stop_triggers_on_book_mid_when_configured():
    clock, venue, rec, book = setup(trigger_on=TRIGGER_ON_MID)
    venue.submit(order("sl", SELL, OrderType.STOP_MARKET, qty=500, trigger_price=9999))
    run(clock)
    venue.on_trade(SYM, trade("99.00", "1", SELL))              # trades are ignored
    run(clock)
    assert rec.kinds("sl") == ["accepted"]
    book.apply(1, 100.01, 0.0)
    book.apply(1, 100.02, 0.0)
    book.apply(1, 99.99, 1.0)                                  # crossed-looking quote moves mid
    book.apply(0, 100.00, 0.0)
    book.apply(0, 99.99, 0.0)
    venue.on_book(SYM, book)                                   # mid (99.98+99.99)/2 <= 99.99
    run(clock)
    assert rec.kinds("sl")[:2] == ["accepted", "triggered"]


# -- time in force, latency, cancels --------------------------------------------------------

def test_gtd_order_expires_at_its_time():
    clock, venue, rec, _ = setup()
    venue.submit(order("g", BUY, qty=1000, price=9990, tif=TimeInForce.GTD,
                       expire_ns=T0 + 5_000))
    run(clock)
    assert rec.kinds("g") == ["accepted", "expired"]
    expired = [e for e in rec.events if e[1] == "expired"][0]
    assert expired[3] == T0 + 5_000 and expired[0] == T0 + 5_050


def test_gtd_order_rejected_when_expiry_already_passed_on_arrival():
    clock, venue, rec, _ = setup()
    venue.submit(order("g", BUY, qty=1000, price=9990, tif=TimeInForce.GTD,
                       expire_ns=T0 + 50))
    run(clock)
    assert rec.kinds("g") == ["rejected"]


def test_answers_arrive_after_order_and_ack_latency():
    clock, venue, rec, _ = setup(LatencyModel(order_ns=1_000, ack_ns=300))
    venue.submit(order("m", BUY, OrderType.MARKET, qty=100))
    clock.advance_to(T0 + 1_299)
    assert rec.events == []
    clock.advance_to(T0 + 1_300)
    assert [(e[0], e[1]) for e in rec.events] == [(T0 + 1_300, "accepted"), (T0 + 1_300, "fill")]
    assert rec.fills()[0].ts_ns == T0 + 1_000                  # executed at arrival


def test_jitter_never_reorders_messages_and_is_reproducible():
    def go():
        clock, venue, rec, _ = setup(LatencyModel(order_ns=1_000, ack_ns=500,
                                                  jitter_ns=2_000, seed=7))
        for i in range(20):
            venue.submit(order(f"o{i}", BUY, qty=1000, price=9990 + i % 5))
            clock.advance_to(clock.time_ns() + 100)
        run(clock)
        return rec.events
    ev = go()
    assert [e[2] for e in ev] == [f"o{i}" for i in range(20)]
    assert [e[0] for e in ev] == sorted(e[0] for e in ev)
    assert ev == go()


def test_cancel_removes_resting_order_after_latency():
    clock, venue, rec, _ = setup()
    o = order("c", BUY, qty=1000, price=9990)
    venue.submit(o)
    run(clock)
    venue.cancel(o)
    clock.advance_to(clock.time_ns() + 149)
    assert rec.kinds("c") == ["accepted"]
    clock.advance_to(clock.time_ns() + 1)
    assert rec.kinds("c") == ["accepted", "canceled"]
    assert asyncio.run(venue.open_orders()) == []
    assert o.status == OrderStatus.INITIALIZED                 # the venue never touches Order


def test_fill_wins_the_race_when_it_happens_before_the_cancel_arrives():
    clock, venue, rec, _ = setup()
    o = order("r", BUY, qty=500, price=10000)
    venue.submit(o)
    run(clock)
    venue.cancel(o)                                             # reaches the venue in 100 ns
    venue.on_trade(SYM, trade("99.99", "1", SELL))              # ... but the fill is now
    run(clock)
    assert rec.kinds("r") == ["accepted", "fill", "cancel_rejected"]
    assert rec.events[-1][3] == "order already closed"


def test_cancel_of_unknown_order_rejected():
    clock, venue, rec, _ = setup()
    venue.cancel(order("nope", BUY, qty=1, price=1))
    run(clock)
    assert rec.events[0][1:4] == ("cancel_rejected", "nope", "unknown order")


@pytest.mark.parametrize("o,why", [
    (order("a", BUY, qty=0, price=10000), "must be > 0"),
    (order("a", BUY, qty=1, price=10000), "below the minimum 0.002"),
    (order("a", BUY, qty=4, price=10000), "notional"),
    (order("a", BUY, qty=10, price=0), "limit price"),
    (order("a", SELL, OrderType.STOP_MARKET, qty=10), "trigger price"),
    (order("a", SELL, OrderType.TRAILING_STOP, qty=10), "trailing distance"),
    (order("a", SELL, OrderType.MARKET, qty=10, post_only=True), "post-only"),
    (Order("a", "paper", "ETHUSDT", Side.BUY, OrderType.MARKET, 10), "unknown symbol"),
    (Order("a", "other", SYM, Side.BUY, OrderType.MARKET, 10), "sent to"),
], ids=["zero", "min_qty", "min_notional", "no_price", "no_trigger", "no_trail", "post_only",
        "symbol", "venue"])
def test_bad_order_rejected_with_reason(o, why):
    clock, venue, rec, _ = setup()
    venue.submit(o)
    run(clock)
    assert rec.kinds("a") == ["rejected"]
    assert why in rec.events[0][3]
    assert asyncio.run(venue.open_orders()) == []


def test_duplicate_client_id_rejected():
    clock, venue, rec, _ = setup()
    venue.submit(order("d", BUY, qty=1000, price=9990))
    venue.submit(order("d", BUY, qty=1000, price=9991))
    run(clock)
    assert rec.kinds("d") == ["accepted", "rejected"]


def test_constructor_rejects_instrument_of_another_venue():
    with pytest.raises(ValueError, match="expected paper:BTCUSDT"):
        PaperVenue("paper", SimClock(), {SYM: Instrument("binance", SYM, "0.01", "0.001")})


def test_fills_since_returns_fills_for_reconciliation():
    clock, venue, rec, _ = setup()
    venue.submit(order("m", BUY, OrderType.MARKET, qty=1200))
    run(clock)
    t = clock.time_ns()
    venue.submit(order("n", SELL, OrderType.MARKET, qty=100))
    run(clock)
    assert asyncio.run(venue.fills_since(0)) == rec.fills()
    assert [f.client_order_id for f in asyncio.run(venue.fills_since(t))] == ["n"]
    ids = [f.trade_id for f in rec.fills()]
    assert ids == ["paper-1", "paper-2", "paper-3"]


# -- grids ----------------------------------------------------------------------------------

def test_book_on_a_finer_grid_is_converted_exactly():
    # book on 0.001 / 0.0001, instrument on 0.01 / 0.001: an ask at 100.005 is not on the
    # instrument's grid: a buy pays 100.01 (rounded against us); 0.0005 is half a lot (dropped)
    clock = SimClock(T0)
    venue = PaperVenue("paper", clock, {SYM: INST})
    rec = Recorder(clock)
    venue.set_listener(rec)
    book = make_book([["100.000", "1.0000"]], [["100.005", "0.2505"], ["100.020", "1.0000"]],
                     tick="0.001", lot="0.0001")
    venue.on_book(SYM, book)
    venue.submit(order("m", BUY, OrderType.MARKET, qty=300))
    run(clock)
    assert [(f.price, f.qty) for f in rec.fills("m")] == [(10001, 250), (10002, 50)]
    # a resting buy at 100.01 sits between book ticks: asks at 100.009 cross it, 100.011 not
    venue.on_book(SYM, book)
    venue.submit(order("b", BUY, qty=1000, price=10000))
    run(clock)
    book.apply(1, 100.005, 0)
    book.apply(1, 100.001, 0.5)
    venue.on_book(SYM, book)
    run(clock)
    assert rec.fills("b") == []
    book.apply(1, 100.000, 0.5)
    book.apply(0, 100.000, 0)
    venue.on_book(SYM, book)
    run(clock)
    assert [(f.price, f.qty, f.liquidity) for f in rec.fills("b")] == [(10000, 1000, "maker")]


def test_same_inputs_give_the_same_fills():
    def go():
        clock, venue, rec, book = setup(LatencyModel(order_ns=100, ack_ns=50, jitter_ns=80,
                                                     seed=3))
        venue.submit(order("a", BUY, qty=1500, price=10000))
        venue.submit(order("b", SELL, OrderType.MARKET, qty=800))
        venue.submit(order("c", SELL, qty=700, price=10002))
        run(clock)
        for px, q, s in (("100.00", "0.9", SELL), ("100.02", "0.4", BUY),
                         ("99.99", "2", SELL), ("100.03", "1", BUY)):
            venue.on_trade(SYM, trade(px, q, s))
            venue.on_book(SYM, book)
            run(clock, 37)
        run(clock)
        return rec.events
    a = go()
    assert len([e for e in a if e[1] == "fill"]) >= 4
    assert a == go()


# -- taker walk against a plain reference ---------------------------------------------------

def reference_walk(levels: list[tuple[int, int]], orders: list[int]) -> list[list[tuple]]:
    """Book on 0.001 / 0.0001, instrument on 0.01 / 0.001: a level of `lots` book lots offers
    lots // 10 instrument lots, priced at the instrument tick at or above it; what one order
    took is gone for the next (no book update in between)."""
    left = {t: q for t, q in levels}
    out = []
    for want in orders:
        fills = []
        for t in sorted(left):
            avail = left[t] // 10
            take = min(avail, want)
            if take > 0:
                fills.append((-(-t // 10), take))
                left[t] -= take * 10
                want -= take
            if want == 0:
                break
        out.append(fills)
    return out


@settings(max_examples=200, deadline=None)
@given(levels=st.lists(st.tuples(st.integers(100_000, 100_060), st.integers(1, 60)),
                       min_size=1, max_size=8, unique_by=lambda x: x[0]),
       orders=st.lists(st.integers(1, 30), min_size=1, max_size=4))
def test_market_orders_between_updates_follow_the_reference_walk(levels, orders):
    inst = Instrument("paper", SYM, "0.01", "0.001", taker_fee=0.001)
    clock = SimClock(T0)
    venue = PaperVenue("paper", clock, {SYM: inst})
    rec = Recorder(clock)
    venue.set_listener(rec)
    book = L2Book("0.001", "0.0001")
    for t, q in levels:
        book.apply_ticks(1, t, q)
    book.apply_ticks(0, 99_000, 10)
    book.valid = True
    venue.on_book(SYM, book)
    for i, q in enumerate(orders):
        venue.submit(order(f"m{i}", BUY, OrderType.MARKET, qty=q))
    run(clock)
    got = [[(f.price, f.qty) for f in rec.fills(f"m{i}")] for i in range(len(orders))]
    assert got == reference_walk(levels, orders)


@settings(max_examples=200, deadline=None)
@given(trades=st.lists(st.tuples(st.integers(1, 900), st.sampled_from([BUY, SELL])),
                       max_size=12),
       qty=st.integers(5, 3000))        # >= the 0.5 minimum notional at 100
def test_resting_bid_fills_exactly_what_sellers_trade_beyond_the_queue(trades, qty):
    # 1.000 displayed at 100.00 when the bid arrives; book unchanged
    clock, venue, rec, _ = setup()
    venue.submit(order("q", BUY, qty=qty, price=10000))
    run(clock)
    for lots, side in trades:
        venue.on_trade(SYM, trade("100.00", f"{lots / 1000:.3f}", side))
    run(clock)
    sold = sum(lots for lots, side in trades if side == SELL)
    assert sum(f.qty for f in rec.fills("q")) == min(qty, max(0, sold - 1000))
    assert all(f.price == 10000 and f.liquidity == "maker" for f in rec.fills("q"))
