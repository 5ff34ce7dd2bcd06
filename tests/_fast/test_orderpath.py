"""OrderPath (_fast/orderpath.pxd), the execution engine's compiled submit, against its Python
reference (ExecutionEngine.submit): the same orders given to an engine of each kind, with the real
risk gate and journal, end in the same orders, events, gate bookkeeping and journal bytes; and
what the compiled path hands over to the reference, it hands over before changing anything."""
from __future__ import annotations

from dataclasses import astuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tradecore.execution.engine as engine_mod
from tradecore.api.metrics import attach
from tradecore.book import L2Book
from tradecore.core.clock import SimClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import (DenyReason, Order, OrderStatus, OrderType, Side,
                                   TimeInForce)
from tradecore.execution.engine import ExecutionEngine
from tradecore.execution.journal import Journal, read_journal
from tradecore.execution.venue import VenueClient
from tradecore.risk.gate import RiskGate
from tradecore.risk.limits import RiskLimits, SymbolLimits

S = OrderStatus
T0 = 1_700_000_000_000_000_000
BTC = Instrument("test", "BTCUSDT", tick="0.01", lot="0.001", base="BTC", quote="USDT",
                 maker_fee=0.0, taker_fee=0.001)


class Venue(VenueClient):
    """Keeps what it is sent; `answer` makes it answer synchronously inside submit."""

    name = "test"

    def __init__(self, answer: str = "") -> None:
        self.sent: list[str] = []
        self.answer = answer
        self.listener = None

    def set_listener(self, listener) -> None:
        self.listener = listener

    def submit(self, order: Order) -> None:
        self.sent.append(order.client_order_id)
        if self.answer == "reject":
            self.listener.on_order_rejected(order.client_order_id, "no", 1)

    def cancel(self, order: Order) -> None:
        self.listener.on_order_canceled(order.client_order_id, "", 1)

    async def open_orders(self):
        return []

    async def fills_since(self, ts_ns: int):
        return []


def build(tmp_path, compiled: bool, monkeypatch, answer: str = "", **limits):
    monkeypatch.setattr(engine_mod, "COMPILED_SUBMIT", compiled)
    clock = SimClock(T0)
    gate = RiskGate(RiskLimits(), clock)
    gate.add_instrument(BTC, SymbolLimits(**limits) if limits else None)
    venue = Venue(answer)
    journal = Journal(tmp_path / f"{'c' if compiled else 'p'}.journal")
    eng = ExecutionEngine(gate, {"test": venue}, journal, clock, {BTC.key: BTC})
    events: list = []
    eng.subscribe("s1", lambda ev: events.append((ev.client_order_id, ev.status, ev.reason)))
    b = L2Book(tick_size=0.01, lot_size=0.001)
    b.apply(0, 100.0, 5.0)
    b.apply(1, 100.02, 5.0)
    b.ts_ns = T0
    eng.on_book("test", "BTCUSDT", b)            # a mid, noted for the first check
    return eng, gate, venue, journal, events


def plain(cid: str, **kw) -> Order:
    args = dict(side=Side.BUY, type=OrderType.LIMIT, qty=100, price=10000,
                tif=TimeInForce.IOC, strategy_id="s1")
    args.update(kw)
    return Order(cid, "test", "BTCUSDT", args.pop("side"), args.pop("type"), args.pop("qty"),
                 **args)


def outcome(eng, order):
    try:
        o = eng.submit(order)
    except Exception as e:            # the reference's errors must be the compiled path's too
        return ("raised", type(e).__name__, str(e))
    return ("ok", astuple(o))


def state(eng, gate, venue, journal, events):
    journal.close()
    return ({k: astuple(o) for k, o in eng.oms.orders.items()}, sorted(eng.oms.open),
            sorted(gate._open), venue.sent, events, read_journal(journal.path).records,
            dict(gate.denials))


def compiled_of(eng):
    return getattr(eng.submit, "__self__", None)


# -- the usual case --------------------------------------------------------------------------

