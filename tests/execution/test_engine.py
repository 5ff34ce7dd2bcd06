"""The execution engine: gate verdicts, the journal before the send, venue answers, direct event
delivery, the kill switch, protective stops, and the anchors' known failures (stop quantity after
a partial take-profit, stop after the position closed, fills during a disconnect, kill switch
with orders in flight)."""
from __future__ import annotations

import pytest

from _oms_fakes import FakeVenue, make_engine, order
from tradecore.book import L2Book
from tradecore.core.events import Trade
from tradecore.core.orders import (DenyReason, Fill, OrderStatus, OrderType, Side, TimeInForce,
                                   TradingState)
from tradecore.execution.engine import KILL_STRATEGY
from tradecore.execution.journal import Journal, read_journal
from tradecore.execution.oms import DuplicateOrderId
from tradecore.risk.stops import PROTECTION_STRATEGY

# every test here runs with the compiled submit and with its Python reference
pytestmark = pytest.mark.usefixtures("both_submits")

S = OrderStatus


def book(bid: float, ask: float) -> L2Book:
    b = L2Book(tick_size=0.01, lot_size=0.001)
    b.apply(0, bid, 5.0)
    b.apply(1, ask, 5.0)
    return b


def filled_long(eng, venue, lots=1000, price=10000, cid="entry"):
    o = eng.submit(order(cid, Side.BUY, lots))
    venue.ack(cid)
    venue.fill(o, lots, price)
    return o


# -- the order path ---------------------------------------------------------------------------

def test_submit_journals_intent_before_venue_gets_order(tmp_path):
    seen = []
    j = Journal(tmp_path / "j.log")

    class Spy(FakeVenue):
        def submit(self, o):
            seen.append([r[0] for r in read_journal(tmp_path / "j.log").records])
            super().submit(o)
    eng, gate, venue, _ = make_engine(venue=Spy(), journal=j)
    o = eng.submit(order("a", price=10000))
    j.close()
    assert seen == [["I"]]
    assert o.status is S.SUBMITTED and venue.submitted == [o] and "a" in gate.open_ids


@pytest.mark.parametrize(("setup", "reason"), [
    (lambda g: setattr(g, "reconciling", True), DenyReason.RECONCILING),
    (lambda g: setattr(g, "state", TradingState.HALTED), DenyReason.HALTED),
    (lambda g: setattr(g, "state", TradingState.REDUCING), DenyReason.REDUCING_ONLY),
    (lambda g: setattr(g, "max_qty", 10), DenyReason.MAX_ORDER_QTY),
    (lambda g: g.deny_ids.__setitem__("a", DenyReason.PRICE_BAND), DenyReason.PRICE_BAND),
], ids=lambda x: x.name if isinstance(x, DenyReason) else "")
def test_submit_publishes_denied_with_reason_and_sends_nothing_when_gate_refuses(setup, reason):
    eng, gate, venue, _ = make_engine()
    setup(gate)
    events = []
    eng.subscribe("s1", events.append)
    o = eng.submit(order("a", price=10000, strategy_id="s1"))
    assert o.status is S.DENIED and o.deny_reason is reason
    assert [(e.status, e.reason) for e in events] == [(S.DENIED, reason.name)]
    assert venue.submitted == [] and gate.denials[reason] == 1


def test_submit_returns_existing_order_when_resubmitted_with_same_id():
    eng, _, venue, _ = make_engine()
    a = eng.submit(order("a", price=10000))
    b = eng.submit(order("a", price=10000))
    assert a is b and len(venue.submitted) == 1


def test_submit_raises_when_id_reused_with_other_content():
    eng, _, venue, _ = make_engine()
    eng.submit(order("a", price=10000))
    with pytest.raises(DuplicateOrderId):
        eng.submit(order("a", price=10001))
    assert len(venue.submitted) == 1


