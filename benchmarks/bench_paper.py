"""What the paper venue adds to every book update, beside the book apply itself.

    PYTHONPATH=src python benchmarks/bench_paper.py [--reps N]

Data: the bundled Binance BTCUSDT recording (REST snapshot + depth@100ms diffs). The diffs
after the snapshot are replayed onto a book built from it, one `apply_sides` call per message
(what the Binance normalizer does). In each series every message is applied, then
`venue.on_book(symbol, book)` is called; the two calls are timed apart (perf_counter_ns around
each), so both figures come from the same pass on the same book states:

  apply          ns per message of the book apply: the reference every figure stands beside
  empty hook     the same timer around an empty Python method with on_book's arguments: the
                 timer's own cost plus one call, the floor of any per-update hook
  idle           the venue holds no order for the symbol
  untouched      a resting buy 2% under and a sell 2% over the mid: never reached, the venue
                 reads the top and compares two ints
  touched        a resting buy kept at the best bid (re-pegged outside the timed call when the
                 bid moves or it fills): its queue is re-sampled when the touch changes

Figures are medians over messages (and means), then the median of the passes (--reps); the
series are interleaved so that machine drift hits them alike.
Budget context (../shared/DESIGN.md, backtest issue): >= 3 million L2 deltas per second through
books and one strategy, i.e. <= 333 ns per delta; a depth@100ms message carries ~36 deltas,
and the venue's cost is per message (per on_book call), not per delta.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradecore.book import L2Book  # noqa: E402
from tradecore.core.clock import SimClock as _SimClock  # noqa: E402
from tradecore.core.instrument import Instrument  # noqa: E402
from tradecore.core.orders import Order, OrderType, Side  # noqa: E402
from tradecore.data.capture import REST, WS, read_capture  # noqa: E402
from tradecore.execution.paper import PaperVenue  # noqa: E402

SAMPLE = ROOT / "src" / "tradecore" / "data" / "samples" / "hbt_spot_btcusdt_20240808.gz"
SYM = "BTCUSDT"
INST = Instrument("paper", SYM, "0.01", "0.00001", maker_fee=0.0002, taker_fee=0.0005)
BUDGET_PER_DELTA_NS = 1e9 / 3e6


class _Quiet:
    def __getattr__(self, name):
        return lambda *a: None


def load() -> tuple[dict, list[tuple[list, list]]]:
    snap = None
    diffs = []
    for r in read_capture(SAMPLE):
        if r.kind == REST and snap is None:
            snap = orjson.loads(r.payload)
        elif r.kind == WS:
            d = orjson.loads(r.payload)
            if d.get("stream", "").endswith("@depth@100ms"):
                diffs.append(d["data"])
    last = snap["lastUpdateId"]
    msgs = [(d["b"], d["a"]) for d in diffs if d["u"] > last]
    return snap, msgs


def fresh_book(snap: dict) -> L2Book:
    b = L2Book("0.01", "0.00000001")
    b.apply_sides(snap["bids"], snap["asks"])
    b.valid = True
    return b


def venue_with(book: L2Book, where: str) -> PaperVenue:
    clock = _SimClock(0)
    v = PaperVenue("paper", clock, {SYM: INST})
    v.set_listener(_Quiet())
    v.on_book(SYM, book)
    bt, _, at, _ = book.top_ticks()
    if where == "far":
        v.submit(Order("b", "paper", SYM, Side.BUY, OrderType.LIMIT, 100, price=bt * 98 // 100))
        v.submit(Order("s", "paper", SYM, Side.SELL, OrderType.LIMIT, 100,
                       price=at * 102 // 100))
    elif where == "touch":
        v.submit(Order("b", "paper", SYM, Side.BUY, OrderType.LIMIT, 100, price=bt))
    clock.advance_to(1)
    return v


class _Empty:
    def on_book(self, symbol, book):
        return None


def series(snap, msgs, mode: str) -> tuple[float, float, float, float]:
    """(median ns of apply, of on_book, mean of apply, of on_book) per message, one pass."""
    book = fresh_book(snap)
    apply = book.apply_sides
    v = None
    if mode == "empty":
        on_book = _Empty().on_book
    else:
        v = venue_with(book, {"idle": "idle", "untouched": "far", "touched": "touch"}[mode])
        on_book = v.on_book
    peg = [book.top_ticks()[0], 1]
    ta: list[int] = []
    tb: list[int] = []
    pc = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for b, a in msgs:
            t0 = pc()
            apply(b, a)
            t1 = pc()
            on_book(SYM, book)
            t2 = pc()
            ta.append(t1 - t0)
            tb.append(t2 - t1)
            if mode == "touched":                 # keep one buy at the best bid (untimed)
                top = book.top_ticks()
                if top is not None and (top[0] != peg[0] or not v._open):
                    for w in list(v._open.values()):
                        v.cancel(Order(w.cid, "paper", SYM, Side.BUY, OrderType.LIMIT, 1))
                    peg[1] += 1
                    peg[0] = top[0]
                    v.submit(Order(f"b{peg[1]}", "paper", SYM, Side.BUY, OrderType.LIMIT, 100,
                                   price=top[0]))
                    v._clock.advance_to(v._clock.time_ns() + 1)
    finally:
        gc.enable()
    return (statistics.median(ta), statistics.median(tb), sum(ta) / len(ta), sum(tb) / len(tb))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    snap, msgs = load()
    deltas = sum(len(b) + len(a) for b, a in msgs)
    per = deltas / len(msgs)
    print(f"data: {SAMPLE.name}: {len(msgs)} depth messages after the snapshot, "
          f"{deltas} deltas ({per:.1f} per message); median of {args.reps} passes")
    modes = ("empty", "idle", "untouched", "touched")
    runs: dict[str, list] = {m: [] for m in modes}
    for _ in range(args.reps):
        for m in modes:
            runs[m].append(series(snap, msgs, m))
    med = {m: [statistics.median(r[i] for r in runs[m]) for i in range(4)] for m in modes}
    apply_med = statistics.median(med[m][0] for m in modes)
    apply_mean = statistics.median(med[m][2] for m in modes)
    print(f"{'per message':<26}{'median ns':>10}{'mean ns':>10}{'vs apply':>10}"
          f"{'per delta':>11}")
    print(f"{'apply (reference)':<26}{apply_med:>10.0f}{apply_mean:>10.0f}{'1.00x':>10}"
          f"{apply_med / per:>11.1f}")
    names = {"empty": "empty hook (floor)", "idle": "on_book, no order",
             "untouched": "on_book, untouched", "touched": "on_book, order at touch"}
    for m in modes:
        md, mn = med[m][1], med[m][3]
        print(f"{names[m]:<26}{md:>10.0f}{mn:>10.0f}{md / apply_med:>9.2f}x{md / per:>11.1f}")
    u = med["untouched"][1]
    print(f"\nbudget context: {BUDGET_PER_DELTA_NS:.0f} ns per delta for books + strategy; an "
          f"untouched venue adds {u:.0f} ns per message = {u / per:.1f} ns per delta here "
          f"(apply: {apply_med / per:.1f} ns per delta)")


if __name__ == "__main__":
    main()
