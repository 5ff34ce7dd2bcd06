"""MEV inspection throughput and the V2 quote kernel (issue 10 budget: one V2 quote <= 200 ns).

    python benchmarks/bench_mev.py [--quick] [--json]

Blocks/s: every shared block of ../shared/data/mev (20 mev-inspect-py blocks, the
mev-inspect-rs block 11017338 and its 7 single-transaction fixtures), each inspected end to end
(classification, swaps, arbitrages, sandwiches, liquidations, JIT) from the parsed block, and
separately loading (gunzip + json + validation) included. Reference in the same run: the
classification alone, and the strict-ABI mode (what matching mev-inspect-py costs).

V2 quote: `getAmountOut` on real reserves (the 40 logged V2 swaps of block 11017338, cycled),
compiled (`tradecore._fast.amm.v2_get_amount_out`) vs the plain-Python reference
(`tradecore.mev.amm.v2.get_amount_out`) in the same run; a loop of 1000 calls timed per sample,
figure = time / 1000 (the loop's own cost is shown as the `empty loop` row and included in both).
The machine is shared (2 cores): the ratio travels, the absolute time does not.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATA = ROOT.parent / "shared" / "data" / "mev"

from tradecore._fast.amm import v2_get_amount_out as fast_out  # noqa: E402
from tradecore.mev.amm.v2 import get_amount_out as py_out  # noqa: E402
from tradecore.mev.classify import classify_block  # noqa: E402
from tradecore.mev.inspect import inspect_block  # noqa: E402
from tradecore.mev.logs import v2_swap_events  # noqa: E402
from tradecore.mev.traces import load_block  # noqa: E402

QUOTE_BUDGET_NS = 200.0


def _files() -> list[str]:
    return (sorted(glob.glob(str(DATA / "mev_inspect_py" / "blocks" / "*.json.gz")))
            + [str(DATA / "mev_inspect_rs" / "block_11017338.data.json.gz")]
            + sorted(glob.glob(str(DATA / "mev_inspect_rs" / "tx" / "*.data.json.gz"))))


def _rate(fn, items, reps: int) -> tuple[float, float]:
    """(median, best) items per second over `reps` passes."""
    rates = []
    for _ in range(reps):
        t = time.perf_counter()
        for x in items:
            fn(x)
        rates.append(len(items) / (time.perf_counter() - t))
    return statistics.median(rates), max(rates)


def _quote_ns(fn, args: list[tuple[int, int, int]], samples: int) -> tuple[float, float]:
    calls = (args * (1000 // len(args) + 1))[:1000]
    out = []
    for _ in range(samples):
        t = time.perf_counter_ns()
        for a, b, c in calls:
            fn(a, b, c)
        out.append((time.perf_counter_ns() - t) / 1000)
    out.sort()
    return statistics.median(out), out[int(0.99 * (len(out) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    files = _files()
    if not all(os.path.isfile(f) for f in files):
        print(f"NOT-RUN: shared MEV data missing under {DATA}")
        return 0
    reps = 2 if a.quick else 7
    blocks = [load_block(f) for f in files]
    res: dict[str, object] = {"blocks": len(blocks), "traces": sum(len(b.traces) for b in blocks)}
    res["inspect_blocks_per_s"], res["inspect_blocks_per_s_best"] = _rate(inspect_block, blocks, reps)
    res["load_and_inspect_blocks_per_s"], _ = _rate(lambda f: inspect_block(load_block(f)), files, max(1, reps // 2))
    res["classify_only_blocks_per_s"], _ = _rate(classify_block, blocks, reps)
    res["strict_abi_blocks_per_s"], _ = _rate(lambda b: inspect_block(b, True), blocks, reps)
    res["traces_per_s"] = res["inspect_blocks_per_s"] * res["traces"] / len(blocks)

    ev = v2_swap_events(load_block(DATA / "mev_inspect_rs" / "block_11017338.data.json.gz"))
    args = []
    for e in ev:
        r0, r1 = e.reserves_before
        args.append((e.amount0_in, r0, r1) if e.amount0_in else (e.amount1_in, r1, r0))
    samples = 200 if a.quick else 2000
    empty = lambda x, y, z: None  # noqa: E731
    res["quote_empty_loop_ns"], _ = _quote_ns(empty, args, samples)
    res["quote_fast_ns"], res["quote_fast_p99_ns"] = _quote_ns(fast_out, args, samples)
    res["quote_python_ns"], res["quote_python_p99_ns"] = _quote_ns(py_out, args, samples)
    res["quote_ratio"] = res["quote_fast_ns"] / res["quote_python_ns"]
    res["load_average_1m"] = os.getloadavg()[0]
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"{len(blocks)} blocks, {res['traces']} traces   (load average {res['load_average_1m']:.1f} on "
          f"{os.cpu_count()} cores)")
    print(f"  inspect (parsed block)      {res['inspect_blocks_per_s']:8.1f} blocks/s  "
          f"(best {res['inspect_blocks_per_s_best']:.1f}; {res['traces_per_s']:.0f} traces/s)")
    print(f"  load + inspect              {res['load_and_inspect_blocks_per_s']:8.1f} blocks/s")
    print(f"  ref: classify only          {res['classify_only_blocks_per_s']:8.1f} blocks/s")
    print(f"  ref: strict-ABI inspect     {res['strict_abi_blocks_per_s']:8.1f} blocks/s")
    status = "OK" if res["quote_fast_ns"] <= QUOTE_BUDGET_NS else "OVER-TARGET"
    print(f"V2 getAmountOut on the 40 logged reserves (budget {QUOTE_BUDGET_NS:.0f} ns)")
    print(f"  compiled                    {res['quote_fast_ns']:8.1f} ns  p99 {res['quote_fast_p99_ns']:.1f}   {status}")
    print(f"  ref: plain Python           {res['quote_python_ns']:8.1f} ns  p99 {res['quote_python_p99_ns']:.1f}")
    print(f"  ratio compiled/python       {res['quote_ratio']:8.2f}")
    print(f"  context: empty call loop    {res['quote_empty_loop_ns']:8.1f} ns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
