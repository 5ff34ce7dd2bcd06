"""The node over the bundled real recordings: paper and backtest give the same orders and
fills, orders pass the real risk gate and fill on the paper venue, the report is written."""
from __future__ import annotations

import asyncio
import platform

import pytest

from tradecore.config import ConfigError, load
from tradecore.core.orders import OrderStatus
from tradecore.engine import GC_LIVE_GEN0, RETIRE_EVERY_S, TradingNode

ZERO_FEES = {
    "instruments": {"binance:BTCUSDT": {"maker_fee": 0.0, "taker_fee": 0.0},
                    "binance_usdm:BTCUSDT": {"maker_fee": 0.0, "taker_fee": 0.0}},
    "strategies": [{"id": "xarb", "kind": "cross_exchange",
                    "settings": {"venues": [["binance", "BTCUSDT"], ["binance_usdm", "BTCUSDT"]],
                                 "max_qty": 0.05, "min_edge_bps": 0.5, "cooldown_ms": 1000}}],
}


def record_run(node: TradingNode) -> list[tuple]:
    seen: list[tuple] = []
    node.listeners.append(lambda o, ev: seen.append(
        (ev.client_order_id, ev.status.name, ev.ts_ns,
         None if ev.fill is None else (ev.fill.trade_id, ev.fill.qty, ev.fill.price))))
    return seen


def test_backtest_and_paper_produce_the_same_orders_and_fills_on_the_same_recording():
    bt = TradingNode(load(None, {**ZERO_FEES, "run": {"mode": "backtest"}}))
    a = record_run(bt)
    bt.run_replay(limit=30_000)
    paper = TradingNode(load(None, {**ZERO_FEES, "run": {"mode": "paper"}}))
    b = record_run(paper)
    asyncio.run(paper.run_replay_paced(0.0, limit=30_000))
    assert a and a == b
    assert any(ev[3] is not None for ev in a)          # something filled


def test_orders_go_through_the_gate_and_fill_on_the_paper_venue():
    node = TradingNode(load(None, {**ZERO_FEES, "run": {"mode": "backtest"}}))
    node.run_replay(limit=30_000)
    s = node.summary()
    assert s["orders"] > 0 and s["fills"] > 0
    assert s["strategies"]["xarb"]["taken"] > 0
    assert not [k for k in s["problems"] if k.startswith(("execution", "strategy"))]
    # every order ended in a terminal state and positions equal the fills
    orders = list(node.exec.oms.orders.values())
    assert all(o.is_terminal for o in orders)
    for (venue, symbol), pos in node.exec.portfolio.positions.items():
        filled = sum(int(o.side) * o.filled_qty for o in orders
                     if (o.venue, o.symbol) == (venue, symbol))
        assert pos.lots == filled


def test_default_paper_config_takes_nothing_when_fees_exceed_the_basis():
    node = TradingNode(load(None, {"run": {"mode": "backtest"}}))
    node.run_replay(limit=20_000)
    s = node.summary()
    assert s["book_updates"] > 1000 and s["orders"] == 0
    assert s["strategies"]["xarb"]["checks"] == s["book_updates"]


def test_a_strategy_reading_an_unconfigured_instrument_is_refused_at_start():
    bad = {"strategies": [{"id": "x", "kind": "cross_exchange",
                           "settings": {"venues": [["binance", "ETHUSDT"],
                                                   ["binance_usdm", "BTCUSDT"]]}}]}
    with pytest.raises(ConfigError, match="binance:ETHUSDT"):
        TradingNode(load(None, bad))


def test_unknown_risk_key_is_refused_with_the_section():
    with pytest.raises(ConfigError, match=r"\[risk\]"):
        TradingNode(load(None, {"risk": {"max_gros_notional": 1}}))


