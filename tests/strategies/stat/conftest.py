"""Aligned real candle pairs from ../shared/data/ohlcv (skipped where the data is absent)."""
from __future__ import annotations

import numpy as np
import pytest

from datafiles import shared_file
from tradecore.strategies.stat.selection import Aligned, align_closes, read_closes

BTC_1H = "ohlcv/binance_BTCUSDT_1h_20170817_20240421.csv.gz"
ETH_1H = "ohlcv/binance_ETHUSDT_1h_20210426_20210927.csv"
US_1M = {s: f"ohlcv/binanceus_{s}_1m_20230301_20230321.csv.gz"
         for s in ("BTCUSDT", "BTCUSDC", "BTCUSD")}
CB_1D = "ohlcv/coinbase_BTCUSD_1d_20141201_20191017.csv"
BS_1D = "ohlcv/bitstamp_BTCUSD_1d_20141128_20200117.csv"


def aligned(files: dict[tuple[str, str], str]) -> Aligned:
    return align_closes({k: read_closes(str(shared_file(f))) for k, f in files.items()})


@pytest.fixture(scope="session")
def btc_eth_1h() -> Aligned:
    """Binance BTCUSDT and ETHUSDT hourly, 2021-04-26 .. 2021-09-27 (3 676 common hours)."""
    return aligned({("binance", "BTCUSDT"): BTC_1H, ("binance", "ETHUSDT"): ETH_1H})


@pytest.fixture(scope="session")
def us_1m() -> Aligned:
    """Binance.US BTC in USDT, USDC and USD, one-minute, 2023-03-01 .. 03-21 (USDC de-peg)."""
    return aligned({("binanceus", s): f for s, f in US_1M.items()})


@pytest.fixture(scope="session")
def cb_bs_1d() -> Aligned:
    """Coinbase and Bitstamp BTCUSD daily, 2014-12 .. 2019-10."""
    return aligned({("coinbase", "BTCUSD"): CB_1D, ("bitstamp", "BTCUSD"): BS_1D})


def depeg_window(al: Aligned) -> np.ndarray:
    """Rows of 2023-03-09 00:00 .. 2023-03-15 00:00 UTC (USDC lost its peg on the 10th-13th)."""
    return (al.ts_ms >= 1678320000000) & (al.ts_ms < 1678838400000)
