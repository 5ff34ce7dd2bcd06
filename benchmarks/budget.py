"""The latency-budget check of ../shared/DESIGN.md ("Latency budget"), on real Binance data.

    python benchmarks/budget.py [--quick] [--json] [--data PATH]

Every figure is measured in one run, beside its budget (target, floor) and beside a reference
measured in the same run on the same data (the machines are shared and noisy: the ratio travels,
the absolute time does not). Figures are medians and p99 over many samples; a sample is one timed
batch (`time.perf_counter_ns()` around it), and per-level figures are batch time / levels in the
batch.

How each stage is timed
  apply from Python  the real stream replayed after the snapshot, one call per level, in batches
                     of whole messages of >= 1024 levels. References: bmoscon order-book (C),
                     `ob.bids[p] = q` / `del` (after `p in`, as cryptofeed does) and a
                     sortedcontainers SortedDict per side (`d[p] = q` / `d.pop(p, None)`).
                     The loop (`for s, p, q in batch`) is part of every figure; its cost alone is
                     shown as a context row.
  apply + top        the same with best bid and best ask read after each message (tradecore
                     best_bid()/best_ask(), SortedDict.peekitem, order-book `.index(0)`).
  apply_many         the whole stream in one call on a fresh book holding the snapshot.
                     Reference: a Numba loop `qty[side, tick - base] = size` over precomputed
                     ticks (the floor of this machine), and the same converting prices to ticks.
  frame              each depth frame's bytes through BinanceNormalizer.on_frame, timed per
                     frame, in the recording's order: the diffs that arrived before the REST
                     snapshot, then on_rest(snapshot), then the rest (only those are timed).
                     The figure is over the frames of 15-25 levels (the "20-level message";
                     the stream's median is 34). Reference: orjson.loads + float() of every
                     level + L2Book.apply per level. Context: the compiled DepthScanner alone
                     (scan + apply_to, no sequence logic) and the timer's own cost.
  best read          a static book after the stream; 10 calls unrolled per loop iteration, so
                     the loop adds ~1/10 of an iteration. The cached (price, size) tuple is
                     what a read costs when nothing changed; reads right after a change are in
                     "apply + top". Reference: a Python attribute read and a 2-tuple build.
  fill price         the ask side (a buy) of the book after the stream, for a size that reaches
                     into the 10th level; reference: a walk over a SortedDict's items.

Repetitions: each series replays the stream up to 15 times (full) or 2 times (--quick, which
also uses only the first 300 messages), stopping early once a series has taken ~4 s; the slow
references (order-book reading its top after every message) get fewer passes. A stage whose
code is not importable (e.g. the Binance normalizer) is shown as NOT-RUN with the reason.

Status: OK, OVER-TARGET (median above the target), OVER-FLOOR (above the floor, or the ratio
above its limit). The exit code is 1 only when a figure is more than 3x its floor (or its ratio
more than 3x its limit): "CI fails only when a figure is over 3x its budget".
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    from . import realdata
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import realdata  # type: ignore[no-redef]

from order_book import OrderBook  # noqa: E402
from sortedcontainers import SortedDict  # noqa: E402

from tradecore._fast.book import L2Book  # noqa: E402

perf_ns = time.perf_counter_ns


# ----------------------------------------------------------------------------------------------
# configuration and results

@dataclass
class Config:
    quick: bool
    max_passes: int          # replays of the stream per series (stages 1, 2, 4)
    max_seconds: float       # ... stopping earlier when a series has run this long
    many_reps: int           # apply_many calls over the whole stream
    read_samples: int        # samples of `read_iters` x 10 calls (stages 5, 6)
    read_iters: int = 100
    batch_levels: int = 1024
    head_messages: int | None = None   # use only the first N messages


QUICK = Config(quick=True, max_passes=2, max_seconds=0.15, many_reps=10, read_samples=100,
               head_messages=300)
FULL = Config(quick=False, max_passes=15, max_seconds=4.0, many_reps=200, read_samples=3000)


@dataclass
class Series:
    """The samples of one implementation (ns per unit of the stage)."""
    name: str
    samples: list[float]
    passes: int = 0
    state: object = field(default=None, repr=False)   # final book, for correctness checks
    note: str = ""

    @property
    def median(self) -> float:
        return float(np.median(self.samples)) if self.samples else math.nan

    @property
    def p99(self) -> float:
        return float(np.percentile(self.samples, 99)) if self.samples else math.nan

    def as_dict(self) -> dict:
        return {"name": self.name, "median_ns": _r(self.median), "p99_ns": _r(self.p99),
                "samples": len(self.samples), "passes": self.passes, "note": self.note}


@dataclass
class Figure:
    key: str
    title: str
    per: str                       # "level", "message", "call", "pair"
    unit: str                      # display unit: "ns" or "us"
    main: Series | None
    target_ns: float | None = None
    floor_ns: float | None = None
    ratio_limit: float | None = None
    ratio_ref: Series | None = None    # the reference the ratio is taken against
    refs: list[Series] = field(default_factory=list)   # every reference (incl. ratio_ref)
    context: list[Series] = field(default_factory=list)  # rows that explain, no ratio
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.main is None or self.ratio_ref is None or not self.ratio_ref.samples:
            return None
        return self.main.median / self.ratio_ref.median

    @property
    def over_floor(self) -> bool:
        m = self.main.median if self.main else math.nan
        r = self.ratio
        return bool((self.floor_ns is not None and m > self.floor_ns)
                    or (self.ratio_limit is not None and r is not None and r > self.ratio_limit))

    @property
    def over_target(self) -> bool:
        return bool(self.target_ns is not None and self.main is not None
                    and self.main.median > self.target_ns)

    @property
    def fails(self) -> bool:
        """More than 3x the floor (or 3x the ratio limit): the CI failure condition."""
        if self.main is None:
            return False
        r = self.ratio
        return bool((self.floor_ns is not None and self.main.median > 3 * self.floor_ns)
                    or (self.ratio_limit is not None and r is not None
                        and r > 3 * self.ratio_limit))

    @property
    def status(self) -> str:
        if self.main is None:
            return "NOT-RUN"
        if self.over_floor:
            return "OVER-FLOOR (>3x: FAIL)" if self.fails else "OVER-FLOOR"
        if self.over_target:
            return "OVER-TARGET"
        return "OK"

    def as_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "per": self.per, "unit": self.unit,
                "median_ns": _r(self.main.median) if self.main else None,
                "p99_ns": _r(self.main.p99) if self.main else None,
                "samples": len(self.main.samples) if self.main else 0,
                "target_ns": self.target_ns, "floor_ns": self.floor_ns,
                "ratio_limit": self.ratio_limit,
                "ratio_to": self.ratio_ref.name if self.ratio_ref else None,
                "ratio": _r(self.ratio, 3) if self.ratio is not None else None,
                "status": self.status, "fails": self.fails,
                "main": self.main.as_dict() if self.main else None,
                "references": [s.as_dict() for s in self.refs],
                "context": [s.as_dict() for s in self.context], "note": self.note}


def _r(x, nd=1):
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


# ----------------------------------------------------------------------------------------------
# books with the snapshot applied (not timed)

def tc_book(st: realdata.Stream) -> L2Book:
    b = L2Book(st.tick, st.lot)
    bid = st.snap_sides == 0
    b.load_snapshot(st.snap_prices[bid], st.snap_sizes[bid], st.snap_prices[~bid],
                    st.snap_sizes[~bid])
    return b


def ob_book(st: realdata.Stream) -> OrderBook:
    ob = OrderBook()
    sides = (ob.bids, ob.asks)
    for s, p, q in st.snapshot_tuples():
        if q:
            sides[s][p] = q
    return ob


def sd_book(st: realdata.Stream) -> tuple[SortedDict, SortedDict]:
    book = (SortedDict(), SortedDict())
    for s, p, q in st.snapshot_tuples():
        if q:
            book[s][p] = q
    return book


def book_levels(x, tick: float) -> tuple[list, list]:
    """Any of the books here as ([(ticks, size), ...] bids best first, asks best first)."""
    def key(p):
        return int(round(p / tick))
    if isinstance(x, L2Book):
        b, a = x.depth(1 << 40)
        return ([(key(p), q) for p, q in b.tolist()], [(key(p), q) for p, q in a.tolist()])
    if isinstance(x, OrderBook):
        b = sorted(x.bids.to_dict().items(), reverse=True)
        a = sorted(x.asks.to_dict().items())
        return ([(key(p), q) for p, q in b], [(key(p), q) for p, q in a])
    if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], SortedDict):
        return ([(key(p), q) for p, q in reversed(x[0].items())],
                [(key(p), q) for p, q in x[1].items()])
    if isinstance(x, FlatBook):
        out = []
        for s in (0, 1):
            idx = np.nonzero(x.qty[s])[0]
            lv = [(int(i) + x.base, float(x.qty[s, i])) for i in idx]
            out.append(lv[::-1] if s == 0 else lv)
        return out[0], out[1]
    books = getattr(x, "books", None)      # a venue normalizer
    if isinstance(books, dict) and len(books) == 1:
        return book_levels(next(iter(books.values())), tick)
    raise TypeError(f"no levels for {type(x).__name__}")


# ----------------------------------------------------------------------------------------------
# running passes

def _quiesce() -> None:
    """Collect, then move every live object to the permanent generation: the large level lists
    built for the replays are not rescanned by the collections between passes."""
    gc.collect()
    gc.freeze()


@dataclass
class Spec:
    """One series to measure: make() builds its state (a fresh book), run(state, samples)
    does one round (a replay pass, one call over the stream, or one sample) and appends."""
    name: str
    make: object
    run: object
    fresh: bool = True          # make() before every round (else once)


def interleaved(specs: list[Spec], max_rounds: int, max_seconds: float,
                min_rounds: int = 1) -> list[Series]:
    """Run the specs round-robin, one round each in turn, so that the thing measured and its
    references see the same machine noise; a spec stops after max_rounds, or once another
    round would take it past max_seconds (after at least min_rounds)."""
    series = [Series(sp.name, []) for sp in specs]
    states: list[object] = [None] * len(specs)
    spent = [0.0] * len(specs)
    active = list(range(len(specs)))
    _quiesce()
    while active:
        for i in tuple(active):
            sp = specs[i]
            state = sp.make() if (sp.fresh or states[i] is None) else states[i]
            gc.disable()
            t0 = time.perf_counter()
            try:
                sp.run(state, series[i].samples)
            finally:
                gc.enable()
            spent[i] += time.perf_counter() - t0
            states[i] = state
            series[i].passes += 1
            r = series[i].passes
            if r >= max_rounds or (r >= min_rounds and spent[i] * (r + 1) / r > max_seconds):
                active.remove(i)
    for se, state in zip(series, states):
        se.state = state
    return series


def replay(specs: list[Spec], cfg: Config) -> list[Series]:
    """Replay passes over the stream: up to cfg.max_passes per series, ~cfg.max_seconds."""
    return interleaved(specs, cfg.max_passes, cfg.max_seconds)


def reps(specs: list[tuple[str, object, object]], n_levels: int, cfg: Config,
         fresh: bool = True) -> list[Series]:
    """(name, make, call): one sample per call(state) over the whole stream, in ns per level."""
    def timed(call):
        def run(state, out):
            t0 = perf_ns()
            call(state)
            out.append((perf_ns() - t0) / n_levels)
        return run
    return interleaved([Spec(n, m, timed(c), fresh) for n, m, c in specs], cfg.many_reps,
                       cfg.max_seconds)


def sampled(specs: list[tuple[str, object, int, object]], cfg: Config) -> list[Series]:
    """(name, body, calls per iteration, state): body(n) runs n iterations of unrolled calls;
    one sample = body(cfg.read_iters), in ns per call; up to cfg.read_samples samples (at
    least 100) or ~cfg.max_seconds / 2 per series."""
    def timed(body, per):
        def run(_, out):
            t0 = perf_ns()
            body(cfg.read_iters)
            out.append((perf_ns() - t0) / (cfg.read_iters * per))
        return run
    for _, body, _, _ in specs:
        body(cfg.read_iters)    # warm
    return interleaved([Spec(n, (lambda st=st: st), timed(b, per), fresh=False)
                        for n, b, per, st in specs], cfg.read_samples, cfg.max_seconds / 2,
                       min_rounds=min(100, cfg.read_samples))


def _batches(st: realdata.Stream, batch_levels: int):
    """(nested, flat): batches of whole messages with >= batch_levels levels;
    nested = [([msg, ...], n_levels)], flat = [([level, ...], n_levels)]."""
    nested, cur, n = [], [], 0
    for m in st.message_tuples():
        cur.append(m)
        n += len(m)
        if n >= batch_levels:
            nested.append((cur, n))
            cur, n = [], 0
    if n:
        nested.append((cur, n))
    flat = [([lv for m in ms for lv in m], n) for ms, n in nested]
    return nested, flat


# ----------------------------------------------------------------------------------------------
# stage 1: one level applied from Python

def _pass_apply_tc(book, batches, out):
    apply = book.apply
    for batch, n in batches:
        t0 = perf_ns()
        for s, p, q in batch:
            apply(s, p, q)
        out.append((perf_ns() - t0) / n)


def _pass_apply_ob(ob, batches, out):
    sides = (ob.bids, ob.asks)
    for batch, n in batches:
        t0 = perf_ns()
        for s, p, q in batch:
            d = sides[s]
            if q:
                d[p] = q
            elif p in d:
                del d[p]
        out.append((perf_ns() - t0) / n)


def _pass_apply_sd(book, batches, out):
    for batch, n in batches:
        t0 = perf_ns()
        for s, p, q in batch:
            d = book[s]
            if q:
                d[p] = q
            else:
                d.pop(p, None)
        out.append((perf_ns() - t0) / n)


def _pass_loop_only(_, batches, out):
    for batch, n in batches:
        t0 = perf_ns()
        for s, p, q in batch:
            pass
        out.append((perf_ns() - t0) / n)


def stage_apply(st: realdata.Stream, cfg: Config, batches=None) -> Figure:
    _, flat = batches or _batches(st, cfg.batch_levels)
    tc, ob, sd, loop = replay([
        Spec("tradecore L2Book.apply", lambda: tc_book(st),
             lambda b, o: _pass_apply_tc(b, flat, o)),
        Spec("order-book (C) ob.bids[p]=q / del", lambda: ob_book(st),
             lambda b, o: _pass_apply_ob(b, flat, o)),
        Spec("sortedcontainers SortedDict", lambda: sd_book(st),
             lambda b, o: _pass_apply_sd(b, flat, o)),
        Spec("the Python loop alone (no call)", lambda: None,
             lambda b, o: _pass_loop_only(b, flat, o)),
    ], cfg)
    return Figure("apply_python", "one level applied from Python", "level", "ns", tc,
                  target_ns=70, floor_ns=100, ratio_limit=0.6, ratio_ref=ob, refs=[ob, sd],
                  context=[loop])


# ----------------------------------------------------------------------------------------------
# stage 2: apply + best bid and ask after every message

def _pass_top_tc(book, batches, out):
    apply, bb, ba = book.apply, book.best_bid, book.best_ask
    for msgs, n in batches:
        t0 = perf_ns()
        for m in msgs:
            for s, p, q in m:
                apply(s, p, q)
            bb()
            ba()
        out.append((perf_ns() - t0) / n)


def _pass_top_sd(book, batches, out):
    bpk, apk = book[0].peekitem, book[1].peekitem
    for msgs, n in batches:
        t0 = perf_ns()
        for m in msgs:
            for s, p, q in m:
                d = book[s]
                if q:
                    d[p] = q
                else:
                    d.pop(p, None)
            bpk(-1)
            apk(0)
        out.append((perf_ns() - t0) / n)


def _pass_top_ob(ob, batches, out):
    sides = (ob.bids, ob.asks)
    bi, ai = ob.bids.index, ob.asks.index
    for msgs, n in batches:
        t0 = perf_ns()
        for m in msgs:
            for s, p, q in m:
                d = sides[s]
                if q:
                    d[p] = q
                elif p in d:
                    del d[p]
            bi(0)
            ai(0)
        out.append((perf_ns() - t0) / n)


def stage_apply_top(st: realdata.Stream, cfg: Config, batches=None) -> Figure:
    nested, _ = batches or _batches(st, cfg.batch_levels)
    tc, sd, ob = replay([
        Spec("tradecore apply + best_bid()/best_ask()", lambda: tc_book(st),
             lambda b, o: _pass_top_tc(b, nested, o)),
        Spec("sortedcontainers + peekitem", lambda: sd_book(st),
             lambda b, o: _pass_top_sd(b, nested, o)),
        Spec("order-book (C) + .index(0) (re-sorts)", lambda: ob_book(st),
             lambda b, o: _pass_top_ob(b, nested, o)),
    ], cfg)
    best = min((sd, ob), key=lambda s: s.median)
    return Figure("apply_top", "apply + best bid/ask after each message", "level", "ns", tc,
                  ratio_limit=0.3, ratio_ref=best, refs=[sd, ob],
                  note="no DESIGN.md row; the issue's limit is <= 0.3x the best reference")


# ----------------------------------------------------------------------------------------------
# stage 3: apply_many over the whole stream

class FlatBook:
    """The Numba reference: one flat array of sizes per side, indexed by tick - base."""

    def __init__(self, st: realdata.Stream):
        tick = float(st.tick)
        self.snap_ticks = np.rint(st.snap_prices / tick).astype(np.int64)
        self.ticks = np.rint(st.prices / tick).astype(np.int64)
        lo = min(self.snap_ticks.min(), self.ticks.min()) if len(self.ticks) else \
            self.snap_ticks.min()
        hi = max(self.snap_ticks.max(), self.ticks.max()) if len(self.ticks) else \
            self.snap_ticks.max()
        self.base = int(lo)
        self.qty = np.zeros((2, int(hi - lo) + 1), np.float64)
        self.qty[st.snap_sides.astype(np.int64), self.snap_ticks - self.base] = st.snap_sizes
        self.inv_tick = 1.0 / tick


_NUMBA = {}


def numba_kernels():
    """(flat_ticks, flat_prices), compiled on first use. No cache=True: numba keys its cache by
    file, and this file is imported as `budget` (script, tests) and as `benchmarks.budget`
    (asv), whose pickled entries then fail to load in the other."""
    if not _NUMBA:
        from numba import njit

        @njit(boundscheck=False)
        def flat_ticks(qty, base, sides, ticks, sizes):
            for i in range(ticks.shape[0]):
                qty[sides[i], ticks[i] - base] = sizes[i]
            return ticks.shape[0]

        @njit(boundscheck=False)
        def flat_prices(qty, base, inv_tick, sides, prices, sizes):
            for i in range(prices.shape[0]):
                t = np.int64(prices[i] * inv_tick + 0.5)
                qty[sides[i], t - base] = sizes[i]
            return prices.shape[0]

        q = np.zeros((2, 4))
        s = np.zeros(1, np.int8)
        flat_ticks(q, 0, s, np.ones(1, np.int64), np.ones(1))
        flat_prices(q, 0, 1.0, s, np.ones(1), np.ones(1))
        _NUMBA["ticks"], _NUMBA["prices"] = flat_ticks, flat_prices
    return _NUMBA["ticks"], _NUMBA["prices"]


def stage_apply_many(st: realdata.Stream, cfg: Config) -> Figure:
    n = st.n_levels
    sides, prices, sizes = st.sides64, np.ascontiguousarray(st.prices), \
        np.ascontiguousarray(st.sizes)
    # the same levels, one apply_many call per exchange message
    b = st.bounds.tolist()
    per_msg = [(sides[b[i]:b[i + 1]], prices[b[i]:b[i + 1]], sizes[b[i]:b[i + 1]])
               for i in range(st.n_messages)]

    def run_msgs(book):
        am = book.apply_many
        for s, p, q in per_msg:
            am(s, p, q)

    flat_ticks, flat_prices = numba_kernels()
    proto = FlatBook(st)
    s8 = st.sides

    # One flat book for every repetition: the stream's levels are absolute sizes, so applying
    # it again to its own result leaves the same array (and the same stores); copying the
    # ~100 MB array (the stream has stray levels from 560 to 621,368) would dominate the run.
    def make_flat():
        return proto
    tc, tcm = reps([
        ("tradecore apply_many (whole stream, 1 call)", lambda: tc_book(st),
         lambda b: b.apply_many(sides, prices, sizes)),
        ("tradecore apply_many per message (Python loop over messages)", lambda: tc_book(st),
         run_msgs),
    ], n, cfg)
    nb, nbp = reps([
        ("numba flat array qty[side, tick-base]=size (ticks given)", make_flat,
         lambda f: flat_ticks(f.qty, f.base, s8, f.ticks, sizes)),
        ("numba flat array, converting prices to ticks", make_flat,
         lambda f: flat_prices(f.qty, f.base, f.inv_tick, s8, prices, sizes)),
    ], n, cfg, fresh=False)
    return Figure("apply_many", "one level inside a batch (apply_many)", "level", "ns", tc,
                  target_ns=6, floor_ns=15, ratio_ref=nb, refs=[nb, nbp], context=[tcm],
                  note="the numba flat array is the machine's floor, not a like-for-like book "
                       "(no validation, no best tracking, no overflow)")


# ----------------------------------------------------------------------------------------------
# stage 4: a depth frame from bytes to book updated

def normalizer_class():
    """(BinanceNormalizer, None) or (None, why it is not available)."""
    try:
        from tradecore.venues.binance.normalize import BinanceNormalizer
    except Exception as e:   # noqa: BLE001 - any import failure means "not available yet"
        return None, f"{type(e).__name__}: {e}"
    return BinanceNormalizer, None


def _snapshot_url(st: realdata.Stream) -> str:
    sym = st.frames[0].split(b'"s":"', 1)[1].split(b'"', 1)[0].decode() if st.n_messages \
        else "BTCUSDT"
    if "usdm" in Path(st.source).name:
        return f"https://fapi.binance.com/fapi/v1/depth?symbol={sym}&limit=1000"
    if "coinm" in Path(st.source).name:
        return f"https://dapi.binance.com/dapi/v1/depth?symbol={sym}&limit=1000"
    return f"https://api.binance.com/api/v3/depth?symbol={sym}&limit=1000"


def n_before_snapshot(st: realdata.Stream) -> int:
    """How many of the applied diffs arrived before the REST snapshot in the recording."""
    return int((st.msg_ts < st.snapshot_ts).sum())


def new_normalizer(st: realdata.Stream, cls=None):
    """A BinanceNormalizer fed as the recording (and a live feed) feeds it: the diffs that came
    before the snapshot (buffered by the normalizer), then the snapshot."""
    cls = cls or normalizer_class()[0]
    n = cls()
    frames, ts = st.frames, st.msg_ts.tolist()
    for i in range(n_before_snapshot(st)):
        n.on_frame(frames[i], "ws", ts[i])
    try:
        n.on_rest(st.snapshot_bytes, "rest", st.snapshot_ts, url=_snapshot_url(st))
    except TypeError:
        n.on_rest(st.snapshot_bytes, "rest", st.snapshot_ts)
    return n


def _frame_selection(st: realdata.Stream, lo=15, hi=25) -> list[bool]:
    """The frames timed: 15-25 levels, after the snapshot."""
    ml = st.msg_levels
    sel = ((ml >= lo) & (ml <= hi)).tolist()
    for i in range(n_before_snapshot(st)):
        sel[i] = False
    return sel


def _pass_frames_norm(n, frames, ts, sel, out, start=0):
    on_frame = n.on_frame
    for i in range(start, len(frames)):
        f = frames[i]
        t0 = perf_ns()
        on_frame(f, "ws", ts[i])
        dt = perf_ns() - t0
        if sel[i]:
            out.append(dt)


def _pass_frames_orjson(book, frames, sel, out):
    import orjson
    loads, apply = orjson.loads, book.apply
    for i in range(len(frames)):
        f = frames[i]
        t0 = perf_ns()
        d = loads(f)["data"]
        for p, q in d["b"]:
            apply(0, float(p), float(q))
        for p, q in d["a"]:
            apply(1, float(p), float(q))
        dt = perf_ns() - t0
        if sel[i]:
            out.append(dt)


def _pass_frames_scan(state, frames, sel, out):
    scanner, book = state
    scan, apply_to = scanner.scan, scanner.apply_to
    for i in range(len(frames)):
        f = frames[i]
        t0 = perf_ns()
        scan(f)
        apply_to(book)
        dt = perf_ns() - t0
        if sel[i]:
            out.append(dt)


def _pass_timer(_, frames, sel, out):
    for i in range(len(frames)):
        t0 = perf_ns()
        dt = perf_ns() - t0
        if sel[i]:
            out.append(dt)


def stage_frame(st: realdata.Stream, cfg: Config) -> Figure:
    frames = st.frames
    ts = st.msg_ts.tolist()
    sel = _frame_selection(st)
    n_sel = sum(sel)
    specs = [Spec("orjson.loads + float() + L2Book.apply per level", lambda: tc_book(st),
                  lambda b, o: _pass_frames_orjson(b, frames, sel, o))]
    try:
        from tradecore._fast.jsonscan import DepthScanner
        specs.append(Spec("kernel only: DepthScanner.scan + apply_to (no seq check)",
                          lambda: (DepthScanner(), tc_book(st)),
                          lambda s, o: _pass_frames_scan(s, frames, sel, o)))
    except ImportError:
        pass
    specs.append(Spec("timer overhead in each sample (perf_counter_ns pair)", lambda: None,
                      lambda s, o: _pass_timer(s, frames, sel, o)))
    cls, why = normalizer_class()
    note = f"frames of 15-25 levels: {n_sel} of {st.n_messages} per pass"
    if cls is None:
        note += f"; BinanceNormalizer not importable ({why})"
    else:
        k = n_before_snapshot(st)
        specs.insert(0, Spec("BinanceNormalizer on_frame", lambda: new_normalizer(st, cls),
                             lambda n, o: _pass_frames_norm(n, frames, ts, sel, o, k)))
    got = replay(specs, cfg)
    main = got.pop(0) if cls is not None else None
    ref, context = got[0], got[1:]
    if main is not None:
        problems = check_normalizer(main.state, ref.state, float(st.tick))
        if problems:
            main.note = "BOOK MISMATCH: " + problems
            note += "; normalizer book differs from the reference book: " + problems
    return Figure("frame", "~20-level depth frame, bytes to book updated", "message", "us",
                  main, target_ns=1500, floor_ns=3000, ratio_ref=ref, refs=[ref],
                  context=context, note=note)


def check_normalizer(n, ref_book, tick: float) -> str:
    """'' when the normalizer's book equals the reference book, else what differs."""
    books = getattr(n, "books", None)
    if not isinstance(books, dict) or len(books) != 1:
        return f"expected one book in normalizer.books, found {books!r:.80}"
    book = next(iter(books.values()))
    if not getattr(book, "valid", True):
        return "its book is marked invalid"
    a, b = book_levels(book, tick), book_levels(ref_book, tick)
    if a != b:
        return (f"levels differ (bids {len(a[0])} vs {len(b[0])}, asks {len(a[1])} vs "
                f"{len(b[1])}, tops {a[0][:1]}/{a[1][:1]} vs {b[0][:1]}/{b[1][:1]})")
    return ""


