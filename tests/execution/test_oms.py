"""The OrderManager: idempotent client ids, order shapes per type, fills applied exactly once,
overfill and late fills, cancel races, IOC/FOK remainders and GTD expiry on the Clock."""
from __future__ import annotations

import pytest

from _oms_fakes import INSTRUMENTS
from tradecore.core.clock import SimClock
from tradecore.core.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from tradecore.execution.journal import NullJournal
from tradecore.execution.oms import (DuplicateOrderId, LateFill, OrderManager, OrderSpecError,
                                     Overfill, UnknownOrder)
from tradecore.execution.state import InvalidTransition

S = OrderStatus


def oms(clock=None, on_gtd_due=None) -> OrderManager:
    return OrderManager(clock or SimClock(1000), NullJournal(), INSTRUMENTS, on_gtd_due)


def lim(cid="a", qty=10, price=10000, side=Side.BUY, **kw) -> Order:
    return Order(cid, "test", "BTCUSDT", side, kw.pop("type", OrderType.LIMIT), qty, price, **kw)


def live(m: OrderManager, o: Order, ack: bool = True) -> Order:
    m.add(o)
    m.submitted(o)
    if ack:
        m.accepted(o.client_order_id, "V1", 2000)
    return o


def f(o: Order, qty: int, price: int = 10000, tid: str = "t1", fee: float = 0.0) -> Fill:
    return Fill(o.client_order_id, o.venue, o.symbol, o.side, qty, price, fee, "maker", tid, 3000)


# -- creation and idempotency ---------------------------------------------------------------

def test_add_returns_existing_when_same_id_and_content():
    m = oms()
    a, new = m.add(lim())
    b, new2 = m.add(lim())
    assert new and not new2 and b is a


def test_add_raises_when_same_id_different_content():
    m = oms()
    m.add(lim())
    with pytest.raises(DuplicateOrderId, match="differs in qty"):
        m.add(lim(qty=11))
    assert m["a"].qty == 10


def test_add_stamps_creation_time_from_clock():
    m = oms(SimClock(777))
    o, _ = m.add(lim())
    assert o.ts_created_ns == 777 and o.status is S.INITIALIZED


@pytest.mark.parametrize(("kw", "msg"), [
    (dict(type=OrderType.LIMIT, price=0), "needs a limit price"),
    (dict(type=OrderType.MARKET, price=5), "has no limit price"),
    (dict(type=OrderType.STOP_MARKET, price=0), "needs a trigger_price"),
    (dict(type=OrderType.STOP_LIMIT, trigger_price=5, price=0), "needs a limit price"),
    (dict(type=OrderType.TAKE_PROFIT, price=0), "needs a trigger_price"),
    (dict(type=OrderType.TRAILING_STOP, price=0), "trail_ticks > 0"),
    (dict(type=OrderType.LIMIT, trigger_price=5), "has no trigger"),
    (dict(type=OrderType.MARKET, price=0, post_only=True), "post_only is only for LIMIT"),
    (dict(post_only=True, tif=TimeInForce.IOC), "must rest"),
    (dict(tif=TimeInForce.GTD, expire_ns=500), "is not after now"),
    (dict(tif=TimeInForce.GTC, expire_ns=5000), "only for GTD"),
    (dict(qty=0), "must be > 0"),
    (dict(price=-5), "negative price"),
    (dict(side=1), "must be Side, OrderType and TimeInForce"),
    (dict(tif=0), "must be Side, OrderType and TimeInForce"),
])
def test_add_raises_when_order_shape_contradicts_its_type(kw, msg):
    m = oms()
    with pytest.raises(OrderSpecError, match=msg):
        m.add(lim(**kw))
    assert m.get("a") is None


@pytest.mark.parametrize("o", [
    lim(type=OrderType.MARKET, price=0),
    lim(),
    lim(post_only=True),
    lim(tif=TimeInForce.IOC),
    lim(tif=TimeInForce.FOK),
    lim(tif=TimeInForce.GTD, expire_ns=5000),
    lim(type=OrderType.STOP_MARKET, price=0, trigger_price=9000),
    lim(type=OrderType.STOP_LIMIT, price=8990, trigger_price=9000),
    lim(type=OrderType.TAKE_PROFIT, price=0, trigger_price=11000),
    lim(type=OrderType.TAKE_PROFIT_LIMIT, price=11000, trigger_price=11000),
    lim(type=OrderType.TRAILING_STOP, price=0, trail_ticks=50),
    lim(reduce_only=True),
], ids=lambda o: f"{o.type.name}-{o.tif.name}-po{int(o.post_only)}-ro{int(o.reduce_only)}")
def test_add_accepts_every_order_type_when_well_formed(o):
    m = oms()
    assert m.add(o) == (o, True)


