"""Recovery: the journal rebuilds orders, positions and risk state exactly; reconciliation with
the venue applies missed fills once, adopts or cancels unknown orders, closes orders the venue
no longer has, and the gate denies new orders (RECONCILING) until it is done."""
from __future__ import annotations

import asyncio

import pytest

from _oms_fakes import FakeVenue, make_engine, order
from tradecore.core.orders import (DenyReason, OrderStatus, OrderType, Side, TimeInForce,
                                   TradingState)
from tradecore.execution.journal import Journal
from tradecore.execution.recovery import Recovery
from tradecore.execution.venue import VenueOrderState

# every test here runs with the compiled submit and with its Python reference
pytestmark = pytest.mark.usefixtures("both_submits")

S = OrderStatus


def first_session(path):
    j = Journal(path)
    eng, gate, venue, clock = make_engine(journal=j)
    eng.set_balance("test", "USDT", 1000.0)
    a = eng.submit(order("a", qty=10, price=10000))
    venue.ack("a")
    venue.fill(a, 4, 10000, fee=0.01, ts=10)
    b = eng.submit(order("b", Side.SELL, qty=5, price=10100))
    venue.ack("b")
    c = eng.submit(order("c", qty=3, price=9900))
    venue.ack("c")
    venue.fill(c, 3, 9900, fee=0.02, ts=11)
    j.close()
    return eng, venue


def restart(path, venue: FakeVenue, unknown="cancel", gate=None):
    fresh = FakeVenue(venue.name)
    fresh.venue_open, fresh.venue_fills = venue.venue_open, venue.venue_fills
    fresh._trade = venue._trade
    j = Journal(path)
    eng, gate, v, clock = make_engine(gate=gate, venue=fresh, journal=j)
    rec = Recovery(eng, path, unknown_orders=unknown)
    return eng, gate, fresh, rec, j


def venue_state(o, status=S.ACCEPTED, filled=0) -> VenueOrderState:
    return VenueOrderState(o.client_order_id, o.venue_order_id or "V?", o.symbol, o.side, o.type,
                           o.qty, o.price, filled, status)


def test_replay_rebuilds_orders_and_positions_exactly(tmp_path):
    p = tmp_path / "j.log"
    old, venue = first_session(p)
    eng, gate, _, rec, j = restart(p, venue)
    rep = rec.replay()
    assert rep.orders == 3 and rep.fills_replayed == 2
    for cid in "abc":
        o, n = old.oms[cid], eng.oms[cid]
        assert (n.status, n.filled_qty, n.venue_order_id) == (o.status, o.filled_qty,
                                                               o.venue_order_id)
        assert n.avg_fill_price == o.avg_fill_price and n.fees == o.fees
    po, pn = old.portfolio.position("test", "BTCUSDT"), eng.portfolio.position("test", "BTCUSDT")
    assert (pn.lots, pn.avg_price, pn.realized_pnl, pn.fees) == (po.lots, po.avg_price,
                                                                 po.realized_pnl, po.fees)
    assert gate.positions[("test", "BTCUSDT")] == 7
    assert gate.open_ids == {"a", "b"}
    usdt = 1000.0 - 0.4 - 0.01 - 0.297 - 0.02           # two buys at 100.00 and 99.00, fees
    assert eng.portfolio.balance("test", "USDT") == old.portfolio.balance("test", "USDT")
    assert eng.portfolio.balance("test", "USDT") == pytest.approx(usdt, abs=1e-12)
    j.close()


def test_gate_denies_reconciling_until_reconcile_done(tmp_path):
    p = tmp_path / "j.log"
    old, venue = first_session(p)
    venue.venue_open = [venue_state(old.oms["a"], S.PARTIALLY_FILLED, 4),
                        venue_state(old.oms["b"])]
    eng, gate, v, rec, j = restart(p, venue)
    rec.replay()
    assert eng.submit(order("x", price=10000)).deny_reason is DenyReason.RECONCILING
    asyncio.run(rec.reconcile())
    assert gate.reconciling is False
    assert eng.submit(order("y", price=10000)).status is S.SUBMITTED
    j.close()