# ----------------------------------------------------------------------------------------------
# stage 5: best bid/ask read from Python

class _Obj:
    def __init__(self):
        self.x = (1.0, 2.0)


def best_bodies(book: L2Book, sd, ob) -> dict:
    """name -> (body(n), reads per iteration): each body runs n iterations of 10 unrolled
    calls (one call = one side; "pair" bodies read bid and ask 5 times)."""
    bb, ba = book.best_bid, book.best_ask

    def tc1(n):
        for _ in range(n):
            bb(); bb(); bb(); bb(); bb(); bb(); bb(); bb(); bb(); bb()  # noqa: E702

    def tc2(n):
        for _ in range(n):
            bb(); ba(); bb(); ba(); bb(); ba(); bb(); ba(); bb(); ba()  # noqa: E702

    o = _Obj()

    def attr(n):
        for _ in range(n):
            o.x; o.x; o.x; o.x; o.x; o.x; o.x; o.x; o.x; o.x  # noqa: B018,E702

    x, y = 1.0, 2.0

    def tup(n):
        for _ in range(n):
            (x, y); (x, y); (x, y); (x, y); (x, y); (x, y); (x, y); (x, y); (x, y); (x, y)  # noqa

    bpk, apk = sd[0].peekitem, sd[1].peekitem

    def sdr(n):
        for _ in range(n):
            bpk(-1); apk(0); bpk(-1); apk(0); bpk(-1)  # noqa: E702
            apk(0); bpk(-1); apk(0); bpk(-1); apk(0)  # noqa: E702

    bi, ai = ob.bids.index, ob.asks.index

    def obr(n):
        for _ in range(n):
            bi(0); ai(0); bi(0); ai(0); bi(0); ai(0); bi(0); ai(0); bi(0); ai(0)  # noqa

    return {"tradecore": (tc1, 10), "tradecore-pair": (tc2, 5), "attr": (attr, 10),
            "tuple": (tup, 10), "sortedcontainers-pair": (sdr, 5), "order-book-pair": (obr, 5)}


