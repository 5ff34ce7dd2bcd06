"""Added latency of the bus: a book change in the feed node -> the strategy's on_book in a
strategy node, over NATS JetStream on loopback, beside the same path in one process.

    python benchmarks/bench_bus.py [--n 3000] [--interval-us 1000] [--json]

Both paths start at the same point, the normalizer's on_book callback for a changed book
(Binance USD-M BTCUSDT, the bundled real recording), and end at the same point, a strategy's
on_book being called with that book:

  in process   TradingNode: the hook calls the paper venue, the execution engine and the
               strategy directly (DESIGN.md: the hot path is a chain of calls).
  over NATS    feed process: BookPublisher (diff of the book against the last published state,
               encode) -> JetStream publish; strategy process (this one): push consumer ->
               decode -> BookMirror.apply -> on_book. One book change every `interval-us`
               (paced, so the figure is the hop, not a queue behind a flat-out replay; a real
               feed delivers ~100-1000 changes/s per book). Timestamps are CLOCK_MONOTONIC
               (time.monotonic_ns, one clock for every process of the machine); the feed
               sends its start time in a header.

Warm-up: the first `--warmup` changes are not counted on either path. They hold the feed
process's one-off start costs (loading the compiled diff from Numba's cache, ~1 s here, and
the first full book of ~9600 levels), during which the client buffers what it publishes: the
backlog that builds there would otherwise dominate the p99 of a steady-state hop.

Also shown: the feed node's own cost per book change (diff + encode), which the in-process
path does not pay. DESIGN.md has no budget for the bus: the figures are informational, and the
in-process path stays the default and the fastest (the bus is off unless configured).
The machine is shared and noisy (2 cores, other work running): read the ratio, not the ns.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SAMPLE = "hbt_usdm_btcusdt_20240808_nobookticker.gz"
VENUE, SYMBOL = "binance_usdm", "BTCUSDT"


def _records():
    from tradecore.config import SAMPLES
    from tradecore.data.capture import read_capture
    return read_capture(SAMPLES / SAMPLE)


def _feed_normalizer(on_book):
    from tradecore.data.capture import REST, WS
    from tradecore.verify import normalizer_for
    n = normalizer_for("binance")
    n.on_book = on_book
    n.on_trade = lambda t: None

    def feed(rec):
        if rec.kind == WS:
            n.on_frame(rec.payload, rec.conn, rec.ts_ns)
        elif rec.kind == REST:
            n.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    return feed


# -- the feed process ------------------------------------------------------------------------
async def _feed_role(url: str, n: int, interval_us: int) -> None:
    from tradecore.bus import subjects
    from tradecore.bus.feed import BookPublisher
    from tradecore.bus.transport import Bus
    bus = Bus(url, "bench-feed")
    await bus.connect()
    pub = BookPublisher(snapshot_every=10**9)
    sent = 0
    cost: list[int] = []
    pending: list = []

    def on_book(key, book) -> None:
        t0 = time.monotonic_ns()
        pub.on_book(VENUE, key[1], book)
        cost.append(time.monotonic_ns() - t0)
        for subj, data, mid in pub.out:
            if subj.startswith("tradecore.md."):
                pending.append((subj, data, mid, t0))
        pub.out.clear()
        pub.snaps.clear()

    feed = _feed_normalizer(on_book)
    next_t = time.monotonic()
    for rec in _records():
        feed(rec)
        for subj, data, mid, t0 in pending:
            await bus.nc.publish(subj, data, headers={"Nats-Msg-Id": mid, "T0": str(t0)})
            sent += 1
            next_t += interval_us / 1e6
            wait = next_t - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        pending.clear()
        if sent >= n:
            break
    await bus.nc.publish(subjects.FEED_END, b"end")
    await bus.nc.flush()
    print(json.dumps({"feed_cost_ns": cost}), flush=True)
    await bus.close()


# -- the strategy side (this process) --------------------------------------------------------
async def _strategy_role(url: str, n: int, interval_us: int) -> tuple[list[int], list[int]]:
    from tradecore.bus import subjects
    from tradecore.bus.codec import BookMsg, decode
    from tradecore.bus.mirror import APPLIED, BookMirror
    from tradecore.bus.transport import Bus, StreamReader
    from tradecore.core.instrument import Instrument
    bus = Bus(url, "bench-strategy")
    await bus.connect()
    await bus.ensure_streams(fresh=True)
    mirror = BookMirror({(VENUE, SYMBOL): Instrument(VENUE, SYMBOL, "0.1", "0.001", "", "")})
    reader = StreamReader(bus, subjects.MD_STREAM)
    lat: list[int] = []

    def on_book(venue, symbol, book) -> None:      # the strategy's callback: the end point
        pass

    feed = subprocess.Popen([sys.executable, __file__, "--role", "feed", "--url", url,
                             "--n", str(n), "--interval-us", str(interval_us)],
                            stdout=subprocess.PIPE, text=True)
    while True:
        r = await reader.next(30.0)
        if r is None:
            raise TimeoutError("no message from the feed process for 30 s")
        if r[1] == subjects.FEED_END:
            break
        m = decode(r[2])
        if isinstance(m, BookMsg) and mirror.apply(m) == APPLIED:
            book = mirror.book((m.venue, m.symbol))
            t1 = time.monotonic_ns()
            on_book(m.venue, m.symbol, book)
            lat.append(t1 - int(reader.headers["T0"]))
    out, _ = feed.communicate(timeout=60)
    cost = json.loads(out.strip().splitlines()[-1])["feed_cost_ns"]
    await reader.close()
    await bus.close()
    return lat, cost


def in_process(n: int) -> list[int]:
    """The same start and end points inside TradingNode (the default path)."""
    import dataclasses

    from tradecore.config import load
    from tradecore.engine import TradingNode
    from tradecore.strategies.base import Strategy
    cfg = load()
    cfg = dataclasses.replace(cfg, strategies=(), feeds=tuple(
        f for f in cfg.feeds if f.venue == VENUE))
    node = TradingNode(cfg)
    lat: list[int] = []
    t0 = [0]

    class Probe(Strategy):
        books = ((VENUE, SYMBOL),)

        def on_book(self, venue, symbol, book) -> None:
            lat.append(time.monotonic_ns() - t0[0])
    node.add_strategy(Probe("probe"))
    hook = node._book_hook(VENUE)

    def timed(key, book) -> None:
        t0[0] = time.monotonic_ns()
        hook(key, book)
    feed = _feed_normalizer(timed)
    for rec in _records():
        if rec.ts_ns > node.clock.time_ns():
            node.clock.advance_to(rec.ts_ns)
        feed(rec)
        if len(lat) >= n:
            break
    return lat


def _pct(xs, q) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", default="", help=argparse.SUPPRESS)
    ap.add_argument("--url", default="", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=3000, help="book changes measured (default 3000)")
    ap.add_argument("--interval-us", type=int, default=2000,
                    help="the feed publishes one change every N us (default 2000)")
    ap.add_argument("--warmup", type=int, default=300,
                    help="changes not counted at the start (default 300; see the docstring)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.role == "feed":
        asyncio.run(_feed_role(a.url, a.n, a.interval_us))
        return 0
    nats = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(nats).exists():
        print("bench_bus: NOT-RUN: nats-server is not installed (.ci/install-system)")
        return 0
    ref = in_process(a.n + a.warmup)[a.warmup:]
    with tempfile.TemporaryDirectory() as store, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        srv = subprocess.Popen([nats, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            lat, cost = asyncio.run(_strategy_role(f"nats://127.0.0.1:{port}",
                                                   a.n + a.warmup, a.interval_us))
            lat, cost = lat[a.warmup:], cost[a.warmup:]
        finally:
            srv.terminate()
            srv.wait(5)
    rows = [("in process: normalizer on_book -> strategy on_book", ref),
            ("over NATS: feed on_book -> strategy node on_book", lat),
            ("  of which the feed node's diff + encode", cost)]
    res = {name: {"n": len(xs), "p50_ns": _pct(xs, 50), "p99_ns": _pct(xs, 99)}
           for name, xs in rows}
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"bench_bus  {time.strftime('%Y-%m-%d %H:%M:%S')}  {os.uname().nodename}  "
          f"{a.n} book changes of {VENUE} {SYMBOL} after {a.warmup} warm-up, one per "
          f"{a.interval_us} us; load average {os.getloadavg()[0]:.1f}  "
          f"(no budget in DESIGN.md: informational)")
    print(f"{'path':54s} {'n':>6s} {'p50':>12s} {'p99':>12s}")
    for name, r in res.items():
        print(f"{name:54s} {r['n']:6d} {r['p50_ns'] / 1e3:10.1f}us {r['p99_ns'] / 1e3:10.1f}us")
    add50 = res[rows[1][0]]["p50_ns"] - res[rows[0][0]]["p50_ns"]
    add99 = res[rows[1][0]]["p99_ns"] - res[rows[0][0]]["p99_ns"]
    print(f"added by the bus: p50 {add50 / 1e3:.1f} us, p99 {add99 / 1e3:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
