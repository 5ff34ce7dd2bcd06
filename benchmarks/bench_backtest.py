"""Backtest throughput: L2 deltas per second through the books and the node's strategies.

    python benchmarks/bench_backtest.py [--rounds N] [--json] [--nautilus-python PATH]

Data: the bundled real recordings of the default paper config (Binance spot + USD-M BTCUSDT,
the same 6 minutes: 571 k level deltas in 10 k book messages, and 31 k trades), compiled once into
event arrays (backtest/events.py; the compile time is shown separately, it is paid once per
recording). Each round replays them through a fresh node (backtest/fast_replay.py):

  books only         apply_many per message into the compiled books, nothing else (the floor)
  node + 1 strategy  the whole node: paper venue, execution engine (marks, stops, gate mid),
                     CrossExchangeArbitrage with its compiled detector on every book change
                     (per message: backtest/fast_replay.py)
  gated + 1 strategy the same node through the gated replay (backtest/gated_replay.py): the
                     compiled loop applies every delta and calls the node only when a listener
                     could act; the same orders and fills (tests/backtest/test_gated_replay.py)
  node + default     the default paper config's strategies (cross-exchange + PairsTrading),
                     with the orders, fills and risk checks they make (per message, and gated)
  capture replay     the same node + 1 strategy fed from the capture files (JSON parsed per
                     frame, as paper mode does): the reference measured in the same run

Figures: level deltas / s (what the budget names) and events / s (deltas + trades, the unit
of hftbacktest's and NautilusTrader's published figures). Budget (DESIGN.md): floor 3 M deltas/s,
target 7 M (hftbacktest here); context from ../shared/PERF-ANCHORS.md: NautilusTrader with a
Python strategy 122-162 k events/s on this machine, ~3 M/s published for its Rust core.
Medians over rounds; the machine is shared (the load average is printed).

NautilusTrader in the same run (--nautilus-python: an interpreter of a separate virtualenv with
nautilus_trader installed, never the project's): the event log is exported to an .npz and
benchmarks/external/nautilus_backtest.py replays the same deltas and trades through its
BacktestEngine, with one Python strategy reading both books on every update, and without a
strategy.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradecore._fast.book import L2Book  # noqa: E402
from tradecore.backtest.events import SNAPSHOT, TRADE, compile_captures  # noqa: E402
from tradecore.backtest.fast_replay import replay_events  # noqa: E402
from tradecore.backtest.gated_replay import GateStats, replay_events_gated  # noqa: E402
from tradecore.config import load  # noqa: E402
from tradecore.engine import TradingNode  # noqa: E402

FLOOR, TARGET = 3e6, 7e6
ONE = {"run": {"mode": "backtest"},
       "strategies": [{"id": "xarb", "kind": "cross_exchange",
                       "settings": {"venues": [["binance", "BTCUSDT"],
                                               ["binance_usdm", "BTCUSDT"]]}}]}


def books_only(log) -> float:
    books = [L2Book(t, q) for t, q in log.grids]
    kind, feed = log.msg_kind.tolist(), log.msg_feed.tolist()
    lo_a, hi_a = log.msg_lo.tolist(), log.msg_hi.tolist()
    side, price, size = log.lv_side, log.lv_price, log.lv_size
    t0 = time.perf_counter()
    for i in range(len(kind)):
        k = kind[i]
        if k == TRADE:
            continue
        b = books[feed[i]]
        if k == SNAPSHOT:
            b.clear()
        b.apply_many(side[lo_a[i]:hi_a[i]], price[lo_a[i]:hi_a[i]], size[lo_a[i]:hi_a[i]])
    return time.perf_counter() - t0


def node_run(log, overrides, gated: bool = False,
             stats: GateStats | None = None) -> tuple[float, dict]:
    node = TradingNode(load(None, overrides))
    t0 = time.perf_counter()
    if gated:
        replay_events_gated(node, log, stats=stats)
    else:
        replay_events(node, log)
    return time.perf_counter() - t0, node.summary()


def nautilus(log, cfg, python: str, rounds: int) -> dict:
    """NautilusTrader over the same data, in its own interpreter
    (benchmarks/external/nautilus_backtest.py)."""
    import subprocess
    import tempfile

    import numpy as np
    fee = {(i.venue, i.symbol): i.taker_fee for i in cfg.instruments}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "events.npz"
        np.savez(path, msg_ts=log.msg_ts, msg_feed=log.msg_feed, msg_kind=log.msg_kind,
                 msg_lo=log.msg_lo, msg_hi=log.msg_hi, lv_side=log.lv_side,
                 lv_price=log.lv_price, lv_size=log.lv_size,
                 tr_price=np.array([float(t.price) for t in log.trades]),
                 tr_size=np.array([float(t.size) for t in log.trades]),
                 tr_aggressor=np.array([t.aggressor for t in log.trades], np.int8),
                 grids=np.array(log.grids), fees=np.array([fee[k] for k in log.feeds]))
        script = ROOT / "benchmarks" / "external" / "nautilus_backtest.py"
        r = subprocess.run([python, str(script), str(path),
                            "--rounds", str(rounds)], capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"nautilus_backtest.py failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def capture_run() -> float:
    node = TradingNode(load(None, ONE))
    t0 = time.perf_counter()
    node.run_replay()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--nautilus-python", default=None,
                    help="interpreter of a virtualenv with nautilus_trader (same-run reference)")
    a = ap.parse_args()
    cfg = load(None, ONE)
    t0 = time.perf_counter()
    log = compile_captures({f.venue: (f.exchange, f.capture) for f in cfg.feeds})
    compile_s = time.perf_counter() - t0
    deltas, trades = log.n_levels, len(log.trades)
    series: dict[str, list[float]] = {"books only": [], "node + 1 strategy": [],
                                      "gated + 1 strategy": [], "node + default strategies": [],
                                      "gated + default strategies": [], "capture replay": []}
    orders = orders_gated = 0
    gs1, gsd = GateStats(), GateStats()
    for _ in range(a.rounds):
        series["books only"].append(books_only(log))
        series["node + 1 strategy"].append(node_run(log, ONE)[0])
        series["gated + 1 strategy"].append(node_run(log, ONE, True, gs1)[0])
        dt, s = node_run(log, {"run": {"mode": "backtest"}})
        series["node + default strategies"].append(dt)
        orders = s["orders"]
        dt, s = node_run(log, {"run": {"mode": "backtest"}}, True, gsd)
        series["gated + default strategies"].append(dt)
        orders_gated = s["orders"]
        series["capture replay"].append(capture_run())
    nt = nautilus(log, cfg, a.nautilus_python, a.rounds) if a.nautilus_python else None
    rows = []
    for name, xs in series.items():
        m = statistics.median(xs)
        rows.append({"series": name, "seconds": round(m, 4),
                     "deltas_per_s": round(deltas / m), "events_per_s": round((deltas + trades) / m)})
    out = {"deltas": deltas, "trades": trades, "messages": log.n_messages,
           "compile_s": round(compile_s, 2), "orders_default": orders,
           "orders_default_gated": orders_gated,
           "gate_1_strategy": vars(gs1), "gate_default": vars(gsd), "nautilus": nt,
           "load_avg": os.getloadavg()[0], "floor_deltas_per_s": FLOOR,
           "target_deltas_per_s": TARGET, "rows": rows}
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"backtest throughput: {deltas:,} level deltas + {trades:,} trades in "
          f"{log.n_messages:,} messages (compiled once in {compile_s:.1f} s); load "
          f"{out['load_avg']:.1f}; medians of {a.rounds} rounds")
    for r in rows:
        st = ("OK" if r["deltas_per_s"] >= TARGET else "OVER-TARGET" if r["deltas_per_s"] >= FLOOR
              else "UNDER-FLOOR")
        if r["series"] in ("books only", "capture replay"):
            st = "context"
        print(f"  {r['series']:<26} {r['seconds']:>7.3f} s  {r['deltas_per_s'] / 1e6:6.2f} M "
              f"deltas/s  {r['events_per_s'] / 1e6:6.2f} M events/s  [{st}]")
    med = {r["series"]: r["seconds"] for r in rows}
    print(f"  gated vs per message: x{med['node + 1 strategy'] / med['gated + 1 strategy']:.1f} "
          f"(1 strategy; {gs1.delivered_books:,} of {gs1.delivered_books + gs1.skipped_books:,} "
          f"book messages and {gs1.delivered_trades:,} trades reached Python), "
          f"x{med['node + default strategies'] / med['gated + default strategies']:.1f} "
          f"(default; {gsd.delivered_books:,} book messages, {gsd.delivered_trades:,} trades); "
          f"orders default {orders} per message, {orders_gated} gated")
    if nt is not None:
        g = med["gated + 1 strategy"]
        print(f"  NautilusTrader {nt['version']} same data, same run: {nt['seconds']:.3f} s  "
              f"{nt['deltas_per_s'] / 1e6:6.2f} M deltas/s  {nt['events_per_s'] / 1e6:6.2f} M "
              f"events/s with 1 Python strategy (gated tradecore x{nt['seconds'] / g:.0f}); "
              f"{nt['no_strategy_deltas_per_s'] / 1e6:.2f} M deltas/s with no strategy")
    print(f"  floor {FLOOR / 1e6:.0f} M deltas/s, target {TARGET / 1e6:.0f} M; NautilusTrader "
          f"published ~3 M/s for its Rust core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