def final_books(st: realdata.Stream):
    """(tradecore, sortedcontainers, order-book) books after the snapshot and the stream."""
    tc = tc_book(st)
    tc.apply_many(st.sides64, st.prices, st.sizes)
    lv = [(st.level_tuples(), max(st.n_levels, 1))]
    sd = sd_book(st)
    _pass_apply_sd(sd, lv, [])
    ob = ob_book(st)
    _pass_apply_ob(ob, lv, [])
    return tc, sd, ob


def stage_best(st: realdata.Stream, cfg: Config, book: L2Book | None = None,
               sd=None, ob=None) -> Figure:
    if book is None or sd is None or ob is None:
        book, sd, ob = final_books(st)
    B = best_bodies(book, sd, ob)
    main, pair, ra, rt, rs, ro = sampled([
        ("tradecore best_bid() (one side)", *B["tradecore"], book),
        ("tradecore best_bid() + best_ask() (ns per pair)", *B["tradecore-pair"], book),
        ("Python attribute read o.x", *B["attr"], None),
        ("Python 2-tuple build (x, y)", *B["tuple"], None),
        ("sortedcontainers peekitem bid+ask (per pair)", *B["sortedcontainers-pair"], sd),
        ("order-book .index(0) bid+ask, sorted cache (per pair)", *B["order-book-pair"], ob),
    ], cfg)
    return Figure("best_read", "best bid/ask read from Python (one call)", "call", "ns", main,
                  target_ns=60, floor_ns=60, ratio_ref=ra, refs=[ra, rt, rs, ro],
                  context=[pair], note="static book (cached tuple); 10 calls per loop iteration")


