"""Arbitrage re-check after one book change (DESIGN.md budget: target 500 ns, floor 1 us).

    python benchmarks/bench_arb.py [--quick] [--json]

Cross-venue: Binance spot and USD-M BTCUSDT (../shared/data/binance/hbt_*_20240808.gz, the same
6 minutes) replayed through the real normalizers in receive-time order; every 25th book change
the detector's `check(changed venue)` is timed in a loop of 200 calls on that state (the figure
is loop time / 200, so the timer's cost is spread), with
  * real taker fees (0.1 % / 0.05 %): nothing survives; the top-of-book reject path, which is what
    almost every change costs in production;
  * no fees: spot is ~26 USDT over the perp, so every check walks both books' depth, sizes the
    opportunity and prices it.
Reference, same run, same states: the plain-Python brute force (strategies/arb/reference.py)
on levels already extracted from the books (its level extraction is not timed).

Triangular: USDT -> BTC -> ETH -> USDT, both directions (2 cycles per market), on books built
from the real ones: BTCUSDT = the spot book, ETHUSDT = the USD-M book with prices / 20
(a real depth shape at an ETH-like price), ETHBTC = ten levels at the implied cross (synthetic:
no simultaneous real ETHBTC book is recorded). Timed with the cross priced fair (no opportunity)
and skewed 0.5 % (an opportunity, depth walked in all three books).

Medians over the sampled states; p99 beside them. Status OK / OVER-TARGET / OVER-FLOOR.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradecore._fast.arb import CrossVenueDetector, TriangularDetector  # noqa: E402
from tradecore._fast.book import L2Book  # noqa: E402
from tradecore.data.capture import REST, WS, merge_captures  # noqa: E402
from tradecore.strategies.arb.reference import Leg, cross_best, tri_cycle  # noqa: E402
from tradecore.verify import normalizer_for  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "binance"
TARGET_NS, FLOOR_NS = 500, 1000
LOOP = 200


def per_call(fn, arg, loop: int = LOOP) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(loop):
        fn(arg)
    return (time.perf_counter_ns() - t0) / loop


def p99(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def levels(book: L2Book, depth: int = 20):
    return tuple([tuple(r) for r in side.tolist()] for side in book.depth(depth))


def cross_states(every: int, limit: int):
    """Yield (books, changed index) at every `every`-th change of the replay."""
    files = {"spot": SHARED / "hbt_spot_btcusdt_20240808.gz",
             "usdm": SHARED / "hbt_usdm_btcusdt_20240808.gz"}
    idx = {"spot": 0, "usdm": 1}
    books: list = [None, None]
    norms = {v: normalizer_for("binance") for v in files}
    pending: list = []
    n = 0

    def hook(v):
        def cb(key, book):
            nonlocal n
            books[idx[v]] = book
            if None not in books:
                n += 1
                if n % every == 0:
                    pending.append((list(books), idx[v]))
        return cb

    for v, nm in norms.items():
        nm.on_book = hook(v)
    for v, rec in merge_captures(files):
        if rec.kind == WS:
            norms[v].on_frame(rec.payload, rec.conn, rec.ts_ns)
        elif rec.kind == REST:
            norms[v].on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
        while pending:
            yield pending.pop(0)
            limit -= 1
            if limit <= 0:
                return


def bench_cross(quick: bool) -> list[dict]:
    rows = []
    for label, fees in (("real fees (top reject)", [0.001, 0.0005]),
                        ("no fees (depth walked)", [0.0, 0.0])):
        ours, ref, found = [], [], 0
        det = CrossVenueDetector(2)
        det.max_qty = 5.0
        lots = [0.00001, 0.001]
        for books, i in cross_states(25, 40 if quick else 300):
            for k in (0, 1):
                det.set_venue(k, books[k], fees[k], lots[k])
            ours.append(per_call(det.check, i))
            found += det.check(i)
            lv = [levels(b) for b in books]
            ref.append(per_call(lambda j: cross_best(lv, fees, lots, max_qty=5.0, only=j), i,
                                loop=5))
        rows.append(row(f"cross-venue 2 venues, {label}", ours, ref,
                        f"{found}/{len(ours)} states with an opportunity"))
    return rows


def scaled(book: L2Book, div: int, tick: str) -> L2Book:
    out = L2Book(tick, "0.0001")
    bids, asks = book.depth(40)
    out.apply_sides([(f"{p / div:.2f}", f"{q * div / 10:.4f}") for p, q in bids.tolist()],
                    [(f"{p / div:.2f}", f"{q * div / 10:.4f}") for p, q in asks.tolist()])
    out.valid = True
    return out


def bench_tri(quick: bool) -> list[dict]:
    rows = []
    states = list(cross_states(100, 10 if quick else 40))
    for label, skew in (("fair cross (no opportunity)", 0.0), ("cross skewed 0.5 %", 0.005)):
        ours, ref, found = [], [], 0
        for books, _ in states:
            btc = books[0]
            eth = scaled(books[1], 20, "0.01")
            fair = (eth.best_bid()[0] + eth.best_ask()[0]) / 2 / ((btc.best_bid()[0] + btc.best_ask()[0]) / 2)
            c = round(fair * (1 + skew) * 1e5)
            cross = L2Book("0.00001", "0.0001")
            cross.apply_sides([(f"{(c - 1 - i) / 1e5:.5f}", "2.5") for i in range(10)],
                              [(f"{(c + 1 + i) / 1e5:.5f}", "2.5") for i in range(10)])
            cross.valid = True
            det = TriangularDetector(3)
            det.set_market(0, btc, 1, 0, 0.00075, 0.00001)
            det.set_market(1, eth, 2, 0, 0.00075, 0.0001)
            det.set_market(2, cross, 2, 1, 0.00075, 0.0001)
            det.build(0)
            ours.append(per_call(det.check, 2))
            found += det.check(2)
            legs_lv = {m: levels(b) for m, b in enumerate((btc, eth, cross))}
            fees_lots = [(0.00075, 0.00001), (0.00075, 0.0001), (0.00075, 0.0001)]

            def ref_check(_):
                for cyc in range(det.n_cycles):
                    tri_cycle([Leg(legs_lv[m][1] if b else legs_lv[m][0], b, *fees_lots[m])
                               for m, b in det.cycle_legs(cyc)])
            ref.append(per_call(ref_check, 0, loop=3))
        rows.append(row(f"triangular 3 markets / 2 cycles, {label}", ours, ref,
                        f"{found}/{len(ours)} states with an opportunity"))
    return rows


def row(name: str, ours: list[float], ref: list[float], note: str) -> dict:
    med = statistics.median(ours)
    status = "OK" if med <= TARGET_NS else ("OVER-TARGET" if med <= FLOOR_NS else "OVER-FLOOR")
    return {"stage": name, "median_ns": round(med, 1), "p99_ns": round(p99(ours), 1),
            "target_ns": TARGET_NS, "floor_ns": FLOOR_NS, "status": status,
            "reference_median_ns": round(statistics.median(ref), 1),
            "speedup_vs_reference": round(statistics.median(ref) / med, 1),
            "samples": len(ours), "note": note}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not (SHARED / "hbt_spot_btcusdt_20240808.gz").is_file():
        print(f"NOT-RUN: {SHARED} is absent (the benchmark needs the shared recordings)")
        return 0
    rows = bench_cross(a.quick) + bench_tri(a.quick)
    if a.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(), "rows": rows}))
    else:
        print(f"arbitrage re-check after one book change ({platform.python_version()}, "
              f"{platform.machine()}); budget: target {TARGET_NS} ns, floor {FLOOR_NS} ns")
        for r in rows:
            print(f"  {r['stage']:<52} median {r['median_ns']:>8.1f} ns  p99 {r['p99_ns']:>8.1f} ns"
                  f"  [{r['status']}]  reference {r['reference_median_ns']:>10.1f} ns"
                  f" ({r['speedup_vs_reference']}x)  {r['note']}")
    return 1 if any(r["median_ns"] > 3 * FLOOR_NS for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