def test_submit_when_order_is_plain_takes_the_compiled_path(tmp_path, monkeypatch):
    eng, gate, venue, journal, _ = build(tmp_path, True, monkeypatch)
    path = compiled_of(eng)
    o = eng.submit(plain("a"))
    assert (path.fast, path.handed) == (1, 0)
    assert o.status is S.SUBMITTED and o.ts_created_ns == T0 and o.ts_last_ns == T0
    assert eng.oms.orders["a"] is o and eng.oms.open["a"] is o and venue.sent == ["a"]
    assert "a" in gate._open and not gate.pending_mids      # the noted mid was flushed
    journal.close()
    assert [r[:2] for r in read_journal(journal.path).records] == [["I", "a"]]


def test_submit_when_compiled_off_is_the_method_itself(tmp_path, monkeypatch):
    eng, *_ = build(tmp_path, False, monkeypatch)
    assert compiled_of(eng) is eng and eng.submit.__func__ is ExecutionEngine.submit


def test_submit_keeps_a_set_creation_time(tmp_path, monkeypatch):
    eng, *_ = build(tmp_path, True, monkeypatch)
    o = plain("a")
    o.ts_created_ns = T0 - 5
    eng.submit(o)
    assert o.ts_created_ns == T0 - 5 and o.ts_last_ns == T0 - 5


# -- what is handed over, before anything changes -------------------------------------------

def test_submit_when_id_is_known_hands_over_and_returns_the_first_order(tmp_path, monkeypatch):
    eng, _, venue, *_ = build(tmp_path, True, monkeypatch)
    a = eng.submit(plain("a"))
    assert eng.submit(plain("a")) is a
    path = compiled_of(eng)
    assert (path.fast, path.handed) == (1, 1) and venue.sent == ["a"]


def test_submit_when_order_is_malformed_raises_the_references_error_and_changes_nothing(
        tmp_path, monkeypatch):
    eng, gate, venue, *_ = build(tmp_path, True, monkeypatch)
    with pytest.raises(Exception, match="qty"):
        eng.submit(plain("a", qty=0))
    path = compiled_of(eng)
    assert (path.fast, path.handed) == (0, 1)
    assert eng.oms.orders == {} and venue.sent == [] and gate.pending_mids


def test_submit_when_order_is_a_subclass_hands_it_to_the_reference(tmp_path, monkeypatch):
    class Tagged(Order):
        __slots__ = ()
    eng, _, venue, *_ = build(tmp_path, True, monkeypatch)
    o = eng.submit(Tagged("a", "test", "BTCUSDT", Side.BUY, OrderType.LIMIT, 100, 10000,
                          strategy_id="s1"))
    assert o.status is S.SUBMITTED and compiled_of(eng).handed == 1 and venue.sent == ["a"]


def test_submit_when_gate_check_is_probed_calls_the_probe(tmp_path, monkeypatch):
    """api/metrics.py shadows gate.check after the engine is built: the probe must see it."""
    eng, gate, *_ = build(tmp_path, True, monkeypatch)
    calls = []
    inner = gate.check
    gate.check = lambda o: calls.append(o.client_order_id) or inner(o)
    eng.submit(plain("a"))
    assert calls == ["a"] and compiled_of(eng).fast == 1


def test_submit_when_the_venue_rejects_at_once_does_not_count_it_working(tmp_path, monkeypatch):
    runs = []
    for compiled in (True, False):
        (tmp_path / str(compiled)).mkdir()
        eng, gate, venue, journal, events = build(tmp_path / str(compiled), compiled,
                                                  monkeypatch, answer="reject")
        o = eng.submit(plain("a"))
        assert o.status is S.REJECTED and "a" not in gate._open
        runs.append(state(eng, gate, venue, journal, events))
    assert runs[0] == runs[1]


def test_submit_when_no_client_for_the_venue_denies_like_the_reference(tmp_path, monkeypatch):
    runs = []
    for compiled in (True, False):
        (tmp_path / str(compiled)).mkdir()
        eng, gate, venue, journal, events = build(tmp_path / str(compiled), compiled,
                                                  monkeypatch)
        del eng.venues["test"]
        o = eng.submit(plain("a"))
        assert o.status is S.DENIED and o.deny_reason is DenyReason.UNKNOWN_INSTRUMENT
        runs.append(state(eng, gate, venue, journal, events))
    assert runs[0] == runs[1]