# ----------------------------------------------------------------------------------------------
# stage 6: fill price for a size 10 levels deep

def sd_fill(asks: SortedDict, size: float):
    """Average price to buy `size` walking a SortedDict of asks (the reference)."""
    rem = size
    notional = 0.0
    for p, q in asks.items():
        take = q if q < rem else rem
        notional += take * p
        rem -= take
        if rem <= 0.0:
            return notional / size
    return None


def ob_fill(asks, size: float):
    """The same over order-book's asks with .index(i) (each call hits its sorted cache)."""
    rem = size
    notional = 0.0
    idx = asks.index
    for i in range(len(asks)):
        p, q = idx(i)
        take = q if q < rem else rem
        notional += take * p
        rem -= take
        if rem <= 0.0:
            return notional / size
    return None


def fill_size(book: L2Book, levels: int = 10) -> float:
    """A size that takes the first levels-1 ask levels and half of the next."""
    a = book.depth(levels)[1]
    return float(a[:levels - 1, 1].sum() + a[levels - 1, 1] / 2)


def fill_bodies(book: L2Book, sd, ob, size: float) -> dict:
    """name -> (body(n), calls per iteration) for the fill-price walks (10 calls unrolled)."""
    fp = book.fill_price

    def tc(n):
        for _ in range(n):
            fp(1, size); fp(1, size); fp(1, size); fp(1, size); fp(1, size)  # noqa: E702
            fp(1, size); fp(1, size); fp(1, size); fp(1, size); fp(1, size)  # noqa: E702

    asks = sd[1]

    def sdw(n):
        for _ in range(n):
            sd_fill(asks, size); sd_fill(asks, size); sd_fill(asks, size)  # noqa: E702
            sd_fill(asks, size); sd_fill(asks, size); sd_fill(asks, size)  # noqa: E702
            sd_fill(asks, size); sd_fill(asks, size); sd_fill(asks, size)  # noqa: E702
            sd_fill(asks, size)

    oa = ob.asks

    def obw(n):
        for _ in range(n):
            ob_fill(oa, size); ob_fill(oa, size); ob_fill(oa, size)  # noqa: E702
            ob_fill(oa, size); ob_fill(oa, size); ob_fill(oa, size)  # noqa: E702
            ob_fill(oa, size); ob_fill(oa, size); ob_fill(oa, size)  # noqa: E702
            ob_fill(oa, size)

    return {"tradecore": (tc, 10), "sortedcontainers": (sdw, 10), "order-book": (obw, 10)}