def test_events_delivered_in_order_by_direct_call():
    eng, gate, venue, _ = make_engine()
    events = []
    eng.subscribe("s1", events.append)
    o = eng.submit(order("a", qty=10, price=10000, strategy_id="s1"))
    assert o.status is S.SUBMITTED and events == []      # submit's return says it
    venue.ack("a")
    venue.fill(o, 4, 10000)
    venue.fill(o, 6, 10000)
    assert o.status is S.FILLED
    assert [e.status for e in events] == [S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED]
    assert events[1].fill.qty == 4
    assert gate.done_ids == ["a"] and eng.portfolio.lots("test", "BTCUSDT") == 10


def test_fill_updates_portfolio_and_gate_with_fee():
    eng, gate, venue, _ = make_engine()
    o = eng.submit(order("a", qty=2000, price=10000))
    venue.ack("a")
    venue.fill(o, 2000, 10000, fee=0.2)
    p = eng.portfolio.position("test", "BTCUSDT")
    assert p.lots == 2000 and p.avg_price == pytest.approx(100.0) and p.fees == pytest.approx(0.2)
    assert gate.positions[("test", "BTCUSDT")] == 2000


def test_overfill_reported_and_not_applied():
    eng, gate, venue, _ = make_engine()
    o = eng.submit(order("a", qty=10, price=10000))
    venue.ack("a")
    venue.fill(o, 11, 10000)
    assert eng.portfolio.lots("test", "BTCUSDT") == 0 and gate.fills == []
    assert eng.problems and "would fill 11 of 10" in eng.problems[0].detail


def test_fill_of_unknown_order_booked_and_reported():
    eng, gate, venue, _ = make_engine()
    venue.listener.on_fill(Fill("manual-1", "test", "BTCUSDT", Side.SELL, 5, 10000, 0.0,
                                "taker", "tx", 9))
    assert eng.portfolio.lots("test", "BTCUSDT") == -5
    assert eng.problems[0].reason == "UnknownOrder"


def test_invalid_venue_answer_reported_and_changes_nothing():
    eng, _, venue, _ = make_engine()
    o = eng.submit(order("a", price=10000))
    venue.listener.on_order_rejected("a", "no", 5)
    venue.listener.on_order_canceled("a", "??", 6)        # REJECTED -> CANCELED is impossible
    assert o.status is S.REJECTED
    assert "REJECTED -> CANCELED" in eng.problems[-1].detail


def test_handler_exception_reported_and_processing_continues():
    eng, gate, venue, _ = make_engine()

    def bad(ev):
        raise RuntimeError("strategy bug")
    eng.subscribe("s1", bad)
    o = eng.submit(order("a", qty=10, price=10000, strategy_id="s1"))
    venue.ack("a")
    venue.fill(o, 10, 10000)
    assert o.status is S.FILLED and eng.portfolio.lots("test", "BTCUSDT") == 10
    assert any("strategy bug" in p.detail for p in eng.problems)


def test_cancel_of_unacknowledged_order_waits_for_ack():
    eng, _, venue, _ = make_engine()
    o = eng.submit(order("a", price=10000))
    eng.cancel("a")
    assert venue.canceled == [] and o.status is S.SUBMITTED
    venue.ack("a")
    assert venue.canceled == ["a"] and o.status is S.PENDING_CANCEL
    venue.listener.on_order_canceled("a", "", 9)
    assert o.status is S.CANCELED


def test_gtd_order_cancelled_at_venue_at_expiry_and_ends_expired():
    eng, _, venue, clock = make_engine()
    o = eng.submit(order("a", price=10000, tif=TimeInForce.GTD, expire_ns=50_000))
    venue.ack("a")
    clock.advance_to(50_000)
    assert venue.canceled == ["a"] and o.status is S.PENDING_CANCEL
    venue.listener.on_order_canceled("a", "", 50_001)
    assert o.status is S.EXPIRED


