"""Fixture runs for the report tests (see _fixture_run.py: a toy rule, not a strategy)."""
from __future__ import annotations

import numpy as np
import pytest

from datafiles import shared_file
from _fixture_run import load_candles, sma_cross_run, synthetic_candles

BTC = "ohlcv/binance_BTCUSDT_1h_20210426_20210526.csv"
ETH = "ohlcv/binance_ETHUSDT_1h_20210426_20210927.csv"


@pytest.fixture(scope="session")
def binance_run():
    """Toy SMA-cross fixture on the real Binance BTC/USDT and ETH/USDT hourly candles of
    2021-04-26 .. 2021-05-26 (the May 2021 crash is inside)."""
    btc = load_candles(shared_file(BTC), "binance", "BTCUSDT")
    eth = load_candles(shared_file(ETH), "binance", "ETHUSDT")
    keep = np.isin(eth.ts_ns, btc.ts_ns)
    for k in ("ts_ns", "open", "high", "low", "close"):
        setattr(eth, k, getattr(eth, k)[keep])
    return sma_cross_run([btc, eth], run_id="fixture-binance-2021-05", sources=(BTC, ETH))


@pytest.fixture(scope="session")
def synthetic_run():
    """Toy SMA-cross fixture on 20 days of seeded random-walk candles (2024-01-20 ..)."""
    start = int(np.datetime64("2024-01-20T00:00", "ns").astype(np.int64))
    a = synthetic_candles("AAAUSDT", 1, start, 480, 100.0)
    b = synthetic_candles("BBBUSDT", 2, start, 480, 20.0)
    return sma_cross_run([a, b], run_id="fixture-synthetic", sources=("synthetic",))