def stage_fill(st: realdata.Stream, cfg: Config, book: L2Book | None = None,
               sd=None, ob=None) -> Figure:
    if book is None or sd is None or ob is None:
        book, sd, ob = final_books(st)
    size = fill_size(book)
    B = fill_bodies(book, sd, ob, size)
    main, rs, ro = sampled([
        (f"tradecore fill_price(1, {size:g})", *B["tradecore"], book),
        ("sortedcontainers walk over items()", *B["sortedcontainers"], sd),
        ("order-book walk with .index(i), sorted cache warm", *B["order-book"], ob),
    ], cfg)
    main.note = f"size {size:g} = 9 ask levels + half of the 10th"
    fig = Figure("fill_price", "fill price for a size 10 levels deep", "call", "ns", main,
                 target_ns=150, floor_ns=300, ratio_ref=rs, refs=[rs, ro],
                 note="order-book has no fill call: its walk reads .index(i) on a cache that "
                      "is sorted (after any update the first index() re-sorts; that cost is in "
                      "'apply + top'); to_dict() would copy the whole book, so it is not used")
    fig.fill_values = (book.fill_price(1, size), sd_fill(sd[1], size),  # type: ignore
                       ob_fill(ob.asks, size))
    return fig


# ----------------------------------------------------------------------------------------------
# running everything, output

