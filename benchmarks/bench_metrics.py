"""What the metrics probes cost on the hot path, beside the same node without them.

    PYTHONPATH=src python benchmarks/bench_metrics.py [--rounds N] [--chunk N]

Data: the bundled paper run (Binance spot + USD-M BTCUSDT, 2024-08-08, real recordings),
replayed flat out (`TradingNode.run_replay`) by three nodes built from the same config:

  plain        no probes: the reference every figure stands beside
  probes       tradecore.api.metrics.attach(): perf_counter + array append per stage
               (what the API installs)
  observe      the same probes recording with prometheus_client Histogram.observe() instead
               (the obvious implementation, shown for why the array design was chosen)

The recording is read into memory once (no gzip in the timing). Each round builds three fresh
nodes and feeds them the recording chunk by chunk (`--chunk` records), the variants taking turns
on every chunk (who goes first rotates), each chunk timed per variant with perf_counter_ns: ns
per frame = chunk time / records. "added" is the median over chunks of the paired difference
(variant - plain on the same chunk), which cancels the drift of this shared machine far better
than whole-run totals.

Order path (the default run sends no orders, so it is timed apart): RiskGate.check of one
order, bare vs wrapped by the probe, median of 200k calls in batches.

Budget: "recorded without measurable cost" is read as <= 5 % of the plain per-frame time (the
run-to-run noise of this shared machine is about that); the status says OK or OVER.
Off the path, for context: one fold of a second's worth of samples and one /metrics scrape.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from prometheus_client import CollectorRegistry, Histogram  # noqa: E402

from tradecore.api.metrics import BUCKETS_S, STAGES, EngineMetrics, attach  # noqa: E402
from tradecore.config import load  # noqa: E402
from tradecore.core.orders import Order, OrderType, Side  # noqa: E402
from tradecore.engine import TradingNode  # noqa: E402

BUDGET_FRACTION = 0.05


def _node(kind: str) -> tuple[TradingNode, EngineMetrics | None]:
    node = TradingNode(load(None, {"run": {"speed": 0}}))
    if kind == "plain":
        return node, None
    m = EngineMetrics(node)
    if kind == "observe":
        h = Histogram("bench_stage_seconds", "x", ["stage"], buckets=BUCKETS_S,
                      registry=CollectorRegistry())
        for s in STAGES:
            child = h.labels(s)
            m.stages[s].append = lambda ns, _o=child.observe: _o(ns * 1e-9)
    attach(node, m)
    return node, m


def _paired(records: list, chunk: int, rounds: int) -> dict[str, list[float]]:
    """ns per frame of each variant, chunk by chunk, the variants taking turns on the same
    chunk of records (so drift and neighbours' load hit them alike). Fresh nodes per round."""
    kinds = ("plain", "probes", "observe")
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
                order = kinds[c % 3:] + kinds[:c % 3]          # rotate who goes first
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


def _order_path(n: int = 200_000) -> tuple[float, float]:
    """RiskGate.check per order, bare and probed (ns, median of batches)."""
    node = TradingNode(load(None, {"run": {"speed": 0}}))
    node.run_replay(limit=3000)                   # mids in the gate
    inst = node.instruments[("binance", "BTCUSDT")]
    bid = node.books[("binance", "BTCUSDT")].best_bid()[0]
    o = Order("b-1", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 10,
              price=inst.ticks(bid), ts_created_ns=node.clock.time_ns())
    bare = node.gate.check
    m = EngineMetrics(node)
    attach(node, m)
    probed = node.gate.check
    out = []
    for fn in (bare, probed):
        batches = []
        for _ in range(n // 1000):
            t = time.perf_counter_ns()
            for _ in range(1000):
                fn(o)
            batches.append((time.perf_counter_ns() - t) / 1000)
        m.stages["risk"].fold()
        out.append(statistics.median(batches))
    return out[0], out[1]


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
    for k in ("plain", "probes", "observe"):
        diffs = [x - y for x, y in zip(per[k], per["plain"])]
        add = statistics.median(diffs)
        status = "reference" if k == "plain" else (
            "OK" if add <= BUDGET_FRACTION * base else "OVER")
        print(f"{k:<10} {statistics.median(per[k]):>9.0f} {add:>25.0f} {add / base:>8.1%}   "
              f"{status}")
    bare, probed = _order_path()
    print(f"\norder path: RiskGate.check {bare:.0f} ns bare, {probed:.0f} ns with the probe "
          f"(+{probed - bare:.0f} ns per order)")
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
