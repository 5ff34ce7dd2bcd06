"""The order path: from a strategy's call to the bytes a venue connection would write.

    PYTHONPATH=src python benchmarks/bench_order_path.py [--n N] [--reps R]

What one sample times: perf_counter_ns from just before the strategy's call to the moment the
venue holds the encoded bytes (the timer's own cost is printed as `timer`). In between: the
strategy builds an `Order` (limit, GTC, id pre-generated) and calls `engine.submit`, which runs
the OMS registration (shape + idempotency), the compiled `RiskGate.check` (real limits, a fresh
mid), the journal intent (a JSON line copied into the memory-mapped journal file; msync is on a
background thread) and `venue.submit`, where the venue turns the order into the Binance
WebSocket API `order.place` frame, by the encoder BinanceExecution.submit uses for the key:
`encode_order_session` (compiled: _fast/wire.pyx) for an Ed25519 key (the connection logged on once with `session.logon`:
no apiKey, no signature per order) and `encode_order` for an HMAC key (HMAC-SHA256 per order). `submit() return` also counts what follows the send
(the gate's open-order bookkeeping). Each sample's order is then acknowledged and cancelled
outside the timer, so every sample sees the same amount of open state.

Also printed, from the same run: each stage alone (gate check, journal intent, encode; `engine
only` is the path with a venue whose encoder returns a constant: Order + OMS + gate + journal),
the path with the journal off (NullJournal, the backtest set-up), the session encoder's
plain-Python reference (what the path used before the compiled one), and the reference named
in the issue: the same order built as a dict and serialised with json.dumps (and orjson.dumps).
Budget (issue 4): order from strategy call to serialized bytes <= 5 us (median).
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradecore.book import L2Book  # noqa: E402
from tradecore.core.clock import SimClock as _SimClock  # noqa: E402
from tradecore.core.instrument import Instrument  # noqa: E402
from tradecore.core.orders import Order, OrderType, Side  # noqa: E402
from tradecore.execution.engine import ExecutionEngine as _ExecutionEngine  # noqa: E402
from tradecore.execution.journal import Journal, NullJournal  # noqa: E402
from tradecore.execution.venue import VenueClient  # noqa: E402
from tradecore.risk.gate import RiskGate  # noqa: E402
from tradecore.risk.limits import RiskLimits, SymbolLimits  # noqa: E402

BUDGET_NS = 5_000
INST = Instrument("binance", "BTCUSDT", tick="0.01", lot="0.00001", base="BTC", quote="USDT",
                  taker_fee=0.001)
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

from tradecore.venues.binance.execution import (  # noqa: E402
    _encode_order_session_py, encode_order, encode_order_session)


def encode_hmac(o: Order, inst: Instrument, ts_ms: int) -> bytes:
    """An HMAC key: every order.place frame carries apiKey and its HMAC-SHA256 signature."""
    return encode_order(o, inst, API_KEY, SECRET, ts_ms)


def encode_logon(o: Order, inst: Instrument, ts_ms: int) -> bytes:
    """An Ed25519 key: the connection logged on once; the frame has no apiKey, no signature."""
    return encode_order_session(o, inst, ts_ms)


class WireVenue(VenueClient):
    """A venue whose submit produces the wire bytes (and keeps the last ones)."""

    name = "binance"

    def __init__(self, clock, enc=None) -> None:
        self.clock = clock
        self.enc = enc
        self.last = b""
        self.t_bytes = 0
        self.listener = None

    def set_listener(self, listener) -> None:
        self.listener = listener

    def submit(self, order: Order) -> None:
        self.last = self.enc(order, INST, self.clock.time_ns() // 1_000_000)
        self.t_bytes = time.perf_counter_ns()     # the bytes exist: what the budget measures

    def cancel(self, order: Order) -> None:
        return None

    async def open_orders(self):
        return []

    async def fills_since(self, ts_ns: int):
        return []


def _setup(journal, enc=None):
    clock = _SimClock(1_700_000_000_000_000_000)
    gate = RiskGate(RiskLimits(default_symbol=SymbolLimits(max_order_lots=10**9,
                                                           price_band=0.05)), clock)
    gate.add_instrument(INST)
    venue = WireVenue(clock, enc)
    eng = _ExecutionEngine(gate, {"binance": venue}, journal, clock, {INST.key: INST})
    book = L2Book(tick_size=0.01, lot_size=0.00001)
    book.apply(0, 60000.00, 1.0)
    book.apply(1, 60000.01, 1.0)
    book.ts_ns = clock.time_ns()
    eng.on_book("binance", "BTCUSDT", book)
    eng.subscribe("bench", lambda ev: None)
    return eng, venue, gate, clock


def _time_path(eng, venue, n: int, tag: str, to_bytes: bool) -> list[int]:
    """ns from the strategy's call to the bytes (to_bytes) or to submit's return."""
    ids = [f"{tag}{i}" for i in range(n)]
    out = [0] * n
    pc = time.perf_counter_ns
    submit = eng.submit
    L = venue.listener
    for i in range(n):
        cid = ids[i]
        t0 = pc()
        submit(Order(cid, "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 100, 5999000,
                     strategy_id="bench"))
        t1 = pc()
        out[i] = (venue.t_bytes if to_bytes else t1) - t0
        L.on_order_accepted(cid, "1", 0)          # keep the open state constant
        L.on_order_canceled(cid, "", 0)
    assert venue.last.startswith(b'{"id":'), venue.last[:40]
    return out


def _time_fn(fn, n: int) -> list[int]:
    pc = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        t0 = pc()
        fn()
        out[i] = pc() - t0
    return out


def stats(xs: list[int]) -> tuple[float, float]:
    xs = sorted(xs)
    return statistics.median(xs), xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    jpath = Path(tmp.name) / "journal.log"
    journal = Journal(jpath)
    eng_j, venue_j, gate_j, clock = _setup(journal, encode_logon)
    eng_n, venue_n, gate_n, _ = _setup(NullJournal(), encode_logon)
    jpath_u = Path(tmp.name) / "journal-u.log"
    journal_u = Journal(jpath_u)
    eng_u, venue_u, _, _ = _setup(journal_u, encode_hmac)
    jpath_0 = Path(tmp.name) / "journal-0.log"
    journal_0 = Journal(jpath_0)
    eng_0, venue_0, _, _ = _setup(journal_0, lambda o, inst, ts: b'{"id":')

    o = Order("ref-1", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 100, 5999000,
              strategy_id="bench")

    def ref_json():
        d = {"id": "ref-1", "method": "order.place",
             "params": {"newClientOrderId": "ref-1", "price": "59990.00", "quantity": "0.001",
                        "side": "BUY", "symbol": "BTCUSDT", "timeInForce": "GTC",
                        "timestamp": 1700000000000, "type": "LIMIT"}}
        return json.dumps(d).encode()

    def ref_orjson():
        return orjson.dumps({"id": "ref-1", "method": "order.place",
                             "params": {"newClientOrderId": "ref-1", "price": "59990.00",
                                        "quantity": "0.001", "side": "BUY",
                                        "symbol": "BTCUSDT", "timeInForce": "GTC",
                                        "timestamp": 1700000000000, "type": "LIMIT"}})

    gate_check = gate_n.check
    series = {
        "timer (empty)": lambda n: _time_fn(lambda: None, n),
        "order path, Ed25519 logon": lambda n: _time_path(eng_j, venue_j, n,
                                                         f"j{time.time_ns()}-", True),
        "order path, logon, no jrnl": lambda n: _time_path(eng_n, venue_n, n,
                                                          f"n{time.time_ns()}-", True),
        "submit() return, logon": lambda n: _time_path(eng_j, venue_j, n,
                                                      f"r{time.time_ns()}-", False),
        "order path, HMAC per order": lambda n: _time_path(eng_u, venue_u, n,
                                                          f"u{time.time_ns()}-", True),
        "  engine only (no encoding)": lambda n: _time_path(eng_0, venue_0, n,
                                                           f"z{time.time_ns()}-", True),
        "  gate.check alone": lambda n: _time_fn(lambda: gate_check(o), n),
        "  journal.intent alone": lambda n: _time_fn(lambda: journal.intent(o), n),
        "  encode logon alone": lambda n: _time_fn(
            lambda: encode_logon(o, INST, 1700000000000), n),
        "  encode logon, Python ref": lambda n: _time_fn(
            lambda: _encode_order_session_py(o, INST, 1700000000000), n),
        "  encode HMAC alone": lambda n: _time_fn(lambda: encode_hmac(o, INST, 1700000000000), n),
        "ref: dict + json.dumps": lambda n: _time_fn(ref_json, n),
        "ref: dict + orjson.dumps": lambda n: _time_fn(ref_orjson, n),
    }
    res: dict[str, list[tuple[float, float]]] = {k: [] for k in series}
    for k, fn in series.items():      # warm-up
        fn(500)
    gc.disable()
    try:
        for _ in range(a.reps):
            for k, fn in series.items():   # interleaved: drift hits every series alike
                res[k].append(stats(fn(a.n)))
    finally:
        gc.enable()
    journal.close()
    journal_u.close()
    journal_0.close()
    print("encoders: tradecore.venues.binance.execution.encode_order_session (Ed25519 logon) "
          "and encode_order (HMAC); journal on unless said")
    print(f"samples: {a.n} per series x {a.reps} passes (median of the passes' medians / p99)\n")
    print(f"{'series':<28}{'median ns':>10}{'p99 ns':>10}{'budget':>10}")
    for k in series:
        md = statistics.median(m for m, _ in res[k])
        p99 = statistics.median(p for _, p in res[k])
        budget = f"{BUDGET_NS:>10}" if k.startswith("order path") else f"{'':>10}"
        ok = ("  ok" if md <= BUDGET_NS else "  OVER") if k.startswith("order path") else ""
        print(f"{k:<28}{md:>10.0f}{p99:>10.0f}{budget}{ok}")
    print(f"\nlast frame ({len(venue_j.last)} bytes): {venue_j.last[:160].decode()}...")
    print(f"journal: {journal.records_written} records written to {jpath.name}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
