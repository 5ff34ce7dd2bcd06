"""Pre-trade risk check latency, beside its budget (../shared/DESIGN.md: target 300 ns median,
floor 1 us) and beside references measured in the same run.

    python benchmarks/bench_risk.py [--quick] [--json]

Set-up: a gate with 8 symbols on real Binance spot grids (tick/lot of BTCUSDT, ETHUSDT, ...),
mids from the recorded books, positions and working orders on every symbol, portfolio gross and
net limits, a BTC/ETH correlation cluster, a free-balance check and an order-rate throttle (set
wide enough never to deny), so a passing order runs every check, including the loops over all
symbols for gross, net and cluster exposure.

Series (each sample = one batch of 50 calls, 10 unrolled per loop iteration, timed with
perf_counter_ns; figures are ns per call: median and p99 over the samples' per-call means):
  gate.check(order) passing        the whole facade call from Python: what the engine pays
  gate.check(order) denied         a fat-finger limit price (PRICE_BAND, mid-way through)
  kernel.check(...) passing        the compiled check with C scalars, no Order to read
  reference gate.check(order)      RiskGate over the plain-Python ReferenceKernel (same rules)
  context: f(order)                an empty Python function call, for scale
The series run round-robin (one sample of each in turn) so they share the machine's noise.
Exit code 1 only when the passing gate.check median is over 3x the 1 us floor.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time

import numpy as np

from tradecore.core.clock import SimClock as _SimClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import DenyReason, Order, OrderType, Side
from tradecore.risk.gate import RiskGate
from tradecore.risk.limits import ClusterLimit, RiskLimits, SymbolLimits
from tradecore.risk.reference import ReferenceKernel

TARGET_NS, FLOOR_NS = 300.0, 1000.0
BATCH = 50
T0 = 1_723_161_254_087_891_268

# (symbol, tick, lot, base, mid) from Binance spot exchangeInfo and the recorded books
SYMBOLS = [("BTCUSDT", "0.01", "0.00001", "BTC", 61837.635),
           ("ETHUSDT", "0.01", "0.0001", "ETH", 2504.01),
           ("BNBUSDT", "0.1", "0.001", "BNB", 512.3),
           ("SOLUSDT", "0.01", "0.001", "SOL", 151.27),
           ("XRPUSDT", "0.0001", "1", "XRP", 0.5712),
           ("ADAUSDT", "0.0001", "0.1", "ADA", 0.3421),
           ("LTCUSDT", "0.01", "0.001", "LTC", 63.05),
           ("DOGEUSDT", "0.00001", "1", "DOGE", 0.1032)]


def build(kernel_factory=None) -> RiskGate:
    kw = {} if kernel_factory is None else {"kernel_factory": kernel_factory}
    g = RiskGate(RiskLimits(max_gross_notional=1e7, max_net_notional=5e6,
                            max_orders_per_sec=1e9, order_burst=10**12),
                 _SimClock(T0), **kw)
    for sym, tick, lot, base, mid in SYMBOLS:
        inst = Instrument("binance", sym, tick, lot, base, "USDT", min_notional="5",
                          taker_fee=0.001)
        g.add_instrument(inst, SymbolLimits(max_order_lots=10**9, max_order_notional=1e6,
                                            max_position_lots=10**12, max_notional=1e7,
                                            price_band=0.05, max_mid_age_ns=10**12))
        g.update_mid("binance", sym, mid, T0)
        g.set_position("binance", sym, inst.round_lots(repr(1000.0 / mid)))
        g.on_order_open(Order(f"w-{sym}", "binance", sym, Side.SELL, OrderType.LIMIT,
                              inst.round_lots(repr(300.0 / mid)), inst.round_ticks(repr(mid))))
    g.set_balance("binance", "USDT", 1e7)
    g.set_cluster_limits([ClusterLimit((("binance", "BTCUSDT"), ("binance", "ETHUSDT")),
                                       (1, 1), 5e6)])
    return g


def orders() -> tuple[Order, Order]:
    ok = Order("bench-ok", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 1000, 6_183_700)
    bad = Order("bench-bad", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 1000, 7_000_000)
    return ok, bad


def body_check(check, o):
    def run(n):
        for _ in range(n):
            check(o); check(o); check(o); check(o); check(o)  # noqa: E702
            check(o); check(o); check(o); check(o); check(o)  # noqa: E702
    return run


def body_kernel(k):
    c = k.check

    def run(n):
        for _ in range(n):
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
            c(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0)
    return run


def measure(bodies: dict, samples: int, max_seconds: float) -> dict[str, list[float]]:
    per = BATCH // 10
    out = {name: [] for name in bodies}
    for b in bodies.values():
        b(per)                                            # warm
    gc.collect()
    gc.disable()
    try:
        t_end = time.perf_counter() + max_seconds
        for i in range(samples):
            for name, b in bodies.items():
                t0 = time.perf_counter_ns()
                b(per)
                out[name].append((time.perf_counter_ns() - t0) / BATCH)
            if i >= 100 and time.perf_counter() > t_end:
                break
    finally:
        gc.enable()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    samples, seconds = (300, 3.0) if a.quick else (4000, 30.0)

    g, ref = build(), build(ReferenceKernel)
    ok, bad = orders()
    assert g.check(ok) is DenyReason.NONE and ref.check(ok) is DenyReason.NONE
    assert g.check(bad) is DenyReason.PRICE_BAND and ref.check(bad) is DenyReason.PRICE_BAND
    assert g.kernel.check(0, 1, 1, 1000, 6_183_700, 0, False, T0, 0, 0) == 0

    def f(o):
        return None

    bodies = {
        "gate.check(order) passing": body_check(g.check, ok),
        "gate.check(order) denied (PRICE_BAND)": body_check(g.check, bad),
        "kernel.check(C scalars) passing": body_kernel(g.kernel),
        "reference gate.check(order) passing (plain Python)": body_check(ref.check, ok),
        "reference gate.check(order) denied (plain Python)": body_check(ref.check, bad),
        "context: empty Python call f(order)": body_check(f, ok),
    }
    res = measure(bodies, samples, seconds)
    rows = []
    for name, xs in res.items():
        rows.append({"name": name, "median_ns": float(np.median(xs)),
                     "p99_ns": float(np.percentile(xs, 99)), "samples": len(xs)})
    main_row = rows[0]
    ref_row = rows[3]
    fail = main_row["median_ns"] > 3 * FLOOR_NS
    status = ("OVER-FLOOR" if main_row["median_ns"] > FLOOR_NS else
              "OVER-TARGET" if main_row["median_ns"] > TARGET_NS else "OK")
    if a.json:
        print(json.dumps({"target_ns": TARGET_NS, "floor_ns": FLOOR_NS, "rows": rows,
                          "status": status, "fail": fail,
                          "speedup_vs_reference": ref_row["median_ns"] / main_row["median_ns"]}))
        return 1 if fail else 0
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"pre-trade risk check ({'quick' if a.quick else 'full'} run) on {cpu}, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{len(SYMBOLS)} symbols, every check enabled; ns per call, batches of {BATCH}")
    print()
    w = max(len(r["name"]) for r in rows)
    print(f"{'series'.ljust(w)} | median ns | p99 ns    | vs gate.check | budget")
    print("-" * (w + 55))
    for r in rows:
        ratio = r["median_ns"] / main_row["median_ns"]
        budget = (f"target {TARGET_NS:.0f} / floor {FLOOR_NS:.0f}: {status}" if r is main_row
                  else "")
        print(f"{r['name'].ljust(w)} | {r['median_ns']:9.1f} | {r['p99_ns']:9.1f} | "
              f"{ratio:12.2f}x | {budget}")
    print()
    print(f"compiled gate vs plain-Python reference gate: "
          f"{ref_row['median_ns'] / main_row['median_ns']:.1f}x faster (median, passing)")
    print("result:", "FAIL (over 3x the floor)" if fail else "pass (not over 3x the floor)")
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
