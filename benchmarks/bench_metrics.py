"""What the metrics probes cost on the hot path, beside the same node without them.

    PYTHONPATH=src python benchmarks/bench_metrics.py [--rounds N] [--chunk N]

Data: the bundled paper run (Binance spot + USD-M BTCUSDT, 2024-08-08, real recordings),
replayed flat out (`TradingNode.run_replay`) by four nodes built from the same config:

  plain        no probes: the reference every figure stands beside
  probes       tradecore.api.metrics.attach(): compiled probes (_fast/probes.pxd), two reads
               of the monotonic clock and a push into a C buffer per stage (what the API
               installs)
  python       the same stages probed by Python closures: perf_counter_ns twice and an
               array('q').append (what attach() installed until 2026-11-26, kept here as the
               same-run reference for the compiled probes)
  observe      the Python closures recording with prometheus_client Histogram.observe()
               (the obvious implementation, shown for why samples are folded off the path)

The recording is read into memory once (no gzip in the timing). Each round builds four fresh
nodes and feeds them the recording chunk by chunk (`--chunk` records), the variants taking turns
on every chunk (who goes first rotates), each chunk timed per variant with perf_counter_ns: ns
per frame = chunk time / records. "added" is the median over chunks of the paired difference
(variant - plain on the same chunk), which cancels the drift of this shared machine far better
than whole-run totals.

Per call (the default run sends no orders, so the order path is timed apart): RiskGate.check of
one order bare, wrapped by a compiled probe (what venue.submit gets; the risk stage itself is
timed inside the compiled submit, by the same two clock reads) and by a Python closure, median
of 200k calls in batches.

Budget: "recorded without measurable cost" is read as <= 5 % of the plain per-frame time (the
run-to-run noise of this shared machine is about that); the status says OK or OVER.
Off the path, for context: one fold of a second's worth of samples and one /metrics scrape.
"""
from __future__ import annotations

import argparse
from array import array
from collections import defaultdict
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from prometheus_client import CollectorRegistry, Histogram  # noqa: E402

from tradecore._fast.probes import Samples, timed1  # noqa: E402
from tradecore.api.metrics import BUCKETS_S, STAGES, EngineMetrics, attach  # noqa: E402
from tradecore.config import load  # noqa: E402
from tradecore.core.orders import Order, OrderType, Side  # noqa: E402
from tradecore.engine import TradingNode  # noqa: E402

BUDGET_FRACTION = 0.05


KINDS = ("plain", "probes", "python", "observe")


def _node(kind: str) -> tuple[TradingNode, EngineMetrics | None]:
    node = TradingNode(load(None, {"run": {"speed": 0}}))
    if kind == "plain":
        return node, None
    if kind == "probes":
        return node, attach(node)
    if kind == "python":
        recs = {s: array("q") for s in STAGES}
        _python_probes(node, {s: r.append for s, r in recs.items()})
    else:
        h = Histogram("bench_stage_seconds", "x", ["stage"], buckets=BUCKETS_S,
                      registry=CollectorRegistry())
        _python_probes(node, {s: (lambda ns, _o=h.labels(s).observe: _o(ns * 1e-9))
                              for s in STAGES})
    return node, None


def _python_probes(node: TradingNode, rec: dict) -> None:
    """The Python closures attach() installed before the compiled probes: the same stages,
    counts and shadowed methods, each duration handed to rec[stage]."""
    pc = time.perf_counter_ns
    parse = rec["parse_book"]
    counts: dict = defaultdict(int)
    for venue, n in node.normalizers.items():
        cell, msgs = [0], [0]
        on_frame, on_rest, on_book = n.on_frame, n.on_rest, n.on_book

        def frame(data, conn="ws", ts_ns=0, _f=on_frame, _c=cell, _m=msgs):
            _m[0] += 1
            _c[0] = pc()
            return _f(data, conn, ts_ns)

        def rest(data, conn="rest", ts_ns=0, src="", _f=on_rest, _c=cell, _m=msgs):
            _m[0] += 1
            _c[0] = pc()
            return _f(data, conn, ts_ns, src)

        def book(key, b, _f=on_book, _c=cell, _v=venue):
            t = _c[0]
            if t:
                parse(pc() - t)
                _c[0] = 0
            counts[(_v, key[1])] += 1
            return _f(key, b)
        n.on_frame, n.on_rest, n.on_book = frame, rest, book
    for s in node.strategies:
        s.on_book = _py_timed3(s.on_book, rec["strategy"], pc)
    node.gate.check = _py_timed1(node.gate.check, rec["risk"], pc)
    for v in node.exec.venues.values():
        v.submit = _py_timed1(v.submit, rec["order_send"], pc)