def test_missed_fills_applied_once_and_journaled(tmp_path):
    p = tmp_path / "j.log"
    old, venue = first_session(p)
    a = old.oms["a"]
    seen = old.oms.fills["a"][0]
    missed = venue.make_fill(a, 6, 10010, fee=0.03, ts=20)   # filled while we were down
    venue.venue_fills = [seen, missed, old.oms.fills["c"][0]]
    venue.venue_open = [venue_state(old.oms["b"])]
    eng, gate, v, rec, j = restart(p, venue)
    rep = asyncio.run(rec.run())
    assert rep.missed_fills == [missed.trade_id]
    assert eng.oms["a"].status is S.FILLED and eng.oms["a"].filled_qty == 10
    assert eng.portfolio.lots("test", "BTCUSDT") == 13
    assert gate.positions[("test", "BTCUSDT")] == 13
    j.close()
    # and the missed fill is now in the journal: a second restart counts it once more, not twice
    eng2, gate2, _, rec2, j2 = restart(p, venue)
    asyncio.run(rec2.run())
    assert eng2.portfolio.lots("test", "BTCUSDT") == 13 and eng2.oms["a"].filled_qty == 10
    j2.close()


@pytest.mark.parametrize("mode", ["adopt", "cancel"])
def test_unknown_venue_order_adopted_or_cancelled(tmp_path, mode):
    p = tmp_path / "j.log"
    old, venue = first_session(p)
    venue.venue_open = [venue_state(old.oms["b"]),
                        VenueOrderState("manual-7", "V77", "BTCUSDT", Side.BUY, OrderType.LIMIT,
                                        20, 9000, 0, S.ACCEPTED)]
    eng, gate, v, rec, j = restart(p, venue, unknown=mode)
    rep = asyncio.run(rec.run())
    o = eng.oms["manual-7"]
    assert rep.adopted == ["manual-7"] and o.venue_order_id == "V77" and o.price == 9000
    if mode == "adopt":
        assert o.status is S.ACCEPTED and v.canceled == []
    else:
        assert o.status is S.PENDING_CANCEL and v.canceled == ["manual-7"]
    j.close()
    eng2, _, _, rec2, j2 = restart(p, venue, unknown=mode)
    rec2.replay()
    assert "manual-7" in eng2.oms.orders           # the adoption is on record
    j2.close()


def test_orders_the_venue_no_longer_has_are_closed_by_rule(tmp_path):
    p = tmp_path / "j.log"
    old, venue = first_session(p)
    venue.venue_open = []                     # a and b are gone from the venue
    eng, gate, v, rec, j = restart(p, venue)
    rep = asyncio.run(rec.run())
    assert eng.oms["a"].status is S.CANCELED and eng.oms["b"].status is S.CANCELED
    assert sorted(rep.closed_missing) == [("a", "CANCELED"), ("b", "CANCELED")]
    assert gate.open_ids == set() and eng.oms.open == {}
    j.close()


def test_venue_order_status_decides_when_client_offers_it(tmp_path):
    p = tmp_path / "j.log"
    old, venue = first_session(p)

    class WithStatus(FakeVenue):
        async def order_status(self, cid):
            o = old.oms[cid]
            return venue_state(o, S.EXPIRED, o.filled_qty)
    eng, gate, _, _, j = restart(p, venue)
    w = WithStatus("test")
    w.set_listener(eng)
    eng.venues["test"] = w
    rep = asyncio.run(Recovery(eng, p).run())
    assert eng.oms["a"].status is S.EXPIRED and eng.oms["b"].status is S.EXPIRED
    assert rep.closed_missing
    j.close()


def test_intent_without_send_closed_at_reconcile(tmp_path):
    """Killed between the intent record and the send: the venue never heard of the order."""
    p = tmp_path / "j.log"
    j = Journal(p)
    eng, gate, venue, clock = make_engine(journal=j)
    venue.submit = lambda o: None              # the send never happens
    eng.submit(order("lost", price=10000, tif=TimeInForce.IOC))
    j.close()
    eng2, gate2, v2, rec, j2 = restart(p, venue)
    rep = asyncio.run(rec.run())
    assert eng2.oms["lost"].status is S.EXPIRED          # IOC: its remainder expired
    assert rep.closed_missing == [("lost", "EXPIRED")]
    j2.close()