def run_all(st: realdata.Stream, cfg: Config, log=None) -> list[Figure]:
    try:
        return _run_all(st, cfg, log or (lambda msg: None))
    finally:
        gc.unfreeze()


def _run_all(st: realdata.Stream, cfg: Config, log) -> list[Figure]:
    if cfg.head_messages is not None:
        st = st.head(cfg.head_messages)
    figs = []
    batches = _batches(st, cfg.batch_levels)
    log("apply from Python ...")
    f1 = stage_apply(st, cfg, batches)
    figs.append(f1)
    log("apply + top ...")
    figs.append(stage_apply_top(st, cfg, batches))
    log("apply_many ...")
    figs.append(stage_apply_many(st, cfg))
    log("frames ...")
    figs.append(stage_frame(st, cfg))
    tcb = f1.main.state
    sd = next(s.state for s in f1.refs if s.name.startswith("sortedcontainers"))
    ob = next(s.state for s in f1.refs if s.name.startswith("order-book"))
    log("best read ...")
    figs.append(stage_best(st, cfg, tcb, sd, ob))
    log("fill price ...")
    figs.append(stage_fill(st, cfg, tcb, sd, ob))
    return figs


def _fmt(ns: float | None, unit: str) -> str:
    if ns is None or not math.isfinite(ns):
        return "-"
    v = ns / 1000 if unit == "us" else ns
    if v >= 100:
        s = f"{v:,.0f}"
    elif v >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return f"{s} {unit}"