def test_on_book_marks_position_and_gives_gate_the_mid_before_the_next_check():
    """The gate's mid is pulled: noted at the book change, handed over before the next order's
    check (risk/gate.py "market data"), with the value and time of the book change."""
    eng, gate, venue, _ = make_engine()
    filled_long(eng, venue, 1000, 10000)
    eng.on_book("test", "BTCUSDT", book(101.0, 101.02))
    assert eng.portfolio.unrealized_pnl() == pytest.approx(1.01)
    eng.submit(order("next", qty=10, price=10000))
    assert gate.mids[("test", "BTCUSDT")] == pytest.approx(101.01)


# -- anchors' known failures ------------------------------------------------------------------

def test_fills_during_disconnect_applied_once_when_venue_replays_them():
    """After a reconnect the venue sends again fills we saw and ones we missed: each counts
    exactly once."""
    eng, gate, venue, _ = make_engine()
    o = eng.submit(order("a", qty=10, price=10000))
    venue.ack("a")
    f1 = venue.fill(o, 3, 10000)                      # seen before the disconnect
    f2 = venue.make_fill(o, 4, 10010)                 # happened while disconnected
    f3 = venue.make_fill(o, 3, 10020)
    for f in (f1, f2, f1, f3, f2):                    # the replay after reconnect
        venue.listener.on_fill(f)
    assert o.filled_qty == 10 and o.status is S.FILLED
    assert eng.portfolio.lots("test", "BTCUSDT") == 10
    assert len(gate.fills) == 3 and eng.problems == []


def test_kill_switch_cancels_open_and_inflight_orders_and_flattens():
    eng, gate, venue, _ = make_engine()
    filled_long(eng, venue, 1000)
    eng.submit(order("resting", qty=5, price=9000))
    venue.ack("resting")
    inflight = eng.submit(order("inflight", qty=500, price=9900))
    gate.set_state(TradingState.HALTED, "kill switch")
    eng.kill(flatten=True)
    assert "resting" in venue.canceled and "inflight" not in venue.canceled
    flat = [o for o in venue.submitted if o.strategy_id == KILL_STRATEGY]
    assert len(flat) == 1 and flat[0].reduce_only and flat[0].side is Side.SELL
    assert flat[0].qty == 1000 and flat[0].type is OrderType.MARKET
    # the in-flight order is acknowledged after the kill: cancelled at once
    venue.ack("inflight")
    assert "inflight" in venue.canceled
    # ... but part of it had filled before the cancel landed: flattened again
    venue.ack(flat[0].client_order_id)
    venue.fill(flat[0], 1000, 9990)
    venue.fill(inflight, 200, 9900)
    assert eng.portfolio.lots("test", "BTCUSDT") == 200
    again = [o for o in venue.submitted if o.strategy_id == KILL_STRATEGY][1:]
    assert len(again) == 1 and again[0].qty == 200 and again[0].side is Side.SELL
    # while halted, a strategy's new order is denied
    assert eng.submit(order("new", price=10000)).deny_reason is DenyReason.HALTED


def test_kill_switch_rearm_stops_reflattening():
    eng, gate, venue, _ = make_engine()
    eng.kill(flatten=True)
    eng.rearm()
    o = filled_long(eng, venue, 100)
    assert o.status is S.FILLED
    assert not [o for o in venue.submitted if o.strategy_id == KILL_STRATEGY]