def _py_timed1(fn, rec, pc):
    def timed(a):
        t = pc()
        r = fn(a)
        rec(pc() - t)
        return r
    return timed


def _py_timed3(fn, rec, pc):
    def timed(a, b, c):
        t = pc()
        r = fn(a, b, c)
        rec(pc() - t)
        return r
    return timed


def _paired(records: list, chunk: int, rounds: int) -> dict[str, list[float]]:
    """ns per frame of each variant, chunk by chunk, the variants taking turns on the same
    chunk of records (so drift and neighbours' load hit them alike). Fresh nodes per round."""
    kinds = KINDS
    out: dict[str, list[float]] = {k: [] for k in kinds}
    for r in range(rounds):
        nodes = {k: _node(k)[0] for k in kinds}
        for n in nodes.values():
            n.start()
        gc.collect()
        gc.disable()
        try:
            for c, start in enumerate(range(0, len(records), chunk)):
                part = records[start:start + chunk]
                j = c % len(kinds)
                order = kinds[j:] + kinds[:j]                  # rotate who goes first
                for k in order:
                    n = nodes[k]
                    clock, feed = n.clock, n.feed_record
                    t = time.perf_counter_ns()
                    for venue, rec in part:
                        if rec.ts_ns > clock.time_ns():
                            clock.advance_to(rec.ts_ns)
                        feed(venue, rec.kind, rec.payload, rec.conn, rec.ts_ns, rec.src)
                    out[k].append((time.perf_counter_ns() - t) / len(part))
        finally:
            gc.enable()
    return out


def _order_path(n: int = 200_000) -> tuple[float, float, float]:
    """RiskGate.check per order: bare, compiled probe, Python probe (ns, median of batches)."""
    node = TradingNode(load(None, {"run": {"speed": 0}}))
    node.run_replay(limit=3000)                   # mids in the gate
    inst = node.instruments[("binance", "BTCUSDT")]
    bid = node.books[("binance", "BTCUSDT")].best_bid()[0]
    o = Order("b-1", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 10,
              price=inst.ticks(bid), ts_created_ns=node.clock.time_ns())
    bare = node.gate.check
    samples, py = Samples(), array("q")
    compiled = timed1(bare, samples)
    python = _py_timed1(bare, py.append, time.perf_counter_ns)
    out = []
    for fn in (bare, compiled, python):
        batches = []
        for _ in range(n // 1000):
            t = time.perf_counter_ns()
            for _ in range(1000):
                fn(o)
            batches.append((time.perf_counter_ns() - t) / 1000)
        samples.take()
        del py[:]
        out.append(statistics.median(batches))
    return out[0], out[1], out[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="replays of the whole recording")
    ap.add_argument("--chunk", type=int, default=500, help="records per timed chunk")
    a = ap.parse_args(argv)
    records = list(_node("plain")[0].records())          # in memory: no gzip in the timing
    _paired(records[:3000], a.chunk, 1)                   # warm-up
    per = _paired(records, a.chunk, a.rounds)
    base = statistics.median(per["plain"])
    print(f"metrics probes: {len(records):,} frames x {a.rounds} rounds, timed in chunks of "
          f"{a.chunk} records, the variants taking turns on each chunk")
    print(f"{'variant':<10} {'ns/frame':>9} {'added ns (paired median)':>25} {'added %':>8}"
          f"   budget: <= {BUDGET_FRACTION:.0%} of plain")
    for k in KINDS:
        diffs = [x - y for x, y in zip(per[k], per["plain"])]
        add = statistics.median(diffs)
        status = "reference" if k == "plain" else (
            "OK" if add <= BUDGET_FRACTION * base else "OVER")
        print(f"{k:<10} {statistics.median(per[k]):>9.0f} {add:>25.0f} {add / base:>8.1%}   "
              f"{status}")
    bare, compiled, python = _order_path()
    print(f"\nper call: RiskGate.check {bare:.0f} ns bare; with a compiled probe {compiled:.0f} ns "
          f"(+{compiled - bare:.0f}), with a Python probe {python:.0f} ns (+{python - bare:.0f})")
    # off the path
    node, m = _node("probes")
    node.run_replay(limit=20_000)
    for s in STAGES:
        m.stages[s].extend(range(1000, 101_000))          # 100k pending samples per stage
    t = time.perf_counter_ns()
    m.fold()
    fold_ms = (time.perf_counter_ns() - t) / 1e6
    t = time.perf_counter_ns()
    text = m.exposition()
    scrape_ms = (time.perf_counter_ns() - t) / 1e6
    print(f"off the path: fold of {len(STAGES)} x 100k samples {fold_ms:.1f} ms; "
          f"/metrics scrape {scrape_ms:.1f} ms ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
