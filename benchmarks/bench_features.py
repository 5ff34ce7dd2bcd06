"""Feature pipeline and candlestick pattern speed, each figure beside its budget (issue 7) and a
reference measured in the same run:

* the full default feature set (every family, 149 columns) over ~1,100,000 one-minute bars
  (two years), batch mode: budget 5 s; reference: TA-Lib computing the part of the set it
  can (its patterns and indicators, ~86 calls) on the same bars;
* all 54 patterns at once (one pass over the bars) vs TA-Lib's 53 CDL functions called one by
  one on the same bars (budget: ratio <= 1.5), and a few single patterns vs their TA-Lib twin;
* live mode: us per `LiveFeatures.update` (one bar, every family), beside the batch cost per row.

Input: the real 1-minute candles of ../shared/data/ohlcv/binanceus_BTCUSDT_1m_20230301_20230321
.csv.gz (30,240 bars), tiled 37 times to 1,118,880 bars; each copy is rescaled to start at the
previous copy's last close, so the series is continuous. The book at each close (10 levels a
side) and the taker buy/sell split are generated around the candles (seeded): no recording has
book, trades and candles for two years. Timings are the best of --repeat runs after a warm-up
call (the Numba compile/cache load is reported separately, never inside a figure).

Run: PYTHONPATH=src python benchmarks/bench_features.py [--copies 37] [--repeat 3]
"""
from __future__ import annotations

import argparse
import csv
import gzip
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ohlcv" / "binanceus_BTCUSDT_1m_20230301_20230321.csv.gz"
PIPELINE_BUDGET_S = 5.0
PATTERN_RATIO_BUDGET = 1.5


def load_real() -> dict[str, np.ndarray]:
    with gzip.open(DATA, "rt") as f:
        rows = list(csv.DictReader(f))
    d = {k: np.array([float(r[k]) for r in rows]) for k in
         ("open", "high", "low", "close", "volume")}
    d["ts_ns"] = np.array([int(r["ts_ms"]) for r in rows], dtype=np.int64) * 1_000_000
    return d


def tile(d: dict[str, np.ndarray], copies: int, depth: int = 10) -> dict[str, np.ndarray]:
    n = len(d["close"])
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("open", "high", "low", "close",
                                                        "volume", "ts_ns")}
    scale = 1.0
    step = int(d["ts_ns"][-1] - d["ts_ns"][0]) + 60_000_000_000
    for k in range(copies):
        for f in ("open", "high", "low", "close"):
            out[f].append(d[f] * scale)
        out["volume"].append(d["volume"])
        out["ts_ns"].append(d["ts_ns"] + k * step)
        scale = out["close"][-1][-1] / d["open"][0]
    t = {k: np.concatenate(v) for k, v in out.items()}
    m = n * copies
    rng = np.random.default_rng(5)
    tick = 0.01
    half = tick * rng.integers(1, 4, m) / 2
    t["bid_px"] = (t["close"] - half)[:, None] - tick * np.arange(depth)
    t["ask_px"] = (t["close"] + half)[:, None] + tick * np.arange(depth)
    t["bid_sz"] = rng.uniform(0.01, 2.0, (m, depth))
    t["ask_sz"] = rng.uniform(0.01, 2.0, (m, depth))
    t["buy_volume"] = t["volume"] * rng.uniform(0, 1, m)
    t["sell_volume"] = t["volume"] - t["buy_volume"]
    return t


