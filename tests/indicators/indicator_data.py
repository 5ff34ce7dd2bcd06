"""Data for the indicator tests: real candles (../shared/data, and one bundled file) and a
hypothesis strategy of OHLCV series with the awkward parts of real data (NaN gaps, flat
runs, zero volume)."""
from __future__ import annotations

import csv
import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from datafiles import SHARED_DATA, sample_file

BUNDLED = "coinbase_BTCUSD_1d_20141201_20191017.csv"
# label -> file under ../shared/data/ohlcv: a long hourly BTC series (with real outage gaps
# in time, no NaN), a low-priced pair (ETH/BTC ~ 0.05) and a 1m series with zero-volume minutes
SHARED = {
    "binance_btcusdt_1h": "binance_BTCUSDT_1h_20170817_20240421.csv.gz",
    "binance_ethbtc_1m": "binance_ETHBTC_1m_20210426_20210526.csv.gz",
    "binanceus_btcusdt_1m": "binanceus_BTCUSDT_1m_20230301_20230321.csv.gz",
}


@lru_cache(maxsize=None)
def load(path: Path) -> dict[str, np.ndarray]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        rows = list(csv.reader(f))[1:]
    a = np.array([[float(v) for v in r[2:7]] for r in rows])
    out = {k: np.ascontiguousarray(a[:, i]) for i, k in
           enumerate(("open", "high", "low", "close", "volume"))}
    out["timestamps"] = np.array([int(r[0]) for r in rows], dtype=np.int64) * 1_000_000
    return out


def bundled() -> dict[str, np.ndarray]:
    return load(sample_file(BUNDLED))


def shared(label: str) -> dict[str, np.ndarray] | None:
    p = SHARED_DATA / "ohlcv" / SHARED[label]
    return load(p) if p.is_file() else None


def args_for(spec, data: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [data[k] for k in spec.inputs]


def as_tuple(x) -> tuple:
    return x if isinstance(x, tuple) else (x,)


@st.composite
def ohlcv(draw, min_size: int = 0, max_size: int = 160,
          gaps: bool = True) -> dict[str, np.ndarray]:
    """A random walk of valid candles (low <= open, close <= high) with, at random, NaN gaps
    (when ``gaps``), flat runs and zero volume."""
    n = draw(st.integers(min_size, max_size))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    close = np.round(close, 2)
    spread = np.round(rng.uniform(0.0, 1.0, n), 2)
    high = close + spread
    low = close - np.round(rng.uniform(0.0, 1.0, n), 2)
    open_ = np.clip(np.round(close + rng.normal(0, 0.3, n), 2), low, high)
    volume = np.round(rng.exponential(5.0, n), 3)
    if n and draw(st.booleans()):                        # flat run: a market without trades
        a = draw(st.integers(0, n - 1))
        b = draw(st.integers(a, n))
        for x in (open_, high, low, close):
            x[a:b] = close[a]
        volume[a:b] = 0.0
    if n and draw(st.booleans()):                        # zero volume on prices that move
        a = draw(st.integers(0, n - 1))
        volume[a:a + draw(st.integers(1, 30))] = 0.0
    data = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    for _ in range(draw(st.integers(0, 3)) if n and gaps else 0):  # NaN gaps in one input
        k = draw(st.sampled_from(sorted(data)))
        a = draw(st.integers(0, n - 1))
        data[k][a:a + draw(st.integers(1, 5))] = np.nan
    data["timestamps"] = np.cumsum(rng.integers(1, 7_200_000_000_000, n)).astype(np.int64)
    return data