def test_backtest_over_compiled_events_equals_the_capture_replay():
    from tradecore.backtest.events import compile_captures
    from tradecore.backtest.fast_replay import replay_events

    cfg = load(None, {**ZERO_FEES, "run": {"mode": "backtest"}})
    log = compile_captures({f.venue: (f.exchange, f.capture) for f in cfg.feeds})
    assert log.n_levels > 500_000 and len(log.trades) > 30_000
    a_node = TradingNode(cfg)
    a = record_run(a_node)
    a_node.run_replay()
    b_node = TradingNode(cfg)
    b = record_run(b_node)
    replay_events(b_node, log)
    assert a and a == b
    assert a_node.summary()["realized_pnl"] == b_node.summary()["realized_pnl"]


def test_backtest_from_the_data_store_equals_the_capture_replay(tmp_path):
    """Record the bundled captures into the Parquet store (as `tradecore record` does live),
    compile the store, and replay it: the same orders and fills as the capture replay."""
    from tradecore.backtest.events import compile_store
    from tradecore.backtest.fast_replay import replay_events
    from tradecore.data.recorder import record_to
    from tradecore.data.capture import REST, WS, read_capture
    from tradecore.verify import normalizer_for

    cfg = load(None, {**ZERO_FEES, "run": {"mode": "backtest"}})
    for f in cfg.feeds:
        norm = normalizer_for(f.exchange)
        rec = record_to(tmp_path / f.venue, norm)
        for r in read_capture(f.capture):
            if r.kind == WS:
                norm.on_frame(r.payload, r.conn, r.ts_ns)
            elif r.kind == REST:
                norm.on_rest(r.payload, r.conn, r.ts_ns, r.src)
        rec.close()
    a_node = TradingNode(cfg)
    a = record_run(a_node)
    a_node.run_replay()
    b_node = TradingNode(cfg)
    b = record_run(b_node)
    log = compile_store({f.venue: (tmp_path / f.venue, "binance", ["BTCUSDT"])
                         for f in cfg.feeds})
    assert log.n_levels > 500_000 and len(log.trades) > 30_000
    replay_events(b_node, log)
    assert a and a == b


def test_gc_policy_live_freezes_what_exists_and_restores_the_collector_after():
    import gc
    from tradecore._fast import arenas
    node = TradingNode(load(None, {**ZERO_FEES, "run": {"mode": "backtest"}}))
    before = gc.get_threshold()
    assert gc.isenabled()
    with node.gc_policy("live"):
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == GC_LIVE_GEN0
        assert arenas.installed() and arenas.stats()["cached"] > 0   # prefaulted arenas
        assert arenas.stats()["heap_kept"] == (platform.libc_ver()[0] == "glibc")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0 and gc.isenabled()
    assert not arenas.installed() and arenas.stats()["cached"] == 0
    assert not arenas.stats()["heap_kept"]
    with node.gc_policy("off"):
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="gc policy 'fast'"):
        with node.gc_policy("fast"):
            pass


def test_book_hook_when_compiled_runs_the_replay_as_its_python_reference(monkeypatch):
    """_fast/fanout.pxd's BookFanout against engine.py's _book_hook_py over the same replay:
    the same order events, fills, counters, problems, positions and marks, gate mids, books."""
    import tradecore.engine as eng
    runs = []
    for compiled in (True, False):
        monkeypatch.setattr(eng, "COMPILED_BOOK_HOOK", compiled)
        node = TradingNode(load(None, {**ZERO_FEES, "run": {"mode": "backtest"}}))
        seen = record_run(node)
        node.run_replay(limit=30_000)
        s = node.summary()
        runs.append((seen, s["orders"], s["fills"], node.stats.book_updates, s["problems"],
                     s["strategies"],
                     {k: (p.lots, p.mark) for k, p in node.exec.portfolio.positions.items()},
                     gate_mids(node), sorted(node.books)))
    assert runs[0][0] and runs[0][3] > 1000
    assert runs[0] == runs[1]


def gate_mids(node: TradingNode) -> dict:
    """The mids the gate's kernel holds, the noted ones given to it first (node.gate.kernel
    flushes): the compiled hook sets them in the kernel at once, the Python one notes them."""
    k = node.gate.kernel
    return {key: (k.symbol(i)["mid"], k.symbol(i)["mid_ts"])
            for key, i in node.gate._index.items()}


