"""The whole execution stack over a real recording (Binance spot BTCUSDT 2024-08-08, bundled:
REST snapshot + depth@100ms + trades) with a SimClock at each record's receive time: real
RiskGate, PaperVenue matching against the real book, the engine's protective stops watching the
real book and trades. Checks the bookkeeping end to end: every paper fill counted once in the
portfolio and the gate, and a trailing stop that fires by itself at its level and closes the
position exactly."""
from __future__ import annotations

import pytest

from datafiles import sample_file
from tradecore.core.clock import SimClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderStatus, OrderType, Side
from tradecore.data.capture import REST, WS, read_capture
from tradecore.execution.engine import ExecutionEngine
from tradecore.execution.journal import Journal, read_journal
from tradecore.risk.stops import StopKind
from tradecore.verify import normalizer_for

gate_mod = pytest.importorskip("tradecore.risk.gate")
limits_mod = pytest.importorskip("tradecore.risk.limits")
paper_mod = pytest.importorskip("tradecore.execution.paper")

SYM = "BTCUSDT"
INST = Instrument("binance", SYM, "0.01", "0.00001", base="BTC", quote="USDT",
                  min_qty="0.00001", min_notional="5", maker_fee=0.0002, taker_fee=0.0005)
S = OrderStatus


def test_trailing_stop_closes_real_position_and_every_fill_counts_once(tmp_path):
    clock = SimClock(0)
    gate = gate_mod.RiskGate(limits_mod.RiskLimits(
        default_symbol=limits_mod.SymbolLimits(max_mid_age_ns=10**12)), clock)
    gate.add_instrument(INST)
    paper = paper_mod.PaperVenue("binance", clock, {SYM: INST},
                                 paper_mod.LatencyModel(order_ns=2_000_000, ack_ns=1_000_000))
    j = Journal(tmp_path / "j.log")
    eng = ExecutionEngine(gate, {"binance": paper}, j, clock, {INST.key: INST})
    fired_at: list[tuple[int, int, int]] = []     # (bid ticks, trail trigger) when it fired
    n_books = [0]
    state = {"entry": None, "attached": False}

    def on_book(key, book):
        paper.on_book(key[1], book)
        prot = eng.protection.by_key.get(("binance", SYM))
        trigger = prot.trail_trigger() if prot is not None else 0
        before = len(eng.oms.orders)
        eng.on_book("binance", SYM, book)
        if prot is not None and len(eng.oms.orders) > before:
            fired_at.append((book.top_ticks()[0], trigger, prot.trail_ref))
        n_books[0] += 1
        if n_books[0] == 20:                           # the strategy buys 0.05 BTC at market
            state["entry"] = eng.submit(Order("entry-1", "binance", SYM, Side.BUY,
                                              OrderType.MARKET, 5000, strategy_id="s"))
        if (state["entry"] is not None and state["entry"].status is S.FILLED
                and not state["attached"]):
            state["prot"] = eng.protection.attach("binance", SYM, trail_ticks=300)   # $3.00
            state["attached"] = True

    def on_trade(t):
        paper.on_trade(t.symbol, t)
        eng.on_trade("binance", SYM, t)

    norm = normalizer_for("binance")
    norm.on_book = on_book
    norm.on_trade = on_trade
    for r in read_capture(sample_file("hbt_spot_btcusdt_20240808.gz")):
        clock.advance_to(max(r.ts_ns, clock.time_ns()))
        if r.kind == WS:
            norm.on_frame(r.payload, r.conn, r.ts_ns)
        elif r.kind == REST:
            norm.on_rest(r.payload, r.conn, r.ts_ns, r.src)
    clock.run_all()
    j.close()

    assert state["entry"].status is S.FILLED
    fills = [f for fs in eng.oms.fills.values() for f in fs]
    venue_fills = paper._fills
    assert sorted(f.trade_id for f in fills) == sorted(f.trade_id for f in venue_fills)
    net = sum(int(f.side) * f.qty for f in venue_fills)
    assert eng.portfolio.lots("binance", SYM) == net == gate.position("binance", SYM)
    # the trailing stop fired by itself, at its level, and closed the position exactly
    exits = [o for o in eng.oms.orders.values() if o.tag == "trailing-stop"]
    assert len(exits) == 1 and exits[0].status is S.FILLED and exits[0].qty == 5000
    assert exits[0].reduce_only and exits[0].side is Side.SELL
    assert net == 0 and eng.protection.by_key == {}
    p = eng.portfolio.position("binance", SYM)
    assert p.fees == pytest.approx(sum(f.fee for f in venue_fills))
    assert eng.problems == []
    # the journal holds every fill once
    tids = [r[9] for r in read_journal(tmp_path / "j.log").records if r[0] == "F"]
    assert sorted(tids) == sorted(f.trade_id for f in venue_fills)
    # fired on a book event: bid at or under the trigger (or a trade through it)
    # it fired at its level: the price seen (bid on a book event, or a trade) was at least
    # 300 ticks under the best price seen since attaching (the reference only ever rises)
    prot = state["prot"]
    (kind, px), = prot.fired
    assert kind is StopKind.TRAILING_STOP and 0 < px <= prot.trail_ref - 300
    for bid, trigger, ref in fired_at:
        assert bid <= trigger == ref - 300