def test_submit_with_metrics_attached_times_the_gate_and_the_send(tmp_path, monkeypatch):
    from tradecore.bench.tick_to_order import bench_config
    from tradecore.engine import TradingNode
    monkeypatch.setattr(engine_mod, "COMPILED_SUBMIT", True)
    node = TradingNode(bench_config())            # zero fees: an order on most book changes
    m = attach(node)
    node.start()
    node.run_replay(limit=5_000)
    assert node.stats.orders > 0
    risk, send = m.stages["risk"].fold(), m.stages["order_send"].fold()
    assert risk == node.stats.orders and send == risk - node.stats.denied > 0


# -- the same orders, both ways ---------------------------------------------------------------

ANY = st.builds(
    dict,
    cid=st.sampled_from(["a", "b", "c", "d"]),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    type=st.sampled_from(list(OrderType)),
    qty=st.one_of(st.integers(-2, 3000), st.sampled_from([True, 1.5, 10**30])),
    price=st.sampled_from([0, 1, 9990, 10000, 10002, 30000, -5]),
    trigger_price=st.sampled_from([0, 9000, 10001]),
    tif=st.sampled_from(list(TimeInForce)),
    post_only=st.booleans(),
    reduce_only=st.booleans(),
    expire_ns=st.sampled_from([0, T0 + 10**9, T0 - 1]),
    trail_ticks=st.sampled_from([0, 3]),
    advance=st.sampled_from([0, 0, 1_000, 10**9]),
)
# well-formed limit orders near the mid: the compiled path's own case (some still denied: size,
# band, reduce-only, a reused id)
VALID = st.builds(
    dict,
    cid=st.sampled_from(["a", "b", "c", "d", "e", "f"]),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    type=st.just(OrderType.LIMIT),
    qty=st.integers(1, 2500),
    price=st.integers(9990, 10012),
    tif=st.sampled_from([TimeInForce.IOC, TimeInForce.GTC]),
    reduce_only=st.booleans(),
    advance=st.sampled_from([0, 1_000]),
)
ORDERS = st.one_of(VALID, VALID, ANY)


@settings(max_examples=150, deadline=None)
@given(st.lists(ORDERS, min_size=1, max_size=8), st.sampled_from(["", "reject"]))
def test_submit_compiled_and_reference_agree_on_any_orders(tmp_path_factory, specs, answer):
    runs = []
    for compiled in (True, False):
        d = tmp_path_factory.mktemp("op")
        with pytest.MonkeyPatch.context() as mp:
            eng, gate, venue, journal, events = build(d, compiled, mp, answer,
                                                      max_order_lots=2000)
        outs = []
        for sp in specs:
            sp = dict(sp)
            eng.clock.advance_to(eng.clock.time_ns() + sp.pop("advance"))
            outs.append(outcome(eng, plain(sp.pop("cid"), **sp)))
        runs.append((outs, state(eng, gate, venue, journal, events)))
    assert runs[0] == runs[1]


def test_submit_when_the_intent_needs_escapes_writes_it_the_journals_way(tmp_path, monkeypatch):
    """The compiled intent line refuses a tag that needs escapes or is not ASCII; the journal's
    orjson path writes it, and both engines' files hold the same records."""
    runs = []
    for compiled in (True, False):
        (tmp_path / str(compiled)).mkdir()
        eng, gate, venue, journal, events = build(tmp_path / str(compiled), compiled,
                                                  monkeypatch)
        for cid, tag in (("a", "plain"), ("b", 'say "hi"'), ("c", "é"), ("d", "")):
            eng.submit(plain(cid, tag=tag))
        assert journal.records_written == 4
        runs.append(state(eng, gate, venue, journal, events))
    assert runs[0] == runs[1]
    assert [r[16] for r in runs[0][5]] == ["plain", 'say "hi"', "é", ""]