def test_halted_state_survives_restart(tmp_path):
    p = tmp_path / "j.log"
    j = Journal(p)
    eng, gate, venue, clock = make_engine(journal=j)
    gate.set_state(TradingState.HALTED, "kill switch")
    eng.kill()
    j.close()
    eng2, gate2, v2, rec, j2 = restart(p, venue)
    rep = asyncio.run(rec.run())
    assert rep.trading_state is TradingState.HALTED and gate2.state is TradingState.HALTED
    assert eng2.submit(order("x", price=10000)).deny_reason is DenyReason.HALTED
    j2.close()


def test_venue_fill_count_above_known_fills_reported(tmp_path):
    p = tmp_path / "j.log"
    old, venue = first_session(p)
    venue.venue_open = [venue_state(old.oms["a"], S.PARTIALLY_FILLED, 7),
                        venue_state(old.oms["b"])]
    eng, gate, v, rec, j = restart(p, venue)
    rep = asyncio.run(rec.run())
    assert any("7 lots filled for a" in t for t in rep.problems)
    assert eng.oms["a"].filled_qty == 4                  # reported, never guessed
    j.close()


def test_unknown_orders_mode_validated():
    eng, *_ = make_engine()
    with pytest.raises(ValueError, match="'adopt' or 'cancel'"):
        Recovery(eng, "x", unknown_orders="ignore")


def protected_session(path):
    j = Journal(path)
    eng, gate, venue, clock = make_engine(journal=j)
    a = eng.submit(order("a", qty=10))
    venue.ack("a")
    venue.fill(a, 10, 10000, ts=10)
    eng.protection.attach("test", "BTCUSDT", stop_loss=9500, native=True)
    native = venue.submitted[-1]
    venue.ack(native.client_order_id)
    venue.venue_open = [venue_state(native)]
    j.close()
    return eng, venue, native


def test_protection_restored_with_its_native_stop_and_cancelled_when_position_closes(tmp_path):
    p = tmp_path / "j.log"
    old, venue, native = protected_session(p)
    venue.venue_fills = list(old.oms.fills["a"])
    eng, gate, v, rec, j = restart(p, venue)
    rep = asyncio.run(rec.run())
    assert rep.protections == 1
    prot = eng.protection.by_key[("test", "BTCUSDT")]
    assert prot.stop_ticks == 9500 and list(prot.native_ids.values()) == [native.client_order_id]
    close = eng.submit(order("close", Side.SELL, qty=10))
    v.ack("close")
    v.fill(close, 10, 10100, ts=30)
    assert native.client_order_id in v.canceled and eng.protection.by_key == {}
    j.close()


def test_native_stop_cancelled_at_reconcile_when_position_closed_while_down(tmp_path):
    """No orphan stop: the position was closed by a fill we missed while down."""
    p = tmp_path / "j.log"
    old, venue, native = protected_session(p)
    sell = order("sell", Side.SELL, qty=10)
    j = Journal(p)                                  # the intent made it, then the crash
    j.intent(sell)
    j.close()
    sell.status = OrderStatus.SUBMITTED
    missed = venue.make_fill(sell, 10, 10100, ts=20)
    venue.venue_fills = list(old.oms.fills["a"]) + [missed]
    eng, gate, v, rec, j = restart(p, venue)
    asyncio.run(rec.run())
    assert eng.portfolio.lots("test", "BTCUSDT") == 0
    assert v.canceled == [native.client_order_id] and eng.protection.by_key == {}
    j.close()
    # and the removal is on record: the next restart restores nothing
    eng2, _, _, rec2, j2 = restart(p, venue)
    assert rec2.replay().protections == 0
    j2.close()


def test_gtd_order_expiry_timer_rearmed_after_restart(tmp_path):
    p = tmp_path / "j.log"
    j = Journal(p)
    eng, gate, venue, clock = make_engine(journal=j)
    g = eng.submit(order("g", price=10000, tif=TimeInForce.GTD, expire_ns=50_000))
    venue.ack("g")
    venue.venue_open = [venue_state(g)]
    j.close()
    eng2, gate2, v2, rec, j2 = restart(p, venue)
    asyncio.run(rec.run())
    clock2 = eng2.clock
    clock2.advance_to(50_000)
    assert v2.canceled == ["g"] and eng2.oms["g"].status is S.PENDING_CANCEL
    v2.listener.on_order_canceled("g", "", 50_001)
    assert eng2.oms["g"].status is S.EXPIRED
    j2.close()