def test_stop_sized_to_position_after_partial_take_profit():
    eng, _, venue, _ = make_engine()
    filled_long(eng, venue, 1000, 10000)
    eng.protection.attach("test", "BTCUSDT", stop_loss=9500, native=True)
    native = venue.submitted[-1]
    assert native.type is OrderType.STOP_MARKET and native.qty == 1000 and native.reduce_only
    venue.ack(native.client_order_id)
    tp = eng.submit(order("tp", Side.SELL, 400, 10500, reduce_only=True))   # partial take-profit
    venue.ack("tp")
    venue.fill(tp, 400, 10500)
    # the native stop is replaced by one for the 600 left
    assert native.client_order_id in venue.canceled
    venue.listener.on_order_canceled(native.client_order_id, "", 5)
    replaced = venue.submitted[-1]
    assert replaced.type is OrderType.STOP_MARKET and replaced.qty == 600
    venue.ack(replaced.client_order_id)
    # and the local watcher fires for 600, not 1000
    eng.on_book("test", "BTCUSDT", book(94.99, 95.01))
    exit_ = venue.submitted[-1]
    assert exit_.tag == "stop-loss" and exit_.qty == 600 and exit_.side is Side.SELL
    assert exit_.reduce_only and exit_.type is OrderType.MARKET
    assert replaced.client_order_id in venue.canceled


def test_stop_removed_and_never_fires_after_position_closed():
    eng, _, venue, _ = make_engine()
    filled_long(eng, venue, 1000, 10000)
    eng.protection.attach("test", "BTCUSDT", stop_loss=9500, take_profit=11000, native=True)
    natives = venue.submitted[-1:]            # one native exit: the stop-loss
    assert natives[0].type is OrderType.STOP_MARKET and natives[0].trigger_price == 9500
    for o in natives:
        venue.ack(o.client_order_id)
    close = eng.submit(order("close", Side.SELL, 1000, 10100))
    venue.ack("close")
    venue.fill(close, 1000, 10100)
    assert {o.client_order_id for o in natives} <= set(venue.canceled)
    assert all(o.status is S.PENDING_CANCEL for o in natives)
    n = len(venue.submitted)
    eng.on_book("test", "BTCUSDT", book(90.0, 90.02))           # through the old stop
    eng.on_trade("test", "BTCUSDT", Trade("test", "BTCUSDT", "89.00", "1", -1, "x", 1, 1))
    assert len(venue.submitted) == n and ("test", "BTCUSDT") not in eng.protection.by_key


def test_trailing_stop_fires_on_trade_event_without_strategy():
    eng, _, venue, _ = make_engine()
    filled_long(eng, venue, 1000, 10000)
    eng.protection.attach("test", "BTCUSDT", trail_ticks=100)
    for px in ("100.50", "102.00", "101.50"):
        eng.on_trade("test", "BTCUSDT", Trade("test", "BTCUSDT", px, "1", 1, px, 1, 1))
    n = len(venue.submitted)
    eng.on_trade("test", "BTCUSDT", Trade("test", "BTCUSDT", "101.00", "1", -1, "y", 1, 1))
    assert len(venue.submitted) == n + 1
    assert venue.submitted[-1].tag == "trailing-stop" and venue.submitted[-1].qty == 1000


def test_protection_exit_reaches_handler_of_protection_not_strategy():
    eng, _, venue, _ = make_engine()
    events = []
    eng.subscribe("s1", events.append)
    filled_long(eng, venue, 1000, 10000)
    eng.protection.attach("test", "BTCUSDT", stop_loss=9900)
    eng.on_book("test", "BTCUSDT", book(98.0, 98.02))
    ex = venue.submitted[-1]
    assert ex.strategy_id == PROTECTION_STRATEGY and events == []
    venue.ack(ex.client_order_id)
    venue.fill(ex, 1000, 9800)
    assert eng.portfolio.lots("test", "BTCUSDT") == 0 and eng.protection.by_key == {}


def test_stop_exit_denied_stays_armed_and_fires_again():
    eng, gate, venue, clock = make_engine()
    filled_long(eng, venue, 1000, 10000)
    eng.protection.attach("test", "BTCUSDT", stop_loss=9900)
    gate.state = TradingState.HALTED
    eng.on_book("test", "BTCUSDT", book(98.0, 98.02))
    eng.on_book("test", "BTCUSDT", book(98.0, 98.02))
    assert gate.denials[DenyReason.HALTED] == 1            # not retried on every book
    assert len([p for p in eng.problems if "DENIED" in p.detail]) == 1
    gate.state = TradingState.ACTIVE
    clock.advance_to(clock.time_ns() + 1_000_000_000)
    eng.on_book("test", "BTCUSDT", book(98.0, 98.02))
    assert venue.submitted[-1].tag == "stop-loss"


