"""The engine with the real compiled RiskGate and the PaperVenue: denials named by the real gate,
recovery's RECONCILING, stops that fire by themselves and fill at the paper venue, the kill
switch with an order in flight, and the native stop's resize under the gate's reduce rule."""
from __future__ import annotations

import asyncio

import pytest

from _oms_fakes import BTC, FakeVenue, order
from tradecore.book import L2Book
from tradecore.core.clock import SimClock
from tradecore.core.orders import DenyReason, OrderStatus, OrderType, Side, TradingState
from tradecore.execution.engine import KILL_STRATEGY, ExecutionEngine
from tradecore.execution.journal import Journal, NullJournal
from tradecore.execution.recovery import Recovery

# every test here runs with the compiled submit and with its Python reference
pytestmark = pytest.mark.usefixtures("both_submits")

gate_mod = pytest.importorskip("tradecore.risk.gate")
limits_mod = pytest.importorskip("tradecore.risk.limits")
paper_mod = pytest.importorskip("tradecore.execution.paper")

S = OrderStatus
T0 = 1_700_000_000_000_000_000


def real_gate(clock, **sym):
    g = gate_mod.RiskGate(limits_mod.RiskLimits(), clock)
    g.add_instrument(BTC, limits_mod.SymbolLimits(**sym) if sym else None)
    return g


def book(bid: float, ask: float, ts: int, size: float = 5.0) -> L2Book:
    b = L2Book(tick_size=0.01, lot_size=0.001)
    b.apply(0, bid, size)
    b.apply(1, ask, size)
    b.ts_ns = ts
    return b


def paper_setup(latency=None, **sym):
    clock = SimClock(T0)
    gate = real_gate(clock, **sym)
    paper = paper_mod.PaperVenue("test", clock, {"BTCUSDT": BTC}, latency)
    eng = ExecutionEngine(gate, {"test": paper}, NullJournal(), clock, {BTC.key: BTC})
    return eng, gate, paper, clock


def show(eng, paper, clock, bid, ask, dt=1_000_000):
    clock.advance_to(clock.time_ns() + dt)
    b = book(bid, ask, clock.time_ns())
    paper.on_book("BTCUSDT", b)
    eng.on_book("test", "BTCUSDT", b)
    clock.advance_to(clock.time_ns() + dt)


def test_real_gate_denies_without_market_data_then_passes_after_book():
    clock = SimClock(T0)
    gate = real_gate(clock)
    eng = ExecutionEngine(gate, {"test": FakeVenue()}, NullJournal(), clock, {BTC.key: BTC})
    assert eng.submit(order("a", price=10000)).deny_reason is DenyReason.NO_MARKET_DATA
    eng.on_book("test", "BTCUSDT", book(100.0, 100.02, T0))
    assert eng.submit(order("b", price=10000)).status is S.SUBMITTED
    assert eng.submit(order("c", price=20000)).deny_reason is DenyReason.PRICE_BAND
    assert gate.denials[DenyReason.NO_MARKET_DATA] == 1 and gate.denials[DenyReason.PRICE_BAND] == 1


def test_real_gate_judges_staleness_by_the_book_change_time_when_the_mid_is_pulled():
    """The mid reaches the gate only at the next order, stamped with the book's time: a book
    that has not changed for longer than max_mid_age is stale at order time."""
    clock = SimClock(T0)
    gate = real_gate(clock, max_mid_age_ns=5_000_000)
    eng = ExecutionEngine(gate, {"test": FakeVenue()}, NullJournal(), clock, {BTC.key: BTC})
    eng.on_book("test", "BTCUSDT", book(100.0, 100.02, T0))
    clock.advance_to(T0 + 10_000_000)
    assert eng.submit(order("a", price=10000)).deny_reason is DenyReason.STALE_MARKET_DATA
    eng.on_book("test", "BTCUSDT", book(100.0, 100.02, T0 + 10_000_000))
    assert eng.submit(order("b", price=10000)).status is S.SUBMITTED
    assert gate.mid("test", "BTCUSDT") == (pytest.approx(100.01), T0 + 10_000_000)


