"""Test FIXTURE, not a strategy: a `Results` built from candles by a toy SMA-cross rule.

It exists only to give the report realistic inputs (real prices, a few dozen round trips, fees,
stops, denials, latency samples). The rule, per (strategy, market) sleeve with an equal share of
the capital, evaluated at each candle's close:
* flat and the fast SMA of closes crosses above the slow SMA -> buy everything at the close,
  paying `FEE_RATE` of the notional (a taker fee);
* long and the candle's low reaches `STOP` below the entry -> sell at that stop price
  ("stop-loss"), checked before the cross-down;
* long and the fast SMA crosses below the slow SMA -> sell at the close ("signal");
* still long at the last candle -> sell at its close ("end of run").
A fixture "risk limit" allows one open position per market across strategies: a second entry
signal on a market already held is recorded as a MAX_POSITION denial instead of a trade.
Latency samples are drawn from fixed-seed lognormal distributions: they are made up, to exercise
the latency section, and say nothing about tradecore's speed.
"""
from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tradecore.backtest.results import (END_OF_RUN, Denial, EquityCurve, FillRecord,
                                        PriceSeries, Results, RoundTrip, RunMeta)

FEE_RATE = 0.001
STOP = 0.03
STRATEGIES = {"sma_6_24": (6, 24), "sma_12_48": (12, 48)}


@dataclass
class Candles:
    venue: str
    symbol: str
    ts_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


def load_candles(path: Path, venue: str, symbol: str) -> Candles:
    """An ohlcv CSV of ../shared/data (ts_ms,datetime_utc,open,high,low,close,volume)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    col = lambda k: np.array([float(r[k]) for r in rows])  # noqa: E731
    ts = np.array([int(r["ts_ms"]) for r in rows], dtype=np.int64) * 1_000_000
    return Candles(venue, symbol, ts, col("open"), col("high"), col("low"), col("close"))


def synthetic_candles(symbol: str, seed: int, start_ns: int, hours: int, p0: float) -> Candles:
    """Hourly candles of a seeded geometric random walk (for machines without shared data)."""
    rng = np.random.default_rng(seed)
    close = p0 * np.exp(np.cumsum(rng.normal(0.0, 0.008, hours)))
    open_ = np.concatenate(([p0], close[:-1]))
    wiggle = np.abs(rng.normal(0.0, 0.004, hours))
    high = np.maximum(open_, close) * (1 + wiggle)
    low = np.minimum(open_, close) * (1 - wiggle)
    ts = start_ns + np.arange(hours, dtype=np.int64) * 3_600_000_000_000
    return Candles("synthetic", symbol, ts, open_, high, low, close)


def _sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    c = np.cumsum(np.insert(x, 0, 0.0))
    out[n - 1:] = (c[n:] - c[:-n]) / n
    return out


def sma_cross_run(markets: list[Candles], *, capital: float = 100_000.0, run_id: str,
                  sources: tuple[str, ...], latency_seed: int = 7) -> Results:
    ts = markets[0].ts_ns
    for c in markets:
        if not np.array_equal(c.ts_ns, ts):
            raise ValueError("fixture markets must share their candle times")
    sleeves = [(s, c) for s in STRATEGIES for c in markets]
    cash = {(s, c.symbol): capital / len(sleeves) for s, c in sleeves}
    pos: dict[tuple[str, str], tuple[float, float, int, float]] = {}   # qty, price, ts, cash before
    held_by: dict[str, str] = {}                                        # market -> strategy
    sig = {}
    for s, c in sleeves:
        fast, slow = STRATEGIES[s]
        d = _sma(c.close, fast) - _sma(c.close, slow)
        up = np.zeros(ts.size, bool)
        dn = np.zeros(ts.size, bool)
        up[1:] = (d[1:] > 0) & (d[:-1] <= 0)
        dn[1:] = (d[1:] < 0) & (d[:-1] >= 0)
        sig[s, c.symbol] = (up, dn)
    trades, fills, denials = [], [], []
    equity = np.empty(ts.size)

    def close_pos(s, c, i, price, reason):
        qty, entry, t0, before = pos.pop((s, c.symbol))
        proceeds = qty * price * (1 - FEE_RATE)
        cash[s, c.symbol] += proceeds
        fee_in, fee_out = qty * entry * FEE_RATE, qty * price * FEE_RATE
        fills.append(FillRecord(int(ts[i]), s, c.venue, c.symbol, -1, qty, price, fee_out))
        trades.append(RoundTrip(s, c.venue, c.symbol, 1, qty, t0, entry, int(ts[i]), price,
                                proceeds - before, fee_in + fee_out, reason))
        del held_by[c.symbol]

    for i in range(ts.size):
        for s, c in sleeves:
            key = (s, c.symbol)
            up, dn = sig[key]
            if key in pos:
                stop_px = pos[key][1] * (1 - STOP)
                if c.low[i] <= stop_px:
                    close_pos(s, c, i, min(stop_px, c.open[i]), "stop-loss")
                elif dn[i]:
                    close_pos(s, c, i, c.close[i], "signal")
            elif up[i]:
                if c.symbol in held_by:
                    denials.append(Denial(int(ts[i]), s, c.venue, c.symbol, "MAX_POSITION",
                                          f"{c.symbol} already held by {held_by[c.symbol]}"))
                    continue
                before = cash[key]
                qty = before / (c.close[i] * (1 + FEE_RATE))
                cash[key] = 0.0
                pos[key] = (qty, c.close[i], int(ts[i]), before)
                held_by[c.symbol] = s
                fills.append(FillRecord(int(ts[i]), s, c.venue, c.symbol, 1, qty, c.close[i],
                                        qty * c.close[i] * FEE_RATE))
        if i == ts.size - 1:
            for s, c in sleeves:
                if (s, c.symbol) in pos:
                    close_pos(s, c, i, c.close[i], END_OF_RUN)
        equity[i] = sum(cash.values()) + sum(
            q * next(c.close[i] for c in markets if c.symbol == sym) for (_, sym), (q, *_ ) in
            pos.items())
    rng = np.random.default_rng(latency_seed)
    latency = {
        "feed -> strategy": rng.lognormal(np.log(4_000), 0.35, 5_000),
        "strategy -> risk gate": rng.lognormal(np.log(900), 0.25, 5_000),
        "risk gate -> venue ack": rng.lognormal(np.log(2_500_000), 0.5, 400),
    }
    meta = RunMeta(run_id=run_id, mode="backtest",
                   config={"fixture": "SMA cross (tests/backtest/_fixture_run.py)",
                           "fee_rate": FEE_RATE, "stop": STOP,
                           "venue": {"api_key": "abc123", "api_secret": "s3cr3t"}},
                   candle_based=True, data_sources=sources, base_currency="USDT")
    return Results(meta, EquityCurve(ts, equity), trades, fills, denials, latency,
                   [PriceSeries(c.venue, c.symbol, c.ts_ns, c.close) for c in markets])