# -- venue answers --------------------------------------------------------------------------

def test_fills_move_partial_then_filled_with_average_price_and_fees():
    m = oms()
    o = live(m, lim(qty=10))
    ev = m.apply_fill(f(o, 4, 10000, "t1", fee=0.1))
    assert ev.status is S.PARTIALLY_FILLED and o.filled_qty == 4
    ev = m.apply_fill(f(o, 6, 10050, "t2", fee=0.2))
    assert ev.status is S.FILLED and o.leaves_qty == 0
    assert o.avg_fill_price == pytest.approx((100.0 * 4 + 100.5 * 6) / 10)
    assert o.fees == pytest.approx(0.3)
    assert "a" not in m.open


def test_apply_fill_ignores_fill_when_trade_id_seen():
    m = oms()
    o = live(m, lim(qty=10))
    fl = f(o, 4)
    assert m.apply_fill(fl) is not None
    assert m.apply_fill(fl) is None
    assert o.filled_qty == 4


def test_apply_fill_raises_and_applies_nothing_when_overfill():
    m = oms()
    o = live(m, lim(qty=10))
    m.apply_fill(f(o, 8, tid="t1"))
    with pytest.raises(Overfill, match="would fill 11 of 10"):
        m.apply_fill(f(o, 3, tid="t2"))
    assert o.filled_qty == 8 and o.status is S.PARTIALLY_FILLED
    assert not m.trade_seen("test", "t2")


def test_apply_fill_raises_late_fill_when_order_terminal():
    m = oms()
    o = live(m, lim(qty=10))
    m.canceled("a", "user", 2500)
    with pytest.raises(LateFill, match="already CANCELED"):
        m.apply_fill(f(o, 3))
    assert o.status is S.CANCELED and o.filled_qty == 0
    assert m.trade_seen("test", "t1")           # never applied twice either


def test_apply_fill_raises_when_order_unknown():
    m = oms()
    with pytest.raises(UnknownOrder, match="'zz'"):
        m.apply_fill(Fill("zz", "test", "BTCUSDT", Side.BUY, 1, 1, 0.0, "taker", "t9", 1))


def test_partial_fill_keeps_pending_cancel_then_cancel_reject_restores_partial():
    m = oms()
    o = live(m, lim(qty=10))
    m.cancel_requested(o)
    ev = m.apply_fill(f(o, 3))
    assert ev.status is S.PENDING_CANCEL and o.filled_qty == 3
    ev = m.cancel_rejected("a", "too late", 4000)
    assert ev.status is S.PARTIALLY_FILLED and o.status is S.PARTIALLY_FILLED


def test_cancel_reject_restores_accepted_when_no_fill():
    m = oms()
    o = live(m, lim())
    m.cancel_requested(o)
    assert m.cancel_rejected("a", "x", 4000).status is S.ACCEPTED


def test_fill_completes_order_when_cancel_pending():
    m = oms()
    o = live(m, lim(qty=10))
    m.cancel_requested(o)
    assert m.apply_fill(f(o, 10)).status is S.FILLED
    assert m.cancel_rejected("a", "filled", 5000) is None
    assert o.status is S.FILLED


@pytest.mark.parametrize("tif", [TimeInForce.IOC, TimeInForce.FOK])
def test_cancel_of_ioc_or_fok_recorded_as_expired(tif):
    m = oms()
    o = live(m, lim(qty=10, tif=tif), ack=False)
    if tif is TimeInForce.IOC:
        m.apply_fill(f(o, 4))
    ev = m.canceled("a", "remainder", 3000)
    assert ev.status is S.EXPIRED and o.status is S.EXPIRED


def test_fok_partial_fill_is_reported_and_applied():
    m = oms()
    o = live(m, lim(qty=10, tif=TimeInForce.FOK), ack=False)
    m.apply_fill(f(o, 4))
    assert o.filled_qty == 4 and "FOK order 'a' partially filled" in m.problems[0]


def test_ioc_answered_with_fill_before_ack():
    m = oms()
    o = live(m, lim(qty=10, tif=TimeInForce.IOC), ack=False)
    assert m.apply_fill(f(o, 10)).status is S.FILLED
    assert m.accepted("a", "V9", 5000) is None     # the ack lost the race: not a transition
    assert o.status is S.FILLED and o.venue_order_id == "V9"


