"""Tick to order, measured: raw exchange frame bytes in, the venue's order bytes out, in process.

    tradecore bench tick-to-order [--json] [--passes N]

The real path of a running node (engine.py), nothing mocked on it: the recorded Binance spot and
USD-M BTCUSDT frames (the bundled samples, same 6 minutes) -> BinanceNormalizer.on_frame ->
compiled L2Book -> execution engine on_book (gate mid noted, marks, stops) -> CrossExchangeArbitrage ->
compiled CrossVenueDetector -> Strategy.submit -> ExecutionEngine.submit (OMS, compiled risk
gate, the intent written to the run's journal file, as a live node must) -> venue.submit,
which here encodes the Binance WebSocket API `order.place` frame the live client
(venues/binance/execution.BinanceExecution.submit) would write to its socket for the key kind: with an Ed25519 key (the default, `--key ed25519`) the
connection has logged on once with `session.logon` and the frame is unsigned
(`encode_order_session`); with an HMAC key (`--key hmac`) every frame carries apiKey and an
HMAC-SHA256 signature (`encode_order`). Both: exact decimal text of price and quantity.

To make every book change a decision, the strategy runs with zero fees (spot traded ~4 bp over
the perpetual in this window, so with zero fees the detector finds an opportunity on almost
every change, walks the depth and sizes it; with real fees it would reject at the top) and no
cool-down; the risk gate runs every check with limits that pass. After each frame (outside the
timed region) the harness answers every order the venue received as an expired IOC, so the
strategy is free for the next tick, as if each IOC had missed.

Timestamps (perf_counter_ns) are taken at: frame in (t0), book updated = the normalizer's
on_book callback (t1), strategy entered (t2, after the paper-side hooks), strategy calls submit
(t3, after the detector, the decision and the order built), venue.submit entered (t4, after OMS + gate + journal),
order bytes ready (t5). Stages: parse+book = t1-t0, engine hooks = t2-t1, detect+decide = t3-t2,
risk+OMS = t4-t3, serialize = t5-t4, end to end = t5-t0 of the first order of a frame. A tick is a
frame that produced an order; the recording is replayed `passes` times (fresh node each pass) to
pass 100,000 ticks. The timestamps cost ~6 x 40 ns, included in the figures (stated, not
subtracted).

The garbage collector runs as the node runs it (`TradingNode.gc_policy`, engine.py): by default
`--gc live`, what a live or paced node does (everything alive at start frozen, young
collections every GC_LIVE_GEN0 allocations); `--gc off` is the backtest replay's (collector
disabled for the run), `--gc default` Python's own settings, to see what the policy buys.
`--frames N` stops each pass early (for instruction counts under callgrind).

Where the tail comes from: `by_frame_size` gives end to end, parse + book and the reference
per size of the tick's frame (large frames are slow to parse; stalls hit frames of any size),
`machine.tlb_shootdowns` counts the TLB shootdown interrupts during the run (Linux), each a
stall of whatever the CPU ran (docs/execution.md, "journal TLB shootdowns"), and
`machine.stalls` how often the machine itself took the CPU away (machine_stalls: gaps in a
loop that only reads the clock, before and after the run), the share of ticks that no change
to the path can keep from a stall.

`tail` says, for each tick over the p99 goal (FLOOR), what stopped it (tail_attribution): a
collection, a page fault or a context switch between t0 and t5 (read with getrusage just before
t0 and just after t5, outside the timed path, and a gc callback), otherwise one stage >= 20 us
over its usual time (the host took the CPU), otherwise a frame of >= 8 KB; and the p99 of the
ticks none of the first four hit, what the path gives when nothing stops it.

What happens before t0 is what a live node does before it: the recording is decompressed and
read before the first pass (`preload`), not frame by frame between ticks, and each frame is
copied into a reused receive buffer and out into a new bytes object just before t0 (`received`:
the socket read and the WebSocket client handing out the payload, as picows'
get_payload_as_bytes does). Inflating the gzip'd capture frame by frame there instead, which no
live node does, cooled the caches the path then used: on the same tree, alternating passes,
p99 55.1 -> 49.9 us and the stages after a >= 8 KB frame's parse -6 us at the median
(docs/arbitrage.md, session 10).

The same-run reference (`reference.json_loads`): after each tick, outside the timed region, the
same frame is parsed by the standard library's json.loads alone and timed. This shared machine's
speed moves by +-30 % between runs with its neighbours' load; the ratio of end to end to that
reference travels between runs where the absolute figures do not.
"""
from __future__ import annotations

