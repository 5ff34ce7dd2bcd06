"""Pairs (stat-arb) pipeline speed: batch over years of bars, and one live update per bar.

    python benchmarks/bench_stat.py [--quick] [--json]

Data: every aligned real pair in ../shared/data/ohlcv that has a partner (selection.align_closes):
  hourly  Binance ETHUSDT ~ BTCUSDT, 2021-04-26 .. 09-27 (3 676 h; the 2017-2024 BTCUSDT hourly
          file has no partner series outside that window, so no real 2-year hourly *pair* exists
          in the shared set)
  minute  Binance.US BTCUSDC ~ BTCUSDT, BTCUSD ~ BTCUSDT, BTCUSDC ~ BTCUSD, 2023-03-01 .. 21
          (30 240 bars each: each pair is longer than 2 years of hourly bars, 17 520)
  daily   Bitstamp LTC ~ ETH, ETH ~ BTC; Coinbase ~ Bitstamp BTC
The per-bar work does not depend on the bar interval, so the figure that answers issue 6 ("a
2-year backtest over hourly candles of several pairs, in seconds") is the measured time over all
these bars, also shown scaled to 4 pairs x 17 520 hourly bars.

Batch = pair_signals (log, hedge ratio, spread, z-score, signals) + the spread backtest (fees 10 bp
a leg, lag 1), rolling OLS and Kalman, default PairParams (168-bar windows). Timed as the median of
several runs after one warm-up call (the first call loads the Numba cache or compiles: shown apart).
Reference, same run, same bars: pandas rolling cov/var/mean/std for OLS and z, Chan's filter in
numpy matrices for Kalman, plain-Python loops for signals and backtest; the bars whose position
differs from the batch are counted (0 expected but for a z exactly at a threshold, where the two
differ by rounding).

Live = incremental.PairModel.update per bar (log, hedge, spread, z, signal), ns per bar, median of
3 passes over a minute pair. Reference: the naive live approach, a numpy lstsq over the window and
mean/std over the z window recomputed at every bar.

Budget (issue 6): the batch 2-year-hourly-several-pairs backtest "in seconds": target 1 s, floor
10 s. The live update has no budget in DESIGN.md (bars arrive every minute or hour); the figure is
context.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradecore.strategies.stat import kernels as K  # noqa: E402
from tradecore.strategies.stat.batch import backtest_pair  # noqa: E402
from tradecore.strategies.stat.incremental import PairModel  # noqa: E402
from tradecore.strategies.stat.params import PairParams  # noqa: E402
from tradecore.strategies.stat.selection import align_closes, read_closes  # noqa: E402

OHLCV = ROOT.parent / "shared" / "data" / "ohlcv"
TARGET_S, FLOOR_S = 1.0, 10.0
FEE, LAG, NOTIONAL = 0.001, 1, 10_000.0
TWO_YEARS_H = 2 * 365 * 24

PAIRS = [  # (name, y file, x file)
    ("1h ETHUSDT~BTCUSDT", "binance_ETHUSDT_1h_20210426_20210927.csv",
     "binance_BTCUSDT_1h_20170817_20240421.csv.gz"),
    ("1m BTCUSDC~BTCUSDT", "binanceus_BTCUSDC_1m_20230301_20230321.csv.gz",
     "binanceus_BTCUSDT_1m_20230301_20230321.csv.gz"),
    ("1m BTCUSD~BTCUSDT", "binanceus_BTCUSD_1m_20230301_20230321.csv.gz",
     "binanceus_BTCUSDT_1m_20230301_20230321.csv.gz"),
    ("1m BTCUSDC~BTCUSD", "binanceus_BTCUSDC_1m_20230301_20230321.csv.gz",
     "binanceus_BTCUSD_1m_20230301_20230321.csv.gz"),
    ("1d LTC~ETH bitstamp", "bitstamp_LTCUSD_1d_20170625_20200117.csv",
     "bitstamp_ETHUSD_1d_20171109_20200117.csv"),
    ("1d ETH~BTC bitstamp", "bitstamp_ETHUSD_1d_20171109_20200117.csv",
     "bitstamp_BTCUSD_1d_20141128_20200117.csv"),
    ("1d BTC coinbase~bitstamp", "coinbase_BTCUSD_1d_20141201_20191017.csv",
     "bitstamp_BTCUSD_1d_20141128_20200117.csv"),
]


def load(quick: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for name, fy, fx in PAIRS[:3] if quick else PAIRS:
        al = align_closes({"y": read_closes(str(OHLCV / fy)), "x": read_closes(str(OHLCV / fx))})
        out.append((name, al.close("y").copy(), al.close("x").copy()))
    return out


# -- reference: pandas / numpy / plain Python ---------------------------------------------------
def ref_signals(z, p: PairParams) -> np.ndarray:
    pos_out = np.zeros(z.size, np.int8)
    why_out = np.zeros(z.size, np.int8)
    pos = held = 0
    for t, v in enumerate(z.tolist()):
        r = 0
        if pos:
            held += 1
            if v == v and ((pos < 0 and v >= p.stop_z) or (pos > 0 and v <= -p.stop_z)):
                pos, r = 0, K.R_STOP
            elif v == v and ((pos < 0 and v <= p.exit_z) or (pos > 0 and v >= -p.exit_z)):
                pos, r = 0, K.R_EXIT
            elif p.max_bars and held >= p.max_bars:
                pos, r = 0, K.R_TIME
        elif v == v and p.entry_z <= abs(v) < p.stop_z:
            pos, held, r = (-1 if v > 0 else 1), 0, K.R_ENTER
        pos_out[t] = pos
        why_out[t] = r
    return pos_out, why_out


def ref_backtest(py, px, pos, why, beta) -> float:
    cash, held = 0.0, None
    for t in range(py.size):
        s = t - LAG
        if s < 0:
            continue
        want = pos[s]
        if held and want != held[0]:
            _, qy, qx, ey, ex = held
            cash += qy * (py[t] - ey) + qx * (px[t] - ex) - FEE * (abs(qy) * py[t]
                                                                   + abs(qx) * px[t])
            held = None
        if held is None and want and why[s] == K.R_ENTER:
            ny = NOTIONAL / (1 + abs(beta[s]))
            qy, qx = want * ny / py[t], -want * beta[s] * ny / px[t]
            cash -= FEE * (abs(qy) * py[t] + abs(qx) * px[t])
            held = (want, qy, qx, py[t], px[t])
    if held:
        _, qy, qx, ey, ex = held
        t = py.size - 1
        cash += qy * (py[t] - ey) + qx * (px[t] - ex) - FEE * (abs(qy) * py[t] + abs(qx) * px[t])
    return cash


def ref_pipeline(py, px, p: PairParams):
    import pandas as pd
    y = pd.Series(np.log(py))
    x = pd.Series(np.log(px))
    if p.hedge == "ols":
        rx, ry = x.rolling(p.window), y.rolling(p.window)
        beta = (rx.cov(y) / rx.var()).to_numpy()
        del ry
    else:
        vw = p.delta / (1 - p.delta) * np.eye(2)
        st, P = np.zeros(2), np.zeros((2, 2))
        beta = np.full(py.size, np.nan)
        xs, ys = x.to_numpy(), y.to_numpy()
        for t in range(py.size):
            R = P + vw
            H = np.array([xs[t], 1.0])
            Q = H @ R @ H + p.ve
            Kg = R @ H / Q
            st = st + Kg * (ys[t] - H @ st)
            P = R - np.outer(Kg, H) @ R
            if t >= p.window:
                beta[t] = st[0]
    s = y - beta * x
    r = s.rolling(p.z_window)
    z = ((s - r.mean()) / r.std(ddof=0)).to_numpy()
    pos, why = ref_signals(z, p)
    return pos, ref_backtest(py, px, pos, why, beta)


# -- measurements ----------------------------------------------------------------------------------
def batch_all(data, p: PairParams):
    return [backtest_pair(py, px, p, notional=NOTIONAL, fee_y=FEE, fee_x=FEE, lag=LAG)
            for _, py, px in data]


def timed(fn, reps: int) -> tuple[float, object]:
    ts, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def bench_batch(data, hedge: str, quick: bool) -> dict:
    p = PairParams(hedge=hedge)
    t0 = time.perf_counter()
    batch_all(data, p)
    first = time.perf_counter() - t0
    sec, res = timed(lambda: batch_all(data, p), 3 if quick else 7)
    ref_sec, ref = timed(lambda: [ref_pipeline(py, px, p) for _, py, px in data], 1)
    bars = sum(py.size for _, py, _ in data)
    differ = sum(int((sig.pos != rp).sum()) for (sig, _), (rp, _) in zip(res, ref))
    pnl_gap = max(abs(bt.net_pnl - rpnl) for (_, bt), (_, rpnl) in zip(res, ref))
    scaled = sec / bars * 4 * TWO_YEARS_H
    status = "OK" if scaled <= TARGET_S else ("OVER-TARGET" if scaled <= FLOOR_S else "OVER-FLOOR")
    return {"stage": f"batch {hedge}: hedge+z+signals+backtest", "pairs": len(data),
            "bars": bars, "seconds": sec, "ns_per_bar": sec / bars * 1e9,
            "seconds_4_pairs_2y_hourly": scaled, "status": status, "first_call_s": first,
            "reference_seconds": ref_sec, "speedup_vs_reference": round(ref_sec / sec, 1),
            "positions_differing": differ, "max_net_pnl_gap": pnl_gap}


def naive_live(py, px, p: PairParams, n: int) -> float:
    ly, lx = np.log(py), np.log(px)
    sp: list[float] = []
    t0 = time.perf_counter()
    for t in range(p.window, p.window + n):
        A = np.column_stack([np.ones(p.window), lx[t - p.window + 1: t + 1]])
        (a, b), *_ = np.linalg.lstsq(A, ly[t - p.window + 1: t + 1], rcond=None)
        sp.append(ly[t] - b * lx[t])
        w = np.asarray(sp[-p.z_window:])
        _ = (sp[-1] - w.mean()) / (w.std() or math.nan)
    return (time.perf_counter() - t0) / n * 1e9


def bench_live(data, hedge: str, quick: bool) -> dict:
    name, py, px = data[1]
    p = PairParams(hedge=hedge)
    ys, xs = py.tolist(), px.tolist()
    runs = []
    for _ in range(3):
        m = PairModel(p)
        upd = m.update
        t0 = time.perf_counter()
        for a, b in zip(ys, xs):
            upd(a, b)
        runs.append((time.perf_counter() - t0) / len(ys) * 1e9)
    ref = naive_live(py, px, p, 500 if quick else 3000)
    return {"stage": f"live {hedge}: PairModel.update per bar ({name})", "ns_per_bar":
            statistics.median(runs), "reference_ns_per_bar": ref,
            "speedup_vs_reference": round(ref / statistics.median(runs), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not (OHLCV / PAIRS[0][1]).is_file():
        print(f"NOT-RUN: {OHLCV} is absent (the benchmark needs the shared candles)")
        return 0
    data = load(a.quick)
    batch = [bench_batch(data, h, a.quick) for h in ("ols", "kalman")]
    live = [bench_live(data, h, a.quick) for h in ("ols", "kalman")]
    if a.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(),
                          "batch": batch, "live": live}))
    else:
        print(f"stat-arb pairs pipeline ({platform.python_version()}, {platform.machine()}); "
              f"budget: 4 pairs x 2 years hourly in target {TARGET_S} s, floor {FLOOR_S} s")
        for r in batch:
            print(f"  {r['stage']:<44} {r['pairs']} pairs, {r['bars']} bars: {r['seconds']:.4f} s"
                  f" ({r['ns_per_bar']:.0f} ns/bar; 4 pairs x 2 y hourly = "
                  f"{r['seconds_4_pairs_2y_hourly']:.4f} s) [{r['status']}]  first call "
                  f"{r['first_call_s']:.2f} s  reference {r['reference_seconds']:.3f} s "
                  f"({r['speedup_vs_reference']}x)  positions differing {r['positions_differing']}"
                  f", max net PnL gap {r['max_net_pnl_gap']:.2e}")
        for r in live:
            print(f"  {r['stage']:<44} {r['ns_per_bar']:.0f} ns/bar  reference (numpy recompute "
                  f"per bar) {r['reference_ns_per_bar']:.0f} ns/bar ({r['speedup_vs_reference']}x)")
    return 1 if any(r["seconds_4_pairs_2y_hourly"] > 3 * FLOOR_S for r in batch) else 0


if __name__ == "__main__":
    sys.exit(main())