def test_accepted_raises_and_changes_nothing_when_order_already_terminal():
    m = oms()
    o = live(m, lim(), ack=False)
    m.rejected("a", "insufficient balance", 2000)
    with pytest.raises(InvalidTransition, match="REJECTED -> ACCEPTED"):
        m.accepted("a", "V1", 3000)
    assert o.status is S.REJECTED and o.reason_text == "insufficient balance"
    assert o.venue_order_id == ""


def test_stop_triggered_then_filled():
    m = oms()
    o = live(m, lim(type=OrderType.STOP_MARKET, price=0, trigger_price=9000, side=Side.SELL))
    assert m.triggered("a", 2500).status is S.TRIGGERED
    assert m.apply_fill(f(o, 10, 8990)).status is S.FILLED


def test_gtd_order_cancelled_at_expiry_and_recorded_expired():
    clock = SimClock(1000)
    due = []
    m = oms(clock, on_gtd_due=due.append)
    o = live(m, lim(tif=TimeInForce.GTD, expire_ns=5000))
    clock.advance_to(4999)
    assert due == []
    clock.advance_to(5000)
    assert due == [o]
    m.cancel_requested(o)
    assert m.canceled("a", "", 5001).status is S.EXPIRED


def test_gtd_timer_dropped_when_order_fills_first():
    clock = SimClock(1000)
    due = []
    m = oms(clock, on_gtd_due=due.append)
    o = live(m, lim(qty=5, tif=TimeInForce.GTD, expire_ns=5000))
    m.apply_fill(f(o, 5))
    clock.advance_to(6000)
    assert due == []


# -- property: any sequence of venue answers keeps the order consistent ----------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from tradecore.execution.state import can_transition  # noqa: E402

_events = st.lists(st.one_of(
    st.tuples(st.just("ack")), st.tuples(st.just("reject")), st.tuples(st.just("cancel_req")),
    st.tuples(st.just("canceled")), st.tuples(st.just("cancel_rej")),
    st.tuples(st.just("expired")), st.tuples(st.just("triggered")),
    st.tuples(st.just("fill"), st.integers(1, 12), st.booleans())), max_size=25)


@settings(max_examples=300, deadline=None)
@given(_events, st.sampled_from([TimeInForce.GTC, TimeInForce.IOC]))
def test_order_stays_consistent_when_venue_answers_arbitrary(events, tif):
    """Whatever the venue says, in whatever order: the status only moves along the table,
    filled never exceeds qty, FILLED exactly when filled == qty, and an answer that raises
    changes nothing."""
    m = oms()
    o = live(m, lim(qty=10, tif=tif), ack=False)
    n_trade = 0
    late = 0               # lots of fills that came after a terminal state (booked, not applied)
    for ev in events:
        before = (o.status, o.filled_qty, o.fees, o.avg_fill_price, o.venue_order_id)
        try:
            k = ev[0]
            if k == "ack":
                m.accepted("a", "V1", 5)
            elif k == "reject":
                m.rejected("a", "no", 5)
            elif k == "cancel_req":
                if o.is_open:
                    m.cancel_requested(o)
            elif k == "canceled":
                m.canceled("a", "", 5)
            elif k == "cancel_rej":
                m.cancel_rejected("a", "no", 5)
            elif k == "expired":
                m.expired("a", 5)
            elif k == "triggered":
                m.triggered("a", 5)
            else:
                _, q, again = ev
                if not again:
                    n_trade += 1
                m.apply_fill(f(o, q, tid=f"t{max(n_trade, 1)}"))
        except (InvalidTransition, Overfill, LateFill) as e:
            assert (o.status, o.filled_qty, o.fees, o.avg_fill_price) == before[:4], e
            if isinstance(e, LateFill):
                late += ev[1]
            continue
        after = o.status
        assert after is before[0] or can_transition(before[0], after)
        assert 0 <= o.filled_qty <= o.qty
        assert (o.status is S.FILLED) == (o.filled_qty == o.qty)
        assert (o.client_order_id in m.open) == o.is_open
        assert sum(x.qty for x in m.fills.get("a", [])) == o.filled_qty + late


# -- retention ------------------------------------------------------------------------------

def aged(clock: SimClock, m: OrderManager, n: int, start: int) -> list[Order]:
    """n orders, created one a second from `start` (ns), every one filled and so terminal."""
    out = []
    for i in range(n):
        clock.advance_to(start + i * 1_000_000_000)
        o = live(m, lim(f"o{i}"))
        m.apply_fill(Fill(o.client_order_id, o.venue, o.symbol, o.side, 10, 10000, 0.0,
                          "taker", f"t{i}", start + i * 1_000_000_000))
        out.append(o)
    return out