def talib_workload(talib, d: dict[str, np.ndarray]) -> None:
    """The reference: TA-Lib computing the part of the default set it can (53 patterns, SMA
    and EMA x 6, RSI x 3, ATR x 2 and the 8 catalogue indicators) on the same bars. It shows
    how fast this machine is in this run; the ratio travels, the seconds do not."""
    o, h, lo, c, v = d["open"], d["high"], d["low"], d["close"], d["volume"]
    from tradecore.indicators.patterns import pattern_names
    for nm in pattern_names(include_non_talib=False):
        getattr(talib, nm.upper())(o, h, lo, c)
    for w in (5, 10, 20, 50, 100, 200):
        talib.SMA(c, w)
        talib.EMA(c, w)
    for p in (7, 14, 28):
        talib.RSI(c, p)
    for p in (14, 50):
        talib.ATR(h, lo, c, p)
    talib.MACD(c)
    talib.BBANDS(c)
    talib.STOCH(h, lo, c)
    talib.ADX(h, lo, c)
    talib.CCI(h, lo, c)
    talib.WILLR(h, lo, c)
    talib.MFI(h, lo, c, v)
    talib.NATR(h, lo, c)


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=37)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--live-bars", type=int, default=20000)
    a = ap.parse_args(argv)
    if not DATA.is_file():
        print(f"NOT-RUN: {DATA} is absent")
        return 0
    import talib

    from tradecore.indicators import patterns as P
    from tradecore.indicators.features import DEFAULT_FEATURES, FeatureSet

    d = tile(load_real(), a.copies)
    n = len(d["close"])
    o, h, lo, c = d["open"], d["high"], d["low"], d["close"]
    fs = FeatureSet(DEFAULT_FEATURES)
    print(f"input: {n:,} one-minute bars ({a.copies} tiled copies of {DATA.name}); "
          f"feature set: {len(fs.names)} columns")

    t0 = time.perf_counter()
    fs.batch({k: v[:2000] for k, v in d.items()})
    print(f"warm-up (Numba compile or cache load, first call): {time.perf_counter() - t0:.2f} s")

    bad = 0
    t_pipe = best_of(lambda: fs.batch(d), a.repeat)
    t_ref = best_of(lambda: talib_workload(talib, d), a.repeat)
    st = "OK" if t_pipe <= PIPELINE_BUDGET_S else "OVER-BUDGET"
    bad += st != "OK"
    print(f"\n{'figure':52s} {'ours':>10s} {'budget':>10s} {'reference':>12s}  status")
    print(f"{'pipeline batch, ' + str(len(fs.names)) + ' features x ' + f'{n:,} bars':52s} "
          f"{t_pipe:9.2f}s {PIPELINE_BUDGET_S:9.1f}s {t_ref:11.2f}s  {st} "
          f"(x{t_pipe / t_ref:.2f} of the TA-Lib workload)")
    per_row_us = t_pipe / n * 1e6
    print(f"{'  per bar':52s} {per_row_us:8.2f}us")

    names = P.pattern_names()
    talib_names = P.pattern_names(include_non_talib=False)
    P.patterns(names, o[:100], h[:100], lo[:100], c[:100])
    t_ours = best_of(lambda: P.patterns(names, o, h, lo, c), a.repeat)
    t_ta = best_of(lambda: [getattr(talib, nm.upper())(o, h, lo, c) for nm in talib_names],
                   a.repeat)
    ratio = t_ours / t_ta
    st = "OK" if ratio <= PATTERN_RATIO_BUDGET else "OVER-BUDGET"
    bad += st != "OK"
    label = f"patterns: all {len(names)} at once (ref: TA-Lib, {len(talib_names)} calls)"
    print(f"{label:52s} {t_ours:9.3f}s "
          f"{'x' + str(PATTERN_RATIO_BUDGET):>10s} {t_ta:11.3f}s  {st} (x{ratio:.2f})")
    for nm in ("cdldoji", "cdlengulfing", "cdlhammer", "cdlmorningstar", "cdl3whitesoldiers"):
        f = getattr(P, nm)
        g = getattr(talib, nm.upper())
        f(o[:100], h[:100], lo[:100], c[:100])
        t1 = best_of(lambda: f(o, h, lo, c), a.repeat)
        t2 = best_of(lambda: g(o, h, lo, c), a.repeat)
        print(f"{'  ' + nm + ' alone':52s} {t1 * 1e3:8.1f}ms {'':>10s} {t2 * 1e3:10.1f}ms  "
              f"(x{t1 / t2:.1f}, context)")

    live = fs.live()
    m = min(a.live_bars, n)
    bars = [{k: v[i] for k, v in d.items()} for i in range(m)]
    t0 = time.perf_counter()
    for b in bars:
        live.update(b)
    t_live = (time.perf_counter() - t0) / m * 1e6
    print(f"{'live update, all ' + str(len(fs.names)) + ' features, one bar':52s} "
          f"{t_live:8.1f}us {'':>10s} {per_row_us:10.2f}us  (reference: batch per bar)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