import argparse
import gc
import json
from json import loads as _json_loads
import os
import platform
import resource
import sys
import tempfile
import time
from typing import Any

import numpy as np

from tradecore.config import load
from tradecore.data.capture import CaptureError, merge_captures
from tradecore.engine import GC_POLICIES
from tradecore.core.clock import Clock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order
from tradecore.execution.journal import twin_directory
from tradecore.execution.venue import VenueClient, VenueListener

STAGES = ("parse_book", "engine_hooks", "detect_decide", "risk_oms", "serialize")
# what one_pass records per tick: the stages, end to end, the reference, the frame's size and
# what stopped the tick (tail_attribution): collections, page faults and context switches
# between t0 and t5
SAMPLES = STAGES + ("end_to_end", "ref_json_loads", "frame_bytes", "gc_runs", "faults",
                    "switches")
TARGET = {"p50_ns": 8_000, "p99_ns": 25_000}
FLOOR = {"p50_ns": 15_000, "p99_ns": 50_000}
_now = time.perf_counter_ns
_rusage = resource.getrusage
_THREAD = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)


KEY_KINDS = ("ed25519", "hmac")


class SerializingVenue(VenueClient):
    """Encodes each order into the Binance WebSocket API frame the live client would send for
    the key kind (BinanceExecution.submit's choice), and keeps it."""

    def __init__(self, name: str, clock: Clock, instruments: dict[str, Instrument],
                 marks: dict, key_kind: str = "ed25519", api_key: str = "bench-key",
                 secret: bytes = b"bench-secret", recv_window_ms: int = 5000) -> None:
        from tradecore.venues.binance.execution import encode_order, session_encoder
        if key_kind not in KEY_KINDS:
            raise ValueError(f"key kind {key_kind!r}: expected one of {KEY_KINDS}")
        self.name = name
        self.session_auth = key_kind == "ed25519"
        self._encode = encode_order
        # what BinanceExecution.submit calls for a logged-on connection: the instrument's
        # compiled encoder, looked up by symbol
        self._session_enc = {sym: session_encoder(inst) for sym, inst in instruments.items()}
        self._insts = instruments
        self._clock = clock
        self._key, self._secret = api_key, secret
        self._rw = recv_window_ms
        self._marks = marks
        self.pending: list[Order] = []
        self.sent_bytes = 0
        self.listener: VenueListener | None = None

    def set_listener(self, listener: VenueListener) -> None:
        self.listener = listener

    def submit(self, order: Order) -> None:
        m = self._marks
        if "t4" not in m:
            m["t4"] = _now()
        if self.session_auth:
            data = self._session_enc[order.symbol](order, self._clock.time_ns() // 1_000_000,
                                                   self._rw)
        else:
            data = self._encode(order, self._insts[order.symbol], self._key, self._secret,
                                self._clock.time_ns() // 1_000_000, self._rw)
        if "t5" not in m:
            m["t5"] = _now()
            m["u5"] = _rusage(_THREAD)        # after t5: not in the timed path
        self.sent_bytes += len(data)
        self.pending.append(order)

    def cancel(self, order: Order) -> None:
        self.listener.on_order_canceled(order.client_order_id, "", self._clock.time_ns())

    async def open_orders(self):
        return []

    async def fills_since(self, ts_ns: int):
        return []

    def expire_all(self) -> None:
        ts = self._clock.time_ns()
        orders, self.pending = self.pending, []
        for o in orders:
            self.listener.on_order_accepted(o.client_order_id, o.client_order_id, ts)
            self.listener.on_order_expired(o.client_order_id, ts)


def bench_config(journal: str | None = None):
    """`journal`: the run's journal file (a live node must have one: config.py); None runs
    without (NullJournal), which only the instruction-count harnesses use."""
    overrides = {
        "run": {"mode": "backtest", "status_every_s": 0, "journal": journal},
        "instruments": {"binance:BTCUSDT": {"maker_fee": 0.0, "taker_fee": 0.0},
                        "binance_usdm:BTCUSDT": {"maker_fee": 0.0, "taker_fee": 0.0}},
        "risk": {"max_gross_notional": 0, "max_orders_per_sec": 0,
                 "symbols": {"binance:BTCUSDT": {"max_position_lots": 0},
                             "binance_usdm:BTCUSDT": {"max_position_lots": 0}}},
        "strategies": [{"id": "xarb", "kind": "cross_exchange",
                        "settings": {"venues": [["binance", "BTCUSDT"],
                                                ["binance_usdm", "BTCUSDT"]],
                                     "max_qty": 0.5, "min_edge_bps": 0.0, "cooldown_ms": 0,
                                     "stale_ms": 0, "use_balances": False}}],
    }
    return load(None, overrides)


def preload(cfg) -> tuple[list, int]:
    """The recording of cfg's feeds, decompressed and read in receive order, and how many of
    its lines could not be read (what a node counts under capture:unreadable_line)."""
    bad = [0]

    def unreadable(e: CaptureError) -> None:
        bad[0] += 1
    return list(merge_captures({f.venue: f.capture for f in cfg.feeds}, on_error=unreadable)), bad[0]


def received(payload: bytes, rx: bytearray) -> bytes:
    """What a live node holds at t0: the frame read from the socket into the client's buffer
    (rx, reused) and handed out as a new bytes object."""
    n = len(payload)
    if n > len(rx):
        rx.extend(bytes(n - len(rx)))
    rx[:n] = payload
    return bytes(memoryview(rx)[:n])


def one_pass(cfg, out: dict[str, list[int]], key_kind: str = "ed25519",
             gc_policy: str = "live", max_frames: int | None = None,
             records: list | None = None) -> dict[str, int]:
    """One replay of the recording through a fresh node; `records` (preload) replaces
    reading the capture files during the pass."""
    from tradecore.engine import TradingNode
    marks: dict[str, int] = {}
    venues: dict[str, SerializingVenue] = {}

    def factory(name, clock, insts):
        v = SerializingVenue(name, clock, insts, marks, key_kind)
        venues[name] = v
        return v

    node = TradingNode(cfg, venue_factory=factory)
    strat = node.strategies[0]
    # timestamps around the strategy and its submit
    inner_on_book = strat.on_book

    def timed_on_book(venue, symbol, book, _f=inner_on_book):
        if "t2" not in marks:
            marks["t2"] = _now()
        _f(venue, symbol, book)
    strat.on_book = timed_on_book
    inner_submit = strat.submit               # the context's submit (Strategy.bind)

    def timed_submit(order, _f=inner_submit):
        if "t3" not in marks:
            marks["t3"] = _now()
        return _f(order)
    strat.submit = timed_submit
    for venue, n in node.normalizers.items():
        inner = n.on_book

        def hooked(key, book, _f=inner):
            if "t1" not in marks:
                marks["t1"] = _now()
            _f(key, book)
        n.on_book = hooked
    node.start()
    gc_runs = [0]

    def count_gc(phase: str, info: dict, _n=gc_runs) -> None:
        if phase == "start":
            _n[0] += 1
    gc.callbacks.append(count_gc)            # called only when a collection runs
    try:
        frames, ticks = _replay(node, out, marks, venues, gc_policy, max_frames, gc_runs,
                                records)
    finally:
        gc.callbacks.remove(count_gc)
    journaled = getattr(node.journal, "records_written", 0)
    node.stop()
    return {"frames": frames, "ticks": ticks, "orders": node.stats.orders, "journaled": journaled,
            "denied": node.stats.denied, "problems": sum(node.stats.problems.values())}


def _replay(node, out: dict[str, list[int]], marks: dict, venues: dict, gc_policy: str,
            max_frames: int | None, gc_runs: list[int],
            records: list | None = None) -> tuple[int, int]:
    """The pass itself: every frame of the recording through the node, each tick's figures
    appended to `out` (SAMPLES)."""
    clock = node.clock
    ticks = frames = 0
    norms = node.normalizers
    rx = bytearray(1 << 16)
    with node.gc_policy(gc_policy):     # what the live node does (engine.py)
        for venue, rec in (node.records() if records is None else records):
            if max_frames is not None and frames >= max_frames:
                break
            if rec.ts_ns > clock.time_ns():
                clock.advance_to(rec.ts_ns)
            marks.clear()
            n = norms[venue]
            if rec.kind == "ws":
                data = received(rec.payload, rx)
                u0 = _rusage(_THREAD)             # before t0: not in the timed path
                g0 = gc_runs[0]
                t0 = _now()
                n.on_frame(data, rec.conn, rec.ts_ns)
            elif rec.kind == "rest":
                n.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
                continue
            else:
                continue
            frames += 1
            if "t5" in marks:
                ticks += 1
                r0 = _now()                   # the same-run reference: stdlib JSON alone
                _json_loads(rec.payload)
                out["ref_json_loads"].append(_now() - r0)
                out["frame_bytes"].append(len(rec.payload))
                m = marks
                out["parse_book"].append(m["t1"] - t0)
                out["engine_hooks"].append(m["t2"] - m["t1"])
                out["detect_decide"].append(m["t3"] - m["t2"])
                out["risk_oms"].append(m["t4"] - m["t3"])
                out["serialize"].append(m["t5"] - m["t4"])
                out["end_to_end"].append(m["t5"] - t0)
                # what happened between t0 and t5 (a collection is counted from t0 to the end
                # of the frame: the callback cannot tell t5 apart)
                u5 = m["u5"]
                out["gc_runs"].append(gc_runs[0] - g0)
                out["faults"].append(u5.ru_minflt - u0.ru_minflt + u5.ru_majflt - u0.ru_majflt)
                out["switches"].append(u5.ru_nvcsw - u0.ru_nvcsw + u5.ru_nivcsw - u0.ru_nivcsw)
            for v in venues.values():
                if v.pending:
                    v.expire_all()
    return frames, ticks


def pct(xs) -> dict[str, int]:
    a = np.asarray(xs, dtype=np.int64)
    if not a.size:
        return {"p50_ns": 0, "p99_ns": 0, "p999_ns": 0}
    p = np.percentile(a, [50, 99, 99.9])
    return {"p50_ns": int(p[0]), "p99_ns": int(p[1]), "p999_ns": int(p[2])}


# The tail is made of the large frames (their levels' parse) and of stalls that hit any stage;
# the figures per frame size tell the two apart (docs/arbitrage.md, "Session 7").
FRAME_SIZES = (("<1KB", 0, 1024), ("1-4KB", 1024, 4096), ("4-8KB", 4096, 8192),
               (">=8KB", 8192, None))


def by_frame_size(out: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    """End to end, parse + book and the json.loads reference, per size of the tick's frame."""
    size = np.asarray(out["frame_bytes"], dtype=np.int64)
    cols = {k: np.asarray(out[k], dtype=np.int64)
            for k in ("end_to_end", "parse_book", "ref_json_loads")}
    res = {}
    for label, lo, hi in FRAME_SIZES:
        m = (size >= lo) if hi is None else ((size >= lo) & (size < hi))
        res[label] = {"ticks": int(m.sum()), "end_to_end": pct(cols["end_to_end"][m]),
                      "parse_book": pct(cols["parse_book"][m]),
                      "json_loads": pct(cols["ref_json_loads"][m])}
    return res


# a stage this much over its usual time (its median for frames of the tick's size) was stopped
STALL_NS = 20_000
LARGE_FRAME = FRAME_SIZES[-1][1]
CAUSES = ("gc", "page_fault", "switch", "stall", "large_frame", "other")


def tail_attribution(out: dict[str, list[int]], limit_ns: int = FLOOR["p99_ns"],
                     stall_ns: int = STALL_NS) -> dict[str, Any]:
    """Why the ticks over `limit_ns` (the p99 goal) took that long, one cause a tick, the first
    that applies in CAUSES' order:
      gc           a collection ran during the frame;
      page_fault   the thread took a page fault between t0 and t5;
      switch       the thread was switched out between t0 and t5 (the guest's scheduler);
      stall        none of those, but one stage took >= stall_ns more than usual: the stage's
                   median over the ticks of the same frame size (FRAME_SIZES) and, for
                   parse + book, that median per byte times the frame's bytes (its work grows
                   with the frame). What stops one stage for 20 us with no fault, switch or
                   collection is the host taking the vCPU (machine_stalls measures how often);
      large_frame  none of those, a frame of >= 8 KB (hundreds of levels to parse and commit);
      other        none of those.
    Also: how many of all the ticks each of the first four hit, and the p99 of the ticks none
    of them hit (what the path gives when nothing stops it; the headline p99 is the whole run's)."""
    e2e = np.asarray(out["end_to_end"], dtype=np.int64)
    size = np.asarray(out["frame_bytes"], dtype=np.int64)
    st = np.stack([np.asarray(out[k], dtype=np.float64) for k in STAGES], axis=1) \
        if e2e.size else np.zeros((0, len(STAGES)))
    expected = np.zeros_like(st)
    cls = np.digitize(size, [lo for _, lo, _ in FRAME_SIZES[1:]])
    for c in range(len(FRAME_SIZES)):
        m = cls == c
        if not m.any():
            continue
        expected[m] = np.median(st[m], axis=0)
        per_byte = np.median(st[m, 0] / np.maximum(size[m], 1))
        expected[m, 0] = per_byte * size[m]
    excess = (st - expected).max(axis=1) if e2e.size else np.zeros(0)
    hit = {"gc": np.asarray(out["gc_runs"], dtype=np.int64) > 0,
           "page_fault": np.asarray(out["faults"], dtype=np.int64) > 0,
           "switch": np.asarray(out["switches"], dtype=np.int64) > 0}
    ours = hit["gc"] | hit["page_fault"] | hit["switch"]
    hit["stall"] = (excess >= stall_ns) & ~ours
    left = np.ones(e2e.size, dtype=bool)
    over = e2e > limit_ns
    by_cause = {}
    for c in CAUSES:
        m = hit.get(c, size >= LARGE_FRAME if c == "large_frame" else left) & left
        by_cause[c] = int((m & over).sum())
        left &= ~m
    unhit = ~(ours | hit["stall"])
    return {"limit_ns": limit_ns, "stall_ns": stall_ns, "ticks": int(e2e.size),
            "over": int(over.sum()), "over_by_cause": by_cause,
            "ticks_hit": {k: int(v.sum()) for k, v in hit.items()},
            "unhit": {"ticks": int(unhit.sum()), **pct(e2e[unhit])}}


def tlb_shootdowns() -> int | None:
    """TLB shootdown interrupts so far on all CPUs (Linux /proc/interrupts; None elsewhere).
    Each one stalls whatever the CPU was running, the order path included: the count over a
    run shows how much of that the run caused (the journal's syncs did, docs/execution.md)."""
    try:
        with open("/proc/interrupts") as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] == "TLB:":
                    return sum(int(x) for x in parts[1:] if x.isdigit())
    except OSError:
        return None
    return None


def machine_stalls(seconds: float = 0.5) -> dict[str, float]:
    """How often this CPU stops running us, whatever we run: a loop that only reads the clock
    counts the gaps between two reads of over 20 and over 40 us (a read takes ~60 ns), per
    second, and the share of the time lost in gaps of over 5 us. On this shared VM the host
    takes the vCPU away a few hundred times a second (docs/arbitrage.md, "Session 8"): a tick of
    d us is hit with a chance of about gaps_over_20us_per_s x d / 1e6, which no change to the
    path can remove. Run before and after the passes (their sum is `seconds` x 2)."""
    now = time.perf_counter_ns
    n20 = n40 = lost = 0
    t = prev = now()
    end = t + int(seconds * 1e9)
    while t < end:
        t = now()
        d = t - prev
        prev = t
        if d > 5_000:
            lost += d
            if d > 20_000:
                n20 += 1
                if d > 40_000:
                    n40 += 1
    return {"seconds": seconds, "gaps_over_20us": n20, "gaps_over_40us": n40,
            "lost_ns": lost}


def _stalls(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    secs = a["seconds"] + b["seconds"]
    return {"gaps_over_20us_per_s": round((a["gaps_over_20us"] + b["gaps_over_20us"]) / secs),
            "gaps_over_40us_per_s": round((a["gaps_over_40us"] + b["gaps_over_40us"]) / secs),
            "lost_pct": round(100 * (a["lost_ns"] + b["lost_ns"]) / (secs * 1e9), 2)}


def run(passes: int | None = None, min_ticks: int = 100_000, key_kind: str = "ed25519",
        gc_policy: str = "live", max_frames: int | None = None) -> dict[str, Any]:
    out: dict[str, list[int]] = {k: [] for k in SAMPLES}
    stalls0 = machine_stalls()
    shootdowns0 = tlb_shootdowns()
    totals = {"frames": 0, "ticks": 0, "orders": 0, "journaled": 0, "denied": 0, "problems": 0,
              "passes": 0}
    twin_dir = twin_directory()
    records, unreadable = preload(bench_config())
    totals["problems"] += unreadable
    gc.collect()
    with tempfile.TemporaryDirectory(prefix="tradecore-t2o-") as tmp:
        while (passes is None and totals["ticks"] < min_ticks) or \
                (passes is not None and totals["passes"] < passes):
            # every order's intent is journaled, as in live mode (a fresh file a pass: a
            # journal that held the last pass's orders would be recovered at start)
            cfg = bench_config(os.path.join(tmp, f"pass{totals['passes']}.journal"))
            r = one_pass(cfg, out, key_kind, gc_policy, max_frames, records)
            for k, v in r.items():
                totals[k] += v
            totals["passes"] += 1
            gc.collect()
    shootdowns1 = tlb_shootdowns()
    stalls1 = machine_stalls()
    e2e = pct(out["end_to_end"])
    return {"ticks": totals["ticks"], **e2e, "key": key_kind, "gc": gc_policy,
            "stages": {k: pct(out[k]) for k in STAGES},
            "reference": {"json_loads": pct(out["ref_json_loads"])},
            "by_frame_size": by_frame_size(out),
            "tail": tail_attribution(out),
            "frames": totals["frames"], "orders": totals["orders"],
            "denied": totals["denied"], "problems": totals["problems"],
            "passes": totals["passes"], "journaled": totals["journaled"],
            # where the journal's writer maps (execution/journal.py): its twin's directory on
            # a tmpfs, or null when the journal file itself is mapped
            "journal_twin_dir": None if twin_dir is None else str(twin_dir),
            "target": TARGET, "floor": FLOOR,
            "machine": {"python": platform.python_version(), "machine": platform.machine(),
                        "cpus": os.cpu_count(), "processor": _cpu_name(),
                        "load_avg": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                        "tlb_shootdowns": (None if shootdowns0 is None or shootdowns1 is None
                                           else shootdowns1 - shootdowns0),
                        "stalls": _stalls(stalls0, stalls1)}}


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tradecore bench tick-to-order",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="one JSON line")
    ap.add_argument("--passes", type=int, default=None,
                    help="replays of the recording (default: until >= --min-ticks ticks)")
    ap.add_argument("--min-ticks", type=int, default=100_000)
    ap.add_argument("--key", choices=KEY_KINDS, default="ed25519",
                    help="the venue key: ed25519 (session.logon, unsigned orders; default) or "
                         "hmac (each order signed)")
    ap.add_argument("--gc", choices=GC_POLICIES, default="live",
                    help="the collector's policy: live (what a live node does: freeze + rare "
                         "young collections; default), off (the backtest replay's), default")
    ap.add_argument("--frames", type=int, default=None,
                    help="stop each pass after this many frames (instruction counts under "
                         "callgrind: a few thousand frames instead of the whole recording)")
    a = ap.parse_args(argv)
    if a.frames is not None and a.passes is None:
        a.passes = 1
    r = run(a.passes, a.min_ticks, a.key, a.gc, a.frames)
    if a.json:
        sys.stdout.write(json.dumps(r) + "\n")
        return 0
    m = r["machine"]
    print(f"tick to order, in process ({m['processor']}, {m['cpus']} cpus, load "
          f"{m['load_avg']:.1f}, Python {m['python']})")
    print(f"  {r['ticks']:,} ticks (frames that produced an order) of {r['frames']:,} frames, "
          f"{r['passes']} passes; {r['orders']:,} orders, {r['denied']} denied; key "
          f"{r['key']}, gc {r['gc']}, journal on "
          f"({'twin in ' + r['journal_twin_dir'] if r['journal_twin_dir'] else 'file mapped'})")
    print(f"  {'stage':<16} {'p50':>9} {'p99':>9} {'p99.9':>9}  (ns)")
    for k in STAGES:
        s = r["stages"][k]
        print(f"  {k:<16} {s['p50_ns']:>9,} {s['p99_ns']:>9,} {s['p999_ns']:>9,}")
    st = "OK" if r["p50_ns"] <= TARGET["p50_ns"] and r["p99_ns"] <= TARGET["p99_ns"] else (
        "OVER-TARGET" if r["p50_ns"] <= FLOOR["p50_ns"] and r["p99_ns"] <= FLOOR["p99_ns"]
        else "OVER-FLOOR")
    ref = r["reference"]["json_loads"]
    print(f"  {'ref: json.loads':<16} {ref['p50_ns']:>9,} {ref['p99_ns']:>9,} "
          f"{ref['p999_ns']:>9,}  (the same frames, stdlib JSON alone, timed in the same run)")
    print(f"  {'end to end':<16} {r['p50_ns']:>9,} {r['p99_ns']:>9,} {r['p999_ns']:>9,}"
          f"  [{st}] target p50 {TARGET['p50_ns']:,} / p99 {TARGET['p99_ns']:,}, floor p50 "
          f"{FLOOR['p50_ns']:,} / p99 {FLOOR['p99_ns']:,}")
    print(f"  by frame size    {'ticks':>7} {'e2e p50':>9} {'e2e p99':>9} {'parse p50':>9} "
          f"{'json p50':>9}  (ns)")
    for label, b in r["by_frame_size"].items():
        print(f"  {label:<16} {b['ticks']:>7,} {b['end_to_end']['p50_ns']:>9,} "
              f"{b['end_to_end']['p99_ns']:>9,} {b['parse_book']['p50_ns']:>9,} "
              f"{b['json_loads']['p50_ns']:>9,}")
    t = r["tail"]
    if t["ticks"]:
        c = t["over_by_cause"]
        h = t["ticks_hit"]
        print(f"  over the p99 goal ({t['limit_ns']:,} ns): {t['over']:,} ticks "
              f"({100 * t['over'] / t['ticks']:.2f} %); first cause: a collection {c['gc']}, a "
              f"page fault {c['page_fault']}, a context switch {c['switch']}, a stall of the "
              f"machine {c['stall']:,}, a large frame (>= 8 KB) {c['large_frame']:,}, "
              f"other {c['other']:,}")
        u = t["unhit"]
        print(f"  ticks hit by a collection {h['gc']:,}, a page fault {h['page_fault']:,}, a "
              f"switch {h['switch']:,}, a stall {h['stall']:,}; the {u['ticks']:,} others "
              f"(nothing stopped them): p50 {u['p50_ns']:,} p99 {u['p99_ns']:,} p99.9 "
              f"{u['p999_ns']:,} ns")
    if m.get("tlb_shootdowns") is not None:
        print(f"  TLB shootdowns during the run (all CPUs): {m['tlb_shootdowns']:,}")
    g = m["stalls"]
    print(f"  the machine's own stalls (a clock-reading loop, 1 s): "
          f"{g['gaps_over_20us_per_s']:,} gaps > 20 us a second, "
          f"{g['gaps_over_40us_per_s']:,} > 40 us, {g['lost_pct']} % of the time lost: "
          f"~{g['gaps_over_20us_per_s'] * r['p50_ns'] / 1e7:.2f} % of the ticks hit by one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