def test_real_gate_decides_as_with_a_mid_pushed_on_every_book_change():
    """Pulled mids (the engine) and mids pushed per change (update_mid): the same verdict for
    every order of a random sequence of book changes, orders and clock steps."""
    import random
    rnd = random.Random(7)
    clock = SimClock(T0)
    pulled = real_gate(clock, price_band=0.01, max_mid_age_ns=3_000_000)
    pushed = real_gate(clock, price_band=0.01, max_mid_age_ns=3_000_000)
    eng = ExecutionEngine(pulled, {"test": FakeVenue()}, NullJournal(), clock, {BTC.key: BTC})
    mid = 100.0
    verdicts = set()
    for i in range(2000):
        clock.advance_to(clock.time_ns() + rnd.choice((0, 100_000, 1_000_000, 4_000_000)))
        if rnd.random() < 0.7:
            mid = max(1.0, round(mid + rnd.choice((-0.05, 0.0, 0.05)), 2))
            b = book(mid - 0.01, mid + 0.01, rnd.choice((clock.time_ns(), 0)))
            eng.on_book("test", "BTCUSDT", b)
            pushed.update_mid("test", "BTCUSDT", b.mid(), b.ts_ns or clock.time_ns())
        else:
            px = round((mid + rnd.uniform(-2.0, 2.0)) * 100)
            o = order(f"o{i}", price=max(px, 1), qty=1)
            want = pushed.check(o)
            got = eng.submit(o)
            assert got.deny_reason is want, (i, want, got.deny_reason)
            verdicts.add(want)
            if got.status is S.SUBMITTED:          # keep open state equal in both gates
                pushed.on_order_open(got)
                eng.venues["test"].listener.on_order_canceled(got.client_order_id, "",
                                                             clock.time_ns())
                pushed.on_order_done(got)
    assert {DenyReason.NONE, DenyReason.PRICE_BAND, DenyReason.STALE_MARKET_DATA} <= verdicts


def test_real_gate_denies_reconciling_during_recovery(tmp_path):
    clock = SimClock(T0)
    gate = real_gate(clock)
    j = Journal(tmp_path / "j.log")
    eng = ExecutionEngine(gate, {"test": FakeVenue()}, j, clock, {BTC.key: BTC})
    eng.on_book("test", "BTCUSDT", book(100.0, 100.02, T0))
    rec = Recovery(eng, tmp_path / "j.log")
    rec.replay()
    assert eng.submit(order("a", price=10000)).deny_reason is DenyReason.RECONCILING
    asyncio.run(rec.reconcile())
    assert eng.submit(order("b", price=10000)).status is S.SUBMITTED
    j.close()


def test_real_gate_state_change_is_journaled(tmp_path):
    from tradecore.execution.journal import read_journal
    clock = SimClock(T0)
    gate = real_gate(clock)
    j = Journal(tmp_path / "j.log")
    ExecutionEngine(gate, {"test": FakeVenue()}, j, clock, {BTC.key: BTC})
    gate.set_state(TradingState.REDUCING, "drawdown")
    j.close()
    assert read_journal(tmp_path / "j.log").records == [["R", 1, "drawdown", T0]]


def test_paper_market_order_fills_and_stop_exits_by_itself():
    eng, gate, paper, clock = paper_setup()
    show(eng, paper, clock, 100.0, 100.02)
    o = eng.submit(order("buy", Side.BUY, 1000))
    clock.advance_to(clock.time_ns() + 1)
    assert o.status is S.FILLED and eng.portfolio.lots("test", "BTCUSDT") == 1000
    assert gate.position("test", "BTCUSDT") == 1000
    eng.protection.attach("test", "BTCUSDT", stop_offset=100)       # 1.00 under entry
    show(eng, paper, clock, 99.50, 99.52)
    assert eng.portfolio.lots("test", "BTCUSDT") == 1000
    show(eng, paper, clock, 98.90, 98.92)                             # through the stop
    assert eng.portfolio.lots("test", "BTCUSDT") == 0
    assert gate.position("test", "BTCUSDT") == 0
    assert eng.protection.by_key == {}
    exits = [x for x in eng.oms.orders.values() if x.tag == "stop-loss"]
    assert len(exits) == 1 and exits[0].status is S.FILLED
    p = eng.portfolio.position("test", "BTCUSDT")
    assert p.realized_pnl < 0 and p.fees > 0