def test_retire_when_terminal_orders_are_older_than_the_horizon_forgets_them_and_their_fills():
    clock = SimClock(0)
    m = oms(clock)
    aged(clock, m, 10, 1_000_000_000)          # created at 1..10 s, filled at once
    assert m.retire(before_ns=6_000_000_000) == 5
    assert sorted(m.orders) == [f"o{i}" for i in range(5, 10)]
    assert sorted(m.fills) == [f"o{i}" for i in range(5, 10)] and m.retired == 5
    # trade ids seen before the horizon are forgotten with them; the rest still dedup
    assert not m.trade_seen("test", "t0") and m.trade_seen("test", "t7")
    assert m.retire(before_ns=6_000_000_000) == 0


def test_retire_when_an_order_is_still_open_keeps_it_however_old():
    clock = SimClock(0)
    m = oms(clock)
    clock.advance_to(1_000)
    resting = live(m, lim("rest"))
    aged(clock, m, 3, 2_000_000_000)
    clock.advance_to(100_000_000_000)
    assert m.retire(before_ns=50_000_000_000) == 3
    assert list(m.orders) == ["rest"] and m.open == {"rest": resting}


def test_retire_when_limited_takes_the_oldest_first_and_the_rest_on_the_next_call():
    clock = SimClock(0)
    m = oms(clock)
    aged(clock, m, 6, 1_000_000_000)
    assert m.retire(before_ns=10**12, limit=4) == 4
    assert sorted(m.orders) == ["o4", "o5"]
    assert m.retire(before_ns=10**12, limit=4) == 2 and not m.orders
    with pytest.raises(ValueError, match="limit 0 must be > 0"):
        m.retire(before_ns=10**12, limit=0)


def test_retire_when_a_young_order_ended_recently_keeps_it():
    clock = SimClock(0)
    m = oms(clock)
    clock.advance_to(1_000_000_000)
    o = live(m, lim("late"))                    # created at 1 s, filled at 9 s
    clock.advance_to(9_000_000_000)
    m.apply_fill(Fill("late", "test", "BTCUSDT", Side.BUY, 10, 10000, 0.0, "taker", "tl",
                      9_000_000_000))
    assert o.is_terminal and m.retire(before_ns=5_000_000_000) == 0 and "late" in m.orders


def test_fill_for_a_retired_order_is_unknown_and_a_retired_id_can_be_used_again():
    clock = SimClock(0)
    m = oms(clock)
    aged(clock, m, 2, 1_000_000_000)
    m.retire(before_ns=10**12)
    with pytest.raises(UnknownOrder, match="unknown order 'o0'"):
        m.apply_fill(Fill("o0", "test", "BTCUSDT", Side.BUY, 1, 10000, 0.0, "taker", "t-late",
                          10**12))
    again, new = m.add(lim("o1", qty=3))
    assert new and again.qty == 3 and again.status is S.INITIALIZED


def test_compact_when_orders_were_retired_keeps_the_same_orders_in_the_same_order():
    import sys
    from tradecore.execution.oms import COMPACT_MIN_HEADROOM
    clock = SimClock(0)
    m = oms(clock)
    aged(clock, m, 10, 1_000_000_000)
    m.retire(before_ns=4_000_000_000)
    before = list(m.orders.items())
    old = m.orders
    m.compact()
    assert m.orders is not old and list(m.orders.items()) == before
    # room for COMPACT_MIN_HEADROOM new orders: the table does not grow while they come
    size = sys.getsizeof(m.orders)
    for i in range(COMPACT_MIN_HEADROOM):
        m.orders[f"n{i}"] = before[0][1]
    assert sys.getsizeof(m.orders) == size


def test_compact_due_when_half_the_room_is_used_and_the_room_follows_the_rate():
    from tradecore.execution.oms import COMPACT_MIN_HEADROOM as H
    clock = SimClock(0)
    m = oms(clock)
    o = lim("x")
    for i in range(H // 2 - 1):
        m.orders[f"a{i}"] = o
    assert not m.compact_due()
    m.orders["last"] = o
    assert m.compact_due()
    m.compact()
    assert not m.compact_due()
    # 3 H orders since: the next room is twice that, and retired orders count as added
    for i in range(3 * H):
        m.orders[f"b{i}"] = o
    for i in range(H):
        del m.orders[f"b{i}"]
    m.retired += H
    assert m.compact_due()
    m.compact()
    assert m._headroom == 6 * H and len(m.orders) == H // 2 + 2 * H
