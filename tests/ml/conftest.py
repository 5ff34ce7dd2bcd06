"""Shared real-data fixtures for the ML tests (Binance BTCUSDT hourly candles, 6.7 years)."""
from __future__ import annotations

import pytest

from datafiles import shared_file
from tradecore.ml.data import make_dataset
from tradecore.ml.features import CandleFeatures, load_candles

BTC_1H = "ohlcv/binance_BTCUSDT_1h_20170817_20240421.csv.gz"


@pytest.fixture(scope="session")
def btc_candles():
    return load_candles(str(shared_file(BTC_1H)))


@pytest.fixture(scope="session")
def features():
    return CandleFeatures()


@pytest.fixture(scope="session")
def btc_dataset(btc_candles, features):
    return make_dataset(btc_candles, features, label="forward", horizon=1, task="binary")