def test_paper_kill_switch_cancels_order_in_flight_when_it_arrives():
    lat = paper_mod.LatencyModel(order_ns=5_000_000, ack_ns=1_000_000)
    eng, gate, paper, clock = paper_setup(lat)
    show(eng, paper, clock, 100.0, 100.02)
    o = eng.submit(order("rest", Side.BUY, 500, 9990))
    gate.latch_halt("kill switch")
    eng.kill(flatten=True)
    assert o.status is S.SUBMITTED                       # not at the venue yet
    clock.advance_to(clock.time_ns() + 20_000_000)
    assert o.status is S.CANCELED
    assert eng.submit(order("new", price=10000)).deny_reason is DenyReason.HALTED
    assert not [x for x in eng.oms.orders.values() if x.strategy_id == KILL_STRATEGY]


def test_native_stop_resized_under_real_gate_reduce_rule():
    eng, gate, paper, clock = paper_setup()
    show(eng, paper, clock, 100.0, 100.02)
    eng.submit(order("buy", Side.BUY, 1000))
    clock.advance_to(clock.time_ns() + 1)
    eng.protection.attach("test", "BTCUSDT", stop_loss=9600, take_profit=10400, native=True)
    clock.advance_to(clock.time_ns() + 1)
    natives = [x for x in eng.oms.open.values() if x.tag.startswith("native-")]
    assert [(n.type, n.qty, n.status) for n in natives] == [(OrderType.STOP_MARKET, 1000,
                                                            S.ACCEPTED)]
    # a reduce-only partial exit is refused while the full-size native stop works (the gate
    # counts every working order on the reducing side); a plain one passes
    ro = eng.submit(order("tp-ro", Side.SELL, 400, reduce_only=True))
    assert ro.deny_reason is DenyReason.REDUCE_ONLY_VIOLATION
    tp = eng.submit(order("tp", Side.SELL, 400))
    assert tp.status is not S.DENIED, tp.reason_text
    clock.advance_to(clock.time_ns() + 1)
    assert tp.status is S.FILLED
    clock.advance_to(clock.time_ns() + 1)
    natives = [x for x in eng.oms.open.values() if x.tag.startswith("native-")]
    assert [(n.qty, n.status) for n in natives] == [(600, S.ACCEPTED)]
    assert not [p for p in eng.problems if "DENIED" in p.detail]


def test_kill_switch_trip_flattens_through_paper_and_survives_restart(tmp_path):
    from tradecore.execution.journal import read_journal
    breakers = pytest.importorskip("tradecore.risk.breakers")
    clock = SimClock(T0)
    gate = real_gate(clock)
    paper = paper_mod.PaperVenue("test", clock, {"BTCUSDT": BTC},
                                 paper_mod.LatencyModel(order_ns=2_000_000, ack_ns=1_000_000))
    j = Journal(tmp_path / "j.log")
    eng = ExecutionEngine(gate, {"test": paper}, j, clock, {BTC.key: BTC})
    ks = breakers.KillSwitch(gate, clock)
    eng.attach_kill_switch(ks)
    show(eng, paper, clock, 100.0, 100.02)
    eng.submit(order("buy", Side.BUY, 1000))
    clock.advance_to(clock.time_ns() + 10_000_000)
    assert eng.portfolio.lots("test", "BTCUSDT") == 1000
    inflight = eng.submit(order("rest", Side.BUY, 500, 9990))
    ks.trip(flatten=True, reason="operator")
    show(eng, paper, clock, 100.0, 100.02, dt=10_000_000)
    assert inflight.status is S.CANCELED
    assert eng.portfolio.lots("test", "BTCUSDT") == 0
    assert gate.state is TradingState.HALTED
    j.close()
    assert [r[1] for r in read_journal(tmp_path / "j.log").records if r[0] == "R"] == [2]
    # a restart comes back HALTED and latched: only the kill switch's rearm leaves it
    gate2 = real_gate(clock)
    j2 = Journal(tmp_path / "j.log")
    eng2 = ExecutionEngine(gate2, {"test": FakeVenue()}, j2, clock, {BTC.key: BTC})
    asyncio.run(Recovery(eng2, tmp_path / "j.log").run())
    assert gate2.state is TradingState.HALTED and gate2.latched
    ks2 = breakers.KillSwitch(gate2, clock)
    eng2.attach_kill_switch(ks2)
    ks2.rearm("checked")
    assert gate2.state is TradingState.ACTIVE
    j2.close()
    assert [r[1] for r in read_journal(tmp_path / "j.log").records if r[0] == "R"] == [2, 0]