@pytest.mark.parametrize("reason", [r for r in DenyReason if r is not DenyReason.NONE],
                         ids=lambda r: r.name)
def test_every_deny_reason_reaches_strategy_by_name(reason):
    eng, gate, venue, _ = make_engine()
    gate.deny_ids["a"] = reason
    events = []
    eng.subscribe("s1", events.append)
    o = eng.submit(order("a", price=10000, strategy_id="s1"))
    assert o.status is S.DENIED and o.deny_reason is reason and o.reason_text == reason.name
    assert [(e.status, e.reason) for e in events] == [(S.DENIED, reason.name)]
    assert venue.submitted == [] and eng.oms.open == {}


@pytest.mark.parametrize(("typ", "kw"), [
    (OrderType.MARKET, dict(tif=TimeInForce.IOC)),
    (OrderType.LIMIT, dict(price=10000)),
    (OrderType.LIMIT, dict(price=10000, post_only=True)),
    (OrderType.LIMIT, dict(price=10000, tif=TimeInForce.IOC)),
    (OrderType.LIMIT, dict(price=10000, tif=TimeInForce.FOK)),
    (OrderType.LIMIT, dict(price=10000, tif=TimeInForce.GTD, expire_ns=10**12)),
    (OrderType.STOP_MARKET, dict(trigger_price=9900)),
    (OrderType.STOP_LIMIT, dict(trigger_price=9900, price=9890)),
    (OrderType.TAKE_PROFIT, dict(trigger_price=10100)),
    (OrderType.TAKE_PROFIT_LIMIT, dict(trigger_price=10100, price=10100)),
    (OrderType.TRAILING_STOP, dict(trail_ticks=50)),
], ids=lambda x: x.name if isinstance(x, OrderType) else "-".join(f"{k}" for k in x))
def test_every_order_type_goes_through_its_lifecycle(typ, kw):
    eng, gate, venue, _ = make_engine()
    events = []
    eng.subscribe("s1", events.append)
    o = eng.submit(order("a", Side.SELL, 10, type=typ, strategy_id="s1", **kw))
    assert venue.submitted == [o] and o.status is S.SUBMITTED
    venue.ack("a")
    triggered = typ not in (OrderType.MARKET, OrderType.LIMIT)
    if triggered:
        venue.listener.on_order_triggered("a", 3)
    venue.fill(o, 4, 9890)
    venue.fill(o, 6, 9880)
    want = [S.ACCEPTED] + ([S.TRIGGERED] if triggered else []) + [S.PARTIALLY_FILLED, S.FILLED]
    assert [e.status for e in events] == want
    assert eng.portfolio.lots("test", "BTCUSDT") == -10 and gate.done_ids == ["a"]


def test_on_book_converts_book_ticks_to_instrument_ticks_when_grids_differ():
    """A book on a 0.1 grid for an instrument on 0.01: the stop compares exact prices."""
    eng, _, venue, _ = make_engine()
    filled_long(eng, venue, 1000, 10000)
    eng.protection.attach("test", "BTCUSDT", stop_loss=9990)          # 99.90
    coarse = L2Book(tick_size=0.1, lot_size=0.001)
    coarse.apply(0, 100.0, 1.0)
    coarse.apply(1, 100.1, 1.0)
    eng.on_book("test", "BTCUSDT", coarse)
    n = len(venue.submitted)
    coarse.apply(0, 100.0, 0.0)
    coarse.apply(0, 99.9, 1.0)                                        # bid exactly 99.90
    eng.on_book("test", "BTCUSDT", coarse)
    assert len(venue.submitted) == n + 1 and venue.submitted[-1].tag == "stop-loss"