def table(figs: list[Figure]) -> str:
    head = ["stage", "measured median", "p99", "target", "floor", "reference (same run)",
            "ratio", "status"]
    rows = []
    for f in figs:
        u = f.unit
        floor = _fmt(f.floor_ns, u) if f.floor_ns is not None else "-"
        if f.ratio_limit is not None:
            floor = (floor + ", " if f.floor_ns is not None else "") + \
                f"<= {f.ratio_limit:g}x ref"
        ref = (f"{f.ratio_ref.name}: {_fmt(f.ratio_ref.median, u)}" if f.ratio_ref else "-")
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        rows.append([f"{f.title} [per {f.per}]",
                     _fmt(f.main.median, u) if f.main else "not run",
                     _fmt(f.main.p99, u) if f.main else "-",
                     _fmt(f.target_ns, u) if f.target_ns is not None else "-", floor, ref,
                     ratio, f.status])
        if f.main is not None:
            rows.append([f"    measured: {f.main.name}", "", "", "", "", "", "", ""])
        for s in f.refs:
            r = f"{f.main.median / s.median:.2f}x" if f.main and s.samples else "-"
            rows.append([f"    ref: {s.name}", _fmt(s.median, u), _fmt(s.p99, u), "", "", "",
                         r, ""])
        for s in f.context:
            rows.append([f"    ctx: {s.name}", _fmt(s.median, u), _fmt(s.p99, u), "", "", "",
                         "", ""])
    w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    sep = "-+-".join("-" * x for x in w)
    out = [" | ".join(h.ljust(w[i]) for i, h in enumerate(head)), sep]
    for r in rows:
        out.append(" | ".join(str(c).ljust(w[i]) if i == 0 else str(c).ljust(w[i])
                              for i, c in enumerate(r)).rstrip())
    notes = [f"  {f.key}: {f.note}" for f in figs if f.note]
    return "\n".join(out) + ("\n\nnotes:\n" + "\n".join(notes) if notes else "")


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": sys.version.split()[0],
            "numpy": np.__version__, "platform": platform.platform()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few repetitions, first 300 messages")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--data", help="a Binance hbt_*.gz capture (default: realdata.find_source)")
    a = ap.parse_args(argv)
    cfg = QUICK if a.quick else FULL
    t0 = time.perf_counter()
    st = realdata.load(a.data)
    log = (lambda m: None) if a.json else (lambda m: print(f"[{time.perf_counter() - t0:5.1f}s] "
                                                           + m, file=sys.stderr, flush=True))
    log("data: " + st.describe())
    figs = run_all(st, cfg, log)
    fail = any(f.fails for f in figs)
    used = st.head(cfg.head_messages) if cfg.head_messages is not None else st
    if a.json:
        print(json.dumps({"mode": "quick" if cfg.quick else "full", "machine": machine(),
                          "data": {"source": st.source, "messages": used.n_messages,
                                   "levels": used.n_levels, "tick": st.tick, "lot": st.lot},
                          "seconds": round(time.perf_counter() - t0, 1),
                          "figures": [f.as_dict() for f in figs], "fail": fail}))
    else:
        m = machine()
        print(f"tradecore latency budget ({'quick' if cfg.quick else 'full'} run, "
              f"{time.perf_counter() - t0:.1f} s) on {m['cpu']}, {m['cores']} cores, "
              f"Python {m['python']}")
        print(f"data: {used.describe()}")
        print()
        print(table(figs))
        print()
        print("result:", "FAIL (a figure is over 3x its floor)" if fail else
              "pass (no figure over 3x its floor)")
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
