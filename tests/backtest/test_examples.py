"""The example backtest configs run end to end on the shared real candles."""
from __future__ import annotations

from pathlib import Path

import pytest

from datafiles import SHARED_DATA
from tradecore.config import load
from tradecore.engine import TradingNode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.skipif(not (SHARED_DATA / "ohlcv").is_dir(),
                                reason="../shared/data/ohlcv is absent")


def run(name: str) -> dict:
    cfg = load(EXAMPLES / name)
    node = TradingNode(cfg)
    node.run_candles(bar_books=cfg.bar_books)
    return node.summary()


def test_triangular_over_hourly_candles_accounts_for_every_opportunity_taken():
    s = run("backtest_triangular_candles.toml")
    c = s["strategies"]["tri"]
    assert s["messages"] > 4000 and c["checks"] == s["book_updates"]
    assert c["taken"] == c.get("complete", 0) + c.get("failed_leg", 0)
    assert not [k for k in s["problems"] if k.startswith(("strategy", "execution"))]
    assert s["fees"] > 0


def test_pairs_over_five_years_of_daily_candles():
    s = run("backtest_pairs_daily.toml")
    c = s["strategies"]["cb_bs"]
    assert c["bars"] > 1700 and c["taken: entry"] > 10          # paired days
    assert s["fills"] >= 2 * c["taken: entry"] - 2