def test_listeners_see_submitted_after_send_and_every_answer():
    eng, gate, venue, _ = make_engine()
    seen = []
    eng.add_listener(lambda o, ev: seen.append((o.client_order_id, ev.status)))
    o = eng.submit(order("a", qty=10, price=10000))
    venue.ack("a")
    venue.fill(o, 10, 10000)
    gate.max_qty = 5
    eng.submit(order("b", price=10000))                    # denied by the gate
    assert seen == [("a", S.SUBMITTED), ("a", S.ACCEPTED), ("a", S.FILLED), ("b", S.DENIED)]


def test_reject_rate_breaker_fed_by_engine_listener_trips():
    breakers = pytest.importorskip("tradecore.risk.breakers")
    eng, gate, venue, _ = make_engine()
    br = breakers.RejectRateBreaker(gate, breakers.RejectRateConfig(
        window_ns=10**12, max_ratio=0.5, min_orders=2))
    eng.add_listener(br.on_order_event)
    for cid in ("a", "b"):
        eng.submit(order(cid, price=10000))
        venue.listener.on_order_rejected(cid, "insufficient balance", 5)
    assert br.tripped is not None


def test_compact_orders_when_due_hands_the_new_dict_to_the_compiled_submit():
    # both submits (the module's fixture runs each): the compiled one holds the dict itself
    from tradecore.execution.oms import COMPACT_MIN_HEADROOM
    eng, _, venue, _ = make_engine()
    assert not eng.compact_orders()                     # nothing due yet
    for i in range(COMPACT_MIN_HEADROOM // 2):
        eng.submit(order(f"a{i}", price=10000))
    old = eng.oms.orders
    assert eng.compact_orders() and eng.oms.orders is not old
    # the compiled submit writes into the new dict and still knows every earlier id
    o = eng.submit(order("after", price=10000))
    assert eng.oms.orders["after"] is o and "after" not in old
    assert eng.submit(order("a0", price=10000)) is eng.oms.orders["a0"]
    with pytest.raises(DuplicateOrderId):
        eng.submit(order("a1", price=10001))
    assert len(venue.submitted) == COMPACT_MIN_HEADROOM // 2 + 1


def test_submit_when_the_journal_cannot_record_the_intent_denies_it_and_never_sends(
        tmp_path, monkeypatch):
    """An order the journal does not know would be lost at the next restart: when the journal
    has no room for its intent (here: its twin cannot grow), it is denied, not sent, and the
    error is a Problem; once there is room, orders go out again."""
    import errno
    import os
    twin_dir = tmp_path / "twin"
    twin_dir.mkdir()
    j = Journal(tmp_path / "j.log", chunk_bytes=4096, twin_dir=twin_dir)
    n = 0
    while j.size + 300 < 4096:
        j.risk_state(TradingState.ACTIVE, "pad" * 10, n)
        n += 1
    eng, gate, venue, _ = make_engine(journal=j)
    events = []
    eng.subscribe("s1", events.append)

    def full(*a):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "posix_fallocate", full)
    o = eng.submit(order("a" * 40, price=10000, strategy_id="s1", tag="t" * 200))
    assert o.status is S.DENIED and o.deny_reason is DenyReason.JOURNAL_UNWRITABLE
    assert [(e.status, e.reason) for e in events] == [(S.DENIED, "JOURNAL_UNWRITABLE")]
    assert venue.submitted == [] and eng.oms.open == {}
    assert [(p.reason, "no room" in p.detail) for p in eng.problems] == \
        [("journal could not record the intent", True)]
    monkeypatch.undo()
    o2 = eng.submit(order("b", price=10000, strategy_id="s1"))
    assert o2.status is S.SUBMITTED and venue.submitted == [o2]
    j.close()
    intents = [r[1] for r in read_journal(tmp_path / "j.log", twin_dir=twin_dir).records
               if r[0] == "I"]
    assert intents == ["b"]
