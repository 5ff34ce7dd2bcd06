"""An ML model trained with `tradecore ml train`, run by the engine as a strategy: candles in,
predictions, orders through the risk gate to the candle venue, fills, round trips."""
from __future__ import annotations

import pytest

from datafiles import sample_file
from tradecore.config import ConfigError, load
from tradecore.engine import TradingNode
from tradecore.ml import cli

CANDLES = "coinbase_BTCUSD_1d_20141201_20191017.csv"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    d = tmp_path_factory.mktemp("ml")
    p = d / "train.toml"
    p.write_text(f"""
[data]
path = "{sample_file(CANDLES)}"
[model]
name = "mlp-node"
epochs = 3
[baseline]
enabled = false
[walk_forward]
enabled = false
[output]
dir = "{d / 'out'}"
registry = "{d / 'reg'}"
""")
    assert cli.main(["train", "--config", str(p)]) == 0
    return d / "reg"


def node_config(registry, features=None):
    settings = {"registry": str(registry), "markets": [["coinbase", "BTC-USD"]],
                "qty_lots": 1000, "bar_ns": 86_400_000_000_000}
    if features is not None:
        settings["features"] = features
    return load(None, {
        "run": {"mode": "backtest", "quote": "USD"},
        "feeds": [{"venue": "coinbase", "exchange": "coinbase", "symbols": ["BTC-USD"],
                   "candles": str(sample_file(CANDLES))}],
        "instruments": {"coinbase:BTC-USD": {"tick": "0.01", "lot": "0.00001", "base": "BTC",
                                             "quote": "USD", "maker_fee": 0.001,
                                             "taker_fee": 0.001}},
        "paper": {"balances": {"coinbase:USD": 100000, "coinbase:BTC": 1}},
        "risk": {"symbols": {"coinbase:BTC-USD": {"price_band": 0.5, "max_mid_age_ns": 0,
                                                  "spot": False}}},
        "strategies": [{"id": "ml", "kind": "ml_signal", "settings": settings}]})


def test_the_champion_model_trades_candles_through_the_engine(registry):
    node = TradingNode(node_config(registry))
    node.run_candles()
    s = node.summary()
    ml = node.strategies[0]
    assert len(ml.predictions) > 1000
    assert s["orders"] > 0 and s["fills"] > 0
    assert all(p.model_id.startswith("mlp-node") for p in ml.predictions)


def test_a_model_whose_feature_schema_differs_is_refused_at_start(registry):
    with pytest.raises(ConfigError, match="ml"):
        TradingNode(node_config(registry, features={"source": "CandleFeatures", "window": 48}))