def test_submit_when_compiled_runs_the_replay_as_its_python_reference(monkeypatch):
    """_fast/orderpath.pxd's OrderPath against ExecutionEngine.submit over the same replay (the
    bench's zero-fee cross-exchange strategy: an order on most book changes): the same order
    events, fills, counters, problems, positions and marks, gate bookkeeping."""
    import tradecore.execution.engine as ee
    from tradecore.bench.tick_to_order import bench_config
    runs = []
    for compiled in (True, False):
        monkeypatch.setattr(ee, "COMPILED_SUBMIT", compiled)
        node = TradingNode(bench_config())
        seen = record_run(node)
        node.run_replay(limit=20_000)
        s = node.summary()
        runs.append((seen, s["orders"], s["fills"], s["problems"], s["strategies"],
                     {k: (p.lots, p.mark) for k, p in node.exec.portfolio.positions.items()},
                     sorted(node.gate._open), node.gate.denials))
        fast = getattr(node.exec.submit, "__self__", None)
        assert (fast.fast > 1000) if compiled else fast is node.exec
    assert runs[0][1] > 1000 and runs[0][0]
    assert runs[0] == runs[1]


def test_paced_paper_when_orders_outlive_the_retention_forgets_them_and_changes_no_event():
    """run.retain_orders_s: the OMS forgets the terminal orders older than it (every
    RETIRE_EVERY_S of the clock, between records), and the run's orders and fills are those of
    a run that keeps them all."""
    runs = []
    for keep in (0, 20):
        node = TradingNode(load(None, {**ZERO_FEES, "run": {"mode": "paper",
                                                             "retain_orders_s": keep}}))
        seen = record_run(node)
        asyncio.run(node.run_replay_paced(0.0, limit=60_000))
        runs.append((node, seen))
    (all_kept, a), (retained, b) = runs
    assert a and a == b
    s_all, s_ret = all_kept.summary(), retained.summary()
    assert (s_all["orders"], s_all["fills"]) == (s_ret["orders"], s_ret["fills"]) > (0, 0)
    oms = retained.exec.oms
    assert all_kept.exec.oms.retired == 0 and oms.retired > 0
    assert len(oms.orders) + oms.retired == len(all_kept.exec.oms.orders)
    horizon = retained.clock.time_ns() - 20 * 10**9 - 2 * int(RETIRE_EVERY_S * 1e9)
    assert all(o.ts_last_ns >= horizon or not o.is_terminal for o in oms.orders.values())


def test_retire_orders_when_the_retention_is_zero_keeps_every_order():
    node = TradingNode(load(None, {**ZERO_FEES, "run": {"mode": "backtest",
                                                         "retain_orders_s": 0}}))
    node.run_replay(limit=30_000)
    n = len(node.exec.oms.orders)
    node.clock.advance_to(node.clock.time_ns() + 10**15)
    assert n > 0 and node.retire_orders() == 0 and len(node.exec.oms.orders) == n


def test_retire_every_when_running_on_the_loop_retires_at_each_period(monkeypatch):
    """The live node's task (run_live starts it): retire_orders every RETIRE_EVERY_S."""
    import tradecore.engine as eng
    node = TradingNode(load(None, {**ZERO_FEES, "run": {"mode": "backtest",
                                                         "retain_orders_s": 1}}))
    node.run_replay(limit=30_000)                     # orders, all terminal by the end
    n = len(node.exec.oms.orders)
    node.clock.advance_to(node.clock.time_ns() + 60 * 10**9)
    monkeypatch.setattr(eng, "RETIRE_EVERY_S", 0.01)
    monkeypatch.setattr(eng, "RETIRE_BATCH", 3)

    async def run_a_while():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(node._retire_every(), 0.2)
    asyncio.run(run_a_while())
    oms = node.exec.oms
    assert n > 6 and oms.retired >= 6            # several periods, 3 at most each
    assert len(oms.orders) + oms.retired == n
